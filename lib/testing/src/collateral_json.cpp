// TCB Info and QE Identity bodies, compact and in the field order of Intel PCS responses (see
// testdata/real/collateral/*/tcb_info.json). ordered_json keeps insertion order.

#include "testing/pki.hpp"

#include "tdxkit/time.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>

namespace tdxkit::testing {
namespace {

using Json = nlohmann::ordered_json;

// Intel writes hex fields in upper case.
std::string upper_hex(ByteSpan bytes) {
    auto text = to_hex(bytes);
    std::ranges::transform(text, text.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return text;
}

void add_level_outcome(Json& j, UnixTime tcb_date, const std::string& status,
                       const std::vector<std::string>& advisories) {
    j["tcbDate"] = format_rfc3339(tcb_date);
    j["tcbStatus"] = status;
    if (!advisories.empty()) j["advisoryIDs"] = advisories;
}

Json isvsvn_levels(const std::vector<IsvsvnLevel>& levels) {
    Json out = Json::array();
    for (const auto& level : levels) {
        Json j;
        j["tcb"] = Json{{"isvsvn", level.isvsvn}};
        add_level_outcome(j, level.tcb_date, level.tcb_status, level.advisory_ids);
        out.push_back(std::move(j));
    }
    return out;
}

Json components(const std::array<TcbComponent, 16>& comps) {
    Json out = Json::array();
    for (const auto& c : comps) {
        Json j;
        j["svn"] = c.svn;
        if (!c.category.empty()) j["category"] = c.category;
        if (!c.type.empty()) j["type"] = c.type;
        out.push_back(std::move(j));
    }
    return out;
}

Json module_fields(const TdxModuleIdentity& m) {
    Json j;
    j["mrsigner"] = upper_hex(m.mrsigner);
    j["attributes"] = upper_hex(m.attributes);
    j["attributesMask"] = upper_hex(m.attributes_mask);
    return j;
}

std::string finish(const Json& body, const std::function<void(std::string&)>& edit) {
    auto text = body.dump();
    if (edit) edit(text);
    return text;
}

}  // namespace

std::string tcb_info_body(const TcbInfoOptions& o, const Octets<6>& fmspc, const Octets<2>& pce_id) {
    Json j;
    j["id"] = o.id;
    j["version"] = o.version;
    j["issueDate"] = format_rfc3339(o.validity.not_before);
    j["nextUpdate"] = format_rfc3339(o.validity.not_after);
    j["fmspc"] = upper_hex(fmspc);
    j["pceId"] = upper_hex(pce_id);
    j["tcbType"] = o.tcb_type;
    j["tcbEvaluationDataNumber"] = o.tcb_evaluation_data_number;
    if (o.tdx_module) j["tdxModule"] = module_fields(*o.tdx_module);
    if (o.tdx_module_identities) {
        Json ids = Json::array();
        for (const auto& m : *o.tdx_module_identities) {
            Json entry;
            entry["id"] = m.id;
            entry.update(module_fields(m));
            entry["tcbLevels"] = isvsvn_levels(m.tcb_levels);
            ids.push_back(std::move(entry));
        }
        j["tdxModuleIdentities"] = std::move(ids);
    }
    Json levels = Json::array();
    for (const auto& level : o.tcb_levels) {
        Json tcb;
        tcb["sgxtcbcomponents"] = components(level.sgx_components);
        tcb["pcesvn"] = level.pcesvn;
        if (level.tdx_components) tcb["tdxtcbcomponents"] = components(*level.tdx_components);
        Json entry;
        entry["tcb"] = std::move(tcb);
        add_level_outcome(entry, level.tcb_date, level.tcb_status, level.advisory_ids);
        levels.push_back(std::move(entry));
    }
    j["tcbLevels"] = std::move(levels);
    return finish(j, o.edit_body);
}

std::string qe_identity_body(const QeIdentityOptions& o) {
    Json j;
    j["id"] = o.id;
    j["version"] = o.version;
    j["issueDate"] = format_rfc3339(o.validity.not_before);
    j["nextUpdate"] = format_rfc3339(o.validity.not_after);
    j["tcbEvaluationDataNumber"] = o.tcb_evaluation_data_number;
    j["miscselect"] = upper_hex(o.miscselect);
    j["miscselectMask"] = upper_hex(o.miscselect_mask);
    j["attributes"] = upper_hex(o.attributes);
    j["attributesMask"] = upper_hex(o.attributes_mask);
    j["mrsigner"] = upper_hex(o.mrsigner);
    j["isvprodid"] = o.isvprodid;
    j["tcbLevels"] = isvsvn_levels(o.tcb_levels);
    return finish(j, o.edit_body);
}

}  // namespace tdxkit::testing
