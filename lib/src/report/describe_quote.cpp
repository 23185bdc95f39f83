#include "tdxkit/describe.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "pcs/pck_internal.hpp"
#include "report/quote_json.hpp"
#include "tdxkit/ratls.hpp"
#include "tdxkit/time.hpp"

namespace tdxkit {
namespace {

using nlohmann::json;

std::string tee_name(std::uint32_t tee) { return tee == kTeeTypeTdx ? "TDX" : tee == kTeeTypeSgx ? "SGX" : "unknown"; }

json sgx_report_json(const SgxReportBody& b) {
    return json{{"cpu_svn", to_hex(b.cpu_svn)},
                {"misc_select", fmt::format("{:08x}", b.misc_select)},
                {"isv_ext_prod_id", to_hex(b.isv_ext_prod_id)},
                {"attributes", to_hex(b.attributes)},
                {"mr_enclave", to_hex(b.mr_enclave)},
                {"mr_signer", to_hex(b.mr_signer)},
                {"config_id", to_hex(b.config_id)},
                {"isv_prod_id", b.isv_prod_id},
                {"isv_svn", b.isv_svn},
                {"config_svn", b.config_svn},
                {"isv_family_id", to_hex(b.isv_family_id)},
                {"report_data", to_hex(b.report_data)}};
}

json td_attributes_json(std::uint64_t a) {
    return json{{"debug", (a & kTdAttrDebug) != 0},
                {"sept_ve_disable", (a & kTdAttrSeptVeDisable) != 0},
                {"pks", (a & kTdAttrPks) != 0},
                {"kl", (a & kTdAttrKl) != 0},
                {"perfmon", (a & kTdAttrPerfmon) != 0}};
}

std::string attribute_flags(std::uint64_t a) {
    std::string out;
    const auto add = [&](bool on, const char* name) {
        if (!on) return;
        if (!out.empty()) out += ' ';
        out += name;
    };
    add(a & kTdAttrDebug, "DEBUG");
    add(a & kTdAttrSeptVeDisable, "SEPT_VE_DISABLE");
    add(a & kTdAttrPks, "PKS");
    add(a & kTdAttrKl, "KL");
    add(a & kTdAttrPerfmon, "PERFMON");
    return out.empty() ? "none" : out;
}

}  // namespace

namespace detail {

json pck_extension_json(const PckExtension& ext) {
    json j{{"fmspc", to_hex(ext.fmspc)},
           {"pce_id", to_hex(ext.pce_id)},
           {"pcesvn", ext.pcesvn},
           {"cpusvn", to_hex(ext.cpusvn)},
           {"sgx_tcb_components", ext.sgx_tcb_components},
           {"sgx_type", ext.sgx_type},
           {"ppid", to_hex(ext.ppid)}};
    j["platform_instance_id"] = ext.platform_instance_id ? json(to_hex(*ext.platform_instance_id)) : json(nullptr);
    if (ext.configuration) {
        const auto opt = [](const std::optional<bool>& v) { return v ? json(*v) : json(nullptr); };
        j["configuration"] = json{{"dynamic_platform", opt(ext.configuration->dynamic_platform)},
                                  {"cached_keys", opt(ext.configuration->cached_keys)},
                                  {"smt_enabled", opt(ext.configuration->smt_enabled)}};
    } else {
        j["configuration"] = nullptr;
    }
    return j;
}

json certificate_json(const CertificateInfo& c) {
    json j{{"subject", c.subject},
           {"issuer", c.issuer},
           {"serial", c.serial_hex},
           {"not_before", format_rfc3339(c.not_before)},
           {"not_after", format_rfc3339(c.not_after)},
           {"sha256", c.sha256_fingerprint_hex},
           {"ca", c.is_ca}};
    j["sgx_extension"] = c.sgx_extension ? pck_extension_json(*c.sgx_extension) : json(nullptr);
    return j;
}

json quote_body_json(const Quote& q) {
    json j{{"type", static_cast<int>(q.body_type)}, {"name", body_type_name(q.body_type)}, {"size", q.body_size}};
    if (const auto* sgx = q.sgx_body()) {
        j.update(sgx_report_json(*sgx));
        return j;
    }
    const auto& b = *q.td_body();
    j["tee_tcb_svn"] = to_hex(b.tee_tcb_svn);
    j["mr_seam"] = to_hex(b.mr_seam);
    j["mr_signer_seam"] = to_hex(b.mr_signer_seam);
    j["seam_attributes"] = to_hex(b.seam_attributes);
    j["td_attributes"] = to_hex(b.td_attributes);
    j["td_attributes_decoded"] = td_attributes_json(b.td_attributes_value());
    j["xfam"] = to_hex(b.xfam);
    j["mr_td"] = to_hex(b.mr_td);
    j["mr_config_id"] = to_hex(b.mr_config_id);
    j["mr_owner"] = to_hex(b.mr_owner);
    j["mr_owner_config"] = to_hex(b.mr_owner_config);
    for (std::size_t i = 0; i < 4; ++i) j[fmt::format("rtmr{}", i)] = to_hex(b.rtmr[i]);
    j["report_data"] = to_hex(b.report_data);
    if (b.tee_tcb_svn2) j["tee_tcb_svn2"] = to_hex(*b.tee_tcb_svn2);
    if (b.mr_service_td) j["mr_service_td"] = to_hex(*b.mr_service_td);
    if (b.ex) {
        j["vm_id"] = b.ex->vm_id;
        j["td_id"] = to_hex(b.ex->td_id);
        j["dev_info"] = to_hex(b.ex->dev_info);
        j["init_serv_td_hash"] = to_hex(b.ex->init_serv_td_hash);
        j["init_serv_td_attributes"] = to_hex(b.ex->init_serv_td_attributes);
        j["init_cpu_svn"] = to_hex(b.ex->init_cpu_svn);
        j["init_tee_tcb_svn"] = to_hex(b.ex->init_tee_tcb_svn);
        j["init_tee_fmspc"] = to_hex(b.ex->init_tee_fmspc);
        j["cur_serv_td_hash"] = to_hex(b.ex->cur_serv_td_hash);
        j["cur_serv_td_attributes"] = to_hex(b.ex->cur_serv_td_attributes);
    }
    return j;
}

}  // namespace detail

namespace {

// What the container added: not verified here, so every field is shown as the container states it.
json certificate_json(const Quote& q, const ratls::Certificate& c) {
    const auto optional_hex = [](const std::optional<Bytes>& b) { return b ? json(to_hex(*b)) : json(nullptr); };
    const auto optional_size = [](const auto& v) { return v ? json(v->size()) : json(nullptr); };
    const auto binding = ratls::content_report_data(ratls::kTagRaTlsCert, c.spki_der);
    const auto* td = q.td_body();
    return json{
        {"subject", c.subject},
        {"issuer", c.issuer},
        {"not_before", format_rfc3339(c.not_before)},
        {"not_after", format_rfc3339(c.not_after)},
        {"dns_names", c.dns_names},
        {"spki_sha256", to_hex(sha256(c.spki_der))},
        {"key_binding", to_hex(binding)},
        {"report_data_binds_key", td != nullptr && equal_ct(td->report_data, binding)},
        {"chain_length", c.chain.size()},
        {"extensions",
         {{"quote", optional_size(c.quote)},
          {"event_log",
           c.event_log ? json{{"size", c.event_log->size()}, {"compressed", c.event_log_compressed}} : json(nullptr)},
          {"app_id", optional_hex(c.app_id)},
          {"special_usage", c.special_usage ? json(*c.special_usage) : json(nullptr)},
          {"attestation", optional_size(c.attestation)},
          {"app_info", optional_hex(c.app_info)},
          {"unknown", c.unknown_extensions}}}};
}

}  // namespace

std::string describe_quote_json(const Quote& q, const ratls::Evidence& evidence) {
    const auto chain = detail::quote_pck_chain(q);
    const auto& s = q.signature_data;
    json certs = json::array();
    for (const auto& c : chain) certs.push_back(detail::certificate_json(c));
    json pck = nullptr;
    if (!chain.empty() && chain.front().sgx_extension) {
        pck = detail::pck_extension_json(*chain.front().sgx_extension);
        pck["ca_type"] = pck_ca_type_name(pck_ca_type(chain.front()));
    }
    json doc{
        {"schema", "tdxkit.quote/v1"},
        {"input",
         {{"format", input_format_name(evidence.format)},
          {"container", evidence.container},
          {"source", evidence.source},
          {"quote_size", q.raw.size()},
          {"trailing_bytes", q.trailing_bytes}}},
        {"header",
         {{"version", q.header.version},
          {"attestation_key_type", q.header.attestation_key_type},
          {"tee_type", tee_name(q.header.tee_type)},
          {"tee_type_raw", fmt::format("{:08x}", q.header.tee_type)},
          {"qe_svn", q.header.qe_svn},
          {"pce_svn", q.header.pce_svn},
          {"qe_vendor_id", to_hex(q.header.qe_vendor_id)},
          {"qe_vendor_is_intel", q.header.qe_vendor_id == kIntelQeVendorId},
          {"user_data", to_hex(q.header.user_data)}}},
        {"body", detail::quote_body_json(q)},
        {"signed_region_length", q.signed_length()},
        {"signature_data",
         {{"length", q.signature_data_len},
          {"signature", to_hex(s.signature)},
          {"attestation_key", to_hex(s.attestation_key)},
          {"qe_report", sgx_report_json(s.qe_report)},
          {"qe_report_signature", to_hex(s.qe_report_signature)},
          {"qe_auth_data", to_hex(s.qe_auth_data)},
          {"certification_data",
           {{"type", s.certification.type},
            {"type_name", cert_data_type_name(s.certification.type)},
            {"size", s.certification.data.size()}}}}},
        {"pck_chain", certs},
        {"pck", pck},
    };
    if (chain.empty()) doc["signature_data"]["certification_data"]["data"] = to_hex(s.certification.data);
    doc["ra_tls"] = evidence.certificate ? certificate_json(q, *evidence.certificate) : json(nullptr);
    doc["attestation"] = evidence.attestation ? json{{"wire", evidence.attestation->wire_name()},
                                                     {"report_data", to_hex(evidence.attestation->report_data)},
                                                     {"config", evidence.attestation->config}}
                                              : json(nullptr);
    doc["event_log"] = evidence.event_log ? json{{"container", evidence.event_log->container},
                                                 {"events", evidence.event_log->events.size()}}
                                          : json(nullptr);
    return doc.dump(2) + "\n";
}

std::string describe_quote_text(const Quote& q, const ratls::Evidence& evidence) {
    std::string out;
    const auto line = [&](std::string_view key, const std::string& value) {
        out += fmt::format("{:<18}{}\n", key, value);
    };
    line("Quote:", fmt::format("v{} {} ({}), {} bytes from {} input{}", q.header.version, tee_name(q.header.tee_type),
                               body_type_name(q.body_type), q.raw.size(), evidence.container,
                               q.trailing_bytes ? fmt::format(", {} trailing bytes ignored", q.trailing_bytes) : ""));
    if (!evidence.source.empty()) line("Taken from:", evidence.source);
    if (const auto& c = evidence.certificate) {
        const auto* td = q.td_body();
        line("Certificate:", fmt::format("{} (issuer {}), valid {} .. {}", c->subject, c->issuer,
                                         format_rfc3339(c->not_before), format_rfc3339(c->not_after)));
        line("Key binding:",
             td != nullptr && equal_ct(td->report_data, ratls::content_report_data(ratls::kTagRaTlsCert, c->spki_der))
                 ? "REPORTDATA = SHA-512(\"ratls-cert:\" || SPKI) (not verified: tdxkit verify checks it)"
                 : "REPORTDATA does NOT bind this certificate's key");
        if (c->special_usage) line("Special usage:", *c->special_usage + " (unattested label)");
        if (c->app_id) line("App id:", to_hex(*c->app_id) + " (unattested label)");
    }
    if (const auto& a = evidence.attestation) {
        line("Attestation:", fmt::format("dstack, {}, config {} bytes", a->wire_name(), a->config.size()));
    }
    if (const auto& log = evidence.event_log) {
        line("Event log:", fmt::format("{}, {} events (not replayed here)", log->container, log->events.size()));
    }
    line("QE vendor:", fmt::format("{}{}", to_hex(q.header.qe_vendor_id),
                                   q.header.qe_vendor_id == kIntelQeVendorId ? " (Intel)" : " (NOT Intel)"));
    if (const auto* td = q.td_body()) {
        const auto attrs = td->td_attributes_value();
        line("TEE_TCB_SVN:", to_hex(td->tee_tcb_svn));
        if (td->tee_tcb_svn2) line("TEE_TCB_SVN2:", to_hex(*td->tee_tcb_svn2));
        line("MRSEAM:", to_hex(td->mr_seam));
        line("MRSIGNERSEAM:", to_hex(td->mr_signer_seam));
        line("SEAMATTRIBUTES:", to_hex(td->seam_attributes));
        line("TDATTRIBUTES:", fmt::format("{} ({})", to_hex(td->td_attributes), attribute_flags(attrs)));
        line("XFAM:", to_hex(td->xfam));
        line("MRTD:", to_hex(td->mr_td));
        line("MRCONFIGID:", to_hex(td->mr_config_id));
        line("MROWNER:", to_hex(td->mr_owner));
        line("MROWNERCONFIG:", to_hex(td->mr_owner_config));
        for (std::size_t i = 0; i < 4; ++i) line(fmt::format("RTMR{}:", i), to_hex(td->rtmr[i]));
        if (td->mr_service_td) line("MRSERVICETD:", to_hex(*td->mr_service_td));
        line("REPORTDATA:", to_hex(td->report_data));
        if (attrs & kTdAttrDebug) out += "WARNING: the DEBUG attribute is set: this TD's memory is not confidential\n";
    } else if (const auto* sgx = q.sgx_body()) {
        line("MRENCLAVE:", to_hex(sgx->mr_enclave));
        line("MRSIGNER:", to_hex(sgx->mr_signer));
        line("ISVPRODID:", std::to_string(sgx->isv_prod_id));
        line("ISVSVN:", std::to_string(sgx->isv_svn));
        line("ATTRIBUTES:", to_hex(sgx->attributes));
        line("REPORTDATA:", to_hex(sgx->report_data));
    }
    const auto& qe = q.signature_data.qe_report;
    line("QE report:",
         fmt::format("MRSIGNER {} ISVPRODID {} ISVSVN {}", to_hex(qe.mr_signer), qe.isv_prod_id, qe.isv_svn));
    const auto& cert = q.signature_data.certification;
    line("Cert data:",
         fmt::format("type {} ({}), {} bytes", cert.type, cert_data_type_name(cert.type), cert.data.size()));
    const auto chain = detail::quote_pck_chain(q);
    for (std::size_t i = 0; i < chain.size(); ++i) {
        const auto& c = chain[i];
        line(i == 0 ? "PCK chain:" : "",
             fmt::format("[{}] {} (valid {} .. {})", i, c.subject_cn.empty() ? c.subject : c.subject_cn,
                         format_rfc3339(c.not_before), format_rfc3339(c.not_after)));
    }
    if (!chain.empty() && chain.front().sgx_extension) {
        const auto& ext = *chain.front().sgx_extension;
        line("FMSPC:", to_hex(ext.fmspc));
        line("PCE-ID:", to_hex(ext.pce_id));
        line("PCESVN:", std::to_string(ext.pcesvn));
        line("CPUSVN:", to_hex(ext.cpusvn));
        line("SGX TCB comps:", fmt::format("{}", fmt::join(ext.sgx_tcb_components, " ")));
        line("PCK CA:", pck_ca_type_name(pck_ca_type(chain.front())));
    }
    return out;
}

}  // namespace tdxkit
