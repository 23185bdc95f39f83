#pragma once

// Shared by every fuzz target: only tdxkit::Error may leave a parser of outside input. Anything
// else (another exception type, a crash, a sanitizer report) is a finding.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>

#include "tdxkit/bytes.hpp"
#include "tdxkit/error.hpp"

#define TDXKIT_FUZZ_TARGET(body_fn)                                                                                    \
    extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {                                \
        try {                                                                                                          \
            body_fn(tdxkit::ByteSpan(data, size));                                                                     \
        } catch (const tdxkit::Error&) {                                                                               \
        } catch (...) {                                                                                                \
            std::abort();                                                                                              \
        }                                                                                                              \
        return 0;                                                                                                      \
    }

inline std::string_view fuzz_text(tdxkit::ByteSpan data) {
    return {reinterpret_cast<const char*>(data.data()), data.size()};
}
