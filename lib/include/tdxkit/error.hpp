#pragma once

#include <stdexcept>
#include <string>

#include "tdxkit/export.hpp"

namespace tdxkit {

// What went wrong, coarse enough to choose an exit status. A negative verification verdict is not
// an Error: it is a value in the verification report.
enum class Errc {
    malformed,               // input bytes or text do not follow the format
    unsupported,             // well-formed, but a version or type tdxkit does not handle
    invalid_argument,        // a caller-supplied option is wrong
    collateral_unavailable,  // collateral is missing or could not be fetched: outcome unknown
    io,                      // a file or device could not be read or written
    crypto,                  // the crypto library failed for a reason other than bad input
    internal,                // a bug in tdxkit
};

// The one exception libtdxkit throws on purpose (besides std::bad_alloc). Each function's comment
// says which codes it throws and when; lib/docs/architecture.md "Contracts" has the conventions.
class TDXKIT_EXPORT Error : public std::runtime_error {
public:
    Error(Errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
    [[nodiscard]] Errc code() const noexcept { return code_; }

private:
    Errc code_;
};

// "malformed", "unsupported", ... as spelled above (the "code" of JSON error documents); "internal"
// for a value outside the enum.
[[nodiscard]] TDXKIT_EXPORT const char* errc_name(Errc code) noexcept;

}  // namespace tdxkit
