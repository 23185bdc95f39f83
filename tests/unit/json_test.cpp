// The strict JSON parser every outside document goes through (lib/src/core/json.hpp): depth limited
// while parsing, duplicate keys refused, bounded messages.

#include <doctest/doctest.h>

#include <string>

#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "tdxkit/error.hpp"

using namespace tdxkit;
using detail::parse_json;
using nlohmann::json;

namespace {

std::string error_of(std::string_view text, detail::JsonLimits limits = {}) {
    try {
        (void)parse_json(text, "doc", limits);
    } catch (const Error& e) {
        CHECK(e.code() == Errc::malformed);
        return e.what();
    }
    return "accepted";
}

std::string nested(std::size_t depth, char open = '[', char close = ']') {
    return std::string(depth, open) + std::string(depth, close);
}

}  // namespace

TEST_CASE("documents parse to the same value as nlohmann's own parser") {
    const std::string text =
        R"({"a":[1,-2,3.5,"x\u00e9",true,false,null,{"b":{}}],"c":18446744073709551615,"d":"\ud83d\ude00"})";
    CHECK(parse_json(text, "doc") == json::parse(text));
    CHECK(parse_json("  7 ", "doc") == 7);
    CHECK(parse_json(R"("s")", "doc") == "s");
    CHECK(parse_json("[]", "doc") == json::array());
}

TEST_CASE("nesting is limited while parsing, with the path of the value that is too deep") {
    CHECK(parse_json(nested(detail::kMaxJsonDepth), "doc").is_array());
    std::string path;
    for (std::size_t i = 0; i < detail::kMaxJsonDepth; ++i) path += "[0]";
    CHECK(error_of(nested(detail::kMaxJsonDepth + 1)) ==
          "doc: " + path + ": JSON nested too deeply (more than 64 levels)");
    CHECK(error_of(R"({"a":{"b":[1,[2]]}})", {.max_depth = 3}) ==
          "doc: a.b[1]: JSON nested too deeply (more than 3 levels)");
    // The denial of service from the issue: 100,000 levels (200 KB) must be an error, not a crash.
    CHECK(error_of(nested(100000)).find("JSON nested too deeply") != std::string::npos);
    CHECK(error_of(nested(100000, '{', '}')).find("not valid JSON") != std::string::npos);
    CHECK(error_of(std::string(100000, '[')).find("JSON nested too deeply") != std::string::npos);
}

TEST_CASE("duplicate keys are refused at any depth, unless last-wins is asked for") {
    CHECK(error_of(R"({"td":{"mrtd":"00","mrtd":"11"}})") ==
          R"(doc: td.mrtd: duplicate key "mrtd" (parsers disagree on which value counts))");
    CHECK(error_of(R"([{"a":1},{"a":1,"b":2,"a":3}])").find("doc: [1].a: duplicate key \"a\"") == 0);
    const auto last =
        detail::parse_ordered_json(R"({"a":1,"b":2,"a":3})", "doc", {.duplicates = detail::DuplicateKeys::last_wins});
    CHECK(last.dump() == R"({"a":3,"b":2})");  // JSON.parse: first position, last value
    CHECK_THROWS_AS((void)detail::parse_ordered_json(R"({"a":1,"a":2})", "doc"), Error);
}

TEST_CASE("syntax errors and out-of-range numbers are malformed input with a bounded message") {
    CHECK(error_of("{").find("doc: not valid JSON: ") == 0);
    CHECK(error_of("[1,]").find("doc: not valid JSON: ") == 0);
    CHECK(error_of("1e400").find("doc: not valid JSON: ") == 0);
    CHECK(error_of("[1] [2]").find("doc: not valid JSON: ") == 0);
    // nlohmann reads a NUL byte as the end of input and ignores the rest: a parser differential.
    CHECK(error_of(std::string("\"X\"\0{\"hidden\":1}", 16)) ==
          "doc: not valid JSON: unexpected content after the JSON value at byte 3");
    CHECK(error_of("\"\xC0\x80\"").find("invalid UTF-8") != std::string::npos);  // overlong NUL
    CHECK(error_of(R"("\ud800")").find("high surrogate") != std::string::npos);
    CHECK(error_of("\"a\tb\"").find("control character U+0009") != std::string::npos);
    CHECK(parse_json("\xEF\xBB\xBF[1]", "doc") == json::array({1}));  // a BOM, as nlohmann reads it
    CHECK(parse_json(R"("\ud83d\ude00\u00e9\/")", "doc") == "\xF0\x9F\x98\x80\xC3\xA9/");
    CHECK(parse_json("-0", "doc").is_number_integer());
    CHECK(parse_json("1e-400", "doc") == 0.0);  // underflow is zero, as for nlohmann
    CHECK(error_of("\"" + std::string(100000, 'x')).size() < 400);
    CHECK(error_of("{\"" + std::string(10000, 'k') + "\":1,\"" + std::string(10000, 'k') + "\":2}").size() < 400);
    // Shortened names never end inside a UTF-8 sequence: the message stays valid UTF-8.
    std::string wide;
    for (int i = 0; i < 30; ++i) wide += "\xC3\xA9";
    const auto message = error_of("{\"" + wide + "\":1,\"" + wide + "\":2}");
    CHECK(message.find("duplicate key") != std::string::npos);
    CHECK_NOTHROW((void)json(message).dump());
}

TEST_CASE("json_preview never shows a whole container or a long scalar") {
    CHECK(detail::json_preview(json::parse(R"({"a":[1,2]})")) == "object");
    CHECK(detail::json_preview(json::array()) == "array");
    CHECK(detail::json_preview(json(12)) == "12");
    CHECK(detail::json_preview(json(std::string(1000, 'a'))).size() == 48);
    CHECK(detail::json_preview(json(std::string("\xff", 1))) == "\"\xEF\xBF\xBD\"");
}
