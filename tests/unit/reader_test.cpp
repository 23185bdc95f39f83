// wire::Reader / wire::Writer: bounds checks, little-endian decoding, error messages that name the
// structure, the field and the absolute offset.

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>

#include "core/reader.hpp"
#include "tdxkit/error.hpp"

using namespace tdxkit;
using wire::Reader;
using wire::Writer;

namespace {

std::string error_of(auto&& fn) {
    try {
        fn();
    } catch (const Error& e) {
        CHECK(e.code() == Errc::malformed);
        return e.what();
    }
    FAIL("no tdxkit::Error thrown");
    return {};
}

}  // namespace

TEST_CASE("little-endian integers of every width") {
    const Bytes data{0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f};
    Reader r{data, "test"};
    CHECK(r.le<std::uint8_t>("a") == 0x01);
    CHECK(r.le<std::uint16_t>("b") == 0x0302);
    CHECK(r.le<std::uint32_t>("c") == 0x07060504U);
    CHECK(r.le<std::uint64_t>("d") == 0x0f0e0d0c0b0a0908ULL);
    CHECK(r.remaining() == 0);
    CHECK(r.offset() == 15);
    r.expect_end();
}

TEST_CASE("high bytes are not sign-extended") {
    const Bytes data{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    Reader r{data, "test"};
    CHECK(r.le<std::uint32_t>("x") == 0xffffffffU);
    CHECK(r.le<std::uint32_t>("y") == 0xffffffffU);
    Reader r64{data, "test"};
    CHECK(r64.le<std::uint64_t>("z") == std::numeric_limits<std::uint64_t>::max());
}

TEST_CASE("arrays and byte spans advance the position") {
    const Bytes data{0xaa, 0xbb, 0xcc, 0xdd, 0xee};
    Reader r{data, "test"};
    const auto a = r.array<2>("first");
    CHECK(a[0] == 0xaa);
    CHECK(a[1] == 0xbb);
    CHECK(r.position() == 2);
    const auto s = r.bytes(3, "rest");
    REQUIRE(s.size() == 3);
    CHECK(s[0] == 0xcc);
    CHECK(s[2] == 0xee);
    CHECK(r.remaining() == 0);
    CHECK(r.bytes(0, "nothing").empty());
}

TEST_CASE("truncation names the structure, the field, the offset and what is missing") {
    const Bytes data{0x01, 0x02, 0x03, 0x04, 0x05, 0x06};
    Reader r{data, "quote header"};
    (void)r.le<std::uint32_t>("version");
    const auto msg = error_of([&] { (void)r.le<std::uint32_t>("tee_type"); });
    CHECK(msg == "quote header at offset 4: tee_type needs 4 bytes, only 2 left (truncated)");
    // A failed read consumes nothing.
    CHECK(r.offset() == 4);
    CHECK(r.le<std::uint16_t>("ok") == 0x0605);
}

TEST_CASE("offsets are absolute when a base offset is given") {
    const Bytes data(10, 0);
    Reader r{data, "signature data", 632};
    (void)r.bytes(8, "x");
    CHECK(r.offset() == 640);
    CHECK(r.position() == 8);
    const auto msg = error_of([&] { (void)r.array<4>("attestation key"); });
    CHECK(msg == "signature data at offset 640: attestation key needs 4 bytes, only 2 left (truncated)");
}

TEST_CASE("sub-readers cannot run past their bytes and keep absolute offsets") {
    const Bytes data{1, 2, 3, 4, 5, 6, 7, 8};
    Reader outer{data, "outer", 100};
    (void)outer.bytes(2, "skip");
    Reader inner = outer.sub(4, "inner");
    CHECK(outer.offset() == 106);  // the parent moved past the whole sub-structure
    CHECK(inner.offset() == 102);
    CHECK(inner.remaining() == 4);
    CHECK(inner.le<std::uint16_t>("a") == 0x0403);
    const auto msg = error_of([&] { (void)inner.le<std::uint32_t>("b"); });
    CHECK(msg == "inner at offset 104: b needs 4 bytes, only 2 left (truncated)");
    // The sub-structure itself must fit.
    const auto msg2 = error_of([&] { (void)outer.sub(3, "too big"); });
    CHECK(msg2 == "outer at offset 106: too big needs 3 bytes, only 2 left (truncated)");
}

TEST_CASE("huge lengths are rejected without overflow") {
    const Bytes data(16, 0);
    Reader r{data, "blob"};
    (void)r.bytes(5, "x");
    constexpr auto kMax = std::numeric_limits<std::size_t>::max();
    const auto msg = error_of([&] { (void)r.bytes(kMax, "length-prefixed data"); });
    CHECK(msg.find("blob at offset 5: length-prefixed data needs") == 0);
    CHECK(msg.find("only 11 left (truncated)") != std::string::npos);
    CHECK_THROWS_AS((void)r.bytes(kMax - 4, "wrap"), Error);  // pos + n would wrap around
    CHECK_THROWS_AS((void)r.sub(0xFFFFFFFFU, "u32 length"), Error);
    CHECK(r.offset() == 5);
}

TEST_CASE("expect_end reports trailing bytes") {
    const Bytes data{1, 2, 3};
    Reader r{data, "QE report certification data", 764};
    (void)r.le<std::uint8_t>("x");
    const auto msg = error_of([&] { r.expect_end(); });
    CHECK(msg == "QE report certification data at offset 765: 2 unexpected trailing bytes");
}

TEST_CASE("fail() throws Error(malformed) naming the current offset") {
    const Bytes data{1, 2, 3, 4};
    Reader r{data, "body", 48};
    (void)r.bytes(2, "x");
    const auto msg = error_of([&] { r.fail("body size 7 does not match"); });
    CHECK(msg == "body at offset 50: body size 7 does not match");
}

TEST_CASE("an empty input fails on the first read") {
    Reader r{ByteSpan{}, "quote"};
    CHECK(r.remaining() == 0);
    const auto msg = error_of([&] { (void)r.le<std::uint16_t>("version"); });
    CHECK(msg == "quote at offset 0: version needs 2 bytes, only 0 left (truncated)");
    r.expect_end();
}

TEST_CASE("Writer emits little-endian integers and round-trips through Reader") {
    Writer w;
    w.le(std::uint16_t{0x0102});
    w.le(std::uint32_t{0xdeadbeef});
    w.le(std::uint8_t{0x7f});
    w.le(std::uint64_t{0x0123456789abcdefULL});
    const Bytes tail{0xaa, 0xbb};
    w.bytes(tail);
    CHECK(w.size() == 17);
    const Bytes out = std::move(w).take();
    const Bytes expected{0x02, 0x01, 0xef, 0xbe, 0xad, 0xde, 0x7f, 0xef, 0xcd,
                         0xab, 0x89, 0x67, 0x45, 0x23, 0x01, 0xaa, 0xbb};
    CHECK(out == expected);
    Reader r{out, "round trip"};
    CHECK(r.le<std::uint16_t>("a") == 0x0102);
    CHECK(r.le<std::uint32_t>("b") == 0xdeadbeefU);
    CHECK(r.le<std::uint8_t>("c") == 0x7f);
    CHECK(r.le<std::uint64_t>("d") == 0x0123456789abcdefULL);
    CHECK(r.array<2>("e") == std::array<std::uint8_t, 2>{0xaa, 0xbb});
    r.expect_end();
}
