#pragma once

#include <optional>
#include <string>
#include <vector>

#include "crypto/ossl.hpp"
#include "tdxkit/time.hpp"

namespace tdxkit::verify {

// Validates `leaf` through `intermediates` to `root` (the only trusted certificate) at time `now`:
// form (v3, ECDSA-SHA256, no unknown critical extension), validity, issuer names and key usage,
// signatures, CA flags, and revocation (each certificate below the root must be covered by one of
// `crls`, whose own signatures and validity the caller has checked with check_crl). Returns
// nullopt when valid, otherwise the reason naming the failing certificate.
std::optional<std::string> validate_chain(X509* leaf, const std::vector<X509*>& intermediates, X509* root,
                                          const std::vector<X509_CRL*>& crls, UnixTime now);

// A CRL must be issued and signed by `issuer` and current at `now`. Returns the reason otherwise.
std::optional<std::string> check_crl(X509_CRL* crl, X509* issuer, UnixTime now, std::string_view what);

bool same_public_key(X509* a, X509* b);

}  // namespace tdxkit::verify
