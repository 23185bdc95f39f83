#include "tdxkit/input.hpp"

#include <algorithm>
#include <array>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/hex.hpp"
#include "core/json.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit {
namespace {

using nlohmann::json;

constexpr bool is_space(std::uint8_t c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
constexpr bool is_hex(std::uint8_t c) noexcept {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr bool is_base64(std::uint8_t c) noexcept {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
           c == '=' || c == '-' || c == '_';
}

std::string_view as_text(ByteSpan data) { return {reinterpret_cast<const char*>(data.data()), data.size()}; }

InputFormat detect(ByteSpan data) {
    const auto first = std::find_if_not(data.begin(), data.end(), is_space);
    if (first == data.end()) throw Error(Errc::malformed, "input is empty");
    if (*first == '{' || *first == '[') return InputFormat::json;
    const auto text = as_text(data);
    std::string_view trimmed = text.substr(static_cast<std::size_t>(first - data.begin()));
    if (trimmed.starts_with("0x") || trimmed.starts_with("0X")) trimmed.remove_prefix(2);
    // One pass over what may be a 10 KB quote: which alphabets every character belongs to.
    static constexpr std::uint8_t kHex = 1;
    static constexpr std::uint8_t kBase64 = 2;
    static constexpr auto kClass = [] {
        std::array<std::uint8_t, 256> table{};
        for (int c = 0; c < 256; ++c) {
            const auto b = static_cast<std::uint8_t>(c);
            table[b] = static_cast<std::uint8_t>((is_hex(b) || is_space(b) ? kHex : 0) |
                                                 (is_base64(b) || is_space(b) ? kBase64 : 0));
        }
        return table;
    }();
    std::uint8_t all = kHex | kBase64;
    for (const auto c : as_bytes(trimmed)) all &= kClass[c];
    if ((all & kHex) != 0) return InputFormat::hex;
    if ((all & kBase64) != 0) return InputFormat::base64;
    return InputFormat::raw;
}

// A quote given as a JSON string: hex (the dstack and aTLS convention) or base64.
Bytes quote_from_string(const std::string& s, std::string_view where) {
    std::string_view body{s};
    if (body.starts_with("0x")) body.remove_prefix(2);
    if (std::all_of(body.begin(), body.end(), [](char c) { return is_hex(static_cast<std::uint8_t>(c)); })) {
        return from_hex(s, where);
    }
    return from_base64(s, where);
}

std::optional<std::string> event_log_text(const json& obj) {
    const auto it = obj.find("event_log");
    if (it == obj.end() || it->is_null()) return std::nullopt;
    // An array is written back as text for parse_event_log, which parses it again strictly; its depth
    // and size are already bounded by the parse of the container.
    return it->is_string() ? it->get<std::string>() : it->dump();
}

QuoteInput from_json(ByteSpan data) {
    const auto doc = detail::parse_json(as_text(data), "JSON input");
    QuoteInput in;
    in.format = InputFormat::json;
    if (doc.is_array()) {
        in.container = "JSON byte array";
        in.quote.reserve(doc.size());
        for (std::size_t i = 0; i < doc.size(); ++i) {
            const auto& v = doc[i];
            if (!v.is_number_unsigned() || v.get<std::uint64_t>() > 255) {
                throw Error(Errc::malformed, fmt::format("JSON byte array: element {} is not a byte", i));
            }
            in.quote.push_back(static_cast<std::uint8_t>(v.get<std::uint64_t>()));
        }
        return in;
    }
    if (!doc.is_object()) throw Error(Errc::malformed, "JSON input: expected an object or a byte array");
    const auto q = doc.find("quote");
    if (q == doc.end()) throw Error(Errc::malformed, "JSON input: no \"quote\" field");
    if (q->is_string()) {
        in.container = "dstack GetQuote response";
        in.quote = quote_from_string(q->get<std::string>(), "JSON field quote");
        in.event_log = event_log_text(doc);
        return in;
    }
    if (q->is_object()) {
        const auto inner = q->find("quote");
        if (inner == q->end() || !inner->is_string()) {
            throw Error(Errc::malformed, "JSON input: \"quote\" object has no string field \"quote\"");
        }
        in.container = "aTLS /tdx_quote response";
        in.quote = quote_from_string(inner->get<std::string>(), "JSON field quote.quote");
        in.event_log = event_log_text(*q);
        return in;
    }
    throw Error(Errc::malformed, "JSON input: \"quote\" must be a hex string or an object");
}

}  // namespace

InputFormat parse_input_format(std::string_view name) {
    if (name == "auto") return InputFormat::automatic;
    if (name == "raw" || name == "bin" || name == "binary") return InputFormat::raw;
    if (name == "hex") return InputFormat::hex;
    if (name == "base64") return InputFormat::base64;
    if (name == "json") return InputFormat::json;
    throw Error(Errc::invalid_argument, fmt::format("unknown input format '{}' (auto, raw, hex, base64, json)", name));
}

const char* input_format_name(InputFormat f) noexcept {
    switch (f) {
    case InputFormat::automatic: return "auto";
    case InputFormat::raw: return "raw";
    case InputFormat::hex: return "hex";
    case InputFormat::base64: return "base64";
    case InputFormat::json: return "json";
    }
    return "auto";
}

QuoteInput decode_quote_input(ByteSpan data, InputFormat format) {
    std::optional<Bytes> decoded_hex;
    if (format == InputFormat::automatic) {
        // Hex is the usual form (dstack, aTLS, batch lines), and decoding it is also the test for it:
        // one pass over a 10 KB quote instead of a classifying pass and then a decoding pass.
        const auto first = std::find_if_not(data.begin(), data.end(), is_space);
        if (first != data.end() && *first != '{' && *first != '[') decoded_hex = detail::decode_if_hex(as_text(data));
        format = decoded_hex ? InputFormat::hex : detect(data);
    }
    QuoteInput in;
    in.format = format;
    switch (format) {
    case InputFormat::raw:
        in.container = "raw";
        in.quote.assign(data.begin(), data.end());
        return in;
    case InputFormat::hex:
        in.container = "hex";
        in.quote = decoded_hex ? std::move(*decoded_hex) : from_hex(as_text(data), "hex quote");
        return in;
    case InputFormat::base64:
        in.container = "base64";
        in.quote = from_base64(as_text(data), "base64 quote");
        return in;
    case InputFormat::json: return from_json(data);
    case InputFormat::automatic: break;
    }
    throw Error(Errc::internal, "unreachable input format");
}

void parse_batch_request(std::string_view line, BatchRequest& out) {
    const auto request = detail::parse_json(line, "batch line");
    if (!request.is_object()) throw Error(Errc::malformed, "batch line must be a JSON object");
    if (const auto id = request.find("id"); id != request.end()) {
        // Only scalars are echoed, so a result line never grows with what the input nests.
        if (id->is_structured()) throw Error(Errc::malformed, "batch line: \"id\" must be a string, a number or null");
        out.id_json = id->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    for (const auto& [key, value] : request.items()) {
        if (key != "id" && key != "quote" && key != "event_log") {
            throw Error(Errc::malformed,
                        fmt::format("batch line: unknown field \"{:.40}\" (id, quote, event_log)", key));
        }
    }
    const auto q = request.find("quote");
    if (q == request.end() || !q->is_string()) throw Error(Errc::malformed, "batch line: \"quote\" must be a string");
    out.input = decode_quote_input(as_bytes(q->get_ref<const std::string&>()));
    if (auto log = event_log_text(request)) out.input.event_log = std::move(log);
}

}  // namespace tdxkit
