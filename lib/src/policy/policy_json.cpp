// policy_to_json: the effective policy as a version-1 document, written from the same tables the
// parser reads, so that parse_policy accepts it back.

#include <string>

#include <nlohmann/json.hpp>

#include "policy/policy_internal.hpp"
#include "tdxkit/policy.hpp"

namespace tdxkit {

using nlohmann::ordered_json;
using policy_internal::kDigestFields;
using policy_internal::kDstackLists;
using policy_internal::kMaskedFields;

std::string policy_to_json(const Policy& policy) {
    ordered_json out;
    out["version"] = kPolicyVersion;

    const auto& tcb = policy.tcb;
    auto& t = out["tcb"];
    t["accepted_statuses"] = ordered_json::array();
    for (const auto s : tcb.accepted_statuses) t["accepted_statuses"].push_back(tcb_status_name(s));
    if (tcb.accepted_advisory_ids) t["accepted_advisory_ids"] = *tcb.accepted_advisory_ids;
    if (!tcb.rejected_component_statuses.empty()) {
        auto& list = t["rejected_component_statuses"] = ordered_json::array();
        for (const auto s : tcb.rejected_component_statuses) list.push_back(tcb_status_name(s));
    }
    if (!tcb.rejected_advisory_ids.empty()) t["rejected_advisory_ids"] = tcb.rejected_advisory_ids;
    if (tcb.min_tcb_date) t["min_tcb_date"] = format_rfc3339(*tcb.min_tcb_date);
    if (tcb.min_tcb_evaluation_data_number) t["min_tcb_evaluation_data_number"] = *tcb.min_tcb_evaluation_data_number;
    if (tcb.max_collateral_age) t["max_collateral_age"] = *tcb.max_collateral_age;
    if (tcb.out_of_date_grace_period) t["out_of_date_grace_period"] = *tcb.out_of_date_grace_period;

    auto& td = out["td"];
    for (const auto& f : kDigestFields) {
        if (const auto& values = policy.td.*(f.member)) {
            auto& list = td[std::string(f.key)] = ordered_json::array();
            for (const auto& v : *values) list.push_back(to_hex(v));
        }
    }
    for (const auto& f : kMaskedFields) {
        if (const auto& rule = policy.td.*(f.member)) {
            td[std::string(f.key)] = {{"value", to_hex(rule->value)}, {"mask", to_hex(rule->mask)}};
        }
    }
    td["allow_debug"] = policy.td.allow_debug;
    if (policy.td.min_tee_tcb_svn) td["min_tee_tcb_svn"] = to_hex(*policy.td.min_tee_tcb_svn);

    if (policy.qe.min_isvsvn) out["qe"]["min_isvsvn"] = *policy.qe.min_isvsvn;
    if (const auto& d = policy.dstack) {
        auto& ds = out["dstack"] = ordered_json::object();
        for (const auto& l : kDstackLists) {
            if (const auto& values = (*d).*(l.member)) {
                auto& list = ds[std::string(l.key)] = ordered_json::array();
                for (const auto& v : *values) list.push_back(to_hex(v));
            }
        }
        if (d->key_provider) {
            auto& kp = ds["key_provider"] = ordered_json::object();
            if (d->key_provider->name) kp["name"] = *d->key_provider->name;
            if (d->key_provider->id) kp["id"] = to_hex(*d->key_provider->id);
        }
        ds["require_event_log"] = d->require_event_log;
    }
    // A policy built in code may hold any bytes; invalid UTF-8 is shown replaced, never thrown.
    return out.dump(2, ' ', false, ordered_json::error_handler_t::replace);
}

}  // namespace tdxkit
