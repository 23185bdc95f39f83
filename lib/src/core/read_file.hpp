#pragma once

// Reading a whole file that comes from outside, bounded before anything is allocated. Private.

#include <cstddef>
#include <filesystem>

#include "tdxkit/bytes.hpp"

namespace tdxkit::detail {

// Error(io) naming the path when it cannot be read, Error(malformed) when it is over `max_size` bytes.
[[nodiscard]] Bytes read_file_bounded(const std::filesystem::path& path, std::size_t max_size);

}  // namespace tdxkit::detail
