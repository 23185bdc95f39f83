// `tdxkit verify`: DCAP verification (collateral from a file, the cache or PCS/PCCS), then a policy;
// one quote, or a batch of JSON lines on worker threads.

#include <cerrno>
#include <fstream>
#include <optional>

#include <fmt/format.h>

#include "cli.hpp"
#include "collateral_options.hpp"
#include "tdxkit/appraise.hpp"
#include "tdxkit/batch.hpp"
#include "tdxkit/collateral.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/input.hpp"
#include "tdxkit/policy.hpp"
#include "tdxkit/provider.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/ratls.hpp"
#include "tdxkit/report.hpp"
#include "tdxkit/verify.hpp"

namespace tdxkit::cli {
namespace {

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
    std::string output = "full";
    std::string expect_report_data;
};

// Hex doubles a versioned attestation, which dstack caps at kMaxAttestationSize.
constexpr std::size_t kMaxQuoteInput = 2 * kMaxAttestationSize + 1024;
constexpr std::size_t kMaxSmallFile = 1024 * 1024;

// Everything needed to verify quotes, prepared once per run (and shared by batch workers).
struct Context {
    TrustRoot root;
    UnixTime now = 0;
    Policy policy;
    VerificationCache cache;
    std::optional<AppraisalOptions::ExpectedReportData> expected_report_data;
};

// --expect-report-data: HEX (up to 64 bytes, zero-padded) or TAG:FILE, dstack's SHA-512(TAG ":" content).
AppraisalOptions::ExpectedReportData expected_report_data(const std::string& value) {
    const auto colon = value.find(':');
    if (colon == std::string::npos) {
        try {
            return {pad_report_data(from_hex(value, "--expect-report-data")), "the given --expect-report-data"};
        } catch (const Error& e) {
            // A bad option value is a usage error, not malformed evidence.
            throw Error(Errc::invalid_argument, fmt::format("{} (expected HEX or TAG:FILE)", e.what()));
        }
    }
    const auto tag = value.substr(0, colon);
    const auto path = value.substr(colon + 1);
    if (tag.empty() || path.empty()) {
        throw Error(Errc::invalid_argument,
                    "--expect-report-data: expected HEX or TAG:FILE (e.g. app-data:payload.bin)");
    }
    return {ratls::content_report_data(tag, read_input(path, ratls::kMaxCertificateInput)),
            fmt::format("SHA-512(\"{}:\" || {})", tag, path)};
}

VerificationOutcome verify_input(const ratls::Evidence& evidence, const Collateral& collateral,
                                 const std::optional<EventLog>& given_log, const std::string& given_log_source,
                                 Context& ctx) {
    AppraisalOptions options;
    options.now = ctx.now;
    options.trust_root = ctx.root;
    options.cache = &ctx.cache;
    options.expected_report_data = ctx.expected_report_data;
    if (!given_log) return appraise_outcome(evidence, collateral, ctx.policy, options);
    if (evidence.certificate || evidence.attestation) {
        throw Error(Errc::invalid_argument,
                    fmt::format("the {} carries its own event log; --event-log would be a second one: leave it out",
                                evidence.container));
    }
    auto with_log = evidence;
    with_log.event_log = given_log;
    return appraise_outcome(with_log, collateral, ctx.policy, options, given_log_source);
}

int exit_code_of(const VerificationOutcome& o) {
    if (o.error) return exit_code_for(o.error->code());
    return o.result() == "ok" ? kOk : kRejected;
}

void init_context(const VerifyCommand& cmd, Context& ctx) {
    ctx.root = trust_root_option(cmd.trust_root);
    ctx.now = cmd.at.empty() ? now_utc() : parse_time(cmd.at);
    if (!cmd.expect_report_data.empty()) ctx.expected_report_data = expected_report_data(cmd.expect_report_data);
    if (cmd.policy.empty()) {
        ctx.policy = default_policy();
    } else {
        const auto text = read_input(cmd.policy, kMaxSmallFile);
        ctx.policy =
            parse_policy(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()), cmd.policy);
    }
}

int run_single(const VerifyCommand& cmd, const GlobalOptions& global, Context& ctx) {
    VerificationOutcome o;
    try {
        const auto evidence =
            ratls::decode_evidence(read_input(cmd.quote_path, kMaxQuoteInput), parse_input_format(cmd.format));
        std::optional<EventLog> log;
        if (!cmd.event_log.empty()) log = parse_event_log(read_input(cmd.event_log, kMaxEventLogSize));
        const auto quote = parse_quote(evidence.quote);
        const auto collateral = resolve_collateral(cmd.sources, quote, ctx.now, global.quiet || global.json, ctx.root);
        o = verify_input(evidence, collateral, log, cmd.event_log, ctx);
    } catch (const Error& e) {
        if (!global.json) throw;
        o.error = e;
        write_output("-", as_bytes(render_verify_json(o, ctx.root, 2) + "\n"));
        fmt::print(stderr, "tdxkit: error: {}\n", e.what());
        return exit_code_of(o);
    }
    if (!global.quiet) {
        for (const auto& w : o.appraisal->warnings) warn(w);
    }
    write_output("-", as_bytes(global.json ? render_verify_json(o, ctx.root, 2) + "\n" : render_verify_text(o)));
    return exit_code_of(o);
}

// --- Batch mode: JSON lines in, one result line out per input line, in input order (lib: batch.hpp) ---

int run_batch(const VerifyCommand& cmd, const GlobalOptions& global, Context& ctx) {
    BatchOptions options;
    options.now = ctx.now;
    options.trust_root = ctx.root;
    options.policy = ctx.policy;
    options.collateral = collateral_sources(cmd.sources, true);
    options.collateral.check_cached = cached_collateral_check(ctx.root, ctx.now, global.quiet);
    options.jobs = cmd.jobs;
    options.output = cmd.output == "summary" ? BatchOutput::summary : BatchOutput::full;
    if (!global.quiet && !pins_workload(ctx.policy)) {
        warn(fmt::format("policy {} pins no measurement, so it accepts any genuine TD whatever it runs (each result "
                         "lists this under \"warnings\")",
                         ctx.policy.source));
    }
    // "-" is standard input; /dev/stdin keeps it a plain file stream, unsynchronized with stdio.
    std::ifstream in(cmd.batch == "-" ? "/dev/stdin" : cmd.batch, std::ios::binary);
    if (!in) throw Error(Errc::io, fmt::format("cannot open {}: {}", cmd.batch, errno_message(errno)));
    std::string pending;
    const auto flush = [&] {
        write_output("-", as_bytes(pending));
        pending.clear();
    };
    const auto summary = verify_batch(
        in,
        [&](std::string_view line) {
            pending.append(line).push_back('\n');
            if (pending.size() >= 64 * 1024) flush();
        },
        options, flush);
    flush();
    if (in.bad()) throw Error(Errc::io, fmt::format("cannot read {}", cmd.batch));
    if (!global.quiet) {
        fmt::print(stderr, "tdxkit: batch: {} of {} quotes verified ({} rejected, {} could not be checked)\n",
                   summary.accepted, summary.lines, summary.rejected, summary.errors);
    }
    return summary.accepted == summary.lines ? kOk : kRejected;
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
    sub->add_option("quote", cmd->quote_path,
                    "Quote file (raw, hex, base64, JSON container, RA-TLS certificate or dstack attestation), '-' "
                    "for stdin");
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
    sub->add_option("--expect-report-data", cmd->expect_report_data,
                    "Require this REPORTDATA: HEX (up to 64 bytes, zero-padded) or TAG:FILE, SHA-512(TAG \":\" "
                    "FILE), e.g. app-data:payload.bin");
    auto* batch =
        sub->add_option("--batch", cmd->batch,
                        "Verify JSON lines ({\"id\":..., \"quote\": hex|base64, \"event_log\": ...}) from FILE or '-'; "
                        "one result line each, in order");
    // Batch-only options are refused without --batch rather than silently ignored.
    sub->add_option("--jobs", cmd->jobs, "Worker threads for --batch (default: all cores)")->needs(batch);
    sub->add_option("--output", cmd->output,
                    "--batch result lines: full (tdxkit.verify/v1) or summary (tdxkit.verify-summary/v1)")
        ->check(CLI::IsMember({"full", "summary"}))
        ->capture_default_str()
        ->needs(batch);
    sub->callback([cmd, &global, &rc] { rc = run_verify(*cmd, global); });
}

}  // namespace tdxkit::cli
