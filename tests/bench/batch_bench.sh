#!/usr/bin/env bash
# Whole-process batch verification: throughput and peak RSS of `tdxkit verify --batch` for N lines of the
# real dcap-qvl TDX quote with its Intel collateral, against the in-process warm rate of tdxkit_bench
# measured in the same run. A benchmark, never a test: the numbers depend on the machine.
#
#   bash tests/bench/batch_bench.sh [LINES...]      (default: 10000 100000; TDXKIT_BENCH_REPEATS=5)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
real=${TDXKIT_REAL_TESTDATA:-$repo/testdata/real}
tdxkit=$repo/build/release/apps/tdxkit
bench=$repo/build/release/tests/tdxkit_bench
quote=$real/quotes/dcapqvl-tdx_quote.bin
collateral=$real/collateral/dcapqvl-tdx_quote
at=2025-07-04T10:16:31Z
[[ -x $tdxkit && -f $quote ]] || { echo "batch_bench.sh: build the release preset (real data: $real)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
hex=$(od -An -v -tx1 "$quote" | tr -d ' \n')

# The machine is shared, so one run of each side says little: every repetition measures the in-process
# warm rate and then the batch, and each batch rate is held against the rate measured just before it.
# The ratio's median over the repetitions is the number to report, with the spread.
repeats=${TDXKIT_BENCH_REPEATS:-5}
# shellcheck source-path=SCRIPTDIR source=ratio.sh
source "$repo/tests/bench/ratio.sh"
run_batch() {  # lines output -> "seconds kib"
    /usr/bin/time -f "%e %M" -o "$work/time" "$tdxkit" -q verify --batch "$work/in.jsonl" \
        --collateral "$collateral" --at "$at" --jobs 2 --output "$2" >/dev/null || true
    cat "$work/time"
}
(($# > 0)) || set -- 10000 100000
for n in "$@"; do
    awk -v n="$n" -v q="$hex" 'BEGIN { for (i = 0; i < n; i++) printf "{\"id\":%d,\"quote\":\"%s\"}\n", i, q }' \
        >"$work/in.jsonl"
    for ((r = 1; r <= repeats; r++)); do
        warm=$(warm_rate)
        read -r seconds kib < <(run_batch "$n" summary)
        awk -v n="$n" -v s="$seconds" -v k="$kib" -v w="$warm" -v r="$r" 'BEGIN {
            rate = n / s; ratio = w > 0 ? rate / w : 0
            printf "%7d lines, --output summary, run %d: %6.2f s  %8.0f /s  peak RSS %.1f MiB  in-process warm %.0f /s  ratio %.2f\n", n, r, s, rate, k / 1024, w, ratio }' | tee "$work/line"
        record_ratio "$(awk '{ print $NF }' "$work/line")"
    done
    echo "$(printf '%7d' "$n") lines: batch / in-process ratio $(ratio_summary)"
    read -r seconds kib < <(run_batch "$n" full)
    awk -v n="$n" -v s="$seconds" -v k="$kib" \
        'BEGIN { printf "%7d lines, --output full:        %6.2f s  %8.0f /s  peak RSS %.1f MiB\n", n, s, n / s, k / 1024 }'
done
