#include "atls/steps.hpp"

#include <fmt/format.h>

#include "tdxkit/error.hpp"

namespace tdxkit::atls::detail {

std::optional<Collateral> peer_collateral(const std::function<Collateral(const Quote&)>& source, const Quote& quote,
                                          Steps& steps) {
    try {
        return source(quote);
    } catch (const Error& e) {
        if (e.code() != Errc::malformed && e.code() != Errc::unsupported) throw;
        steps.add("quote_verification", false,
                  fmt::format("the quote's collateral cannot be determined: {}", e.what()));
        return std::nullopt;
    }
}

void add_quote_steps(const VerificationReport& r, Steps& steps) {
    steps.add("quote_verification", r.authentic,
              r.authentic ? fmt::format("DCAP verification passed ({} checks, collateral {})", r.checks.size(),
                                        r.collateral_source)
                          : fmt::format("{}: {}", r.failed_check, r.failure));
    if (r.authentic) {
        steps.add("tcb_status", r.tcb_status != TcbStatus::revoked,
                  fmt::format("TCB status {}", r.tcb_status ? tcb_status_name(*r.tcb_status) : "unknown"));
    }
}

void add_policy_step(const PolicyResult& p, const Policy& policy, Steps& steps) {
    steps.add("policy", p.satisfied,
              p.satisfied ? fmt::format("{}: {} rules satisfied", policy.source, p.rules_checked)
                          : fmt::format("{}: {}", policy.source, p.violations.front().message));
}

}  // namespace tdxkit::atls::detail
