// Secrets in memory and on disk (tdxkit/bytes.hpp: SecretBytes, read_secret_file).

#include <cerrno>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fmt/format.h>
#include <openssl/crypto.h>

#include "core/errno_message.hpp"
#include "tdxkit/bytes.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit {

void SecretBytes::wipe() noexcept {
    // Over the whole capacity: a shrunk vector may still hold secret bytes past its size.
    if (bytes_.capacity() != 0) OPENSSL_cleanse(bytes_.data(), bytes_.capacity());
    bytes_.clear();
}

SecretBytes read_secret_file(const std::string& path, std::size_t max_size, bool owner_only) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) throw Error(Errc::io, fmt::format("cannot open {}: {}", path, errno_message(errno)));
    struct Closer {
        int fd;
        ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) throw Error(Errc::io, fmt::format("cannot stat {}: {}", path, errno_message(errno)));
    if (owner_only && (st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
        throw Error(Errc::invalid_argument,
                    fmt::format("{} holds a secret but its group or others may access it (mode {:04o}); run "
                                "`chmod 600 {}`",
                                path, st.st_mode & 07777, path));
    }
    if (static_cast<std::uintmax_t>(st.st_size) > max_size) {
        throw Error(Errc::malformed,
                    fmt::format("{} is {} bytes, over the limit of {} bytes", path, st.st_size, max_size));
    }
    // Sized once, so the vector never reallocates and leaves a copy of the secret behind.
    Bytes buffer(max_size + 1);
    std::size_t size = 0;
    while (size < buffer.size()) {
        const auto n = ::read(fd, buffer.data() + size, buffer.size() - size);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            OPENSSL_cleanse(buffer.data(), buffer.size());
            throw Error(Errc::io, fmt::format("cannot read {}: {}", path, errno_message(errno)));
        }
        if (n == 0) break;
        size += static_cast<std::size_t>(n);
    }
    SecretBytes secret(std::move(buffer));
    if (size > max_size) throw Error(Errc::malformed, fmt::format("{} is over the limit of {} bytes", path, max_size));
    return SecretBytes(Bytes(secret.view().begin(), secret.view().begin() + static_cast<std::ptrdiff_t>(size)));
}

}  // namespace tdxkit
