// Evidence binding of event logs, through the real binary: a rule may read an event's name or payload
// only when the quote covers them (tdxkit/eventlog.hpp, "What the quote vouches for"). The attack: a
// TD that runs app Y emits "compose-hash = X" from the application and hands over a log in which its
// genuine boot-time identity events are relabelled as non-runtime events with their digests kept.
// The replay still equals RTMR3; without the binding check the policy sees only X and accepts.

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/test_support.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/testing.hpp"

using namespace tdxkit;
using nlohmann::json;
using test::run_tdxkit;

namespace {

const std::string kComposeX(64, 'a');  // what the policy allows
const std::string kComposeY(64, 'b');  // what the TD really runs

using test::dstack_runtime_event;

// The same event with another type and its runtime digest kept: it still replays, but its name and
// payload are no longer what the digest is computed from.
json relabelled(const std::string& name, const std::string& payload_hex) {
    auto e = dstack_runtime_event(name, payload_hex);
    e["event_type"] = 1;
    e["digest"] = to_hex(runtime_event_digest(name, from_hex(payload_hex)));
    return e;
}

// A simulated TD whose quote, signed with the test PKI, carries the RTMRs the log replays to.
struct SimulatedTd {
    test::TempDir dir{"binding"};
    std::string log_path;

    explicit SimulatedTd(const json& log) {
        log_path = dir.write("eventlog.json", log.dump());
        testing::Scenario s;
        s.quote.td_body.rtmr = replay_rtmrs(parse_dstack_event_log(log.dump()));
        testing::write_scenario(s.build(), dir.path());
    }

    [[nodiscard]] test::ProcessResult verify(const std::string& policy, std::vector<std::string> extra = {}) const {
        std::vector<std::string> args{"verify",       (dir.path() / "quote.bin").string(),
                                      "--collateral", dir.path().string(),
                                      "--trust-root", (dir.path() / "root.pem").string(),
                                      "--at",         "2026-01-15T00:00:00Z",
                                      "--event-log",  log_path,
                                      "--policy",     dir.write("policy.json", policy)};
        args.insert(args.end(), extra.begin(), extra.end());
        return run_tdxkit(args);
    }
};

std::string allow_x() { return fmt::format(R"({{"version":1,"dstack":{{"compose_hashes":["{}"]}}}})", kComposeX); }

}  // namespace

TEST_CASE("the relabelling attack on a re-signed simulated quote is rejected, naming the event") {
    const json forged =
        json::array({relabelled("compose-hash", kComposeY), relabelled("boot-mr-done", ""),
                     dstack_runtime_event("compose-hash", kComposeX), dstack_runtime_event("boot-mr-done", "")});
    const SimulatedTd td(forged);
    const auto r = td.verify(allow_x());
    CHECK(r.exit_code == 1);
    CHECK(r.out.rfind("REJECTED: dstack.event_log: event 0 (RTMR3, type 0x00000001) is not a dstack runtime event",
                      0) == 0);

    const auto j = json::parse(td.verify(allow_x(), {"--json"}).out);
    CHECK(j["result"] == "rejected");
    REQUIRE(j["policy"]["violations"].size() == 1);
    CHECK(j["policy"]["violations"][0]["path"] == "dstack.event_log");
    CHECK(j["policy"]["violations"][0]["actual"] == "event 0 is not");

    const auto replay = run_tdxkit({"replay-rtmr", td.log_path, "--quote", (td.dir.path() / "quote.bin").string()});
    CHECK(replay.exit_code == 1);
    CHECK(replay.out.rfind("UNBOUND: event 0 (RTMR3, type 0x00000001)", 0) == 0);
    const auto replay_json = json::parse(
        run_tdxkit({"--json", "replay-rtmr", td.log_path, "--quote", (td.dir.path() / "quote.bin").string()}).out);
    CHECK(replay_json["result"] == "unbound");
    CHECK(replay_json["unbound_event"]["index"] == 0);
    CHECK(replay_json["quote"]["matches"] == true);  // the replay alone cannot tell
    CHECK(replay_json["events"][0]["bound"] == json{"digest"});
    CHECK(replay_json["events"][2]["bound"] == json{"digest", "name", "payload"});
}

TEST_CASE("controls: the same quote path accepts an honest TD and rejects the honest log of the attacker") {
    const SimulatedTd honest(
        json::array({dstack_runtime_event("compose-hash", kComposeX), dstack_runtime_event("boot-mr-done", "")}));
    const auto ok = honest.verify(allow_x());
    CHECK(ok.exit_code == 0);
    CHECK(ok.out.rfind("OK\n", 0) == 0);

    // Unrelabelled, the attacker's log shows both compose hashes and is refused by the ordering rule.
    const SimulatedTd attacker(
        json::array({dstack_runtime_event("compose-hash", kComposeY), dstack_runtime_event("boot-mr-done", ""),
                     dstack_runtime_event("compose-hash", kComposeX), dstack_runtime_event("boot-mr-done", "")}));
    const auto r = attacker.verify(allow_x());
    CHECK(r.exit_code == 1);
    CAPTURE(r.out);
    CHECK(r.out.find("2 RTMR3 compose-hash events (events 0, 2)") != std::string::npos);
}

TEST_CASE("a boot event in RTMR0-2 keeps its label: only RTMR3 events must be runtime events") {
    auto log = json::array({dstack_runtime_event("compose-hash", kComposeX), dstack_runtime_event("boot-mr-done", "")});
    log.insert(log.begin(), json{{"imr", 1},
                                 {"event_type", 0x80000003},
                                 {"digest", std::string(96, 'c')},
                                 {"event", "compose-hash"},
                                 {"event_payload", kComposeY}});
    const SimulatedTd td(log);
    CHECK(td.verify(allow_x()).exit_code == 0);  // RTMR1's label "compose-hash" is never read
}

TEST_CASE("the real dstack-verifier log with its last RTMR3 event relabelled is rejected") {
    const auto data = test::real_testdata();
    auto log = json::parse(test::read_text(data / "eventlogs/dstack-verifier-quote-report.event_log.json"));
    const auto quote = (data / "quotes/dstack-verifier-quote-report.bin").string();
    const std::vector<std::string> verify{"verify",       quote,
                                          "--collateral", (data / "collateral/dcapqvl-tdx_quote_outdated").string(),
                                          "--at",         "2026-03-05T10:50:03Z",
                                          "--event-log"};
    const test::TempDir dir("binding-real");
    const auto policy = dir.write("policy.json", R"({"version":1,"dstack":{}})");
    const auto run_verify = [&](const std::string& log_path) {
        auto args = verify;
        args.insert(args.end(), {log_path, "--policy", policy});
        return run_tdxkit(args);
    };

    const auto genuine = dir.write("genuine.json", log.dump());
    CHECK(run_verify(genuine).exit_code == 0);
    CHECK(run_tdxkit({"replay-rtmr", genuine, "--quote", quote}).exit_code == 0);

    auto& last = log.back();
    REQUIRE(last["event"] == "LIUM_MINER_HOTKEY");
    last["event_type"] = 1;  // digest kept: the replay is unchanged
    const auto forged = dir.write("relabelled.json", log.dump());
    const auto r = run_verify(forged);
    CHECK(r.exit_code == 1);
    CHECK(r.out.rfind("REJECTED: dstack.event_log: event 27 (RTMR3, type 0x00000001)", 0) == 0);
    const auto replay = run_tdxkit({"replay-rtmr", forged, "--quote", quote});
    CHECK(replay.exit_code == 1);
    CHECK(replay.out.rfind("UNBOUND: event 27", 0) == 0);
    CHECK(replay.out.find("RTMR3:      ") != std::string::npos);
}
