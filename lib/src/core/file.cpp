#include "tdxkit/file.hpp"

#include <array>
#include <cerrno>
#include <fstream>
#include <string>
#include <utility>

#include <fcntl.h>
#include <unistd.h>
#include <fmt/format.h>

#include "core/errno_message.hpp"
#include "core/read_file.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit {
namespace {

class Descriptor {
public:
    explicit Descriptor(int fd) noexcept : fd_(fd) {}
    ~Descriptor() {
        if (fd_ >= 0) ::close(fd_);
    }
    Descriptor(const Descriptor&) = delete;
    Descriptor& operator=(const Descriptor&) = delete;
    [[nodiscard]] int get() const noexcept { return fd_; }
    int release() noexcept { return std::exchange(fd_, -1); }

private:
    int fd_;
};

// mkstemp's O_CREAT|O_EXCL with a random name, but with `mode` (0666: the umask applies as to any
// created file; mkstemp's 0600 would need the umask read, which is not thread-safe).
int create_unique(const std::filesystem::path& dir, const std::string& name, mode_t mode, std::string& tmp) {
    for (int attempt = 0; attempt < 16; ++attempt) {
        std::array<std::uint8_t, 8> nonce{};
        if (::getentropy(nonce.data(), nonce.size()) != 0) return -1;
        tmp = (dir / fmt::format(".{}.{}.tmp", name, to_hex(nonce))).string();
        const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
        if (fd >= 0 || errno != EEXIST) return fd;
    }
    return -1;
}

void write_atomically(const std::filesystem::path& path, ByteSpan data, mode_t mode) {
    const auto fail = [&](std::string_view what) {
        return Error(Errc::io, fmt::format("cannot write {}: {}: {}", path.string(), what, errno_message(errno)));
    };
    const auto dir = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    std::string tmp;
    Descriptor fd(create_unique(dir, path.filename().string(), mode, tmp));
    if (fd.get() < 0) throw fail("cannot create a temporary file");
    const auto discard = [&](std::string_view what) {
        auto error = fail(what);
        ::unlink(tmp.c_str());
        return error;
    };
    for (std::size_t done = 0; done < data.size();) {
        const auto n = ::write(fd.get(), data.data() + done, data.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw discard("write failed");
        done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) throw discard("fsync failed");
    if (::close(fd.release()) != 0) throw discard("close failed");
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw discard("rename failed");
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, ByteSpan data) { write_atomically(path, data, 0666); }

void write_private_file_atomically(const std::filesystem::path& path, ByteSpan data) {
    write_atomically(path, data, 0600);
}

Bytes detail::read_file_bounded(const std::filesystem::path& path, std::size_t max_size) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) throw Error(Errc::io, fmt::format("cannot read {}: {}", path.string(), ec.message()));
    if (size > max_size) {
        throw Error(Errc::malformed,
                    fmt::format("{} is {} bytes, over the limit of {}", path.string(), size, max_size));
    }
    std::ifstream in(path, std::ios::binary);
    Bytes out(static_cast<std::size_t>(size));
    if (!in || !in.read(reinterpret_cast<char*>(out.data()), static_cast<std::streamsize>(out.size()))) {
        throw Error(Errc::io, fmt::format("cannot read {}", path.string()));
    }
    return out;
}

}  // namespace tdxkit
