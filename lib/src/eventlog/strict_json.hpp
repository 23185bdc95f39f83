#pragma once

// JSON parsing for untrusted event logs and compose files. nlohmann keeps the last of duplicate keys
// while other parsers keep the first, so a duplicated "digest" or "event_payload" could show one
// value to tdxkit and another to a different verifier: duplicates are refused.

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tdxkit/error.hpp"

namespace tdxkit::detail {

inline nlohmann::json parse_strict_json(std::string_view text, std::string_view what) {
    using nlohmann::json;
    std::vector<std::set<std::string>> keys;  // one set per open object or array
    std::string duplicate;
    const json::parser_callback_t on_event = [&](int, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) {
            keys.emplace_back();
        } else if (event == json::parse_event_t::object_end || event == json::parse_event_t::array_end) {
            keys.pop_back();
        } else if (event == json::parse_event_t::key && !keys.back().insert(parsed.get<std::string>()).second &&
                   duplicate.empty()) {
            duplicate = parsed.get<std::string>();
        }
        return true;
    };
    json doc;
    try {
        doc = json::parse(text, on_event);
    } catch (const json::exception& e) {  // parse_error, or out_of_range for a number like 1e400
        const std::string_view msg = e.what();
        const auto start = msg.find("] ");
        throw Error(Errc::malformed, fmt::format("{}: not valid JSON: {}", what,
                                                 start == std::string_view::npos ? msg : msg.substr(start + 2)));
    }
    if (!duplicate.empty()) {
        throw Error(Errc::malformed,
                    fmt::format("{}: duplicate key \"{}\" (parsers disagree on which value counts)", what, duplicate));
    }
    return doc;
}

}  // namespace tdxkit::detail
