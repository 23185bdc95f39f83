#include "tdxkit/appraise.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace tdxkit {
namespace {

// The quote's REPORTDATA is covered by the quote signature (and, through the QE report, by the PCK
// chain), so once the quote is authentic this comparison ties the quote to whatever `expected` hashes.
Check report_data_check(const Quote& quote, const AppraisalOptions::ExpectedReportData& expected) {
    Check c{"report_data_binding", false, {}};
    const auto* body = quote.td_body();
    if (body == nullptr) {
        c.detail = "the quote has no TD report, so it carries no REPORTDATA to bind";
        return c;
    }
    c.passed = equal_ct(body->report_data, expected.value);
    c.detail = c.passed ? fmt::format("REPORTDATA equals {}", expected.meaning)
                        : fmt::format("REPORTDATA is {}, expected {} = {}: the quote was made for other data (another "
                                      "key or nonce), so it does not vouch for this one",
                                      to_hex(body->report_data), expected.meaning, to_hex(expected.value));
    return c;
}

}  // namespace

Appraisal appraise(const Quote& quote, const Collateral& collateral, const EventLog* event_log, const Policy& policy,
                   const AppraisalOptions& options) {
    Appraisal a;
    // One time for verification and policy alike.
    const UnixTime now = options.now ? *options.now : now_utc();
    a.report = verify_quote(quote, collateral, VerifyOptions{now, options.trust_root, options.cache});
    a.policy_result = evaluate_policy(policy, quote, a.report, now, event_log);
    a.warnings = verification_warnings(quote, policy);
    a.evidence_checks = options.container_checks;
    if (options.expected_report_data) {
        a.evidence_checks.push_back(report_data_check(quote, *options.expected_report_data));
    }
    const auto failed_evidence =
        std::find_if(a.evidence_checks.begin(), a.evidence_checks.end(), [](const Check& c) { return !c.passed; });
    const auto& r = a.report;
    if (!r.authentic) {
        a.reason = fmt::format("{}: {}", r.failed_check, r.failure);
    } else if (failed_evidence != a.evidence_checks.end()) {
        a.reason = fmt::format("{}: {}", failed_evidence->id, failed_evidence->detail);
    } else if (r.tcb_status == TcbStatus::revoked) {
        // parse_policy refuses an accepted Revoked status; this holds for policies built in code too.
        a.reason = "TCB status is Revoked: a component of this platform has been revoked by Intel";
    } else if (!a.policy_result.satisfied) {
        a.reason = a.policy_result.violations.front().message;
    } else {
        a.accepted = true;
    }
    return a;
}

}  // namespace tdxkit
