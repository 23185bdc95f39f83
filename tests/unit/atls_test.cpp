// Attested-TLS bindings against the reference vectors (dstack-atls-eventlog.md §5, computed there
// with Python hashlib), and address parsing.

#include <doctest/doctest.h>

#include "tdxkit/atls.hpp"
#include "tdxkit/error.hpp"

using namespace tdxkit;

namespace {

Bytes range(int from, int to) {
    Bytes out;
    for (int i = from; i < to; ++i) out.push_back(static_cast<std::uint8_t>(i));
    return out;
}

const std::string kKey = "dev-mode-ekm-placeholder-not-for-production";
const std::string kHmac = "52323983cc0cd6c10d87a8a977558647a2c97e2a15aff691c2282824c2ddcbc2";

}  // namespace

TEST_CASE("report data = SHA-512(nonce || ekm): nonce 00..1f, EKM 20..3f") {
    CHECK(to_hex(atls::session_report_data(range(0, 32), range(32, 64))) ==
          "ee4320ebaf3fdb4f2c832b137200c08e235e0fa7bbd0eb1740c7063ba8a0d151"
          "da77e003398e1714a955d475b05e3e950b639503b452ec185de4229bc4873949");
    // The order matters: EKM first is a different value.
    CHECK(to_hex(atls::session_report_data(range(32, 64), range(0, 32))).rfind("ee4320eb", 0) != 0);
}

TEST_CASE("EKM header: shade's format, checked in constant time") {
    const auto ekm = range(32, 64);
    const auto header = atls::ekm_header_value(ekm, as_bytes(kKey));
    CHECK(header == to_hex(ekm) + ":" + kHmac);
    CHECK(atls::check_ekm_header(header, as_bytes(kKey)) == ekm);

    SUBCASE("wrong key or flipped bit: invalid_argument (403)") {
        auto flipped = header;
        flipped.back() = flipped.back() == '2' ? '3' : '2';
        for (const auto& [value, key] : {std::pair{header, std::string("another key")}, std::pair{flipped, kKey}}) {
            try {
                (void)atls::check_ekm_header(value, as_bytes(key));
                FAIL("accepted");
            } catch (const Error& e) {
                CHECK(e.code() == Errc::invalid_argument);
            }
        }
        // The EKM half is covered too.
        auto other_ekm = header;
        other_ekm[0] = '3';
        CHECK_THROWS_AS((void)atls::check_ekm_header(other_ekm, as_bytes(kKey)), Error);
    }
    SUBCASE("bad shape: malformed (400)") {
        for (const auto& bad :
             std::vector<std::string>{header.substr(1), header + "0", std::string(header).replace(64, 1, "-"),
                                      to_hex(ekm) + ":" + std::string(64, 'A'), std::string()}) {
            try {
                (void)atls::check_ekm_header(bad, as_bytes(kKey));
                FAIL("accepted " << bad);
            } catch (const Error& e) {
                CHECK(e.code() == Errc::malformed);
            }
        }
    }
}

TEST_CASE("HOST:PORT parsing") {
    CHECK(atls::split_host_port("127.0.0.1:8443", "x") == std::pair<std::string, std::uint16_t>{"127.0.0.1", 8443});
    CHECK(atls::split_host_port("[::1]:443", "x") == std::pair<std::string, std::uint16_t>{"::1", 443});
    CHECK(atls::split_host_port("example.com:0", "x").second == 0);
    for (const auto* bad : {"example.com", ":443", "host:", "host:65536", "host:-1", "::1:443", "[::1]443", "h:1x"}) {
        CAPTURE(bad);
        CHECK_THROWS_AS((void)atls::split_host_port(bad, "x"), Error);
    }
}

TEST_CASE("leaf certificate: first of a PEM chain, or DER; anything else is malformed") {
    const auto pem = std::string("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
    CHECK_THROWS_AS((void)atls::leaf_certificate_der(as_bytes(pem)), Error);
    CHECK_THROWS_AS((void)atls::leaf_certificate_der(as_bytes("garbage")), Error);
}
