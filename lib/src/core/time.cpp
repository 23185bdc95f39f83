#include "tdxkit/time.hpp"

#include <charconv>
#include <chrono>
#include <ctime>

#include <fmt/format.h>

#include "tdxkit/error.hpp"

namespace tdxkit {
namespace {

// Digits only: from_chars would also take a leading '-' ("T-1:16:31Z", "+-1:00").
bool parse_int(std::string_view s, int& out) {
    if (s.empty() || s.find_first_not_of("0123456789") != std::string_view::npos) return false;
    const auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && ptr == s.data() + s.size();
}

[[noreturn]] void bad_time(std::string_view text) {
    throw Error(Errc::invalid_argument,
                fmt::format("'{}' is not a time: use RFC 3339 (2025-07-04T10:16:31Z) or unix seconds", text));
}

}  // namespace

std::string format_rfc3339(UnixTime t) {
    const auto tt = static_cast<std::time_t>(t);
    struct tm tm {};
    if (gmtime_r(&tt, &tm) == nullptr) return fmt::format("@{}", t);
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                       tm.tm_min, tm.tm_sec);
}

UnixTime parse_time(std::string_view text) {
    if (text.empty()) bad_time(text);
    if (text.find_first_not_of("0123456789") == std::string_view::npos) {
        UnixTime v = 0;
        const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
        if (ec != std::errc{} || ptr != text.data() + text.size()) bad_time(text);
        return v;
    }
    // YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)
    if (text.size() < 20 || text[4] != '-' || text[7] != '-' || (text[10] != 'T' && text[10] != 't') ||
        text[13] != ':' || text[16] != ':') {
        bad_time(text);
    }
    int year = 0, mon = 0, day = 0, hour = 0, min = 0, sec = 0;
    if (!parse_int(text.substr(0, 4), year) || !parse_int(text.substr(5, 2), mon) ||
        !parse_int(text.substr(8, 2), day) || !parse_int(text.substr(11, 2), hour) ||
        !parse_int(text.substr(14, 2), min) || !parse_int(text.substr(17, 2), sec)) {
        bad_time(text);
    }
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60) bad_time(text);
    std::size_t pos = 19;
    if (pos < text.size() && text[pos] == '.') {
        const std::size_t digits = ++pos;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') ++pos;
        if (pos == digits) bad_time(text);  // RFC 3339 time-secfrac needs at least one digit
    }
    long offset = 0;
    const auto zone = text.substr(pos);
    if (zone == "Z" || zone == "z") {
        offset = 0;
    } else if (zone.size() == 6 && (zone[0] == '+' || zone[0] == '-') && zone[3] == ':') {
        int oh = 0, om = 0;
        if (!parse_int(zone.substr(1, 2), oh) || !parse_int(zone.substr(4, 2), om) || oh > 23 || om > 59) {
            bad_time(text);
        }
        offset = (oh * 3600L + om * 60L) * (zone[0] == '-' ? -1 : 1);
    } else {
        bad_time(text);
    }
    const std::chrono::year_month_day ymd{std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(mon)},
                                          std::chrono::day{static_cast<unsigned>(day)}};
    if (!ymd.ok()) bad_time(text);
    const auto days = std::chrono::sys_days{ymd}.time_since_epoch().count();
    return static_cast<UnixTime>(days) * 86400 + hour * 3600L + min * 60L + sec - offset;
}

UnixTime now_utc() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace tdxkit
