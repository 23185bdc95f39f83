#include <array>
#include <string_view>
#include <utility>

#include "tdxkit/verify.hpp"

namespace tdxkit {
namespace {

constexpr std::array<std::pair<TcbStatus, std::string_view>, 9> kNames = {{
    {TcbStatus::up_to_date, "UpToDate"},
    {TcbStatus::sw_hardening_needed, "SWHardeningNeeded"},
    {TcbStatus::configuration_needed, "ConfigurationNeeded"},
    {TcbStatus::configuration_and_sw_hardening_needed, "ConfigurationAndSWHardeningNeeded"},
    {TcbStatus::out_of_date, "OutOfDate"},
    {TcbStatus::out_of_date_configuration_needed, "OutOfDateConfigurationNeeded"},
    {TcbStatus::td_relaunch_advised, "TDRelaunchAdvised"},
    {TcbStatus::td_relaunch_advised_configuration_needed, "TDRelaunchAdvisedConfigurationNeeded"},
    {TcbStatus::revoked, "Revoked"},
}};

}  // namespace

const char* tcb_status_name(TcbStatus s) noexcept {
    for (const auto& [status, name] : kNames) {
        if (status == s) return name.data();
    }
    return "Unknown";
}

std::optional<TcbStatus> parse_tcb_status(std::string_view name) noexcept {
    for (const auto& [status, n] : kNames) {
        if (n == name) return status;
    }
    return std::nullopt;
}

bool tcb_status_is_out_of_date(TcbStatus s) noexcept {
    return s == TcbStatus::out_of_date || s == TcbStatus::out_of_date_configuration_needed;
}

}  // namespace tdxkit
