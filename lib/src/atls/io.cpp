#include "atls/io.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "core/errno_message.hpp"
#include "tdxkit/atls.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit::atls::io {

Fd& Fd::operator=(Fd&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
    }
    return *this;
}

Fd::~Fd() {
    if (fd_ >= 0) ::close(fd_);
}

double ms_since(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

namespace {

struct AddrInfoDeleter {
    void operator()(addrinfo* a) const noexcept { freeaddrinfo(a); }
};
using AddrInfoPtr = std::unique_ptr<addrinfo, AddrInfoDeleter>;

AddrInfoPtr resolve(const std::string& host, std::uint16_t port, bool passive) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE : AI_ADDRCONFIG;
    addrinfo* res = nullptr;
    const auto service = std::to_string(port);
    if (const int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &res); rc != 0) {
        throw Error(Errc::io, fmt::format("cannot resolve {}: {}", host, gai_strerror(rc)));
    }
    return AddrInfoPtr(res);
}

void set_nonblocking(int fd) {
    const int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) {
        throw Error(Errc::io, fmt::format("fcntl(O_NONBLOCK): {}", errno_message(errno)));
    }
}

int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 60'000));
}

}  // namespace

bool wait_fd(int fd, bool for_write, Clock::time_point deadline) {
    while (true) {
        pollfd p{fd, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
        const int ms = remaining_ms(deadline);
        const int rc = ::poll(&p, 1, ms);
        if (rc > 0) return true;
        if (rc < 0 && errno != EINTR) return false;
        if (rc == 0 && Clock::now() >= deadline) return false;
    }
}

Fd tcp_connect(const std::string& host, std::uint16_t port, Clock::time_point deadline) {
    const auto addrs = resolve(host, port, false);
    std::string last_error = "no address";
    for (const addrinfo* a = addrs.get(); a != nullptr; a = a->ai_next) {
        Fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
        if (fd.get() < 0) {
            last_error = errno_message(errno);
            continue;
        }
        set_nonblocking(fd.get());
        if (::connect(fd.get(), a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            last_error = errno_message(errno);
            continue;
        }
        if (!wait_fd(fd.get(), true, deadline)) {
            last_error = "timed out";
            continue;
        }
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            last_error = errno_message(err);
            continue;
        }
        const int one = 1;
        setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        return fd;
    }
    throw Error(Errc::io, fmt::format("cannot connect to {}:{}: {}", host, port, last_error));
}

Fd tcp_listen(const std::string& host, std::uint16_t port, std::uint16_t& bound_port) {
    const auto addrs = resolve(host, port, true);
    const addrinfo* a = addrs.get();
    Fd fd(::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol));
    if (fd.get() < 0) throw Error(Errc::io, fmt::format("socket: {}", errno_message(errno)));
    const int one = 1;
    setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), a->ai_addr, a->ai_addrlen) != 0 || ::listen(fd.get(), 128) != 0) {
        throw Error(Errc::io, fmt::format("cannot listen on {}:{}: {}", host, port, errno_message(errno)));
    }
    set_nonblocking(fd.get());
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len);
    bound_port = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                                : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    return fd;
}

std::size_t PlainStream::read_some(std::uint8_t* out, std::size_t size, Clock::time_point deadline) {
    while (true) {
        const auto n = ::recv(fd_.get(), out, size, 0);
        if (n >= 0) return static_cast<std::size_t>(n);
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            throw Error(Errc::io, fmt::format("recv: {}", errno_message(errno)));
        if (!wait_fd(fd_.get(), false, deadline)) throw Error(Errc::io, "timed out waiting for the peer");
    }
}

void PlainStream::write_all(ByteSpan data, Clock::time_point deadline) {
    std::size_t done = 0;
    while (done < data.size()) {
        const auto n = ::send(fd_.get(), data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n >= 0) {
            done += static_cast<std::size_t>(n);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            throw Error(Errc::io, fmt::format("send: {}", errno_message(errno)));
        if (!wait_fd(fd_.get(), true, deadline)) throw Error(Errc::io, "timed out writing to the peer");
    }
}

template <class Op>
int TlsStream::drive(Op op, Clock::time_point deadline, std::string_view what) {
    while (true) {
        ERR_clear_error();
        const int rc = op();
        if (rc > 0) return rc;
        const int err = SSL_get_error(ssl_.get(), rc);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) {
            if (!wait_fd(fd_.get(), err == SSL_ERROR_WANT_WRITE, deadline)) {
                throw Error(Errc::io, fmt::format("TLS {}: timed out", what));
            }
            continue;
        }
        if (err == SSL_ERROR_ZERO_RETURN) return 0;
        if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0) {
            // The peer closed the TCP connection without close_notify.
            if (errno == 0 || errno == ECONNRESET || errno == EPIPE) return 0;
            throw Error(Errc::io, fmt::format("TLS {}: {}", what, errno_message(errno)));
        }
        throw Error(Errc::io, fmt::format("TLS {}: {}", what, ossl::drain_errors()));
    }
}

std::optional<std::string> TlsStream::handshake(bool as_server, Clock::time_point deadline) {
    try {
        const int rc =
            drive([&] { return as_server ? SSL_accept(ssl_.get()) : SSL_connect(ssl_.get()); }, deadline, "handshake");
        if (rc <= 0) return std::string("the peer closed the connection during the handshake");
    } catch (const Error& e) {
        return std::string(e.what());
    }
    return std::nullopt;
}

std::size_t TlsStream::read_some(std::uint8_t* out, std::size_t size, Clock::time_point deadline) {
    return static_cast<std::size_t>(
        drive([&] { return SSL_read(ssl_.get(), out, static_cast<int>(std::min<std::size_t>(size, 1 << 30))); },
              deadline, "read"));
}

void TlsStream::write_all(ByteSpan data, Clock::time_point deadline) {
    std::size_t done = 0;
    while (done < data.size()) {
        const auto chunk = static_cast<int>(std::min<std::size_t>(data.size() - done, 1 << 20));
        const int n = drive([&] { return SSL_write(ssl_.get(), data.data() + done, chunk); }, deadline, "write");
        if (n <= 0) throw Error(Errc::io, "TLS write: the peer closed the connection");
        done += static_cast<std::size_t>(n);
    }
}

void TlsStream::shutdown_write() noexcept {
    if (!shut_) {
        shut_ = true;
        ERR_clear_error();
        SSL_shutdown(ssl_.get());
    }
}

Bytes TlsStream::export_ekm() const {
    Bytes ekm(kEkmSize);
    if (SSL_export_keying_material(ssl_.get(), ekm.data(), ekm.size(), kEkmLabel.data(), kEkmLabel.size(), nullptr, 0,
                                   0) != 1) {
        ossl::fail("SSL_export_keying_material");
    }
    return ekm;
}

namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

constexpr std::size_t kMaxHead = 16 * 1024;

// RFC 9110 tchar.
bool is_token_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) != 0 || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string printable(std::string_view text) {
    std::string out;
    for (const char c : text) {
        const auto u = static_cast<unsigned char>(c);
        out += u >= 0x20 && u < 0x7f ? std::string(1, c) : fmt::format("\\x{:02x}", u);
    }
    return out;
}

// Lines end in CRLF and nowhere else. A bare LF or CR, or a NUL, inside a header is where parsers
// disagree (one splits, another does not), which the relay would otherwise pass on: request
// smuggling and header injection into the upstream. Control characters other than tab likewise.
void check_head_framing(std::string_view head) {
    for (std::size_t i = 0; i < head.size(); ++i) {
        const auto c = static_cast<unsigned char>(head[i]);
        const bool crlf =
            (c == '\r' && i + 1 < head.size() && head[i + 1] == '\n') || (c == '\n' && i > 0 && head[i - 1] == '\r');
        if ((c < 0x20 && c != '\t' && !crlf) || c == 0x7f) {
            const auto line_start = head.rfind('\n', i == 0 ? 0 : i - 1);
            const auto from = line_start == std::string_view::npos || i == 0 ? 0 : line_start + 1;
            throw Error(Errc::malformed,
                        fmt::format("HTTP header with a bare {} at byte {} (\"{}\"): lines must end in CRLF",
                                    c == '\n'   ? "LF"
                                    : c == '\r' ? "CR"
                                                : fmt::format("control byte {:#04x}", c),
                                    i, printable(head.substr(from, 80))));
        }
    }
}

}  // namespace

std::optional<std::string> HttpMessage::header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
        if (iequals(k, name)) return v;
    }
    return std::nullopt;
}

bool HttpMessage::keep_alive() const {
    const auto c = header("Connection");
    return !(c && iequals(trim(*c), "close"));
}

std::optional<HttpMessage> HttpReader::read(std::size_t max_body, Clock::time_point deadline) {
    std::array<std::uint8_t, 16384> chunk{};
    const auto fill = [&] {
        const auto n = stream_.read_some(chunk.data(), chunk.size(), deadline);
        buffer_.append(reinterpret_cast<const char*>(chunk.data()), n);
        return n;
    };
    std::size_t head_end = 0;
    while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
        if (buffer_.size() > kMaxHead) {
            throw Error(Errc::malformed, fmt::format("HTTP header exceeds {} bytes", kMaxHead));
        }
        if (fill() == 0) {
            if (buffer_.empty()) return std::nullopt;
            throw Error(Errc::malformed, "the peer closed the connection in the middle of an HTTP header");
        }
    }
    if (head_end > kMaxHead) throw Error(Errc::malformed, fmt::format("HTTP header exceeds {} bytes", kMaxHead));
    HttpMessage msg;
    std::string_view head(buffer_.data(), head_end);
    check_head_framing(head);
    const auto first_end = head.find("\r\n");
    msg.start_line = std::string(head.substr(0, first_end));
    for (auto rest = first_end == std::string_view::npos ? std::string_view{} : head.substr(first_end + 2);
         !rest.empty();) {
        const auto eol = rest.find("\r\n");
        const auto line = rest.substr(0, eol);
        rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 2);
        const auto colon = line.find(':');
        // A name that is not a token ("Transfer-Encoding :", an obs-fold continuation line) is one
        // that another parser may read differently: refused rather than relayed.
        if (colon == std::string_view::npos || colon == 0 ||
            !std::all_of(line.begin(), line.begin() + static_cast<std::ptrdiff_t>(colon), is_token_char)) {
            throw Error(Errc::malformed, fmt::format("bad HTTP header line \"{}\"", printable(line.substr(0, 80))));
        }
        msg.headers.emplace_back(std::string(line.substr(0, colon)), std::string(trim(line.substr(colon + 1))));
    }
    if (std::count_if(msg.headers.begin(), msg.headers.end(), [](const auto& h) {
            return h.first.size() == 14 && strncasecmp(h.first.c_str(), "content-length", 14) == 0;
        }) > 1) {
        throw Error(Errc::malformed, "more than one Content-Length header");
    }
    if (msg.header("Transfer-Encoding")) {
        throw Error(Errc::malformed, "HTTP Transfer-Encoding is not supported: send a Content-Length body");
    }
    std::size_t length = 0;
    if (const auto cl = msg.header("Content-Length")) {
        const auto text = trim(*cl);
        const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), length);
        if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
            throw Error(Errc::malformed, fmt::format("bad Content-Length \"{}\"", text.substr(0, 40)));
        }
    }
    if (length > max_body) {
        throw Error(Errc::malformed, fmt::format("HTTP body of {} bytes exceeds the limit of {}", length, max_body));
    }
    buffer_.erase(0, head_end + 4);
    while (buffer_.size() < length) {
        if (fill() == 0) {
            throw Error(Errc::malformed, fmt::format("the peer closed the connection after {} of {} body bytes",
                                                     buffer_.size(), length));
        }
    }
    msg.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
    return msg;
}

void use_certificate_and_key(SSL_CTX* ctx, const std::string& cert_file, const std::string& key_file,
                             std::string_view cert_pem, ByteSpan key_pem, std::string_view what) {
    const bool in_memory = !cert_pem.empty();
    const auto cert_name = in_memory ? fmt::format("the {} certificate", what) : cert_file;
    const auto key_name = in_memory ? fmt::format("the {} private key", what) : key_file;
    if (in_memory) {
        const ossl::BioPtr bio{BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size()))};
        const ossl::X509Ptr leaf{bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr};
        if (!leaf || SSL_CTX_use_certificate(ctx, leaf.get()) != 1) {
            throw Error(Errc::io, fmt::format("cannot load {}: {}", cert_name, ossl::drain_errors()));
        }
        while (true) {
            const ossl::X509Ptr next{PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)};
            if (!next) {
                ERR_clear_error();  // the end of the PEM text
                break;
            }
            // SSL_CTX_add1_chain_cert is a macro with a C cast; this is its expansion.
            if (SSL_CTX_ctrl(ctx, SSL_CTRL_CHAIN_CERT, 1, next.get()) != 1) {
                throw Error(Errc::io, fmt::format("cannot load the chain of {}: {}", cert_name, ossl::drain_errors()));
            }
        }
    } else if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
        throw Error(Errc::io, fmt::format("cannot load the certificate chain {}: {}", cert_file, ossl::drain_errors()));
    }
    // Read into wiped memory and decoded from there (PEM_read_bio_PrivateKey decodes into OpenSSL's
    // secure heap); SSL_CTX_free releases the key, and OpenSSL clears it.
    constexpr std::size_t kMaxPrivateKeyFile = 1024 * 1024;
    const auto file = in_memory ? SecretBytes{} : read_secret_file(key_file, kMaxPrivateKeyFile, false);
    const auto pem = in_memory ? key_pem : file.view();
    const ossl::BioPtr bio{BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()))};
    const ossl::EvpPkeyPtr key{bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr) : nullptr};
    if (!key || SSL_CTX_use_PrivateKey(ctx, key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1) {
        throw Error(Errc::io, fmt::format("cannot load the private key {} (or it does not match {}): {}", key_name,
                                          cert_name, ossl::drain_errors()));
    }
}

std::string format_http_response(int status, std::string_view reason, std::string_view content_type,
                                 std::string_view body, bool keep_alive) {
    return fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n{}", status,
                       reason, content_type, body.size(), keep_alive ? "keep-alive" : "close", body);
}

}  // namespace tdxkit::atls::io

namespace tdxkit::atls {

std::pair<std::string, std::uint16_t> split_host_port(std::string_view text, std::string_view what) {
    std::string_view host;
    std::string_view port;
    if (text.starts_with('[')) {
        const auto close = text.find("]:");
        if (close == std::string_view::npos) {
            throw Error(Errc::invalid_argument, fmt::format("{} \"{}\": expected [IPv6]:PORT", what, text));
        }
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string_view::npos || text.find(':') != colon) {
            throw Error(Errc::invalid_argument, fmt::format("{} \"{}\": expected HOST:PORT", what, text));
        }
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (host.empty() || port.empty() || ec != std::errc{} || end != port.data() + port.size() || value > 65535) {
        throw Error(Errc::invalid_argument,
                    fmt::format("{} \"{}\": expected HOST:PORT with a port 0..65535", what, text));
    }
    return {std::string(host), static_cast<std::uint16_t>(value)};
}

}  // namespace tdxkit::atls
