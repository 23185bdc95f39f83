#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "support/test_support.hpp"
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

namespace {

using tdxkit::test::code_of;

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

}  // namespace

TEST_CASE("to_hex: lowercase, two digits per byte, empty input") {
    CHECK(to_hex({}).empty());
    CHECK(to_hex(Bytes{0x0f, 0xf0, 0x09, 0xa0}) == "0ff009a0");
    Bytes all(256);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i);
    const auto hex = to_hex(all);
    CHECK(hex.size() == 512);
    CHECK(hex.substr(0, 8) == "00010203");
    CHECK(hex.substr(504) == "fcfdfeff");
    CHECK(from_hex(hex) == all);
}

TEST_CASE("from_hex: prefixes, case, whitespace and errors") {
    CHECK(from_hex("").empty());
    CHECK(from_hex("0x").empty());
    CHECK(from_hex("0XdeadBEEF") == Bytes{0xde, 0xad, 0xbe, 0xef});
    CHECK(from_hex("  \t0xde ad\r\nbe\tef\n") == Bytes{0xde, 0xad, 0xbe, 0xef});
    CHECK(from_hex("d e a d") == Bytes{0xde, 0xad});  // whitespace anywhere, even inside a byte
    CHECK(code_of([] { (void)from_hex("abc"); }) == Errc::malformed);
    CHECK_THROWS_WITH((void)from_hex("abc", "quote"), "quote: odd number of hex digits");
    CHECK_THROWS_WITH((void)from_hex("00g0", "quote"), "quote: invalid hex character at offset 2");
    // The offset counts from the start of the text, prefix and whitespace included.
    CHECK_THROWS_WITH((void)from_hex(" 0x00-1", "quote"), "quote: invalid hex character at offset 5");
    CHECK_THROWS_AS((void)from_hex("0x0x00"), Error);  // only one prefix
    CHECK_THROWS_AS((void)from_hex(std::string_view("00\0"
                                                    "0",
                                                    4)),
                    Error);
}

TEST_CASE("base64: RFC 4648 section 10 test vectors") {
    const std::pair<std::string_view, std::string_view> vectors[] = {
        {"", ""},
        {"f", "Zg=="},
        {"fo", "Zm8="},
        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="},
        {"fooba", "Zm9vYmE="},
        {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
        CAPTURE(plain);
        CHECK(to_base64(as_bytes(plain)) == encoded);
        CHECK(from_base64(encoded) == bytes_of(plain));
    }
}

TEST_CASE("base64: padding optional, whitespace ignored, URL-safe alphabet accepted") {
    CHECK(from_base64("Zg") == bytes_of("f"));
    CHECK(from_base64("Zm8") == bytes_of("fo"));
    CHECK(from_base64("Zm9v\nYmFy\r\n") == bytes_of("foobar"));
    CHECK(from_base64(" Zm9v YmE= ") == bytes_of("fooba"));
    // 0xfb 0xff 0xbf: standard "+/+/" versus URL-safe "-_-_".
    const Bytes special{0xfb, 0xff, 0xbf};
    CHECK(to_base64(special) == "+/+/");
    CHECK(from_base64("+/+/") == special);
    CHECK(from_base64("-_-_") == special);
    CHECK(from_base64("-_8") == Bytes{0xfb, 0xff});
    CHECK(from_base64("+/8=") == Bytes{0xfb, 0xff});
}

TEST_CASE("base64: bad input is Error(malformed)") {
    CHECK(code_of([] { (void)from_base64("Zm9v!"); }) == Errc::malformed);
    CHECK_THROWS_WITH((void)from_base64("Zm*v", "field"), "field: invalid base64 character at offset 2");
    CHECK_THROWS_AS((void)from_base64("Z"), Error);         // 6 bits cannot make a byte
    CHECK_THROWS_AS((void)from_base64("Zm9vY"), Error);     // dangling sextet
    CHECK_THROWS_AS((void)from_base64("Zh=="), Error);      // non-zero padding bits
    CHECK_THROWS_AS((void)from_base64("Zg==Zg=="), Error);  // data after padding
    CHECK_THROWS_AS((void)from_base64("Zm9v\x80"), Error);
}

TEST_CASE("base64 round trip over every length up to 64") {
    Bytes data;
    for (std::size_t n = 0; n <= 64; ++n) {
        CAPTURE(n);
        CHECK(from_base64(to_base64(data)) == data);
        data.push_back(static_cast<std::uint8_t>(n * 37 + 11));
    }
}

TEST_CASE("equal_ct and all_zero") {
    const Bytes a{1, 2, 3};
    const Bytes b{1, 2, 3};
    const Bytes c{1, 2, 4};
    const Bytes shorter{1, 2};
    CHECK(equal_ct(a, b));
    CHECK_FALSE(equal_ct(a, c));
    CHECK_FALSE(equal_ct(a, shorter));
    CHECK_FALSE(equal_ct(shorter, a));
    CHECK(equal_ct({}, {}));
    CHECK_FALSE(equal_ct({}, a));
    CHECK(all_zero({}));
    CHECK(all_zero(Bytes(48, 0)));
    Bytes one(48, 0);
    one[47] = 1;
    CHECK_FALSE(all_zero(one));
}

TEST_CASE("SHA-2 digests of \"abc\" (FIPS 180-2 appendix vectors)") {
    const auto abc = as_bytes("abc");
    CHECK(to_hex(sha256(abc)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(to_hex(sha384(abc)) ==
          "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
    CHECK(to_hex(sha512(abc)) ==
          "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd"
          "454d4423643ce80e2a9ac94fa54ca49f");
    CHECK(to_hex(sha384({})) ==
          "38b060a751ac96384cd9327eb1b1e36a21fdb71114be07434c0cc7bf63f6e1da274edebfe76f65fbd51ad2f14898b95b");
}

TEST_CASE("from_hex: every digit pair in both cases, at every offset of the eight-digit fast path") {
    Bytes all(256);
    for (std::size_t i = 0; i < all.size(); ++i) all[i] = static_cast<std::uint8_t>(i);
    const auto lower = to_hex(all);
    std::string upper = lower;
    std::transform(upper.begin(), upper.end(), upper.begin(),
                   [](char c) { return static_cast<char>(std::toupper(c)); });
    CHECK(from_hex(lower) == all);
    CHECK(from_hex(upper) == all);
    // A non-digit anywhere in an eight-digit word is found, whatever its position.
    for (std::size_t at = 0; at < 24; ++at) {
        for (const char bad : {'g', 'G', '/', ':', '@', '`', '\x80', '\xff'}) {
            std::string text = lower.substr(0, 24);
            text[at] = bad;
            CAPTURE(at);
            CAPTURE(bad);
            CHECK_THROWS_AS((void)from_hex(text), Error);
        }
        const std::string spaced = lower.substr(0, at) + " " + lower.substr(at, 24 - at);
        CHECK(from_hex(spaced) == Bytes(all.begin(), all.begin() + 12));
    }
}

TEST_CASE("from_hex: every byte value at every position of the sixteen- and eight-digit fast paths") {
    const std::string digits = "0123456789abcdefABCDEF0123456789fedcba9876543210FEDCBA9876543210";
    const auto is_hex = [](unsigned char c) { return std::isxdigit(c) != 0; };
    const auto is_space = [](unsigned char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    for (std::size_t at = 0; at < 40; ++at) {
        for (int value = 0; value < 256; ++value) {
            const auto c = static_cast<unsigned char>(value);
            std::string text = digits.substr(0, 40);
            text[at] = static_cast<char>(c);
            CAPTURE(at);
            CAPTURE(value);
            if (at == 1 && (c == 'x' || c == 'X')) {
                CHECK(from_hex(text).size() == 19);  // "0x" prefix
            } else if (is_hex(c)) {
                const auto out = from_hex(text);
                REQUIRE(out.size() == 20);
                const auto nibble = [](char d) { return std::isdigit(d) ? d - '0' : (std::tolower(d) - 'a' + 10); };
                CHECK(out[at / 2] ==
                      static_cast<std::uint8_t>(nibble(text[at / 2 * 2]) << 4 | nibble(text[at / 2 * 2 + 1])));
            } else if (is_space(c)) {
                CHECK_THROWS_AS((void)from_hex(text), Error);  // 39 digits: odd
            } else {
                CHECK_THROWS_AS((void)from_hex(text), Error);
            }
        }
    }
}
