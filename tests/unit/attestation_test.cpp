// dstack versioned attestations: the two real samples (dstack's guest-agent fixture and
// dstack-verifier's tdx-lite fixture, testdata/real/PROVENANCE.md), their exact re-encoding, and every
// way the decoder refuses a malformed one.

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"
#include "tdxkit/attestation.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/quote.hpp"

using namespace tdxkit;
using nlohmann::json;
using test::code_of;

namespace {

Bytes guest_agent() {
    return test::read_file(test::real_testdata() / "attestations/dstack-guest-agent-attestation.bin");
}

Bytes lite() {
    const auto doc =
        json::parse(test::read_text(test::real_testdata() / "attestations/dstack-verifier-tdx-lite-attestation.json"));
    return from_hex(doc["attestation"].get<std::string>(), "attestation");
}

std::string message_of(const Bytes& bytes) {
    try {
        (void)decode_dstack_attestation(bytes);
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

json as_binary(ByteSpan b) { return json::binary(Bytes(b.begin(), b.end())); }

// The V1 msgpack form of an attestation, as dstack's rmp_serde writes it (named fields, adjacently
// tagged enums); `quote_as_array` writes the quote as serde writes a plain Vec<u8>.
json v1_document(const DstackAttestation& a, bool quote_as_array) {
    json events = json::array();
    json runtime = json::array();
    for (const auto& e : a.event_log.events) {
        events.push_back({{"imr", e.imr},
                          {"event_type", e.event_type},
                          {"digest", as_binary(e.is_runtime() ? ByteSpan{} : ByteSpan(e.digest))},
                          {"event", e.name},
                          {"event_payload", as_binary(e.payload)}});
        if (e.imr == 3) runtime.push_back({{"event", e.name}, {"payload", as_binary(e.payload)}});
    }
    json quote = quote_as_array ? json(a.quote) : as_binary(a.quote);
    return {
        {"version", 1},
        {"platform", {{"kind", "tdx"}, {"data", {{"quote", quote}, {"event_log", events}}}}},
        {"stack",
         {{"kind", "dstack"},
          {"data", {{"report_data", as_binary(a.report_data)}, {"runtime_events", runtime}, {"config", a.config}}}}}};
}

Bytes msgpack(const json& doc) {
    const auto b = json::to_msgpack(doc);
    return Bytes(b.begin(), b.end());
}

}  // namespace

TEST_CASE("dstack guest-agent fixture: SCALE V0, its quote and a log that replays to all four RTMRs") {
    const auto bytes = guest_agent();
    const auto a = decode_dstack_attestation(bytes);
    CHECK(a.wire == AttestationWire::scale_v0);
    CHECK(std::string(a.wire_name()) == "SCALE (V0)");
    // PROVENANCE.md: the quote is the SCALE vector of 5010 bytes at offset 4 (tag, platform, compact length).
    REQUIRE(a.quote.size() == 5010);
    CHECK(equal_ct(a.quote, ByteSpan(bytes).subspan(4, 5010)));
    CHECK(to_hex(sha256(a.quote)) == "35e72a05b12d9ab387c058d070c91bb401510e68431ccd7f0be0ce5b14871fec");
    CHECK(a.event_log.events.size() == 33);
    CHECK(a.event_log.container == "dstack attestation, SCALE (V0)");
    CHECK(all_zero(a.report_data));  // PROVENANCE.md: REPORTDATA all zero
    CHECK(a.config.rfind("{\"kms_urls\":[\"https://kms.tdxlab.dstack.org:12001\"]", 0) == 0);
    const auto quote = parse_quote(a.quote);
    REQUIRE(quote.td_body() != nullptr);
    CHECK_FALSE(compare_rtmrs(replay_rtmrs(a.event_log), *quote.td_body()).has_value());
    CHECK(equal_ct(a.report_data, quote.td_body()->report_data));
    // The RTMR3 events are the nine runtime events, in order.
    std::vector<std::string> names;
    for (const auto& e : a.event_log.events) {
        if (e.imr == 3) names.push_back(e.name);
    }
    CHECK(names == std::vector<std::string>{"system-preparing", "app-id", "compose-hash", "instance-id", "boot-mr-done",
                                            "os-image-hash", "key-provider", "storage-fs", "system-ready"});
}

TEST_CASE("the guest-agent fixture re-encodes to exactly its own bytes") {
    const auto bytes = guest_agent();
    const auto a = decode_dstack_attestation(bytes);
    CHECK(encode_dstack_attestation(a.quote, a.event_log, a.report_data, a.config) == bytes);
}

TEST_CASE("dstack-verifier tdx-lite fixture: the GetQuote capture's quote and a stripped log") {
    const auto a = decode_dstack_attestation(lite());
    CHECK(a.quote == test::read_file(test::real_testdata() / "quotes/dstack-verifier-tdx-lite-getquote.bin"));
    CHECK(to_hex(sha256(a.quote)) == "ce9491c22f10cefcc86ea2f20d443d7510a1ee12d7326419534fc096eace6452");
    REQUIRE(a.event_log.events.size() == 12);
    // The three RTMR0 ACPI digests the lite verification keeps, then the runtime events (digests stripped,
    // recomputed from name and payload).
    CHECK(a.event_log.events[0].name == "acpi-loader");
    CHECK(a.event_log.events[2].name == "acpi-tables");
    CHECK(a.event_log.events[3].recomputed);
    const auto quote = parse_quote(a.quote);
    const auto replayed = replay_rtmrs(a.event_log);
    CHECK(replayed[3] == quote.td_body()->rtmr[3]);
    CHECK(replayed[0] != quote.td_body()->rtmr[0]);  // only 3 of RTMR0's events are carried
    CHECK(equal_ct(a.report_data, quote.td_body()->report_data));
    const auto config = json::parse(a.config);
    CHECK(config["os_image_hash"] == "e6f5cfec20c02e7b97baa213d0f718020b55e040172d90ccbcb946d56c8b09db");
    CHECK(config["cpu_count"] == 2);
}

TEST_CASE("every truncation of a real attestation, and a trailing byte, is malformed") {
    const auto bytes = guest_agent();
    for (std::size_t n = 1; n < bytes.size(); ++n) {
        const Bytes prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
        if (code_of([&] { (void)decode_dstack_attestation(prefix); }) != Errc::malformed) {
            FAIL("prefix of " << n << " bytes was not refused as malformed");
        }
    }
    auto longer = bytes;
    longer.push_back(0);
    CHECK(message_of(longer).find("1 unexpected trailing bytes") != std::string::npos);
    CHECK(code_of([] { (void)decode_dstack_attestation({}); }) == Errc::malformed);
}

TEST_CASE("SCALE lengths: larger than what remains, non-canonical, or beyond 32 bits are refused before reading") {
    // Quote length 2^30 - 1 (four-byte mode) with nothing after it.
    CHECK(message_of({0x00, 0x00, 0xFE, 0xFF, 0xFF, 0xFF}).find("needs 1073741823 bytes") != std::string::npos);
    // 5 in two-byte mode: parity-scale-codec refuses it, so must tdxkit (one attestation, one encoding).
    CHECK(message_of({0x00, 0x00, 0x15, 0x00}).find("non-canonical") != std::string::npos);
    CHECK(message_of({0x00, 0x00, 0x07, 1, 2, 3, 4, 5}).find("compact integer") != std::string::npos);
    // An event count that cannot fit in the bytes left.
    CHECK(message_of({0x00, 0x00, 0x00, 0xFD, 0xFF}).find("cannot fit") != std::string::npos);
}

TEST_CASE("other platforms are recognised and refused as unsupported, never read as TDX") {
    for (std::uint8_t tag = 1; tag <= 4; ++tag) {
        CHECK(code_of([&] { (void)decode_dstack_attestation(Bytes{0x00, tag, 0x00}); }) == Errc::unsupported);
    }
    CHECK(message_of({0x00, 0x03}).find("\"sev-snp\"") != std::string::npos);
    CHECK(message_of({0x00, 0x09}).find("unknown platform tag 9") != std::string::npos);
    CHECK(message_of({0x01}).find("neither the SCALE V0 tag") != std::string::npos);

    auto doc = v1_document(decode_dstack_attestation(guest_agent()), false);
    doc["platform"] = {{"kind", "nitro-enclave"}, {"data", {{"nsm_quote", json::binary({1, 2})}}}};
    CHECK(code_of([&] { (void)decode_dstack_attestation(msgpack(doc)); }) == Errc::unsupported);
}

TEST_CASE("the RTMR3 events and the stack's runtime events are one list: a difference is malformed") {
    auto a = decode_dstack_attestation(guest_agent());
    // Re-encode with the log's app-id payload changed: the runtime events written come from the log
    // too, so change the copy in the bytes instead.
    auto bytes = encode_dstack_attestation(a.quote, a.event_log, a.report_data, a.config);
    const std::string app_id = "app-id";
    const auto last = std::search(bytes.rbegin(), bytes.rend(), app_id.rbegin(), app_id.rend());
    REQUIRE(last != bytes.rend());
    // The byte after the name in the runtime-events copy is the payload's compact length; the payload follows.
    const auto payload_at = static_cast<std::size_t>(bytes.rend() - last) + 1;
    bytes[payload_at] ^= 0x01;
    CHECK(message_of(bytes).find("differs from runtime event 1") != std::string::npos);
}

TEST_CASE("V1 msgpack: the same attestation in rmp_serde's form decodes to the same quote and events") {
    const auto v0 = decode_dstack_attestation(guest_agent());
    for (const bool quote_as_array : {false, true}) {
        const auto a = decode_dstack_attestation(msgpack(v1_document(v0, quote_as_array)));
        CHECK(a.wire == AttestationWire::msgpack_v1);
        CHECK(a.quote == v0.quote);
        REQUIRE(a.event_log.events.size() == v0.event_log.events.size());
        for (std::size_t i = 0; i < a.event_log.events.size(); ++i) {
            CHECK(a.event_log.events[i].digest == v0.event_log.events[i].digest);
        }
        CHECK(a.report_data == v0.report_data);
        CHECK(a.config == v0.config);
    }
}

TEST_CASE("V1 msgpack: unknown fields, another version, a short report_data, duplicate keys and extension types are "
          "malformed") {
    const auto base = v1_document(decode_dstack_attestation(guest_agent()), false);
    const auto refused = [](const json& doc, std::string_view expected) {
        const auto message = message_of(msgpack(doc));
        INFO(message);
        CHECK(message.find(expected) != std::string::npos);
    };
    auto doc = base;
    doc["extra"] = 1;
    refused(doc, "unknown field \"extra\"");
    doc = base;
    doc["version"] = 2;
    refused(doc, "version 2 is not the V1 schema");
    doc = base;
    doc["stack"]["data"]["report_data"] = json::binary({1, 2, 3});
    refused(doc, "report_data is 3 bytes, expected 64");
    doc = base;
    doc["platform"]["data"]["event_log"][0]["imr"] = 4;
    refused(doc, "event 0");
    doc = base;
    doc["stack"]["kind"] = "dstack-pod";
    CHECK(code_of([&] { (void)decode_dstack_attestation(msgpack(doc)); }) == Errc::unsupported);

    // {"version": 1, "version": 1}: a map of two equal keys, which nlohmann's encoder cannot write.
    const Bytes duplicate{0x82, 0xA7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01,
                          0xA7, 'v',  'e', 'r', 's', 'i', 'o', 'n', 0x01};
    CHECK(message_of(duplicate).find("duplicate map key \"version\"") != std::string::npos);
    // {"version": ext8(type 1, 1 byte)}
    const Bytes extension{0x81, 0xA7, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0xC7, 0x01, 0x01, 0x00};
    CHECK(message_of(extension).find("extension type 1") != std::string::npos);
}

TEST_CASE("V1 msgpack: text that is not UTF-8 is malformed, as it is in the SCALE form") {
    auto doc = v1_document(decode_dstack_attestation(guest_agent()), false);
    doc["stack"]["data"]["config"] = std::string("{\"x\":\"\xC3\x28\"}");
    CHECK(message_of(msgpack(doc)).find("not UTF-8") != std::string::npos);
}

TEST_CASE("the SCALE form refuses an RTMR3 event that is not a runtime event: its decoder would refuse the record") {
    auto a = decode_dstack_attestation(guest_agent());
    Event boot;
    boot.imr = 3;
    boot.event_type = 0x80000001;
    boot.digest.fill(0x33);
    a.event_log.events.push_back(boot);
    CHECK(code_of([&] { (void)encode_dstack_attestation(a.quote, a.event_log, a.report_data, a.config); }) ==
          Errc::invalid_argument);
}
