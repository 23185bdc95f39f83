#pragma once

// Background peers for the quote-provider and attested-TLS CLI tests: tests/atls/fake_peers.py and
// `tdxkit atls-serve`, each started on loopback, stopped (SIGTERM, then SIGKILL) when the handle goes
// out of scope, and bounded by its own lifetime besides.

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/test_support.hpp"

extern char** environ;

namespace tdxkit::test::atls {

namespace fs = std::filesystem;

inline fs::path scratch_dir(const std::string& name) {
    const auto dir = fs::temp_directory_path() / ("tdxkit-" + name + "-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

inline std::string slurp(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

class Background {
public:
    // stdout and stderr go to <dir>/<name>.out and .err.
    Background(const std::vector<std::string>& argv, const fs::path& dir, const std::string& name)
        : out_(dir / (name + ".out")), err_(dir / (name + ".err")) {
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&actions, 1, out_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_addopen(&actions, 2, err_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        std::vector<char*> args;
        for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
        args.push_back(nullptr);
        const int rc = posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) throw std::runtime_error("cannot start " + argv.at(0));
    }
    Background(const Background&) = delete;
    Background& operator=(const Background&) = delete;
    ~Background() { stop(); }

    // Sends SIGTERM and waits (SIGKILL after 10 s). Returns the exit status (128+N for a signal).
    int stop() {
        if (pid_ <= 0) return status_;
        ::kill(pid_, SIGTERM);
        int status = 0;
        for (int i = 0; i < 1000; ++i) {
            if (::waitpid(pid_, &status, WNOHANG) == pid_) break;
            if (i == 999) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, &status, 0);
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        pid_ = -1;
        status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return status_;
    }
    [[nodiscard]] std::string out() const { return slurp(out_); }
    [[nodiscard]] std::string err() const { return slurp(err_); }

private:
    fs::path out_;
    fs::path err_;
    pid_t pid_ = -1;
    int status_ = -1;
};

// Polls until `path` holds a full line; returns it without the newline.
inline std::string wait_line(const fs::path& path, std::chrono::seconds limit = std::chrono::seconds(20)) {
    const auto end = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < end) {
        const auto text = slurp(path);
        if (const auto nl = text.find('\n'); nl != std::string::npos) return text.substr(0, nl);
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    throw std::runtime_error("timed out waiting for " + path.string());
}

inline std::string peers_script() { return (source_dir() / "tests/atls/fake_peers.py").string(); }
inline std::string pki_dir() { return (source_dir() / "testdata/pki").string(); }
inline std::string collateral_dir() { return (source_dir() / "testdata/collateral/sim").string(); }
inline std::string root_pem() { return (source_dir() / "testdata/pki/root.pem").string(); }
inline const std::string kAt = "2026-01-15T00:00:00Z";

// A fake peer: `python3 fake_peers.py <command> <extra...> --ready F --log L --lifetime 120`.
struct Peer {
    fs::path ready;
    fs::path log;
    std::unique_ptr<Background> process;
    std::string value;  // what it wrote to the ready file (a port, a socket path or "ready")

    Peer(const fs::path& dir, const std::string& name, const std::vector<std::string>& extra)
        : ready(dir / (name + ".ready")), log(dir / (name + ".log")) {
        std::vector<std::string> argv{"python3", peers_script()};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.insert(argv.end(), {"--ready", ready.string(), "--log", log.string(), "--lifetime", "120", "--tdxkit",
                                 TDXKIT_BINARY, "--pki", pki_dir()});
        process = std::make_unique<Background>(argv, dir, name);
        value = wait_line(ready);
    }
    [[nodiscard]] std::string requests() const { return slurp(log); }
};

// A self-signed P-256 certificate for CN=localhost, IP 127.0.0.1 (openssl command line).
struct TestCert {
    std::string cert;
    std::string key;
};
inline TestCert make_cert(const fs::path& dir, const std::string& name) {
    TestCert c{(dir / (name + ".pem")).string(), (dir / (name + ".key")).string()};
    const auto r = run_process({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                "-nodes", "-keyout", c.key, "-out", c.cert, "-days", "2", "-subj", "/CN=localhost",
                                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"});
    if (r.exit_code != 0) throw std::runtime_error("openssl req failed: " + r.err);
    return c;
}

}  // namespace tdxkit::test::atls
