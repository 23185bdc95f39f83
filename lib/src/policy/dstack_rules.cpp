// The dstack section's rules, on the RTMR3 events of an event log bound to the quote: the
// application's identity (compose hash, app id, instance id, OS image hash), its key provider, and
// MRCONFIGID against the compose hash. Nothing is read from a log before its binding is checked.

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "policy/policy_internal.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/measure.hpp"

namespace tdxkit::policy_internal {
namespace {

bool listed_ct(const DigestList& allowed, ByteSpan actual) {
    bool matched = false;
    for (const auto& value : allowed) matched |= equal_ct(value, actual);
    return matched;
}

// The RTMR3 events of a bound log (bind_event_log). Binding: each is a runtime event whose digest
// was recomputed from its name and payload, and the replay of all of them equals the quote's RTMR3,
// so the names, payloads and order read here are exactly what the TD measured.
class Rtmr3 {
public:
    explicit Rtmr3(const EventLogBinding& binding) : events_(binding.runtime_events) {}

    // The one `name` event before `before`; reports a violation on `path` and returns nullptr when
    // it is missing, repeated or late.
    const Event* single(std::string_view name, std::string_view before, const std::string& path, Evaluator& ev) const {
        std::vector<const Event*> found;
        std::copy_if(events_.begin(), events_.end(), std::back_inserter(found),
                     [&](const Event* e) { return e->name == name; });
        const auto boundary =
            std::find_if(events_.begin(), events_.end(), [&](const Event* e) { return e->name == before; });
        const auto where = [](const std::vector<const Event*>& list) {
            std::vector<std::size_t> idx;
            std::transform(list.begin(), list.end(), std::back_inserter(idx), [](const Event* e) { return e->index; });
            return fmt::format("{}", fmt::join(idx, ", "));
        };
        const auto expected = fmt::format("one {} event before {}", name, before);
        if (found.size() != 1) {
            ev.violate(path, expected,
                       fmt::format("{} {} events{}", found.size(), name,
                                   found.empty() ? "" : fmt::format(" (events {})", where(found))),
                       fmt::format("the event log has {} RTMR3 {} events{}, expected exactly one: {}", found.size(),
                                   name, found.empty() ? "" : fmt::format(" (events {})", where(found)),
                                   found.empty() ? "this TD did not measure it; check the dstack version and key "
                                                   "provider, or remove the rule"
                                                 : "a repeated identity event is ambiguous and may be forged by the "
                                                   "application; do not trust this TD"));
            return nullptr;
        }
        if (boundary == events_.end() || (*boundary)->index < found.front()->index) {
            ev.violate(path, expected,
                       boundary == events_.end() ? fmt::format("no {} event", before)
                                                 : fmt::format("event {} after {} (event {})", found.front()->index,
                                                               before, (*boundary)->index),
                       boundary == events_.end()
                           ? fmt::format("the event log has no RTMR3 {} event, so event {} ({}) cannot be shown to "
                                         "come from dstack itself rather than the application",
                                         before, found.front()->index, name)
                           : fmt::format("event {} ({}) comes after {} (event {}), where the application can emit "
                                         "events itself; do not trust this TD",
                                         found.front()->index, name, before, (*boundary)->index));
            return nullptr;
        }
        return found.front();
    }

private:
    const std::vector<const Event*>& events_;
};

// The key-provider event's payload {"name": .., "id": "<hex>"}. Binding: a runtime event of a bound
// log, so these bytes are what the TD measured; they are parsed strictly because a duplicated "id"
// would name one key to tdxkit and another to a different verifier.
struct KeyProviderPayload {
    std::string name;
    Bytes id;
};

std::optional<KeyProviderPayload> parse_key_provider_payload(const Event& e, std::string& why) {
    try {
        const auto info =
            detail::parse_json(std::string_view(reinterpret_cast<const char*>(e.payload.data()), e.payload.size()),
                               fmt::format("event {} (key-provider) payload", e.index));
        if (!info.is_object() || !info.contains("name") || !info["name"].is_string() || !info.contains("id") ||
            !info["id"].is_string()) {
            why = fmt::format("event {} (key-provider) payload is not {{\"name\":..,\"id\":..}}", e.index);
            return std::nullopt;
        }
        return KeyProviderPayload{info["name"].get<std::string>(),
                                  from_hex(info["id"].get<std::string>(), "key-provider id")};
    } catch (const Error& error) {
        why = error.what();
        return std::nullopt;
    }
}

void check_mr_config_id(const Quote& quote, const Event& compose, const Rtmr3& rtmr3, Evaluator& ev) {
    const auto* body = quote.td_body();
    if (body == nullptr || all_zero(body->mr_config_id)) return;
    ev.rule();
    Octets<32> hash{};
    std::copy_n(compose.payload.begin(), std::min(compose.payload.size(), hash.size()), hash.begin());
    const auto actual = to_hex(body->mr_config_id);
    const auto version = body->mr_config_id[0];
    if (version == 1) {
        const auto expected = mr_config_id_v1(hash);
        if (equal_ct(expected, body->mr_config_id)) return;
        ev.violate("dstack.mr_config_id", to_hex(expected), actual,
                   fmt::format("MRCONFIGID {} is V1 but does not carry the compose hash {} of event {}: the TD was "
                               "launched for another app-compose; do not trust this TD",
                               actual, to_hex(compose.payload), compose.index));
        return;
    }
    if (version == 2) {
        // V2 binds the app id and key provider too, taken from their own events.
        Evaluator scratch;
        const auto* app = rtmr3.single("app-id", kBootMrDone, "dstack.mr_config_id", scratch);
        const auto* kp = rtmr3.single("key-provider", kSystemReady, "dstack.mr_config_id", scratch);
        std::optional<Measurement> expected;
        std::string why;
        if (app != nullptr && kp != nullptr && app->payload.size() == 20) {
            if (const auto info = parse_key_provider_payload(*kp, why)) {
                const auto kind = parse_key_provider_kind(info->name);
                Octets<20> app_id{};
                std::copy(app->payload.begin(), app->payload.end(), app_id.begin());
                try {
                    if (kind) expected = mr_config_id_v2(hash, app_id, *kind, info->id);
                } catch (const Error&) {
                    expected.reset();
                }
            }
        }
        if (expected && equal_ct(*expected, body->mr_config_id)) return;
        ev.violate("dstack.mr_config_id", expected ? to_hex(*expected) : "a V2 value derivable from the events", actual,
                   expected ? fmt::format("MRCONFIGID {} is V2 but does not match the compose hash, app id and key "
                                          "provider of the event log; do not trust this TD",
                                          actual)
                            : fmt::format("MRCONFIGID {} is V2, but the event log lacks a usable app-id or "
                                          "key-provider event to check it against{}",
                                          actual, why.empty() ? "" : fmt::format(" ({})", why)));
        return;
    }
    ev.violate("dstack.mr_config_id", "zero, V1 or V2", actual,
               fmt::format("MRCONFIGID version {} is not one tdxkit can check against the compose hash; pin it with "
                           "td.mrconfigid instead of relying on the dstack section",
                           version));
}

void check_key_provider(const KeyProviderRule& rule, const Rtmr3& rtmr3, Evaluator& ev) {
    ev.rule();
    const auto* e = rtmr3.single("key-provider", kSystemReady, "dstack.key_provider", ev);
    if (e == nullptr) return;
    const auto expected =
        fmt::format("name {} id {}", rule.name.value_or("(any)"), rule.id ? to_hex(*rule.id) : "(any)");
    std::string why;
    const auto info = parse_key_provider_payload(*e, why);
    if (!info) {
        ev.violate("dstack.key_provider", expected,
                   fmt::format("{:.200}",
                               std::string_view(reinterpret_cast<const char*>(e->payload.data()), e->payload.size())),
                   why);
        return;
    }
    const auto& [name, id] = *info;
    if ((!rule.name || *rule.name == name) && (!rule.id || equal_ct(*rule.id, id))) return;
    ev.violate("dstack.key_provider", expected, fmt::format("name {} id {}", name, to_hex(id)),
               fmt::format("event {} (key-provider) names key provider {} with id {}, the policy expects {}; if the "
                           "new key provider is legitimate, update dstack.key_provider",
                           e->index, name, to_hex(id), expected));
}

}  // namespace

void evaluate_dstack(const DstackPolicy& p, const Quote& quote, const EventLog* log, Evaluator& ev) {
    if (log == nullptr) {
        ev.rule();
        if (p.require_event_log) {
            ev.violate("dstack.require_event_log", "an event log", "none",
                       "no event log came with the quote, so the dstack application cannot be identified; pass "
                       "--event-log FILE or a GetQuote / /tdx_quote response that carries one");
        }
        // Without a log only a V1 MRCONFIGID can vouch for the compose hash.
        for (const auto& l : kDstackLists) {
            const auto& allowed = p.*(l.member);
            if (!allowed) continue;
            ev.rule();
            const auto* body = quote.td_body();
            const auto path = fmt::format("dstack.{}", l.key);
            if (l.key == "compose_hashes" && body != nullptr && body->mr_config_id[0] == 1) {
                const auto hash = ByteSpan(body->mr_config_id).subspan(1, 32);
                if (listed_ct(*allowed, hash) && all_zero(ByteSpan(body->mr_config_id).subspan(33))) continue;
                ev.violate(path, hex_list(*allowed), to_hex(hash),
                           fmt::format("MRCONFIGID (V1) carries compose hash {}, expected one of {}", to_hex(hash),
                                       hex_list(*allowed)));
                continue;
            }
            ev.violate(path, hex_list(*allowed), "no event log",
                       fmt::format("needs the {} event of an event log; pass --event-log FILE", l.event));
        }
        if (p.key_provider) {
            ev.rule();
            ev.violate("dstack.key_provider", "a key-provider event", "no event log",
                       "needs the key-provider event of an event log; pass --event-log FILE");
        }
        return;
    }
    ev.rule();
    const auto* body = quote.td_body();
    if (body == nullptr) {
        ev.violate("dstack.event_log", "a TD quote", body_type_name(quote.body_type),
                   "an event log can only be checked against a TD quote's RTMRs");
        return;
    }
    const auto binding = bind_event_log(*log, *body);
    if (binding.mismatch) {
        const auto& m = *binding.mismatch;
        ev.violate("dstack.event_log", to_hex(m.quoted), to_hex(m.replayed),
                   fmt::format("{}; no dstack rule can be trusted", binding.failure()));
        return;
    }
    if (binding.unbound) {
        ev.violate("dstack.event_log", "every RTMR3 event a dstack runtime event",
                   fmt::format("event {} is not", binding.unbound->index),
                   fmt::format("{}; no dstack rule can be trusted", binding.failure()));
        return;
    }
    const Rtmr3 rtmr3(binding);
    for (const auto& l : kDstackLists) {
        const auto& allowed = p.*(l.member);
        // The compose hash identifies the application, so it is always located, even unpinned.
        if (!allowed && l.key != "compose_hashes") continue;
        ev.rule();
        const auto path = fmt::format("dstack.{}", l.key);
        const auto* e = rtmr3.single(l.event, l.before, path, ev);
        if (e == nullptr) continue;
        if (e->payload.size() != l.size) {
            ev.violate(path, fmt::format("a {}-byte {}", l.size, l.event), fmt::format("{} bytes", e->payload.size()),
                       fmt::format("event {} ({}) has a {}-byte payload where the policy compares a {}-byte value",
                                   e->index, l.event, e->payload.size(), l.size));
            continue;
        }
        if (l.key == "compose_hashes") check_mr_config_id(quote, *e, rtmr3, ev);
        if (!allowed || listed_ct(*allowed, e->payload)) continue;
        ev.violate(path, hex_list(*allowed), to_hex(e->payload),
                   fmt::format("event {} ({}) is {}, expected one of {}; if this {} is legitimate, add it to {}",
                               e->index, l.event, to_hex(e->payload), hex_list(*allowed), l.event, path));
    }
    if (p.key_provider) check_key_provider(*p.key_provider, rtmr3, ev);
}

}  // namespace tdxkit::policy_internal
