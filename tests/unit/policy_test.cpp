#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/test_support.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/policy.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/testing.hpp"

using namespace tdxkit;
using nlohmann::json;

namespace {

constexpr UnixTime kNow = 1751624191;  // 2025-07-04T10:16:31Z
constexpr std::int64_t kDay = 86400;

std::string hex_of(std::uint8_t fill, std::size_t size) {
    std::string out;
    for (std::size_t i = 0; i < size; ++i) out += fmt::format("{:02x}", fill);
    return out;
}

// Each register gets its own fill byte so that a rule reading the wrong register fails.
struct DigestCase {
    std::string key;
    std::uint8_t fill;
    std::size_t size;
};
const std::vector<DigestCase> kDigestCases{
    {"mrtd", 0x01, 48},       {"rtmr0", 0x02, 48},      {"rtmr1", 0x03, 48},        {"rtmr2", 0x04, 48},
    {"rtmr3", 0x05, 48},      {"mrconfigid", 0x06, 48}, {"mrowner", 0x07, 48},      {"mrownerconfig", 0x08, 48},
    {"reportdata", 0x09, 64}, {"mrseam", 0x0a, 48},     {"mrsignerseam", 0x0b, 48}, {"mrservicetd", 0x0c, 48},
};

Quote td_quote(BodyType type = BodyType::td15) {
    TdReportBody b;
    b.mr_td.fill(0x01);
    for (std::size_t i = 0; i < 4; ++i) b.rtmr[i].fill(static_cast<std::uint8_t>(0x02 + i));
    b.mr_config_id.fill(0x06);
    b.mr_owner.fill(0x07);
    b.mr_owner_config.fill(0x08);
    b.report_data.fill(0x09);
    b.mr_seam.fill(0x0a);
    b.mr_signer_seam.fill(0x0b);
    if (type != BodyType::td10) {
        b.mr_service_td = Measurement{};
        b.mr_service_td->fill(0x0c);
        b.tee_tcb_svn2 = Octets<16>{};
    }
    b.tee_tcb_svn = {0x03, 0x05, 0x02};
    b.xfam = {0xe7, 0x02, 0x06};
    b.td_attributes = {0x00, 0x00, 0x00, 0x10};  // SEPT_VE_DISABLE
    Quote q;
    q.header.version = type == BodyType::td10 ? 4 : 5;
    q.header.tee_type = kTeeTypeTdx;
    q.body_type = type;
    q.body = b;
    q.signature_data.qe_report.isv_svn = 8;
    return q;
}

TdReportBody& body(Quote& q) { return std::get<TdReportBody>(q.body); }

VerificationReport good_report() {
    VerificationReport r;
    r.authentic = true;
    r.tcb_status = TcbStatus::up_to_date;
    r.tcb_date = "2024-08-14T00:00:00Z";
    r.tcb_evaluation_data_number = 17;
    r.qe_tcb_evaluation_data_number = 17;
    r.tcb_info_issue_date = kNow - 2 * kDay;
    r.qe_identity_issue_date = kNow - 3 * kDay;
    return r;
}

Policy policy(const std::string& text) { return parse_policy(text, "test.json"); }

// A policy with one section's body, e.g. section("td", R"("mrtd": "...")").
Policy section(const std::string& name, const std::string& members) {
    return policy(fmt::format(R"({{"version": 1, "{}": {{{}}}}})", name, members));
}

std::vector<std::string> paths(const PolicyResult& r) {
    std::vector<std::string> out;
    for (const auto& v : r.violations) out.push_back(v.path);
    return out;
}

PolicyResult eval(const Policy& p, const Quote& q = td_quote(), const VerificationReport& r = good_report()) {
    return evaluate_policy(p, q, r, kNow);
}

std::string parse_error(const std::string& text) {
    try {
        (void)policy(text);
    } catch (const Error& e) {
        CHECK(e.code() == Errc::invalid_argument);
        return e.what();
    }
    FAIL("policy was accepted: " << text);
    return {};
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace

TEST_CASE("default policy: UpToDate and no debug TD") {
    const auto p = default_policy();
    CHECK(p.source == "<default>");
    const auto ok = eval(p);
    CHECK(ok.satisfied);
    CHECK(ok.violations.empty());
    CHECK(ok.rules_checked == 2);

    auto debug = td_quote();
    body(debug).td_attributes[0] |= 0x01;
    const auto r = eval(p, debug);
    CHECK_FALSE(r.satisfied);
    REQUIRE(paths(r) == std::vector<std::string>{"td.allow_debug"});
    CHECK(contains(r.violations[0].message, "debug mode"));

    auto report = good_report();
    report.tcb_status = TcbStatus::sw_hardening_needed;
    CHECK(paths(eval(p, td_quote(), report)) == std::vector<std::string>{"tcb.accepted_statuses"});
}

TEST_CASE("any-of measurement lists, for every register") {
    for (const auto& c : kDigestCases) {
        CAPTURE(c.key);
        const auto right = hex_of(c.fill, c.size);
        const auto wrong = hex_of(0xee, c.size);

        CHECK(eval(section("td", fmt::format(R"("{}": "{}")", c.key, right))).satisfied);
        CHECK(eval(section("td", fmt::format(R"("{}": ["{}", "0x{}"])", c.key, wrong, right))).satisfied);

        const auto r = eval(section("td", fmt::format(R"("{}": ["{}", "{}"])", c.key, wrong, hex_of(0xdd, c.size))));
        REQUIRE(paths(r) == std::vector<std::string>{"td." + c.key});
        const auto& v = r.violations[0];
        CHECK(v.actual == right);
        CHECK(v.expected == fmt::format("[{}, {}]", wrong, hex_of(0xdd, c.size)));
        // Full values, so the operator can copy them.
        CHECK(v.message == fmt::format(
                               "td.{}: expected one of [{}, {}], got {}; if the TD's new {} is legitimate, "
                               "add it to td.{}",
                               c.key, wrong, hex_of(0xdd, c.size), right,
                               [&] {
                                   std::string up = c.key;
                                   std::transform(up.begin(), up.end(), up.begin(), ::toupper);
                                   return up;
                               }(),
                               c.key));
    }
}

TEST_CASE("hex is case-insensitive and may carry 0x") {
    const auto upper = hex_of(0xab, 48);
    std::string mixed = "0X" + upper;
    std::transform(mixed.begin(), mixed.begin() + 50, mixed.begin(), ::toupper);
    const auto p = section("td", fmt::format(R"("mrtd": "{}")", mixed));
    REQUIRE(p.td.mrtd);
    CHECK(to_hex((*p.td.mrtd)[0]) == upper);
}

TEST_CASE("MRSERVICETD against a TD 1.0 quote is absent") {
    const auto p = section("td", fmt::format(R"("mrservicetd": "{}")", hex_of(0x0c, 48)));
    CHECK(eval(p, td_quote(BodyType::td15)).satisfied);
    const auto r = eval(p, td_quote(BodyType::td10));
    REQUIRE(paths(r) == std::vector<std::string>{"td.mrservicetd"});
    CHECK(r.violations[0].actual == "absent");
    CHECK(contains(r.violations[0].message, "MRSERVICETD"));
}

TEST_CASE("td rules against an SGX quote report the register as absent") {
    Quote q;
    q.body_type = BodyType::sgx_enclave;
    q.body = SgxReportBody{};
    const auto r = eval(section("td", fmt::format(R"("mrtd": "{}", "xfam": {{"value": "00000000000000ff", "mask":
                                                  "00000000000000ff"}}, "min_tee_tcb_svn": "{}")",
                                                  hex_of(1, 48), hex_of(0, 16))),
                        q);
    CHECK(paths(r) == std::vector<std::string>{"td.mrtd", "td.xfam", "td.min_tee_tcb_svn"});
    for (const auto& v : r.violations) CHECK(v.actual == "absent");
}

TEST_CASE("xfam and td_attributes: value under mask") {
    // XFAM in the quote: e7 02 06 00 ...
    CHECK(eval(section("td", R"("xfam": {"value": "e702060000000000", "mask": "ffffffffffffffff"})")).satisfied);
    // Differs only in bits the mask ignores.
    CHECK(eval(section("td", R"("xfam": {"value": "e700000000000000", "mask": "ff00000000000000"})")).satisfied);
    const auto r = eval(section("td", R"("xfam": {"value": "e702070000000000", "mask": "ffffffffffffffff"})"));
    REQUIRE(paths(r) == std::vector<std::string>{"td.xfam"});
    CHECK(r.violations[0].actual == "e702060000000000");
    CHECK(contains(r.violations[0].message, "in bit 16;"));

    // SEPT_VE_DISABLE (bit 28) required, DEBUG (bit 0) forbidden.
    const auto attrs = section("td", R"("td_attributes": {"value": "0000001000000000", "mask": "0100001000000000"})");
    CHECK(eval(attrs).satisfied);
    auto no_sept = td_quote();
    body(no_sept).td_attributes[3] = 0;
    const auto r2 = eval(attrs, no_sept);
    REQUIRE(paths(r2) == std::vector<std::string>{"td.td_attributes"});
    CHECK(contains(r2.violations[0].message, "in bit 28;"));

    CHECK(contains(parse_error(R"({"version": 1, "td": {"xfam": {"value": "0100000000000000", "mask": "00"}}})"),
                   "td.xfam.mask: expected 8 bytes (16 hex digits), got 1 bytes"));
    CHECK(contains(
        parse_error(R"({"version": 1, "td": {"xfam": {"value": "0300000000000000", "mask": "0100000000000000"}}})"),
        "td.xfam.value: sets bits outside the mask"));
    CHECK(contains(parse_error(R"({"version": 1, "td": {"xfam": {"value": "0000000000000000"}}})"),
                   "test.json: td.xfam.mask: required"));
}

TEST_CASE("debug TD: refused by default, accepted with allow_debug") {
    auto debug = td_quote();
    body(debug).td_attributes[0] = 0x01;
    CHECK_FALSE(eval(section("td", R"("allow_debug": false)"), debug).satisfied);
    const auto allowed = eval(section("td", R"("allow_debug": true)"), debug);
    CHECK(allowed.satisfied);
    CHECK(allowed.rules_checked == 1);  // only the TCB status rule is left

    Quote sgx;
    sgx.body_type = BodyType::sgx_enclave;
    SgxReportBody sb;
    sb.attributes[0] = 0x02;
    sgx.body = sb;
    CHECK(paths(eval(default_policy(), sgx)) == std::vector<std::string>{"td.allow_debug"});
}

TEST_CASE("min_tee_tcb_svn is component-wise") {
    // The quote has 03 05 02 00...
    CHECK(eval(section("td", R"("min_tee_tcb_svn": "03050200000000000000000000000000")")).satisfied);
    CHECK(eval(section("td", R"("min_tee_tcb_svn": "01010100000000000000000000000000")")).satisfied);
    // Lexicographically smaller than the quote's, yet component 2 is higher.
    const auto r = eval(section("td", R"("min_tee_tcb_svn": "03050300000000000000000000000000")"));
    REQUIRE(paths(r) == std::vector<std::string>{"td.min_tee_tcb_svn"});
    CHECK(contains(r.violations[0].message, "in component 2: 2 < 3;"));
    CHECK(contains(parse_error(R"({"version": 1, "td": {"min_tee_tcb_svn": "0305"}})"),
                   "td.min_tee_tcb_svn: expected 16 bytes"));
}

TEST_CASE("qe.min_isvsvn") {
    CHECK(eval(section("qe", R"("min_isvsvn": 8)")).satisfied);
    const auto r = eval(section("qe", R"("min_isvsvn": 9)"));
    REQUIRE(paths(r) == std::vector<std::string>{"qe.min_isvsvn"});
    CHECK(r.violations[0].actual == "8");
    CHECK(
        contains(parse_error(R"({"version": 1, "qe": {"min_isvsvn": 65536}})"), "qe.min_isvsvn: expected an integer"));
    CHECK(contains(parse_error(R"({"version": 1, "qe": {"min_isvsvn": "8"}})"), "qe.min_isvsvn: expected an integer"));
}

TEST_CASE("tcb.accepted_statuses") {
    auto report = good_report();
    report.tcb_status = TcbStatus::out_of_date;
    report.advisory_ids = {"INTEL-SA-00960", "INTEL-SA-00982"};
    report.shortfall.push_back({"TDX TCB component 3", 2, 3, "UpToDate", "2024-08-14T00:00:00Z"});
    const auto r = eval(default_policy(), td_quote(), report);
    REQUIRE(paths(r) == std::vector<std::string>{"tcb.accepted_statuses"});
    CHECK(r.violations[0].expected == "UpToDate");
    CHECK(r.violations[0].actual == "OutOfDate");
    CHECK(r.violations[0].message ==
          "tcb.accepted_statuses: TCB status OutOfDate is not accepted (accepted: UpToDate); advisories "
          "INTEL-SA-00960, INTEL-SA-00982; TDX TCB component 3 is 2, UpToDate needs 3; update the platform firmware "
          "(microcode, BIOS) or TDX module, or accept the status explicitly");

    const auto accepting = section("tcb", R"("accepted_statuses": ["UpToDate", "OutOfDate"])");
    CHECK(eval(accepting, td_quote(), report).satisfied);
    CHECK(eval(section("tcb", R"("accepted_statuses": "OutOfDate")"), td_quote(), report).satisfied);
    // Accepting OutOfDate does not accept its configuration-needed variant.
    report.tcb_status = TcbStatus::out_of_date_configuration_needed;
    CHECK_FALSE(eval(accepting, td_quote(), report).satisfied);
}

TEST_CASE(
    "tcb.rejected_component_statuses: a module level that needs SW hardening does not converge, but can be refused") {
    // End to end with the test PKI: the TDX module's level is SWHardeningNeeded, the platform UpToDate.
    testing::Scenario s;
    for (auto& identity : *s.tcb_info.tdx_module_identities) {
        for (auto& level : identity.tcb_levels) level.tcb_status = "SWHardeningNeeded";
    }
    const auto out = s.build();
    const auto quote = parse_quote(out.quote);
    const auto report = verify_quote(quote, out.collateral, {out.now, custom_trust_root(out.root_der)});
    REQUIRE(report.authentic);
    CHECK(report.tcb_status == TcbStatus::up_to_date);  // Intel QVL convergence (lib/docs/verification.md)
    CHECK(report.tdx_module_status == TcbStatus::sw_hardening_needed);
    CHECK(evaluate_policy(default_policy(), quote, report, out.now).satisfied);

    const auto strict =
        section("tcb", R"("rejected_component_statuses": ["SWHardeningNeeded", "ConfigurationNeeded"])");
    const auto r = evaluate_policy(strict, quote, report, out.now);
    REQUIRE(paths(r) == std::vector<std::string>{"tcb.rejected_component_statuses"});
    CHECK(r.violations[0].actual == "TDX module SWHardeningNeeded");
    CHECK(r.violations[0].message ==
          "tcb.rejected_component_statuses: TDX module SWHardeningNeeded (rejected component statuses: "
          "SWHardeningNeeded, ConfigurationNeeded; converged status UpToDate); check that the software mitigations "
          "the advisories describe are in place");
    CHECK(evaluate_policy(section("tcb", R"("rejected_component_statuses": "ConfigurationNeeded")"), quote, report,
                          out.now)
              .satisfied);
    CHECK(parse_policy(policy_to_json(strict), "again").tcb.rejected_component_statuses ==
          std::vector<TcbStatus>{TcbStatus::sw_hardening_needed, TcbStatus::configuration_needed});
    CHECK(contains(parse_error(R"({"version": 1, "tcb": {"rejected_component_statuses": []}})"),
                   "tcb.rejected_component_statuses: an empty list rejects nothing"));
    CHECK(contains(parse_error(R"({"version": 1, "tcb": {"rejected_component_statuses": ["Bad"]}})"),
                   "unknown TCB status 'Bad'"));
}

TEST_CASE("a Revoked, unknown or empty accepted status list is a policy error") {
    CHECK(contains(parse_error(R"({"version": 1, "tcb": {"accepted_statuses": ["UpToDate", "Revoked"]}})"),
                   "test.json: tcb.accepted_statuses[1]: Revoked can never be accepted"));
    CHECK(contains(parse_error(R"({"version": 1, "tcb": {"accepted_statuses": ["uptodate"]}})"),
                   "tcb.accepted_statuses[0]: unknown TCB status 'uptodate' (valid: UpToDate, SWHardeningNeeded,"));
    CHECK(contains(parse_error(R"({"version": 1, "tcb": {"accepted_statuses": []}})"),
                   "tcb.accepted_statuses: an empty list accepts no quote"));
}

TEST_CASE("advisory allow-list and deny-list") {
    auto report = good_report();
    report.tcb_status = TcbStatus::sw_hardening_needed;
    report.advisory_ids = {"INTEL-SA-00615", "INTEL-SA-00828"};
    const auto base = std::string(R"("accepted_statuses": ["UpToDate", "SWHardeningNeeded"], )");

    CHECK(eval(section("tcb", base + R"("accepted_advisory_ids": ["intel-sa-00828", "INTEL-SA-00615"])"), td_quote(),
               report)
              .satisfied);
    const auto allow =
        eval(section("tcb", base + R"("accepted_advisory_ids": ["INTEL-SA-00615"])"), td_quote(), report);
    REQUIRE(paths(allow) == std::vector<std::string>{"tcb.accepted_advisory_ids"});
    CHECK(contains(allow.violations[0].message, "advisories INTEL-SA-00828 apply to this platform but are not in"));
    // An empty allow-list accepts no advisory at all.
    CHECK_FALSE(eval(section("tcb", base + R"("accepted_advisory_ids": [])"), td_quote(), report).satisfied);
    CHECK(eval(section("tcb", R"("accepted_advisory_ids": [])")).satisfied);

    CHECK(eval(section("tcb", base + R"("rejected_advisory_ids": ["INTEL-SA-00837"])"), td_quote(), report).satisfied);
    const auto deny = eval(section("tcb", base + R"("rejected_advisory_ids": "intel-sa-00828")"), td_quote(), report);
    REQUIRE(paths(deny) == std::vector<std::string>{"tcb.rejected_advisory_ids"});
    CHECK(contains(deny.violations[0].message, "advisories INTEL-SA-00828 apply to this platform and are rejected"));

    CHECK(contains(parse_error(R"({"version": 1, "tcb": {"rejected_advisory_ids": ["INTEL-SA-0960"]}})"),
                   "tcb.rejected_advisory_ids[0]: 'INTEL-SA-0960' is not an Intel advisory ID"));
}

TEST_CASE("tcb.min_tcb_date") {
    CHECK(eval(section("tcb", R"("min_tcb_date": "2024-08-14T00:00:00Z")")).satisfied);
    const auto r = eval(section("tcb", R"("min_tcb_date": "2024-11-12T00:00:00Z")"));
    REQUIRE(paths(r) == std::vector<std::string>{"tcb.min_tcb_date"});
    CHECK(contains(r.violations[0].message,
                   "TCB date 2024-08-14T00:00:00Z is older than the minimum 2024-11-12T00:00:00Z"));
    auto no_date = good_report();
    no_date.tcb_date.clear();
    CHECK(paths(eval(section("tcb", R"("min_tcb_date": "2020-01-01T00:00:00Z")"), td_quote(), no_date)) ==
          std::vector<std::string>{"tcb.min_tcb_date"});
    CHECK(contains(parse_error(R"({"version": 1, "tcb": {"min_tcb_date": "2024-13-01"}})"),
                   "tcb.min_tcb_date: '2024-13-01'"));
}

TEST_CASE("tcb.min_tcb_evaluation_data_number checks TCB Info and QE Identity") {
    CHECK(eval(section("tcb", R"("min_tcb_evaluation_data_number": 17)")).satisfied);
    auto report = good_report();
    report.qe_tcb_evaluation_data_number = 16;
    const auto r = eval(section("tcb", R"("min_tcb_evaluation_data_number": 17)"), td_quote(), report);
    REQUIRE(paths(r) == std::vector<std::string>{"tcb.min_tcb_evaluation_data_number"});
    CHECK(contains(r.violations[0].message, "QE Identity has tcbEvaluationDataNumber 16"));
    report.tcb_evaluation_data_number.reset();
    CHECK(eval(section("tcb", R"("min_tcb_evaluation_data_number": 17)"), td_quote(), report).violations.size() == 2);
    CHECK(contains(parse_error(R"({"version": 1, "tcb": {"min_tcb_evaluation_data_number": -1}})"),
                   "tcb.min_tcb_evaluation_data_number: expected an integer from 0 to 4294967295, got -1"));
}

TEST_CASE("tcb.max_collateral_age") {
    // TCB Info is 2 days old, QE Identity 3 days.
    CHECK(eval(section("tcb", R"("max_collateral_age": "3d")")).satisfied);
    CHECK(eval(section("tcb", fmt::format(R"("max_collateral_age": {})", 3 * kDay))).satisfied);
    const auto r = eval(section("tcb", R"("max_collateral_age": "60h")"));
    REQUIRE(paths(r) == std::vector<std::string>{"tcb.max_collateral_age"});
    CHECK(contains(r.violations[0].message, "QE Identity issued 2025-07-01T10:16:31Z is 3d old, older than 2d 12h"));
    CHECK(eval(section("tcb", R"("max_collateral_age": "1d")")).violations.size() == 2);
    auto report = good_report();
    report.tcb_info_issue_date.reset();
    CHECK(paths(eval(section("tcb", R"("max_collateral_age": "30d")"), td_quote(), report)) ==
          std::vector<std::string>{"tcb.max_collateral_age"});
}

TEST_CASE("durations") {
    const auto grace = [](const std::string& d) {
        return *section("tcb", fmt::format(R"("out_of_date_grace_period": {})", d)).tcb.out_of_date_grace_period;
    };
    CHECK(grace("90") == 90);
    CHECK(grace(R"("90s")") == 90);
    CHECK(grace(R"("15m")") == 900);
    CHECK(grace(R"("12h")") == 12 * 3600);
    CHECK(grace(R"("30d")") == 30 * kDay);
    CHECK(grace(R"("2w")") == 14 * kDay);
    for (const auto* bad : {R"("30")", R"("d")", R"("-3d")", R"("3 d")", R"("3y")", R"("99999999999999999999d")",
                            R"("")", "-5", "1.5", "true"}) {
        CAPTURE(bad);
        CHECK(contains(parse_error(fmt::format(R"({{"version": 1, "tcb": {{"out_of_date_grace_period": {}}}}})", bad)),
                       "test.json: tcb.out_of_date_grace_period: "));
    }
}

TEST_CASE("tcb.out_of_date_grace_period") {
    const auto p = section("tcb", R"("out_of_date_grace_period": "30d")");
    auto report = good_report();
    report.tcb_status = TcbStatus::out_of_date;
    report.outdated_since = kNow - 29 * kDay;
    CHECK(eval(p, td_quote(), report).satisfied);
    report.tcb_status = TcbStatus::out_of_date_configuration_needed;
    CHECK(eval(p, td_quote(), report).satisfied);
    CHECK_FALSE(eval(default_policy(), td_quote(), report).satisfied);

    report.outdated_since = kNow - 31 * kDay;
    const auto r = eval(p, td_quote(), report);
    REQUIRE(paths(r) == std::vector<std::string>{"tcb.out_of_date_grace_period"});
    CHECK(contains(r.violations[0].message, "since 2025-06-03T10:16:31Z (31d ago) is past the grace period of 30d"));

    report.outdated_since.reset();
    CHECK(paths(eval(p, td_quote(), report)) == std::vector<std::string>{"tcb.out_of_date_grace_period"});

    // The grace period covers only out-of-date statuses.
    report.outdated_since = kNow - kDay;
    report.tcb_status = TcbStatus::configuration_needed;
    CHECK(paths(eval(p, td_quote(), report)) == std::vector<std::string>{"tcb.accepted_statuses"});
}

TEST_CASE("an inauthentic report or one without status fails the tcb rules without crashing") {
    VerificationReport bad;
    bad.failed_check = "quote.signature";
    bad.failure = "signature does not verify";
    const auto r = eval(section("tcb", R"("min_tcb_date": "2024-01-01T00:00:00Z", "max_collateral_age": "1d",
                                         "min_tcb_evaluation_data_number": 3, "out_of_date_grace_period": 5,
                                         "accepted_advisory_ids": [])"),
                        td_quote(), bad);
    REQUIRE(paths(r) == std::vector<std::string>{"tcb"});
    CHECK(r.violations[0].message ==
          "tcb: not authentic (quote.signature: signature does not verify), so no TCB rule can be satisfied; fix the "
          "verification failure first");
    auto no_status = good_report();
    no_status.tcb_status.reset();
    CHECK(paths(eval(default_policy(), td_quote(), no_status)) == std::vector<std::string>{"tcb"});
}

TEST_CASE("every rule is evaluated, in the documented order") {
    auto q = td_quote(BodyType::td10);
    body(q).td_attributes[0] = 0x01;
    auto report = good_report();
    report.tcb_status = TcbStatus::out_of_date;
    report.advisory_ids = {"INTEL-SA-00837"};
    // Written in a different order than evaluated: the order comes from the evaluator.
    const auto p = policy(fmt::format(R"({{
        "version": 1,
        "qe": {{"min_isvsvn": 10}},
        "td": {{"min_tee_tcb_svn": "09000000000000000000000000000000",
                "xfam": {{"value": "0000000000000000", "mask": "ffffffffffffffff"}},
                "mrservicetd": "{0}", "rtmr3": "{0}", "mrtd": "{0}"}},
        "tcb": {{"max_collateral_age": 1, "min_tcb_evaluation_data_number": 99, "min_tcb_date": "2030-01-01T00:00:00Z",
                 "rejected_advisory_ids": "INTEL-SA-00837", "accepted_advisory_ids": []}}
    }})",
                                      hex_of(0xee, 48)));
    const auto r = eval(p, q, report);
    CHECK_FALSE(r.satisfied);
    CHECK(r.rules_checked == 13);
    CHECK(paths(r) == std::vector<std::string>{"tcb.accepted_statuses", "tcb.accepted_advisory_ids",
                                               "tcb.rejected_advisory_ids", "tcb.min_tcb_date",
                                               "tcb.min_tcb_evaluation_data_number",
                                               "tcb.min_tcb_evaluation_data_number", "tcb.max_collateral_age",
                                               "tcb.max_collateral_age", "td.mrtd", "td.rtmr3", "td.mrservicetd",
                                               "td.xfam", "td.allow_debug", "td.min_tee_tcb_svn", "qe.min_isvsvn"});
    for (const auto& v : r.violations) {
        CAPTURE(v.message);
        CHECK(v.message.starts_with(v.path + ": "));
        CHECK(v.message.find('\n') == std::string::npos);
    }
}

TEST_CASE("unknown keys are refused with their path, at every level") {
    CHECK(contains(parse_error(R"({"version": 1, "polcy": {}})"), "test.json: polcy: unknown key (allowed here: "
                                                                  "version, tcb, td, qe, dstack)"));
    CHECK(contains(parse_error(R"({"version": 1, "tcb": {"accepted_status": "UpToDate"}})"),
                   "test.json: tcb.accepted_status: unknown key"));
    CHECK(
        contains(parse_error(R"({"version": 1, "td": {"mrtd_typo": "00"}})"), "test.json: td.mrtd_typo: unknown key"));
    CHECK(contains(parse_error(R"({"version": 1, "qe": {"min_svn": 1}})"), "test.json: qe.min_svn: unknown key"));
    CHECK(contains(
        parse_error(
            R"({"version": 1, "td": {"xfam": {"value": "0000000000000000", "mask": "0000000000000000", "bits": 0}}})"),
        "test.json: td.xfam.bits: unknown key (allowed here: value, mask)"));
}

TEST_CASE("malformed policies are refused") {
    CHECK(contains(parse_error(R"({"tcb": {}})"), "test.json: version: required"));
    CHECK(contains(parse_error(R"({"version": 2, "newfangled": true})"), "version: unsupported policy version 2"));
    CHECK(contains(parse_error(R"({"version": 1.0})"), "version: unsupported policy version 1.0"));
    CHECK(contains(parse_error(R"({"version": "1"})"), "version: unsupported policy version \"1\""));
    CHECK(contains(parse_error(R"([1])"), "expected an object, got array"));
    CHECK(contains(parse_error(R"({"version": 1,)"), "test.json: not valid JSON: "));
    CHECK(contains(parse_error(R"({"version": 1, "td": {"mrtd": "00", "mrtd": "11"}})"), "td.mrtd: duplicate key"));
    CHECK(contains(parse_error(R"({"version": 1, "td": []})"), "td: expected an object, got array"));
    CHECK(contains(parse_error(R"({"version": 1, "td": {"allow_debug": "no"}})"),
                   "td.allow_debug: expected true or false, got string"));
    CHECK(contains(parse_error(R"({"version": 1, "dstack": {"os_image": "00"}})"), "dstack.os_image: unknown key"));
    // Exact lengths, per register.
    CHECK(contains(
        parse_error(fmt::format(R"({{"version": 1, "td": {{"mrtd": ["{}", "{}"]}}}})", hex_of(1, 48), hex_of(1, 47))),
        "td.mrtd[1]: expected 48 bytes (96 hex digits), got 47 bytes"));
    CHECK(contains(parse_error(fmt::format(R"({{"version": 1, "td": {{"reportdata": "{}"}}}})", hex_of(1, 48))),
                   "td.reportdata: expected 64 bytes (128 hex digits), got 48 bytes"));
    CHECK(contains(parse_error(R"({"version": 1, "td": {"mrtd": "xyz"}})"), "td.mrtd: invalid hex character"));
    CHECK(contains(parse_error(R"({"version": 1, "td": {"mrtd": 5}})"), "td.mrtd: expected a hex string or an array"));
    CHECK(contains(parse_error(R"({"version": 1, "td": {"rtmr2": []}})"), "td.rtmr2: an empty list accepts no quote"));
}

TEST_CASE("policy_to_json shows bytes that are not UTF-8 replaced instead of throwing") {
    auto p = policy(R"({"version": 1})");
    p.tcb.rejected_advisory_ids = {"\xff"};
    CHECK(policy_to_json(p).find("\xef\xbf\xbd") != std::string::npos);  // U+FFFD
}

TEST_CASE("policy_to_json round-trips and fills in defaults") {
    const auto minimal = json::parse(policy_to_json(policy(R"({"version": 1})")));
    CHECK(minimal == json::parse(R"({"version": 1, "tcb": {"accepted_statuses": ["UpToDate"]},
                                     "td": {"allow_debug": false}})"));
    for (const auto* name : {"production-strict.json", "development-permissive.json"}) {
        CAPTURE(name);
        const auto p = parse_policy(test::read_text(test::source_dir() / "lib/docs/examples/policies" / name), name);
        CHECK(parse_policy(policy_to_json(p), name) == p);
    }
}

TEST_CASE("example policies parse and behave as documented") {
    const auto dir = test::source_dir() / "lib/docs/examples/policies";
    const auto strict = parse_policy(test::read_text(dir / "production-strict.json"), "production-strict.json");
    CHECK(strict.tcb.max_collateral_age == 30 * kDay);
    CHECK(strict.td.mrtd->size() == 2);
    CHECK_FALSE(strict.td.allow_debug);
    CHECK_FALSE(eval(strict).satisfied);  // the example's measurements are placeholders

    const auto dev = parse_policy(test::read_text(dir / "development-permissive.json"), "development-permissive.json");
    auto debug = td_quote();
    body(debug).td_attributes[0] = 0x01;
    auto report = good_report();
    report.tcb_status = TcbStatus::out_of_date;
    CHECK(eval(dev, debug, report).satisfied);
}

// The schema and the parser describe the same format: every schema property is accepted (with the
// schema's own example value), every object level rejects a made-up key, and the parser's list of
// allowed keys at each level is exactly the schema's.
TEST_CASE("lib/docs/policy.schema.json matches the parser") {
    const auto schema = json::parse(test::read_text(test::source_dir() / "lib/docs/policy.schema.json"));
    CHECK(schema.at("$schema") == "https://json-schema.org/draft/2020-12/schema");

    const std::function<json(const json&)> resolve = [&](const json& node) {
        if (!node.contains("$ref")) return node;
        const auto ref = node.at("$ref").get<std::string>();
        REQUIRE(ref.starts_with("#/$defs/"));
        auto merged = resolve(schema.at("$defs").at(ref.substr(8)));
        merged.update(node);
        merged.erase("$ref");
        return merged;
    };
    const auto allowed_keys = [](const std::string& error) {
        const auto start = error.find("(allowed here: ");
        REQUIRE(start != std::string::npos);
        const auto list = error.substr(start + 15, error.rfind(')') - start - 15);
        std::set<std::string> keys;
        for (std::size_t pos = 0; pos <= list.size();) {
            const auto comma = std::min(list.find(", ", pos), list.size());
            keys.insert(list.substr(pos, comma - pos));
            pos = comma + 2;
        }
        return keys;
    };

    std::size_t properties_checked = 0;
    // `doc` is a minimal valid policy in which `pointer` names an object described by `node`.
    const std::function<void(const json&, const json&, const json::json_pointer&)> walk =
        [&](const json& node, const json& doc, const json::json_pointer& pointer) {
            const auto obj = resolve(node);
            if (!obj.contains("properties")) return;
            CAPTURE(pointer.to_string());
            CHECK(obj.at("additionalProperties") == false);

            auto typo = doc;
            typo[pointer / "made_up_key"] = 1;
            const auto error = parse_error(typo.dump());
            auto dotted = pointer.empty() ? std::string() : pointer.to_string().substr(1);
            std::replace(dotted.begin(), dotted.end(), '/', '.');
            CHECK(contains(error, fmt::format("test.json: {}: unknown key",
                                              dotted.empty() ? "made_up_key" : dotted + ".made_up_key")));
            std::set<std::string> schema_keys;
            for (const auto& [key, sub] : obj.at("properties").items()) schema_keys.insert(key);
            CHECK(allowed_keys(error) == schema_keys);

            for (const auto& [key, sub] : obj.at("properties").items()) {
                CAPTURE(key);
                const auto member = resolve(sub);
                auto with = doc;
                if (member.contains("examples") && !member.at("examples").empty()) {
                    with[pointer / key] = member.at("examples")[0];
                    CHECK_NOTHROW((void)policy(with.dump()));
                    ++properties_checked;
                } else {
                    CHECK(member.contains("properties"));  // a section: only its members carry examples
                    with[pointer / key] = json::object();
                }
                walk(sub, with, pointer / key);
            }
        };
    walk(schema, json{{"version", 1}}, json::json_pointer(""));
    // version, tcb, td, qe, xfam and td_attributes members, dstack and dstack.key_provider members
    CHECK(properties_checked == 1 + 8 + 16 + 1 + 2 + 2 + 5 + 2);
}

// ---- dstack section: RTMR3 identity events of a replayed event log ----

namespace {

const std::string kNearCompose = "2911e1f733466216dedb862d6d669e11256ee7a34ce4dbc66c4b807ba7a9c895";

json near_events() {
    return json::parse(test::read_text(test::real_testdata() / "eventlogs/nearmpc-head.event_log.json"));
}

Quote near_quote() { return parse_quote(test::read_file(test::real_testdata() / "quotes/nearmpc-head-quote.bin")); }

// A TD quote whose RTMRs are the log's replay, so the rules after the replay check can be reached
// with edited logs; MRCONFIGID from the real quote unless given.
Quote quote_replaying(const EventLog& log) {
    auto q = near_quote();
    auto body = *q.td_body();
    body.rtmr = replay_rtmrs(log);
    q.body = body;
    return q;
}

std::vector<PolicyViolation> dstack_violations(const std::string& section, const Quote& q, const EventLog* log) {
    const auto p = parse_policy(fmt::format(R"({{"version":1,"dstack":{}}})", section), "p.json");
    const auto r = evaluate_policy(p, q, VerificationReport{}, kNow, log);
    std::vector<PolicyViolation> out;
    std::copy_if(r.violations.begin(), r.violations.end(), std::back_inserter(out),
                 [](const PolicyViolation& v) { return v.path.starts_with("dstack"); });
    return out;
}

void insert_before(json& log, const std::string& before, const json& event) {
    for (std::size_t i = 0; i < log.size(); ++i) {
        if (log[i]["event"] == before) {
            log.insert(log.begin() + static_cast<std::ptrdiff_t>(i), event);
            return;
        }
    }
    FAIL("no " << before);
}

using test::dstack_runtime_event;

}  // namespace

TEST_CASE("dstack: parsing, refusals and round trip") {
    const auto p = parse_policy(fmt::format(R"({{"version":1,"dstack":{{"compose_hashes":"{}","app_ids":["{}"],
        "key_provider":{{"name":"kms","id":"ABCD"}},"require_event_log":false}}}})",
                                            kNearCompose, kNearCompose.substr(0, 40)),
                                "p.json");
    REQUIRE(p.dstack);
    CHECK(p.dstack->compose_hashes->size() == 1);
    CHECK(p.dstack->key_provider->id == Bytes{0xab, 0xcd});
    CHECK_FALSE(p.dstack->require_event_log);
    CHECK(parse_policy(policy_to_json(p), "again") == [&] {
        auto q = p;
        q.source = "again";
        return q;
    }());
    CHECK(parse_policy(R"({"version":1,"dstack":{}})", "p").dstack->require_event_log);
    const auto refused = [](const std::string& section) {
        try {
            (void)parse_policy(R"({"version":1,"dstack":)" + section + "}", "p.json");
        } catch (const Error& e) {
            return std::string(e.what());
        }
        return std::string("accepted");
    };
    CHECK(refused(R"({"compose_hash":[]})").find("p.json: dstack.compose_hash: unknown key") == 0);
    CHECK(refused(R"({"app_ids":"abcd"})").find("dstack.app_ids: expected 20 bytes") != std::string::npos);
    CHECK(refused(R"({"compose_hashes":[]})").find("an empty list") != std::string::npos);
    CHECK(refused(R"({"key_provider":{}})").find("dstack.key_provider: name it") != std::string::npos);
    CHECK(refused(R"({"key_provider":{"nam":"kms"}})").find("dstack.key_provider.nam: unknown key") !=
          std::string::npos);
}

TEST_CASE("dstack: the real near/mpc quote and event log satisfy a policy naming them") {
    const auto log = parse_dstack_event_log(near_events().dump());
    const auto section = fmt::format(
        R"({{"compose_hashes":["{}"],"app_ids":["{}"],"key_provider":{{"name":"local-sgx","id":"{}"}}}})", kNearCompose,
        kNearCompose.substr(0, 40), "6b5ed02e549a1c30aaa8e3171a045f1f449b0017353ef595e78e39c348c98d01");
    CHECK(dstack_violations(section, near_quote(), &log).empty());

    const auto other =
        dstack_violations(R"({"compose_hashes":[")" + std::string(64, 'a') + R"("]})", near_quote(), &log);
    REQUIRE(other.size() == 1);
    CHECK(other[0].path == "dstack.compose_hashes");
    CHECK(other[0].actual == kNearCompose);
    CHECK(other[0].message.find("event 22 (compose-hash)") != std::string::npos);

    const auto kp = dstack_violations(R"({"key_provider":{"name":"kms"}})", near_quote(), &log);
    REQUIRE(kp.size() == 1);
    CHECK(kp[0].path == "dstack.key_provider");
    CHECK(kp[0].message.find("names key provider local-sgx") != std::string::npos);
}

TEST_CASE("dstack: without an event log") {
    const auto none = dstack_violations("{}", near_quote(), nullptr);
    REQUIRE(none.size() == 1);
    CHECK(none[0].path == "dstack.require_event_log");
    // A V1 MRCONFIGID vouches for the compose hash when the policy does not require the log.
    CHECK(dstack_violations(R"({"require_event_log":false,"compose_hashes":[")" + kNearCompose + R"("]})", near_quote(),
                            nullptr)
              .empty());
    const auto wrong = dstack_violations(
        R"({"require_event_log":false,"compose_hashes":[")" + std::string(64, 'b') + R"("]})", near_quote(), nullptr);
    REQUIRE(wrong.size() == 1);
    CHECK(wrong[0].actual == kNearCompose);
    const auto app = dstack_violations(
        R"({"require_event_log":false,"app_ids":[")" + kNearCompose.substr(0, 40) + R"("]})", near_quote(), nullptr);
    REQUIRE(app.size() == 1);
    CHECK(app[0].actual == "no event log");
}

TEST_CASE("dstack: a log that does not replay to the quote is refused before any identity rule") {
    auto events = near_events();
    events[0]["digest"] = std::string(96, '1');
    const auto log = parse_dstack_event_log(events.dump());
    const auto v = dstack_violations(R"({"compose_hashes":[")" + kNearCompose + R"("]})", near_quote(), &log);
    REQUIRE(v.size() == 1);
    CHECK(v[0].path == "dstack.event_log");
    CHECK(v[0].message.find("RTMR0 replayed from the event log") == std::string("dstack.event_log: ").size());
}

TEST_CASE("dstack: compose-hash must occur once, before boot-mr-done") {
    auto twice = near_events();
    insert_before(twice, "boot-mr-done", dstack_runtime_event("compose-hash", std::string(64, 'a')));
    const auto twice_log = parse_dstack_event_log(twice.dump());
    auto v = dstack_violations("{}", quote_replaying(twice_log), &twice_log);
    REQUIRE(v.size() == 1);
    CHECK(v[0].path == "dstack.compose_hashes");
    CHECK(v[0].actual == "2 compose-hash events (events 22, 24)");

    auto late = near_events();
    const auto original =
        std::find_if(late.begin(), late.end(), [](const json& e) { return e["event"] == "compose-hash"; });
    const auto moved = *original;
    late.erase(original);
    insert_before(late, "system-ready", moved);
    const auto late_log = parse_dstack_event_log(late.dump());
    v = dstack_violations("{}", quote_replaying(late_log), &late_log);
    REQUIRE(v.size() == 1);
    CHECK(v[0].path == "dstack.compose_hashes");
    CHECK(v[0].message.find("comes after boot-mr-done") != std::string::npos);

    auto missing = near_events();
    missing.erase(
        std::find_if(missing.begin(), missing.end(), [](const json& e) { return e["event"] == "compose-hash"; }));
    const auto missing_log = parse_dstack_event_log(missing.dump());
    v = dstack_violations("{}", quote_replaying(missing_log), &missing_log);
    REQUIRE(v.size() == 1);
    CHECK(v[0].actual == "0 compose-hash events");
}

TEST_CASE("dstack: a V1 MRCONFIGID must carry the compose hash of the event log") {
    const auto log = parse_dstack_event_log(near_events().dump());
    auto q = near_quote();
    auto body = *q.td_body();
    body.mr_config_id[5] ^= 1;
    q.body = body;
    const auto v = dstack_violations("{}", q, &log);
    REQUIRE(v.size() == 1);
    CHECK(v[0].path == "dstack.mr_config_id");
    CHECK(v[0].expected == "01" + kNearCompose + std::string(30, '0'));
}
