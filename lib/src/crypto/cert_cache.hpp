#pragma once

// Parsed certificates and CRLs, shared across verifications. OpenSSL 3.0 spends more time decoding
// an X.509 structure than verifying an ECDSA signature, and collateral repeats the same few
// certificates for every quote of a platform family. Keyed by the exact input bytes (a PEM
// certificate also by its DER), so a hit is the same object a fresh parse would give; the objects
// are only read after parsing.

#include <string_view>

#include "crypto/ossl.hpp"

namespace tdxkit::ossl {

X509Ptr cached_pem_cert(std::string_view pem, std::string_view what);
X509Ptr cached_der_cert(ByteSpan der, std::string_view what);
X509CrlPtr cached_der_crl(ByteSpan der, std::string_view what);

}  // namespace tdxkit::ossl
