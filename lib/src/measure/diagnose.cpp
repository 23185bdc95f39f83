// Why a running TD's boot registers differ from a prediction: register by register, and for an RTMR
// the first event whose digest differs, with the input that most likely explains it.

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tdxkit/measure_boot.hpp"

namespace tdxkit {

bool BootDiagnosis::equal() const noexcept {
    return std::ranges::all_of(registers, [](const RegisterDiagnosis& r) { return r.predicted && r.equal; });
}

bool BootDiagnosis::complete() const noexcept {
    return std::ranges::all_of(registers, [](const RegisterDiagnosis& r) { return r.predicted; });
}

BootDiagnosis diagnose_boot(const BootMeasurement& predicted, const TdReportBody& td, const EventLog* log) {
    BootDiagnosis out;
    RegisterDiagnosis mrtd;
    mrtd.name = "MRTD";
    mrtd.predicted = true;
    mrtd.expected = predicted.mrtd;
    mrtd.actual = td.mr_td;
    mrtd.equal = equal_ct(mrtd.expected, mrtd.actual);
    if (!mrtd.equal) {
        mrtd.cause = "the firmware image, or the page order (--qemu-version / --page-order: QEMU 8.x adds pages in two "
                     "passes, 9 and later in one)";
    }
    out.registers.push_back(std::move(mrtd));

    std::array<Measurement, kRtmrCount> replayed{};
    if (log != nullptr) {
        replayed = replay_rtmrs(*log);
        std::vector<std::string> differing;
        for (std::size_t i = 0; i < 3; ++i) {
            if (!equal_ct(replayed[i], td.rtmr[i])) differing.push_back(fmt::format("RTMR{}", i));
        }
        if (!differing.empty()) {
            out.log_problem = fmt::format("the event log's replay differs from the quote in {}: its events do not "
                                          "describe this TD's boot, so the event named below may be wrong",
                                          fmt::join(differing, ", "));
        }
    }

    const std::array<std::optional<Measurement>, 3> expected = {predicted.rtmr0, predicted.rtmr1, predicted.rtmr2};
    for (std::uint32_t index = 0; index < 3; ++index) {
        RegisterDiagnosis r;
        r.name = fmt::format("RTMR{}", index);
        r.actual = td.rtmr[index];
        r.predicted = expected[index].has_value();
        if (!r.predicted) {
            r.cause =
                "not predicted: RTMR0 needs the ACPI tables (--acpi-from, or --acpi-tables/--acpi-rsdp/--acpi-loader)";
            out.registers.push_back(std::move(r));
            continue;
        }
        r.expected = *expected[index];
        r.equal = equal_ct(r.expected, r.actual);
        if (!r.equal) {
            r.cause = "no event log to locate the difference; give the TD's log (GetQuote or /tdx_quote response, or "
                      "--event-log)";
        }
        if (!r.equal && log != nullptr) {
            std::vector<const BootEvent*> mine;
            for (const auto& e : predicted.events) {
                if (e.rtmr == index) mine.push_back(&e);
            }
            std::vector<const Event*> theirs;
            for (const auto& e : log->events) {
                if (e.imr == index) theirs.push_back(&e);
            }
            for (std::size_t k = 0; k < std::max(mine.size(), theirs.size()); ++k) {
                const bool both = k < mine.size() && k < theirs.size();
                if (both && equal_ct(mine[k]->digest, theirs[k]->digest)) continue;
                r.event_position = k;
                if (k < mine.size()) r.expected_event = *mine[k];
                if (k < theirs.size()) r.actual_event_digest = theirs[k]->digest;
                r.cause = k < mine.size() ? boot_event_kind_cause(mine[k]->kind) : "";
                if (theirs.size() != mine.size()) {
                    r.cause = fmt::format("the TD's log has {} {} events where this OVMF variant measures {}: another "
                                          "firmware build or variant{}",
                                          theirs.size(), r.name, mine.size(),
                                          index == 0 && theirs.size() == 17 ? " (17 is stable202505's count: try "
                                                                              "--ovmf-variant stable202505)"
                                          : index == 0 && theirs.size() == 13
                                              ? " (13 is pre202505's count: try --ovmf-variant pre202505)"
                                              : "");
                }
                break;
            }
            if (!r.event_position)
                r.cause = "every event digest matches, but the register does not: see the log problem";
        }
        out.registers.push_back(std::move(r));
    }
    return out;
}

}  // namespace tdxkit
