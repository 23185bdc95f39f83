#pragma once

// Streaming batch verification for fleets: JSON lines in ({"id":..., "quote":..., "event_log":...},
// see parse_batch_request), one result line out per input line, in input order, each written as soon
// as it and every line before it are done. Memory is bounded by the window of lines in flight, not
// by the number of lines, so a million quotes need no more than ten.

#include <cstddef>
#include <functional>
#include <istream>
#include <string_view>

#include "tdxkit/appraise.hpp"
#include "tdxkit/export.hpp"
#include "tdxkit/pcs.hpp"
#include "tdxkit/policy.hpp"

namespace tdxkit {

enum class BatchOutput {
    full,     // tdxkit.verify/v1 on one line, with the line's "id"
    summary,  // tdxkit.verify-summary/v1
};

struct BatchOptions {
    UnixTime now = 0;  // the verification time of every line; 0 is 1970, not "now": set it (now_utc())
    TrustRoot trust_root = intel_sgx_root_ca();  // replacing it is for tests and development only
    Policy policy = default_policy();
    // Where collateral comes from. It is resolved once per platform (TEE, FMSPC, PCK CA; once in all
    // with `path`) and shared by every worker, and so is a failure to get it.
    CollateralSources collateral;
    unsigned jobs = 0;                       // worker threads; 0: one per core
    std::size_t window = 0;                  // lines in flight at most; 0: 64 per worker
    std::size_t max_line = 4 * 1024 * 1024;  // longer lines get an error result, unread
    BatchOutput output = BatchOutput::full;
};

struct BatchSummary {
    std::size_t lines = 0;  // non-blank input lines
    std::size_t accepted = 0;
    std::size_t rejected = 0;
    std::size_t errors = 0;  // lines that could not be checked (malformed, collateral unavailable, ...)
};

// Reads `in` to its end on the calling thread; blank lines are skipped, a trailing CR is dropped. A
// line is verified as soon as it arrives, and its result is handed to `write` (no newline) as soon
// as it and every line before it are done, so a client may send one line and wait for its answer.
// `write` and `caught_up` are called from one thread (not the calling one), in input order;
// `caught_up` (if set) when every result that is ready has been written, so a caller that buffers
// output knows when to flush. Problems with a line are that line's result ("result": "error"), and so
// is a collateral failure for its platform (remembered: later lines of that platform fail the same
// way). Returns the counts. Throws nothing of its own: an exception from `write` or `caught_up` ends
// the batch (once the pending read returns) and is rethrown here, as is one from reading `in`.
TDXKIT_EXPORT BatchSummary verify_batch(std::istream& in, const std::function<void(std::string_view line)>& write,
                                        const BatchOptions& options, const std::function<void()>& caught_up = {});

}  // namespace tdxkit
