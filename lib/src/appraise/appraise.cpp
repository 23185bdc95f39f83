#include "tdxkit/appraise.hpp"

#include <fmt/format.h>

namespace tdxkit {

Appraisal appraise(const Quote& quote, const Collateral& collateral, const EventLog* event_log, const Policy& policy,
                   const AppraisalOptions& options) {
    Appraisal a;
    // One time for verification and policy alike.
    const UnixTime now = options.now ? *options.now : now_utc();
    a.report = verify_quote(quote, collateral, VerifyOptions{now, options.trust_root, options.cache});
    a.policy_result = evaluate_policy(policy, quote, a.report, now, event_log);
    a.warnings = verification_warnings(quote, policy);
    const auto& r = a.report;
    if (!r.authentic) {
        a.reason = fmt::format("{}: {}", r.failed_check, r.failure);
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
