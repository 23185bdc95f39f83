// The report renderers write JSON directly (core/json_writer.hpp). tdxkit's documents have always
// been nlohmann dumps, so the reference for every byte is nlohmann itself: each rendered document must
// equal the dump of its own parse, in the same indentation (member order, separators, escaping).

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "core/json_writer.hpp"
#include "tdxkit/appraise.hpp"
#include "tdxkit/report.hpp"
#include "tdxkit/testing.hpp"

using namespace tdxkit;
using nlohmann::json;

namespace {

std::string nlohmann_dump(const std::string& text, int indent) {
    return json::parse(text).dump(indent, ' ', false, json::error_handler_t::replace);
}

VerificationOutcome outcome_of(const testing::Scenario& s, const Policy& policy) {
    const auto out = s.build();
    ratls::Evidence evidence;
    evidence.container = "raw";
    evidence.quote = out.quote;
    return appraise_outcome(evidence, out.collateral, policy, {out.now, custom_trust_root(out.root_der), nullptr});
}

}  // namespace

TEST_CASE("JsonWriter writes what nlohmann's dump writes, compact and indented") {
    for (const int indent : {-1, 0, 2, 4}) {
        CAPTURE(indent);
        std::string out;
        detail::JsonWriter w(out, indent);
        w.begin_object();
        w.key("a_empty_array");
        w.begin_array();
        w.end_array();
        w.key("b_empty_object");
        w.begin_object();
        w.end_object();
        w.key("c_numbers");
        w.begin_array();
        w.number(0);
        w.number(-42);
        w.number(std::uint64_t{18446744073709551615U});
        w.end_array();
        w.key("d_nested");
        w.begin_array();
        w.begin_object();
        w.key("x");
        w.null();
        w.key("y");
        w.boolean(true);
        w.end_object();
        w.begin_array();
        w.boolean(false);
        w.end_array();
        w.end_array();
        w.key("e_strings");
        w.strings({"plain", "quote \" and \\ backslash", "tab\tnewline\n\x01", "caf\xc3\xa9 \xe2\x82\xac",
                   "bad \xff\xfe utf-8", "\x7f", ""});
        w.key("f_raw");
        w.raw("1.5");
        w.end_object();
        CHECK(out == nlohmann_dump(out, indent));
    }
}

TEST_CASE("append_json_string: invalid UTF-8 becomes U+FFFD, as nlohmann's replace handler does") {
    std::string out;
    detail::append_json_string(out, "a\xff");
    CHECK(out == "\"a\xef\xbf\xbd\"");
}

TEST_CASE("tdxkit.verify/v1 and the summary line are nlohmann's bytes for every kind of outcome") {
    std::vector<VerificationOutcome> outcomes;
    outcomes.push_back(outcome_of(testing::Scenario(), default_policy()));  // accepted, one warning
    outcomes.push_back(outcome_of(testing::Scenario::tdx_v5(), default_policy()));
    outcomes.push_back(outcome_of(testing::Scenario::sgx_v3(), default_policy()));

    testing::Scenario out_of_date;  // PCESVN 5 matches the OutOfDate level: a shortfall to report
    out_of_date.pck.extension.pcesvn = 5;
    outcomes.push_back(outcome_of(out_of_date, default_policy()));

    const auto pinned = parse_policy(R"({"version":1,"td":{"mrtd":")" + std::string(96, 'a') + R"("}})", "p.json");
    outcomes.push_back(outcome_of(testing::Scenario(), pinned));  // rejected by a violation

    testing::Scenario forged;  // rejected by a failed check
    forged.quote.signing_key = "pck-leaf";
    outcomes.push_back(outcome_of(forged, default_policy()));

    VerificationOutcome error;  // could not be checked: no quote, no appraisal
    error.container = "hex";
    error.error = Error(Errc::malformed, "quote: truncated \"header\"\n");
    outcomes.push_back(error);

    REQUIRE(outcomes[0].result() == "ok");
    REQUIRE_FALSE(outcomes[3].appraisal->report.shortfall.empty());
    REQUIRE_FALSE(outcomes[4].appraisal->policy_result.violations.empty());
    REQUIRE(outcomes[5].result() == "rejected");

    const auto root = intel_sgx_root_ca();
    for (std::size_t i = 0; i < outcomes.size(); ++i) {
        CAPTURE(i);
        for (const int indent : {-1, 2}) {
            const auto doc = render_verify_json(outcomes[i], root, indent);
            CHECK(doc == nlohmann_dump(doc, indent));
            CHECK(json::parse(doc)["schema"] == "tdxkit.verify/v1");
            const auto with_id = render_verify_json(outcomes[i], root, indent, R"("line 7")");
            CHECK(with_id == nlohmann_dump(with_id, indent));
            CHECK(json::parse(with_id)["id"] == "line 7");
        }
        const auto summary = render_verify_summary(outcomes[i], "7");
        CHECK(summary == nlohmann_dump(summary, -1));
    }
    const auto accepted = json::parse(render_verify_json(outcomes[0], root, -1));
    CHECK(accepted["result"] == "ok");
    CHECK(accepted["tcb"]["status"] == "UpToDate");
    CHECK(accepted["quote"]["fmspc"] == "90c06f000000");
    CHECK(accepted["warnings"].size() == 1);
}
