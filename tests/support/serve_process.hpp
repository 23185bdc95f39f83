#pragma once

// `tdxkit serve --listen 127.0.0.1:0 ...` as a child process for the service tests and the serve
// benchmark: started, its port read from the first stdout line, signalled, measured (/proc), and
// stopped (SIGTERM, then SIGKILL) when the handle goes out of scope.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace tdxkit::test {

class ServeProcess {
public:
    // Runs `binary serve --listen 127.0.0.1:0 args...` with stdout and stderr in dir/NAME.out and
    // dir/NAME.err; returns once it prints that it listens. Throws std::runtime_error (with its
    // stderr) when it exits first or says nothing within `limit`.
    ServeProcess(const std::string& binary, const std::vector<std::string>& args, const std::filesystem::path& dir,
                 const std::string& name = "serve", std::chrono::seconds limit = std::chrono::seconds(20));
    ~ServeProcess();
    ServeProcess(const ServeProcess&) = delete;
    ServeProcess& operator=(const ServeProcess&) = delete;

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    void signal(int sig) const;
    // Sends `sig` and waits for the exit (SIGKILL after `limit`). Returns the exit status (128+N for a
    // signal, as a shell reports it); the same value on later calls.
    int stop(int sig, std::chrono::milliseconds limit = std::chrono::seconds(30));
    // True once the process has ended (stop then returns its status at once); never waits.
    [[nodiscard]] bool exited();
    [[nodiscard]] std::string out() const;
    [[nodiscard]] std::string err() const;
    // Polls stderr until a line containing `needle` appears (true), or `limit` passes (false).
    bool wait_for_log(const std::string& needle, std::chrono::milliseconds limit = std::chrono::seconds(10)) const;
    // VmRSS and VmHWM (peak) from /proc/PID/status, in KiB.
    [[nodiscard]] long rss_kib() const;
    [[nodiscard]] long peak_rss_kib() const;
    // User plus system CPU time so far, in seconds (/proc/PID/stat).
    [[nodiscard]] double cpu_seconds() const;

private:
    [[nodiscard]] long status_kib(const std::string& field) const;

    std::filesystem::path out_;
    std::filesystem::path err_;
    pid_t pid_ = -1;
    int status_ = -1;
    std::uint16_t port_ = 0;
};

}  // namespace tdxkit::test
