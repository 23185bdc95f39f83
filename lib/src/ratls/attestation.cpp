// dstack's versioned attestation: the legacy SCALE form (V0) and the msgpack form (V1).
// Layouts: lib/docs/ratls.md; dstack-attest src/attestation.rs (Attestation, AttestationQuote,
// LegacyVersionedAttestation), src/v1.rs (Attestation, PlatformEvidence, StackEvidence) and
// cc-eventlog src/tdx.rs (TdxEvent; `version` and `preimage` are not SCALE-encoded).

#include "tdxkit/attestation.hpp"

#include <algorithm>
#include <array>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "core/reader.hpp"
#include "core/utf8.hpp"
#include "eventlog/dstack_event.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit {
namespace {

using nlohmann::json;

// AttestationQuote's SCALE variant indices and the V1 platform kinds, in dstack's order.
constexpr std::array<std::string_view, 5> kLegacyPlatforms{"tdx", "gcp-tdx", "nitro-enclave", "sev-snp",
                                                           "aws-nitro-tpm"};

[[noreturn]] void unsupported_platform(std::string_view kind) {
    throw Error(
        Errc::unsupported,
        fmt::format("dstack attestation: unsupported platform \"{:.40}\": tdxkit verifies only Intel TDX (platform "
                    "\"tdx\"); use dstack-verifier for the others",
                    kind));
}

// ---- SCALE (parity-scale-codec) ----

class ScaleReader {
public:
    explicit ScaleReader(ByteSpan data) : r_(data, "dstack attestation (SCALE)") {}

    std::uint8_t byte(std::string_view field) { return r_.bytes(1, field)[0]; }
    std::uint32_t u32(std::string_view field) { return r_.le<std::uint32_t>(field); }

    // Compact<u32>-sized lengths, canonical encodings only (as parity-scale-codec decodes them), so
    // one attestation has one encoding.
    std::size_t compact(std::string_view field) {
        const auto first = byte(field);
        std::uint64_t value = 0;
        std::uint64_t least = 0;
        switch (first & 3U) {
        case 0: return first >> 2U;
        case 1: value = (first | (std::uint64_t{byte(field)} << 8U)) >> 2U, least = 1U << 6U; break;
        case 2: {
            const auto rest = r_.bytes(3, field);
            value = (first | (std::uint64_t{rest[0]} << 8U) | (std::uint64_t{rest[1]} << 16U) |
                     (std::uint64_t{rest[2]} << 24U)) >>
                    2U;
            least = 1U << 14U;
            break;
        }
        default: {
            const std::size_t n = (first >> 2U) + 4U;
            if (n > 4) r_.fail(fmt::format("{}: a {}-byte compact integer is far beyond any length here", field, n));
            for (std::size_t i = 0; i < 4; ++i) value |= std::uint64_t{byte(field)} << (8U * i);
            least = 1U << 30U;
        }
        }
        if (value < least) r_.fail(fmt::format("{}: non-canonical compact encoding of {}", field, value));
        return static_cast<std::size_t>(value);
    }

    // A length-prefixed byte vector; the length is checked against what remains before anything is read.
    ByteSpan vec(std::string_view field) { return r_.bytes(compact(field), field); }

    std::string text(std::string_view field) {
        const auto b = vec(field);
        std::string s(b.begin(), b.end());
        if (!detail::is_utf8(s)) r_.fail(fmt::format("{} is not UTF-8", field));
        return s;
    }

    // An element count: each element takes at least `min_size` bytes, so a count that cannot fit is
    // refused before the loop.
    std::size_t count(std::string_view field, std::size_t min_size) {
        const auto n = compact(field);
        if (n > r_.remaining() / min_size) {
            r_.fail(fmt::format("{}: {} elements cannot fit in the {} bytes left", field, n, r_.remaining()));
        }
        return n;
    }

    template <std::size_t N>
    Octets<N> array(std::string_view field) {
        return r_.array<N>(field);
    }
    void expect_end() const { r_.expect_end(); }
    [[noreturn]] void fail(std::string_view why) const { r_.fail(why); }

private:
    wire::Reader r_;
};

void put_compact(wire::Writer& w, std::size_t n) {
    if (n < (1U << 6U)) {
        w.le(static_cast<std::uint8_t>(n << 2U));
    } else if (n < (1U << 14U)) {
        w.le(static_cast<std::uint16_t>((n << 2U) | 1U));
    } else if (n < (1U << 30U)) {
        w.le(static_cast<std::uint32_t>((n << 2U) | 2U));
    } else {
        throw Error(Errc::invalid_argument, fmt::format("dstack attestation: a length of {} is too large", n));
    }
}

void put_vec(wire::Writer& w, ByteSpan b) {
    put_compact(w, b.size());
    w.bytes(b);
}

void put_text(wire::Writer& w, std::string_view s) {
    put_vec(w, ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

// The one event validator reads every carrier's events (eventlog/dstack_event.hpp).
Event make_event(std::size_t index, std::uint32_t imr, std::uint32_t type, ByteSpan digest, std::string name,
                 ByteSpan payload, const json* version, const json* preimage) {
    json obj = {{"imr", imr},
                {"event_type", type},
                {"digest", to_hex(digest)},
                {"event", std::move(name)},
                {"event_payload", to_hex(payload)}};
    if (version != nullptr) obj["version"] = *version;
    if (preimage != nullptr) obj["preimage"] = *preimage;
    return detail::parse_dstack_event(index, obj);
}

struct RuntimeEvent {
    std::string name;
    Bytes payload;
};

// The platform log's RTMR3 events and the stack's runtime events are two copies of one list in
// dstack; which one a reader picks must not matter, so they must agree.
void merge_runtime_events(EventLog& log, const std::vector<RuntimeEvent>& runtime, std::string_view form) {
    std::vector<const Event*> rtmr3;
    for (const auto& e : log.events) {
        if (e.imr == 3) rtmr3.push_back(&e);
    }
    if (rtmr3.empty()) {
        for (const auto& r : runtime) {
            log.events.push_back(
                make_event(log.events.size(), 3, kDstackRuntimeEventType, {}, r.name, r.payload, nullptr, nullptr));
        }
        return;
    }
    if (runtime.empty()) return;
    if (rtmr3.size() != runtime.size()) {
        throw Error(Errc::malformed,
                    fmt::format("dstack attestation ({}): the event log has {} RTMR3 events but the stack lists {} "
                                "runtime events; the two copies must agree",
                                form, rtmr3.size(), runtime.size()));
    }
    for (std::size_t i = 0; i < runtime.size(); ++i) {
        const auto& e = *rtmr3[i];
        if (!e.is_runtime() || e.name != runtime[i].name || !equal_ct(e.payload, runtime[i].payload)) {
            throw Error(Errc::malformed,
                        fmt::format("dstack attestation ({}): RTMR3 event {} (\"{:.64}\") differs from runtime event "
                                    "{} (\"{:.64}\"); the two copies must agree",
                                    form, e.index, e.name, i, runtime[i].name));
        }
    }
}

DstackAttestation decode_scale(ByteSpan bytes) {
    ScaleReader r(bytes);
    DstackAttestation a;
    a.wire = AttestationWire::scale_v0;
    if (r.byte("version") != 0) r.fail("unknown legacy version tag");  // the caller dispatched on 0x00
    const auto platform = r.byte("platform");
    if (platform != 0) {
        if (platform < kLegacyPlatforms.size()) unsupported_platform(kLegacyPlatforms[platform]);
        r.fail(fmt::format("unknown platform tag {}", platform));
    }
    const auto quote = r.vec("quote");
    a.quote.assign(quote.begin(), quote.end());
    a.event_log.container = "dstack attestation, SCALE (V0)";
    // imr, event_type, and three empty vectors at least.
    const auto events = r.count("event_log", 11);
    for (std::size_t i = 0; i < events; ++i) {
        const auto imr = r.u32("event.imr");
        const auto type = r.u32("event.event_type");
        const auto digest = r.vec("event.digest");
        auto name = r.text("event.event");
        const auto payload = r.vec("event.event_payload");
        a.event_log.events.push_back(make_event(i, imr, type, digest, std::move(name), payload, nullptr, nullptr));
    }
    std::vector<RuntimeEvent> runtime(r.count("runtime_events", 2));
    for (auto& e : runtime) {
        e.name = r.text("runtime_event.event");
        const auto payload = r.vec("runtime_event.payload");
        e.payload.assign(payload.begin(), payload.end());
    }
    a.report_data = r.array<64>("report_data");
    a.config = r.text("config");
    r.expect_end();
    merge_runtime_events(a.event_log, runtime, "SCALE");
    return a;
}

// ---- msgpack (rmp_serde, named fields) ----

class MsgpackObject {
public:
    MsgpackObject(const json& value, std::string path) : value_(value), path_(std::move(path)) {
        if (!value_.is_object()) fail(fmt::format("expected a map, got {}", value_.type_name()));
    }

    // serde's deny-unknown-fields, so a field tdxkit does not read cannot carry meaning unseen.
    void only(std::initializer_list<std::string_view> known) const {
        for (const auto& [key, unused] : value_.items()) {
            if (std::find(known.begin(), known.end(), key) == known.end()) {
                fail(fmt::format("unknown field \"{:.40}\"", key));
            }
        }
    }
    [[nodiscard]] const json* find(std::string_view key) const {
        const auto it = value_.find(key);
        return it == value_.end() ? nullptr : &*it;
    }
    [[nodiscard]] const json& at(std::string_view key) const {
        const auto* v = find(key);
        if (v == nullptr) fail(fmt::format("\"{}\" is missing", key));
        return *v;
    }
    [[nodiscard]] std::string text(std::string_view key) const {
        const auto& v = at(key);
        if (!v.is_string()) fail(fmt::format("\"{}\" must be a string, got {}", key, v.type_name()));
        return v.get<std::string>();
    }
    [[nodiscard]] std::uint64_t unsigned_int(std::string_view key, std::uint64_t max) const {
        const auto& v = at(key);
        if (!v.is_number_unsigned() || v.get<std::uint64_t>() > max) {
            fail(fmt::format("\"{}\" must be an integer from 0 to {}, got {}", key, max, detail::json_preview(v)));
        }
        return v.get<std::uint64_t>();
    }
    // serde writes a plain Vec<u8> as an array of integers and a serde_bytes field as bin; both are read.
    [[nodiscard]] Bytes bytes(std::string_view key) const {
        const auto& v = at(key);
        if (v.is_binary()) return v.get_binary();
        if (!v.is_array()) fail(fmt::format("\"{}\" must be bytes, got {}", key, v.type_name()));
        Bytes out;
        out.reserve(v.size());
        for (const auto& b : v) {
            if (!b.is_number_unsigned() || b.get<std::uint64_t>() > 0xFF) {
                fail(fmt::format("\"{}\" holds {}, not a byte", key, detail::json_preview(b)));
            }
            out.push_back(static_cast<std::uint8_t>(b.get<std::uint64_t>()));
        }
        return out;
    }
    [[nodiscard]] const json& array(std::string_view key) const {
        const auto& v = at(key);
        if (!v.is_array()) fail(fmt::format("\"{}\" must be an array, got {}", key, v.type_name()));
        return v;
    }
    [[nodiscard]] const std::string& path() const noexcept { return path_; }

    [[noreturn]] void fail(std::string_view why) const {
        throw Error(Errc::malformed, fmt::format("dstack attestation (msgpack): {}: {}", path_, why));
    }

private:
    const json& value_;
    std::string path_;
};

// serde's adjacently tagged enum: {"kind": ..., "data": {...}}.
std::pair<std::string, MsgpackObject> tagged(const MsgpackObject& parent, std::string_view key) {
    const MsgpackObject outer(parent.at(key), std::string(key));
    outer.only({"kind", "data"});
    return {outer.text("kind"), MsgpackObject(outer.at("data"), fmt::format("{}.data", key))};
}

DstackAttestation decode_msgpack(ByteSpan bytes) {
    const auto doc = detail::parse_msgpack(bytes, "dstack attestation (msgpack)");
    const MsgpackObject top(doc, "attestation");
    top.only({"version", "platform", "stack"});
    if (const auto version = top.unsigned_int("version", ~std::uint64_t{0}); version != 1) {
        top.fail(fmt::format("version {} is not the V1 schema tdxkit reads", version));
    }
    DstackAttestation a;
    a.wire = AttestationWire::msgpack_v1;

    const auto [platform_kind, platform] = tagged(top, "platform");
    if (platform_kind != "tdx") unsupported_platform(platform_kind);
    platform.only({"quote", "event_log"});
    a.quote = platform.bytes("quote");
    a.event_log.container = "dstack attestation, msgpack (V1)";
    const auto& events = platform.array("event_log");
    for (std::size_t i = 0; i < events.size(); ++i) {
        const MsgpackObject e(events[i], fmt::format("platform.data.event_log[{}]", i));
        e.only({"imr", "event_type", "digest", "event", "event_payload", "version", "preimage"});
        a.event_log.events.push_back(make_event(i, static_cast<std::uint32_t>(e.unsigned_int("imr", 0xFFFFFFFF)),
                                                static_cast<std::uint32_t>(e.unsigned_int("event_type", 0xFFFFFFFF)),
                                                e.find("digest") != nullptr ? e.bytes("digest") : Bytes{},
                                                e.text("event"), e.bytes("event_payload"), e.find("version"),
                                                e.find("preimage")));
    }

    const auto [stack_kind, stack] = tagged(top, "stack");
    if (stack_kind == "dstack-pod") {
        throw Error(Errc::unsupported, "dstack attestation (msgpack): the \"dstack-pod\" stack (report data bound to "
                                       "an app payload) is not supported; only \"dstack\" is");
    }
    if (stack_kind != "dstack") stack.fail(fmt::format("unknown stack kind \"{:.40}\"", stack_kind));
    stack.only({"report_data", "runtime_events", "config"});
    const auto report_data = stack.bytes("report_data");
    if (report_data.size() != a.report_data.size()) {
        stack.fail(fmt::format("report_data is {} bytes, expected 64", report_data.size()));
    }
    std::copy(report_data.begin(), report_data.end(), a.report_data.begin());
    const auto& runtime_list = stack.array("runtime_events");
    std::vector<RuntimeEvent> runtime;
    for (std::size_t i = 0; i < runtime_list.size(); ++i) {
        const MsgpackObject e(runtime_list[i], fmt::format("stack.data.runtime_events[{}]", i));
        e.only({"event", "payload", "version"});
        if (e.find("version") != nullptr && e.unsigned_int("version", 2) != 1) {
            e.fail("version 2 runtime events are only read from the platform event log");
        }
        runtime.push_back({e.text("event"), e.bytes("payload")});
    }
    a.config = stack.text("config");
    merge_runtime_events(a.event_log, runtime, "msgpack");
    return a;
}

bool is_msgpack_map(std::uint8_t b) { return (b >= 0x80 && b <= 0x8F) || b == 0xDE || b == 0xDF; }

}  // namespace

const char* DstackAttestation::wire_name() const noexcept {
    return wire == AttestationWire::scale_v0 ? "SCALE (V0)" : "msgpack (V1)";
}

DstackAttestation decode_dstack_attestation(ByteSpan bytes) {
    if (bytes.empty()) throw Error(Errc::malformed, "dstack attestation: empty input");
    if (bytes.size() > kMaxAttestationSize) {
        throw Error(Errc::malformed, fmt::format("dstack attestation: {} bytes, more than the {} dstack allows",
                                                 bytes.size(), kMaxAttestationSize));
    }
    if (bytes[0] == 0x00) return decode_scale(bytes);
    if (is_msgpack_map(bytes[0])) return decode_msgpack(bytes);
    throw Error(
        Errc::malformed,
        fmt::format("dstack attestation: first byte {:#04x} is neither the SCALE V0 tag (0x00) nor a msgpack map",
                    bytes[0]));
}

Bytes encode_dstack_attestation(ByteSpan quote, const EventLog& event_log, const Octets<64>& report_data,
                                std::string_view config) {
    wire::Writer w;
    w.le(std::uint8_t{0});  // LegacyVersionedAttestation::V0
    w.le(std::uint8_t{0});  // AttestationQuote::DstackTdx
    put_vec(w, quote);
    put_compact(w, event_log.events.size());
    std::vector<const Event*> runtime;
    for (const auto& e : event_log.events) {
        if (e.version != 1) {
            throw Error(
                Errc::invalid_argument,
                fmt::format("event {}: the SCALE form has no place for a version {} event", e.index, e.version));
        }
        // The decoder requires the RTMR3 events and the runtime-event copy written below to agree.
        if (e.imr == 3 && !e.is_runtime()) {
            throw Error(Errc::invalid_argument,
                        fmt::format("event {}: an RTMR3 event of type {:#x} is not a dstack runtime event, and the "
                                    "SCALE form's runtime-event copy could not agree with the log",
                                    e.index, e.event_type));
        }
        w.le(e.imr);
        w.le(e.event_type);
        put_vec(w, e.digest);
        put_text(w, e.name);
        put_vec(w, e.payload);
        if (e.imr == 3 && e.is_runtime()) runtime.push_back(&e);
    }
    put_compact(w, runtime.size());
    for (const auto* e : runtime) {
        put_text(w, e->name);
        put_vec(w, e->payload);
    }
    w.bytes(report_data);
    put_text(w, config);
    return std::move(w).take();
}

}  // namespace tdxkit
