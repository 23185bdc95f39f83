// The Linux configfs-tsm report interface (Documentation/ABI/testing/configfs-tsm): one directory
// per request under /sys/kernel/config/tsm/report; writing `inblob` bumps `generation`, reading
// `outblob` yields the quote. A concurrent writer to the same entry shows as a generation jump.

#include <cerrno>
#include <charconv>
#include <chrono>
#include <filesystem>
#include <thread>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <openssl/rand.h>

#include "core/errno_message.hpp"
#include "provider/provider_internal.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit::provider {
namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

class Fd {
public:
    explicit Fd(int fd) : fd_(fd) {}
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() {
        if (fd_ >= 0) ::close(fd_);
    }
    [[nodiscard]] int get() const noexcept { return fd_; }

private:
    int fd_;
};

[[noreturn]] void fail_errno(const fs::path& path, std::string_view action) {
    throw Error(Errc::io, fmt::format("configfs-tsm: cannot {} {}: {}", action, path.string(), errno_message(errno)));
}

Bytes read_attribute(const fs::path& path, std::size_t max_size) {
    const Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) fail_errno(path, "open");
    Bytes out;
    std::array<std::uint8_t, 4096> buf{};
    while (true) {
        const auto n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_errno(path, "read");
        }
        if (n == 0) return out;
        out.insert(out.end(), buf.begin(), buf.begin() + n);
        if (out.size() > max_size) {
            throw Error(Errc::malformed,
                        fmt::format("configfs-tsm: {} holds more than {} bytes", path.string(), max_size));
        }
    }
}

std::string read_text_attribute(const fs::path& path) {
    const auto raw = read_attribute(path, 256);
    std::string s(raw.begin(), raw.end());
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\0')) s.pop_back();
    return s;
}

std::uint64_t read_generation(const fs::path& entry) {
    const auto text = read_text_attribute(entry / "generation");
    std::uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
        throw Error(Errc::malformed,
                    fmt::format("configfs-tsm: {}/generation is \"{}\", not a decimal number", entry.string(), text));
    }
    return value;
}

void write_attribute(const fs::path& path, ByteSpan data) {
    const Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
    if (fd.get() < 0) fail_errno(path, "open");
    std::size_t done = 0;
    while (done < data.size()) {
        const auto n = ::write(fd.get(), data.data() + done, data.size() - done);
        if (n < 0) {
            if (errno == EINTR) continue;
            fail_errno(path, "write");
        }
        done += static_cast<std::size_t>(n);
    }
}

// Real configfs answers at once; an emulated provider (a test driver, a slow hypervisor) gets until
// the deadline. Backs off to at most 10 ms between probes.
template <class Ready>
bool wait_until(Clock::time_point deadline, Ready ready) {
    auto pause = std::chrono::microseconds(200);
    while (!ready()) {
        if (Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(pause);
        pause = std::min<std::chrono::microseconds>(pause * 2, std::chrono::milliseconds(10));
    }
    return true;
}

// Removes the entry on every path out; a failure is reported, never fatal (the quote is good).
class Entry {
public:
    Entry(fs::path path, std::vector<std::string>& warnings) : path_(std::move(path)), warnings_(warnings) {
        if (::mkdir(path_.c_str(), 0700) != 0) {
            fail_errno(path_, errno == EACCES || errno == EPERM ? "create (root needed?)" : "create");
        }
    }
    Entry(const Entry&) = delete;
    Entry& operator=(const Entry&) = delete;
    ~Entry() {
        if (::rmdir(path_.c_str()) != 0) {
            warnings_.push_back(
                fmt::format("configfs-tsm: could not remove {}: {}", path_.string(), errno_message(errno)));
        }
    }
    [[nodiscard]] const fs::path& path() const noexcept { return path_; }

private:
    fs::path path_;
    std::vector<std::string>& warnings_;
};

std::string entry_name() {
    std::array<std::uint8_t, 8> r{};
    if (RAND_bytes(r.data(), static_cast<int>(r.size())) != 1) {
        throw Error(Errc::crypto, "configfs-tsm: RAND_bytes failed");
    }
    return fmt::format("tdxkit-{}-{}", ::getpid(), to_hex(r));
}

}  // namespace

GeneratedQuote from_configfs_tsm(const QuoteRequest& request) {
    const fs::path root(request.tsm_dir);
    std::error_code ec;
    if (!fs::is_directory(root, ec)) {
        throw Error(Errc::io, fmt::format("configfs-tsm: {} is not a directory (not a TD, or the kernel lacks "
                                          "CONFIG_TSM_REPORTS; is configfs mounted?)",
                                          root.string()));
    }
    const auto deadline = Clock::now() + request.timeout;
    GeneratedQuote out;
    out.provider = QuoteProvider::configfs_tsm;
    {
        const Entry entry(root / entry_name(), out.warnings);
        const auto& dir = entry.path();
        out.source = fmt::format("configfs-tsm {}", root.string());
        if (!wait_until(deadline, [&] { return fs::exists(dir / "provider", ec); })) {
            throw Error(Errc::io, fmt::format("configfs-tsm: {} has no provider attribute", dir.string()));
        }
        const auto provider_name = read_text_attribute(dir / "provider");
        if (!provider_name.starts_with("tdx_guest")) {
            throw Error(Errc::io, fmt::format("configfs-tsm: the provider is \"{}\", not tdx_guest: this is not an "
                                              "Intel TDX guest",
                                              provider_name));
        }
        const auto before = read_generation(dir);
        write_attribute(dir / "inblob", request.report_data);
        std::uint64_t now = before;
        if (!wait_until(deadline, [&] { return (now = read_generation(dir)) != before; })) {
            throw Error(Errc::io, fmt::format("configfs-tsm: no report after {} ms (generation stayed {})",
                                              request.timeout.count(), before));
        }
        const auto raced = [&](std::uint64_t seen, std::string_view when) {
            return Error(Errc::io, fmt::format("configfs-tsm: another process wrote to {} {}: generation went from "
                                               "{} to {}, expected {}; the report may not be ours, retry",
                                               dir.string(), when, before, seen, before + 1));
        };
        if (now != before + 1) throw raced(now, "before the report was read");
        const auto blob = read_attribute(dir / "outblob", kMaxQuoteSize);
        if (const auto after = read_generation(dir); after != before + 1) throw raced(after, "while it was read");
        out.quote = checked_quote(blob, request.report_data, out.source);
    }
    return out;
}

}  // namespace tdxkit::provider
