// Deeply nested JSON on every input path of the binary: ~100,000 levels (200 KB, under every size
// limit) once killed tdxkit with SIGSEGV in nlohmann's recursive dump(). Each path must now answer
// with its usual error for malformed input and "nested too deeply", never a crash.

#include <doctest/doctest.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

using nlohmann::json;
using tdxkit::test::run_tdxkit;

namespace {

constexpr std::size_t kDepth = 100000;
const std::string kDeep = std::string(kDepth, '[') + std::string(kDepth, ']');
const std::string kAt = "2026-01-15T00:00:00Z";

std::string data(const std::string& rel) { return (tdxkit::test::source_dir() / "testdata" / rel).string(); }

std::string quote_hex() { return tdxkit::to_hex(tdxkit::test::read_file(data("quotes/sim-tdx-v4.bin"))); }

void check_nested_error(const tdxkit::test::ProcessResult& r, int exit_code) {
    CAPTURE(r.err);
    CHECK(r.exit_code == exit_code);
    CHECK(r.err.find("JSON nested too deeply (more than 64 levels)") != std::string::npos);
}

}  // namespace

TEST_CASE("quote decode: a quote container nested too deeply is malformed input (exit 3)") {
    check_nested_error(run_tdxkit({"quote", "decode", "-"}, R"({"quote":)" + kDeep + "}"), 3);
    check_nested_error(run_tdxkit({"quote", "decode", "-"}, kDeep), 3);
}

TEST_CASE("verify: a GetQuote response whose event log is nested too deeply (exit 3)") {
    const std::vector<std::string> args{
        "verify", "-", "--collateral", data("collateral/sim"), "--trust-root", data("pki/root.pem"), "--at", kAt};
    // The log inline, and the log as a JSON string (GetQuote double-encodes it).
    check_nested_error(run_tdxkit(args, R"({"quote":")" + quote_hex() + R"(","event_log":)" + kDeep + "}"), 3);
    check_nested_error(run_tdxkit(args, R"({"quote":")" + quote_hex() + R"(","event_log":")" + kDeep + "\"}"), 3);
    // --json answers with one document naming the error.
    auto json_args = args;
    json_args.emplace_back("--json");
    const auto r = run_tdxkit(json_args, R"({"quote":")" + quote_hex() + R"(","event_log":")" + kDeep + "\"}");
    CHECK(r.exit_code == 3);
    CHECK(json::parse(r.out)["error"]["message"].get<std::string>().find("nested too deeply") != std::string::npos);
}

TEST_CASE("verify --batch: the deep line gets an error result and the batch goes on") {
    const auto good = R"({"id":"good","quote":")" + quote_hex() + "\"}\n";
    const auto r = run_tdxkit({"verify", "--batch", "-", "--collateral", data("collateral/sim"), "--trust-root",
                               data("pki/root.pem"), "--at", kAt, "--jobs", "2"},
                              good + R"({"id":"deep","quote":")" + quote_hex() + R"(","event_log":)" + kDeep + "}\n" +
                                  kDeep + "\n" + good);
    CHECK(r.exit_code == 1);
    std::vector<json> lines;
    std::istringstream in(r.out);
    for (std::string line; std::getline(in, line);) lines.push_back(json::parse(line));
    REQUIRE(lines.size() == 4);
    CHECK(lines[0]["result"] == "ok");
    CHECK(lines[1]["result"] == "error");
    CHECK(lines[1]["id"] == nullptr);  // the line is not JSON, so its id cannot be read
    CHECK(lines[1]["error"]["code"] == "malformed");
    CHECK(lines[1]["reason"].get<std::string>().find("nested too deeply") != std::string::npos);
    CHECK(lines[2]["error"]["code"] == "malformed");
    CHECK(lines[3]["result"] == "ok");
    CHECK(lines[3]["id"] == "good");
}

TEST_CASE("verify --policy: a policy file nested too deeply is a usage error (exit 2)") {
    const tdxkit::test::TempDir dir("deep-policy");
    const auto policy = dir.write("policy.json", R"({"version":1,"td":)" + kDeep + "}");
    const auto r = run_tdxkit({"verify", data("quotes/sim-tdx-v4.bin"), "--collateral", data("collateral/sim"),
                               "--trust-root", data("pki/root.pem"), "--at", kAt, "--policy", policy});
    check_nested_error(r, 2);
    CHECK(r.err.find("policy.json: td") != std::string::npos);
}

TEST_CASE("verify --offline: a cache entry nested too deeply is ignored, so collateral is unavailable (exit 4)") {
    const tdxkit::test::TempDir dir("deep-cache");
    const std::vector<std::string> args{
        "verify", data("quotes/sim-tdx-v4.bin"), "--offline", "--cache-dir", dir.path().string(), "--at", kAt};
    const auto miss = run_tdxkit(args);
    REQUIRE(miss.exit_code == 4);
    std::smatch entry;
    REQUIRE(std::regex_search(miss.err, entry, std::regex("no cache entry (\\S+\\.json)")));
    std::ofstream(entry[1].str()) << kDeep;
    const auto r = run_tdxkit(args);
    check_nested_error(r, 4);
    CHECK(r.err.find("is unusable, ignored") != std::string::npos);
}
