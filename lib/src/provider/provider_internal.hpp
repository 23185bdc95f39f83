#pragma once

// Shared between the quote providers. Private to the library.

#include <optional>
#include <string>
#include <string_view>

#include "tdxkit/provider.hpp"

namespace tdxkit::provider {

// What every provider's answer must be: a TDX quote of sane size, carrying exactly the requested
// report data. Returns the quote's own bytes. Throws Error(malformed) naming `source`.
Bytes checked_quote(ByteSpan data, const Octets<64>& report_data, std::string_view source);

GeneratedQuote from_configfs_tsm(const QuoteRequest& request);
GeneratedQuote from_dstack(const QuoteRequest& request, const std::string& endpoint);

// The endpoint the dstack provider would use: the request's, DSTACK_SIMULATOR_ENDPOINT, or the first
// standard socket that exists. nullopt when there is none; `tried` lists what was looked at.
std::optional<std::string> find_dstack_endpoint(const QuoteRequest& request, std::string& tried);

}  // namespace tdxkit::provider
