#pragma once

// Private to the library (and its unit tests).

#include <string>
#include <string_view>

#include "tdxkit/bytes.hpp"

namespace tdxkit::detail {

// The JCS text whose SHA-384 is a V2 runtime event's digest (runtime_event_digest, eventlog.hpp).
[[nodiscard]] std::string runtime_event_preimage_v2(std::string_view name, ByteSpan payload);

}  // namespace tdxkit::detail
