#include "pcs/tcb_info.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "core/json_fields.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit::pcs {
namespace {

using detail::JsonField;

std::vector<std::string> advisory_ids(const JsonField& level) {
    std::vector<std::string> out;
    if (const auto ids = level.optional_member("advisoryIDs")) {
        for (const auto& id : ids->elements()) out.push_back(id.string());
    }
    return out;
}

std::array<std::uint8_t, 16> components(const JsonField& tcb, const char* key) {
    const auto list = tcb.member(key);
    const auto entries = list.elements();
    if (entries.size() != 16) list.fail(fmt::format("expected 16 entries, got {}", entries.size()));
    std::array<std::uint8_t, 16> out{};
    for (std::size_t i = 0; i < 16; ++i) out[i] = entries[i].member("svn").integer<std::uint8_t>();
    return out;
}

IsvsvnLevel isvsvn_level(const JsonField& f) {
    IsvsvnLevel level;
    level.isvsvn = f.member("tcb").member("isvsvn").integer<std::uint16_t>();
    const auto date = f.member("tcbDate");
    level.tcb_date = date.string();
    level.tcb_date_unix = date.time();
    level.status = f.member("tcbStatus").string();
    level.advisory_ids = advisory_ids(f);
    return level;
}

// A document without levels could match no platform.
std::vector<JsonField> tcb_levels(const JsonField& f) {
    const auto levels = f.member("tcbLevels");
    auto out = levels.elements();
    if (out.empty()) levels.fail("expected at least one TCB level, got none");
    return out;
}

std::vector<IsvsvnLevel> isvsvn_levels(const JsonField& f) {
    std::vector<IsvsvnLevel> levels;
    for (const auto& level : tcb_levels(f)) levels.push_back(isvsvn_level(level));
    std::stable_sort(levels.begin(), levels.end(), [](const auto& a, const auto& b) { return a.isvsvn > b.isvsvn; });
    return levels;
}

TdxModuleIdentity module_identity(const JsonField& f, bool with_levels) {
    TdxModuleIdentity m;
    if (with_levels) m.id = f.member("id").string();
    m.mrsigner = f.member("mrsigner").hex(48);
    m.attributes = f.member("attributes").hex(8);
    m.attributes_mask = f.member("attributesMask").hex(8);
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

// A collateral item's mistakes are malformed input, named by their path from the item's name.
TcbInfo parse_tcb_info(std::string_view body) {
    const auto doc = detail::parse_json(body, "tcbInfo");
    const JsonField f(doc, "tcbInfo", {});
    TcbInfo t;
    const auto id = f.member("id");
    t.id = id.string();
    t.version = f.member("version").integer<std::uint32_t>();
    if (t.version != 3) {
        throw Error(Errc::unsupported, fmt::format("tcbInfo.version is {}; tdxkit verifies version 3", t.version));
    }
    if (t.id != "TDX" && t.id != "SGX") {
        id.fail(fmt::format("expected \"TDX\" or \"SGX\", got {}", detail::json_preview(id.value())));
    }
    const bool tdx = t.id == "TDX";
    t.issue_date = f.member("issueDate").time();
    t.next_update = f.member("nextUpdate").time();
    t.fmspc = f.member("fmspc").octets<6>();
    t.pce_id = f.member("pceId").octets<2>();
    const auto tcb_type = f.member("tcbType");
    t.tcb_type = tcb_type.integer<std::uint32_t>();
    // Type 0 is the only one Intel defines: it says how TCB levels compare component-wise. Any other
    // value would mean a comparison tdxkit does not know, so the levels could not be matched.
    if (t.tcb_type != 0) tcb_type.fail(fmt::format("tcbType is {}; only tcbType 0 is defined", t.tcb_type));
    t.tcb_evaluation_data_number = f.member("tcbEvaluationDataNumber").integer<std::uint32_t>();
    if (tdx) {
        t.tdx_module = module_identity(f.member("tdxModule"), false);
        if (const auto ids = f.optional_member("tdxModuleIdentities")) {
            for (const auto& identity : ids->elements())
                t.tdx_module_identities.push_back(module_identity(identity, true));
        }
    }
    for (const auto& lf : tcb_levels(f)) {
        const auto tcb = lf.member("tcb");
        TcbLevel level;
        level.sgx_components = components(tcb, "sgxtcbcomponents");
        level.pcesvn = tcb.member("pcesvn").integer<std::uint16_t>();
        if (tdx) level.tdx_components = components(tcb, "tdxtcbcomponents");
        const auto date = lf.member("tcbDate");
        level.tcb_date = date.string();
        level.tcb_date_unix = date.time();
        level.status = lf.member("tcbStatus").string();
        level.advisory_ids = advisory_ids(lf);
        t.levels.push_back(std::move(level));
    }
    std::stable_sort(t.levels.begin(), t.levels.end(), better_level);
    return t;
}

QeIdentity parse_qe_identity(std::string_view body) {
    const auto doc = detail::parse_json(body, "enclaveIdentity");
    const JsonField f(doc, "enclaveIdentity", {});
    QeIdentity q;
    q.id = f.member("id").string();
    q.version = f.member("version").integer<std::uint32_t>();
    if (q.version != 2) {
        throw Error(Errc::unsupported,
                    fmt::format("enclaveIdentity.version is {}; tdxkit verifies version 2", q.version));
    }
    q.issue_date = f.member("issueDate").time();
    q.next_update = f.member("nextUpdate").time();
    q.tcb_evaluation_data_number = f.member("tcbEvaluationDataNumber").integer<std::uint32_t>();
    const auto le32 = [&](const char* key) {
        const auto b = f.member(key).hex(4);
        // Intel writes MISCSELECT as the little-endian bytes of the report field.
        return static_cast<std::uint32_t>(b[0]) | static_cast<std::uint32_t>(b[1]) << 8U |
               static_cast<std::uint32_t>(b[2]) << 16U | static_cast<std::uint32_t>(b[3]) << 24U;
    };
    q.miscselect = le32("miscselect");
    q.miscselect_mask = le32("miscselectMask");
    q.attributes = f.member("attributes").octets<16>();
    q.attributes_mask = f.member("attributesMask").octets<16>();
    q.mrsigner = f.member("mrsigner").octets<32>();
    q.isvprodid = f.member("isvprodid").integer<std::uint16_t>();
    q.levels = isvsvn_levels(f);
    return q;
}

}  // namespace tdxkit::pcs
