// `tdxkit verify` through the real binary, on the bundled simulated data (testdata/).

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

using nlohmann::json;
using tdxkit::test::run_tdxkit;
namespace fs = std::filesystem;

namespace {

const std::string kAt = "2026-01-15T00:00:00Z";

std::string data(const std::string& rel) { return (tdxkit::test::source_dir() / "testdata" / rel).string(); }

std::vector<std::string> demo_args(std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"verify", data("quotes/sim-tdx-v4.bin"), "--collateral", data("collateral/sim"),
                                  "--trust-root", data("pki/root.pem"), "--at", kAt};
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
    const auto r = run_tdxkit({"verify", data("quotes/sim-tdx-v4.bin"), "--collateral", data("collateral/sim"), "--at", kAt});
    CHECK(r.exit_code == 1);
    CHECK(r.out.rfind("REJECTED: root_ca_crl", 0) == 0);
    CHECK(r.err.find("WARNING") == std::string::npos);
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
    const auto no_collateral = run_tdxkit({"verify", data("quotes/sim-tdx-v4.bin")});
    CHECK(no_collateral.exit_code == 4);
    CHECK(no_collateral.err.find("--collateral") != std::string::npos);

    const auto missing_dir = run_tdxkit({"verify", data("quotes/sim-tdx-v4.bin"), "--collateral", "/nonexistent/dir"});
    CHECK(missing_dir.exit_code == 4);

    const auto json_error = run_tdxkit({"verify", data("quotes/sim-tdx-v4.bin"), "--json"});
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

    CHECK(run_tdxkit({"verify", "/nonexistent/quote.bin", "--collateral", data("collateral/sim")}).exit_code == 5);
    fs::remove(garbage);
}

TEST_CASE("policy: a mismatch is a rejection naming the rule; a typo in the policy is a usage error") {
    const auto policy = write_temp("policy.json", R"({"version": 1, "td": {"mrtd": [")" + std::string(96, 'a') + R"("]}})");
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

TEST_CASE("quote from standard input and from a JSON container") {
    const auto quote = tdxkit::test::read_file(data("quotes/sim-tdx-v4.bin"));
    auto args = demo_args();
    args[1] = "-";
    CHECK(run_tdxkit(args, std::string(quote.begin(), quote.end())).exit_code == 0);
    const auto wrapped = R"({"quote": ")" + tdxkit::to_hex(quote) + R"(", "event_log": "[]"})";
    CHECK(run_tdxkit(args, wrapped).exit_code == 0);
}
