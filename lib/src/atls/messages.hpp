#pragma once

// The aTLS request and response formats, parsed from HTTP messages: separate so the parsers of
// peer-controlled bytes can be fuzzed without a TLS session.

#include <string>

#include "atls/io.hpp"
#include "tdxkit/bytes.hpp"

namespace tdxkit::atls::detail {

// The shade /tdx_quote response: .quote.quote (hex) and .quote.event_log (array or string).
struct QuoteReply {
    Bytes quote;
    std::string event_log;
};
QuoteReply parse_quote_reply(const io::HttpMessage& response);

// "METHOD TARGET HTTP/1.x": the target, with the method stored in `method`.
std::string request_target(const io::HttpMessage& req, std::string& method);

// {"nonce_hex": 64 hex characters} -> the 32-byte nonce.
Bytes parse_nonce(const std::string& body);

}  // namespace tdxkit::atls::detail
