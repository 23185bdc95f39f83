#pragma once

// Attested TLS in two modes. aTLS, in the style of concrete-security/atlas and shade: a TLS 1.3
// session whose exported keying material (EKM) is bound into a fresh TDX quote fetched over the same
// session, and whose server certificate is bound by an RTMR3 "New TLS Certificate" event. RA-TLS, as
// dstack's ra-tls crate (ratls.hpp): the peer's certificate carries its quote and event log, and the
// quote's REPORTDATA binds the certificate's key, which the handshake proves the peer holds. Either
// way the client sends no application byte before the quote, the event log and the policy have all
// been checked.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tdxkit/bytes.hpp"
#include "tdxkit/collateral.hpp"
#include "tdxkit/export.hpp"
#include "tdxkit/policy.hpp"
#include "tdxkit/provider.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/ratls.hpp"
#include "tdxkit/verify.hpp"

namespace tdxkit::atls {

// RFC 9266 channel binding label; 32 bytes, no context (atlas, shade's nginx module).
inline constexpr std::string_view kEkmLabel = "EXPORTER-Channel-Binding";
inline constexpr std::size_t kEkmSize = 32;
inline constexpr std::size_t kNonceSize = 32;
inline constexpr std::string_view kEkmHeader = "X-TLS-EKM-Channel-Binding";
inline constexpr std::string_view kCertificateEvent = "New TLS Certificate";

// report_data = SHA-512(nonce || ekm), of any lengths. Error(crypto) only when OpenSSL fails.
[[nodiscard]] TDXKIT_EXPORT Octets<64> session_report_data(ByteSpan nonce, ByteSpan ekm);

// The header value shade's nginx module sends: hex(ekm) ":" hex(HMAC-SHA256(key, ekm)). Error(crypto)
// only when OpenSSL fails.
[[nodiscard]] TDXKIT_EXPORT std::string ekm_header_value(ByteSpan ekm, ByteSpan hmac_key);
// Checks the shape (64 hex, ':', 64 hex) and the HMAC in constant time; returns the EKM.
// Error(malformed) for a bad shape, Error(invalid_argument) for a wrong HMAC.
[[nodiscard]] TDXKIT_EXPORT Bytes check_ekm_header(std::string_view value, ByteSpan hmac_key);

// The first certificate of a PEM file (leaf first) or a DER certificate, as DER. Error(malformed) when
// it is neither.
[[nodiscard]] TDXKIT_EXPORT Bytes leaf_certificate_der(ByteSpan pem_or_der);

// "host:port", "[v6]:port", port 0..65535; Error(invalid_argument) naming `what`. The host is not resolved.
[[nodiscard]] TDXKIT_EXPORT std::pair<std::string, std::uint16_t> split_host_port(std::string_view text,
                                                                                  std::string_view what);

// ---- Client ----

struct Timings {
    double connect_ms = 0;
    double handshake_ms = 0;
    double quote_fetch_ms = 0;
    double verify_ms = 0;
};

struct ClientOptions {
    std::string host;
    std::uint16_t port = 443;
    std::string server_name;  // certificate name and SNI; empty: host
    std::string ca_file;      // PEM bundle instead of the system trust store
    // Skips certificate path validation (a self-signed server); the attestation still binds it.
    bool insecure_skip_tls_verify = false;
    // RA-TLS instead of aTLS: the server's certificate is not validated against any CA (ca_file and
    // insecure_skip_tls_verify must stay unset) and no quote is requested; its RA-TLS evidence
    // (ratls::decode_evidence) is appraised instead (ratls::appraise_evidence), and it must carry an
    // event log (whose RTMR3 events the appraisal replays). quote_path and require_certificate_binding
    // do not apply.
    bool ra_tls = false;
    // A client certificate chain (PEM, leaf first) and its private key (PEM), presented when the server
    // asks for one: for mutual RA-TLS, an RA-TLS certificate of the client's own TD. Both or neither.
    std::string client_cert_file;
    std::string client_key_file;
    std::string quote_path = "/tdx_quote";
    std::chrono::milliseconds connect_timeout{10'000};
    std::chrono::milliseconds timeout{30'000};  // the handshake, and the whole quote fetch
    std::size_t max_response = 8 * 1024 * 1024;

    // Verification inputs. `collateral` is asked once, with the server's quote; it is required
    // (unset: Error(invalid_argument)). Error(malformed or unsupported) from it (the quote's PCK chain
    // cannot be read) fails the quote_verification step; anything else it throws propagates from connect.
    std::function<Collateral(const Quote&)> collateral;
    TrustRoot trust_root = intel_sgx_root_ca();
    std::optional<UnixTime> at;  // verification time; default: the clock after the quote arrived
    Policy policy = default_policy();
    bool require_certificate_binding = true;
    // Test hook: replaces the random nonce (known-answer tests). Never set in production.
    std::optional<Bytes> fixed_nonce;
};

// One stable id per step, in order. aTLS: "tcp_connect", "tls_handshake", "tls_version",
// "quote_request", "quote_response", "report_data_binding", "quote_verification", "tcb_status",
// "policy", "event_log", "rtmr_replay", "certificate_binding".
// RA-TLS: "tcp_connect", "tls_handshake", "tls_version", "ra_tls_certificate" (the peer's leaf
// carries RA-TLS evidence whose quote parses), "quote_verification", "tcb_status", then
// ratls::appraise_evidence's evidence checks under their own ids ("certificate_validity",
// "certificate_signature", "certificate_key_usage", "attestation_report_data" for a versioned
// attestation, "report_data_binding": the quote binds the certificate's key, "event_log_rtmr3":
// the log's RTMR3 events replay to the quote's RTMR3), "event_log" (the certificate carries one), "policy"; and
// "appraisal" only if appraise_evidence rejected for a reason none of these steps shows.
struct Step {
    std::string id;
    bool passed = false;
    std::string detail;
};

struct Outcome {
    bool verified = false;
    std::string failed_step;  // id of the first failed step
    std::string reason;       // its detail: expected vs actual and what to do
    std::vector<Step> steps;
    bool network_error = false;  // the server could not be reached at all: outcome unknown

    std::string tls_version;
    std::string cipher;
    std::string peer_certificate_sha256;      // hex SHA-256 of the leaf DER
    bool peer_certificate_validated = false;  // false with insecure_skip_tls_verify and in RA-TLS mode
    bool ra_tls = false;                      // the mode of ClientOptions::ra_tls
    std::string nonce_hex;                    // aTLS only
    // aTLS: SHA-512(nonce || EKM); RA-TLS: SHA-512("ratls-cert:" || the certificate's SPKI).
    std::string expected_report_data_hex;
    // RA-TLS: what the peer's certificate carried (its chain as the peer sent it), once it decoded.
    std::optional<ratls::Evidence> evidence;
    std::optional<Quote> quote;
    std::optional<VerificationReport> report;
    std::optional<PolicyResult> policy_result;
    std::optional<std::array<Measurement, 4>> replayed_rtmrs;
    std::size_t event_count = 0;
    std::optional<std::string> bound_certificate_sha256;  // payload of the last binding event, bytes as given
    Timings timings;  // RA-TLS: quote_fetch_ms stays 0 (the quote came with the certificate)
};

// A TLS 1.3 connection whose peer has passed attestation (or not: then closed, see outcome()).
class TDXKIT_EXPORT Session {
public:
    Session(Session&&) noexcept;
    Session& operator=(Session&&) noexcept;
    ~Session();

    // Every member below needs a Session that was not moved from.
    [[nodiscard]] const Outcome& outcome() const noexcept;
    // Application I/O: every function below throws Error(invalid_argument) unless outcome().verified.
    // Sends all of `data`; Error(io) on failure or when that takes over 30 s.
    void write(ByteSpan data);
    // 0 at end of stream. Waits at most `timeout`; Error(io) on a timeout or failure.
    std::size_t read(std::uint8_t* out, std::size_t size, std::chrono::milliseconds timeout);
    // One HTTP/1.1 GET on the verified session; returns the status and the body (bounded). `path`
    // must start with '/' and hold no space, CR or LF (Error(invalid_argument)). Error(io) on failure,
    // after `timeout`, or when the server closes without answering; Error(malformed) for a bad response
    // or a body over `max_body`.
    struct HttpResult {
        int status = 0;
        std::string body;
    };
    HttpResult http_get(const std::string& path, std::chrono::milliseconds timeout, std::size_t max_body);
    // Copies stdin-like `in_fd` to the session and the session to `out_fd`; returns when the server
    // ends the stream. Error(io) on failure.
    void pipe(int in_fd, int out_fd);

    struct Impl;
    explicit Session(std::unique_ptr<Impl> impl);

private:
    std::unique_ptr<Impl> impl_;
};

// Connects, attests and verifies. A server that fails any step yields a Session whose outcome is
// not verified (the connection is closed); one that cannot be reached is a failed tcp_connect step
// with network_error set. Error is thrown only for bad options (invalid_argument: no collateral
// source, an unusable ca_file, client certificate or server name, ca_file or
// insecure_skip_tls_verify with ra_tls), what options.collateral throws other than malformed or
// unsupported (unavailable collateral: collateral_unavailable) and internal failures (crypto, internal).
[[nodiscard]] TDXKIT_EXPORT Session connect(const ClientOptions& options);

// ---- Server ----

struct QuoteAnswer {
    std::string quote_hex;
    std::string event_log;  // JSON array text
    std::string vm_config;  // JSON text
};

// How a server appraises its clients' RA-TLS certificates (mutual RA-TLS), as ClientOptions does a
// server's in RA-TLS mode.
struct PeerAppraisalOptions {
    // Asked once per client, with its quote; required. Error(malformed or unsupported) from it fails
    // the client's quote_verification step; anything else it throws ends that connection.
    std::function<Collateral(const Quote&)> collateral;
    TrustRoot trust_root = intel_sgx_root_ca();
    std::optional<UnixTime> at;  // default: the clock at each handshake
    Policy policy = default_policy();
};

struct ServerOptions {
    std::string listen_host = "127.0.0.1";
    std::uint16_t listen_port = 0;  // 0: any free port, see on_listening
    std::string cert_file;          // PEM: leaf first, then the chain
    std::string key_file;
    // The same as PEM text, used instead of the two files when cert_pem is set: atls-serve --ra-tls
    // makes its key at start, and it never touches the disk.
    std::string cert_pem;
    SecretBytes key_pem;
    // RA-TLS: the certificate carries the evidence. `quote` becomes optional; without it quote_path is
    // an ordinary path (relayed upstream, or 404). Not with ekm_header_mode (the proxy's certificate
    // would be the one clients see).
    bool ra_tls = false;
    // Mutual RA-TLS: every client must present an RA-TLS certificate that passes appraisal (the steps of
    // ClientOptions::ra_tls from "ra_tls_certificate" on) before its first request is read; a client that
    // does not is disconnected and logged with the failed step. Not with ekm_header_mode.
    std::optional<PeerAppraisalOptions> client_ra_tls;
    // Behind a TLS-terminating proxy: plain HTTP, the EKM comes from X-TLS-EKM-Channel-Binding.
    bool ekm_header_mode = false;
    SecretBytes ekm_hmac_key;  // required with ekm_header_mode
    std::string quote_path = "/tdx_quote";
    std::string upstream;  // HOST:PORT for every other request (plain HTTP); empty: 404; checked per request (502)
    std::size_t max_connections = 64;
    std::size_t max_request = 1024 * 1024;
    std::chrono::milliseconds io_timeout{30'000};
    // Produces the quote over the given report data. Called concurrently from connection threads;
    // required. What it throws (std::exception) is answered with HTTP 500.
    std::function<QuoteAnswer(const Octets<64>& report_data)> quote;
    std::function<void(const std::string& host, std::uint16_t port)> on_listening;
    std::function<void(std::string_view line)> log;  // one line per request; never secrets
};

// Serves until `stop` becomes true (checked at least every 200 ms), then waits for the open
// connections to end (each bounded by io_timeout). Error(io) when it cannot listen or load the
// certificate or key (Error(malformed) for a key file over 1 MiB); Error(invalid_argument) without
// `quote` (unless ra_tls), without ekm_hmac_key in ekm_header_mode, for ekm_header_mode with ra_tls or
// client_ra_tls, or client_ra_tls without a collateral source. A failure within a connection is
// logged, never thrown.
TDXKIT_EXPORT void serve(const ServerOptions& options, const std::atomic<bool>& stop);

}  // namespace tdxkit::atls
