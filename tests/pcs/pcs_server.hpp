#pragma once

// Starts tests/pcs/pcs_server.py (a local Intel PCS / PCCS look-alike) on an ephemeral loopback
// port for the lifetime of the object. See the script for its URL layout and simulated faults.

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "pcs/client.hpp"
#include "support/test_support.hpp"
#include "tdxkit/pcs.hpp"

extern char** environ;

namespace tdxkit::test {

class PcsServer {
public:
    // data: {"tdx", collateral dir}, {"sgx", collateral dir}
    explicit PcsServer(const std::vector<std::pair<std::string, std::filesystem::path>>& data) {
        static int counter = 0;
        workdir_ = std::filesystem::temp_directory_path() /
                   ("tdxkit-pcs-" + std::to_string(::getpid()) + "-" + std::to_string(++counter));
        std::filesystem::remove_all(workdir_);
        std::filesystem::create_directories(workdir_);
        std::vector<std::string> argv{"python3", (source_dir() / "tests/pcs/pcs_server.py").string(), "--workdir",
                                      workdir_.string()};
        for (const auto& [tee, dir] : data) {
            argv.emplace_back("--data");
            argv.push_back(tee + "=" + dir.string());
        }
        std::vector<char*> args;
        for (auto& a : argv) args.push_back(a.data());
        args.push_back(nullptr);
        const auto log = (workdir_ / "server.err").string();
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        const int rc = posix_spawnp(&pid_, "python3", &actions, nullptr, args.data(), environ);
        posix_spawn_file_actions_destroy(&actions);
        if (rc != 0) throw std::runtime_error("cannot start python3 for the test PCS server");
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
        while (!std::filesystem::exists(workdir_ / "port")) {
            int status = 0;
            if (::waitpid(pid_, &status, WNOHANG) == pid_) {
                pid_ = -1;
                throw std::runtime_error("test PCS server exited: " + read_text(workdir_ / "server.err"));
            }
            if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("test PCS server did not start");
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        port_ = read_text(workdir_ / "port");
    }

    PcsServer(const PcsServer&) = delete;
    PcsServer& operator=(const PcsServer&) = delete;

    ~PcsServer() {
        if (pid_ > 0) {
            ::kill(pid_, SIGTERM);
            ::waitpid(pid_, nullptr, 0);
        }
        std::error_code ec;
        std::filesystem::remove_all(workdir_, ec);
    }

    // "https://127.0.0.1:PORT/<path>", e.g. url("pccs"), url("pcs/busy503").
    [[nodiscard]] std::string url(const std::string& path) const { return "https://127.0.0.1:" + port_ + "/" + path; }
    [[nodiscard]] std::string ca_file() const { return (workdir_ / "cert.pem").string(); }

    // What the "switch" fault does from now on: "down", "slow SECONDS", "hold" (requests wait for the
    // next call), or "" (normal).
    void set_switch(const std::string& mode) const {
        const auto path = workdir_ / "switch";
        const auto temporary = workdir_ / "switch.tmp";
        std::ofstream(temporary) << mode;
        std::filesystem::rename(temporary, path);  // never half-written when the server reads it
    }

    // Requests served so far (the stats request itself is not counted).
    [[nodiscard]] int requests() const {
        HttpOptions options;
        options.ca_file = ca_file();
        const auto r = make_curl_transport(options)->get(url("_stats"));
        if (r.status != 200) throw std::runtime_error("test PCS server /_stats failed: " + r.transport_error);
        return nlohmann::json::parse(r.body)["requests"].get<int>();
    }

private:
    std::filesystem::path workdir_;
    pid_t pid_ = -1;
    std::string port_;
};

}  // namespace tdxkit::test
