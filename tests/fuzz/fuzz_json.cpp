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
#include "tdxkit/error.hpp"

namespace {

std::size_t depth(const nlohmann::json& v, std::size_t limit) {
    if (!v.is_structured() || limit == 0) return 0;
    std::size_t deepest = 0;
    for (const auto& child : v) deepest = std::max(deepest, depth(child, limit - 1));
    return deepest + 1;
}

void fuzz(tdxkit::ByteSpan data) {
    const auto text = fuzz_text(data);
    nlohmann::json strict;
    try {
        strict = tdxkit::detail::parse_json(text, "fuzz", {.max_depth = 8});
    } catch (const tdxkit::Error&) {
        return;
    }
    // The limit bounds the recursion here: a value deeper than 8 would be a bug, and is not walked.
    if (depth(strict, 9) > 8) std::abort();
    // nlohmann's callback parser, with its own duplicate detection: one key set per open container.
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
    const auto reference = nlohmann::json::parse(text, watch);
    if (duplicate || reference != strict) std::abort();
}

}  // namespace
TDXKIT_FUZZ_TARGET(fuzz)
