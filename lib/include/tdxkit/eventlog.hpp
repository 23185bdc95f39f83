#pragma once

// TDX event logs and RTMR replay: the firmware's binary CCEL log (TCG crypto-agile format) and the
// JSON event logs dstack hands out (GetQuote, aTLS /tdx_quote, tcb_info). Both are untrusted input:
// a log proves nothing until its replay equals the RTMRs of a verified quote.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tdxkit/bytes.hpp"
#include "tdxkit/export.hpp"
#include "tdxkit/quote.hpp"

namespace tdxkit {

// dstack's runtime (RTMR3) events; not a TCG-defined type.
inline constexpr std::uint32_t kDstackRuntimeEventType = 0x08000001;
inline constexpr std::uint32_t kEvNoAction = 0x00000003;
inline constexpr std::size_t kRtmrCount = 4;
// A dstack event log is a few kilobytes; CCEL areas are at most a few hundred.
inline constexpr std::size_t kMaxEventLogSize = 16 * 1024 * 1024;

struct Event {
    std::size_t index = 0;              // position in the log as given (CCEL: record number, header = 0)
    std::optional<std::size_t> offset;  // CCEL: byte offset of the record
    std::uint32_t imr = 0;              // RTMR index, 0..3
    std::uint32_t event_type = 0;
    std::string name;  // dstack event name; "" for most boot events
    Bytes payload;
    Measurement digest{};     // what was extended: recomputed for runtime events, as given otherwise
    bool recomputed = false;  // runtime event: the digest was computed from name and payload
    int version = 1;          // runtime event digest format (1 or 2)

    [[nodiscard]] bool is_runtime() const noexcept { return event_type == kDstackRuntimeEventType; }
};

struct EventLog {
    // "CCEL", "CCEL (ACPI table checked)", "JSON array", "JSON string", "dstack GetQuote response",
    // "aTLS /tdx_quote response", "dstack tcb_info"
    std::string container;
    std::vector<Event> events;   // only the events that extend an RTMR, in log order
    std::size_t skipped = 0;     // CCEL: EV_NO_ACTION records and MRTD (index 0) records
    std::optional<Bytes> quote;  // a quote carried next to the log by its container
};

// Detects the form: JSON (array, string, GetQuote, /tdx_quote, tcb_info or an Info response with
// tcb_info) or a CCEL binary (without its ACPI table). Throws Error(malformed) naming the event index
// or byte offset, also for empty input, input over kMaxEventLogSize, or the ACPI CCEL table itself.
[[nodiscard]] TDXKIT_EXPORT EventLog parse_event_log(ByteSpan data);

// The CCEL log area (/sys/firmware/acpi/tables/data/CCEL). With the 56-byte ACPI CCEL table, its
// signature, length and TDX type are checked and the log is limited to the table's LAML; a log
// without the 0xFFFFFFFF end marker is accepted only when it fills LAML exactly. Without the table
// (nullopt) the end marker is required. Throws Error(malformed) naming the record and byte offset.
[[nodiscard]] TDXKIT_EXPORT EventLog parse_ccel(ByteSpan log, std::optional<ByteSpan> acpi_table = std::nullopt);

// A dstack JSON event log in any of the JSON wrappers above (no size limit: parse_event_log has one).
// Throws Error(malformed): bad JSON, an unknown member, a boot event without a digest, or a runtime
// event whose given digest or preimage disagrees with its name and payload.
[[nodiscard]] TDXKIT_EXPORT EventLog parse_dstack_event_log(std::string_view json_text);

// dstack runtime event digests. V1: SHA-384(LE32(0x08000001) || ":" || name || ":" || payload).
// V2: SHA-384 of the JCS preimage {"name":..,"payload":"<hex>","type":134217729}. Another `version`
// is Error(invalid_argument); a V2 name that is not UTF-8 is Error(malformed).
[[nodiscard]] TDXKIT_EXPORT Measurement runtime_event_digest(std::string_view name, ByteSpan payload, int version = 1);

// RTMR_i = SHA-384(RTMR_i || digest) from 48 zero bytes, over the events of RTMR i in order. Throws
// Error(internal) for an event whose imr is not 0..3 (the parsers never produce one).
[[nodiscard]] TDXKIT_EXPORT std::array<Measurement, kRtmrCount> replay_rtmrs(const EventLog& log);

struct RtmrMismatch {
    std::size_t rtmr = 0;
    Measurement replayed{};
    Measurement quoted{};
};

// Compares every register in constant time; returns the first mismatch, if any. Never throws.
[[nodiscard]] TDXKIT_EXPORT std::optional<RtmrMismatch>
compare_rtmrs(const std::array<Measurement, kRtmrCount>& replayed, const TdReportBody& quote);

// --- What the quote vouches for (lib/docs/dstack.md, "What the quote binds") ----------------------
//
// Once a log's replay equals the RTMRs of a verified quote:
// - every event's digest, its register and its position there are bound (the replay covers them);
// - a dstack runtime event's name and payload are bound as well, because its digest was recomputed
//   from them (Event::recomputed), and the formula fixes its type;
// - everything else is a label that nothing covers: a boot event's type, name and payload, a CCEL
//   record's event data. Labels are shown to people; no rule may read them.
// An RTMR3 event that is not a recomputed runtime event could be a genuine identity event relabelled
// (say, as type 1) to hide it from the rules while its digest still replays, so one such event
// leaves the whole log unbound.

struct UnboundEvent {
    std::size_t index = 0;  // Event::index
    std::string reason;     // one line: what the event is and why its name and payload are not bound
};

// The first RTMR3 event whose name and payload its digest does not cover, if any. Never throws.
[[nodiscard]] TDXKIT_EXPORT std::optional<UnboundEvent> find_unbound_rtmr3_event(const EventLog& log);

struct EventLogBinding {
    std::array<Measurement, kRtmrCount> replayed{};
    std::optional<RtmrMismatch> mismatch;  // the replay differs from the quote
    std::optional<UnboundEvent> unbound;   // see find_unbound_rtmr3_event
    // Only when bound(): the RTMR3 events in log order, each a recomputed runtime event, so that its
    // name and payload are covered by the quote. Points into the EventLog given to bind_event_log.
    std::vector<const Event*> runtime_events;

    [[nodiscard]] bool bound() const noexcept { return !mismatch && !unbound; }
    // One line for an operator when !bound(): the register or event at fault and what to do; "" when bound.
    [[nodiscard]] TDXKIT_EXPORT std::string failure() const;
};

// Replays the log, compares it with the quote's RTMRs in constant time and checks that every RTMR3
// event is bound. The only source of event names and payloads for decisions (policy, aTLS). A
// mismatch is a result, not an Error; throws only as replay_rtmrs does. `log` must outlive the result.
[[nodiscard]] TDXKIT_EXPORT EventLogBinding bind_event_log(const EventLog& log, const TdReportBody& quote);

}  // namespace tdxkit
