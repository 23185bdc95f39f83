#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tdxkit/bytes.hpp"

namespace tdxkit::test {

// The shared real-data folder, or exits the test executable with 77 (ctest: skipped) after printing
// a visible reason when it is absent.
std::filesystem::path shared_testdata();

// Repository root and the project's own testdata/.
std::filesystem::path source_dir();

Bytes read_file(const std::filesystem::path& path);
std::string read_text(const std::filesystem::path& path);

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
