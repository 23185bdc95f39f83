// The DCAP verification engine. Steps run in Intel QVL's order and stop at the first failure (fail
// closed); every step records a Check so reports show exactly what was verified. Where the public
// verifiers disagree, Intel's current QVL is followed (lib/docs/verification.md explains each choice).

#include <algorithm>
#include <cctype>
#include <mutex>
#include <type_traits>
#include <unordered_map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "crypto/cert_cache.hpp"
#include "crypto/ossl.hpp"
#include "pcs/collateral_summary.hpp"
#include "pcs/pck_internal.hpp"
#include "pcs/tcb_info.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/pck.hpp"
#include "tdxkit/verify.hpp"
#include "verify/chain.hpp"

namespace tdxkit {

struct VerificationCache::Impl {
    // A long batch of distinct platforms must not grow memory without bound: start over when full.
    static constexpr std::size_t kMaxEntries = 4096;

    std::mutex mutex;
    std::unordered_map<std::string, std::optional<std::string>> outcomes;
    std::unordered_map<std::string, std::shared_ptr<const pcs::TcbInfo>> tcb_infos;
    std::unordered_map<std::string, std::shared_ptr<const pcs::QeIdentity>> qe_identities;
    std::unordered_map<std::string, std::shared_ptr<const CertificateInfo>> leaf_infos;

    template <class Map, class Compute>
    typename Map::mapped_type lookup(Map& map, const std::string& key, Compute&& compute) {
        {
            const std::lock_guard lock(mutex);
            if (const auto it = map.find(key); it != map.end()) return it->second;
        }
        auto value = compute();  // outside the lock: this is the expensive part
        const std::lock_guard lock(mutex);
        if (map.size() >= kMaxEntries) map.clear();
        map.emplace(key, value);
        return value;
    }
};

VerificationCache::VerificationCache() : impl_(std::make_unique<Impl>()) {}
VerificationCache::~VerificationCache() = default;

namespace {

using ossl::X509CrlPtr;
using ossl::X509Ptr;

struct StepFailed {};

TcbStatus status_of(const std::string& name, std::string_view where) {
    const auto s = parse_tcb_status(name);
    if (!s || *s == TcbStatus::td_relaunch_advised || *s == TcbStatus::td_relaunch_advised_configuration_needed) {
        throw Error(Errc::malformed, fmt::format("{}: unknown tcbStatus \"{}\"", where, name));
    }
    return *s;
}

bool is_out_of_date(TcbStatus s) {
    return s == TcbStatus::out_of_date || s == TcbStatus::out_of_date_configuration_needed;
}

// Intel QVL convergeTcbStatuses: start from the platform; an out-of-date module or QE makes the
// platform out of date (keeping "configuration needed"); any revoked component revokes the whole.
TcbStatus converge(TcbStatus platform, std::optional<TcbStatus> module, std::optional<TcbStatus> qe) {
    const auto any = [&](TcbStatus s) { return (module && *module == s) || (qe && *qe == s); };
    TcbStatus out = platform;
    if (any(TcbStatus::out_of_date)) {
        if (out == TcbStatus::up_to_date || out == TcbStatus::sw_hardening_needed) out = TcbStatus::out_of_date;
        if (out == TcbStatus::configuration_needed || out == TcbStatus::configuration_and_sw_hardening_needed) {
            out = TcbStatus::out_of_date_configuration_needed;
        }
    }
    if (any(TcbStatus::revoked)) out = TcbStatus::revoked;
    return out;
}

TcbLevelResult level_result(const pcs::TcbLevel& l) { return {l.status, l.tcb_date, l.advisory_ids, std::nullopt, {}}; }
TcbLevelResult level_result(const pcs::IsvsvnLevel& l, std::string module_id = {}) {
    return {l.status, l.tcb_date, l.advisory_ids, l.isvsvn, std::move(module_id)};
}

class Verification {
public:
    Verification(const Quote& quote, const Collateral& collateral, const VerifyOptions& options)
        : quote_(quote), collateral_(collateral), now_(options.now ? *options.now : now_utc()),
          trust_root_(options.trust_root), cache_(options.cache != nullptr ? &options.cache->impl() : nullptr) {
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
    template <class Compute>
    std::optional<std::string> memo(const std::string& key, Compute&& compute) {
        if (cache_ == nullptr) return compute();
        return cache_->lookup(cache_->outcomes, key, std::forward<Compute>(compute));
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
    T parse_cached(std::unordered_map<std::string, std::shared_ptr<const T>>* parsed, std::string_view body,
                   Parse&& parse) {
        if (parsed == nullptr) return parse(body);
        return *cache_->lookup(*parsed, std::string(body), [&] { return std::make_shared<const T>(parse(body)); });
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
    void window(X509* cert) {
        window(ossl::asn1_time_to_unix(X509_get0_notBefore(cert)), ossl::asn1_time_to_unix(X509_get0_notAfter(cert)));
    }
    void window(X509_CRL* crl) {
        window(ossl::asn1_time_to_unix(X509_CRL_get0_lastUpdate(crl)),
               ossl::asn1_time_to_unix(X509_CRL_get0_nextUpdate(crl)));
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
        root_ = ossl::cached_der_cert(trust_root_.certificate_der, "trust root");
        window(root_.get());
        pass("trust_root",
             fmt::format("trust anchor \"{}\" (SHA-256 {}){}", ossl::common_name(X509_get_subject_name(root_.get())),
                         to_hex(sha256(trust_root_.certificate_der)),
                         trust_root_.is_intel_production ? ", Intel's production root"
                                                         : ", NOT Intel's root: test use only"));
    }

    void check_root_crl() {
        root_crl_ =
            guarded("root_ca_crl", [&] { return ossl::cached_der_crl(collateral_.root_ca_crl, "root CA CRL"); });
        if (const auto why = memo(key("root_crl", {collateral_.root_ca_crl}, true), [&] {
                return verify::check_crl(root_crl_.get(), root_.get(), now_, "root CA CRL");
            })) {
            fail("root_ca_crl", *why);
        }
        window(root_crl_.get());
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
        if (const auto why = memo(key("pck_crl", {collateral_.pck_crl, as_bytes(pck_chain_pem_)}, true), [&] {
                return verify::check_crl(pck_crl_.get(), pck_chain_[1].get(), now_, "PCK CRL");
            })) {
            fail("pck_crl", *why);
        }
        window(pck_crl_.get());
        pass("pck_crl", fmt::format("PCK CRL is signed by \"{}\" and current",
                                    ossl::common_name(X509_get_subject_name(pck_chain_[1].get()))));
    }

    void check_pck_chain() {
        for (const auto& c : pck_chain_) window(c.get());
        const auto why =
            memo(key("pck_chain", {as_bytes(pck_chain_pem_), collateral_.root_ca_crl, collateral_.pck_crl}, true), [&] {
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
        window(chain.front().get());
        // TCB Info and QE Identity normally share one issuer chain: validate it once.
        if (chain_pem != validated_signing_chain_) {
            if (const auto why = memo(key("signing_chain", {as_bytes(chain_pem), collateral_.root_ca_crl}, true), [&] {
                    return verify::validate_chain(chain.front().get(), intermediates, root_.get(), {root_crl_.get()},
                                                  now_);
                })) {
                fail(item + "_chain", fmt::format("{} signing certificate does not validate at {}: {}", item,
                                                  format_rfc3339(now_), *why));
            }
            validated_signing_chain_ = chain_pem;
        }
        const auto signer = ossl::common_name(X509_get_subject_name(chain.front().get()));
        pass(item + "_chain", fmt::format("signer \"{}\" chains to the trust root, valid and not revoked", signer));
        const bool signed_ok = !memo(key("signed_body", {as_bytes(chain_pem), as_bytes(body), signature}, false), [&] {
                                    return verify_p256(chain.front().get(), as_bytes(body), signature)
                                               ? std::nullopt
                                               : std::optional<std::string>("bad signature");
                                }).has_value();
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
            !memo(key("qe_report", {as_bytes(pck_chain_pem_), sig.qe_report_raw, sig.qe_report_signature}, false), [&] {
                 return verify_p256(pck_chain_[0].get(), sig.qe_report_raw, sig.qe_report_signature)
                            ? std::nullopt
                            : std::optional<std::string>("bad signature");
             }).has_value();
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

    void check_quote_signature() {
        const auto key =
            guarded("quote_signature", [&] { return ossl::p256_public_key(quote_.signature_data.attestation_key); });
        require(ossl::verify_p256_sha256(key.get(), quote_.signed_region(), quote_.signature_data.signature),
                "quote_signature",
                fmt::format("quote signature over the first {} bytes verifies with the attestation key",
                            quote_.signed_length()),
                "quote signature does not verify with the attestation key: the header or body was modified");
    }

    // --- TCB evaluation -----------------------------------------------------------------------

    // Index of the first (best) platform level the platform meets, or levels.size().
    std::size_t match_platform_level(const Octets<16>* tee_tcb_svn) const {
        const auto& ext = *leaf_info_.sgx_extension;
        const std::size_t tdx_start = tee_tcb_svn && (*tee_tcb_svn)[1] > 0 ? 2 : 0;
        for (std::size_t i = 0; i < tcb_info_.levels.size(); ++i) {
            const auto& l = tcb_info_.levels[i];
            bool ok = ext.pcesvn >= l.pcesvn;
            for (std::size_t c = 0; c < 16 && ok; ++c) ok = ext.sgx_tcb_components[c] >= l.sgx_components[c];
            if (tee_tcb_svn && l.tdx_components) {
                for (std::size_t c = tdx_start; c < 16 && ok; ++c) ok = (*tee_tcb_svn)[c] >= (*l.tdx_components)[c];
            }
            if (ok) return i;
        }
        return tcb_info_.levels.size();
    }

    void platform_shortfall(std::size_t matched, const Octets<16>* tee_tcb_svn) {
        if (matched == 0) return;
        const auto& next = tcb_info_.levels[matched - 1];
        platform_shortfall_against(next, tee_tcb_svn);
        note_outdated_since(next.tcb_date_unix);
    }

    void note_outdated_since(UnixTime date) {
        report_.outdated_since = report_.outdated_since ? std::min(*report_.outdated_since, date) : date;
    }

    static std::size_t match_isvsvn_level(const std::vector<pcs::IsvsvnLevel>& levels, std::uint32_t isvsvn) {
        for (std::size_t i = 0; i < levels.size(); ++i) {
            if (isvsvn >= levels[i].isvsvn) return i;
        }
        return levels.size();
    }

    void isvsvn_shortfall(const std::vector<pcs::IsvsvnLevel>& levels, std::size_t matched, std::string component,
                          std::uint32_t actual) {
        if (matched == 0) return;
        const auto& next = levels[matched - 1];
        report_.shortfall.push_back({std::move(component), actual, next.isvsvn, next.status, next.tcb_date});
    }

    // The TDX module identity for this quote: by major version TEE_TCB_SVN[1] when non-zero.
    const pcs::TdxModuleIdentity* select_module(const Octets<16>& tee_tcb_svn) {
        const auto major = tee_tcb_svn[1];
        if (major == 0) return nullptr;
        const auto wanted = fmt::format("TDX_{:02X}", major);
        for (const auto& m : tcb_info_.tdx_module_identities) {
            if (std::equal(m.id.begin(), m.id.end(), wanted.begin(), wanted.end(),
                           [](char a, char b) { return std::toupper(static_cast<unsigned char>(a)) == b; })) {
                return &m;
            }
        }
        fail("tdx_module_identity",
             fmt::format("TCB Info has no TDX module identity {} (TEE_TCB_SVN[1] = {}); available: [{}]. The TDX "
                         "module is unknown to this TCB Info: fetch current collateral",
                         wanted, major, fmt::join(module_ids(), ", ")));
    }

    std::vector<std::string> module_ids() const {
        std::vector<std::string> ids;
        for (const auto& m : tcb_info_.tdx_module_identities) ids.push_back(m.id);
        return ids;
    }

    void check_module_identity(const TdReportBody& td, const pcs::TdxModuleIdentity& module) {
        require(equal_ct(td.mr_signer_seam, module.mrsigner), "tdx_mrsignerseam",
                fmt::format("MRSIGNERSEAM {} matches the TDX module identity", to_hex(td.mr_signer_seam)),
                fmt::format("MRSIGNERSEAM mismatch: quote has {}, TCB Info expects {}: not an Intel-signed TDX module",
                            to_hex(td.mr_signer_seam), to_hex(module.mrsigner)));
        // Intel QVL compares SEAMATTRIBUTES byte for byte with the identity's attributes (mask
        // ignored); both are zero for every Intel module so far.
        require(equal_ct(td.seam_attributes, module.attributes), "tdx_seam_attributes",
                fmt::format("SEAMATTRIBUTES {} as expected", to_hex(td.seam_attributes)),
                fmt::format("SEAMATTRIBUTES mismatch: quote has {}, TCB Info expects {}", to_hex(td.seam_attributes),
                            to_hex(module.attributes)));
    }

    struct TdxEvaluation {
        TcbStatus platform;
        std::optional<TcbStatus> module;
        std::size_t platform_index = 0;
        std::size_t module_index = 0;
        const pcs::TdxModuleIdentity* identity = nullptr;
    };

    // Platform and module levels for one TEE_TCB_SVN (launch) value. `record` adds checks and
    // shortfall; the TD 1.5 "current" evaluation (TEE_TCB_SVN2) only needs the statuses.
    std::optional<TdxEvaluation> evaluate_tdx(const Octets<16>& svn, bool record) {
        TdxEvaluation ev;
        ev.identity = select_module(svn);
        ev.platform_index = match_platform_level(&svn);
        if (ev.platform_index == tcb_info_.levels.size()) {
            if (!record) return std::nullopt;
            // Measured against the lowest listed level: what it takes to be supported at all.
            platform_shortfall_against(tcb_info_.levels.back(), &svn);
            fail("platform_tcb_level", unmatched_platform_message());
        }
        const auto& level = tcb_info_.levels[ev.platform_index];
        ev.platform = status_of(level.status, "tcbInfo.tcbLevels");
        if (ev.identity) {
            ev.module_index = match_isvsvn_level(ev.identity->levels, svn[0]);
            if (ev.module_index == ev.identity->levels.size()) {
                if (!record) return std::nullopt;
                fail("tdx_module_tcb_level",
                     fmt::format("no TCB level of TDX module {} accepts its SVN {} (TEE_TCB_SVN[0]); the lowest "
                                 "level requires {}: update the TDX module",
                                 ev.identity->id, svn[0], ev.identity->levels.back().isvsvn));
            }
            ev.module = status_of(ev.identity->levels[ev.module_index].status, "tdxModuleIdentities.tcbLevels");
        }
        return ev;
    }

    std::string unmatched_platform_message() const {
        std::string needs;
        for (const auto& s : report_.shortfall) {
            needs += fmt::format("{}{} is {} (needs {})", needs.empty() ? "" : "; ", s.component, s.actual, s.required);
        }
        return fmt::format("no TCB level in TCB Info (FMSPC {}, evaluation data number {}) matches this platform "
                           "(TCB_NOT_SUPPORTED): {}",
                           to_hex(tcb_info_.fmspc), tcb_info_.tcb_evaluation_data_number,
                           needs.empty() ? "components below every level" : needs);
    }

    void platform_shortfall_against(const pcs::TcbLevel& target, const Octets<16>* svn) {
        const auto& ext = *leaf_info_.sgx_extension;
        const auto add = [&](std::string component, std::uint32_t actual, std::uint32_t required) {
            if (actual < required) {
                report_.shortfall.push_back({std::move(component), actual, required, target.status, target.tcb_date});
            }
        };
        for (std::size_t c = 0; c < 16; ++c) {
            add(fmt::format("SGX TCB component {}", c + 1), ext.sgx_tcb_components[c], target.sgx_components[c]);
        }
        add("PCESVN", ext.pcesvn, target.pcesvn);
        if (svn && target.tdx_components) {
            const std::size_t start = (*svn)[1] > 0 ? 2 : 0;
            for (std::size_t c = start; c < 16; ++c) {
                add(fmt::format("TDX TCB component {} (TEE_TCB_SVN[{}])", c + 1, c), (*svn)[c],
                    (*target.tdx_components)[c]);
            }
        }
    }

    void evaluate_tcb() {
        const auto& qe = quote_.signature_data.qe_report;
        const auto qe_index = match_isvsvn_level(qe_identity_.levels, qe.isv_svn);
        if (qe_index == qe_identity_.levels.size()) {
            fail("qe_tcb_level", fmt::format("no QE Identity TCB level accepts QE ISVSVN {}; the lowest requires {}",
                                             qe.isv_svn, qe_identity_.levels.back().isvsvn));
        }
        const auto& qe_level = qe_identity_.levels[qe_index];
        const auto qe_status = status_of(qe_level.status, "enclaveIdentity.tcbLevels");
        report_.qe_status = qe_status;
        report_.qe_level = level_result(qe_level);
        isvsvn_shortfall(qe_identity_.levels, qe_index, "QE ISVSVN", qe.isv_svn);
        pass("qe_tcb_level",
             fmt::format("QE ISVSVN {} -> {} (tcbDate {})", qe.isv_svn, qe_level.status, qe_level.tcb_date));

        std::vector<std::string> advisories;
        std::vector<std::string> dates{qe_level.tcb_date};
        TcbStatus launch{};
        const auto* td = quote_.td_body();
        if (td) {
            const auto ev = *evaluate_tdx(td->tee_tcb_svn, true);
            if (ev.identity) {
                check_module_identity(*td, *ev.identity);
            } else {
                check_module_identity(*td, *tcb_info_.tdx_module);
            }
            const auto& level = tcb_info_.levels[ev.platform_index];
            report_.platform_status = ev.platform;
            report_.platform_level = level_result(level);
            platform_shortfall(ev.platform_index, &td->tee_tcb_svn);
            pass("platform_tcb_level", fmt::format("platform TCB level {} (tcbDate {})", level.status, level.tcb_date));
            advisories = level.advisory_ids;
            dates.push_back(level.tcb_date);
            if (ev.identity) {
                const auto& ml = ev.identity->levels[ev.module_index];
                report_.tdx_module_status = ev.module;
                report_.tdx_module_level = level_result(ml, ev.identity->id);
                isvsvn_shortfall(ev.identity->levels, ev.module_index,
                                 fmt::format("TDX module {} SVN (TEE_TCB_SVN[0])", ev.identity->id),
                                 td->tee_tcb_svn[0]);
                if (ev.module_index > 0 && is_out_of_date(*ev.module)) {
                    note_outdated_since(ev.identity->levels[ev.module_index - 1].tcb_date_unix);
                }
                pass("tdx_module_tcb_level", fmt::format("TDX module {} SVN {} -> {} (tcbDate {})", ev.identity->id,
                                                         td->tee_tcb_svn[0], ml.status, ml.tcb_date));
                dates.push_back(ml.tcb_date);
            }
            launch = converge(ev.platform, ev.module, qe_status);
            report_.tcb_status = launch;
            if (td->tee_tcb_svn2) evaluate_relaunch(*td, launch, qe_status);
        } else {
            const auto index = match_platform_level(nullptr);
            if (index == tcb_info_.levels.size()) {
                platform_shortfall_against(tcb_info_.levels.back(), nullptr);
                fail("platform_tcb_level", unmatched_platform_message());
            }
            const auto& level = tcb_info_.levels[index];
            report_.platform_status = status_of(level.status, "tcbInfo.tcbLevels");
            report_.platform_level = level_result(level);
            platform_shortfall(index, nullptr);
            pass("platform_tcb_level", fmt::format("platform TCB level {} (tcbDate {})", level.status, level.tcb_date));
            advisories = level.advisory_ids;
            dates.push_back(level.tcb_date);
            report_.tcb_status = converge(*report_.platform_status, std::nullopt, qe_status);
        }
        // Intel concatenates platform, QE and module advisories; duplicates carry no information.
        for (const auto& list :
             {report_.qe_level->advisory_ids,
              report_.tdx_module_level ? report_.tdx_module_level->advisory_ids : std::vector<std::string>{}}) {
            advisories.insert(advisories.end(), list.begin(), list.end());
        }
        for (const auto& a : advisories) {
            if (std::find(report_.advisory_ids.begin(), report_.advisory_ids.end(), a) == report_.advisory_ids.end()) {
                report_.advisory_ids.push_back(a);
            }
        }
        report_.tcb_date = *std::min_element(dates.begin(), dates.end());
        if (report_.tcb_status && !is_out_of_date(*report_.tcb_status) &&
            *report_.tcb_status != TcbStatus::td_relaunch_advised &&
            *report_.tcb_status != TcbStatus::td_relaunch_advised_configuration_needed) {
            report_.outdated_since.reset();
        }
        pass("tcb_status", fmt::format("TCB status {}{}", tcb_status_name(*report_.tcb_status),
                                       report_.advisory_ids.empty()
                                           ? std::string()
                                           : fmt::format(", advisories {}", fmt::join(report_.advisory_ids, ", "))));
    }

    // TD 1.5 (Intel QVL TDRelaunchCheck): a TD launched on an out-of-date TCB whose platform has
    // since been updated in place (TEE_TCB_SVN2) only needs a relaunch.
    void evaluate_relaunch(const TdReportBody& td, TcbStatus launch, TcbStatus qe_status) {
        report_.td_launch_status = launch;
        const auto current = evaluate_tdx(*td.tee_tcb_svn2, false);
        if (!current) return;
        const auto current_status = converge(current->platform, current->module, qe_status);
        report_.td_current_status = current_status;
        const bool current_ok = current_status == TcbStatus::up_to_date ||
                                current_status == TcbStatus::sw_hardening_needed ||
                                current_status == TcbStatus::configuration_needed ||
                                current_status == TcbStatus::configuration_and_sw_hardening_needed;
        if (is_out_of_date(launch) && current_ok) {
            const bool config = launch == TcbStatus::out_of_date_configuration_needed ||
                                current_status == TcbStatus::configuration_needed ||
                                current_status == TcbStatus::configuration_and_sw_hardening_needed;
            report_.tcb_status =
                config ? TcbStatus::td_relaunch_advised_configuration_needed : TcbStatus::td_relaunch_advised;
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
