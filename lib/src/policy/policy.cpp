#include "tdxkit/policy.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <set>
#include <span>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/measure.hpp"

namespace tdxkit {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// ---------------------------------------------------------------------------------------------
// Rule tables. Each drives parsing, evaluation and policy_to_json, so a key can never be accepted
// by the parser yet ignored by the evaluator.

using Actual = std::optional<ByteSpan>;  // nullopt: the quote's body has no such register

struct DigestField {
    std::string_view key;
    std::string_view register_name;  // as Intel's documents spell it, for messages
    std::size_t size;
    std::optional<DigestList> TdPolicy::*member;
    Actual (*actual)(const TdReportBody&);
};

constexpr std::array kDigestFields{
    DigestField{"mrtd", "MRTD", 48, &TdPolicy::mrtd, [](const TdReportBody& b) -> Actual { return ByteSpan(b.mr_td); }},
    DigestField{"rtmr0", "RTMR0", 48, &TdPolicy::rtmr0,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.rtmr[0]); }},
    DigestField{"rtmr1", "RTMR1", 48, &TdPolicy::rtmr1,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.rtmr[1]); }},
    DigestField{"rtmr2", "RTMR2", 48, &TdPolicy::rtmr2,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.rtmr[2]); }},
    DigestField{"rtmr3", "RTMR3", 48, &TdPolicy::rtmr3,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.rtmr[3]); }},
    DigestField{"mrconfigid", "MRCONFIGID", 48, &TdPolicy::mrconfigid,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.mr_config_id); }},
    DigestField{"mrowner", "MROWNER", 48, &TdPolicy::mrowner,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.mr_owner); }},
    DigestField{"mrownerconfig", "MROWNERCONFIG", 48, &TdPolicy::mrownerconfig,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.mr_owner_config); }},
    DigestField{"reportdata", "REPORTDATA", 64, &TdPolicy::reportdata,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.report_data); }},
    DigestField{"mrseam", "MRSEAM", 48, &TdPolicy::mrseam,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.mr_seam); }},
    DigestField{"mrsignerseam", "MRSIGNERSEAM", 48, &TdPolicy::mrsignerseam,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.mr_signer_seam); }},
    DigestField{"mrservicetd", "MRSERVICETD", 48, &TdPolicy::mrservicetd,
                [](const TdReportBody& b) -> Actual {
                    return b.mr_service_td ? Actual(ByteSpan(*b.mr_service_td)) : std::nullopt;
                }},
};

struct MaskedField {
    std::string_view key;
    std::string_view register_name;
    std::optional<MaskedBits> TdPolicy::*member;
    const Octets<8>& (*actual)(const TdReportBody&);
};

constexpr std::array kMaskedFields{
    MaskedField{"xfam", "XFAM", &TdPolicy::xfam, [](const TdReportBody& b) -> const Octets<8>& { return b.xfam; }},
    MaskedField{"td_attributes", "TDATTRIBUTES", &TdPolicy::td_attributes,
                [](const TdReportBody& b) -> const Octets<8>& { return b.td_attributes; }},
};

// ---------------------------------------------------------------------------------------------
// Parsing

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

char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

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

// dstack identity lists, by event: the table drives parsing, evaluation and policy_to_json.
struct DstackList {
    std::string_view key;
    std::string_view event;  // the RTMR3 event whose payload is compared
    std::size_t size;
    std::optional<DigestList> DstackPolicy::*member;
    // Events after this one can be emitted by the application itself (EmitEvent), so an identity
    // event only counts before it.
    std::string_view before;
};

constexpr std::string_view kBootMrDone = "boot-mr-done";
constexpr std::string_view kSystemReady = "system-ready";

constexpr std::array kDstackLists{
    DstackList{"compose_hashes", "compose-hash", 32, &DstackPolicy::compose_hashes, kBootMrDone},
    DstackList{"app_ids", "app-id", 20, &DstackPolicy::app_ids, kBootMrDone},
    DstackList{"instance_ids", "instance-id", 20, &DstackPolicy::instance_ids, kBootMrDone},
    DstackList{"os_image_hashes", "os-image-hash", 32, &DstackPolicy::os_image_hashes, kSystemReady},
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

// ---------------------------------------------------------------------------------------------
// Evaluation

class Evaluator {
public:
    void rule() { ++result_.rules_checked; }
    void violate(std::string path, std::string expected, std::string actual, std::string_view detail) {
        auto message = fmt::format("{}: {}", path, detail);
        result_.violations.push_back({std::move(path), std::move(expected), std::move(actual), std::move(message)});
    }
    PolicyResult finish() && {
        result_.satisfied = result_.violations.empty();
        return std::move(result_);
    }

private:
    PolicyResult result_;
};

std::string hex_list(const DigestList& values) {
    std::vector<std::string> hex;
    std::transform(values.begin(), values.end(), std::back_inserter(hex), [](const Bytes& b) { return to_hex(b); });
    return fmt::format("[{}]", fmt::join(hex, ", "));
}

std::string status_list(const std::vector<TcbStatus>& statuses) {
    std::vector<std::string_view> names;
    std::transform(statuses.begin(), statuses.end(), std::back_inserter(names), tcb_status_name);
    return fmt::format("{}", fmt::join(names, ", "));
}

// "41d 3h 12m" rather than seconds: operators compare it with a policy written in days.
std::string format_duration(std::int64_t seconds) {
    if (seconds <= 0) return fmt::format("{}s", seconds);
    static constexpr std::array<std::pair<std::int64_t, char>, 4> kUnits{
        {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}}};
    std::vector<std::string> parts;
    for (const auto& [size, unit] : kUnits) {
        if (seconds >= size) parts.push_back(fmt::format("{}{}", seconds / size, unit));
        seconds %= size;
    }
    return fmt::format("{}", fmt::join(parts, " "));
}

bool is_out_of_date(TcbStatus s) {
    return s == TcbStatus::out_of_date || s == TcbStatus::out_of_date_configuration_needed;
}

// What the operator can do about a status.
std::string_view status_remedy(TcbStatus s) {
    switch (s) {
    case TcbStatus::up_to_date: return "nothing to fix";
    case TcbStatus::sw_hardening_needed:
        return "check that the software mitigations the advisories describe are in place";
    case TcbStatus::configuration_needed: return "change the platform BIOS configuration the advisories describe";
    case TcbStatus::configuration_and_sw_hardening_needed:
        return "change the platform BIOS configuration and check the software mitigations the advisories describe";
    case TcbStatus::out_of_date: return "update the platform firmware (microcode, BIOS) or TDX module";
    case TcbStatus::out_of_date_configuration_needed:
        return "update the platform firmware (microcode, BIOS) or TDX module and change the BIOS configuration";
    case TcbStatus::td_relaunch_advised: return "relaunch the TD so it runs on the updated TDX module";
    case TcbStatus::td_relaunch_advised_configuration_needed:
        return "relaunch the TD on the updated TDX module and change the BIOS configuration";
    case TcbStatus::revoked: return "the platform is revoked and cannot be trusted";
    }
    return "";
}

std::string status_context(const VerificationReport& report) {
    std::string out;
    if (!report.advisory_ids.empty()) out += fmt::format("; advisories {}", fmt::join(report.advisory_ids, ", "));
    for (const auto& s : report.shortfall) {
        out += fmt::format("; {} is {}, {} needs {}", s.component, s.actual, s.next_level_status, s.required);
    }
    return out;
}

// Intel's convergence keeps UpToDate when the TDX module or QE level only needs configuration or SW
// hardening (lib/docs/verification.md); this rule looks at each component's own status instead.
void check_component_statuses(const TcbPolicy& p, const VerificationReport& report, Evaluator& ev) {
    if (p.rejected_component_statuses.empty()) return;
    ev.rule();
    const std::array<std::pair<std::string_view, const std::optional<TcbStatus>*>, 3> components{
        {{"platform", &report.platform_status}, {"TDX module", &report.tdx_module_status}, {"QE", &report.qe_status}}};
    std::vector<std::string> hits;
    std::optional<TcbStatus> first;
    for (const auto& [name, status] : components) {
        if (*status && std::find(p.rejected_component_statuses.begin(), p.rejected_component_statuses.end(),
                                 **status) != p.rejected_component_statuses.end()) {
            hits.push_back(fmt::format("{} {}", name, tcb_status_name(**status)));
            if (!first) first = **status;
        }
    }
    if (!first) return;
    const auto rejected = status_list(p.rejected_component_statuses);
    ev.violate("tcb.rejected_component_statuses", fmt::format("no component in {}", rejected),
               fmt::format("{}", fmt::join(hits, ", ")),
               fmt::format("{} (rejected component statuses: {}; converged status {}); {}", fmt::join(hits, ", "),
                           rejected, tcb_status_name(*report.tcb_status), status_remedy(*first)));
}

void check_status(const TcbPolicy& p, const VerificationReport& report, UnixTime now, Evaluator& ev) {
    ev.rule();
    const auto status = *report.tcb_status;
    if (std::find(p.accepted_statuses.begin(), p.accepted_statuses.end(), status) != p.accepted_statuses.end()) return;
    const auto accepted = status_list(p.accepted_statuses);
    const std::string name = tcb_status_name(status);
    const auto context = status_context(report);
    const auto remedy = status_remedy(status);
    if (!p.out_of_date_grace_period || !is_out_of_date(status)) {
        ev.violate("tcb.accepted_statuses", accepted, name,
                   fmt::format("TCB status {} is not accepted (accepted: {}){}; {}{}", name, accepted, context, remedy,
                               status == TcbStatus::revoked ? "" : ", or accept the status explicitly"));
        return;
    }
    const auto grace = format_duration(*p.out_of_date_grace_period);
    if (!report.outdated_since) {
        ev.violate(
            "tcb.out_of_date_grace_period", fmt::format("{} within {}", name, grace),
            fmt::format("{} since an unknown date", name),
            fmt::format("TCB status {} is not accepted (accepted: {}) and the report does not say since when the "
                        "TCB is out of date, so the grace period of {} cannot apply{}; {}",
                        name, accepted, grace, context, remedy));
        return;
    }
    const auto age = now - *report.outdated_since;
    if (age <= *p.out_of_date_grace_period) return;
    ev.violate("tcb.out_of_date_grace_period", fmt::format("{} for at most {}", name, grace),
               fmt::format("{} since {}", name, format_rfc3339(*report.outdated_since)),
               fmt::format("TCB status {} since {} ({} ago) is past the grace period of {} (accepted: {}){}; {}", name,
                           format_rfc3339(*report.outdated_since), format_duration(age), grace, accepted, context,
                           remedy));
}

void check_advisories(const TcbPolicy& p, const VerificationReport& report, Evaluator& ev) {
    const auto listed = [](const std::vector<std::string>& list, const std::string& id) {
        return std::any_of(list.begin(), list.end(), [&](const std::string& entry) {
            return entry.size() == id.size() && std::equal(entry.begin(), entry.end(), id.begin(), [](char a, char b) {
                       return ascii_upper(a) == ascii_upper(b);
                   });
        });
    };
    const auto actual = fmt::format("[{}]", fmt::join(report.advisory_ids, ", "));
    if (p.accepted_advisory_ids) {
        ev.rule();
        std::vector<std::string> unlisted;
        std::copy_if(report.advisory_ids.begin(), report.advisory_ids.end(), std::back_inserter(unlisted),
                     [&](const std::string& id) { return !listed(*p.accepted_advisory_ids, id); });
        if (!unlisted.empty()) {
            ev.violate(
                "tcb.accepted_advisory_ids", fmt::format("[{}]", fmt::join(*p.accepted_advisory_ids, ", ")), actual,
                fmt::format("advisories {} apply to this platform but are not in the allow-list [{}]; update the "
                            "platform, or review them and add them to tcb.accepted_advisory_ids",
                            fmt::join(unlisted, ", "), fmt::join(*p.accepted_advisory_ids, ", ")));
        }
    }
    if (!p.rejected_advisory_ids.empty()) {
        ev.rule();
        std::vector<std::string> denied;
        std::copy_if(report.advisory_ids.begin(), report.advisory_ids.end(), std::back_inserter(denied),
                     [&](const std::string& id) { return listed(p.rejected_advisory_ids, id); });
        if (!denied.empty()) {
            ev.violate("tcb.rejected_advisory_ids",
                       fmt::format("none of [{}]", fmt::join(p.rejected_advisory_ids, ", ")), actual,
                       fmt::format("advisories {} apply to this platform and are rejected by the policy; update the "
                                   "platform firmware or TDX module to a TCB level without them",
                                   fmt::join(denied, ", ")));
        }
    }
}

void check_tcb_date(const TcbPolicy& p, const VerificationReport& report, Evaluator& ev) {
    if (!p.min_tcb_date) return;
    ev.rule();
    const auto expected = fmt::format("on or after {}", format_rfc3339(*p.min_tcb_date));
    std::optional<UnixTime> date;
    try {
        date = parse_time(report.tcb_date);
    } catch (const Error&) {
        ev.violate("tcb.min_tcb_date", expected, report.tcb_date.empty() ? "absent" : report.tcb_date,
                   fmt::format("the report has no usable TCB date ('{}'), so the minimum {} cannot be confirmed",
                               report.tcb_date, format_rfc3339(*p.min_tcb_date)));
        return;
    }
    if (*date >= *p.min_tcb_date) return;
    ev.violate("tcb.min_tcb_date", expected, format_rfc3339(*date),
               fmt::format("TCB date {} is older than the minimum {}; update the platform firmware or TDX module to a "
                           "TCB level from that date or later",
                           format_rfc3339(*date), format_rfc3339(*p.min_tcb_date)));
}

// The same limit applies to Intel's two signed collateral items.
template <typename T>
struct CollateralFact {
    std::string_view item;
    const std::optional<T>& value;
};

void check_evaluation_number(const TcbPolicy& p, const VerificationReport& report, Evaluator& ev) {
    if (!p.min_tcb_evaluation_data_number) return;
    ev.rule();
    const auto min = *p.min_tcb_evaluation_data_number;
    for (const auto& [item, number] :
         {CollateralFact<std::uint32_t>{"TCB Info", report.tcb_evaluation_data_number},
          CollateralFact<std::uint32_t>{"QE Identity", report.qe_tcb_evaluation_data_number}}) {
        if (number && *number >= min) continue;
        const auto actual = number ? std::to_string(*number) : std::string("absent");
        ev.violate("tcb.min_tcb_evaluation_data_number", fmt::format(">= {}", min), actual,
                   fmt::format("{} has {}, the policy requires at least {}; fetch current collateral (after a TCB "
                               "recovery, also update the platform)",
                               item, number ? "tcbEvaluationDataNumber " + actual : "no tcbEvaluationDataNumber", min));
    }
}

void check_collateral_age(const TcbPolicy& p, const VerificationReport& report, UnixTime now, Evaluator& ev) {
    if (!p.max_collateral_age) return;
    ev.rule();
    const auto max = format_duration(*p.max_collateral_age);
    for (const auto& [item, issued] : {CollateralFact<UnixTime>{"TCB Info", report.tcb_info_issue_date},
                                       CollateralFact<UnixTime>{"QE Identity", report.qe_identity_issue_date}}) {
        if (!issued) {
            ev.violate("tcb.max_collateral_age", fmt::format("issued at most {} ago", max), "absent",
                       fmt::format("the report has no {} issue date, so its age cannot be checked", item));
        } else if (now - *issued > *p.max_collateral_age) {
            ev.violate("tcb.max_collateral_age", fmt::format("issued at most {} ago", max), format_rfc3339(*issued),
                       fmt::format("{} issued {} is {} old, older than {}; fetch current collateral", item,
                                   format_rfc3339(*issued), format_duration(now - *issued), max));
        }
    }
}

void evaluate_tcb(const TcbPolicy& p, const VerificationReport& report, UnixTime now, Evaluator& ev) {
    if (!report.authentic || !report.tcb_status) {
        ev.rule();
        const auto actual = report.authentic
                                ? std::string("no TCB status")
                                : fmt::format("not authentic ({}: {})", report.failed_check, report.failure);
        ev.violate("tcb", "an authentic quote with a TCB status", actual,
                   fmt::format("{}, so no TCB rule can be satisfied; fix the verification failure first", actual));
        return;
    }
    check_status(p, report, now, ev);
    check_component_statuses(p, report, ev);
    check_advisories(p, report, ev);
    check_tcb_date(p, report, ev);
    check_evaluation_number(p, report, ev);
    check_collateral_age(p, report, now, ev);
}

void check_digest(const DigestField& f, const DigestList& allowed, const Quote& quote, Evaluator& ev) {
    ev.rule();
    const auto* body = quote.td_body();
    const auto path = fmt::format("td.{}", f.key);
    const auto expected = hex_list(allowed);
    const Actual actual = body != nullptr ? f.actual(*body) : std::nullopt;
    if (!actual) {
        ev.violate(path, expected, "absent",
                   fmt::format("expected one of {}, but a {} body has no {}; remove the rule or attest a TD whose "
                               "quote carries it",
                               expected, body_type_name(quote.body_type), f.register_name));
        return;
    }
    // Every entry is compared, so timing does not reveal which one matched.
    bool matched = false;
    for (const auto& value : allowed) matched |= equal_ct(value, *actual);
    if (matched) return;
    ev.violate(path, expected, to_hex(*actual),
               fmt::format("expected one of {}, got {}; if the TD's new {} is legitimate, add it to {}", expected,
                           to_hex(*actual), f.register_name, path));
}

void check_masked(const MaskedField& f, const MaskedBits& rule, const Quote& quote, Evaluator& ev) {
    ev.rule();
    const auto* body = quote.td_body();
    const auto path = fmt::format("td.{}", f.key);
    const auto expected = fmt::format("value {} mask {}", to_hex(rule.value), to_hex(rule.mask));
    if (body == nullptr) {
        ev.violate(path, expected, "absent",
                   fmt::format("a {} body has no {}", body_type_name(quote.body_type), f.register_name));
        return;
    }
    const auto& actual = f.actual(*body);
    std::vector<std::size_t> bits;
    for (std::size_t i = 0; i < actual.size(); ++i) {
        const auto diff = static_cast<unsigned>((actual[i] ^ rule.value[i]) & rule.mask[i]);
        for (std::size_t bit = 0; bit < 8; ++bit) {
            if ((diff >> bit) & 1U) bits.push_back(8 * i + bit);
        }
    }
    if (bits.empty()) return;
    ev.violate(path, expected, to_hex(actual),
               fmt::format("{} {} differs from the required value {} under mask {} in bit {}; launch the TD with the "
                           "required configuration, or change the rule",
                           f.register_name, to_hex(actual), to_hex(rule.value), to_hex(rule.mask),
                           fmt::join(bits, ", ")));
}

void check_debug(const TdPolicy& p, const Quote& quote, Evaluator& ev) {
    if (p.allow_debug) return;
    ev.rule();
    // SGX has the same hazard in ATTRIBUTES.DEBUG (bit 1), so the default protects both.
    constexpr std::uint8_t kSgxAttrDebug = 0x02;
    const auto* td = quote.td_body();
    const auto* sgx = quote.sgx_body();
    const bool debug = td != nullptr ? (td->td_attributes_value() & kTdAttrDebug) != 0
                                     : sgx != nullptr && (sgx->attributes[0] & kSgxAttrDebug) != 0;
    if (!debug) return;
    const auto actual = td != nullptr ? to_hex(td->td_attributes) : to_hex(sgx->attributes);
    ev.violate("td.allow_debug", "false (DEBUG attribute clear)", fmt::format("DEBUG set ({})", actual),
               fmt::format("the {} runs in debug mode (attributes {}): the host can read and change its memory; "
                           "launch it without debug, or set td.allow_debug to true for development only",
                           td != nullptr ? "TD" : "enclave", actual));
}

void check_tee_tcb_svn(const TdPolicy& p, const Quote& quote, Evaluator& ev) {
    if (!p.min_tee_tcb_svn) return;
    ev.rule();
    const auto& min = *p.min_tee_tcb_svn;
    const auto* body = quote.td_body();
    if (body == nullptr) {
        ev.violate("td.min_tee_tcb_svn", to_hex(min), "absent",
                   fmt::format("a {} body has no TEE_TCB_SVN", body_type_name(quote.body_type)));
        return;
    }
    std::vector<std::string> low;
    for (std::size_t i = 0; i < min.size(); ++i) {
        if (body->tee_tcb_svn[i] < min[i]) low.push_back(fmt::format("{}: {} < {}", i, body->tee_tcb_svn[i], min[i]));
    }
    if (low.empty()) return;
    ev.violate("td.min_tee_tcb_svn", to_hex(min), to_hex(body->tee_tcb_svn),
               fmt::format("TEE_TCB_SVN {} is below the minimum {} in component {}; update the TDX module",
                           to_hex(body->tee_tcb_svn), to_hex(min), fmt::join(low, ", ")));
}

void evaluate_td(const TdPolicy& p, const Quote& quote, Evaluator& ev) {
    for (const auto& f : kDigestFields) {
        if (const auto& allowed = p.*(f.member)) check_digest(f, *allowed, quote, ev);
    }
    for (const auto& f : kMaskedFields) {
        if (const auto& rule = p.*(f.member)) check_masked(f, *rule, quote, ev);
    }
    check_debug(p, quote, ev);
    check_tee_tcb_svn(p, quote, ev);
}

void evaluate_qe(const QePolicy& p, const Quote& quote, Evaluator& ev) {
    if (!p.min_isvsvn) return;
    ev.rule();
    const auto svn = quote.signature_data.qe_report.isv_svn;
    if (svn >= *p.min_isvsvn) return;
    ev.violate("qe.min_isvsvn", fmt::format(">= {}", *p.min_isvsvn), std::to_string(svn),
               fmt::format("the quoting enclave's ISVSVN {} is below the minimum {}; update the platform's DCAP "
                           "quoting enclave (QGS) package",
                           svn, *p.min_isvsvn));
}

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

Policy default_policy() {
    Policy p;
    p.source = "<default>";
    return p;
}

PolicyResult evaluate_policy(const Policy& policy, const Quote& quote, const VerificationReport& report, UnixTime now) {
    return evaluate_policy(policy, quote, report, now, nullptr);
}

PolicyResult evaluate_policy(const Policy& policy, const Quote& quote, const VerificationReport& report, UnixTime now,
                             const EventLog* event_log) {
    Evaluator ev;
    evaluate_tcb(policy.tcb, report, now, ev);
    evaluate_td(policy.td, quote, ev);
    evaluate_qe(policy.qe, quote, ev);
    if (policy.dstack) evaluate_dstack(*policy.dstack, quote, event_log, ev);
    return std::move(ev).finish();
}

bool pins_workload(const Policy& policy) noexcept {
    const auto& td = policy.td;
    const bool td_pinned =
        td.mrtd || td.rtmr0 || td.rtmr1 || td.rtmr2 || td.rtmr3 || td.mrconfigid || td.mrowner || td.mrownerconfig;
    const auto& d = policy.dstack;
    const bool dstack_pinned =
        d && (d->compose_hashes || d->app_ids || d->instance_ids || d->os_image_hashes || d->key_provider);
    return td_pinned || dstack_pinned;
}

std::vector<std::string> verification_warnings(const Quote& quote, const Policy& policy) {
    std::vector<std::string> out;
    if (quote.trailing_bytes != 0) {
        out.push_back(fmt::format("the input has {} bytes after the quote; they are not part of the signed quote and "
                                  "were ignored",
                                  quote.trailing_bytes));
    }
    if (!pins_workload(policy)) {
        out.push_back(fmt::format("policy {} pins no measurement (no td register, no dstack identity rule), so it "
                                  "accepts any genuine TD whatever it runs; pin td.mrtd/td.rtmr* or dstack rules "
                                  "(tdxkit measure-compose --policy-out)",
                                  policy.source));
    }
    return out;
}

std::string policy_to_json(const Policy& policy) {
    ordered_json out;
    out["version"] = kPolicyVersion;

    const auto& tcb = policy.tcb;
    auto& t = out["tcb"];
    t["accepted_statuses"] = ordered_json::array();
    for (const auto s : tcb.accepted_statuses) t["accepted_statuses"].push_back(tcb_status_name(s));
    if (tcb.accepted_advisory_ids) t["accepted_advisory_ids"] = *tcb.accepted_advisory_ids;
    if (!tcb.rejected_component_statuses.empty()) {
        auto& list = t["rejected_component_statuses"] = ordered_json::array();
        for (const auto s : tcb.rejected_component_statuses) list.push_back(tcb_status_name(s));
    }
    if (!tcb.rejected_advisory_ids.empty()) t["rejected_advisory_ids"] = tcb.rejected_advisory_ids;
    if (tcb.min_tcb_date) t["min_tcb_date"] = format_rfc3339(*tcb.min_tcb_date);
    if (tcb.min_tcb_evaluation_data_number) t["min_tcb_evaluation_data_number"] = *tcb.min_tcb_evaluation_data_number;
    if (tcb.max_collateral_age) t["max_collateral_age"] = *tcb.max_collateral_age;
    if (tcb.out_of_date_grace_period) t["out_of_date_grace_period"] = *tcb.out_of_date_grace_period;

    auto& td = out["td"];
    for (const auto& f : kDigestFields) {
        if (const auto& values = policy.td.*(f.member)) {
            auto& list = td[std::string(f.key)] = ordered_json::array();
            for (const auto& v : *values) list.push_back(to_hex(v));
        }
    }
    for (const auto& f : kMaskedFields) {
        if (const auto& rule = policy.td.*(f.member)) {
            td[std::string(f.key)] = {{"value", to_hex(rule->value)}, {"mask", to_hex(rule->mask)}};
        }
    }
    td["allow_debug"] = policy.td.allow_debug;
    if (policy.td.min_tee_tcb_svn) td["min_tee_tcb_svn"] = to_hex(*policy.td.min_tee_tcb_svn);

    if (policy.qe.min_isvsvn) out["qe"]["min_isvsvn"] = *policy.qe.min_isvsvn;
    if (const auto& d = policy.dstack) {
        auto& ds = out["dstack"] = ordered_json::object();
        for (const auto& l : kDstackLists) {
            if (const auto& values = (*d).*(l.member)) {
                auto& list = ds[std::string(l.key)] = ordered_json::array();
                for (const auto& v : *values) list.push_back(to_hex(v));
            }
        }
        if (d->key_provider) {
            auto& kp = ds["key_provider"] = ordered_json::object();
            if (d->key_provider->name) kp["name"] = *d->key_provider->name;
            if (d->key_provider->id) kp["id"] = to_hex(*d->key_provider->id);
        }
        ds["require_event_log"] = d->require_event_log;
    }
    return out.dump(2);
}

}  // namespace tdxkit
