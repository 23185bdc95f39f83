#include "support/http_client.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tdxkit::test {
namespace {

using Clock = std::chrono::steady_clock;

bool iequal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

int remaining_ms(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 1'000'000));
}

}  // namespace

std::string HttpResponse::header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
        if (iequal(n, name)) return v;
    }
    return {};
}

std::string format_request(std::string_view method, std::string_view path, std::string_view body,
                           std::string_view extra_headers) {
    std::string out;
    out.reserve(128 + extra_headers.size() + body.size());
    out.append(method).append(" ").append(path).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    if (!body.empty() || method == "POST" || method == "PUT") {
        out.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
    }
    out.append(extra_headers).append("\r\n").append(body);
    return out;
}

std::optional<HttpResponse> ResponseParser::next() {
    const auto end = buffer_.find("\r\n\r\n");
    if (end == std::string::npos) return std::nullopt;
    HttpResponse r;
    const std::string_view head(buffer_.data(), end);
    const auto line_end = head.find("\r\n");
    const auto status_line = head.substr(0, line_end);
    if (status_line.rfind("HTTP/1.", 0) != 0 || status_line.size() < 12) {
        throw std::runtime_error("not an HTTP/1.x status line: " + std::string(status_line.substr(0, 80)));
    }
    r.status = std::stoi(std::string(status_line.substr(9, 3)));
    std::optional<std::size_t> length;
    std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
        auto eol = head.find("\r\n", pos);
        if (eol == std::string_view::npos) eol = head.size();
        const auto line = head.substr(pos, eol - pos);
        const auto colon = line.find(':');
        if (colon == std::string_view::npos) throw std::runtime_error("bad header line: " + std::string(line));
        auto value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
        r.headers.emplace_back(std::string(line.substr(0, colon)), std::string(value));
        if (iequal(r.headers.back().first, "Transfer-Encoding")) {
            throw std::runtime_error("chunked responses are not supported by the test client");
        }
        if (iequal(r.headers.back().first, "Content-Length")) length = std::stoull(r.headers.back().second);
        pos = eol + 2;
    }
    const bool bodiless = r.status / 100 == 1 || r.status == 204 || r.status == 304;
    if (!length && !bodiless) throw std::runtime_error("a response without Content-Length");
    const std::size_t body_size = bodiless ? 0 : *length;
    if (buffer_.size() < end + 4 + body_size) return std::nullopt;
    r.body = buffer_.substr(end + 4, body_size);
    buffer_.erase(0, end + 4 + body_size);
    return r;
}

HttpConnection::HttpConnection(std::uint16_t port, std::chrono::milliseconds timeout) : timeout_(timeout) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
        const int err = errno;
        ::close(fd_);
        fd_ = -1;
        throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(err));
    }
    // Requests are small and latency is measured: no Nagle delay between header and body writes.
    const int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

HttpConnection::~HttpConnection() {
    if (fd_ >= 0) ::close(fd_);
}

HttpConnection::HttpConnection(HttpConnection&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)), timeout_(other.timeout_), closed_(other.closed_),
      parser_(std::move(other.parser_)) {}

HttpConnection& HttpConnection::operator=(HttpConnection&& other) noexcept {
    if (this != &other) {
        if (fd_ >= 0) ::close(fd_);
        fd_ = std::exchange(other.fd_, -1);
        timeout_ = other.timeout_;
        closed_ = other.closed_;
        parser_ = std::move(other.parser_);
    }
    return *this;
}

bool HttpConnection::send(std::string_view bytes) {
    const auto deadline = Clock::now() + timeout_;
    while (!bytes.empty()) {
        const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{fd_, POLLOUT, 0};
            if (::poll(&p, 1, remaining_ms(deadline)) <= 0) return false;
            continue;
        }
        closed_ = true;  // EPIPE or ECONNRESET: the server closed
        return false;
    }
    return true;
}

std::optional<HttpResponse> HttpConnection::read_response() {
    const auto deadline = Clock::now() + timeout_;
    char buffer[16384];
    for (;;) {
        if (auto r = parser_.next()) return r;
        if (closed_) return std::nullopt;
        pollfd p{fd_, POLLIN, 0};
        const int ready = ::poll(&p, 1, remaining_ms(deadline));
        if (ready == 0) return std::nullopt;
        if (ready < 0) {
            if (errno == EINTR) continue;
            return std::nullopt;
        }
        const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n > 0) {
            parser_.feed(std::string_view(buffer, static_cast<std::size_t>(n)));
        } else if (n == 0 || errno != EINTR) {
            closed_ = true;
        }
    }
}

HttpResponse HttpConnection::request(std::string_view method, std::string_view path, std::string_view body,
                                     std::string_view extra_headers) {
    if (!send(format_request(method, path, body, extra_headers))) {
        throw std::runtime_error("the server closed the connection before " + std::string(path) + " was sent");
    }
    auto r = read_response();
    if (!r) {
        throw std::runtime_error(std::string(closed_ ? "the server closed the connection" : "no answer in time") +
                                 " for " + std::string(method) + " " + std::string(path) + " (" +
                                 std::to_string(parser_.buffered()) + " bytes of a response)");
    }
    return *r;
}

bool HttpConnection::wait_closed(std::chrono::milliseconds limit) {
    const auto deadline = Clock::now() + limit;
    char buffer[4096];
    while (!closed_) {
        pollfd p{fd_, POLLIN, 0};
        const int ready = ::poll(&p, 1, remaining_ms(deadline));
        if (ready == 0) return false;
        if (ready < 0 && errno == EINTR) continue;
        const auto n = ::recv(fd_, buffer, sizeof buffer, 0);
        if (n == 0 || (n < 0 && errno != EINTR)) closed_ = true;
    }
    return true;
}

std::optional<HttpConnection> try_connect(std::uint16_t port, std::chrono::milliseconds timeout) {
    try {
        return HttpConnection(port, timeout);
    } catch (const std::runtime_error&) {
        return std::nullopt;
    }
}

std::optional<double> metric(std::string_view text, std::string_view name, std::string_view labels) {
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        const auto line = text.substr(pos, eol - pos);
        pos = eol + 1;
        if (line.empty() || line.front() == '#' || line.substr(0, name.size()) != name) continue;
        const auto rest = line.substr(name.size());
        if (rest.substr(0, labels.size()) != labels || rest.size() <= labels.size() || rest[labels.size()] != ' ') {
            continue;
        }
        return std::stod(std::string(rest.substr(labels.size() + 1)));
    }
    return std::nullopt;
}

}  // namespace tdxkit::test
