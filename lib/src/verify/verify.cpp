// The DCAP verification engine. Steps run in Intel QVL's order and stop at the first failure (fail
// closed); every step records a Check so reports show exactly what was verified. Where the public
// verifiers disagree, Intel's current QVL is followed (lib/docs/verification.md explains each choice).

#include <algorithm>
#include <type_traits>

#include <fmt/format.h>

#include "core/shared_cache.hpp"
#include "crypto/cert_cache.hpp"
#include "crypto/ossl.hpp"
#include "pcs/collateral_summary.hpp"
#include "pcs/pck_internal.hpp"
#include "pcs/tcb_info.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/pck.hpp"
#include "tdxkit/verify.hpp"
#include "verify/chain.hpp"
#include "verify/tcb_evaluation.hpp"

namespace tdxkit {

struct VerificationCache::Impl {
    // A long batch of distinct platforms must not grow memory without bound: start over when full.
    static constexpr std::size_t kMaxEntries = 4096;

    detail::SharedCache<std::optional<std::string>> outcomes{kMaxEntries};
    detail::SharedCache<std::shared_ptr<const pcs::TcbInfo>> tcb_infos{kMaxEntries};
    detail::SharedCache<std::shared_ptr<const pcs::QeIdentity>> qe_identities{kMaxEntries};
    detail::SharedCache<std::shared_ptr<const CertificateInfo>> leaf_infos{kMaxEntries};
    // By the key's 64 bytes: the key object is a function of them alone.
    detail::SharedCache<std::shared_ptr<EVP_PKEY>> attestation_keys{kMaxEntries};
};

struct detail::VerificationCacheAccess {
    static VerificationCache::Impl& impl(VerificationCache& cache) noexcept { return *cache.impl_; }
};

VerificationCache::VerificationCache() : impl_(std::make_unique<Impl>()) {}
VerificationCache::~VerificationCache() = default;

namespace {

using ossl::X509CrlPtr;
using ossl::X509Ptr;

struct StepFailed {};

class Verification {
public:
    Verification(const Quote& quote, const Collateral& collateral, const VerifyOptions& options)
        : quote_(quote), collateral_(collateral), now_(options.now ? *options.now : now_utc()),
          trust_root_(options.trust_root),
          cache_(options.cache != nullptr ? &detail::VerificationCacheAccess::impl(*options.cache) : nullptr) {
        report_.verified_at = now_;
        report_.collateral_source = collateral.source;
        report_.trust_root_is_intel = trust_root_.is_intel_production;
    }

    VerificationReport run() {
        try {
            check_quote_header();
            load_trust_root();
            check_root_crl();
            load_pck_chain();
            check_pck_crl();
            check_pck_chain();
            tcb_info_ = verify_signed_item("tcb_info", collateral_.tcb_info_issuer_chain, collateral_.tcb_info,
                                           collateral_.tcb_info_signature, [&](std::string_view body) {
                                               return parse_cached(cache_ ? &cache_->tcb_infos : nullptr, body,
                                                                   pcs::parse_tcb_info);
                                           });
            check_tcb_info();
            qe_identity_ = verify_signed_item(
                "qe_identity", collateral_.qe_identity_issuer_chain, collateral_.qe_identity,
                collateral_.qe_identity_signature, [&](std::string_view body) {
                    return parse_cached(cache_ ? &cache_->qe_identities : nullptr, body, pcs::parse_qe_identity);
                });
            check_qe_identity();
            check_platform_matches_collateral();
            check_qe_report();
            check_quote_signature();
            evaluate_tcb();
            report_.authentic = true;
        } catch (const StepFailed&) {
            report_.authentic = false;
        }
        return std::move(report_);
    }

private:
    void pass(std::string id, std::string detail) {
        report_.checks.push_back({std::move(id), true, std::move(detail)});
    }

    [[noreturn]] void fail(std::string id, std::string detail) {
        report_.failed_check = id;
        report_.failure = detail;
        report_.checks.push_back({std::move(id), false, std::move(detail)});
        throw StepFailed{};
    }

    void require(bool ok, std::string id, std::string pass_detail, std::string fail_detail) {
        if (!ok) fail(std::move(id), std::move(fail_detail));
        pass(std::move(id), std::move(pass_detail));
    }

    // A step's outcome (nullopt = passed, otherwise the reason), computed once per distinct `key`
    // when a cache is in use. Keys hold the exact input bytes and the time, never a digest of them.
    // Guarded as step `id`: the computation reads certificate and CRL fields (validity times) that
    // may be malformed, and that is a failed check too.
    template <class Compute>
    std::optional<std::string> memo(const std::string& id, const std::string& key, Compute&& compute) {
        return guarded(id, [&] {
            if (cache_ == nullptr) return compute();
            return cache_->outcomes.get(key, std::forward<Compute>(compute));
        });
    }

    std::string key(std::string_view step, std::initializer_list<ByteSpan> parts, bool timed) const {
        std::string k{step};
        for (const auto part : parts) {
            k += fmt::format("|{}|", part.size());
            k.append(reinterpret_cast<const char*>(part.data()), part.size());
        }
        if (timed) k += fmt::format("|now={}", now_);
        k.append(reinterpret_cast<const char*>(trust_root_.certificate_der.data()), trust_root_.certificate_der.size());
        return k;
    }

    template <class T, class Parse>
    T parse_cached(detail::SharedCache<std::shared_ptr<const T>>* parsed, std::string_view body, Parse&& parse) {
        if (parsed == nullptr) return parse(body);
        return *parsed->get(body, [&] { return std::make_shared<const T>(parse(body)); });
    }

    // Runs a step whose inputs may be malformed: a parse error in collateral is a failed check, so
    // the report still names which item is broken.
    template <class Fn>
    std::invoke_result_t<Fn> guarded(const std::string& id, Fn&& fn) {
        try {
            return fn();
        } catch (const Error& e) {
            if (e.code() == Errc::crypto || e.code() == Errc::internal) throw;
            fail(id, e.what());
        }
    }

    void window(UnixTime from, UnixTime until) {
        auto& start = report_.collateral_earliest_issue;
        auto& end = report_.collateral_earliest_expiry;
        start = start ? std::max(*start, from) : from;
        end = end ? std::min(*end, until) : until;
    }
    // A validity time that does not parse (the certificates come with the quote, before any
    // signature over them is checked) fails step `id`.
    void window(const std::string& id, X509* cert) {
        guarded(id, [&] {
            window(ossl::asn1_time_to_unix(X509_get0_notBefore(cert)),
                   ossl::asn1_time_to_unix(X509_get0_notAfter(cert)));
        });
    }
    void window(const std::string& id, X509_CRL* crl) {
        guarded(id, [&] {
            window(ossl::asn1_time_to_unix(X509_CRL_get0_lastUpdate(crl)),
                   ossl::asn1_time_to_unix(X509_CRL_get0_nextUpdate(crl)));
        });
    }

    void check_quote_header() {
        const auto& h = quote_.header;
        pass("quote_format", fmt::format("quote v{}, {}, attestation key type {} (ECDSA P-256)", h.version,
                                         body_type_name(quote_.body_type), h.attestation_key_type));
        require(equal_ct(h.qe_vendor_id, kIntelQeVendorId), "qe_vendor_id",
                "QE vendor ID is Intel's (939a7233f79c4ca9940a0db3957f0607)",
                fmt::format("QE vendor ID is {}, expected Intel's 939a7233f79c4ca9940a0db3957f0607: the quote was not "
                            "produced by Intel's quoting enclave",
                            to_hex(h.qe_vendor_id)));
    }

    void load_trust_root() {
        root_ = guarded("trust_root", [&] { return ossl::cached_der_cert(trust_root_.certificate_der, "trust root"); });
        window("trust_root", root_.get());
        pass("trust_root",
             fmt::format("trust anchor \"{}\" (SHA-256 {}){}", ossl::common_name(X509_get_subject_name(root_.get())),
                         to_hex(sha256(trust_root_.certificate_der)),
                         trust_root_.is_intel_production ? ", Intel's production root"
                                                         : ", NOT Intel's root: test use only"));
    }

    void check_root_crl() {
        root_crl_ =
            guarded("root_ca_crl", [&] { return ossl::cached_der_crl(collateral_.root_ca_crl, "root CA CRL"); });
        if (const auto why = memo("root_ca_crl", key("root_crl", {collateral_.root_ca_crl}, true), [&] {
                return verify::check_crl(root_crl_.get(), root_.get(), now_, "root CA CRL");
            })) {
            fail("root_ca_crl", *why);
        }
        window("root_ca_crl", root_crl_.get());
        pass("root_ca_crl", "root CA CRL is signed by the trust root and current");
    }

    void load_pck_chain() {
        const auto& cert = quote_.signature_data.certification;
        std::string pem;
        if (cert.type == static_cast<std::uint16_t>(CertDataType::pck_cert_chain)) {
            pem.assign(cert.data.begin(), cert.data.end());
        } else if (collateral_.pck_certificate_chain) {
            pem = *collateral_.pck_certificate_chain;
        } else {
            fail("pck_chain_present",
                 fmt::format("the quote carries certification data type {} ({}) and the collateral has no PCK "
                             "certificate chain; supply one (pck_certificate_chain)",
                             cert.type, cert_data_type_name(cert.type)));
        }
        pck_chain_ = guarded("pck_chain_present", [&] { return pcs::parse_pem_chain(pem, "PCK certificate chain"); });
        pck_chain_pem_ = pem;
        if (pck_chain_.size() != 3) {
            fail("pck_chain_present",
                 fmt::format("PCK chain has {} certificates, expected 3 (PCK leaf, PCK CA, root)", pck_chain_.size()));
        }
        leaf_info_ = guarded("pck_chain_present", [&] {
            return parse_cached(cache_ ? &cache_->leaf_infos : nullptr, pem,
                                [&](std::string_view) { return detail::describe_x509(pck_chain_[0].get()); });
        });
        if (!leaf_info_.sgx_extension) {
            fail("pck_chain_present", "PCK leaf certificate has no Intel SGX extension (OID 1.2.840.113741.1.13.1)");
        }
        const auto ca = pck_ca_type(leaf_info_);
        if (ca == PckCaType::none) {
            fail("pck_chain_present", fmt::format("PCK leaf is issued by \"{}\", neither a PCK Platform CA nor a "
                                                  "PCK Processor CA",
                                                  leaf_info_.issuer_cn));
        }
        report_.fmspc = to_hex(leaf_info_.sgx_extension->fmspc);
        report_.pce_id = to_hex(leaf_info_.sgx_extension->pce_id);
        report_.pck_ca_type = pck_ca_type_name(ca);
        pass("pck_chain_present", fmt::format("PCK chain of 3 certificates, {} CA, FMSPC {}, PCE-ID {}",
                                              report_.pck_ca_type, report_.fmspc, report_.pce_id));
        require(verify::same_public_key(pck_chain_[2].get(), root_.get()), "pck_chain_root",
                "the PCK chain ends at the trust root",
                fmt::format("the PCK chain ends at \"{}\", whose key is not the trust root's{}",
                            ossl::common_name(X509_get_subject_name(pck_chain_[2].get())),
                            trust_root_.is_intel_production ? "" : " (a custom --trust-root is in use)"));
    }

    void check_pck_crl() {
        pck_crl_ = guarded("pck_crl", [&] { return ossl::cached_der_crl(collateral_.pck_crl, "PCK CRL"); });
        if (const auto why =
                memo("pck_crl", key("pck_crl", {collateral_.pck_crl, as_bytes(pck_chain_pem_)}, true),
                     [&] { return verify::check_crl(pck_crl_.get(), pck_chain_[1].get(), now_, "PCK CRL"); })) {
            fail("pck_crl", *why);
        }
        window("pck_crl", pck_crl_.get());
        pass("pck_crl", fmt::format("PCK CRL is signed by \"{}\" and current",
                                    ossl::common_name(X509_get_subject_name(pck_chain_[1].get()))));
    }

    void check_pck_chain() {
        for (const auto& c : pck_chain_) window("pck_chain", c.get());
        const auto why =
            memo("pck_chain",
                 key("pck_chain", {as_bytes(pck_chain_pem_), collateral_.root_ca_crl, collateral_.pck_crl}, true), [&] {
                     return verify::validate_chain(pck_chain_[0].get(), {pck_chain_[1].get()}, root_.get(),
                                                   {root_crl_.get(), pck_crl_.get()}, now_);
                 });
        if (why)
            fail("pck_chain",
                 fmt::format("PCK certificate chain does not validate at {}: {}", format_rfc3339(now_), *why));
        pass("pck_chain", "PCK leaf and CA certificates chain to the trust root, are valid now and not revoked");
    }

    // TCB Info and QE Identity: issuer chain to the root (with the root CRL), then the signature over
    // the exact body bytes, and only then parsing of the body.
    template <class Parse>
    std::invoke_result_t<Parse, std::string_view>
    verify_signed_item(const std::string& item, const std::string& chain_pem, const std::string& body,
                       const Bytes& signature, Parse&& parse) {
        const auto chain =
            guarded(item + "_chain", [&] { return pcs::parse_pem_chain(chain_pem, item + " issuer chain"); });
        if (!verify::same_public_key(chain.back().get(), root_.get())) {
            fail(item + "_chain", fmt::format("{} issuer chain ends at \"{}\", not at the trust root", item,
                                              ossl::common_name(X509_get_subject_name(chain.back().get()))));
        }
        std::vector<X509*> intermediates;
        for (std::size_t i = 1; i + 1 < chain.size(); ++i) intermediates.push_back(chain[i].get());
        window(item + "_chain", chain.front().get());
        // TCB Info and QE Identity normally share one issuer chain: validate it once.
        if (chain_pem != validated_signing_chain_) {
            if (const auto why = memo(item + "_chain",
                                      key("signing_chain", {as_bytes(chain_pem), collateral_.root_ca_crl}, true), [&] {
                                          return verify::validate_chain(chain.front().get(), intermediates, root_.get(),
                                                                        {root_crl_.get()}, now_);
                                      })) {
                fail(item + "_chain", fmt::format("{} signing certificate does not validate at {}: {}", item,
                                                  format_rfc3339(now_), *why));
            }
            validated_signing_chain_ = chain_pem;
        }
        const auto signer = ossl::common_name(X509_get_subject_name(chain.front().get()));
        pass(item + "_chain", fmt::format("signer \"{}\" chains to the trust root, valid and not revoked", signer));
        const bool signed_ok =
            !memo(item + "_signature", key("signed_body", {as_bytes(chain_pem), as_bytes(body), signature}, false),
                  [&] {
                      return verify_p256(chain.front().get(), as_bytes(body), signature)
                                 ? std::nullopt
                                 : std::optional<std::string>("bad signature");
                  })
                 .has_value();
        require(signed_ok, item + "_signature", fmt::format("signature by \"{}\" over the exact body bytes", signer),
                fmt::format("{} signature does not verify with \"{}\": the item was modified or signed by another key",
                            item, signer));
        return guarded(item + "_format", [&] { return parse(body); });
    }

    bool verify_p256(X509* cert, ByteSpan message, ByteSpan signature) {
        auto* key = X509_get0_pubkey(cert);
        if (key == nullptr) ossl::fail("certificate without public key");
        return ossl::verify_p256_sha256(key, message, signature);
    }

    void check_item_window(const std::string& id, std::string_view name, UnixTime issue, UnixTime next) {
        window(issue, next);
        if (now_ < issue) {
            fail(id, fmt::format("{} issueDate {} is after the verification time {}: not yet valid", name,
                                 format_rfc3339(issue), format_rfc3339(now_)));
        }
        if (now_ > next) {
            fail(id, fmt::format("{} expired: nextUpdate {} is before the verification time {}; fetch current "
                                 "collateral",
                                 name, format_rfc3339(next), format_rfc3339(now_)));
        }
        pass(id, fmt::format("{} valid from {} to {}", name, format_rfc3339(issue), format_rfc3339(next)));
    }

    void check_tcb_info() {
        const std::string expected = quote_.is_tdx() ? "TDX" : "SGX";
        require(tcb_info_.id == expected, "tcb_info_format",
                fmt::format("TCB Info id {} version {}, evaluation data number {}", tcb_info_.id, tcb_info_.version,
                            tcb_info_.tcb_evaluation_data_number),
                fmt::format("TCB Info id is \"{}\", expected \"{}\" for this quote", tcb_info_.id, expected));
        check_item_window("tcb_info_validity", "TCB Info", tcb_info_.issue_date, tcb_info_.next_update);
        report_.tcb_evaluation_data_number = tcb_info_.tcb_evaluation_data_number;
        report_.tcb_info_issue_date = tcb_info_.issue_date;
    }

    void check_qe_identity() {
        const std::string expected = quote_.is_tdx() ? "TD_QE" : "QE";
        require(qe_identity_.id == expected, "qe_identity_format",
                fmt::format("QE Identity id {} version {}, evaluation data number {}", qe_identity_.id,
                            qe_identity_.version, qe_identity_.tcb_evaluation_data_number),
                fmt::format("QE Identity id is \"{}\", expected \"{}\" for this quote", qe_identity_.id, expected));
        check_item_window("qe_identity_validity", "QE Identity", qe_identity_.issue_date, qe_identity_.next_update);
        report_.qe_tcb_evaluation_data_number = qe_identity_.tcb_evaluation_data_number;
        report_.qe_identity_issue_date = qe_identity_.issue_date;
    }

    void check_platform_matches_collateral() {
        const auto& ext = *leaf_info_.sgx_extension;
        require(equal_ct(ext.fmspc, tcb_info_.fmspc), "fmspc_match", fmt::format("FMSPC {}", to_hex(ext.fmspc)),
                fmt::format("FMSPC mismatch: PCK certificate has {}, TCB Info is for {}; use the TCB Info for "
                            "this platform's FMSPC",
                            to_hex(ext.fmspc), to_hex(tcb_info_.fmspc)));
        require(equal_ct(ext.pce_id, tcb_info_.pce_id), "pce_id_match", fmt::format("PCE-ID {}", to_hex(ext.pce_id)),
                fmt::format("PCE-ID mismatch: PCK certificate has {}, TCB Info has {}", to_hex(ext.pce_id),
                            to_hex(tcb_info_.pce_id)));
    }

    void check_qe_report() {
        const auto& sig = quote_.signature_data;
        const bool qe_signed =
            !memo("qe_report_signature",
                  key("qe_report", {as_bytes(pck_chain_pem_), sig.qe_report_raw, sig.qe_report_signature}, false),
                  [&] {
                      return verify_p256(pck_chain_[0].get(), sig.qe_report_raw, sig.qe_report_signature)
                                 ? std::nullopt
                                 : std::optional<std::string>("bad signature");
                  })
                 .has_value();
        require(qe_signed, "qe_report_signature", "QE report signed by the PCK leaf key",
                "QE report signature does not verify with the PCK certificate's key");

        Bytes expected_data;
        {
            Bytes material(sig.attestation_key.begin(), sig.attestation_key.end());
            material.insert(material.end(), sig.qe_auth_data.begin(), sig.qe_auth_data.end());
            const auto digest = sha256(material);
            expected_data.assign(digest.begin(), digest.end());
            expected_data.resize(64, 0);
        }
        // All 64 bytes: the upper half must be zero too (go-tdx-guest's stricter reading).
        require(equal_ct(expected_data, sig.qe_report.report_data), "qe_report_data",
                "QE report data = SHA-256(attestation key || QE auth data) || 32 zero bytes",
                fmt::format("QE report data {} does not bind the attestation key: expected {}",
                            to_hex(sig.qe_report.report_data), to_hex(expected_data)));

        const auto& qe = sig.qe_report;
        const auto& id = qe_identity_;
        require(equal_ct(qe.mr_signer, id.mrsigner), "qe_mrsigner", fmt::format("QE MRSIGNER {}", to_hex(qe.mr_signer)),
                fmt::format("QE MRSIGNER mismatch: report has {}, QE Identity expects {}", to_hex(qe.mr_signer),
                            to_hex(id.mrsigner)));
        require(
            qe.isv_prod_id == id.isvprodid, "qe_isvprodid", fmt::format("QE ISVPRODID {}", qe.isv_prod_id),
            fmt::format("QE ISVPRODID mismatch: report has {}, QE Identity expects {}", qe.isv_prod_id, id.isvprodid));
        require((qe.misc_select & id.miscselect_mask) == (id.miscselect & id.miscselect_mask), "qe_miscselect",
                fmt::format("QE MISCSELECT {:08x} matches under mask {:08x}", qe.misc_select, id.miscselect_mask),
                fmt::format("QE MISCSELECT mismatch: report has {:08x}, expected {:08x} under mask {:08x}",
                            qe.misc_select, id.miscselect, id.miscselect_mask));
        bool attributes_ok = true;
        for (std::size_t i = 0; i < 16; ++i) {
            attributes_ok &= (qe.attributes[i] & id.attributes_mask[i]) == (id.attributes[i] & id.attributes_mask[i]);
        }
        require(attributes_ok, "qe_attributes", fmt::format("QE ATTRIBUTES {} match under mask", to_hex(qe.attributes)),
                fmt::format("QE ATTRIBUTES mismatch: report has {}, expected {} under mask {}", to_hex(qe.attributes),
                            to_hex(id.attributes), to_hex(id.attributes_mask)));
    }

    // Importing and checking the point costs about a quarter of the signature check itself, and a
    // platform's QE signs every quote with the same key, so a batch imports each key once. The
    // signature is still checked for every quote.
    std::shared_ptr<EVP_PKEY> attestation_key() {
        const auto& xy = quote_.signature_data.attestation_key;
        const auto import = [&] {
            return std::shared_ptr<EVP_PKEY>(ossl::p256_public_key(xy).release(), EVP_PKEY_free);
        };
        if (cache_ == nullptr) return import();
        return cache_->attestation_keys.get(std::string_view(reinterpret_cast<const char*>(xy.data()), xy.size()),
                                            import);
    }

    void check_quote_signature() {
        const auto key = guarded("quote_signature", [&] { return attestation_key(); });
        require(ossl::verify_p256_sha256(key.get(), quote_.signed_region(), quote_.signature_data.signature),
                "quote_signature",
                fmt::format("quote signature over the first {} bytes verifies with the attestation key",
                            quote_.signed_length()),
                "quote signature does not verify with the attestation key: the header or body was modified");
    }

    // --- TCB evaluation -----------------------------------------------------------------------

    void evaluate_tcb() {
        const auto& qe = quote_.signature_data.qe_report;
        // A tcbStatus Intel does not define is a property of the signed collateral, reported like any
        // other evidence problem (verify_quote throws only for crypto and internal failures).
        auto ev = guarded("tcb_status", [&] {
            return verify::evaluate_tcb(
                {tcb_info_, qe_identity_, *leaf_info_.sgx_extension, qe.isv_svn, quote_.td_body()});
        });
        auto checks = std::move(ev.checks);
        static_cast<TcbEvaluationResult&>(report_) = std::move(ev);
        // The evaluation stops at its first failed check, so a failure is the last one replayed.
        for (auto& check : checks) {
            if (check.passed) {
                pass(std::move(check.id), std::move(check.detail));
            } else {
                fail(std::move(check.id), std::move(check.detail));
            }
        }
    }

    const Quote& quote_;
    const Collateral& collateral_;
    UnixTime now_;
    TrustRoot trust_root_;
    VerificationReport report_;

    X509Ptr root_;
    X509CrlPtr root_crl_;
    X509CrlPtr pck_crl_;
    std::vector<X509Ptr> pck_chain_;
    CertificateInfo leaf_info_;
    pcs::TcbInfo tcb_info_;
    pcs::QeIdentity qe_identity_;
    std::string validated_signing_chain_;
    std::string pck_chain_pem_;
    VerificationCache::Impl* cache_;
};

}  // namespace

VerificationReport verify_quote(const Quote& quote, const Collateral& collateral, const VerifyOptions& options) {
    return Verification{quote, collateral, options}.run();
}

}  // namespace tdxkit
