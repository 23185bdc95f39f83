#pragma once

// The steps of an attested-TLS Outcome, and the ones aTLS and RA-TLS share. Private to the library.

#include <functional>
#include <optional>
#include <string>
#include <utility>

#include "tdxkit/atls.hpp"

namespace tdxkit::atls::detail {

// Records the steps of an Outcome; the first failure becomes its reason.
class Steps {
public:
    explicit Steps(Outcome& o) : o_(o) {}
    // Returns `passed`.
    bool add(std::string id, bool passed, std::string detail) {
        if (!passed && o_.failed_step.empty()) {
            o_.failed_step = id;
            o_.reason = detail;
        }
        o_.steps.push_back({std::move(id), passed, std::move(detail)});
        return passed;
    }

private:
    Outcome& o_;
};

// source(quote). Finding the collateral reads the peer's PCK chain (FMSPC, CA), so Error(malformed
// or unsupported) from it is the peer's evidence failing: a failed "quote_verification" step, and
// nullopt. Unavailable collateral and internal failures are not verdicts: they propagate.
std::optional<Collateral> peer_collateral(const std::function<Collateral(const Quote&)>& source, const Quote& quote,
                                          Steps& steps);

// appraise's verdict on the quote as steps: "quote_verification", then for an authentic quote
// "tcb_status" (Revoked fails).
void add_quote_steps(const VerificationReport& report, Steps& steps);

// "policy": satisfied, or the first violation's message.
void add_policy_step(const PolicyResult& result, const Policy& policy, Steps& steps);

}  // namespace tdxkit::atls::detail
