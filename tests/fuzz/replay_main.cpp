// Runs a fuzz target over corpus files or directories without libFuzzer, so every corpus is a
// regression test under g++ (and under ASan/UBSan in the sanitizer preset).

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace fs = std::filesystem;

namespace {

std::size_t run_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    const std::vector<std::uint8_t> bytes(std::istreambuf_iterator<char>(in), {});
    LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    std::size_t inputs = 0;
    for (int i = 1; i < argc; ++i) {
        const fs::path arg{argv[i]};
        if (fs::is_directory(arg)) {
            for (const auto& entry : fs::recursive_directory_iterator(arg)) {
                if (entry.is_regular_file()) inputs += run_file(entry.path());
            }
        } else if (fs::exists(arg)) {
            inputs += run_file(arg);
        }
    }
    std::printf("%zu inputs replayed without a finding\n", inputs);
    return inputs == 0 ? 1 : 0;
}
