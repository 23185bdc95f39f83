#pragma once

// Internals of the test PKI: OpenSSL keys from derived scalars, certificates and CRLs whose
// signatures are replaced by deterministic ones, and the signed JSON bodies.

// Only the header-only RAII owners of libtdxkit's private crypto header are used: tdxkit-testing
// links the shared libtdxkit, whose internal functions are hidden.
#include "crypto/ossl.hpp"

#include "tdxkit/testing.hpp"

#include <optional>
#include <string>

namespace tdxkit::testing {

// The test PKI builds everything it signs, so an OpenSSL failure here is a bug or an exhausted
// machine, never bad input: Error(crypto) with OpenSSL's first queued reason.
[[noreturn]] void fail(std::string_view what);

ossl::EvpPkeyPtr evp_private_key(const PrivateScalar& d);
std::string bio_text(BIO* bio);
std::string certificate_pem(X509* cert);
Bytes certificate_der(X509* cert);

enum class CertificateRole { root_ca, intermediate_ca, end_entity };

struct CertificateProfile {
    CertificateRole role = CertificateRole::end_entity;
    std::string crl_distribution_point;  // URI; empty = no extension
    std::optional<Bytes> sgx_extension;  // DER value of the Intel SGX extension
};

// Issues `options` for `subject_key`, signed with `signing_key`. The issuer name and authority key
// identifier come from `issuer`, or from the certificate itself when `issuer` is null (self-signed).
ossl::X509Ptr issue_certificate(const CertificateOptions& options, const CertificateProfile& profile,
                                const PrivateScalar& subject_key, X509* issuer, const PrivateScalar& signing_key);

Bytes issue_crl(const CrlOptions& options, X509* issuer, const PrivateScalar& signing_key);

// Compact JSON in Intel's field order.
std::string tcb_info_body(const TcbInfoOptions& options, const Octets<6>& fmspc, const Octets<2>& pce_id);
std::string qe_identity_body(const QeIdentityOptions& options);

}  // namespace tdxkit::testing
