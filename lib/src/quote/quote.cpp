#include "tdxkit/quote.hpp"

#include <fmt/format.h>

#include "core/reader.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit {
namespace {

using wire::Reader;
using wire::Writer;

// Limits on untrusted length fields: generous for real quotes, far below anything harmful.
constexpr std::size_t kMaxQeAuthData = 4096;
constexpr std::size_t kMaxCertificationData = 128 * 1024;

std::uint64_t le64(const Octets<8>& b) noexcept {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) v |= static_cast<std::uint64_t>(b[i]) << (8U * i);
    return v;
}

QuoteHeader read_header(Reader& r) {
    QuoteHeader h;
    h.version = r.le<std::uint16_t>("version");
    h.attestation_key_type = r.le<std::uint16_t>("att_key_type");
    h.tee_type = r.le<std::uint32_t>("tee_type");
    h.qe_svn = r.le<std::uint16_t>("qe_svn");
    h.pce_svn = r.le<std::uint16_t>("pce_svn");
    h.qe_vendor_id = r.array<16>("qe_vendor_id");
    h.user_data = r.array<20>("user_data");
    return h;
}

void write_header(Writer& w, const QuoteHeader& h) {
    w.le(h.version);
    w.le(h.attestation_key_type);
    w.le(h.tee_type);
    w.le(h.qe_svn);
    w.le(h.pce_svn);
    w.bytes(h.qe_vendor_id);
    w.bytes(h.user_data);
}

SgxReportBody read_sgx_report(Reader& r) {
    SgxReportBody b;
    b.cpu_svn = r.array<16>("cpu_svn");
    b.misc_select = r.le<std::uint32_t>("misc_select");
    b.reserved1 = r.array<12>("reserved1");
    b.isv_ext_prod_id = r.array<16>("isv_ext_prod_id");
    b.attributes = r.array<16>("attributes");
    b.mr_enclave = r.array<32>("mr_enclave");
    b.reserved2 = r.array<32>("reserved2");
    b.mr_signer = r.array<32>("mr_signer");
    b.reserved3 = r.array<32>("reserved3");
    b.config_id = r.array<64>("config_id");
    b.isv_prod_id = r.le<std::uint16_t>("isv_prod_id");
    b.isv_svn = r.le<std::uint16_t>("isv_svn");
    b.config_svn = r.le<std::uint16_t>("config_svn");
    b.reserved4 = r.array<42>("reserved4");
    b.isv_family_id = r.array<16>("isv_family_id");
    b.report_data = r.array<64>("report_data");
    return b;
}

void write_sgx_report(Writer& w, const SgxReportBody& b) {
    w.bytes(b.cpu_svn);
    w.le(b.misc_select);
    w.bytes(b.reserved1);
    w.bytes(b.isv_ext_prod_id);
    w.bytes(b.attributes);
    w.bytes(b.mr_enclave);
    w.bytes(b.reserved2);
    w.bytes(b.mr_signer);
    w.bytes(b.reserved3);
    w.bytes(b.config_id);
    w.le(b.isv_prod_id);
    w.le(b.isv_svn);
    w.le(b.config_svn);
    w.bytes(b.reserved4);
    w.bytes(b.isv_family_id);
    w.bytes(b.report_data);
}

TdReportBody read_td_report(Reader& r, BodyType type) {
    TdReportBody b;
    b.tee_tcb_svn = r.array<16>("tee_tcb_svn");
    b.mr_seam = r.array<48>("mr_seam");
    b.mr_signer_seam = r.array<48>("mr_signer_seam");
    b.seam_attributes = r.array<8>("seam_attributes");
    b.td_attributes = r.array<8>("td_attributes");
    b.xfam = r.array<8>("xfam");
    b.mr_td = r.array<48>("mr_td");
    b.mr_config_id = r.array<48>("mr_config_id");
    b.mr_owner = r.array<48>("mr_owner");
    b.mr_owner_config = r.array<48>("mr_owner_config");
    for (std::size_t i = 0; i < 4; ++i) b.rtmr[i] = r.array<48>("rtmr");
    b.report_data = r.array<64>("report_data");
    if (type == BodyType::td15 || type == BodyType::td15_ex) {
        b.tee_tcb_svn2 = r.array<16>("tee_tcb_svn2");
        b.mr_service_td = r.array<48>("mr_service_td");
    }
    if (type == BodyType::td15_ex) {
        Td15ExFields ex;
        ex.vm_id = r.le<std::uint8_t>("vm_id");
        ex.td_id = r.array<32>("td_id");
        ex.dev_info = r.array<48>("dev_info");
        ex.init_serv_td_hash = r.array<48>("init_serv_td_hash");
        ex.init_serv_td_attributes = r.array<8>("init_serv_td_attributes");
        ex.init_cpu_svn = r.array<16>("init_cpu_svn");
        ex.init_tee_tcb_svn = r.array<16>("init_tee_tcb_svn");
        ex.init_tee_fmspc = r.array<12>("init_tee_fmspc");
        ex.cur_serv_td_hash = r.array<48>("cur_serv_td_hash");
        ex.cur_serv_td_attributes = r.array<8>("cur_serv_td_attributes");
        b.ex = ex;
    }
    return b;
}

void write_td_report(Writer& w, const TdReportBody& b) {
    w.bytes(b.tee_tcb_svn);
    w.bytes(b.mr_seam);
    w.bytes(b.mr_signer_seam);
    w.bytes(b.seam_attributes);
    w.bytes(b.td_attributes);
    w.bytes(b.xfam);
    w.bytes(b.mr_td);
    w.bytes(b.mr_config_id);
    w.bytes(b.mr_owner);
    w.bytes(b.mr_owner_config);
    for (const auto& m : b.rtmr) w.bytes(m);
    w.bytes(b.report_data);
    if (b.tee_tcb_svn2 && b.mr_service_td) {
        w.bytes(*b.tee_tcb_svn2);
        w.bytes(*b.mr_service_td);
    }
    if (b.ex) {
        w.le(b.ex->vm_id);
        w.bytes(b.ex->td_id);
        w.bytes(b.ex->dev_info);
        w.bytes(b.ex->init_serv_td_hash);
        w.bytes(b.ex->init_serv_td_attributes);
        w.bytes(b.ex->init_cpu_svn);
        w.bytes(b.ex->init_tee_tcb_svn);
        w.bytes(b.ex->init_tee_fmspc);
        w.bytes(b.ex->cur_serv_td_hash);
        w.bytes(b.ex->cur_serv_td_attributes);
    }
}

CertificationData read_certification_data(Reader& r, std::string_view what) {
    CertificationData c;
    c.type = r.le<std::uint16_t>(fmt::format("{} type", what));
    const auto size = r.le<std::uint32_t>(fmt::format("{} size", what));
    if (size > kMaxCertificationData) {
        r.fail(fmt::format("{} size {} exceeds the limit of {} bytes", what, size, kMaxCertificationData));
    }
    const auto data = r.bytes(size, what);
    c.data.assign(data.begin(), data.end());
    return c;
}

// QE report, its signature, QE auth data and the inner certification data: the contents of type-6
// certification data in v4/v5, and the tail of the v3 signature data.
void read_qe_section(Reader& r, QuoteSignatureData& s) {
    const auto qe_raw = r.bytes(kSgxReportBodySize, "qe_report");
    s.qe_report_raw.assign(qe_raw.begin(), qe_raw.end());
    Reader qe{qe_raw, "QE report", r.offset() - kSgxReportBodySize};
    s.qe_report = read_sgx_report(qe);
    s.qe_report_signature = r.array<64>("qe_report_signature");
    const auto auth_size = r.le<std::uint16_t>("qe_auth_data size");
    if (auth_size > kMaxQeAuthData) {
        r.fail(fmt::format("QE auth data size {} exceeds the limit of {} bytes", auth_size, kMaxQeAuthData));
    }
    const auto auth = r.bytes(auth_size, "qe_auth_data");
    s.qe_auth_data.assign(auth.begin(), auth.end());
    s.certification = read_certification_data(r, "certification data");
}

void write_qe_section(Writer& w, const QuoteSignatureData& s) {
    write_sgx_report(w, s.qe_report);
    w.bytes(s.qe_report_signature);
    w.le(static_cast<std::uint16_t>(s.qe_auth_data.size()));
    w.bytes(s.qe_auth_data);
    w.le(s.certification.type);
    w.le(static_cast<std::uint32_t>(s.certification.data.size()));
    w.bytes(s.certification.data);
}

QuoteSignatureData read_signature_data(Reader& r, std::uint16_t version) {
    QuoteSignatureData s;
    s.signature = r.array<64>("quote signature");
    s.attestation_key = r.array<64>("attestation key");
    if (version == 3) {
        read_qe_section(r, s);
        if (s.certification.type < 1 || s.certification.type > 5) {
            throw Error(
                Errc::unsupported,
                fmt::format("certification data type {} is not allowed in a v3 quote (1-5 are)", s.certification.type));
        }
        return s;
    }
    const auto outer_type = r.le<std::uint16_t>("outer certification data type");
    if (outer_type != static_cast<std::uint16_t>(CertDataType::qe_report)) {
        throw Error(Errc::unsupported,
                    fmt::format("signature data at offset {}: outer certification data type {} ({}); a v{} "
                                "quote must carry type 6 (QE report certification data)",
                                r.offset() - 2, outer_type, cert_data_type_name(outer_type), version));
    }
    const auto outer_size = r.le<std::uint32_t>("outer certification data size");
    if (outer_size > kMaxCertificationData) {
        r.fail(fmt::format("outer certification data size {} exceeds the limit", outer_size));
    }
    Reader inner = r.sub(outer_size, "QE report certification data");
    read_qe_section(inner, s);
    inner.expect_end();
    return s;
}

}  // namespace

std::uint64_t TdReportBody::td_attributes_value() const noexcept { return le64(td_attributes); }
std::uint64_t TdReportBody::xfam_value() const noexcept { return le64(xfam); }
std::uint64_t TdReportBody::seam_attributes_value() const noexcept { return le64(seam_attributes); }

const char* body_type_name(BodyType t) noexcept {
    switch (t) {
    case BodyType::sgx_enclave: return "SGX enclave report";
    case BodyType::td10: return "TD report 1.0";
    case BodyType::td15: return "TD report 1.5";
    case BodyType::td15_ex: return "TD report 1.5 EX";
    }
    return "unknown";
}

std::size_t body_type_size(BodyType t) noexcept {
    switch (t) {
    case BodyType::sgx_enclave: return kSgxReportBodySize;
    case BodyType::td10: return kTd10ReportBodySize;
    case BodyType::td15: return kTd15ReportBodySize;
    case BodyType::td15_ex: return kTd15ExReportBodySize;
    }
    return 0;
}

std::string cert_data_type_name(std::uint16_t type) {
    switch (type) {
    case 1: return "PPID cleartext";
    case 2: return "PPID RSA-2048 encrypted";
    case 3: return "PPID RSA-3072 encrypted";
    case 4: return "PCK certificate";
    case 5: return "PCK certificate chain";
    case 6: return "QE report certification data";
    case 7: return "platform manifest";
    default: return "unknown";
    }
}

std::size_t Quote::signed_length() const noexcept {
    const std::size_t descriptor = header.version == 5 ? 6 : 0;
    return kQuoteHeaderSize + descriptor + body_type_size(body_type);
}

Quote parse_quote(ByteSpan data) {
    Reader r{data, "quote"};
    Quote q;
    {
        Reader hr = r.sub(kQuoteHeaderSize, "quote header");
        q.header = read_header(hr);
    }
    const auto& h = q.header;
    if (h.version != 3 && h.version != 4 && h.version != 5) {
        throw Error(Errc::unsupported,
                    fmt::format("quote header at offset 0: version {} is not supported (3, 4 and 5 are)", h.version));
    }
    if (h.attestation_key_type != kAttestationKeyEcdsaP256) {
        throw Error(Errc::unsupported,
                    fmt::format("quote header at offset 2: attestation key type {} is not supported (only 2, "
                                "ECDSA-256-with-P-256)",
                                h.attestation_key_type));
    }
    if (h.tee_type != kTeeTypeSgx && h.tee_type != kTeeTypeTdx) {
        throw Error(
            Errc::unsupported,
            fmt::format("quote header at offset 4: TEE type {:#010x} is neither SGX (0x0) nor TDX (0x81)", h.tee_type));
    }
    if (h.version == 5) {
        const auto raw_type = r.le<std::uint16_t>("body type");
        q.body_size = r.le<std::uint32_t>("body size");
        if (raw_type < 1 || raw_type > 4) {
            throw Error(Errc::unsupported,
                        fmt::format("quote body descriptor at offset 48: body type {} is unknown (1-4 are)", raw_type));
        }
        q.body_type = static_cast<BodyType>(raw_type);
        if (q.body_size != body_type_size(q.body_type)) {
            r.fail(fmt::format("body size {} does not match {} ({} bytes)", q.body_size, body_type_name(q.body_type),
                               body_type_size(q.body_type)));
        }
    } else {
        q.body_type = h.tee_type == kTeeTypeTdx ? BodyType::td10 : BodyType::sgx_enclave;
        q.body_size = static_cast<std::uint32_t>(body_type_size(q.body_type));
    }
    if (h.version == 3 && h.tee_type != kTeeTypeSgx) {
        throw Error(Errc::unsupported, "quote header: a v3 quote must have TEE type SGX");
    }
    const bool td_body = q.body_type != BodyType::sgx_enclave;
    if (td_body != (h.tee_type == kTeeTypeTdx)) {
        throw Error(Errc::malformed, fmt::format("quote body: {} does not match TEE type {:#x}",
                                                 body_type_name(q.body_type), h.tee_type));
    }
    {
        Reader br = r.sub(q.body_size, fmt::format("quote body ({})", body_type_name(q.body_type)));
        if (td_body) {
            q.body = read_td_report(br, q.body_type);
        } else {
            q.body = read_sgx_report(br);
        }
        br.expect_end();
    }
    q.signature_data_len = r.le<std::uint32_t>("signature_data_len");
    if (q.signature_data_len > kMaxQuoteSize) {
        r.fail(
            fmt::format("signature data length {} exceeds the limit of {} bytes", q.signature_data_len, kMaxQuoteSize));
    }
    {
        Reader sr = r.sub(q.signature_data_len, "quote signature data");
        q.signature_data = read_signature_data(sr, h.version);
        sr.expect_end();
    }
    const auto consumed = r.position();
    q.raw.assign(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(consumed));
    q.trailing_bytes = r.remaining();
    return q;
}

Bytes serialize_quote(const Quote& q) {
    Writer w;
    write_header(w, q.header);
    if (q.header.version == 5) {
        w.le(static_cast<std::uint16_t>(q.body_type));
        w.le(static_cast<std::uint32_t>(body_type_size(q.body_type)));
    }
    if (const auto* td = q.td_body()) {
        write_td_report(w, *td);
    } else {
        write_sgx_report(w, std::get<SgxReportBody>(q.body));
    }
    Writer sig;
    sig.bytes(q.signature_data.signature);
    sig.bytes(q.signature_data.attestation_key);
    if (q.header.version == 3) {
        write_qe_section(sig, q.signature_data);
    } else {
        Writer section;
        write_qe_section(section, q.signature_data);
        const Bytes inner = std::move(section).take();
        sig.le(static_cast<std::uint16_t>(CertDataType::qe_report));
        sig.le(static_cast<std::uint32_t>(inner.size()));
        sig.bytes(inner);
    }
    const Bytes sig_bytes = std::move(sig).take();
    w.le(static_cast<std::uint32_t>(sig_bytes.size()));
    w.bytes(sig_bytes);
    return std::move(w).take();
}

Bytes serialize_sgx_report_body(const SgxReportBody& body) {
    Writer w;
    write_sgx_report(w, body);
    return std::move(w).take();
}

SgxReportBody parse_sgx_report_body(ByteSpan data) {
    Reader r{data, "SGX report body"};
    auto body = read_sgx_report(r);
    r.expect_end();
    return body;
}

std::vector<std::string> split_pem_chain(ByteSpan pem) {
    std::string_view text{reinterpret_cast<const char*>(pem.data()), pem.size()};
    if (!text.empty() && text.back() == '\0') text.remove_suffix(1);
    if (text.find('\0') != std::string_view::npos) {
        throw Error(Errc::malformed, "PCK certificate chain: NUL byte inside the PEM text");
    }
    constexpr std::string_view kBegin = "-----BEGIN CERTIFICATE-----";
    constexpr std::string_view kEnd = "-----END CERTIFICATE-----";
    std::vector<std::string> certs;
    std::size_t pos = 0;
    while (true) {
        const auto begin = text.find(kBegin, pos);
        if (begin == std::string_view::npos) break;
        const auto end = text.find(kEnd, begin);
        if (end == std::string_view::npos) {
            throw Error(Errc::malformed, fmt::format("PEM chain: certificate at offset {} has no END line", begin));
        }
        certs.emplace_back(text.substr(begin, end + kEnd.size() - begin));
        certs.back().push_back('\n');
        pos = end + kEnd.size();
    }
    if (certs.empty()) throw Error(Errc::malformed, "PEM chain: no certificate found");
    return certs;
}

}  // namespace tdxkit
