#!/usr/bin/env bash
# Quick start, step 1 of 2 (README.md): on Debian 12, install the missing build dependencies, build the
# library and CLI of the `release` preset, and run tdxkit on the bundled simulated quote.
#
#   bash scripts/setup.sh
#
# Runs as root, or through `sudo` otherwise. Never reads standard input. Safe to re-run: it installs only
# the packages that are missing and runs `apt-get update` only when something is.
set -euo pipefail

# What building libtdxkit and the CLI needs; scripts/test.sh installs what the tests need on top.
readonly PACKAGES=(
    cmake ninja-build g++ ccache pkg-config
    libcli11-dev libssl-dev libcurl4-openssl-dev nlohmann-json3-dev libfmt-dev zlib1g-dev
)
readonly JOBS=2
readonly PRESET=release

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

step() { printf '\n==> %s\n' "$*"; }
run() {
    printf '+ %s\n' "$*"
    "$@"
}

# --- 1. Debian packages ------------------------------------------------------------------------------
step "Checking Debian packages"
run bash scripts/install-packages.sh "${PACKAGES[@]}"

# --- 2. Build -----------------------------------------------------------------------------------------
# Only the library and the CLI: the tests are built by scripts/test.sh.
step "Configuring and building the '$PRESET' preset: library and CLI (build/$PRESET, $JOBS jobs)"
run cmake --preset "$PRESET" -DTDXKIT_BUILD_TESTS=OFF
run cmake --build --preset "$PRESET" --parallel "$JOBS"

tdxkit="$repo/build/$PRESET/apps/tdxkit"
[[ -x "$tdxkit" ]] || { echo "setup.sh: $tdxkit was not built" >&2; exit 1; }

# --- 3. The main job on bundled data ------------------------------------------------------------------
quote=testdata/quotes/sim-tdx-v4.bin
step "Decoding the bundled simulated quote"
run "$tdxkit" --version
run "$tdxkit" quote decode "$quote"

step "Verifying it against the bundled simulated collateral and test root (warning on stderr expected)"
run "$tdxkit" verify "$quote" --collateral testdata/collateral/sim --trust-root testdata/pki/root.pem \
    --at 2026-01-15T00:00:00Z

# The production path: a real quote from Intel hardware and Intel-signed collateral (dcap-qvl's
# sample, testdata/real/PROVENANCE.md) against the pinned Intel SGX Root CA, at a time inside the
# collateral's validity window. No test root.
real=testdata/real
step "Verifying a real Intel-signed TDX quote against Intel's pinned root (offline, at a fixed time)"
run "$tdxkit" verify "$real/quotes/dcapqvl-tdx_quote.bin" --collateral "$real/collateral/dcapqvl-tdx_quote" \
    --at 2025-07-04T10:16:31Z

step "Setup complete. Next: bash scripts/test.sh"
