#pragma once

// Private to the library (and its unit tests).

#include <openssl/x509.h>

#include "tdxkit/pck.hpp"
#include "tdxkit/quote.hpp"

namespace tdxkit::detail {

// describe_certificate for an already parsed certificate.
CertificateInfo describe_x509(X509* cert);

// The PCK chain a quote carries in certification data type 5; empty for other types.
[[nodiscard]] std::vector<CertificateInfo> quote_pck_chain(const Quote& quote);

}  // namespace tdxkit::detail
