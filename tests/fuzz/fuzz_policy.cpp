// Policy files: strict parsing, and the effective policy must round-trip.
#include <cstdlib>

#include "fuzz_target.hpp"
#include "tdxkit/policy.hpp"

namespace {
void fuzz(tdxkit::ByteSpan data) {
    const auto policy = tdxkit::parse_policy(fuzz_text(data), "fuzz");
    auto again = tdxkit::parse_policy(tdxkit::policy_to_json(policy), "fuzz");
    again.source = policy.source;
    if (!(again == policy)) std::abort();
}
}  // namespace
TDXKIT_FUZZ_TARGET(fuzz)
