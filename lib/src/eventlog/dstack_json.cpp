// dstack JSON event logs (cc-eventlog TdxEvent) and the wrappers users hold them in.

#include <algorithm>
#include <array>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "eventlog/dstack_event.hpp"
#include "eventlog/runtime_event.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/input.hpp"

namespace tdxkit {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 7> kEventKeys{"imr",           "event_type", "digest",  "event",
                                                     "event_payload", "version",    "preimage"};

struct EventReader {
    std::size_t index;
    const json& obj;

    [[noreturn]] void fail(std::string_view what) const {
        const auto name = obj.is_object() && obj.contains("event") && obj["event"].is_string() &&
                                  !obj["event"].get_ref<const std::string&>().empty()
                              ? fmt::format(" ({:.64})", obj["event"].get_ref<const std::string&>())
                              : std::string();
        throw Error(Errc::malformed, fmt::format("event log: event {}{}: {}", index, name, what));
    }

    const json* find(std::string_view key) const {
        const auto it = obj.find(key);
        return it == obj.end() ? nullptr : &*it;
    }

    std::uint64_t unsigned_field(std::string_view key, std::uint64_t max) const {
        const auto* v = find(key);
        if (v == nullptr) fail(fmt::format("\"{}\" is missing", key));
        if (!v->is_number_unsigned() || v->get<std::uint64_t>() > max) {
            fail(fmt::format("\"{}\" must be an integer from 0 to {}, got {}", key, max, detail::json_preview(*v)));
        }
        return v->get<std::uint64_t>();
    }

    std::string string_field(std::string_view key, bool required) const {
        const auto* v = find(key);
        if (v == nullptr) {
            if (required) fail(fmt::format("\"{}\" is missing", key));
            return {};
        }
        if (!v->is_string()) fail(fmt::format("\"{}\" must be a string, got {}", key, v->type_name()));
        return v->get<std::string>();
    }

    Bytes hex_field(std::string_view key, bool required) const {
        const auto text = string_field(key, required);
        try {
            return from_hex(text, key);
        } catch (const Error& e) {
            fail(e.what());
        }
    }
};

}  // namespace

Event detail::parse_dstack_event(std::size_t index, const json& obj) {
    const EventReader r{index, obj};
    if (!obj.is_object()) r.fail(fmt::format("expected an object, got {}", obj.type_name()));
    for (const auto& [key, value] : obj.items()) {
        if (std::find(kEventKeys.begin(), kEventKeys.end(), key) == kEventKeys.end()) {
            r.fail(fmt::format("unknown field \"{}\" (known: imr, event_type, digest, event, event_payload, version, "
                               "preimage)",
                               key));
        }
    }
    Event e;
    e.index = index;
    e.imr = static_cast<std::uint32_t>(r.unsigned_field("imr", kRtmrCount - 1));
    e.event_type = static_cast<std::uint32_t>(r.unsigned_field("event_type", 0xFFFFFFFF));
    e.name = r.string_field("event", true);
    e.payload = r.hex_field("event_payload", false);
    const auto digest = r.hex_field("digest", true);
    if (!digest.empty() && digest.size() != e.digest.size()) {
        r.fail(fmt::format("digest is {} bytes, expected 48 (SHA-384) or empty", digest.size()));
    }
    if (r.find("version") != nullptr) e.version = static_cast<int>(r.unsigned_field("version", 2));
    if (e.version != 1 && e.version != 2) r.fail(fmt::format("unsupported version {}", e.version));
    if (r.find("preimage") != nullptr && e.version != 2) r.fail("\"preimage\" is only defined for version 2 events");

    if (!e.is_runtime()) {
        if (digest.empty()) {
            r.fail(fmt::format("boot event (imr {}, type {:#010x}) has an empty digest, and only runtime events' "
                               "digests can be recomputed",
                               e.imr, e.event_type));
        }
        std::copy(digest.begin(), digest.end(), e.digest.begin());
        return e;
    }
    // A runtime event counts for what its name and payload say; a given digest must agree, or the
    // payload shown could differ from what was measured.
    e.digest = runtime_event_digest(e.name, e.payload, e.version);
    e.recomputed = true;
    if (r.find("preimage") != nullptr) {
        const auto preimage = r.hex_field("preimage", true);
        const auto canonical = detail::runtime_event_preimage_v2(e.name, e.payload);
        if (!equal_ct(preimage, as_bytes(canonical))) {
            r.fail(fmt::format("preimage is not the canonical JSON {} of its name and payload", canonical));
        }
    }
    if (!digest.empty() && !equal_ct(digest, e.digest)) {
        r.fail(fmt::format("digest {} does not match {}, the V{} digest of its name and payload: the event was "
                           "altered; obtain the event log again from the TD",
                           to_hex(digest), to_hex(e.digest), e.version));
    }
    return e;
}

namespace {

EventLog from_array(const json& arr, std::string container) {
    EventLog out;
    out.container = std::move(container);
    for (std::size_t i = 0; i < arr.size(); ++i) out.events.push_back(detail::parse_dstack_event(i, arr[i]));
    return out;
}

json parse_text(std::string_view text, std::string_view what) { return detail::parse_json(text, what); }

// The event log inside a wrapper: an array, or a JSON string holding one (GetQuote double-encodes).
EventLog from_log_value(const json& v, std::string container, std::string_view where) {
    if (v.is_array()) return from_array(v, std::move(container));
    if (v.is_string()) {
        const auto inner = parse_text(v.get_ref<const std::string&>(), fmt::format("{} (JSON string)", where));
        if (!inner.is_array()) {
            throw Error(Errc::malformed,
                        fmt::format("{}: the JSON string holds {}, not an array of events", where, inner.type_name()));
        }
        return from_array(inner, std::move(container));
    }
    throw Error(Errc::malformed,
                fmt::format("{}: expected an array of events or a JSON string, got {}", where, v.type_name()));
}

EventLog from_document(const json& doc, std::string_view text) {
    if (doc.is_array()) return from_array(doc, "JSON array");
    if (doc.is_string()) return from_log_value(doc, "JSON string", "event log");
    if (!doc.is_object()) throw Error(Errc::malformed, fmt::format("event log: unexpected JSON {}", doc.type_name()));
    if (doc.contains("quote")) {
        const auto input = decode_quote_input(as_bytes(text), InputFormat::json);
        if (!input.event_log) {
            throw Error(Errc::malformed, fmt::format("{}: no event_log next to the quote", input.container));
        }
        auto log = from_log_value(parse_text(*input.event_log, "event_log"), input.container, "event_log");
        log.quote = input.quote;
        return log;
    }
    if (const auto it = doc.find("event_log"); it != doc.end()) {
        return from_log_value(*it, "dstack tcb_info", "tcb_info.event_log");
    }
    if (const auto it = doc.find("tcb_info"); it != doc.end()) {
        const auto tcb = it->is_string() ? parse_text(it->get_ref<const std::string&>(), "tcb_info") : *it;
        if (!tcb.is_object() || !tcb.contains("event_log")) {
            throw Error(Errc::malformed, "dstack Info response: tcb_info has no event_log");
        }
        return from_log_value(tcb["event_log"], "dstack tcb_info", "tcb_info.event_log");
    }
    throw Error(Errc::malformed,
                "event log: a JSON object needs \"event_log\", \"quote\" or \"tcb_info\" (GetQuote response, "
                "aTLS /tdx_quote response or tcb_info)");
}

}  // namespace

EventLog parse_dstack_event_log(std::string_view json_text) {
    return from_document(parse_text(json_text, "event log"), json_text);
}

}  // namespace tdxkit
