// Loopback throughput and latency of `tdxkit serve`: N requests over C keep-alive connections from one
// epoll thread (so that the client takes as little CPU from the server as it can), after a warm-up.
// Reports requests/s, latency percentiles, the server's CPU time and RSS, and requests per server
// CPU-second: the number to hold against tdxkit_bench's in-process warm rate (BM_VerifyQuoteWarmCollateral,
// the same quote and collateral in the default mode). Every answer must equal the first one, or the run fails.
//
//   build/release/tests/tdxkit_serve_bench [--requests 20000] [--connections 64] [--warmup 1000]
//       [--mode appraise|verify] [--workers N] [--tdxkit PATH]
//
//   appraise  POST /v1/appraise, the dcap-qvl TDX sample quote with its Intel collateral (testdata/real)
//   verify    POST /verify, the simulated twin of dstack's lite capture (boot-chain prediction included)

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/http_client.hpp"
#include "support/serve_evidence.hpp"
#include "support/serve_process.hpp"

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using tdxkit::test::HttpConnection;
using tdxkit::test::HttpResponse;

struct Settings {
    std::size_t requests = 20'000;
    std::size_t connections = 64;
    std::size_t warmup = 1'000;
    std::string mode = "appraise";
    std::string workers;
    std::string tdxkit = TDXKIT_BINARY;
};

Settings parse_args(int argc, char** argv) {
    Settings s;
    for (int i = 1; i < argc; ++i) {
        const std::string arg = argv[i];
        if (i + 1 >= argc) throw std::invalid_argument("missing value for " + arg);
        const std::string value = argv[++i];
        if (arg == "--requests") {
            s.requests = std::stoul(value);
        } else if (arg == "--connections") {
            s.connections = std::stoul(value);
        } else if (arg == "--warmup") {
            s.warmup = std::stoul(value);
        } else if (arg == "--mode") {
            s.mode = value;
        } else if (arg == "--workers") {
            s.workers = value;
        } else if (arg == "--tdxkit") {
            s.tdxkit = value;
        } else {
            throw std::invalid_argument("unknown option " + arg);
        }
    }
    if (s.mode != "appraise" && s.mode != "verify") throw std::invalid_argument("--mode is appraise or verify");
    if (s.connections == 0 || s.requests < s.connections) throw std::invalid_argument("need requests >= connections");
    return s;
}

std::string hex_file(const fs::path& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) throw std::runtime_error("cannot read " + path.string());
    tdxkit::Bytes bytes;
    unsigned char buffer[4096];
    for (std::size_t n; (n = std::fread(buffer, 1, sizeof buffer, f)) > 0;)
        bytes.insert(bytes.end(), buffer, buffer + n);
    std::fclose(f);
    return tdxkit::to_hex(bytes);
}

struct Run {
    std::vector<double> latencies_ms;
    std::size_t mismatched = 0;
    double seconds = 0;
};

// `total` requests spread over the connections, each with one request outstanding at a time.
Run drive(std::vector<HttpConnection>& connections, const std::string& request, const std::string& expected_body,
          std::size_t total) {
    const int epoll = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll < 0) throw std::runtime_error("epoll_create1 failed");
    struct State {
        tdxkit::test::ResponseParser parser;
        Clock::time_point sent;
    };
    std::vector<State> states(connections.size());
    Run run;
    run.latencies_ms.reserve(total);
    std::size_t issued = 0;
    const auto send = [&](std::size_t i) {
        states[i].sent = Clock::now();
        if (!connections[i].send(request)) throw std::runtime_error("the server closed a connection");
        ++issued;
    };
    const auto start = Clock::now();
    for (std::size_t i = 0; i < connections.size() && issued < total; ++i) {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = i;
        ::epoll_ctl(epoll, EPOLL_CTL_ADD, connections[i].fd(), &ev);
        send(i);
    }
    std::vector<epoll_event> events(connections.size());
    char buffer[65536];
    while (run.latencies_ms.size() < total) {
        const int n = ::epoll_wait(epoll, events.data(), static_cast<int>(events.size()), 30'000);
        if (n <= 0) throw std::runtime_error("no answer within 30 s");
        for (int k = 0; k < n; ++k) {
            const auto i = static_cast<std::size_t>(events[static_cast<std::size_t>(k)].data.u64);
            const auto got = ::recv(connections[i].fd(), buffer, sizeof buffer, 0);
            if (got <= 0) throw std::runtime_error("the server closed a connection mid-run");
            states[i].parser.feed(std::string_view(buffer, static_cast<std::size_t>(got)));
            while (auto r = states[i].parser.next()) {
                run.latencies_ms.push_back(
                    std::chrono::duration<double, std::milli>(Clock::now() - states[i].sent).count());
                if (r->status != 200 || r->body != expected_body) ++run.mismatched;
                if (issued < total) send(i);
            }
        }
    }
    run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    ::close(epoll);
    return run;
}

double percentile(std::vector<double> values, double p) {
    std::sort(values.begin(), values.end());
    const auto index = static_cast<std::size_t>(p / 100.0 * static_cast<double>(values.size() - 1) + 0.5);
    return values[std::min(index, values.size() - 1)];
}

}  // namespace

int main(int argc, char** argv) {
    try {
        const auto settings = parse_args(argc, argv);
        const fs::path source{TDXKIT_SOURCE_DIR};
        const fs::path real{TDXKIT_REAL_TESTDATA};
        const auto scratch = fs::temp_directory_path() / ("tdxkit-serve-bench-" + std::to_string(::getpid()));
        fs::create_directories(scratch / "policies");
        std::ofstream(scratch / "policies/strict.json") << R"({"version": 1})";

        std::vector<std::string> args{"--policy-dir", (scratch / "policies").string()};
        std::string path;
        std::string body;
        if (settings.mode == "appraise") {
            args.insert(args.end(), {"--collateral", (real / "collateral/dcapqvl-tdx_quote").string(), "--at",
                                     "2025-07-04T10:16:31Z"});
            path = "/v1/appraise";
            body = nlohmann::json{{"evidence", hex_file(real / "quotes/dcapqvl-tdx_quote.bin")}, {"policy", "strict"}}
                       .dump();
        } else {
            args.insert(args.end(), {"--collateral", (source / "testdata/collateral/sim").string(), "--trust-root",
                                     (source / "testdata/pki/root.pem").string(), "--at", "2026-01-15T00:00:00Z"});
            path = "/verify";
            body = tdxkit::test::lite_evidence().attestation_request();
        }
        if (!settings.workers.empty()) args.insert(args.end(), {"--workers", settings.workers});
        args.insert(args.end(), {"--max-connections", std::to_string(settings.connections + 16)});

        int status = 0;
        {
            tdxkit::test::ServeProcess server(settings.tdxkit, args, scratch);
            const auto request = tdxkit::test::format_request("POST", path, body);
            const auto first = HttpConnection(server.port()).request("POST", path, body);
            if (first.status != 200)
                throw std::runtime_error("the first answer is HTTP " + std::to_string(first.status));
            const auto verdict = nlohmann::json::parse(first.body);
            const bool accepted = settings.mode == "appraise" ? verdict["result"] == "ok" : verdict["is_valid"] == true;
            if (!accepted) throw std::runtime_error("the evidence is not accepted: " + first.body.substr(0, 400));

            std::vector<HttpConnection> connections;
            for (std::size_t i = 0; i < settings.connections; ++i) connections.emplace_back(server.port());
            drive(connections, request, first.body, std::max(settings.warmup, settings.connections));
            const auto cpu_before = server.cpu_seconds();
            const auto run = drive(connections, request, first.body, settings.requests);
            const auto cpu = server.cpu_seconds() - cpu_before;
            const auto rss = server.rss_kib();
            const auto peak = server.peak_rss_kib();
            connections.clear();
            status = server.stop(SIGTERM);

            const auto rate = static_cast<double>(settings.requests) / run.seconds;
            std::printf("tdxkit serve, POST %s: %zu requests over %zu keep-alive connections (after %zu warm-up)\n",
                        path.c_str(), settings.requests, settings.connections,
                        std::max(settings.warmup, settings.connections));
            std::printf("  throughput      %.0f requests/s (%.2f s)\n", rate, run.seconds);
            std::printf("  latency         p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", percentile(run.latencies_ms, 50),
                        percentile(run.latencies_ms, 99), percentile(run.latencies_ms, 100));
            std::printf("  server CPU      %.2f s user+system: %.0f requests per CPU-second\n", cpu,
                        static_cast<double>(settings.requests) / cpu);
            std::printf("  server RSS      %ld KiB at the end, %ld KiB peak\n", rss, peak);
            std::printf("  answers         %zu differ from the first (must be 0); server exit status %d\n",
                        run.mismatched, status);
            if (run.mismatched != 0) status = 1;
        }
        fs::remove_all(scratch);
        return status == 0 ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tdxkit_serve_bench: %s\n", e.what());
        return 2;
    }
}
