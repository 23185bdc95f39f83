#pragma once

// Shared by the pieces of the policy module: the rule tables and the evaluator every section's rules
// report to. Private to the library.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "tdxkit/bytes.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/policy.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/time.hpp"
#include "tdxkit/verify.hpp"

namespace tdxkit::policy_internal {

// ---------------------------------------------------------------------------------------------
// Rule tables. Each drives parsing, evaluation and policy_to_json, so a key can never be accepted
// by the parser yet ignored by the evaluator.

using Actual = std::optional<ByteSpan>;  // nullopt: the quote's body has no such register

struct DigestField {
    std::string_view key;
    std::string_view register_name;  // as Intel's documents spell it, for messages
    std::size_t size;
    std::optional<DigestList> TdPolicy::*member;
    Actual (*actual)(const TdReportBody&);
};

inline constexpr std::array kDigestFields{
    DigestField{"mrtd", "MRTD", 48, &TdPolicy::mrtd, [](const TdReportBody& b) -> Actual { return ByteSpan(b.mr_td); }},
    DigestField{"rtmr0", "RTMR0", 48, &TdPolicy::rtmr0,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.rtmr[0]); }},
    DigestField{"rtmr1", "RTMR1", 48, &TdPolicy::rtmr1,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.rtmr[1]); }},
    DigestField{"rtmr2", "RTMR2", 48, &TdPolicy::rtmr2,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.rtmr[2]); }},
    DigestField{"rtmr3", "RTMR3", 48, &TdPolicy::rtmr3,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.rtmr[3]); }},
    DigestField{"mrconfigid", "MRCONFIGID", 48, &TdPolicy::mrconfigid,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.mr_config_id); }},
    DigestField{"mrowner", "MROWNER", 48, &TdPolicy::mrowner,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.mr_owner); }},
    DigestField{"mrownerconfig", "MROWNERCONFIG", 48, &TdPolicy::mrownerconfig,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.mr_owner_config); }},
    DigestField{"reportdata", "REPORTDATA", 64, &TdPolicy::reportdata,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.report_data); }},
    DigestField{"mrseam", "MRSEAM", 48, &TdPolicy::mrseam,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.mr_seam); }},
    DigestField{"mrsignerseam", "MRSIGNERSEAM", 48, &TdPolicy::mrsignerseam,
                [](const TdReportBody& b) -> Actual { return ByteSpan(b.mr_signer_seam); }},
    DigestField{"mrservicetd", "MRSERVICETD", 48, &TdPolicy::mrservicetd,
                [](const TdReportBody& b) -> Actual {
                    return b.mr_service_td ? Actual(ByteSpan(*b.mr_service_td)) : std::nullopt;
                }},
};

struct MaskedField {
    std::string_view key;
    std::string_view register_name;
    std::optional<MaskedBits> TdPolicy::*member;
    const Octets<8>& (*actual)(const TdReportBody&);
};

inline constexpr std::array kMaskedFields{
    MaskedField{"xfam", "XFAM", &TdPolicy::xfam, [](const TdReportBody& b) -> const Octets<8>& { return b.xfam; }},
    MaskedField{"td_attributes", "TDATTRIBUTES", &TdPolicy::td_attributes,
                [](const TdReportBody& b) -> const Octets<8>& { return b.td_attributes; }},
};

// dstack identity lists, by event.
struct DstackList {
    std::string_view key;
    std::string_view event;  // the RTMR3 event whose payload is compared
    std::size_t size;
    std::optional<DigestList> DstackPolicy::*member;
    // Events after this one can be emitted by the application itself (EmitEvent), so an identity
    // event only counts before it.
    std::string_view before;
};

inline constexpr std::string_view kBootMrDone = "boot-mr-done";
inline constexpr std::string_view kSystemReady = "system-ready";

inline constexpr std::array kDstackLists{
    DstackList{"compose_hashes", "compose-hash", 32, &DstackPolicy::compose_hashes, kBootMrDone},
    DstackList{"app_ids", "app-id", 20, &DstackPolicy::app_ids, kBootMrDone},
    DstackList{"instance_ids", "instance-id", 20, &DstackPolicy::instance_ids, kBootMrDone},
    DstackList{"os_image_hashes", "os-image-hash", 32, &DstackPolicy::os_image_hashes, kSystemReady},
};

// Advisory IDs are compared in upper case: the policy's are stored so, a report's may not be.
inline char ascii_upper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

// ---------------------------------------------------------------------------------------------
// Evaluation: every rule is checked (no early exit) and reports here.

class Evaluator {
public:
    void rule() { ++result_.rules_checked; }
    void violate(std::string path, std::string expected, std::string actual, std::string_view detail) {
        auto message = fmt::format("{}: {}", path, detail);
        result_.violations.push_back({std::move(path), std::move(expected), std::move(actual), std::move(message)});
    }
    PolicyResult finish() && {
        result_.satisfied = result_.violations.empty();
        return std::move(result_);
    }

private:
    PolicyResult result_;
};

// An any-of list as violations show it: "[<hex>, <hex>]".
std::string hex_list(const DigestList& values);

// Each section's rules, in the order evaluate_policy runs them (lib/docs/policy.md "Evaluation order").
void evaluate_tcb(const TcbPolicy& p, const VerificationReport& report, UnixTime now, Evaluator& ev);
void evaluate_td(const TdPolicy& p, const Quote& quote, Evaluator& ev);
void evaluate_qe(const QePolicy& p, const Quote& quote, Evaluator& ev);
void evaluate_dstack(const DstackPolicy& p, const Quote& quote, const EventLog* log, Evaluator& ev);

}  // namespace tdxkit::policy_internal
