// The policy module's entry points besides parsing (parse.cpp) and rendering (policy_json.cpp):
// evaluation runs each section's rules (tcb_rules.cpp, td_rules.cpp, dstack_rules.cpp) in order.

#include "tdxkit/policy.hpp"

#include <algorithm>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "policy/policy_internal.hpp"

namespace tdxkit {

std::string policy_internal::hex_list(const DigestList& values) {
    std::vector<std::string> hex;
    std::transform(values.begin(), values.end(), std::back_inserter(hex), [](const Bytes& b) { return to_hex(b); });
    return fmt::format("[{}]", fmt::join(hex, ", "));
}

Policy default_policy() {
    Policy p;
    p.source = "<default>";
    return p;
}

PolicyResult evaluate_policy(const Policy& policy, const Quote& quote, const VerificationReport& report, UnixTime now) {
    return evaluate_policy(policy, quote, report, now, nullptr);
}

PolicyResult evaluate_policy(const Policy& policy, const Quote& quote, const VerificationReport& report, UnixTime now,
                             const EventLog* event_log) {
    policy_internal::Evaluator ev;
    policy_internal::evaluate_tcb(policy.tcb, report, now, ev);
    policy_internal::evaluate_td(policy.td, quote, ev);
    policy_internal::evaluate_qe(policy.qe, quote, ev);
    if (policy.dstack) policy_internal::evaluate_dstack(*policy.dstack, quote, event_log, ev);
    return std::move(ev).finish();
}

bool pins_workload(const Policy& policy) noexcept {
    const auto& td = policy.td;
    const bool td_pinned =
        td.mrtd || td.rtmr0 || td.rtmr1 || td.rtmr2 || td.rtmr3 || td.mrconfigid || td.mrowner || td.mrownerconfig;
    const auto& d = policy.dstack;
    const bool dstack_pinned =
        d && (d->compose_hashes || d->app_ids || d->instance_ids || d->os_image_hashes || d->key_provider);
    return td_pinned || dstack_pinned;
}

std::vector<std::string> verification_warnings(const Quote& quote, const Policy& policy) {
    std::vector<std::string> out;
    if (quote.trailing_bytes != 0) {
        out.push_back(fmt::format("the input has {} bytes after the quote; they are not part of the signed quote and "
                                  "were ignored",
                                  quote.trailing_bytes));
    }
    if (!pins_workload(policy)) {
        out.push_back(fmt::format("policy {} pins no measurement (no td register, no dstack identity rule), so it "
                                  "accepts any genuine TD whatever it runs; pin td.mrtd/td.rtmr* or dstack rules "
                                  "(tdxkit measure-compose --policy-out)",
                                  policy.source));
    }
    return out;
}

}  // namespace tdxkit
