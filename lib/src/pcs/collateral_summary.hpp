#pragma once

// Certificate chains of a collateral set, as the cache, `collateral show` and check_collateral read
// them (through the parsed-certificate cache).

#include <string>
#include <string_view>
#include <vector>

#include "crypto/ossl.hpp"

namespace tdxkit::pcs {

// Every certificate of a PEM chain, in order. Error(malformed) when it holds none or a bad one.
[[nodiscard]] std::vector<ossl::X509Ptr> parse_pem_chain(std::string_view pem, std::string_view what);

[[nodiscard]] std::string subject_cn(X509* cert);

}  // namespace tdxkit::pcs
