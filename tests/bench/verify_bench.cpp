// Verification throughput on real data: the dcap-qvl TDX sample quote with its Intel collateral.
// Run: build/release/tests/tdxkit_bench  (reads testdata/real).

#include <unistd.h>

#include <benchmark/benchmark.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "tdxkit/collateral.hpp"
#include "tdxkit/eventlog.hpp"
#include "tdxkit/measure.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/serve.hpp"
#include "tdxkit/verify.hpp"

namespace {

namespace fs = std::filesystem;

const fs::path kData{TDXKIT_REAL_TESTDATA};

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

// The real dcap-qvl quote against its Intel collateral, verified once per iteration.
void verify_real_quote(benchmark::State& state, tdxkit::VerificationCache* cache) {
    const auto quote = tdxkit::parse_quote(read_file(kData / "quotes/dcapqvl-tdx_quote.bin"));
    const auto collateral = tdxkit::load_collateral((kData / "collateral/dcapqvl-tdx_quote").string());
    const tdxkit::VerifyOptions options{kAt, tdxkit::intel_sgx_root_ca(), cache};
    for (auto _ : state) {
        const auto report = tdxkit::verify_quote(quote, collateral, options);
        if (!report.authentic) state.SkipWithError(report.failure.c_str());
        benchmark::DoNotOptimize(report);
    }
    state.counters["verifications/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void BM_VerifyQuote(benchmark::State& state) { verify_real_quote(state, nullptr); }
BENCHMARK(BM_VerifyQuote)->Unit(benchmark::kMicrosecond);

// Batch mode: collateral chains, CRLs, signed bodies and the QE report verified once; the quote
// signature, time checks and TCB evaluation run for every quote.
void BM_VerifyQuoteWarmCollateral(benchmark::State& state) {
    tdxkit::VerificationCache cache;
    verify_real_quote(state, &cache);
}
BENCHMARK(BM_VerifyQuoteWarmCollateral)->Unit(benchmark::kMicrosecond);

// The same cache shared by the threads of one process, as verify --batch's workers share it: with 2
// threads the rate should double (it did not while the caches hashed their keys under one mutex).
void BM_VerifyQuoteSharedCache(benchmark::State& state) {
    static tdxkit::VerificationCache cache;
    verify_real_quote(state, &cache);
}
BENCHMARK(BM_VerifyQuoteSharedCache)->Threads(1)->Threads(2)->UseRealTime()->Unit(benchmark::kMicrosecond);

// Event-log replay: a real dstack JSON log (parse, recompute runtime digests, replay RTMR0-3).
void BM_ReplayDstackEventLog(benchmark::State& state) {
    const auto log = read_file(kData / "eventlogs/dstack-verifier-quote-report.event_log.json");
    for (auto _ : state) benchmark::DoNotOptimize(tdxkit::replay_rtmrs(tdxkit::parse_event_log(log)));
}
BENCHMARK(BM_ReplayDstackEventLog)->Unit(benchmark::kMicrosecond);

// Event-log replay: the real CCEL binary log with its ACPI table.
void BM_ReplayCcelEventLog(benchmark::State& state) {
    const auto log = read_file(kData / "eventlogs/gotdxguest-cos113-ccel_data.bin");
    const auto table = read_file(kData / "eventlogs/gotdxguest-cos113-ccel_table.bin");
    for (auto _ : state)
        benchmark::DoNotOptimize(tdxkit::replay_rtmrs(tdxkit::parse_ccel(log, tdxkit::ByteSpan(table))));
}
BENCHMARK(BM_ReplayCcelEventLog)->Unit(benchmark::kMicrosecond);

// Compose hash of a real app-compose: exact bytes, and the SDK-canonical form.
void BM_ComposeHash(benchmark::State& state) {
    const auto compose = read_file(kData / "compose/nearmpc-head-app_compose.json");
    for (auto _ : state) benchmark::DoNotOptimize(tdxkit::measure_compose(compose));
}
BENCHMARK(BM_ComposeHash)->Unit(benchmark::kMicrosecond);

void BM_ComposeHashNormalized(benchmark::State& state) {
    const auto compose = read_file(kData / "compose/nearmpc-head-app_compose.json");
    const std::string text(compose.begin(), compose.end());
    for (auto _ : state) {
        const auto canonical = tdxkit::normalize_app_compose(text);
        benchmark::DoNotOptimize(tdxkit::measure_compose(tdxkit::as_bytes(canonical)));
    }
}
BENCHMARK(BM_ComposeHashNormalized)->Unit(benchmark::kMicrosecond);

// The service's handler without its HTTP transport: POST /v1/appraise with the real quote (request
// parse, evidence decoding, collateral from memory, appraisal, tdxkit.verify/v1 rendering). Held
// against BM_VerifyQuoteWarmCollateral it shows what a request costs beyond the verification.
void BM_ServeAppraiseRequest(benchmark::State& state) {
    const auto policies = fs::temp_directory_path() / ("tdxkit-bench-policies-" + std::to_string(::getpid()));
    fs::create_directories(policies);
    std::ofstream(policies / "strict.json") << R"({"version": 1})";
    tdxkit::serve::Options options;
    options.policy_dir = policies;
    options.collateral.path = (kData / "collateral/dcapqvl-tdx_quote").string();
    options.at = kAt;
    tdxkit::serve::Service service(options);
    const auto quote = read_file(kData / "quotes/dcapqvl-tdx_quote.bin");
    const tdxkit::serve::Request request{"POST", "/v1/appraise",
                                         R"({"policy": "strict", "evidence": ")" + tdxkit::to_hex(quote) + R"("})"};
    for (auto _ : state) {
        const auto response = service.handle(request);
        if (response.status != 200 || response.verdict != "ok") state.SkipWithError(response.body.c_str());
        benchmark::DoNotOptimize(response);
    }
    fs::remove_all(policies);
    state.counters["requests/s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ServeAppraiseRequest)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
