// Which parts of an event log the quote vouches for (tdxkit/eventlog.hpp, "What the quote vouches for").

#include <fmt/format.h>

#include "tdxkit/eventlog.hpp"

namespace tdxkit {

std::optional<UnboundEvent> find_unbound_rtmr3_event(const EventLog& log) {
    for (const auto& e : log.events) {
        if (e.imr != 3 || e.recomputed) continue;
        return UnboundEvent{
            e.index,
            fmt::format("event {} (RTMR3, type {:#010x}) is not a dstack runtime event (type {:#010x}), so its digest "
                        "was taken as given and does not cover its name or payload; in a dstack log every RTMR3 event "
                        "is a runtime event, so this log was altered (an event relabelled to hide it from the rules) "
                        "or does not come from dstack",
                        e.index, e.event_type, kDstackRuntimeEventType)};
    }
    return std::nullopt;
}

std::string EventLogBinding::failure() const {
    if (mismatch) {
        return fmt::format("RTMR{} replayed from the event log is {}, the quote has {}: the log does not belong to "
                           "this quote or was altered; obtain the event log together with the quote",
                           mismatch->rtmr, to_hex(mismatch->replayed), to_hex(mismatch->quoted));
    }
    if (unbound)
        return fmt::format("{}; obtain the event log from the TD again, and do not trust this TD", unbound->reason);
    return {};
}

EventLogBinding bind_event_log(const EventLog& log, const TdReportBody& quote) {
    EventLogBinding out;
    out.replayed = replay_rtmrs(log);
    out.mismatch = compare_rtmrs(out.replayed, quote);
    out.unbound = find_unbound_rtmr3_event(log);
    if (!out.bound()) return out;
    for (const auto& e : log.events) {
        if (e.imr == 3) out.runtime_events.push_back(&e);  // every one recomputed: checked above
    }
    return out;
}

}  // namespace tdxkit
