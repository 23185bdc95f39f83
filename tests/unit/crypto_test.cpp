// The OpenSSL wrappers (crypto/ossl.hpp, crypto/cert_cache.hpp) and the digest helpers: known
// answers, and the verdict or error for every kind of malformed input.

#include <doctest/doctest.h>

#include <functional>
#include <string>

#include <openssl/bn.h>
#include <openssl/ec.h>

#include "crypto/cert_cache.hpp"
#include "crypto/ossl.hpp"
#include "support/test_support.hpp"
#include "tdxkit/bytes.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/testing.hpp"

using namespace tdxkit;

namespace {

const testing::PrivateScalar& signing_key() {
    static const auto key = testing::derive_private_scalar("tdxkit crypto_test", "signer");
    return key;
}

ossl::EvpPkeyPtr verifying_key() { return ossl::p256_public_key(testing::public_key(signing_key())); }

constexpr std::string_view kMessage = "quote header and body";

bool verifies(ByteSpan signature) {
    return ossl::verify_p256_sha256(verifying_key().get(), as_bytes(kMessage), signature);
}

Bytes signature() {
    const auto sig = testing::sign_p256(signing_key(), as_bytes(kMessage));
    return {sig.begin(), sig.end()};
}

// The P-256 group order n, big-endian.
Bytes group_order() { return from_hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", "n"); }

// n - s for the 32-byte big-endian s: the other valid signature (r, -s mod n).
Bytes negated(ByteSpan s) {
    const auto n = group_order();
    ossl::BignumPtr bn_n{BN_bin2bn(n.data(), 32, nullptr)};
    ossl::BignumPtr bn_s{BN_bin2bn(s.data(), 32, nullptr)};
    REQUIRE(BN_sub(bn_n.get(), bn_n.get(), bn_s.get()) == 1);
    Bytes out(32);
    REQUIRE(BN_bn2binpad(bn_n.get(), out.data(), 32) == 32);
    return out;
}

std::string error_of(const std::function<void()>& fn, Errc expected) {
    try {
        fn();
    } catch (const Error& e) {
        CHECK(e.code() == expected);
        return e.what();
    }
    FAIL("no tdxkit::Error thrown");
    return {};
}

}  // namespace

TEST_CASE("digests: FIPS 180 known answers") {
    const auto abc = as_bytes(std::string_view("abc"));
    CHECK(to_hex(sha256({})) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    CHECK(to_hex(sha256(abc)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK(to_hex(sha384(abc)) ==
          "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7");
    CHECK(to_hex(sha512(abc)) ==
          "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643c"
          "e80e2a9ac94fa54ca49f");
}

TEST_CASE("verify_p256_sha256: raw r||s") {
    const auto good = signature();
    CHECK(verifies(good));
    CHECK_FALSE(ossl::verify_p256_sha256(verifying_key().get(), as_bytes(std::string_view("another message")), good));

    SUBCASE("any flipped bit") {
        for (const std::size_t byte : {0U, 31U, 32U, 63U}) {
            auto bad = good;
            bad[byte] ^= 0x01;
            CHECK_FALSE(verifies(bad));
        }
    }
    SUBCASE("wrong length is a bad signature, not an error") {
        CHECK_FALSE(verifies({}));
        CHECK_FALSE(verifies(ByteSpan(good).first(63)));
        auto longer = good;
        longer.push_back(0);
        CHECK_FALSE(verifies(longer));
        // DER, as OpenSSL would produce it, is not the raw form DCAP uses.
        CHECK_FALSE(verifies(Bytes(72, 0x30)));
    }
    SUBCASE("r or s zero, or not below the group order") {
        const Bytes zero(32, 0);
        const auto n = group_order();
        const ByteSpan r = ByteSpan(good).first(32);
        const ByteSpan s = ByteSpan(good).subspan(32);
        const auto join = [](ByteSpan a, ByteSpan b) {
            Bytes out(a.begin(), a.end());
            out.insert(out.end(), b.begin(), b.end());
            return out;
        };
        CHECK_FALSE(verifies(join(zero, s)));
        CHECK_FALSE(verifies(join(r, zero)));
        CHECK_FALSE(verifies(join(n, s)));
        CHECK_FALSE(verifies(join(r, n)));
        CHECK_FALSE(verifies(Bytes(64, 0xFF)));
        // (r, n - s) is the same signature's twin: ECDSA accepts it, as Intel QVL and OpenSSL do.
        // Nothing in DCAP identifies an item by its signature bytes, so the malleability is harmless.
        CHECK(verifies(join(r, negated(s))));
    }
}

TEST_CASE("p256_public_key: 64 bytes X||Y of a point on the curve") {
    const auto xy = testing::public_key(signing_key());
    CHECK(ossl::p256_public_key(xy) != nullptr);
    CHECK(error_of([&] { (void)ossl::p256_public_key(ByteSpan(xy).first(63)); }, Errc::malformed) ==
          "P-256 public key must be 64 bytes X||Y");
    auto off_curve = Bytes(xy.begin(), xy.end());
    off_curve[63] ^= 0x01;
    CHECK(error_of([&] { (void)ossl::p256_public_key(off_curve); }, Errc::malformed)
              .rfind("P-256 public key: not a point on the curve", 0) == 0);
    CHECK(error_of([&] { (void)ossl::p256_public_key(Bytes(64, 0)); }, Errc::malformed)
              .rfind("P-256 public key: not a point on the curve", 0) == 0);
}

TEST_CASE("certificates and CRLs: PEM and DER parsing errors name the item") {
    const auto out = testing::Scenario{}.build();
    const auto cert = ossl::parse_pem_cert(out.root_pem, "root");
    CHECK(ossl::common_name(X509_get_subject_name(cert.get())) == "Intel SGX Root CA");
    const auto root_xy = testing::public_key(testing::Scenario{}.key("root"));
    CHECK(ossl::ec_public_key_xy(cert.get()) == Bytes(root_xy.begin(), root_xy.end()));
    const auto der = ossl::cert_der(cert.get());
    CHECK(der == out.root_der);
    CHECK(ossl::pem_cert_der(out.root_pem, "root") == der);

    CHECK(error_of([] { (void)ossl::parse_pem_cert("not PEM", "the trust root"); }, Errc::malformed)
              .rfind("the trust root: not a PEM certificate", 0) == 0);
    const std::string key_pem = testing::private_key_pem(signing_key());
    CHECK(error_of([&] { (void)ossl::pem_cert_der(key_pem, "chain"); }, Errc::malformed)
              .rfind("chain: not a PEM certificate", 0) == 0);
    CHECK(error_of(
              [] {
                  (void)ossl::parse_der_cert(Bytes{0x30, 0x03, 0x02, 0x01, 0x01}, "leaf");
              },
              Errc::malformed)
              .rfind("leaf: not a DER certificate", 0) == 0);
    auto trailing = der;
    trailing.push_back(0);
    CHECK(error_of([&] { (void)ossl::parse_der_cert(trailing, "leaf"); }, Errc::malformed) ==
          "leaf: trailing bytes after DER");

    CHECK(ossl::parse_der_crl(out.collateral.root_ca_crl, "root CRL") != nullptr);
    CHECK(error_of([] { (void)ossl::parse_der_crl(Bytes{}, "PCK CRL"); }, Errc::malformed)
              .rfind("PCK CRL: not a DER CRL", 0) == 0);
    auto crl_trailing = out.collateral.root_ca_crl;
    crl_trailing.push_back(0);
    CHECK(error_of([&] { (void)ossl::parse_der_crl(crl_trailing, "root CRL"); }, Errc::malformed) ==
          "root CRL: trailing bytes after DER");
    CHECK(error_of([] { (void)ossl::parse_pem_crl("-----BEGIN X509 CRL-----\n!!\n-----END X509 CRL-----\n", "CRL"); },
                   Errc::malformed)
              .rfind("CRL: not a PEM CRL", 0) == 0);
}

TEST_CASE("asn1_time_to_unix") {
    ossl::Asn1TimePtr t{ASN1_TIME_set(nullptr, 1768435200)};
    CHECK(ossl::asn1_time_to_unix(t.get()) == 1768435200);
    CHECK(error_of([] { (void)ossl::asn1_time_to_unix(nullptr); }, Errc::malformed) == "invalid ASN.1 time");
}

TEST_CASE("cert_cache: a hit is the same certificate, a miss parses, errors are not cached") {
    const auto out = testing::Scenario{}.build();
    const auto first = ossl::cached_pem_cert(out.root_pem, "root");
    const auto again = ossl::cached_pem_cert(out.root_pem, "root");
    const auto as_der = ossl::cached_der_cert(out.root_der, "root");
    CHECK(X509_cmp(first.get(), again.get()) == 0);
    // The PEM entry is decoded through the DER one: one object for both forms.
    CHECK(as_der.get() == first.get());
    CHECK(ossl::cert_der(first.get()) == out.root_der);

    const auto crl = ossl::cached_der_crl(out.collateral.root_ca_crl, "root CRL");
    CHECK(ossl::cached_der_crl(out.collateral.root_ca_crl, "root CRL").get() == crl.get());

    for (int attempt = 0; attempt < 2; ++attempt) {
        CHECK(error_of([] { (void)ossl::cached_pem_cert("garbage", "PCK chain"); }, Errc::malformed)
                  .rfind("PCK chain: not a PEM certificate", 0) == 0);
        CHECK(error_of(
                  [] {
                      (void)ossl::cached_der_crl(Bytes{0x30, 0x00}, "PCK CRL");
                  },
                  Errc::malformed)
                  .rfind("PCK CRL: not a DER CRL", 0) == 0);
    }
}
