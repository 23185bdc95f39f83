// HTTP/1.1 framing of aTLS messages (atls/io.hpp): what atls-serve relays upstream must be read the
// same way by every parser, so ambiguous framing is refused.

#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "atls/io.hpp"
#include "support/test_support.hpp"
#include "tdxkit/error.hpp"

using namespace tdxkit;
using atls::io::Clock;

namespace {

class MemoryStream final : public atls::io::Stream {
public:
    explicit MemoryStream(std::string data) : data_(std::move(data)) {}
    std::size_t read_some(std::uint8_t* out, std::size_t size, Clock::time_point) override {
        const auto n = std::min(size, data_.size() - pos_);
        std::copy_n(data_.begin() + static_cast<std::ptrdiff_t>(pos_), n, out);
        pos_ += n;
        return n;
    }
    void write_all(ByteSpan, Clock::time_point) override {}
    [[nodiscard]] int fd() const noexcept override { return -1; }

private:
    std::string data_;
    std::size_t pos_ = 0;
};

std::optional<atls::io::HttpMessage> read(const std::string& raw) {
    MemoryStream stream(raw);
    atls::io::HttpReader reader(stream);
    return reader.read(1024, Clock::now() + std::chrono::seconds(1));
}

std::string refusal(const std::string& raw) {
    try {
        (void)read(raw);
    } catch (const Error& e) {
        CHECK(e.code() == Errc::malformed);
        return e.what();
    }
    return "accepted";
}

}  // namespace

TEST_CASE("a well-framed request is read with its headers and body") {
    const auto msg = read("GET /x HTTP/1.1\r\nHost: a\r\nX-Tab:\tv \r\nContent-Length: 2\r\n\r\nhi");
    REQUIRE(msg);
    CHECK(msg->start_line == "GET /x HTTP/1.1");
    CHECK(msg->header("x-tab") == "v");
    CHECK(msg->body == "hi");
}

TEST_CASE("bare LF, bare CR and control bytes in the head are refused, not relayed") {
    CHECK(refusal("GET /x HTTP/1.1\r\nX-A: 1\nX-Evil: 2\r\n\r\n") ==
          "HTTP header with a bare LF at byte 23 (\"X-A: 1\\x0aX-Evil: 2\"): lines must end in CRLF");
    CHECK(refusal("GET /x HTTP/1.1\nHost: a\r\n\r\n").find("bare LF") != std::string::npos);
    CHECK(refusal("GET /x HTTP/1.1\r\nX-A: 1\rX-Evil: 2\r\n\r\n").find("bare CR") != std::string::npos);
    static constexpr char kNul[] = "GET /x HTTP/1.1\r\nX-A: 1\0a\r\n\r\n";
    CHECK(refusal(std::string(kNul, sizeof kNul - 1)).find("control byte 0x00") != std::string::npos);
}

TEST_CASE("header names must be tokens; Content-Length appears at most once") {
    CHECK(refusal("POST /x HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n").find("bad HTTP header line") == 0);
    CHECK(refusal("POST /x HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n").find("bad HTTP header line") == 0);
    CHECK(refusal("POST /x HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 1\r\n\r\nx") ==
          "more than one Content-Length header");
}
