// parse_time / format_rfc3339. Expected epoch values come from the reference documents and
// PROVENANCE.md (each pairs an RFC 3339 time with its unix seconds), not from tdxkit.

#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "tdxkit/error.hpp"
#include "tdxkit/time.hpp"

using namespace tdxkit;

namespace {

// RFC 3339 / unix pairs stated in shared/reference/dcap-verification.md (section G) and
// shared/testdata/PROVENANCE.md.
const std::pair<const char*, UnixTime> kKnown[] = {
    {"1970-01-01T00:00:00Z", 0},
    {"2025-07-04T10:16:31Z", 1751624191},  // lib/include/tdxkit/time.hpp example
                                           // (= 2025-07-01 + 3 d 10:16:31)
    {"2025-06-19T10:32:27Z", 1750329147},
    {"2025-07-19T10:00:35Z", 1752919235},
    {"2025-07-01T00:00:00Z", 1751328000},
    {"2025-06-19T10:56:11Z", 1750330571},
    {"2025-07-19T10:01:18Z", 1752919278},
    {"2025-09-02T07:41:59Z", 1756798919},
    {"2025-10-02T07:03:51Z", 1759388631},
    {"2026-02-18T10:58:51Z", 1771412331},
    {"2026-03-20T10:41:15Z", 1774003275},
    {"2023-07-01T01:00:00Z", 1688173200},
    {"2026-02-03T01:00:00Z", 1770080400},
    {"2025-02-13T04:00:32Z", 1739419232},
    {"2026-08-13T12:00:00Z", 1786622400},
    {"2026-01-27T15:17:11Z", 1769527031},
};

Errc code_of(std::string_view text) {
    try {
        (void)parse_time(text);
    } catch (const Error& e) {
        return e.code();
    }
    FAIL("parse_time accepted: " << std::string(text));
    return Errc::internal;
}

}  // namespace

TEST_CASE("parse_time: RFC 3339 UTC times with known epoch values") {
    for (const auto& [text, expected] : kKnown) {
        CAPTURE(text);
        CHECK(parse_time(text) == expected);
    }
}

TEST_CASE("format_rfc3339: known epoch values") {
    for (const auto& [text, t] : kKnown) {
        CAPTURE(text);
        CHECK(format_rfc3339(t) == text);
    }
}

TEST_CASE("parse_time: unix seconds") {
    CHECK(parse_time("0") == 0);
    CHECK(parse_time("1751624191") == 1751624191);
    CHECK(parse_time("1786622400") == parse_time("2026-08-13T12:00:00Z"));
}

TEST_CASE("parse_time: offsets") {
    const UnixTime t = 1751624191;  // 2025-07-04T10:16:31Z
    CHECK(parse_time("2025-07-04T12:16:31+02:00") == t);
    CHECK(parse_time("2025-07-04T05:16:31-05:00") == t);
    CHECK(parse_time("2025-07-04T10:16:31+00:00") == t);
    CHECK(parse_time("2025-07-04T10:16:31-00:00") == t);
    CHECK(parse_time("2025-07-05T00:01:31+13:45") == t);
    CHECK(parse_time("2025-07-03T23:46:31-10:30") == t);  // offset crossing the date line
}

TEST_CASE("parse_time: fractional seconds are ignored, lowercase t/z accepted") {
    const UnixTime t = 1751624191;
    CHECK(parse_time("2025-07-04T10:16:31.0Z") == t);
    CHECK(parse_time("2025-07-04T10:16:31.999999999Z") == t);
    CHECK(parse_time("2025-07-04T12:16:31.5+02:00") == t);
    CHECK(parse_time("2025-07-04t10:16:31z") == t);
}

TEST_CASE("parse_time: calendar edge cases") {
    CHECK(parse_time("2024-02-29T00:00:00Z") == 1709164800);  // leap day
    CHECK(parse_time("2000-03-01T00:00:00Z") == 951868800);   // after a 400-year leap day
    CHECK(parse_time("2049-12-31T23:59:59Z") == 2524607999);  // Intel root CA notAfter
    CHECK(format_rfc3339(2524607999) == "2049-12-31T23:59:59Z");
    CHECK(format_rfc3339(1709164800) == "2024-02-29T00:00:00Z");
}

TEST_CASE("parse_time and format_rfc3339 round trip") {
    for (UnixTime t = 0; t < 4102444800; t += 86400 * 37 + 3661) {
        CAPTURE(t);
        CHECK(parse_time(format_rfc3339(t)) == t);
    }
}

TEST_CASE("parse_time rejects garbage with Error(invalid_argument)") {
    const char* bad[] = {
        "",
        "yesterday",
        "now",
        "2025-07-04",
        "2025-07-04T10:16:31",       // no zone
        "2025-07-04T10:16Z",         // no seconds
        "2025-07-04T10:16:31+0200",  // offset without colon
        "2025-07-04T10:16:31+02",    // offset without minutes
        "2025-07-04T10:16:31ZZ",
        "2025-07-04T10:16:31Z ",
        " 2025-07-04T10:16:31Z",
        "2025/07/04T10:16:31Z",
        "2025-13-01T00:00:00Z",  // month 13
        "2025-00-01T00:00:00Z",
        "2025-02-30T00:00:00Z",  // no such day
        "2025-02-29T00:00:00Z",  // not a leap year
        "2025-07-32T00:00:00Z",
        "2025-07-04T24:00:00Z",
        "2025-07-04T10:60:00Z",
        "2025-07-04T10:16:61Z",
        "2025-07-04T1a:16:31Z",
        "2025-07-04T-1:16:31Z",  // negative hour
        "2025-07-04T10:-1:31Z",
        "-025-07-04T10:16:31Z",
        "2025-07-04T10:16:31.Z",  // fraction without digits
        "2025-07-04T10:16:31.12a4Z",
        "2025-07-04T10:16:31+24:00",  // offset hour out of range
        "2025-07-04T10:16:31+02:60",  // offset minute out of range
        "2025-07-04T10:16:31+-1:00",
        "-1751624191",
        "+1751624191",
        "1751624191.5",
        "17516 24191",
        "0x68679a7f",
        "99999999999999999999999999",  // overflows int64
    };
    for (const char* text : bad) {
        CAPTURE(text);
        CHECK(code_of(text) == Errc::invalid_argument);
    }
}

TEST_CASE("parse_time error message quotes the input and shows the accepted forms") {
    CHECK_THROWS_WITH((void)parse_time("soon"),
                      "'soon' is not a time: use RFC 3339 (2025-07-04T10:16:31Z) or unix seconds");
}

TEST_CASE("now_utc is after the data in this repository was generated") {
    CHECK(now_utc() > parse_time("2025-01-01T00:00:00Z"));
}
