// The collateral client with an injected transport: URLs, headers, encodings, retries, errors.

#include <doctest/doctest.h>

#include <deque>
#include <map>

#include "pcs/client.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/pcs.hpp"
#include "tdxkit/testing.hpp"
#include "tdxkit/verify.hpp"

using namespace tdxkit;
using namespace std::chrono_literals;
namespace tt = tdxkit::testing;

namespace {

// Answers each URL from a queue (the last answer repeats) and records every request.
class FakeTransport final : public HttpTransport {
public:
    std::map<std::string, std::deque<HttpResponse>> answers;
    std::vector<std::string> requested;

    HttpResponse get(const std::string& url) override {
        requested.push_back(url);
        auto it = answers.find(url);
        if (it == answers.end()) return HttpResponse{404, {}, "", "", true};
        auto r = it->second.front();
        if (it->second.size() > 1) it->second.pop_front();
        return r;
    }
};

// What a PCCS that leaves '+' unescaped sends (as some do): only the characters that must go.
std::string encode_leaving_plus(std::string_view pem) {
    std::string out;
    for (const char c : pem) {
        if (c == '\n')
            out += "%0A";
        else if (c == ' ')
            out += "%20";
        else
            out += c;
    }
    return out;
}

HttpResponse ok(std::string body, std::vector<std::pair<std::string, std::string>> headers = {}) {
    return HttpResponse{200, std::move(headers), std::move(body), "", true};
}

const std::string kBase = "https://pccs.example:8081";
const std::string kFmspc = "90c06f000000";

std::string tcb_url(const std::string& base = kBase) {
    return base + "/tdx/certification/v4/tcb?fmspc=" + kFmspc + "&update=standard";
}
std::string qe_url(const std::string& base = kBase) {
    return base + "/tdx/certification/v4/qe/identity?update=standard";
}
std::string crl_url(const std::string& base = kBase) {
    return base + "/sgx/certification/v4/pckcrl?ca=platform&encoding=der";
}

// A PCCS serving the default scenario's collateral: hex CRLs, lower-case v3 header names.
void serve(FakeTransport& t, const Collateral& c, const std::string& base = kBase, bool hex_crls = true) {
    t.answers[tcb_url(base)] = {ok(tt::signed_json_document("tcbInfo", c.tcb_info, c.tcb_info_signature),
                                   {{"sgx-tcb-info-issuer-chain", encode_leaving_plus(c.tcb_info_issuer_chain)}})};
    t.answers[qe_url(base)] = {
        ok(tt::signed_json_document("enclaveIdentity", c.qe_identity, c.qe_identity_signature),
           {{"SGX-ENCLAVE-IDENTITY-ISSUER-CHAIN", encode_leaving_plus(c.qe_identity_issuer_chain)}})};
    const auto crl_body = [&](const Bytes& der) {
        return hex_crls ? to_hex(der) : std::string(der.begin(), der.end());
    };
    t.answers[crl_url(base)] = {
        ok(crl_body(c.pck_crl), {{"SGX-PCK-CRL-Issuer-Chain", encode_leaving_plus(c.pck_crl_issuer_chain)}})};
    t.answers[base + "/sgx/certification/v4/rootcacrl"] = {ok(crl_body(c.root_ca_crl))};
}

CollateralService pccs() {
    CollateralService s;
    s.url = kBase;
    return s;
}

struct Sleeps {
    std::vector<std::chrono::milliseconds> seen;
    SleepFn fn() {
        return [this](std::chrono::milliseconds d) { seen.push_back(d); };
    }
};

}  // namespace

TEST_CASE("percent-decoding keeps '+' and decodes %2B, %0A; bad escapes are malformed") {
    CHECK(percent_decode("a+b%2Bc%0Ad%20e", "h") == "a+b+c\nd e");
    CHECK(percent_decode("%2b%2F", "h") == "+/");
    CHECK_THROWS_AS((void)percent_decode("abc%G1", "h"), Error);
    CHECK_THROWS_AS((void)percent_decode("abc%2", "h"), Error);
    CHECK_THROWS_AS((void)percent_decode("%", "h"), Error);
}

TEST_CASE("header names are case-insensitive") {
    const HttpResponse r{200, {{"tcb-info-issuer-chain", "x"}, {"Retry-After", "3"}}, "", "", true};
    CHECK(r.header("TCB-Info-Issuer-Chain") == "x");
    CHECK(r.header("retry-after") == "3");
    CHECK_FALSE(r.header("TCB-Info-Issuer-Chai").has_value());
}

TEST_CASE("Retry-After: delta-seconds and HTTP-date") {
    // Wed, 21 Oct 2015 07:28:00 GMT = 1445412480
    const UnixTime now = 1445412480 - 30;
    CHECK(parse_retry_after("120", now) == 120s);
    CHECK(parse_retry_after(" 5 ", now) == 5s);
    CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now) == 30s);
    CHECK(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now + 100) == 0s);
    CHECK(parse_retry_after("99999999999999999999999", now) > 1000000s);
    CHECK_FALSE(parse_retry_after("soon", now).has_value());
    CHECK_FALSE(parse_retry_after("-1", now).has_value());
    CHECK_FALSE(parse_retry_after("", now).has_value());
    CHECK_FALSE(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT trailing", now).has_value());
}

TEST_CASE("retry decisions: 5xx, 429 and connection errors back off; others do not retry") {
    const RetryPolicy p;  // 4 attempts, 1 s doubling, capped at 16 s, Retry-After capped at 60 s
    const HttpResponse unavailable{503, {}, "", "", true};
    CHECK(retry_delay(unavailable, 1, p, 0) == 1000ms);
    CHECK(retry_delay(unavailable, 2, p, 0) == 2000ms);
    CHECK(retry_delay(unavailable, 3, p, 0) == 4000ms);
    CHECK_FALSE(retry_delay(unavailable, 4, p, 0).has_value());
    RetryPolicy many = p;
    many.max_attempts = 10;
    CHECK(retry_delay(unavailable, 9, many, 0) == 16000ms);

    CHECK(retry_delay(HttpResponse{429, {{"retry-after", "7"}}, "", "", true}, 1, p, 0) == 7000ms);
    CHECK(retry_delay(HttpResponse{503, {{"Retry-After", "3600"}}, "", "", true}, 1, p, 0) == 60000ms);
    // The largest int64: converting it to milliseconds once overflowed into a negative delay.
    CHECK(retry_delay(HttpResponse{503, {{"Retry-After", "9223372036854775807"}}, "", "", true}, 1, p, 0) == 60000ms);
    CHECK(retry_delay(HttpResponse{503, {{"Retry-After", "later"}}, "", "", true}, 2, p, 0) == 2000ms);
    CHECK(retry_delay(HttpResponse{0, {}, "", "Connection refused", true}, 1, p, 0) == 1000ms);
    CHECK_FALSE(retry_delay(HttpResponse{0, {}, "", "SSL peer certificate", false}, 1, p, 0).has_value());
    for (const long status : {200L, 400L, 401L, 403L, 404L}) {
        CHECK_FALSE(retry_delay(HttpResponse{status, {}, "", "", true}, 1, p, 0).has_value());
    }
}

TEST_CASE("PCCS: the documented URLs, hex CRLs, unescaped '+', v3 header names; bodies byte-exact") {
    const auto out = tt::Scenario().build();
    FakeTransport t;
    serve(t, out.collateral);
    std::vector<std::string> progress;
    CollateralFetcher f{t, pccs(), [&](std::string_view l) { progress.emplace_back(l); }};
    const auto c = f.fetch({TeeType::tdx, kFmspc, PckCaType::platform});
    CHECK(t.requested ==
          std::vector<std::string>{tcb_url(), qe_url(), crl_url(), kBase + "/sgx/certification/v4/rootcacrl"});
    CHECK(c.tcb_info == out.collateral.tcb_info);
    CHECK(c.tcb_info_signature == out.collateral.tcb_info_signature);
    CHECK(c.qe_identity == out.collateral.qe_identity);
    CHECK(c.tcb_info_issuer_chain == out.collateral.tcb_info_issuer_chain);
    CHECK(c.qe_identity_issuer_chain == out.collateral.qe_identity_issuer_chain);
    CHECK(c.pck_crl_issuer_chain == out.collateral.pck_crl_issuer_chain);
    CHECK(c.pck_crl == out.collateral.pck_crl);
    CHECK(c.root_ca_crl == out.collateral.root_ca_crl);
    CHECK(c.source == "PCCS " + kBase);
    CHECK(progress.size() == 4);
    // What was fetched verifies the quote like the original.
    const auto r = verify_quote(parse_quote(out.quote), c, {out.now, custom_trust_root(out.root_der)});
    CHECK(r.authentic);
}

TEST_CASE("Intel PCS: root CA CRL from Intel's CRL distribution point, DER CRLs, update=early, SGX paths") {
    const auto out = tt::Scenario::sgx_v3().build();
    const std::string base{kIntelPcsUrl};
    FakeTransport t;
    const auto& c = out.collateral;
    const auto sgx_tcb = base + "/sgx/certification/v4/tcb?fmspc=" + kFmspc + "&update=early";
    const auto sgx_qe = base + "/sgx/certification/v4/qe/identity?update=early";
    t.answers[sgx_tcb] = {ok(tt::signed_json_document("tcbInfo", c.tcb_info, c.tcb_info_signature),
                             {{"TCB-Info-Issuer-Chain", encode_leaving_plus(c.tcb_info_issuer_chain)}})};
    t.answers[sgx_qe] = {ok(tt::signed_json_document("enclaveIdentity", c.qe_identity, c.qe_identity_signature),
                            {{"SGX-Enclave-Identity-Issuer-Chain", encode_leaving_plus(c.qe_identity_issuer_chain)}})};
    t.answers[crl_url(base)] = {ok(std::string(c.pck_crl.begin(), c.pck_crl.end()),
                                   {{"SGX-PCK-CRL-Issuer-Chain", encode_leaving_plus(c.pck_crl_issuer_chain)}})};
    t.answers[std::string(kIntelRootCaCrlUrl)] = {ok(std::string(c.root_ca_crl.begin(), c.root_ca_crl.end()))};
    CollateralService s;
    s.update = UpdateType::early;
    const auto got = CollateralFetcher{t, s}.fetch({TeeType::sgx, "90C06F000000", PckCaType::platform});
    CHECK(t.requested.back() == kIntelRootCaCrlUrl);
    CHECK(got.root_ca_crl == c.root_ca_crl);
    CHECK(got.source == "Intel PCS https://api.trustedservices.intel.com");
    CHECK(verify_quote(parse_quote(out.quote), got, {out.now, custom_trust_root(out.root_der)}).authentic);
}

TEST_CASE("retries: 503 with Retry-After and 429 are retried, honouring the header") {
    const auto out = tt::Scenario().build();
    FakeTransport t;
    serve(t, out.collateral);
    const auto good = t.answers[tcb_url()].front();
    t.answers[tcb_url()] = {HttpResponse{503, {{"Retry-After", "2"}}, "", "", true},
                            HttpResponse{429, {}, "", "", true}, good};
    Sleeps sleeps;
    CollateralFetcher f{t, pccs(), {}, sleeps.fn()};
    (void)f.fetch({TeeType::tdx, kFmspc, PckCaType::platform});
    CHECK(sleeps.seen == std::vector<std::chrono::milliseconds>{2000ms, 2000ms});
    CHECK(std::count(t.requested.begin(), t.requested.end(), tcb_url()) == 3);
}

TEST_CASE("failures name the URL and the HTTP status, and are collateral_unavailable") {
    const auto out = tt::Scenario().build();
    FakeTransport t;
    serve(t, out.collateral);
    Sleeps sleeps;
    CollateralFetcher f{t, pccs(), {}, sleeps.fn()};

    SUBCASE("404: unknown FMSPC, no retry") {
        try {
            (void)f.fetch({TeeType::tdx, "00a067110000", PckCaType::platform});
            FAIL("no error");
        } catch (const Error& e) {
            CHECK(e.code() == Errc::collateral_unavailable);
            const std::string msg = e.what();
            CHECK(msg.find(kBase + "/tdx/certification/v4/tcb?fmspc=00a067110000&update=standard") !=
                  std::string::npos);
            CHECK(msg.find("HTTP 404") != std::string::npos);
            CHECK(msg.find("FMSPC") != std::string::npos);
        }
        CHECK(sleeps.seen.empty());
    }
    SUBCASE("503 every time: gives up after the policy's attempts") {
        t.answers[qe_url()] = {HttpResponse{503, {}, "maintenance\x1b[31m", "", true}};
        try {
            (void)f.fetch({TeeType::tdx, kFmspc, PckCaType::platform});
            FAIL("no error");
        } catch (const Error& e) {
            CHECK(e.code() == Errc::collateral_unavailable);
            const std::string msg = e.what();
            CHECK(msg.find(qe_url()) != std::string::npos);
            CHECK(msg.find("HTTP 503 (gave up after 4 attempts)") != std::string::npos);
            CHECK(msg.find("maintenance [31m") != std::string::npos);  // control characters neutralised
        }
        CHECK(sleeps.seen == std::vector<std::chrono::milliseconds>{1000ms, 2000ms, 4000ms});
    }
    SUBCASE("transport error") {
        t.answers[crl_url()] = {HttpResponse{0, {}, "", "Connection refused", true}};
        CHECK_THROWS_WITH_AS((void)f.fetch({TeeType::tdx, kFmspc, PckCaType::platform}),
                             doctest::Contains("failed: Connection refused (gave up after 4 attempts)"), Error);
    }
}

TEST_CASE("a service that answers something else is rejected (malformed)") {
    const auto out = tt::Scenario().build();
    FakeTransport t;
    serve(t, out.collateral);
    CollateralFetcher f{t, pccs()};
    const CollateralRequest req{TeeType::tdx, kFmspc, PckCaType::platform};
    const auto expect_malformed = [&](const std::string& needle) {
        try {
            (void)f.fetch(req);
            FAIL("no error");
        } catch (const Error& e) {
            CHECK(e.code() == Errc::malformed);
            CHECK(std::string(e.what()).find(needle) != std::string::npos);
        }
    };
    SUBCASE("missing issuer-chain header") {
        t.answers[tcb_url()].front().headers.clear();
        expect_malformed("has no TCB-Info-Issuer-Chain header");
    }
    SUBCASE("broken percent-encoding") {
        t.answers[tcb_url()].front().headers[0].second += "%Z";
        expect_malformed("invalid percent-encoding");
    }
    SUBCASE("chain of one certificate") {
        t.answers[tcb_url()].front().headers[0].second = encode_leaving_plus(out.tcb_signing_pem);
        expect_malformed("holds 1 certificate(s)");
    }
    SUBCASE("PCK CRL of the other CA") {
        t.answers[crl_url()].front().body = to_hex(out.processor_crl);
        expect_malformed("answered the PCK CRL for processor CA, but platform CA was requested");
    }
    SUBCASE("TCB Info of another FMSPC") {
        auto s = tt::Scenario();
        s.tcb_info.fmspc = Octets<6>{0x00, 0xa0, 0x67, 0x11, 0x00, 0x00};
        const auto other = s.build().collateral;
        t.answers[tcb_url()].front().body =
            tt::signed_json_document("tcbInfo", other.tcb_info, other.tcb_info_signature);
        expect_malformed("FMSPC 00a067110000, but FMSPC 90c06f000000 was requested");
    }
    SUBCASE("CRL that is neither DER nor hex") {
        t.answers[crl_url()].front().body = "<html>login</html>";
        CHECK_THROWS_AS((void)f.fetch(req), Error);
    }
}

TEST_CASE("FMSPC and CA type come from the quote's PCK leaf") {
    auto r = collateral_request_for(parse_quote(tt::Scenario().build().quote));
    CHECK(r.tee == TeeType::tdx);
    CHECK(r.fmspc == kFmspc);
    CHECK(r.ca == PckCaType::platform);
    auto s = tt::Scenario::sgx_v3();
    s.use_processor_ca();
    r = collateral_request_for(parse_quote(s.build().quote));
    CHECK(r.tee == TeeType::sgx);
    CHECK(r.ca == PckCaType::processor);
    CHECK(normalize_fmspc("90C06F000000") == kFmspc);
    CHECK_THROWS_AS((void)normalize_fmspc("90C06F00000"), Error);
    CHECK_THROWS_AS((void)normalize_fmspc("90C06F00000G"), Error);
}
