// The simulated provider: a quote signed with tdxkit's deterministic TEST PKI, plus a dstack-style
// event log whose replay is the quote's RTMRs. It exists so that the attested-TLS flow can be
// exercised end to end without TDX hardware; nothing it makes verifies against Intel's root. It lives
// in tdxkit-testing, beside the PKI it signs with, so that libtdxkit itself cannot forge a quote.

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tdxkit/error.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/provider.hpp"
#include "tdxkit/testing.hpp"

namespace tdxkit::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// What a dstack CVM would measure for this app; fixed so that simulated logs are reproducible.
constexpr std::string_view kSimulatedAppCompose =
    R"({"manifest_version":2,"name":"tdxkit-simulated","runner":"docker-compose"})";
constexpr std::uint32_t kEvEfiAction = 0x80000007;  // any TCG boot event type; only the digest is replayed

std::string read_text_file(const fs::path& path) {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) throw Error(Errc::io, fmt::format("simulated provider: no {}", path.string()));
    std::ifstream in(path, std::ios::binary);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in && !in.eof()) throw Error(Errc::io, fmt::format("simulated provider: cannot read {}", path.string()));
    return text;
}

// The PKI directory must be the one tdxkit::testing derives from the scenario's seed: the quote is
// signed with those keys, so any other directory would be silently ignored.
void check_pki_keys(const fs::path& dir, const Scenario& scenario) {
    for (const auto* label : {"attestation", "pck-leaf"}) {
        const auto path = dir / fmt::format("{}.key", label);
        if (read_text_file(path) != private_key_pem(scenario.key(label))) {
            throw Error(Errc::invalid_argument,
                        fmt::format("simulated provider: {} is not the \"{}\" key of tdxkit's TEST PKI (seed \"{}\"); "
                                    "only a directory written by tdxkit-testgen (testdata/pki) can be used",
                                    path.string(), label, scenario.seed));
        }
    }
}

void check_pki_chain(const fs::path& dir, const ScenarioOutput& built) {
    const auto path = dir / "pck-chain.pem";
    std::error_code ec;
    if (fs::exists(path, ec) && read_text_file(path) != built.pck_chain_pem) {
        throw Error(Errc::invalid_argument,
                    fmt::format("simulated provider: {} differs from the chain of tdxkit's TEST PKI", path.string()));
    }
}

json boot_event(std::uint32_t imr, int n) {
    const auto digest = sha384(as_bytes(fmt::format("tdxkit simulated boot event RTMR{} #{}", imr, n)));
    return {
        {"imr", imr}, {"event_type", kEvEfiAction}, {"digest", to_hex(digest)}, {"event", ""}, {"event_payload", ""}};
}

json runtime_event(std::string_view name, ByteSpan payload) {
    return {{"imr", 3},
            {"event_type", kDstackRuntimeEventType},
            {"digest", to_hex(runtime_event_digest(name, payload))},
            {"event", name},
            {"event_payload", to_hex(payload)}};
}

std::string simulated_event_log(const std::optional<Bytes>& certificate_der) {
    json log = json::array();
    for (std::uint32_t imr = 0; imr < 3; ++imr) {
        for (int n = 1; n <= 2; ++n) log.push_back(boot_event(imr, n));
    }
    const auto compose_hash = sha256(as_bytes(kSimulatedAppCompose));
    const auto instance = sha256(as_bytes("tdxkit simulated instance"));
    log.push_back(runtime_event("system-preparing", {}));
    log.push_back(runtime_event("app-id", ByteSpan(compose_hash).first(20)));
    log.push_back(runtime_event("compose-hash", compose_hash));
    log.push_back(runtime_event("instance-id", ByteSpan(instance).first(20)));
    log.push_back(runtime_event("boot-mr-done", {}));
    log.push_back(runtime_event("system-ready", {}));
    if (certificate_der) {
        // shade's cert-manager: emit_event("New TLS Certificate", sha256(der).hexdigest()).
        log.push_back(runtime_event("New TLS Certificate", as_bytes(to_hex(sha256(*certificate_der)))));
    }
    return log.dump();
}

// Building the PKI and collateral is the slow part (every certificate and CRL is signed again), and
// only the report data changes between requests of one server. So the quote is built once per
// (PKI directory, event log), and each request only sets its report data and re-signs the quote
// with the attestation key, exactly as the scenario would.
struct QuoteTemplate {
    Quote quote;
    PrivateScalar signing_key{};
};

std::shared_ptr<const QuoteTemplate> quote_template(const fs::path& pki_dir, const std::string& event_log) {
    static std::mutex mutex;
    static std::map<std::string, std::shared_ptr<const QuoteTemplate>> templates;
    const auto key = pki_dir.string() + '\n' + event_log;
    const std::lock_guard lock(mutex);
    if (const auto it = templates.find(key); it != templates.end()) return it->second;

    Scenario scenario;
    check_pki_keys(pki_dir, scenario);
    scenario.quote.td_body.rtmr = replay_rtmrs(parse_dstack_event_log(event_log));
    const auto built = scenario.build();
    check_pki_chain(pki_dir, built);
    auto made = std::make_shared<QuoteTemplate>();
    made->quote = parse_quote(built.quote);
    made->signing_key =
        scenario.key(scenario.quote.signing_key.empty() ? scenario.quote.attestation_key : scenario.quote.signing_key);
    if (templates.size() >= 16) templates.clear();  // a server uses one; bound it anyway
    templates.emplace(key, made);
    return made;
}

Bytes signed_quote(const QuoteTemplate& tmpl, const Octets<64>& report_data) {
    Quote quote = tmpl.quote;
    auto body = std::get<TdReportBody>(quote.body);
    body.report_data = report_data;
    quote.body = body;
    // The signed region is the header and body, which serialize_quote writes first.
    Bytes raw = serialize_quote(quote);
    quote.signature_data.signature = sign_p256(tmpl.signing_key, ByteSpan(raw).first(quote.signed_length()));
    return serialize_quote(quote);
}

}  // namespace

GeneratedQuote generate_simulated_quote(const QuoteRequest& request) {
    if (request.pki_dir.empty()) {
        throw Error(Errc::invalid_argument,
                    "the simulated provider needs the TEST PKI directory (--pki DIR, e.g. testdata/pki)");
    }
    GeneratedQuote out;
    out.provider = QuoteProvider::simulated;
    out.source = fmt::format("simulated (TEST PKI {})", request.pki_dir);
    out.event_log = simulated_event_log(request.bind_certificate_der);
    out.vm_config = R"({"tdxkit_simulated":true})";
    const auto tmpl = quote_template(request.pki_dir, *out.event_log);
    // Built here with the requested report data, so the provider-answer check of libtdxkit has
    // nothing to catch.
    out.quote = signed_quote(*tmpl, request.report_data);
    out.response_json = json{
        {"quote", to_hex(out.quote)},
        {"event_log", *out.event_log},
        {"report_data", to_hex(request.report_data)},
        {"vm_config",
         *out.vm_config}}.dump();
    return out;
}

}  // namespace tdxkit::testing
