// `tdxkit verify` on real Intel data through the binary: both collateral layouts, the pinned root.

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.hpp"

using nlohmann::json;
using tdxkit::test::run_tdxkit;

TEST_CASE("real TDX quote with Intel collateral: directory and QuoteCollateralV3 bundle") {
    const auto data = tdxkit::test::real_testdata();
    const auto quote = (data / "quotes/dcapqvl-tdx_quote.bin").string();
    for (const auto& collateral : {data / "collateral/dcapqvl-tdx_quote",
                                   data / "collateral/dcapqvl-tdx_quote/original/tdx_quote_collateral.json"}) {
        CAPTURE(collateral.string());
        const auto r = run_tdxkit(
            {"verify", quote, "--collateral", collateral.string(), "--at", "2025-07-04T10:16:31Z", "--json"});
        CHECK(r.exit_code == 0);
        // Intel's pinned root: no trust warning. The sample carries 70 bytes after the quote, and the
        // default policy pins no workload: both are said.
        CHECK(r.err == "tdxkit: WARNING: the input has 70 bytes after the quote; they are not part of the signed "
                       "quote and were ignored\n"
                       "tdxkit: WARNING: policy <default> pins no measurement (no td register, no dstack identity "
                       "rule), so it accepts any genuine TD whatever it runs; pin td.mrtd/td.rtmr* or dstack rules "
                       "(tdxkit measure-compose --policy-out)\n");
        const auto j = json::parse(r.out);
        CHECK(j["warnings"].size() == 2);
        CHECK(j["result"] == "ok");
        CHECK(j["trust_root"]["intel"] == true);
        CHECK(j["trust_root"]["sha256"] == "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3");
        CHECK(j["tcb"]["status"] == "UpToDate");
        CHECK(j["quote"]["fmspc"] == "b0c06f000000");
    }
}

TEST_CASE("real OutOfDate platform: rejected by the default policy, with advisories and shortfall") {
    const auto data = tdxkit::test::real_testdata();
    const auto r = run_tdxkit({"verify", (data / "quotes/dcaprs-quote_tdx_00806f050000.bin").string(), "--collateral",
                               (data / "collateral/dcaprs-00806f050000").string(), "--at", "2025-02-13T04:00:32Z"});
    CHECK(r.exit_code == 1);
    CHECK(r.out.find("REJECTED: tcb.accepted_statuses") == 0);
    CHECK(r.out.find("INTEL-SA-00960, INTEL-SA-00982, INTEL-SA-00986") != std::string::npos);
    CHECK(r.out.find("Shortfall:") != std::string::npos);
}
