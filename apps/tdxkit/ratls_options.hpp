#pragma once

// Making an RA-TLS certificate from the TD's quote provider, shared by `atls-serve --ra-tls` (a key
// made at start, kept in memory) and `quote generate --ra-tls-cert` (a key and certificate written
// for another server).

#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "tdxkit/bytes.hpp"
#include "tdxkit/provider.hpp"
#include "tdxkit/time.hpp"

namespace tdxkit::cli {

struct RaTlsCertOptions {
    std::string not_before;  // --cert-not-before; empty: an hour ago
    std::string not_after;   // --cert-not-after; empty: a year after not_before
};

// --cert-not-before, --cert-not-after.
void add_ra_tls_cert_options(CLI::App* sub, RaTlsCertOptions& o);
// Whether any of them was given.
[[nodiscard]] bool ra_tls_cert_options_given(const RaTlsCertOptions& o) noexcept;

struct RaTlsCertificate {
    std::string certificate_pem;
    SecretBytes private_key_pem;  // PKCS#8 PEM
    Octets<64> report_data{};     // SHA-512("ratls-cert:" || SPKI), what the quote carries
    GeneratedQuote quote;
    std::string event_log;  // the JSON text in extension .2 and, parsed, in the attestation (.8)
    UnixTime not_before = 0;
    UnixTime not_after = 0;
};

// A fresh P-256 key, a quote over its binding from the provider `base` names, and the self-signed
// certificate carrying the quote (.1), the event log (.2) and a versioned attestation (.8) of both and
// the provider's VM config. `event_log` replaces the provider's log (a provider without one needs
// it: Error(invalid_argument) otherwise). Throws what generate_quote throws.
[[nodiscard]] RaTlsCertificate make_ra_tls_certificate(const QuoteRequest& base, const RaTlsCertOptions& o,
                                                       const std::optional<std::string>& event_log);

}  // namespace tdxkit::cli
