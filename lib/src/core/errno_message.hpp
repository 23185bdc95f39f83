#pragma once

// The system's text for an errno value (std::strerror's), safe to call from any thread: strerror may
// share one buffer between threads (POSIX), and the library runs on the batch verifier's workers.

#include <array>
#include <cstring>
#include <string>

namespace tdxkit {

// strerror_r comes in two forms: GNU (glibc with _GNU_SOURCE, which g++ defines) returns the text,
// not always in `buf`; XSI returns 0 and writes it to `buf`.
inline const char* strerror_r_text(const char* text, const char* /*buf*/) noexcept { return text; }
inline const char* strerror_r_text(int rc, const char* buf) noexcept { return rc == 0 ? buf : "Unknown error"; }

inline std::string errno_message(int err) {
    std::array<char, 256> buf{};
    return strerror_r_text(::strerror_r(err, buf.data(), buf.size()), buf.data());
}

}  // namespace tdxkit
