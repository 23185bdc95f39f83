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

[[nodiscard]] TDXKIT_EXPORT InputFormat parse_input_format(std::string_view name);
[[nodiscard]] TDXKIT_EXPORT const char* input_format_name(InputFormat f) noexcept;

struct QuoteInput {
    Bytes quote;
    InputFormat format = InputFormat::raw;  // what was detected or forced
    std::string container;                  // "raw", "hex", "base64", "dstack GetQuote response", ...
    std::optional<std::string> event_log;   // JSON text of an event log carried next to the quote
};

// Unwraps one quote. Throws Error(malformed) when the input is none of the accepted forms.
[[nodiscard]] TDXKIT_EXPORT QuoteInput decode_quote_input(ByteSpan data, InputFormat format = InputFormat::automatic);

}  // namespace tdxkit
