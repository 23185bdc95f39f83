#pragma once

// A small HTTP/1.1 client for the service tests and the serve benchmark: raw loopback sockets,
// keep-alive, Content-Length bodies. It never hides what the server did: a close, a partial answer
// or a timeout is reported as such, so a test can tell "refused" from "answered" from "lost".

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tdxkit::test {

struct HttpResponse {
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;  // as received, in order
    std::string body;
    // The value of the first header of that name (case-insensitive), or "" when absent.
    [[nodiscard]] std::string header(std::string_view name) const;
};

// One request on the wire: "METHOD PATH HTTP/1.1", Host, Content-Length when there is a body or the
// method is POST/PUT, then `extra_headers` (each "Name: value\r\n"), then the body.
[[nodiscard]] std::string format_request(std::string_view method, std::string_view path, std::string_view body = {},
                                         std::string_view extra_headers = {});

// Incremental response parser: feed it the bytes as they arrive; it yields each complete response.
// Only Content-Length framing (and none for 1xx/204/304); anything else throws std::runtime_error.
class ResponseParser {
public:
    void feed(std::string_view bytes) { buffer_.append(bytes); }
    // The next complete response, removed from the buffer; nullopt while incomplete.
    [[nodiscard]] std::optional<HttpResponse> next();
    [[nodiscard]] bool empty() const noexcept { return buffer_.empty(); }
    [[nodiscard]] std::size_t buffered() const noexcept { return buffer_.size(); }

private:
    std::string buffer_;
};

// A blocking connection to 127.0.0.1:port. Every operation is bounded by `timeout` (default 30 s), so a
// server that never answers fails the test instead of hanging it.
class HttpConnection {
public:
    // Throws std::runtime_error when the connection cannot be made.
    explicit HttpConnection(std::uint16_t port, std::chrono::milliseconds timeout = std::chrono::seconds(30));
    ~HttpConnection();
    HttpConnection(const HttpConnection&) = delete;
    HttpConnection& operator=(const HttpConnection&) = delete;
    HttpConnection(HttpConnection&& other) noexcept;
    HttpConnection& operator=(HttpConnection&& other) noexcept;

    // Sends the request and reads its response. Throws std::runtime_error when the server closes the
    // connection or the timeout passes before the whole response is read.
    HttpResponse request(std::string_view method, std::string_view path, std::string_view body = {},
                         std::string_view extra_headers = {});
    // Writes raw bytes (a slow client, a partial request). False when the server has closed or reset the
    // connection.
    bool send(std::string_view bytes);
    // Reads until one complete response; nullopt when the server closes the connection first (with
    // `closed()` then true) or the timeout passes.
    std::optional<HttpResponse> read_response();
    // Waits up to `limit` for the server to close the connection (EOF or reset), discarding anything
    // read. True if it did.
    bool wait_closed(std::chrono::milliseconds limit);
    [[nodiscard]] bool closed() const noexcept { return closed_; }
    // Bytes of a response read but not yet complete: not 0 after a close means a response was cut.
    [[nodiscard]] std::size_t pending_bytes() const noexcept { return parser_.buffered(); }
    [[nodiscard]] int fd() const noexcept { return fd_; }

private:
    int fd_ = -1;
    std::chrono::milliseconds timeout_;
    bool closed_ = false;
    ResponseParser parser_;
};

// Connects, or returns nullopt when the connection is refused or reset at once.
[[nodiscard]] std::optional<HttpConnection> try_connect(std::uint16_t port,
                                                        std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The value of the unlabelled Prometheus sample `name` ("tdxkit_collateral_fetches_total 1"), or
// the sample whose labels are exactly `labels` ("{endpoint=\"/verify\",status=\"200\"}"); nullopt if absent.
[[nodiscard]] std::optional<double> metric(std::string_view text, std::string_view name, std::string_view labels = {});

}  // namespace tdxkit::test
