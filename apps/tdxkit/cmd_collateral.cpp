// `tdxkit collateral fetch|show`: get a QuoteCollateralV3 bundle from Intel PCS / a PCCS (through
// the cache), and inspect and check one without a quote.

#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "collateral_options.hpp"
#include "tdxkit/input.hpp"
#include "tdxkit/pcs.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/verify.hpp"

namespace tdxkit::cli {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxQuoteInput = 8 * kMaxQuoteSize;

struct FetchCommand {
    std::string quote_path;
    std::string fmspc;
    std::string ca;
    std::string tee = "tdx";
    std::string out;
    CollateralCliOptions sources;
};

struct ShowCommand {
    std::string path;
    std::string at;
    std::string trust_root;
};

struct Checked {
    UnixTime at = 0;
    TrustRoot root;
    CollateralCheckResult result;
};

std::string first_failure(const CollateralCheckResult& r) {
    for (const auto& c : r.checks) {
        if (!c.passed) return fmt::format("{}: {}", c.id, c.detail);
    }
    return {};
}

json document(const Collateral& c, const CollateralSummary& s, const std::optional<Checked>& checked) {
    json items = json::array();
    for (const auto& i : s.items) {
        items.push_back({{"name", i.name},
                         {"issuer", i.issuer},
                         {"valid_from", format_rfc3339(i.valid_from)},
                         {"valid_until", format_rfc3339(i.valid_until)}});
    }
    const bool rejected = checked && !checked->result.valid;
    json doc{{"schema", "tdxkit.collateral/v1"},
             {"result", rejected ? "rejected" : "ok"},
             {"reason", rejected ? first_failure(checked->result) : ""},
             {"source", c.source},
             {"tee", s.tee},
             {"fmspc", s.fmspc},
             {"pce_id", s.pce_id},
             {"qe_identity_id", s.qe_identity_id},
             {"pck_crl_ca", s.pck_crl_ca.empty() ? json(nullptr) : json(s.pck_crl_ca)},
             {"tcb_evaluation_data_number", s.tcb_evaluation_data_number},
             {"qe_tcb_evaluation_data_number", s.qe_tcb_evaluation_data_number},
             {"next_update", format_rfc3339(s.next_update)},
             {"items", items},
             {"verification", nullptr}};
    if (checked) {
        json checks = json::array();
        for (const auto& k : checked->result.checks) {
            checks.push_back({{"id", k.id}, {"passed", k.passed}, {"detail", k.detail}});
        }
        doc["verification"] = {
            {"at", format_rfc3339(checked->at)},
            {"trust_root",
             {{"intel", checked->root.is_intel_production}, {"sha256", to_hex(sha256(checked->root.certificate_der))}}},
            {"valid", checked->result.valid},
            {"checks", checks}};
    }
    return doc;
}

std::string text(const Collateral& c, const CollateralSummary& s, const std::optional<Checked>& checked) {
    std::string out;
    if (checked) out = checked->result.valid ? "OK\n" : fmt::format("REJECTED: {}\n", first_failure(checked->result));
    const auto line = [&](std::string_view key, const std::string& value) {
        out += fmt::format("{:<14}{}\n", key, value);
    };
    line("Collateral:", c.source);
    line("TEE:", fmt::format("{}, FMSPC {}, PCE-ID {}, QE Identity {}", s.tee, s.fmspc, s.pce_id, s.qe_identity_id));
    line("PCK CRL:", s.pck_crl_ca.empty() ? "issued by an unknown CA" : fmt::format("{} CA", s.pck_crl_ca));
    line("TCB eval no.:",
         fmt::format("{} (TCB Info), {} (QE Identity)", s.tcb_evaluation_data_number, s.qe_tcb_evaluation_data_number));
    out += "Items:\n";
    for (const auto& i : s.items) {
        out += fmt::format("  {:<12} {:<28} {} .. {}\n", i.name, i.issuer, format_rfc3339(i.valid_from),
                           format_rfc3339(i.valid_until));
    }
    line("Next update:", format_rfc3339(s.next_update));
    if (checked) {
        line("Checked at:", format_rfc3339(checked->at));
        line("Trust root:",
             checked->root.is_intel_production ? "Intel SGX Root CA (pinned)" : "CUSTOM (test/development only)");
        out += "Checks:\n";
        for (const auto& k : checked->result.checks) {
            out += fmt::format("  [{}] {:<22} {}\n", k.passed ? " ok " : "FAIL", k.id, k.detail);
        }
    }
    return out;
}

// With --json an error is still one tdxkit.collateral/v1 object on stdout.
int report_error(const Error& e, const GlobalOptions& global) {
    if (!global.json) throw e;
    return print_json_error({{"schema", "tdxkit.collateral/v1"}}, e);
}

CollateralRequest fetch_request(const FetchCommand& cmd) {
    if (cmd.quote_path.empty() == cmd.fmspc.empty()) {
        throw Error(Errc::invalid_argument, "give either a QUOTE or --fmspc HEX --ca platform|processor");
    }
    if (!cmd.quote_path.empty()) {
        const auto input = decode_quote_input(read_input(cmd.quote_path, kMaxQuoteInput));
        return collateral_request_for(parse_quote(input.quote));
    }
    if (cmd.ca.empty()) throw Error(Errc::invalid_argument, "--fmspc needs --ca platform|processor");
    return {cmd.tee == "sgx" ? TeeType::sgx : TeeType::tdx, normalize_fmspc(cmd.fmspc),
            cmd.ca == "processor" ? PckCaType::processor : PckCaType::platform};
}

int run_fetch(const FetchCommand& cmd, const GlobalOptions& global) {
    try {
        const auto request = fetch_request(cmd);
        const auto collateral =
            resolve_collateral(collateral_sources(cmd.sources, global.quiet || global.json), request, now_utc());
        const auto summary = describe_collateral(collateral);
        const auto out = !cmd.out.empty() ? cmd.out : global.json ? std::string{} : std::string("-");
        if (!out.empty()) write_output(out, as_bytes(collateral_to_json(collateral)));
        if (global.json) {
            auto doc = document(collateral, summary, std::nullopt);
            doc["output"] = out.empty() ? json(nullptr) : json(out);
            write_output("-", as_bytes(doc.dump(2) + "\n"));
        } else if (out != "-") {
            write_output("-", as_bytes(fmt::format("Wrote {}\n", out) + text(collateral, summary, std::nullopt)));
        }
        return kOk;
    } catch (const Error& e) {
        return report_error(e, global);
    }
}

int run_show(const ShowCommand& cmd, const GlobalOptions& global) {
    try {
        const auto collateral = load_collateral(cmd.path);
        const auto summary = describe_collateral(collateral);
        Checked checked;
        checked.at = cmd.at.empty() ? now_utc() : parse_time(cmd.at);
        checked.root = trust_root_option(cmd.trust_root);
        checked.result = check_collateral(collateral, checked.root, checked.at);
        const std::optional<Checked> shown{std::move(checked)};
        write_output("-", as_bytes(global.json ? document(collateral, summary, shown).dump(2) + "\n"
                                               : text(collateral, summary, shown)));
        return shown->result.valid ? kOk : kRejected;
    } catch (const Error& e) {
        return report_error(e, global);
    }
}

}  // namespace

void register_collateral(CLI::App& root, const GlobalOptions& global, int& rc) {
    auto* group = root.add_subcommand("collateral", "Fetch, cache and inspect DCAP collateral (Intel PCS / PCCS)");
    group->require_subcommand(1);

    auto fetch = std::make_shared<FetchCommand>();
    auto* f =
        group->add_subcommand("fetch", "Fetch the collateral for a quote or an FMSPC as a QuoteCollateralV3 bundle");
    f->add_option("quote", fetch->quote_path, "Quote file (raw, hex, base64 or JSON container), '-' for stdin");
    f->add_option("--fmspc", fetch->fmspc, "FMSPC (12 hex digits) instead of a quote");
    f->add_option("--ca", fetch->ca, "PCK CA type, with --fmspc")->check(CLI::IsMember({"platform", "processor"}));
    f->add_option("--tee", fetch->tee, "TEE type, with --fmspc")
        ->check(CLI::IsMember({"tdx", "sgx"}))
        ->capture_default_str();
    f->add_option("--out", fetch->out, "Write the bundle to FILE ('-' for stdout; default stdout unless --json)");
    add_collateral_options(f, fetch->sources, false);
    f->callback([fetch, &global, &rc] { rc = run_fetch(*fetch, global); });

    auto show = std::make_shared<ShowCommand>();
    auto* s =
        group->add_subcommand("show", "Describe a collateral bundle or directory and check it against the trust root");
    s->add_option("collateral", show->path, "Collateral directory or QuoteCollateralV3 JSON file")->required();
    s->add_option("--at", show->at, "Check time, RFC 3339 or unix seconds (default: now)");
    s->add_option("--trust-root", show->trust_root,
                  "TEST ONLY: use this root certificate (PEM/DER) instead of Intel's pinned SGX Root CA");
    s->callback([show, &global, &rc] { rc = run_show(*show, global); });
}

}  // namespace tdxkit::cli
