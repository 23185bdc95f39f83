#include "testing/pki.hpp"

#include "testing/der_writer.hpp"

#include "tdxkit/error.hpp"

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <array>

namespace tdxkit::testing {
namespace {

// AlgorithmIdentifier ecdsa-with-SHA256 (1.2.840.10045.4.3.2), no parameters.
constexpr std::array<std::uint8_t, 12> kEcdsaWithSha256 = {0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86,
                                                           0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};

ossl::Ptr<ASN1_INTEGER, ASN1_INTEGER_free> asn1_integer(ByteSpan big_endian) {
    const ossl::BignumPtr bn{BN_bin2bn(big_endian.data(), static_cast<int>(big_endian.size()), nullptr)};
    ossl::Ptr<ASN1_INTEGER, ASN1_INTEGER_free> out{bn ? BN_to_ASN1_INTEGER(bn.get(), nullptr) : nullptr};
    if (!out) fail("BN_to_ASN1_INTEGER");
    return out;
}

ossl::Asn1TimePtr asn1_time(UnixTime t) {
    ossl::Asn1TimePtr out{ASN1_TIME_set(nullptr, static_cast<time_t>(t))};
    if (!out) fail("ASN1_TIME_set");
    return out;
}

ossl::Ptr<X509_NAME, X509_NAME_free> test_name(const std::string& common_name) {
    ossl::Ptr<X509_NAME, X509_NAME_free> name{X509_NAME_new()};
    if (!name) fail("X509_NAME_new");
    const auto add = [&](const char* field, const std::string& value) {
        if (X509_NAME_add_entry_by_txt(name.get(), field, MBSTRING_UTF8,
                                       reinterpret_cast<const unsigned char*>(value.data()),
                                       static_cast<int>(value.size()), -1, 0) != 1) {
            fail("X509_NAME_add_entry_by_txt");
        }
    };
    add("CN", common_name);
    add("O", "tdxkit TEST (not Intel)");
    add("C", "US");
    return name;
}

using ExtensionPtr = ossl::Ptr<X509_EXTENSION, X509_EXTENSION_free>;

ExtensionPtr conf_extension(X509V3_CTX* ctx, int nid, const char* value) {
    ExtensionPtr ext{X509V3_EXT_conf_nid(nullptr, ctx, nid, value)};
    if (!ext) fail(std::string("X509V3_EXT_conf_nid: ") + OBJ_nid2sn(nid));
    return ext;
}

// The object's DER with OpenSSL's (randomized) signature replaced by a deterministic one over the
// same TBS bytes, so regenerated test data is byte-identical.
template <class T>
Bytes deterministic_der(T* object, int (*i2d_tbs)(T*, unsigned char**), const PrivateScalar& signing_key) {
    unsigned char* buf = nullptr;
    const int len = i2d_tbs(object, &buf);
    if (len <= 0) fail("encoding the to-be-signed structure");
    const Bytes tbs(buf, buf + len);
    OPENSSL_free(buf);
    const auto sig = sign_p256(signing_key, tbs);
    const ByteSpan raw{sig};
    const Bytes ecdsa_sig = der::sequence({der::unsigned_integer(raw.first(32)), der::unsigned_integer(raw.last(32))});
    const Bytes bit_string = der::tlv(0x03, der::concat({Bytes{0x00}, ecdsa_sig}));
    return der::sequence({tbs, kEcdsaWithSha256, bit_string});
}

// Reads back DER this PKI assembled, as a self-check: the whole of it must decode.
template <class T, auto Decode, auto Free>
ossl::Ptr<T, Free> decode_assembled(const Bytes& der, std::string_view what) {
    const unsigned char* p = der.data();
    ossl::Ptr<T, Free> out{Decode(nullptr, &p, static_cast<long>(der.size()))};
    if (!out || p != der.data() + der.size()) fail(what);
    return out;
}

}  // namespace

void fail(std::string_view what) {
    const unsigned long first = ERR_get_error();
    ERR_clear_error();
    const char* reason = first == 0 ? nullptr : ERR_reason_error_string(first);
    throw Error(Errc::crypto, reason == nullptr ? std::string(what) : fmt::format("{}: {}", what, reason));
}

Bytes certificate_der(X509* cert) {
    const int length = i2d_X509(cert, nullptr);
    if (length <= 0) fail("i2d_X509");
    Bytes out(static_cast<std::size_t>(length));
    unsigned char* cursor = out.data();
    if (i2d_X509(cert, &cursor) != length) fail("i2d_X509");
    return out;
}

std::string certificate_pem(X509* cert) {
    ossl::BioPtr bio{BIO_new(BIO_s_mem())};
    if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) fail("PEM_write_bio_X509");
    return bio_text(bio.get());
}

ossl::X509Ptr issue_certificate(const CertificateOptions& options, const CertificateProfile& profile,
                                const PrivateScalar& subject_key, X509* issuer, const PrivateScalar& signing_key) {
    ossl::X509Ptr cert{X509_new()};
    if (!cert) fail("X509_new");
    const auto subject_pkey = evp_private_key(subject_key);
    const auto subject_name = test_name(options.common_name);
    X509* const issuer_cert = issuer != nullptr ? issuer : cert.get();
    if (X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
        X509_set_serialNumber(cert.get(), asn1_integer(options.serial).get()) != 1 ||
        X509_set_subject_name(cert.get(), subject_name.get()) != 1 ||
        X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert)) != 1 ||
        X509_set1_notBefore(cert.get(), asn1_time(options.validity.not_before).get()) != 1 ||
        X509_set1_notAfter(cert.get(), asn1_time(options.validity.not_after).get()) != 1 ||
        X509_set_pubkey(cert.get(), subject_pkey.get()) != 1) {
        fail("building certificate " + options.common_name);
    }

    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer_cert, cert.get(), nullptr, nullptr, 0);
    const auto add = [&](ExtensionPtr ext) {
        if (X509_add_ext(cert.get(), ext.get(), -1) != 1) fail("X509_add_ext");
    };
    // SKI first: a self-signed root's AKI is computed from it.
    add(conf_extension(&ctx, NID_subject_key_identifier, "hash"));
    add(conf_extension(&ctx, NID_authority_key_identifier, "keyid:always"));
    if (!profile.crl_distribution_point.empty()) {
        add(conf_extension(&ctx, NID_crl_distribution_points, ("URI:" + profile.crl_distribution_point).c_str()));
    }
    const bool ca = profile.role != CertificateRole::end_entity;
    add(conf_extension(&ctx, NID_key_usage,
                       ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature,nonRepudiation"));
    add(conf_extension(&ctx, NID_basic_constraints,
                       profile.role == CertificateRole::root_ca           ? "critical,CA:TRUE,pathlen:1"
                       : profile.role == CertificateRole::intermediate_ca ? "critical,CA:TRUE,pathlen:0"
                                                                          : "critical,CA:FALSE"));
    if (profile.sgx_extension) {
        const ossl::Ptr<ASN1_OBJECT, ASN1_OBJECT_free> oid{OBJ_txt2obj("1.2.840.113741.1.13.1", 1)};
        ossl::Ptr<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free> value{ASN1_OCTET_STRING_new()};
        if (!oid || !value ||
            ASN1_OCTET_STRING_set(value.get(), profile.sgx_extension->data(),
                                  static_cast<int>(profile.sgx_extension->size())) != 1) {
            fail("SGX extension value");
        }
        add(ExtensionPtr{X509_EXTENSION_create_by_OBJ(nullptr, oid.get(), 0, value.get())});
    }

    if (X509_sign(cert.get(), evp_private_key(signing_key).get(), EVP_sha256()) <= 0) fail("X509_sign");
    return decode_assembled<X509, d2i_X509, X509_free>(deterministic_der(cert.get(), i2d_re_X509_tbs, signing_key),
                                                       "re-reading the test certificate");
}

Bytes issue_crl(const CrlOptions& options, X509* issuer, const PrivateScalar& signing_key) {
    ossl::X509CrlPtr crl{X509_CRL_new()};
    if (!crl || X509_CRL_set_version(crl.get(), X509_CRL_VERSION_2) != 1 ||
        X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer)) != 1 ||
        X509_CRL_set1_lastUpdate(crl.get(), asn1_time(options.validity.not_before).get()) != 1 ||
        X509_CRL_set1_nextUpdate(crl.get(), asn1_time(options.validity.not_after).get()) != 1) {
        fail("building CRL");
    }
    const auto revocation_date = asn1_time(options.validity.not_before);
    const ossl::Ptr<ASN1_ENUMERATED, ASN1_ENUMERATED_free> key_compromise{ASN1_ENUMERATED_new()};
    if (!key_compromise || ASN1_ENUMERATED_set(key_compromise.get(), CRL_REASON_KEY_COMPROMISE) != 1) {
        fail("ASN1_ENUMERATED_set");
    }
    for (const auto& serial : options.revoked_serials) {
        X509_REVOKED* entry = X509_REVOKED_new();
        if (entry == nullptr || X509_REVOKED_set_serialNumber(entry, asn1_integer(serial).get()) != 1 ||
            X509_REVOKED_set_revocationDate(entry, revocation_date.get()) != 1 ||
            X509_REVOKED_add1_ext_i2d(entry, NID_crl_reason, key_compromise.get(), 0, 0) != 1 ||
            X509_CRL_add0_revoked(crl.get(), entry) != 1) {
            X509_REVOKED_free(entry);
            fail("adding a revoked serial");
        }
    }
    const ossl::Ptr<ASN1_INTEGER, ASN1_INTEGER_free> crl_number{ASN1_INTEGER_new()};
    if (!crl_number || ASN1_INTEGER_set_uint64(crl_number.get(), options.number) != 1 ||
        X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, crl_number.get(), 0, 0) != 1) {
        fail("CRL number");
    }
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, issuer, nullptr, nullptr, crl.get(), 0);
    const auto aki = conf_extension(&ctx, NID_authority_key_identifier, "keyid:always");
    if (X509_CRL_add_ext(crl.get(), aki.get(), -1) != 1 || X509_CRL_sort(crl.get()) != 1 ||
        X509_CRL_sign(crl.get(), evp_private_key(signing_key).get(), EVP_sha256()) <= 0) {
        fail("X509_CRL_sign");
    }
    Bytes der = deterministic_der(crl.get(), i2d_re_X509_CRL_tbs, signing_key);
    (void)decode_assembled<X509_CRL, d2i_X509_CRL, X509_CRL_free>(der, "re-reading the test CRL");
    return der;
}

}  // namespace tdxkit::testing
