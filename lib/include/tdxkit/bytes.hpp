#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tdxkit/export.hpp"

namespace tdxkit {

using Bytes = std::vector<std::uint8_t>;
// A fixed-size field of a binary structure (a register, a key, an identifier).
template <std::size_t N>
using Octets = std::array<std::uint8_t, N>;
using ByteSpan = std::span<const std::uint8_t>;

// Lowercase hex, no separators. Never throws.
[[nodiscard]] TDXKIT_EXPORT std::string to_hex(ByteSpan bytes);

// Accepts upper or lower case, an optional 0x prefix and ASCII whitespace anywhere; "" gives no bytes.
// Throws Error(malformed) naming `what` and the offending character offset, or an odd digit count.
[[nodiscard]] TDXKIT_EXPORT Bytes from_hex(std::string_view text, std::string_view what = "hex input");

// Standard or URL-safe alphabet, padding optional, whitespace ignored. Throws Error(malformed) naming
// `what` for another character, data after padding or a truncated last group.
[[nodiscard]] TDXKIT_EXPORT Bytes from_base64(std::string_view text, std::string_view what = "base64 input");
// Standard alphabet, padded. Never throws.
[[nodiscard]] TDXKIT_EXPORT std::string to_base64(ByteSpan bytes);

// Constant-time equality for digests, MACs and other values an attacker may probe. Different
// lengths compare unequal (the length itself is not secret).
[[nodiscard]] TDXKIT_EXPORT bool equal_ct(ByteSpan a, ByteSpan b) noexcept;

// True for an empty span.
[[nodiscard]] TDXKIT_EXPORT bool all_zero(ByteSpan bytes) noexcept;

// Error(crypto) only when OpenSSL fails.
[[nodiscard]] TDXKIT_EXPORT std::array<std::uint8_t, 32> sha256(ByteSpan data);
[[nodiscard]] TDXKIT_EXPORT std::array<std::uint8_t, 48> sha384(ByteSpan data);
[[nodiscard]] TDXKIT_EXPORT std::array<std::uint8_t, 64> sha512(ByteSpan data);

// Key material: the bytes are wiped (OPENSSL_cleanse) when the value is destroyed or overwritten,
// so a secret does not outlive its use in freed memory.
class TDXKIT_EXPORT SecretBytes {
public:
    SecretBytes() = default;
    explicit SecretBytes(Bytes bytes) noexcept : bytes_(std::move(bytes)) {}
    SecretBytes(const SecretBytes& other) : bytes_(other.bytes_) {}
    SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) {}
    SecretBytes& operator=(SecretBytes other) noexcept {
        wipe();
        bytes_.swap(other.bytes_);
        return *this;
    }
    ~SecretBytes() { wipe(); }

    [[nodiscard]] ByteSpan view() const noexcept { return bytes_; }
    [[nodiscard]] bool empty() const noexcept { return bytes_.empty(); }

private:
    void wipe() noexcept;
    Bytes bytes_;
};

// Reads a file that holds a secret into wiped memory. With `owner_only`, a file that its group or
// others may read is refused (Error(invalid_argument)), as ssh refuses such private keys. Error(io)
// when it cannot be read, Error(malformed) when it is larger than max_size. Allocates max_size + 1
// bytes whatever the file's size, so that the secret is never copied by a reallocation.
[[nodiscard]] TDXKIT_EXPORT SecretBytes read_secret_file(const std::string& path, std::size_t max_size,
                                                         bool owner_only);

// The text's bytes, not copied: valid as long as the text is.
inline ByteSpan as_bytes(std::string_view s) noexcept {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace tdxkit
