// `tdxkit serve`: the verification service (lib: serve.hpp). Signals: SIGTERM/SIGINT stop it
// gracefully, SIGHUP reloads the policy directory.

#include <sys/resource.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "collateral_options.hpp"
#include "tdxkit/atls.hpp"
#include "tdxkit/serve.hpp"

namespace tdxkit::cli {
namespace {

using nlohmann::json;

struct ServeCommand {
    std::string listen = "127.0.0.1:8080";
    std::string tls_cert;
    std::string tls_key;
    std::string policy_dir;
    std::string verify_policy;
    CollateralCliOptions sources;
    std::string trust_root;
    std::string at;
    std::string max_body = "1M";
    std::size_t max_inflight = 64;
    std::size_t max_connections = 1024;
    std::string request_timeout = "10s";
    std::string shutdown_timeout = "10s";
    unsigned workers = 0;
};

std::atomic<bool> g_stop{false};
std::atomic<bool> g_reload{false};
extern "C" void on_stop(int) { g_stop.store(true); }
extern "C" void on_reload(int) { g_reload.store(true); }

// "1M", "512K", "1048576": bytes, binary multiples.
std::size_t parse_size(const std::string& text, std::string_view option) {
    std::size_t number = 0;
    const auto* end = text.data() + text.size();
    const auto [rest, ec] = std::from_chars(text.data(), end, number);
    const std::string_view unit(rest, static_cast<std::size_t>(end - rest));
    const unsigned shift = unit.empty() ? 0 : unit == "K" || unit == "k" ? 10 : unit == "M" || unit == "m" ? 20 : 99;
    if (ec != std::errc{} || rest == text.data() || shift == 99 || number == 0 ||
        number > (std::size_t{1} << 40U) >> shift) {
        throw Error(Errc::invalid_argument,
                    fmt::format("{} \"{}\": expected a size such as 1M, 512K or 4096", option, text));
    }
    return number << shift;
}

// "10s", "500ms", "2m", or seconds.
std::chrono::milliseconds parse_duration(const std::string& text, std::string_view option) {
    std::uint64_t number = 0;
    const auto* end = text.data() + text.size();
    const auto [rest, ec] = std::from_chars(text.data(), end, number);
    const std::string_view unit(rest, static_cast<std::size_t>(end - rest));
    const std::uint64_t scale = unit.empty() || unit == "s" ? 1000 : unit == "ms" ? 1 : unit == "m" ? 60'000 : 0;
    if (ec != std::errc{} || rest == text.data() || scale == 0 || number == 0 || number > 86'400'000 / scale) {
        throw Error(Errc::invalid_argument,
                    fmt::format("{} \"{}\": expected a duration such as 10s, 500ms or 2m", option, text));
    }
    return std::chrono::milliseconds(number * scale);
}

// A service holds a socket per connection: --max-connections needs as many descriptors.
void raise_descriptor_limit(std::size_t connections) {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    const rlim_t wanted = std::min<rlim_t>(limit.rlim_max, static_cast<rlim_t>(connections) + 64);
    if (limit.rlim_cur < wanted) {
        limit.rlim_cur = wanted;
        ::setrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur < static_cast<rlim_t>(connections) + 64) {
        warn(fmt::format("the descriptor limit ({}) is below --max-connections ({}) plus headroom: raise it (ulimit "
                         "-n, LimitNOFILE=)",
                         limit.rlim_cur, connections));
    }
}

int run_serve(const ServeCommand& cmd, const GlobalOptions& global) {
    if (cmd.policy_dir.empty()) throw Error(Errc::invalid_argument, "--policy-dir is required");
    serve::Options options;
    std::tie(options.listen_host, options.listen_port) = atls::split_host_port(cmd.listen, "--listen");
    options.tls_cert_file = cmd.tls_cert;
    options.tls_key_file = cmd.tls_key;
    options.policy_dir = cmd.policy_dir;
    options.verify_policy = cmd.verify_policy;
    options.trust_root = trust_root_option(cmd.trust_root);
    if (!cmd.at.empty()) {
        warn("--at fixes the verification time of every request: for tests only");
        options.at = parse_time(cmd.at);
    }
    options.collateral = collateral_sources(cmd.sources, true);
    options.max_body = parse_size(cmd.max_body, "--max-body");
    options.max_inflight = cmd.max_inflight;
    options.max_connections = cmd.max_connections;
    options.request_timeout = parse_duration(cmd.request_timeout, "--request-timeout");
    options.shutdown_timeout = parse_duration(cmd.shutdown_timeout, "--shutdown-timeout");
    options.workers = cmd.workers;
    if (options.listen_host != "127.0.0.1" && options.listen_host != "::1" && options.listen_host != "localhost" &&
        cmd.tls_cert.empty()) {
        warn(fmt::format("listening on {} without --tls-cert: verdicts travel in clear text and can be forged on the "
                         "way; put TLS in front or pass --tls-cert/--tls-key",
                         options.listen_host));
    }
    raise_descriptor_limit(options.max_connections);

    std::mutex log_mutex;
    options.log = [&log_mutex](std::string_view line) {
        const std::lock_guard lock(log_mutex);
        static_cast<void>(std::fwrite(line.data(), 1, line.size(), stderr));
        static_cast<void>(std::fputc('\n', stderr));
    };
    options.on_listening = [&](const std::string& host, std::uint16_t port) {
        const auto address = listen_address(host, port);
        const auto text =
            global.json
                ? json{{"schema", "tdxkit.serve/v1"}, {"listening", address}, {"tls", !cmd.tls_cert.empty()}}.dump() +
                      "\n"
                : fmt::format("tdxkit serve: listening on {}://{}\n", cmd.tls_cert.empty() ? "http" : "https", address);
        write_output("-", as_bytes(text));
    };

    install_server_signals(on_stop, on_reload);
    if (serve::run(options, g_stop, g_reload) != 0) {
        // Verifications past --shutdown-timeout still run on detached threads: leave without the
        // static destructors they could race with. Their clients see the connection close.
        static_cast<void>(std::fflush(nullptr));
        std::_Exit(kOk);
    }
    return kOk;
}

}  // namespace

void register_serve(CLI::App& root, const GlobalOptions& global, int& rc) {
    auto cmd = std::make_shared<ServeCommand>();
    auto* sub = root.add_subcommand("serve", "Run a verification service (HTTP; dstack-verifier compatible /verify)");
    sub->add_option("--listen", cmd->listen, "HOST:PORT to listen on (port 0: any free port)")->capture_default_str();
    sub->add_option("--tls-cert", cmd->tls_cert, "Serve HTTPS with this certificate (PEM, leaf first)");
    sub->add_option("--tls-key", cmd->tls_key, "The private key of --tls-cert (PEM)");
    sub->add_option("--policy-dir", cmd->policy_dir,
                    "Directory of policy files (*.json), each named by its file stem; /v1/appraise names one")
        ->required();
    sub->add_option("--verify-policy", cmd->verify_policy,
                    "The policy (a name in --policy-dir) POST /verify applies (default: the built-in default)");
    add_collateral_options(sub, cmd->sources);
    sub->add_option("--trust-root", cmd->trust_root,
                    "TEST ONLY: use this root certificate (PEM/DER) instead of Intel's pinned SGX Root CA");
    sub->add_option("--at", cmd->at, "TEST ONLY: verify every request at this time (RFC 3339 or unix seconds)");
    sub->add_option("--max-body", cmd->max_body, "Largest request body (e.g. 1M, 512K); larger: 413")
        ->capture_default_str();
    sub->add_option("--max-inflight", cmd->max_inflight, "Requests verified or queued at once; more: 503")
        ->capture_default_str();
    sub->add_option("--max-connections", cmd->max_connections, "Open connections at once; more are refused")
        ->capture_default_str();
    sub->add_option("--request-timeout", cmd->request_timeout,
                    "Time to send a whole request, and to sit idle between requests (e.g. 10s, 500ms)")
        ->capture_default_str();
    sub->add_option("--shutdown-timeout", cmd->shutdown_timeout,
                    "On SIGTERM/SIGINT, how long requests in flight may take to finish")
        ->capture_default_str();
    sub->add_option("--workers", cmd->workers, "Verification threads (default: one per core)");
    sub->callback([cmd, &global, &rc] { rc = run_serve(*cmd, global); });
}

}  // namespace tdxkit::cli
