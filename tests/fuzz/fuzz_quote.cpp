// Quote parser (v3/v4/v5, every body type) and its round trip: whatever parses must serialize back
// to the same bytes.
#include <cstdlib>

#include "fuzz_target.hpp"
#include "tdxkit/describe.hpp"
#include "tdxkit/quote.hpp"

namespace {
void fuzz(tdxkit::ByteSpan data) {
    const auto quote = tdxkit::parse_quote(data);
    if (tdxkit::serialize_quote(quote) != quote.raw) std::abort();
    (void)tdxkit::describe_quote_json(quote, tdxkit::ratls::Evidence{});
}
}  // namespace
TDXKIT_FUZZ_TARGET(fuzz)
