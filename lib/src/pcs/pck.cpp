#include "tdxkit/pck.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <openssl/objects.h>

#include "core/der.hpp"
#include "crypto/ossl.hpp"
#include "pcs/pck_internal.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/quote.hpp"

namespace tdxkit {
namespace {

// DER content octets of 1.2.840.113741.1.13.1 (Intel SGX extension); sub-fields append one arc.
constexpr std::array<std::uint8_t, 9> kSgxExtensionOid = {0x2a, 0x86, 0x48, 0x86, 0xf8, 0x4d, 0x01, 0x0d, 0x01};

// Returns the arcs after the SGX extension prefix, or an empty vector for a foreign OID.
std::vector<std::uint8_t> sgx_suffix(ByteSpan oid) {
    if (oid.size() <= kSgxExtensionOid.size() ||
        !std::equal(kSgxExtensionOid.begin(), kSgxExtensionOid.end(), oid.begin())) {
        return {};
    }
    return {oid.begin() + kSgxExtensionOid.size(), oid.end()};
}

template <std::size_t N>
Octets<N> fixed_octets(const der::Element& e, std::string_view field) {
    if (e.tag != der::kOctetString || e.content.size() != N) {
        throw Error(Errc::malformed,
                    fmt::format("SGX extension {}: expected an OCTET STRING of {} bytes, found tag {:#04x} of {} bytes",
                                field, N, e.tag, e.content.size()));
    }
    Octets<N> out{};
    std::copy(e.content.begin(), e.content.end(), out.begin());
    return out;
}

void parse_tcb(ByteSpan content, PckExtension& ext) {
    der::Reader r{content, "SGX extension TCB"};
    std::uint32_t seen = 0;  // bit per component 1..18
    while (!r.empty()) {
        der::Reader pair{r.expect(der::kSequence, "TCB entry").content, "SGX extension TCB entry"};
        const auto oid = sgx_suffix(pair.expect(der::kOid, "TCB entry OID").content);
        const auto value = pair.next();
        if (oid.size() != 2 || oid[0] != 2 || oid[1] < 1 || oid[1] > 18) {
            throw Error(Errc::malformed, "SGX extension TCB: unexpected OID inside the TCB sequence");
        }
        const unsigned idx = oid[1];
        if (seen & (1U << idx)) throw Error(Errc::malformed, fmt::format("SGX extension TCB: component {} twice", idx));
        seen |= 1U << idx;
        if (idx <= 16) {
            if (value.tag != der::kInteger) throw Error(Errc::malformed, "SGX extension TCB component is not INTEGER");
            const auto v = der::small_unsigned(value, "SGX TCB component");
            if (v > 255) throw Error(Errc::malformed, fmt::format("SGX TCB component {} = {} exceeds 255", idx, v));
            ext.sgx_tcb_components[idx - 1] = static_cast<std::uint8_t>(v);
        } else if (idx == 17) {
            if (value.tag != der::kInteger) throw Error(Errc::malformed, "SGX extension PCESVN is not INTEGER");
            const auto v = der::small_unsigned(value, "PCESVN");
            if (v > 0xFFFF) throw Error(Errc::malformed, "SGX extension PCESVN exceeds 65535");
            ext.pcesvn = static_cast<std::uint16_t>(v);
        } else {
            ext.cpusvn = fixed_octets<16>(value, "CPUSVN");
        }
    }
    if (seen != 0x7FFFEU)
        throw Error(Errc::malformed, "SGX extension TCB: components 1-16, PCESVN and CPUSVN required");
}

void parse_configuration(ByteSpan content, PckExtension& ext) {
    PckConfiguration cfg;
    der::Reader r{content, "SGX extension configuration"};
    while (!r.empty()) {
        der::Reader pair{r.expect(der::kSequence, "configuration entry").content, "SGX configuration entry"};
        const auto oid = sgx_suffix(pair.expect(der::kOid, "configuration OID").content);
        const auto value = pair.expect(der::kBoolean, "configuration flag");
        if (value.content.size() != 1) throw Error(Errc::malformed, "SGX configuration flag is not one byte");
        const bool flag = value.content[0] != 0;
        if (oid.size() == 2 && oid[0] == 7) {
            if (oid[1] == 1) cfg.dynamic_platform = flag;
            if (oid[1] == 2) cfg.cached_keys = flag;
            if (oid[1] == 3) cfg.smt_enabled = flag;
        }
    }
    ext.configuration = cfg;
}

}  // namespace

PckExtension parse_pck_extension(ByteSpan data) {
    PckExtension ext;
    der::Reader outer{data, "SGX extension"};
    der::Reader r{outer.expect(der::kSequence, "SGX extension").content, "SGX extension"};
    if (!outer.empty()) outer.fail("trailing bytes after the SGX extension");
    unsigned seen = 0;
    while (!r.empty()) {
        der::Reader pair{r.expect(der::kSequence, "SGX extension entry").content, "SGX extension entry"};
        const auto oid = sgx_suffix(pair.expect(der::kOid, "SGX extension entry OID").content);
        const auto value = pair.next();
        if (oid.size() != 1) continue;  // unknown sub-fields are ignored, as Intel's parsers do
        const unsigned idx = oid[0];
        if (idx >= 1 && idx <= 7) {
            if (seen & (1U << idx)) throw Error(Errc::malformed, fmt::format("SGX extension: field {} twice", idx));
            seen |= 1U << idx;
        }
        switch (idx) {
        case 1: ext.ppid = fixed_octets<16>(value, "PPID"); break;
        case 2:
            if (value.tag != der::kSequence) throw Error(Errc::malformed, "SGX extension TCB is not a SEQUENCE");
            parse_tcb(value.content, ext);
            break;
        case 3: ext.pce_id = fixed_octets<2>(value, "PCE-ID"); break;
        case 4: ext.fmspc = fixed_octets<6>(value, "FMSPC"); break;
        case 5:
            if (value.tag != der::kEnumerated) throw Error(Errc::malformed, "SGX extension SGX type is not ENUMERATED");
            ext.sgx_type = der::small_unsigned(value, "SGX type");
            break;
        case 6: ext.platform_instance_id = fixed_octets<16>(value, "PlatformInstanceID"); break;
        case 7:
            if (value.tag != der::kSequence) throw Error(Errc::malformed, "SGX configuration is not a SEQUENCE");
            parse_configuration(value.content, ext);
            break;
        default: break;
        }
    }
    constexpr unsigned kRequired = (1U << 1) | (1U << 2) | (1U << 3) | (1U << 4) | (1U << 5);
    if ((seen & kRequired) != kRequired) {
        throw Error(Errc::malformed, "SGX extension: PPID, TCB, PCE-ID, FMSPC and SGX type are all required");
    }
    return ext;
}

const char* pck_ca_type_name(PckCaType t) noexcept {
    switch (t) {
    case PckCaType::platform: return "platform";
    case PckCaType::processor: return "processor";
    case PckCaType::none: return "none";
    }
    return "none";
}

namespace detail {

CertificateInfo describe_x509(X509* cert) {
    CertificateInfo info;
    info.subject = ossl::name_oneline(X509_get_subject_name(cert));
    info.issuer = ossl::name_oneline(X509_get_issuer_name(cert));
    info.subject_cn = ossl::common_name(X509_get_subject_name(cert));
    info.issuer_cn = ossl::common_name(X509_get_issuer_name(cert));
    {
        const ASN1_INTEGER* serial = X509_get0_serialNumber(cert);
        info.serial_hex =
            to_hex(ByteSpan(ASN1_STRING_get0_data(serial), static_cast<std::size_t>(ASN1_STRING_length(serial))));
    }
    info.not_before = ossl::asn1_time_to_unix(X509_get0_notBefore(cert));
    info.not_after = ossl::asn1_time_to_unix(X509_get0_notAfter(cert));
    info.der = ossl::cert_der(cert);
    info.sha256_fingerprint_hex = to_hex(sha256(info.der));
    info.is_ca = X509_check_ca(cert) != 0;

    // Created once and never freed: OID objects are immutable and shared by every caller.
    static const ASN1_OBJECT* const sgx_oid = OBJ_txt2obj("1.2.840.113741.1.13.1", 1);
    if (sgx_oid == nullptr) ossl::fail("OBJ_txt2obj");
    const int idx = X509_get_ext_by_OBJ(cert, sgx_oid, -1);
    if (idx >= 0) {
        if (X509_get_ext_by_OBJ(cert, sgx_oid, idx) >= 0) {
            throw Error(Errc::malformed, "certificate carries the SGX extension twice");
        }
        const ASN1_OCTET_STRING* value = X509_EXTENSION_get_data(X509_get_ext(cert, idx));
        info.sgx_extension = parse_pck_extension(
            ByteSpan(ASN1_STRING_get0_data(value), static_cast<std::size_t>(ASN1_STRING_length(value))));
    }
    return info;
}

}  // namespace detail

CertificateInfo describe_certificate(ByteSpan pem_or_der) {
    const std::string_view text{reinterpret_cast<const char*>(pem_or_der.data()), pem_or_der.size()};
    const auto cert = text.find("-----BEGIN") != std::string_view::npos
                          ? ossl::parse_pem_cert(text, "certificate")
                          : ossl::parse_der_cert(pem_or_der, "certificate");
    return detail::describe_x509(cert.get());
}

std::vector<CertificateInfo> describe_pem_chain(ByteSpan pem) {
    std::vector<CertificateInfo> out;
    for (const auto& one : split_pem_chain(pem)) out.push_back(describe_certificate(as_bytes(one)));
    return out;
}

PckCaType pck_ca_type(const CertificateInfo& leaf) noexcept {
    if (leaf.issuer_cn.find("Platform") != std::string::npos) return PckCaType::platform;
    if (leaf.issuer_cn.find("Processor") != std::string::npos) return PckCaType::processor;
    return PckCaType::none;
}

std::vector<CertificateInfo> detail::quote_pck_chain(const Quote& quote) {
    const auto& cert = quote.signature_data.certification;
    if (cert.type != static_cast<std::uint16_t>(CertDataType::pck_cert_chain)) return {};
    return describe_pem_chain(cert.data);
}

}  // namespace tdxkit
