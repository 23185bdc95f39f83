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
#include "tdxkit/ratls.hpp"

namespace tdxkit {

// `quote` as parse_quote returned it from `evidence.quote`; `evidence` supplies the format and
// container shown, and what an RA-TLS certificate, attestation or event log added. Nothing is
// verified, but the PCK chain of type-5 certification data is decoded: Error(malformed) when it does
// not decode (a PEM or DER error, a bad SGX extension), Error(crypto) when OpenSSL fails. The JSON
// ends with a newline.
[[nodiscard]] TDXKIT_EXPORT std::string describe_quote_json(const Quote& quote, const ratls::Evidence& evidence);
[[nodiscard]] TDXKIT_EXPORT std::string describe_quote_text(const Quote& quote, const ratls::Evidence& evidence);

}  // namespace tdxkit
