// The strict JSON parser (core/json.hpp) against nlohmann's own: whatever it accepts, nlohmann parses
// to the same value; it never accepts a duplicate key, and never builds a value deeper than the limit.
#include <algorithm>
#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "fuzz_target.hpp"
#include "json_depth.hpp"
#include "tdxkit/error.hpp"

namespace {

// Nesting of the text, counted on brackets outside strings: nlohmann's reference parse recurses
// when its value is destroyed and compared, so very deep inputs are not given to it.
std::size_t depth_of_text(std::string_view text) {
    std::size_t depth = 0;
    std::size_t deepest = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\')
                ++i;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

void fuzz(tdxkit::ByteSpan data) {
    const auto text = fuzz_text(data);
    // nlohmann's own parser, with duplicate detection: one key set per open container.
    bool duplicate = false;
    std::vector<std::set<std::string>> keys;
    const nlohmann::json::parser_callback_t watch = [&](int, nlohmann::json::parse_event_t event,
                                                        nlohmann::json& parsed) {
        using E = nlohmann::json::parse_event_t;
        if (event == E::object_start || event == E::array_start) keys.emplace_back();
        if (event == E::object_end || event == E::array_end) keys.pop_back();
        if (event == E::key) duplicate |= !keys.back().insert(parsed.get<std::string>()).second;
        return true;
    };
    const auto reference = text.size() < 4096 || depth_of_text(text) < 1000
                               ? nlohmann::json::parse(text, watch, false)
                               : nlohmann::json(nlohmann::json::value_t::discarded);
    nlohmann::json strict;
    try {
        strict = tdxkit::detail::parse_json(text, "fuzz", {.max_depth = 8});
    } catch (const tdxkit::Error& e) {
        // Refused as JSON: nlohmann must refuse it too, except that nlohmann reads a NUL byte as the
        // end of input and ignores what follows, which the strict parser refuses on purpose.
        // Refused for a limit: nlohmann may accept it.
        const bool syntax = std::string_view(e.what()).find("not valid JSON") != std::string_view::npos;
        const bool nul = text.find('\0') != std::string_view::npos;
        if (syntax && !nul && !reference.is_discarded()) std::abort();
        return;
    }
    // The limit bounds the recursion here: a value deeper than 8 would be a bug, and is not walked.
    if (json_depth(strict, 9) > 8) std::abort();
    if (reference.is_discarded() || duplicate || reference != strict) std::abort();
}

}  // namespace
TDXKIT_FUZZ_TARGET(fuzz)
