#pragma once

// Private to the library.

#include <optional>
#include <string_view>

#include "tdxkit/bytes.hpp"

namespace tdxkit::detail {

// The bytes of `text` when it is what from_hex accepts (hex digits and whitespace, an optional 0x
// prefix, an even number of digits, at least one); nullopt otherwise. Never throws for bad input:
// a caller that is guessing the format tries hex first without paying for an exception.
[[nodiscard]] std::optional<Bytes> decode_if_hex(std::string_view text);

}  // namespace tdxkit::detail
