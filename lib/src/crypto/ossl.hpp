#pragma once

// RAII owners for OpenSSL objects and the few conversions tdxkit needs. Private to the library.

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "tdxkit/bytes.hpp"

namespace tdxkit::ossl {

template <auto FreeFn>
struct Deleter {
    template <class T>
    void operator()(T* p) const noexcept {
        FreeFn(p);
    }
};
template <class T, auto FreeFn>
using Ptr = std::unique_ptr<T, Deleter<FreeFn>>;

using X509Ptr = Ptr<X509, X509_free>;
using X509CrlPtr = Ptr<X509_CRL, X509_CRL_free>;
using X509StorePtr = Ptr<X509_STORE, X509_STORE_free>;
using X509StoreCtxPtr = Ptr<X509_STORE_CTX, X509_STORE_CTX_free>;
using EvpPkeyPtr = Ptr<EVP_PKEY, EVP_PKEY_free>;
using EvpPkeyCtxPtr = Ptr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
using EvpMdCtxPtr = Ptr<EVP_MD_CTX, EVP_MD_CTX_free>;
using BioPtr = Ptr<BIO, BIO_free_all>;
using BignumPtr = Ptr<BIGNUM, BN_free>;
using EcdsaSigPtr = Ptr<ECDSA_SIG, ECDSA_SIG_free>;
using Asn1TimePtr = Ptr<ASN1_TIME, ASN1_TIME_free>;
inline void free_x509_stack(STACK_OF(X509) * s) { sk_X509_pop_free(s, X509_free); }
using X509StackPtr = Ptr<STACK_OF(X509), free_x509_stack>;

// Drains OpenSSL's thread-local error queue into the message and throws Error(code).
[[noreturn]] void fail(std::string_view what, int code_as_int = -1);
std::string drain_errors();

// The DER inside one PEM certificate block (the first one in `pem`).
Bytes pem_cert_der(std::string_view pem, std::string_view what);
X509Ptr parse_pem_cert(std::string_view pem, std::string_view what);
X509Ptr parse_der_cert(ByteSpan der, std::string_view what);
X509CrlPtr parse_der_crl(ByteSpan der, std::string_view what);
X509CrlPtr parse_pem_crl(std::string_view pem, std::string_view what);
Bytes cert_der(X509* cert);

std::string name_oneline(const X509_NAME* name);
std::string common_name(const X509_NAME* name);
std::int64_t asn1_time_to_unix(const ASN1_TIME* t);

// P-256 public key from raw X||Y (64 bytes).
EvpPkeyPtr p256_public_key(ByteSpan xy);
// Verifies an ECDSA-with-SHA256 signature given as raw r||s (64 bytes). False on a bad signature;
// throws only when the crypto library itself fails.
bool verify_p256_sha256(EVP_PKEY* key, ByteSpan message, ByteSpan raw_signature);
// Raw P-256 public key X||Y of a certificate, or an error if it is not a P-256 key.
Bytes ec_public_key_xy(X509* cert);

// SHA-384 over data given in pieces, for inputs too large to assemble first (MRTD's record stream,
// Authenticode's ranges). Throws Error(crypto) only when the crypto library fails.
class Sha384Stream {
public:
    Sha384Stream();
    void update(ByteSpan data);
    [[nodiscard]] std::array<std::uint8_t, 48> finish();

private:
    EvpMdCtxPtr ctx_;
};

}  // namespace tdxkit::ossl
