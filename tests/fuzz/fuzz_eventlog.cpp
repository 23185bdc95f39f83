// Event logs: CCEL binary (with and without an ACPI table), dstack JSON in every wrapper, replay.
#include "fuzz_target.hpp"
#include "tdxkit/eventlog.hpp"

namespace {
void fuzz(tdxkit::ByteSpan data) {
    try {
        const auto log = tdxkit::parse_event_log(data);
        (void)tdxkit::replay_rtmrs(log);
    } catch (const tdxkit::Error&) {
    }
    // The first 56 bytes as an ACPI CCEL table, the rest as the log area.
    if (data.size() > 56) (void)tdxkit::parse_ccel(data.subspan(56), data.first(56));
}
}  // namespace
TDXKIT_FUZZ_TARGET(fuzz)
