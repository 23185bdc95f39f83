// `tdxkit collateral fetch|show` and `verify --collateral` through the real binary and libcurl,
// against the local PCS/PCCS look-alike (tests/pcs/pcs_server.py) on loopback.

#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "pcs/pcs_server.hpp"
#include "support/test_support.hpp"
#include "tdxkit/collateral.hpp"
#include "tdxkit/testing.hpp"

using nlohmann::json;
using tdxkit::test::PcsServer;
using tdxkit::test::run_process;
using tdxkit::test::run_tdxkit;
namespace fs = std::filesystem;
namespace tt = tdxkit::testing;

namespace {

const std::string kSimAt = "2026-01-15T00:00:00Z";
const std::string kRealAt = "2025-07-04T10:16:31Z";

fs::path sim(const std::string& rel) { return tdxkit::test::source_dir() / "testdata" / rel; }

fs::path temp_dir(const std::string& name) {
    const auto dir = fs::temp_directory_path() / ("tdxkit-collateral-cli-" + std::to_string(::getpid()) + "-" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

std::vector<std::string> fetch_args(const PcsServer& s, const std::string& prefix, const fs::path& cache,
                                    std::vector<std::string> extra) {
    std::vector<std::string> args{"collateral", "fetch",     "--pccs-url",  s.url(prefix),
                                  "--pccs-ca",  s.ca_file(), "--cache-dir", cache.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

// A collateral set valid around the real clock, so the cache (which uses it) holds it as fresh.
fs::path current_collateral(const fs::path& dir) {
    auto s = tt::Scenario();
    const auto now = tdxkit::now_utc();
    const tt::Validity around_now{now - 2 * tt::kDay, now + 2 * tt::kDay};
    for (auto* v : {&s.root.validity, &s.platform_ca.validity, &s.processor_ca.validity, &s.tcb_signing.validity,
                    &s.pck.cert.validity, &s.root_crl.validity, &s.pck_crl.validity, &s.tcb_info.validity,
                    &s.qe_identity.validity}) {
        *v = around_now;
    }
    const auto out = s.build();
    tt::write_scenario(out, dir);
    return dir;
}

json verify_json(const std::vector<std::string>& args) {
    const auto r = run_tdxkit(args);
    INFO(r.err);
    return json::parse(r.out);
}

}  // namespace

TEST_CASE("real Intel collateral served Intel-PCS style and PCCS style verifies exactly as offline") {
    const auto shared = tdxkit::test::real_testdata();
    const auto dir = shared / "collateral/dcapqvl-tdx_quote";
    const auto quote = (shared / "quotes/dcapqvl-tdx_quote.bin").string();
    PcsServer server{{{"tdx", dir}}};
    const auto tmp = temp_dir("real");
    const auto offline = verify_json({"verify", quote, "--collateral", dir.string(), "--at", kRealAt, "--json"});
    REQUIRE(offline["result"] == "ok");
    CHECK(offline["tcb"]["status"] == "UpToDate");
    const auto expected_bundle = tdxkit::collateral_to_json(tdxkit::load_collateral(dir.string()));

    for (const std::string style : {"pcs", "pccs"}) {
        CAPTURE(style);
        const auto bundle = tmp / (style + ".json");
        std::vector<std::string> extra{quote, "--out", bundle.string()};
        if (style == "pcs") {
            extra.insert(extra.end(), {"--root-ca-crl-url", server.url("IntelSGXRootCA.der")});
        }
        const auto f = run_tdxkit(fetch_args(server, style, tmp / ("cache-" + style), extra));
        INFO(f.err);
        REQUIRE(f.exit_code == 0);
        CHECK(f.out.rfind("Wrote " + bundle.string() + "\n", 0) == 0);
        CHECK(f.out.find("FMSPC b0c06f000000") != std::string::npos);
        CHECK(tdxkit::test::read_text(bundle) == expected_bundle);
        auto online = verify_json({"verify", quote, "--collateral", bundle.string(), "--at", kRealAt, "--json"});
        CHECK(online["result"] == "ok");
        CHECK(online["tcb"] == offline["tcb"]);
        CHECK(online["checks"] == offline["checks"]);
        CHECK(online["collateral"]["valid_until"] == offline["collateral"]["valid_until"]);
    }
    CHECK(server.requests() == 8);
    fs::remove_all(tmp);
}

TEST_CASE("simulated collateral: fetch by FMSPC (TDX and SGX), then verify with the test root") {
    PcsServer server{{{"tdx", sim("collateral/sim")}, {"sgx", sim("collateral/sim-sgx")}}};
    const auto tmp = temp_dir("sim");
    const auto tdx =
        run_tdxkit(fetch_args(server, "pccs", tmp / "cache",
                              {"--fmspc", "90C06F000000", "--ca", "platform", "--out", (tmp / "tdx.json").string()}));
    INFO(tdx.err);
    REQUIRE(tdx.exit_code == 0);
    const auto v =
        run_tdxkit({"verify", sim("quotes/sim-tdx-v4.bin").string(), "--collateral", (tmp / "tdx.json").string(),
                    "--trust-root", sim("pki/root.pem").string(), "--at", kSimAt});
    CHECK(v.exit_code == 0);
    CHECK(v.out.find("TCB status:   UpToDate") != std::string::npos);

    // Bundle on standard output by default.
    const auto sgx = run_tdxkit(fetch_args(server, "pcs", tmp / "cache",
                                           {"--fmspc", "90c06f000000", "--ca", "platform", "--tee", "sgx",
                                            "--root-ca-crl-url", server.url("IntelSGXRootCA.der")}));
    REQUIRE(sgx.exit_code == 0);
    std::ofstream(tmp / "sgx.json") << sgx.out;
    CHECK(run_tdxkit({"verify", sim("quotes/sim-sgx-v3.bin").string(), "--collateral", (tmp / "sgx.json").string(),
                      "--trust-root", sim("pki/root.pem").string(), "--at", kSimAt})
              .exit_code == 0);

    // --json: tdxkit.collateral/v1, with PCCS_URL from the environment.
    const auto j = run_process({"env", "PCCS_URL=" + server.url("pccs"), TDXKIT_BINARY, "--json", "collateral", "fetch",
                                sim("quotes/sim-tdx-v4.bin").string(), "--pccs-ca", server.ca_file(), "--cache-dir",
                                (tmp / "cache2").string(), "--out", (tmp / "j.json").string()});
    INFO(j.err);
    REQUIRE(j.exit_code == 0);
    const auto doc = json::parse(j.out);
    CHECK(doc["schema"] == "tdxkit.collateral/v1");
    CHECK(doc["result"] == "ok");
    CHECK(doc["source"] == "PCCS " + server.url("pccs"));
    CHECK(doc["fmspc"] == "90c06f000000");
    CHECK(doc["tee"] == "TDX");
    CHECK(doc["pck_crl_ca"] == "platform");
    CHECK(doc["tcb_evaluation_data_number"] == 17);
    CHECK(doc["next_update"] == "2026-01-30T00:00:00Z");
    CHECK(doc["items"].size() == 4);
    CHECK(doc["verification"].is_null());
    CHECK(doc["output"] == (tmp / "j.json").string());
    CHECK(j.err.empty());  // --json is silent on stderr
    fs::remove_all(tmp);
}

TEST_CASE("service failures: 404, 503/429 with Retry-After, outage, timeout, truncation, TLS") {
    PcsServer server{{{"tdx", sim("collateral/sim")}}};
    const auto tmp = temp_dir("faults");
    const auto quote = sim("quotes/sim-tdx-v4.bin").string();

    const auto unknown = run_tdxkit(fetch_args(server, "pccs", tmp, {"--fmspc", "00a067110000", "--ca", "platform"}));
    CHECK(unknown.exit_code == 4);
    CHECK(unknown.err.find(server.url("pccs/tdx/certification/v4/tcb?fmspc=00a067110000&update=standard")) !=
          std::string::npos);
    CHECK(unknown.err.find("HTTP 404") != std::string::npos);
    CHECK(unknown.out.empty());

    for (const std::string fault : {"busy503", "busy429"}) {
        CAPTURE(fault);
        const auto before = server.requests();
        const auto t0 = std::chrono::steady_clock::now();
        const auto r =
            run_tdxkit(fetch_args(server, "pccs/" + fault, tmp / fault, {quote, "--out", (tmp / "b.json").string()}));
        INFO(r.err);
        CHECK(r.exit_code == 0);
        CHECK(seconds_since(t0) >= 1.0);         // each first request waited out Retry-After: 1
        CHECK(server.requests() - before == 8);  // every item once refused, then served
    }

    auto t0 = std::chrono::steady_clock::now();
    const auto down = run_tdxkit(fetch_args(server, "pccs/down", tmp, {quote, "--retries", "1"}));
    CHECK(down.exit_code == 4);
    CHECK(down.err.find("HTTP 503 (gave up after 2 attempts)") != std::string::npos);
    CHECK(down.err.find(server.url("pccs/down/tdx/certification/v4/tcb")) != std::string::npos);
    CHECK(seconds_since(t0) < 4.0);

    t0 = std::chrono::steady_clock::now();
    const auto slow = run_tdxkit(fetch_args(server, "pccs/slow", tmp, {quote, "--timeout", "0.5", "--retries", "0"}));
    CHECK(slow.exit_code == 4);
    CHECK(slow.err.find("timed out") != std::string::npos);
    CHECK(slow.err.find(server.url("pccs/slow/tdx/certification/v4/tcb")) != std::string::npos);
    CHECK(seconds_since(t0) < 2.5);

    const auto cut = run_tdxkit(fetch_args(server, "pccs/truncate", tmp, {quote, "--retries", "0"}));
    CHECK(cut.exit_code == 4);
    CHECK(cut.err.find(server.url("pccs/truncate/tdx/certification/v4/tcb")) != std::string::npos);

    // TLS verification cannot be skipped: without --pccs-ca the test server is not trusted.
    const auto untrusted =
        run_tdxkit({"collateral", "fetch", quote, "--pccs-url", server.url("pccs"), "--cache-dir", tmp.string()});
    CHECK(untrusted.exit_code == 4);
    CHECK(untrusted.err.find("certificate") != std::string::npos);
    CHECK(untrusted.err.find("gave up") == std::string::npos);  // not retried

    // Usage errors.
    CHECK(run_tdxkit({"collateral", "fetch"}).exit_code == 2);
    CHECK(run_tdxkit({"collateral", "fetch", quote, "--fmspc", "90c06f000000"}).exit_code == 2);
    CHECK(run_tdxkit({"collateral", "fetch", "--fmspc", "90c06f000000"}).exit_code == 2);
    CHECK(run_tdxkit({"collateral", "fetch", "--fmspc", "90c06f", "--ca", "platform"}).exit_code == 2);
    CHECK(run_tdxkit({"collateral", "fetch", quote, "--offline", "--refresh"}).exit_code == 2);
    fs::remove_all(tmp);
}

TEST_CASE("a wrong issuer chain is fetched but rejected by verify and by collateral show") {
    PcsServer server{{{"tdx", sim("collateral/sim")}}};
    const auto tmp = temp_dir("wrongchain");
    const auto bundle = (tmp / "b.json").string();
    const auto f = run_tdxkit(
        fetch_args(server, "pccs/wrongchain", tmp, {sim("quotes/sim-tdx-v4.bin").string(), "--out", bundle}));
    REQUIRE(f.exit_code == 0);
    const auto v = run_tdxkit({"verify", sim("quotes/sim-tdx-v4.bin").string(), "--collateral", bundle, "--trust-root",
                               sim("pki/root.pem").string(), "--at", kSimAt});
    CHECK(v.exit_code == 1);
    CHECK(v.out.rfind("REJECTED: tcb_info_chain", 0) == 0);
    const auto s =
        run_tdxkit({"collateral", "show", bundle, "--trust-root", sim("pki/root.pem").string(), "--at", kSimAt});
    CHECK(s.exit_code == 1);
    CHECK(s.out.rfind("REJECTED: tcb_info_chain", 0) == 0);
    CHECK(s.out.find("[ ok ] qe_identity_signature") != std::string::npos);
    fs::remove_all(tmp);
}

TEST_CASE("cache: second fetch makes no request; expired and corrupted entries are refetched; --offline") {
    const auto tmp = temp_dir("cache");
    PcsServer server{{{"tdx", current_collateral(tmp / "data")}}};
    const auto quote = (tmp / "data/quote.bin").string();
    const auto cache = tmp / "cache";
    const auto fetch = [&](const std::vector<std::string>& extra = {}) {
        auto args = fetch_args(server, "pccs", cache, {quote, "--out", (tmp / "b.json").string()});
        args.insert(args.begin(), "--json");
        args.insert(args.end(), extra.begin(), extra.end());
        const auto r = run_tdxkit(args);
        INFO(r.err);
        CHECK(r.exit_code == 0);
        return r.exit_code == 0 ? json::parse(r.out)["source"].get<std::string>() : std::string{};
    };
    CHECK(fetch() == "PCCS " + server.url("pccs"));
    CHECK(server.requests() == 4);
    const auto cached = fetch();
    CHECK(cached.rfind("cache " + cache.string(), 0) == 0);
    CHECK(server.requests() == 4);
    const auto verified = run_tdxkit(
        {"verify", quote, "--collateral", (tmp / "b.json").string(), "--trust-root", (tmp / "data/root.pem").string()});
    CHECK(verified.exit_code == 0);

    CHECK(fetch({"--refresh"}) == "PCCS " + server.url("pccs"));
    CHECK(server.requests() == 8);

    // Corrupt the entry: it is discarded and refetched, then valid again.
    REQUIRE(std::distance(fs::directory_iterator(cache), fs::directory_iterator()) == 1);
    const auto entry = fs::directory_iterator(cache)->path();
    const auto text = tdxkit::test::read_text(entry);
    std::ofstream(entry, std::ios::trunc) << text.substr(0, text.size() / 3);
    CHECK(fetch() == "PCCS " + server.url("pccs"));
    CHECK(server.requests() == 12);
    CHECK(fetch().rfind("cache ", 0) == 0);
    CHECK(server.requests() == 12);

    // --offline uses the cache only; with an empty cache it is exit 4 naming the remedy.
    CHECK(fetch({"--offline"}).rfind("cache ", 0) == 0);
    const auto none = run_tdxkit(fetch_args(server, "pccs", tmp / "empty", {quote, "--offline"}));
    CHECK(none.exit_code == 4);
    CHECK(none.err.find("--offline") != std::string::npos);
    CHECK(server.requests() == 12);

    // Expired: the simulated set's nextUpdate (2026-01-30) is long past, so every fetch goes out.
    PcsServer old{{{"tdx", sim("collateral/sim")}}};
    for (int i = 1; i <= 2; ++i) {
        CHECK(run_tdxkit(fetch_args(old, "pccs", cache,
                                    {sim("quotes/sim-tdx-v4.bin").string(), "--out", (tmp / "o.json").string()}))
                  .exit_code == 0);
        CHECK(old.requests() == 4 * i);
    }
    fs::remove_all(tmp);
}

TEST_CASE("cache: an entry that parses but does not verify is absent for verify, never a verdict") {
    const auto tmp = temp_dir("unverified");
    PcsServer server{{{"tdx", current_collateral(tmp / "data")}}};
    const auto quote = (tmp / "data/quote.bin").string();
    const auto cache = tmp / "cache";
    REQUIRE(run_tdxkit(fetch_args(server, "pccs", cache, {quote, "--out", (tmp / "b.json").string()})).exit_code == 0);
    REQUIRE(server.requests() == 4);
    // The cache key names the service, so --offline names it too.
    const std::vector<std::string> online{
        "verify",         quote,         "--pccs-url",   server.url("pccs"), "--pccs-ca",
        server.ca_file(), "--cache-dir", cache.string(), "--trust-root",     (tmp / "data/root.pem").string()};
    auto offline = online;
    offline.emplace_back("--offline");
    CHECK(run_tdxkit(offline).exit_code == 0);

    // A signature byte changed: the entry still parses, but its TCB Info no longer verifies.
    const auto entry = fs::directory_iterator(cache)->path();
    auto doc = json::parse(tdxkit::test::read_text(entry));
    auto& signature = doc["collateral"]["tcb_info_signature"].get_ref<std::string&>();
    signature[10] = signature[10] == '0' ? '1' : '0';
    std::ofstream(entry, std::ios::trunc) << doc.dump();

    const auto r = run_tdxkit(offline);
    CHECK(r.exit_code == 4);  // collateral unavailable, not "rejected"
    CHECK(r.err.find("does not verify (tcb_info_signature") != std::string::npos);
    CHECK(r.err.find("treated as absent") != std::string::npos);

    const auto refetched = run_tdxkit(online);
    INFO(refetched.err);
    CHECK(refetched.exit_code == 0);
    CHECK(refetched.err.find("WARNING: cached collateral") != std::string::npos);
    CHECK(server.requests() == 8);
    CHECK(run_tdxkit(offline).exit_code == 0);  // the refetched set replaced the entry
    fs::remove_all(tmp);
}

TEST_CASE("cache: concurrent tdxkit processes fill it without corrupting it") {
    const auto tmp = temp_dir("concurrent");
    PcsServer server{{{"tdx", current_collateral(tmp / "data")}}};
    const auto cache = tmp / "cache";
    std::string script;
    for (int i = 0; i < 4; ++i) {
        script += std::string(TDXKIT_BINARY) + " -q collateral fetch " + (tmp / "data/quote.bin").string() +
                  " --pccs-url " + server.url("pccs") + " --pccs-ca " + server.ca_file() + " --cache-dir " +
                  cache.string() + " --out " + (tmp / ("b" + std::to_string(i) + ".json")).string() + " & p" +
                  std::to_string(i) + "=$!\n";
    }
    script += "wait $p0 && wait $p1 && wait $p2 && wait $p3\n";
    const auto r = run_process({"sh", "-c", script});
    INFO(r.err);
    CHECK(r.exit_code == 0);
    // One complete entry, no temporary files, and it serves the next fetch.
    std::vector<fs::path> files;
    for (const auto& e : fs::directory_iterator(cache)) files.push_back(e.path());
    CHECK(files.size() == 1);
    const auto before = server.requests();
    const auto again = run_tdxkit(
        fetch_args(server, "pccs", cache, {(tmp / "data/quote.bin").string(), "--out", (tmp / "c.json").string()}));
    CHECK(again.exit_code == 0);
    CHECK(server.requests() == before);
    for (int i = 0; i < 4; ++i) {
        CHECK(tdxkit::test::read_text(tmp / ("b" + std::to_string(i) + ".json")) ==
              tdxkit::test::read_text(tmp / "c.json"));
    }
    fs::remove_all(tmp);
}

TEST_CASE("collateral show: facts, checks, --json, exit codes") {
    const auto dir = sim("collateral/sim").string();
    const auto ok =
        run_tdxkit({"collateral", "show", dir, "--trust-root", sim("pki/root.pem").string(), "--at", kSimAt});
    CHECK(ok.exit_code == 0);
    CHECK(ok.out.rfind("OK\n", 0) == 0);
    CHECK(ok.out.find("TDX, FMSPC 90c06f000000, PCE-ID 0000, QE Identity TD_QE") != std::string::npos);
    CHECK(ok.out.find("  tcb_info     Intel SGX TCB Signing        2025-12-31T00:00:00Z .. 2026-01-30T00:00:00Z") !=
          std::string::npos);
    CHECK(ok.out.find("[ ok ] pck_crl ") != std::string::npos);
    CHECK(ok.err.find("WARNING") != std::string::npos);

    const auto j =
        run_tdxkit({"--json", "collateral", "show", dir, "--trust-root", sim("pki/root.pem").string(), "--at", kSimAt});
    CHECK(j.exit_code == 0);
    const auto doc = json::parse(j.out);
    CHECK(doc["schema"] == "tdxkit.collateral/v1");
    CHECK(doc["source"] == "directory " + dir);
    CHECK(doc["verification"]["valid"] == true);
    CHECK(doc["verification"]["at"] == kSimAt);
    CHECK(doc["verification"]["trust_root"]["intel"] == false);
    CHECK(doc["verification"]["checks"].size() == 9);
    CHECK(doc["items"][2] == json{{"name", "pck_crl"},
                                  {"issuer", "Intel SGX PCK Platform CA"},
                                  {"valid_from", "2025-12-31T00:00:00Z"},
                                  {"valid_until", "2026-01-30T00:00:00Z"}});

    // Intel's root by default: the test set is rejected; later than nextUpdate: expired.
    const auto intel = run_tdxkit({"collateral", "show", dir, "--at", kSimAt});
    CHECK(intel.exit_code == 1);
    CHECK(intel.out.rfind("REJECTED: root_ca_crl", 0) == 0);
    const auto late = run_tdxkit({"--json", "collateral", "show", dir, "--trust-root", sim("pki/root.pem").string(),
                                  "--at", "2026-03-01T00:00:00Z"});
    CHECK(late.exit_code == 1);
    CHECK(json::parse(late.out)["result"] == "rejected");

    const auto missing = run_tdxkit({"--json", "collateral", "show", "/nonexistent/x.json"});
    CHECK(missing.exit_code == 4);
    CHECK(json::parse(missing.out)["error"]["code"] == "collateral_unavailable");
    const auto tmp = temp_dir("show");
    std::ofstream(tmp / "bad.json") << "{\"pck_crl\": 1";
    CHECK(run_tdxkit({"collateral", "show", (tmp / "bad.json").string()}).exit_code == 3);
    fs::remove_all(tmp);
}
