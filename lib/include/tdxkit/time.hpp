#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tdxkit/export.hpp"

namespace tdxkit {

// Seconds since the Unix epoch, UTC. Every validity check in tdxkit takes the time as an input.
using UnixTime = std::int64_t;

// "2025-07-04T10:16:31Z". Never throws: a time gmtime cannot represent is written "@<seconds>".
[[nodiscard]] TDXKIT_EXPORT std::string format_rfc3339(UnixTime t);

// RFC 3339 ("2025-07-04T10:16:31Z", "2025-07-04T12:16:31+02:00", fractional seconds ignored) or
// plain non-negative unix seconds ("1751624191"). Throws Error(invalid_argument) otherwise, also for
// an impossible date ("2025-02-30").
[[nodiscard]] TDXKIT_EXPORT UnixTime parse_time(std::string_view text);

// The system clock, truncated to seconds. Never throws.
[[nodiscard]] TDXKIT_EXPORT UnixTime now_utc();

}  // namespace tdxkit
