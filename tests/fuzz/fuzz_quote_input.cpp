// Quote containers: hex, base64, JSON wrappers (GetQuote, /tdx_quote), byte arrays.
#include "fuzz_target.hpp"
#include "tdxkit/input.hpp"

namespace {
void fuzz(tdxkit::ByteSpan data) { (void)tdxkit::decode_quote_input(data); }
}  // namespace
TDXKIT_FUZZ_TARGET(fuzz)
