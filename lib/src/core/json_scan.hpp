#pragma once

// The scan that JSON text spends most of its time in, shared by the parser (core/json.cpp) and the
// writer (core/json_writer.cpp): how far a run of bytes goes that stand for themselves inside a JSON
// string. Private.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tdxkit::detail {

// The end of the run starting at `from` of bytes that are not '"', '\\', a control character or a
// byte >= 0x80 (the caller decides what a UTF-8 sequence is). Sixteen or eight bytes at a time: a
// batch line's quote is a 10 KB string, and a byte-wise scan was a sixth of verify --batch's
// instructions.
[[nodiscard]] inline std::size_t plain_json_run_end(std::string_view text, std::size_t from) noexcept {
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;
    // Exact test for "some byte of x is zero" (the classic haszero bit trick).
    const auto has_zero_byte = [](std::uint64_t x) { return ((x - kOnes) & ~x & kHighBits) != 0; };
    std::size_t i = from;
#if defined(__SSE2__)
    // Sixteen at a time where x86-64 guarantees SSE2.
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    while (i + 16 <= text.size()) {
        const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + i));
        const __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);  // v <= 0x1F
        const __m128i ends = _mm_or_si128(
            control, _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
        // The sign bit of each byte is a byte >= 0x80.
        const auto mask = static_cast<unsigned>(_mm_movemask_epi8(ends) | _mm_movemask_epi8(v));
        if (mask != 0) return i + static_cast<std::size_t>(std::countr_zero(mask));
        i += 16;
    }
#endif
    while (i + 8 <= text.size()) {
        std::uint64_t word = 0;
        std::memcpy(&word, text.data() + i, sizeof word);
        // Any byte >= 0x80, < 0x20, equal to '"' or equal to '\\' ends the fast path.
        const bool special = (word & kHighBits) != 0 || ((word - kOnes * 0x20) & kHighBits) != 0 ||
                             has_zero_byte(word ^ (kOnes * '"')) || has_zero_byte(word ^ (kOnes * '\\'));
        if (special) break;
        i += 8;
    }
    while (i < text.size()) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
        ++i;
    }
    return i;
}

}  // namespace tdxkit::detail
