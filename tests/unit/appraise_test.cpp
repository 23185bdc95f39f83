// appraise: the one verdict every front end uses (tdxkit/appraise.hpp).

#include <doctest/doctest.h>

#include "tdxkit/appraise.hpp"
#include "tdxkit/testing.hpp"

using namespace tdxkit;

namespace {

struct Case {
    testing::ScenarioOutput out;
    Quote quote;
    explicit Case(const testing::Scenario& s) : out(s.build()), quote(parse_quote(out.quote)) {}
    [[nodiscard]] Appraisal run(const Policy& policy, const EventLog* log = nullptr) const {
        return appraise(quote, out.collateral, log, policy, {out.now, custom_trust_root(out.root_der), nullptr});
    }
};

}  // namespace

TEST_CASE("a valid simulated quote under the default policy is accepted, with the warning that it pins nothing") {
    const Case c{testing::Scenario()};
    const auto a = c.run(default_policy());
    CHECK(a.accepted);
    CHECK(a.reason.empty());
    CHECK(a.report.authentic);
    CHECK(a.policy_result.satisfied);
    REQUIRE(a.warnings.size() == 1);
    CHECK(a.warnings[0].find("pins no measurement") != std::string::npos);
}

TEST_CASE("Intel's root is the default: a simulated quote is not authentic without the test root") {
    const Case c{testing::Scenario()};
    const auto a = appraise(c.quote, c.out.collateral, nullptr, default_policy(), {c.out.now});
    CHECK_FALSE(a.accepted);
    CHECK(a.reason.rfind("root_ca_crl: ", 0) == 0);
}

TEST_CASE("the first reason: failed check, then Revoked, then the first policy violation") {
    testing::Scenario forged;
    forged.quote.signing_key = "pck-leaf";
    const auto bad = Case{forged}.run(default_policy());
    CHECK_FALSE(bad.accepted);
    CHECK(bad.reason.rfind("quote_signature: ", 0) == 0);

    // A policy built in code that lists Revoked (parse_policy refuses it) still cannot accept it.
    testing::Scenario revoked;
    revoked.tcb_info.tcb_levels[0].tcb_status = "Revoked";
    Policy lax = default_policy();
    lax.tcb.accepted_statuses.push_back(TcbStatus::revoked);
    const auto r = Case{revoked}.run(lax);
    REQUIRE(r.report.authentic);
    CHECK(r.report.tcb_status == TcbStatus::revoked);
    CHECK(r.policy_result.satisfied);
    CHECK_FALSE(r.accepted);
    CHECK(r.reason.rfind("TCB status is Revoked", 0) == 0);

    const auto p = parse_policy(R"({"version":1,"td":{"mrtd":")" + std::string(96, 'a') + R"("}})", "p.json");
    const auto v = Case{testing::Scenario()}.run(p);
    CHECK_FALSE(v.accepted);
    CHECK(v.reason.rfind("td.mrtd: ", 0) == 0);
    CHECK(v.warnings.empty());  // the policy pins MRTD
}

TEST_CASE("VerifyOptions{} is production verification: Intel's pinned root and the current time") {
    const Case c{testing::Scenario()};
    const VerifyOptions defaults;
    CHECK(defaults.trust_root.is_intel_production);
    CHECK_FALSE(defaults.now.has_value());
    const auto before = now_utc();
    const auto report = verify_quote(c.quote, c.out.collateral);
    CHECK_FALSE(report.authentic);  // the test PKI is not Intel's
    CHECK(report.failed_check == "root_ca_crl");
    CHECK(report.verified_at >= before);
    CHECK(report.trust_root_is_intel);
}
