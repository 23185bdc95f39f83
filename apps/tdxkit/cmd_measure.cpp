// `tdxkit measure`: MRTD and RTMR0-2 predicted from a dstack image and VM shape (dstack-mr parity),
// a policy pinning them, and the diagnosis of a running TD that does not match.

#include <algorithm>
#include <charconv>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/input.hpp"
#include "tdxkit/measure_boot.hpp"
#include "tdxkit/policy.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/ratls.hpp"

namespace tdxkit::cli {
namespace {

using nlohmann::json;

struct MeasureCommand {
    std::string image;
    std::string firmware;
    std::string kernel;
    std::string initrd;
    std::optional<std::string> cmdline;
    std::string vm_config;
    std::string memory;
    std::optional<std::uint32_t> cpus;
    std::string qemu_version;
    std::string page_order;
    std::string ovmf_variant;
    std::string acpi_from;
    std::string acpi_tables;
    std::string acpi_rsdp;
    std::string acpi_loader;
    std::string policy_out;
    std::string merge_policy;
    std::string diagnose;
};

constexpr std::size_t kMaxImageFile = std::size_t{1} << 30;
constexpr std::size_t kMaxAcpiBlob = 16 * 1024 * 1024;
constexpr std::size_t kMaxPolicyFile = 4 * 1024 * 1024;
// A hex versioned attestation is the largest form evidence comes in.
constexpr std::size_t kMaxEvidence = 2 * kMaxAttestationSize + 1024;

// What was measured and how, for the report.
struct Prediction {
    std::string mode;  // "image", "files", "vm_config"
    std::string source;
    std::optional<std::string> image_version;
    std::uint64_t memory_size = 0;
    std::optional<std::uint32_t> cpus;
    std::optional<std::string> qemu_version;
    PageOrder page_order = PageOrder::single_pass;
    std::string page_order_from;
    OvmfVariant variant = OvmfVariant::pre202505;
    std::optional<std::string> acpi_source;  // unset: RTMR0 not predicted
    bool acpi_verified = false;              // from dumped fw_cfg files, not a TD's own log
    bool acpi_from_diagnosed_td = false;
    std::optional<Octets<32>> os_image_hash;
    bool os_image_hash_pinnable = false;
    BootMeasurement measurement;
    std::optional<BootDiagnosis> diagnosis;
    std::optional<Octets<32>> mr_aggregated;
    std::optional<Octets<32>> mr_system;
    std::optional<Policy> policy;
    std::vector<std::string> notes;  // also printed as warnings
};

// "2G", "2048M", "2GiB", "512MiB", or "2048" (MiB): binary multiples, as QEMU's -m reads them.
std::uint64_t parse_memory_size(const std::string& text) {
    std::uint64_t number = 0;
    const auto* end = text.data() + text.size();
    const auto [rest, ec] = std::from_chars(text.data(), end, number);
    std::string_view unit(rest, static_cast<std::size_t>(end - rest));
    if (unit.ends_with("iB")) {
        unit.remove_suffix(2);
    } else if (unit.size() == 2 && unit.ends_with("B")) {
        unit.remove_suffix(1);
    }
    // QEMU's -m: a bare number is MiB.
    constexpr std::pair<std::string_view, unsigned> kUnits[] = {{"", 20},  {"K", 10}, {"k", 10}, {"M", 20}, {"m", 20},
                                                                {"G", 30}, {"g", 30}, {"T", 40}, {"t", 40}};
    const auto* found = std::ranges::find(kUnits, unit, &std::pair<std::string_view, unsigned>::first);
    const bool known = found != std::end(kUnits);
    const unsigned shift = known ? found->second : 0;
    if (ec != std::errc{} || rest == text.data() || !known || number == 0 || number > (~std::uint64_t{0} >> shift)) {
        throw Error(
            Errc::invalid_argument,
            fmt::format("--memory \"{}\": expected a size such as 2G, 2048M or 2048 (MiB, as QEMU's -m)", text));
    }
    return number << shift;
}

std::string text_of(const Bytes& b) { return {b.begin(), b.end()}; }

// A dstack versioned attestation (binary, hex, {"attestation": hex}) or RA-TLS certificate holding one:
// its stack config is the vm_config. Anything else (a vm_config, a GetQuote response): nullopt.
std::optional<ratls::Evidence> attestation_in(const Bytes& bytes) {
    const auto text = text_of(bytes);
    const auto first = text.find_first_not_of(" \t\r\n");
    if (first == std::string::npos || text[first] == '"' ||
        (text[first] == '{' && text.find("\"attestation\"") == std::string::npos)) {
        return std::nullopt;
    }
    auto evidence = ratls::decode_evidence(bytes);
    if (!evidence.attestation) return std::nullopt;
    return evidence;
}

std::optional<std::string> optional_text(const std::string& s) { return s.empty() ? std::nullopt : std::optional(s); }

void check_inputs(const MeasureCommand& cmd) {
    const bool files = !cmd.firmware.empty() || !cmd.kernel.empty() || !cmd.initrd.empty() || cmd.cmdline;
    const int modes = int{!cmd.image.empty()} + int{files} + int{!cmd.vm_config.empty()};
    if (modes != 1) {
        throw Error(Errc::invalid_argument, "give exactly one of --image DIR, --firmware/--kernel/--initrd/--cmdline, "
                                            "or --vm-config FILE");
    }
    if (files && (cmd.firmware.empty() || cmd.kernel.empty() || cmd.initrd.empty() || !cmd.cmdline)) {
        throw Error(Errc::invalid_argument, "--firmware, --kernel, --initrd and --cmdline go together");
    }
    if (cmd.vm_config.empty() && cmd.memory.empty()) {
        throw Error(Errc::invalid_argument, "--memory is required (the TD's RAM, e.g. 2G): the TD HOB and the kernel "
                                            "QEMU patches depend on it");
    }
    if (!cmd.vm_config.empty() &&
        (!cmd.memory.empty() || cmd.cpus || !cmd.qemu_version.empty() || !cmd.ovmf_variant.empty())) {
        throw Error(Errc::invalid_argument, "--memory, --cpus, --qemu-version and --ovmf-variant come from the "
                                            "vm_config and its measurement document with --vm-config; edit the "
                                            "vm_config to change them");
    }
    const int acpi_files = int{!cmd.acpi_tables.empty()} + int{!cmd.acpi_rsdp.empty()} + int{!cmd.acpi_loader.empty()};
    if (acpi_files != 0 && acpi_files != 3) {
        throw Error(Errc::invalid_argument, "--acpi-tables, --acpi-rsdp and --acpi-loader go together (the three "
                                            "fw_cfg blobs dumped from QEMU)");
    }
    if (acpi_files != 0 && !cmd.acpi_from.empty()) {
        throw Error(Errc::invalid_argument,
                    "give the ACPI tables either as files or --acpi-from an event log, not both");
    }
    if (!cmd.merge_policy.empty() && cmd.policy_out.empty()) {
        throw Error(Errc::invalid_argument, "--merge-policy needs --policy-out (where to write the merged policy)");
    }
}

// An event log and the quote that came with it, if any (a GetQuote or /tdx_quote response carries one).
struct LoadedLog {
    EventLog log;
    std::string source;
    std::optional<Quote> quote;
};

const TdReportBody& td_body_of(const Quote& quote, const std::string& source) {
    if (quote.td_body() == nullptr) {
        throw Error(Errc::unsupported, fmt::format("{} is an SGX quote: it has no MRTD or RTMRs", source));
    }
    return *quote.td_body();
}

struct Evidence {
    Quote quote;
    std::string source;
    std::optional<LoadedLog> log;  // its own log, else --event-log's
    bool log_is_given = false;     // `log` is --event-log's, bound to this quote
};

// The log a dstack container carries. A versioned attestation's or RA-TLS certificate's log is
// stripped to the ACPI digests and RTMR3 (dstack's strip_tdx_lite_event_log), so its RTMR0 cannot
// replay to the quote's: its ACPI digests are then bound only by the predicted RTMR0 equalling the
// quote's (--diagnose), as in dstack-verifier's lite verification.
LoadedLog carried_log(const ratls::Evidence& evidence, const std::string& path, const Quote& quote) {
    const bool stripped = evidence.attestation || evidence.certificate;
    return LoadedLog{*evidence.event_log, fmt::format("the event log in {}", path),
                     stripped ? std::nullopt : std::optional(quote)};
}

Evidence read_evidence(const MeasureCommand& cmd, const std::optional<LoadedLog>& given_log) {
    const auto input = ratls::decode_evidence(read_input(cmd.diagnose, kMaxEvidence));
    Evidence e{parse_quote(input.quote), fmt::format("{} ({})", cmd.diagnose, input.container), std::nullopt};
    (void)td_body_of(e.quote, cmd.diagnose);
    if (input.event_log) {
        e.log = carried_log(input, cmd.diagnose, e.quote);
    } else if (given_log) {
        e.log = given_log;
        e.log->quote = e.quote;
        e.log_is_given = true;
    }
    return e;
}

// The ACPI digests sit at fixed positions of RTMR0; a position is bound only once the log's RTMR0
// replays to a quote's. A log that came with a quote must do so before its digests are used.
AcpiDigests bound_acpi_digests(const LoadedLog& l, OvmfVariant variant) {
    if (l.quote) {
        const auto replayed = replay_rtmrs(l.log);
        const auto& td = td_body_of(*l.quote, l.source);
        if (!equal_ct(replayed[0], td.rtmr[0])) {
            throw Error(Errc::malformed,
                        fmt::format("{}: its RTMR0 events replay to {}, but its quote has RTMR0 {}: its ACPI digests "
                                    "are not the ones that TD measured",
                                    l.source, to_hex(replayed[0]), to_hex(td.rtmr[0])));
        }
    }
    return acpi_digests_from_event_log(l.log, variant);
}

// The three ACPI digests: dumped fw_cfg blobs, else an event log (--acpi-from, the vm_config's wrapper,
// or the diagnosed TD's), else none and RTMR0 is not predicted.
std::optional<AcpiDigests> acpi_digests(const MeasureCommand& cmd, Prediction& p, OvmfVariant variant,
                                        const std::optional<LoadedLog>& given_log,
                                        const std::optional<LoadedLog>& wrapper_log, const Evidence* evidence) {
    if (!cmd.acpi_tables.empty()) {
        p.acpi_source = "fw_cfg files";
        p.acpi_verified = true;
        return acpi_digests_from_blobs(read_input(cmd.acpi_loader, kMaxAcpiBlob),
                                       read_input(cmd.acpi_rsdp, kMaxAcpiBlob),
                                       read_input(cmd.acpi_tables, kMaxAcpiBlob));
    }
    const LoadedLog* log = [&]() -> const LoadedLog* {
        // --event-log for a bare diagnosed quote is that TD's log; its copy in the evidence is bound
        // to the quote.
        if (evidence != nullptr && evidence->log_is_given) return &*evidence->log;
        if (given_log) return &*given_log;
        if (wrapper_log) return &*wrapper_log;
        if (evidence != nullptr && evidence->log) return &*evidence->log;
        return nullptr;
    }();
    if (log == nullptr) {
        p.notes.push_back("RTMR0 is not predicted: it includes the ACPI tables QEMU generates for the VM shape; give "
                          "them with --acpi-tables/--acpi-rsdp/--acpi-loader (dumped from QEMU) or --acpi-from a "
                          "reference TD's event log");
        return std::nullopt;
    }
    p.acpi_source = log->source;
    p.acpi_from_diagnosed_td = evidence != nullptr && evidence->log && log == &*evidence->log;
    p.notes.push_back(fmt::format("RTMR0 uses the ACPI digests of {} as they are: tdxkit does not rebuild QEMU's "
                                  "ACPI tables, so RTMR0 trusts that log's tables (acpi_tables_verified: false)",
                                  log->source));
    if (p.acpi_from_diagnosed_td) {
        p.notes.push_back("the ACPI digests are the diagnosed TD's own: RTMR0's comparison checks every other RTMR0 "
                          "event, not the ACPI tables");
    }
    return bound_acpi_digests(*log, variant);
}

Prediction predict(const MeasureCommand& cmd, const std::optional<LoadedLog>& given_log, const Evidence* evidence) {
    Prediction p;
    if (!cmd.ovmf_variant.empty()) p.variant = parse_ovmf_variant(cmd.ovmf_variant);
    std::optional<PageOrder> forced_order;
    if (!cmd.page_order.empty()) forced_order = cmd.page_order == "two" ? PageOrder::two_pass : PageOrder::single_pass;

    if (!cmd.vm_config.empty()) {
        const auto bytes = read_input(cmd.vm_config, kMaxEvidence);
        const auto attestation = attestation_in(bytes);
        const auto config = parse_vm_config(attestation ? attestation->attestation->config : text_of(bytes));
        p.mode = "vm_config";
        p.source = cmd.vm_config;
        p.image_version = config.image;
        p.memory_size = config.memory_size;
        p.cpus = config.cpu_count;
        p.qemu_version = config.qemu_version;
        p.page_order = forced_order.value_or(config.page_order());
        p.page_order_from = forced_order                        ? "--page-order"
                            : config.qemu_single_pass_add_pages ? "vm_config qemu_single_pass_add_pages (dstack-mr "
                                                                  "reads true as two-pass)"
                            : config.qemu_version               ? "vm_config qemu_version"
                                                                : "default (dstack-mr assumes QEMU 9.1.0: single-pass)";
        p.os_image_hash = config.os_image_hash;
        // Checked and bound first; the document names the OVMF variant, and so the RTMR0 layout the
        // ACPI digests are read by.
        auto digests = boot_digests_from_vm_config(config, std::nullopt, forced_order);
        p.variant = digests.variant;
        std::optional<LoadedLog> wrapper_log;
        if (attestation && attestation->event_log) {
            wrapper_log = carried_log(*attestation, cmd.vm_config, parse_quote(attestation->quote));
        } else if (config.event_log) {
            // The wrapper (a GetQuote response) also carries the quote the log must replay to.
            auto log = parse_event_log(bytes);
            wrapper_log = LoadedLog{std::move(log), fmt::format("the event log in {}", cmd.vm_config), std::nullopt};
            if (wrapper_log->log.quote) wrapper_log->quote = parse_quote(*wrapper_log->log.quote);
        }
        digests.acpi = acpi_digests(cmd, p, p.variant, given_log, wrapper_log, evidence);
        p.measurement = assemble_boot_measurement(digests);
        if (config.attestation_variant != "lite") {
            p.notes.push_back("the vm_config describes a legacy boot; the prediction uses its tdx_measurement "
                              "document, which describes the same image (dstack's verifier downloads the image "
                              "instead)");
        }
        if (!cmd.policy_out.empty()) {
            p.notes.push_back("dstack.os_image_hashes is not pinned: the vm_config's os_image_hash is the hash of the "
                              "lite checksum file, and a lite TD's os-image-hash event can carry another value (it "
                              "does in dstack's tdx-lite fixture)");
        }
        return p;
    }

    ImageFiles files;
    if (!cmd.image.empty()) {
        auto dir = read_image_directory(cmd.image);
        p.mode = "image";
        p.source = cmd.image;
        p.image_version = dir.version;
        if (dir.ovmf_variant && cmd.ovmf_variant.empty()) p.variant = *dir.ovmf_variant;
        p.os_image_hash = dir.os_image_hash;
        p.os_image_hash_pinnable = dir.os_image_hash.has_value();
        files = std::move(dir.files);
    } else {
        p.mode = "files";
        p.source = cmd.firmware;
        files = {read_input(cmd.firmware, kMaxImageFile), read_input(cmd.kernel, kMaxImageFile),
                 read_input(cmd.initrd, kMaxImageFile), *cmd.cmdline};
    }
    p.memory_size = parse_memory_size(cmd.memory);
    p.cpus = cmd.cpus;
    p.qemu_version = optional_text(cmd.qemu_version);
    p.page_order = forced_order.value_or(page_order_for_qemu(p.qemu_version));
    p.page_order_from = forced_order     ? "--page-order"
                        : p.qemu_version ? "--qemu-version"
                                         : "default (dstack-mr assumes QEMU 9.1.0: single-pass)";
    const auto acpi = acpi_digests(cmd, p, p.variant, given_log, std::nullopt, evidence);
    p.measurement = assemble_boot_measurement(
        boot_digests_from_image(files, VmShape{p.memory_size, p.page_order, p.variant}, acpi));
    return p;
}

void diagnose(Prediction& p, const Evidence& e) {
    const auto& td = *e.quote.td_body();
    p.notes.push_back(fmt::format("--diagnose compares registers; it does not check {}'s signature or TCB (tdxkit "
                                  "verify does)",
                                  e.source));
    p.diagnosis = diagnose_boot(p.measurement, td, e.log ? &e.log->log : nullptr);
    p.mr_aggregated = mr_aggregated(td);
    if (!e.log) return;
    // mr_system reads the key-provider event's payload: only from a log bound to this quote.
    const auto binding = bind_event_log(e.log->log, td);
    if (!binding.bound()) return;
    Octets<32> key_provider{};
    for (const auto* event : binding.runtime_events) {
        if (event->name == "system-ready") break;
        if (event->name == "key-provider" && !event->payload.empty()) key_provider = sha256(event->payload);
    }
    p.mr_system = mr_system(td.mr_td, {td.rtmr[0], td.rtmr[1], td.rtmr[2]}, key_provider);
}

void write_policy(const MeasureCommand& cmd, Prediction& p) {
    if (cmd.policy_out.empty()) return;
    Policy policy = cmd.merge_policy.empty()
                        ? default_policy()
                        : parse_policy(text_of(read_input(cmd.merge_policy, kMaxPolicyFile)), cmd.merge_policy);
    const auto notes =
        pin_boot_measurement(policy, p.measurement, p.os_image_hash_pinnable ? p.os_image_hash : std::nullopt);
    p.notes.insert(p.notes.end(), notes.begin(), notes.end());
    if (!p.measurement.rtmr0) p.notes.push_back("the policy does not pin td.rtmr0 (not predicted)");
    write_output(cmd.policy_out, as_bytes(policy_to_json(policy) + "\n"));
    p.policy = std::move(policy);
}

// "ok" (no --diagnose), "equal", "different", or "incomplete" (nothing differs, but a register was not
// predicted, so nothing confirms it).
const char* result_name(const Prediction& p) {
    if (!p.diagnosis) return "ok";
    if (p.diagnosis->equal()) return "equal";
    const bool differs =
        std::ranges::any_of(p.diagnosis->registers, [](const RegisterDiagnosis& r) { return r.predicted && !r.equal; });
    return differs ? "different" : "incomplete";
}

json hex_or_null(const std::optional<Measurement>& m) { return m ? json(to_hex(*m)) : json(nullptr); }
template <std::size_t N>
json hex_or_null(const std::optional<Octets<N>>& m) {
    return m ? json(to_hex(*m)) : json(nullptr);
}

std::string render_json(const Prediction& p) {
    const auto& m = p.measurement;
    json events = json::array();
    std::array<std::size_t, 3> position{};
    for (const auto& e : m.events) {
        events.push_back({{"rtmr", e.rtmr},
                          {"position", position.at(e.rtmr)++},
                          {"kind", boot_event_kind_name(e.kind)},
                          {"description", e.description},
                          {"digest", to_hex(e.digest)}});
    }
    json doc{{"schema", "tdxkit.measure/v1"},
             {"result", result_name(p)},
             {"input",
              {{"mode", p.mode},
               {"source", p.source},
               {"image_version", p.image_version ? json(*p.image_version) : json(nullptr)},
               {"memory_size", p.memory_size},
               {"cpus", p.cpus ? json(*p.cpus) : json(nullptr)},
               {"qemu_version", p.qemu_version ? json(*p.qemu_version) : json(nullptr)},
               {"page_order", page_order_name(p.page_order)},
               {"page_order_from", p.page_order_from},
               {"ovmf_variant", ovmf_variant_name(p.variant)}}},
             {"acpi",
              {{"source", p.acpi_source ? json(*p.acpi_source) : json(nullptr)},
               {"acpi_tables_verified", p.acpi_verified},
               {"from_diagnosed_td", p.acpi_from_diagnosed_td}}},
             {"mrtd", to_hex(m.mrtd)},
             {"rtmr0", hex_or_null(m.rtmr0)},
             {"rtmr1", to_hex(m.rtmr1)},
             {"rtmr2", to_hex(m.rtmr2)},
             {"os_image_hash", hex_or_null(p.os_image_hash)},
             {"events", events},
             {"notes", p.notes},
             {"policy", p.policy ? json::parse(policy_to_json(*p.policy)) : json(nullptr)},
             {"diagnosis", nullptr}};
    if (p.diagnosis) {
        json registers = json::array();
        for (const auto& r : p.diagnosis->registers) {
            json j{{"name", r.name},
                   {"predicted", r.predicted},
                   {"expected", r.predicted ? json(to_hex(r.expected)) : json(nullptr)},
                   {"actual", to_hex(r.actual)},
                   {"equal", r.equal},
                   {"cause", r.cause},
                   {"first_differing_event", nullptr}};
            if (r.event_position) {
                j["first_differing_event"] = {
                    {"position", *r.event_position},
                    {"kind", r.expected_event ? json(boot_event_kind_name(r.expected_event->kind)) : json(nullptr)},
                    {"description", r.expected_event ? json(r.expected_event->description) : json(nullptr)},
                    {"expected_digest", r.expected_event ? json(to_hex(r.expected_event->digest)) : json(nullptr)},
                    {"actual_digest", hex_or_null(r.actual_event_digest)}};
            }
            registers.push_back(j);
        }
        doc["diagnosis"] = {{"equal", p.diagnosis->equal()},
                            {"log_problem", p.diagnosis->log_problem ? json(*p.diagnosis->log_problem) : json(nullptr)},
                            {"registers", registers},
                            {"mr_aggregated", hex_or_null(p.mr_aggregated)},
                            {"mr_system", hex_or_null(p.mr_system)}};
    }
    // Paths and notes may hold bytes that are not UTF-8 (a file name): shown replaced, never a failure.
    return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::string render_text(const Prediction& p) {
    const auto& m = p.measurement;
    std::string out;
    const auto line = [&](std::string_view key, const std::string& value) {
        out += fmt::format("{:<15}{}\n", key, value);
    };
    if (p.diagnosis) {
        const std::string_view result = result_name(p);
        out += result == "equal"       ? "EQUAL: the TD's MRTD and RTMR0-2 are the predicted values\n"
               : result == "different" ? "DIFFERENT: the TD did not boot what was predicted\n"
                                       : "NOT CONFIRMED: nothing differs, but RTMR0 was not predicted\n";
    }
    line("Input:", fmt::format("{} {}{}",
                               p.mode == "vm_config" ? "vm_config"
                               : p.mode == "image"   ? "image"
                                                     : "files",
                               p.source, p.image_version ? fmt::format(" ({})", *p.image_version) : ""));
    line("VM shape:",
         fmt::format("{} MiB{}, {} ({}), OVMF {}", p.memory_size >> 20, p.cpus ? fmt::format(", {} CPUs", *p.cpus) : "",
                     page_order_name(p.page_order), p.page_order_from, ovmf_variant_name(p.variant)));
    line("MRTD:", to_hex(m.mrtd));
    line("RTMR0:", m.rtmr0 ? to_hex(*m.rtmr0) : "not predicted (no ACPI tables)");
    line("RTMR1:", to_hex(m.rtmr1));
    line("RTMR2:", to_hex(m.rtmr2));
    line("ACPI tables:",
         p.acpi_source ? fmt::format("{}{}", *p.acpi_source, p.acpi_verified ? "" : " (not verified)") : "none");
    if (p.os_image_hash) line("OS image hash:", to_hex(*p.os_image_hash));
    out += "Events:\n";
    for (const auto& e : m.events) out += fmt::format("  RTMR{}  {}  {}\n", e.rtmr, to_hex(e.digest), e.description);
    if (p.diagnosis) {
        out += "Diagnosis:\n";
        if (p.diagnosis->log_problem) out += fmt::format("  note: {}\n", *p.diagnosis->log_problem);
        for (const auto& r : p.diagnosis->registers) {
            if (!r.predicted) {
                out += fmt::format("  {:<6} {}\n", r.name, r.cause);
                continue;
            }
            if (r.equal) {
                out += fmt::format("  {:<6} equal\n", r.name);
                continue;
            }
            out += fmt::format("  {:<6} DIFFERENT: predicted {}, the TD has {}\n", r.name, to_hex(r.expected),
                               to_hex(r.actual));
            if (r.event_position) {
                out += fmt::format("         first differing event: #{} {}\n", *r.event_position,
                                   r.expected_event ? r.expected_event->description : "(an event not predicted)");
                out += fmt::format("           predicted {}\n           the TD's  {}\n",
                                   r.expected_event ? to_hex(r.expected_event->digest) : "(none)",
                                   r.actual_event_digest ? to_hex(*r.actual_event_digest) : "(none: the log ends)");
            }
            out += fmt::format("         likely cause: {}\n", r.cause);
        }
        if (p.mr_aggregated) out += fmt::format("  mr_aggregated {}\n", to_hex(*p.mr_aggregated));
        if (p.mr_system) out += fmt::format("  mr_system     {}\n", to_hex(*p.mr_system));
    }
    return out;
}

int run_measure(const MeasureCommand& cmd, const GlobalOptions& global) {
    Prediction p;
    try {
        check_inputs(cmd);
        // Read once: "-" may be standard input.
        std::optional<LoadedLog> given_log;
        if (!cmd.acpi_from.empty()) {
            auto log = parse_event_log(read_input(cmd.acpi_from, kMaxEventLogSize));
            given_log = LoadedLog{std::move(log), fmt::format("event log {}", cmd.acpi_from), std::nullopt};
            if (given_log->log.quote) given_log->quote = parse_quote(*given_log->log.quote);
        }
        const auto evidence = cmd.diagnose.empty() ? std::nullopt : std::optional(read_evidence(cmd, given_log));
        p = predict(cmd, given_log, evidence ? &*evidence : nullptr);
        if (evidence) diagnose(p, *evidence);
        write_policy(cmd, p);
    } catch (const Error& e) {
        if (!global.json) throw;
        return print_json_error({{"schema", "tdxkit.measure/v1"}}, e);
    }
    if (!global.quiet) {
        for (const auto& note : p.notes) warn(note);
    }
    write_output("-", as_bytes(global.json ? render_json(p) : render_text(p)));
    return p.diagnosis && !p.diagnosis->equal() ? kRejected : kOk;
}

}  // namespace

void register_measure(CLI::App& root, const GlobalOptions& global, int& rc) {
    auto cmd = std::make_shared<MeasureCommand>();
    auto* sub = root.add_subcommand("measure", "Predict MRTD and RTMR0-2 from a dstack image and VM shape");
    sub->add_option("--image", cmd->image, "dstack image directory (metadata.json names firmware, kernel, initrd)");
    sub->add_option("--firmware", cmd->firmware, "OVMF/TDVF firmware image (with --kernel, --initrd, --cmdline)");
    sub->add_option("--kernel", cmd->kernel, "Kernel bzImage");
    sub->add_option("--initrd", cmd->initrd, "Initrd");
    sub->add_option("--cmdline", cmd->cmdline, "Kernel command line, without \" initrd=initrd\"");
    sub->add_option(
        "--vm-config", cmd->vm_config,
        "A dstack vm_config with tdx_measurement (the object, a JSON string, a GetQuote response, or a versioned "
        "attestation or RA-TLS certificate carrying one)");
    sub->add_option("--memory", cmd->memory, "TD memory size: 2G, 2048M, or 2048 (MiB, as QEMU's -m)");
    sub->add_option("--cpus", cmd->cpus, "Number of vCPUs (recorded; they change only the ACPI tables)");
    sub->add_option("--qemu-version", cmd->qemu_version, "QEMU version MAJOR.MINOR.PATCH (8.x: two-pass page order)");
    sub->add_option("--page-order", cmd->page_order, "Override the MRTD page order")
        ->check(CLI::IsMember({"single", "two"}));
    sub->add_option("--ovmf-variant", cmd->ovmf_variant, "OVMF variant (default pre202505, the one dstack-mr knows)");
    sub->add_option("--acpi-from,--event-log", cmd->acpi_from,
                    "Event log to take the ACPI digests from (and to diagnose a bare quote with); any form "
                    "replay-rtmr reads");
    sub->add_option("--acpi-tables", cmd->acpi_tables, "etc/acpi/tables dumped from QEMU's fw_cfg");
    sub->add_option("--acpi-rsdp", cmd->acpi_rsdp, "etc/acpi/rsdp dumped from QEMU's fw_cfg");
    sub->add_option("--acpi-loader", cmd->acpi_loader, "etc/table-loader dumped from QEMU's fw_cfg");
    sub->add_option("--policy-out", cmd->policy_out, "Write a policy pinning td.mrtd and td.rtmr0-2 (verify --policy)");
    sub->add_option("--merge-policy", cmd->merge_policy,
                    "Start --policy-out from this policy (e.g. measure-compose --policy-out's) instead of the default");
    sub->add_option("--diagnose", cmd->diagnose,
                    "Compare with a TD: a quote, GetQuote or /tdx_quote response (with its event log); exit 1 if it "
                    "differs");
    sub->callback([cmd, &global, &rc] { rc = run_measure(*cmd, global); });
}

}  // namespace tdxkit::cli
