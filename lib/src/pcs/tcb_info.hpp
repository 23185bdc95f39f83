#pragma once

// Parsed TCB Info (TDX/SGX, version 3) and QE Identity (version 2). Built from the exact signed
// body text after its signature has been checked; every field Intel defines is validated.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tdxkit/bytes.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/time.hpp"

namespace tdxkit::pcs {

struct TcbLevel {
    std::array<std::uint8_t, 16> sgx_components{};
    std::uint16_t pcesvn = 0;
    std::optional<std::array<std::uint8_t, 16>> tdx_components;
    std::string tcb_date;
    UnixTime tcb_date_unix = 0;
    std::string status;
    std::vector<std::string> advisory_ids;
};

// QE Identity levels and TDX module identity levels are keyed by one ISVSVN.
struct IsvsvnLevel {
    std::uint16_t isvsvn = 0;
    std::string tcb_date;
    UnixTime tcb_date_unix = 0;
    std::string status;
    std::vector<std::string> advisory_ids;
};

struct TdxModuleIdentity {
    std::string id;         // "TDX_01"; empty for the base tdxModule entry
    Bytes mrsigner;         // 48
    Bytes attributes;       // 8
    Bytes attributes_mask;  // 8
    std::vector<IsvsvnLevel> levels;
};

struct TcbInfo {
    std::string id;  // "TDX" or "SGX"
    std::uint32_t version = 0;
    UnixTime issue_date = 0;
    UnixTime next_update = 0;
    Octets<6> fmspc{};
    Octets<2> pce_id{};
    std::uint32_t tcb_type = 0;
    std::uint32_t tcb_evaluation_data_number = 0;
    std::optional<TdxModuleIdentity> tdx_module;
    std::vector<TdxModuleIdentity> tdx_module_identities;
    std::vector<TcbLevel> levels;  // sorted best first, as Intel's QVL orders them
};

struct QeIdentity {
    std::string id;  // "TD_QE" or "QE"
    std::uint32_t version = 0;
    UnixTime issue_date = 0;
    UnixTime next_update = 0;
    std::uint32_t tcb_evaluation_data_number = 0;
    std::uint32_t miscselect = 0;
    std::uint32_t miscselect_mask = 0;
    Octets<16> attributes{};
    Octets<16> attributes_mask{};
    Octets<32> mrsigner{};
    std::uint16_t isvprodid = 0;
    std::vector<IsvsvnLevel> levels;  // highest ISVSVN first
};

TcbInfo parse_tcb_info(std::string_view body);
QeIdentity parse_qe_identity(std::string_view body);

}  // namespace tdxkit::pcs
