// The tcb section's rules, on the verification report: the converged TCB status with its grace
// period for out-of-date platforms, each component's own status, advisories, TCB date and the
// freshness of Intel's collateral.

#include <algorithm>
#include <array>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "policy/policy_internal.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit::policy_internal {
namespace {

std::string status_list(const std::vector<TcbStatus>& statuses) {
    std::vector<std::string_view> names;
    std::transform(statuses.begin(), statuses.end(), std::back_inserter(names), tcb_status_name);
    return fmt::format("{}", fmt::join(names, ", "));
}

// "41d 3h 12m" rather than seconds: operators compare it with a policy written in days.
std::string format_duration(std::int64_t seconds) {
    if (seconds <= 0) return fmt::format("{}s", seconds);
    static constexpr std::array<std::pair<std::int64_t, char>, 4> kUnits{
        {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}}};
    std::vector<std::string> parts;
    for (const auto& [size, unit] : kUnits) {
        if (seconds >= size) parts.push_back(fmt::format("{}{}", seconds / size, unit));
        seconds %= size;
    }
    return fmt::format("{}", fmt::join(parts, " "));
}

// What the operator can do about a status.
std::string_view status_remedy(TcbStatus s) {
    switch (s) {
    case TcbStatus::up_to_date: return "nothing to fix";
    case TcbStatus::sw_hardening_needed:
        return "check that the software mitigations the advisories describe are in place";
    case TcbStatus::configuration_needed: return "change the platform BIOS configuration the advisories describe";
    case TcbStatus::configuration_and_sw_hardening_needed:
        return "change the platform BIOS configuration and check the software mitigations the advisories describe";
    case TcbStatus::out_of_date: return "update the platform firmware (microcode, BIOS) or TDX module";
    case TcbStatus::out_of_date_configuration_needed:
        return "update the platform firmware (microcode, BIOS) or TDX module and change the BIOS configuration";
    case TcbStatus::td_relaunch_advised: return "relaunch the TD so it runs on the updated TDX module";
    case TcbStatus::td_relaunch_advised_configuration_needed:
        return "relaunch the TD on the updated TDX module and change the BIOS configuration";
    case TcbStatus::revoked: return "the platform is revoked and cannot be trusted";
    }
    return "";
}

std::string status_context(const VerificationReport& report) {
    std::string out;
    if (!report.advisory_ids.empty()) out += fmt::format("; advisories {}", fmt::join(report.advisory_ids, ", "));
    for (const auto& s : report.shortfall) {
        out += fmt::format("; {} is {}, {} needs {}", s.component, s.actual, s.next_level_status, s.required);
    }
    return out;
}

// Intel's convergence keeps UpToDate when the TDX module or QE level only needs configuration or SW
// hardening (lib/docs/verification.md); this rule looks at each component's own status instead.
void check_component_statuses(const TcbPolicy& p, const VerificationReport& report, Evaluator& ev) {
    if (p.rejected_component_statuses.empty()) return;
    ev.rule();
    const std::array<std::pair<std::string_view, const std::optional<TcbStatus>*>, 3> components{
        {{"platform", &report.platform_status}, {"TDX module", &report.tdx_module_status}, {"QE", &report.qe_status}}};
    std::vector<std::string> hits;
    std::optional<TcbStatus> first;
    for (const auto& [name, status] : components) {
        if (*status && std::find(p.rejected_component_statuses.begin(), p.rejected_component_statuses.end(),
                                 **status) != p.rejected_component_statuses.end()) {
            hits.push_back(fmt::format("{} {}", name, tcb_status_name(**status)));
            if (!first) first = **status;
        }
    }
    if (!first) return;
    const auto rejected = status_list(p.rejected_component_statuses);
    ev.violate("tcb.rejected_component_statuses", fmt::format("no component in {}", rejected),
               fmt::format("{}", fmt::join(hits, ", ")),
               fmt::format("{} (rejected component statuses: {}; converged status {}); {}", fmt::join(hits, ", "),
                           rejected, tcb_status_name(*report.tcb_status), status_remedy(*first)));
}

void check_status(const TcbPolicy& p, const VerificationReport& report, UnixTime now, Evaluator& ev) {
    ev.rule();
    const auto status = *report.tcb_status;
    if (std::find(p.accepted_statuses.begin(), p.accepted_statuses.end(), status) != p.accepted_statuses.end()) return;
    const auto accepted = status_list(p.accepted_statuses);
    const std::string name = tcb_status_name(status);
    const auto context = status_context(report);
    const auto remedy = status_remedy(status);
    if (!p.out_of_date_grace_period || !tcb_status_is_out_of_date(status)) {
        ev.violate("tcb.accepted_statuses", accepted, name,
                   fmt::format("TCB status {} is not accepted (accepted: {}){}; {}{}", name, accepted, context, remedy,
                               status == TcbStatus::revoked ? "" : ", or accept the status explicitly"));
        return;
    }
    const auto grace = format_duration(*p.out_of_date_grace_period);
    if (!report.outdated_since) {
        ev.violate(
            "tcb.out_of_date_grace_period", fmt::format("{} within {}", name, grace),
            fmt::format("{} since an unknown date", name),
            fmt::format("TCB status {} is not accepted (accepted: {}) and the report does not say since when the "
                        "TCB is out of date, so the grace period of {} cannot apply{}; {}",
                        name, accepted, grace, context, remedy));
        return;
    }
    const auto age = now - *report.outdated_since;
    if (age <= *p.out_of_date_grace_period) return;
    ev.violate("tcb.out_of_date_grace_period", fmt::format("{} for at most {}", name, grace),
               fmt::format("{} since {}", name, format_rfc3339(*report.outdated_since)),
               fmt::format("TCB status {} since {} ({} ago) is past the grace period of {} (accepted: {}){}; {}", name,
                           format_rfc3339(*report.outdated_since), format_duration(age), grace, accepted, context,
                           remedy));
}

void check_advisories(const TcbPolicy& p, const VerificationReport& report, Evaluator& ev) {
    const auto listed = [](const std::vector<std::string>& list, const std::string& id) {
        return std::any_of(list.begin(), list.end(), [&](const std::string& entry) {
            return entry.size() == id.size() && std::equal(entry.begin(), entry.end(), id.begin(), [](char a, char b) {
                       return ascii_upper(a) == ascii_upper(b);
                   });
        });
    };
    const auto actual = fmt::format("[{}]", fmt::join(report.advisory_ids, ", "));
    if (p.accepted_advisory_ids) {
        ev.rule();
        std::vector<std::string> unlisted;
        std::copy_if(report.advisory_ids.begin(), report.advisory_ids.end(), std::back_inserter(unlisted),
                     [&](const std::string& id) { return !listed(*p.accepted_advisory_ids, id); });
        if (!unlisted.empty()) {
            ev.violate(
                "tcb.accepted_advisory_ids", fmt::format("[{}]", fmt::join(*p.accepted_advisory_ids, ", ")), actual,
                fmt::format("advisories {} apply to this platform but are not in the allow-list [{}]; update the "
                            "platform, or review them and add them to tcb.accepted_advisory_ids",
                            fmt::join(unlisted, ", "), fmt::join(*p.accepted_advisory_ids, ", ")));
        }
    }
    if (!p.rejected_advisory_ids.empty()) {
        ev.rule();
        std::vector<std::string> denied;
        std::copy_if(report.advisory_ids.begin(), report.advisory_ids.end(), std::back_inserter(denied),
                     [&](const std::string& id) { return listed(p.rejected_advisory_ids, id); });
        if (!denied.empty()) {
            ev.violate("tcb.rejected_advisory_ids",
                       fmt::format("none of [{}]", fmt::join(p.rejected_advisory_ids, ", ")), actual,
                       fmt::format("advisories {} apply to this platform and are rejected by the policy; update the "
                                   "platform firmware or TDX module to a TCB level without them",
                                   fmt::join(denied, ", ")));
        }
    }
}

void check_tcb_date(const TcbPolicy& p, const VerificationReport& report, Evaluator& ev) {
    if (!p.min_tcb_date) return;
    ev.rule();
    const auto expected = fmt::format("on or after {}", format_rfc3339(*p.min_tcb_date));
    std::optional<UnixTime> date;
    try {
        date = parse_time(report.tcb_date);
    } catch (const Error&) {
        ev.violate("tcb.min_tcb_date", expected, report.tcb_date.empty() ? "absent" : report.tcb_date,
                   fmt::format("the report has no usable TCB date ('{}'), so the minimum {} cannot be confirmed",
                               report.tcb_date, format_rfc3339(*p.min_tcb_date)));
        return;
    }
    if (*date >= *p.min_tcb_date) return;
    ev.violate("tcb.min_tcb_date", expected, format_rfc3339(*date),
               fmt::format("TCB date {} is older than the minimum {}; update the platform firmware or TDX module to a "
                           "TCB level from that date or later",
                           format_rfc3339(*date), format_rfc3339(*p.min_tcb_date)));
}

// The same limit applies to Intel's two signed collateral items.
template <typename T>
struct CollateralFact {
    std::string_view item;
    const std::optional<T>& value;
};

void check_evaluation_number(const TcbPolicy& p, const VerificationReport& report, Evaluator& ev) {
    if (!p.min_tcb_evaluation_data_number) return;
    ev.rule();
    const auto min = *p.min_tcb_evaluation_data_number;
    for (const auto& [item, number] :
         {CollateralFact<std::uint32_t>{"TCB Info", report.tcb_evaluation_data_number},
          CollateralFact<std::uint32_t>{"QE Identity", report.qe_tcb_evaluation_data_number}}) {
        if (number && *number >= min) continue;
        const auto actual = number ? std::to_string(*number) : std::string("absent");
        ev.violate("tcb.min_tcb_evaluation_data_number", fmt::format(">= {}", min), actual,
                   fmt::format("{} has {}, the policy requires at least {}; fetch current collateral (after a TCB "
                               "recovery, also update the platform)",
                               item, number ? "tcbEvaluationDataNumber " + actual : "no tcbEvaluationDataNumber", min));
    }
}

void check_collateral_age(const TcbPolicy& p, const VerificationReport& report, UnixTime now, Evaluator& ev) {
    if (!p.max_collateral_age) return;
    ev.rule();
    const auto max = format_duration(*p.max_collateral_age);
    for (const auto& [item, issued] : {CollateralFact<UnixTime>{"TCB Info", report.tcb_info_issue_date},
                                       CollateralFact<UnixTime>{"QE Identity", report.qe_identity_issue_date}}) {
        if (!issued) {
            ev.violate("tcb.max_collateral_age", fmt::format("issued at most {} ago", max), "absent",
                       fmt::format("the report has no {} issue date, so its age cannot be checked", item));
        } else if (now - *issued > *p.max_collateral_age) {
            ev.violate("tcb.max_collateral_age", fmt::format("issued at most {} ago", max), format_rfc3339(*issued),
                       fmt::format("{} issued {} is {} old, older than {}; fetch current collateral", item,
                                   format_rfc3339(*issued), format_duration(now - *issued), max));
        }
    }
}

}  // namespace

void evaluate_tcb(const TcbPolicy& p, const VerificationReport& report, UnixTime now, Evaluator& ev) {
    if (!report.authentic || !report.tcb_status) {
        ev.rule();
        const auto actual = report.authentic
                                ? std::string("no TCB status")
                                : fmt::format("not authentic ({}: {})", report.failed_check, report.failure);
        ev.violate("tcb", "an authentic quote with a TCB status", actual,
                   fmt::format("{}, so no TCB rule can be satisfied; fix the verification failure first", actual));
        return;
    }
    check_status(p, report, now, ev);
    check_component_statuses(p, report, ev);
    check_advisories(p, report, ev);
    check_tcb_date(p, report, ev);
    check_evaluation_number(p, report, ev);
    check_collateral_age(p, report, now, ev);
}

}  // namespace tdxkit::policy_internal
