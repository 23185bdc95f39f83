// serve::Service::handle without sockets: routing, the answers to bad requests (dstack-verifier's
// status codes, with a JSON error body), the "Internal error" verdicts dstack gives with HTTP 200, the
// policy reload, and the collateral counters. The transport (limits, timeouts, signals) is tested
// through the real binary in tests/cli/serve_test.cpp.

#include <doctest/doctest.h>

#include <array>
#include <filesystem>

#include <nlohmann/json.hpp>

#include "support/serve_evidence.hpp"
#include "support/test_support.hpp"
#include "tdxkit/serve.hpp"
#include "tdxkit/testing.hpp"

using nlohmann::json;
using namespace tdxkit;
using tdxkit::test::TempDir;

namespace {

// dstack-verifier's VerificationDetails::default(), as serde writes it (notes §2: fields 1-12 in
// declaration order, the three optional ones absent): the details of every "Internal error" answer.
const std::string kDefaultDetails =
    R"({"quote_verified":false,"event_log_verified":false,"os_image_hash_verified":false,)"
    R"("acpi_tables_verified":false,"os_image_is_dev":null,"os_image_version":null,"tee_variant":null,)"
    R"("report_data":null,"tcb_status":null,"advisory_ids":[],"key_provider":null,"app_info":null})";

struct Fixture {
    TempDir dir{"serve-unit"};
    serve::Service service;

    Fixture() : service(options(dir)) {}

    static serve::Options options(const TempDir& dir) {
        std::filesystem::create_directories(dir.path() / "policies");
        dir.write("policies/strict.json", R"({"version": 1})");
        serve::Options o;
        o.policy_dir = dir.path() / "policies";
        o.collateral.path = (test::source_dir() / "testdata/collateral/sim").string();
        o.trust_root = custom_trust_root(test::read_file(test::source_dir() / "testdata/pki/root.pem"));
        o.at = testing::kReferenceTime;
        return o;
    }

    serve::Response post(const std::string& path, const std::string& body) {
        return service.handle({"POST", path, body});
    }
};

// An error answer: the status, and {"error": {"code", "message"}} with the message containing `needle`.
void check_error(const serve::Response& r, int status, const std::string& code, const std::string& needle) {
    CAPTURE(r.body);
    CHECK(r.status == status);
    CHECK(r.content_type == "application/json");
    const auto doc = json::parse(r.body);
    REQUIRE(doc.contains("error"));
    CHECK(doc["error"]["code"] == code);
    CHECK(doc["error"]["message"].get<std::string>().find(needle) != std::string::npos);
}

}  // namespace

TEST_CASE("POST /verify refuses what dstack-verifier's JSON guard refuses: 400 for syntax, 422 for data") {
    Fixture f;
    // Syntax and EOF errors are 400 in Rocket (notes §1), including the trailing comma of dstack's
    // own README example and an empty body.
    for (const std::string body : {"{", "", R"({"quote":"00",})", "not json", "{\"quote\":\"\xff\"}"}) {
        CAPTURE(body);
        check_error(f.post("/verify", body), 400, "bad_request", "/verify request");
    }
    // Data errors are 422: a wrong type, bad hex (serde-human-bytes: even length, no 0x prefix), a
    // duplicate key, and, unlike dstack, an unknown member (a typo must not pass as absent).
    const std::vector<std::pair<std::string, std::string>> data_errors{
        {R"({"quote":123})", "\"quote\" must be a string"},
        {R"({"debug":"yes"})", "\"debug\" must be a boolean"},
        {R"(null)", "expected a JSON object"},
        {R"(["00"])", "expected a JSON object"},
        {R"({"quote":"zz"})", "quote"},
        {R"({"quote":"0x00"})", "quote"},
        {R"({"quote":" 00"})", "quote"},
        {R"({"attestation":"abc"})", "attestation"},
        {R"({"quote":"00","quote":"00"})", "duplicate key"},
        {R"({"quotes":"00"})", "unknown field \"quotes\""},
    };
    for (const auto& [body, needle] : data_errors) {
        CAPTURE(body);
        check_error(f.post("/verify", body), 422, "unprocessable", needle);
    }
}

TEST_CASE("POST /verify answers dstack's request shapes it cannot verify with HTTP 200 and an Internal error") {
    Fixture f;
    const auto verdict = [&](const std::string& body) {
        const auto r = f.post("/verify", body);
        CAPTURE(r.body);
        CHECK(r.status == 200);
        CHECK(r.verdict == "error");
        const auto doc = nlohmann::ordered_json::parse(r.body);  // in the server's order, as serde writes it
        CHECK(doc["is_valid"] == false);
        CHECK(doc["details"].dump() == kDefaultDetails);
        return doc["reason"].get<std::string>();
    };
    // dstack-verifier's own tests (types.rs) deserialize exactly these three bodies; null is absent.
    CHECK(f.post("/verify", "{}").body ==
          R"({"is_valid":false,"details":)" + kDefaultDetails + R"(,"reason":"Internal error: Quote is required"})");
    CHECK(verdict(R"({"quote":null,"attestation":null,"debug":true})") == "Internal error: Quote is required");
    CHECK(verdict(R"({"quote":"00","event_log":"[]","vm_config":"{}"})")
              .rfind("Internal error: Failed to create attestation: ", 0) == 0);
    CHECK(verdict(R"({"attestation":"00"})").rfind("Internal error: Failed to decode attestation: ", 0) == 0);
    CHECK(verdict(R"({"attestation":""})").rfind("Internal error: Failed to decode attestation: ", 0) == 0);
    CHECK(verdict(R"({"quote":"00"})") == "Internal error: Event log is required");
    // An event log that is not a JSON array of events: dstack's from_tdx_quote fails the same way.
    const auto& e = test::lite_evidence();
    CHECK(verdict(json{{"quote", to_hex(e.quote)}, {"event_log", "{}"}}.dump())
              .rfind("Internal error: Failed to create attestation: ", 0) == 0);
}

TEST_CASE("POST /verify: the twin of dstack's lite capture verifies the same as an attestation and as a quote") {
    Fixture f;
    const auto& e = test::lite_evidence();
    const auto by_attestation = f.post("/verify", e.attestation_request());
    const auto by_quote = f.post("/verify", e.quote_request());
    CAPTURE(by_attestation.body);
    CHECK(by_attestation.status == 200);
    CHECK(by_attestation.verdict == "ok");
    CHECK(json::parse(by_attestation.body)["is_valid"] == true);
    // The attestation carries the same quote, RTMR3 events and vm_config as the GetQuote shape.
    CHECK(by_quote.body == by_attestation.body);
    // A GetQuote response posted as is: its report_data member is ignored (the quote's counts).
    auto getquote = json::parse(e.quote_request());
    getquote["report_data"] = std::string(128, '0');
    CHECK(f.post("/verify", getquote.dump()).body == by_attestation.body);
}

TEST_CASE("POST /v1/appraise refuses a bad request with 400 and names what is wrong") {
    Fixture f;
    const auto& e = test::lite_evidence();
    check_error(f.post("/v1/appraise", "{"), 400, "invalid_argument", "/v1/appraise request");
    check_error(f.post("/v1/appraise", "[]"), 400, "invalid_argument", "expected a JSON object");
    check_error(f.post("/v1/appraise", "{}"), 400, "invalid_argument", "\"evidence\" is missing");
    check_error(f.post("/v1/appraise", R"({"evidence":"00","polcy":"strict"})"), 400, "invalid_argument",
                "unknown field \"polcy\"");
    check_error(f.post("/v1/appraise", json{{"evidence", to_hex(e.quote)}, {"policy", "lax"}}.dump()), 400,
                "invalid_argument", "no policy named \"lax\"");
    check_error(f.post("/v1/appraise", json{{"evidence", to_hex(e.quote)}, {"policy", 1}}.dump()), 400,
                "invalid_argument", "\"policy\" must name");
    // Leaving the policy out does not fall back to an unpinned default.
    check_error(f.post("/v1/appraise", R"({"evidence":"00"})"), 400, "invalid_argument", "\"policy\" must name");
    // Bad hex in a well-formed request is unprocessable, as in /verify.
    check_error(
        f.post("/v1/appraise",
               json{{"evidence", to_hex(e.quote)}, {"policy", "strict"}, {"expected_report_data", "xyz"}}.dump()),
        422, "malformed", "expected_report_data");
    // The attestation carries its own log: a second one in the request is refused, not merged.
    check_error(f.post("/v1/appraise",
                       json{{"evidence", to_hex(e.attestation)}, {"policy", "strict"}, {"event_log", "[]"}}.dump()),
                400, "invalid_argument", "carries its own event log");
    // Evidence that is no quote at all is unprocessable, not a verdict.
    check_error(f.post("/v1/appraise", R"({"evidence":"00","policy":"strict"})"), 422, "malformed", "");
}

TEST_CASE("routes: unknown path 404, wrong method 405 with Allow, both as JSON") {
    Fixture f;
    check_error(f.service.handle({"GET", "/nope", ""}), 404, "not_found", "no endpoint /nope");
    check_error(f.service.handle({"POST", "/", ""}), 404, "not_found", "no endpoint /");
    // HEAD is GET without the body (which the transport drops).
    CHECK(f.service.handle({"HEAD", "/health", ""}).status == 200);
    CHECK(f.service.handle({"HEAD", "/metrics", ""}).status == 200);
    for (const auto& [method, path, allowed] :
         std::vector<std::array<std::string, 3>>{{"GET", "/verify", "POST"},
                                                 {"PUT", "/v1/appraise", "POST"},
                                                 {"POST", "/health", "GET, HEAD"},
                                                 {"DELETE", "/metrics", "GET, HEAD"}}) {
        CAPTURE(path);
        const auto r = f.service.handle({method, path, ""});
        check_error(r, 405, "method_not_allowed", "use " + allowed);
        REQUIRE(r.headers.size() == 1);
        CHECK(r.headers[0] == std::pair<std::string, std::string>{"Allow", allowed});
    }
}

TEST_CASE("GET /health lists the policies and the trust root; a reload that fails keeps the old set") {
    Fixture f;
    const auto health = [&] { return json::parse(f.service.handle({"GET", "/health", ""}).body); };
    const auto before = health();
    CHECK(before["status"] == "ok");  // what dstack-verifier's health check reads
    CHECK(before["policies"] == json::array({"strict"}));
    CHECK(before["trust_root"]["intel"] == false);
    CHECK(before["collateral"] == "collateral " + (test::source_dir() / "testdata/collateral/sim").string());

    f.dir.write("policies/broken.json", R"({"version": 1, "td": {"mrtd": "not hex"}})");
    const auto failure = f.service.reload_policies();
    REQUIRE(failure);
    CHECK(failure->find("broken.json") != std::string::npos);
    CHECK(f.service.policy_names() == std::vector<std::string>{"strict"});
    CHECK(health()["policies"] == json::array({"strict"}));

    f.dir.write("policies/broken.json", R"({"version": 1, "tcb": {"accepted_statuses": ["UpToDate"]}})");
    f.dir.write("policies/not-a-policy.txt", "ignored: only *.json files are policies");
    CHECK_FALSE(f.service.reload_policies());
    CHECK(health()["policies"] == json::array({"broken", "strict"}));
}

TEST_CASE("collateral is resolved once and then served from memory; /metrics counts both") {
    Fixture f;
    const auto& e = test::lite_evidence();
    const auto body = json{{"evidence", to_hex(e.quote)}, {"policy", "strict"}}.dump();
    for (int i = 0; i < 3; ++i) {
        const auto r = f.post("/v1/appraise", body);
        CAPTURE(r.body);
        CHECK(r.status == 200);
        CHECK(r.verdict == "ok");
    }
    const auto metrics = f.service.metrics_text();
    CHECK(metrics.find("\ntdxkit_collateral_fetches_total 1\n") != std::string::npos);
    CHECK(metrics.find("\ntdxkit_collateral_cache_hits_total 2\n") != std::string::npos);
    CHECK(metrics.find("\ntdxkit_collateral_waits_total 0\n") != std::string::npos);
    CHECK(metrics.find("\ntdxkit_inflight_requests 0\n") != std::string::npos);
}
