// tdxkit-testgen: regenerates the simulated TEST data bundled in testdata/ (pki/, quotes/sim-*,
// collateral/sim*/) and the synthetic image of measure/synthetic/ (synthetic_image.cpp). Every file
// is a deterministic function of tdxkit::testing's defaults and of that code, so the output is
// byte-identical on every run; --check compares instead of writing, and ignores files it does not
// generate (such as measure/synthetic/expected.json, which the Python model writes).
//
//   tdxkit-testgen <testdata-dir>          write the files
//   tdxkit-testgen --check <testdata-dir>  exit 1 and list every file that differs or is missing

#include "synthetic_image.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/testing.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

namespace {

using tdxkit::Bytes;
using tdxkit::testing::NamedFile;
using tdxkit::testing::Scenario;

Bytes text(std::string_view t) { return Bytes(t.begin(), t.end()); }

void add_collateral(std::vector<NamedFile>& files, const std::string& dir, const tdxkit::Collateral& c) {
    for (auto& f : tdxkit::testing::collateral_files(c)) files.push_back({dir + "/" + f.name, std::move(f.content)});
}

std::vector<NamedFile> generate() {
    const Scenario v4;
    const auto tdx_v4 = v4.build();
    const auto tdx_v5 = Scenario::tdx_v5().build();
    const auto sgx_v3 = Scenario::sgx_v3().build();
    // One collateral directory serves both TDX quotes; guard against a default drifting apart.
    if (tdx_v4.collateral.tcb_info != tdx_v5.collateral.tcb_info ||
        tdx_v4.collateral.qe_identity != tdx_v5.collateral.qe_identity) {
        throw tdxkit::Error(tdxkit::Errc::internal, "the v4 and v5 scenarios no longer share their collateral");
    }

    std::vector<NamedFile> files;
    const std::pair<const char*, const std::string*> certificates[] = {
        {"root", &tdx_v4.root_pem},
        {"pck-platform-ca", &tdx_v4.platform_ca_pem},
        {"pck-processor-ca", &tdx_v4.processor_ca_pem},
        {"tcb-signing", &tdx_v4.tcb_signing_pem},
        {"pck-leaf", &tdx_v4.pck_leaf_pem},
    };
    for (const auto& [name, pem] : certificates) files.push_back({std::string("pki/") + name + ".pem", text(*pem)});
    files.push_back({"pki/pck-chain.pem", text(tdx_v4.pck_chain_pem)});
    for (const auto* label :
         {"root", "pck-platform-ca", "pck-processor-ca", "tcb-signing", "pck-leaf", "attestation"}) {
        files.push_back({std::string("pki/") + label + ".key", text(tdxkit::testing::private_key_pem(v4.key(label)))});
    }
    files.push_back({"pki/pck-platform-ca.crl.der", tdx_v4.platform_crl});
    files.push_back({"pki/pck-processor-ca.crl.der", tdx_v4.processor_crl});

    files.push_back({"quotes/sim-tdx-v4.bin", tdx_v4.quote});
    files.push_back({"quotes/sim-tdx-v5.bin", tdx_v5.quote});
    files.push_back({"quotes/sim-sgx-v3.bin", sgx_v3.quote});
    add_collateral(files, "collateral/sim", tdx_v4.collateral);
    add_collateral(files, "collateral/sim-sgx", sgx_v3.collateral);
    for (auto& f : tdxkit::testgen::synthetic_image_files()) files.push_back(std::move(f));
    return files;
}

Bytes read_all(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

int check(const std::filesystem::path& root, const std::vector<NamedFile>& files) {
    int differing = 0;
    for (const auto& f : files) {
        const auto path = root / f.name;
        if (!std::filesystem::exists(path)) {
            fmt::print(stderr, "missing: {}\n", path.string());
            ++differing;
        } else if (read_all(path) != f.content) {
            fmt::print(stderr, "differs: {}\n", path.string());
            ++differing;
        }
    }
    if (differing != 0) {
        fmt::print(stderr, "{} of {} generated files do not match; run scripts/gen-testdata.sh\n", differing,
                   files.size());
        return 1;
    }
    fmt::print("all {} generated files under {} are byte-identical\n", files.size(), root.string());
    return 0;
}

void write(const std::filesystem::path& root, const std::vector<NamedFile>& files) {
    for (const auto& f : files) {
        const auto path = root / f.name;
        std::filesystem::create_directories(path.parent_path());
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(reinterpret_cast<const char*>(f.content.data()), static_cast<std::streamsize>(f.content.size()));
        if (!out) throw tdxkit::Error(tdxkit::Errc::io, "cannot write " + path.string());
        fmt::print("wrote {}\n", path.string());
    }
}

}  // namespace

int main(int argc, char** argv) {
    const std::vector<std::string_view> args(argv + 1, argv + argc);
    const bool check_mode = args.size() == 2 && args[0] == "--check";
    if (!(args.size() == 1 || check_mode) || (args.size() == 1 && args[0].starts_with("-"))) {
        fmt::print(stderr, "usage: tdxkit-testgen [--check] <testdata-dir>\n");
        return 2;
    }
    try {
        const std::filesystem::path root{args.back()};
        const auto files = generate();
        if (check_mode) return check(root, files);
        write(root, files);
        return 0;
    } catch (const tdxkit::Error& e) {
        fmt::print(stderr, "tdxkit-testgen: {}\n", e.what());
        return 1;
    }
}
