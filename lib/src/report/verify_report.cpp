// tdxkit.verify/v1, the summary line and the verification text (tdxkit/report.hpp).

#include "tdxkit/report.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/time.hpp"

namespace tdxkit {
namespace {

using nlohmann::json;

std::string opt_status(const std::optional<TcbStatus>& s) { return s ? tcb_status_name(*s) : ""; }
json opt_status_json(const std::optional<TcbStatus>& s) { return s ? json(tcb_status_name(*s)) : json(nullptr); }
json opt_time_json(const std::optional<UnixTime>& t) { return t ? json(format_rfc3339(*t)) : json(nullptr); }

json level_json(const std::optional<TcbLevelResult>& l) {
    if (!l) return nullptr;
    json j{{"status", l->status}, {"tcb_date", l->tcb_date}, {"advisory_ids", l->advisory_ids}};
    if (l->isvsvn) j["isvsvn"] = *l->isvsvn;
    if (!l->module_id.empty()) j["id"] = l->module_id;
    return j;
}

json quote_summary_json(const Quote& q, const VerificationReport* r) {
    json j{{"version", q.header.version},
           {"tee_type", q.is_tdx() ? "TDX" : "SGX"},
           {"body_type", body_type_name(q.body_type)},
           {"fmspc", r ? r->fmspc : ""},
           {"pce_id", r ? r->pce_id : ""},
           {"ca_type", r ? r->pck_ca_type : ""}};
    if (const auto* td = q.td_body()) {
        j["mr_td"] = to_hex(td->mr_td);
        for (std::size_t i = 0; i < 4; ++i) j[fmt::format("rtmr{}", i)] = to_hex(td->rtmr[i]);
        j["mr_config_id"] = to_hex(td->mr_config_id);
        j["report_data"] = to_hex(td->report_data);
        j["tee_tcb_svn"] = to_hex(td->tee_tcb_svn);
        j["td_attributes"] = to_hex(td->td_attributes);
    } else if (const auto* sgx = q.sgx_body()) {
        j["mr_enclave"] = to_hex(sgx->mr_enclave);
        j["mr_signer"] = to_hex(sgx->mr_signer);
        j["report_data"] = to_hex(sgx->report_data);
    }
    return j;
}

json verify_document(const VerificationOutcome& o, const TrustRoot& root) {
    const auto* report = o.appraisal ? &o.appraisal->report : nullptr;
    json doc{{"schema", "tdxkit.verify/v1"},
             {"result", o.result()},
             {"reason", o.reason()},
             {"warnings", o.appraisal ? o.appraisal->warnings : std::vector<std::string>{}}};
    doc["trust_root"] = {{"intel", root.is_intel_production}, {"sha256", to_hex(sha256(root.certificate_der))}};
    doc["container"] =
        o.container.empty() ? json(nullptr) : json{{"name", o.container}, {"source", o.container_source}};
    if (o.quote) doc["quote"] = quote_summary_json(*o.quote, report);
    if (report != nullptr) {
        const auto& r = *report;
        doc["verified_at"] = format_rfc3339(r.verified_at);
        doc["collateral"] = {{"source", r.collateral_source},
                             {"tcb_evaluation_data_number",
                              r.tcb_evaluation_data_number ? json(*r.tcb_evaluation_data_number) : json(nullptr)},
                             {"valid_from", opt_time_json(r.collateral_earliest_issue)},
                             {"valid_until", opt_time_json(r.collateral_earliest_expiry)}};
        json checks = json::array();
        for (const auto& c : r.checks) checks.push_back({{"id", c.id}, {"passed", c.passed}, {"detail", c.detail}});
        doc["checks"] = std::move(checks);
        json shortfall = json::array();
        for (const auto& s : r.shortfall) {
            shortfall.push_back({{"component", s.component},
                                 {"actual", s.actual},
                                 {"required", s.required},
                                 {"next_level_status", s.next_level_status},
                                 {"next_level_tcb_date", s.next_level_tcb_date}});
        }
        doc["tcb"] = {{"status", opt_status_json(r.tcb_status)},
                      {"platform_status", opt_status_json(r.platform_status)},
                      {"tdx_module_status", opt_status_json(r.tdx_module_status)},
                      {"qe_status", opt_status_json(r.qe_status)},
                      {"td_launch_status", opt_status_json(r.td_launch_status)},
                      {"td_current_status", opt_status_json(r.td_current_status)},
                      {"advisory_ids", r.advisory_ids},
                      {"tcb_date", r.tcb_date.empty() ? json(nullptr) : json(r.tcb_date)},
                      {"outdated_since", opt_time_json(r.outdated_since)},
                      {"platform_level", level_json(r.platform_level)},
                      {"tdx_module_level", level_json(r.tdx_module_level)},
                      {"qe_level", level_json(r.qe_level)},
                      {"shortfall", std::move(shortfall)}};
    }
    if (o.appraisal) {
        const auto& policy = o.appraisal->policy_result;
        json violations = json::array();
        for (const auto& v : policy.violations) {
            violations.push_back(
                {{"path", v.path}, {"expected", v.expected}, {"actual", v.actual}, {"message", v.message}});
        }
        json evidence = json::array();
        for (const auto& c : o.appraisal->evidence_checks) {
            evidence.push_back({{"id", c.id}, {"passed", c.passed}, {"detail", c.detail}});
        }
        doc["evidence_checks"] = std::move(evidence);
        doc["event_log"] = o.event_log ? json{{"source", o.event_log->source},
                                              {"container", o.event_log->container},
                                              {"events", o.event_log->events}}
                                       : json(nullptr);
        doc["policy"] = {{"source", o.policy_source},
                         {"satisfied", policy.satisfied},
                         {"rules_checked", policy.rules_checked},
                         {"violations", std::move(violations)}};
    }
    if (o.error) {
        doc["error"] = {{"code", errc_name(o.error->code())}, {"message", o.error->what()}};
    }
    return doc;
}

}  // namespace

std::string render_verify_text(const VerificationOutcome& o) {
    std::string out = o.result() == "ok" ? "OK\n" : fmt::format("REJECTED: {}\n", o.reason());
    const auto line = [&](std::string_view key, const std::string& value) {
        out += fmt::format("{:<14}{}\n", key, value);
    };
    if (!o.appraisal) return out;
    const auto& r = o.appraisal->report;
    if (o.quote) {
        line("Quote:", fmt::format("v{} {} ({}), FMSPC {}, PCE-ID {}, {} CA", o.quote->header.version,
                                   o.quote->is_tdx() ? "TDX" : "SGX", body_type_name(o.quote->body_type),
                                   r.fmspc.empty() ? "?" : r.fmspc, r.pce_id.empty() ? "?" : r.pce_id,
                                   r.pck_ca_type.empty() ? "?" : r.pck_ca_type));
    }
    if (!o.container.empty()) {
        line("Container:",
             o.container_source.empty() ? o.container : fmt::format("{}, {}", o.container, o.container_source));
    }
    line("Verified at:", format_rfc3339(r.verified_at));
    line("Trust root:", r.trust_root_is_intel ? "Intel SGX Root CA (pinned)" : "CUSTOM (test/development only)");
    line("Collateral:", fmt::format("{}{}", r.collateral_source,
                                    r.tcb_evaluation_data_number
                                        ? fmt::format(", TCB evaluation data number {}", *r.tcb_evaluation_data_number)
                                        : ""));
    if (r.collateral_earliest_issue && r.collateral_earliest_expiry) {
        line("Valid:", fmt::format("{} .. {}", format_rfc3339(*r.collateral_earliest_issue),
                                   format_rfc3339(*r.collateral_earliest_expiry)));
    }
    if (r.tcb_status) {
        std::string parts = fmt::format("platform {}", opt_status(r.platform_status));
        if (r.tdx_module_status) parts += fmt::format(", TDX module {}", opt_status(r.tdx_module_status));
        parts += fmt::format(", QE {}", opt_status(r.qe_status));
        if (r.td_current_status) {
            parts += fmt::format(", TD launch {} / current {}", opt_status(r.td_launch_status),
                                 opt_status(r.td_current_status));
        }
        line("TCB status:", fmt::format("{} ({}), tcbDate {}", tcb_status_name(*r.tcb_status), parts, r.tcb_date));
        line("Advisories:", r.advisory_ids.empty() ? "none" : fmt::format("{}", fmt::join(r.advisory_ids, ", ")));
    }
    for (const auto& s : r.shortfall) {
        line("Shortfall:", fmt::format("{} is {}, the next level ({} from {}) needs {}", s.component, s.actual,
                                       s.next_level_status, s.next_level_tcb_date, s.required));
    }
    if (o.event_log) {
        line("Event log:",
             fmt::format("{} ({}, {} events)", o.event_log->source, o.event_log->container, o.event_log->events));
    }
    {
        const auto& p = o.appraisal->policy_result;
        line("Policy:", fmt::format("{}: {} of {} rules satisfied", o.policy_source,
                                    p.rules_checked - p.violations.size(), p.rules_checked));
        for (const auto& v : p.violations) out += fmt::format("  violation: {}\n", v.message);
    }
    out += "Checks:\n";
    for (const auto& checks : {&r.checks, &o.appraisal->evidence_checks}) {
        for (const auto& c : *checks) {
            out += fmt::format("  [{}] {:<24} {}\n", c.passed ? " ok " : "FAIL", c.id, c.detail);
        }
    }
    return out;
}

VerificationOutcome appraise_outcome(const ratls::Evidence& evidence, const Collateral& collateral,
                                     const Policy& policy, const AppraisalOptions& options,
                                     std::string_view log_source) {
    VerificationOutcome o;
    o.container = evidence.container;
    o.container_source = evidence.source;
    o.policy_source = policy.source;
    o.quote = parse_quote(evidence.quote);
    if (const auto& log = evidence.event_log) {
        o.event_log = {log_source.empty() ? evidence.container : std::string(log_source), log->container,
                       log->events.size()};
    }
    o.appraisal = ratls::appraise_evidence(evidence, *o.quote, collateral, policy, options);
    return o;
}

std::string_view VerificationOutcome::result() const noexcept {
    if (error) return "error";
    return appraisal && appraisal->accepted ? "ok" : "rejected";
}

std::string VerificationOutcome::reason() const {
    if (error) return error->what();
    return appraisal ? appraisal->reason : std::string();
}

namespace {

// A batch line's id, as parse_batch_request dumped it: a JSON scalar, or Error(invalid_argument).
json checked_id(std::string_view id_json) {
    try {
        auto id = detail::parse_json(id_json, "id");
        if (!id.is_structured()) return id;
    } catch (const Error&) {
    }
    throw Error(Errc::invalid_argument, fmt::format("id_json is not a JSON scalar: {:.40}", id_json));
}

}  // namespace

std::string render_verify_json(const VerificationOutcome& outcome, const TrustRoot& root, int indent,
                               std::string_view id_json) {
    auto doc = verify_document(outcome, root);
    if (!id_json.empty()) doc["id"] = checked_id(id_json);
    return doc.dump(indent, ' ', false, json::error_handler_t::replace);
}

std::string render_verify_summary(const VerificationOutcome& outcome, std::string_view id_json) {
    // Written directly rather than through a json object: this is the one line per quote of a fleet
    // batch, and building, sorting and dumping a document cost a twentieth of the batch. Members are
    // in the order nlohmann's (sorted) dump gives every other document; strings go through its
    // escaping. `id_json` is our own dump of a scalar (parse_batch_request), inserted as is.
    const auto string = [](std::string_view text) {
        return json(text).dump(-1, ' ', false, json::error_handler_t::replace);
    };
    const auto* report = outcome.appraisal ? &outcome.appraisal->report : nullptr;
    const auto* td = outcome.quote ? outcome.quote->td_body() : nullptr;
    const bool accepted = outcome.result() == "ok";

    std::string out = fmt::format(R"({{"accepted":{},"advisory_ids":)", accepted);
    out += report != nullptr ? json(report->advisory_ids).dump(-1, ' ', false, json::error_handler_t::replace) : "[]";
    if (outcome.error) out += fmt::format(R"(,"error":"{}")", errc_name(outcome.error->code()));
    out += R"(,"fmspc":)";
    out += report != nullptr && !report->fmspc.empty() ? string(report->fmspc) : "null";
    out += R"(,"id":)";
    if (id_json.empty()) {
        out += "null";
    } else {
        (void)checked_id(id_json);  // inserted as written, so it must be one JSON scalar
        out += id_json;
    }
    if (td != nullptr) {
        out += fmt::format(R"(,"mr_config_id":"{}","mr_td":"{}")", to_hex(td->mr_config_id), to_hex(td->mr_td));
    }
    out += R"(,"reason":)";
    out += string(outcome.reason());
    out += fmt::format(R"(,"result":"{}")", outcome.result());
    if (td != nullptr) {
        for (std::size_t i = 0; i < td->rtmr.size(); ++i)
            out += fmt::format(R"(,"rtmr{}":"{}")", i, to_hex(td->rtmr[i]));
    }
    out += R"(,"schema":"tdxkit.verify-summary/v1","tcb_status":)";
    out +=
        report != nullptr && report->tcb_status ? fmt::format(R"("{}")", tcb_status_name(*report->tcb_status)) : "null";
    out += '}';
    return out;
}

}  // namespace tdxkit
