// The attested-TLS server: answers POST /tdx_quote with a quote over SHA-512(nonce || EKM of the
// requesting session) in shade's response format, and relays every other request to an upstream.

#include <condition_variable>
#include <ctime>
#include <mutex>
#include <thread>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <openssl/pem.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "atls/io.hpp"
#include "atls/messages.hpp"
#include "atls/ratls_peer.hpp"
#include "core/json.hpp"
#include "crypto/ossl.hpp"
#include "tdxkit/atls.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit::atls {

std::string detail::request_target(const io::HttpMessage& req, std::string& method) {
    const auto sp1 = req.start_line.find(' ');
    const auto sp2 = req.start_line.find(' ', sp1 == std::string::npos ? sp1 : sp1 + 1);
    if (sp1 == std::string::npos || sp2 == std::string::npos ||
        !req.start_line.substr(sp2 + 1).starts_with("HTTP/1.")) {
        throw Error(Errc::malformed, "bad HTTP request line");
    }
    method = req.start_line.substr(0, sp1);
    return req.start_line.substr(sp1 + 1, sp2 - sp1 - 1);
}

Bytes detail::parse_nonce(const std::string& body) {
    const auto doc = tdxkit::detail::parse_json(body, "the request body");
    const auto it = doc.is_object() ? doc.find("nonce_hex") : doc.end();
    if (it == doc.end() || !it->is_string()) throw Error(Errc::malformed, "the body has no string \"nonce_hex\"");
    const auto& hex = it->get_ref<const std::string&>();
    const bool shape = hex.size() == 2 * kNonceSize && std::all_of(hex.begin(), hex.end(), [](char c) {
                           return std::isxdigit(static_cast<unsigned char>(c)) != 0;
                       });
    if (!shape) throw Error(Errc::malformed, "nonce_hex must be exactly 64 hex characters");
    return from_hex(hex, "nonce_hex");
}

namespace {

using io::Clock;
using nlohmann::json;

// Upstream answers are relayed whole; an application that needs more should stream directly.
constexpr std::size_t kMaxUpstreamResponse = 64 * 1024 * 1024;

io::SslCtxPtr server_context(const ServerOptions& options) {
    io::SslCtxPtr ctx{SSL_CTX_new(TLS_server_method())};
    if (!ctx) ossl::fail("SSL_CTX_new");
    if (SSL_CTX_set_min_proto_version(ctx.get(), TLS1_3_VERSION) != 1) ossl::fail("SSL_CTX_set_min_proto_version");
    io::use_certificate_and_key(ctx.get(), options.cert_file, options.key_file, options.cert_pem,
                                options.key_pem.view(), "server");
    if (options.client_ra_tls) {
        // Every client must present a certificate, and any chain is accepted here: no CA vouches for an
        // RA-TLS certificate, its quote does, appraised right after the handshake (serve_connection).
        // The handshake itself proves the client holds the certificate's key (its CertificateVerify).
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                           [](int, X509_STORE_CTX*) { return 1; });
    }
    return ctx;
}

struct Reply {
    int status = 200;
    std::string body;
};

const char* reason_phrase(int status) {
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 502: return "Bad Gateway";
    default: return "Internal Server Error";
    }
}

Reply error_reply(int status, const std::string& message) {
    return {status, json{{"detail", {{"success", false}, {"error", message}, {"quote_type", "tdx"}}}}.dump()};
}

class Connection {
public:
    Connection(const ServerOptions& options, io::Stream& stream, io::TlsStream* tls, std::string peer)
        : options_(options), stream_(stream), tls_(tls), peer_(std::move(peer)), reader_(stream) {}

    void run() {
        while (true) {
            std::optional<io::HttpMessage> req;
            try {
                req = reader_.read(options_.max_request, Clock::now() + options_.io_timeout);
            } catch (const Error& e) {
                if (e.code() == Errc::malformed) send(error_reply(400, e.what()), false, "-", "-");
                return;
            }
            if (!req) return;
            if (!handle(*req)) return;
        }
    }

private:
    // Returns whether the connection stays open.
    bool handle(const io::HttpMessage& req) {
        std::string method;
        std::string target;
        try {
            target = detail::request_target(req, method);
        } catch (const Error& e) {
            send(error_reply(400, e.what()), false, "-", "-");
            return false;
        }
        // Without a quote source (RA-TLS: the certificate is the evidence) the path is an ordinary one.
        if (options_.quote && target == options_.quote_path) {
            const bool keep = req.keep_alive();
            send(method == "POST" ? quote_reply(req) : error_reply(405, "use POST"), keep, method, target);
            return keep;
        }
        if (options_.upstream.empty()) {
            const bool keep = req.keep_alive();
            send(error_reply(404, "no such endpoint"), keep, method, target);
            return keep;
        }
        return relay(req, method, target);
    }

    Reply quote_reply(const io::HttpMessage& req) {
        Bytes ekm;
        if (options_.ekm_header_mode) {
            const auto header = req.header(kEkmHeader);
            if (!header) return error_reply(400, fmt::format("missing {} header", kEkmHeader));
            try {
                ekm = check_ekm_header(*header, options_.ekm_hmac_key.view());
            } catch (const Error& e) {
                return error_reply(e.code() == Errc::invalid_argument ? 403 : 400, e.what());
            }
        } else {
            ekm = tls_->export_ekm();
        }
        Bytes nonce;
        try {
            nonce = detail::parse_nonce(req.body);
        } catch (const Error& e) {
            return error_reply(400, e.what());
        }
        const auto report_data = session_report_data(nonce, ekm);
        try {
            const auto answer = options_.quote(report_data);
            return {200, json{{"success", true},
                              {"quote",
                               {{"quote", answer.quote_hex},
                                {"event_log", answer.event_log},
                                {"report_data", to_hex(report_data)},
                                {"vm_config", answer.vm_config}}},
                              {"timestamp", std::to_string(std::time(nullptr))},
                              {"quote_type", "tdx"},
                              {"error", nullptr}}
                             .dump()};
        } catch (const std::exception& e) {
            return error_reply(500, fmt::format("quote generation failed: {}", e.what()));
        }
    }

    // One upstream connection per request, closed by the upstream after its answer.
    bool relay(const io::HttpMessage& req, const std::string& method, const std::string& target) {
        const auto deadline = Clock::now() + options_.io_timeout;
        std::string raw;
        try {
            const auto [host, port] = split_host_port(options_.upstream, "--upstream");
            io::PlainStream upstream(io::tcp_connect(host, port, deadline));
            std::string head = req.start_line + "\r\n";
            for (const auto& [k, v] : req.headers) {
                if (k.size() == 10 && strncasecmp(k.c_str(), "connection", 10) == 0) continue;
                head += fmt::format("{}: {}\r\n", k, v);
            }
            head += "Connection: close\r\n\r\n";
            upstream.write_all(as_bytes(head + req.body), deadline);
            std::array<std::uint8_t, 16384> buf{};
            while (const auto n = upstream.read_some(buf.data(), buf.size(), deadline)) {
                raw.append(reinterpret_cast<const char*>(buf.data()), n);
                if (raw.size() > kMaxUpstreamResponse)
                    throw Error(Errc::malformed, "the upstream response is too large");
            }
        } catch (const Error& e) {
            send(error_reply(502, fmt::format("upstream {}: {}", options_.upstream, e.what())), false, method, target);
            return false;
        }
        stream_.write_all(as_bytes(raw), deadline);
        log(method, target, "relayed");
        // Without a length, the end of the answer is the end of the connection.
        const auto head = std::string_view(raw).substr(0, raw.find("\r\n\r\n"));
        const bool has_length = head.find("\r\nContent-Length:") != std::string_view::npos ||
                                head.find("\r\ncontent-length:") != std::string_view::npos;
        return has_length && req.keep_alive();
    }

    void send(const Reply& reply, bool keep_alive, const std::string& method, const std::string& target) {
        try {
            stream_.write_all(as_bytes(io::format_http_response(reply.status, reason_phrase(reply.status),
                                                                "application/json", reply.body, keep_alive)),
                              Clock::now() + options_.io_timeout);
        } catch (const Error&) {
            // The peer went away; nothing else to tell it.
        }
        log(method, target, std::to_string(reply.status));
    }

    void log(const std::string& method, const std::string& target, const std::string& result) {
        if (options_.log) options_.log(fmt::format("{} {} {} -> {}", peer_, method, target.substr(0, 200), result));
    }

    const ServerOptions& options_;
    io::Stream& stream_;
    io::TlsStream* tls_;
    std::string peer_;
    io::HttpReader reader_;
};

std::string peer_name(const sockaddr_storage& ss) {
    char host[INET6_ADDRSTRLEN] = {};
    std::uint16_t port = 0;
    if (ss.ss_family == AF_INET6) {
        const auto* a = reinterpret_cast<const sockaddr_in6*>(&ss);
        inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
        port = ntohs(a->sin6_port);
        return fmt::format("[{}]:{}", host, port);
    }
    const auto* a = reinterpret_cast<const sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    return fmt::format("{}:{}", host, ntohs(a->sin_port));
}

// Mutual RA-TLS: appraises the client's certificate before any of its requests is read. A rejected
// client is told why (HTTP 403 naming the failed step: its own evidence, nothing of the server's) and
// disconnected.
bool client_attested(const ServerOptions& options, io::TlsStream& stream, const std::string& peer) {
    Outcome client;
    detail::Steps steps(client);
    detail::appraise_ra_tls_peer(stream.ssl(), *options.client_ra_tls, "client", client, steps);
    if (client.failed_step.empty()) {
        if (options.log) {
            options.log(
                fmt::format("{} client RA-TLS certificate verified: \"{:.128}\", TCB status {}", peer,
                            client.evidence->certificate->subject,
                            client.report->tcb_status ? tcb_status_name(*client.report->tcb_status) : "unknown"));
        }
        return true;
    }
    const auto reason = fmt::format("client RA-TLS certificate rejected: {}: {}", client.failed_step, client.reason);
    if (options.log) options.log(fmt::format("{} {}", peer, reason));
    const auto deadline = Clock::now() + std::chrono::seconds(2);
    try {
        const auto reply = error_reply(403, reason);
        stream.write_all(
            as_bytes(io::format_http_response(403, reason_phrase(403), "application/json", reply.body, false)),
            deadline);
        stream.shutdown_write();
        // Reads what the client already sent until it closes, so that closing does not reset the
        // connection (a TCP RST) before the client has read the answer.
        std::array<std::uint8_t, 4096> discard{};
        while (stream.read_some(discard.data(), discard.size(), deadline) > 0) {
        }
    } catch (const Error&) {
        // The client went away or stayed silent: it is disconnected either way.
    }
    return false;
}

void serve_connection(const ServerOptions& options, SSL_CTX* ctx, io::Fd fd, const std::string& peer) {
    try {
        if (options.ekm_header_mode) {
            io::PlainStream stream(std::move(fd));
            Connection(options, stream, nullptr, peer).run();
            return;
        }
        io::SslPtr ssl{SSL_new(ctx)};
        if (!ssl || SSL_set_fd(ssl.get(), fd.get()) != 1) ossl::fail("SSL_new");
        io::TlsStream stream(std::move(fd), std::move(ssl));
        if (const auto error = stream.handshake(true, Clock::now() + options.io_timeout)) {
            if (options.log) options.log(fmt::format("{} TLS handshake failed: {}", peer, *error));
            return;
        }
        if (options.client_ra_tls && !client_attested(options, stream, peer)) return;
        Connection(options, stream, &stream, peer).run();
        stream.shutdown_write();
    } catch (const std::exception& e) {
        if (options.log) options.log(fmt::format("{} connection error: {}", peer, e.what()));
    }
}

}  // namespace

void serve(const ServerOptions& options, const std::atomic<bool>& stop) {
    if (!options.quote && !options.ra_tls) throw Error(Errc::invalid_argument, "atls::serve: no quote source");
    if (options.ekm_header_mode && options.ekm_hmac_key.empty()) {
        throw Error(Errc::invalid_argument, "--ekm-header needs a non-empty HMAC key");
    }
    if (options.ekm_header_mode && (options.ra_tls || options.client_ra_tls)) {
        throw Error(Errc::invalid_argument,
                    "--ekm-header serves plain HTTP behind a TLS proxy: RA-TLS needs this server's own TLS");
    }
    if (options.client_ra_tls && !options.client_ra_tls->collateral) {
        throw Error(Errc::invalid_argument, "atls::serve: no collateral source for the clients' RA-TLS certificates");
    }
    const auto ctx = options.ekm_header_mode ? io::SslCtxPtr{} : server_context(options);
    std::uint16_t port = 0;
    const auto listener = io::tcp_listen(options.listen_host, options.listen_port, port);
    if (options.on_listening) options.on_listening(options.listen_host, port);

    std::mutex mutex;
    std::condition_variable idle;
    std::size_t active = 0;
    while (!stop.load()) {
        if (!io::wait_fd(listener.get(), false, Clock::now() + std::chrono::milliseconds(200))) continue;
        sockaddr_storage ss{};
        socklen_t len = sizeof ss;
        io::Fd fd(::accept4(listener.get(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_CLOEXEC | SOCK_NONBLOCK));
        if (fd.get() < 0) continue;
        // Replies go out in several small writes (TLS records); without this, Nagle and the peer's
        // delayed ACK add about 40 ms to every quote request.
        const int one = 1;
        setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        const auto peer = peer_name(ss);
        {
            const std::lock_guard lock(mutex);
            if (active >= options.max_connections) {
                if (options.log) options.log(fmt::format("{} refused: {} connections open", peer, active));
                continue;
            }
            ++active;
        }
        std::thread([&, peer, fd = std::move(fd)]() mutable {
            serve_connection(options, ctx.get(), std::move(fd), peer);
            const std::lock_guard lock(mutex);
            --active;
            idle.notify_all();
        }).detach();
    }
    std::unique_lock lock(mutex);
    idle.wait(lock, [&] { return active == 0; });
}

}  // namespace tdxkit::atls
