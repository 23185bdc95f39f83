// Policies written from predictions (tdxkit measure --policy-out / --merge-policy).

#include <algorithm>

#include <fmt/format.h>

#include "tdxkit/policy.hpp"

namespace tdxkit {
namespace {

void pin(std::optional<DigestList>& rule, ByteSpan value, std::string_view path, std::vector<std::string>& notes) {
    Bytes v(value.begin(), value.end());
    if (!rule) {
        rule = DigestList{std::move(v)};
        return;
    }
    if (std::ranges::find(*rule, v) != rule->end()) return;
    rule->push_back(std::move(v));
    notes.push_back(fmt::format("{} already pinned other values; it now accepts {} (remove the old ones once no TD "
                                "runs them)",
                                path, rule->size()));
}

}  // namespace

std::vector<std::string> pin_boot_measurement(Policy& policy, const BootMeasurement& measurement,
                                              const std::optional<Octets<32>>& os_image_hash) {
    std::vector<std::string> notes;
    pin(policy.td.mrtd, measurement.mrtd, "td.mrtd", notes);
    if (measurement.rtmr0) pin(policy.td.rtmr0, *measurement.rtmr0, "td.rtmr0", notes);
    pin(policy.td.rtmr1, measurement.rtmr1, "td.rtmr1", notes);
    pin(policy.td.rtmr2, measurement.rtmr2, "td.rtmr2", notes);
    if (os_image_hash) {
        if (!policy.dstack) policy.dstack.emplace();
        pin(policy.dstack->os_image_hashes, *os_image_hash, "dstack.os_image_hashes", notes);
    }
    return notes;
}

}  // namespace tdxkit
