#!/usr/bin/env bash
# Quick start, step 1 of 2 (README.md): on Debian 12, install the missing build dependencies, build the
# `release` preset, and run tdxkit on the bundled simulated quote.
#
#   bash scripts/setup.sh
#
# Runs as root, or through `sudo` otherwise. Never reads standard input. Safe to re-run: it installs only
# the packages that are missing and runs `apt-get update` only when something is.
set -euo pipefail

readonly PACKAGES=(
    cmake ninja-build g++ ccache pkg-config
    libcli11-dev libssl-dev libcurl4-openssl-dev nlohmann-json3-dev libfmt-dev doctest-dev
    groff-base zsh fish
    dpkg-dev python3 openssl libbenchmark-dev
    clang libclang-rt-14-dev clang-format
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
if [[ ! -r /etc/debian_version ]] || ! command -v apt-get >/dev/null; then
    echo "setup.sh: this script supports Debian 12 (apt-get); install these packages by hand: ${PACKAGES[*]}" >&2
    exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
    # `dpkg -s` alone also succeeds for removed-but-not-purged packages; require "install ok installed".
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "All ${#PACKAGES[@]} packages are installed."
else
    echo "Missing: ${missing[*]}"
    if ((EUID == 0)); then
        as_root=(env DEBIAN_FRONTEND=noninteractive)
    elif command -v sudo >/dev/null; then
        # -n: fail instead of prompting when a password would be needed and there is no terminal.
        if [[ -t 0 ]]; then sudo_flags=(); else sudo_flags=(-n); fi
        as_root=(sudo "${sudo_flags[@]}" env DEBIAN_FRONTEND=noninteractive)
    else
        echo "setup.sh: not root and sudo is not installed; as root run: apt-get install ${missing[*]}" >&2
        exit 1
    fi
    run "${as_root[@]}" apt-get update -q </dev/null
    run "${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
fi

# --- 2. Build -----------------------------------------------------------------------------------------
step "Configuring and building the '$PRESET' preset (build/$PRESET, $JOBS jobs)"
run cmake --preset "$PRESET"
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

step "Setup complete. Next: bash scripts/test.sh"
