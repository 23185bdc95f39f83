// Boot-measurement cost against hashing the same bytes once (tdxkit measure's target: within 1.5x).
// Run: build/release/tests/tdxkit_measure_bench
//
// MRTD hashes a 128-byte MR.EXTEND record before every 256 data bytes and a 128-byte MEM.PAGE.ADD
// record per page, 1.53x the firmware's bytes: that ratio is the floor. Authenticode hashes the
// image once, less the checksum and certificate directory.

#include <benchmark/benchmark.h>

#include <cstring>

#include "tdxkit/measure_boot.hpp"

namespace {

constexpr std::size_t kFirmwareSize = 4 * 1024 * 1024;
constexpr std::size_t kKernelSize = 12 * 1024 * 1024;

void put(tdxkit::Bytes& b, std::size_t at, std::uint64_t v, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) b[at + i] = static_cast<std::uint8_t>(v >> (8U * i));
}

void fill(tdxkit::Bytes& b) {
    std::uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (auto& byte : b) {
        x ^= x << 13U, x ^= x >> 7U, x ^= x << 17U;
        byte = static_cast<std::uint8_t>(x);
    }
}

// A 4 MiB TDVF image whose BFV (MR_EXTEND) is the whole file, as OVMF's BFV is most of it.
tdxkit::Bytes firmware() {
    tdxkit::Bytes fw(kFirmwareSize);
    fill(fw);
    const std::uint8_t footer[16] = {0xde, 0x82, 0xb5, 0x96, 0xb2, 0x1f, 0xf7, 0x45,
                                     0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d};
    const std::uint8_t metadata[16] = {0x35, 0x65, 0x7a, 0xe4, 0x4a, 0x98, 0x98, 0x47,
                                       0x86, 0x5e, 0x46, 0x85, 0xa7, 0xbf, 0x8e, 0xc2};
    const std::size_t footer_end = fw.size() - 32;
    std::memcpy(&fw[footer_end - 16], footer, 16);
    put(fw, footer_end - 18, 18 + 22, 2);
    std::memcpy(&fw[footer_end - 18 - 16], metadata, 16);
    put(fw, footer_end - 18 - 18, 22, 2);
    const std::size_t descriptor = fw.size() - 0x2000;
    put(fw, footer_end - 18 - 22, fw.size() - descriptor, 4);
    std::memcpy(&fw[descriptor], "TDVF", 4);
    put(fw, descriptor + 4, 16 + 2 * 32, 4);
    put(fw, descriptor + 8, 1, 4);
    put(fw, descriptor + 12, 2, 4);
    const auto section = [&](std::size_t i, std::uint32_t offset, std::uint32_t raw, std::uint64_t gpa,
                             std::uint64_t size, std::uint32_t type, std::uint32_t attributes) {
        const auto at = descriptor + 16 + 32 * i;
        put(fw, at, offset, 4), put(fw, at + 4, raw, 4), put(fw, at + 8, gpa, 8), put(fw, at + 16, size, 8);
        put(fw, at + 24, type, 4), put(fw, at + 28, attributes, 4);
    };
    section(0, 0, kFirmwareSize, 0x100000000 - kFirmwareSize, kFirmwareSize, 0, 1);
    section(1, 0, 0, 0x809000, 0x2000, 2, 0);
    return fw;
}

// A 12 MiB PE32+ image with one section covering the file after the headers.
tdxkit::Bytes kernel() {
    tdxkit::Bytes k(kKernelSize);
    fill(k);
    put(k, 0x3C, 0x40, 4);
    put(k, 0x40, 0x4550, 4);
    put(k, 0x44 + 2, 1, 2);       // one section
    put(k, 0x44 + 16, 0xF0, 2);   // SizeOfOptionalHeader
    put(k, 0x58, 0x20B, 2);       // PE32+
    put(k, 0x58 + 60, 0x400, 4);  // SizeOfHeaders
    put(k, 0x58 + 112 + 32, 0, 8);
    const std::size_t section = 0x58 + 0xF0;
    put(k, section + 16, kKernelSize - 0x400, 4);
    put(k, section + 20, 0x400, 4);
    return k;
}

void BM_Sha384_Firmware(benchmark::State& state) {
    const auto fw = firmware();
    for (auto _ : state) benchmark::DoNotOptimize(tdxkit::sha384(fw));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * fw.size()));
}
BENCHMARK(BM_Sha384_Firmware)->Unit(benchmark::kMillisecond);

void BM_Mrtd(benchmark::State& state) {
    const auto fw = firmware();
    const auto meta = tdxkit::parse_tdvf(fw);
    const auto order = state.range(0) == 2 ? tdxkit::PageOrder::two_pass : tdxkit::PageOrder::single_pass;
    for (auto _ : state) benchmark::DoNotOptimize(tdxkit::compute_mrtd(fw, meta, order));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * fw.size()));
}
BENCHMARK(BM_Mrtd)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

void BM_Sha384_Kernel(benchmark::State& state) {
    const auto k = kernel();
    for (auto _ : state) benchmark::DoNotOptimize(tdxkit::sha384(k));
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * k.size()));
}
BENCHMARK(BM_Sha384_Kernel)->Unit(benchmark::kMillisecond);

void BM_Authenticode_PatchedKernel(benchmark::State& state) {
    const auto k = kernel();
    for (auto _ : state) {
        benchmark::DoNotOptimize(
            tdxkit::authenticode_sha384(tdxkit::patch_kernel_setup_header(k, 64 * 1024 * 1024, 0x80000000)));
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * k.size()));
}
BENCHMARK(BM_Authenticode_PatchedKernel)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
