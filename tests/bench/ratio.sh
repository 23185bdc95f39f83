# shellcheck shell=bash disable=SC2154  # $bench and $work come from the script that sources this
# Sourced by the whole-process benchmarks (batch_bench.sh, serve_ratio.sh): the in-process warm rate
# they are held against, and the median of a list of ratios. Needs $bench (tdxkit_bench) and $work.

# BM_VerifyQuoteWarmCollateral in verifications per second, or 0 when tdxkit_bench is not built.
warm_rate() {
    [[ -x $bench ]] || { echo 0; return; }
    "$bench" --benchmark_filter=VerifyQuoteWarm --benchmark_min_time=1 2>/dev/null |
        awk '/verifications\/s=/ { v = $NF; sub(/.*=/, "", v); m = 1; if (v ~ /k\/s$/) m = 1000; sub(/[k]?\/s$/, "", v); print v * m }'
}

# Appends one ratio to $work/ratios.
record_ratio() { echo "$1" >>"$work/ratios"; }

# "median M (min A, max B, N runs)" of $work/ratios, which it then empties.
ratio_summary() {
    sort -n "$work/ratios" | awk '{ v[NR] = $1 } END {
        printf "median %.2f (min %.2f, max %.2f, %d runs)\n", v[int((NR + 1) / 2)], v[1], v[NR], NR }'
    : >"$work/ratios"
}
