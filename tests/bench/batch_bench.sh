#!/usr/bin/env bash
# Whole-process batch verification: throughput and peak RSS of `tdxkit verify --batch` for N lines of the
# real dcap-qvl TDX quote with its Intel collateral, against the in-process warm rate of tdxkit_bench
# measured in the same run. A benchmark, never a test: the numbers depend on the machine.
#
#   bash tests/bench/batch_bench.sh [LINES...]      (default: 10000 100000)
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

if [[ -x $bench ]]; then
    echo "in-process warm rate (1 core): $("$bench" --benchmark_filter=Warm 2>/dev/null | grep -o 'verifications/s=[^ ]*')"
fi
for lines in "${@:-10000 100000}"; do
    for n in $lines; do
        awk -v n="$n" -v q="$hex" 'BEGIN { for (i = 0; i < n; i++) printf "{\"id\":%d,\"quote\":\"%s\"}\n", i, q }' \
            >"$work/in.jsonl"
        for output in summary full; do
            /usr/bin/time -f "%e %M" -o "$work/time" "$tdxkit" -q verify --batch "$work/in.jsonl" \
                --collateral "$collateral" --at "$at" --jobs 2 --output "$output" >/dev/null || true
            read -r seconds kib <"$work/time"
            awk -v n="$n" -v s="$seconds" -v k="$kib" -v o="$output" \
                'BEGIN { printf "%7d lines, --output %-7s  %6.2f s  %8.0f /s  peak RSS %.1f MiB\n", n, o, s, n / s, k / 1024 }'
        done
    done
done
