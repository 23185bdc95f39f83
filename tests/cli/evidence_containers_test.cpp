// `tdxkit verify`, `quote decode` and `measure` on dstack's containers, through the real binary:
// RA-TLS certificates made here from simulated quotes (test PKI), and the two real versioned
// attestations (testdata/real/PROVENANCE.md).

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"
#include "tdxkit/attestation.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/provider.hpp"
#include "tdxkit/ratls.hpp"
#include "tdxkit/testing.hpp"

using namespace tdxkit;
using nlohmann::json;
using test::run_tdxkit;

namespace {

const std::string kAt = "2026-01-15T00:00:00Z";  // testing::kReferenceTime

std::string data(const std::string& rel) { return (test::source_dir() / "testdata" / rel).string(); }
std::string real(const std::string& rel) { return (test::real_testdata() / rel).string(); }

std::vector<std::string> verify_args(const std::string& input, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{
        "verify", input, "--collateral", data("collateral/sim"), "--trust-root", data("pki/root.pem"), "--at", kAt};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

// A self-signed RA-TLS certificate for `key` carrying a simulated quote that binds `bound_key`.
std::string certificate(const ratls::KeyPair& key, const ratls::KeyPair& bound_key) {
    QuoteRequest req;
    req.provider = QuoteProvider::simulated;
    req.pki_dir = data("pki");
    req.report_data = ratls::content_report_data(ratls::kTagRaTlsCert, bound_key.spki_der);
    const auto generated = testing::generate_simulated_quote(req);
    ratls::CertificateRequest request;
    request.not_before = testing::kReferenceTime - 3600;
    request.not_after = testing::kReferenceTime + 86400;
    request.quote = generated.quote;
    request.event_log = *generated.event_log;
    return ratls::make_certificate(key, request);
}

std::vector<std::string> check_ids(const json& doc) {
    std::vector<std::string> ids;
    for (const auto& c : doc["evidence_checks"]) ids.push_back(c["id"]);
    return ids;
}

}  // namespace

TEST_CASE("verify an RA-TLS certificate (PEM): DCAP, the key binding, the log's replay, the certificate's checks") {
    const test::TempDir dir("evidence");
    const auto key = ratls::generate_key();
    const auto path = dir.write("cert.pem", certificate(key, key));

    const auto text = run_tdxkit(verify_args(path));
    CHECK(text.exit_code == 0);
    CHECK(text.out.rfind("OK\n", 0) == 0);
    CHECK(text.out.find("Container:    RA-TLS certificate, extension 1.3.6.1.4.1.62397.1.1 (quote)") !=
          std::string::npos);
    CHECK(text.out.find("[ ok ] report_data_binding") != std::string::npos);

    const auto r = run_tdxkit(verify_args(path, {"--json"}));
    REQUIRE(r.exit_code == 0);
    const auto doc = json::parse(r.out);
    CHECK(doc["container"]["name"] == "RA-TLS certificate");
    CHECK(check_ids(doc) == std::vector<std::string>{"certificate_validity", "certificate_signature",
                                                     "certificate_key_usage", "event_log_rtmr3",
                                                     "report_data_binding"});
    CHECK(doc["event_log"]["container"] == "RA-TLS extension 1.3.6.1.4.1.62397.1.2 (ELGZv1 gzip)");
}

TEST_CASE("verify refuses a certificate whose key the quote does not bind, naming the binding") {
    const test::TempDir dir("evidence");
    const auto genuine = ratls::generate_key();
    const auto attacker = ratls::generate_key();
    const auto r = run_tdxkit(verify_args(dir.write("forged.pem", certificate(attacker, genuine)), {"--json"}));
    CHECK(r.exit_code == 1);
    const auto doc = json::parse(r.out);
    CHECK(doc["result"] == "rejected");
    CHECK(doc["reason"].get<std::string>().rfind("report_data_binding: REPORTDATA is ", 0) == 0);
}

TEST_CASE("quote decode shows what a certificate carries, unverified, and whether its key is bound") {
    const test::TempDir dir("evidence");
    const auto key = ratls::generate_key();
    const auto path = dir.write("cert.pem", certificate(key, key));
    const auto r = run_tdxkit({"--json", "quote", "decode", path});
    REQUIRE(r.exit_code == 0);
    const auto doc = json::parse(r.out);
    CHECK(doc["input"]["container"] == "RA-TLS certificate");
    CHECK(doc["ra_tls"]["report_data_binds_key"] == true);
    CHECK(doc["ra_tls"]["spki_sha256"] == to_hex(sha256(key.spki_der)));
    CHECK(doc["ra_tls"]["extensions"]["event_log"]["compressed"] == true);
    CHECK(doc["event_log"]["events"].get<int>() > 0);
}

TEST_CASE("--expect-report-data: HEX or TAG:FILE must equal the quote's REPORTDATA") {
    const test::TempDir dir("evidence");
    // sim-tdx-v4.bin's REPORTDATA is 64 zero bytes... unless it is not: read it from the decode.
    const auto decoded = run_tdxkit({"--json", "quote", "decode", data("quotes/sim-tdx-v4.bin")});
    REQUIRE(decoded.exit_code == 0);
    const std::string report_data = json::parse(decoded.out)["body"]["report_data"];
    CHECK(run_tdxkit(verify_args(data("quotes/sim-tdx-v4.bin"), {"--expect-report-data", report_data})).exit_code == 0);
    auto other = report_data;
    other[0] = other[0] == '0' ? '1' : '0';
    const auto r = run_tdxkit(verify_args(data("quotes/sim-tdx-v4.bin"), {"--expect-report-data", other}));
    CHECK(r.exit_code == 1);
    CHECK(r.out.rfind("REJECTED: report_data_binding: ", 0) == 0);

    const auto payload = dir.write("payload.bin", "hello");
    const auto tagged = run_tdxkit(
        verify_args(data("quotes/sim-tdx-v4.bin"), {"--json", "--expect-report-data", "app-data:" + payload}));
    CHECK(tagged.exit_code == 1);
    CHECK(json::parse(tagged.out)["reason"].get<std::string>().find(
              to_hex(ratls::content_report_data("app-data", as_bytes(std::string("hello"))))) != std::string::npos);
    CHECK(run_tdxkit(verify_args(data("quotes/sim-tdx-v4.bin"), {"--expect-report-data", "zz"})).exit_code == 2);
}

TEST_CASE("a certificate carries its own log: --event-log beside it is a usage error") {
    const test::TempDir dir("evidence");
    const auto key = ratls::generate_key();
    const auto r = run_tdxkit(verify_args(dir.write("cert.pem", certificate(key, key)),
                                          {"--event-log", real("eventlogs/dstack-verifier-tdx-lite-getquote.json")}));
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("carries its own event log") != std::string::npos);
}

TEST_CASE("the real guest-agent attestation: verify reports the container and replays its log to RTMR3") {
    // No collateral here covers this quote (PROVENANCE.md), so DCAP fails; the evidence checks still run.
    const auto r =
        run_tdxkit({"--json", "verify", real("attestations/dstack-guest-agent-attestation.bin"), "--collateral",
                    real("collateral/dcapqvl-tdx_quote_outdated"), "--at", "2026-04-15T00:50:58Z"});
    CHECK(r.exit_code == 1);
    const auto doc = json::parse(r.out);
    CHECK(doc["container"]["name"] == "dstack versioned attestation");
    CHECK(doc["container"]["source"] == "SCALE (V0) form");
    CHECK(check_ids(doc) == std::vector<std::string>{"attestation_report_data", "event_log_rtmr3"});
    for (const auto& c : doc["evidence_checks"]) CHECK(c["passed"] == true);
}

TEST_CASE("the real tdx-lite attestation's vm_config feeds measure, and its prediction equals its own quote") {
    const auto attestation = real("attestations/dstack-verifier-tdx-lite-attestation.json");
    const auto r = run_tdxkit({"--json", "measure", "--vm-config", attestation, "--diagnose", attestation});
    CHECK(r.exit_code == 0);
    const auto doc = json::parse(r.out);
    CHECK(doc["result"] == "equal");
    // The quote's own MRTD (dstack-verifier-tdx-lite-getquote.bin).
    CHECK(doc["mrtd"] ==
          "fd685522ce791dfef67414614eb07d03fc07a32c5a66f36288b329dab92b724b1564c73d436ffb9ea84488c51ac5a1c5");
    const auto decoded = run_tdxkit({"--json", "quote", "decode", attestation});
    REQUIRE(decoded.exit_code == 0);
    const auto quote = json::parse(decoded.out);
    CHECK(quote["body"]["mr_td"] == doc["mrtd"]);
    CHECK(quote["input"]["container"] == "dstack-verifier request {\"attestation\": hex}");
}
