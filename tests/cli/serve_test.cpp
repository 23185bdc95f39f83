// `tdxkit serve` through real loopback sockets: dstack-verifier's request shapes and answers, the same
// verdicts as `tdxkit verify`, a bounded load run, and each fault with its expected answer. The fault
// cases ("fault - ...") run as ctest tests of their own (TDXKIT_CASE_TESTS). No assertion is about
// time: a limit that must act is checked by what the client sees, and waits are bounded only so that
// a broken server fails instead of hanging.

#include <doctest/doctest.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <memory>
#include <optional>
#include <thread>

#include <poll.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>
#include <openssl/sha.h>

#include "pcs/pcs_server.hpp"
#include "support/http_client.hpp"
#include "support/serve_evidence.hpp"
#include "support/serve_process.hpp"
#include "support/test_support.hpp"

using nlohmann::json;
using nlohmann::ordered_json;
using namespace tdxkit::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

const std::string kSimAt = "2026-01-15T00:00:00Z";
// The real lite capture's PCK certificate is younger than every published collateral for its FMSPC
// (testdata/real/PROVENANCE.md): with this collateral and time, verification fails at the first
// collateral check, under Intel's real root, the same way for `verify` and for the service.
const std::string kRealAt = "2026-04-15T00:50:58Z";

fs::path testdata(const std::string& rel) { return source_dir() / "testdata" / rel; }

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& extra) {
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

// The simulated platform: testdata/collateral/sim under the test root, at its reference time.
std::vector<std::string> sim_args(const std::vector<std::string>& extra = {}) {
    return with({"--collateral", testdata("collateral/sim").string(), "--trust-root", testdata("pki/root.pem").string(),
                 "--at", kSimAt},
                extra);
}

std::vector<std::string> real_args() {
    return {"--collateral", (real_testdata() / "collateral/dcapqvl-tdx_quote_outdated").string(), "--at", kRealAt};
}

// The service fetching from the PCCS look-alike through its "switch" fault, one attempt per item and
// a one-second budget each, so that an outage is answered at once.
std::vector<std::string> pccs_args(const PcsServer& pcs, const TempDir& cache, const std::vector<std::string>& extra) {
    return with({"--pccs-url", pcs.url("pccs/switch"), "--pccs-ca", pcs.ca_file(), "--cache-dir",
                 (cache.path() / "cache").string(), "--retries", "0", "--timeout", "1", "--trust-root",
                 testdata("pki/root.pem").string(), "--at", kSimAt},
                extra);
}

// `tdxkit serve` with a scratch directory for its logs and its policy directory (strict.json).
struct Serve {
    TempDir dir{"serve-cli"};
    std::unique_ptr<ServeProcess> process;

    explicit Serve(const std::vector<std::string>& args) {
        fs::create_directories(dir.path() / "policies");
        dir.write("policies/strict.json", R"({"version": 1})");
        process = std::make_unique<ServeProcess>(
            TDXKIT_BINARY, with({"--policy-dir", (dir.path() / "policies").string()}, args), dir.path());
    }
    [[nodiscard]] std::uint16_t port() const { return process->port(); }
    // `tdxkit verify` under the same policy file, so that its document is the one /v1/appraise answers.
    [[nodiscard]] std::vector<std::string> policy_args() const {
        return {"--policy", (dir.path() / "policies/strict.json").string()};
    }
    [[nodiscard]] HttpConnection connect() const { return HttpConnection(port()); }
    [[nodiscard]] HttpResponse post(const std::string& path, const std::string& body) const {
        return connect().request("POST", path, body);
    }
    [[nodiscard]] HttpResponse get(const std::string& path) const { return connect().request("GET", path); }
    [[nodiscard]] double metric_value(const std::string& name, const std::string& labels = "") const {
        const auto text = get("/metrics").body;
        const auto value = metric(text, name, labels);
        if (!value) throw std::runtime_error("no metric " + name + labels + " in:\n" + text);
        return *value;
    }
    // Polls /metrics until `name` reaches `value` (true), or 20 s pass (false: the test then fails).
    bool wait_metric(const std::string& name, double value) const {
        const auto deadline = std::chrono::steady_clock::now() + 20s;
        while (metric_value(name) != value) {
            if (std::chrono::steady_clock::now() > deadline) return false;
            std::this_thread::sleep_for(10ms);
        }
        return true;
    }
};

// The service in front of the PCCS look-alike, whose "switch" fault the test sets.
struct PccsServe {
    PcsServer pcs{{{"tdx", testdata("collateral/sim")}}};
    TempDir cache{"serve-pccs"};
    Serve serve;
    // `mode`: how the PCCS behaves from the start ("hold": every fetch waits for the test).
    PccsServe(const std::vector<std::string>& extra, const std::string& mode) : serve(pccs_args(pcs, cache, extra)) {
        pcs.set_switch(mode);
    }
};

json cli_verify(const std::string& file, const std::vector<std::string>& args) {
    const auto r = run_tdxkit(with({"--json", "verify", file}, args));
    INFO(r.err);
    REQUIRE(!r.out.empty());
    return json::parse(r.out);
}

std::string file_text(const fs::path& path) { return read_text(path); }

// /v1/appraise always names a policy; "strict" is the one file of every Serve's policy directory.
std::string appraise_request(const std::string& evidence, const std::string& policy = "strict") {
    return json{{"evidence", evidence}, {"policy", policy}}.dump();
}

std::vector<std::string> keys(const ordered_json& object) {
    std::vector<std::string> out;
    for (const auto& [key, unused] : object.items()) out.push_back(key);
    return out;
}

std::string sha256_hex(tdxkit::ByteSpan data) {
    std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
    SHA256(data.data(), data.size(), digest.data());
    return tdxkit::to_hex(digest);
}

// A successful /verify answer for the simulated twin of dstack's lite capture.
void check_twin_valid(const HttpResponse& r) {
    CAPTURE(r.body);
    REQUIRE(r.status == 200);
    const auto doc = json::parse(r.body);
    CHECK(doc["is_valid"] == true);
    CHECK(doc["details"]["app_info"]["app_id"] == "86b0e55f2fa8e4fb69d890f14f54d5612707646e");
}

}  // namespace

TEST_CASE("dstack's real lite fixtures through a socket: /verify and /v1/appraise give tdxkit verify's verdict") {
    Serve serve(real_args());
    const auto getquote = real_testdata() / "eventlogs/dstack-verifier-tdx-lite-getquote.json";
    const auto attestation = real_testdata() / "attestations/dstack-verifier-tdx-lite-attestation.json";
    for (const auto& file : {getquote, attestation}) {
        CAPTURE(file);
        const auto cli = cli_verify(file.string(), with(real_args(), serve.policy_args()));
        REQUIRE(cli["result"] == "rejected");
        CHECK(cli["checks"].back()["id"] == "root_ca_crl");  // the collateral is older than the PCK

        // dstack-verifier's shapes posted as the fixtures hold them (the GetQuote response with its
        // report_data member): dstack's step 1 fails with tdxkit's reason, and nothing else is filled.
        const auto v = serve.post("/verify", file_text(file));
        CAPTURE(v.body);
        REQUIRE(v.status == 200);
        const auto doc = ordered_json::parse(v.body);
        CHECK(keys(doc) == std::vector<std::string>{"is_valid", "details", "reason"});
        CHECK(doc["is_valid"] == false);
        CHECK(doc["reason"] == "Quote verification failed: " + cli["reason"].get<std::string>());
        CHECK(doc["details"]["quote_verified"] == false);
        CHECK(doc["details"]["app_info"].is_null());

        // /v1/appraise answers tdxkit.verify/v1: the CLI's document, member for member.
        const auto a = serve.post("/v1/appraise", appraise_request(file_text(file)));
        REQUIRE(a.status == 200);
        CHECK(json::parse(a.body) == cli);
    }
}

TEST_CASE("POST /verify success: the simulated twin of dstack's lite capture gets dstack's answer") {
    const auto& e = lite_evidence();
    Serve serve(sim_args());
    const std::string key_provider_id =
        "3059301306072a8648ce3d020106082a8648ce3d030107034200042f71e234d7339a1ceaca09c3c391eb816c533f980adaab34f16"
        "ead093ff0ac100d9c03253a3056f6d27735125433180b3e61c54a78f3fd13337869e0051dee06";
    const std::string key_provider_info = R"({"name":"kms","id":")" + key_provider_id + R"("})";
    // dstack's formulas applied to the real capture (/work notes, verifier-compat.md §2); device_id is
    // SHA-256 of the PPID of the PCK that signed, here the test PKI's.
    const ordered_json app_info{
        {"app_id", "86b0e55f2fa8e4fb69d890f14f54d5612707646e"},
        {"compose_hash", "86b0e55f2fa8e4fb69d890f14f54d5612707646e2573d54e0d2ddaaade77caa9"},
        {"instance_id", "050bf89570575fe8fab4cb8f0a62a9e64efe8ead"},
        {"device_id", sha256_hex(e.ppid)},
        {"mr_system", "118f754a080ecb8527df65656ee4e7e97b891cf488ad6a38886ff0dbca0c8f70"},
        {"mr_aggregated", "c758fa624b62536ca77504c4c52745e70880220a178a615a859c52f8b101d2ee"},
        {"os_image_hash", "e6f5cfec20c02e7b97baa213d0f718020b55e040172d90ccbcb946d56c8b09db"},
        {"key_provider_info", tdxkit::to_hex(tdxkit::as_bytes(key_provider_info))},
        {"init_script_hashes", ordered_json::array()},
    };
    auto getquote = json::parse(e.quote_request());
    getquote["report_data"] = e.real_getquote["report_data"];  // a GetQuote response posted as is
    for (const auto& body : {e.attestation_request(), e.quote_request(), getquote.dump()}) {
        const auto r = serve.post("/verify", body);
        CAPTURE(r.body);
        REQUIRE(r.status == 200);
        CHECK(r.header("Content-Type") == "application/json");
        const auto doc = ordered_json::parse(r.body);
        CHECK(doc["is_valid"] == true);
        CHECK(doc["reason"].is_null());
        const auto& d = doc["details"];
        // dstack's VerificationDetails order, boot_info present on success (notes §2).
        CHECK(keys(d) == std::vector<std::string>{"quote_verified", "event_log_verified", "os_image_hash_verified",
                                                  "acpi_tables_verified", "os_image_is_dev", "os_image_version",
                                                  "tee_variant", "report_data", "tcb_status", "advisory_ids",
                                                  "key_provider", "app_info", "boot_info"});
        CHECK(d["quote_verified"] == true);
        CHECK(d["event_log_verified"] == true);
        CHECK(d["os_image_hash_verified"] == true);
        CHECK(d["acpi_tables_verified"] == false);  // dstack's lite path never verifies ACPI tables
        CHECK(d["os_image_is_dev"].is_null());
        CHECK(d["os_image_version"].is_null());
        CHECK(d["tee_variant"] == "dstack-tdx");
        CHECK(d["report_data"] == "646970313a3a736563703235366b31632d706b3a41353570576d74654a494a4f6a385f7049372d707a65"
                                  "4478793147327131384744763838484e526442586b51");
        CHECK(d["tcb_status"] == "UpToDate");  // testdata/collateral/sim
        CHECK(d["advisory_ids"] == ordered_json::array());
        CHECK(d["key_provider"] == ordered_json{{"name", "kms"}, {"id", key_provider_id}});
        // AppInfo's nine fields, in order; the service also lists the registers after them, as older
        // dstack-verifier answers did.
        ordered_json dstack_fields;
        for (const auto& [key, value] : d["app_info"].items()) {
            if (dstack_fields.size() < app_info.size()) dstack_fields[key] = value;
        }
        CHECK(dstack_fields == app_info);
        CHECK(d["app_info"]["mrtd"] == tdxkit::to_hex(tdxkit::parse_quote(e.quote).td_body()->mr_td));
        const ordered_json boot_info{
            {"teeVariant", "dstack-tdx"},
            {"mrAggregated", app_info["mr_aggregated"]},
            {"osImageHash", app_info["os_image_hash"]},
            {"mrSystem", app_info["mr_system"]},
            {"appId", app_info["app_id"]},
            {"composeHash", app_info["compose_hash"]},
            {"instanceId", app_info["instance_id"]},
            {"deviceId", app_info["device_id"]},
            {"keyProviderInfo", app_info["key_provider_info"]},
            {"tcbStatus", "UpToDate"},
            {"advisoryIds", ordered_json::array()},
        };
        CHECK(d["boot_info"] == boot_info);
    }

    // /v1/appraise for the same evidence: the document `tdxkit verify --json` prints for the same file.
    const auto file = serve.dir.write("twin-attestation.hex", tdxkit::to_hex(e.attestation));
    const auto cli = cli_verify(file, with(sim_args(), serve.policy_args()));
    CHECK(cli["result"] == "ok");
    const auto a = serve.post("/v1/appraise", appraise_request(tdxkit::to_hex(e.attestation)));
    REQUIRE(a.status == 200);
    const auto doc = json::parse(a.body);
    CHECK(doc["result"] == cli["result"]);
    CHECK(doc["reason"] == cli["reason"]);
    CHECK(doc["checks"] == cli["checks"]);
    CHECK(doc["evidence_checks"] == cli["evidence_checks"]);
    CHECK(doc == cli);
}

TEST_CASE("through the socket: dstack's request shapes, and errors as JSON with their status") {
    Serve serve(sim_args());
    auto c = serve.connect();  // one keep-alive connection for all: an error answer does not close it
    const auto internal = c.request("POST", "/verify", "{}");
    CHECK(internal.status == 200);
    CHECK(json::parse(internal.body)["reason"] == "Internal error: Quote is required");
    for (const auto& body : {R"({"quote":"00","event_log":"[]","vm_config":"{}"})", R"({"attestation":"00"})"}) {
        const auto r = c.request("POST", "/verify", body);
        CHECK(r.status == 200);
        CHECK(json::parse(r.body)["is_valid"] == false);
    }
    // Content-Type is ignored, as Rocket's data guard does (dstack's README posts with curl -d).
    const auto form = c.request("POST", "/verify", "{}", "Content-Type: application/x-www-form-urlencoded\r\n");
    CHECK(form.status == 200);

    struct Case {
        std::string method, path, body;
        int status;
        std::string code;
    };
    for (const auto& k :
         std::vector<Case>{{"POST", "/verify", "{\"quote\":", 400, "bad_request"},
                           {"POST", "/verify", R"({"quote":"zz"})", 422, "unprocessable"},
                           {"POST", "/verify", R"({"qoute":"00"})", 422, "unprocessable"},
                           {"POST", "/v1/appraise", R"({"evidence":"00","x":1})", 400, "invalid_argument"},
                           {"GET", "/nope", "", 404, "not_found"},
                           {"GET", "/verify", "", 405, "method_not_allowed"},
                           {"POST", "/metrics", "", 405, "method_not_allowed"}}) {
        CAPTURE(k.path);
        CAPTURE(k.body);
        const auto r = c.request(k.method, k.path, k.body);
        CHECK(r.status == k.status);
        CHECK(r.header("Content-Type") == "application/json");
        CHECK(json::parse(r.body)["error"]["code"] == k.code);
        if (k.status == 405) CHECK(r.header("Allow") == (k.method == "GET" ? "POST" : "GET, HEAD"));
    }
    const auto health = json::parse(c.request("GET", "/health").body);
    CHECK(health["status"] == "ok");
    CHECK(health["policies"] == json::array({"strict"}));
    // The transport counted every answer by endpoint and status.
    const auto metrics = c.request("GET", "/metrics");
    CHECK(metrics.header("Content-Type").rfind("text/plain", 0) == 0);
    CHECK(metric(metrics.body, "tdxkit_requests_total", R"({endpoint="/verify",status="200"})") == 4);
    CHECK(metric(metrics.body, "tdxkit_requests_total", R"({endpoint="/verify",status="422"})") == 2);
    CHECK(metric(metrics.body, "tdxkit_requests_total", R"({endpoint="other",status="404"})") == 1);
    CHECK(serve.process->stop(SIGTERM) == 0);
    // One JSON line per request on stderr, with no request body in it.
    const auto log = serve.process->err();
    CHECK(log.find(R"("event":"request")") != std::string::npos);
    CHECK(log.find("zz") == std::string::npos);
}

TEST_CASE("load: 400 requests over 16 keep-alive connections, every one answered as the CLI answers, no RSS growth") {
    const auto& e = lite_evidence();
    Serve serve(sim_args({"--workers", "2"}));
    TempDir files("serve-load");
    const auto real_getquote = real_testdata() / "eventlogs/dstack-verifier-tdx-lite-getquote.json";
    const auto sim_quote = testdata("quotes/sim-tdx-v4.bin");
    const auto twin = files.write("twin.hex", tdxkit::to_hex(e.attestation));
    struct Kind {
        std::string path, body;
        std::string expected;  // the body every answer must equal
    };
    std::vector<Kind> kinds{
        {"/verify", e.attestation_request(), ""},
        {"/verify", e.quote_request(), ""},
        {"/verify", file_text(real_getquote), ""},  // rejected: the real PCK is not under the test root
        {"/v1/appraise", appraise_request(tdxkit::to_hex(e.attestation)), ""},
        {"/v1/appraise", appraise_request(file_text(real_getquote)), ""},
        {"/v1/appraise", appraise_request(tdxkit::to_hex(read_file(sim_quote)), "strict"), ""},
    };
    {
        // The first answer of each kind, checked against the CLI, is what every later answer must be.
        auto c = serve.connect();
        for (auto& k : kinds) {
            const auto r = c.request("POST", k.path, k.body);
            REQUIRE(r.status == 200);
            k.expected = r.body;
        }
        const auto cli_twin = cli_verify(twin, with(sim_args(), serve.policy_args()));
        const auto cli_real = cli_verify(real_getquote.string(), with(sim_args(), serve.policy_args()));
        const auto cli_sim = cli_verify(sim_quote.string(), with(sim_args(), serve.policy_args()));
        REQUIRE(cli_twin["result"] == "ok");
        REQUIRE(cli_real["result"] == "rejected");
        REQUIRE(cli_sim["result"] == "ok");
        CHECK(json::parse(kinds[0].expected)["is_valid"] == true);
        CHECK(kinds[1].expected == kinds[0].expected);
        CHECK(json::parse(kinds[2].expected)["reason"] ==
              "Quote verification failed: " + cli_real["reason"].get<std::string>());
        CHECK(json::parse(kinds[3].expected) == cli_twin);
        CHECK(json::parse(kinds[4].expected) == cli_real);
        auto sim = json::parse(kinds[5].expected);
        CHECK(sim["policy"]["source"].get<std::string>().find("strict.json") != std::string::npos);
        for (const auto* field : {"result", "reason", "checks", "tcb", "quote"}) CHECK(sim[field] == cli_sim[field]);
    }

    constexpr int kConnections = 16;
    constexpr int kPerConnection = 25;
    int verify_per_run = 0;
    for (int t = 0; t < kConnections; ++t) {
        for (int i = 0; i < kPerConnection; ++i) {
            verify_per_run += kinds[static_cast<std::size_t>(t + i) % kinds.size()].path == "/verify" ? 1 : 0;
        }
    }
    const auto run = [&] {
        std::atomic<int> answered{0}, wrong{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < kConnections; ++t) {
            threads.emplace_back([&, t] {
                try {
                    auto c = serve.connect();
                    for (int i = 0; i < kPerConnection; ++i) {
                        const auto& k = kinds[static_cast<std::size_t>(t + i) % kinds.size()];
                        const auto r = c.request("POST", k.path, k.body);
                        ++answered;
                        if (r.status != 200 || r.body != k.expected) ++wrong;
                    }
                } catch (const std::exception&) {
                    // counted as unanswered
                }
            });
        }
        for (auto& t : threads) t.join();
        CHECK(answered == kConnections * kPerConnection);
        CHECK(wrong == 0);
    };
    run();  // warm-up: collateral in memory, caches and the allocator's arenas filled
    const auto warm = serve.process->rss_kib();
    run();
    run();
    const auto after = serve.process->rss_kib();
    MESSAGE("server RSS after warm-up ", warm, " KiB, after 800 more requests ", after, " KiB");
    // A leak of even 1 KiB per request would show as 800 KiB. Under AddressSanitizer freed memory
    // sits in its quarantine (hundreds of MiB), so RSS says nothing there; LeakSanitizer checks instead.
#if defined(__SANITIZE_ADDRESS__)
    MESSAGE("AddressSanitizer build: RSS growth not checked");
#else
    CHECK(after - warm <= 512);
#endif
    CHECK(serve.metric_value("tdxkit_requests_total", R"({endpoint="/verify",status="200"})") ==
          3 + 3 * verify_per_run);
    CHECK(serve.process->stop(SIGTERM) == 0);
}

TEST_CASE("fault - PCCS down, then too slow, then back: 503 with Retry-After until it answers, then verdicts") {
    const auto& e = lite_evidence();
    PccsServe f({}, "");
    auto& pcs = f.pcs;
    auto& serve = f.serve;
    const auto unavailable = [&](const std::string& path, const std::string& body) {
        const auto r = serve.post(path, body);
        CAPTURE(r.body);
        CHECK(r.status == 503);
        CHECK(r.header("Retry-After") == "5");
        CHECK(json::parse(r.body)["error"]["code"] == "collateral_unavailable");
    };
    pcs.set_switch("down");
    unavailable("/verify", e.attestation_request());
    // A failure is the answer for the next 5 s: the PCCS is asked once, not once per request.
    const auto asked = pcs.requests();
    unavailable("/v1/appraise", appraise_request(tdxkit::to_hex(e.quote)));
    CHECK(pcs.requests() == asked);
    CHECK(serve.metric_value("tdxkit_collateral_fetch_failures_total") == 1);
    // Once that is over it is asked again: now too slow for the one-second --timeout.
    pcs.set_switch("slow 3");
    std::this_thread::sleep_for(std::chrono::milliseconds(5200));
    unavailable("/verify", e.attestation_request());
    CHECK(serve.metric_value("tdxkit_collateral_fetch_failures_total") == 2);

    // Back: the first request after the hold fetches and is answered with a verdict.
    pcs.set_switch("");
    std::this_thread::sleep_for(std::chrono::milliseconds(5200));
    check_twin_valid(serve.post("/verify", e.attestation_request()));
    CHECK(serve.metric_value("tdxkit_collateral_fetches_total") == 3);
    // Down again mid-run: the collateral in memory still serves, and nothing is fetched.
    pcs.set_switch("down");
    const auto requests_before = pcs.requests();
    for (int i = 0; i < 3; ++i) check_twin_valid(serve.post("/verify", e.attestation_request()));
    CHECK(pcs.requests() == requests_before);
    CHECK(serve.metric_value("tdxkit_collateral_fetches_total") == 3);
    CHECK(serve.metric_value("tdxkit_requests_total", R"({endpoint="/verify",status="503"})") == 2);
}

TEST_CASE("fault - a client sending a byte a second is cut off after --request-timeout; others are served") {
    const auto& e = lite_evidence();
    Serve serve(sim_args({"--request-timeout", "2s"}));
    auto slow = serve.connect();
    std::atomic<bool> slow_done{false};
    bool slow_answered = false;
    std::size_t bytes_sent = 0;
    std::thread trickle([&] {
        const auto request = format_request("POST", "/verify", e.attestation_request());
        for (const char byte : request) {
            if (!slow.send(std::string_view(&byte, 1))) break;
            ++bytes_sent;
            if (slow.wait_closed(1s)) break;  // a byte a second, until the server hangs up
        }
        slow_answered = slow.read_response().has_value();
        slow_done = true;
    });
    // Meanwhile another client is answered, again and again, on its own connection.
    auto fast = serve.connect();
    int fast_answers = 0;
    while (!slow_done) {
        check_twin_valid(fast.request("POST", "/verify", e.attestation_request()));
        ++fast_answers;
        std::this_thread::sleep_for(200ms);
    }
    trickle.join();
    CHECK(slow.closed());
    CHECK_FALSE(slow_answered);
    CHECK(bytes_sent < format_request("POST", "/verify", e.attestation_request()).size());
    CHECK(fast_answers > 0);
    check_twin_valid(serve.post("/verify", e.attestation_request()));
}

TEST_CASE("fault - a 100 MB body is refused with 413 before it is read, and the server keeps serving") {
    const auto& e = lite_evidence();
    Serve serve(sim_args({"--max-body", "1M"}));
    constexpr std::size_t kBody = 100 * 1024 * 1024;
    auto c = serve.connect();
    std::atomic<std::size_t> sent{0};
    // The body is written on the socket directly while this thread reads the answer.
    const auto write_all = [fd = c.fd()](std::string_view bytes) {
        while (!bytes.empty()) {
            pollfd p{fd, POLLOUT, 0};
            if (::poll(&p, 1, 20'000) != 1) return false;
            const auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            if (n <= 0) return false;
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    };
    std::thread writer([&] {
        if (!write_all("POST /verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + std::to_string(kBody) +
                       "\r\n\r\n")) {
            return;
        }
        const std::string chunk(64 * 1024, '0');
        while (sent < kBody && write_all(chunk)) sent += chunk.size();
    });
    const auto r = c.read_response();
    writer.join();
    REQUIRE(r);
    CHECK(r->status == 413);
    CHECK(json::parse(r->body)["error"]["code"] == "body_too_large");
    CHECK(r->header("Connection") == "close");
    CHECK(sent < kBody);  // the server hung up instead of reading 100 MB
    check_twin_valid(serve.post("/verify", e.attestation_request()));
    // A body just under the limit is read and answered (here: not a verification request).
    const auto under = serve.post("/verify", json{{"quote", std::string(1024 * 1024 - 20, '0')}}.dump());
    CHECK(under.status == 200);
    CHECK(serve.metric_value("tdxkit_requests_total", R"({endpoint="/verify",status="413"})") == 1);
}

TEST_CASE("fault - idle connections beyond --max-connections are refused; once idle ones time out, it serves") {
    Serve serve(sim_args({"--max-connections", "20", "--request-timeout", "3s"}));
    std::vector<HttpConnection> open;
    for (int i = 0; i < 40; ++i) open.emplace_back(serve.port(), 10s);
    int answered = 0, refused = 0;
    for (auto& c : open) {
        if (c.send(format_request("GET", "/health")) && c.read_response()) {
            ++answered;
        } else {
            CHECK(c.closed());
            CHECK(c.pending_bytes() == 0);
            ++refused;
        }
    }
    CHECK(answered == 20);
    CHECK(refused == 20);
    // Still full: one more connection is refused too.
    auto extra = serve.connect();
    const bool extra_answered = extra.send(format_request("GET", "/health")) && extra.read_response();
    CHECK_FALSE(extra_answered);
    // The twenty sit idle until --request-timeout closes them; then new clients are served.
    for (auto& c : open) CHECK(c.wait_closed(20s));
    // The server frees a slot a moment after it hangs up (when its event loop sees the socket shut), so a
    // new client may still be refused in between: it retries, as a client told "closed" would.
    std::optional<HttpResponse> served;
    for (const auto deadline = std::chrono::steady_clock::now() + 20s;
         !served && std::chrono::steady_clock::now() < deadline;) {
        auto c = try_connect(serve.port(), 10s);
        if (c && c->send(format_request("GET", "/health"))) served = c->read_response();
        if (!served) std::this_thread::sleep_for(20ms);
    }
    REQUIRE(served);
    CHECK(served->status == 200);
}

TEST_CASE("fault - SIGTERM under load lets every request in flight finish, then exits 0") {
    const auto& e = lite_evidence();
    PccsServe f({"--workers", "4"}, "hold");  // the collateral fetch waits, so the requests stay in flight
    auto& serve = f.serve;
    constexpr int kClients = 12;
    std::atomic<int> answered{0}, valid{0}, cut{0};
    std::vector<std::thread> clients;
    for (int t = 0; t < kClients; ++t) {
        clients.emplace_back([&] {
            auto c = serve.connect();
            // Keep-alive, until the server says Connection: close (it does once stopping).
            for (;;) {
                if (!c.send(format_request("POST", "/verify", e.attestation_request()))) break;
                const auto r = c.read_response();
                if (!r) {
                    if (c.pending_bytes() != 0) ++cut;
                    break;
                }
                ++answered;
                if (r->status == 200 && json::parse(r->body)["is_valid"] == true) ++valid;
                if (r->header("Connection") == "close") break;
            }
        });
    }
    REQUIRE(serve.wait_metric("tdxkit_inflight_requests", kClients));
    serve.process->signal(SIGTERM);
    // Stopping has begun once the listening socket is gone; only then may the verifications go on.
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (try_connect(serve.port()) && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(10ms);
    REQUIRE_FALSE(try_connect(serve.port()));
    f.pcs.set_switch("");
    for (auto& t : clients) t.join();
    CHECK(answered == kClients);  // each answered once, with Connection: close
    CHECK(valid == answered);
    CHECK(cut == 0);
    CHECK(serve.process->stop(SIGTERM) == 0);
    CHECK(serve.process->err().find(R"({"event":"stopped","unfinished":0})") != std::string::npos);
}

TEST_CASE("fault - single flight: 8 requests for one FMSPC through a slow PCCS make one fetch") {
    const auto& e = lite_evidence();
    PccsServe f({"--workers", "8"}, "hold");
    auto& serve = f.serve;
    std::vector<std::thread> clients;
    std::vector<HttpResponse> answers(8);
    for (std::size_t i = 0; i < answers.size(); ++i) {
        clients.emplace_back([&, i] { answers[i] = serve.post("/verify", e.attestation_request()); });
    }
    // All eight are in: one fetching, seven waiting for its result.
    REQUIRE(serve.wait_metric("tdxkit_collateral_waits_total", 7));
    CHECK(serve.metric_value("tdxkit_collateral_fetches_total") == 1);
    f.pcs.set_switch("");
    for (auto& t : clients) t.join();
    for (const auto& a : answers) check_twin_valid(a);
    CHECK(serve.metric_value("tdxkit_collateral_fetches_total") == 1);
    CHECK(serve.metric_value("tdxkit_collateral_waits_total") == 7);
    CHECK(serve.metric_value("tdxkit_collateral_fetch_failures_total") == 0);
    CHECK(f.pcs.requests() == 4);  // TCB Info, QE Identity, PCK CRL, root CA CRL: once each
}

TEST_CASE("fault - over capacity: with --max-inflight 1 a second request gets 503 with Retry-After") {
    const auto& e = lite_evidence();
    PccsServe f({"--max-inflight", "1"}, "hold");
    auto& serve = f.serve;
    HttpResponse first;
    std::thread client([&] { first = serve.post("/verify", e.attestation_request()); });
    REQUIRE(serve.wait_metric("tdxkit_inflight_requests", 1));
    const auto second = serve.post("/v1/appraise", appraise_request(tdxkit::to_hex(e.quote)));
    CHECK(second.status == 503);
    CHECK(second.header("Retry-After") == "1");
    CHECK(json::parse(second.body)["error"]["code"] == "overloaded");
    CHECK(serve.get("/health").status == 200);  // health is not counted against capacity
    f.pcs.set_switch("");
    client.join();
    check_twin_valid(first);
    check_twin_valid(serve.post("/verify", e.attestation_request()));
}

TEST_CASE("fault - SIGHUP reload: a broken policy keeps the old set and says so; a good one appears in /health") {
    Serve serve(sim_args());
    const auto policies = [&] { return json::parse(serve.get("/health").body)["policies"]; };
    CHECK(policies() == json::array({"strict"}));
    serve.dir.write("policies/broken.json", R"({"version": 1, "tcb": {"accepted_statuses": ["Revoked"]}})");
    serve.process->signal(SIGHUP);
    REQUIRE(serve.process->wait_for_log(R"("event":"reload","ok":false)"));
    CHECK(serve.process->err().find("broken.json") != std::string::npos);
    CHECK(policies() == json::array({"strict"}));
    // The old set still answers by name.
    const auto sim = appraise_request(tdxkit::to_hex(read_file(testdata("quotes/sim-tdx-v4.bin"))), "strict");
    CHECK(json::parse(serve.post("/v1/appraise", sim).body)["result"] == "ok");

    fs::remove(serve.dir.path() / "policies/broken.json");
    serve.dir.write("policies/fresh.json", R"({"version": 1, "tcb": {"accepted_statuses": ["UpToDate"]}})");
    serve.process->signal(SIGHUP);
    REQUIRE(serve.process->wait_for_log(R"("event":"reload","ok":true)"));
    CHECK(policies() == json::array({"fresh", "strict"}));
    const auto fresh = appraise_request(tdxkit::to_hex(read_file(testdata("quotes/sim-tdx-v4.bin"))), "fresh");
    CHECK(json::parse(serve.post("/v1/appraise", fresh).body)["result"] == "ok");
    CHECK(serve.process->stop(SIGTERM) == 0);
}
