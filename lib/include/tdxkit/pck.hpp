#pragma once

// PCK certificates: the Intel SGX extension (OID 1.2.840.113741.1.13.1) and certificate summaries.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tdxkit/bytes.hpp"
#include "tdxkit/export.hpp"
#include "tdxkit/time.hpp"

namespace tdxkit {

struct PckConfiguration {
    std::optional<bool> dynamic_platform;
    std::optional<bool> cached_keys;
    std::optional<bool> smt_enabled;
};

struct PckExtension {
    Octets<16> ppid{};
    std::array<std::uint8_t, 16> sgx_tcb_components{};  // TCB comps 1..16
    std::uint16_t pcesvn = 0;
    Octets<16> cpusvn{};
    Octets<2> pce_id{};
    Octets<6> fmspc{};
    std::uint32_t sgx_type = 0;  // 0 Standard, 1 Scalable, 2 Scalable with integrity
    std::optional<Octets<16>> platform_instance_id;
    std::optional<PckConfiguration> configuration;
};

// Parses the DER value (the contents of the extension's OCTET STRING). Unknown sub-fields are ignored;
// throws Error(malformed) for bad DER, a field of the wrong type or size, a field given twice, or a
// missing PPID, TCB, PCE-ID, FMSPC or SGX type.
[[nodiscard]] TDXKIT_EXPORT PckExtension parse_pck_extension(ByteSpan der);

enum class PckCaType { none, platform, processor };
[[nodiscard]] TDXKIT_EXPORT const char* pck_ca_type_name(PckCaType t) noexcept;

struct CertificateInfo {
    std::string subject;
    std::string issuer;
    std::string subject_cn;  // "" when the name has no CN
    std::string issuer_cn;
    std::string serial_hex;
    UnixTime not_before = 0;
    UnixTime not_after = 0;
    std::string sha256_fingerprint_hex;
    bool is_ca = false;
    std::optional<PckExtension> sgx_extension;  // unset: the certificate has none
    Bytes der;
};

// Decodes one certificate: PEM when the text contains "-----BEGIN", else DER. Verifies nothing.
// Throws Error(malformed) for anything else, bytes after the DER, an unreadable validity time, or a
// bad or repeated SGX extension; Error(crypto) when OpenSSL fails.
[[nodiscard]] TDXKIT_EXPORT CertificateInfo describe_certificate(ByteSpan pem_or_der);

// Decodes every certificate of a PEM chain, in order. Throws as split_pem_chain and
// describe_certificate do.
[[nodiscard]] TDXKIT_EXPORT std::vector<CertificateInfo> describe_pem_chain(ByteSpan pem);

// CA type of a PCK chain: from the issuer CN of the leaf ("Intel SGX PCK Platform CA" / "... Processor CA");
// none when it names neither.
[[nodiscard]] TDXKIT_EXPORT PckCaType pck_ca_type(const CertificateInfo& leaf) noexcept;

}  // namespace tdxkit
