// `tdxkit verify`: DCAP verification (collateral from a file, the cache or PCS/PCCS), then a policy;
// one quote, or a batch of JSON lines on worker threads.

#include <algorithm>
#include <atomic>
#include <limits>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "collateral_options.hpp"
#include "tdxkit/appraise.hpp"
#include "tdxkit/collateral.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/input.hpp"
#include "tdxkit/policy.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/verify.hpp"

namespace tdxkit::cli {
namespace {

using nlohmann::json;

struct VerifyCommand {
    std::string quote_path;
    std::string format = "auto";
    CollateralCliOptions sources;
    std::string policy;
    std::string at;
    std::string trust_root;
    std::string event_log;
    std::string batch;
    unsigned jobs = 0;
};

constexpr std::size_t kMaxQuoteInput = 8 * kMaxQuoteSize;
constexpr std::size_t kMaxSmallFile = 1024 * 1024;

struct Outcome {
    std::optional<Quote> quote;
    std::optional<VerificationReport> report;
    std::optional<PolicyResult> policy_result;
    std::optional<Policy> policy;
    std::optional<EventLog> event_log;
    std::string event_log_source;
    std::string reason;
    std::vector<std::string> warnings;
    int exit_code = kOk;
};

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

json verify_document(const Outcome& o, const TrustRoot& root) {
    json doc{{"schema", "tdxkit.verify/v1"},
             {"result", o.exit_code == kOk         ? "ok"
                        : o.exit_code == kRejected ? "rejected"
                                                   : "error"},
             {"reason", o.reason},
             {"warnings", o.warnings}};
    doc["trust_root"] = {{"intel", root.is_intel_production}, {"sha256", to_hex(sha256(root.certificate_der))}};
    if (o.quote) doc["quote"] = quote_summary_json(*o.quote, o.report ? &*o.report : nullptr);
    if (o.report) {
        const auto& r = *o.report;
        doc["verified_at"] = format_rfc3339(r.verified_at);
        doc["collateral"] = {{"source", r.collateral_source},
                             {"tcb_evaluation_data_number",
                              r.tcb_evaluation_data_number ? json(*r.tcb_evaluation_data_number) : json(nullptr)},
                             {"valid_from", opt_time_json(r.collateral_earliest_issue)},
                             {"valid_until", opt_time_json(r.collateral_earliest_expiry)}};
        json checks = json::array();
        for (const auto& c : r.checks) checks.push_back({{"id", c.id}, {"passed", c.passed}, {"detail", c.detail}});
        doc["checks"] = checks;
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
                      {"shortfall", shortfall}};
    }
    if (o.policy_result && o.policy) {
        json violations = json::array();
        for (const auto& v : o.policy_result->violations) {
            violations.push_back(
                {{"path", v.path}, {"expected", v.expected}, {"actual", v.actual}, {"message", v.message}});
        }
        doc["event_log"] = o.event_log ? json{{"source", o.event_log_source},
                                              {"container", o.event_log->container},
                                              {"events", o.event_log->events.size()}}
                                       : json(nullptr);
        doc["policy"] = {{"source", o.policy->source},
                         {"satisfied", o.policy_result->satisfied},
                         {"rules_checked", o.policy_result->rules_checked},
                         {"violations", violations}};
    }
    return doc;
}

std::string render_text(const Outcome& o) {
    std::string out = o.exit_code == kOk ? "OK\n" : fmt::format("REJECTED: {}\n", o.reason);
    const auto line = [&](std::string_view key, const std::string& value) {
        out += fmt::format("{:<14}{}\n", key, value);
    };
    if (!o.report) return out;
    const auto& r = *o.report;
    if (o.quote) {
        line("Quote:", fmt::format("v{} {} ({}), FMSPC {}, PCE-ID {}, {} CA", o.quote->header.version,
                                   o.quote->is_tdx() ? "TDX" : "SGX", body_type_name(o.quote->body_type),
                                   r.fmspc.empty() ? "?" : r.fmspc, r.pce_id.empty() ? "?" : r.pce_id,
                                   r.pck_ca_type.empty() ? "?" : r.pck_ca_type));
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
             fmt::format("{} ({}, {} events)", o.event_log_source, o.event_log->container, o.event_log->events.size()));
    }
    if (o.policy_result && o.policy) {
        const auto& p = *o.policy_result;
        line("Policy:", fmt::format("{}: {} of {} rules satisfied", o.policy->source,
                                    p.rules_checked - p.violations.size(), p.rules_checked));
        for (const auto& v : p.violations) out += fmt::format("  violation: {}\n", v.message);
    }
    out += "Checks:\n";
    for (const auto& c : r.checks) out += fmt::format("  [{}] {:<24} {}\n", c.passed ? " ok " : "FAIL", c.id, c.detail);
    return out;
}

// Everything needed to verify quotes, prepared once per run (and shared by batch workers).
struct Context {
    TrustRoot root;
    UnixTime now = 0;
    Policy policy;
    VerificationCache cache;
};

Outcome verify_input(const QuoteInput& input, const Collateral& collateral, const std::optional<EventLog>& given_log,
                     const std::string& given_log_source, Context& ctx) {
    Outcome o;
    o.quote = parse_quote(input.quote);
    if (given_log) {
        o.event_log = given_log;
        o.event_log_source = given_log_source;
    } else if (input.event_log) {
        o.event_log = parse_dstack_event_log(*input.event_log);
        o.event_log_source = input.container;
    }
    o.policy = ctx.policy;
    auto appraisal = appraise(*o.quote, collateral, o.event_log ? &*o.event_log : nullptr, ctx.policy,
                              AppraisalOptions{ctx.now, ctx.root, &ctx.cache});
    o.report = std::move(appraisal.report);
    o.policy_result = std::move(appraisal.policy_result);
    o.warnings = std::move(appraisal.warnings);
    o.reason = std::move(appraisal.reason);
    o.exit_code = appraisal.accepted ? kOk : kRejected;
    return o;
}

void init_context(const VerifyCommand& cmd, Context& ctx) {
    ctx.root = trust_root_option(cmd.trust_root);
    ctx.now = cmd.at.empty() ? now_utc() : parse_time(cmd.at);
    if (cmd.policy.empty()) {
        ctx.policy = default_policy();
    } else {
        const auto text = read_input(cmd.policy, kMaxSmallFile);
        ctx.policy =
            parse_policy(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()), cmd.policy);
    }
}

int run_single(const VerifyCommand& cmd, const GlobalOptions& global, Context& ctx) {
    Outcome o;
    try {
        const auto input =
            decode_quote_input(read_input(cmd.quote_path, kMaxQuoteInput), parse_input_format(cmd.format));
        std::optional<EventLog> log;
        if (!cmd.event_log.empty()) log = parse_event_log(read_input(cmd.event_log, kMaxEventLogSize));
        const auto quote = parse_quote(input.quote);
        const auto collateral = resolve_collateral(cmd.sources, quote, ctx.now, global.quiet || global.json, ctx.root);
        o = verify_input(input, collateral, log, cmd.event_log, ctx);
    } catch (const Error& e) {
        if (!global.json) throw;
        return print_json_error(verify_document(o, ctx.root), e);
    }
    if (!global.quiet) {
        for (const auto& w : o.warnings) warn(w);
    }
    write_output("-", as_bytes(global.json ? verify_document(o, ctx.root).dump(2) + "\n" : render_text(o)));
    return o.exit_code;
}

// --- Batch mode: JSON lines in, one tdxkit.verify/v1 line out per input line, in input order ---

// A line is at most a hex quote plus an event log; anything longer is refused for that line only.
constexpr std::size_t kMaxBatchLine = 4 * kMaxQuoteInput;

struct BatchLine {
    std::string text;
    json result;
    int exit_code = kOk;
};

// Collateral for each (FMSPC, CA, TEE) is resolved once per batch and shared by every worker.
class BatchCollateral {
public:
    BatchCollateral(const CollateralCliOptions& sources, const Context& ctx) : sources_(sources), ctx_(ctx) {}

    std::shared_ptr<const Collateral> get(const Quote& quote) {
        // With --collateral every quote shares it, and the PCK chain need not be decoded per quote.
        std::string key = "given";
        if (sources_.collateral.empty()) {
            const auto request = collateral_request_for(quote);
            key = fmt::format("{}/{}/{}", tee_type_name(request.tee), request.fmspc, pck_ca_type_name(request.ca));
        }
        std::lock_guard lock(mutex_);  // held while fetching: one fetch per key, never two racing
        auto& slot = entries_[key];
        if (!slot)
            slot = std::make_shared<const Collateral>(resolve_collateral(sources_, quote, ctx_.now, true, ctx_.root));
        return slot;
    }

private:
    const CollateralCliOptions& sources_;
    const Context& ctx_;
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<const Collateral>> entries_;
};

void verify_batch_line(BatchLine& line, BatchCollateral& collateral, Context& ctx) {
    BatchRequest request;
    Outcome o;
    try {
        parse_batch_request(line.text, request);
        const auto quote = parse_quote(request.input.quote);
        o = verify_input(request.input, *collateral.get(quote), std::nullopt, {}, ctx);
        line.result = verify_document(o, ctx.root);
        line.exit_code = o.exit_code;
    } catch (const Error& e) {
        line.result = verify_document(o, ctx.root);
        line.result["result"] = "error";
        line.result["reason"] = e.what();
        line.result["error"] = {{"code", errc_name(e.code())}, {"message", e.what()}};
        line.exit_code = exit_code_for(e.code());
    }
    // The library's canonical dump of a scalar.
    line.result["id"] = json::parse(request.id_json);
}

int run_batch(const VerifyCommand& cmd, const GlobalOptions& global, Context& ctx) {
    const auto data = read_input(cmd.batch, std::numeric_limits<std::size_t>::max() / 2);
    std::vector<BatchLine> lines;
    std::string_view rest{reinterpret_cast<const char*>(data.data()), data.size()};
    while (!rest.empty()) {
        const auto end = rest.find('\n');
        auto text = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
        if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
        if (text.find_first_not_of(" \t") == std::string_view::npos) continue;
        lines.push_back({std::string(text), {}, kOk});
        if (lines.back().text.size() > kMaxBatchLine) lines.back().text = "<line too long>";
    }
    if (!global.quiet && !pins_workload(ctx.policy)) {
        warn(fmt::format("policy {} pins no measurement, so it accepts any genuine TD whatever it runs (each result "
                         "lists this under \"warnings\")",
                         ctx.policy.source));
    }
    BatchCollateral collateral(cmd.sources, ctx);
    const unsigned workers =
        std::max(1U, std::min<unsigned>(cmd.jobs ? cmd.jobs : std::thread::hardware_concurrency(),
                                        static_cast<unsigned>(std::max<std::size_t>(1, lines.size()))));
    std::atomic<std::size_t> next{0};
    const auto work = [&] {
        for (std::size_t i = next++; i < lines.size(); i = next++) verify_batch_line(lines[i], collateral, ctx);
    };
    std::vector<std::thread> threads;
    for (unsigned t = 1; t < workers; ++t) threads.emplace_back(work);
    work();
    for (auto& t : threads) t.join();

    std::string out;
    std::size_t ok = 0;
    int status = kOk;
    for (const auto& line : lines) {
        out += line.result.dump() + "\n";
        if (line.exit_code == kOk)
            ++ok;
        else
            status = kRejected;
    }
    write_output("-", as_bytes(out));
    if (!global.quiet) fmt::print(stderr, "tdxkit: batch: {} of {} quotes verified\n", ok, lines.size());
    return status;
}

int run_verify(const VerifyCommand& cmd, const GlobalOptions& global) {
    if (cmd.quote_path.empty() == cmd.batch.empty()) {
        throw Error(Errc::invalid_argument, "give either a QUOTE or --batch FILE");
    }
    Context ctx;
    try {
        init_context(cmd, ctx);
    } catch (const Error& e) {
        // A bad --at, --policy or --trust-root is still answered with one JSON document.
        if (!global.json) throw;
        return print_json_error({{"schema", "tdxkit.verify/v1"}}, e);
    }
    return cmd.batch.empty() ? run_single(cmd, global, ctx) : run_batch(cmd, global, ctx);
}

}  // namespace

void register_verify(CLI::App& root, const GlobalOptions& global, int& rc) {
    auto cmd = std::make_shared<VerifyCommand>();
    auto* sub = root.add_subcommand("verify", "Verify a quote (Intel DCAP) and check it against a policy");
    sub->add_option("quote", cmd->quote_path, "Quote file (raw, hex, base64 or JSON container), '-' for stdin");
    sub->add_option("--format", cmd->format, "Quote input format")
        ->check(CLI::IsMember({"auto", "raw", "hex", "base64", "json"}))
        ->capture_default_str();
    add_collateral_options(sub, cmd->sources);
    sub->add_option("--policy", cmd->policy, "Policy file (JSON, lib/docs/policy.md); default: UpToDate TCB, no debug");
    sub->add_option("--at", cmd->at, "Verification time, RFC 3339 or unix seconds (default: now)");
    sub->add_option("--trust-root", cmd->trust_root,
                    "TEST ONLY: use this root certificate (PEM/DER) instead of Intel's pinned SGX Root CA");
    sub->add_option(
        "--event-log", cmd->event_log,
        "Event log for the policy's dstack rules (default: the one carried by a GetQuote or /tdx_quote input)");
    sub->add_option("--batch", cmd->batch,
                    "Verify JSON lines ({\"id\":..., \"quote\": hex|base64, \"event_log\": ...}) from FILE or '-'; "
                    "one result line each, in order");
    sub->add_option("--jobs", cmd->jobs, "Worker threads for --batch (default: all cores)");
    sub->callback([cmd, &global, &rc] { rc = run_verify(*cmd, global); });
}

}  // namespace tdxkit::cli
