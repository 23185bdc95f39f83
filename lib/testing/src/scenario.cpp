#include "testing/der_writer.hpp"
#include "testing/pki.hpp"

#include "tdxkit/error.hpp"
#include "tdxkit/testing.hpp"

#include <fmt/format.h>

#include <fstream>

namespace tdxkit::testing {
namespace {

// Identities of Intel's quoting enclaves (PCS QE Identity responses), so the simulated QE looks
// like the real one to any check that pins them.
constexpr Octets<32> kTdQeMrSigner = {0xDC, 0x9E, 0x2A, 0x7C, 0x6F, 0x94, 0x8F, 0x17, 0x47, 0x4E, 0x34,
                                      0xA7, 0xFC, 0x43, 0xED, 0x03, 0x0F, 0x7C, 0x15, 0x63, 0xF1, 0xBA,
                                      0xBD, 0xDF, 0x63, 0x40, 0xC8, 0x2E, 0x0E, 0x54, 0xA8, 0xC5};
constexpr Octets<32> kSgxQeMrSigner = {0x8C, 0x4F, 0x57, 0x75, 0xD7, 0x96, 0x50, 0x3E, 0x96, 0x13, 0x7F,
                                       0x77, 0xC6, 0x8A, 0x82, 0x9A, 0x00, 0x56, 0xAC, 0x8D, 0xED, 0x70,
                                       0x14, 0x0B, 0x08, 0x1B, 0x09, 0x44, 0x90, 0xC5, 0x7B, 0xFF};
constexpr std::uint16_t kTdQeProdId = 2;
constexpr std::uint16_t kSgxQeProdId = 1;

constexpr std::array<std::uint8_t, 16> kSgxSvns = {2, 2, 2, 2, 3, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0};
constexpr std::array<std::uint8_t, 16> kTdxSvns = {5, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
constexpr std::uint16_t kPceSvn = 11;

constexpr std::string_view kRootCrlUrl = "https://tdxkit.invalid/test/root-ca.crl";

// Recognizable, non-zero filler for measurements and identifiers: the first N bytes of SHA-512(label).
template <std::size_t N>
Octets<N> filler(std::string_view label) {
    static_assert(N <= 64);
    const auto digest = sha512(as_bytes(label));
    Octets<N> out{};
    std::copy_n(digest.begin(), N, out.begin());
    return out;
}

Bytes serial(std::uint8_t a, std::uint8_t b) { return {0x7E, 0x57, a, b}; }

// Component names as Intel's TDX TCB Info for this CPU family writes them.
std::array<TcbComponent, 16> sgx_components(const std::array<std::uint8_t, 16>& svns) {
    std::array<TcbComponent, 16> c{};
    for (std::size_t i = 0; i < 16; ++i) c[i].svn = svns[i];
    c[0] = {svns[0], "BIOS", "Early Microcode Update"};
    c[1] = {svns[1], "OS/VMM", "SGX Late Microcode Update"};
    c[2] = {svns[2], "OS/VMM", "TXT SINIT"};
    c[3] = {svns[3], "BIOS", ""};
    c[4] = {svns[4], "BIOS", ""};
    c[5] = {svns[5], "BIOS", ""};
    c[7] = {svns[7], "OS/VMM", "SEAMLDR ACM"};
    return c;
}

std::array<TcbComponent, 16> tdx_components(const std::array<std::uint8_t, 16>& svns) {
    std::array<TcbComponent, 16> c{};
    for (std::size_t i = 0; i < 16; ++i) c[i].svn = svns[i];
    c[0] = {svns[0], "OS/VMM", "TDX Module"};
    c[1] = {svns[1], "OS/VMM", "TDX Module"};
    c[2] = {svns[2], "OS/VMM", "TDX Late Microcode Update"};
    return c;
}

constexpr UnixTime kTcbDateCurrent = 1710288000;   // 2024-03-13T00:00:00Z
constexpr UnixTime kTcbDatePrevious = 1691539200;  // 2023-08-09T00:00:00Z
constexpr UnixTime kTcbDateOld = 1515024000;       // 2018-01-04T00:00:00Z

std::vector<TcbLevel> default_tcb_levels(bool tdx) {
    TcbLevel current;
    current.sgx_components = sgx_components(kSgxSvns);
    current.pcesvn = kPceSvn;
    if (tdx) current.tdx_components = tdx_components(kTdxSvns);
    current.tcb_date = kTcbDateCurrent;
    current.tcb_status = "UpToDate";
    TcbLevel old = current;
    old.pcesvn = 5;
    old.tcb_date = kTcbDateOld;
    old.tcb_status = "OutOfDate";
    old.advisory_ids = {"INTEL-SA-00106", "INTEL-SA-00115", "INTEL-SA-00837"};
    return {current, old};
}

std::vector<IsvsvnLevel> isvsvn_ladder(std::uint16_t current, std::uint16_t previous) {
    return {{current, kTcbDateCurrent, "UpToDate", {}}, {previous, kTcbDatePrevious, "OutOfDate", {"INTEL-SA-00837"}}};
}

TdxModuleIdentity intel_module(std::string id, std::vector<IsvsvnLevel> levels) {
    TdxModuleIdentity m;
    m.id = std::move(id);
    m.attributes_mask.fill(0xFF);
    m.tcb_levels = std::move(levels);
    return m;
}

CertificateOptions certificate(std::string cn, std::string key, Bytes serial_number) {
    CertificateOptions c;
    c.common_name = std::move(cn);
    c.key = std::move(key);
    c.serial = std::move(serial_number);
    return c;
}

// ---- SGX extension ----

Bytes sgx_oid(std::initializer_list<std::uint8_t> arcs) {
    Bytes content = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};
    content.insert(content.end(), arcs.begin(), arcs.end());
    return der::tlv(0x06, content);
}

Bytes sgx_entry(std::initializer_list<std::uint8_t> arcs, ByteSpan value) {
    return der::sequence({sgx_oid(arcs), value});
}

Bytes der_boolean(bool v) { return der::tlv(0x01, Bytes{static_cast<std::uint8_t>(v ? 0xFF : 0x00)}); }

// ---- quote ----

// The key named by an option that overrides who signs, or the rightful signer's.
PrivateScalar key_for(const Scenario& s, const std::string& override_label, const std::string& default_label) {
    return s.key(override_label.empty() ? default_label : override_label);
}

Bytes build_quote(const Scenario& s, const Bytes& default_chain) {
    const QuoteOptions& o = s.quote;
    Quote q;
    q.header = o.header;
    if (q.header.tee_type == kTeeTypeTdx) {
        q.body_type = q.header.version == 5 ? o.body_type : BodyType::td10;
        TdReportBody td = o.td_body;
        // The body holds exactly the fields of its type.
        const bool td15 = q.body_type == BodyType::td15 || q.body_type == BodyType::td15_ex;
        if (!td15) {
            td.tee_tcb_svn2.reset();
            td.mr_service_td.reset();
        } else {
            if (!td.tee_tcb_svn2) td.tee_tcb_svn2 = td.tee_tcb_svn;
            if (!td.mr_service_td) td.mr_service_td = Measurement{};
        }
        if (q.body_type != BodyType::td15_ex) {
            td.ex.reset();
        } else if (!td.ex) {
            td.ex = Td15ExFields{};
        }
        q.body = td;
    } else {
        q.body_type = BodyType::sgx_enclave;
        q.body = o.sgx_body;
    }

    auto& sd = q.signature_data;
    sd.attestation_key = public_key(s.key(o.attestation_key));
    sd.qe_auth_data = o.qe_auth_data;
    sd.qe_report = o.qe_report;
    if (o.qe_report_data) {
        sd.qe_report.report_data = *o.qe_report_data;
    } else {
        Bytes bound(sd.attestation_key.begin(), sd.attestation_key.end());
        bound.insert(bound.end(), sd.qe_auth_data.begin(), sd.qe_auth_data.end());
        const auto digest = sha256(bound);
        sd.qe_report.report_data = {};
        std::copy(digest.begin(), digest.end(), sd.qe_report.report_data.begin());
    }
    sd.qe_report_raw = serialize_sgx_report_body(sd.qe_report);
    sd.qe_report_signature = sign_p256(key_for(s, o.qe_report_signing_key, s.pck.cert.key), sd.qe_report_raw);
    sd.certification.type = o.certification_type;
    sd.certification.data = o.certification_data.value_or(default_chain);

    const Bytes unsigned_quote = serialize_quote(q);
    const ByteSpan signed_region = ByteSpan(unsigned_quote).first(q.signed_length());
    sd.signature = sign_p256(key_for(s, o.signing_key, o.attestation_key), signed_region);
    return serialize_quote(q);
}

void write_file(const std::filesystem::path& path, ByteSpan data) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
    if (!out) throw Error(Errc::io, fmt::format("cannot write {}", path.string()));
}

}  // namespace

Bytes encode_pck_extension(const PckExtension& ext) {
    Bytes tcb;
    for (std::uint8_t i = 0; i < 16; ++i) {
        const auto entry =
            sgx_entry({2, static_cast<std::uint8_t>(i + 1)}, der::small_integer(ext.sgx_tcb_components[i]));
        tcb.insert(tcb.end(), entry.begin(), entry.end());
    }
    const auto pcesvn = sgx_entry({2, 17}, der::small_integer(ext.pcesvn));
    const auto cpusvn = sgx_entry({2, 18}, der::tlv(0x04, ext.cpusvn));
    tcb = der::concat({tcb, pcesvn, cpusvn});

    Bytes fields = der::concat({sgx_entry({1}, der::tlv(0x04, ext.ppid)), sgx_entry({2}, der::tlv(0x30, tcb)),
                                sgx_entry({3}, der::tlv(0x04, ext.pce_id)), sgx_entry({4}, der::tlv(0x04, ext.fmspc)),
                                sgx_entry({5}, der::small_integer(ext.sgx_type, 0x0a))});
    if (ext.platform_instance_id) {
        fields = der::concat({fields, sgx_entry({6}, der::tlv(0x04, *ext.platform_instance_id))});
    }
    if (ext.configuration) {
        Bytes flags;
        const std::pair<std::uint8_t, const std::optional<bool>*> known[] = {{1, &ext.configuration->dynamic_platform},
                                                                             {2, &ext.configuration->cached_keys},
                                                                             {3, &ext.configuration->smt_enabled}};
        for (const auto& [arc, flag] : known) {
            if (*flag) flags = der::concat({flags, sgx_entry({7, arc}, der_boolean(**flag))});
        }
        fields = der::concat({fields, sgx_entry({7}, der::tlv(0x30, flags))});
    }
    return der::tlv(0x30, fields);
}

Scenario::Scenario() {
    root = certificate("Intel SGX Root CA", "root", serial(0x00, 0x01));
    platform_ca = certificate("Intel SGX PCK Platform CA", "pck-platform-ca", serial(0x00, 0x02));
    processor_ca = certificate("Intel SGX PCK Processor CA", "pck-processor-ca", serial(0x00, 0x03));
    tcb_signing = certificate("Intel SGX TCB Signing", "tcb-signing", serial(0x00, 0x04));

    pck.cert = certificate("Intel SGX PCK Certificate", "pck-leaf", serial(0x01, 0x00));
    pck.ca = PckCaType::platform;
    auto& ext = pck.extension;
    ext.ppid = filler<16>("PPID");
    ext.sgx_tcb_components = kSgxSvns;
    ext.pcesvn = kPceSvn;
    ext.cpusvn = kSgxSvns;
    ext.pce_id = {0x00, 0x00};
    ext.fmspc = {0x90, 0xC0, 0x6F, 0x00, 0x00, 0x00};
    ext.sgx_type = 1;  // Scalable, as on every TDX-capable Xeon
    ext.platform_instance_id = filler<16>("PlatformInstanceID");
    ext.configuration = PckConfiguration{false, true, true};

    root_crl.revoked_serials = {serial(0x0E, 0x01)};
    pck_crl.revoked_serials = {serial(0x0F, 0x01), serial(0x0F, 0x02)};

    tcb_info.tdx_module = intel_module("", {});
    tcb_info.tdx_module_identities = {intel_module("TDX_03", isvsvn_ladder(3, 1)),
                                      intel_module("TDX_01", isvsvn_ladder(4, 2))};
    tcb_info.tcb_levels = default_tcb_levels(true);

    qe_identity.miscselect_mask.fill(0xFF);
    qe_identity.attributes = {0x11};
    qe_identity.attributes_mask = {0xFB, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF};
    qe_identity.mrsigner = kTdQeMrSigner;
    qe_identity.isvprodid = kTdQeProdId;
    qe_identity.tcb_levels = isvsvn_ladder(4, 2);

    auto& h = quote.header;
    h.version = 4;
    h.attestation_key_type = kAttestationKeyEcdsaP256;
    h.tee_type = kTeeTypeTdx;
    h.qe_vendor_id = kIntelQeVendorId;
    const auto qe_id = filler<16>("QE ID");
    std::copy(qe_id.begin(), qe_id.end(), h.user_data.begin());

    auto& td = quote.td_body;
    td.tee_tcb_svn = {5, 1, 2};  // module SVN 5, major version 1 ("TDX_01"), late microcode 2
    td.mr_seam = filler<48>("MRSEAM");
    td.td_attributes = {0x00, 0x00, 0x00, 0x10};  // SEPT_VE_DISABLE
    td.xfam = {0xE7, 0x02, 0x06};
    td.mr_td = filler<48>("MRTD");
    for (std::size_t i = 0; i < td.rtmr.size(); ++i) td.rtmr[i] = filler<48>(fmt::format("RTMR{}", i));
    td.report_data = filler<64>("TD report data");

    auto& qe = quote.qe_report;
    qe.cpu_svn = ext.cpusvn;
    qe.attributes = {0x11, 0, 0, 0, 0, 0, 0, 0, 0xE7};  // XFRM half is masked out by the identity
    qe.mr_enclave = filler<32>("TD_QE MRENCLAVE");
    qe.mr_signer = kTdQeMrSigner;
    qe.isv_prod_id = kTdQeProdId;
    qe.isv_svn = 4;
    quote.qe_auth_data.resize(32);
    for (std::size_t i = 0; i < quote.qe_auth_data.size(); ++i) quote.qe_auth_data[i] = static_cast<std::uint8_t>(i);
}

Scenario Scenario::tdx_v5() {
    Scenario s;
    s.quote.header.version = 5;
    s.quote.body_type = BodyType::td15;
    s.quote.td_body.tee_tcb_svn2 = s.quote.td_body.tee_tcb_svn;
    s.quote.td_body.mr_service_td = Measurement{};
    return s;
}

Scenario Scenario::sgx_v3() {
    Scenario s;
    s.tcb_info.id = "SGX";
    s.tcb_info.tdx_module.reset();
    s.tcb_info.tdx_module_identities.reset();
    s.tcb_info.tcb_levels = default_tcb_levels(false);
    s.qe_identity.id = "QE";
    s.qe_identity.mrsigner = kSgxQeMrSigner;
    s.qe_identity.isvprodid = kSgxQeProdId;
    s.qe_identity.tcb_levels = isvsvn_ladder(8, 6);

    s.quote.header.version = 3;
    s.quote.header.tee_type = kTeeTypeSgx;
    s.quote.qe_report.mr_signer = kSgxQeMrSigner;
    s.quote.qe_report.isv_prod_id = kSgxQeProdId;
    s.quote.qe_report.isv_svn = 8;
    s.quote.qe_report.mr_enclave = filler<32>("QE MRENCLAVE");
    // A v3 header carries the real QE and PCE SVNs.
    s.quote.header.qe_svn = s.quote.qe_report.isv_svn;
    s.quote.header.pce_svn = s.pck.extension.pcesvn;

    auto& e = s.quote.sgx_body;
    e.cpu_svn = s.pck.extension.cpusvn;
    e.attributes = {0x05, 0, 0, 0, 0, 0, 0, 0, 0x03};  // INIT | MODE64BIT, XFRM x87|SSE
    e.mr_enclave = filler<32>("enclave MRENCLAVE");
    e.mr_signer = filler<32>("enclave MRSIGNER");
    e.isv_prod_id = 1;
    e.isv_svn = 1;
    e.report_data = filler<64>("enclave report data");
    return s;
}

void Scenario::use_processor_ca() {
    pck.ca = PckCaType::processor;
    pck.extension.platform_instance_id.reset();
    pck.extension.configuration.reset();
}

ScenarioOutput Scenario::build() const {
    const auto signer = [&](const CertificateOptions& c, const std::string& issuer_key) {
        return key_for(*this, c.signing_key, issuer_key);
    };
    const auto crl_url = [](PckCaType ca) {
        return fmt::format("https://tdxkit.invalid/test/pck-{}.crl", pck_ca_type_name(ca));
    };
    const CertificateProfile ca_profile{CertificateRole::intermediate_ca, std::string(kRootCrlUrl), std::nullopt};

    const auto root_cert = issue_certificate(root, {CertificateRole::root_ca, std::string(kRootCrlUrl), std::nullopt},
                                             key(root.key), nullptr, signer(root, root.key));
    const auto platform = issue_certificate(platform_ca, ca_profile, key(platform_ca.key), root_cert.get(),
                                            signer(platform_ca, root.key));
    const auto processor = issue_certificate(processor_ca, ca_profile, key(processor_ca.key), root_cert.get(),
                                             signer(processor_ca, root.key));
    const auto signing =
        issue_certificate(tcb_signing, {CertificateRole::end_entity, std::string(kRootCrlUrl), std::nullopt},
                          key(tcb_signing.key), root_cert.get(), signer(tcb_signing, root.key));
    if (pck.ca == PckCaType::none) {
        throw Error(Errc::invalid_argument, "test PCK leaf needs a platform or processor CA");
    }
    const auto& leaf_ca_options = pck.ca == PckCaType::platform ? platform_ca : processor_ca;
    X509* const leaf_ca = pck.ca == PckCaType::platform ? platform.get() : processor.get();
    const auto leaf =
        issue_certificate(pck.cert, {CertificateRole::end_entity, crl_url(pck.ca), encode_pck_extension(pck.extension)},
                          key(pck.cert.key), leaf_ca, signer(pck.cert, leaf_ca_options.key));

    ScenarioOutput out;
    out.now = now;
    out.root_der = certificate_der(root_cert.get());
    out.root_pem = certificate_pem(root_cert.get());
    out.platform_ca_pem = certificate_pem(platform.get());
    out.processor_ca_pem = certificate_pem(processor.get());
    out.tcb_signing_pem = certificate_pem(signing.get());
    out.pck_leaf_pem = certificate_pem(leaf.get());
    const auto& leaf_ca_pem = pck.ca == PckCaType::platform ? out.platform_ca_pem : out.processor_ca_pem;
    out.pck_chain_pem = out.pck_leaf_pem + leaf_ca_pem + out.root_pem;

    out.platform_crl = issue_crl(pck_crl, platform.get(), key_for(*this, pck_crl.signing_key, platform_ca.key));
    out.processor_crl = issue_crl(pck_crl, processor.get(), key_for(*this, pck_crl.signing_key, processor_ca.key));

    auto& c = out.collateral;
    const bool crl_by_platform = pck_crl_issuer.value_or(pck.ca) == PckCaType::platform;
    c.pck_crl = crl_by_platform ? out.platform_crl : out.processor_crl;
    c.pck_crl_issuer_chain = (crl_by_platform ? out.platform_ca_pem : out.processor_ca_pem) + out.root_pem;
    c.root_ca_crl = issue_crl(root_crl, root_cert.get(), key_for(*this, root_crl.signing_key, root.key));

    c.tcb_info_issuer_chain = out.tcb_signing_pem + out.root_pem;
    c.tcb_info = tcb_info_body(tcb_info, tcb_info.fmspc.value_or(pck.extension.fmspc),
                               tcb_info.pce_id.value_or(pck.extension.pce_id));
    const auto tcb_sig = sign_p256(key_for(*this, tcb_info.signing_key, tcb_signing.key), as_bytes(c.tcb_info));
    c.tcb_info_signature.assign(tcb_sig.begin(), tcb_sig.end());

    c.qe_identity_issuer_chain = c.tcb_info_issuer_chain;
    c.qe_identity = qe_identity_body(qe_identity);
    const auto qe_sig = sign_p256(key_for(*this, qe_identity.signing_key, tcb_signing.key), as_bytes(c.qe_identity));
    c.qe_identity_signature.assign(qe_sig.begin(), qe_sig.end());

    if (pck_chain_in_collateral) c.pck_certificate_chain = out.pck_chain_pem;
    c.source = "tdxkit::testing scenario (TEST PKI)";

    out.quote = build_quote(*this, Bytes(out.pck_chain_pem.begin(), out.pck_chain_pem.end()));
    return out;
}

std::string signed_json_document(std::string_view member, std::string_view body, ByteSpan signature) {
    return fmt::format(R"({{"{}":{},"signature":"{}"}})", member, body, to_hex(signature));
}

std::vector<NamedFile> collateral_files(const Collateral& c) {
    const auto text = [](std::string_view t) { return Bytes(t.begin(), t.end()); };
    std::vector<NamedFile> files = {
        {"tcb_info.json", text(signed_json_document("tcbInfo", c.tcb_info, c.tcb_info_signature))},
        {"qe_identity.json", text(signed_json_document("enclaveIdentity", c.qe_identity, c.qe_identity_signature))},
        {"tcb_info_issuer_chain.pem", text(c.tcb_info_issuer_chain)},
        {"qe_identity_issuer_chain.pem", text(c.qe_identity_issuer_chain)},
        {"pck_crl_issuer_chain.pem", text(c.pck_crl_issuer_chain)},
        {"pck_crl.der", c.pck_crl},
        {"root_ca_crl.der", c.root_ca_crl},
    };
    if (c.pck_certificate_chain) files.push_back({"pck_certificate_chain.pem", text(*c.pck_certificate_chain)});
    return files;
}

void write_collateral(const Collateral& c, const std::filesystem::path& dir) {
    std::filesystem::create_directories(dir);
    for (const auto& f : collateral_files(c)) write_file(dir / f.name, f.content);
}

void write_scenario(const ScenarioOutput& output, const std::filesystem::path& dir) {
    write_collateral(output.collateral, dir);
    write_file(dir / "quote.bin", output.quote);
    write_file(dir / "root.pem", as_bytes(output.root_pem));
}

}  // namespace tdxkit::testing
