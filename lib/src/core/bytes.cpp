#include "tdxkit/bytes.hpp"

#include <array>
#include <bit>
#include <cstring>
#include <optional>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/hex.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "tdxkit/error.hpp"

namespace tdxkit {
namespace {

constexpr std::string_view kHexDigits = "0123456789abcdef";
constexpr std::string_view kBase64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool is_space(char c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

constexpr std::uint8_t kHexSpace = 0xFE;
constexpr std::uint8_t kHexInvalid = 0xFF;
// Digit values, kHexSpace for the whitespace from_hex skips, kHexInvalid for anything else.
constexpr auto kHexTable = [] {
    std::array<std::uint8_t, 256> table{};
    table.fill(kHexInvalid);
    for (int c = 0; c < 10; ++c) table['0' + c] = static_cast<std::uint8_t>(c);
    for (int c = 0; c < 6; ++c) {
        table['a' + c] = static_cast<std::uint8_t>(10 + c);
        table['A' + c] = static_cast<std::uint8_t>(10 + c);
    }
    for (const char c : {' ', '\t', '\n', '\r', '\f', '\v'}) table[static_cast<unsigned char>(c)] = kHexSpace;
    return table;
}();

int base64_value(char c) noexcept {
    if (c == '-') return 62;  // URL-safe alphabet
    if (c == '_') return 63;
    const auto pos = kBase64Alphabet.find(c);
    return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

template <std::size_t N>
std::array<std::uint8_t, N> digest(const EVP_MD* md, ByteSpan data) {
    std::array<std::uint8_t, N> out{};
    unsigned int len = 0;
    if (EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr) != 1 || len != N) {
        throw Error(Errc::crypto, "EVP_Digest failed");
    }
    return out;
}

}  // namespace

std::string to_hex(ByteSpan bytes) {
    // Sized once and written by index: push_back's capacity check per character made this a
    // measurable part of verify --batch (every report and summary line carries several digests).
    std::string out(bytes.size() * 2, '\0');
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        out[2 * i] = kHexDigits[bytes[i] >> 4U];
        out[2 * i + 1] = kHexDigits[bytes[i] & 0xFU];
    }
    return out;
}

namespace {

// The four bytes that eight ASCII hex digits stand for (first digit most significant), or nullopt
// when any of the eight is not a hex digit. Bytes are lanes of a little-endian word: lane k is
// character k.
std::optional<std::uint32_t> hex_word_value(std::uint64_t chars) {
    static_assert(std::endian::native == std::endian::little, "lanes are read from memory in little-endian order");
    constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
    constexpr std::uint64_t kHigh = kOnes * 0x80;
    if ((chars & kHigh) != 0) return std::nullopt;
    // With every lane below 0x80, lane + (0x80 - lo) has its high bit set exactly when lane >= lo,
    // and no lane carries into the next.
    const auto at_least = [](std::uint64_t x, std::uint64_t lo) { return (x + kOnes * (0x80 - lo)) & kHigh; };
    const auto digit = at_least(chars, '0') & ~at_least(chars, '9' + 1);
    const std::uint64_t lower = chars | (kOnes * 0x20);  // 'A'..'F' -> 'a'..'f'
    const auto letter = at_least(lower, 'a') & ~at_least(lower, 'f' + 1);
    if ((digit | letter) != kHigh) return std::nullopt;
    // Digits have bit 6 clear and their value in the low nibble; letters have bit 6 set and 1..6 there.
    std::uint64_t v = (chars & (kOnes * 0x0F)) + 9 * ((chars >> 6) & kOnes);
    v = ((v << 4) | (v >> 8)) & 0x00FF00FF00FF00FFULL;  // even lanes: high nibble, low nibble
    v = (v | (v >> 8)) & 0x0000FFFF0000FFFFULL;
    v = (v | (v >> 16)) & 0xFFFFFFFFULL;
    return static_cast<std::uint32_t>(v);
}

#if defined(__SSE2__)
// Sixteen hex digits at `in` as eight bytes at `out`; false (nothing written) when any of the sixteen
// is not a hex digit. SSE2 is part of x86-64 itself, so this needs no runtime check.
bool hex16_value(const unsigned char* in, std::uint8_t* out) {
    const __m128i chars = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in));
    const __m128i digit = _mm_sub_epi8(chars, _mm_set1_epi8('0'));
    const __m128i letter = _mm_sub_epi8(_mm_or_si128(chars, _mm_set1_epi8(0x20)), _mm_set1_epi8('a'));
    // Unsigned x <= max exactly when min(x, max) == x.
    const __m128i is_digit = _mm_cmpeq_epi8(_mm_min_epu8(digit, _mm_set1_epi8(9)), digit);
    const __m128i is_letter = _mm_cmpeq_epi8(_mm_min_epu8(letter, _mm_set1_epi8(5)), letter);
    if (_mm_movemask_epi8(_mm_or_si128(is_digit, is_letter)) != 0xFFFF) return false;
    const __m128i value = _mm_or_si128(_mm_and_si128(is_digit, digit),
                                       _mm_andnot_si128(is_digit, _mm_add_epi8(letter, _mm_set1_epi8(10))));
    // 16-bit lane k holds digits 2k (low byte, the high nibble) and 2k+1 (high byte).
    const __m128i high = _mm_slli_epi16(_mm_and_si128(value, _mm_set1_epi16(0x00FF)), 4);
    const __m128i bytes = _mm_or_si128(high, _mm_srli_epi16(value, 8));
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), _mm_packus_epi16(bytes, bytes));
    return true;
}
#endif

struct HexDecoding {
    Bytes bytes;
    std::size_t invalid_at = std::string_view::npos;  // offset of the first character that is neither
    bool odd = false;                                 // a digit nor whitespace; or an odd digit count
};

HexDecoding decode_hex(std::string_view text) {
    HexDecoding r;
    std::size_t start = 0;
    while (start < text.size() && is_space(text[start])) ++start;
    if (text.size() - start >= 2 && text[start] == '0' && (text[start + 1] == 'x' || text[start + 1] == 'X')) {
        start += 2;
    }
    Bytes& out = r.bytes;
    out.resize((text.size() - start) / 2);
    std::size_t n = 0;
    int high = -1;
    for (std::size_t i = start; i < text.size();) {
        // Pairs of digits in a tight loop until anything else: a hex quote in a batch line is 10 KB,
        // decoded once per line.
        if (high < 0) {
            const auto* digits = reinterpret_cast<const unsigned char*>(text.data());
#if defined(__SSE2__)
            while (i + 16 <= text.size() && hex16_value(digits + i, out.data() + n)) {
                n += 8;
                i += 16;
            }
#endif
            // Eight digits at a time while every one is a digit (SWAR), then pairs.
            while (i + 8 <= text.size()) {
                std::uint64_t word = 0;
                std::memcpy(&word, digits + i, sizeof word);
                const auto four = hex_word_value(word);
                if (!four) break;
                const std::uint32_t value = *four;
                std::memcpy(out.data() + n, &value, sizeof value);  // lane order is memory order
                n += 4;
                i += 8;
            }
            while (i + 1 < text.size()) {
                const auto a = kHexTable[digits[i]];
                const auto b = kHexTable[digits[i + 1]];
                if ((a | b) >= 16) break;
                out[n++] = static_cast<std::uint8_t>(a << 4U | b);
                i += 2;
            }
            if (i == text.size()) break;
        }
        const auto v = kHexTable[static_cast<unsigned char>(text[i])];
        if (v == kHexSpace) {
            ++i;
            continue;
        }
        if (v == kHexInvalid) {
            r.invalid_at = i;
            return r;
        }
        if (high < 0) {
            high = v;
        } else {
            out[n++] = static_cast<std::uint8_t>(high << 4 | v);
            high = -1;
        }
        ++i;
    }
    r.odd = high >= 0;
    out.resize(n);
    return r;
}

}  // namespace

Bytes from_hex(std::string_view text, std::string_view what) {
    auto r = decode_hex(text);
    if (r.invalid_at != std::string_view::npos) {
        throw Error(Errc::malformed, fmt::format("{}: invalid hex character at offset {}", what, r.invalid_at));
    }
    if (r.odd) throw Error(Errc::malformed, fmt::format("{}: odd number of hex digits", what));
    return std::move(r.bytes);
}

std::optional<Bytes> detail::decode_if_hex(std::string_view text) {
    auto r = decode_hex(text);
    if (r.invalid_at != std::string_view::npos || r.odd || r.bytes.empty()) return std::nullopt;
    return std::move(r.bytes);
}

Bytes from_base64(std::string_view text, std::string_view what) {
    Bytes out;
    out.reserve(text.size() * 3 / 4);
    std::uint32_t acc = 0;
    int bits = 0;
    bool padding = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (is_space(c)) continue;
        if (c == '=') {
            padding = true;
            continue;
        }
        const int v = base64_value(c);
        if (v < 0 || padding) {
            throw Error(Errc::malformed, fmt::format("{}: invalid base64 character at offset {}", what, i));
        }
        acc = (acc << 6U) | static_cast<std::uint32_t>(v);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<std::uint8_t>(acc >> static_cast<unsigned>(bits)));
            acc &= (1U << static_cast<unsigned>(bits)) - 1U;
        }
    }
    if (bits >= 6 || acc != 0) throw Error(Errc::malformed, fmt::format("{}: truncated base64", what));
    return out;
}

std::string to_base64(ByteSpan bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < bytes.size(); i += 3) {
        const std::size_t n = std::min<std::size_t>(3, bytes.size() - i);
        std::uint32_t v = static_cast<std::uint32_t>(bytes[i]) << 16U;
        if (n > 1) v |= static_cast<std::uint32_t>(bytes[i + 1]) << 8U;
        if (n > 2) v |= bytes[i + 2];
        out.push_back(kBase64Alphabet[(v >> 18U) & 63U]);
        out.push_back(kBase64Alphabet[(v >> 12U) & 63U]);
        out.push_back(n > 1 ? kBase64Alphabet[(v >> 6U) & 63U] : '=');
        out.push_back(n > 2 ? kBase64Alphabet[v & 63U] : '=');
    }
    return out;
}

bool equal_ct(ByteSpan a, ByteSpan b) noexcept {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool all_zero(ByteSpan bytes) noexcept {
    std::uint8_t acc = 0;
    for (const auto b : bytes) acc |= b;
    return acc == 0;
}

std::array<std::uint8_t, 32> sha256(ByteSpan data) { return digest<32>(EVP_sha256(), data); }
std::array<std::uint8_t, 48> sha384(ByteSpan data) { return digest<48>(EVP_sha384(), data); }
std::array<std::uint8_t, 64> sha512(ByteSpan data) { return digest<64>(EVP_sha512(), data); }

}  // namespace tdxkit
