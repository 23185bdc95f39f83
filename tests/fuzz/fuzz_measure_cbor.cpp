// The lite measurement document (strict CBOR through nlohmann's reader), the TD HOB witness, and
// vm_config JSON.
#include "fuzz_target.hpp"
#include "tdxkit/measure_boot.hpp"

namespace {
void fuzz(tdxkit::ByteSpan data) {
    try {
        const auto doc = tdxkit::parse_lite_measurement_document(data);
        (void)tdxkit::build_td_hob(doc.td_hob, 0x80000000);
    } catch (const tdxkit::Error&) {
    }
    try {
        (void)tdxkit::build_td_hob(tdxkit::decode_td_hob_witness(data), 0x100000000);
    } catch (const tdxkit::Error&) {
    }
    const auto config = tdxkit::parse_vm_config(fuzz_text(data));
    (void)config.page_order();
}
}  // namespace
TDXKIT_FUZZ_TARGET(fuzz)
