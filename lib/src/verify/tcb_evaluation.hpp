#pragma once

// TCB evaluation (Intel QVL EvaluateTcb.cpp, TdxModuleCheck.cpp, TDRelaunchCheck.cpp) as a pure
// function of parsed collateral and the platform's SVNs: no I/O, no clock, no crypto. The caller
// has already verified every signature and identity these values come from.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "pcs/tcb_info.hpp"
#include "tdxkit/pck.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/verify.hpp"

namespace tdxkit::verify {

struct TcbEvaluationInput {
    const pcs::TcbInfo& tcb_info;
    const pcs::QeIdentity& qe_identity;
    const PckExtension& pck;  // the PCK leaf's SGX TCB components and PCESVN
    std::uint16_t qe_isvsvn = 0;
    const TdReportBody* td = nullptr;  // TEE_TCB_SVN(2), MRSIGNERSEAM, SEAMATTRIBUTES; null for SGX
};

// The VerificationReport fields TCB evaluation decides, and the checks it ran.
struct TcbEvaluation : TcbEvaluationResult {
    // In order: qe_tcb_level, [tdx_module_identity], [tdx_mrsignerseam, tdx_seam_attributes],
    // platform_tcb_level, [tdx_module_tcb_level], tcb_status. Evaluation stops at the first failed
    // check, which is then the last one.
    std::vector<Check> checks;

    [[nodiscard]] bool passed() const noexcept { return !checks.empty() && checks.back().passed; }
};

// Matches QE, platform and TDX module levels, converges their statuses and, for a TD 1.5 body,
// advises a relaunch. A platform no level accepts is a failed check, not an exception. Throws
// Error(malformed) for a tcbStatus Intel does not define, as a parse error in the collateral.
[[nodiscard]] TcbEvaluation evaluate_tcb(const TcbEvaluationInput& input);

// Intel QVL convergeTcbStatuses: the platform status, made OutOfDate(ConfigurationNeeded) by an
// OutOfDate module or QE and Revoked by a Revoked one; any other component status changes nothing.
[[nodiscard]] TcbStatus converge_tcb_statuses(TcbStatus platform, std::optional<TcbStatus> module,
                                              std::optional<TcbStatus> qe) noexcept;

// Intel QVL checkForRelaunch: a TD launched on an out-of-date TCB whose platform now runs an
// acceptable one (TEE_TCB_SVN2) only needs a relaunch. Returns `launch` otherwise.
[[nodiscard]] TcbStatus check_for_relaunch(TcbStatus launch, TcbStatus current) noexcept;

}  // namespace tdxkit::verify
