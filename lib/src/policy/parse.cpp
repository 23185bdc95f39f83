// parse_policy: a policy file, read strictly, into a Policy. Every key is looked up in a table, and
// one that no table knows is refused, because a misspelled rule would otherwise silently not be
// checked.

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "core/json_fields.hpp"
#include "policy/policy_internal.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/policy.hpp"

namespace tdxkit {
namespace {

using detail::JsonField;
using policy_internal::ascii_upper;
using policy_internal::kDigestFields;
using policy_internal::kDstackLists;
using policy_internal::kMaskedFields;

template <typename Table>
const auto* find_field(const Table& table, std::string_view key) {
    const auto it = std::find_if(table.begin(), table.end(), [&](const auto& f) { return f.key == key; });
    return it == table.end() ? nullptr : &*it;
}

// The keys of one place in the document, for an unknown key's message.
template <typename... Tables>
std::vector<std::string_view> keys_of(const Tables&... tables) {
    std::vector<std::string_view> keys;
    (std::transform(tables.begin(), tables.end(), std::back_inserter(keys), [](const auto& f) { return f.key; }), ...);
    return keys;
}

// A single string stands for a one-entry list. Every entry is a string.
std::vector<JsonField> string_list(const JsonField& v) {
    if (v.value().is_string()) return {v};
    if (!v.value().is_array()) {
        v.fail(fmt::format("expected a string or an array of strings, got {}", v.value().type_name()));
    }
    auto entries = v.elements();
    for (const auto& entry : entries) (void)entry.string();
    return entries;
}

DigestList digest_list(const JsonField& v, std::size_t size) {
    if (v.value().is_string()) return {v.hex(size)};
    if (!v.value().is_array()) {
        v.fail(fmt::format("expected a hex string or an array of hex strings, got {}", v.value().type_name()));
    }
    const auto entries = v.elements();
    if (entries.empty()) v.fail("an empty list accepts no quote; omit the key to not check this register");
    DigestList out;
    for (const auto& entry : entries) out.push_back(entry.hex(size));
    return out;
}

// Seconds as an integer, or "<n>s|m|h|d|w".
std::int64_t duration(const JsonField& v) {
    constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
    if (v.value().is_number_unsigned()) return static_cast<std::int64_t>(v.integer<std::uint64_t>(kMax));
    if (!v.value().is_string()) {
        v.fail(fmt::format("expected seconds or a string like \"30d\" or \"12h\", got {}",
                           detail::json_preview(v.value())));
    }
    const auto& text = v.string();
    static constexpr std::array<std::pair<char, std::int64_t>, 5> kUnits{
        {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}}};
    const auto bad = [&] {
        v.fail(fmt::format("'{}' is not a duration: use seconds or a number with s, m, h, d or w (\"30d\")", text));
    };
    if (text.size() < 2) bad();
    const auto unit = std::find_if(kUnits.begin(), kUnits.end(), [&](const auto& u) { return u.first == text.back(); });
    const std::string_view number(text.data(), text.size() - 1);
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
    if (unit == kUnits.end() || ec != std::errc{} || end != number.data() + number.size() || n < 0 ||
        n > std::numeric_limits<std::int64_t>::max() / unit->second) {
        bad();
    }
    return n * unit->second;
}

struct Field {
    std::string_view key;
    void (*parse)(const JsonField& v, Policy& p);
};

template <std::size_t N>
void parse_fields(const JsonField& section, const std::array<Field, N>& fields, Policy& p) {
    for (const auto& member : section.members()) {
        const auto* f = find_field(fields, member.key());
        if (f == nullptr) member.unknown_key(keys_of(fields));
        f->parse(member, p);
    }
}

// `accepting`: an allow-list, where an empty list or Revoked would be a mistake.
std::vector<TcbStatus> parse_statuses(const JsonField& v, bool accepting) {
    std::vector<TcbStatus> out;
    const auto names = string_list(v);
    if (names.empty()) {
        v.fail(accepting ? "an empty list accepts no quote; list at least one status such as \"UpToDate\""
                         : "an empty list rejects nothing; remove the rule or list a status");
    }
    for (const auto& entry : names) {
        const auto& name = entry.string();
        const auto status = parse_tcb_status(name);
        if (accepting && status == TcbStatus::revoked) {
            entry.fail("Revoked can never be accepted: the platform's attestation keys may be compromised");
        }
        if (!status) {
            std::vector<std::string_view> valid;
            for (int s = 0; s <= static_cast<int>(TcbStatus::revoked); ++s) {
                if (!accepting || static_cast<TcbStatus>(s) != TcbStatus::revoked) {
                    valid.emplace_back(tcb_status_name(static_cast<TcbStatus>(s)));
                }
            }
            entry.fail(fmt::format("unknown TCB status '{}' (valid: {})", name, fmt::join(valid, ", ")));
        }
        out.push_back(*status);
    }
    return out;
}

// Advisory IDs are stored in upper case, and their shape is checked, so that a deny-list entry with
// a typo cannot silently never match.
std::vector<std::string> parse_advisories(const JsonField& v) {
    std::vector<std::string> ids;
    for (const auto& entry : string_list(v)) {
        auto id = entry.string();
        std::transform(id.begin(), id.end(), id.begin(), ascii_upper);
        const auto dash = id.rfind('-');
        const std::string_view prefix = std::string_view(id).substr(0, dash == std::string::npos ? 0 : dash);
        const std::string_view number = dash == std::string::npos ? "" : std::string_view(id).substr(dash + 1);
        const bool valid_prefix =
            prefix.size() > 6 && prefix.starts_with("INTEL-") &&
            std::all_of(prefix.begin() + 6, prefix.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
        const bool valid_number = number.size() >= 5 && std::all_of(number.begin(), number.end(),
                                                                    [](char c) { return c >= '0' && c <= '9'; });
        if (!valid_prefix || !valid_number) {
            entry.fail(fmt::format("'{}' is not an Intel advisory ID like INTEL-SA-00960", id));
        }
        ids.push_back(std::move(id));
    }
    return ids;
}

constexpr std::array kTcbFields{
    Field{"accepted_statuses",
          [](const JsonField& v, Policy& p) { p.tcb.accepted_statuses = parse_statuses(v, true); }},
    Field{"rejected_component_statuses",
          [](const JsonField& v, Policy& p) { p.tcb.rejected_component_statuses = parse_statuses(v, false); }},
    Field{"accepted_advisory_ids",
          [](const JsonField& v, Policy& p) { p.tcb.accepted_advisory_ids = parse_advisories(v); }},
    Field{"rejected_advisory_ids",
          [](const JsonField& v, Policy& p) { p.tcb.rejected_advisory_ids = parse_advisories(v); }},
    Field{"min_tcb_date", [](const JsonField& v, Policy& p) { p.tcb.min_tcb_date = v.time(); }},
    Field{"min_tcb_evaluation_data_number",
          [](const JsonField& v, Policy& p) { p.tcb.min_tcb_evaluation_data_number = v.integer<std::uint32_t>(); }},
    Field{"max_collateral_age", [](const JsonField& v, Policy& p) { p.tcb.max_collateral_age = duration(v); }},
    Field{"out_of_date_grace_period",
          [](const JsonField& v, Policy& p) { p.tcb.out_of_date_grace_period = duration(v); }},
};

MaskedBits parse_masked(const JsonField& v) {
    struct Part {
        std::string_view key;
        Octets<8> MaskedBits::*member;
    };
    static constexpr std::array<Part, 2> kParts{{{"value", &MaskedBits::value}, {"mask", &MaskedBits::mask}}};
    MaskedBits out;
    for (const auto& member : v.members()) {
        const auto* part = find_field(kParts, member.key());
        if (part == nullptr) member.unknown_key(keys_of(kParts));
        out.*(part->member) = member.octets<8>();
    }
    for (const auto& part : kParts) {
        if (!v.optional_member(part.key)) v.missing_member(part.key);
    }
    // A value bit outside the mask would look required while never being checked.
    for (std::size_t i = 0; i < out.value.size(); ++i) {
        if ((out.value[i] & ~out.mask[i]) != 0) {
            v.member("value").fail("sets bits outside the mask, which would never be checked");
        }
    }
    return out;
}

constexpr std::array kTdFields{
    Field{"allow_debug", [](const JsonField& v, Policy& p) { p.td.allow_debug = v.boolean(); }},
    Field{"min_tee_tcb_svn", [](const JsonField& v, Policy& p) { p.td.min_tee_tcb_svn = v.octets<16>(); }},
};

void parse_td(const JsonField& section, Policy& p) {
    for (const auto& member : section.members()) {
        if (const auto* d = find_field(kDigestFields, member.key())) {
            p.td.*(d->member) = digest_list(member, d->size);
        } else if (const auto* m = find_field(kMaskedFields, member.key())) {
            p.td.*(m->member) = parse_masked(member);
        } else if (const auto* f = find_field(kTdFields, member.key())) {
            f->parse(member, p);
        } else {
            member.unknown_key(keys_of(kDigestFields, kMaskedFields, kTdFields));
        }
    }
}

constexpr std::array kQeFields{
    Field{"min_isvsvn", [](const JsonField& v, Policy& p) { p.qe.min_isvsvn = v.integer<std::uint16_t>(); }},
};

KeyProviderRule parse_key_provider(const JsonField& v) {
    static constexpr std::array<std::string_view, 2> kKeys{"name", "id"};
    KeyProviderRule out;
    for (const auto& member : v.members()) {
        if (member.key() == "name") {
            out.name = member.string();
        } else if (member.key() == "id") {
            const auto& text = member.string();
            try {
                out.id = from_hex(text, member.path());
            } catch (const Error&) {
                member.fail(fmt::format("'{}' is not hex", text));
            }
        } else {
            member.unknown_key(kKeys);
        }
    }
    if (!out.name && !out.id) v.fail("name it, pin its id, or both; an empty rule checks nothing");
    return out;
}

// Rules of the dstack section besides its identity lists (kDstackLists); parse_dstack has made
// p.dstack before they run.
constexpr std::array kDstackFields{
    Field{"key_provider", [](const JsonField& v, Policy& p) { p.dstack->key_provider = parse_key_provider(v); }},
    Field{"require_event_log", [](const JsonField& v, Policy& p) { p.dstack->require_event_log = v.boolean(); }},
};

void parse_dstack(const JsonField& section, Policy& p) {
    const auto members = section.members();
    auto& d = p.dstack.emplace();
    for (const auto& member : members) {
        if (const auto* l = find_field(kDstackLists, member.key())) {
            d.*(l->member) = digest_list(member, l->size);
        } else if (const auto* f = find_field(kDstackFields, member.key())) {
            f->parse(member, p);
        } else {
            member.unknown_key(keys_of(kDstackLists, kDstackFields));
        }
    }
}

void parse_version(const JsonField& v, Policy&) {
    if (!v.value().is_number_integer() || v.value().get<std::int64_t>() != kPolicyVersion) {
        v.fail(fmt::format("unsupported policy version {} (this tdxkit reads version {})",
                           detail::json_preview(v.value()), kPolicyVersion));
    }
}

// Top-level sections. A new section is one entry here plus its parser and evaluator.
constexpr std::array kSections{
    Field{"version", parse_version},
    Field{"tcb", [](const JsonField& v, Policy& p) { parse_fields(v, kTcbFields, p); }},
    Field{"td", parse_td},
    Field{"qe", [](const JsonField& v, Policy& p) { parse_fields(v, kQeFields, p); }},
    Field{"dstack", parse_dstack},
};

// A policy file is usage input: its JSON errors (duplicate keys included, which could silently
// replace a rule) are invalid-argument errors, with the strict parser's path and reason.
nlohmann::json parse_document(std::string_view source, std::string_view text) {
    try {
        return detail::parse_json(text, source);
    } catch (const Error& e) {
        throw Error(Errc::invalid_argument, e.what());
    }
}

}  // namespace

Policy parse_policy(std::string_view json_text, std::string_view source_name) {
    const auto doc = parse_document(source_name, json_text);
    // Paths start at the top-level keys ("td.mrtd"); every message starts with the file's name.
    const JsonField root(doc, "", {Errc::invalid_argument, source_name});
    // The version decides how everything else is read, so it is checked before any other key.
    const auto version = root.optional_member("version");
    if (!version) root.missing_member("version", fmt::format("\"version\": {}", kPolicyVersion));
    Policy p;
    parse_version(*version, p);
    parse_fields(root, kSections, p);
    p.source = source_name;
    return p;
}

}  // namespace tdxkit
