// A downstream program using only the installed public headers.
#include <cstdio>

#include <tdxkit/bytes.hpp>
#include <tdxkit/verify.hpp>
#include <tdxkit/version.hpp>

int main() {
    const auto root = tdxkit::intel_sgx_root_ca();
    std::printf("tdxkit %s root %s\n", tdxkit::kVersion, tdxkit::to_hex(tdxkit::sha256(root.certificate_der)).c_str());
    return root.is_intel_production ? 0 : 1;
}
