#pragma once

// One call from evidence to verdict. DCAP verification of the quote (verify.hpp), the event log's
// binding to it (eventlog.hpp, read only through the policy's dstack rules), the policy
// (policy.hpp), and the one rule no policy can relax: a Revoked TCB is never accepted. Every front
// end (tdxkit verify, verify --batch, atls-connect, the verification service) decides acceptance
// through appraise and nothing else.

#include <optional>
#include <string>
#include <vector>

#include "tdxkit/collateral.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/export.hpp"
#include "tdxkit/policy.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/time.hpp"
#include "tdxkit/verify.hpp"

namespace tdxkit {

struct AppraisalOptions {
    std::optional<UnixTime> now;                 // the verification time; unset: read the clock once
    TrustRoot trust_root = intel_sgx_root_ca();  // replacing it is for tests and development only
    VerificationCache* cache = nullptr;          // optional, shared by the verifications of a batch
    // What the quote's REPORTDATA must be, compared in constant time: a nonce the relying party chose, or
    // the hash of a key the container presents. A mismatch rejects ("report_data_binding").
    struct ExpectedReportData {
        Octets<64> value{};
        std::string meaning;  // what it binds, for the reason: e.g. SHA-512("ratls-cert:" || certificate SPKI)
    };
    std::optional<ExpectedReportData> expected_report_data{};
    // Checks the evidence's container made (an RA-TLS certificate's validity, say); a failed one rejects.
    std::vector<Check> container_checks{};
};

struct Appraisal {
    bool accepted = false;  // authentic, not Revoked, and the policy is satisfied
    // Empty when accepted; otherwise the first reason, starting with the failed check's id
    // ("quote_signature: ...") or the violated rule's path ("td.mrtd: ...").
    std::string reason;
    VerificationReport report;
    PolicyResult policy_result;  // every rule is evaluated, also when verification failed
    // What the operator should know that is not a reason to reject (verification_warnings).
    std::vector<std::string> warnings;
    // What ties the quote to its container, in order: options.container_checks, then
    // "report_data_binding" when options.expected_report_data was set. Empty for a bare quote.
    std::vector<Check> evidence_checks;
};

// No files or network; the clock only when options.now is unset. Reasons in order: the quote is not
// authentic, an evidence check failed, the TCB is Revoked, a policy rule is violated. `event_log` is the log that came
// with the quote (nullptr: none); a log counts only as far as bind_event_log vouches for it. Throws only for internal
// errors (Error(crypto) or Error(internal), as verify_quote and evaluate_policy); every problem with the evidence is a
// rejection with its reason.
[[nodiscard]] TDXKIT_EXPORT Appraisal appraise(const Quote& quote, const Collateral& collateral,
                                               const EventLog* event_log, const Policy& policy,
                                               const AppraisalOptions& options);

}  // namespace tdxkit
