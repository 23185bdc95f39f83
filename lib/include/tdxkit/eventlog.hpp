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
// tcb_info) or a CCEL binary. Throws Error(malformed) naming the event index or byte offset.
[[nodiscard]] TDXKIT_EXPORT EventLog parse_event_log(ByteSpan data);

// The CCEL log area (/sys/firmware/acpi/tables/data/CCEL). With the 56-byte ACPI CCEL table, its
// signature, length and TDX type are checked and the log is limited to the table's LAML; a log
// without the 0xFFFFFFFF end marker is accepted only when it fills LAML exactly.
[[nodiscard]] TDXKIT_EXPORT EventLog parse_ccel(ByteSpan log, std::optional<ByteSpan> acpi_table = std::nullopt);

// A dstack JSON event log in any of the JSON wrappers above.
[[nodiscard]] TDXKIT_EXPORT EventLog parse_dstack_event_log(std::string_view json_text);

// dstack runtime event digests. V1: SHA-384(LE32(0x08000001) || ":" || name || ":" || payload).
// V2: SHA-384 of the JCS preimage {"name":..,"payload":"<hex>","type":134217729}.
[[nodiscard]] TDXKIT_EXPORT std::string runtime_event_preimage_v2(std::string_view name, ByteSpan payload);
[[nodiscard]] TDXKIT_EXPORT Measurement runtime_event_digest(std::string_view name, ByteSpan payload, int version = 1);

// RTMR_i = SHA-384(RTMR_i || digest) from 48 zero bytes, over the events of RTMR i in order.
[[nodiscard]] TDXKIT_EXPORT std::array<Measurement, kRtmrCount> replay_rtmrs(const EventLog& log);

struct RtmrMismatch {
    std::size_t rtmr = 0;
    Measurement replayed{};
    Measurement quoted{};
};

// Compares every register in constant time; returns the first mismatch, if any.
[[nodiscard]] TDXKIT_EXPORT std::optional<RtmrMismatch>
compare_rtmrs(const std::array<Measurement, kRtmrCount>& replayed, const TdReportBody& quote);

}  // namespace tdxkit
