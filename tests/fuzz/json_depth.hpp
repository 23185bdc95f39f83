#pragma once

// The nesting depth of a value the strict JSON, CBOR or MessagePack reader built, walked at most
// `limit` levels down: a value deeper than the reader's limit is a finding, and is not walked further.

#include <algorithm>
#include <cstddef>

#include <nlohmann/json.hpp>

inline std::size_t json_depth(const nlohmann::json& value, std::size_t limit) {
    if (!value.is_structured() || limit == 0) return 0;
    std::size_t deepest = 0;
    for (const auto& child : value) deepest = std::max(deepest, json_depth(child, limit - 1));
    return deepest + 1;
}
