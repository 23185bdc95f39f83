#pragma once

// Renderers for what a verification established: the tdxkit.verify/v1 document, the one-line
// tdxkit.verify-summary/v1 record for fleets, and the text an operator reads in a terminal. Every
// front end prints through these, so the CLI, batch mode and the service say the same thing.
// Formats: lib/docs/json-schemas.md.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "tdxkit/appraise.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/export.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/ratls.hpp"
#include "tdxkit/verify.hpp"

namespace tdxkit {

// Filled step by step. When `error` is set the input could not be checked (malformed, collateral
// unavailable, ...), and the other members hold what was established before it.
struct VerificationOutcome {
    struct EventLogInfo {
        std::string source;     // a file name, or the container that carried the log
        std::string container;  // EventLog::container
        std::size_t events = 0;
    };
    std::string container;         // what the quote came in (ratls::Evidence::container); "" when unknown
    std::string container_source;  // where in it (ratls::Evidence::source); "" for plain containers
    std::optional<Quote> quote;
    std::optional<Appraisal> appraisal;
    std::string policy_source;  // Policy::source of the policy the appraisal applied; "" before it
    std::optional<EventLogInfo> event_log;
    std::optional<Error> error;

    // "ok" (accepted), "rejected" (also when there is neither an error nor an appraisal), or "error"
    // (could not be checked).
    [[nodiscard]] TDXKIT_EXPORT std::string_view result() const noexcept;
    // The first reason: the error's message, the appraisal's reason, or "" when accepted.
    [[nodiscard]] TDXKIT_EXPORT std::string reason() const;
};

// The appraisal of `evidence` (ratls::decode_evidence) as `tdxkit verify` and the service run it: the
// quote parsed, the container and its log recorded, ratls::appraise_evidence applied. `log_source`
// names where evidence.event_log came from when the caller supplied it ("" for the container's own).
// Throws what parse_quote and appraise_evidence throw.
[[nodiscard]] TDXKIT_EXPORT VerificationOutcome appraise_outcome(const ratls::Evidence& evidence,
                                                                 const Collateral& collateral, const Policy& policy,
                                                                 const AppraisalOptions& options,
                                                                 std::string_view log_source = {});

// The renderers never throw for a well-formed `id_json`; text that is not UTF-8 is replaced (U+FFFD).
//
// tdxkit.verify/v1. `indent` < 0: one line. `id_json` (compact JSON of a scalar, as BatchRequest
// holds it) adds an "id" member when not empty; it must be valid JSON.
[[nodiscard]] TDXKIT_EXPORT std::string render_verify_json(const VerificationOutcome& outcome, const TrustRoot& root,
                                                           int indent, std::string_view id_json = {});
// tdxkit.verify-summary/v1, one line without the newline: id, result, accepted, reason, TCB status,
// advisories, FMSPC and the TD's measurements. An empty `id_json` is "id": null.
[[nodiscard]] TDXKIT_EXPORT std::string render_verify_summary(const VerificationOutcome& outcome,
                                                              std::string_view id_json);
// "OK" or "REJECTED: <reason>", then the facts and checks, one per line.
[[nodiscard]] TDXKIT_EXPORT std::string render_verify_text(const VerificationOutcome& outcome);

}  // namespace tdxkit
