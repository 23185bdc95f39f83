#include "core/json.hpp"

#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <type_traits>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "core/json_scan.hpp"
#include "core/utf8.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit::detail {
namespace {

constexpr std::size_t kMaxPathKey = 40;
constexpr std::size_t kMaxMessage = 300;
constexpr std::size_t kMaxPreview = 48;

// Shortens text for a message without splitting a UTF-8 sequence: a message must stay valid UTF-8,
// or rendering it as JSON fails.
std::string cut(std::string_view text, std::size_t max) {
    if (text.size() <= max) return std::string(text);
    std::size_t end = max - 3;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0U) == 0x80U) --end;
    return fmt::format("{}...", text.substr(0, end));
}

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void append_utf8(std::string& out, std::uint32_t cp) {
    if (cp < 0x80) {
        out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
        out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
        out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
        out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
        out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
}

// A JSON parser (RFC 8259) that builds nlohmann values. It is iterative (an explicit stack of open
// containers), so neither nesting nor length reaches the C++ stack; it checks depth and duplicate
// keys as it goes; and it scans strings in runs rather than a character at a time, so that a batch
// line carrying a 10 KB hex quote costs a few microseconds. What it accepts and the values it builds
// are nlohmann's own (tests/fuzz/fuzz_json.cpp checks this against nlohmann::json::parse).
template <class Json>
class Parser {
public:
    using string_t = typename Json::string_t;

    Parser(std::string_view text, std::string_view what, JsonLimits limits)
        : text_(text), what_(what), limits_(limits) {}

    Json parse() {
        Json root;
        // nlohmann skips a UTF-8 byte order mark at the very start; so does this parser.
        if (text_.substr(0, 3) == "\xEF\xBB\xBF") pos_ = 3;
        skip_space();
        value(root);
        while (!frames_.empty()) step();
        skip_space();
        if (pos_ != text_.size()) syntax("unexpected content after the JSON value");
        return root;
    }

private:
    struct Frame {
        Json* value = nullptr;
        bool is_array = false;
        bool empty = true;
        string_t key;             // objects: the member being read
        std::size_t index = 0;    // arrays: the element being read
        std::set<string_t> keys;  // ordered_json only: its map looks keys up linearly
    };

    // One element or member of the innermost open container, or its end.
    void step() {
        skip_space();
        auto& frame = frames_.back();
        const char close = frame.is_array ? ']' : '}';
        if (peek() == close) {
            ++pos_;
            frames_.pop_back();
            return;
        }
        if (!frame.empty) {
            if (peek() != ',') syntax(fmt::format("expected ',' or '{}'", close));
            ++pos_;
            skip_space();
        }
        frame.empty = false;
        if (frame.is_array) {
            auto& array = frame.value->template get_ref<typename Json::array_t&>();
            frame.index = array.size();
            value(array.emplace_back());  // may push a frame: `frame` is not used after this
            return;
        }
        if (peek() != '"') syntax("expected a member name in quotes");
        auto name = string();
        skip_space();
        if (peek() != ':') syntax("expected ':' after a member name");
        ++pos_;
        skip_space();
        auto& object = frame.value->template get_ref<typename Json::object_t&>();
        bool seen = false;
        if constexpr (std::is_same_v<Json, nlohmann::ordered_json>) {
            seen = !frame.keys.insert(name).second;
        } else {
            seen = object.find(name) != object.end();
        }
        frame.key = name;
        if (seen && limits_.duplicates == DuplicateKeys::refuse) {
            fail(fmt::format("duplicate key \"{}\" (parsers disagree on which value counts)", cut(name, kMaxPathKey)));
        }
        value(object[std::move(name)]);
    }

    void value(Json& slot) {
        switch (peek()) {
        case '{': open(slot, false); return;
        case '[': open(slot, true); return;
        case '"': slot = string(); return;
        case 't': literal("true"), slot = true; return;
        case 'f': literal("false"), slot = false; return;
        case 'n': literal("null"), slot = nullptr; return;
        default: break;
        }
        if (peek() == '-' || is_digit(peek())) {
            number(slot);
            return;
        }
        syntax(pos_ == text_.size() ? "unexpected end of input, expected a value" : "expected a value");
    }

    void open(Json& slot, bool is_array) {
        if (frames_.size() >= limits_.max_depth) {
            fail(fmt::format("JSON nested too deeply (more than {} levels)", limits_.max_depth));
        }
        ++pos_;
        slot = is_array ? Json::array() : Json::object();
        frames_.push_back(Frame{&slot, is_array, true, {}, 0, {}});
    }

    void literal(std::string_view word) {
        if (text_.substr(pos_, word.size()) != word) syntax("invalid literal");
        pos_ += word.size();
    }

    void number(Json& slot) {
        const auto start = pos_;
        bool integer = true;
        if (peek() == '-') ++pos_;
        if (peek() == '0') {
            ++pos_;
        } else if (is_digit(peek())) {
            while (is_digit(peek())) ++pos_;
        } else {
            syntax("invalid number: expected a digit");
        }
        if (peek() == '.') {
            integer = false;
            ++pos_;
            if (!is_digit(peek())) syntax("invalid number: expected a digit after '.'");
            while (is_digit(peek())) ++pos_;
        }
        if (peek() == 'e' || peek() == 'E') {
            integer = false;
            ++pos_;
            if (peek() == '+' || peek() == '-') ++pos_;
            if (!is_digit(peek())) syntax("invalid number: expected a digit in the exponent");
            while (is_digit(peek())) ++pos_;
        }
        const std::string token(text_.substr(start, pos_ - start));
        // As nlohmann: an integer that fits is kept exactly (unsigned unless negative); anything else
        // is a double, and a double beyond its range is an error rather than infinity.
        char* end = nullptr;
        errno = 0;
        if (integer && token[0] == '-') {
            const long long v = std::strtoll(token.c_str(), &end, 10);
            if (errno == 0) {
                slot = static_cast<typename Json::number_integer_t>(v);
                return;
            }
        } else if (integer) {
            const unsigned long long v = std::strtoull(token.c_str(), &end, 10);
            if (errno == 0) {
                slot = static_cast<typename Json::number_unsigned_t>(v);
                return;
            }
        }
        const double v = std::strtod(token.c_str(), &end);
        if (!std::isfinite(v)) syntax(fmt::format("number overflow parsing '{}'", cut(token, 40)), start);
        slot = v;
    }

    string_t string() {
        ++pos_;  // the opening quote
        string_t out;
        while (true) {
            const auto run_start = pos_;
            pos_ = plain_json_run_end(text_, pos_);
            out.append(text_.data() + run_start, pos_ - run_start);
            if (pos_ == text_.size()) syntax("unterminated string");
            const auto c = static_cast<unsigned char>(text_[pos_]);
            if (c == '"') {
                ++pos_;
                return out;
            }
            if (c < 0x20) syntax(fmt::format("control character U+{:04X} must be escaped in a string", c));
            if (c >= 0x80) {
                const auto length = utf8_sequence(text_.substr(pos_));
                if (length == 0) syntax("invalid UTF-8 in a string");
                out.append(text_.data() + pos_, length);
                pos_ += length;
                continue;
            }
            escape(out);
        }
    }

    void escape(string_t& out) {
        ++pos_;  // the backslash
        const char c = peek();
        ++pos_;
        switch (c) {
        case '"': out.push_back('"'); return;
        case '\\': out.push_back('\\'); return;
        case '/': out.push_back('/'); return;
        case 'b': out.push_back('\b'); return;
        case 'f': out.push_back('\f'); return;
        case 'n': out.push_back('\n'); return;
        case 'r': out.push_back('\r'); return;
        case 't': out.push_back('\t'); return;
        case 'u': break;
        default: syntax("invalid escape in a string", pos_ - 2);
        }
        std::uint32_t cp = code_unit();
        if (cp >= 0xDC00 && cp <= 0xDFFF) syntax("a low surrogate \\u escape without a high one");
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (text_.substr(pos_, 2) != "\\u") syntax("a high surrogate \\u escape must be followed by a low one");
            pos_ += 2;
            const auto low = code_unit();
            if (low < 0xDC00 || low > 0xDFFF) syntax("a high surrogate \\u escape must be followed by a low one");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
        }
        append_utf8(out, cp);
    }

    std::uint32_t code_unit() {
        std::uint32_t unit = 0;
        for (int i = 0; i < 4; ++i) {
            const int digit = hex_value(peek());
            if (digit < 0) syntax("a \\u escape needs four hex digits");
            unit = unit << 4 | static_cast<std::uint32_t>(digit);
            ++pos_;
        }
        return unit;
    }

    [[nodiscard]] char peek() const noexcept { return pos_ < text_.size() ? text_[pos_] : '\0'; }

    void skip_space() noexcept {
        while (pos_ < text_.size() &&
               (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r')) {
            ++pos_;
        }
    }

    [[noreturn]] void syntax(std::string_view problem) const { syntax(problem, pos_); }
    [[noreturn]] void syntax(std::string_view problem, std::size_t at) const {
        throw Error(Errc::malformed,
                    cut(fmt::format("{}: not valid JSON: {} at byte {}", what_, problem, at), kMaxMessage));
    }

    // A well-formed document that breaks a limit: named by the path of the value at fault.
    [[noreturn]] void fail(const std::string& problem) const {
        std::string path;
        for (const auto& frame : frames_) {
            if (frame.is_array) {
                path += fmt::format("[{}]", frame.index);
            } else {
                path += fmt::format("{}{}", path.empty() ? "" : ".", cut(frame.key, kMaxPathKey));
            }
        }
        throw Error(Errc::malformed,
                    fmt::format("{}: {}: {}", what_, path.empty() ? "(document)" : cut(path, kMaxMessage), problem));
    }

    std::string_view text_;
    std::string_view what_;
    JsonLimits limits_;
    std::size_t pos_ = 0;
    std::vector<Frame> frames_;
};

}  // namespace

nlohmann::json parse_json(std::string_view text, std::string_view what, JsonLimits limits) {
    return Parser<nlohmann::json>(text, what, limits).parse();
}

nlohmann::ordered_json parse_ordered_json(std::string_view text, std::string_view what, JsonLimits limits) {
    return Parser<nlohmann::ordered_json>(text, what, limits).parse();
}

std::string json_preview(const nlohmann::json& value) {
    if (value.is_structured()) return std::string(value.type_name());
    return cut(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), kMaxPreview);
}

namespace {

// Builds the value as nlohmann's DOM parser does, refusing what the strict reading forbids before the
// reader goes deeper: returning false from a callback stops nlohmann's (recursive) CBOR reader.
class StrictBinaryBuilder {
public:
    using json = nlohmann::json;

    explicit StrictBinaryBuilder(std::size_t max_depth) : max_depth_(max_depth) {}

    bool null() { return put(nullptr); }
    bool boolean(bool v) { return put(v); }
    bool number_integer(json::number_integer_t v) { return put(v); }
    bool number_unsigned(json::number_unsigned_t v) { return put(v); }
    bool number_float(json::number_float_t v, const json::string_t&) { return put(v); }
    // Text is UTF-8 here as in JSON: a reader given the same document as JSON would refuse it otherwise.
    bool string(json::string_t& v) {
        if (!is_utf8(v)) return refuse("a text string that is not UTF-8");
        return put(std::move(v));
    }
    bool binary(json::binary_t& v) {
        // A msgpack extension type arrives as binary with a subtype; no format read here defines one.
        if (v.has_subtype()) return refuse(fmt::format("extension type {} (not expected here)", v.subtype()));
        return put(json::binary(std::move(static_cast<json::binary_t::container_type&>(v))));
    }
    bool start_object(std::size_t size) { return open(json::object(), size); }
    bool start_array(std::size_t size) { return open(json::array(), size); }
    bool end_object() { return close(); }
    bool end_array() { return close(); }
    bool key(json::string_t& name) {
        if (!is_utf8(name)) return refuse("a map key that is not UTF-8");
        auto& object = *stack_.back();
        if (object.contains(name)) {
            return refuse(fmt::format("duplicate map key \"{}\" (decoders disagree on which value counts)",
                                      cut(name, kMaxPathKey)));
        }
        member_ = &object[name];
        return true;
    }
    bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) {
        // nlohmann's message names the byte; keep its reason, bounded.
        return refuse(fmt::format("byte {}: {}", position, cut(e.what(), kMaxMessage)));
    }

    [[nodiscard]] const std::string& problem() const noexcept { return problem_; }
    json take() && { return std::move(root_); }

private:
    template <class V>
    bool put(V&& v) {
        slot() = json(std::forward<V>(v));
        return true;
    }
    json& slot() {
        if (stack_.empty()) return root_;
        auto& top = *stack_.back();
        if (top.is_array()) return top.emplace_back();
        return *member_;
    }
    bool open(json empty, std::size_t size) {
        if (size == static_cast<std::size_t>(-1)) return refuse("indefinite-length map or array (expected definite)");
        if (stack_.size() >= max_depth_)
            return refuse(fmt::format("nested too deeply (more than {} levels)", max_depth_));
        auto& s = slot();
        s = std::move(empty);
        stack_.push_back(&s);
        return true;
    }
    bool close() {
        stack_.pop_back();
        return true;
    }
    bool refuse(std::string problem) {
        if (problem_.empty()) problem_ = std::move(problem);
        return false;
    }

    std::size_t max_depth_;
    json root_;
    std::vector<json*> stack_;
    json* member_ = nullptr;
    std::string problem_;
};

nlohmann::json parse_binary(std::span<const std::uint8_t> bytes, std::string_view what, std::size_t max_depth,
                            nlohmann::json::input_format_t format, std::string_view format_name) {
    StrictBinaryBuilder builder(max_depth);
    bool ok = false;
    try {
        ok = nlohmann::json::sax_parse(bytes.begin(), bytes.end(), &builder, format);
    } catch (const nlohmann::json::exception& e) {
        // A map key that is not a text string, a CBOR tag: nlohmann throws instead of reporting.
        throw Error(Errc::malformed,
                    fmt::format("{}: not valid {}: {}", what, format_name, cut(e.what(), kMaxMessage)));
    }
    if (!ok) {
        throw Error(Errc::malformed, fmt::format("{}: {}", what,
                                                 builder.problem().empty() ? fmt::format("not valid {}", format_name)
                                                                           : builder.problem()));
    }
    return std::move(builder).take();
}

}  // namespace

nlohmann::json parse_cbor(std::span<const std::uint8_t> bytes, std::string_view what, std::size_t max_depth) {
    return parse_binary(bytes, what, max_depth, nlohmann::json::input_format_t::cbor, "CBOR");
}

nlohmann::json parse_msgpack(std::span<const std::uint8_t> bytes, std::string_view what, std::size_t max_depth) {
    return parse_binary(bytes, what, max_depth, nlohmann::json::input_format_t::msgpack, "msgpack");
}

}  // namespace tdxkit::detail
