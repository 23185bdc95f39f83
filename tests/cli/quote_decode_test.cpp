// `tdxkit` / `tdxkit quote decode` through the real binary: exit statuses, human and JSON output,
// standard input, error messages. Expected field values come from MANIFEST.json.

#include <doctest/doctest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"
#include "tdxkit/version.hpp"

using namespace tdxkit;
using nlohmann::json;

namespace {

using tdxkit::test::manifest;

const json& manifest_quote(const std::string& file) {
    for (const auto& q : manifest().at("quotes")) {
        if (q.at("file") == file) return q;
    }
    FAIL("no MANIFEST entry for " << file);
    throw std::logic_error("unreachable");
}

std::string shared(const std::string& rel) { return (test::real_testdata() / rel).string(); }

bool contains(const std::string& s, std::string_view part) { return s.find(part) != std::string::npos; }

// One line of diagnostics: "tdxkit: error: ...\n".
void check_single_line_error(const test::ProcessResult& r) {
    CAPTURE(r.err);
    CHECK(r.err.starts_with("tdxkit: error: "));
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
    CHECK(r.err.ends_with("\n"));
    CHECK(r.out.empty());
}

}  // namespace

TEST_CASE("--version and --help exit 0") {
    const auto v = test::run_tdxkit({"--version"});
    CHECK(v.exit_code == 0);
    CHECK(contains(v.out, std::string("tdxkit ") + kVersion));
    const auto h = test::run_tdxkit({"--help"});
    CHECK(h.exit_code == 0);
    CHECK(contains(h.out, "quote"));
    CHECK(contains(h.out, "Exit status"));
    const auto qh = test::run_tdxkit({"quote", "decode", "--help"});
    CHECK(qh.exit_code == 0);
    CHECK(contains(qh.out, "--format"));
}

TEST_CASE("usage errors exit 2") {
    CHECK(test::run_tdxkit({}).exit_code == 2);
    CHECK(test::run_tdxkit({"no-such-command"}).exit_code == 2);
    CHECK(test::run_tdxkit({"quote"}).exit_code == 2);
    CHECK(test::run_tdxkit({"quote", "decode", "--format", "pem", shared("quotes/dcapqvl-tdx_quote.bin")}).exit_code ==
          2);
    CHECK(test::run_tdxkit({"quote", "decode", "--no-such-flag"}).exit_code == 2);
}

TEST_CASE("quote decode: human output shows MRTD, RTMRs and REPORTDATA") {
    const std::string file = "quotes/dcapqvl-tdx_quote.bin";
    const auto& m = manifest_quote(file);
    const auto& body = m.at("body");
    const auto r = test::run_tdxkit({"quote", "decode", shared(file)});
    CHECK(r.exit_code == 0);
    CHECK(r.err.empty());
    // Labels are padded; compare label and value separately on the same line.
    for (const auto& [key, field] :
         {std::pair{"MRTD:", "mr_td"}, std::pair{"RTMR0:", "rtmr0"}, std::pair{"RTMR1:", "rtmr1"},
          std::pair{"RTMR2:", "rtmr2"}, std::pair{"RTMR3:", "rtmr3"}, std::pair{"REPORTDATA:", "report_data"},
          std::pair{"MRSEAM:", "mr_seam"}, std::pair{"XFAM:", "xfam"}}) {
        CAPTURE(key);
        const auto pos = r.out.find(std::string("\n") + key);
        REQUIRE(pos != std::string::npos);
        const auto eol = r.out.find('\n', pos + 1);
        const auto text = r.out.substr(pos + 1, eol - pos - 1);
        CHECK(contains(text, body.at(field).get<std::string>()));
    }
    CHECK(contains(r.out, m.at("pck").at("fmspc").get<std::string>()));
    CHECK(contains(r.out, "70 trailing bytes"));
}

TEST_CASE("quote decode: v5 and SGX human output") {
    const auto v5 = test::run_tdxkit({"quote", "decode", shared("quotes/gotdxguest-quote_v5_sample.bin")});
    CHECK(v5.exit_code == 0);
    const auto& b5 = manifest_quote("quotes/gotdxguest-quote_v5_sample.bin").at("body");
    CHECK(contains(v5.out, b5.at("tee_tcb_svn2").get<std::string>()));
    CHECK(contains(v5.out, b5.at("mr_td").get<std::string>()));
    const auto sgx = test::run_tdxkit({"quote", "decode", shared("quotes/dcapqvl-sgx_quote.bin")});
    CHECK(sgx.exit_code == 0);
    const auto& bs = manifest_quote("quotes/dcapqvl-sgx_quote.bin").at("body");
    CHECK(contains(sgx.out, bs.at("mr_enclave").get<std::string>()));
    CHECK(contains(sgx.out, bs.at("mr_signer").get<std::string>()));
    CHECK(contains(sgx.out, bs.at("report_data").get<std::string>()));
}

TEST_CASE("quote decode --json: schema and fields") {
    const std::string file = "quotes/dcapqvl-tdx_quote.bin";
    const auto& m = manifest_quote(file);
    // --json is a global flag; it is accepted before and after the subcommand.
    for (const auto& args : {std::vector<std::string>{"--json", "quote", "decode", shared(file)},
                             std::vector<std::string>{"quote", "decode", "--json", shared(file)}}) {
        const auto r = test::run_tdxkit(args);
        REQUIRE(r.exit_code == 0);
        CHECK(r.err.empty());
        const auto doc = json::parse(r.out);
        CHECK(doc.at("schema") == "tdxkit.quote/v1");
        CHECK(doc.at("header").at("version") == 4);
        CHECK(doc.at("header").at("tee_type") == "TDX");
        CHECK(doc.at("body").at("mr_td") == m.at("body").at("mr_td"));
        for (const char* k : {"rtmr0", "rtmr1", "rtmr2", "rtmr3", "report_data"}) {
            CHECK(doc.at("body").at(k) == m.at("body").at(k));
        }
        CHECK(doc.at("signed_region_length") == 632);
        CHECK(doc.at("signature_data").at("length") == 4300);
        CHECK(doc.at("input").at("trailing_bytes") == 70);
        CHECK(doc.at("input").at("quote_size") == 4936);
        CHECK(doc.at("pck").at("fmspc") == m.at("pck").at("fmspc"));
    }
}

TEST_CASE("quote decode reads standard input ('-' and by default)") {
    const std::string bin = test::read_text(test::real_testdata() / "quotes/gotdxguest-quote_v5_sample.bin");
    const auto& m = manifest_quote("quotes/gotdxguest-quote_v5_sample.bin");
    for (const auto& args : {std::vector<std::string>{"--json", "quote", "decode", "-"},
                             std::vector<std::string>{"--json", "quote", "decode"}}) {
        const auto r = test::run_tdxkit(args, bin);
        REQUIRE(r.exit_code == 0);
        const auto doc = json::parse(r.out);
        CHECK(doc.at("header").at("version") == 5);
        CHECK(doc.at("body").at("mr_td") == m.at("body").at("mr_td"));
        CHECK(doc.at("input").at("container") == "raw");
    }
    // Text containers on stdin.
    const auto hex = test::read_text(test::real_testdata() / "quotes/dcapqvl-tdx-quote.hex");
    const auto rh = test::run_tdxkit({"--json", "quote", "decode", "-"}, hex);
    REQUIRE(rh.exit_code == 0);
    CHECK(json::parse(rh.out).at("input").at("format") == "hex");
    CHECK(json::parse(rh.out).at("body").at("mr_td") ==
          manifest_quote("quotes/dcapqvl-tdx-quote.bin").at("body").at("mr_td"));
    const auto gq = test::read_text(test::real_testdata() / "eventlogs/dstack-verifier-quote-report.json");
    const auto rg = test::run_tdxkit({"--json", "quote", "decode", "-"}, gq);
    REQUIRE(rg.exit_code == 0);
    CHECK(json::parse(rg.out).at("input").at("container") == "dstack GetQuote response");
}

TEST_CASE("--format forces the container") {
    const auto hexfile = shared("quotes/dcapqvl-tdx-quote.hex");
    CHECK(test::run_tdxkit({"quote", "decode", "--format", "hex", hexfile}).exit_code == 0);
    // The hex text read as raw bytes is not a quote ('0x04...' is version 0x7830).
    const auto raw = test::run_tdxkit({"quote", "decode", "--format", "raw", hexfile});
    CHECK(raw.exit_code == 3);
    check_single_line_error(raw);
    // A binary quote is not hex.
    const auto hex = test::run_tdxkit({"quote", "decode", "--format", "hex", shared("quotes/dcapqvl-tdx_quote.bin")});
    CHECK(hex.exit_code == 3);
    check_single_line_error(hex);
    CHECK(contains(hex.err, "offset"));
}

TEST_CASE("malformed input: exit 3 with a single-line message naming an offset") {
    const std::string bin = test::read_text(test::real_testdata() / "quotes/dcapqvl-tdx_quote.bin");
    SUBCASE("truncated in the signature data") {
        const auto r = test::run_tdxkit({"quote", "decode", "-"}, bin.substr(0, 700));
        CHECK(r.exit_code == 3);
        check_single_line_error(r);
        CHECK(contains(r.err, "offset 636"));
    }
    SUBCASE("truncated in the header") {
        const auto r = test::run_tdxkit({"quote", "decode", "--format", "raw", "-"}, bin.substr(0, 10));
        CHECK(r.exit_code == 3);
        check_single_line_error(r);
        CHECK(contains(r.err, "offset"));
    }
    SUBCASE("unsupported version") {
        std::string bad = bin;
        bad[0] = 9;
        const auto r = test::run_tdxkit({"quote", "decode", "-"}, bad);
        CHECK(r.exit_code == 3);
        check_single_line_error(r);
        CHECK(contains(r.err, "offset 0"));
    }
    SUBCASE("signature_data_len 0xFFFFFFFF") {
        std::string bad = bin;
        for (int i = 0; i < 4; ++i) bad[632 + static_cast<std::size_t>(i)] = '\xff';
        const auto r = test::run_tdxkit({"quote", "decode", "--json", "-"}, bad);
        CHECK(r.exit_code == 3);
        check_single_line_error(r);
        CHECK(contains(r.err, "offset"));
    }
    SUBCASE("empty input") {
        const auto r = test::run_tdxkit({"quote", "decode", "-"});
        CHECK(r.exit_code == 3);
        check_single_line_error(r);
    }
    SUBCASE("bad JSON container") {
        const auto r = test::run_tdxkit({"quote", "decode", "-"}, "{\"quote\": 12}");
        CHECK(r.exit_code == 3);
        check_single_line_error(r);
    }
}

TEST_CASE("missing or unreadable file: exit 5") {
    const auto r = test::run_tdxkit({"quote", "decode", "/nonexistent/tdxkit-test/quote.bin"});
    CHECK(r.exit_code == 5);
    check_single_line_error(r);
    CHECK(contains(r.err, "/nonexistent/tdxkit-test/quote.bin"));
    const auto dir = test::run_tdxkit({"quote", "decode", test::real_testdata().string()});
    CHECK(dir.exit_code == 5);
    check_single_line_error(dir);
}
