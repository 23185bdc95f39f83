// tdxkit.verify/v1, the summary line and the verification text (tdxkit/report.hpp).

#include "tdxkit/report.hpp"

#include <array>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "core/json_writer.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/time.hpp"

namespace tdxkit {
namespace {

using nlohmann::json;

std::string opt_status(const std::optional<TcbStatus>& s) { return s ? tcb_status_name(*s) : ""; }

constexpr std::array<std::string_view, 4> kRtmrNames{"rtmr0", "rtmr1", "rtmr2", "rtmr3"};
const std::vector<std::string> kNoStrings;

void write_status(detail::JsonWriter& w, const std::optional<TcbStatus>& s) {
    if (s) {
        w.string(tcb_status_name(*s));
    } else {
        w.null();
    }
}

void write_time(detail::JsonWriter& w, const std::optional<UnixTime>& t) {
    if (t) {
        w.string(format_rfc3339(*t));
    } else {
        w.null();
    }
}

void write_checks(detail::JsonWriter& w, const std::vector<Check>& checks) {
    w.begin_array();
    for (const auto& c : checks) {
        w.begin_object();
        w.key("detail");
        w.string(c.detail);
        w.key("id");
        w.string(c.id);
        w.key("passed");
        w.boolean(c.passed);
        w.end_object();
    }
    w.end_array();
}

void write_level(detail::JsonWriter& w, const std::optional<TcbLevelResult>& l) {
    if (!l) {
        w.null();
        return;
    }
    w.begin_object();
    w.key("advisory_ids");
    w.strings(l->advisory_ids);
    if (!l->module_id.empty()) {
        w.key("id");
        w.string(l->module_id);
    }
    if (l->isvsvn) {
        w.key("isvsvn");
        w.number(*l->isvsvn);
    }
    w.key("status");
    w.string(l->status);
    w.key("tcb_date");
    w.string(l->tcb_date);
    w.end_object();
}

void write_quote_summary(detail::JsonWriter& w, const Quote& q, const VerificationReport* r) {
    const auto* td = q.td_body();
    const auto* sgx = td == nullptr ? q.sgx_body() : nullptr;
    const auto hex = [&w](std::string_view name, ByteSpan bytes) {
        w.key(name);
        w.string(to_hex(bytes));
    };
    w.begin_object();
    w.key("body_type");
    w.string(body_type_name(q.body_type));
    w.key("ca_type");
    w.string(r ? r->pck_ca_type : "");
    w.key("fmspc");
    w.string(r ? r->fmspc : "");
    if (td != nullptr) hex("mr_config_id", td->mr_config_id);
    if (sgx != nullptr) {
        hex("mr_enclave", sgx->mr_enclave);
        hex("mr_signer", sgx->mr_signer);
    }
    if (td != nullptr) hex("mr_td", td->mr_td);
    w.key("pce_id");
    w.string(r ? r->pce_id : "");
    if (td != nullptr || sgx != nullptr)
        hex("report_data", td != nullptr ? ByteSpan(td->report_data) : sgx->report_data);
    if (td != nullptr) {
        for (std::size_t i = 0; i < kRtmrNames.size(); ++i) hex(kRtmrNames[i], td->rtmr[i]);
        hex("td_attributes", td->td_attributes);
        hex("tee_tcb_svn", td->tee_tcb_svn);
    }
    w.key("tee_type");
    w.string(q.is_tdx() ? "TDX" : "SGX");
    w.key("version");
    w.number(q.header.version);
    w.end_object();
}

void write_collateral(detail::JsonWriter& w, const VerificationReport& r) {
    w.begin_object();
    w.key("source");
    w.string(r.collateral_source);
    w.key("tcb_evaluation_data_number");
    if (r.tcb_evaluation_data_number) {
        w.number(*r.tcb_evaluation_data_number);
    } else {
        w.null();
    }
    w.key("valid_from");
    write_time(w, r.collateral_earliest_issue);
    w.key("valid_until");
    write_time(w, r.collateral_earliest_expiry);
    w.end_object();
}

void write_tcb(detail::JsonWriter& w, const VerificationReport& r) {
    w.begin_object();
    w.key("advisory_ids");
    w.strings(r.advisory_ids);
    w.key("outdated_since");
    write_time(w, r.outdated_since);
    w.key("platform_level");
    write_level(w, r.platform_level);
    w.key("platform_status");
    write_status(w, r.platform_status);
    w.key("qe_level");
    write_level(w, r.qe_level);
    w.key("qe_status");
    write_status(w, r.qe_status);
    w.key("shortfall");
    w.begin_array();
    for (const auto& s : r.shortfall) {
        w.begin_object();
        w.key("actual");
        w.number(s.actual);
        w.key("component");
        w.string(s.component);
        w.key("next_level_status");
        w.string(s.next_level_status);
        w.key("next_level_tcb_date");
        w.string(s.next_level_tcb_date);
        w.key("required");
        w.number(s.required);
        w.end_object();
    }
    w.end_array();
    w.key("status");
    write_status(w, r.tcb_status);
    w.key("tcb_date");
    if (r.tcb_date.empty()) {
        w.null();
    } else {
        w.string(r.tcb_date);
    }
    w.key("td_current_status");
    write_status(w, r.td_current_status);
    w.key("td_launch_status");
    write_status(w, r.td_launch_status);
    w.key("tdx_module_level");
    write_level(w, r.tdx_module_level);
    w.key("tdx_module_status");
    write_status(w, r.tdx_module_status);
    w.end_object();
}

void write_policy(detail::JsonWriter& w, const PolicyResult& policy, std::string_view source) {
    w.begin_object();
    w.key("rules_checked");
    w.number(policy.rules_checked);
    w.key("satisfied");
    w.boolean(policy.satisfied);
    w.key("source");
    w.string(source);
    w.key("violations");
    w.begin_array();
    for (const auto& v : policy.violations) {
        w.begin_object();
        w.key("actual");
        w.string(v.actual);
        w.key("expected");
        w.string(v.expected);
        w.key("message");
        w.string(v.message);
        w.key("path");
        w.string(v.path);
        w.end_object();
    }
    w.end_array();
    w.end_object();
}

// A batch line's id, as parse_batch_request dumped it: a JSON scalar, or Error(invalid_argument).
json checked_id(std::string_view id_json) {
    try {
        auto id = detail::parse_json(id_json, "id");
        if (!id.is_structured()) return id;
    } catch (const Error&) {
    }
    throw Error(Errc::invalid_argument, fmt::format("id_json is not a JSON scalar: {:.40}", id_json));
}

// tdxkit.verify/v1 (lib/docs/json-schemas.md). Members are written in the bytewise order of their
// names, as every other tdxkit document has them (nlohmann's dump of a std::map).
void write_verify_document(detail::JsonWriter& w, const VerificationOutcome& o, const TrustRoot& root,
                           std::string_view id_json) {
    const auto* report = o.appraisal ? &o.appraisal->report : nullptr;
    w.begin_object();
    if (report != nullptr) {
        w.key("checks");
        write_checks(w, report->checks);
        w.key("collateral");
        write_collateral(w, *report);
    }
    w.key("container");
    if (o.container.empty()) {
        w.null();
    } else {
        w.begin_object();
        w.key("name");
        w.string(o.container);
        w.key("source");
        w.string(o.container_source);
        w.end_object();
    }
    if (o.error) {
        w.key("error");
        w.begin_object();
        w.key("code");
        w.string(errc_name(o.error->code()));
        w.key("message");
        w.string(o.error->what());
        w.end_object();
    }
    if (o.appraisal) {
        w.key("event_log");
        if (o.event_log) {
            w.begin_object();
            w.key("container");
            w.string(o.event_log->container);
            w.key("events");
            w.number(o.event_log->events);
            w.key("source");
            w.string(o.event_log->source);
            w.end_object();
        } else {
            w.null();
        }
        w.key("evidence_checks");
        write_checks(w, o.appraisal->evidence_checks);
    }
    if (!id_json.empty()) {
        w.key("id");
        w.raw(checked_id(id_json).dump(-1, ' ', false, json::error_handler_t::replace));
    }
    if (o.appraisal) {
        w.key("policy");
        write_policy(w, o.appraisal->policy_result, o.policy_source);
    }
    if (o.quote) {
        w.key("quote");
        write_quote_summary(w, *o.quote, report);
    }
    w.key("reason");
    w.string(o.reason());
    w.key("result");
    w.string(o.result());
    w.key("schema");
    w.string("tdxkit.verify/v1");
    if (report != nullptr) {
        w.key("tcb");
        write_tcb(w, *report);
    }
    w.key("trust_root");
    w.begin_object();
    w.key("intel");
    w.boolean(root.is_intel_production);
    w.key("sha256");
    w.string(to_hex(sha256(root.certificate_der)));
    w.end_object();
    if (report != nullptr) {
        w.key("verified_at");
        w.string(format_rfc3339(report->verified_at));
    }
    w.key("warnings");
    w.strings(o.appraisal ? o.appraisal->warnings : kNoStrings);
    w.end_object();
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

std::string render_verify_json(const VerificationOutcome& outcome, const TrustRoot& root, int indent,
                               std::string_view id_json) {
    std::string out;
    out.reserve(8192);
    detail::JsonWriter writer(out, indent);
    write_verify_document(writer, outcome, root, id_json);
    return out;
}

std::string render_verify_summary(const VerificationOutcome& outcome, std::string_view id_json) {
    // The one line per quote of a fleet batch. `id_json` is our own dump of a scalar
    // (parse_batch_request), inserted as it is.
    const auto* report = outcome.appraisal ? &outcome.appraisal->report : nullptr;
    const auto* td = outcome.quote ? outcome.quote->td_body() : nullptr;
    std::string out;
    out.reserve(1024);
    detail::JsonWriter w(out, -1);
    w.begin_object();
    w.key("accepted");
    w.boolean(outcome.result() == "ok");
    w.key("advisory_ids");
    w.strings(report != nullptr ? report->advisory_ids : kNoStrings);
    if (outcome.error) {
        w.key("error");
        w.string(errc_name(outcome.error->code()));
    }
    w.key("fmspc");
    if (report != nullptr && !report->fmspc.empty()) {
        w.string(report->fmspc);
    } else {
        w.null();
    }
    w.key("id");
    if (id_json.empty()) {
        w.null();
    } else {
        (void)checked_id(id_json);  // inserted as written, so it must be one JSON scalar
        w.raw(id_json);
    }
    if (td != nullptr) {
        w.key("mr_config_id");
        w.string(to_hex(td->mr_config_id));
        w.key("mr_td");
        w.string(to_hex(td->mr_td));
    }
    w.key("reason");
    w.string(outcome.reason());
    w.key("result");
    w.string(outcome.result());
    if (td != nullptr) {
        for (std::size_t i = 0; i < kRtmrNames.size(); ++i) {
            w.key(kRtmrNames[i]);
            w.string(to_hex(td->rtmr[i]));
        }
    }
    w.key("schema");
    w.string("tdxkit.verify-summary/v1");
    w.key("tcb_status");
    write_status(w, report != nullptr ? report->tcb_status : std::nullopt);
    w.end_object();
    return out;
}

}  // namespace tdxkit
