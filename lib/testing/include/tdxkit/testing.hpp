#pragma once

// TEST AND DEVELOPMENT ONLY: a deterministic, Intel-shaped test PKI and simulated DCAP quotes.
// This is the tdxkit-testing library, which the CLI and the tests link; it is not installed, and the
// installed libtdxkit contains none of it.
//
// Everything here is forged on purpose. The keys are derived from a public seed string, so anyone
// can sign anything with them; the certificates say "O=tdxkit TEST (not Intel)". Nothing made here is
// trusted by default: a simulated quote verifies only when the caller passes the scenario's root
// explicitly, as in
//     verify_quote(parse_quote(out.quote), out.collateral, {out.now, custom_trust_root(out.root_der)}).
//
// A Scenario is one options struct whose defaults describe a valid, UpToDate TDX platform (quote
// v4, platform CA, every certificate, CRL and signed JSON valid from kReferenceTime - 15 days to
// kReferenceTime + 15 days). Tests tweak any field, including which key signs what, and build().
// Every byte of the output is a function of the options: ECDSA nonces follow RFC 6979.

#include "tdxkit/bytes.hpp"
#include "tdxkit/collateral.hpp"
#include "tdxkit/pck.hpp"
#include "tdxkit/provider.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/time.hpp"

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tdxkit::testing {

// 2026-01-15T00:00:00Z: the time at which the default scenario (and testdata/) verifies.
inline constexpr UnixTime kReferenceTime = 1768435200;
inline constexpr UnixTime kDay = 86400;

// ---- Deterministic keys and signatures (ECDSA P-256 with SHA-256) ----

using PrivateScalar = Octets<32>;  // big-endian, 0 < d < n

// SHA-256(seed || 0x00 || label) reduced modulo the P-256 group order.
[[nodiscard]] PrivateScalar derive_private_scalar(std::string_view seed, std::string_view label);
// Public key X||Y.
[[nodiscard]] Octets<64> public_key(const PrivateScalar& d);
// Deterministic ECDSA (RFC 6979 nonce, HMAC-SHA-256) over SHA-256(message); raw r||s.
[[nodiscard]] Octets<64> sign_p256(const PrivateScalar& d, ByteSpan message);
// PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----") for use with the openssl command line.
[[nodiscard]] std::string private_key_pem(const PrivateScalar& d);

// DER value of the Intel SGX PCK extension (OID 1.2.840.113741.1.13.1), the inverse of
// parse_pck_extension. Optional fields are written only when present.
[[nodiscard]] Bytes encode_pck_extension(const PckExtension& ext);

// ---- Scenario options ----
// Member initializers below are neutral; Scenario() fills in the valid platform described there.

struct Validity {
    UnixTime not_before = kReferenceTime - 15 * kDay;  // certificates: notBefore; CRLs: thisUpdate;
    UnixTime not_after = kReferenceTime + 15 * kDay;   // JSON: issueDate .. nextUpdate
};

// Keys are named by label and derived from Scenario::seed; naming another label in `signing_key`
// forges a signature by the wrong key while keeping every name and identifier as expected.
struct CertificateOptions {
    std::string common_name;
    std::string key;          // label of the certified key
    std::string signing_key;  // label of the signing key; empty = the issuer's key (own key for the root)
    Bytes serial;             // big-endian, positive
    Validity validity;
};

struct PckLeafOptions {
    CertificateOptions cert;
    PckCaType ca = PckCaType::platform;  // which intermediate issues the leaf (and sits in the quote's chain)
    PckExtension extension;
};

struct CrlOptions {
    Validity validity;  // thisUpdate .. nextUpdate
    std::vector<Bytes> revoked_serials;
    std::string signing_key;   // empty = the issuer's key
    std::uint32_t number = 1;  // CRL Number extension
};

struct TcbComponent {
    std::uint8_t svn = 0;
    std::string category;  // omitted from the JSON when empty
    std::string type;      // omitted from the JSON when empty
};

// One level of the TCB Info "tcbLevels" list.
struct TcbLevel {
    std::array<TcbComponent, 16> sgx_components{};
    std::uint16_t pcesvn = 0;
    std::optional<std::array<TcbComponent, 16>> tdx_components;  // TDX TCB Info only
    UnixTime tcb_date = 0;
    std::string tcb_status;                 // Intel spelling, written verbatim
    std::vector<std::string> advisory_ids;  // "advisoryIDs" omitted when empty
};

// A level keyed by one ISVSVN: QE Identity levels and TDX module identity levels.
struct IsvsvnLevel {
    std::uint16_t isvsvn = 0;
    UnixTime tcb_date = 0;
    std::string tcb_status;
    std::vector<std::string> advisory_ids;
};

struct TdxModuleIdentity {
    std::string id;  // "TDX_01"; unused for the base "tdxModule" entry
    Measurement mrsigner{};
    Octets<8> attributes{};
    Octets<8> attributes_mask{};
    std::vector<IsvsvnLevel> tcb_levels;  // unused for the base "tdxModule" entry
};

struct TcbInfoOptions {
    std::string id = "TDX";
    std::uint32_t version = 3;
    Validity validity;                // issueDate .. nextUpdate
    std::optional<Octets<6>> fmspc;   // default: the PCK leaf's
    std::optional<Octets<2>> pce_id;  // default: the PCK leaf's
    std::uint32_t tcb_type = 0;
    std::uint32_t tcb_evaluation_data_number = 17;
    std::optional<TdxModuleIdentity> tdx_module;                          // "tdxModule"; omitted when nullopt
    std::optional<std::vector<TdxModuleIdentity>> tdx_module_identities;  // omitted when nullopt
    std::vector<TcbLevel> tcb_levels;
    std::string signing_key;  // empty = the TCB Signing certificate's key
    // Applied to the serialized body before signing (e.g. add a field, break a value, reorder).
    std::function<void(std::string&)> edit_body;
};

struct QeIdentityOptions {
    std::string id = "TD_QE";
    std::uint32_t version = 2;
    Validity validity;
    std::uint32_t tcb_evaluation_data_number = 17;
    Octets<4> miscselect{};  // written as hex bytes, as Intel does
    Octets<4> miscselect_mask{};
    Octets<16> attributes{};
    Octets<16> attributes_mask{};
    Octets<32> mrsigner{};
    std::uint16_t isvprodid = 0;
    std::vector<IsvsvnLevel> tcb_levels;
    std::string signing_key;
    std::function<void(std::string&)> edit_body;
};

struct QuoteOptions {
    QuoteHeader header;                   // version and tee_type decide the layout: 4/5 TDX, 3 SGX
    BodyType body_type = BodyType::td10;  // v5 only (v4 is always td10, v3 always sgx_enclave)
    TdReportBody td_body;                 // TD 1.5: tee_tcb_svn2/mr_service_td default to tee_tcb_svn/zeros
    SgxReportBody sgx_body;               // SGX quotes
    SgxReportBody qe_report;              // report_data is computed unless qe_report_data is set
    std::optional<Octets<64>> qe_report_data;
    Bytes qe_auth_data;
    std::string attestation_key = "attestation";
    std::string signing_key;            // signs the quote; empty = attestation_key
    std::string qe_report_signing_key;  // empty = the PCK leaf's key
    std::uint16_t certification_type = static_cast<std::uint16_t>(CertDataType::pck_cert_chain);
    std::optional<Bytes> certification_data;  // default: PEM leaf, intermediate, root
};

struct ScenarioOutput;

struct Scenario {
    std::string seed = "tdxkit TEST PKI v1";
    UnixTime now = kReferenceTime;  // copied to the output; does not move any validity window

    CertificateOptions root;
    CertificateOptions platform_ca;
    CertificateOptions processor_ca;
    CertificateOptions tcb_signing;
    PckLeafOptions pck;
    CrlOptions root_crl;
    CrlOptions pck_crl;
    std::optional<PckCaType> pck_crl_issuer;  // default: the CA that issued the leaf
    TcbInfoOptions tcb_info;
    QeIdentityOptions qe_identity;
    QuoteOptions quote;
    bool pck_chain_in_collateral = false;  // also fill Collateral::pck_certificate_chain

    // A valid UpToDate TDX quote v4 (TD 1.0 body) with PCK Platform CA:
    //  - keys "root", "pck-platform-ca", "pck-processor-ca", "tcb-signing", "pck-leaf", "attestation";
    //    serials 7E570001..7E570004 (root, platform CA, processor CA, TCB Signing), leaf 7E570100;
    //    root CRL revokes 7E570E01, PCK CRLs revoke 7E570F01 and 7E570F02;
    //  - PCK: FMSPC 90C06F000000, PCE-ID 0000, SGX comps 2,2,2,2,3,1,0,5,0.., PCESVN 11, CPUSVN = comps,
    //    SGX type 1, PlatformInstanceID and Configuration (false, true, true);
    //  - TCB Info TDX v3, evaluation number 17: levels [UpToDate: PCESVN 11, TDX comps 5,0,2,0..;
    //    OutOfDate: PCESVN 5]; tdxModule mrsigner 0, attributes 0, mask FF..; identities TDX_03
    //    [isvsvn 3 UpToDate, 1 OutOfDate] and TDX_01 [4 UpToDate, 2 OutOfDate];
    //  - QE Identity TD_QE v2: Intel's TD_QE MRSIGNER, ISVPRODID 2, attributes 11.. mask FBFF..FF00..,
    //    miscselect 0 mask FFFFFFFF, levels [isvsvn 4 UpToDate, 2 OutOfDate];
    //  - quote: Intel QE vendor ID, TEE_TCB_SVN 05 01 02 00.. (module TDX_01), MRSIGNERSEAM 0,
    //    SEAMATTRIBUTES 0, TDATTRIBUTES SEPT_VE_DISABLE only, QE ISVSVN 4, QE auth data 00..1F.
    Scenario();
    // The same platform quoting a TD 1.5 body in a v5 quote.
    [[nodiscard]] static Scenario tdx_v5();
    // An SGX enclave quote v3 with SGX TCB Info and "QE" identity (same PKI).
    [[nodiscard]] static Scenario sgx_v3();

    // Issue the leaf from the PCK Processor CA, without the platform-only extension fields.
    void use_processor_ca();
    [[nodiscard]] PrivateScalar key(std::string_view label) const { return derive_private_scalar(seed, label); }

    [[nodiscard]] ScenarioOutput build() const;
};

struct ScenarioOutput {
    Bytes quote;
    Collateral collateral;
    Bytes root_der;
    UnixTime now = 0;
    // PEM (one certificate each) for assembling other chains.
    std::string root_pem;
    std::string platform_ca_pem;
    std::string processor_ca_pem;
    std::string tcb_signing_pem;
    std::string pck_leaf_pem;
    std::string pck_chain_pem;  // leaf, issuing CA, root (what the quote carries by default)
    Bytes platform_crl;         // both PCK CRLs; collateral.pck_crl is the one of pck_crl_issuer
    Bytes processor_crl;
};

// Intel PCS response form: {"tcbInfo":<body>,"signature":"<128 hex>"}.
[[nodiscard]] std::string signed_json_document(std::string_view member, std::string_view body, ByteSpan signature);

struct NamedFile {
    std::string name;
    Bytes content;
};
// The collateral directory layout that load_collateral reads: tcb_info.json and qe_identity.json
// (PCS response form), the three *_issuer_chain.pem, pck_crl.der, root_ca_crl.der, and
// pck_certificate_chain.pem when present.
[[nodiscard]] std::vector<NamedFile> collateral_files(const Collateral& collateral);
// Writes collateral_files into `dir`, creating it.
void write_collateral(const Collateral& collateral, const std::filesystem::path& dir);
// write_collateral plus quote.bin and root.pem.
void write_scenario(const ScenarioOutput& output, const std::filesystem::path& dir);

// ---- The simulated quote provider ----

// A quote over request.report_data from the default scenario's PKI, with a dstack-style event log
// whose replay is the quote's RTMRs (its last runtime event measures request.bind_certificate_der when
// given). request.pki_dir must hold that PKI as tdxkit-testgen writes it (testdata/pki): the keys
// and chain are compared, so a quote is never signed by a PKI other than the one the caller will
// trust. Errors: invalid_argument (no pki_dir), io (unreadable PKI file), malformed (the PKI differs).
[[nodiscard]] GeneratedQuote generate_simulated_quote(const QuoteRequest& request);

}  // namespace tdxkit::testing
