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
#include "policy/policy_internal.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/policy.hpp"

namespace tdxkit {
namespace {

using nlohmann::json;
using policy_internal::ascii_upper;
using policy_internal::kDigestFields;
using policy_internal::kDstackLists;
using policy_internal::kMaskedFields;

class Reader {
public:
    explicit Reader(std::string_view source) : source_(source) {}

    [[noreturn]] void fail(std::string_view path, std::string_view what) const {
        throw Error(Errc::invalid_argument, fmt::format("{}: {}: {}", source_, path, what));
    }

    void require_object(const json& v, std::string_view path) const {
        if (!v.is_object()) fail(path, fmt::format("expected an object, got {}", v.type_name()));
    }

    bool boolean(const json& v, std::string_view path) const {
        if (!v.is_boolean()) fail(path, fmt::format("expected true or false, got {}", v.type_name()));
        return v.get<bool>();
    }

    std::uint64_t unsigned_int(const json& v, std::string_view path, std::uint64_t max) const {
        if (!v.is_number_unsigned() || v.get<std::uint64_t>() > max) {
            fail(path, fmt::format("expected an integer from 0 to {}, got {}", max, detail::json_preview(v)));
        }
        return v.get<std::uint64_t>();
    }

    const std::string& str(const json& v, std::string_view path) const {
        if (!v.is_string()) fail(path, fmt::format("expected a string, got {}", v.type_name()));
        return v.get_ref<const std::string&>();
    }

    // A single string stands for a one-entry list.
    std::vector<std::string> string_list(const json& v, std::string_view path) const {
        if (v.is_string()) return {v.get<std::string>()};
        if (!v.is_array()) fail(path, fmt::format("expected a string or an array of strings, got {}", v.type_name()));
        std::vector<std::string> out;
        for (std::size_t i = 0; i < v.size(); ++i) out.push_back(str(v[i], fmt::format("{}[{}]", path, i)));
        return out;
    }

    Bytes hex(const json& v, std::string_view path, std::size_t size) const {
        if (!v.is_string()) {
            fail(path, fmt::format("expected a hex string of {} bytes, got {}", size, v.type_name()));
        }
        Bytes out;
        try {
            out = from_hex(v.get_ref<const std::string&>(), path);
        } catch (const Error& e) {
            throw Error(Errc::invalid_argument, fmt::format("{}: {}", source_, e.what()));
        }
        if (out.size() != size) {
            fail(path, fmt::format("expected {} bytes ({} hex digits), got {} bytes", size, 2 * size, out.size()));
        }
        return out;
    }

    template <std::size_t N>
    Octets<N> octets(const json& v, std::string_view path) const {
        const auto b = hex(v, path, N);
        Octets<N> out{};
        std::copy(b.begin(), b.end(), out.begin());
        return out;
    }

    DigestList digest_list(const json& v, const std::string& path, std::size_t size) const {
        const json list = v.is_string() ? json::array({v}) : v;
        if (!list.is_array()) {
            fail(path, fmt::format("expected a hex string or an array of hex strings, got {}", v.type_name()));
        }
        if (list.empty()) fail(path, "an empty list accepts no quote; omit the key to not check this register");
        DigestList out;
        for (std::size_t i = 0; i < list.size(); ++i) {
            out.push_back(hex(list[i], v.is_string() ? path : fmt::format("{}[{}]", path, i), size));
        }
        return out;
    }

    // Seconds as an integer, or "<n>s|m|h|d|w".
    std::int64_t duration(const json& v, std::string_view path) const {
        constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
        if (v.is_number_unsigned()) return static_cast<std::int64_t>(unsigned_int(v, path, kMax));
        if (!v.is_string()) {
            fail(path,
                 fmt::format("expected seconds or a string like \"30d\" or \"12h\", got {}", detail::json_preview(v)));
        }
        const auto& text = v.get_ref<const std::string&>();
        static constexpr std::array<std::pair<char, std::int64_t>, 5> kUnits{
            {{'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86400}, {'w', 7 * 86400}}};
        const auto bad = [&] {
            fail(path,
                 fmt::format("'{}' is not a duration: use seconds or a number with s, m, h, d or w (\"30d\")", text));
        };
        if (text.size() < 2) bad();
        const auto unit =
            std::find_if(kUnits.begin(), kUnits.end(), [&](const auto& u) { return u.first == text.back(); });
        const std::string_view number(text.data(), text.size() - 1);
        std::int64_t n = 0;
        const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), n);
        if (unit == kUnits.end() || ec != std::errc{} || end != number.data() + number.size() || n < 0 ||
            n > std::numeric_limits<std::int64_t>::max() / unit->second) {
            bad();
        }
        return n * unit->second;
    }

    // Unknown keys are refused because a misspelled rule would otherwise silently not be checked.
    template <typename... Tables>
    [[noreturn]] void unknown_key(std::string_view path, const Tables&... tables) const {
        std::vector<std::string_view> keys;
        (std::transform(tables.begin(), tables.end(), std::back_inserter(keys), [](const auto& f) { return f.key; }),
         ...);
        fail(path, fmt::format("unknown key (allowed here: {})", fmt::join(keys, ", ")));
    }

private:
    std::string_view source_;
};

std::string join_path(std::string_view parent, std::string_view key) {
    return parent.empty() ? std::string(key) : fmt::format("{}.{}", parent, key);
}

template <typename Table>
const auto* find_field(const Table& table, std::string_view key) {
    const auto it = std::find_if(table.begin(), table.end(), [&](const auto& f) { return f.key == key; });
    return it == table.end() ? nullptr : &*it;
}

struct Field {
    std::string_view key;
    void (*parse)(const Reader& r, const json& v, const std::string& path, Policy& p);
};

template <std::size_t N>
void parse_fields(const Reader& r, const json& obj, const std::string& path, const std::array<Field, N>& fields,
                  Policy& p) {
    r.require_object(obj, path);
    for (const auto& [key, value] : obj.items()) {
        const auto at = join_path(path, key);
        const auto* f = find_field(fields, key);
        if (f == nullptr) r.unknown_key(at, fields);
        f->parse(r, value, at, p);
    }
}

// `accepting`: an allow-list, where an empty list or Revoked would be a mistake.
std::vector<TcbStatus> parse_statuses(const Reader& r, const json& v, const std::string& path, bool accepting) {
    std::vector<TcbStatus> out;
    const auto names = r.string_list(v, path);
    if (names.empty()) {
        r.fail(path, accepting ? "an empty list accepts no quote; list at least one status such as \"UpToDate\""
                               : "an empty list rejects nothing; remove the rule or list a status");
    }
    for (std::size_t i = 0; i < names.size(); ++i) {
        const auto at = fmt::format("{}[{}]", path, i);
        const auto status = parse_tcb_status(names[i]);
        if (accepting && status == TcbStatus::revoked) {
            r.fail(at, "Revoked can never be accepted: the platform's attestation keys may be compromised");
        }
        if (!status) {
            std::vector<std::string_view> valid;
            for (int s = 0; s <= static_cast<int>(TcbStatus::revoked); ++s) {
                if (!accepting || static_cast<TcbStatus>(s) != TcbStatus::revoked) {
                    valid.emplace_back(tcb_status_name(static_cast<TcbStatus>(s)));
                }
            }
            r.fail(at, fmt::format("unknown TCB status '{}' (valid: {})", names[i], fmt::join(valid, ", ")));
        }
        out.push_back(*status);
    }
    return out;
}

// Advisory IDs are compared in upper case, and their shape is checked, so that a deny-list entry
// with a typo cannot silently never match.
std::vector<std::string> parse_advisories(const Reader& r, const json& v, const std::string& path) {
    auto ids = r.string_list(v, path);
    for (std::size_t i = 0; i < ids.size(); ++i) {
        auto& id = ids[i];
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
            r.fail(fmt::format("{}[{}]", path, i),
                   fmt::format("'{}' is not an Intel advisory ID like INTEL-SA-00960", id));
        }
    }
    return ids;
}

constexpr std::array kTcbFields{
    Field{"accepted_statuses", [](const Reader& r, const json& v, const std::string& at,
                                  Policy& p) { p.tcb.accepted_statuses = parse_statuses(r, v, at, true); }},
    Field{"rejected_component_statuses",
          [](const Reader& r, const json& v, const std::string& at, Policy& p) {
              p.tcb.rejected_component_statuses = parse_statuses(r, v, at, false);
          }},
    Field{"accepted_advisory_ids", [](const Reader& r, const json& v, const std::string& at,
                                      Policy& p) { p.tcb.accepted_advisory_ids = parse_advisories(r, v, at); }},
    Field{"rejected_advisory_ids", [](const Reader& r, const json& v, const std::string& at,
                                      Policy& p) { p.tcb.rejected_advisory_ids = parse_advisories(r, v, at); }},
    Field{"min_tcb_date",
          [](const Reader& r, const json& v, const std::string& at, Policy& p) {
              const auto& text = r.str(v, at);
              try {
                  p.tcb.min_tcb_date = parse_time(text);
              } catch (const Error&) {
                  r.fail(at, fmt::format("'{}' is not an RFC 3339 time (2024-03-13T00:00:00Z)", text));
              }
          }},
    Field{"min_tcb_evaluation_data_number",
          [](const Reader& r, const json& v, const std::string& at, Policy& p) {
              p.tcb.min_tcb_evaluation_data_number =
                  static_cast<std::uint32_t>(r.unsigned_int(v, at, std::numeric_limits<std::uint32_t>::max()));
          }},
    Field{"max_collateral_age", [](const Reader& r, const json& v, const std::string& at,
                                   Policy& p) { p.tcb.max_collateral_age = r.duration(v, at); }},
    Field{"out_of_date_grace_period", [](const Reader& r, const json& v, const std::string& at,
                                         Policy& p) { p.tcb.out_of_date_grace_period = r.duration(v, at); }},
};

MaskedBits parse_masked(const Reader& r, const json& v, const std::string& path) {
    struct Part {
        std::string_view key;
        Octets<8> MaskedBits::*member;
    };
    static constexpr std::array<Part, 2> kParts{{{"value", &MaskedBits::value}, {"mask", &MaskedBits::mask}}};
    r.require_object(v, path);
    MaskedBits out;
    for (const auto& [key, item] : v.items()) {
        const auto* part = find_field(kParts, key);
        if (part == nullptr) r.unknown_key(join_path(path, key), kParts);
        out.*(part->member) = r.octets<8>(item, join_path(path, key));
    }
    for (const auto& part : kParts) {
        if (!v.contains(part.key)) r.fail(join_path(path, part.key), "required");
    }
    // A value bit outside the mask would look required while never being checked.
    for (std::size_t i = 0; i < out.value.size(); ++i) {
        if ((out.value[i] & ~out.mask[i]) != 0) {
            r.fail(join_path(path, "value"), "sets bits outside the mask, which would never be checked");
        }
    }
    return out;
}

constexpr std::array kTdFields{
    Field{"allow_debug", [](const Reader& r, const json& v, const std::string& at,
                            Policy& p) { p.td.allow_debug = r.boolean(v, at); }},
    Field{"min_tee_tcb_svn", [](const Reader& r, const json& v, const std::string& at,
                                Policy& p) { p.td.min_tee_tcb_svn = r.octets<16>(v, at); }},
};

void parse_td(const Reader& r, const json& obj, const std::string& path, Policy& p) {
    r.require_object(obj, path);
    for (const auto& [key, value] : obj.items()) {
        const auto at = join_path(path, key);
        if (const auto* d = find_field(kDigestFields, key)) {
            p.td.*(d->member) = r.digest_list(value, at, d->size);
        } else if (const auto* m = find_field(kMaskedFields, key)) {
            p.td.*(m->member) = parse_masked(r, value, at);
        } else if (const auto* f = find_field(kTdFields, key)) {
            f->parse(r, value, at, p);
        } else {
            r.unknown_key(at, kDigestFields, kMaskedFields, kTdFields);
        }
    }
}

constexpr std::array kQeFields{
    Field{"min_isvsvn",
          [](const Reader& r, const json& v, const std::string& at, Policy& p) {
              p.qe.min_isvsvn =
                  static_cast<std::uint16_t>(r.unsigned_int(v, at, std::numeric_limits<std::uint16_t>::max()));
          }},
};

KeyProviderRule parse_key_provider(const Reader& r, const json& v, const std::string& path) {
    r.require_object(v, path);
    KeyProviderRule out;
    for (const auto& [key, item] : v.items()) {
        const auto at = join_path(path, key);
        if (key == "name") {
            out.name = r.str(item, at);
        } else if (key == "id") {
            const auto& text = r.str(item, at);
            try {
                out.id = from_hex(text, at);
            } catch (const Error&) {
                r.fail(at, fmt::format("'{}' is not hex", text));
            }
        } else {
            r.fail(at, "unknown key (allowed here: name, id)");
        }
    }
    if (!out.name && !out.id) r.fail(path, "name it, pin its id, or both; an empty rule checks nothing");
    return out;
}

void parse_dstack(const Reader& r, const json& obj, const std::string& path, Policy& p) {
    r.require_object(obj, path);
    auto& d = p.dstack.emplace();
    for (const auto& [key, value] : obj.items()) {
        const auto at = join_path(path, key);
        if (const auto* l = find_field(kDstackLists, key)) {
            d.*(l->member) = r.digest_list(value, at, l->size);
        } else if (key == "key_provider") {
            d.key_provider = parse_key_provider(r, value, at);
        } else if (key == "require_event_log") {
            d.require_event_log = r.boolean(value, at);
        } else {
            r.fail(at, fmt::format("unknown key (allowed here: compose_hashes, app_ids, instance_ids, "
                                   "os_image_hashes, key_provider, require_event_log)"));
        }
    }
}

void parse_version(const Reader& r, const json& v, const std::string& path, Policy&) {
    if (!v.is_number_integer() || v.get<std::int64_t>() != kPolicyVersion) {
        r.fail(path, fmt::format("unsupported policy version {} (this tdxkit reads version {})",
                                 detail::json_preview(v), kPolicyVersion));
    }
}

// Top-level sections. A new section is one entry here plus its parser and evaluator.
constexpr std::array kSections{
    Field{"version", parse_version},
    Field{"tcb", [](const Reader& r, const json& v, const std::string& at,
                    Policy& p) { parse_fields(r, v, at, kTcbFields, p); }},
    Field{"td", parse_td},
    Field{"qe", [](const Reader& r, const json& v, const std::string& at,
                   Policy& p) { parse_fields(r, v, at, kQeFields, p); }},
    Field{"dstack", parse_dstack},
};

// A policy file is usage input: its JSON errors (duplicate keys included, which could silently
// replace a rule) are invalid-argument errors, with the strict parser's path and reason.
json parse_document(std::string_view source, std::string_view text) {
    try {
        return detail::parse_json(text, source);
    } catch (const Error& e) {
        throw Error(Errc::invalid_argument, e.what());
    }
}

}  // namespace

Policy parse_policy(std::string_view json_text, std::string_view source_name) {
    const Reader r(source_name);
    const auto doc = parse_document(source_name, json_text);
    r.require_object(doc, "(document)");
    // The version decides how everything else is read, so it is checked before any other key.
    if (!doc.contains("version")) r.fail("version", fmt::format("required (\"version\": {})", kPolicyVersion));
    Policy p;
    parse_version(r, doc.at("version"), "version", p);
    parse_fields(r, doc, "", kSections, p);
    p.source = source_name;
    return p;
}

}  // namespace tdxkit
