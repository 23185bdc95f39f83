// The td and qe sections' rules, on the quote itself: measurement registers against any-of lists,
// masked attribute bits, the debug attribute, TEE_TCB_SVN and the quoting enclave's ISVSVN.

#include <cstdint>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "policy/policy_internal.hpp"

namespace tdxkit::policy_internal {
namespace {

void check_digest(const DigestField& f, const DigestList& allowed, const Quote& quote, Evaluator& ev) {
    ev.rule();
    const auto* body = quote.td_body();
    const auto path = fmt::format("td.{}", f.key);
    const auto expected = hex_list(allowed);
    const Actual actual = body != nullptr ? f.actual(*body) : std::nullopt;
    if (!actual) {
        ev.violate(path, expected, "absent",
                   fmt::format("expected one of {}, but a {} body has no {}; remove the rule or attest a TD whose "
                               "quote carries it",
                               expected, body_type_name(quote.body_type), f.register_name));
        return;
    }
    // Every entry is compared, so timing does not reveal which one matched.
    bool matched = false;
    for (const auto& value : allowed) matched |= equal_ct(value, *actual);
    if (matched) return;
    ev.violate(path, expected, to_hex(*actual),
               fmt::format("expected one of {}, got {}; if the TD's new {} is legitimate, add it to {}", expected,
                           to_hex(*actual), f.register_name, path));
}

void check_masked(const MaskedField& f, const MaskedBits& rule, const Quote& quote, Evaluator& ev) {
    ev.rule();
    const auto* body = quote.td_body();
    const auto path = fmt::format("td.{}", f.key);
    const auto expected = fmt::format("value {} mask {}", to_hex(rule.value), to_hex(rule.mask));
    if (body == nullptr) {
        ev.violate(path, expected, "absent",
                   fmt::format("a {} body has no {}", body_type_name(quote.body_type), f.register_name));
        return;
    }
    const auto& actual = f.actual(*body);
    std::vector<std::size_t> bits;
    for (std::size_t i = 0; i < actual.size(); ++i) {
        const auto diff = static_cast<unsigned>((actual[i] ^ rule.value[i]) & rule.mask[i]);
        for (std::size_t bit = 0; bit < 8; ++bit) {
            if ((diff >> bit) & 1U) bits.push_back(8 * i + bit);
        }
    }
    if (bits.empty()) return;
    ev.violate(path, expected, to_hex(actual),
               fmt::format("{} {} differs from the required value {} under mask {} in bit {}; launch the TD with the "
                           "required configuration, or change the rule",
                           f.register_name, to_hex(actual), to_hex(rule.value), to_hex(rule.mask),
                           fmt::join(bits, ", ")));
}

void check_debug(const TdPolicy& p, const Quote& quote, Evaluator& ev) {
    if (p.allow_debug) return;
    ev.rule();
    // SGX has the same hazard in ATTRIBUTES.DEBUG (bit 1), so the default protects both.
    constexpr std::uint8_t kSgxAttrDebug = 0x02;
    const auto* td = quote.td_body();
    const auto* sgx = quote.sgx_body();
    const bool debug = td != nullptr ? (td->td_attributes_value() & kTdAttrDebug) != 0
                                     : sgx != nullptr && (sgx->attributes[0] & kSgxAttrDebug) != 0;
    if (!debug) return;
    const auto actual = td != nullptr ? to_hex(td->td_attributes) : to_hex(sgx->attributes);
    ev.violate("td.allow_debug", "false (DEBUG attribute clear)", fmt::format("DEBUG set ({})", actual),
               fmt::format("the {} runs in debug mode (attributes {}): the host can read and change its memory; "
                           "launch it without debug, or set td.allow_debug to true for development only",
                           td != nullptr ? "TD" : "enclave", actual));
}

void check_tee_tcb_svn(const TdPolicy& p, const Quote& quote, Evaluator& ev) {
    if (!p.min_tee_tcb_svn) return;
    ev.rule();
    const auto& min = *p.min_tee_tcb_svn;
    const auto* body = quote.td_body();
    if (body == nullptr) {
        ev.violate("td.min_tee_tcb_svn", to_hex(min), "absent",
                   fmt::format("a {} body has no TEE_TCB_SVN", body_type_name(quote.body_type)));
        return;
    }
    std::vector<std::string> low;
    for (std::size_t i = 0; i < min.size(); ++i) {
        if (body->tee_tcb_svn[i] < min[i]) low.push_back(fmt::format("{}: {} < {}", i, body->tee_tcb_svn[i], min[i]));
    }
    if (low.empty()) return;
    ev.violate("td.min_tee_tcb_svn", to_hex(min), to_hex(body->tee_tcb_svn),
               fmt::format("TEE_TCB_SVN {} is below the minimum {} in component {}; update the TDX module",
                           to_hex(body->tee_tcb_svn), to_hex(min), fmt::join(low, ", ")));
}

}  // namespace

void evaluate_td(const TdPolicy& p, const Quote& quote, Evaluator& ev) {
    for (const auto& f : kDigestFields) {
        if (const auto& allowed = p.*(f.member)) check_digest(f, *allowed, quote, ev);
    }
    for (const auto& f : kMaskedFields) {
        if (const auto& rule = p.*(f.member)) check_masked(f, *rule, quote, ev);
    }
    check_debug(p, quote, ev);
    check_tee_tcb_svn(p, quote, ev);
}

void evaluate_qe(const QePolicy& p, const Quote& quote, Evaluator& ev) {
    if (!p.min_isvsvn) return;
    ev.rule();
    const auto svn = quote.signature_data.qe_report.isv_svn;
    if (svn >= *p.min_isvsvn) return;
    ev.violate("qe.min_isvsvn", fmt::format(">= {}", *p.min_isvsvn), std::to_string(svn),
               fmt::format("the quoting enclave's ISVSVN {} is below the minimum {}; update the platform's DCAP "
                           "quoting enclave (QGS) package",
                           svn, *p.min_isvsvn));
}

}  // namespace tdxkit::policy_internal
