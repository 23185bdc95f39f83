// Transport-independent HTTP pieces: header lookup, percent-decoding, retry decisions.

#include <algorithm>
#include <charconv>
#include <ctime>

#include <fmt/format.h>

#include "pcs/client.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/pcs.hpp"

namespace tdxkit {
namespace {

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// IMF-fixdate, the only HTTP-date form servers may send today: "Sun, 06 Nov 1994 08:49:37 GMT".
std::optional<UnixTime> parse_http_date(std::string_view v) {
    std::tm tm{};
    const std::string s(v);
    const char* end = ::strptime(s.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == nullptr || *end != '\0') return std::nullopt;
    return static_cast<UnixTime>(::timegm(&tm));
}

}  // namespace

std::optional<std::string> HttpResponse::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (iequals(key, name)) return value;
    }
    return std::nullopt;
}

std::string percent_decode(std::string_view text, std::string_view what) {
    std::string out;
    out.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (text[i] != '%') {
            out += text[i];
            continue;
        }
        const int hi = i + 2 < text.size() ? hex_value(text[i + 1]) : -1;
        const int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            throw Error(Errc::malformed,
                        fmt::format("{}: invalid percent-encoding at offset {} (expected %XX)", what, i));
        }
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
    }
    return out;
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, UnixTime now) {
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    if (value.empty()) return std::nullopt;
    if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        std::int64_t seconds = 0;
        const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
        // Out of range is still "a long time": the caller caps it.
        if (ec == std::errc::result_out_of_range) return std::chrono::seconds(INT32_MAX);
        if (ec != std::errc{} || ptr != value.data() + value.size()) return std::nullopt;
        // Bounded so that converting to milliseconds cannot overflow.
        return std::chrono::seconds(std::min<std::int64_t>(seconds, INT32_MAX));
    }
    const auto when = parse_http_date(value);
    if (!when) return std::nullopt;
    return std::chrono::seconds(std::max<UnixTime>(0, *when - now));
}

std::optional<std::chrono::milliseconds> retry_delay(const HttpResponse& response, int attempt,
                                                     const RetryPolicy& policy, UnixTime now) {
    if (attempt >= policy.max_attempts) return std::nullopt;
    const bool transport_failure = response.status == 0;
    if (transport_failure && !response.retryable) return std::nullopt;
    if (!transport_failure && response.status != 429 && response.status < 500) return std::nullopt;
    if (const auto value = response.header("Retry-After")) {
        if (const auto after = parse_retry_after(*value, now)) {
            return std::min<std::chrono::milliseconds>(*after, policy.max_retry_after);
        }
    }
    auto delay = policy.initial_backoff;
    for (int i = 1; i < attempt && delay < policy.max_backoff; ++i) delay *= 2;
    return std::min(delay, policy.max_backoff);
}

}  // namespace tdxkit
