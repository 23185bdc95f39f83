// Event log parsing and RTMR replay: real logs against their quotes (MANIFEST.json), reference
// vectors (dstack-atls-eventlog.md section 5) and every rejection with its reason.

#include <doctest/doctest.h>

#include <functional>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "eventlog/runtime_event.hpp"
#include "support/test_support.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/input.hpp"
#include "tdxkit/quote.hpp"

using namespace tdxkit;
using nlohmann::json;
using tdxkit::test::read_file;
using tdxkit::test::real_testdata;

namespace {

json manifest() { return json::parse(test::read_text(real_testdata() / "MANIFEST.json")); }

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        CHECK(e.code() == Errc::malformed);
        return e.what();
    }
    FAIL("no error");
    return {};
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

json near_log() { return json::parse(test::read_text(real_testdata() / "eventlogs/nearmpc-head.event_log.json")); }

std::size_t index_of(const json& log, const std::string& name) {
    for (std::size_t i = 0; i < log.size(); ++i) {
        if (log[i]["event"] == name) return i;
    }
    FAIL("no event " << name);
    return 0;
}

EventLog parse(const json& log) { return parse_dstack_event_log(log.dump()); }

}  // namespace

TEST_CASE("reference vectors: runtime event digests V1 and V2") {
    CHECK(to_hex(runtime_event_digest("system-ready", {})) ==
          "1a76b2a80a0be71eae59f80945d876351a7a3fb8e9fd1ff1cede5734aa84ea11fd72b4edfbb6f04e5a85edd114c751bd");
    CHECK(to_hex(runtime_event_digest("app-id", from_hex("deadbeef"))) ==
          "67b4be4efed0893cfa2bb1d35dca209ad8348b4c97f980807bcde8b9a0f26398dd0923d6eccb5aa2096d98046da8740f");
    CHECK(detail::runtime_event_preimage_v2("compose-hash", from_hex("abcd")) ==
          R"({"name":"compose-hash","payload":"abcd","type":134217729})");
    CHECK(to_hex(runtime_event_digest("compose-hash", from_hex("abcd"), 2)) ==
          "9dde1673f544faa94b921825209593ddde08d0baf9cd6990175dffaf3081f1bb10311d56de189491feb33842a050ad7b");
}

TEST_CASE("conformance: every event log with a quote replays to that quote's RTMR0-3 (MANIFEST eventlogs)") {
    const auto dir = real_testdata();
    std::size_t compared = 0;
    const auto doc = manifest();
    for (const auto& entry : doc["eventlogs"]) {
        const bool is_ccel = entry.contains("ccel");
        const std::string file = is_ccel ? entry["ccel"] : entry["eventlog"];
        CAPTURE(file);
        const auto log = parse_event_log(read_file(dir / file));
        const auto rtmrs = replay_rtmrs(log);
        if (is_ccel) {
            for (std::size_t i = 0; i < kRtmrCount; ++i) {
                CHECK(to_hex(rtmrs[i]) == entry["replayed"][fmt::format("rtmr{}", i)].get<std::string>());
            }
            CHECK(log.events.size() + log.skipped + 1 == entry["events_including_specid_header"].get<std::size_t>());
        } else {
            CHECK(log.events.size() == entry["events"].get<std::size_t>());
            std::size_t runtime_events = 0;
            for (const auto& e : log.events) runtime_events += e.recomputed ? 1 : 0;
            CHECK(runtime_events == entry["events_per_imr"][3].get<std::size_t>());
        }
        if (!entry.contains("quote")) continue;
        const auto quote = parse_quote(read_file(dir / entry["quote"].get<std::string>()));
        const auto mismatch = compare_rtmrs(rtmrs, *quote.td_body());
        for (std::size_t i = 0; i < kRtmrCount; ++i) {
            CHECK(entry["replay_matches_quote"][fmt::format("rtmr{}", i)] == (!mismatch || mismatch->rtmr > i));
        }
        CHECK_FALSE(mismatch);
        ++compared;
    }
    CHECK(compared == 5);
}

TEST_CASE("CCEL with the ACPI table: checked and limited to LAML") {
    const auto dir = real_testdata() / "eventlogs";
    const auto data = read_file(dir / "gotdxguest-cos113-ccel_data.bin");
    const auto table = read_file(dir / "gotdxguest-cos113-ccel_table.bin");
    const auto log = parse_ccel(data, ByteSpan(table));
    CHECK(log.container == "CCEL (ACPI table checked)");
    CHECK(log.events.size() == 16 + 7 + 20);
    CHECK(log.events.front().offset.has_value());

    auto bad_type = table;
    bad_type[36] = 3;
    CHECK(contains(error_of([&] { (void)parse_ccel(data, ByteSpan(bad_type)); }), "CC type 3 is not TDX"));
    auto bad_sig = table;
    bad_sig[0] = 'X';
    CHECK(contains(error_of([&] { (void)parse_ccel(data, ByteSpan(bad_sig)); }), "signature"));
    CHECK(contains(error_of([&] { (void)parse_ccel(ByteSpan(data).first(1000), ByteSpan(table)); }), "truncated"));
    CHECK(contains(error_of([&] { (void)parse_event_log(table); }), "ACPI CCEL table"));
}

TEST_CASE("CCEL: truncation, a 4 GiB event, junk after the end marker, no end marker") {
    const auto data = read_file(real_testdata() / "eventlogs/dstack-cc-eventlog-ccel.bin");
    // Cut inside record 5: the record's bounds check names it and its offset.
    const auto cut = error_of([&] { (void)parse_event_log(ByteSpan(data).first(1000)); });
    CHECK(contains(cut, "truncated"));
    CHECK(contains(cut, "record "));
    CHECK(contains(cut, "offset"));

    // Record 1 starts after the 65-byte header; its EventSize is at +62.
    auto huge = data;
    for (std::size_t i = 65 + 62; i < 65 + 66; ++i) huge[i] = 0xFF;
    const auto big = error_of([&] { (void)parse_event_log(huge); });
    CHECK(contains(big, "record 1 (starting at offset 65)"));
    CHECK(contains(big, "event data needs 4294967295 bytes"));

    auto junk = data;
    junk[5000] = 0x00;
    CHECK(contains(error_of([&] { (void)parse_event_log(junk); }), "after the end marker at offset 1933"));

    // Ending exactly at a record boundary without the marker could hide removed events.
    CHECK(contains(error_of([&] { (void)parse_event_log(ByteSpan(data).first(1933)); }),
                   "without the 0xFFFFFFFF end marker"));

    auto bad_index = data;
    bad_index[65] = 9;
    CHECK(contains(error_of([&] { (void)parse_event_log(bad_index); }), "MR index 9"));
}

TEST_CASE("dstack JSON wrappers: array, JSON string, GetQuote, /tdx_quote, tcb_info, Info") {
    const auto dir = real_testdata();
    const auto arr = near_log();
    const auto expected = replay_rtmrs(parse(arr));
    CHECK(parse(arr).container == "JSON array");
    const auto as_string = parse_dstack_event_log(json(arr.dump()).dump());
    CHECK(as_string.container == "JSON string");
    CHECK(replay_rtmrs(as_string) == expected);
    const auto tcb = parse_event_log(read_file(dir / "compose/nearmpc-head-tcb_info.json"));
    CHECK(tcb.container == "dstack tcb_info");
    CHECK(replay_rtmrs(tcb) == expected);
    const json info{{"tcb_info", test::read_text(dir / "compose/nearmpc-head-tcb_info.json")}};
    CHECK(replay_rtmrs(parse_dstack_event_log(info.dump())) == expected);

    const auto getquote = json::parse(test::read_text(dir / "eventlogs/dstack-verifier-tdx-lite-getquote.json"));
    const auto gq = parse_dstack_event_log(getquote.dump());
    CHECK(gq.container == "dstack GetQuote response");
    REQUIRE(gq.quote);
    CHECK(*gq.quote == read_file(dir / "quotes/dstack-verifier-tdx-lite-getquote.bin"));
    const json atls{{"success", true}, {"quote", getquote}, {"quote_type", "tdx"}};
    const auto at = parse_dstack_event_log(atls.dump());
    CHECK(at.container == "aTLS /tdx_quote response");
    CHECK(replay_rtmrs(at) == replay_rtmrs(gq));
}

TEST_CASE("runtime events: a payload swapped under its genuine digest is rejected") {
    auto log = near_log();
    const auto i = index_of(log, "compose-hash");
    log[i]["event_payload"] = std::string(64, 'a');
    const auto err = error_of([&] { (void)parse(log); });
    CHECK(contains(err, fmt::format("event {} (compose-hash): digest", i)));
    CHECK(contains(err, "does not match"));
}

TEST_CASE("runtime events: a digest that does not match its payload is rejected") {
    auto log = near_log();
    const auto i = index_of(log, "app-id");
    log[i]["digest"] = std::string(96, '0');
    CHECK(contains(error_of([&] { (void)parse(log); }), fmt::format("event {} (app-id): digest 0000", i)));
}

TEST_CASE("runtime events: an empty digest is recomputed, so a swapped payload changes RTMR3") {
    auto log = near_log();
    const auto quote = parse_quote(read_file(real_testdata() / "quotes/nearmpc-head-quote.bin"));
    for (auto& e : log) {
        if (e["imr"] == 3) e["digest"] = "";
    }
    CHECK_FALSE(compare_rtmrs(replay_rtmrs(parse(log)), *quote.td_body()));
    log[index_of(log, "compose-hash")]["event_payload"] = std::string(64, 'a');
    const auto mismatch = compare_rtmrs(replay_rtmrs(parse(log)), *quote.td_body());
    REQUIRE(mismatch);
    CHECK(mismatch->rtmr == 3);
}

TEST_CASE("V2 events: the preimage must be the canonical JSON") {
    const auto payload = from_hex("abcd");
    const json good =
        json::array({{{"imr", 3},
                      {"event_type", kDstackRuntimeEventType},
                      {"digest", ""},
                      {"event", "compose-hash"},
                      {"event_payload", "abcd"},
                      {"version", 2},
                      {"preimage", to_hex(as_bytes(detail::runtime_event_preimage_v2("compose-hash", payload)))}}});
    const auto log = parse(good);
    CHECK(log.events[0].digest == runtime_event_digest("compose-hash", payload, 2));
    auto bad = good;
    bad[0]["preimage"] = to_hex(as_bytes(R"({"type":134217729,"name":"compose-hash","payload":"abcd"})"));
    CHECK(contains(error_of([&] { (void)parse(bad); }), "preimage is not the canonical JSON"));
    auto v1 = good;
    v1[0]["version"] = 1;
    CHECK(contains(error_of([&] { (void)parse(v1); }), "only defined for version 2"));
}

TEST_CASE("malformed events name the index and the field") {
    const auto with = [](const std::string& key, const json& value) {
        auto log = near_log();
        log[3][key] = value;
        return error_of([&] { (void)parse(log); });
    };
    CHECK(contains(with("imr", 4), "event 3: \"imr\" must be an integer from 0 to 3"));
    CHECK(contains(with("surprise", 1), "event 3: unknown field \"surprise\""));
    CHECK(contains(with("digest", ""), "event 3: boot event (imr 0"));
    CHECK(contains(with("digest", "abcd"), "event 3: digest is 2 bytes"));
    CHECK(contains(with("event_payload", "xyz"), "event 3:"));
    CHECK(contains(with("event_type", -1), "event 3: \"event_type\""));
    CHECK(contains(error_of([&] { (void)parse_dstack_event_log(R"([{"imr":0,"imr":1}])"); }), "duplicate key \"imr\""));
    CHECK(contains(error_of([&] { (void)parse_dstack_event_log(R"({"nothing":1})"); }), "event_log"));
    CHECK(contains(error_of([&] { (void)parse_event_log({}); }), "empty"));
}
