#include "core/json_fields.hpp"

#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/json.hpp"

namespace tdxkit::detail {

using nlohmann::json;

JsonField::JsonField(const json& value, std::string path, JsonErrors errors)
    : JsonField(value, std::move(path), {}, errors) {}

JsonField::JsonField(const json& value, std::string path, std::string_view key, JsonErrors errors)
    : value_(&value), path_(std::move(path)), key_(key), errors_(errors) {}

std::string_view JsonField::path() const noexcept {
    return path_.empty() ? std::string_view("(document)") : std::string_view(path_);
}

void JsonField::fail(std::string_view problem) const { fail_at(path(), problem); }

void JsonField::fail_at(std::string_view at, std::string_view problem) const {
    throw Error(errors_.code, errors_.source.empty() ? fmt::format("{}: {}", at, problem)
                                                     : fmt::format("{}: {}: {}", errors_.source, at, problem));
}

bool JsonField::boolean() const {
    if (!value_->is_boolean()) fail(fmt::format("expected true or false, got {}", value_->type_name()));
    return value_->get<bool>();
}

std::uint64_t JsonField::unsigned_integer(std::uint64_t max) const {
    if (!value_->is_number_unsigned() || value_->get<std::uint64_t>() > max) {
        fail(fmt::format("expected an integer from 0 to {}, got {}", max, json_preview(*value_)));
    }
    return value_->get<std::uint64_t>();
}

const std::string& JsonField::string() const {
    if (!value_->is_string()) fail(fmt::format("expected a string, got {}", value_->type_name()));
    return value_->get_ref<const std::string&>();
}

Bytes JsonField::hex(std::size_t size) const {
    if (!value_->is_string()) fail(fmt::format("expected a hex string of {} bytes, got {}", size, value_->type_name()));
    Bytes out;
    try {
        out = from_hex(value_->get_ref<const std::string&>(), path());
    } catch (const Error& e) {
        // from_hex names the path itself; only the user's code and source are added.
        throw Error(errors_.code, errors_.source.empty() ? e.what() : fmt::format("{}: {}", errors_.source, e.what()));
    }
    if (out.size() != size) {
        fail(fmt::format("expected {} bytes ({} hex digits), got {} bytes", size, 2 * size, out.size()));
    }
    return out;
}

UnixTime JsonField::time() const {
    const auto& text = string();
    try {
        return parse_time(text);
    } catch (const Error&) {
        fail(fmt::format("'{}' is not an RFC 3339 time (2024-03-13T00:00:00Z)", text));
    }
}

void JsonField::require_object() const {
    if (!value_->is_object()) fail(fmt::format("expected an object, got {}", value_->type_name()));
}

std::string JsonField::member_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : fmt::format("{}.{}", path_, key);
}

JsonField JsonField::member(std::string_view key) const {
    auto found = optional_member(key);
    if (!found) missing_member(key);
    return std::move(*found);
}

std::optional<JsonField> JsonField::optional_member(std::string_view key) const {
    require_object();
    const auto& object = value_->get_ref<const json::object_t&>();
    const auto it = object.find(key);
    if (it == object.end()) return std::nullopt;
    return JsonField(it->second, member_path(it->first), it->first, errors_);
}

std::vector<JsonField> JsonField::members() const {
    require_object();
    std::vector<JsonField> out;
    for (const auto& [key, value] : value_->get_ref<const json::object_t&>()) {
        out.push_back(JsonField(value, member_path(key), key, errors_));
    }
    return out;
}

void JsonField::missing_member(std::string_view key, std::string_view example) const {
    fail_at(member_path(key), example.empty() ? std::string("required") : fmt::format("required ({})", example));
}

void JsonField::unknown_key(std::span<const std::string_view> allowed) const {
    fail(fmt::format("unknown key (allowed here: {})", fmt::join(allowed, ", ")));
}

std::vector<JsonField> JsonField::elements() const {
    if (!value_->is_array()) fail(fmt::format("expected an array, got {}", value_->type_name()));
    std::vector<JsonField> out;
    out.reserve(value_->size());
    for (std::size_t i = 0; i < value_->size(); ++i) {
        out.push_back(JsonField((*value_)[i], fmt::format("{}[{}]", path_, i), {}, errors_));
    }
    return out;
}

}  // namespace tdxkit::detail
