// verify::evaluate_tcb as a table: TCB Info, QE Identity, PCK SVNs and TEE_TCB_SVN built in C++ (no
// PKI, no quote). Expected values follow Intel QVL (intel/confidential-computing.tee.dcap.qvl
// ed07be6, Src/AttestationLibrary/src/Verifiers/Checks/): EvaluateTcb.cpp tdxEvaluateTCB /
// sgxEvaluateTCB / areSvnsHigherOrEqual / convergeTcbStatuses, TdxModuleCheck.cpp
// findTdxModuleIdentity, TDRelaunchCheck.cpp checkForRelaunch. Shortfall and outdated_since are
// tdxkit's own additions (lib/docs/verification.md "TCB status").

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "support/test_support.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/time.hpp"
#include "verify/tcb_evaluation.hpp"

using namespace tdxkit;
using verify::check_for_relaunch;
using verify::converge_tcb_statuses;
using verify::TcbEvaluation;

namespace {

using Advisories = std::vector<std::string>;

constexpr TcbStatus kUpToDate = TcbStatus::up_to_date;
constexpr TcbStatus kSwHardening = TcbStatus::sw_hardening_needed;
constexpr TcbStatus kConfiguration = TcbStatus::configuration_needed;
constexpr TcbStatus kConfigurationSwHardening = TcbStatus::configuration_and_sw_hardening_needed;
constexpr TcbStatus kOutOfDate = TcbStatus::out_of_date;
constexpr TcbStatus kOutOfDateConfiguration = TcbStatus::out_of_date_configuration_needed;
constexpr TcbStatus kRelaunch = TcbStatus::td_relaunch_advised;
constexpr TcbStatus kRelaunchConfiguration = TcbStatus::td_relaunch_advised_configuration_needed;
constexpr TcbStatus kRevoked = TcbStatus::revoked;

// Platform levels differ only in SGX TCB component 1, so the PCK's value picks the level:
// 7 -> UpToDate, 6 -> SWHardeningNeeded, ... 1 -> Revoked, 0 -> below every level.
pcs::TcbLevel platform_level(std::uint8_t sgx_component_1, const char* status, const char* date, Advisories ids) {
    pcs::TcbLevel l;
    l.sgx_components.fill(3);
    l.sgx_components[0] = sgx_component_1;
    l.pcesvn = 13;
    // [0] module SVN and [1] major version are the module identity's when TEE_TCB_SVN[1] > 0;
    // [2] is the late microcode update.
    l.tdx_components = std::array<std::uint8_t, 16>{4, 0, 2};
    l.tcb_date = date;
    l.tcb_date_unix = parse_time(date);
    l.status = status;
    l.advisory_ids = std::move(ids);
    return l;
}

pcs::IsvsvnLevel isvsvn_level(std::uint16_t isvsvn, const char* status, const char* date, Advisories ids = {}) {
    return {isvsvn, date, parse_time(date), status, std::move(ids)};
}

pcs::TdxModuleIdentity module_identity(std::string id, std::uint8_t mrsigner_byte,
                                       std::vector<pcs::IsvsvnLevel> levels) {
    return {std::move(id), Bytes(48, mrsigner_byte), Bytes(8, 0), Bytes(8, 0xFF), std::move(levels)};
}

pcs::TcbInfo tdx_tcb_info() {
    pcs::TcbInfo t;
    t.id = "TDX";
    t.version = 3;
    t.fmspc = {0x90, 0xC0, 0x6F, 0x00, 0x00, 0x00};
    t.tcb_evaluation_data_number = 17;
    t.tdx_module = module_identity("", 0xBB, {});
    t.tdx_module_identities = {
        module_identity("TDX_01", 0x00,
                        {isvsvn_level(5, "UpToDate", "2025-06-01T00:00:00Z"),
                         isvsvn_level(3, "OutOfDate", "2024-11-01T00:00:00Z", {"INTEL-SA-00010"}),
                         isvsvn_level(1, "Revoked", "2024-06-01T00:00:00Z")}),
        // Lower case on purpose: QVL upper-cases identity ids before comparing.
        module_identity("tdx_03", 0x33, {isvsvn_level(2, "UpToDate", "2025-06-01T00:00:00Z")}),
    };
    t.levels = {
        platform_level(7, "UpToDate", "2025-06-01T00:00:00Z", {}),
        platform_level(6, "SWHardeningNeeded", "2025-05-01T00:00:00Z", {"INTEL-SA-00001"}),
        platform_level(5, "ConfigurationNeeded", "2025-04-01T00:00:00Z", {"INTEL-SA-00002"}),
        platform_level(4, "ConfigurationAndSWHardeningNeeded", "2025-03-01T00:00:00Z",
                       {"INTEL-SA-00001", "INTEL-SA-00002"}),
        platform_level(3, "OutOfDate", "2025-02-01T00:00:00Z", {"INTEL-SA-00003"}),
        platform_level(2, "OutOfDateConfigurationNeeded", "2025-01-01T00:00:00Z", {"INTEL-SA-00003", "INTEL-SA-00004"}),
        platform_level(1, "Revoked", "2024-12-01T00:00:00Z", {"INTEL-SA-00005"}),
    };
    return t;
}

pcs::QeIdentity qe_identity() {
    pcs::QeIdentity q;
    q.id = "TD_QE";
    q.version = 2;
    q.levels = {isvsvn_level(8, "UpToDate", "2025-05-01T00:00:00Z"),
                isvsvn_level(6, "OutOfDate", "2024-10-01T00:00:00Z", {"INTEL-SA-00020", "INTEL-SA-00003"}),
                isvsvn_level(4, "Revoked", "2024-01-01T00:00:00Z")};
    return q;
}

// An UpToDate platform: PCK SGX components 7,3,3,..., PCESVN 13; TEE_TCB_SVN 05 01 02 (TDX_01 SVN 5).
struct Platform {
    pcs::TcbInfo tcb_info = tdx_tcb_info();
    pcs::QeIdentity qe = qe_identity();
    PckExtension pck;
    std::uint16_t qe_isvsvn = 8;
    TdReportBody td;
    bool is_td = true;

    Platform() {
        pck.sgx_tcb_components.fill(3);
        pck.sgx_tcb_components[0] = 7;
        pck.pcesvn = 13;
        td.tee_tcb_svn = {5, 1, 2};
    }
    Platform& sgx_component_1(std::uint8_t v) {
        pck.sgx_tcb_components[0] = v;
        return *this;
    }
    Platform& module_svn(std::uint8_t v) {
        td.tee_tcb_svn[0] = v;
        return *this;
    }
    Platform& qe_svn(std::uint16_t v) {
        qe_isvsvn = v;
        return *this;
    }
    [[nodiscard]] TcbEvaluation evaluate() const {
        return verify::evaluate_tcb({tcb_info, qe, pck, qe_isvsvn, is_td ? &td : nullptr});
    }
};

std::vector<std::string> check_ids(const TcbEvaluation& ev) {
    std::vector<std::string> ids;
    for (const auto& c : ev.checks) ids.push_back(c.id);
    return ids;
}

const Check& last_check(const TcbEvaluation& ev) {
    REQUIRE_FALSE(ev.checks.empty());
    return ev.checks.back();
}

const std::vector<std::string> kAllTdChecks = {"qe_tcb_level",       "tdx_mrsignerseam",     "tdx_seam_attributes",
                                               "platform_tcb_level", "tdx_module_tcb_level", "tcb_status"};

}  // namespace

// EvaluateTcb.cpp tdxEvaluateTCB: the first level (best first) whose SGX components, PCESVN and TDX
// components are all >= gives the platform status; with an UpToDate module and QE,
// convergeTcbStatuses leaves it unchanged.
TEST_CASE("one row per platform TCB status (tdxEvaluateTCB, convergeTcbStatuses)") {
    struct Row {
        std::uint8_t sgx_component_1;
        TcbStatus status;
        const char* tcb_date;  // min over platform, QE (2025-05-01) and module (2025-06-01) levels
        Advisories advisories;
        std::optional<const char*> outdated_since;  // the next better level's date, kept only when out of date
        const char* tcb_status_detail;
    };
    const std::vector<Row> rows = {
        {7, kUpToDate, "2025-05-01T00:00:00Z", {}, std::nullopt, "TCB status UpToDate"},
        {6,
         kSwHardening,
         "2025-05-01T00:00:00Z",
         {"INTEL-SA-00001"},
         std::nullopt,
         "TCB status SWHardeningNeeded, advisories INTEL-SA-00001"},
        {5,
         kConfiguration,
         "2025-04-01T00:00:00Z",
         {"INTEL-SA-00002"},
         std::nullopt,
         "TCB status ConfigurationNeeded, advisories INTEL-SA-00002"},
        {4,
         kConfigurationSwHardening,
         "2025-03-01T00:00:00Z",
         {"INTEL-SA-00001", "INTEL-SA-00002"},
         std::nullopt,
         "TCB status ConfigurationAndSWHardeningNeeded, advisories INTEL-SA-00001, INTEL-SA-00002"},
        {3,
         kOutOfDate,
         "2025-02-01T00:00:00Z",
         {"INTEL-SA-00003"},
         "2025-03-01T00:00:00Z",
         "TCB status OutOfDate, advisories INTEL-SA-00003"},
        {2,
         kOutOfDateConfiguration,
         "2025-01-01T00:00:00Z",
         {"INTEL-SA-00003", "INTEL-SA-00004"},
         "2025-02-01T00:00:00Z",
         "TCB status OutOfDateConfigurationNeeded, advisories INTEL-SA-00003, INTEL-SA-00004"},
        {1,
         kRevoked,
         "2024-12-01T00:00:00Z",
         {"INTEL-SA-00005"},
         std::nullopt,
         "TCB status Revoked, advisories INTEL-SA-00005"},
    };
    const auto info = tdx_tcb_info();
    for (const auto& row : rows) {
        const std::string status = tcb_status_name(row.status);
        CAPTURE(status);
        const auto ev = Platform{}.sgx_component_1(row.sgx_component_1).evaluate();
        CHECK(ev.passed());
        CHECK(check_ids(ev) == kAllTdChecks);
        CHECK(ev.platform_status == row.status);
        CHECK(ev.tdx_module_status == kUpToDate);
        CHECK(ev.qe_status == kUpToDate);
        CHECK(ev.tcb_status == row.status);
        CHECK(ev.tcb_date == row.tcb_date);
        CHECK(ev.advisory_ids == row.advisories);
        const auto outdated_since =
            row.outdated_since ? std::optional<UnixTime>(parse_time(*row.outdated_since)) : std::nullopt;
        CHECK(ev.outdated_since == outdated_since);
        CHECK(last_check(ev).detail == row.tcb_status_detail);
        CHECK_FALSE(ev.td_launch_status.has_value());
        CHECK_FALSE(ev.td_current_status.has_value());
        const auto index = static_cast<std::size_t>(7 - row.sgx_component_1);
        REQUIRE(ev.platform_level.has_value());
        CHECK(ev.platform_level->status == info.levels[index].status);
        if (index == 0) {
            CHECK(ev.shortfall.empty());
        } else {
            // The operator's to-do: SGX TCB component 1 is one below the next better level.
            const auto& next = info.levels[index - 1];
            REQUIRE(ev.shortfall.size() == 1);
            CHECK(ev.shortfall[0].component == "SGX TCB component 1");
            CHECK(ev.shortfall[0].actual == row.sgx_component_1);
            CHECK(ev.shortfall[0].required == row.sgx_component_1 + 1U);
            CHECK(ev.shortfall[0].next_level_status == next.status);
            CHECK(ev.shortfall[0].next_level_tcb_date == next.tcb_date);
        }
    }
}

// convergeTcbStatuses with one component: an OutOfDate component turns UpToDate/SWHardeningNeeded
// into OutOfDate and ConfigurationNeeded/ConfigurationAndSWHardeningNeeded into
// OutOfDateConfigurationNeeded; a Revoked one revokes; any other component status changes nothing.
TEST_CASE("convergeTcbStatuses: platform x component table") {
    struct Row {
        TcbStatus platform;
        TcbStatus with_up_to_date;
        TcbStatus with_out_of_date;
        TcbStatus with_revoked;
        TcbStatus with_configuration_needed;
    };
    const std::vector<Row> rows = {
        {kUpToDate, kUpToDate, kOutOfDate, kRevoked, kUpToDate},
        {kSwHardening, kSwHardening, kOutOfDate, kRevoked, kSwHardening},
        {kConfiguration, kConfiguration, kOutOfDateConfiguration, kRevoked, kConfiguration},
        {kConfigurationSwHardening, kConfigurationSwHardening, kOutOfDateConfiguration, kRevoked,
         kConfigurationSwHardening},
        {kOutOfDate, kOutOfDate, kOutOfDate, kRevoked, kOutOfDate},
        {kOutOfDateConfiguration, kOutOfDateConfiguration, kOutOfDateConfiguration, kRevoked, kOutOfDateConfiguration},
        {kRevoked, kRevoked, kRevoked, kRevoked, kRevoked},
    };
    for (const auto& row : rows) {
        const std::string platform = tcb_status_name(row.platform);
        CAPTURE(platform);
        CHECK(converge_tcb_statuses(row.platform, std::nullopt, std::nullopt) == row.platform);
        // The module and the QE are interchangeable components.
        for (const bool as_module : {true, false}) {
            const auto converge = [&](TcbStatus component) {
                return as_module ? converge_tcb_statuses(row.platform, component, std::nullopt)
                                 : converge_tcb_statuses(row.platform, std::nullopt, component);
            };
            CHECK(converge(kUpToDate) == row.with_up_to_date);
            CHECK(converge(kOutOfDate) == row.with_out_of_date);
            CHECK(converge(kRevoked) == row.with_revoked);
            CHECK(converge(kConfiguration) == row.with_configuration_needed);
        }
    }
    // Revoked wins over OutOfDate whichever component carries it.
    CHECK(converge_tcb_statuses(kConfiguration, kOutOfDate, kRevoked) == kRevoked);
    CHECK(converge_tcb_statuses(kUpToDate, kRevoked, kOutOfDate) == kRevoked);
    CHECK(converge_tcb_statuses(kSwHardening, kOutOfDate, kOutOfDate) == kOutOfDate);
}

// tdxEvaluateTCB: platform, module and QE levels converged, tcbDate the earliest, advisory IDs
// platform || QE || module (tdxkit drops repeats).
TEST_CASE("convergence of platform x module x QE through evaluate_tcb") {
    struct Row {
        const char* name;
        std::uint8_t sgx_component_1;
        std::uint8_t module_svn;
        std::uint16_t qe_svn;
        TcbStatus platform, module, qe, converged;
        Advisories advisories;
        const char* tcb_date;
    };
    const std::vector<Row> rows = {
        {"module OutOfDate",
         7,
         3,
         8,
         kUpToDate,
         kOutOfDate,
         kUpToDate,
         kOutOfDate,
         {"INTEL-SA-00010"},
         "2024-11-01T00:00:00Z"},
        {"QE OutOfDate, platform ConfigurationNeeded",
         5,
         5,
         6,
         kConfiguration,
         kUpToDate,
         kOutOfDate,
         kOutOfDateConfiguration,
         {"INTEL-SA-00002", "INTEL-SA-00020", "INTEL-SA-00003"},
         "2024-10-01T00:00:00Z"},
        {"all three behind: platform, QE, module advisories in that order",
         4,
         3,
         6,
         kConfigurationSwHardening,
         kOutOfDate,
         kOutOfDate,
         kOutOfDateConfiguration,
         {"INTEL-SA-00001", "INTEL-SA-00002", "INTEL-SA-00020", "INTEL-SA-00003", "INTEL-SA-00010"},
         "2024-10-01T00:00:00Z"},
        {"repeated advisory listed once",
         3,
         5,
         6,
         kOutOfDate,
         kUpToDate,
         kOutOfDate,
         kOutOfDate,
         {"INTEL-SA-00003", "INTEL-SA-00020"},
         "2024-10-01T00:00:00Z"},
        {"module Revoked", 7, 1, 8, kUpToDate, kRevoked, kUpToDate, kRevoked, {}, "2024-06-01T00:00:00Z"},
        {"QE Revoked",
         6,
         5,
         4,
         kSwHardening,
         kUpToDate,
         kRevoked,
         kRevoked,
         {"INTEL-SA-00001"},
         "2024-01-01T00:00:00Z"},
        {"platform Revoked stays Revoked",
         1,
         3,
         8,
         kRevoked,
         kOutOfDate,
         kUpToDate,
         kRevoked,
         {"INTEL-SA-00005", "INTEL-SA-00010"},
         "2024-11-01T00:00:00Z"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        const auto ev =
            Platform{}.sgx_component_1(row.sgx_component_1).module_svn(row.module_svn).qe_svn(row.qe_svn).evaluate();
        CHECK(ev.passed());
        CHECK(ev.platform_status == row.platform);
        CHECK(ev.tdx_module_status == row.module);
        CHECK(ev.qe_status == row.qe);
        CHECK(ev.tcb_status == row.converged);
        CHECK(ev.advisory_ids == row.advisories);
        CHECK(ev.tcb_date == row.tcb_date);
    }
}

TEST_CASE("an out-of-date module: shortfall and outdated_since name the next module level") {
    const auto ev = Platform{}.module_svn(4).evaluate();
    CHECK(ev.tcb_status == kOutOfDate);
    REQUIRE(ev.tdx_module_level.has_value());
    CHECK(ev.tdx_module_level->module_id == "TDX_01");
    CHECK(ev.tdx_module_level->isvsvn == 3U);
    REQUIRE(ev.shortfall.size() == 1);
    CHECK(ev.shortfall[0].component == "TDX module TDX_01 SVN (TEE_TCB_SVN[0])");
    CHECK(ev.shortfall[0].actual == 4);
    CHECK(ev.shortfall[0].required == 5);
    CHECK(ev.shortfall[0].next_level_status == "UpToDate");
    CHECK(ev.outdated_since == parse_time("2025-06-01T00:00:00Z"));
    CHECK(ev.checks[4].detail == "TDX module TDX_01 SVN 4 -> OutOfDate (tcbDate 2024-11-01T00:00:00Z)");
}

// TDRelaunchCheck.cpp checkForRelaunch(launch, current).
TEST_CASE("checkForRelaunch table") {
    struct Row {
        TcbStatus launch, current, expected;
    };
    const std::vector<Row> rows = {
        {kOutOfDate, kUpToDate, kRelaunch},
        {kOutOfDate, kSwHardening, kRelaunch},
        {kOutOfDate, kConfiguration, kRelaunchConfiguration},
        {kOutOfDate, kConfigurationSwHardening, kRelaunchConfiguration},
        {kOutOfDateConfiguration, kUpToDate, kRelaunchConfiguration},
        {kOutOfDateConfiguration, kSwHardening, kRelaunchConfiguration},
        {kOutOfDate, kOutOfDate, kOutOfDate},
        {kOutOfDate, kOutOfDateConfiguration, kOutOfDate},
        {kOutOfDate, kRevoked, kOutOfDate},
        {kOutOfDateConfiguration, kOutOfDate, kOutOfDateConfiguration},
        {kUpToDate, kUpToDate, kUpToDate},
        {kConfiguration, kUpToDate, kConfiguration},
        {kRevoked, kUpToDate, kRevoked},
    };
    for (const auto& row : rows) {
        const std::string launch = tcb_status_name(row.launch);
        const std::string current = tcb_status_name(row.current);
        CAPTURE(launch);
        CAPTURE(current);
        CHECK(check_for_relaunch(row.launch, row.current) == row.expected);
    }
}

// QuoteVerifier (ed07be6): a TD 1.5 body is evaluated with TEE_TCB_SVN (launch) and TEE_TCB_SVN2
// (current), each by tdxEvaluateTCB including the QE, then checkForRelaunch.
TEST_CASE("TD relaunch: launch (TEE_TCB_SVN) x current (TEE_TCB_SVN2) through evaluate_tcb") {
    struct Row {
        const char* name;
        std::uint8_t sgx_component_1;
        std::uint8_t launch_module_svn;
        std::uint16_t qe_svn;
        TcbStatus launch, current, result;
    };
    // The current TEE_TCB_SVN2 is 05 01 02: TDX_01 at its UpToDate level.
    const std::vector<Row> rows = {
        {"module updated in place", 7, 3, 8, kOutOfDate, kUpToDate, kRelaunch},
        {"platform needs configuration", 5, 3, 8, kOutOfDateConfiguration, kConfiguration, kRelaunchConfiguration},
        {"platform needs SW hardening", 6, 3, 8, kOutOfDate, kSwHardening, kRelaunch},
        {"an out-of-date QE is not fixed by a relaunch", 7, 3, 6, kOutOfDate, kOutOfDate, kOutOfDate},
        {"an out-of-date platform is not fixed by a relaunch", 3, 3, 8, kOutOfDate, kOutOfDate, kOutOfDate},
        {"an up-to-date launch needs no relaunch", 7, 5, 8, kUpToDate, kUpToDate, kUpToDate},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        Platform p;
        p.sgx_component_1(row.sgx_component_1).module_svn(row.launch_module_svn).qe_svn(row.qe_svn);
        p.td.tee_tcb_svn2 = Octets<16>{5, 1, 2};
        const auto ev = p.evaluate();
        CHECK(ev.passed());
        CHECK(ev.td_launch_status == row.launch);
        CHECK(ev.td_current_status == row.current);
        CHECK(ev.tcb_status == row.result);
    }
}

TEST_CASE("TD relaunch advised when the module was updated in place") {
    Platform p;
    p.module_svn(3);
    p.td.tee_tcb_svn2 = Octets<16>{5, 1, 2};

    SUBCASE("TDRelaunchAdvised keeps the launch details and when the TCB fell behind") {
        const auto ev = p.evaluate();
        CHECK(ev.tcb_status == kRelaunch);
        CHECK(ev.tdx_module_status == kOutOfDate);  // the launch evaluation's
        CHECK(ev.outdated_since == parse_time("2025-06-01T00:00:00Z"));
        CHECK(last_check(ev).detail == "TCB status TDRelaunchAdvised, advisories INTEL-SA-00010");
    }
    SUBCASE("the current module must be known too (findTdxModuleIdentity)") {
        p.td.tee_tcb_svn2 = Octets<16>{5, 2, 2};
        const auto ev = p.evaluate();
        CHECK_FALSE(ev.passed());
        CHECK(last_check(ev).id == "tdx_module_identity");
        CHECK(last_check(ev).detail ==
              "TCB Info has no TDX module identity TDX_02 (TEE_TCB_SVN[1] = 2); available: [TDX_01, tdx_03]. The TDX "
              "module is unknown to this TCB Info: fetch current collateral");
        CHECK(ev.tcb_status == kOutOfDate);  // the launch status was already decided
    }
    SUBCASE("a current TCB below every level keeps the launch status") {
        // Pins tdxkit's behaviour, which differs from QVL: there tdxEvaluateTCB of TEE_TCB_SVN2
        // returns TCB_NOT_SUPPORTED and verification fails.
        p.td.tee_tcb_svn2 = Octets<16>{0, 1, 2};
        const auto ev = p.evaluate();
        CHECK(ev.passed());
        CHECK(ev.td_launch_status == kOutOfDate);
        CHECK_FALSE(ev.td_current_status.has_value());
        CHECK(ev.tcb_status == kOutOfDate);
    }
}

// areSvnsHigherOrEqual over the PCK's SGX components and PCESVN; none matching is
// TCB_NOT_SUPPORTED. tdxkit lists what the platform lacks against the lowest level.
TEST_CASE("no platform level matches: shortfall against the lowest level") {
    Platform p;
    p.sgx_component_1(0);
    p.pck.pcesvn = 12;
    const auto ev = p.evaluate();
    CHECK_FALSE(ev.passed());
    CHECK(check_ids(ev) == std::vector<std::string>{"qe_tcb_level", "platform_tcb_level"});
    CHECK(last_check(ev).detail ==
          "no TCB level in TCB Info (FMSPC 90c06f000000, evaluation data number 17) matches this platform "
          "(TCB_NOT_SUPPORTED): SGX TCB component 1 is 0 (needs 1); PCESVN is 12 (needs 13)");
    REQUIRE(ev.shortfall.size() == 2);
    CHECK(ev.shortfall[1].next_level_status == "Revoked");
    CHECK(ev.shortfall[1].next_level_tcb_date == "2024-12-01T00:00:00Z");
    CHECK_FALSE(ev.platform_status.has_value());
    CHECK_FALSE(ev.tcb_status.has_value());
    CHECK(ev.qe_status == kUpToDate);
}

TEST_CASE("TDX components: from index 2 when the module major version is set, else from 0") {
    SUBCASE("major version 1: TEE_TCB_SVN[0] below the level's tdxtcbcomponents[0] still matches") {
        const auto ev = Platform{}.module_svn(3).evaluate();
        CHECK(ev.platform_status == kUpToDate);
    }
    SUBCASE("major version 1: the late microcode update TEE_TCB_SVN[2] is compared") {
        Platform p;
        p.td.tee_tcb_svn[2] = 1;
        const auto ev = p.evaluate();
        CHECK(last_check(ev).id == "platform_tcb_level");
        CHECK_FALSE(last_check(ev).passed);
        REQUIRE(ev.shortfall.size() == 1);
        CHECK(ev.shortfall[0].component == "TDX TCB component 3 (TEE_TCB_SVN[2])");
        CHECK(ev.shortfall[0].actual == 1);
        CHECK(ev.shortfall[0].required == 2);
    }
    SUBCASE("major version 0: TEE_TCB_SVN[0] is compared, and no module identity applies") {
        Platform p;
        p.td.tee_tcb_svn = {3, 0, 2};
        const auto below = p.evaluate();
        CHECK(check_ids(below) == std::vector<std::string>{"qe_tcb_level", "platform_tcb_level"});
        REQUIRE(below.shortfall.size() == 1);
        CHECK(below.shortfall[0].component == "TDX TCB component 1 (TEE_TCB_SVN[0])");

        p.td.tee_tcb_svn = {4, 0, 2};
        p.td.mr_signer_seam.fill(0xBB);  // the base tdxModule's signer
        const auto ev = p.evaluate();
        CHECK(ev.passed());
        CHECK(check_ids(ev) == std::vector<std::string>{"qe_tcb_level", "tdx_mrsignerseam", "tdx_seam_attributes",
                                                        "platform_tcb_level", "tcb_status"});
        CHECK_FALSE(ev.tdx_module_status.has_value());
        CHECK(ev.tcb_status == kUpToDate);
    }
}

// TdxModuleCheck.cpp findTdxModuleIdentity: "TDX_" + hex(TEE_TCB_SVN[1]), compared upper-cased.
TEST_CASE("TDX module identity selected by TEE_TCB_SVN[1]") {
    SUBCASE("major 3 selects tdx_03, whose signer differs") {
        Platform p;
        p.td.tee_tcb_svn = {2, 3, 2};
        const auto wrong_signer = p.evaluate();
        CHECK(last_check(wrong_signer).id == "tdx_mrsignerseam");
        CHECK_FALSE(last_check(wrong_signer).passed);
        CHECK(last_check(wrong_signer).detail == "MRSIGNERSEAM mismatch: quote has " + std::string(96, '0') +
                                                     ", TCB Info expects " + std::string(96, '3') +
                                                     ": not an Intel-signed TDX module");

        p.td.mr_signer_seam.fill(0x33);
        const auto ev = p.evaluate();
        CHECK(ev.passed());
        REQUIRE(ev.tdx_module_level.has_value());
        CHECK(ev.tdx_module_level->module_id == "tdx_03");
        CHECK(ev.tdx_module_status == kUpToDate);
    }
    SUBCASE("an unknown major version fails before any level is matched") {
        Platform p;
        p.td.tee_tcb_svn = {5, 0x0A, 2};
        const auto ev = p.evaluate();
        CHECK(check_ids(ev) == std::vector<std::string>{"qe_tcb_level", "tdx_module_identity"});
        CHECK(last_check(ev).detail ==
              "TCB Info has no TDX module identity TDX_0A (TEE_TCB_SVN[1] = 10); available: [TDX_01, tdx_03]. The TDX "
              "module is unknown to this TCB Info: fetch current collateral");
        CHECK_FALSE(ev.platform_status.has_value());
    }
    SUBCASE("module SVN below every module level") {
        const auto ev = Platform{}.module_svn(0).evaluate();
        CHECK(last_check(ev).id == "tdx_module_tcb_level");
        CHECK(last_check(ev).detail ==
              "no TCB level of TDX module TDX_01 accepts its SVN 0 (TEE_TCB_SVN[0]); the lowest level requires 1: "
              "update the TDX module");
    }
    SUBCASE("SEAMATTRIBUTES must equal the identity's attributes") {
        Platform p;
        p.td.seam_attributes[0] = 1;
        const auto ev = p.evaluate();
        CHECK(last_check(ev).id == "tdx_seam_attributes");
        CHECK(last_check(ev).detail ==
              "SEAMATTRIBUTES mismatch: quote has 0100000000000000, TCB Info expects 0000000000000000");
    }
}

TEST_CASE("QE ISVSVN below every QE Identity level") {
    const auto ev = Platform{}.qe_svn(3).evaluate();
    CHECK(check_ids(ev) == std::vector<std::string>{"qe_tcb_level"});
    CHECK(last_check(ev).detail == "no QE Identity TCB level accepts QE ISVSVN 3; the lowest requires 4");
    CHECK_FALSE(ev.qe_status.has_value());
}

// sgxEvaluateTCB: SGX components and PCESVN only, converged with the QE.
TEST_CASE("SGX quote: platform and QE only") {
    Platform p;
    p.is_td = false;
    for (auto& level : p.tcb_info.levels) level.tdx_components.reset();
    p.sgx_component_1(5).qe_svn(6);
    const auto ev = p.evaluate();
    CHECK(check_ids(ev) == std::vector<std::string>{"qe_tcb_level", "platform_tcb_level", "tcb_status"});
    CHECK(ev.platform_status == kConfiguration);
    CHECK(ev.tcb_status == kOutOfDateConfiguration);
    CHECK_FALSE(ev.tdx_module_status.has_value());
    CHECK(ev.advisory_ids == Advisories{"INTEL-SA-00002", "INTEL-SA-00020", "INTEL-SA-00003"});
}

TEST_CASE("a tcbStatus Intel does not define is malformed collateral") {
    for (const char* status : {"Unknown", "TDRelaunchAdvised", "uptodate"}) {
        CAPTURE(status);
        Platform p;
        p.tcb_info.levels[0].status = status;
        CHECK(test::code_of([&] { (void)p.evaluate(); }) == Errc::malformed);
    }
    Platform p;
    p.qe.levels[0].status = "Bogus";
    CHECK_THROWS_WITH_AS((void)p.evaluate(), "enclaveIdentity.tcbLevels: unknown tcbStatus \"Bogus\"", Error);
}

TEST_CASE("tcb_status_is_out_of_date counts exactly OutOfDate and OutOfDateConfigurationNeeded") {
    for (const auto s : {kUpToDate, kSwHardening, kConfiguration, kConfigurationSwHardening, kOutOfDate,
                         kOutOfDateConfiguration, kRelaunch, kRelaunchConfiguration, kRevoked}) {
        const std::string name = tcb_status_name(s);
        CAPTURE(name);
        CHECK(tcb_status_is_out_of_date(s) == (s == kOutOfDate || s == kOutOfDateConfiguration));
    }
}
