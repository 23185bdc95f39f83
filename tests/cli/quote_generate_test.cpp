// `tdxkit quote generate` through the real binary: the simulated provider, configfs-tsm against a
// fake report directory, and the dstack guest agent over a unix socket and over HTTP.

#include <doctest/doctest.h>

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "atls/peers.hpp"
#include "support/test_support.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/quote.hpp"

using nlohmann::json;
using tdxkit::test::run_tdxkit;
using namespace tdxkit::test::atls;

namespace {

// 32 bytes 00..1f: the report data in every test here.
const std::string kReportData = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const std::string kPadded = kReportData + std::string(64, '0');

tdxkit::test::ProcessResult verify(const fs::path& quote) {
    return run_tdxkit(
        {"verify", quote.string(), "--collateral", collateral_dir(), "--trust-root", root_pem(), "--at", kAt});
}

std::string decoded_report_data(const fs::path& quote) {
    const auto r = run_tdxkit({"--json", "quote", "decode", quote.string()});
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out)["body"]["report_data"].get<std::string>();
}

// Runs the tdxkit binary with one extra environment variable.
tdxkit::test::ProcessResult run_with_env(const std::string& name, const std::string& value,
                                         const std::vector<std::string>& args) {
    ::setenv(name.c_str(), value.c_str(), 1);
    auto r = run_tdxkit(args);
    ::unsetenv(name.c_str());
    return r;
}

}  // namespace

TEST_CASE("simulated: a loud warning, a quote over the padded report data that verifies only with the test root") {
    const auto dir = scratch_dir("qgen-sim");
    const auto quote = dir / "q.bin";
    const auto log = dir / "log.json";
    const auto r =
        run_tdxkit({"quote", "generate", "--provider", "simulated", "--pki", pki_dir(), "--report-data", kReportData,
                    "--format", "raw", "--out", quote.string(), "--event-log-out", log.string()});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    CHECK(r.err.find("WARNING: --provider simulated") != std::string::npos);
    CHECK(decoded_report_data(quote) == kPadded);
    const auto ok = verify(quote);
    CHECK_MESSAGE(ok.exit_code == 0, ok.out);
    const auto intel = run_tdxkit({"verify", quote.string(), "--collateral", collateral_dir(), "--at", kAt});
    CHECK(intel.exit_code == 1);

    // The event log replays to the quote's RTMRs.
    const auto parsed = tdxkit::parse_quote(tdxkit::test::read_file(quote));
    const auto events = tdxkit::parse_dstack_event_log(slurp(log));
    CHECK_FALSE(tdxkit::compare_rtmrs(tdxkit::replay_rtmrs(events), *parsed.td_body()));
    CHECK(events.events.size() == 12);  // 6 boot events, 6 runtime events, no certificate without --bind-cert
}

TEST_CASE("simulated: --bind-cert adds a New TLS Certificate event naming SHA-256 of the DER") {
    const auto dir = scratch_dir("qgen-bind");
    const auto cert = make_cert(dir, "server");
    const auto r = run_tdxkit({"quote", "generate", "--provider", "simulated", "--pki", pki_dir(), "--report-data",
                               "00", "--bind-cert", cert.cert, "--format", "json"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    const auto doc = json::parse(r.out);
    const auto events = json::parse(doc["event_log"].get<std::string>());
    const auto& last = events.back();
    CHECK(last["event"] == "New TLS Certificate");
    // Independent: openssl's fingerprint of the same certificate.
    const auto fp =
        tdxkit::test::run_process({"openssl", "x509", "-in", cert.cert, "-noout", "-fingerprint", "-sha256"});
    std::string hex;
    for (const char c : fp.out.substr(fp.out.find('=') + 1)) {
        if (std::isxdigit(static_cast<unsigned char>(c))) hex += static_cast<char>(std::tolower(c));
    }
    REQUIRE(hex.size() == 64);
    const auto payload = tdxkit::from_hex(last["event_payload"].get<std::string>());
    CHECK(std::string(payload.begin(), payload.end()) == hex);
}

TEST_CASE("report data: more than 64 bytes, both sources, or none is a usage error") {
    const auto too_long = run_tdxkit(
        {"quote", "generate", "--provider", "simulated", "--pki", pki_dir(), "--report-data", std::string(130, 'a')});
    CHECK(too_long.exit_code == 2);
    CHECK(too_long.err.find("65 bytes") != std::string::npos);
    CHECK(run_tdxkit({"quote", "generate", "--report-data", "00", "--report-data-file", "x"}).exit_code == 2);
    CHECK(run_tdxkit({"quote", "generate", "--provider", "simulated", "--pki", pki_dir()}).exit_code == 2);
    const auto file =
        run_tdxkit({"quote", "generate", "--provider", "simulated", "--pki", pki_dir(), "--report-data-file", "-"},
                   std::string(65, 'x'));
    CHECK(file.exit_code == 2);
}

TEST_CASE("simulated needs the tdxkit TEST PKI: another key directory is refused") {
    const auto dir = scratch_dir("qgen-pki");
    fs::copy(pki_dir(), dir / "pki");
    fs::copy_file(dir / "pki/root.key", dir / "pki/attestation.key", fs::copy_options::overwrite_existing);
    const auto r = run_tdxkit(
        {"quote", "generate", "--provider", "simulated", "--pki", (dir / "pki").string(), "--report-data", "00"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("attestation.key is not the \"attestation\" key") != std::string::npos);
    CHECK(run_tdxkit({"quote", "generate", "--provider", "simulated", "--report-data", "00"}).exit_code == 2);
}

TEST_CASE("auto never picks the simulated provider and names what it tried") {
    const auto r = run_with_env("DSTACK_SIMULATOR_ENDPOINT", "",
                                {"quote", "generate", "--report-data", "00", "--tsm-dir", "/nonexistent/tsm"});
    CHECK(r.exit_code == 5);
    CHECK(r.err.find("/nonexistent/tsm") != std::string::npos);
    CHECK(r.err.find("/var/run/dstack.sock") != std::string::npos);
    CHECK(r.err.find("--provider simulated") != std::string::npos);
    CHECK(r.out.empty());
}

TEST_CASE("configfs-tsm: entry, provider, generation, inblob, outblob") {
    const auto dir = scratch_dir("qgen-tsm");
    fs::create_directories(dir / "report");
    Peer tsm(dir, "tsm", {"tsm", (dir / "report").string()});
    const auto quote = dir / "q.bin";
    const auto r =
        run_tdxkit({"quote", "generate", "--provider", "configfs-tsm", "--tsm-dir", (dir / "report").string(),
                    "--report-data", kReportData, "--format", "raw", "--out", quote.string()});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    CHECK(decoded_report_data(quote) == kPadded);
    CHECK(verify(quote).exit_code == 0);
    CHECK(tsm.requests().find("generation 1") != std::string::npos);
    // A real configfs entry disappears with rmdir; the fake keeps its files, so the attempt shows.
    CHECK(r.err.find("could not remove") != std::string::npos);
    // auto picks configfs-tsm when its directory exists.
    const auto a = run_tdxkit({"quote", "generate", "--tsm-dir", (dir / "report").string(), "--report-data", "01"});
    CHECK_MESSAGE(a.exit_code == 0, a.err);
    CHECK(a.err.find("configfs-tsm") != std::string::npos);
}

TEST_CASE("configfs-tsm: a racing writer (generation +2) and a non-TDX provider are refused") {
    const auto dir = scratch_dir("qgen-tsm-race");
    fs::create_directories(dir / "race");
    fs::create_directories(dir / "sev");
    Peer race(dir, "race", {"tsm", (dir / "race").string(), "--mode", "race"});
    const auto r = run_tdxkit({"quote", "generate", "--provider", "configfs-tsm", "--tsm-dir", (dir / "race").string(),
                               "--report-data", "00"});
    CHECK(r.exit_code == 5);
    CHECK(r.err.find("another process wrote") != std::string::npos);
    CHECK(r.err.find("generation went from 0 to 2, expected 1") != std::string::npos);
    CHECK(r.out.empty());

    Peer sev(dir, "sev", {"tsm", (dir / "sev").string(), "--mode", "sev"});
    const auto s = run_tdxkit({"quote", "generate", "--provider", "configfs-tsm", "--tsm-dir", (dir / "sev").string(),
                               "--report-data", "00"});
    CHECK(s.exit_code == 5);
    CHECK(s.err.find("\"sev_guest\", not tdx_guest") != std::string::npos);
}

TEST_CASE("dstack: GetQuote over a unix socket named by DSTACK_SIMULATOR_ENDPOINT, event log kept") {
    const auto dir = scratch_dir("qgen-dstack");
    const auto sock = (dir / "dstack.sock").string();
    Peer agent(dir, "agent", {"dstack", "--socket", sock});
    const auto quote = dir / "q.bin";
    const auto log = dir / "log.json";
    const auto r = run_with_env("DSTACK_SIMULATOR_ENDPOINT", sock,
                                {"quote", "generate", "--report-data", kReportData, "--format", "raw", "--out",
                                 quote.string(), "--event-log-out", log.string()});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    CHECK(r.err.find("dstack unix:" + sock) != std::string::npos);
    CHECK(verify(quote).exit_code == 0);
    CHECK(decoded_report_data(quote) == kPadded);
    // The agent received the padded report data as hex.
    CHECK(agent.requests().find("{\"report_data\":\"" + kPadded + "\"}") != std::string::npos);
    const auto parsed = tdxkit::parse_quote(tdxkit::test::read_file(quote));
    CHECK_FALSE(
        tdxkit::compare_rtmrs(tdxkit::replay_rtmrs(tdxkit::parse_dstack_event_log(slurp(log))), *parsed.td_body()));

    // --format json writes the agent's whole response.
    const auto j =
        run_with_env("DSTACK_SIMULATOR_ENDPOINT", sock,
                     {"quote", "generate", "--provider", "dstack", "--report-data", "00", "--format", "json"});
    REQUIRE(j.exit_code == 0);
    const auto doc = json::parse(j.out);
    CHECK(doc.contains("event_log"));
    CHECK(doc.contains("vm_config"));
    CHECK(doc["report_data"] == std::string(128, '0'));
}

TEST_CASE("dstack: an http:// endpoint, an agent error and a quote over other report data") {
    const auto dir = scratch_dir("qgen-dstack-http");
    Peer agent(dir, "agent", {"dstack"});
    const auto url = "http://127.0.0.1:" + agent.value;
    const auto r = run_with_env("DSTACK_SIMULATOR_ENDPOINT", url,
                                {"--json", "quote", "generate", "--provider", "dstack", "--report-data", "ab"});
    REQUIRE_MESSAGE(r.exit_code == 0, r.err);
    const auto doc = json::parse(r.out);
    CHECK(doc["schema"] == "tdxkit.quote-generate/v1");
    CHECK(doc["provider"] == "dstack");
    CHECK(doc["report_data"] == "ab" + std::string(126, '0'));

    Peer failing(dir, "failing", {"dstack", "--mode", "error"});
    const auto e = run_with_env("DSTACK_SIMULATOR_ENDPOINT", "http://127.0.0.1:" + failing.value,
                                {"quote", "generate", "--provider", "dstack", "--report-data", "00"});
    CHECK(e.exit_code == 5);
    CHECK(e.err.find("HTTP 500: quote generation failed (test)") != std::string::npos);

    // Not JSON, but an HTTP failure all the same: io (5), not malformed.
    Peer proxy(dir, "proxy", {"dstack", "--mode", "error-html"});
    const auto h = run_with_env("DSTACK_SIMULATOR_ENDPOINT", "http://127.0.0.1:" + proxy.value,
                                {"quote", "generate", "--provider", "dstack", "--report-data", "00"});
    CHECK(h.exit_code == 5);
    CHECK(h.err.find("HTTP 502: <html><body>502 Bad Gateway") != std::string::npos);

    Peer wrong(dir, "wrong", {"dstack", "--mode", "wrong-report-data"});
    const auto w = run_with_env("DSTACK_SIMULATOR_ENDPOINT", "http://127.0.0.1:" + wrong.value,
                                {"quote", "generate", "--provider", "dstack", "--report-data", "00"});
    CHECK(w.exit_code == 3);
    CHECK(w.err.find("quote over other report data") != std::string::npos);
    CHECK(w.out.empty());

    const auto none = run_with_env("DSTACK_SIMULATOR_ENDPOINT", (dir / "absent.sock").string(),
                                   {"quote", "generate", "--provider", "dstack", "--report-data", "00"});
    CHECK(none.exit_code == 5);
}
