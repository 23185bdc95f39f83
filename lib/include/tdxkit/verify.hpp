#pragma once

// DCAP quote verification: a pure function of (quote, collateral, trust root, time). No I/O.
// Follows Intel's current QVL where the public verifiers differ (see lib/docs/verification.md).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tdxkit/bytes.hpp"
#include "tdxkit/collateral.hpp"
#include "tdxkit/export.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/time.hpp"

namespace tdxkit {

// The trust anchor: Intel's SGX Root CA unless the caller explicitly substitutes a test root.
struct TrustRoot {
    Bytes certificate_der;
    bool is_intel_production = false;
};
// Throws only Error(internal), if the pinned certificate did not carry Intel's root key.
[[nodiscard]] TDXKIT_EXPORT TrustRoot intel_sgx_root_ca();
// A substitute root for tests and development (PEM or DER). Never the default. Error(malformed) unless
// it is a certificate with a P-256 key; is_intel_production is set exactly when that key is Intel's.
[[nodiscard]] TDXKIT_EXPORT TrustRoot custom_trust_root(ByteSpan pem_or_der);

enum class TcbStatus {
    up_to_date,
    sw_hardening_needed,
    configuration_needed,
    configuration_and_sw_hardening_needed,
    out_of_date,
    out_of_date_configuration_needed,
    td_relaunch_advised,
    td_relaunch_advised_configuration_needed,
    revoked,
};
// Intel's spelling: "UpToDate", "OutOfDate", ...; "Unknown" for a value outside the enum.
[[nodiscard]] TDXKIT_EXPORT const char* tcb_status_name(TcbStatus s) noexcept;
// The inverse, exact spelling only; nullopt otherwise.
[[nodiscard]] TDXKIT_EXPORT std::optional<TcbStatus> parse_tcb_status(std::string_view name) noexcept;
// True for exactly OutOfDate and OutOfDateConfigurationNeeded: a TCB that has fallen behind a
// newer level. False for every other status, including TDRelaunchAdvised* (the platform has been
// updated; only the TD is behind) and Revoked (worse than out of date, and never outdated in time).
[[nodiscard]] TDXKIT_EXPORT bool tcb_status_is_out_of_date(TcbStatus s) noexcept;

// Memoizes verification steps whose result depends only on their exact inputs: certificate
// chains and CRLs (with the time), signed TCB Info / QE Identity, the QE report signature. A batch
// of quotes from the same platforms then verifies its collateral once. The quote signature itself
// is checked for every quote. Safe to share between threads; bounded in size.
namespace detail {
struct VerificationCacheAccess;  // verify_quote's way in; defined inside the library
}

class TDXKIT_EXPORT VerificationCache {
public:
    VerificationCache();
    ~VerificationCache();
    VerificationCache(const VerificationCache&) = delete;
    VerificationCache& operator=(const VerificationCache&) = delete;

    struct Impl;  // opaque

private:
    friend struct detail::VerificationCacheAccess;
    std::unique_ptr<Impl> impl_;
};

// Defaults: the current time and Intel's pinned root, so VerifyOptions{} is production verification.
struct VerifyOptions {
    std::optional<UnixTime> now;                 // the verification time; unset: read the clock once
    TrustRoot trust_root = intel_sgx_root_ca();  // replacing it is for tests and development only
    VerificationCache* cache = nullptr;          // optional, shared by the verifications of a batch
};

// One verification step, in the order performed. `id` is stable (documented in
// lib/docs/verification.md) so scripts and tests can match on it.
struct Check {
    std::string id;
    bool passed = false;
    std::string detail;  // what was compared; on failure expected vs actual and what to do
};

struct TcbLevelResult {
    std::string status;    // as written in the collateral
    std::string tcb_date;  // RFC 3339 as written
    std::vector<std::string> advisory_ids;
    std::optional<std::uint32_t> isvsvn;  // QE and TDX module levels
    std::string module_id;                // TDX module levels ("TDX_01")
};

// What a component lacks to reach the next better TCB level: the operator's to-do list.
struct Shortfall {
    std::string component;  // "SGX TCB component 8", "PCESVN", "TDX TCB component 3", "QE ISVSVN", ...
    std::uint32_t actual = 0;
    std::uint32_t required = 0;
    std::string next_level_status;
    std::string next_level_tcb_date;
};

// What TCB evaluation decides: the statuses of each component and the matched levels. Part of
// every VerificationReport; empty where verification stopped before the evaluation.
struct TcbEvaluationResult {
    std::optional<TcbStatus> tcb_status;  // converged
    std::optional<TcbStatus> platform_status;
    std::optional<TcbStatus> tdx_module_status;
    std::optional<TcbStatus> qe_status;
    std::optional<TcbStatus> td_launch_status;   // TD 1.5: with TEE_TCB_SVN
    std::optional<TcbStatus> td_current_status;  // TD 1.5: with TEE_TCB_SVN2
    std::vector<std::string> advisory_ids;
    std::string tcb_date;  // earliest of the matched levels' tcbDate
    std::optional<TcbLevelResult> platform_level;
    std::optional<TcbLevelResult> tdx_module_level;
    std::optional<TcbLevelResult> qe_level;
    std::vector<Shortfall> shortfall;
    // For an out-of-date platform or module: the tcbDate of the nearest newer TCB level, i.e. when
    // this TCB fell behind. Policies use it for an OutOfDate grace period.
    std::optional<UnixTime> outdated_since;
};

struct VerificationReport : TcbEvaluationResult {
    // True when every cryptographic, chain, revocation, freshness and identity check passed and a
    // TCB status was determined. Whether that status is acceptable is the policy's decision.
    bool authentic = false;
    std::string failure;       // the first failed check's detail, empty when authentic
    std::string failed_check;  // its id
    std::vector<Check> checks;

    // Collateral facts for policy (freshness, evaluation number) and for reports.
    std::optional<std::uint32_t> tcb_evaluation_data_number;
    std::optional<std::uint32_t> qe_tcb_evaluation_data_number;
    std::optional<UnixTime> tcb_info_issue_date;
    std::optional<UnixTime> qe_identity_issue_date;
    std::optional<UnixTime> collateral_earliest_issue;   // latest start of every item's validity
    std::optional<UnixTime> collateral_earliest_expiry;  // earliest end of every item's validity
    std::string fmspc;                                   // hex
    std::string pce_id;                                  // hex
    std::string pck_ca_type;
    std::string collateral_source;
    bool trust_root_is_intel = false;
    UnixTime verified_at = 0;
};

// Full Intel DCAP verification of `quote` with `collateral` (lib/docs/verification.md): the checks
// run in order and stop at the first failure. Every problem with the evidence (a bad signature, a
// broken chain, revoked or expired collateral, a malformed TCB Info) is reported, not thrown:
// `authentic` is false and `failed_check`/`failure` say which check and why. A TCB status other than
// UpToDate is a result for the policy to judge, not a failure. Throws Error(crypto) or
// Error(internal) only when OpenSSL or tdxkit itself fails. No files or network; the clock only
// when options.now is unset. options.trust_root must come from intel_sgx_root_ca or custom_trust_root,
// and `quote` from parse_quote unchanged: the signature is checked over `raw`, the rest reads fields.
[[nodiscard]] TDXKIT_EXPORT VerificationReport verify_quote(const Quote& quote, const Collateral& collateral,
                                                            const VerifyOptions& options = {});

struct CollateralCheckResult {
    bool valid = false;         // every check passed
    std::vector<Check> checks;  // ids: root_ca_crl, pck_crl_chain, pck_crl, tcb_info_chain,
                                // tcb_info_signature, tcb_info_validity, qe_identity_chain,
                                // qe_identity_signature, qe_identity_validity

    // Why the collateral is not valid, as "id: detail" of the first failed check; nullopt when valid.
    [[nodiscard]] TDXKIT_EXPORT std::optional<std::string> failure() const;
};
// The collateral-only part of verify_quote: every signature, chain, CRL and validity window against
// the trust root at `now`. Runs every check (unlike verify_quote, it does not stop at the first).
// Every problem, an OpenSSL failure included, is a failed check; throws only Error(malformed) when
// `root` holds no certificate.
[[nodiscard]] TDXKIT_EXPORT CollateralCheckResult check_collateral(const Collateral& collateral, const TrustRoot& root,
                                                                   UnixTime now);

}  // namespace tdxkit
