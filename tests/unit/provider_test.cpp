// Quote providers in-process: names, report-data padding, and the simulated provider's quote and
// event log checked by the verifier and the replayer (independent modules).

#include <doctest/doctest.h>

#include "support/test_support.hpp"
#include "tdxkit/atls.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/provider.hpp"
#include "tdxkit/testing.hpp"
#include "tdxkit/verify.hpp"

using namespace tdxkit;

namespace {

std::string pki() { return (test::source_dir() / "testdata/pki").string(); }

}  // namespace

TEST_CASE("provider names") {
    CHECK(parse_quote_provider("auto") == QuoteProvider::automatic);
    CHECK(parse_quote_provider("configfs-tsm") == QuoteProvider::configfs_tsm);
    CHECK(parse_quote_provider("dstack") == QuoteProvider::dstack);
    CHECK(parse_quote_provider("simulated") == QuoteProvider::simulated);
    CHECK_THROWS_AS((void)parse_quote_provider("tdx"), Error);
    CHECK(std::string(quote_provider_name(QuoteProvider::configfs_tsm)) == "configfs-tsm");
}

TEST_CASE("report data is zero-padded to 64 bytes; 65 is refused") {
    const auto padded = pad_report_data(Bytes{0xAB, 0xCD});
    CHECK(to_hex(padded) == "abcd" + std::string(124, '0'));
    CHECK(to_hex(pad_report_data(Bytes(64, 0x11))) == std::string(128, '1'));
    try {
        (void)pad_report_data(Bytes(65, 0));
        FAIL("accepted 65 bytes");
    } catch (const Error& e) {
        CHECK(e.code() == Errc::invalid_argument);
    }
}

TEST_CASE("simulated: verifies with the test root at the reference time, RTMRs = replay, certificate bound") {
    QuoteRequest req;
    req.provider = QuoteProvider::simulated;
    req.pki_dir = pki();
    req.report_data = pad_report_data(Bytes{1, 2, 3});
    const Bytes fake_der = {0x30, 0x03, 0x02, 0x01, 0x05};  // only hashed, never parsed
    req.bind_certificate_der = fake_der;
    const auto q = testing::generate_simulated_quote(req);
    CHECK(q.provider == QuoteProvider::simulated);

    const auto quote = parse_quote(q.quote);
    const auto collateral = load_collateral((test::source_dir() / "testdata/collateral/sim").string());
    const auto root = custom_trust_root(test::read_file(test::source_dir() / "testdata/pki/root.pem"));
    const auto report = verify_quote(quote, collateral, {testing::kReferenceTime, root});
    CHECK_MESSAGE(report.authentic, report.failure);
    CHECK(report.tcb_status == TcbStatus::up_to_date);
    CHECK_FALSE(verify_quote(quote, collateral, {testing::kReferenceTime, intel_sgx_root_ca()}).authentic);
    CHECK(quote.td_body()->report_data == req.report_data);

    const auto log = parse_dstack_event_log(*q.event_log);
    CHECK_FALSE(compare_rtmrs(replay_rtmrs(log), *quote.td_body()));
    const auto& last = log.events.back();
    CHECK(last.imr == 3);
    CHECK(last.name == atls::kCertificateEvent);
    // Independent: SHA-256 of 30 03 02 01 05 (openssl dgst -sha256).
    CHECK(std::string(last.payload.begin(), last.payload.end()) ==
          "417c7763c4e320a6b747b3cb0c6d22f93741b29a32b48594b8eb4c144fe6d729");
    std::vector<std::string> names;
    for (const auto& e : log.events) {
        if (e.imr == 3) names.push_back(e.name);
    }
    CHECK(names == std::vector<std::string>{"system-preparing", "app-id", "compose-hash", "instance-id", "boot-mr-done",
                                            "system-ready", "New TLS Certificate"});
}

TEST_CASE("simulated is refused without the PKI directory") {
    QuoteRequest req;
    req.provider = QuoteProvider::simulated;
    CHECK_THROWS_AS((void)testing::generate_simulated_quote(req), Error);
    req.pki_dir = "/nonexistent";
    CHECK_THROWS_AS((void)testing::generate_simulated_quote(req), Error);
}

TEST_CASE("libtdxkit cannot sign a simulated quote: the provider is only in tdxkit-testing") {
    QuoteRequest req;
    req.provider = QuoteProvider::simulated;
    req.pki_dir = pki();
    try {
        (void)generate_quote(req);
        FAIL("libtdxkit produced a simulated quote");
    } catch (const Error& e) {
        CHECK(e.code() == Errc::invalid_argument);
        CHECK(std::string(e.what()).find("tdxkit-testing") != std::string::npos);
    }
}
