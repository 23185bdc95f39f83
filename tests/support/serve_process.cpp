#include "support/serve_process.hpp"

#include <csignal>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace tdxkit::test {
namespace {

std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

ServeProcess::ServeProcess(const std::string& binary, const std::vector<std::string>& args,
                           const std::filesystem::path& dir, const std::string& name, std::chrono::seconds limit)
    : out_(dir / (name + ".out")), err_(dir / (name + ".err")) {
    std::vector<std::string> argv{binary, "serve", "--listen", "127.0.0.1:0"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int rc = posix_spawn(&pid_, binary.c_str(), &actions, nullptr, raw.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) throw std::runtime_error("cannot start " + binary);
    const std::string marker = "listening on http://127.0.0.1:";
    const auto deadline = std::chrono::steady_clock::now() + limit;
    for (;;) {
        const auto text = slurp(out_);
        if (const auto at = text.find(marker); at != std::string::npos && text.find('\n', at) != std::string::npos) {
            port_ = static_cast<std::uint16_t>(std::stoi(text.substr(at + marker.size())));
            return;
        }
        if (exited() || std::chrono::steady_clock::now() > deadline) {
            stop(SIGKILL);
            throw std::runtime_error("tdxkit serve did not start: " + slurp(err_));
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
}

ServeProcess::~ServeProcess() { stop(SIGTERM); }

void ServeProcess::signal(int sig) const {
    if (pid_ > 0) ::kill(pid_, sig);
}

bool ServeProcess::exited() {
    if (pid_ <= 0) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    pid_ = -1;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
}

int ServeProcess::stop(int sig, std::chrono::milliseconds limit) {
    if (pid_ <= 0) return status_;
    ::kill(pid_, sig);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!exited()) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(pid_, SIGKILL);
            int status = 0;
            ::waitpid(pid_, &status, 0);
            pid_ = -1;
            status_ = 128 + SIGKILL;
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return status_;
}

std::string ServeProcess::out() const { return slurp(out_); }
std::string ServeProcess::err() const { return slurp(err_); }

bool ServeProcess::wait_for_log(const std::string& needle, std::chrono::milliseconds limit) const {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (err().find(needle) == std::string::npos) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return true;
}

long ServeProcess::status_kib(const std::string& field) const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
    }
    throw std::runtime_error("no " + field + " in /proc/" + std::to_string(pid_) + "/status");
}

long ServeProcess::rss_kib() const { return status_kib("VmRSS"); }
long ServeProcess::peak_rss_kib() const { return status_kib("VmHWM"); }

double ServeProcess::cpu_seconds() const {
    // Fields 14 and 15 (utime, stime) follow the parenthesised command name, which may hold spaces.
    const auto stat = slurp("/proc/" + std::to_string(pid_) + "/stat");
    std::istringstream rest(stat.substr(stat.rfind(')') + 2));
    std::string field;
    unsigned long long utime = 0, stime = 0;
    for (int i = 3; i <= 15 && rest >> field; ++i) {
        if (i == 14) utime = std::stoull(field);
        if (i == 15) stime = std::stoull(field);
    }
    return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

}  // namespace tdxkit::test
