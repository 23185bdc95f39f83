#!/usr/bin/env bash
# Quick start, step 2 of 2 (README.md): build and run the whole ctest suite twice, with the `release` preset
# and with the `asan` preset (AddressSanitizer + UndefinedBehaviorSanitizer).
#
#   bash scripts/test.sh
#
# Stops at the first failing build or test run and exits non-zero; the last lines printed are then the
# failing ctest run's summary. Installs the packages the tests need (apt, as root or via sudo); run
# scripts/setup.sh first on a fresh machine.
set -euo pipefail

# Everything the build and the test suite need (so this script also works without setup.sh); each
# test-only package is there for a reason listed in README.md (Dependencies).
readonly PACKAGES=(
    cmake ninja-build g++ ccache pkg-config
    libcli11-dev libssl-dev libcurl4-openssl-dev nlohmann-json3-dev libfmt-dev zlib1g-dev libmicrohttpd-dev
    doctest-dev libbenchmark-dev python3 openssl
    groff-base mandoc zsh fish shellcheck clang-format clang-tidy
    dpkg-dev file
    clang libclang-rt-14-dev
)
readonly PRESETS=(release asan)
readonly JOBS=2

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

step() { printf '\n==> %s\n' "$*"; }
run() {
    printf '+ %s\n' "$*"
    "$@"
}

step "Checking Debian packages for the tests"
run bash scripts/install-packages.sh "${PACKAGES[@]}"

for preset in "${PRESETS[@]}"; do
    step "Configuring and building the '$preset' preset (build/$preset, $JOBS jobs)"
    # setup.sh configured the release preset without tests.
    run cmake --preset "$preset" -DTDXKIT_BUILD_TESTS=ON
    run cmake --build --preset "$preset" --parallel "$JOBS"
done

# Each libFuzzer target for a short bounded run (clang, ASan+UBSan): only the fuzz targets are built
# in this preset. Before the full suites, so that ctest's summary of the last suite ends the output.
step "Building the libFuzzer targets (build/fuzz, clang)"
run cmake --preset fuzz
run cmake --build --preset fuzz --parallel "$JOBS" --target fuzzers
step "Fuzzing each target for a bounded time"
run ctest --preset fuzz --parallel "$JOBS"

for preset in "${PRESETS[@]}"; do
    step "Running the test suite: '$preset' preset"
    # ctest's own summary ("N% tests passed, N tests failed out of N", "Total Test time") ends the output.
    run ctest --preset "$preset" --parallel "$JOBS"
done
