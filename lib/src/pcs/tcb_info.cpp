#include "pcs/tcb_info.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit::pcs {
namespace {

using detail::parse_json;
using nlohmann::json;

// Reads typed members with errors naming the JSON path, so a bad collateral item says exactly
// which field is wrong.
class Fields {
public:
    Fields(const json& obj, std::string path) : obj_(obj), path_(std::move(path)) {
        if (!obj_.is_object()) fail("", "is not an object");
    }

    const json& member(const char* key) const {
        const auto it = obj_.find(key);
        if (it == obj_.end()) fail(key, "is missing");
        return *it;
    }
    bool has(const char* key) const { return obj_.contains(key); }

    std::string str(const char* key) const {
        const auto& v = member(key);
        if (!v.is_string()) fail(key, "is not a string");
        return v.get<std::string>();
    }
    std::uint32_t u32(const char* key, std::uint32_t max = 0xFFFFFFFFU) const {
        const auto& v = member(key);
        if (!v.is_number_unsigned() || v.get<std::uint64_t>() > max) {
            fail(key, fmt::format("is not an integer in 0..{}", max));
        }
        return static_cast<std::uint32_t>(v.get<std::uint64_t>());
    }
    Bytes hex(const char* key, std::size_t size) const {
        const auto b = from_hex(str(key), path(key));
        if (b.size() != size) fail(key, fmt::format("is {} bytes, expected {}", b.size(), size));
        return b;
    }
    template <std::size_t N>
    Octets<N> octets(const char* key) const {
        const auto b = hex(key, N);
        Octets<N> out{};
        std::copy(b.begin(), b.end(), out.begin());
        return out;
    }
    UnixTime time(const char* key) const {
        try {
            return parse_time(str(key));
        } catch (const Error&) {
            fail(key, "is not an RFC 3339 time");
        }
    }
    const json& array(const char* key) const {
        const auto& v = member(key);
        if (!v.is_array()) fail(key, "is not an array");
        return v;
    }
    std::string path(std::string_view key) const { return key.empty() ? path_ : fmt::format("{}.{}", path_, key); }

    [[noreturn]] void fail(std::string_view key, std::string_view why) const {
        throw Error(Errc::malformed, fmt::format("{} {}", path(key), why));
    }

private:
    const json& obj_;
    std::string path_;
};

std::vector<std::string> advisory_ids(const Fields& f) {
    std::vector<std::string> out;
    if (!f.has("advisoryIDs")) return out;
    for (const auto& id : f.array("advisoryIDs")) {
        if (!id.is_string()) f.fail("advisoryIDs", "contains a non-string");
        out.push_back(id.get<std::string>());
    }
    return out;
}

std::array<std::uint8_t, 16> components(const Fields& f, const char* key) {
    const auto& arr = f.array(key);
    if (arr.size() != 16) f.fail(key, fmt::format("has {} entries, expected 16", arr.size()));
    std::array<std::uint8_t, 16> out{};
    for (std::size_t i = 0; i < 16; ++i) {
        out[i] = static_cast<std::uint8_t>(Fields(arr[i], f.path(fmt::format("{}[{}]", key, i))).u32("svn", 255));
    }
    return out;
}

IsvsvnLevel isvsvn_level(const json& j, const std::string& path) {
    const Fields f{j, path};
    IsvsvnLevel level;
    level.isvsvn = static_cast<std::uint16_t>(Fields(f.member("tcb"), f.path("tcb")).u32("isvsvn", 0xFFFF));
    level.tcb_date = f.str("tcbDate");
    level.tcb_date_unix = f.time("tcbDate");
    level.status = f.str("tcbStatus");
    level.advisory_ids = advisory_ids(f);
    return level;
}

std::vector<IsvsvnLevel> isvsvn_levels(const Fields& f) {
    std::vector<IsvsvnLevel> levels;
    const auto& arr = f.array("tcbLevels");
    for (std::size_t i = 0; i < arr.size(); ++i)
        levels.push_back(isvsvn_level(arr[i], f.path(fmt::format("tcbLevels[{}]", i))));
    if (levels.empty()) f.fail("tcbLevels", "is empty");
    std::stable_sort(levels.begin(), levels.end(), [](const auto& a, const auto& b) { return a.isvsvn > b.isvsvn; });
    return levels;
}

TdxModuleIdentity module_identity(const json& j, const std::string& path, bool with_levels) {
    const Fields f{j, path};
    TdxModuleIdentity m;
    if (with_levels) m.id = f.str("id");
    m.mrsigner = f.hex("mrsigner", 48);
    m.attributes = f.hex("attributes", 8);
    m.attributes_mask = f.hex("attributesMask", 8);
    if (with_levels) m.levels = isvsvn_levels(f);
    return m;
}

// Intel QVL's TcbLevel ordering: SGX components lexicographically, then PCESVN, then TDX components.
bool better_level(const TcbLevel& a, const TcbLevel& b) {
    if (a.sgx_components != b.sgx_components) return a.sgx_components > b.sgx_components;
    if (a.pcesvn != b.pcesvn) return a.pcesvn > b.pcesvn;
    if (a.tdx_components && b.tdx_components) return *a.tdx_components > *b.tdx_components;
    return false;
}

}  // namespace

TcbInfo parse_tcb_info(std::string_view body) {
    const auto doc = parse_json(body, "tcbInfo");
    const Fields f{doc, "tcbInfo"};
    TcbInfo t;
    t.id = f.str("id");
    t.version = f.u32("version");
    if (t.version != 3) {
        throw Error(Errc::unsupported, fmt::format("tcbInfo.version is {}; tdxkit verifies version 3", t.version));
    }
    if (t.id != "TDX" && t.id != "SGX") f.fail("id", fmt::format("is \"{:.40}\", expected \"TDX\" or \"SGX\"", t.id));
    const bool tdx = t.id == "TDX";
    t.issue_date = f.time("issueDate");
    t.next_update = f.time("nextUpdate");
    t.fmspc = f.octets<6>("fmspc");
    t.pce_id = f.octets<2>("pceId");
    t.tcb_type = f.u32("tcbType");
    // Type 0 is the only one Intel defines: it says how TCB levels compare component-wise. Any other
    // value would mean a comparison tdxkit does not know, so the levels could not be matched.
    if (t.tcb_type != 0) f.fail("tcbType", fmt::format("is {}; only tcbType 0 is defined", t.tcb_type));
    t.tcb_evaluation_data_number = f.u32("tcbEvaluationDataNumber");
    if (tdx) {
        t.tdx_module = module_identity(f.member("tdxModule"), f.path("tdxModule"), false);
        if (f.has("tdxModuleIdentities")) {
            const auto& ids = f.array("tdxModuleIdentities");
            for (std::size_t i = 0; i < ids.size(); ++i) {
                t.tdx_module_identities.push_back(
                    module_identity(ids[i], f.path(fmt::format("tdxModuleIdentities[{}]", i)), true));
            }
        }
    }
    const auto& levels = f.array("tcbLevels");
    if (levels.empty()) f.fail("tcbLevels", "is empty");
    for (std::size_t i = 0; i < levels.size(); ++i) {
        const Fields lf{levels[i], f.path(fmt::format("tcbLevels[{}]", i))};
        const Fields tcb{lf.member("tcb"), lf.path("tcb")};
        TcbLevel level;
        level.sgx_components = components(tcb, "sgxtcbcomponents");
        level.pcesvn = static_cast<std::uint16_t>(tcb.u32("pcesvn", 0xFFFF));
        if (tdx) level.tdx_components = components(tcb, "tdxtcbcomponents");
        level.tcb_date = lf.str("tcbDate");
        level.tcb_date_unix = lf.time("tcbDate");
        level.status = lf.str("tcbStatus");
        level.advisory_ids = advisory_ids(lf);
        t.levels.push_back(std::move(level));
    }
    std::stable_sort(t.levels.begin(), t.levels.end(), better_level);
    return t;
}

QeIdentity parse_qe_identity(std::string_view body) {
    const auto doc = parse_json(body, "enclaveIdentity");
    const Fields f{doc, "enclaveIdentity"};
    QeIdentity q;
    q.id = f.str("id");
    q.version = f.u32("version");
    if (q.version != 2) {
        throw Error(Errc::unsupported,
                    fmt::format("enclaveIdentity.version is {}; tdxkit verifies version 2", q.version));
    }
    q.issue_date = f.time("issueDate");
    q.next_update = f.time("nextUpdate");
    q.tcb_evaluation_data_number = f.u32("tcbEvaluationDataNumber");
    const auto le32 = [&](const char* key) {
        const auto b = f.hex(key, 4);
        // Intel writes MISCSELECT as the little-endian bytes of the report field.
        return static_cast<std::uint32_t>(b[0]) | static_cast<std::uint32_t>(b[1]) << 8U |
               static_cast<std::uint32_t>(b[2]) << 16U | static_cast<std::uint32_t>(b[3]) << 24U;
    };
    q.miscselect = le32("miscselect");
    q.miscselect_mask = le32("miscselectMask");
    q.attributes = f.octets<16>("attributes");
    q.attributes_mask = f.octets<16>("attributesMask");
    q.mrsigner = f.octets<32>("mrsigner");
    q.isvprodid = static_cast<std::uint16_t>(f.u32("isvprodid", 0xFFFF));
    q.levels = isvsvn_levels(f);
    return q;
}

}  // namespace tdxkit::pcs
