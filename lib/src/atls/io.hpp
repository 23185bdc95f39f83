#pragma once

// Sockets, TLS 1.3 and a bounded HTTP/1.1 reader for attested TLS. Private to the library.
// Every socket is non-blocking; every wait is bounded by a deadline, so a slow or silent peer
// costs at most the configured timeout.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <openssl/ssl.h>

#include "crypto/ossl.hpp"
#include "tdxkit/bytes.hpp"

namespace tdxkit::atls::io {

using Clock = std::chrono::steady_clock;
using SslCtxPtr = ossl::Ptr<SSL_CTX, SSL_CTX_free>;
using SslPtr = ossl::Ptr<SSL, SSL_free>;

class Fd {
public:
    Fd() = default;
    explicit Fd(int fd) : fd_(fd) {}
    Fd(Fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    Fd& operator=(Fd&& other) noexcept;
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd();
    [[nodiscard]] int get() const noexcept { return fd_; }

private:
    int fd_ = -1;
};

// Error(io) naming the address and the reason (refused, unreachable, timed out, no such host).
Fd tcp_connect(const std::string& host, std::uint16_t port, Clock::time_point deadline);
Fd tcp_listen(const std::string& host, std::uint16_t port, std::uint16_t& bound_port);

// Waits until `fd` is readable (or writable); false at the deadline.
bool wait_fd(int fd, bool for_write, Clock::time_point deadline);

// A byte stream over plain TCP or TLS.
class Stream {
public:
    virtual ~Stream() = default;
    // 0 at end of stream; Error(io) at the deadline or on failure.
    virtual std::size_t read_some(std::uint8_t* out, std::size_t size, Clock::time_point deadline) = 0;
    virtual void write_all(ByteSpan data, Clock::time_point deadline) = 0;
    [[nodiscard]] virtual int fd() const noexcept = 0;
    // Buffered bytes that can be read without waiting on the socket.
    [[nodiscard]] virtual bool has_pending() const noexcept { return false; }
};

class PlainStream final : public Stream {
public:
    explicit PlainStream(Fd fd) : fd_(std::move(fd)) {}
    std::size_t read_some(std::uint8_t* out, std::size_t size, Clock::time_point deadline) override;
    void write_all(ByteSpan data, Clock::time_point deadline) override;
    [[nodiscard]] int fd() const noexcept override { return fd_.get(); }

private:
    Fd fd_;
};

class TlsStream final : public Stream {
public:
    TlsStream(Fd fd, SslPtr ssl) : fd_(std::move(fd)), ssl_(std::move(ssl)) {}
    // Runs the handshake; returns OpenSSL's error text on failure, nullopt on success.
    std::optional<std::string> handshake(bool as_server, Clock::time_point deadline);
    std::size_t read_some(std::uint8_t* out, std::size_t size, Clock::time_point deadline) override;
    void write_all(ByteSpan data, Clock::time_point deadline) override;
    [[nodiscard]] int fd() const noexcept override { return fd_.get(); }
    [[nodiscard]] bool has_pending() const noexcept override { return SSL_pending(ssl_.get()) > 0; }
    [[nodiscard]] SSL* ssl() const noexcept { return ssl_.get(); }
    // Sends close_notify once (best effort): the peer sees the end of our data.
    void shutdown_write() noexcept;
    // 32 bytes, label EXPORTER-Channel-Binding, no context.
    [[nodiscard]] Bytes export_ekm() const;

private:
    // Retries an SSL_* call while it wants the socket; returns its final result.
    template <class Op>
    int drive(Op op, Clock::time_point deadline, std::string_view what);

    Fd fd_;
    SslPtr ssl_;
    bool shut_ = false;
};

struct HttpMessage {
    std::string start_line;  // "POST /tdx_quote HTTP/1.1", "HTTP/1.1 200 OK"
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    [[nodiscard]] std::optional<std::string> header(std::string_view name) const;  // case-insensitive
    [[nodiscard]] bool keep_alive() const;
};

// Reads HTTP/1.1 messages with Content-Length bodies from a stream, keeping bytes that belong to the
// next message. Limits: 16 KiB of header, `max_body` of body. Error(malformed) for a bad message or
// an exceeded limit, Error(io) at the deadline; nullopt when the peer closed before a new message.
class HttpReader {
public:
    explicit HttpReader(Stream& stream) : stream_(stream) {}
    std::optional<HttpMessage> read(std::size_t max_body, Clock::time_point deadline);
    // Bytes already received past the last message.
    [[nodiscard]] bool has_buffered() const noexcept { return !buffer_.empty(); }

private:
    Stream& stream_;
    std::string buffer_;
};

// Installs a certificate chain (PEM, leaf first) and its private key in `ctx`: from `cert_pem` and
// `key_pem` when cert_pem is not empty, else from the files. The key is decoded from wiped memory.
// Error(io) when either cannot be read or loaded, or they do not match (naming the files, or
// `what`); Error(malformed) for a key file over 1 MiB.
void use_certificate_and_key(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file,
                             std::string_view cert_pem, ByteSpan key_pem, std::string_view what);

std::string format_http_response(int status, std::string_view reason, std::string_view content_type,
                                 std::string_view body, bool keep_alive);

double ms_since(Clock::time_point start);

}  // namespace tdxkit::atls::io
