#pragma once

// Quote containers users already hold: raw bytes, hex, base64, and JSON wrappers (dstack GetQuote
// response, aTLS /tdx_quote response, a JSON byte array).

#include <optional>
#include <string>
#include <string_view>

#include "tdxkit/bytes.hpp"
#include "tdxkit/export.hpp"

namespace tdxkit {

enum class InputFormat { automatic, raw, hex, base64, json };

// "auto", "raw" (also "bin", "binary"), "hex", "base64", "json"; Error(invalid_argument) otherwise.
[[nodiscard]] TDXKIT_EXPORT InputFormat parse_input_format(std::string_view name);
// The name parse_input_format reads back ("auto" for automatic).
[[nodiscard]] TDXKIT_EXPORT const char* input_format_name(InputFormat f) noexcept;

struct QuoteInput {
    Bytes quote;
    InputFormat format = InputFormat::raw;  // what was detected or forced
    std::string container;                  // "raw", "hex", "base64", "dstack GetQuote response", ...
    std::optional<std::string> event_log;   // JSON text of an event log carried next to the quote; unset: none
};

// Unwraps one quote; the bytes are not parsed (parse_quote does that). `automatic` takes JSON when
// the first non-blank byte is '{' or '[', else hex or base64 when every character is of that
// alphabet (hex first), else raw. Throws Error(malformed) when the input is none of the accepted
// forms, is empty (automatic) or does not decode in the forced format; raw never fails.
[[nodiscard]] TDXKIT_EXPORT QuoteInput decode_quote_input(ByteSpan data, InputFormat format = InputFormat::automatic);

// One line of `tdxkit verify --batch`: {"id": ..., "quote": "<any text form above>", "event_log": ...}.
struct BatchRequest {
    std::string id_json = "null";  // "id" as compact JSON: a string, a number or null (echoed in the result)
    QuoteInput input;              // input.event_log: the line's "event_log" (a JSON string or array) if given
};

// Parses a batch line into `out` with the library's strict JSON parser (depth-limited, duplicate keys
// refused). The id is stored first, so that when it then throws Error(malformed) (an unknown member,
// no "quote", a bad quote) the caller can still name the line; bad JSON or a structured "id" leave
// out.id_json "null".
TDXKIT_EXPORT void parse_batch_request(std::string_view line, BatchRequest& out);

}  // namespace tdxkit
