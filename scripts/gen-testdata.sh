#!/usr/bin/env bash
# Regenerates the simulated TEST data in testdata/ (pki/, quotes/sim-*, collateral/sim*/,
# measure/synthetic/) with tests/tools/tdxkit-testgen. The output is deterministic: rerunning it
# changes nothing unless the tdxkit::testing defaults or the generator changed.
# Usage: scripts/gen-testdata.sh [build-dir]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build/testgen}"

# An existing build directory is reused as configured (the output does not depend on build type).
if [[ ! -f "$build/CMakeCache.txt" ]]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTDXKIT_BUILD_TESTS=ON >/dev/null
fi
cmake --build "$build" --target tdxkit-testgen
"$build/tests/tdxkit-testgen" "$root/testdata" >/dev/null
"$build/tests/tdxkit-testgen" --check "$root/testdata"
