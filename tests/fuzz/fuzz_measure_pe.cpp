// Kernel images: QEMU's setup-header patch and dstack-mr's Authenticode SHA-384 of the PE image.
#include "fuzz_target.hpp"
#include "tdxkit/measure_boot.hpp"

namespace {
void fuzz(tdxkit::ByteSpan data) {
    (void)tdxkit::authenticode_sha384(data);
    // The memory and initrd sizes QEMU patches in come from the last bytes, so both vary.
    const std::uint64_t memory = data.empty() ? 0x80000000 : 0x1000000ULL * (1 + data.back());
    const std::uint64_t initrd = data.size() < 2 ? 0 : 0x10000ULL * data[data.size() - 2];
    (void)tdxkit::authenticode_sha384(tdxkit::patch_kernel_setup_header(data, initrd, memory));
}
}  // namespace
TDXKIT_FUZZ_TARGET(fuzz)
