// Compose hash, MRCONFIGID and the dstack SDK's canonical app-compose JSON.

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/measure.hpp"

namespace tdxkit {
namespace {

using nlohmann::ordered_json;

// ---- JavaScript semantics of getComposeHash: JSON.parse, sortObject, JSON.stringify ----

// ECMAScript Number::toString: the shortest round-trip digits, laid out by the exponent.
std::string js_number(double d) {
    if (std::isnan(d) || std::isinf(d)) return "null";  // the SDK's replacer maps them to null
    if (d == 0) return "0";                             // also -0
    std::array<char, 64> buf{};
    const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), d, std::chars_format::scientific);
    std::string_view sci(buf.data(), static_cast<std::size_t>(res.ptr - buf.data()));
    std::string out;
    if (sci.front() == '-') {
        out = "-";
        sci.remove_prefix(1);
    }
    const auto e = sci.find('e');
    std::string digits;
    for (const char c : sci.substr(0, e)) {
        if (c != '.') digits += c;
    }
    int exponent = 0;
    const auto exp_text = sci.substr(e + 1);
    std::from_chars(exp_text.data() + (exp_text.front() == '+' ? 1 : 0), exp_text.data() + exp_text.size(), exponent);
    const int k = static_cast<int>(digits.size());
    const int n = exponent + 1;
    if (k <= n && n <= 21) return out + digits + std::string(static_cast<std::size_t>(n - k), '0');
    if (0 < n && n <= 21)
        return out + digits.substr(0, static_cast<std::size_t>(n)) + "." + digits.substr(static_cast<std::size_t>(n));
    if (-6 < n && n <= 0) return out + "0." + std::string(static_cast<std::size_t>(-n), '0') + digits;
    const auto exp = fmt::format("e{}{}", n - 1 < 0 ? '-' : '+', std::abs(n - 1));
    return out + (k == 1 ? digits : digits.substr(0, 1) + "." + digits.substr(1)) + exp;
}

std::u16string utf16(std::string_view s) {
    std::u16string out;
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        const std::size_t len = c < 0x80 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
        char32_t cp = len == 1 ? c : len == 2 ? (c & 0x1FU) : len == 3 ? (c & 0x0FU) : (c & 0x07U);
        for (std::size_t j = 1; j < len && i + j < s.size(); ++j) {
            cp = (cp << 6) | (static_cast<unsigned char>(s[i + j]) & 0x3FU);
        }
        if (cp >= 0x10000) {
            out += static_cast<char16_t>(0xD800 + ((cp - 0x10000) >> 10));
            out += static_cast<char16_t>(0xDC00 + ((cp - 0x10000) & 0x3FF));
        } else {
            out += static_cast<char16_t>(cp);
        }
        i += len;
    }
    return out;
}

// An array index ("0" .. "4294967294" in canonical form): JavaScript lists those keys first,
// in numeric order, whatever order they were inserted in.
std::optional<std::uint64_t> array_index(const std::string& key) {
    if (key.empty() || key.size() > 10 || (key.size() > 1 && key[0] == '0')) return std::nullopt;
    std::uint64_t v = 0;
    for (const char c : key) {
        if (c < '0' || c > '9') return std::nullopt;
        v = v * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return v < 0xFFFFFFFFULL ? std::optional(v) : std::nullopt;
}

using Member = std::pair<std::string, const ordered_json*>;

void js_property_order(std::vector<Member>& members) {
    std::stable_partition(members.begin(), members.end(),
                          [](const Member& m) { return array_index(m.first).has_value(); });
    const auto first_name =
        std::find_if(members.begin(), members.end(), [](const Member& m) { return !array_index(m.first); });
    std::sort(members.begin(), first_name,
              [](const Member& a, const Member& b) { return *array_index(a.first) < *array_index(b.first); });
}

// JSON.stringify(sortObject(v)) when `sorted`, JSON.stringify(v) otherwise. sortObject leaves an
// object alone when it has its own "constructor" key (then obj.constructor !== Object), and drops
// "__proto__", which its `result[key] = value` turns into a prototype assignment.
void stringify(const ordered_json& v, bool sorted, std::string& out) {
    switch (v.type()) {
    case ordered_json::value_t::array:
        out += '[';
        for (std::size_t i = 0; i < v.size(); ++i) {
            if (i != 0) out += ',';
            stringify(v[i], sorted, out);
        }
        out += ']';
        return;
    case ordered_json::value_t::object: {
        const bool sort_here = sorted && !v.contains("constructor");
        std::vector<Member> members;
        for (const auto& [key, value] : v.items()) {
            if (sort_here && key == "__proto__") continue;
            members.emplace_back(key, &value);
        }
        if (sort_here) {
            std::stable_sort(members.begin(), members.end(),
                             [](const Member& a, const Member& b) { return utf16(a.first) < utf16(b.first); });
        }
        js_property_order(members);
        out += '{';
        for (std::size_t i = 0; i < members.size(); ++i) {
            if (i != 0) out += ',';
            out += ordered_json(members[i].first).dump();
            out += ':';
            stringify(*members[i].second, sort_here, out);
        }
        out += '}';
        return;
    }
    case ordered_json::value_t::number_integer: out += js_number(static_cast<double>(v.get<std::int64_t>())); return;
    case ordered_json::value_t::number_unsigned: out += js_number(static_cast<double>(v.get<std::uint64_t>())); return;
    case ordered_json::value_t::number_float: out += js_number(v.get<double>()); return;
    default: out += v.dump(); return;  // null, booleans, strings (escaped as JSON.stringify does)
    }
}

bool js_falsy(const ordered_json& v) {
    return v.is_null() || (v.is_boolean() && !v.get<bool>()) ||
           (v.is_string() && v.get_ref<const std::string&>().empty()) || (v.is_number() && v.get<double>() == 0);
}

// JSON.parse turns a number beyond the double range into +-Infinity, which the SDK then prints as
// null; nlohmann refuses such numbers, so they are rewritten to null first. (Infinity is truthy in
// JavaScript, null is not: only a pre_launch_script of such a number would be preprocessed
// differently.)
std::string overflowing_numbers_to_null(std::string_view text) {
    std::string out;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size();) {
        const char c = text[i];
        if (in_string) {
            out += c;
            if (c == '\\' && i + 1 < text.size())
                out += text[++i];
            else if (c == '"')
                in_string = false;
            ++i;
        } else if (c == '"') {
            in_string = true;
            out += c;
            ++i;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            const auto end = text.find_first_not_of("+-0123456789.eE", i);
            const std::string token(text.substr(i, end == std::string_view::npos ? end : end - i));
            out += std::isinf(std::strtod(token.c_str(), nullptr)) ? "null" : token;
            i += token.size();
        } else {
            out += c;
            ++i;
        }
    }
    return out;
}

// An app-compose file is the operator's own input, and the SDK normalises any depth its JavaScript
// recursion allows; stringify recurses once per level, which stays small at this depth.
constexpr std::size_t kMaxComposeDepth = 512;

ordered_json parse_js(std::string_view text) {
    // JSON.parse semantics: a duplicate key keeps its first position and its last value, and a number
    // beyond double's range is Infinity, which JSON.stringify writes as null.
    return detail::parse_ordered_json(overflowing_numbers_to_null(text), "app-compose",
                                      {.max_depth = kMaxComposeDepth, .duplicates = detail::DuplicateKeys::last_wins});
}

KeyProviderKind derived_key_provider(const nlohmann::json& doc) {
    if (const auto it = doc.find("key_provider"); it != doc.end() && it->is_string()) {
        if (const auto kind = parse_key_provider_kind(it->get<std::string>())) return *kind;
    }
    const auto flag = [&](const char* key) {
        return doc.contains(key) && doc[key].is_boolean() && doc[key].get<bool>();
    };
    if (flag("kms_enabled")) return KeyProviderKind::kms;
    if (flag("local_key_provider_enabled")) return KeyProviderKind::local;
    return KeyProviderKind::none;
}

}  // namespace

std::optional<KeyProviderKind> parse_key_provider_kind(std::string_view name) noexcept {
    if (name == "none") return KeyProviderKind::none;
    if (name == "local" || name == "local-sgx") return KeyProviderKind::local;
    if (name == "kms") return KeyProviderKind::kms;
    if (name == "tpm") return KeyProviderKind::tpm;
    return std::nullopt;
}

const char* key_provider_kind_name(KeyProviderKind kind) noexcept {
    switch (kind) {
    case KeyProviderKind::none: return "none";
    case KeyProviderKind::local: return "local";
    case KeyProviderKind::kms: return "kms";
    case KeyProviderKind::tpm: return "tpm";
    }
    return "none";
}

Measurement mr_config_id_v1(const Octets<32>& compose_hash) {
    Measurement out{};
    out[0] = 1;
    std::copy(compose_hash.begin(), compose_hash.end(), out.begin() + 1);
    return out;
}

Measurement mr_config_id_v2(const Octets<32>& compose_hash, const Octets<20>& app_id, KeyProviderKind kind,
                            ByteSpan key_provider_id) {
    Bytes preimage(compose_hash.begin(), compose_hash.end());
    preimage.insert(preimage.end(), app_id.begin(), app_id.end());
    preimage.push_back(static_cast<std::uint8_t>(kind));
    preimage.insert(preimage.end(), key_provider_id.begin(), key_provider_id.end());
    const auto digest = keccak256(preimage);
    Measurement out{};
    out[0] = 2;
    std::copy(digest.begin(), digest.end(), out.begin() + 1);
    return out;
}

std::string normalize_app_compose(std::string_view json_text, bool preprocess) {
    auto doc = parse_js(json_text);
    if (preprocess) {
        if (!doc.is_object()) throw Error(Errc::malformed, "app-compose: preprocessing needs a JSON object");
        const auto runner = doc.contains("runner") && doc["runner"].is_string() ? doc["runner"].get<std::string>() : "";
        if (runner == "bash") {
            doc.erase("docker_compose_file");
        } else if (runner == "docker-compose") {
            doc.erase("bash_script");
        }
        if (doc.contains("pre_launch_script") && js_falsy(doc["pre_launch_script"])) doc.erase("pre_launch_script");
    }
    std::string out;
    stringify(doc, true, out);
    return out;
}

std::vector<std::string> check_app_compose(std::string_view json_text) {
    nlohmann::json doc;
    try {
        doc = detail::parse_json(json_text, "app-compose", {.max_depth = kMaxComposeDepth});
    } catch (const Error& e) {
        return {e.what()};
    }
    if (!doc.is_object()) return {fmt::format("app-compose: expected a JSON object, got {}", doc.type_name())};
    std::vector<std::string> out;
    const auto it = doc.find("runner");
    if (it == doc.end() || !it->is_string()) {
        out.emplace_back("app-compose: \"runner\" is missing or not a string");
    } else {
        const auto& runner = it->get_ref<const std::string&>();
        if (runner == "docker-compose" || runner == "nerdctl-compose") {
            if (!doc.contains("docker_compose_file") || !doc["docker_compose_file"].is_string()) {
                out.push_back(fmt::format("app-compose: runner \"{}\" needs a string \"docker_compose_file\"", runner));
            }
        } else if (runner != "bash") {
            out.push_back(fmt::format(
                "app-compose: unknown runner \"{}\" (known: docker-compose, nerdctl-compose, bash)", runner));
        }
    }
    if (!doc.contains("manifest_version")) out.emplace_back("app-compose: \"manifest_version\" is missing");
    if (const auto kp = doc.find("key_provider");
        kp != doc.end() && (!kp->is_string() || !parse_key_provider_kind(kp->get<std::string>()))) {
        out.push_back(fmt::format("app-compose: unknown key_provider {} (known: none, kms, local, tpm)",
                                  detail::json_preview(*kp)));
    }
    return out;
}

ComposeMeasurement measure_compose(ByteSpan measured, const ComposeOptions& options) {
    ComposeMeasurement m;
    m.compose_hash = sha256(measured);
    if (options.app_id) {
        m.app_id = *options.app_id;
    } else {
        std::copy_n(m.compose_hash.begin(), m.app_id.size(), m.app_id.begin());
    }
    m.compose_event_digest = runtime_event_digest("compose-hash", m.compose_hash);
    m.app_id_event_digest = runtime_event_digest("app-id", m.app_id);
    // The file's own key provider settings decide the MRCONFIGID version, as in dstack's VMM.
    nlohmann::json doc;
    try {
        doc = detail::parse_json(std::string_view(reinterpret_cast<const char*>(measured.data()), measured.size()),
                                 "app-compose",
                                 {.max_depth = kMaxComposeDepth, .duplicates = detail::DuplicateKeys::last_wins});
    } catch (const Error&) {
        doc = nlohmann::json::object();
    }
    if (!doc.is_object()) doc = nlohmann::json::object();
    m.key_provider = options.key_provider.value_or(derived_key_provider(doc));
    if (options.key_provider_id) {
        m.key_provider_id = *options.key_provider_id;
    } else if (const auto it = doc.find("key_provider_id"); it != doc.end() && it->is_string()) {
        m.key_provider_id = from_hex(it->get<std::string>(), "app-compose key_provider_id");
    }
    if (m.key_provider_id.empty()) {
        m.mr_config_id = mr_config_id_v1(m.compose_hash);
    } else {
        m.mr_config_version = 2;
        m.mr_config_id = mr_config_id_v2(m.compose_hash, m.app_id, m.key_provider, m.key_provider_id);
    }
    return m;
}

}  // namespace tdxkit
