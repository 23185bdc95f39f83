#pragma once

// dstack RA-TLS certificates (Dstack-TEE/dstack ra-tls `oids.rs`, `cert.rs`): an X.509 certificate
// whose extensions under 1.3.6.1.4.1.62397.1 carry a TDX quote and its event log, or a versioned
// attestation (attestation.hpp), and whose key the quote binds:
//   REPORTDATA = SHA-512("ratls-cert:" || SubjectPublicKeyInfo DER).
// Also the one entry point for every evidence container `tdxkit verify` and the verification
// service read (decode_evidence), and its appraisal (appraise_evidence).
//
// What binds what (lib/docs/ratls.md):
// - the quote: Intel's signature chain (verify_quote);
// - the certificate's key: the quote's REPORTDATA, compared in constant time with the hash above;
// - the event log (from .2 or inside .8): its replay against the quote's RTMRs (bind_event_log);
// - everything else in the certificate (subject, names, dates, app id .3, usage .4, app info .9):
//   the certificate's signature only. A self-signed certificate is signed by the attested key, so
//   those fields are the TD's word; a certificate signed by another key (dstack's app CA) carries
//   that key's word, which tdxkit cannot attest. No rule reads them: they are shown, labelled.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tdxkit/appraise.hpp"
#include "tdxkit/attestation.hpp"
#include "tdxkit/bytes.hpp"
#include "tdxkit/collateral.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/export.hpp"
#include "tdxkit/input.hpp"
#include "tdxkit/policy.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/time.hpp"

namespace tdxkit::ratls {

inline constexpr std::string_view kOidQuote = "1.3.6.1.4.1.62397.1.1";
inline constexpr std::string_view kOidEventLog = "1.3.6.1.4.1.62397.1.2";
inline constexpr std::string_view kOidAppId = "1.3.6.1.4.1.62397.1.3";
inline constexpr std::string_view kOidSpecialUsage = "1.3.6.1.4.1.62397.1.4";
inline constexpr std::string_view kOidAttestation = "1.3.6.1.4.1.62397.1.8";
inline constexpr std::string_view kOidAppInfo = "1.3.6.1.4.1.62397.1.9";

// An event log extension starting with this is gzip after the magic (dstack EVENTLOG_GZIP_MAGIC).
inline constexpr std::string_view kEventLogGzipMagic = "ELGZv1";
// The most a compressed event log may inflate to; dstack allows 16 KiB, tdxkit's own logs stay
// far below this too. Anything larger is refused as a decompression bomb before it is allocated.
inline constexpr std::size_t kMaxEventLogExtension = 256 * 1024;
// A certificate file or container; a dstack RA-TLS certificate is a few kilobytes.
inline constexpr std::size_t kMaxCertificateInput = 1024 * 1024;

// dstack's QuoteContentType tags: REPORTDATA = SHA-512(tag ":" content).
inline constexpr std::string_view kTagRaTlsCert = "ratls-cert";
inline constexpr std::string_view kTagAppData = "app-data";
inline constexpr std::string_view kTagKmsRootCa = "kms-root-ca";

// SHA-512(tag || ":" || content). Error(crypto) only when OpenSSL fails.
[[nodiscard]] TDXKIT_EXPORT Octets<64> content_report_data(std::string_view tag, ByteSpan content);

struct Certificate {
    Bytes der;
    Bytes spki_der;  // SubjectPublicKeyInfo, exactly as encoded in the certificate
    std::string subject;
    std::string issuer;
    UnixTime not_before = 0;
    UnixTime not_after = 0;
    std::vector<std::string> dns_names;  // subjectAltName DNS entries
    // The RA-TLS extensions, each the content of the DER OCTET STRING in the extension value.
    std::optional<Bytes> quote;                   // .1
    std::optional<std::string> event_log;         // .2, JSON text (inflated when it was ELGZv1 + gzip)
    bool event_log_compressed = false;            // .2 was ELGZv1 + gzip
    std::optional<Bytes> app_id;                  // .3
    std::optional<std::string> special_usage;     // .4
    std::optional<Bytes> attestation;             // .8, decode_dstack_attestation reads it
    std::optional<Bytes> app_info;                // .9, msgpack as carried
    std::vector<std::string> unknown_extensions;  // other OIDs under the RA-TLS arc: shown, never read
    // Certificates that followed the leaf in a PEM bundle, or a TLS peer's chain, in order (DER).
    std::vector<Bytes> chain;

    [[nodiscard]] bool has_evidence() const noexcept { return quote.has_value() || attestation.has_value(); }
};

// True when `data` is a PEM certificate or a DER X.509 certificate (it is not parsed further).
[[nodiscard]] TDXKIT_EXPORT bool looks_like_certificate(ByteSpan data) noexcept;

// The leaf (first) certificate of a PEM bundle or a DER certificate, its RA-TLS extensions and the
// rest of the bundle. Error(malformed): not a certificate, an RA-TLS extension given twice or not
// holding a DER OCTET STRING, an event log that is not UTF-8 or that inflates beyond
// kMaxEventLogExtension (or is not valid gzip), input over kMaxCertificateInput.
[[nodiscard]] TDXKIT_EXPORT Certificate parse_certificate(ByteSpan pem_or_der);
// The same from DER certificates already split (a TLS peer's chain, leaf first; not empty).
[[nodiscard]] TDXKIT_EXPORT Certificate parse_certificate_chain(const std::vector<Bytes>& der_chain);

// The certificate's own checks, as Check entries (ids in lib/docs/ratls.md):
// - "certificate_validity": not_before <= now <= not_after;
// - "certificate_signature": a self-issued certificate verifies under its own key; otherwise under
//   the next certificate of `chain` whose subject is its issuer. With no issuer present the
//   signature cannot be checked: the check fails, naming the issuer to provide;
// - "certificate_key_usage": keyUsage, when present, allows digitalSignature; extendedKeyUsage, when
//   present, allows serverAuth or clientAuth.
// Never throws for a parsed certificate except Error(crypto) when OpenSSL fails.
[[nodiscard]] TDXKIT_EXPORT std::vector<Check> check_certificate(const Certificate& certificate, UnixTime now);

// ---- Making RA-TLS certificates (atls-serve --ra-tls, quote generate --ra-tls-cert) ----

struct KeyPair {
    SecretBytes private_key_pem;  // PKCS#8 PEM
    Bytes spki_der;
};

// A fresh P-256 key. Error(crypto) when OpenSSL fails.
[[nodiscard]] TDXKIT_EXPORT KeyPair generate_key();

struct CertificateRequest {
    std::string common_name = "tdxkit RA-TLS";
    std::vector<std::string> dns_names;  // subjectAltName; empty: "localhost"
    UnixTime not_before = 0;
    UnixTime not_after = 0;
    Bytes quote;                           // .1
    std::optional<std::string> event_log;  // .2 (gzip-compressed with the ELGZv1 magic when `compress_event_log`)
    bool compress_event_log = true;
    std::optional<Bytes> attestation;  // .8
    std::optional<Bytes> app_id;       // .3
};

// A self-signed X.509 v3 certificate (ECDSA-SHA256) for `key`, with keyUsage digitalSignature,
// extendedKeyUsage serverAuth+clientAuth, and the RA-TLS extensions of `request`; PEM.
// Error(invalid_argument) for an unusable key PEM or a DNS name of other characters than letters,
// digits, '.', '-' and '*'; Error(crypto) when OpenSSL fails.
[[nodiscard]] TDXKIT_EXPORT std::string make_certificate(const KeyPair& key, const CertificateRequest& request);

// ---- Every container verify reads ----

struct Evidence {
    // "RA-TLS certificate", "dstack versioned attestation" or QuoteInput::container ("raw", "hex",
    // "dstack GetQuote response", ...).
    std::string container;
    InputFormat format = InputFormat::raw;  // the text form the container came in (raw: binary or PEM)
    // Where the quote and log were taken from: "extension 1.3.6.1.4.1.62397.1.8 (versioned
    // attestation, SCALE (V0))", "extensions .1 (quote) and .2 (event log)", "" for plain containers.
    std::string source;
    Bytes quote;
    std::optional<EventLog> event_log;
    std::optional<Certificate> certificate;
    std::optional<DstackAttestation> attestation;  // its quote and log are the ones above
};

// Detects the container: an RA-TLS certificate (PEM or DER), a versioned attestation (binary, hex,
// or JSON {"attestation": hex}), or anything decode_quote_input reads (then an event log the
// container carries is parsed). A certificate prefers .8 over .1 and .2, as dstack's verifiers do.
// Error(malformed) for a certificate without RA-TLS evidence, or any malformed part;
// Error(unsupported) for another platform's attestation.
[[nodiscard]] TDXKIT_EXPORT Evidence decode_evidence(ByteSpan data, InputFormat format = InputFormat::automatic);

// appraise() for the quote (parsed from evidence.quote) with everything the container adds:
// - a certificate: REPORTDATA must be SHA-512("ratls-cert:" || SPKI) ("report_data_binding"), and
//   check_certificate at the appraisal time;
// - an attestation: its stack report data must equal the quote's ("attestation_report_data");
// - either: the RTMR3 events of the log it carries replay to the quote's RTMR3, each one covered by
//   its digest ("event_log_rtmr3");
// - options.expected_report_data, if set, is used as given (a nonce); with a certificate it must agree
//   with the certificate's binding, else Error(invalid_argument).
// Throws as appraise does.
[[nodiscard]] TDXKIT_EXPORT Appraisal appraise_evidence(const Evidence& evidence, const Quote& quote,
                                                        const Collateral& collateral, const Policy& policy,
                                                        AppraisalOptions options);

}  // namespace tdxkit::ratls
