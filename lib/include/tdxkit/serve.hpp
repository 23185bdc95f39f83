#pragma once

// `tdxkit serve`: verification as an HTTP endpoint for services that admit TDs (a KMS, a gateway, a
// scheduler). Every verdict comes from the same code as `tdxkit verify` (ratls::appraise_evidence);
// this layer only maps requests and answers.
//
// Endpoints (lib/docs/serve.md):
//   POST /verify        dstack-verifier compatible: {"quote", "event_log", "vm_config"} or {"attestation"}
//   POST /v1/appraise   tdxkit's own: any container verify reads, a policy NAME from the server's policy
//                       directory (never a policy from the client), an optional REPORTDATA expectation;
//                       answers tdxkit.verify/v1
//   GET  /health        200 once the trust root, policies and collateral source are loaded
//   GET  /metrics       Prometheus text: requests, verdicts by reason class, latency, collateral, in-flight
//
// The service keeps no state but its collateral cache and metrics, so N instances behind any load
// balancer with one shared PCCS behave as one.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tdxkit/export.hpp"
#include "tdxkit/pcs.hpp"
#include "tdxkit/time.hpp"
#include "tdxkit/verify.hpp"

namespace tdxkit::serve {

struct Options {
    std::string listen_host = "127.0.0.1";  // loopback unless asked otherwise
    std::uint16_t listen_port = 8080;       // 0: any free port (see on_listening)
    std::string tls_cert_file;              // PEM; with tls_key_file, HTTPS instead of HTTP
    std::string tls_key_file;
    std::filesystem::path policy_dir;  // *.json, each a policy named by its file stem; required
    // The policy POST /verify applies (a name in policy_dir); empty: the built-in default policy.
    std::string verify_policy;
    // check_cached unset: a cached entry must pass check_collateral at the time of the request.
    CollateralSources collateral;
    TrustRoot trust_root = intel_sgx_root_ca();          // replacing it is for tests and development only
    std::optional<UnixTime> at;                          // TEST ONLY: a fixed verification time
    std::size_t max_body = 1024 * 1024;                  // a larger request body: 413
    std::size_t max_inflight = 64;                       // requests being verified or waiting for a worker; more: 503
    std::size_t max_connections = 1024;                  // open connections; more are refused at accept
    std::chrono::milliseconds request_timeout{10'000};   // to read a request; also the idle keep-alive timeout
    unsigned workers = 0;                                // verification threads; 0: one per core
    std::chrono::milliseconds shutdown_timeout{10'000};  // for in-flight requests once stopping
    // One JSON line per request (id, method, path, status, verdict, reason class, latency) and per
    // event (listening, reload, shutdown). Never a quote, a body or a secret. Called from many threads.
    std::function<void(std::string_view line)> log;
    std::function<void(const std::string& host, std::uint16_t port)> on_listening;
};

struct Request {
    std::string method;
    std::string path;
    std::string body;
};

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  // e.g. Retry-After
    // For the log and the metrics: "ok", "rejected", "error", or "" (health, metrics, a refused request).
    std::string verdict;
    std::string reason_class;  // the failed check id or rule path ("quote_signature", "td.mrtd", ...)
};

// The request handling without the HTTP transport: thread-safe, used by run() and by tests.
class TDXKIT_EXPORT Service {
public:
    // Loads the policy directory (Error(malformed) or Error(io) naming the file) and checks the options
    // (Error(invalid_argument)).
    explicit Service(Options options);
    ~Service();
    Service(const Service&) = delete;
    Service& operator=(const Service&) = delete;

    [[nodiscard]] Response handle(const Request& request);
    // Reads the policy directory again and swaps the set atomically. On any error the old set stays
    // and the reason is returned.
    [[nodiscard]] std::optional<std::string> reload_policies();
    [[nodiscard]] std::vector<std::string> policy_names() const;
    // Counts a request answered by the transport itself (413, 503 over capacity, 408): for /metrics.
    void record(const Request& request, const Response& response, double seconds);
    [[nodiscard]] std::string metrics_text() const;
    [[nodiscard]] const Options& options() const noexcept;
    // In-flight accounting for /metrics and the capacity limit: false when max_inflight is reached.
    [[nodiscard]] bool try_begin_request() noexcept;
    void end_request() noexcept;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

// Serves until `stop` becomes true (checked at least every 200 ms); then stops accepting, lets the
// requests in flight finish within options.shutdown_timeout, and returns. `reload` set to true (by a
// SIGHUP handler) makes it reload the policies and clear the flag. Error(io) when it cannot listen,
// load the TLS files or start libmicrohttpd (also when libmicrohttpd12 is not installed), and what
// Service's constructor throws.
TDXKIT_EXPORT void run(const Options& options, const std::atomic<bool>& stop, std::atomic<bool>& reload);

}  // namespace tdxkit::serve
