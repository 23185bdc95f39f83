#pragma once

// Writing output files safely next to untrusted neighbours (a shared /tmp, a cache directory).

#include <filesystem>

#include "tdxkit/bytes.hpp"
#include "tdxkit/export.hpp"

namespace tdxkit {

// Replaces `path` with `data` atomically: the bytes go to a new temporary file with a random name,
// created with O_CREAT|O_EXCL|O_NOFOLLOW in the same directory, are flushed to disk, and the file is
// renamed over `path`. A symlink planted at any predictable name is never followed; readers see the
// old file or the whole new one. The new file gets mode 0666 minus the umask, like any created file.
// Throws Error(io) naming the path and the system's reason.
TDXKIT_EXPORT void write_file_atomically(const std::filesystem::path& path, ByteSpan data);
// The same for a private key: the file is created with mode 0600 (less if the umask says so), so no
// other user can open it at any moment, and an existing file's wider mode is not kept.
TDXKIT_EXPORT void write_private_file_atomically(const std::filesystem::path& path, ByteSpan data);

}  // namespace tdxkit
