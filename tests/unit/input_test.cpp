// decode_quote_input: raw / hex / base64 / JSON containers, auto-detection and --format forcing.
// The shared hex, JSON and GetQuote files must decode to the bytes MANIFEST records for them.

#include <doctest/doctest.h>

#include <cctype>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/input.hpp"
#include "tdxkit/quote.hpp"

using namespace tdxkit;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

using tdxkit::test::code_of;
using tdxkit::test::manifest;

Bytes shared(const std::string& rel) { return test::read_file(test::real_testdata() / rel); }

// MANIFEST sha256_of_decoded_quote per binary quote file.
std::string decoded_sha(const std::string& bin) {
    for (const auto& q : manifest().at("quotes")) {
        if (q.at("file") == bin) return q.at("sha256_of_decoded_quote").get<std::string>();
    }
    FAIL("no MANIFEST quote entry " << bin);
    return {};
}

std::string text_of(const Bytes& b) { return {b.begin(), b.end()}; }

}  // namespace

TEST_CASE("shared text containers decode to the bytes of their .bin siblings (MANIFEST)") {
    // file -> (binary sibling whose MANIFEST entry derives from it, expected format, container)
    struct Case {
        const char* text;
        const char* bin;
        InputFormat format;
        const char* container;
    };
    const Case cases[] = {
        {"quotes/dcapqvl-tdx-quote.hex", "quotes/dcapqvl-tdx-quote.bin", InputFormat::hex, "hex"},
        {"quotes/dcapqvl-quote-from-tappd.hex", "quotes/dcapqvl-quote-from-tappd.bin", InputFormat::hex, "hex"},
        {"quotes/dcapqvl-near-gas-test-quote_hex.txt", "quotes/dcapqvl-near-gas-test-quote.bin", InputFormat::hex,
         "hex"},
        {"quotes/dstack-verifier-quote-report.hex", "quotes/dstack-verifier-quote-report.bin", InputFormat::hex, "hex"},
        {"quotes/dstack-verifier-tdx-lite-getquote.hex", "quotes/dstack-verifier-tdx-lite-getquote.bin",
         InputFormat::hex, "hex"},
        {"quotes/nearmpc-head-quote.json", "quotes/nearmpc-head-quote.bin", InputFormat::json, "JSON byte array"},
        {"quotes/nearmpc-2026-01-quote.json", "quotes/nearmpc-2026-01-quote.bin", InputFormat::json, "JSON byte array"},
        {"eventlogs/dstack-verifier-quote-report.json", "quotes/dstack-verifier-quote-report.bin", InputFormat::json,
         "dstack GetQuote response"},
        {"eventlogs/dstack-verifier-tdx-lite-getquote.json", "quotes/dstack-verifier-tdx-lite-getquote.bin",
         InputFormat::json, "dstack GetQuote response"},
    };
    for (const auto& c : cases) {
        CAPTURE(c.text);
        const auto in = decode_quote_input(shared(c.text));
        CHECK(in.format == c.format);
        CHECK(in.container == c.container);
        CHECK(to_hex(sha256(in.quote)) == decoded_sha(c.bin));
        CHECK(in.quote == shared(c.bin));
        // The format can also be forced.
        CHECK(decode_quote_input(shared(c.text), c.format).quote == in.quote);
    }
}

TEST_CASE("binary quotes are detected as raw and passed through unchanged") {
    for (const auto& q : manifest().at("quotes")) {
        const auto file = q.at("file").get<std::string>();
        CAPTURE(file);
        const Bytes data = shared(file);
        const auto in = decode_quote_input(data);
        CHECK(in.format == InputFormat::raw);
        CHECK(in.container == "raw");
        CHECK(in.quote == data);
        CHECK_FALSE(in.event_log.has_value());
    }
}

TEST_CASE("dstack GetQuote response: quote and event log") {
    const std::pair<const char*, const char*> cases[] = {
        {"eventlogs/dstack-verifier-quote-report.json", "eventlogs/dstack-verifier-quote-report.event_log.json"},
        {"eventlogs/dstack-verifier-tdx-lite-getquote.json",
         "eventlogs/dstack-verifier-tdx-lite-getquote.event_log.json"},
    };
    for (const auto& [response, log] : cases) {
        CAPTURE(response);
        const auto in = decode_quote_input(shared(response));
        REQUIRE(in.event_log.has_value());
        // MANIFEST: the .event_log.json file is "the string value of field event_log, written as-is".
        CHECK(*in.event_log == test::read_text(test::real_testdata() / log));
        CHECK(parse_quote(in.quote).header.version == 4);
    }
}

TEST_CASE("aTLS /tdx_quote response: {\"quote\":{\"quote\":hex,\"event_log\":...}}") {
    const auto getquote = json::parse(text_of(shared("eventlogs/dstack-verifier-quote-report.json")));
    const json atls{{"quote", {{"quote", getquote.at("quote")}, {"event_log", getquote.at("event_log")}}}};
    const auto in = decode_quote_input(as_bytes(atls.dump()));
    CHECK(in.format == InputFormat::json);
    CHECK(in.container == "aTLS /tdx_quote response");
    CHECK(in.quote == shared("quotes/dstack-verifier-quote-report.bin"));
    REQUIRE(in.event_log.has_value());
    CHECK(*in.event_log == getquote.at("event_log").get<std::string>());

    // An event log given as a JSON value rather than a string is kept as JSON text.
    const json atls_array{{"quote", {{"quote", getquote.at("quote")}, {"event_log", json::array({1, 2})}}}};
    const auto in2 = decode_quote_input(as_bytes(atls_array.dump()));
    REQUIRE(in2.event_log.has_value());
    CHECK(json::parse(*in2.event_log) == json::array({1, 2}));

    // No event log, or null.
    const json bare{{"quote", {{"quote", getquote.at("quote")}}}};
    CHECK_FALSE(decode_quote_input(as_bytes(bare.dump())).event_log.has_value());
    const json null_log{{"quote", getquote.at("quote")}, {"event_log", nullptr}};
    CHECK_FALSE(decode_quote_input(as_bytes(null_log.dump())).event_log.has_value());
}

TEST_CASE("JSON quote string may be 0x-prefixed hex or base64") {
    const Bytes bin = shared("quotes/gotdxguest-quote_v5_sample.bin");
    const json hex0x{{"quote", "0x" + to_hex(bin)}};
    CHECK(decode_quote_input(as_bytes(hex0x.dump())).quote == bin);
    const json b64{{"quote", to_base64(bin)}};
    CHECK(decode_quote_input(as_bytes(b64.dump())).quote == bin);
}

TEST_CASE("hex and base64 text: auto-detected, with whitespace, prefix and URL-safe alphabet") {
    const Bytes bin = shared("quotes/dcapqvl-sgx_quote.bin");
    const std::string hex = to_hex(bin);

    auto in = decode_quote_input(as_bytes("  0x" + hex + "\n"));
    CHECK(in.format == InputFormat::hex);
    CHECK(in.quote == bin);

    std::string upper = hex;
    for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    CHECK(decode_quote_input(as_bytes(upper)).quote == bin);

    std::string b64 = to_base64(bin);
    REQUIRE(b64.find_first_of("+/") != std::string::npos);  // the sample exercises both alphabets
    in = decode_quote_input(as_bytes(b64));
    CHECK(in.format == InputFormat::base64);
    CHECK(in.container == "base64");
    CHECK(in.quote == bin);

    std::string url = b64;
    for (auto& ch : url) {
        if (ch == '+') ch = '-';
        if (ch == '/') ch = '_';
    }
    while (!url.empty() && url.back() == '=') url.pop_back();
    in = decode_quote_input(as_bytes(url));
    CHECK(in.format == InputFormat::base64);
    CHECK(in.quote == bin);

    // Wrapped at 76 columns like `base64` output.
    std::string wrapped;
    for (std::size_t i = 0; i < b64.size(); i += 76) wrapped += b64.substr(i, 76) + "\n";
    CHECK(decode_quote_input(as_bytes(wrapped)).quote == bin);
}

TEST_CASE("--format forces the interpretation") {
    const Bytes hex_text = shared("quotes/dcapqvl-tdx-quote.hex");
    // Forced raw: the text itself is the quote bytes.
    const auto raw = decode_quote_input(hex_text, InputFormat::raw);
    CHECK(raw.format == InputFormat::raw);
    CHECK(raw.quote == hex_text);
    // A hex-only string is also valid base64: forcing base64 decodes it as base64.
    const auto b64 = decode_quote_input(as_bytes("00112233"), InputFormat::base64);
    CHECK(b64.format == InputFormat::base64);
    CHECK(b64.quote == from_base64("00112233"));
    // Forcing hex on base64 text fails.
    CHECK(code_of([] { (void)decode_quote_input(as_bytes("Zm9v+/=="), InputFormat::hex); }) == Errc::malformed);
    // Forcing JSON on hex fails.
    CHECK(code_of([] { (void)decode_quote_input(as_bytes("abcd"), InputFormat::json); }) == Errc::malformed);
    // Forcing raw on a binary quote is the identity.
    const Bytes bin = shared("quotes/dcapqvl-tdx_quote.bin");
    CHECK(decode_quote_input(bin, InputFormat::raw).quote == bin);
}

TEST_CASE("JSON byte arrays") {
    CHECK(decode_quote_input(as_bytes("[4, 0, 2, 0, 255]")).quote == Bytes{4, 0, 2, 0, 255});
    CHECK(decode_quote_input(as_bytes("[]")).quote.empty());
    CHECK(code_of([] { (void)decode_quote_input(as_bytes("[1, 256]")); }) == Errc::malformed);
    CHECK(code_of([] { (void)decode_quote_input(as_bytes("[1, -1]")); }) == Errc::malformed);
    CHECK(code_of([] { (void)decode_quote_input(as_bytes("[1, 2.5]")); }) == Errc::malformed);
    CHECK(code_of([] { (void)decode_quote_input(as_bytes("[1, \"2\"]")); }) == Errc::malformed);
    CHECK_THROWS_WITH((void)decode_quote_input(as_bytes("[0, 1, 300]")), "JSON byte array: element 2 is not a byte");
}

TEST_CASE("malformed containers are Error(malformed)") {
    const char* bad[] = {
        "",
        "   \n\t ",
        "{",
        "{\"quote\": 5}",
        "{\"no_quote\": \"0400\"}",
        "{\"quote\": {\"event_log\": \"[]\"}}",
        "{\"quote\": {\"quote\": 7}}",
        "{\"quote\": \"zz-not-hex-or-base64!\"}",
        "[1, 2",
    };
    for (const char* text : bad) {
        CAPTURE(text);
        CHECK(code_of([&] { (void)decode_quote_input(as_bytes(text)); }) == Errc::malformed);
    }
    CHECK_THROWS_WITH((void)decode_quote_input(as_bytes("")), "input is empty");
    CHECK_THROWS_WITH((void)decode_quote_input(as_bytes("{\"x\":1}")), "JSON input: no \"quote\" field");
}

TEST_CASE("text that is neither hex, base64 nor JSON is taken as raw bytes (parse_quote then rejects it)") {
    constexpr std::string_view kText = "\"0400\" is not a quote!";
    const auto in = decode_quote_input(as_bytes(kText));
    CHECK(in.format == InputFormat::raw);
    CHECK(in.container == "raw");
    CHECK(in.quote == Bytes(kText.begin(), kText.end()));
}

TEST_CASE("odd-length hex is rejected, not silently truncated") {
    CHECK(code_of([] { (void)decode_quote_input(as_bytes("040")); }) == Errc::malformed);
    CHECK(code_of([] { (void)decode_quote_input(as_bytes("040"), InputFormat::hex); }) == Errc::malformed);
}

TEST_CASE("input format names") {
    CHECK(parse_input_format("auto") == InputFormat::automatic);
    CHECK(parse_input_format("raw") == InputFormat::raw);
    CHECK(parse_input_format("bin") == InputFormat::raw);
    CHECK(parse_input_format("binary") == InputFormat::raw);
    CHECK(parse_input_format("hex") == InputFormat::hex);
    CHECK(parse_input_format("base64") == InputFormat::base64);
    CHECK(parse_input_format("json") == InputFormat::json);
    CHECK(code_of([] { (void)parse_input_format("pem"); }) == Errc::invalid_argument);
    CHECK(code_of([] { (void)parse_input_format("HEX"); }) == Errc::invalid_argument);
    for (const auto f :
         {InputFormat::automatic, InputFormat::raw, InputFormat::hex, InputFormat::base64, InputFormat::json}) {
        CHECK(parse_input_format(input_format_name(f)) == f);
    }
}
