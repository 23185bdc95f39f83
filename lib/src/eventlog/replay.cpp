// Runtime event digests, format detection and RTMR replay.

#include <algorithm>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "eventlog/extend.hpp"
#include "eventlog/runtime_event.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/eventlog.hpp"

namespace tdxkit {

std::string detail::runtime_event_preimage_v2(std::string_view name, ByteSpan payload) {
    // JCS (RFC 8785) of three members: keys in code-point order, compact, strings escaped as
    // ECMAScript does, which is what nlohmann's dump does for valid UTF-8 without ensure_ascii.
    std::string quoted;
    try {
        quoted = nlohmann::json(std::string(name)).dump();
    } catch (const nlohmann::json::type_error&) {
        throw Error(Errc::malformed, fmt::format("runtime event name is not valid UTF-8: {}", to_hex(as_bytes(name))));
    }
    return fmt::format("{{\"name\":{},\"payload\":\"{}\",\"type\":{}}}", quoted, to_hex(payload),
                       kDstackRuntimeEventType);
}

Measurement runtime_event_digest(std::string_view name, ByteSpan payload, int version) {
    if (version == 2) return sha384(as_bytes(detail::runtime_event_preimage_v2(name, payload)));
    if (version != 1) throw Error(Errc::invalid_argument, fmt::format("unknown runtime event version {}", version));
    Bytes preimage;
    preimage.reserve(4 + 2 + name.size() + payload.size());
    for (unsigned shift = 0; shift < 32; shift += 8) {
        preimage.push_back(static_cast<std::uint8_t>(kDstackRuntimeEventType >> shift));
    }
    preimage.push_back(':');
    preimage.insert(preimage.end(), name.begin(), name.end());
    preimage.push_back(':');
    preimage.insert(preimage.end(), payload.begin(), payload.end());
    return sha384(preimage);
}

EventLog parse_event_log(ByteSpan data) {
    if (data.size() > kMaxEventLogSize) {
        throw Error(Errc::malformed,
                    fmt::format("event log is {} bytes, over the limit of {} bytes", data.size(), kMaxEventLogSize));
    }
    const auto first = std::find_if_not(data.begin(), data.end(),
                                        [](std::uint8_t c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; });
    if (first == data.end()) throw Error(Errc::malformed, "event log is empty");
    if (*first == '[' || *first == '{' || *first == '"') {
        return parse_dstack_event_log({reinterpret_cast<const char*>(data.data()), data.size()});
    }
    constexpr std::string_view kAcpiSignature = "CCEL";
    if (data.size() <= 64 &&
        std::equal(kAcpiSignature.begin(), kAcpiSignature.end(), data.begin(),
                   data.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(4, data.size())))) {
        throw Error(Errc::malformed, "this is the ACPI CCEL table (/sys/firmware/acpi/tables/CCEL), not the log: "
                                     "give the log area (/sys/firmware/acpi/tables/data/CCEL) and pass the table "
                                     "separately");
    }
    return parse_ccel(data);
}

std::array<Measurement, kRtmrCount> replay_rtmrs(const EventLog& log) {
    std::array<Measurement, kRtmrCount> rtmr{};
    for (const auto& e : log.events) {
        if (e.imr >= kRtmrCount) {
            throw Error(Errc::internal, fmt::format("event {} has RTMR index {}", e.index, e.imr));
        }
        detail::extend_rtmr(rtmr[e.imr], e.digest);
    }
    return rtmr;
}

std::optional<RtmrMismatch> compare_rtmrs(const std::array<Measurement, kRtmrCount>& replayed,
                                          const TdReportBody& quote) {
    std::optional<RtmrMismatch> first;
    // Every register is compared, so timing does not say how many matched.
    for (std::size_t i = 0; i < kRtmrCount; ++i) {
        if (!equal_ct(replayed[i], quote.rtmr[i]) && !first) first = RtmrMismatch{i, replayed[i], quote.rtmr[i]};
    }
    return first;
}

}  // namespace tdxkit
