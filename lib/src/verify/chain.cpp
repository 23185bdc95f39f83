#include "verify/chain.hpp"

#include <fmt/format.h>

#include "tdxkit/error.hpp"

namespace tdxkit::verify {
namespace {

std::string cn(X509* cert) { return ossl::common_name(X509_get_subject_name(cert)); }

// Validity is inclusive at both ends (notBefore <= now <= notAfter), as for TCB Info and CRLs.
std::optional<std::string> check_cert_time(X509* cert, UnixTime now) {
    const auto from = ossl::asn1_time_to_unix(X509_get0_notBefore(cert));
    const auto until = ossl::asn1_time_to_unix(X509_get0_notAfter(cert));
    if (now < from) {
        return fmt::format("certificate \"{}\" is not yet valid: notBefore {} is after the verification time {}",
                           cn(cert), format_rfc3339(from), format_rfc3339(now));
    }
    if (now > until) {
        return fmt::format("certificate \"{}\" has expired: notAfter {} is before the verification time {}", cn(cert),
                           format_rfc3339(until), format_rfc3339(now));
    }
    return std::nullopt;
}

// Every DCAP certificate is ECDSA-with-SHA256 on P-256 (go-tdx-guest validateX509Cert), and none
// carries a critical extension tdxkit would have to understand.
std::optional<std::string> check_cert_form(X509* cert) {
    if (X509_get_version(cert) != X509_VERSION_3) return fmt::format("certificate \"{}\" is not X.509 v3", cn(cert));
    if (X509_get_signature_nid(cert) != NID_ecdsa_with_SHA256) {
        return fmt::format("certificate \"{}\" is not signed with ECDSA-with-SHA256", cn(cert));
    }
    if ((X509_get_extension_flags(cert) & EXFLAG_CRITICAL) != 0) {
        return fmt::format("certificate \"{}\" has an unsupported critical extension", cn(cert));
    }
    if ((X509_get_extension_flags(cert) & EXFLAG_INVALID) != 0) {
        return fmt::format("certificate \"{}\" has invalid extensions", cn(cert));
    }
    return std::nullopt;
}

std::optional<std::string> check_link(X509* child, X509* issuer) {
    if (const int rc = X509_check_issued(issuer, child); rc != X509_V_OK) {
        return fmt::format("certificate \"{}\" is not issued by \"{}\" ({})", cn(child), cn(issuer),
                           X509_verify_cert_error_string(rc));
    }
    if (X509_check_ca(issuer) == 0) return fmt::format("issuer \"{}\" is not a CA certificate", cn(issuer));
    EVP_PKEY* key = X509_get0_pubkey(issuer);
    if (key == nullptr || X509_verify(child, key) != 1) {
        ERR_clear_error();
        return fmt::format("signature of certificate \"{}\" does not verify with the key of \"{}\"", cn(child),
                           cn(issuer));
    }
    return std::nullopt;
}

std::optional<std::string> check_revocation(X509* cert, const std::vector<X509_CRL*>& crls) {
    for (auto* crl : crls) {
        if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(cert)) != 0) continue;
        X509_REVOKED* entry = nullptr;
        if (X509_CRL_get0_by_cert(crl, &entry, cert) == 1) {
            const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
            return fmt::format(
                "certificate \"{}\" (serial {}) is REVOKED by the CRL of \"{}\"", cn(cert),
                to_hex(ByteSpan(ASN1_STRING_get0_data(serial), static_cast<std::size_t>(ASN1_STRING_length(serial)))),
                ossl::common_name(X509_CRL_get_issuer(crl)));
        }
        return std::nullopt;
    }
    return fmt::format("no CRL from \"{}\" covers certificate \"{}\"", ossl::common_name(X509_get_issuer_name(cert)),
                       cn(cert));
}

}  // namespace

std::optional<std::string> validate_chain(X509* leaf, const std::vector<X509*>& intermediates, X509* root,
                                          const std::vector<X509_CRL*>& crls, UnixTime now) {
    std::vector<X509*> chain{leaf};
    chain.insert(chain.end(), intermediates.begin(), intermediates.end());
    chain.push_back(root);
    for (X509* cert : chain) {
        if (auto why = check_cert_form(cert)) return why;
        if (auto why = check_cert_time(cert, now)) return why;
    }
    if (X509_check_ca(leaf) != 0) return fmt::format("end-entity certificate \"{}\" is a CA certificate", cn(leaf));
    for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
        if (auto why = check_link(chain[i], chain[i + 1])) return why;
        if (auto why = check_revocation(chain[i], crls)) return why;
    }
    return std::nullopt;
}

std::optional<std::string> check_crl(X509_CRL* crl, X509* issuer, UnixTime now, std::string_view what) {
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0) {
        return fmt::format("{} is issued by \"{}\", expected \"{}\"", what,
                           ossl::name_oneline(X509_CRL_get_issuer(crl)),
                           ossl::name_oneline(X509_get_subject_name(issuer)));
    }
    EVP_PKEY* key = X509_get0_pubkey(issuer);
    if (key == nullptr || X509_CRL_verify(crl, key) != 1) {
        ERR_clear_error();
        return fmt::format("{} signature does not verify with the key of \"{}\"", what, cn(issuer));
    }
    const ASN1_TIME* this_update = X509_CRL_get0_lastUpdate(crl);
    const ASN1_TIME* next_update = X509_CRL_get0_nextUpdate(crl);
    if (this_update == nullptr || next_update == nullptr) return fmt::format("{} lacks thisUpdate/nextUpdate", what);
    const auto from = ossl::asn1_time_to_unix(this_update);
    const auto until = ossl::asn1_time_to_unix(next_update);
    if (now < from) {
        return fmt::format("{} is not yet valid: thisUpdate {} is after the verification time {}", what,
                           format_rfc3339(from), format_rfc3339(now));
    }
    if (now > until) {
        return fmt::format("{} has expired: nextUpdate {} is before the verification time {}; fetch current collateral",
                           what, format_rfc3339(until), format_rfc3339(now));
    }
    return std::nullopt;
}

bool same_public_key(X509* a, X509* b) {
    EVP_PKEY* ka = X509_get0_pubkey(a);
    EVP_PKEY* kb = X509_get0_pubkey(b);
    const bool same = ka != nullptr && kb != nullptr && EVP_PKEY_eq(ka, kb) == 1;
    ERR_clear_error();
    return same;
}

}  // namespace tdxkit::verify
