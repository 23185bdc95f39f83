#pragma once

// Helpers shared by the boot-measurement sources (tdvf, td_hob, kernel, boot_events). Private.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "tdxkit/bytes.hpp"

namespace tdxkit::detail {

inline constexpr std::uint64_t kPageSize = 0x1000;

// UTF-16LE code units of UTF-8 text, as Rust's encode_utf16 gives them (surrogate pairs above
// U+FFFF), without a terminator. Error(invalid_argument) "<what>: invalid UTF-8 at byte N".
[[nodiscard]] Bytes utf16le(std::string_view text, std::string_view what);

// Little-endian value of `size` bytes at `offset`; the caller has checked the range.
[[nodiscard]] inline std::uint64_t load_le(ByteSpan bytes, std::size_t offset, std::size_t size) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < size; ++i) v |= static_cast<std::uint64_t>(bytes[offset + i]) << (8U * i);
    return v;
}

// A GUID's bytes as EFI stores it (the first three groups little-endian) from its text form
// "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"; for constants, so the text in specifications can be quoted.
[[nodiscard]] consteval Octets<16> efi_guid(const char (&text)[37]) {
    const auto nibble = [](char c) { return static_cast<std::uint8_t>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10); };
    Octets<16> bytes{};
    std::size_t n = 0;
    for (std::size_t i = 0; i < 36; ++i) {
        if (text[i] == '-') continue;
        bytes[n / 2] = static_cast<std::uint8_t>(bytes[n / 2] | (nibble(text[i]) << (n % 2 == 0 ? 4 : 0)));
        ++n;
    }
    // Reverse the 4-, 2- and 2-byte leading groups into little-endian order.
    const auto swap = [&](std::size_t a, std::size_t b) {
        const auto t = bytes[a];
        bytes[a] = bytes[b];
        bytes[b] = t;
    };
    swap(0, 3), swap(1, 2), swap(4, 5), swap(6, 7);
    return bytes;
}

inline void store_le(std::span<std::uint8_t> bytes, std::size_t offset, std::uint64_t value,
                     std::size_t size) noexcept {
    for (std::size_t i = 0; i < size; ++i) bytes[offset + i] = static_cast<std::uint8_t>(value >> (8U * i));
}

}  // namespace tdxkit::detail
