#pragma once

// Typed reads from a document parse_json produced, each failure naming the JSON path of the value at
// fault:
//   tcbInfo.tcbLevels[3].tcb.sgxtcbcomponents[0].svn: expected an integer from 0 to 255, got "x"
// Shared by the formats tdxkit reads member by member (policy files, TCB Info, QE Identity), so each
// refuses the same mistakes in the same words. The error stays its user's: see JsonErrors.

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tdxkit/bytes.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/time.hpp"

namespace tdxkit::detail {

// How a user reports a bad value: Error(code, "<source>: <path>: <problem>"), or "<path>: <problem>"
// when `source` is empty. A policy file's mistakes are usage errors led by the file's name; a
// collateral item's are malformed input whose paths start with the item's own name.
struct JsonErrors {
    Errc code = Errc::malformed;
    std::string_view source;  // must outlive every JsonField that reports with it
};

// A value of a document and where it sits. The document must outlive it.
class JsonField {
public:
    // `path` names the value: a document's name ("tcbInfo"), or empty so that paths start at the
    // members ("td.mrtd"), as a policy file's do. An empty path is shown as "(document)".
    JsonField(const nlohmann::json& value, std::string path, JsonErrors errors);
    JsonField(const nlohmann::json&& value, std::string path, JsonErrors errors) = delete;  // would dangle

    [[nodiscard]] const nlohmann::json& value() const noexcept { return *value_; }
    // Its name in the object that holds it; empty for an array element or the document.
    [[nodiscard]] std::string_view key() const noexcept { return key_; }
    [[nodiscard]] std::string_view path() const noexcept;

    // Throws the user's Error for "<path>: <problem>".
    [[noreturn]] void fail(std::string_view problem) const;

    [[nodiscard]] bool boolean() const;
    // A non-negative integer no larger than `max`: never a float, a string or a negative number.
    template <std::unsigned_integral T>
    [[nodiscard]] T integer(T max = std::numeric_limits<T>::max()) const {
        return static_cast<T>(unsigned_integer(max));
    }
    [[nodiscard]] const std::string& string() const;
    // A string of exactly `size` bytes in hex, as from_hex reads it.
    [[nodiscard]] Bytes hex(std::size_t size) const;
    template <std::size_t N>
    [[nodiscard]] Octets<N> octets() const {
        const auto bytes = hex(N);
        Octets<N> out{};
        std::copy(bytes.begin(), bytes.end(), out.begin());
        return out;
    }
    // An RFC 3339 time, as parse_time reads it.
    [[nodiscard]] UnixTime time() const;

    // Objects. Members the user does not ask for are ignored, because Intel adds members to its
    // formats; a user that must not ignore any (a misspelled policy rule would go unchecked) walks
    // members() and calls unknown_key on each it does not know.
    [[nodiscard]] JsonField member(std::string_view key) const;  // absent: missing_member(key)
    [[nodiscard]] std::optional<JsonField> optional_member(std::string_view key) const;
    [[nodiscard]] std::vector<JsonField> members() const;  // in key order, as nlohmann keeps them
    // "<path>.<key>: required", or "required (<example>)".
    [[noreturn]] void missing_member(std::string_view key, std::string_view example = {}) const;
    // On a member: "<path>: unknown key (allowed here: <allowed, comma-separated>)".
    [[noreturn]] void unknown_key(std::span<const std::string_view> allowed) const;

    // Arrays.
    [[nodiscard]] std::vector<JsonField> elements() const;

private:
    JsonField(const nlohmann::json& value, std::string path, std::string_view key, JsonErrors errors);
    [[noreturn]] void fail_at(std::string_view at, std::string_view problem) const;
    [[nodiscard]] std::uint64_t unsigned_integer(std::uint64_t max) const;
    void require_object() const;
    [[nodiscard]] std::string member_path(std::string_view key) const;

    const nlohmann::json* value_;
    std::string path_;
    std::string_view key_;
    JsonErrors errors_;
};

}  // namespace tdxkit::detail
