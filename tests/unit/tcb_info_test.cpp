// pcs::parse_tcb_info / parse_qe_identity: exact values of real Intel-signed bodies (shared
// testdata, PROVENANCE.md: dcap-qvl's sample collateral, TCB evaluation data number 17), then one
// malformed document per rule, each made by editing one field of the real body.

#include <doctest/doctest.h>

#include <filesystem>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "pcs/tcb_info.hpp"
#include "support/test_support.hpp"
#include "tdxkit/collateral.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/time.hpp"

using namespace tdxkit;
using nlohmann::ordered_json;

namespace {

// The one place that says where real collateral lives.
Collateral real_collateral(const std::string& set) {
    return load_collateral((test::real_testdata() / "collateral" / set).string());
}

const std::string& tdx_body() {
    static const std::string body = real_collateral("dcapqvl-tdx_quote").tcb_info;
    return body;
}

// The real TDX body with one edit applied, in its original member order.
std::string edited(const std::function<void(ordered_json&)>& edit) {
    auto doc = ordered_json::parse(tdx_body());
    edit(doc);
    return doc.dump();
}

std::string parse_error(const std::string& body, Errc expected = Errc::malformed) {
    try {
        (void)pcs::parse_tcb_info(body);
    } catch (const Error& e) {
        CHECK(e.code() == expected);
        return e.what();
    }
    FAIL("parse_tcb_info accepted the document");
    return {};
}

std::array<std::uint8_t, 16> svns(std::initializer_list<std::uint8_t> first) {
    std::array<std::uint8_t, 16> out{};
    std::copy(first.begin(), first.end(), out.begin());
    return out;
}

}  // namespace

TEST_CASE("real TDX TCB Info (FMSPC B0C06F000000, evaluation data number 17)") {
    const auto t = pcs::parse_tcb_info(tdx_body());
    CHECK(t.id == "TDX");
    CHECK(t.version == 3);
    CHECK(t.issue_date == parse_time("2025-06-19T10:16:03Z"));
    CHECK(t.next_update == parse_time("2025-07-19T10:16:03Z"));
    CHECK(to_hex(t.fmspc) == "b0c06f000000");
    CHECK(to_hex(t.pce_id) == "0000");
    CHECK(t.tcb_type == 0);
    CHECK(t.tcb_evaluation_data_number == 17);

    REQUIRE(t.tdx_module.has_value());
    CHECK(t.tdx_module->id.empty());
    CHECK(t.tdx_module->mrsigner == Bytes(48, 0));
    CHECK(t.tdx_module->attributes == Bytes(8, 0));
    CHECK(t.tdx_module->attributes_mask == Bytes(8, 0xFF));
    CHECK(t.tdx_module->levels.empty());

    REQUIRE(t.tdx_module_identities.size() == 2);
    const auto& tdx03 = t.tdx_module_identities[0];
    CHECK(tdx03.id == "TDX_03");
    REQUIRE(tdx03.levels.size() == 1);
    CHECK(tdx03.levels[0].isvsvn == 3);
    CHECK(tdx03.levels[0].status == "UpToDate");
    const auto& tdx01 = t.tdx_module_identities[1];
    CHECK(tdx01.id == "TDX_01");
    REQUIRE(tdx01.levels.size() == 2);
    CHECK(tdx01.levels[0].isvsvn == 4);
    CHECK(tdx01.levels[0].tcb_date == "2024-03-13T00:00:00Z");
    CHECK(tdx01.levels[0].tcb_date_unix == parse_time("2024-03-13T00:00:00Z"));
    CHECK(tdx01.levels[1].isvsvn == 2);
    CHECK(tdx01.levels[1].status == "OutOfDate");
    CHECK(tdx01.levels[1].tcb_date == "2023-08-09T00:00:00Z");
    CHECK(tdx01.levels[1].advisory_ids.empty());

    REQUIRE(t.levels.size() == 2);
    const auto& best = t.levels[0];
    CHECK(best.sgx_components == svns({2, 2, 2, 2, 3, 1, 0, 5}));
    CHECK(best.pcesvn == 11);
    CHECK(best.tdx_components == svns({5, 0, 2}));
    CHECK(best.status == "UpToDate");
    CHECK(best.tcb_date == "2024-03-13T00:00:00Z");
    CHECK(best.advisory_ids.empty());
    const auto& old = t.levels[1];
    CHECK(old.pcesvn == 5);
    CHECK(old.status == "OutOfDate");
    CHECK(old.tcb_date_unix == parse_time("2018-01-04T00:00:00Z"));
    REQUIRE(old.advisory_ids.size() == 14);
    CHECK(old.advisory_ids.front() == "INTEL-SA-00106");
    CHECK(old.advisory_ids.back() == "INTEL-SA-00837");
}

TEST_CASE("real SGX TCB Info (FMSPC 00A067110000): no TDX fields, levels best first") {
    const auto t = pcs::parse_tcb_info(real_collateral("dcapqvl-sgx_quote").tcb_info);
    CHECK(t.id == "SGX");
    CHECK(to_hex(t.fmspc) == "00a067110000");
    CHECK_FALSE(t.tdx_module.has_value());
    CHECK(t.tdx_module_identities.empty());
    REQUIRE(t.levels.size() == 11);
    for (const auto& level : t.levels) CHECK_FALSE(level.tdx_components.has_value());
    CHECK(t.levels[0].sgx_components == svns({11, 11, 2, 2, 255, 1, 12}));
    CHECK(t.levels[0].pcesvn == 13);
    CHECK(t.levels[0].status == "SWHardeningNeeded");
    CHECK(t.levels[0].advisory_ids == std::vector<std::string>{"INTEL-SA-00615"});
    CHECK(t.levels[10].pcesvn == 5);
    CHECK(t.levels[10].status == "OutOfDate");
}

TEST_CASE("real TD_QE identity") {
    const auto q = pcs::parse_qe_identity(real_collateral("dcapqvl-tdx_quote").qe_identity);
    CHECK(q.id == "TD_QE");
    CHECK(q.version == 2);
    CHECK(q.issue_date == parse_time("2025-06-19T10:32:27Z"));
    CHECK(q.next_update == parse_time("2025-07-19T10:32:27Z"));
    CHECK(q.tcb_evaluation_data_number == 17);
    CHECK(q.miscselect == 0);
    CHECK(q.miscselect_mask == 0xFFFFFFFFU);
    CHECK(to_hex(q.attributes) == "11000000000000000000000000000000");
    CHECK(to_hex(q.attributes_mask) == "fbffffffffffffff0000000000000000");
    CHECK(to_hex(q.mrsigner) == "dc9e2a7c6f948f17474e34a7fc43ed030f7c1563f1babddf6340c82e0e54a8c5");
    CHECK(q.isvprodid == 2);
    REQUIRE(q.levels.size() == 1);
    CHECK(q.levels[0].isvsvn == 4);
    CHECK(q.levels[0].status == "UpToDate");
}

TEST_CASE("levels are sorted best first whatever the document order (QVL TcbLevel ordering)") {
    const auto t = pcs::parse_tcb_info(edited([](ordered_json& d) {
        auto& levels = d["tcbLevels"];
        std::reverse(levels.begin(), levels.end());
        auto& module_levels = d["tdxModuleIdentities"][1]["tcbLevels"];
        std::reverse(module_levels.begin(), module_levels.end());
    }));
    CHECK(t.levels[0].pcesvn == 11);
    CHECK(t.levels[1].pcesvn == 5);
    CHECK(t.tdx_module_identities[1].levels[0].isvsvn == 4);
}

TEST_CASE("fields tdxkit does not know are ignored; statuses are kept verbatim for the evaluation to judge") {
    const auto t = pcs::parse_tcb_info(edited([](ordered_json& d) {
        d["futureField"] = {{"anything", 1}};
        d["tcbLevels"][0]["futureLevelField"] = "x";
        d["tcbLevels"][0]["tcbStatus"] = "SomeFutureStatus";
    }));
    CHECK(t.levels.size() == 2);
    CHECK(t.levels[0].status == "SomeFutureStatus");
}

TEST_CASE("malformed TCB Info: the error names the field") {
    struct Case {
        const char* name;
        std::function<void(ordered_json&)> edit;
        const char* message;
    };
    const std::vector<Case> cases = {
        {"tcbType other than 0", [](ordered_json& d) { d["tcbType"] = 1; },
         "tcbInfo.tcbType: tcbType is 1; only tcbType 0 is defined"},
        {"unknown id", [](ordered_json& d) { d["id"] = "XYZ"; },
         "tcbInfo.id: expected \"TDX\" or \"SGX\", got \"XYZ\""},
        {"missing member", [](ordered_json& d) { d.erase("fmspc"); }, "tcbInfo.fmspc: required"},
        {"number where a string belongs", [](ordered_json& d) { d["fmspc"] = 12; },
         "tcbInfo.fmspc: expected a hex string of 6 bytes, got number"},
        {"wrong length", [](ordered_json& d) { d["fmspc"] = "B0C06F"; },
         "tcbInfo.fmspc: expected 6 bytes (12 hex digits), got 3 bytes"},
        {"string where a number belongs", [](ordered_json& d) { d["tcbEvaluationDataNumber"] = "17"; },
         "tcbInfo.tcbEvaluationDataNumber: expected an integer from 0 to 4294967295, got \"17\""},
        {"negative number", [](ordered_json& d) { d["tcbEvaluationDataNumber"] = -1; },
         "tcbInfo.tcbEvaluationDataNumber: expected an integer from 0 to 4294967295, got -1"},
        {"time that is not RFC 3339", [](ordered_json& d) { d["issueDate"] = "19 June 2025"; },
         "tcbInfo.issueDate: '19 June 2025' is not an RFC 3339 time (2024-03-13T00:00:00Z)"},
        {"TDX without tdxModule", [](ordered_json& d) { d.erase("tdxModule"); }, "tcbInfo.tdxModule: required"},
        {"short module signer", [](ordered_json& d) { d["tdxModule"]["mrsigner"] = std::string(94, '0'); },
         "tcbInfo.tdxModule.mrsigner: expected 48 bytes (96 hex digits), got 47 bytes"},
        {"module identity without levels",
         [](ordered_json& d) { d["tdxModuleIdentities"][0]["tcbLevels"] = ordered_json::array(); },
         "tcbInfo.tdxModuleIdentities[0].tcbLevels: expected at least one TCB level, got none"},
        {"no levels", [](ordered_json& d) { d["tcbLevels"] = ordered_json::array(); },
         "tcbInfo.tcbLevels: expected at least one TCB level, got none"},
        {"levels not an array", [](ordered_json& d) { d["tcbLevels"] = ordered_json::object(); },
         "tcbInfo.tcbLevels: expected an array, got object"},
        {"15 SGX components", [](ordered_json& d) { d["tcbLevels"][0]["tcb"]["sgxtcbcomponents"].erase(15); },
         "tcbInfo.tcbLevels[0].tcb.sgxtcbcomponents: expected 16 entries, got 15"},
        {"component SVN above 255",
         [](ordered_json& d) { d["tcbLevels"][1]["tcb"]["tdxtcbcomponents"][2]["svn"] = 256; },
         "tcbInfo.tcbLevels[1].tcb.tdxtcbcomponents[2].svn: expected an integer from 0 to 255, got 256"},
        {"PCESVN as a string", [](ordered_json& d) { d["tcbLevels"][0]["tcb"]["pcesvn"] = "11"; },
         "tcbInfo.tcbLevels[0].tcb.pcesvn: expected an integer from 0 to 65535, got \"11\""},
        {"non-string advisory", [](ordered_json& d) { d["tcbLevels"][1]["advisoryIDs"][0] = 106; },
         "tcbInfo.tcbLevels[1].advisoryIDs[0]: expected a string, got number"},
        {"level not an object", [](ordered_json& d) { d["tcbLevels"][0] = "UpToDate"; },
         "tcbInfo.tcbLevels[0]: expected an object, got string"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.name);
        CHECK(parse_error(edited(c.edit)) == c.message);
    }
}

TEST_CASE("TCB Info versions other than 3 are unsupported, not malformed") {
    for (const int version : {2, 4}) {
        CAPTURE(version);
        CHECK(parse_error(edited([&](ordered_json& d) { d["version"] = version; }), Errc::unsupported) ==
              "tcbInfo.version is " + std::to_string(version) + "; tdxkit verifies version 3");
    }
}

TEST_CASE("TCB Info that is not a JSON object, or repeats a key") {
    CHECK(parse_error("[]") == "tcbInfo: expected an object, got array");
    CHECK(parse_error("").rfind("tcbInfo: not valid JSON", 0) == 0);
    // Two parsers could read two different values: refused (core/json.hpp).
    const auto twice = "{\"version\":3," + tdx_body().substr(1);
    CHECK(parse_error(twice).find("duplicate key \"version\"") != std::string::npos);
}

TEST_CASE("malformed QE Identity") {
    const auto body = real_collateral("dcapqvl-tdx_quote").qe_identity;
    const auto with = [&](const std::function<void(ordered_json&)>& edit) {
        auto doc = ordered_json::parse(body);
        edit(doc);
        return doc.dump();
    };
    CHECK(test::code_of([&] { (void)pcs::parse_qe_identity(with([](ordered_json& d) { d["version"] = 3; })); }) ==
          Errc::unsupported);
    CHECK_THROWS_WITH_AS((void)pcs::parse_qe_identity(with([](ordered_json& d) { d["miscselect"] = "000000"; })),
                         "enclaveIdentity.miscselect: expected 4 bytes (8 hex digits), got 3 bytes", Error);
    CHECK_THROWS_WITH_AS((void)pcs::parse_qe_identity(with([](ordered_json& d) { d["isvprodid"] = 65536; })),
                         "enclaveIdentity.isvprodid: expected an integer from 0 to 65535, got 65536", Error);
    CHECK_THROWS_WITH_AS(
        (void)pcs::parse_qe_identity(with([](ordered_json& d) { d["tcbLevels"][0]["tcb"] = ordered_json::object(); })),
        "enclaveIdentity.tcbLevels[0].tcb.isvsvn: required", Error);
}
