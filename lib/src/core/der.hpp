#pragma once

// A minimal bounded DER reader (the Intel SGX certificate extension, RA-TLS certificates). Only definite lengths up to
// four length octets are accepted; every element must fit in its parent.

#include <cstdint>
#include <string_view>

#include <fmt/format.h>

#include "tdxkit/bytes.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit::der {

inline constexpr std::uint8_t kBoolean = 0x01;
inline constexpr std::uint8_t kInteger = 0x02;
inline constexpr std::uint8_t kOctetString = 0x04;
inline constexpr std::uint8_t kOid = 0x06;
inline constexpr std::uint8_t kEnumerated = 0x0a;
inline constexpr std::uint8_t kSequence = 0x30;

struct Element {
    std::uint8_t tag = 0;
    ByteSpan content;
    ByteSpan raw;  // the whole element: tag, length and content, as encoded
};

class Reader {
public:
    Reader(ByteSpan data, std::string_view what) noexcept : data_(data), what_(what) {}
    [[nodiscard]] bool empty() const noexcept { return pos_ >= data_.size(); }

    Element next() {
        if (data_.size() - pos_ < 2) fail("truncated element header");
        const std::size_t start = pos_;
        Element e;
        e.tag = data_[pos_++];
        std::size_t len = data_[pos_++];
        if (len & 0x80U) {
            const std::size_t n = len & 0x7FU;
            if (n == 0 || n > 4) fail("unsupported DER length form");
            if (data_.size() - pos_ < n) fail("truncated length");
            len = 0;
            for (std::size_t i = 0; i < n; ++i) len = (len << 8U) | data_[pos_++];
        }
        if (len > data_.size() - pos_) fail(fmt::format("element of {} bytes overruns its parent", len));
        e.content = data_.subspan(pos_, len);
        pos_ += len;
        e.raw = data_.subspan(start, pos_ - start);
        return e;
    }

    Element expect(std::uint8_t tag, std::string_view field) {
        const auto e = next();
        if (e.tag != tag) fail(fmt::format("{}: expected tag {:#04x}, found {:#04x}", field, tag, e.tag));
        return e;
    }

    [[noreturn]] void fail(std::string_view why) const {
        throw Error(Errc::malformed, fmt::format("{} at offset {}: {}", what_, pos_, why));
    }

private:
    ByteSpan data_;
    std::string_view what_;
    std::size_t pos_ = 0;
};

// Non-negative INTEGER that fits in 32 bits.
inline std::uint32_t small_unsigned(const Element& e, std::string_view field) {
    if (e.content.empty() || e.content.size() > 5 || (e.content[0] & 0x80U)) {
        throw Error(Errc::malformed, fmt::format("{}: not a small non-negative integer", field));
    }
    std::uint64_t v = 0;
    for (const auto b : e.content) v = (v << 8U) | b;
    if (v > 0xFFFFFFFFULL) throw Error(Errc::malformed, fmt::format("{}: integer out of range", field));
    return static_cast<std::uint32_t>(v);
}

}  // namespace tdxkit::der
