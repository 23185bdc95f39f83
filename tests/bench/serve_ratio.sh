#!/usr/bin/env bash
# `tdxkit serve` against the in-process warm rate, repeated: each run of tdxkit_serve_bench (POST
# /v1/appraise, the real dcap-qvl quote and its Intel collateral) is held against BM_VerifyQuoteWarmCollateral
# measured just before it. The ratio is requests per server CPU-second over in-process verifications per
# second on one core: the service's rate per core, whatever CPU the load generator on the same machine
# takes. A benchmark, never a test.
#
#   bash tests/bench/serve_ratio.sh [tdxkit_serve_bench options]   (TDXKIT_BENCH_REPEATS=5)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
bench=$repo/build/release/tests/tdxkit_bench
serve_bench=$repo/build/release/tests/tdxkit_serve_bench
[[ -x $bench && -x $serve_bench ]] || { echo "serve_ratio.sh: build tdxkit_bench and tdxkit_serve_bench (release)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source-path=SCRIPTDIR source=ratio.sh
source "$repo/tests/bench/ratio.sh"

(($# > 0)) || set -- --requests 20000 --connections 64
for ((r = 1; r <= ${TDXKIT_BENCH_REPEATS:-5}; r++)); do
    warm=$(warm_rate)
    "$serve_bench" "$@" >"$work/out" 2>&1 || { cat "$work/out" >&2; exit 1; }
    per_cpu=$(awk '/requests per CPU-second/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "requests" && $(i + 2) == "per") print $i }' "$work/out")
    summary=$(awk '/throughput/ { t = $2 } /latency/ { l = "p50 " $3 " ms, p99 " $6 " ms" } END { print t " requests/s, " l }' "$work/out")
    ratio=$(awk -v a="$per_cpu" -v w="$warm" 'BEGIN { printf "%.2f", (w > 0 ? a / w : 0) }')
    echo "run $r: $summary; $per_cpu requests per server CPU-second; in-process warm $warm /s; ratio $ratio"
    record_ratio "$ratio"
done
echo "service / in-process rate per core: $(ratio_summary)"
