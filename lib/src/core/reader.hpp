#pragma once

// Bounds-checked forward reader over untrusted bytes. Every read is compared with what remains
// (never pos + n, which could overflow), and every error names the structure and absolute offset.

#include <algorithm>
#include <array>
#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "tdxkit/bytes.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit::wire {

class Reader {
public:
    Reader(ByteSpan data, std::string_view what, std::size_t base_offset = 0) noexcept
        : data_(data), what_(what), base_(base_offset) {}

    [[nodiscard]] std::size_t remaining() const noexcept { return data_.size() - pos_; }
    [[nodiscard]] std::size_t offset() const noexcept { return base_ + pos_; }
    [[nodiscard]] std::size_t position() const noexcept { return pos_; }

    ByteSpan bytes(std::size_t n, std::string_view field) {
        require(n, field);
        const auto out = data_.subspan(pos_, n);
        pos_ += n;
        return out;
    }

    template <std::size_t N>
    std::array<std::uint8_t, N> array(std::string_view field) {
        std::array<std::uint8_t, N> out{};
        std::ranges::copy(bytes(N, field), out.begin());
        return out;
    }

    template <std::unsigned_integral T>
    T le(std::string_view field) {
        const auto b = bytes(sizeof(T), field);
        T v = 0;
        for (std::size_t i = 0; i < sizeof(T); ++i) {
            v = static_cast<T>(v | static_cast<T>(static_cast<T>(b[i]) << (8U * i)));
        }
        return v;
    }

    // A nested structure of exactly n bytes: its reader cannot run past them.
    Reader sub(std::size_t n, std::string_view what) {
        const std::size_t start = offset();
        return Reader{bytes(n, what), what, start};
    }

    void expect_end() const {
        if (remaining() != 0) fail(fmt::format("{} unexpected trailing bytes", remaining()));
    }

    [[noreturn]] void fail(std::string_view why) const {
        throw Error(Errc::malformed, fmt::format("{} at offset {}: {}", what_, offset(), why));
    }

private:
    void require(std::size_t n, std::string_view field) const {
        if (n > remaining()) {
            fail(fmt::format("{} needs {} bytes, only {} left (truncated)", field, n, remaining()));
        }
    }

    ByteSpan data_;
    std::string_view what_;
    std::size_t base_;
    std::size_t pos_ = 0;
};

class Writer {
public:
    void bytes(ByteSpan b) { out_.insert(out_.end(), b.begin(), b.end()); }
    template <std::unsigned_integral T>
    void le(T v) {
        for (std::size_t i = 0; i < sizeof(T); ++i) out_.push_back(static_cast<std::uint8_t>(v >> (8U * i)));
    }
    [[nodiscard]] Bytes take() && { return std::move(out_); }
    [[nodiscard]] std::size_t size() const noexcept { return out_.size(); }

private:
    Bytes out_;
};

}  // namespace tdxkit::wire
