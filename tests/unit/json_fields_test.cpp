// Typed field reads with JSON paths (lib/src/core/json_fields.hpp), shared by policy files and Intel's
// TCB Info and QE Identity: the exact messages for each mistake, at the top and nested.

#include <doctest/doctest.h>

#include <array>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "core/json_fields.hpp"
#include "tdxkit/error.hpp"

using namespace tdxkit;
using detail::JsonErrors;
using detail::JsonField;
using nlohmann::json;

namespace {

constexpr std::string_view kLevels = R"({
  "version": 3,
  "tcbLevels": [
    {"tcb": {"sgxtcbcomponents": [{"svn": 2}, {"svn": "x"}, {"svn": 256}, {"svn": -1}, {"svn": 1.5}]}}
  ],
  "id": "TDX", "fmspc": "00906ED50000", "issueDate": "2025-07-04T10:16:31Z", "debug": false
})";

// Runs `read` on the document's root named "tcbInfo" and returns the message it throws; the code
// must be `errors.code`.
std::string error_of(const std::function<void(const JsonField&)>& read, JsonErrors errors = {},
                     std::string_view text = kLevels) {
    const auto doc = detail::parse_json(text, "doc");
    try {
        read(JsonField(doc, "tcbInfo", errors));
    } catch (const Error& e) {
        CHECK(e.code() == errors.code);
        return e.what();
    }
    return "accepted";
}

JsonField svn(const JsonField& root, std::size_t i) {
    return root.member("tcbLevels").elements()[0].member("tcb").member("sgxtcbcomponents").elements()[i].member("svn");
}

}  // namespace

TEST_CASE("values of the right type are read") {
    const auto doc = detail::parse_json(kLevels, "doc");
    const JsonField root(doc, "tcbInfo", {});
    CHECK(root.member("version").integer<std::uint32_t>() == 3);
    CHECK(svn(root, 0).integer<std::uint8_t>() == 2);
    CHECK(root.member("id").string() == "TDX");
    CHECK(root.member("fmspc").octets<6>() == Octets<6>{0x00, 0x90, 0x6e, 0xd5, 0x00, 0x00});
    CHECK(root.member("issueDate").time() == 1751624191);
    CHECK_FALSE(root.member("debug").boolean());
    CHECK_FALSE(root.optional_member("advisoryIDs"));
    CHECK(root.member("id").key() == "id");
    CHECK(root.member("tcbLevels").elements()[0].key().empty());
}

TEST_CASE("a missing member is named by its path") {
    CHECK(error_of([](const JsonField& f) { (void)f.member("pceId"); }) == "tcbInfo.pceId: required");
    CHECK(error_of([](const JsonField& f) {
              (void)f.member("tcbLevels").elements()[0].member("tcb").member("pcesvn");
          }) == "tcbInfo.tcbLevels[0].tcb.pcesvn: required");
    CHECK(error_of([](const JsonField& f) { f.missing_member("version", "\"version\": 1"); }) ==
          "tcbInfo.version: required (\"version\": 1)");
}

TEST_CASE("a value of the wrong type is named by its path, with the type it has") {
    CHECK(error_of([](const JsonField& f) { (void)f.member("version").string(); }) ==
          "tcbInfo.version: expected a string, got number");
    CHECK(error_of([](const JsonField& f) { (void)f.member("id").boolean(); }) ==
          "tcbInfo.id: expected true or false, got string");
    CHECK(error_of([](const JsonField& f) { (void)f.member("id").elements(); }) ==
          "tcbInfo.id: expected an array, got string");
    CHECK(error_of([](const JsonField& f) { (void)f.member("tcbLevels").member("tcb"); }) ==
          "tcbInfo.tcbLevels: expected an object, got array");
    CHECK(error_of([](const JsonField& f) { (void)f.member("version").hex(6); }) ==
          "tcbInfo.version: expected a hex string of 6 bytes, got number");
    CHECK(error_of([](const JsonField& f) { (void)f.member("id").time(); }) ==
          "tcbInfo.id: 'TDX' is not an RFC 3339 time (2024-03-13T00:00:00Z)");
}

TEST_CASE("integers: only non-negative whole numbers up to the maximum, the value shown") {
    CHECK(error_of([](const JsonField& f) { (void)svn(f, 1).integer<std::uint8_t>(); }) ==
          R"(tcbInfo.tcbLevels[0].tcb.sgxtcbcomponents[1].svn: expected an integer from 0 to 255, got "x")");
    CHECK(error_of([](const JsonField& f) { (void)svn(f, 2).integer<std::uint8_t>(); }) ==
          "tcbInfo.tcbLevels[0].tcb.sgxtcbcomponents[2].svn: expected an integer from 0 to 255, got 256");
    CHECK(error_of([](const JsonField& f) { (void)svn(f, 3).integer<std::uint16_t>(); }) ==
          "tcbInfo.tcbLevels[0].tcb.sgxtcbcomponents[3].svn: expected an integer from 0 to 65535, got -1");
    CHECK(error_of([](const JsonField& f) { (void)svn(f, 4).integer<std::uint32_t>(); }) ==
          "tcbInfo.tcbLevels[0].tcb.sgxtcbcomponents[4].svn: expected an integer from 0 to 4294967295, got 1.5");
    CHECK(error_of([](const JsonField& f) { (void)f.member("version").integer<std::uint64_t>(2); }) ==
          "tcbInfo.version: expected an integer from 0 to 2, got 3");
}

TEST_CASE("hex: exactly the size asked for, with from_hex's reason for bad digits") {
    CHECK(error_of([](const JsonField& f) { (void)f.member("fmspc").hex(5); }) ==
          "tcbInfo.fmspc: expected 5 bytes (10 hex digits), got 6 bytes");
    CHECK(error_of([](const JsonField& f) { (void)f.member("id").hex(2); }) ==
          "tcbInfo.id: invalid hex character at offset 0");
}

TEST_CASE("unknown members are refused by a user that knows every member") {
    static constexpr std::array<std::string_view, 2> kAllowed{"version", "tcbLevels"};
    CHECK(error_of([](const JsonField& f) {
              for (const auto& m : f.members()) {
                  if (m.key() != "version" && m.key() != "tcbLevels") m.unknown_key(kAllowed);
              }
          }) == "tcbInfo.debug: unknown key (allowed here: version, tcbLevels)");
}

TEST_CASE("the user's error: code and source, and paths from the members of an unnamed document") {
    const JsonErrors policy{Errc::invalid_argument, "policy.json"};
    const auto doc = detail::parse_json(R"({"td": {"mrtd": ["00", 7]}})", "doc");
    const JsonField root(doc, "", policy);
    try {
        (void)root.member("td").member("mrtd").elements()[1].string();
        FAIL("accepted");
    } catch (const Error& e) {
        CHECK(e.code() == Errc::invalid_argument);
        CHECK(std::string(e.what()) == "policy.json: td.mrtd[1]: expected a string, got number");
    }
    CHECK(error_of([](const JsonField& f) { (void)f.member("td"); }, policy, "[1]") ==
          "policy.json: tcbInfo: expected an object, got array");
    const auto array = detail::parse_json("[1]", "doc");
    CHECK_THROWS_WITH((void)JsonField(array, "", policy).member("td"),
                      "policy.json: (document): expected an object, got array");
    CHECK_THROWS_WITH((void)JsonField(array, "", policy).elements()[0].string(),
                      "policy.json: [0]: expected a string, got number");
    CHECK_THROWS_WITH((void)root.member("td").member("mrtd").elements()[0].hex(48),
                      "policy.json: td.mrtd[0]: expected 48 bytes (96 hex digits), got 1 bytes");
}
