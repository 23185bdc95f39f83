// `tdxkit replay-rtmr`: replay an event log into RTMR0-3 and compare them with a quote.

#include <algorithm>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/input.hpp"
#include "tdxkit/quote.hpp"

namespace tdxkit::cli {
namespace {

using nlohmann::json;

struct ReplayCommand {
    std::string event_log;
    std::string quote;
    std::string acpi_table;
};

constexpr std::size_t kMaxQuoteInput = 8 * kMaxQuoteSize;
constexpr std::size_t kPreviewBytes = 32;

struct Replay {
    EventLog log;
    std::array<Measurement, kRtmrCount> rtmrs{};
    std::optional<Quote> quote;
    std::string quote_source;
    std::optional<RtmrMismatch> mismatch;
    std::optional<UnboundEvent> unbound;
};

// Names come from the log unchecked (a boot event's name is a label); control characters would reach
// the terminal, so anything outside printable ASCII is shown as \xNN.
std::string printable(std::string_view text) {
    std::string out;
    for (const char c : text) {
        const auto byte = static_cast<std::uint8_t>(c);
        out += byte >= 0x20 && byte < 0x7f ? std::string(1, c) : fmt::format("\\x{:02x}", byte);
    }
    return out;
}

std::string payload_preview(ByteSpan payload) {
    if (payload.empty()) return "";
    const bool printable =
        std::all_of(payload.begin(), payload.end(), [](std::uint8_t c) { return c >= 0x20 && c < 0x7f; });
    if (printable) {
        const std::string text(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(
                                                                      std::min(payload.size(), 2 * kPreviewBytes)));
        return fmt::format("\"{}\"{}", text, payload.size() > 2 * kPreviewBytes ? "..." : "");
    }
    return to_hex(payload.first(std::min(payload.size(), kPreviewBytes))) +
           (payload.size() > kPreviewBytes ? "..." : "");
}

Replay run(const ReplayCommand& cmd) {
    Replay r;
    const auto data = read_input(cmd.event_log, kMaxEventLogSize);
    if (cmd.acpi_table.empty()) {
        r.log = parse_event_log(data);
    } else {
        r.log = parse_ccel(data, ByteSpan(read_input(cmd.acpi_table, 4096)));
    }
    r.rtmrs = replay_rtmrs(r.log);
    r.unbound = find_unbound_rtmr3_event(r.log);
    if (!cmd.quote.empty()) {
        r.quote = parse_quote(decode_quote_input(read_input(cmd.quote, kMaxQuoteInput)).quote);
        r.quote_source = cmd.quote;
    } else if (r.log.quote) {
        r.quote = parse_quote(*r.log.quote);
        r.quote_source = r.log.container;
    }
    if (r.quote) {
        const auto* body = r.quote->td_body();
        if (body == nullptr) {
            throw Error(Errc::invalid_argument, fmt::format("{} is an SGX quote: it has no RTMRs", r.quote_source));
        }
        r.mismatch = compare_rtmrs(r.rtmrs, *body);
    }
    return r;
}

std::string reason(const Replay& r) {
    if (r.mismatch) {
        return fmt::format("RTMR{} mismatch: replayed {}, quote has {}", r.mismatch->rtmr, to_hex(r.mismatch->replayed),
                           to_hex(r.mismatch->quoted));
    }
    if (r.unbound) return r.unbound->reason;
    if (!r.quote) return "no quote to compare with (pass --quote)";
    return "";
}

// A log with an unbound RTMR3 event is refused even when it replays: a rule could be shown one event
// while the TD measured another.
bool rejected(const Replay& r) { return r.mismatch.has_value() || r.unbound.has_value(); }

std::string render_json(const Replay& r) {
    json doc{{"schema", "tdxkit.replay/v1"},
             {"result", r.mismatch  ? "mismatch"
                        : r.unbound ? "unbound"
                        : !r.quote  ? "replayed"
                                    : "ok"},
             {"reason", reason(r)},
             {"input", {{"container", r.log.container}, {"events", r.log.events.size()}, {"skipped", r.log.skipped}}}};
    for (std::size_t i = 0; i < kRtmrCount; ++i) doc["rtmrs"][fmt::format("rtmr{}", i)] = to_hex(r.rtmrs[i]);
    doc["unbound_event"] = r.unbound ? json{{"index", r.unbound->index}, {"reason", r.unbound->reason}} : json(nullptr);
    doc["quote"] = nullptr;
    if (r.quote) {
        const auto* body = r.quote->td_body();
        json q{{"source", r.quote_source}, {"matches", !r.mismatch}};
        for (std::size_t i = 0; i < kRtmrCount; ++i) {
            q[fmt::format("rtmr{}", i)] = to_hex(body->rtmr[i]);
            q[fmt::format("rtmr{}_matches", i)] = equal_ct(body->rtmr[i], r.rtmrs[i]);
        }
        q["first_mismatch"] = r.mismatch ? json(fmt::format("rtmr{}", r.mismatch->rtmr)) : json(nullptr);
        doc["quote"] = q;
    }
    json events = json::array();
    for (const auto& e : r.log.events) {
        json j{{"index", e.index},           {"rtmr", e.imr},
               {"event_type", e.event_type}, {"name", e.name},
               {"digest", to_hex(e.digest)}, {"recomputed", e.recomputed},
               {"version", e.version},       {"payload", to_hex(e.payload)}};
        j["offset"] = e.offset ? json(*e.offset) : json(nullptr);
        // What the quote covers once the replay matches: the digest always; name and payload only
        // when the digest was recomputed from them.
        j["bound"] = e.recomputed ? json{"digest", "name", "payload"} : json{"digest"};
        events.push_back(j);
    }
    doc["events"] = events;
    return doc.dump(2) + "\n";
}

std::string render_text(const Replay& r) {
    std::string out;
    if (r.mismatch) {
        out += fmt::format("MISMATCH: {}\n", reason(r));
    } else if (r.unbound) {
        out += fmt::format("UNBOUND: {}\n", reason(r));
    } else if (!r.quote) {
        out += "REPLAYED (no quote to compare with)\n";
    } else {
        out += "OK: the event log replays to the quote's RTMR0-3\n";
    }
    out += fmt::format("{:<12}{}, {} events{}\n", "Event log:", r.log.container, r.log.events.size(),
                       r.log.skipped != 0 ? fmt::format(" ({} records skipped: EV_NO_ACTION or MRTD)", r.log.skipped)
                                          : "");
    if (r.quote) out += fmt::format("{:<12}{}\n", "Quote:", r.quote_source);
    for (std::size_t i = 0; i < kRtmrCount; ++i) {
        std::string status;
        if (r.quote) {
            const auto& quoted = r.quote->td_body()->rtmr[i];
            status = equal_ct(quoted, r.rtmrs[i]) ? "  match" : fmt::format("  MISMATCH (quote {})", to_hex(quoted));
        }
        out += fmt::format("{:<12}{}{}\n", fmt::format("RTMR{}:", i), to_hex(r.rtmrs[i]), status);
    }
    out += "Events:\n";
    out += fmt::format("  {:>5} {:>4} {:<10} {:<20} {:<18} {}\n", "index", "rtmr", "type", "name", "digest", "payload");
    for (const auto& e : r.log.events) {
        out +=
            fmt::format("  {:>5} {:>4} {:#010x} {:<20} {:<18} {}\n", e.index, e.imr, e.event_type,
                        e.name.empty() ? "-" : printable(e.name),
                        to_hex(ByteSpan(e.digest).first(8)) + (e.recomputed ? "*" : ".."), payload_preview(e.payload));
    }
    out += "  (* = runtime event: digest recomputed from name and payload, so both are bound; other events'\n"
           "   names and payloads are labels that no digest covers)\n";
    return out;
}

int run_replay(const ReplayCommand& cmd, const GlobalOptions& global) {
    Replay r;
    try {
        r = run(cmd);
    } catch (const Error& e) {
        if (!global.json) throw;
        return print_json_error({{"schema", "tdxkit.replay/v1"}}, e);
    }
    write_output("-", as_bytes(global.json ? render_json(r) : render_text(r)));
    return rejected(r) ? kRejected : kOk;
}

}  // namespace

void register_replay_rtmr(CLI::App& root, const GlobalOptions& global, int& rc) {
    auto cmd = std::make_shared<ReplayCommand>();
    auto* sub = root.add_subcommand("replay-rtmr", "Replay an event log (dstack JSON or CCEL) into RTMR0-3");
    sub->add_option(
           "eventlog", cmd->event_log,
           "Event log: dstack JSON (array, string, GetQuote, /tdx_quote, tcb_info) or CCEL binary; '-' for stdin")
        ->required();
    sub->add_option("--quote", cmd->quote, "Quote to compare with (any form `quote decode` accepts)");
    sub->add_option("--acpi-table", cmd->acpi_table,
                    "The 56-byte ACPI CCEL table (/sys/firmware/acpi/tables/CCEL) for a CCEL log");
    sub->callback([cmd, &global, &rc] { rc = run_replay(*cmd, global); });
}

}  // namespace tdxkit::cli
