// resolve_collateral end to end: libcurl against the local PCCS look-alike (tests/pcs), the cache,
// and verify_quote on the result.

#include <doctest/doctest.h>

#include "pcs/client.hpp"
#include "pcs/pcs_server.hpp"
#include "support/test_support.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/pcs.hpp"
#include "tdxkit/testing.hpp"
#include "tdxkit/verify.hpp"

using namespace tdxkit;
namespace tt = tdxkit::testing;
namespace fs = std::filesystem;

TEST_CASE("resolve_collateral: network, then the cache, then --refresh; the result verifies the quote") {
    const auto sim = test::source_dir() / "testdata";
    test::PcsServer server{{{"tdx", sim / "collateral/sim"}}};
    const auto cache = fs::temp_directory_path() / ("tdxkit-pcs-resolve-" + std::to_string(::getpid()));
    fs::remove_all(cache);

    CollateralSources src;
    src.service.url = server.url("pccs");
    src.http.ca_file = server.ca_file();
    src.cache_dir = cache;
    const auto quote = parse_quote(test::read_file(sim / "quotes/sim-tdx-v4.bin"));
    const auto root = custom_trust_root(test::read_file(sim / "pki/root.pem"));
    const auto request = collateral_request_for(quote);
    // The simulated set is valid around the reference time, so that is "now" for freshness too.
    const auto now = tt::kReferenceTime;

    const auto first = resolve_collateral(src, request, now);
    CHECK(first.source == "PCCS " + server.url("pccs"));
    CHECK(server.requests() == 4);
    const auto report = verify_quote(quote, first, {now, root});
    CHECK(report.authentic);
    CHECK(report.tcb_status == TcbStatus::up_to_date);
    // Byte for byte what the offline directory holds.
    CHECK(collateral_to_json(first) == collateral_to_json(load_collateral((sim / "collateral/sim").string())));

    const auto second = resolve_collateral(src, request, now);
    CHECK(server.requests() == 4);
    CHECK(second.source.rfind("cache " + cache.string(), 0) == 0);
    CHECK(verify_quote(quote, second, {now, root}).authentic);

    src.refresh = true;
    (void)resolve_collateral(src, request, now);
    CHECK(server.requests() == 8);

    // After the earliest nextUpdate the entry is refetched; offline, the stale entry is used.
    src.refresh = false;
    (void)resolve_collateral(src, request, now + 30 * tt::kDay);
    CHECK(server.requests() == 12);
    src.offline = true;
    const auto stale = resolve_collateral(src, request, now + 30 * tt::kDay);
    CHECK(server.requests() == 12);
    CHECK_FALSE(verify_quote(quote, stale, {now + 30 * tt::kDay, root}).authentic);

    // Offline without an entry: unavailable, naming what is missing.
    src.cache_dir = cache / "empty";
    try {
        (void)resolve_collateral(src, request, now);
        FAIL("no error");
    } catch (const Error& e) {
        CHECK(e.code() == Errc::collateral_unavailable);
        CHECK(std::string(e.what()).find("--offline") != std::string::npos);
        CHECK(std::string(e.what()).find("90c06f000000") != std::string::npos);
    }
    CHECK(server.requests() == 12);

    // --collateral wins over everything.
    src.path = (sim / "collateral/sim").string();
    CHECK(resolve_collateral(src, request, now).source == "directory " + src.path);
    fs::remove_all(cache);
}

TEST_CASE("libcurl transport: TLS verification is always on") {
    test::PcsServer server{{{"tdx", test::source_dir() / "testdata/collateral/sim"}}};
    HttpOptions no_ca;  // the system store does not know the test server's certificate
    const auto r = make_curl_transport(no_ca)->get(server.url("pccs/sgx/certification/v4/rootcacrl"));
    CHECK(r.status == 0);
    CHECK_FALSE(r.retryable);
    CHECK_FALSE(r.transport_error.empty());
    HttpOptions with_ca;
    with_ca.ca_file = server.ca_file();
    CHECK(make_curl_transport(with_ca)->get(server.url("pccs/sgx/certification/v4/rootcacrl")).status == 200);
    // Plain HTTP is refused outright.
    CHECK(make_curl_transport(with_ca)->get("http://127.0.0.1:1/").transport_error.find("http") != std::string::npos);
}

TEST_CASE("libcurl transport: response size cap") {
    test::PcsServer server{{{"tdx", test::source_dir() / "testdata/collateral/sim"}}};
    HttpOptions small;
    small.ca_file = server.ca_file();
    small.max_body = 100;
    CHECK_THROWS_WITH_AS((void)make_curl_transport(small)->get(server.url("pccs/sgx/certification/v4/rootcacrl")),
                         doctest::Contains("exceeds the limit of 100 bytes"), Error);
}
