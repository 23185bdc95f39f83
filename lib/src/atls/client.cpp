// The attested-TLS client: handshake (TLS 1.3 only), EKM, nonce, quote over the same session, then
// every check; the application gets the session only when all of them passed.

#include <charconv>
#include <optional>
#include <string_view>
#include <arpa/inet.h>
#include <poll.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "atls/io.hpp"
#include "atls/messages.hpp"
#include "atls/ratls_peer.hpp"
#include "atls/steps.hpp"
#include "core/errno_message.hpp"
#include "core/json.hpp"
#include "tdxkit/appraise.hpp"
#include "tdxkit/atls.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/eventlog.hpp"

namespace tdxkit::atls {

detail::QuoteReply detail::parse_quote_reply(const io::HttpMessage& response) {
    using nlohmann::json;
    if (!response.start_line.starts_with("HTTP/1.1 200")) {
        throw Error(Errc::malformed,
                    fmt::format("the server answered \"{}\" instead of 200", response.start_line.substr(0, 80)));
    }
    const auto doc = tdxkit::detail::parse_json(response.body, "the /tdx_quote response");
    if (!doc.is_object() || !doc.contains("quote") || !doc["quote"].is_object()) {
        throw Error(Errc::malformed, "the response has no \"quote\" object (expected the shade /tdx_quote format)");
    }
    const auto& q = doc["quote"];
    if (!q.contains("quote") || !q["quote"].is_string()) throw Error(Errc::malformed, "no string .quote.quote");
    detail::QuoteReply reply;
    reply.quote = from_hex(q["quote"].get<std::string>(), ".quote.quote");
    if (const auto it = q.find("event_log"); it != q.end() && it->is_string()) {
        reply.event_log = it->get<std::string>();
    } else if (it != q.end() && it->is_array()) {
        // Depth and size are bounded by the parse above; the log is parsed again, strictly, as text.
        reply.event_log = it->dump();
    } else {
        throw Error(Errc::malformed, "no .quote.event_log (a JSON array, or a string holding one)");
    }
    return reply;
}

struct Session::Impl {
    Outcome outcome;
    io::SslCtxPtr ctx;
    std::unique_ptr<io::TlsStream> stream;
    std::unique_ptr<io::HttpReader> reader;
    std::string host;
};

namespace {

using io::Clock;
using nlohmann::json;

using detail::Steps;

bool is_ip_literal(const std::string& host) {
    in6_addr a6{};
    in_addr a4{};
    return inet_pton(AF_INET, host.c_str(), &a4) == 1 || inet_pton(AF_INET6, host.c_str(), &a6) == 1;
}

io::SslCtxPtr client_context(const ClientOptions& options) {
    io::SslCtxPtr ctx{SSL_CTX_new(TLS_client_method())};
    if (!ctx) ossl::fail("SSL_CTX_new");
    // The EKM binding is only defined for TLS 1.3 (shade's nginx module refuses anything older).
    if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(ctx.get(), TLS1_3_VERSION) != 1) {
        ossl::fail("SSL_CTX_set_min_proto_version");
    }
    if (options.ra_tls || options.insecure_skip_tls_verify) {
        // No CA vouches for an RA-TLS certificate: its quote does (ratls_peer.cpp), checked before any
        // application byte. The handshake still proves the server holds the certificate's key.
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    } else {
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
        const int ok = options.ca_file.empty()
                           ? SSL_CTX_set_default_verify_paths(ctx.get())
                           : SSL_CTX_load_verify_locations(ctx.get(), options.ca_file.c_str(), nullptr);
        if (ok != 1) {
            throw Error(Errc::invalid_argument,
                        fmt::format("cannot load the CA certificates{}: {}",
                                    options.ca_file.empty() ? "" : " from " + options.ca_file, ossl::drain_errors()));
        }
    }
    if (!options.client_cert_file.empty()) {
        // Sent only when the server asks (a CertificateRequest); mutual RA-TLS servers do.
        io::use_certificate_and_key(ctx.get(), options.client_cert_file, options.client_key_file, {}, {}, "client");
    }
    return ctx;
}

void check_options(const ClientOptions& options) {
    if (!options.collateral) throw Error(Errc::invalid_argument, "atls::connect: no collateral source");
    if (options.ra_tls && (!options.ca_file.empty() || options.insecure_skip_tls_verify)) {
        throw Error(Errc::invalid_argument,
                    "RA-TLS validates the server certificate by its attestation, not by a CA: --ca-file and "
                    "--insecure-skip-tls-verify do not apply");
    }
    if (options.client_cert_file.empty() != options.client_key_file.empty()) {
        throw Error(Errc::invalid_argument, "a client certificate needs its private key, and a key its certificate");
    }
}

std::string handshake_advice(const std::string& error, SSL* ssl, bool validating) {
    // Without validation OpenSSL still records a verify result (a self-signed certificate), which did
    // not fail the handshake.
    if (const long v = SSL_get_verify_result(ssl); validating && v != X509_V_OK) {
        return fmt::format("the server certificate did not verify: {}; pass --ca-file with the issuing CA, or "
                           "--insecure-skip-tls-verify (the attestation still binds the certificate)",
                           X509_verify_cert_error_string(v));
    }
    if (error.find("protocol version") != std::string::npos ||
        error.find("unsupported protocol") != std::string::npos ||
        error.find("no protocols available") != std::string::npos) {
        return fmt::format("{} (tdxkit requires TLS 1.3: the EKM channel binding does not exist in older versions; "
                           "the server offered none)",
                           error);
    }
    return error;
}

// The last RTMR3 "New TLS Certificate" event: a later one replaces the certificate (cert renewal).
// Binding: only events of a bound log (bind_event_log) are searched, so its name and payload (the
// certificate's SHA-256) are covered by its recomputed digest and the replay equals the quote.
const Event* last_certificate_event(const EventLogBinding& binding) {
    const Event* found = nullptr;
    for (const auto* e : binding.runtime_events) {
        if (e->name == kCertificateEvent) found = e;
    }
    return found;
}

void check_quote(const ClientOptions& options, const detail::QuoteReply& reply, Outcome& o, Steps& steps) {
    try {
        o.quote = parse_quote(reply.quote);
    } catch (const Error& e) {
        steps.add("quote_response", false, fmt::format("the quote does not parse: {}", e.what()));
        return;
    }
    const auto* td = o.quote->td_body();
    if (!steps.add("quote_response", td != nullptr && o.quote->is_tdx(),
                   td != nullptr ? fmt::format("TDX quote v{}, {} bytes", o.quote->header.version, reply.quote.size())
                                 : "the quote is not a TDX quote")) {
        return;
    }
    const auto expected = from_hex(o.expected_report_data_hex);
    steps.add("report_data_binding", equal_ct(td->report_data, expected),
              equal_ct(td->report_data, expected)
                  ? "report_data = SHA-512(nonce || EKM of this session)"
                  : fmt::format("report_data is {}, expected SHA-512(nonce || EKM) = {}: the quote was not made "
                                "for this TLS session (a relay, a man-in-the-middle or a replayed quote)",
                                to_hex(td->report_data), o.expected_report_data_hex));

    // The policy's dstack rules need the event log that came with the quote.
    std::optional<EventLog> log;
    std::string log_error;
    try {
        log = parse_dstack_event_log(reply.event_log);
    } catch (const Error& e) {
        log_error = e.what();
    }
    // The evidence's verdict is appraise's; the steps below show its parts (accepted exactly when
    // quote_verification, tcb_status and policy all pass).
    const auto collateral = detail::peer_collateral(options.collateral, *o.quote, steps);
    if (!collateral) return;
    AppraisalOptions appraisal_options;
    appraisal_options.now = options.at ? *options.at : now_utc();
    appraisal_options.trust_root = options.trust_root;
    auto appraisal = appraise(*o.quote, *collateral, log ? &*log : nullptr, options.policy, appraisal_options);
    o.report = std::move(appraisal.report);
    o.policy_result = std::move(appraisal.policy_result);
    detail::add_quote_steps(*o.report, steps);
    detail::add_policy_step(*o.policy_result, options.policy, steps);

    if (!log) {
        steps.add("event_log", false, fmt::format("the event log does not parse: {}", log_error));
        return;
    }
    o.event_count = log->events.size();
    steps.add("event_log", true, fmt::format("{} events ({})", log->events.size(), log->container));
    const auto binding = bind_event_log(*log, *td);
    o.replayed_rtmrs = binding.replayed;
    steps.add("rtmr_replay", binding.bound(),
              binding.bound() ? "RTMR0-3 equal the replay of the event log (runtime digests recomputed)"
                              : binding.failure());

    const auto* event = last_certificate_event(binding);
    if (event != nullptr) o.bound_certificate_sha256 = std::string(event->payload.begin(), event->payload.end());
    const bool bound = event != nullptr && equal_ct(event->payload, as_bytes(o.peer_certificate_sha256));
    if (!options.require_certificate_binding) {
        steps.add("certificate_binding", true,
                  fmt::format("NOT CHECKED (disabled); the event log {}",
                              bound ? "binds this certificate" : "does not bind this certificate"));
    } else if (event == nullptr) {
        steps.add("certificate_binding", false,
                  binding.bound() ? fmt::format("the event log has no RTMR3 \"{}\" event: nothing binds the server "
                                                "certificate {} to the TD",
                                                kCertificateEvent, o.peer_certificate_sha256)
                                  : fmt::format("the event log is not bound to the quote (rtmr_replay), so nothing "
                                                "binds the server certificate {} to the TD",
                                                o.peer_certificate_sha256));
    } else {
        steps.add("certificate_binding", bound,
                  bound ? fmt::format("the last \"{}\" event names this certificate (SHA-256 {})", kCertificateEvent,
                                      o.peer_certificate_sha256)
                        : fmt::format("the last \"{}\" event names certificate {}, but the server presented {}: the "
                                      "TLS key is not the TD's",
                                      kCertificateEvent, *o.bound_certificate_sha256, o.peer_certificate_sha256));
    }
}

}  // namespace

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::Session(Session&&) noexcept = default;
Session& Session::operator=(Session&&) noexcept = default;
Session::~Session() = default;

const Outcome& Session::outcome() const noexcept { return impl_->outcome; }

namespace {

io::TlsStream& verified_stream(Session::Impl& impl) {
    if (!impl.outcome.verified || !impl.stream) {
        throw Error(Errc::invalid_argument, "the session did not pass attestation: no application data may be sent");
    }
    return *impl.stream;
}

}  // namespace

void Session::write(ByteSpan data) { verified_stream(*impl_).write_all(data, Clock::now() + std::chrono::seconds(30)); }

std::size_t Session::read(std::uint8_t* out, std::size_t size, std::chrono::milliseconds timeout) {
    return verified_stream(*impl_).read_some(out, size, Clock::now() + timeout);
}

Session::HttpResult Session::http_get(const std::string& path, std::chrono::milliseconds timeout,
                                      std::size_t max_body) {
    auto& stream = verified_stream(*impl_);
    if (path.empty() || path.front() != '/' || path.find_first_of("\r\n ") != std::string::npos) {
        throw Error(Errc::invalid_argument,
                    fmt::format("HTTP path \"{}\" must start with '/' and have no spaces", path));
    }
    const auto deadline = Clock::now() + timeout;
    const auto request =
        fmt::format("GET {} HTTP/1.1\r\nHost: {}\r\nConnection: keep-alive\r\n\r\n", path, impl_->host);
    stream.write_all(as_bytes(request), deadline);
    // RA-TLS sessions read nothing before the application does.
    if (!impl_->reader) impl_->reader = std::make_unique<io::HttpReader>(stream);
    const auto response = impl_->reader->read(max_body, deadline);
    if (!response) throw Error(Errc::io, "the server closed the connection without answering");
    HttpResult result;
    const auto& line = response->start_line;
    if (!line.starts_with("HTTP/1.") || line.size() < 12) throw Error(Errc::malformed, "bad HTTP status line");
    // The three digits; a status line without them leaves the status 0.
    const auto code = std::string_view(line).substr(9, 3);
    std::from_chars(code.data(), code.data() + code.size(), result.status);
    result.body = response->body;
    return result;
}

void Session::pipe(int in_fd, int out_fd) {
    auto& stream = verified_stream(*impl_);
    std::array<std::uint8_t, 16384> buf{};
    bool input_open = true;
    const auto far = [] { return Clock::now() + std::chrono::hours(24); };
    while (true) {
        if (!stream.has_pending()) {
            pollfd fds[2] = {{stream.fd(), POLLIN, 0}, {input_open ? in_fd : -1, POLLIN, 0}};
            if (::poll(fds, 2, -1) < 0) {
                if (errno == EINTR) continue;
                throw Error(Errc::io, fmt::format("poll: {}", errno_message(errno)));
            }
            if (input_open && (fds[1].revents & (POLLIN | POLLHUP)) != 0) {
                const auto n = ::read(in_fd, buf.data(), buf.size());
                if (n <= 0) {
                    input_open = false;
                    stream.shutdown_write();
                } else {
                    stream.write_all(ByteSpan(buf.data(), static_cast<std::size_t>(n)), far());
                }
            }
            if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        }
        const auto n = stream.read_some(buf.data(), buf.size(), far());
        if (n == 0) return;
        for (std::size_t done = 0; done < n;) {
            const auto w = ::write(out_fd, buf.data() + done, n - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) throw Error(Errc::io, fmt::format("write: {}", errno_message(errno)));
            done += static_cast<std::size_t>(w);
        }
    }
}

Session connect(const ClientOptions& options) {
    check_options(options);
    auto impl = std::make_unique<Session::Impl>();
    auto& o = impl->outcome;
    Steps steps(o);
    impl->host = options.host;
    const auto server_name = options.server_name.empty() ? options.host : options.server_name;

    auto start = Clock::now();
    io::Fd fd;
    try {
        fd = io::tcp_connect(options.host, options.port, start + options.connect_timeout);
    } catch (const Error& e) {
        o.network_error = true;
        steps.add("tcp_connect", false, e.what());
        return Session(std::move(impl));
    }
    o.timings.connect_ms = io::ms_since(start);
    steps.add("tcp_connect", true, fmt::format("{}:{}", options.host, options.port));

    impl->ctx = client_context(options);
    io::SslPtr ssl{SSL_new(impl->ctx.get())};
    if (!ssl || SSL_set_fd(ssl.get(), fd.get()) != 1) ossl::fail("SSL_new");
    // SSL_set_tlsext_host_name is a macro with a C cast; this is its expansion.
    if (!is_ip_literal(server_name) && SSL_ctrl(ssl.get(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                                                const_cast<char*>(server_name.c_str())) != 1) {
        ossl::fail("SNI");
    }
    if (!options.insecure_skip_tls_verify && !options.ra_tls) {
        auto* param = SSL_get0_param(ssl.get());
        const int ok = is_ip_literal(server_name) ? X509_VERIFY_PARAM_set1_ip_asc(param, server_name.c_str())
                                                  : X509_VERIFY_PARAM_set1_host(param, server_name.c_str(), 0);
        if (ok != 1) throw Error(Errc::invalid_argument, fmt::format("bad server name \"{}\"", server_name));
    }
    impl->stream = std::make_unique<io::TlsStream>(std::move(fd), std::move(ssl));
    auto& stream = *impl->stream;
    start = Clock::now();
    if (const auto error = stream.handshake(false, start + options.timeout)) {
        steps.add("tls_handshake", false,
                  handshake_advice(*error, stream.ssl(), !options.ra_tls && !options.insecure_skip_tls_verify));
        impl->stream.reset();
        return Session(std::move(impl));
    }
    o.timings.handshake_ms = io::ms_since(start);
    o.tls_version = SSL_get_version(stream.ssl());
    o.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(stream.ssl()));
    o.peer_certificate_validated = !options.insecure_skip_tls_verify && !options.ra_tls;
    o.ra_tls = options.ra_tls;
    ossl::X509Ptr peer{SSL_get1_peer_certificate(stream.ssl())};
    if (!peer) ossl::fail("the server sent no certificate");
    o.peer_certificate_sha256 = to_hex(sha256(ossl::cert_der(peer.get())));
    steps.add("tls_handshake", true,
              fmt::format("{} {}, certificate {}", o.tls_version, o.cipher,
                          options.ra_tls ? "not validated by a CA (RA-TLS: its quote vouches for it)"
                          : options.insecure_skip_tls_verify ? "NOT validated (--insecure-skip-tls-verify)"
                                                             : "validated for " + server_name));
    if (!steps.add("tls_version", SSL_version(stream.ssl()) == TLS1_3_VERSION, o.tls_version)) {
        impl->stream.reset();
        return Session(std::move(impl));
    }
    if (options.ra_tls) {
        start = Clock::now();
        const PeerAppraisalOptions appraisal{options.collateral, options.trust_root, options.at, options.policy};
        detail::appraise_ra_tls_peer(stream.ssl(), appraisal, "server", o, steps);
        o.timings.verify_ms = io::ms_since(start);
        o.verified = o.failed_step.empty();
        if (!o.verified) impl->stream.reset();
        return Session(std::move(impl));
    }

    const auto ekm = stream.export_ekm();
    Bytes nonce(kNonceSize);
    if (options.fixed_nonce) {
        nonce = *options.fixed_nonce;
    } else if (RAND_bytes(nonce.data(), static_cast<int>(nonce.size())) != 1) {
        ossl::fail("RAND_bytes");
    }
    o.nonce_hex = to_hex(nonce);
    o.expected_report_data_hex = to_hex(session_report_data(nonce, ekm));

    start = Clock::now();
    const auto deadline = start + options.timeout;
    impl->reader = std::make_unique<io::HttpReader>(stream);
    std::optional<io::HttpMessage> response;
    try {
        const auto body = json{{"nonce_hex", o.nonce_hex}}.dump();
        stream.write_all(as_bytes(fmt::format("POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n"
                                              "Content-Length: {}\r\nConnection: keep-alive\r\n\r\n{}",
                                              options.quote_path, server_name, body.size(), body)),
                         deadline);
        response = impl->reader->read(options.max_response, deadline);
        if (!response) throw Error(Errc::io, "the server closed the connection without answering");
    } catch (const Error& e) {
        steps.add("quote_request", false, fmt::format("POST {}: {}", options.quote_path, e.what()));
        impl->stream.reset();
        return Session(std::move(impl));
    }
    steps.add("quote_request", true, fmt::format("POST {}: {} bytes", options.quote_path, response->body.size()));
    detail::QuoteReply reply;
    try {
        reply = detail::parse_quote_reply(*response);
    } catch (const Error& e) {
        steps.add("quote_response", false, e.what());
        impl->stream.reset();
        return Session(std::move(impl));
    }
    o.timings.quote_fetch_ms = io::ms_since(start);

    start = Clock::now();
    check_quote(options, reply, o, steps);
    o.timings.verify_ms = io::ms_since(start);
    o.verified = o.failed_step.empty();
    if (!o.verified) impl->stream.reset();
    return Session(std::move(impl));
}

}  // namespace tdxkit::atls
