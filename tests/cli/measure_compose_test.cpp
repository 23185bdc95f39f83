// `tdxkit measure-compose` through the real binary; values from MANIFEST.json, the real quotes and
// the SDK-generated corpus hashes (tests/compose/expected.json).

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <unistd.h>
#include <nlohmann/json.hpp>

#include "support/test_support.hpp"
#include "tdxkit/bytes.hpp"

using nlohmann::json;
using tdxkit::test::run_tdxkit;
namespace fs = std::filesystem;

namespace {

std::string shared(const std::string& rel) { return (tdxkit::test::real_testdata() / rel).string(); }

fs::path temp(const std::string& name) {
    return fs::temp_directory_path() / ("tdxkit-measure-cli-" + std::to_string(::getpid()) + "-" + name);
}

const std::string kNearHash = "2911e1f733466216dedb862d6d669e11256ee7a34ce4dbc66c4b807ba7a9c895";

}  // namespace

TEST_CASE("the near/mpc compose: hash, app id, event digest and MRCONFIGID of its quote") {
    const auto r = run_tdxkit({"--json", "measure-compose", shared("compose/nearmpc-head-app_compose.json")});
    REQUIRE(r.exit_code == 0);
    CHECK(r.err.empty());
    const auto j = json::parse(r.out);
    CHECK(j["schema"] == "tdxkit.measure-compose/v1");
    CHECK(j["measured"] == "file");
    CHECK(j["compose_hash"] == kNearHash);
    CHECK(j["app_id"] == kNearHash.substr(0, 40));
    const auto quote =
        json::parse(run_tdxkit({"--json", "quote", "decode", shared("quotes/nearmpc-head-quote.bin")}).out);
    CHECK(j["mr_config_id"] == quote["body"]["mr_config_id"]);
    CHECK(j["mr_config_id_version"] == 1);
    // The compose-hash event of the log that replays to this quote carries the same digest.
    const auto replay =
        json::parse(run_tdxkit({"--json", "replay-rtmr", shared("eventlogs/nearmpc-head.event_log.json")}).out);
    const auto& events = replay["events"];
    const auto e =
        std::find_if(events.begin(), events.end(), [](const json& x) { return x["name"] == "compose-hash"; });
    REQUIRE(e != events.end());
    CHECK((*e)["digest"] == j["compose_hash_event_digest"]);

    const auto text = run_tdxkit({"measure-compose", shared("compose/nearmpc-2026-01-app_compose.json")});
    CHECK(text.out.find("719a73091d61b77eaabd46f2ce7e68e9610742270e53dc56a86278475b4a3c46") != std::string::npos);
}

TEST_CASE("--normalize writes the SDK canonical bytes; their hash is the reported one") {
    const auto expected =
        json::parse(tdxkit::test::read_text(tdxkit::test::source_dir() / "tests/compose/expected.json"));
    const auto input = (tdxkit::test::source_dir() / "tests/compose/corpus/20-constructor-key.json").string();
    const auto out = temp("normalized.json");
    const auto r = run_tdxkit({"--json", "measure-compose", input, "--normalize", "--write-normalized", out.string()});
    REQUIRE(r.exit_code == 0);
    const auto j = json::parse(r.out);
    CHECK(j["measured"] == "normalized");
    CHECK(j["compose_hash"] == expected["hashes"]["20-constructor-key.json"]["canonical"]);
    CHECK(tdxkit::to_hex(tdxkit::sha256(tdxkit::test::read_file(out))) == j["compose_hash"]);
    // The deployed file must be the normalized bytes: a differing file is pointed out.
    CHECK(r.err.find("WARNING: the normalized form differs") != std::string::npos);
    CHECK(run_tdxkit({"measure-compose", input, "--preprocess"}).exit_code == 2);
    fs::remove(out);
}

TEST_CASE("--policy-out writes a policy verify accepts; key provider options select MRCONFIGID V2") {
    const auto policy = temp("policy.json");
    auto r = run_tdxkit(
        {"measure-compose", shared("compose/nearmpc-head-app_compose.json"), "--policy-out", policy.string()});
    REQUIRE(r.exit_code == 0);
    const auto p = json::parse(tdxkit::test::read_text(policy));
    CHECK(p["dstack"]["compose_hashes"][0] == kNearHash);
    CHECK(p["td"]["mrconfigid"][0] == "01" + kNearHash + std::string(30, '0'));
    fs::remove(policy);

    r = run_tdxkit({"--json", "measure-compose", shared("compose/nearmpc-head-app_compose.json"), "--key-provider",
                    "kms", "--key-provider-id", "abcd", "--app-id", std::string(40, '1')});
    REQUIRE(r.exit_code == 0);
    const auto j = json::parse(r.out);
    CHECK(j["mr_config_id_version"] == 2);
    CHECK(j["app_id"] == std::string(40, '1'));
    CHECK(j["mr_config_id"].get<std::string>().rfind("02", 0) == 0);
    CHECK(run_tdxkit({"measure-compose", shared("compose/nearmpc-head-app_compose.json"), "--app-id", "abcd"})
              .exit_code == 2);
}

TEST_CASE("an odd app-compose is warned about, and still hashed as given") {
    const auto file = temp("odd.json");
    std::ofstream(file) << R"({"runner":"podman"})";
    const auto r = run_tdxkit({"--json", "measure-compose", file.string()});
    CHECK(r.exit_code == 0);
    CHECK(r.err.find("WARNING: app-compose: unknown runner \"podman\"") != std::string::npos);
    CHECK(json::parse(r.out)["compose_hash"] ==
          tdxkit::to_hex(tdxkit::sha256(tdxkit::as_bytes(R"({"runner":"podman"})"))));
    std::ofstream(file) << "{not json";
    CHECK(run_tdxkit({"measure-compose", file.string(), "--normalize"}).exit_code == 3);
    CHECK(run_tdxkit({"measure-compose", file.string()}).exit_code == 0);
    fs::remove(file);
}

TEST_CASE("verify with the measure-compose policy: the dstack rules through the binary") {
    const auto policy = temp("verify-policy.json");
    REQUIRE(run_tdxkit(
                {"measure-compose", shared("compose/nearmpc-head-app_compose.json"), "--policy-out", policy.string()})
                .exit_code == 0);
    const std::vector<std::string> verify{"verify",       shared("quotes/nearmpc-head-quote.bin"),
                                          "--collateral", shared("collateral/nearmpc-head"),
                                          "--at",         "2026-08-13T12:00:00Z",
                                          "--policy",     policy.string()};
    const auto with = [&](std::vector<std::string> extra) {
        auto args = verify;
        args.insert(args.end(), extra.begin(), extra.end());
        return run_tdxkit(args);
    };
    auto r = with({"--event-log", shared("eventlogs/nearmpc-head.event_log.json"), "--json"});
    CHECK(r.exit_code == 0);
    auto j = json::parse(r.out);
    CHECK(j["policy"]["satisfied"] == true);
    CHECK(j["event_log"]["events"] == 29);

    r = with({"--event-log", shared("eventlogs/nearmpc-2026-01.event_log.json")});
    CHECK(r.exit_code == 1);
    CHECK(r.out.rfind("REJECTED: dstack.event_log: RTMR", 0) == 0);

    r = with({});
    CHECK(r.exit_code == 1);
    CHECK(r.out.rfind("REJECTED: dstack.require_event_log", 0) == 0);
    fs::remove(policy);
}
