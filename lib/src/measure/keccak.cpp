// Keccak-256 (FIPS 202's permutation with the original 0x01 padding). OpenSSL 3.0 offers only SHA3,
// whose padding differs, and dstack's MRCONFIGID V2 uses Keccak-256.

#include <array>
#include <cstdint>

#include "tdxkit/measure.hpp"

namespace tdxkit {
namespace {

constexpr std::size_t kRate = 136;  // bytes: 1600 - 2 * 256 bits

constexpr std::array<std::uint64_t, 24> kRoundConstants{
    0x0000000000000001ULL, 0x0000000000008082ULL, 0x800000000000808aULL, 0x8000000080008000ULL, 0x000000000000808bULL,
    0x0000000080000001ULL, 0x8000000080008081ULL, 0x8000000000008009ULL, 0x000000000000008aULL, 0x0000000000000088ULL,
    0x0000000080008009ULL, 0x000000008000000aULL, 0x000000008000808bULL, 0x800000000000008bULL, 0x8000000000008089ULL,
    0x8000000000008003ULL, 0x8000000000008002ULL, 0x8000000000000080ULL, 0x000000000000800aULL, 0x800000008000000aULL,
    0x8000000080008081ULL, 0x8000000000008080ULL, 0x0000000080000001ULL, 0x8000000080008008ULL};
constexpr std::array<unsigned, 24> kRotations{1,  3,  6,  10, 15, 21, 28, 36, 45, 55, 2,  14,
                                              27, 41, 56, 8,  25, 43, 62, 18, 39, 61, 20, 44};
constexpr std::array<std::size_t, 24> kPiLanes{10, 7,  11, 17, 18, 3, 5,  16, 8,  21, 24, 4,
                                               15, 23, 19, 13, 12, 2, 20, 14, 22, 9,  6,  1};

constexpr std::uint64_t rotl(std::uint64_t x, unsigned n) { return (x << n) | (x >> (64 - n)); }

void keccak_f(std::array<std::uint64_t, 25>& st) {
    for (const auto rc : kRoundConstants) {
        std::array<std::uint64_t, 5> bc{};
        for (std::size_t i = 0; i < 5; ++i) bc[i] = st[i] ^ st[i + 5] ^ st[i + 10] ^ st[i + 15] ^ st[i + 20];
        for (std::size_t i = 0; i < 5; ++i) {
            const auto t = bc[(i + 4) % 5] ^ rotl(bc[(i + 1) % 5], 1);
            for (std::size_t j = 0; j < 25; j += 5) st[j + i] ^= t;
        }
        auto t = st[1];
        for (std::size_t i = 0; i < 24; ++i) {
            const auto next = st[kPiLanes[i]];
            st[kPiLanes[i]] = rotl(t, kRotations[i]);
            t = next;
        }
        for (std::size_t j = 0; j < 25; j += 5) {
            for (std::size_t i = 0; i < 5; ++i) bc[i] = st[j + i];
            for (std::size_t i = 0; i < 5; ++i) st[j + i] ^= ~bc[(i + 1) % 5] & bc[(i + 2) % 5];
        }
        st[0] ^= rc;
    }
}

void absorb(std::array<std::uint64_t, 25>& st, const std::uint8_t* block) {
    for (std::size_t i = 0; i < kRate; ++i) st[i / 8] ^= static_cast<std::uint64_t>(block[i]) << (8 * (i % 8));
    keccak_f(st);
}

}  // namespace

Octets<32> keccak256(ByteSpan data) {
    std::array<std::uint64_t, 25> st{};
    std::size_t pos = 0;
    for (; data.size() - pos >= kRate; pos += kRate) absorb(st, data.data() + pos);
    std::array<std::uint8_t, kRate> last{};
    std::copy(data.begin() + static_cast<std::ptrdiff_t>(pos), data.end(), last.begin());
    last[data.size() - pos] ^= 0x01;
    last[kRate - 1] ^= 0x80;
    absorb(st, last.data());
    Octets<32> out{};
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<std::uint8_t>(st[i / 8] >> (8 * (i % 8)));
    return out;
}

}  // namespace tdxkit
