// `tdxkit atls-serve`: the server side of attested TLS. Answers POST /tdx_quote with a quote bound
// to the requesting TLS session and relays everything else to --upstream; with --ra-tls, serves an
// RA-TLS certificate (its own quote inside) and relays everything.

#include <atomic>
#include <cstdio>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "collateral_options.hpp"
#include "ratls_options.hpp"
#include "tdxkit/atls.hpp"
#include "tdxkit/collateral_store.hpp"
#include "tdxkit/pcs.hpp"
#include "tdxkit/policy.hpp"
#include "tdxkit/provider.hpp"
#include "tdxkit/ratls.hpp"

namespace tdxkit::cli {
namespace {

using nlohmann::json;

struct ServeOptions {
    std::string listen;
    std::string cert;
    std::string key;
    std::string provider = "auto";
    std::string pki;
    std::string tsm_dir{kDefaultTsmDir};
    std::string event_log;
    std::string upstream;
    std::string quote_path = "/tdx_quote";
    bool ekm_header = false;
    std::string ekm_hmac_key_file;
    std::size_t max_connections = 64;
    bool ra_tls = false;
    RaTlsCertOptions cert_options;
    // Mutual RA-TLS: how clients' certificates are appraised.
    bool client_ra_tls = false;
    std::string trust_root;
    std::string at;
    std::string policy;
    CollateralCliOptions collateral;
};

constexpr std::size_t kMaxCertificate = 256 * 1024;
constexpr std::size_t kMaxEventLog = 16 * 1024 * 1024;

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop.store(true); }

SecretBytes hmac_key(const std::string& path) {
    const auto file = read_secret_file(path, 4096, true);
    // A key written with `echo` ends in a newline that the proxy's copy of the secret does not have.
    auto key = file.view();
    while (!key.empty() && (key.back() == '\n' || key.back() == '\r')) key = key.first(key.size() - 1);
    if (key.empty()) throw Error(Errc::invalid_argument, fmt::format("--ekm-hmac-key-file {} is empty", path));
    return SecretBytes(Bytes(key.begin(), key.end()));
}

// The provider options as a request; warns about the simulated provider.
QuoteRequest provider_request(const ServeOptions& o) {
    QuoteRequest base;
    base.provider = parse_quote_provider(o.provider);
    base.tsm_dir = o.tsm_dir;
    base.pki_dir = o.pki;
    if (base.provider == QuoteProvider::simulated) {
        warn("--provider simulated: quotes are signed with tdxkit's public TEST keys and prove nothing; clients "
             "accept them only with that PKI's --trust-root");
    } else if (!o.pki.empty()) {
        throw Error(Errc::invalid_argument, "--pki applies only to --provider simulated");
    }
    return base;
}

// --ra-tls: the certificate is the evidence. Either a given RA-TLS certificate and key (quote generate
// --ra-tls-cert), or a key made now, with a certificate carrying a quote over it.
void configure_ra_tls(const ServeOptions& o, atls::ServerOptions& server) {
    if (o.ekm_header || !o.ekm_hmac_key_file.empty()) {
        throw Error(Errc::invalid_argument,
                    "--ra-tls needs this server's own TLS (the certificate clients see carries the quote): "
                    "not with --ekm-header");
    }
    server.ra_tls = true;
    if (o.quote_path != "/tdx_quote") {
        throw Error(Errc::invalid_argument, "--quote-path: an RA-TLS server answers no quote requests");
    }
    if (!o.cert.empty()) {
        if (o.key.empty()) throw Error(Errc::invalid_argument, "--ra-tls with --cert needs its --key");
        if (!o.pki.empty() || !o.event_log.empty() || ra_tls_cert_options_given(o.cert_options)) {
            throw Error(Errc::invalid_argument,
                        "--pki, --event-log and --cert-not-before/--cert-not-after make a certificate: not with "
                        "--cert, which is served as it is");
        }
        // Refused now rather than by every client: a certificate without evidence is not RA-TLS.
        if (!ratls::parse_certificate(read_input(o.cert, ratls::kMaxCertificateInput)).has_evidence()) {
            throw Error(Errc::invalid_argument,
                        fmt::format("--cert {} carries no RA-TLS evidence (extension {} or {}): make one with "
                                    "`tdxkit quote generate --ra-tls-cert`",
                                    o.cert, ratls::kOidQuote, ratls::kOidAttestation));
        }
        return;
    }
    if (!o.key.empty()) {
        throw Error(Errc::invalid_argument, "--ra-tls makes its own key at start: --key goes only with --cert");
    }
    std::optional<std::string> log;
    if (!o.event_log.empty()) {
        const auto bytes = read_input(o.event_log, kMaxEventLog);
        log.emplace(bytes.begin(), bytes.end());
    }
    auto made = make_ra_tls_certificate(provider_request(o), o.cert_options, log);
    for (const auto& w : made.quote.warnings) warn(w);
    server.cert_pem = std::move(made.certificate_pem);
    server.key_pem = std::move(made.private_key_pem);
}

// aTLS: /tdx_quote answers with a quote bound to the requesting session.
void configure_atls(const ServeOptions& o, atls::ServerOptions& server) {
    if (o.cert.empty()) throw Error(Errc::invalid_argument, "--cert is required (unless --ra-tls)");
    if (o.ekm_header) {
        if (o.ekm_hmac_key_file.empty()) throw Error(Errc::invalid_argument, "--ekm-header needs --ekm-hmac-key-file");
        if (!o.key.empty()) {
            throw Error(Errc::invalid_argument,
                        "--ekm-header serves plain HTTP behind the TLS proxy: --key is not used");
        }
        server.ekm_hmac_key = hmac_key(o.ekm_hmac_key_file);
    } else if (o.key.empty()) {
        throw Error(Errc::invalid_argument, "--key is required (unless --ekm-header)");
    } else if (!o.ekm_hmac_key_file.empty()) {
        throw Error(Errc::invalid_argument, "--ekm-hmac-key-file applies only with --ekm-header");
    }
    auto base = provider_request(o);
    if (base.provider == QuoteProvider::simulated) {
        // The simulated TD measures the certificate its clients will see (the proxy's, with --ekm-header).
        base.bind_certificate_der = atls::leaf_certificate_der(read_input(o.cert, kMaxCertificate));
    }
    const std::string event_log_path = o.event_log;
    server.quote = [base, event_log_path](const Octets<64>& report_data) {
        auto request = base;
        request.report_data = report_data;
        auto q = generate_quote_or_simulate(request);
        atls::QuoteAnswer answer;
        answer.quote_hex = to_hex(q.quote);
        if (!event_log_path.empty()) {
            const auto log = read_input(event_log_path, kMaxEventLog);
            answer.event_log.assign(log.begin(), log.end());
        } else if (q.event_log) {
            answer.event_log = *q.event_log;
        } else {
            throw Error(Errc::invalid_argument,
                        fmt::format("{} returns no event log: pass --event-log", quote_provider_name(q.provider)));
        }
        answer.vm_config = q.vm_config.value_or("{}");
        return answer;
    };
}

// --client-ra-tls: every client must present an RA-TLS certificate that passes appraisal.
atls::PeerAppraisalOptions client_appraisal(const ServeOptions& o, bool quiet) {
    atls::PeerAppraisalOptions appraisal;
    appraisal.trust_root = trust_root_option(o.trust_root);
    if (!o.at.empty()) appraisal.at = parse_time(o.at);
    appraisal.policy = policy_option(o.policy);
    if (!quiet && !pins_workload(appraisal.policy)) {
        warn(fmt::format("--client-ra-tls with policy {}, which pins no measurement: any genuine TD running anything "
                         "is admitted as a client; pin td.* registers or dstack rules with --policy",
                         appraisal.policy.source));
    }
    // The service's collateral store: one fetch per platform however many clients arrive at once, kept
    // until its earliest nextUpdate (or an hour), and a fetch only for a PCK chain signed up to the root.
    auto store = std::make_shared<CollateralStore>(collateral_sources(o.collateral, quiet), appraisal.trust_root);
    appraisal.collateral = [store, at = appraisal.at](const Quote& quote) {
        return *store->get(quote, at ? *at : now_utc());
    };
    return appraisal;
}

int run_serve(const ServeOptions& o, const GlobalOptions& global) {
    atls::ServerOptions server;
    std::tie(server.listen_host, server.listen_port) = atls::split_host_port(o.listen, "--listen");
    server.cert_file = o.cert;
    server.key_file = o.key;
    server.upstream = o.upstream;
    server.quote_path = o.quote_path;
    server.max_connections = o.max_connections;
    server.ekm_header_mode = o.ekm_header;
    if (!o.upstream.empty()) (void)atls::split_host_port(o.upstream, "--upstream");
    if (o.ra_tls) {
        configure_ra_tls(o, server);
    } else if (ra_tls_cert_options_given(o.cert_options)) {
        throw Error(Errc::invalid_argument, "--cert-not-before and --cert-not-after apply only with --ra-tls");
    } else {
        configure_atls(o, server);
    }
    if (o.client_ra_tls) {
        server.client_ra_tls = client_appraisal(o, global.quiet);
    } else if (!o.trust_root.empty() || !o.at.empty() || !o.policy.empty()) {
        throw Error(Errc::invalid_argument, "--trust-root, --at and --policy apply only with --client-ra-tls");
    }
    std::mutex log_mutex;
    const bool quiet = global.quiet;
    server.log = [&log_mutex, quiet](std::string_view line) {
        if (quiet) return;
        const std::lock_guard lock(log_mutex);
        fmt::print(stderr, "tdxkit atls-serve: {}\n", line);
    };
    // RA-TLS: the certificate clients will appraise, by fingerprint (it is made at start).
    const auto certificate_sha256 =
        !o.ra_tls ? std::string()
                  : to_hex(sha256(atls::leaf_certificate_der(server.cert_pem.empty()
                                                                 ? read_input(o.cert, ratls::kMaxCertificateInput)
                                                                 : as_bytes(server.cert_pem))));
    server.on_listening = [&](const std::string& host, std::uint16_t port) {
        const auto address = listen_address(host, port);
        const char* mode = o.ra_tls ? "ra-tls" : o.ekm_header ? "ekm-header" : "tls";
        json doc{{"schema", "tdxkit.atls-serve/v1"}, {"listening", address}, {"mode", mode}, {"provider", o.provider}};
        if (o.ra_tls) doc["certificate_sha256"] = certificate_sha256;
        // The text line ends with no colon after the address: scripts take the port after the last one.
        const auto text = global.json
                              ? doc.dump() + "\n"
                              : fmt::format("tdxkit atls-serve: listening on {} ({})\n", address,
                                            o.ra_tls       ? "TLS 1.3, RA-TLS certificate sha256 " + certificate_sha256
                                            : o.ekm_header ? "plain HTTP behind a TLS proxy, EKM from header"
                                                           : "TLS 1.3");
        write_output("-", as_bytes(text));
    };

    install_server_signals(on_stop_signal);
    atls::serve(server, g_stop);
    if (!quiet) fmt::print(stderr, "tdxkit atls-serve: stopped\n");
    return kOk;
}

}  // namespace

void register_atls_serve(CLI::App& root, const GlobalOptions& global, int& rc) {
    auto o = std::make_shared<ServeOptions>();
    auto* sub = root.add_subcommand("atls-serve", "Attested TLS server: answer /tdx_quote with session-bound quotes");
    sub->add_option("--listen", o->listen, "ADDR:PORT to listen on (port 0: any free port)")->required();
    sub->add_option("--cert", o->cert,
                    "PEM certificate chain (leaf first); with --ekm-header, the proxy's; with --ra-tls, an RA-TLS "
                    "certificate to serve instead of making one");
    sub->add_option("--key", o->key, "PEM private key of --cert");
    sub->add_flag("--ra-tls", o->ra_tls,
                  "RA-TLS: serve a certificate carrying this TD's quote over its key (made at start unless --cert)");
    add_ra_tls_cert_options(sub, o->cert_options);
    sub->add_flag("--client-ra-tls", o->client_ra_tls,
                  "Mutual RA-TLS: require each client's RA-TLS certificate and appraise it before its requests");
    sub->add_option("--trust-root", o->trust_root,
                    "--client-ra-tls, TEST ONLY: use this root certificate instead of Intel's pinned SGX Root CA");
    sub->add_option("--at", o->at, "--client-ra-tls: verification time, RFC 3339 or unix seconds (default: now)");
    sub->add_option("--policy", o->policy, "--client-ra-tls: policy file (JSON) the clients' TDs must satisfy");
    add_collateral_options(sub, o->collateral);
    sub->add_option("--provider", o->provider, "Quote provider; simulated only when named")
        ->check(CLI::IsMember({"auto", "configfs-tsm", "dstack", "simulated"}))
        ->capture_default_str();
    sub->add_option("--pki", o->pki, "Simulated provider: the TEST PKI directory (testdata/pki)");
    sub->add_option("--tsm-dir", o->tsm_dir, "configfs-tsm report directory")->capture_default_str();
    sub->add_option("--event-log", o->event_log, "JSON event log to serve with each quote (re-read per request)");
    sub->add_option("--upstream", o->upstream, "HOST:PORT (plain HTTP) that receives every other request");
    sub->add_option("--quote-path", o->quote_path, "Path of the quote endpoint")->capture_default_str();
    sub->add_flag("--ekm-header", o->ekm_header,
                  "Plain HTTP behind a TLS proxy: take the EKM from X-TLS-EKM-Channel-Binding");
    sub->add_option("--ekm-hmac-key-file", o->ekm_hmac_key_file, "HMAC-SHA256 key shared with the proxy");
    sub->add_option("--max-connections", o->max_connections, "Concurrent connections")
        ->check(CLI::Range(1, 4096))
        ->capture_default_str();
    sub->callback([o, &global, &rc] { rc = run_serve(*o, global); });
}

}  // namespace tdxkit::cli
