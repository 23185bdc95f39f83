// Collateral description, collateral-only checks, and the on-disk cache.

#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "pcs/client.hpp"
#include "support/test_support.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/pcs.hpp"
#include "tdxkit/testing.hpp"
#include "tdxkit/verify.hpp"

using namespace tdxkit;
namespace tt = tdxkit::testing;
namespace fs = std::filesystem;

namespace {

fs::path temp_dir(const std::string& name) {
    const auto dir = fs::temp_directory_path() / ("tdxkit-pcs-cache-" + std::to_string(::getpid()) + "-" + name);
    fs::remove_all(dir);
    return dir;
}

const CollateralRequest kRequest{TeeType::tdx, "90c06f000000", PckCaType::platform};

CacheKey key_for(const std::string& url = "https://pccs.example/") {
    CollateralService s;
    s.url = url;
    return cache_key(s, kRequest);
}

std::vector<std::string> failed_checks(const CollateralCheckResult& r) {
    std::vector<std::string> out;
    for (const auto& c : r.checks) {
        if (!c.passed) out.push_back(c.id);
    }
    return out;
}

}  // namespace

TEST_CASE("describe_collateral: the simulated set's facts (testdata/README.md)") {
    const auto c = load_collateral((test::source_dir() / "testdata/collateral/sim").string());
    const auto s = describe_collateral(c);
    CHECK(s.tee == "TDX");
    CHECK(s.fmspc == "90c06f000000");
    CHECK(s.pce_id == "0000");
    CHECK(s.qe_identity_id == "TD_QE");
    CHECK(s.pck_crl_ca == "platform");
    CHECK(s.tcb_evaluation_data_number == 17);
    CHECK(s.qe_tcb_evaluation_data_number == 17);
    REQUIRE(s.items.size() == 4);
    CHECK(s.items[0].name == "tcb_info");
    CHECK(s.items[0].issuer == "Intel SGX TCB Signing");
    CHECK(s.items[1].issuer == "Intel SGX TCB Signing");
    CHECK(s.items[2].issuer == "Intel SGX PCK Platform CA");
    CHECK(s.items[3].name == "root_ca_crl");
    CHECK(s.items[3].issuer == "Intel SGX Root CA");
    CHECK(format_rfc3339(s.items[0].valid_from) == "2025-12-31T00:00:00Z");
    CHECK(format_rfc3339(s.next_update) == "2026-01-30T00:00:00Z");
}

TEST_CASE("describe_collateral: real Intel collateral (shared testdata, PROVENANCE.md)") {
    const auto c = load_collateral((test::real_testdata() / "collateral/dcapqvl-tdx_quote").string());
    const auto s = describe_collateral(c);
    CHECK(s.fmspc == "b0c06f000000");
    CHECK(s.tcb_evaluation_data_number == 17);
    // The window end is set by the PCK CRL's nextUpdate.
    CHECK(format_rfc3339(s.next_update) == "2025-07-19T10:00:35Z");
    const auto r = check_collateral(c, intel_sgx_root_ca(), parse_time("2025-07-04T10:16:31Z"));
    CHECK(r.valid);
    CHECK(r.checks.size() == 9);
}

TEST_CASE("check_collateral: every check, and a negative case for each") {
    auto s = tt::Scenario();
    const auto out = s.build();
    const auto root = custom_trust_root(out.root_der);
    const auto now = tt::kReferenceTime;
    const auto good = check_collateral(out.collateral, root, now);
    CHECK(good.valid);
    std::vector<std::string> ids;
    for (const auto& c : good.checks) ids.push_back(c.id);
    CHECK(ids == std::vector<std::string>{"root_ca_crl", "pck_crl_chain", "pck_crl", "tcb_info_chain",
                                          "tcb_info_signature", "tcb_info_validity", "qe_identity_chain",
                                          "qe_identity_signature", "qe_identity_validity"});

    CHECK(failed_checks(check_collateral(out.collateral, intel_sgx_root_ca(), now)) ==
          std::vector<std::string>{"root_ca_crl", "pck_crl_chain", "pck_crl", "tcb_info_chain", "tcb_info_signature",
                                   "qe_identity_chain", "qe_identity_signature"});

    auto c = out.collateral;
    const auto number = c.tcb_info.find("\"tcbEvaluationDataNumber\":17");
    REQUIRE(number != std::string::npos);
    c.tcb_info[number + 26] = '2';
    const auto forged = check_collateral(c, root, now);
    CHECK(failed_checks(forged) == std::vector<std::string>{"tcb_info_signature"});
    // failure(): the first failed check, as caches report why they ignore an entry.
    CHECK_FALSE(good.failure());
    const auto first_failed =
        std::find_if(forged.checks.begin(), forged.checks.end(), [](const Check& k) { return !k.passed; });
    REQUIRE(first_failed != forged.checks.end());
    CHECK(forged.failure() == "tcb_info_signature: " + first_failed->detail);

    c = out.collateral;
    c.qe_identity_signature[5] ^= 1;
    CHECK(failed_checks(check_collateral(c, root, now)) == std::vector<std::string>{"qe_identity_signature"});

    c = out.collateral;
    c.pck_crl_issuer_chain = out.platform_ca_pem;  // does not reach the root
    CHECK(failed_checks(check_collateral(c, root, now)) == std::vector<std::string>{"pck_crl_chain", "pck_crl"});

    c = out.collateral;
    c.pck_crl = out.processor_crl;  // issued by another CA than the chain's
    CHECK(failed_checks(check_collateral(c, root, now)) == std::vector<std::string>{"pck_crl"});

    c = out.collateral;
    c.tcb_info_issuer_chain = out.collateral.pck_crl_issuer_chain;  // a CA is no TCB Info signer
    CHECK(failed_checks(check_collateral(c, root, now)) ==
          std::vector<std::string>{"tcb_info_chain", "tcb_info_signature"});

    c = out.collateral;
    c.qe_identity_issuer_chain = out.pck_leaf_pem + out.platform_ca_pem + out.root_pem;  // not a signing chain
    CHECK(failed_checks(check_collateral(c, root, now)) ==
          std::vector<std::string>{"qe_identity_chain", "qe_identity_signature"});

    auto revoked_ca = tt::Scenario();
    revoked_ca.root_crl.revoked_serials.push_back(revoked_ca.platform_ca.serial);
    const auto rc = revoked_ca.build();
    CHECK(failed_checks(check_collateral(rc.collateral, custom_trust_root(rc.root_der), now)) ==
          std::vector<std::string>{"pck_crl_chain", "pck_crl"});

    auto revoked = tt::Scenario();
    revoked.root_crl.revoked_serials.push_back(revoked.tcb_signing.serial);
    const auto r = revoked.build();
    CHECK(
        failed_checks(check_collateral(r.collateral, custom_trust_root(r.root_der), now)) ==
        std::vector<std::string>{"tcb_info_chain", "tcb_info_signature", "qe_identity_chain", "qe_identity_signature"});

    auto short_tcb = tt::Scenario();
    short_tcb.tcb_info.validity.not_after = now - tt::kDay;
    const auto st = short_tcb.build();
    CHECK(failed_checks(check_collateral(st.collateral, custom_trust_root(st.root_der), now)) ==
          std::vector<std::string>{"tcb_info_validity"});
    auto late_qe = tt::Scenario();
    late_qe.qe_identity.validity.not_before = now + tt::kDay;
    const auto lq = late_qe.build();
    CHECK(failed_checks(check_collateral(lq.collateral, custom_trust_root(lq.root_der), now)) ==
          std::vector<std::string>{"qe_identity_validity"});
    // The next update of a set is its earliest item's.
    CHECK(describe_collateral(st.collateral).next_update == now - tt::kDay);
}

TEST_CASE("cache: store, load fresh, expire at the earliest nextUpdate") {
    const auto dir = temp_dir("roundtrip");
    const CollateralCache cache{dir};
    const auto out = tt::Scenario().build();
    const auto key = key_for();
    CHECK_FALSE(cache.load(key, tt::kReferenceTime).collateral.has_value());
    CHECK(cache.load(key, tt::kReferenceTime).miss_reason.find("no cache entry") != std::string::npos);

    const auto path = cache.store(key, out.collateral, tt::kReferenceTime);
    CHECK(path.parent_path() == dir);
    CHECK(path.filename().string().rfind("tdx-90c06f000000-platform-standard-", 0) == 0);
    const auto hit = cache.load(key, tt::kReferenceTime);
    REQUIRE(hit.collateral.has_value());
    CHECK(hit.fresh);
    CHECK(collateral_to_json(*hit.collateral) == collateral_to_json(out.collateral));
    CHECK(hit.collateral->source.rfind("cache " + path.string(), 0) == 0);

    const auto next = describe_collateral(out.collateral).next_update;
    CHECK(cache.load(key, next - 1).fresh);
    const auto stale = cache.load(key, next);
    CHECK_FALSE(stale.fresh);
    CHECK(stale.collateral.has_value());  // usable offline; verification reports it expired
    CHECK(stale.miss_reason.find("expired at 2026-01-30T00:00:00Z") != std::string::npos);

    // Keys differ by service, update type, CA and TEE.
    CHECK(cache.entry_path(key_for("https://other.example")) != path);
    CHECK(cache.entry_path(key_for("https://pccs.example")) == path);  // trailing '/' is the same service
    CollateralService early;
    early.url = "https://pccs.example";
    early.update = UpdateType::early;
    CHECK(cache.entry_path(cache_key(early, kRequest)) != path);
    // No temporary files are left behind.
    CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);
    fs::remove_all(dir);
}

TEST_CASE("cache: truncated, corrupted, foreign or edited entries are misses, never trusted or fatal") {
    const auto dir = temp_dir("corrupt");
    const CollateralCache cache{dir};
    const auto out = tt::Scenario().build();
    const auto key = key_for();
    const auto path = cache.store(key, out.collateral, tt::kReferenceTime);
    const auto original = test::read_text(path);
    const auto write = [&](const std::string& text) { std::ofstream(path, std::ios::trunc) << text; };
    const auto expect_miss = [&](const std::string& needle) {
        const auto r = cache.load(key, tt::kReferenceTime);
        CHECK_FALSE(r.collateral.has_value());
        CHECK_FALSE(r.fresh);
        CHECK(r.miss_reason.find("unusable") != std::string::npos);
        CHECK(r.miss_reason.find(needle) != std::string::npos);
    };
    write(original.substr(0, original.size() / 2));
    expect_miss("not valid JSON");
    write("");
    expect_miss("not valid JSON");
    write(R"({"schema": "something else"})");
    expect_miss("not a tdxkit.collateral-cache/v1 document");
    // The entry of another key copied over this one.
    const auto other = cache.store(key_for("https://other.example"), out.collateral, tt::kReferenceTime);
    fs::copy_file(other, path, fs::copy_options::overwrite_existing);
    expect_miss("another key");
    // A damaged item inside a well-formed entry.
    auto edited = original;
    edited.replace(edited.find("\"pck_crl\": \"30") + 12, 2, "zz");
    write(edited);
    expect_miss("pck_crl");
    // Freshness comes from the collateral, not from the metadata.
    edited = original;
    const auto at = edited.find("\"next_update\": \"2026-01-30T00:00:00Z\"");
    REQUIRE(at != std::string::npos);
    edited.replace(at, 38, "\"next_update\": \"2099-01-01T00:00:00Z\"");
    write(edited);
    CHECK_FALSE(cache.load(key, tt::kReferenceTime + 20 * tt::kDay).fresh);
    fs::remove_all(dir);
}

TEST_CASE("cache: an unwritable directory is an I/O error") {
    const auto file = temp_dir("not-a-dir");
    std::ofstream(file) << "x";
    const CollateralCache cache{file / "sub"};
    CHECK_THROWS_AS((void)cache.store(key_for(), tt::Scenario().build().collateral, tt::kReferenceTime), Error);
    fs::remove(file);
}

TEST_CASE("default cache directory: XDG_CACHE_HOME, then HOME") {
    const auto* old_xdg = std::getenv("XDG_CACHE_HOME");
    const auto* old_home = std::getenv("HOME");
    const std::string saved = old_xdg ? old_xdg : "";
    const std::string saved_home = old_home ? old_home : "";
    ::setenv("XDG_CACHE_HOME", "/var/cache/x", 1);
    CHECK(CollateralCache::default_dir() == fs::path("/var/cache/x/tdxkit"));
    ::setenv("XDG_CACHE_HOME", "relative", 1);  // invalid per the XDG spec: ignored
    ::setenv("HOME", "/home/u", 1);
    CHECK(CollateralCache::default_dir() == fs::path("/home/u/.cache/tdxkit"));
    ::unsetenv("XDG_CACHE_HOME");
    ::unsetenv("HOME");
    CHECK_THROWS_AS((void)CollateralCache::default_dir(), Error);
    if (old_xdg) ::setenv("XDG_CACHE_HOME", saved.c_str(), 1);
    if (old_home) ::setenv("HOME", saved_home.c_str(), 1);
}

TEST_CASE("collateral that is not valid UTF-8 text is refused as malformed, never a JSON exception") {
    auto collateral = tt::Scenario().build().collateral;
    // Bytes a PCCS put before the PEM block of an issuer-chain header (the chain still parses).
    collateral.tcb_info_issuer_chain.insert(0, "\xff");
    CHECK(test::code_of([&] { (void)collateral_to_json(collateral); }) == Errc::malformed);
}
