#include <doctest/doctest.h>

#include "tdxkit/bytes.hpp"
#include "tdxkit/error.hpp"

using namespace tdxkit;

TEST_CASE("hex round trip and tolerant decoding") {
    const Bytes b{0x00, 0xab, 0xff};
    CHECK(to_hex(b) == "00abff");
    CHECK(from_hex("0x00 AB\nff") == b);
    CHECK_THROWS_AS((void)from_hex("abc"), Error);
    CHECK_THROWS_WITH((void)from_hex("zz", "field"), "field: invalid hex character at offset 0");
}

TEST_CASE("sha256 of the empty string (FIPS 180-4 vector)") {
    CHECK(to_hex(sha256({})) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
