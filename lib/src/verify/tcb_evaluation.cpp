#include "verify/tcb_evaluation.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "tdxkit/error.hpp"

namespace tdxkit::verify {
namespace {

// Collateral levels carry Intel's level statuses only; the relaunch statuses are derived, never listed.
TcbStatus status_of(const std::string& name, std::string_view where) {
    const auto s = parse_tcb_status(name);
    if (!s || *s == TcbStatus::td_relaunch_advised || *s == TcbStatus::td_relaunch_advised_configuration_needed) {
        throw Error(Errc::malformed, fmt::format("{}: unknown tcbStatus \"{}\"", where, name));
    }
    return *s;
}

TcbLevelResult level_result(const pcs::TcbLevel& l) { return {l.status, l.tcb_date, l.advisory_ids, std::nullopt, {}}; }
TcbLevelResult level_result(const pcs::IsvsvnLevel& l, std::string module_id = {}) {
    return {l.status, l.tcb_date, l.advisory_ids, l.isvsvn, std::move(module_id)};
}

// Index of the first (best) level whose ISVSVN the given one reaches, or levels.size().
std::size_t match_isvsvn_level(const std::vector<pcs::IsvsvnLevel>& levels, std::uint32_t isvsvn) {
    for (std::size_t i = 0; i < levels.size(); ++i) {
        if (isvsvn >= levels[i].isvsvn) return i;
    }
    return levels.size();
}

// The platform and TDX module levels one TEE_TCB_SVN value (launch or current) matches.
struct TdxLevels {
    TcbStatus platform{};
    std::optional<TcbStatus> module;
    std::size_t platform_index = 0;
    std::size_t module_index = 0;
    const pcs::TdxModuleIdentity* identity = nullptr;  // null when TEE_TCB_SVN[1] is 0
};

class Evaluator {
public:
    explicit Evaluator(const TcbEvaluationInput& input) : in_(input), tcb_(input.tcb_info) {}

    TcbEvaluation run() {
        if (evaluate_qe() && (in_.td != nullptr ? evaluate_td(*in_.td) : evaluate_sgx())) finish();
        return std::move(out_);
    }

private:
    void pass(std::string id, std::string detail) { out_.checks.push_back({std::move(id), true, std::move(detail)}); }

    // Records the failed check; evaluation stops there.
    bool fail(std::string id, std::string detail) {
        out_.checks.push_back({std::move(id), false, std::move(detail)});
        return false;
    }

    bool require(bool ok, std::string id, std::string pass_detail, std::string fail_detail) {
        if (!ok) return fail(std::move(id), std::move(fail_detail));
        pass(std::move(id), std::move(pass_detail));
        return true;
    }

    [[nodiscard]] bool stopped() const { return !out_.checks.empty() && !out_.checks.back().passed; }

    bool evaluate_qe() {
        const auto& levels = in_.qe_identity.levels;
        const auto index = match_isvsvn_level(levels, in_.qe_isvsvn);
        if (index == levels.size()) {
            return fail("qe_tcb_level",
                        fmt::format("no QE Identity TCB level accepts QE ISVSVN {}; the lowest requires {}",
                                    in_.qe_isvsvn, levels.back().isvsvn));
        }
        const auto& level = levels[index];
        out_.qe_status = status_of(level.status, "enclaveIdentity.tcbLevels");
        out_.qe_level = level_result(level);
        isvsvn_shortfall(levels, index, "QE ISVSVN", in_.qe_isvsvn);
        pass("qe_tcb_level",
             fmt::format("QE ISVSVN {} -> {} (tcbDate {})", in_.qe_isvsvn, level.status, level.tcb_date));
        return true;
    }

    bool evaluate_td(const TdReportBody& td) {
        const auto launch = match_tdx(td.tee_tcb_svn, true);
        if (!launch) return false;
        if (!check_module_identity(td, launch->identity ? *launch->identity : base_module())) return false;
        record_platform_level(launch->platform_index, &td.tee_tcb_svn);
        if (launch->identity) {
            const auto& identity = *launch->identity;
            const auto& level = identity.levels[launch->module_index];
            out_.tdx_module_status = launch->module;
            out_.tdx_module_level = level_result(level, identity.id);
            isvsvn_shortfall(identity.levels, launch->module_index,
                             fmt::format("TDX module {} SVN (TEE_TCB_SVN[0])", identity.id), td.tee_tcb_svn[0]);
            if (launch->module_index > 0 && tcb_status_is_out_of_date(*launch->module)) {
                note_outdated_since(identity.levels[launch->module_index - 1].tcb_date_unix);
            }
            pass("tdx_module_tcb_level", fmt::format("TDX module {} SVN {} -> {} (tcbDate {})", identity.id,
                                                     td.tee_tcb_svn[0], level.status, level.tcb_date));
        }
        const auto launch_status = converge_tcb_statuses(launch->platform, launch->module, out_.qe_status);
        out_.tcb_status = launch_status;
        return !td.tee_tcb_svn2 || evaluate_relaunch(*td.tee_tcb_svn2, launch_status);
    }

    bool evaluate_sgx() {
        const auto index = match_platform_level(nullptr);
        if (index == tcb_.levels.size()) return fail_unmatched_platform(nullptr);
        record_platform_level(index, nullptr);
        out_.tcb_status = converge_tcb_statuses(*out_.platform_status, std::nullopt, out_.qe_status);
        return true;
    }

    // TD 1.5: the same evaluation with TEE_TCB_SVN2, the TCB the platform runs now. A current TCB
    // no level matches leaves the launch status; an unknown module identity fails as at launch.
    bool evaluate_relaunch(const Octets<16>& current_svn, TcbStatus launch) {
        out_.td_launch_status = launch;
        const auto current = match_tdx(current_svn, false);
        if (!current) return !stopped();
        const auto current_status = converge_tcb_statuses(current->platform, current->module, out_.qe_status);
        out_.td_current_status = current_status;
        out_.tcb_status = check_for_relaunch(launch, current_status);
        return true;
    }

    void finish() {
        // Intel concatenates platform, QE and module advisories; duplicates carry no information.
        std::vector<const TcbLevelResult*> levels{&*out_.platform_level, &*out_.qe_level};
        if (out_.tdx_module_level) levels.push_back(&*out_.tdx_module_level);
        std::vector<std::string> dates;
        for (const auto* level : levels) {
            for (const auto& a : level->advisory_ids) {
                if (std::find(out_.advisory_ids.begin(), out_.advisory_ids.end(), a) == out_.advisory_ids.end()) {
                    out_.advisory_ids.push_back(a);
                }
            }
            dates.push_back(level->tcb_date);
        }
        out_.tcb_date = *std::min_element(dates.begin(), dates.end());
        const auto status = *out_.tcb_status;
        if (!tcb_status_is_out_of_date(status) && status != TcbStatus::td_relaunch_advised &&
            status != TcbStatus::td_relaunch_advised_configuration_needed) {
            out_.outdated_since.reset();
        }
        pass("tcb_status", fmt::format("TCB status {}{}", tcb_status_name(status),
                                       out_.advisory_ids.empty()
                                           ? std::string()
                                           : fmt::format(", advisories {}", fmt::join(out_.advisory_ids, ", "))));
    }

    // Platform and module levels for one TEE_TCB_SVN value. `record` (launch) makes a missing
    // level a failed check with the shortfall; for the current value it is only nullopt.
    std::optional<TdxLevels> match_tdx(const Octets<16>& svn, bool record) {
        TdxLevels ev;
        if (const auto major = svn[1]; major != 0) {
            ev.identity = find_module_identity(major);
            if (ev.identity == nullptr) {
                fail("tdx_module_identity",
                     fmt::format("TCB Info has no TDX module identity {} (TEE_TCB_SVN[1] = {}); available: [{}]. The "
                                 "TDX module is unknown to this TCB Info: fetch current collateral",
                                 module_id_for(major), major, fmt::join(module_ids(), ", ")));
                return std::nullopt;
            }
        }
        ev.platform_index = match_platform_level(&svn);
        if (ev.platform_index == tcb_.levels.size()) {
            if (record) fail_unmatched_platform(&svn);
            return std::nullopt;
        }
        ev.platform = status_of(tcb_.levels[ev.platform_index].status, "tcbInfo.tcbLevels");
        if (ev.identity) {
            const auto& levels = ev.identity->levels;
            ev.module_index = match_isvsvn_level(levels, svn[0]);
            if (ev.module_index == levels.size()) {
                if (record) {
                    fail("tdx_module_tcb_level",
                         fmt::format("no TCB level of TDX module {} accepts its SVN {} (TEE_TCB_SVN[0]); the lowest "
                                     "level requires {}: update the TDX module",
                                     ev.identity->id, svn[0], levels.back().isvsvn));
                }
                return std::nullopt;
            }
            ev.module = status_of(levels[ev.module_index].status, "tdxModuleIdentities.tcbLevels");
        }
        return ev;
    }

    // Index of the first (best) platform level the platform meets, or levels.size(). TDX components
    // 0 and 1 (module SVN and major version) are the module identity's when the major version is set.
    std::size_t match_platform_level(const Octets<16>* tee_tcb_svn) const {
        const auto& pck = in_.pck;
        const std::size_t tdx_start = tee_tcb_svn && (*tee_tcb_svn)[1] > 0 ? 2 : 0;
        for (std::size_t i = 0; i < tcb_.levels.size(); ++i) {
            const auto& l = tcb_.levels[i];
            bool ok = pck.pcesvn >= l.pcesvn;
            for (std::size_t c = 0; c < 16 && ok; ++c) ok = pck.sgx_tcb_components[c] >= l.sgx_components[c];
            if (tee_tcb_svn && l.tdx_components) {
                for (std::size_t c = tdx_start; c < 16 && ok; ++c) ok = (*tee_tcb_svn)[c] >= (*l.tdx_components)[c];
            }
            if (ok) return i;
        }
        return tcb_.levels.size();
    }

    void record_platform_level(std::size_t index, const Octets<16>* svn) {
        const auto& level = tcb_.levels[index];
        out_.platform_status = status_of(level.status, "tcbInfo.tcbLevels");
        out_.platform_level = level_result(level);
        if (index > 0) {
            const auto& next = tcb_.levels[index - 1];
            platform_shortfall_against(next, svn);
            note_outdated_since(next.tcb_date_unix);
        }
        pass("platform_tcb_level", fmt::format("platform TCB level {} (tcbDate {})", level.status, level.tcb_date));
    }

    // Measured against the lowest listed level: what it takes to be supported at all.
    bool fail_unmatched_platform(const Octets<16>* svn) {
        platform_shortfall_against(tcb_.levels.back(), svn);
        std::string needs;
        for (const auto& s : out_.shortfall) {
            needs += fmt::format("{}{} is {} (needs {})", needs.empty() ? "" : "; ", s.component, s.actual, s.required);
        }
        return fail("platform_tcb_level",
                    fmt::format("no TCB level in TCB Info (FMSPC {}, evaluation data number {}) matches this platform "
                                "(TCB_NOT_SUPPORTED): {}",
                                to_hex(tcb_.fmspc), tcb_.tcb_evaluation_data_number,
                                needs.empty() ? "components below every level" : needs));
    }

    void platform_shortfall_against(const pcs::TcbLevel& target, const Octets<16>* svn) {
        const auto& pck = in_.pck;
        const auto add = [&](std::string component, std::uint32_t actual, std::uint32_t required) {
            if (actual < required) {
                out_.shortfall.push_back({std::move(component), actual, required, target.status, target.tcb_date});
            }
        };
        for (std::size_t c = 0; c < 16; ++c) {
            add(fmt::format("SGX TCB component {}", c + 1), pck.sgx_tcb_components[c], target.sgx_components[c]);
        }
        add("PCESVN", pck.pcesvn, target.pcesvn);
        if (svn && target.tdx_components) {
            const std::size_t start = (*svn)[1] > 0 ? 2 : 0;
            for (std::size_t c = start; c < 16; ++c) {
                add(fmt::format("TDX TCB component {} (TEE_TCB_SVN[{}])", c + 1, c), (*svn)[c],
                    (*target.tdx_components)[c]);
            }
        }
    }

    void isvsvn_shortfall(const std::vector<pcs::IsvsvnLevel>& levels, std::size_t matched, std::string component,
                          std::uint32_t actual) {
        if (matched == 0) return;
        const auto& next = levels[matched - 1];
        out_.shortfall.push_back({std::move(component), actual, next.isvsvn, next.status, next.tcb_date});
    }

    void note_outdated_since(UnixTime date) {
        out_.outdated_since = out_.outdated_since ? std::min(*out_.outdated_since, date) : date;
    }

    static std::string module_id_for(std::uint8_t major) { return fmt::format("TDX_{:02X}", major); }

    // Intel QVL findTdxModuleIdentity: "TDX_%02X" of the major version, ids compared case-insensitively.
    const pcs::TdxModuleIdentity* find_module_identity(std::uint8_t major) const {
        const auto wanted = module_id_for(major);
        for (const auto& m : tcb_.tdx_module_identities) {
            if (std::equal(m.id.begin(), m.id.end(), wanted.begin(), wanted.end(),
                           [](char a, char b) { return std::toupper(static_cast<unsigned char>(a)) == b; })) {
                return &m;
            }
        }
        return nullptr;
    }

    std::vector<std::string> module_ids() const {
        std::vector<std::string> ids;
        for (const auto& m : tcb_.tdx_module_identities) ids.push_back(m.id);
        return ids;
    }

    // The identity of a module without a major version (TEE_TCB_SVN[1] = 0): TCB Info's tdxModule.
    const pcs::TdxModuleIdentity& base_module() const {
        if (!tcb_.tdx_module) throw Error(Errc::malformed, "tcbInfo.tdxModule is missing");
        return *tcb_.tdx_module;
    }

    bool check_module_identity(const TdReportBody& td, const pcs::TdxModuleIdentity& module) {
        // Intel QVL compares SEAMATTRIBUTES byte for byte with the identity's attributes (mask
        // ignored); both are zero for every Intel module so far.
        return require(equal_ct(td.mr_signer_seam, module.mrsigner), "tdx_mrsignerseam",
                       fmt::format("MRSIGNERSEAM {} matches the TDX module identity", to_hex(td.mr_signer_seam)),
                       fmt::format(
                           "MRSIGNERSEAM mismatch: quote has {}, TCB Info expects {}: not an Intel-signed TDX module",
                           to_hex(td.mr_signer_seam), to_hex(module.mrsigner))) &&
               require(equal_ct(td.seam_attributes, module.attributes), "tdx_seam_attributes",
                       fmt::format("SEAMATTRIBUTES {} as expected", to_hex(td.seam_attributes)),
                       fmt::format("SEAMATTRIBUTES mismatch: quote has {}, TCB Info expects {}",
                                   to_hex(td.seam_attributes), to_hex(module.attributes)));
    }

    const TcbEvaluationInput& in_;
    const pcs::TcbInfo& tcb_;
    TcbEvaluation out_;
};

}  // namespace

TcbEvaluation evaluate_tcb(const TcbEvaluationInput& input) { return Evaluator{input}.run(); }

TcbStatus converge_tcb_statuses(TcbStatus platform, std::optional<TcbStatus> module,
                                std::optional<TcbStatus> qe) noexcept {
    const auto any = [&](TcbStatus s) { return (module && *module == s) || (qe && *qe == s); };
    TcbStatus out = platform;
    if (any(TcbStatus::out_of_date)) {
        if (out == TcbStatus::up_to_date || out == TcbStatus::sw_hardening_needed) out = TcbStatus::out_of_date;
        if (out == TcbStatus::configuration_needed || out == TcbStatus::configuration_and_sw_hardening_needed) {
            out = TcbStatus::out_of_date_configuration_needed;
        }
    }
    if (any(TcbStatus::revoked)) out = TcbStatus::revoked;
    return out;
}

TcbStatus check_for_relaunch(TcbStatus launch, TcbStatus current) noexcept {
    const bool current_ok = current == TcbStatus::up_to_date || current == TcbStatus::sw_hardening_needed ||
                            current == TcbStatus::configuration_needed ||
                            current == TcbStatus::configuration_and_sw_hardening_needed;
    if (!tcb_status_is_out_of_date(launch) || !current_ok) return launch;
    const bool configuration_needed = launch == TcbStatus::out_of_date_configuration_needed ||
                                      current == TcbStatus::configuration_needed ||
                                      current == TcbStatus::configuration_and_sw_hardening_needed;
    return configuration_needed ? TcbStatus::td_relaunch_advised_configuration_needed : TcbStatus::td_relaunch_advised;
}

}  // namespace tdxkit::verify
