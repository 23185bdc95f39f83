#pragma once

// The one way JSON from outside enters libtdxkit: quote containers, event logs, runtime-event
// payloads, collateral, cache entries, policy files, PCS/PCCS responses, aTLS messages, batch lines
// and app-compose files all go through parse_json.
//
// Why not nlohmann::json::parse directly:
// - Depth: nlohmann parses iteratively, but copying, comparing and dump() of a value recurse, so
//   ~100,000 nested brackets (200 KB) overflow the stack later. The depth is limited while parsing,
//   before such a value exists.
// - Duplicate keys: nlohmann keeps the last, other parsers the first, so {"digest": A, "digest": B}
//   could show one value to tdxkit and another to a different verifier. They are refused (only the
//   app-compose normalisation, which must reproduce JavaScript's JSON.parse, keeps the last).
// - Messages: an error names the place in the document and is bounded in length; values from
//   outside are shown through json_preview, never dumped whole.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace tdxkit::detail {

// Generous for every real format: the deepest (an aTLS response holding a dstack event log) nests 4.
inline constexpr std::size_t kMaxJsonDepth = 64;

enum class DuplicateKeys {
    refuse,     // Error naming the key and its path
    last_wins,  // JavaScript's JSON.parse: the first position keeps the last value
};

struct JsonLimits {
    std::size_t max_depth = kMaxJsonDepth;
    DuplicateKeys duplicates = DuplicateKeys::refuse;
};

// Throws Error(malformed) "<what>: <path>: <problem>", e.g.
//   "policy.json: td.mrtd: duplicate key "mrtd" ...", "GetQuote: [0].a.b: JSON nested too deeply ...".
// Syntax errors and numbers out of range ("1e400") are reported as "<what>: not valid JSON: ...".
[[nodiscard]] nlohmann::json parse_json(std::string_view text, std::string_view what, JsonLimits limits = {});
[[nodiscard]] nlohmann::ordered_json parse_ordered_json(std::string_view text, std::string_view what,
                                                        JsonLimits limits = {});

// CBOR (RFC 8949) through nlohmann's reader, with the same guarantees: depth limited while reading,
// duplicate map keys refused, and also: definite lengths only, no tags, map keys that are text. Byte
// strings become binary values. Throws Error(malformed) "<what>: <problem>" (with the byte offset).
[[nodiscard]] nlohmann::json parse_cbor(std::span<const std::uint8_t> bytes, std::string_view what,
                                        std::size_t max_depth = kMaxJsonDepth);

// MessagePack through the same builder: depth limited, duplicate keys refused, map keys that are
// strings, no extension types; bin values become binary values. Throws Error(malformed).
[[nodiscard]] nlohmann::json parse_msgpack(std::span<const std::uint8_t> bytes, std::string_view what,
                                           std::size_t max_depth = kMaxJsonDepth);

// A value from outside, for a message: a scalar as JSON cut to a few dozen characters, a container
// by its type name. Never the whole value.
[[nodiscard]] std::string json_preview(const nlohmann::json& value);

}  // namespace tdxkit::detail
