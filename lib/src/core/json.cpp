#include "core/json.hpp"

#include <set>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "tdxkit/error.hpp"

namespace tdxkit::detail {
namespace {

constexpr std::size_t kMaxPathKey = 40;
constexpr std::size_t kMaxMessage = 300;
constexpr std::size_t kMaxPreview = 48;

std::string cut(std::string_view text, std::size_t max) {
    if (text.size() <= max) return std::string(text);
    return fmt::format("{}...", text.substr(0, max - 3));
}

// Builds the document through nlohmann's SAX interface, whose parser is iterative, so nothing
// deeper than the limit is ever allocated and no recursion depends on the input.
template <class Json>
class StrictBuilder {
public:
    using string_t = typename Json::string_t;

    StrictBuilder(Json& root, JsonLimits limits) : root_(root), limits_(limits) {}

    bool null() { return put(nullptr); }
    bool boolean(bool v) { return put(v); }
    bool number_integer(typename Json::number_integer_t v) { return put(v); }
    bool number_unsigned(typename Json::number_unsigned_t v) { return put(v); }
    bool number_float(typename Json::number_float_t v, const string_t&) { return put(v); }
    bool string(string_t& v) { return put(std::move(v)); }
    bool binary(typename Json::binary_t& v) { return put(Json::binary(std::move(v))); }
    bool start_object(std::size_t) { return open(Json::value_t::object); }
    bool start_array(std::size_t) { return open(Json::value_t::array); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }

    bool key(string_t& k) {
        auto& frame = frames_.back();
        auto& object = frame.value->template get_ref<typename Json::object_t&>();
        bool seen = false;
        if constexpr (std::is_same_v<Json, nlohmann::ordered_json>) {
            // ordered_map looks keys up linearly: a set keeps a wide object from costing O(n^2).
            seen = !frame.keys.insert(k).second;
        } else {
            seen = object.find(k) != object.end();
        }
        frame.key = k;
        if (seen && limits_.duplicates == DuplicateKeys::refuse) {
            return fail(
                fmt::format("duplicate key \"{}\" (parsers disagree on which value counts)", cut(k, kMaxPathKey)));
        }
        member_ = &object[k];
        return true;
    }

    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) {
        // e.what() starts with "[json.exception.parse_error.101] "; the rest locates the error.
        const std::string_view text = e.what();
        const auto start = text.find("] ");
        syntax_error_ = cut(start == std::string_view::npos ? text : text.substr(start + 2), kMaxMessage);
        return false;
    }

    [[noreturn]] void raise(std::string_view what) const {
        if (!syntax_error_.empty())
            throw Error(Errc::malformed, fmt::format("{}: not valid JSON: {}", what, syntax_error_));
        throw Error(Errc::malformed, fmt::format("{}: {}: {}", what, path_, problem_));
    }

private:
    struct Frame {
        Json* value;
        string_t key;             // objects: the member being read
        std::size_t index = 0;    // arrays: the element being read
        std::set<string_t> keys;  // ordered_json only
    };

    // Where the next value goes: the root, the next array element or the member named by key().
    Json* slot() {
        if (frames_.empty()) return &root_;
        auto& frame = frames_.back();
        if (frame.value->is_array()) {
            auto& array = frame.value->template get_ref<typename Json::array_t&>();
            frame.index = array.size();
            return &array.emplace_back();
        }
        return member_;
    }

    template <class V>
    bool put(V&& v) {
        *slot() = Json(std::forward<V>(v));
        return true;
    }

    bool open(typename Json::value_t type) {
        if (frames_.size() >= limits_.max_depth) {
            if (!frames_.empty() && frames_.back().value->is_array())
                frames_.back().index = frames_.back().value->size();
            return fail(fmt::format("JSON nested too deeply (more than {} levels)", limits_.max_depth));
        }
        auto* value = slot();
        *value = Json(type);
        frames_.push_back({value, {}, 0, {}});
        return true;
    }

    bool close() {
        frames_.pop_back();
        return true;
    }

    bool fail(std::string problem) {
        std::string path;
        for (const auto& frame : frames_) {
            if (frame.value->is_array()) {
                path += fmt::format("[{}]", frame.index);
            } else {
                path += fmt::format("{}{}", path.empty() ? "" : ".", cut(frame.key, kMaxPathKey));
            }
        }
        path_ = path.empty() ? "(document)" : cut(path, kMaxMessage);
        problem_ = std::move(problem);
        return false;
    }

    Json& root_;
    JsonLimits limits_;
    std::vector<Frame> frames_;
    Json* member_ = nullptr;
    std::string path_;
    std::string problem_;
    std::string syntax_error_;
};

template <class Json>
Json parse_with_limits(std::string_view text, std::string_view what, JsonLimits limits) {
    Json root;
    StrictBuilder<Json> builder(root, limits);
    if (!Json::sax_parse(text, &builder)) builder.raise(what);
    return root;
}

}  // namespace

nlohmann::json parse_json(std::string_view text, std::string_view what, JsonLimits limits) {
    return parse_with_limits<nlohmann::json>(text, what, limits);
}

nlohmann::ordered_json parse_ordered_json(std::string_view text, std::string_view what, JsonLimits limits) {
    return parse_with_limits<nlohmann::ordered_json>(text, what, limits);
}

std::string json_preview(const nlohmann::json& value) {
    if (value.is_structured()) return std::string(value.type_name());
    return cut(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), kMaxPreview);
}

}  // namespace tdxkit::detail
