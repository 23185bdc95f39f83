// The strict MessagePack reader (core/json.hpp) against nlohmann's own: whatever it accepts,
// nlohmann reads to the same value, and it never builds a value deeper than the limit.
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "fuzz_target.hpp"
#include "json_depth.hpp"
#include "tdxkit/error.hpp"

namespace {

constexpr std::size_t kDepth = 8;

void fuzz(tdxkit::ByteSpan data) {
    nlohmann::json strict;
    try {
        strict = tdxkit::detail::parse_msgpack(data, "fuzz", kDepth);
    } catch (const tdxkit::Error&) {
        return;  // nlohmann may accept what the strict reader refuses (extension types, duplicate keys)
    }
    // The limit bounds the recursion here: a value deeper than the limit would be a bug, and is not walked.
    if (json_depth(strict, kDepth + 1) > kDepth) std::abort();
    // Accepted, so no deeper than the limit: nlohmann's recursive reader is safe on it.
    const auto reference = nlohmann::json::from_msgpack(data.begin(), data.end(), true, false);
    if (reference.is_discarded()) std::abort();
    // NaN never equals itself: the encodings of the two values are compared as well.
    if (reference != strict && nlohmann::json::to_msgpack(reference) != nlohmann::json::to_msgpack(strict)) {
        std::abort();
    }
}

}  // namespace
TDXKIT_FUZZ_TARGET(fuzz)
