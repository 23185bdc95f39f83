// Collateral on its own (`tdxkit collateral show`, the cache): what a set contains, and whether its
// signatures, chains, CRLs and validity windows hold against a trust root, without a quote.
// Uses the same chain and CRL checks as verify_quote; unlike it, every check runs so a report
// shows all that is wrong at once.

#include <algorithm>
#include <functional>

#include <fmt/format.h>

#include "crypto/cert_cache.hpp"
#include "crypto/ossl.hpp"
#include "pcs/collateral_summary.hpp"
#include "pcs/tcb_info.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/pcs.hpp"
#include "tdxkit/verify.hpp"
#include "verify/chain.hpp"

namespace tdxkit {
namespace {

using ossl::X509CrlPtr;
using ossl::X509Ptr;

using pcs::parse_pem_chain;
using pcs::subject_cn;

class CollateralChecker {
public:
    CollateralChecker(const Collateral& c, const TrustRoot& root, UnixTime now) : c_(c), now_(now) {
        root_ = ossl::cached_der_cert(root.certificate_der, "trust root");
    }

    CollateralCheckResult run() {
        check("root_ca_crl", [&] {
            root_crl_ = ossl::cached_der_crl(c_.root_ca_crl, "root CA CRL");
            if (auto why = verify::check_crl(root_crl_.get(), root_.get(), now_, "root CA CRL")) return *why;
            return pass("root CA CRL is signed by the trust root and current");
        });
        const auto pck_chain = ca_chain();
        check("pck_crl", [&] {
            if (!pck_chain) return std::string("no valid issuer chain to check it with");
            auto crl = ossl::cached_der_crl(c_.pck_crl, "PCK CRL");
            if (auto why = verify::check_crl(crl.get(), pck_chain->get(), now_, "PCK CRL")) return *why;
            return pass(fmt::format("PCK CRL is signed by \"{}\" and current", subject_cn(pck_chain->get())));
        });
        signed_item("tcb_info", "TCB Info", c_.tcb_info_issuer_chain, c_.tcb_info, c_.tcb_info_signature,
                    [](auto body) {
                        const auto t = pcs::parse_tcb_info(body);
                        return std::pair{t.issue_date, t.next_update};
                    });
        signed_item("qe_identity", "QE Identity", c_.qe_identity_issuer_chain, c_.qe_identity, c_.qe_identity_signature,
                    [](auto body) {
                        const auto q = pcs::parse_qe_identity(body);
                        return std::pair{q.issue_date, q.next_update};
                    });
        result_.valid =
            std::all_of(result_.checks.begin(), result_.checks.end(), [](const Check& k) { return k.passed; });
        return std::move(result_);
    }

private:
    // A check's body returns its detail: pass(...) marks success, any other text is the failure.
    std::string pass(std::string detail) {
        passed_ = true;
        return detail;
    }

    void check(std::string id, const std::function<std::string()>& body) {
        passed_ = false;
        std::string detail;
        try {
            detail = body();
        } catch (const Error& e) {
            passed_ = false;
            detail = e.what();
        }
        result_.checks.push_back({std::move(id), passed_, std::move(detail)});
    }

    // The issuer chain of an item ends at the trust root and its first certificate validates (with
    // the root CRL). Returns that certificate when it does.
    std::optional<X509Ptr> signing_chain(const std::string& id, std::string_view item, const std::string& pem) {
        std::optional<X509Ptr> signer;
        check(id, [&] {
            auto chain = parse_pem_chain(pem, fmt::format("{} issuer chain", item));
            if (!verify::same_public_key(chain.back().get(), root_.get())) {
                return fmt::format("{} issuer chain ends at \"{}\", not at the trust root", item,
                                   subject_cn(chain.back().get()));
            }
            if (!root_crl_) return std::string("the root CA CRL is unusable, so revocation cannot be checked");
            std::vector<X509*> intermediates;
            for (std::size_t i = 1; i + 1 < chain.size(); ++i) intermediates.push_back(chain[i].get());
            if (auto why =
                    verify::validate_chain(chain.front().get(), intermediates, root_.get(), {root_crl_.get()}, now_)) {
                return fmt::format("{} signer does not validate at {}: {}", item, format_rfc3339(now_), *why);
            }
            signer = std::move(chain.front());
            return pass(fmt::format("signer \"{}\" chains to the trust root, valid and not revoked",
                                    subject_cn(signer->get())));
        });
        return signer;
    }

    // The PCK CRL issuer chain is (PCK CA, root): validate_chain wants an end-entity leaf, so the
    // one link is checked here: issued and signed by the trust root, current, not revoked.
    std::optional<X509Ptr> ca_chain() {
        std::optional<X509Ptr> ca;
        check("pck_crl_chain", [&] {
            auto chain = parse_pem_chain(c_.pck_crl_issuer_chain, "PCK CRL issuer chain");
            if (chain.size() != 2 || !verify::same_public_key(chain.back().get(), root_.get())) {
                return fmt::format("PCK CRL issuer chain has {} certificate(s) ending at \"{}\", expected the PCK CA "
                                   "and the trust root",
                                   chain.size(), subject_cn(chain.back().get()));
            }
            X509* cert = chain.front().get();
            const auto name = subject_cn(cert);
            if (X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(root_.get())) != 0 ||
                X509_verify(cert, X509_get0_pubkey(root_.get())) != 1) {
                ERR_clear_error();
                return fmt::format("\"{}\" is not issued and signed by the trust root", name);
            }
            const auto from = ossl::asn1_time_to_unix(X509_get0_notBefore(cert));
            const auto until = ossl::asn1_time_to_unix(X509_get0_notAfter(cert));
            if (now_ < from || now_ > until) {
                return fmt::format("\"{}\" is valid from {} to {}, not at {}", name, format_rfc3339(from),
                                   format_rfc3339(until), format_rfc3339(now_));
            }
            if (!root_crl_) return std::string("the root CA CRL is unusable, so revocation cannot be checked");
            X509_REVOKED* revoked = nullptr;
            if (X509_CRL_get0_by_cert(root_crl_.get(), &revoked, cert) == 1) {
                return fmt::format("\"{}\" is revoked by the root CA CRL", name);
            }
            ca = std::move(chain.front());
            return pass(fmt::format("\"{}\" is issued by the trust root, valid and not revoked", name));
        });
        return ca;
    }

    template <class Window>
    void signed_item(const std::string& id, std::string_view item, const std::string& chain_pem,
                     const std::string& body, const Bytes& signature, Window&& window) {
        const auto signer = signing_chain(id + "_chain", item, chain_pem);
        check(id + "_signature", [&] {
            if (!signer) return std::string("no valid issuer chain to check it with");
            auto* key = X509_get0_pubkey(signer->get());
            if (key == nullptr || !ossl::verify_p256_sha256(key, as_bytes(body), signature)) {
                return fmt::format("{} signature does not verify with \"{}\": the item was modified or signed by "
                                   "another key",
                                   item, subject_cn(signer->get()));
            }
            return pass(fmt::format("signature by \"{}\" over the exact body bytes", subject_cn(signer->get())));
        });
        check(id + "_validity", [&] {
            const auto [issue, next] = window(body);
            if (now_ < issue) {
                return fmt::format("{} issueDate {} is after {}: not yet valid", item, format_rfc3339(issue),
                                   format_rfc3339(now_));
            }
            if (now_ > next) {
                return fmt::format("{} expired: nextUpdate {} is before {}; fetch current collateral", item,
                                   format_rfc3339(next), format_rfc3339(now_));
            }
            return pass(fmt::format("{} valid from {} to {}", item, format_rfc3339(issue), format_rfc3339(next)));
        });
    }

    const Collateral& c_;
    UnixTime now_;
    X509Ptr root_;
    X509CrlPtr root_crl_;
    bool passed_ = false;
    CollateralCheckResult result_;
};

}  // namespace

std::optional<std::string> CollateralCheckResult::failure() const {
    if (valid) return std::nullopt;
    const auto failed = std::find_if(checks.begin(), checks.end(), [](const Check& c) { return !c.passed; });
    return failed == checks.end() ? "a check failed" : fmt::format("{}: {}", failed->id, failed->detail);
}

CollateralCheckResult check_collateral(const Collateral& collateral, const TrustRoot& root, UnixTime now) {
    return CollateralChecker{collateral, root, now}.run();
}

}  // namespace tdxkit
