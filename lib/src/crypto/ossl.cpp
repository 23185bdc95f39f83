#include "crypto/ossl.hpp"

#include <array>
#include <ctime>

#include <fmt/format.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "tdxkit/error.hpp"

namespace tdxkit::ossl {

std::string drain_errors() {
    std::string detail;
    while (const unsigned long e = ERR_get_error()) {
        std::array<char, 256> buf{};
        ERR_error_string_n(e, buf.data(), buf.size());
        detail += (detail.empty() ? "" : "; ") + std::string(buf.data());
    }
    return detail;
}

void fail(std::string_view what, int code_as_int) {
    const auto detail = drain_errors();
    const auto code = code_as_int < 0 ? Errc::crypto : static_cast<Errc>(code_as_int);
    throw Error(code, detail.empty() ? std::string(what) : fmt::format("{}: {}", what, detail));
}

Bytes pem_cert_der(std::string_view pem, std::string_view what) {
    BioPtr bio{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
    if (!bio) fail("BIO_new_mem_buf");
    char* name = nullptr;
    char* header = nullptr;
    unsigned char* data = nullptr;
    long length = 0;
    const int ok = PEM_read_bio(bio.get(), &name, &header, &data, &length);
    const std::string type = ok == 1 ? name : "";
    Bytes der(data, data + (ok == 1 ? length : 0));
    OPENSSL_free(name);
    OPENSSL_free(header);
    OPENSSL_free(data);
    // The labels PEM_read_bio_X509 accepts.
    if (ok != 1 || (type != PEM_STRING_X509 && type != PEM_STRING_X509_OLD)) {
        fail(fmt::format("{}: not a PEM certificate", what), static_cast<int>(Errc::malformed));
    }
    return der;
}

X509Ptr parse_pem_cert(std::string_view pem, std::string_view what) {
    return parse_der_cert(pem_cert_der(pem, what), what);
}

X509Ptr parse_der_cert(ByteSpan der, std::string_view what) {
    const unsigned char* p = der.data();
    X509Ptr cert{d2i_X509(nullptr, &p, static_cast<long>(der.size()))};
    if (!cert) fail(fmt::format("{}: not a DER certificate", what), static_cast<int>(Errc::malformed));
    if (p != der.data() + der.size()) throw Error(Errc::malformed, fmt::format("{}: trailing bytes after DER", what));
    return cert;
}

X509CrlPtr parse_der_crl(ByteSpan der, std::string_view what) {
    const unsigned char* p = der.data();
    X509CrlPtr crl{d2i_X509_CRL(nullptr, &p, static_cast<long>(der.size()))};
    if (!crl) fail(fmt::format("{}: not a DER CRL", what), static_cast<int>(Errc::malformed));
    if (p != der.data() + der.size()) throw Error(Errc::malformed, fmt::format("{}: trailing bytes after DER", what));
    return crl;
}

X509CrlPtr parse_pem_crl(std::string_view pem, std::string_view what) {
    BioPtr bio{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
    if (!bio) fail("BIO_new_mem_buf");
    X509CrlPtr crl{PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)};
    if (!crl) fail(fmt::format("{}: not a PEM CRL", what), static_cast<int>(Errc::malformed));
    return crl;
}

Bytes cert_der(X509* cert) {
    unsigned char* buf = nullptr;
    const int len = i2d_X509(cert, &buf);
    if (len <= 0) fail("i2d_X509");
    Bytes out(buf, buf + len);
    OPENSSL_free(buf);
    return out;
}

std::string name_oneline(const X509_NAME* name) {
    BioPtr bio{BIO_new(BIO_s_mem())};
    if (!bio) fail("BIO_new");
    X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char* data = nullptr;
    const long len = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(len));
}

std::string common_name(const X509_NAME* name) {
    const int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0) return {};
    const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                       static_cast<std::size_t>(ASN1_STRING_length(s)));
}

std::int64_t asn1_time_to_unix(const ASN1_TIME* t) {
    struct tm tm {};
    if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) throw Error(Errc::malformed, "invalid ASN.1 time");
    return static_cast<std::int64_t>(timegm(&tm));
}

EvpPkeyPtr p256_public_key(ByteSpan xy) {
    if (xy.size() != 64) throw Error(Errc::malformed, "P-256 public key must be 64 bytes X||Y");
    std::array<std::uint8_t, 65> point{};
    point[0] = 0x04;
    std::copy(xy.begin(), xy.end(), point.begin() + 1);
    Ptr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free> bld{OSSL_PARAM_BLD_new()};
    if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1) {
        fail("OSSL_PARAM_BLD");
    }
    Ptr<OSSL_PARAM, OSSL_PARAM_free> params{OSSL_PARAM_BLD_to_param(bld.get())};
    EvpPkeyCtxPtr ctx{EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr)};
    EVP_PKEY* raw = nullptr;
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params.get()) != 1) {
        fail("P-256 public key: not a point on the curve", static_cast<int>(Errc::malformed));
    }
    EvpPkeyPtr key{raw};
    // fromdata does not always validate the point. The quick check (point on the curve, not at
    // infinity) is what matters for P-256, whose cofactor is 1; the full check adds a scalar
    // multiplication per key.
    EvpPkeyCtxPtr check{EVP_PKEY_CTX_new_from_pkey(nullptr, key.get(), nullptr)};
    if (!check || EVP_PKEY_public_check_quick(check.get()) != 1) {
        fail("P-256 public key: not a point on the curve", static_cast<int>(Errc::malformed));
    }
    return key;
}

bool verify_p256_sha256(EVP_PKEY* key, ByteSpan message, ByteSpan raw_signature) {
    if (raw_signature.size() != 64) return false;
    EcdsaSigPtr sig{ECDSA_SIG_new()};
    BignumPtr r{BN_bin2bn(raw_signature.data(), 32, nullptr)};
    BignumPtr s{BN_bin2bn(raw_signature.data() + 32, 32, nullptr)};
    if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r.get(), s.get()) != 1) fail("ECDSA_SIG_set0");
    (void)r.release();  // owned by sig now
    (void)s.release();
    unsigned char* der = nullptr;
    const int der_len = i2d_ECDSA_SIG(sig.get(), &der);
    if (der_len <= 0) fail("i2d_ECDSA_SIG");
    EvpMdCtxPtr ctx{EVP_MD_CTX_new()};
    int rc = -1;
    if (ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) == 1) {
        rc = EVP_DigestVerify(ctx.get(), der, static_cast<std::size_t>(der_len), message.data(), message.size());
    }
    OPENSSL_free(der);
    if (rc < 0) {
        drain_errors();  // a malformed signature is a verdict, not a library failure
        return false;
    }
    ERR_clear_error();
    return rc == 1;
}

Bytes ec_public_key_xy(X509* cert) {
    EVP_PKEY* key = X509_get0_pubkey(cert);
    if (key == nullptr) fail("certificate has no public key", static_cast<int>(Errc::malformed));
    std::array<char, 64> group{};
    std::size_t group_len = 0;
    if (EVP_PKEY_get_group_name(key, group.data(), group.size(), &group_len) != 1 ||
        std::string_view(group.data(), group_len) != "prime256v1") {
        drain_errors();
        throw Error(Errc::malformed, "certificate public key is not on curve P-256");
    }
    std::array<unsigned char, 65> point{};
    std::size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size(), &len) != 1 ||
        len != 65 || point[0] != 0x04) {
        drain_errors();
        throw Error(Errc::malformed, "certificate public key is not an uncompressed P-256 point");
    }
    return Bytes(point.begin() + 1, point.end());
}

Sha384Stream::Sha384Stream() : ctx_(EVP_MD_CTX_new()) {
    if (!ctx_ || EVP_DigestInit_ex(ctx_.get(), EVP_sha384(), nullptr) != 1) fail("SHA-384 init");
}

void Sha384Stream::update(ByteSpan data) {
    if (!data.empty() && EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1) fail("SHA-384 update");
}

std::array<std::uint8_t, 48> Sha384Stream::finish() {
    std::array<std::uint8_t, 48> out{};
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(ctx_.get(), out.data(), &len) != 1 || len != out.size()) fail("SHA-384 final");
    return out;
}

}  // namespace tdxkit::ossl
