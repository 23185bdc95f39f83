#pragma once

// Just enough DER encoding for the test PKI: the SGX extension and a signed object's outer
// SEQUENCE { tbs, algorithm, signature }. Test-only; inputs are trusted.

#include "tdxkit/bytes.hpp"

#include <algorithm>
#include <cstdint>
#include <initializer_list>

namespace tdxkit::testing::der {

inline Bytes tlv(std::uint8_t tag, ByteSpan content) {
    Bytes out{tag};
    const std::size_t len = content.size();
    if (len < 0x80) {
        out.push_back(static_cast<std::uint8_t>(len));
    } else {
        Bytes be;
        for (std::size_t v = len; v != 0; v >>= 8U) be.insert(be.begin(), static_cast<std::uint8_t>(v & 0xFFU));
        out.push_back(static_cast<std::uint8_t>(0x80U | be.size()));
        out.insert(out.end(), be.begin(), be.end());
    }
    out.insert(out.end(), content.begin(), content.end());
    return out;
}

inline Bytes concat(std::initializer_list<ByteSpan> parts) {
    Bytes out;
    for (const auto p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

inline Bytes sequence(std::initializer_list<ByteSpan> items) { return tlv(0x30, concat(items)); }

// Non-negative INTEGER (or ENUMERATED with tag 0x0a) from big-endian magnitude bytes.
inline Bytes unsigned_integer(ByteSpan magnitude, std::uint8_t tag = 0x02) {
    auto first = std::find_if(magnitude.begin(), magnitude.end(), [](std::uint8_t b) { return b != 0; });
    Bytes content(first, magnitude.end());
    if (content.empty() || (content.front() & 0x80U)) content.insert(content.begin(), 0x00);
    return tlv(tag, content);
}

inline Bytes small_integer(std::uint32_t v, std::uint8_t tag = 0x02) {
    const Bytes be{static_cast<std::uint8_t>(v >> 24U), static_cast<std::uint8_t>(v >> 16U),
                   static_cast<std::uint8_t>(v >> 8U), static_cast<std::uint8_t>(v)};
    return unsigned_integer(be, tag);
}

}  // namespace tdxkit::testing::der
