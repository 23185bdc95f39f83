// TDVF firmware: the GUIDed table walk, the descriptor and sections, MRTD in both orders, the TD HOB.
#include "fuzz_target.hpp"
#include "tdxkit/measure_boot.hpp"

namespace {
void fuzz(tdxkit::ByteSpan data) {
    const auto metadata = tdxkit::parse_tdvf(data);
    std::uint64_t pages = 0;
    for (const auto& s : metadata.sections) pages += s.memory_data_size / 0x1000;
    // parse_tdvf caps the sections at 256 MiB; a few thousand pages keep the fuzzer fast.
    if (pages <= 4096) {
        (void)tdxkit::compute_mrtd(data, metadata, tdxkit::PageOrder::single_pass);
        (void)tdxkit::compute_mrtd(data, metadata, tdxkit::PageOrder::two_pass);
    }
    const auto layout = tdxkit::td_hob_layout(metadata);
    (void)tdxkit::decode_td_hob_witness(tdxkit::encode_td_hob_witness(layout));
    (void)tdxkit::build_td_hob(layout, 0x80000000);
    (void)tdxkit::build_td_hob(layout, 0x400000000);
}
}  // namespace
TDXKIT_FUZZ_TARGET(fuzz)
