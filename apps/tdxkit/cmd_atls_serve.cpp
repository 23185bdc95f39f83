// `tdxkit atls-serve`: the server side of attested TLS. Answers POST /tdx_quote with a quote bound
// to the requesting TLS session and relays everything else to --upstream.

#include <atomic>
#include <csignal>
#include <cstdio>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "tdxkit/atls.hpp"
#include "tdxkit/provider.hpp"

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

int run_serve(const ServeOptions& o, const GlobalOptions& global) {
    atls::ServerOptions server;
    std::tie(server.listen_host, server.listen_port) = atls::split_host_port(o.listen, "--listen");
    server.cert_file = o.cert;
    server.key_file = o.key;
    server.upstream = o.upstream;
    server.quote_path = o.quote_path;
    server.max_connections = o.max_connections;
    server.ekm_header_mode = o.ekm_header;
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
    if (!o.upstream.empty()) (void)atls::split_host_port(o.upstream, "--upstream");

    QuoteRequest base;
    base.provider = parse_quote_provider(o.provider);
    base.tsm_dir = o.tsm_dir;
    base.pki_dir = o.pki;
    if (base.provider == QuoteProvider::simulated) {
        warn("--provider simulated: quotes are signed with tdxkit's public TEST keys and prove nothing; clients "
             "accept them only with that PKI's --trust-root");
        // The simulated TD measures the certificate its clients will see (the proxy's, with --ekm-header).
        base.bind_certificate_der = atls::leaf_certificate_der(read_input(o.cert, kMaxCertificate));
    } else if (!o.pki.empty()) {
        throw Error(Errc::invalid_argument, "--pki applies only to --provider simulated");
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
    std::mutex log_mutex;
    const bool quiet = global.quiet;
    server.log = [&log_mutex, quiet](std::string_view line) {
        if (quiet) return;
        const std::lock_guard lock(log_mutex);
        fmt::print(stderr, "tdxkit atls-serve: {}\n", line);
    };
    server.on_listening = [&](const std::string& host, std::uint16_t port) {
        const auto address =
            host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
        const auto text =
            global.json ? json{{"schema", "tdxkit.atls-serve/v1"},
                               {"listening", address},
                               {"mode", o.ekm_header ? "ekm-header" : "tls"},
                               {"provider", o.provider}}
                                  .dump() +
                              "\n"
                        : fmt::format("tdxkit atls-serve: listening on {} ({})\n", address,
                                      o.ekm_header ? "plain HTTP behind a TLS proxy, EKM from header" : "TLS 1.3");
        write_output("-", as_bytes(text));
    };

    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);
    static_cast<void>(std::signal(SIGPIPE, SIG_IGN));  // the previous handler is not restored
    atls::serve(server, g_stop);
    if (!quiet) fmt::print(stderr, "tdxkit atls-serve: stopped\n");
    return kOk;
}

}  // namespace

void register_atls_serve(CLI::App& root, const GlobalOptions& global, int& rc) {
    auto o = std::make_shared<ServeOptions>();
    auto* sub = root.add_subcommand("atls-serve", "Attested TLS server: answer /tdx_quote with session-bound quotes");
    sub->add_option("--listen", o->listen, "ADDR:PORT to listen on (port 0: any free port)")->required();
    sub->add_option("--cert", o->cert, "PEM certificate chain (leaf first); with --ekm-header, the proxy's")
        ->required();
    sub->add_option("--key", o->key, "PEM private key of --cert");
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
