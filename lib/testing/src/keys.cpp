#include "crypto/ossl.hpp"
#include "testing/der_writer.hpp"
#include "testing/pki.hpp"

#include "tdxkit/error.hpp"
#include "tdxkit/testing.hpp"

#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

namespace tdxkit::testing {
namespace {

using GroupPtr = ossl::Ptr<EC_GROUP, EC_GROUP_free>;
using PointPtr = ossl::Ptr<EC_POINT, EC_POINT_free>;
using BnCtxPtr = ossl::Ptr<BN_CTX, BN_CTX_free>;

const EC_GROUP* p256() {
    static const GroupPtr group{EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)};
    if (!group) fail("EC_GROUP_new_by_curve_name(P-256)");
    return group.get();
}

const BIGNUM* order() { return EC_GROUP_get0_order(p256()); }

ossl::BignumPtr to_bn(ByteSpan be) {
    ossl::BignumPtr bn{BN_bin2bn(be.data(), static_cast<int>(be.size()), nullptr)};
    if (!bn) fail("BN_bin2bn");
    return bn;
}

Octets<32> to_octets(const BIGNUM* bn) {
    Octets<32> out{};
    if (BN_bn2binpad(bn, out.data(), static_cast<int>(out.size())) != 32) fail("BN_bn2binpad");
    return out;
}

ossl::BignumPtr checked_scalar(const PrivateScalar& d) {
    auto bn = to_bn(d);
    if (BN_is_zero(bn.get()) || BN_cmp(bn.get(), order()) >= 0) {
        throw Error(Errc::invalid_argument, "P-256 private scalar must be in [1, n-1]");
    }
    return bn;
}

// k*G, affine X and Y.
std::pair<ossl::BignumPtr, ossl::BignumPtr> multiply_generator(const BIGNUM* k, BN_CTX* ctx) {
    PointPtr point{EC_POINT_new(p256())};
    ossl::BignumPtr x{BN_new()};
    ossl::BignumPtr y{BN_new()};
    if (!point || !x || !y || EC_POINT_mul(p256(), point.get(), k, nullptr, nullptr, ctx) != 1 ||
        EC_POINT_get_affine_coordinates(p256(), point.get(), x.get(), y.get(), ctx) != 1) {
        fail("EC_POINT_mul");
    }
    return {std::move(x), std::move(y)};
}

Octets<32> hmac_sha256(ByteSpan key, ByteSpan data) {
    Octets<32> out{};
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(), &len) ==
            nullptr ||
        len != out.size()) {
        fail("HMAC-SHA-256");
    }
    return out;
}

}  // namespace

PrivateScalar derive_private_scalar(std::string_view seed, std::string_view label) {
    const Bytes material = der::concat({as_bytes(seed), Bytes{0x00}, as_bytes(label)});
    const auto digest = sha256(material);
    auto bn = to_bn(digest);
    BnCtxPtr ctx{BN_CTX_new()};
    if (!ctx || BN_nnmod(bn.get(), bn.get(), order(), ctx.get()) != 1) fail("BN_nnmod");
    // Probability 2^-256; reported rather than silently patched.
    if (BN_is_zero(bn.get())) throw Error(Errc::internal, "derived P-256 scalar is zero; choose another label");
    return to_octets(bn.get());
}

Octets<64> public_key(const PrivateScalar& d) {
    BnCtxPtr ctx{BN_CTX_new()};
    if (!ctx) fail("BN_CTX_new");
    const auto [x, y] = multiply_generator(checked_scalar(d).get(), ctx.get());
    Octets<64> xy{};
    const auto xb = to_octets(x.get());
    const auto yb = to_octets(y.get());
    std::copy(xb.begin(), xb.end(), xy.begin());
    std::copy(yb.begin(), yb.end(), xy.begin() + 32);
    return xy;
}

// RFC 6979 section 3.2 with HMAC-SHA-256. For P-256 with SHA-256 qlen == hlen == 256, so bits2int is
// the plain big-endian conversion and bits2octets(h) is (h mod n) as 32 bytes.
Octets<64> sign_p256(const PrivateScalar& d, ByteSpan message) {
    const auto dbn = checked_scalar(d);
    const auto h = sha256(message);
    BnCtxPtr ctx{BN_CTX_new()};
    if (!ctx) fail("BN_CTX_new");
    const auto e = to_bn(h);
    ossl::BignumPtr e_mod{BN_new()};
    if (!e_mod || BN_nnmod(e_mod.get(), e.get(), order(), ctx.get()) != 1) fail("BN_nnmod");
    const auto h_octets = to_octets(e_mod.get());

    Octets<32> v{};
    v.fill(0x01);
    Octets<32> k{};
    k = hmac_sha256(k, der::concat({v, Bytes{0x00}, d, h_octets}));
    v = hmac_sha256(k, v);
    k = hmac_sha256(k, der::concat({v, Bytes{0x01}, d, h_octets}));
    v = hmac_sha256(k, v);

    ossl::BignumPtr r{BN_new()};
    ossl::BignumPtr s{BN_new()};
    ossl::BignumPtr tmp{BN_new()};
    if (!r || !s || !tmp) fail("BN_new");
    while (true) {
        v = hmac_sha256(k, v);
        const auto nonce = to_bn(v);
        if (!BN_is_zero(nonce.get()) && BN_cmp(nonce.get(), order()) < 0) {
            const auto [x, y] = multiply_generator(nonce.get(), ctx.get());
            // s = k^-1 (e + r d) mod n
            if (BN_nnmod(r.get(), x.get(), order(), ctx.get()) != 1 ||
                BN_mod_mul(tmp.get(), r.get(), dbn.get(), order(), ctx.get()) != 1 ||
                BN_mod_add(tmp.get(), tmp.get(), e.get(), order(), ctx.get()) != 1 ||
                BN_mod_inverse(s.get(), nonce.get(), order(), ctx.get()) == nullptr ||
                BN_mod_mul(s.get(), s.get(), tmp.get(), order(), ctx.get()) != 1) {
                fail("ECDSA arithmetic");
            }
            if (!BN_is_zero(r.get()) && !BN_is_zero(s.get())) break;
        }
        k = hmac_sha256(k, der::concat({v, Bytes{0x00}}));
        v = hmac_sha256(k, v);
    }
    Octets<64> sig{};
    const auto rb = to_octets(r.get());
    const auto sb = to_octets(s.get());
    std::copy(rb.begin(), rb.end(), sig.begin());
    std::copy(sb.begin(), sb.end(), sig.begin() + 32);
    return sig;
}

ossl::EvpPkeyPtr evp_private_key(const PrivateScalar& d) {
    const auto priv = checked_scalar(d);
    const auto xy = public_key(d);
    Bytes point{0x04};
    point.insert(point.end(), xy.begin(), xy.end());
    ossl::Ptr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free> bld{OSSL_PARAM_BLD_new()};
    if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, priv.get()) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
        fail("OSSL_PARAM_BLD");
    }
    ossl::Ptr<OSSL_PARAM, OSSL_PARAM_free> params{OSSL_PARAM_BLD_to_param(bld.get())};
    ossl::EvpPkeyCtxPtr ctx{EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr)};
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_KEYPAIR, params.get()) != 1) {
        fail("EVP_PKEY_fromdata(P-256 key pair)");
    }
    return ossl::EvpPkeyPtr{raw};
}

std::string private_key_pem(const PrivateScalar& d) {
    const auto key = evp_private_key(d);
    ossl::BioPtr bio{BIO_new(BIO_s_mem())};
    if (!bio || PEM_write_bio_PrivateKey(bio.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
        fail("PEM_write_bio_PrivateKey");
    }
    return bio_text(bio.get());
}

std::string bio_text(BIO* bio) {
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio, &data);
    return {data, static_cast<std::size_t>(len)};
}

}  // namespace tdxkit::testing
