#pragma once

#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "tdxkit/bytes.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit::test {

// testdata/real: the public quotes, collateral and event logs with their provenance. Throws when it
// is missing (a broken checkout fails the test).
std::filesystem::path real_testdata();

// Repository root and the project's own testdata/.
std::filesystem::path source_dir();

Bytes read_file(const std::filesystem::path& path);
std::string read_text(const std::filesystem::path& path);

// For a test case that ctest runs on its own (TDXKIT_CASE_TESTS in tests/CMakeLists.txt): prints
// why, then exits with 77, which ctest reports as Skipped. Never from a case that shares a run.
[[noreturn]] void skip_this_test(const std::string& reason);

// testdata/real/MANIFEST.json, parsed once.
const nlohmann::json& manifest();

// A dstack JSON event-log entry for an RTMR3 runtime event, with an empty digest (recomputed on parse).
nlohmann::json dstack_runtime_event(const std::string& name, const std::string& payload_hex);

// The Errc of the tdxkit::Error that fn throws; fails the test when it throws none.
template <class Fn>
Errc code_of(Fn&& fn) {
    try {
        fn();
    } catch (const Error& e) {
        return e.code();
    }
    throw std::runtime_error("no tdxkit::Error thrown");
}

// The RDNs of a distinguished name ("CN=a, O=b" or "O=b,CN=a"), sorted: names compare equal
// whatever order and spacing the printer chose.
std::vector<std::string> rdns(const std::string& name);

// A fresh directory under the system temporary directory, removed with everything in it at scope exit.
class TempDir {
public:
    explicit TempDir(std::string_view label);
    ~TempDir();
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    // Writes `content` to path()/name and returns the file's path as a string.
    std::string write(const std::string& name, std::string_view content) const;

private:
    std::filesystem::path path_;
};

struct ProcessResult {
    int exit_code = -1;  // 128+N when killed by signal N
    std::string out;
    std::string err;
};

// Runs the built `tdxkit` with the arguments, feeding `stdin_data` on its standard input.
ProcessResult run_tdxkit(const std::vector<std::string>& args, const std::string& stdin_data = {});
// Runs any program (argv[0] is looked up in PATH).
ProcessResult run_process(const std::vector<std::string>& argv, const std::string& stdin_data = {});

}  // namespace tdxkit::test
