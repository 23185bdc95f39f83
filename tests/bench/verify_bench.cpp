// Verification throughput on real data: the dcap-qvl TDX sample quote with its Intel collateral.
// Run: build/release/tests/tdxkit_bench  (needs ../shared/testdata).

#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <iterator>

#include "tdxkit/collateral.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/verify.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path kData{TDXKIT_SHARED_TESTDATA};

tdxkit::Bytes read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return tdxkit::Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

const tdxkit::UnixTime kAt = tdxkit::parse_time("2025-07-04T10:16:31Z");

void BM_ParseQuote(benchmark::State& state) {
    const auto raw = read_file(kData / "quotes/dcapqvl-tdx_quote.bin");
    for (auto _ : state) benchmark::DoNotOptimize(tdxkit::parse_quote(raw));
}
BENCHMARK(BM_ParseQuote);

void BM_VerifyQuote(benchmark::State& state) {
    const auto quote = tdxkit::parse_quote(read_file(kData / "quotes/dcapqvl-tdx_quote.bin"));
    const auto collateral = tdxkit::load_collateral((kData / "collateral/dcapqvl-tdx_quote").string());
    const tdxkit::VerifyOptions options{kAt, tdxkit::intel_sgx_root_ca()};
    for (auto _ : state) {
        const auto report = tdxkit::verify_quote(quote, collateral, options);
        if (!report.authentic) state.SkipWithError(report.failure.c_str());
        benchmark::DoNotOptimize(report);
    }
    state.counters["verifications/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_VerifyQuote)->Unit(benchmark::kMicrosecond);

// Batch mode: collateral chains, CRLs, signed bodies and the QE report verified once; the quote
// signature, time checks and TCB evaluation run for every quote.
void BM_VerifyQuoteWarmCollateral(benchmark::State& state) {
    const auto quote = tdxkit::parse_quote(read_file(kData / "quotes/dcapqvl-tdx_quote.bin"));
    const auto collateral = tdxkit::load_collateral((kData / "collateral/dcapqvl-tdx_quote").string());
    tdxkit::VerificationCache cache;
    const tdxkit::VerifyOptions options{kAt, tdxkit::intel_sgx_root_ca(), &cache};
    for (auto _ : state) {
        const auto report = tdxkit::verify_quote(quote, collateral, options);
        if (!report.authentic) state.SkipWithError(report.failure.c_str());
        benchmark::DoNotOptimize(report);
    }
    state.counters["verifications/s"] = benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_VerifyQuoteWarmCollateral)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
