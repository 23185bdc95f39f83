// `tdxkit replay-rtmr` through the real binary, on the shared real event logs and quotes.

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>

#include <unistd.h>
#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

using nlohmann::json;
using tdxkit::test::run_tdxkit;
namespace fs = std::filesystem;

namespace {

std::string shared(const std::string& rel) { return (tdxkit::test::real_testdata() / rel).string(); }

fs::path write_temp(const std::string& name, const std::string& content) {
    const auto path = fs::temp_directory_path() / ("tdxkit-replay-cli-" + std::to_string(::getpid()) + "-" + name);
    std::ofstream(path, std::ios::binary) << content;
    return path;
}

json near_events() { return json::parse(tdxkit::test::read_text(shared("eventlogs/nearmpc-head.event_log.json"))); }

}  // namespace

TEST_CASE("a GetQuote response replays to its own quote") {
    const auto r = run_tdxkit({"replay-rtmr", shared("eventlogs/dstack-verifier-tdx-lite-getquote.json")});
    CHECK(r.exit_code == 0);
    CHECK(r.out.rfind("OK: the event log replays to the quote's RTMR0-3\n", 0) == 0);
    CHECK(r.out.find("Event log:  dstack GetQuote response, 29 events") != std::string::npos);
    CHECK(r.out.find("compose-hash") != std::string::npos);
}

TEST_CASE("--json follows tdxkit.replay/v1; CCEL with the ACPI table against its quote") {
    const auto manifest = json::parse(tdxkit::test::read_text(shared("MANIFEST.json")));
    const auto& entry = *std::find_if(manifest["eventlogs"].begin(), manifest["eventlogs"].end(), [](const json& e) {
        return e.value("ccel", "") == "eventlogs/gotdxguest-cos113-ccel_data.bin";
    });
    const auto r =
        run_tdxkit({"--json", "replay-rtmr", shared("eventlogs/gotdxguest-cos113-ccel_data.bin"), "--acpi-table",
                    shared("eventlogs/gotdxguest-cos113-ccel_table.bin"), "--quote", shared(entry["quote"])});
    REQUIRE(r.exit_code == 0);
    const auto j = json::parse(r.out);
    CHECK(j["schema"] == "tdxkit.replay/v1");
    CHECK(j["result"] == "ok");
    CHECK(j["input"]["container"] == "CCEL (ACPI table checked)");
    for (int i = 0; i < 4; ++i) {
        const auto key = "rtmr" + std::to_string(i);
        CHECK(j["rtmrs"][key] == entry["replayed"][key]);
        CHECK(j["quote"][key] == entry["replayed"][key]);
        CHECK(j["quote"][key + "_matches"] == true);
    }
    CHECK(j["quote"]["first_mismatch"].is_null());
    CHECK(j["events"].size() == 43);
    CHECK(j["events"][0]["offset"].is_number());
}

TEST_CASE("without a quote the registers are printed, exit 0") {
    const auto r = run_tdxkit({"--json", "replay-rtmr", shared("eventlogs/dstack-cc-eventlog-ccel.bin")});
    CHECK(r.exit_code == 0);
    const auto j = json::parse(r.out);
    CHECK(j["result"] == "replayed");
    CHECK(j["quote"].is_null());
    CHECK(j["rtmrs"]["rtmr0"] ==
          "274c2344116db7c663470693b5ba62b8621eac28cb41d2f816ddf188f9f423f900a1c44d32386fd3c993dc814e62af9d");
}

TEST_CASE("a mismatch exits 1 and names the first mismatching RTMR, expected vs actual") {
    auto events = near_events();
    for (auto& e : events) {
        if (e["imr"] == 3) e["digest"] = "";
    }
    for (auto& e : events) {
        if (e["event"] == "compose-hash") e["event_payload"] = std::string(64, 'a');
    }
    const auto log = write_temp("swapped.json", events.dump());
    const auto quote = shared("quotes/nearmpc-head-quote.bin");
    const auto r = run_tdxkit({"replay-rtmr", log.string(), "--quote", quote});
    CHECK(r.exit_code == 1);
    CHECK(r.out.rfind("MISMATCH: RTMR3 mismatch: replayed ", 0) == 0);
    CHECK(r.out.find("quote has 86f1808cffc050f3c0c09d29da2bfcec") != std::string::npos);
    const auto j = json::parse(run_tdxkit({"--json", "replay-rtmr", log.string(), "--quote", quote}).out);
    CHECK(j["result"] == "mismatch");
    CHECK(j["quote"]["first_mismatch"] == "rtmr3");
    CHECK(j["quote"]["rtmr2_matches"] == true);
    // Another TD's quote.
    const auto other = run_tdxkit({"replay-rtmr", shared("eventlogs/nearmpc-head.event_log.json"), "--quote",
                                   shared("quotes/nearmpc-2026-01-quote.bin")});
    CHECK(other.exit_code == 1);
    CHECK(other.out.rfind("MISMATCH: RTMR", 0) == 0);
    fs::remove(log);
}

TEST_CASE("malformed logs exit 3 with the reason") {
    auto events = near_events();
    for (auto& e : events) {
        if (e["event"] == "compose-hash") e["event_payload"] = std::string(64, 'a');
    }
    const auto swapped = write_temp("genuine-digest.json", events.dump());
    auto r = run_tdxkit({"replay-rtmr", swapped.string()});
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("event 22 (compose-hash): digest") != std::string::npos);

    const auto ccel = tdxkit::test::read_file(shared("eventlogs/dstack-cc-eventlog-ccel.bin"));
    const auto truncated = write_temp("truncated.bin", std::string(ccel.begin(), ccel.begin() + 1000));
    r = run_tdxkit({"--json", "replay-rtmr", truncated.string()});
    CHECK(r.exit_code == 3);
    const auto j = json::parse(r.out);
    CHECK(j["result"] == "error");
    CHECK(j["error"]["code"] == "malformed");
    CHECK(j["reason"].get<std::string>().find("truncated") != std::string::npos);
    CHECK(run_tdxkit({"replay-rtmr", "/nonexistent/log"}).exit_code == 5);
    CHECK(run_tdxkit({"replay-rtmr"}).exit_code == 2);
    fs::remove(swapped);
    fs::remove(truncated);
}
