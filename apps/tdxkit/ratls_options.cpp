#include "ratls_options.hpp"

#include <fmt/format.h>

#include "cli.hpp"
#include "tdxkit/attestation.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/ratls.hpp"

namespace tdxkit::cli {

namespace {

// A client whose clock runs a little behind still sees a certificate made this minute as valid.
constexpr UnixTime kDefaultBackdate = 60 * 60;
constexpr UnixTime kDefaultLifetime = 365 * 24 * 60 * 60;

}  // namespace

void add_ra_tls_cert_options(CLI::App* sub, RaTlsCertOptions& o) {
    sub->add_option("--cert-not-before", o.not_before,
                    "RA-TLS certificate: start of validity, RFC 3339 or unix seconds (default: an hour ago)");
    sub->add_option("--cert-not-after", o.not_after,
                    "RA-TLS certificate: end of validity, RFC 3339 or unix seconds (default: a year after the start)");
}

bool ra_tls_cert_options_given(const RaTlsCertOptions& o) noexcept {
    return !o.not_before.empty() || !o.not_after.empty();
}

RaTlsCertificate make_ra_tls_certificate(const QuoteRequest& base, const RaTlsCertOptions& o,
                                         const std::optional<std::string>& event_log) {
    RaTlsCertificate out;
    out.not_before = o.not_before.empty() ? now_utc() - kDefaultBackdate : parse_time(o.not_before);
    out.not_after = o.not_after.empty() ? out.not_before + kDefaultLifetime : parse_time(o.not_after);
    if (out.not_after <= out.not_before) {
        throw Error(Errc::invalid_argument,
                    fmt::format("--cert-not-after ({}) must be later than --cert-not-before ({})",
                                format_rfc3339(out.not_after), format_rfc3339(out.not_before)));
    }
    auto key = ratls::generate_key();
    // The quote binds the key, which is what makes the certificate RA-TLS: a verifier compares this
    // with the quote's REPORTDATA, and the TLS handshake proves the server holds the key.
    out.report_data = ratls::content_report_data(ratls::kTagRaTlsCert, key.spki_der);
    auto request = base;
    request.report_data = out.report_data;
    out.quote = generate_quote_or_simulate(request);
    if (event_log) {
        out.event_log = *event_log;
    } else if (out.quote.event_log) {
        out.event_log = *out.quote.event_log;
    } else {
        throw Error(Errc::invalid_argument,
                    fmt::format("{} returns no event log, and an RA-TLS certificate needs one (verifiers replay it "
                                "against the quote): pass --event-log",
                                quote_provider_name(out.quote.provider)));
    }
    // Parsed first, so that a log verifiers could not read is refused here rather than by them.
    const auto parsed = parse_dstack_event_log(out.event_log);
    ratls::CertificateRequest cert;
    cert.not_before = out.not_before;
    cert.not_after = out.not_after;
    cert.quote = out.quote.quote;
    cert.event_log = out.event_log;
    cert.attestation =
        encode_dstack_attestation(out.quote.quote, parsed, out.report_data, out.quote.vm_config.value_or(""));
    out.certificate_pem = ratls::make_certificate(key, cert);
    out.private_key_pem = std::move(key.private_key_pem);
    return out;
}

}  // namespace tdxkit::cli
