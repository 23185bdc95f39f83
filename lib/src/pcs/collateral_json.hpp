#pragma once

// A QuoteCollateralV3 bundle already parsed by detail::parse_json, for callers that hold it inside a
// larger document (cache entries), so it is never re-serialized to be parsed again.

#include <string_view>

#include <nlohmann/json.hpp>

#include "tdxkit/collateral.hpp"

namespace tdxkit::pcs {

// Throws Error(malformed) for a non-object, a non-string or unknown member and bad CRL/signature
// encodings, Error(collateral_unavailable) for a missing member.
[[nodiscard]] Collateral collateral_from_document(const nlohmann::json& doc, std::string_view what);

}  // namespace tdxkit::pcs
