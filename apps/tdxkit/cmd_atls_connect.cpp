// `tdxkit atls-connect HOST:PORT`: attested TLS client. Verifies the server's TD (quote bound to
// this session's EKM, DCAP, policy, event log, certificate; or with --ra-tls, the quote in its
// certificate bound to the certificate's key) before any application byte is sent.

#include <algorithm>
#include <cmath>
#include <csignal>

#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "collateral_options.hpp"
#include "tdxkit/atls.hpp"
#include "tdxkit/policy.hpp"
#include "tdxkit/ratls.hpp"

namespace tdxkit::cli {
namespace {

using nlohmann::json;

struct ConnectOptions {
    std::string address;
    std::string server_name;
    std::string ca_file;
    bool insecure = false;
    std::string quote_path = "/tdx_quote";
    std::string trust_root;
    std::string at;
    std::string policy;
    bool no_cert_binding = false;
    std::string http_get;
    bool pipe = false;
    bool ra_tls = false;
    std::string client_cert;
    std::string client_key;
    CollateralCliOptions collateral;
};

constexpr std::size_t kMaxHttpBody = 64 * 1024 * 1024;

json opt_hex(const std::optional<std::string>& s) { return s ? json(*s) : json(nullptr); }

// What the server's RA-TLS certificate carried. Its subject, names, dates and app id are the word of
// whoever signed it (the attested key itself when self-signed), not attested: shown, never checked.
json ra_tls_json(const ratls::Evidence& evidence) {
    const auto& c = *evidence.certificate;
    json chain = json::array();
    for (const auto& der : c.chain) chain.push_back(to_hex(sha256(der)));
    json doc{{"container", evidence.container},
             {"source", evidence.source},
             {"certificate",
              {{"sha256", to_hex(sha256(c.der))},
               {"spki_sha256", to_hex(sha256(c.spki_der))},
               {"subject", c.subject},
               {"issuer", c.issuer},
               {"not_before", format_rfc3339(c.not_before)},
               {"not_after", format_rfc3339(c.not_after)},
               {"dns_names", c.dns_names},
               {"app_id", c.app_id ? json(to_hex(*c.app_id)) : json(nullptr)},
               {"special_usage", c.special_usage ? json(*c.special_usage) : json(nullptr)},
               {"event_log_compressed", c.event_log_compressed},
               {"chain_sha256", chain}}}};
    doc["attestation"] = evidence.attestation ? json{{"wire", evidence.attestation->wire_name()},
                                                     {"config", evidence.attestation->config}}
                                              : json(nullptr);
    return doc;
}

std::string render_json(const ConnectOptions& o, const atls::Outcome& out,
                        const std::optional<atls::Session::HttpResult>& http) {
    json steps = json::array();
    for (const auto& s : out.steps) steps.push_back({{"id", s.id}, {"passed", s.passed}, {"detail", s.detail}});
    json doc{{"schema", "tdxkit.atls/v1"},
             {"result", out.verified ? "ok" : "rejected"},
             {"failed_step", out.failed_step.empty() ? json(nullptr) : json(out.failed_step)},
             {"reason", out.reason},
             {"server",
              {{"address", o.address},
               {"tls_version", out.tls_version.empty() ? json(nullptr) : json(out.tls_version)},
               {"cipher", out.cipher.empty() ? json(nullptr) : json(out.cipher)},
               {"certificate_sha256",
                out.peer_certificate_sha256.empty() ? json(nullptr) : json(out.peer_certificate_sha256)},
               {"certificate_validated", out.peer_certificate_validated}}},
             {"binding",
              {{"nonce", out.nonce_hex.empty() ? json(nullptr) : json(out.nonce_hex)},
               {"expected_report_data",
                out.expected_report_data_hex.empty() ? json(nullptr) : json(out.expected_report_data_hex)},
               {"report_data",
                out.quote && out.quote->td_body() ? json(to_hex(out.quote->td_body()->report_data)) : json(nullptr)},
               {"certificate_required", !o.no_cert_binding},
               {"bound_certificate_sha256", opt_hex(out.bound_certificate_sha256)}}},
             {"steps", steps},
             {"timings_ms",
              {{"connect", out.timings.connect_ms},
               {"handshake", out.timings.handshake_ms},
               {"quote_fetch", out.timings.quote_fetch_ms},
               {"verify", out.timings.verify_ms}}}};
    const auto bound = std::find_if(out.steps.begin(), out.steps.end(),
                                    [](const atls::Step& s) { return s.id == "report_data_binding"; });
    doc["binding"]["report_data_bound"] = bound != out.steps.end() ? json(bound->passed) : json(nullptr);
    if (out.report) {
        const auto& r = *out.report;
        json checks = json::array();
        for (const auto& c : r.checks) checks.push_back({{"id", c.id}, {"passed", c.passed}, {"detail", c.detail}});
        doc["verification"] = {{"authentic", r.authentic},
                               {"failed_check", r.failed_check.empty() ? json(nullptr) : json(r.failed_check)},
                               {"tcb_status", r.tcb_status ? json(tcb_status_name(*r.tcb_status)) : json(nullptr)},
                               {"advisory_ids", r.advisory_ids},
                               {"verified_at", format_rfc3339(r.verified_at)},
                               {"trust_root_is_intel", r.trust_root_is_intel},
                               {"collateral_source", r.collateral_source},
                               {"fmspc", r.fmspc},
                               {"checks", checks}};
    } else {
        doc["verification"] = nullptr;
    }
    if (out.policy_result) {
        json violations = json::array();
        for (const auto& v : out.policy_result->violations) {
            violations.push_back(
                {{"path", v.path}, {"expected", v.expected}, {"actual", v.actual}, {"message", v.message}});
        }
        doc["policy"] = {{"satisfied", out.policy_result->satisfied}, {"violations", violations}};
    } else {
        doc["policy"] = nullptr;
    }
    if (out.replayed_rtmrs) {
        json rtmrs = json::array();
        for (const auto& m : *out.replayed_rtmrs) rtmrs.push_back(to_hex(m));
        doc["event_log"] = {{"events", out.event_count}, {"replayed_rtmrs", rtmrs}};
    } else {
        doc["event_log"] = nullptr;
    }
    if (out.quote && out.quote->td_body()) {
        const auto* td = out.quote->td_body();
        json q{{"mr_td", to_hex(td->mr_td)}, {"mr_config_id", to_hex(td->mr_config_id)}};
        for (std::size_t i = 0; i < 4; ++i) q[fmt::format("rtmr{}", i)] = to_hex(td->rtmr[i]);
        doc["quote"] = q;
    } else {
        doc["quote"] = nullptr;
    }
    doc["mode"] = out.ra_tls ? "ra-tls" : "atls";
    doc["ra_tls"] = out.evidence ? ra_tls_json(*out.evidence) : json(nullptr);
    if (out.ra_tls) doc["binding"]["certificate_required"] = nullptr;
    if (http) doc["http"] = {{"status", http->status}, {"body", http->body}};
    return doc.dump(2) + "\n";
}

std::string render_text(const ConnectOptions& o, const atls::Outcome& out) {
    std::string text = !out.verified ? fmt::format("REJECTED: {}: {}\n", out.failed_step, out.reason)
                       : out.ra_tls
                           ? fmt::format("OK: {} is an attested TD (RA-TLS: its quote binds the key of this session's "
                                         "certificate)\n",
                                         o.address)
                           : fmt::format("OK: {} is an attested TD (TLS session bound to its quote)\n", o.address);
    for (const auto& s : out.steps)
        text += fmt::format("  [{}] {:<23} {}\n", s.passed ? " ok " : "FAIL", s.id, s.detail);
    if (out.evidence) {
        const auto& c = *out.evidence->certificate;
        text += fmt::format("Certificate (its names and dates are its signer's word, not attested): subject \"{}\", "
                            "issuer \"{}\", DNS {}, valid {} to {}\n",
                            c.subject, c.issuer,
                            c.dns_names.empty() ? "none" : fmt::format("{}", fmt::join(c.dns_names, ", ")),
                            format_rfc3339(c.not_before), format_rfc3339(c.not_after));
    }
    text += fmt::format(
        "Timings: connect {:.1f} ms, handshake {:.1f} ms, quote fetch {:.1f} ms, verification {:.1f} ms\n",
        out.timings.connect_ms, out.timings.handshake_ms, out.timings.quote_fetch_ms, out.timings.verify_ms);
    return text;
}

void check_modes(const ConnectOptions& o) {
    if (o.pipe && !o.http_get.empty()) throw Error(Errc::invalid_argument, "--pipe cannot be combined with --http-get");
    if (o.ra_tls && (!o.ca_file.empty() || o.insecure)) {
        throw Error(Errc::invalid_argument,
                    "--ra-tls: the server certificate is vouched for by its quote, not by a CA: --ca-file and "
                    "--insecure-skip-tls-verify do not apply");
    }
    if (o.ra_tls && (o.no_cert_binding || o.quote_path != "/tdx_quote")) {
        throw Error(Errc::invalid_argument,
                    "--ra-tls: the quote comes in the certificate, bound to its key: --quote-path and "
                    "--no-cert-binding do not apply");
    }
    if (o.client_cert.empty() != o.client_key.empty()) {
        throw Error(Errc::invalid_argument, "--client-ra-tls CERT and --key KEY go together");
    }
}

int run_connect(const ConnectOptions& o, const GlobalOptions& global) {
    if (o.pipe && global.json) throw Error(Errc::invalid_argument, "--pipe cannot be combined with --json");
    check_modes(o);
    static_cast<void>(std::signal(SIGPIPE, SIG_IGN));  // the previous handler is not restored
    atls::ClientOptions options;
    std::tie(options.host, options.port) = atls::split_host_port(o.address, "atls-connect address");
    options.server_name = o.server_name;
    options.ca_file = o.ca_file;
    options.insecure_skip_tls_verify = o.insecure;
    options.quote_path = o.quote_path;
    options.timeout = std::chrono::milliseconds(std::llround(o.collateral.timeout * 1000));
    options.trust_root = trust_root_option(o.trust_root);
    if (!o.at.empty()) options.at = parse_time(o.at);
    options.policy = policy_option(o.policy);
    if (o.ra_tls && !global.quiet && !pins_workload(options.policy)) {
        // With --ra-tls no CA and no name vouch for the server: the policy is the only identity check.
        warn(fmt::format("--ra-tls with policy {}, which pins no measurement: any genuine TD running anything "
                         "passes, whoever operates it; pin td.* registers or dstack rules with --policy",
                         options.policy.source));
    }
    options.require_certificate_binding = !o.no_cert_binding;
    options.ra_tls = o.ra_tls;
    options.client_cert_file = o.client_cert;
    options.client_key_file = o.client_key;
    if (o.insecure) {
        warn("--insecure-skip-tls-verify: the server certificate is not validated; only the attestation (the "
             "certificate's hash in the TD's event log) vouches for it");
    }
    if (o.no_cert_binding) {
        warn("--no-cert-binding: the server certificate is not required to appear in the TD's event log");
    }
    const bool quiet = global.quiet;
    options.collateral = [&o, &options, quiet](const Quote& quote) {
        return resolve_collateral(o.collateral, quote, options.at ? *options.at : now_utc(), quiet, options.trust_root);
    };

    auto session = atls::connect(options);
    const auto& out = session.outcome();
    const int rc = out.verified ? kOk : out.network_error ? kCollateralUnavailable : kRejected;
    std::optional<atls::Session::HttpResult> http;
    if (out.verified && !o.http_get.empty()) http = session.http_get(o.http_get, options.timeout, kMaxHttpBody);
    const bool app_mode = !o.http_get.empty() || o.pipe;
    if (global.json) {
        write_output("-", as_bytes(render_json(o, out, http)));
    } else if (!app_mode || !out.verified) {
        write_output("-", as_bytes(render_text(o, out)));
    } else if (!quiet) {
        fmt::print(stderr, "tdxkit: attested: {} ({}, quote fetch {:.1f} ms, verification {:.1f} ms)\n", o.address,
                   out.tls_version, out.timings.quote_fetch_ms, out.timings.verify_ms);
    }
    if (!global.json && http) {
        if (http->status < 200 || http->status > 299) warn(fmt::format("GET {}: HTTP {}", o.http_get, http->status));
        write_output("-", as_bytes(http->body));
    }
    if (out.verified && o.pipe) session.pipe(STDIN_FILENO, STDOUT_FILENO);
    return rc;
}

}  // namespace

void register_atls_connect(CLI::App& root, const GlobalOptions& global, int& rc) {
    auto o = std::make_shared<ConnectOptions>();
    auto* sub = root.add_subcommand("atls-connect", "Attested TLS client: verify a TD server, then talk to it");
    sub->add_option("address", o->address, "Server HOST:PORT")->required();
    sub->add_option("--server-name", o->server_name,
                    "Name to verify in the certificate and send as SNI (default: HOST)");
    sub->add_option("--ca-file", o->ca_file, "PEM CA bundle for the server certificate instead of the system store");
    sub->add_flag("--insecure-skip-tls-verify", o->insecure,
                  "Do not validate the server certificate (the attestation still binds it)");
    sub->add_option("--quote-path", o->quote_path, "Path of the quote endpoint")->capture_default_str();
    sub->add_option("--trust-root", o->trust_root,
                    "TEST ONLY: use this root certificate (PEM/DER) instead of Intel's pinned SGX Root CA");
    sub->add_option("--at", o->at, "Verification time, RFC 3339 or unix seconds (default: now)");
    sub->add_option("--policy", o->policy, "Policy file (JSON, lib/docs/policy.md); default: UpToDate TCB, no debug");
    sub->add_flag("--no-cert-binding", o->no_cert_binding,
                  "Do not require the server certificate in the event log (New TLS Certificate event)");
    sub->add_option("--http-get", o->http_get, "After verification, GET this path on the session and print the body");
    sub->add_flag("--pipe", o->pipe, "After verification, bridge standard input and output to the session");
    sub->add_flag(
        "--ra-tls", o->ra_tls,
        "RA-TLS: appraise the quote in the server's certificate (bound to its key) instead of requesting one");
    sub->add_option("--client-ra-tls", o->client_cert,
                    "PEM certificate chain to present when the server asks for one (mutual RA-TLS); needs --key");
    sub->add_option("--key", o->client_key, "PEM private key of --client-ra-tls");
    add_collateral_options(sub, o->collateral);
    sub->callback([o, &global, &rc] { rc = run_connect(*o, global); });
}

}  // namespace tdxkit::cli
