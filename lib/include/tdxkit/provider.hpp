#pragma once

// Quote generation inside a TD: the Linux configfs-tsm interface and the dstack guest agent. The
// simulated provider, which signs with tdxkit's TEST PKI, is not in this library: it is
// testing::generate_simulated_quote in tdxkit-testing (tdxkit/testing.hpp), which only the CLI and
// the tests link. Its quotes verify only with that PKI's root given explicitly.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tdxkit/bytes.hpp"
#include "tdxkit/export.hpp"
#include "tdxkit/quote.hpp"

namespace tdxkit {

enum class QuoteProvider { automatic, configfs_tsm, dstack, simulated };

// "auto", "configfs-tsm", "dstack", "simulated"; Error(invalid_argument) otherwise.
[[nodiscard]] TDXKIT_EXPORT QuoteProvider parse_quote_provider(std::string_view name);
// The name parse_quote_provider reads back.
[[nodiscard]] TDXKIT_EXPORT const char* quote_provider_name(QuoteProvider p) noexcept;

inline constexpr std::string_view kDefaultTsmDir = "/sys/kernel/config/tsm/report";
// The guest agent's socket paths, probed in this order (dstack SDKs, getEndpoint).
inline constexpr std::string_view kDstackSockets[] = {"/var/run/dstack.sock", "/run/dstack.sock",
                                                      "/var/run/dstack/dstack.sock", "/run/dstack/dstack.sock"};
inline constexpr std::string_view kDstackEndpointEnv = "DSTACK_SIMULATOR_ENDPOINT";

// Zero-pads up to 64 bytes; longer is Error(invalid_argument).
[[nodiscard]] TDXKIT_EXPORT Octets<64> pad_report_data(ByteSpan data);

struct QuoteRequest {
    Octets<64> report_data{};
    QuoteProvider provider = QuoteProvider::automatic;
    std::string tsm_dir{kDefaultTsmDir};
    // A unix socket path or an http(s) URL; empty: DSTACK_SIMULATOR_ENDPOINT, then kDstackSockets.
    std::string dstack_endpoint;
    // Simulated only: a directory in the testdata/pki layout (*.key, pck-chain.pem).
    std::string pki_dir;
    // Simulated only: DER of a TLS certificate to bind with an RTMR3 "New TLS Certificate" event.
    std::optional<Bytes> bind_certificate_der;
    std::chrono::milliseconds timeout{30000};  // configfs-tsm: waiting for the report; dstack: the request
};

struct GeneratedQuote {
    Bytes quote;  // parsed and checked: a TDX quote carrying exactly the requested report data
    QuoteProvider provider = QuoteProvider::automatic;  // the one that answered
    std::string source;                                 // "configfs-tsm /sys/...", "dstack unix:/var/run/dstack.sock"
    std::optional<std::string> event_log;               // JSON array text (dstack, simulated)
    std::optional<std::string> vm_config;               // JSON text (dstack, simulated)
    // The guest agent's GetQuote response as received; for the simulated provider, one of the same form.
    std::optional<std::string> response_json;
    std::vector<std::string> warnings;  // e.g. a configfs entry that could not be removed
};

// Asks the provider for a quote over `report_data`. With QuoteProvider::automatic: configfs-tsm when
// its directory exists, then the dstack agent when an endpoint is reachable; Error(io) naming every
// attempt when neither is. QuoteProvider::simulated is refused with Error(invalid_argument): see
// testing::generate_simulated_quote. Errors: io (no provider, device/socket failure, timeout, an HTTP error from the
// agent), malformed (the provider returned something that is not a TDX quote over the requested report data, or a
// response that does not parse), invalid_argument, crypto and internal (OpenSSL or libcurl unusable).
[[nodiscard]] TDXKIT_EXPORT GeneratedQuote generate_quote(const QuoteRequest& request);

}  // namespace tdxkit
