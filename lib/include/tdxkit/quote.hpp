#pragma once

// Intel DCAP quote formats: SGX quote v3, TDX quote v4 (TD report 1.0 body) and v5 (body
// descriptor; SGX, TD 1.0, TD 1.5 and TD 1.5 EX bodies). Layouts follow Intel's sgx_quote_{3,4,5}.h;
// every multi-byte integer is little-endian, signatures and keys are raw big-endian r||s and X||Y.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "tdxkit/bytes.hpp"
#include "tdxkit/export.hpp"

namespace tdxkit {

using Measurement = Octets<48>;  // SHA-384 register

inline constexpr std::uint32_t kTeeTypeSgx = 0x00000000;
inline constexpr std::uint32_t kTeeTypeTdx = 0x00000081;
inline constexpr std::uint16_t kAttestationKeyEcdsaP256 = 2;
inline constexpr Octets<16> kIntelQeVendorId = {0x93, 0x9a, 0x72, 0x33, 0xf7, 0x9c, 0x4c, 0xa9,
                                                0x94, 0x0a, 0x0d, 0xb3, 0x95, 0x7f, 0x06, 0x07};

inline constexpr std::size_t kQuoteHeaderSize = 48;
inline constexpr std::size_t kSgxReportBodySize = 384;
inline constexpr std::size_t kTd10ReportBodySize = 584;
inline constexpr std::size_t kTd15ReportBodySize = 648;
inline constexpr std::size_t kTd15ExReportBodySize = 885;
// A quote carries a PEM chain of three certificates; anything far larger is hostile.
inline constexpr std::size_t kMaxQuoteSize = 256 * 1024;

struct QuoteHeader {
    std::uint16_t version = 0;
    std::uint16_t attestation_key_type = 0;
    std::uint32_t tee_type = 0;
    std::uint16_t qe_svn = 0;   // reserved (zero) in v4/v5 TDX quotes
    std::uint16_t pce_svn = 0;  // reserved (zero) in v4/v5 TDX quotes
    Octets<16> qe_vendor_id{};
    Octets<20> user_data{};
};

// SGX REPORT body (sgx_report.h report_body_t): the QE report and the SGX enclave quote body.
struct SgxReportBody {
    Octets<16> cpu_svn{};
    std::uint32_t misc_select = 0;
    Octets<12> reserved1{};
    Octets<16> isv_ext_prod_id{};
    Octets<16> attributes{};
    Octets<32> mr_enclave{};
    Octets<32> reserved2{};
    Octets<32> mr_signer{};
    Octets<32> reserved3{};
    Octets<64> config_id{};
    std::uint16_t isv_prod_id = 0;
    std::uint16_t isv_svn = 0;
    std::uint16_t config_svn = 0;
    Octets<42> reserved4{};
    Octets<16> isv_family_id{};
    Octets<64> report_data{};
};

// Extra fields of the TD 1.5 EX body (Intel QVL "TD Partitioning Enhancement").
struct Td15ExFields {
    std::uint8_t vm_id = 0;
    Octets<32> td_id{};
    Octets<48> dev_info{};
    Octets<48> init_serv_td_hash{};
    Octets<8> init_serv_td_attributes{};
    Octets<16> init_cpu_svn{};
    Octets<16> init_tee_tcb_svn{};
    Octets<12> init_tee_fmspc{};
    Octets<48> cur_serv_td_hash{};
    Octets<8> cur_serv_td_attributes{};
};

struct TDXKIT_EXPORT TdReportBody {
    Octets<16> tee_tcb_svn{};
    Measurement mr_seam{};
    Measurement mr_signer_seam{};
    Octets<8> seam_attributes{};
    Octets<8> td_attributes{};
    Octets<8> xfam{};
    Measurement mr_td{};
    Measurement mr_config_id{};
    Measurement mr_owner{};
    Measurement mr_owner_config{};
    std::array<Measurement, 4> rtmr{};
    Octets<64> report_data{};
    // TD 1.5 (v5 body type 3 and 4)
    std::optional<Octets<16>> tee_tcb_svn2;
    std::optional<Measurement> mr_service_td;
    // TD 1.5 EX (v5 body type 4)
    std::optional<Td15ExFields> ex;

    // The 8-byte fields as little-endian integers (as the TDX module defines them).
    [[nodiscard]] std::uint64_t td_attributes_value() const noexcept;
    [[nodiscard]] std::uint64_t xfam_value() const noexcept;
    [[nodiscard]] std::uint64_t seam_attributes_value() const noexcept;
};

// TD attribute bits (TDX module ABI; dcap-qvl TDAttributes).
inline constexpr std::uint64_t kTdAttrDebug = 1ULL << 0;
inline constexpr std::uint64_t kTdAttrSeptVeDisable = 1ULL << 28;
inline constexpr std::uint64_t kTdAttrPks = 1ULL << 30;
inline constexpr std::uint64_t kTdAttrKl = 1ULL << 31;
inline constexpr std::uint64_t kTdAttrPerfmon = 1ULL << 63;

enum class BodyType : std::uint16_t { sgx_enclave = 1, td10 = 2, td15 = 3, td15_ex = 4 };
// "TD report 1.0", ...; "unknown" for a value outside the enum.
[[nodiscard]] TDXKIT_EXPORT const char* body_type_name(BodyType t) noexcept;
// The body's size in bytes (kTd10ReportBodySize, ...); 0 for a value outside the enum.
[[nodiscard]] TDXKIT_EXPORT std::size_t body_type_size(BodyType t) noexcept;

// Certification data types (sgx_quote_3.h sgx_ql_cert_key_type_t).
enum class CertDataType : std::uint16_t {
    ppid_cleartext = 1,
    ppid_rsa2048 = 2,
    ppid_rsa3072 = 3,
    pck_cleartext = 4,
    pck_cert_chain = 5,
    qe_report = 6,
    platform_manifest = 7,
};
// "PCK certificate chain", ...; "unknown" for a type not listed. Never throws.
[[nodiscard]] TDXKIT_EXPORT std::string cert_data_type_name(std::uint16_t type);

struct CertificationData {
    std::uint16_t type = 0;
    Bytes data;
};

// The ECDSA signature data that follows the body. v3 carries the QE report fields directly; v4/v5
// wrap them in certification data of type 6, whose size tdxkit recomputes on serialization.
struct QuoteSignatureData {
    Octets<64> signature{};        // over the signed region, by the attestation key
    Octets<64> attestation_key{};  // P-256 X||Y
    SgxReportBody qe_report;
    Bytes qe_report_raw;               // the exact 384 signed bytes
    Octets<64> qe_report_signature{};  // by the PCK leaf key
    Bytes qe_auth_data;
    CertificationData certification;  // inner: normally type 5, the PCK chain as PEM
};

struct TDXKIT_EXPORT Quote {
    QuoteHeader header;
    BodyType body_type = BodyType::td10;
    std::uint32_t body_size = 0;  // v5 descriptor value; body length otherwise
    std::variant<SgxReportBody, TdReportBody> body;
    std::uint32_t signature_data_len = 0;
    QuoteSignatureData signature_data;
    Bytes raw;                       // the quote's own bytes, without trailing bytes
    std::size_t trailing_bytes = 0;  // bytes that followed the quote in the input (often zero padding)

    [[nodiscard]] bool is_tdx() const noexcept { return header.tee_type == kTeeTypeTdx; }
    // The body of that kind, or nullptr when the quote has the other.
    [[nodiscard]] const TdReportBody* td_body() const noexcept { return std::get_if<TdReportBody>(&body); }
    [[nodiscard]] const SgxReportBody* sgx_body() const noexcept { return std::get_if<SgxReportBody>(&body); }
    // Header and body (with the v5 descriptor): what the attestation key signs. signed_region needs
    // `raw` as parse_quote sets it: on a Quote built field by field (raw shorter) it is undefined.
    [[nodiscard]] std::size_t signed_length() const noexcept;
    [[nodiscard]] ByteSpan signed_region() const noexcept { return ByteSpan(raw).first(signed_length()); }
};

// Parses one quote from the start of `data`. Bytes after the quote are tolerated and counted in
// `trailing_bytes`. Throws Error(malformed) naming the structure and byte offset, or
// Error(unsupported) for a version, key type or body type tdxkit does not know.
[[nodiscard]] TDXKIT_EXPORT Quote parse_quote(ByteSpan data);

// Serializes the decoded fields back to bytes; parse_quote(serialize_quote(q)).raw == q.raw. Never
// throws. `raw`, the lengths and the certification data size are recomputed, not read; a hand-built
// quote must keep body_type and the body consistent (TD 1.5 fields set exactly for TD 1.5 bodies),
// or the bytes will not parse back.
[[nodiscard]] TDXKIT_EXPORT Bytes serialize_quote(const Quote& quote);

// The 384 bytes of an SGX report body, as the QE's report is signed (inverse of its parsing); for
// whoever builds quotes, such as tdxkit-testing.
[[nodiscard]] TDXKIT_EXPORT Bytes serialize_sgx_report_body(const SgxReportBody& body);
// Exactly kSgxReportBodySize bytes; Error(malformed) for any other length.
[[nodiscard]] TDXKIT_EXPORT SgxReportBody parse_sgx_report_body(ByteSpan data);

// The PEM certificates of a type-5 certification data blob, in order (leaf first), each with a final
// newline; text between them is ignored and nothing is decoded. A single trailing NUL is allowed
// (go-tdx-guest extractChainFromQuote). Error(malformed) for another NUL, a BEGIN line without its
// END line, or no certificate at all.
[[nodiscard]] TDXKIT_EXPORT std::vector<std::string> split_pem_chain(ByteSpan pem);

}  // namespace tdxkit
