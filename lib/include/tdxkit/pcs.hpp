#pragma once

// The collateral service: DCAP collateral from Intel PCS or any PCCS (v4 API) over HTTPS, an
// on-disk cache, and the source order `tdxkit verify` uses (--collateral > fresh cache > network).
// Nothing fetched or cached is trusted: every use re-verifies it (verify_quote, check_collateral).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tdxkit/collateral.hpp"
#include "tdxkit/export.hpp"
#include "tdxkit/pck.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/time.hpp"

namespace tdxkit {

inline constexpr std::string_view kIntelPcsUrl = "https://api.trustedservices.intel.com";
// CRL distribution point of Intel's SGX Root CA certificate; Intel PCS itself has no root CRL API.
inline constexpr std::string_view kIntelRootCaCrlUrl =
    "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";

// ---- HTTP ----

struct TDXKIT_EXPORT HttpResponse {
    long status = 0;                                           // 0: no HTTP response; transport_error says why
    std::vector<std::pair<std::string, std::string>> headers;  // in received order, names as sent
    std::string body;
    std::string transport_error;
    bool retryable = true;  // for transport errors: false when trying again cannot help (TLS verification, bad URL)

    // The first header of that name, compared case-insensitively (HTTP names are); nullopt when absent.
    [[nodiscard]] std::optional<std::string> header(std::string_view name) const;
};

// One GET. Implementations return HTTP errors and transport failures as a response; they throw
// Error only when the response is unusable in any case (over the size cap).
class TDXKIT_EXPORT HttpTransport {
public:
    virtual ~HttpTransport() = default;
    virtual HttpResponse get(const std::string& url) = 0;
};

struct HttpOptions {
    std::string ca_file;  // PEM bundle trusted instead of the system store (a private PCCS); empty: system
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds timeout{30'000};  // whole request, including the body
    std::size_t max_body = 16 * 1024 * 1024;    // a longer response is Error(malformed)
};

struct RetryPolicy {
    int max_attempts = 4;  // including the first; retried: 429, 5xx, retryable transport errors
    std::chrono::milliseconds initial_backoff{1'000};  // doubled per attempt
    std::chrono::milliseconds max_backoff{16'000};
    std::chrono::milliseconds max_retry_after{60'000};  // a longer Retry-After is capped, not obeyed
};

// ---- Fetching ----

enum class TeeType { tdx, sgx };
enum class UpdateType { standard, early };
[[nodiscard]] TDXKIT_EXPORT const char* tee_type_name(TeeType t) noexcept;        // "tdx", "sgx"
[[nodiscard]] TDXKIT_EXPORT const char* update_type_name(UpdateType u) noexcept;  // "standard", "early"

struct CollateralRequest {
    TeeType tee = TeeType::tdx;
    std::string fmspc;                   // 12 lowercase hex digits
    PckCaType ca = PckCaType::platform;  // none: Error(invalid_argument) when fetching
};
// TEE type from the quote header; FMSPC and CA type from the PCK leaf in its certification data.
// Throws Error(collateral_unavailable) when the quote carries no PCK chain (types 2/3 need a PCK
// certificate from the PCCS, which tdxkit does not fetch) and Error(malformed) for a bad chain.
[[nodiscard]] TDXKIT_EXPORT CollateralRequest collateral_request_for(const Quote& quote);
// "TDX/<fmspc>/platform": one key per set of collateral, for callers that share it between quotes.
[[nodiscard]] TDXKIT_EXPORT std::string collateral_key(const CollateralRequest& request);
// Validates and lower-cases an FMSPC given by the user (12 hex digits, either case). Throws
// Error(invalid_argument) otherwise.
[[nodiscard]] TDXKIT_EXPORT std::string normalize_fmspc(std::string_view fmspc);

struct CollateralService {
    std::string url{kIntelPcsUrl};  // Intel PCS or a PCCS base URL
    // Empty: Intel's CRL distribution point when `url` is Intel PCS, else the PCCS
    // `<url>/sgx/certification/v4/rootcacrl`.
    std::string root_ca_crl_url;
    UpdateType update = UpdateType::standard;
    RetryPolicy retry;
};
// True for Intel PCS's base URL (trailing slashes ignored) or a URL under it. Never throws.
[[nodiscard]] TDXKIT_EXPORT bool is_intel_pcs(std::string_view url);
// "Intel PCS https://..." or "PCCS https://...". Never throws.
[[nodiscard]] TDXKIT_EXPORT std::string service_label(const CollateralService& service);

// One line per request, retry and cache decision; unset: silent.
using ProgressFn = std::function<void(std::string_view)>;
// Waits between retries; unset: std::this_thread::sleep_for.
using SleepFn = std::function<void(std::chrono::milliseconds)>;

// ---- Describing and checking a collateral set without a quote ----

struct CollateralItem {
    std::string name;          // "tcb_info", "qe_identity", "pck_crl", "root_ca_crl"
    std::string issuer;        // CN of the signer (first certificate of the issuer chain / CRL issuer)
    UnixTime valid_from = 0;   // issueDate / thisUpdate
    UnixTime valid_until = 0;  // nextUpdate
};

struct CollateralSummary {
    std::string tee;             // TCB Info id: "TDX" or "SGX"
    std::string fmspc;           // hex
    std::string pce_id;          // hex
    std::string qe_identity_id;  // "TD_QE" or "QE"
    std::string pck_crl_ca;      // "platform" or "processor", from the PCK CRL issuer; "" if neither
    std::uint32_t tcb_evaluation_data_number = 0;
    std::uint32_t qe_tcb_evaluation_data_number = 0;
    std::vector<CollateralItem> items;
    UnixTime next_update = 0;  // earliest nextUpdate of the items: when the set must be refetched
};
// Parses every item, verifying nothing. Throws Error(malformed), or Error(unsupported) for a TCB Info
// version other than 3 or a QE Identity version other than 2.
[[nodiscard]] TDXKIT_EXPORT CollateralSummary describe_collateral(const Collateral& collateral);

// ---- Source resolution ----

struct CollateralSources {
    std::string path;  // --collateral DIR|FILE: used alone when set
    CollateralService service;
    HttpOptions http;
    // Empty: $XDG_CACHE_HOME/tdxkit, else $HOME/.cache/tdxkit; neither set is Error(invalid_argument).
    std::filesystem::path cache_dir;
    bool offline = false;  // never the network; a stale cache entry is still returned unless check_cached refuses it
    bool refresh = false;  // ignore cached entries (the result is still stored)
    // Judges a cache entry before it is used; returns why it is refused, or nullopt. Verification
    // passes check_collateral with its trust root and time, so that an entry that does not verify
    // (tampered, expired, signed by another root) is treated as absent, fetched again or, offline,
    // reported as collateral_unavailable: never a verdict on the quote. Unset: entries are used as read.
    std::function<std::optional<std::string>(const Collateral&)> check_cached;
    ProgressFn progress;
    HttpTransport* transport = nullptr;  // default: libcurl with `http`
    SleepFn sleep;
};

// --collateral, else a fresh cache entry, else the network (unless offline), storing what it
// fetched. Collateral::source names where it came from. Nothing is verified here beyond
// check_cached; `now` only judges cache freshness. A cache that cannot be read or written is not an
// error. Errors: collateral_unavailable (offline without a usable entry, a missing --collateral item,
// a network or HTTP failure after the retries), malformed (a bad item or response, or a service that
// answered for another TEE, FMSPC or CA), unsupported (see describe_collateral), io (an unreadable
// --collateral file), invalid_argument (a bad FMSPC or CA in `request`, no cache directory), internal
// (libcurl unusable).
[[nodiscard]] TDXKIT_EXPORT Collateral resolve_collateral(const CollateralSources& sources,
                                                          const CollateralRequest& request, UnixTime now);

}  // namespace tdxkit
