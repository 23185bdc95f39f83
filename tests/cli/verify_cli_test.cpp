// `tdxkit verify` through the real binary, on the bundled simulated data (testdata/).

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

using nlohmann::json;
using tdxkit::test::run_tdxkit;
namespace fs = std::filesystem;

namespace {

const std::string kAt = "2026-01-15T00:00:00Z";

std::string data(const std::string& rel) { return (tdxkit::test::source_dir() / "testdata" / rel).string(); }

std::vector<std::string> demo_args(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"verify",       data("quotes/sim-tdx-v4.bin"), "--collateral", data("collateral/sim"),
                                  "--trust-root", data("pki/root.pem"),          "--at",         kAt};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

fs::path write_temp(const std::string& name, const std::string& content) {
    const auto path = fs::temp_directory_path() / ("tdxkit-verify-cli-" + std::to_string(::getpid()) + "-" + name);
    std::ofstream(path) << content;
    return path;
}

}  // namespace

TEST_CASE("the README demo: simulated quote, test collateral, explicit test root") {
    const auto r = run_tdxkit(demo_args());
    CHECK(r.exit_code == 0);
    CHECK(r.out.rfind("OK\n", 0) == 0);
    CHECK(r.out.find("TCB status:   UpToDate") != std::string::npos);
    CHECK(r.out.find("[ ok ] quote_signature") != std::string::npos);
    // A substitute root is never silent.
    CHECK(r.err.find("WARNING") != std::string::npos);
    CHECK(r.err.find("--trust-root") != std::string::npos);
}

TEST_CASE("without --trust-root the simulated quote is rejected: Intel's root is the default") {
    const auto r =
        run_tdxkit({"verify", data("quotes/sim-tdx-v4.bin"), "--collateral", data("collateral/sim"), "--at", kAt});
    CHECK(r.exit_code == 1);
    CHECK(r.out.rfind("REJECTED: root_ca_crl", 0) == 0);
    CHECK(r.err.find("--trust-root") == std::string::npos);
    CHECK(r.err.find("replaces Intel's SGX Root CA") == std::string::npos);
}

TEST_CASE("--json follows tdxkit.verify/v1") {
    const auto r = run_tdxkit(demo_args({"--json"}));
    REQUIRE(r.exit_code == 0);
    const auto j = json::parse(r.out);
    CHECK(j["schema"] == "tdxkit.verify/v1");
    CHECK(j["result"] == "ok");
    CHECK(j["reason"] == "");
    CHECK(j["verified_at"] == kAt);
    CHECK(j["trust_root"]["intel"] == false);
    CHECK(j["tcb"]["status"] == "UpToDate");
    CHECK(j["tcb"]["advisory_ids"].empty());
    CHECK(j["quote"]["fmspc"] == "90c06f000000");
    CHECK(j["policy"]["satisfied"] == true);
    CHECK(j["checks"].size() >= 30);
    for (const auto& c : j["checks"]) CHECK(c["passed"] == true);
}

TEST_CASE("v5 and SGX simulated quotes verify") {
    auto args = demo_args();
    args[1] = data("quotes/sim-tdx-v5.bin");
    CHECK(run_tdxkit(args).exit_code == 0);
    const auto sgx = run_tdxkit({"verify", data("quotes/sim-sgx-v3.bin"), "--collateral", data("collateral/sim-sgx"),
                                 "--trust-root", data("pki/root.pem"), "--at", kAt});
    CHECK(sgx.exit_code == 0);
}

TEST_CASE("expired collateral is rejected with the item and the dates") {
    auto args = demo_args();
    args.back() = "2026-03-01T00:00:00Z";
    const auto r = run_tdxkit(args);
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("expired") != std::string::npos);
    CHECK(r.out.find("2026-03-01T00:00:00Z") != std::string::npos);
}

TEST_CASE("exit codes: missing collateral 4, malformed quote 3, bad time 2, missing file 5") {
    // Offline with an empty cache: nothing to verify against (and no network is touched).
    const auto empty_cache =
        (fs::temp_directory_path() / ("tdxkit-empty-cache-" + std::to_string(::getpid()))).string();
    const auto no_collateral =
        run_tdxkit({"verify", data("quotes/sim-tdx-v4.bin"), "--offline", "--cache-dir", empty_cache});
    CHECK(no_collateral.exit_code == 4);
    CHECK(no_collateral.err.find("--collateral") != std::string::npos);

    const auto missing_dir = run_tdxkit({"verify", data("quotes/sim-tdx-v4.bin"), "--collateral", "/nonexistent/dir"});
    CHECK(missing_dir.exit_code == 4);

    const auto json_error =
        run_tdxkit({"verify", data("quotes/sim-tdx-v4.bin"), "--offline", "--cache-dir", empty_cache, "--json"});
    CHECK(json_error.exit_code == 4);
    const auto j = json::parse(json_error.out);
    CHECK(j["result"] == "error");
    CHECK(j["error"]["code"] == "collateral_unavailable");

    const auto garbage = write_temp("garbage.bin", std::string("\x04\x00\x02\x00\x81\x00\x00\x00", 8));
    const auto malformed = run_tdxkit({"verify", garbage.string(), "--collateral", data("collateral/sim")});
    CHECK(malformed.exit_code == 3);
    CHECK(malformed.err.find("offset") != std::string::npos);

    auto bad_time = demo_args();
    bad_time.back() = "yesterday";
    CHECK(run_tdxkit(bad_time).exit_code == 2);
    bad_time.push_back("--json");
    const auto bad_time_json = run_tdxkit(bad_time);
    CHECK(bad_time_json.exit_code == 2);
    CHECK(json::parse(bad_time_json.out)["error"]["code"] == "invalid_argument");

    CHECK(run_tdxkit({"verify", "/nonexistent/quote.bin", "--collateral", data("collateral/sim")}).exit_code == 5);
    fs::remove(garbage);

    // Batch-only options are refused for a single quote instead of being ignored.
    for (const auto& option :
         {std::vector<std::string>{"--output", "summary"}, std::vector<std::string>{"--jobs", "2"}}) {
        auto args = demo_args();
        args.insert(args.end(), option.begin(), option.end());
        const auto r = run_tdxkit(args);
        CHECK(r.exit_code == 2);
        CHECK(r.err.find(option.front() + " requires --batch") != std::string::npos);
    }
}

TEST_CASE("policy: a mismatch is a rejection naming the rule; a typo in the policy is a usage error") {
    const auto policy =
        write_temp("policy.json", R"({"version": 1, "td": {"mrtd": [")" + std::string(96, 'a') + R"("]}})");
    const auto r = run_tdxkit(demo_args({"--policy", policy.string()}));
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("REJECTED: td.mrtd") == 0);

    const auto rj = run_tdxkit(demo_args({"--policy", policy.string(), "--json"}));
    const auto j = json::parse(rj.out);
    CHECK(j["result"] == "rejected");
    CHECK(j["policy"]["violations"][0]["path"] == "td.mrtd");
    CHECK(j["policy"]["violations"][0]["expected"].get<std::string>().find(std::string(96, 'a')) != std::string::npos);

    const auto typo = write_temp("typo.json", R"({"version": 1, "td": {"mrdt": []}})");
    const auto t = run_tdxkit(demo_args({"--policy", typo.string()}));
    CHECK(t.exit_code == 2);
    CHECK(t.err.find("mrdt") != std::string::npos);
    fs::remove(policy);
    fs::remove(typo);
}

TEST_CASE("warnings: bytes after the quote, and a policy that pins no workload") {
    const auto quote = tdxkit::test::read_file(data("quotes/sim-tdx-v4.bin"));
    const std::string padded = std::string(quote.begin(), quote.end()) + std::string(16, '\0');
    const auto pinned =
        write_temp("pinned.json", R"({"version": 1, "td": {"mrtd": [")" +
                                      tdxkit::to_hex(std::span(quote).subspan(48 + 136, 48)) + R"("]}})");
    auto args = demo_args({"--policy", pinned.string(), "--json"});
    args[1] = "-";
    const auto r = run_tdxkit(args, padded);
    CHECK(r.exit_code == 0);
    const auto j = json::parse(r.out);
    REQUIRE(j["warnings"].size() == 1);
    CHECK(j["warnings"][0] == "the input has 16 bytes after the quote; they are not part of the signed quote and were "
                              "ignored");
    CHECK(r.err.find("WARNING: the input has 16 bytes after the quote") != std::string::npos);

    // The default policy pins nothing: said on stderr and in JSON, and -q silences stderr only.
    const auto d = run_tdxkit({"-q", "verify", data("quotes/sim-tdx-v4.bin"), "--collateral", data("collateral/sim"),
                               "--trust-root", data("pki/root.pem"), "--at", kAt, "--json"});
    CHECK(d.exit_code == 0);
    CHECK(d.err.find("pins no measurement") == std::string::npos);
    const auto dj = json::parse(d.out);
    REQUIRE(dj["warnings"].size() == 1);
    CHECK(dj["warnings"][0].get<std::string>().find("policy <default> pins no measurement") == 0);
    CHECK(run_tdxkit(demo_args()).err.find("pins no measurement") != std::string::npos);
    fs::remove(pinned);
}

TEST_CASE("--batch: JSON lines in, one verify/v1 line out per input line, in order; bad lines do not abort") {
    const auto quote = tdxkit::to_hex(tdxkit::test::read_file(data("quotes/sim-tdx-v4.bin")));
    std::string lines;
    for (int i = 0; i < 20; ++i) lines += R"({"id":)" + std::to_string(i) + R"(,"quote":")" + quote + "\"}\n";
    lines += "not json\n";
    lines += R"({"id":"typo","quote":")" + quote +
             R"(","evnt_log":[]})"
             "\n";
    lines += R"({"id":"tampered","quote":")" + quote.substr(0, 1100) + (quote[1100] == '0' ? "1" : "0") +
             quote.substr(1101) + "\"}\n";
    const auto r = run_tdxkit({"verify", "--batch", "-", "--jobs", "2", "--collateral", data("collateral/sim"),
                               "--trust-root", data("pki/root.pem"), "--at", kAt},
                              lines);
    CHECK(r.exit_code == 1);
    std::vector<json> out;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) out.push_back(json::parse(line));
    REQUIRE(out.size() == 23);
    for (int i = 0; i < 20; ++i) {
        CHECK(out[static_cast<std::size_t>(i)]["id"] == i);
        CHECK(out[static_cast<std::size_t>(i)]["result"] == "ok");
        CHECK(out[static_cast<std::size_t>(i)]["schema"] == "tdxkit.verify/v1");
    }
    CHECK(out[20]["result"] == "error");
    CHECK(out[21]["id"] == "typo");
    CHECK(out[21]["result"] == "error");
    CHECK(out[21]["reason"].get<std::string>().find("evnt_log") != std::string::npos);
    CHECK(out[22]["id"] == "tampered");
    CHECK(out[22]["result"] == "rejected");
    CHECK(out[22]["reason"].get<std::string>().rfind("quote_signature", 0) == 0);
    CHECK(r.err.find("20 of 23 quotes verified (1 rejected, 2 could not be checked)") != std::string::npos);

    // --output summary: the same verdicts, one short tdxkit.verify-summary/v1 record each.
    const auto s = run_tdxkit({"verify", "--batch", "-", "--jobs", "2", "--output", "summary", "--collateral",
                               data("collateral/sim"), "--trust-root", data("pki/root.pem"), "--at", kAt},
                              lines);
    CHECK(s.exit_code == 1);
    std::vector<json> summary;
    std::istringstream sin(s.out);
    for (std::string line; std::getline(sin, line);) summary.push_back(json::parse(line));
    REQUIRE(summary.size() == out.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        CHECK(summary[i]["schema"] == "tdxkit.verify-summary/v1");
        CHECK(summary[i]["id"] == out[i]["id"]);
        CHECK(summary[i]["result"] == out[i]["result"]);
        CHECK(summary[i]["reason"] == out[i]["reason"]);
    }
    CHECK(summary[0]["accepted"] == true);
    CHECK(summary[0]["tcb_status"] == "UpToDate");
    CHECK(summary[0]["mr_td"] == out[0]["quote"]["mr_td"]);
    CHECK(summary[0]["rtmr3"] == out[0]["quote"]["rtmr3"]);
    CHECK(summary[20]["error"] == "malformed");
    CHECK(summary[22]["accepted"] == false);
}

TEST_CASE("quote from standard input and from a JSON container") {
    const auto quote = tdxkit::test::read_file(data("quotes/sim-tdx-v4.bin"));
    auto args = demo_args();
    args[1] = "-";
    CHECK(run_tdxkit(args, std::string(quote.begin(), quote.end())).exit_code == 0);
    const auto wrapped = R"({"quote": ")" + tdxkit::to_hex(quote) + R"(", "event_log": "[]"})";
    CHECK(run_tdxkit(args, wrapped).exit_code == 0);
}

// The dynamic loader's own account (LD_DEBUG=libs) of what an offline verification maps: libssl
// and libcurl are opened only by the commands that speak TLS or HTTP (peak RSS, README).
TEST_CASE("offline verify loads neither libssl nor libcurl") {
    auto argv = demo_args();
    argv.insert(argv.begin(), {"env", "LD_DEBUG=libs", TDXKIT_BINARY});
    const auto r = tdxkit::test::run_process(argv);
    CHECK(r.exit_code == 0);
    REQUIRE(r.err.find("libcrypto.so.3") != std::string::npos);
    CHECK(r.err.find("libssl.so") == std::string::npos);
    CHECK(r.err.find("libcurl.so") == std::string::npos);
}
