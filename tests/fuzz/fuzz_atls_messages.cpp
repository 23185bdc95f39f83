// aTLS peer messages: HTTP/1.1 framing (both directions), the /tdx_quote response the client
// parses, and the request line and nonce the server parses.
#include <algorithm>

#include "atls/io.hpp"
#include "atls/messages.hpp"
#include "fuzz_target.hpp"

namespace {

class MemoryStream final : public tdxkit::atls::io::Stream {
public:
    explicit MemoryStream(tdxkit::ByteSpan data) : data_(data) {}
    std::size_t read_some(std::uint8_t* out, std::size_t size, tdxkit::atls::io::Clock::time_point) override {
        // Small reads exercise message boundaries that fall inside a read.
        const std::size_t n = std::min({size, data_.size() - pos_, std::size_t{7}});
        std::copy_n(data_.begin() + static_cast<std::ptrdiff_t>(pos_), n, out);
        pos_ += n;
        return n;
    }
    void write_all(tdxkit::ByteSpan, tdxkit::atls::io::Clock::time_point) override {}
    [[nodiscard]] int fd() const noexcept override { return -1; }

private:
    tdxkit::ByteSpan data_;
    std::size_t pos_ = 0;
};

void fuzz(tdxkit::ByteSpan data) {
    using namespace tdxkit::atls;
    MemoryStream stream(data);
    io::HttpReader reader(stream);
    const auto deadline = io::Clock::now() + std::chrono::seconds(10);
    while (const auto message = reader.read(1024 * 1024, deadline)) {
        try {
            (void)detail::parse_quote_reply(*message);
        } catch (const tdxkit::Error&) {
        }
        try {
            std::string method;
            (void)detail::request_target(*message, method);
        } catch (const tdxkit::Error&) {
        }
        try {
            (void)detail::parse_nonce(message->body);
        } catch (const tdxkit::Error&) {
        }
    }
}
}  // namespace
TDXKIT_FUZZ_TARGET(fuzz)
