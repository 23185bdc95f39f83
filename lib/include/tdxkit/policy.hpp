#pragma once

// Acceptance policy: the operator's statement of which authentic quotes are acceptable. Verification
// (verify.hpp) establishes what a quote is; the policy decides whether that is good enough. The file
// format is documented in lib/docs/policy.md and lib/docs/policy.schema.json.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tdxkit/bytes.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/export.hpp"
#include "tdxkit/measure_boot.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/time.hpp"
#include "tdxkit/verify.hpp"

namespace tdxkit {

inline constexpr int kPolicyVersion = 1;

// Any-of list: the quote's value must equal one entry. Each entry has the register's exact size.
using DigestList = std::vector<Bytes>;

// Matches when (actual & mask) == (value & mask), byte by byte over the register as it appears in
// the quote (little-endian), i.e. the hex `tdxkit quote decode` prints.
struct MaskedBits {
    Octets<8> value{};
    Octets<8> mask{};
    friend bool operator==(const MaskedBits&, const MaskedBits&) = default;
};

// Unset optionals and empty deny-lists are not checked; accepted_statuses always is (empty: none).
struct TcbPolicy {
    // Never contains TcbStatus::revoked: parse_policy refuses it.
    std::vector<TcbStatus> accepted_statuses{TcbStatus::up_to_date};
    // Allow-list: when set, every advisory of the result must be listed. Upper case.
    std::optional<std::vector<std::string>> accepted_advisory_ids;
    // Deny-list. Upper case.
    std::vector<std::string> rejected_advisory_ids;
    // Deny-list over the statuses of the platform, TDX module and QE levels before convergence. Intel's
    // convergence ignores a module or QE level that needs configuration or SW hardening; listing
    // those statuses here rejects them anyway. Empty: not checked.
    std::vector<TcbStatus> rejected_component_statuses;
    std::optional<UnixTime> min_tcb_date;
    std::optional<std::uint32_t> min_tcb_evaluation_data_number;
    std::optional<std::int64_t> max_collateral_age;        // seconds
    std::optional<std::int64_t> out_of_date_grace_period;  // seconds
    friend bool operator==(const TcbPolicy&, const TcbPolicy&) = default;
};

// Unset optionals are not checked.
struct TdPolicy {
    std::optional<DigestList> mrtd;
    std::optional<DigestList> rtmr0;
    std::optional<DigestList> rtmr1;
    std::optional<DigestList> rtmr2;
    std::optional<DigestList> rtmr3;
    std::optional<DigestList> mrconfigid;
    std::optional<DigestList> mrowner;
    std::optional<DigestList> mrownerconfig;
    std::optional<DigestList> reportdata;
    std::optional<DigestList> mrseam;
    std::optional<DigestList> mrsignerseam;
    std::optional<DigestList> mrservicetd;  // TD 1.5 bodies only: absent in a TD 1.0 quote is a violation
    std::optional<MaskedBits> xfam;
    std::optional<MaskedBits> td_attributes;
    bool allow_debug = false;                   // always checked: a debug TD's memory is readable by the host
    std::optional<Octets<16>> min_tee_tcb_svn;  // component-wise minimum of TEE_TCB_SVN
    friend bool operator==(const TdPolicy&, const TdPolicy&) = default;
};

struct QePolicy {
    std::optional<std::uint16_t> min_isvsvn;  // unset: not checked
    friend bool operator==(const QePolicy&, const QePolicy&) = default;
};

// The key-provider RTMR3 event's JSON payload {"name":..,"id":..}. Unset members are not checked.
struct KeyProviderRule {
    std::optional<std::string> name;  // "kms", "local-sgx", "none", "tpm"
    std::optional<Bytes> id;          // the payload's hex "id" (KMS root key DER, local-SGX MR)
    friend bool operator==(const KeyProviderRule&, const KeyProviderRule&) = default;
};

// dstack application identity, checked on the RTMR3 events of an event log whose replay equals the
// quote's RTMRs (lib/docs/policy.md, "dstack"). Unset optionals are not checked.
struct DstackPolicy {
    std::optional<DigestList> compose_hashes;   // 32 bytes each
    std::optional<DigestList> app_ids;          // 20 bytes
    std::optional<DigestList> instance_ids;     // 20 bytes
    std::optional<DigestList> os_image_hashes;  // 32 bytes
    std::optional<KeyProviderRule> key_provider;
    bool require_event_log = true;  // false: a missing log is no violation by itself (rules needing one still are)
    friend bool operator==(const DstackPolicy&, const DstackPolicy&) = default;
};

struct Policy {
    TcbPolicy tcb;
    TdPolicy td;
    QePolicy qe;
    std::optional<DstackPolicy> dstack;
    std::string source;  // file name, or "<default>"; names the policy in messages and reports
    friend bool operator==(const Policy&, const Policy&) = default;
};

// Parses a version-1 policy. Unknown or duplicate keys, wrong types, hex of the wrong length, an
// empty any-of list and an accepted "Revoked" status are all refused, because each would silently
// weaken or break the policy. Throws Error(invalid_argument) whose message starts with
// "<source_name>: <JSON path>: ". `source_name` becomes Policy::source.
[[nodiscard]] TDXKIT_EXPORT Policy parse_policy(std::string_view json_text, std::string_view source_name);

// What verify applies without --policy: TCB status UpToDate, no debug TD; source "<default>".
[[nodiscard]] TDXKIT_EXPORT Policy default_policy();

struct PolicyViolation {
    std::string path;      // the rule: "td.rtmr0", "tcb.accepted_statuses"
    std::string expected;  // what the policy asks for, as written in a policy file
    std::string actual;    // what the quote or report has
    std::string message;   // one line, starting with `path`, including what the operator can do
};

struct PolicyResult {
    bool satisfied = false;
    std::vector<PolicyViolation> violations;  // in rule order (lib/docs/policy.md "Evaluation order")
    std::size_t rules_checked = 0;
};

// Evaluates every rule (no early exit). The tcb rules need a TCB status: when the report is not
// authentic or has none, they produce a single "tcb" violation instead. Pure: `now` is the time.
// Never throws for the evidence: every problem is a violation.
[[nodiscard]] TDXKIT_EXPORT PolicyResult evaluate_policy(const Policy& policy, const Quote& quote,
                                                         const VerificationReport& report, UnixTime now);
// The same, with the event log that came with the quote (nullptr: none) for the dstack rules. The
// log is trusted only as far as its replay equals the quote's RTMRs, which is itself a rule. Throws
// only Error(internal), for a hand-built log with an event beyond RTMR3 (bind_event_log).
[[nodiscard]] TDXKIT_EXPORT PolicyResult evaluate_policy(const Policy& policy, const Quote& quote,
                                                         const VerificationReport& report, UnixTime now,
                                                         const EventLog* event_log);

// True when the policy pins something that identifies the workload: a TD measurement register
// (MRTD, RTMR0-3, MRCONFIGID, MROWNER, MROWNERCONFIG) or a dstack identity rule (compose hash, app
// id, instance id, OS image hash, key provider). Without one it accepts any genuine TD.
[[nodiscard]] TDXKIT_EXPORT bool pins_workload(const Policy& policy) noexcept;

// What an operator should know about an accepted or rejected input that is not itself a reason to
// reject: bytes after the quote, a policy that pins no workload. One line each; never throws.
[[nodiscard]] TDXKIT_EXPORT std::vector<std::string> verification_warnings(const Quote& quote, const Policy& policy);

// The effective policy (defaults filled in) as a version-1 policy document that parse_policy accepts
// back; `source` is not part of it. Durations in seconds, hex in lower case, dates in RFC 3339. A
// hand-built policy is written as it is: what parse_policy refuses (an empty list, an accepted Revoked)
// is refused when read back, and its strings must be valid UTF-8.
[[nodiscard]] TDXKIT_EXPORT std::string policy_to_json(const Policy& policy);

// Pins a boot prediction (tdxkit measure): td.mrtd, td.rtmr0 when predicted, td.rtmr1, td.rtmr2, and
// dstack.os_image_hashes when `os_image_hash` is known. A rule the policy already has keeps its values
// and gains this one, so that a policy can accept the old and the new image during a rollout; each
// such rule is named in the returned lines, for the operator to remove the old values afterwards.
// Never throws but for std::bad_alloc.
[[nodiscard]] TDXKIT_EXPORT std::vector<std::string>
pin_boot_measurement(Policy& policy, const BootMeasurement& measurement,
                     const std::optional<Octets<32>>& os_image_hash);

}  // namespace tdxkit
