// Every evidence container verify reads, and what each adds to the appraisal of its quote.

#include <algorithm>
#include <string_view>

#include <fmt/format.h>

#include "core/hex.hpp"
#include "core/json.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/ratls.hpp"

namespace tdxkit::ratls {
namespace {

std::string_view as_text(ByteSpan b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

bool starts_attestation(ByteSpan b) {
    // 0x00: the SCALE V0 tag; a msgpack map: V1. A TDX quote starts with its version (4 or 5).
    return !b.empty() && (b[0] == 0x00 || (b[0] >= 0x80 && b[0] <= 0x8F) || b[0] == 0xDE || b[0] == 0xDF);
}

Evidence from_attestation(ByteSpan bytes) {
    Evidence e;
    e.attestation = decode_dstack_attestation(bytes);
    e.container = "dstack versioned attestation";
    e.source = fmt::format("{} form", e.attestation->wire_name());
    e.quote = e.attestation->quote;
    e.event_log = e.attestation->event_log;
    return e;
}

Evidence from_certificate(Certificate certificate) {
    Evidence e;
    e.container = "RA-TLS certificate";
    if (certificate.attestation) {
        // dstack's verifiers read .8 when present; .1 is then a copy, and two different quotes in one
        // certificate would leave it open which one the relying party meant.
        e = from_attestation(*certificate.attestation);
        e.container = "RA-TLS certificate";
        e.source = fmt::format("extension {} (versioned attestation, {})", kOidAttestation, e.attestation->wire_name());
        if (certificate.quote && !equal_ct(*certificate.quote, e.quote)) {
            throw Error(Errc::malformed, fmt::format("RA-TLS certificate: extensions {} and {} carry different quotes",
                                                     kOidQuote, kOidAttestation));
        }
    } else if (certificate.quote) {
        e.quote = *certificate.quote;
        e.source = fmt::format("extension {} (quote)", kOidQuote);
        if (certificate.event_log) {
            e.event_log = parse_dstack_event_log(*certificate.event_log);
            e.event_log->container = fmt::format("RA-TLS extension {}{}", kOidEventLog,
                                                 certificate.event_log_compressed ? " (ELGZv1 gzip)" : "");
            e.source += fmt::format(" and {} (event log)", kOidEventLog);
        }
    } else {
        throw Error(
            Errc::malformed,
            fmt::format("certificate {:.128} carries no RA-TLS evidence (neither extension {} nor {}): it is not an "
                        "RA-TLS certificate",
                        certificate.subject, kOidQuote, kOidAttestation));
    }
    e.certificate = std::move(certificate);
    return e;
}

// {"attestation": hex} as dstack-verifier takes it; nullopt when the document is something else.
std::optional<Bytes> attestation_from_json(ByteSpan data) {
    const auto doc = detail::parse_json(as_text(data), "JSON input");
    if (!doc.is_object() || !doc.contains("attestation") || doc.contains("quote")) return std::nullopt;
    for (const auto& [key, value] : doc.items()) {
        // dstack-verifier's other request members; a vm_config beside an attestation is the one inside it.
        if (key != "attestation" && key != "vm_config" && key != "debug") {
            throw Error(Errc::malformed, fmt::format("attestation request: unknown field \"{:.40}\" (attestation, "
                                                     "vm_config, debug)",
                                                     key));
        }
    }
    const auto& hex = doc["attestation"];
    if (!hex.is_string()) throw Error(Errc::malformed, "attestation request: \"attestation\" must be a hex string");
    return from_hex(hex.get<std::string>(), "attestation");
}

std::string_view trimmed(std::string_view text) {
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(" \t\r\n") - first + 1);
}

// A dstack container hands its event log over as part of the evidence, so a log whose RTMR3 events
// do not replay to the quote's RTMR3, or include an event its digest does not cover, rejects it.
// RTMR0-2 are not required to replay: dstack's lite attestations carry only the three ACPI digests
// of RTMR0 (their boot chain is predicted from the image: tdxkit measure), and no rule reads a boot
// event (eventlog.hpp, "What the quote vouches for").
Check runtime_log_check(const EventLog& log, const TdReportBody& body) {
    const auto replayed = replay_rtmrs(log);
    const auto unbound = find_unbound_rtmr3_event(log);
    const bool rtmr3_equal = equal_ct(replayed[3], body.rtmr[3]);
    std::size_t runtime = 0;
    for (const auto& e : log.events) runtime += e.imr == 3 ? 1 : 0;
    Check c{"event_log_rtmr3", rtmr3_equal && !unbound, {}};
    if (!rtmr3_equal) {
        c.detail = fmt::format("the log's {} RTMR3 events replay to {}, the quote's RTMR3 is {}: the event log is not "
                               "the one this TD measured (swapped or altered)",
                               runtime, to_hex(replayed[3]), to_hex(body.rtmr[3]));
    } else if (unbound) {
        c.detail = fmt::format("event {}: {}", unbound->index, unbound->reason);
    } else {
        const bool boot_equal = !compare_rtmrs(replayed, body).has_value();
        c.detail = fmt::format("the log's {} RTMR3 events replay to the quote's RTMR3; RTMR0-2 {}", runtime,
                               boot_equal ? "replay as well"
                                          : "do not replay from this log (a stripped or lite log), so its boot "
                                            "events are labels only");
    }
    return c;
}

}  // namespace

Evidence decode_evidence(ByteSpan data, InputFormat format) {
    const bool automatic = format == InputFormat::automatic;
    if ((automatic || format == InputFormat::raw) && looks_like_certificate(data)) {
        return from_certificate(parse_certificate(data));
    }
    const auto text = trimmed(as_text(data));
    if ((automatic || format == InputFormat::json) && text.starts_with('{')) {
        if (auto bytes = attestation_from_json(data)) {
            auto e = from_attestation(*bytes);
            e.container = "dstack-verifier request {\"attestation\": hex}";
            e.format = InputFormat::json;
            return e;
        }
    } else if (automatic || format == InputFormat::hex) {
        // Decoding is also the test for hex: one pass over the text, whichever container it holds. A
        // binary input is never all hex digits (a quote starts with its version, 4 or 5).
        if (auto bytes = detail::decode_if_hex(text)) {
            if (starts_attestation(*bytes)) {
                auto e = from_attestation(*bytes);
                e.container = "dstack versioned attestation";
                e.format = InputFormat::hex;
                return e;
            }
            Evidence e;
            e.container = "hex";
            e.format = InputFormat::hex;
            e.quote = std::move(*bytes);
            return e;
        }
    }
    if ((automatic || format == InputFormat::raw) && starts_attestation(data)) return from_attestation(data);
    const auto input = decode_quote_input(data, format);
    Evidence e;
    e.container = input.container;
    e.format = input.format;
    e.quote = input.quote;
    if (input.event_log) e.event_log = parse_dstack_event_log(*input.event_log);
    return e;
}

Appraisal appraise_evidence(const Evidence& evidence, const Quote& quote, const Collateral& collateral,
                            const Policy& policy, AppraisalOptions options) {
    // One time for the certificate, the collateral and the policy alike.
    if (!options.now) options.now = now_utc();
    const auto* body = quote.td_body();
    if (evidence.certificate) {
        const auto& cert = *evidence.certificate;
        auto checks = check_certificate(cert, *options.now);
        options.container_checks.insert(options.container_checks.end(), checks.begin(), checks.end());
        // The binding of the certificate's key: the quote's REPORTDATA (signed by the TD's quote) must be
        // the hash of this exact SPKI. The TLS handshake, or whoever hands over the certificate file,
        // proves nothing else; without this check any genuine quote could be pasted into any certificate.
        const AppraisalOptions::ExpectedReportData bound{
            content_report_data(kTagRaTlsCert, cert.spki_der),
            "SHA-512(\"ratls-cert:\" || the certificate's SubjectPublicKeyInfo)"};
        if (options.expected_report_data && !equal_ct(options.expected_report_data->value, bound.value)) {
            throw Error(Errc::invalid_argument,
                        fmt::format("the expected report data ({}) differs from what an RA-TLS certificate binds ({}); "
                                    "a certificate's quote can only bind its key",
                                    options.expected_report_data->meaning, bound.meaning));
        }
        options.expected_report_data = bound;
    }
    if (evidence.attestation) {
        // The stack's report data is an unsigned copy; only the quote's is covered by a signature, so a
        // container whose copy differs says something the quote does not.
        Check copy{"attestation_report_data",
                   body != nullptr && equal_ct(evidence.attestation->report_data, body->report_data),
                   {}};
        copy.detail = copy.passed ? "the attestation's report data equals the quote's REPORTDATA"
                                  : fmt::format("the attestation says report data {}, the quote {}: the container "
                                                "was assembled from different evidence",
                                                to_hex(evidence.attestation->report_data),
                                                body != nullptr ? to_hex(body->report_data) : "(none)");
        options.container_checks.push_back(std::move(copy));
    }
    if ((evidence.certificate || evidence.attestation) && evidence.event_log && body != nullptr) {
        options.container_checks.push_back(runtime_log_check(*evidence.event_log, *body));
    }
    return appraise(quote, collateral, evidence.event_log ? &*evidence.event_log : nullptr, policy, options);
}

}  // namespace tdxkit::ratls
