#include "support/test_support.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <stdexcept>

#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace tdxkit::test {

std::filesystem::path real_testdata() {
    // Part of the repository (testdata/real/PROVENANCE.md): absent data is a broken checkout, a
    // failure, never a skip.
    const std::filesystem::path dir{TDXKIT_REAL_TESTDATA};
    if (!std::filesystem::exists(dir / "MANIFEST.json")) {
        throw std::runtime_error("real test data not found at " + dir.string() + " (testdata/real in the repository)");
    }
    return dir;
}

void skip_this_test(const std::string& reason) {
    std::fprintf(stderr, "SKIPPED: %s\n", reason.c_str());
    std::exit(77);
}

std::filesystem::path source_dir() { return std::filesystem::path{TDXKIT_SOURCE_DIR}; }

nlohmann::json dstack_runtime_event(const std::string& name, const std::string& payload_hex) {
    return {{"imr", 3}, {"event_type", 0x08000001}, {"digest", ""}, {"event", name}, {"event_payload", payload_hex}};
}

TempDir::TempDir(std::string_view label) {
    auto pattern = (std::filesystem::temp_directory_path() / ("tdxkit-" + std::string(label) + "-XXXXXX")).string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed for " + pattern);
    path_ = pattern;
}

TempDir::~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, std::string_view content) const {
    const auto file = path_ / name;
    std::ofstream out(file, std::ios::binary);
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    if (!out) throw std::runtime_error("cannot write " + file.string());
    return file.string();
}

const nlohmann::json& manifest() {
    static const nlohmann::json doc = nlohmann::json::parse(read_text(real_testdata() / "MANIFEST.json"));
    return doc;
}

std::vector<std::string> rdns(const std::string& name) {
    std::vector<std::string> out;
    std::size_t pos = 0;
    while (pos <= name.size()) {
        auto end = name.find(',', pos);
        if (end == std::string::npos) end = name.size();
        auto part = name.substr(pos, end - pos);
        while (!part.empty() && part.front() == ' ') part.erase(part.begin());
        if (!part.empty()) out.push_back(part);
        pos = end + 1;
    }
    std::sort(out.begin(), out.end());
    return out;
}

Bytes read_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path.string());
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

std::string read_text(const std::filesystem::path& path) {
    const auto b = read_file(path);
    return std::string(b.begin(), b.end());
}

ProcessResult run_process(const std::vector<std::string>& argv, const std::string& stdin_data) {
    // A child that exits before reading all its input must not kill the test with SIGPIPE.
    static const bool sigpipe_ignored = [] { return std::signal(SIGPIPE, SIG_IGN) != SIG_ERR; }();
    (void)sigpipe_ignored;
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
        throw std::runtime_error("pipe failed");
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in_pipe[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    if (rc != 0) {
        close(in_pipe[1]);
        close(out_pipe[0]);
        close(err_pipe[0]);
        throw std::runtime_error("cannot start " + argv.at(0));
    }
    ProcessResult result;
    std::size_t written = 0;
    if (stdin_data.empty()) {
        close(in_pipe[1]);
        in_pipe[1] = -1;
    }
    pollfd fds[3] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}, {in_pipe[1], POLLOUT, 0}};
    int open_outputs = 2;
    while (open_outputs > 0) {
        const nfds_t n = in_pipe[1] >= 0 ? 3 : 2;
        if (poll(fds, n, -1) < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd >= 0 && (fds[i].revents & (POLLIN | POLLHUP))) {
                char buf[65536];
                const auto got = read(fds[i].fd, buf, sizeof buf);
                if (got <= 0) {
                    close(fds[i].fd);
                    fds[i].fd = -1;
                    --open_outputs;
                } else {
                    (i == 0 ? result.out : result.err).append(buf, static_cast<std::size_t>(got));
                }
            }
        }
        if (in_pipe[1] >= 0 && (fds[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            const auto put = write(in_pipe[1], stdin_data.data() + written, stdin_data.size() - written);
            if (put > 0) written += static_cast<std::size_t>(put);
            if (put <= 0 || written == stdin_data.size()) {
                close(in_pipe[1]);
                in_pipe[1] = -1;
            }
        }
    }
    if (in_pipe[1] >= 0) close(in_pipe[1]);
    int status = 0;
    waitpid(pid, &status, 0);
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return result;
}

ProcessResult run_tdxkit(const std::vector<std::string>& args, const std::string& stdin_data) {
    std::vector<std::string> argv{TDXKIT_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_process(argv, stdin_data);
}

}  // namespace tdxkit::test
