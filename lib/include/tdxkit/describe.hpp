#pragma once

// Human and JSON renderings of a decoded quote (`tdxkit quote decode`). The JSON schema is
// "tdxkit.quote/v1", documented in lib/docs/json-schemas.md.

#include <optional>
#include <string>
#include <vector>

#include "tdxkit/export.hpp"
#include "tdxkit/input.hpp"
#include "tdxkit/pck.hpp"
#include "tdxkit/quote.hpp"

namespace tdxkit {

// `quote` as parse_quote returned it; `input` supplies the format and container shown. Nothing is
// verified, but the PCK chain of type-5 certification data is decoded: Error(malformed) when it does
// not decode (a PEM or DER error, a bad SGX extension), Error(crypto) when OpenSSL fails. The JSON
// ends with a newline.
[[nodiscard]] TDXKIT_EXPORT std::string describe_quote_json(const Quote& quote, const QuoteInput& input);
[[nodiscard]] TDXKIT_EXPORT std::string describe_quote_text(const Quote& quote, const QuoteInput& input);

}  // namespace tdxkit
