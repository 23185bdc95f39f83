#include "verify/chain.hpp"

#include <fmt/format.h>

#include "tdxkit/error.hpp"

namespace tdxkit::verify {

namespace {

// Validity is inclusive at both ends (notBefore <= now <= notAfter), as for TCB Info and CRLs.
// OpenSSL treats notAfter == now as expired, so tdxkit checks times itself.
std::optional<std::string> check_cert_time(X509* cert, UnixTime now) {
    const auto from = ossl::asn1_time_to_unix(X509_get0_notBefore(cert));
    const auto until = ossl::asn1_time_to_unix(X509_get0_notAfter(cert));
    const auto name = ossl::common_name(X509_get_subject_name(cert));
    if (now < from) {
        return fmt::format("certificate \"{}\" is not yet valid: notBefore {} is after the verification time {}", name,
                           format_rfc3339(from), format_rfc3339(now));
    }
    if (now > until) {
        return fmt::format("certificate \"{}\" has expired: notAfter {} is before the verification time {}", name,
                           format_rfc3339(until), format_rfc3339(now));
    }
    return std::nullopt;
}

}  // namespace

std::optional<std::string> validate_chain(X509* leaf, const std::vector<X509*>& intermediates, X509* root,
                                          const std::vector<X509_CRL*>& crls, UnixTime now) {
    for (X509* cert : {leaf, root}) {
        if (auto why = check_cert_time(cert, now)) return why;
    }
    for (X509* cert : intermediates) {
        if (auto why = check_cert_time(cert, now)) return why;
    }
    ossl::X509StorePtr store{X509_STORE_new()};
    if (!store || X509_STORE_add_cert(store.get(), root) != 1) ossl::fail("X509_STORE_add_cert");
    for (auto* crl : crls) {
        if (X509_STORE_add_crl(store.get(), crl) != 1) ossl::fail("X509_STORE_add_crl");
    }
    ossl::X509StackPtr untrusted{sk_X509_new_null()};
    if (!untrusted) ossl::fail("sk_X509_new_null");
    for (auto* cert : intermediates) {
        if (sk_X509_push(untrusted.get(), cert) <= 0) ossl::fail("sk_X509_push");
        X509_up_ref(cert);
    }
    ossl::X509StoreCtxPtr ctx{X509_STORE_CTX_new()};
    if (!ctx || X509_STORE_CTX_init(ctx.get(), store.get(), leaf, untrusted.get()) != 1) {
        ossl::fail("X509_STORE_CTX_init");
    }
    X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
    // Times are checked above (certificates) and by check_crl (CRLs), inclusively.
    unsigned long flags = X509_V_FLAG_X509_STRICT | X509_V_FLAG_NO_CHECK_TIME;
    if (!crls.empty()) flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
    X509_VERIFY_PARAM_set_flags(param, flags);
    // Only the given root anchors the chain, never a self-signed certificate supplied with it.
    X509_VERIFY_PARAM_clear_flags(param, X509_V_FLAG_PARTIAL_CHAIN);

    if (X509_verify_cert(ctx.get()) == 1) {
        ERR_clear_error();
        return std::nullopt;
    }
    const int err = X509_STORE_CTX_get_error(ctx.get());
    const int depth = X509_STORE_CTX_get_error_depth(ctx.get());
    X509* failing = X509_STORE_CTX_get_current_cert(ctx.get());
    const auto name = failing != nullptr ? ossl::common_name(X509_get_subject_name(failing)) : std::string("?");
    ERR_clear_error();
    return fmt::format("{} (certificate at depth {}: \"{}\")", X509_verify_cert_error_string(err), depth, name);
}

std::optional<std::string> check_crl(X509_CRL* crl, X509* issuer, UnixTime now, std::string_view what) {
    if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0) {
        return fmt::format("{} is issued by \"{}\", expected \"{}\"", what,
                           ossl::name_oneline(X509_CRL_get_issuer(crl)), ossl::name_oneline(X509_get_subject_name(issuer)));
    }
    EVP_PKEY* key = X509_get0_pubkey(issuer);
    if (key == nullptr || X509_CRL_verify(crl, key) != 1) {
        ERR_clear_error();
        return fmt::format("{} signature does not verify with the key of \"{}\"", what,
                           ossl::common_name(X509_get_subject_name(issuer)));
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
