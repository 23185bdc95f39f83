#pragma once

#include <openssl/x509.h>

#include "tdxkit/pck.hpp"

namespace tdxkit::detail {

// describe_certificate for an already parsed certificate.
CertificateInfo describe_x509(X509* cert);

}  // namespace tdxkit::detail
