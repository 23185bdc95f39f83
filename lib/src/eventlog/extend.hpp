#pragma once

// The RTMR extend operation, shared by replaying a TD's log and by predicting one. Private.

#include <algorithm>
#include <array>
#include <cstdint>

#include "tdxkit/bytes.hpp"
#include "tdxkit/quote.hpp"

namespace tdxkit::detail {

// RTMR = SHA-384(RTMR || digest), as TDG.MR.RTMR.EXTEND computes it.
inline void extend_rtmr(Measurement& rtmr, const Measurement& digest) {
    std::array<std::uint8_t, 96> buffer{};
    std::ranges::copy(rtmr, buffer.begin());
    std::ranges::copy(digest, buffer.begin() + 48);
    rtmr = sha384(buffer);
}

}  // namespace tdxkit::detail
