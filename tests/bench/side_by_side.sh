#!/usr/bin/env bash
# Side-by-side: tdxkit vs the npm packages @phala/dcap-qvl (JavaScript) and @phala/dcap-qvl-web
# (WASM) on the same real quote and collateral, on this machine, in one invocation.
#   bash tests/bench/side_by_side.sh [build-dir]      (default build/release; needs node and npm)
# Prints in-process verifications/s and the ratios, the whole-process batch rate against both, then
# one-shot process wall time and peak RSS.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$repo/build/release}
data=${TDXKIT_REAL_TESTDATA:-$repo/testdata/real}
node_dir=${TDXKIT_BENCH_NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/tdxkit-bench-node}
seconds=${BENCH_SECONDS:-3}
batch_lines=${BATCH_LINES:-20000}
quote=$data/quotes/dcapqvl-tdx_quote.bin
collateral_dir=$data/collateral/dcapqvl-tdx_quote
bundle=$collateral_dir/original/tdx_quote_collateral.json
at=2025-07-04T10:16:31Z
at_unix=1751624191

[ -f "$quote" ] || { echo "SKIPPED: shared test data not found at $data"; exit 77; }
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then echo "SKIPPED: node/npm not installed"; exit 77; fi
[ -x /usr/bin/time ] || { echo "SKIPPED: /usr/bin/time not installed (apt-get install time)"; exit 77; }

echo "== setup"
if [ ! -d "$node_dir/node_modules/@phala/dcap-qvl-web" ]; then
  npm install --silent --no-audit --no-fund --prefix "$node_dir" @phala/dcap-qvl @phala/dcap-qvl-web
fi
echo "node $(node --version); @phala/dcap-qvl $(node -p "require('$node_dir/node_modules/@phala/dcap-qvl/package.json').version");" \
     "@phala/dcap-qvl-web $(node -p "require('$node_dir/node_modules/@phala/dcap-qvl-web/package.json').version")"
cmake --build "$build" --target tdxkit_bench tdxkit_cli >/dev/null
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "openssl speed ecdsap256 (verify/s, one core):"
openssl speed -seconds 2 ecdsap256 2>/dev/null | awk '/nistp256/ {print "  " $NF}'

echo "== in-process verifications per second (one core)"
tdx_json=$("$build/tests/tdxkit_bench" --benchmark_filter='BM_Verify' --benchmark_min_time="$seconds" --benchmark_format=json 2>/dev/null)
tdx_full=$(python3 -c 'import json,sys; b={x["name"]:x for x in json.load(sys.stdin)["benchmarks"]}; print(b["BM_VerifyQuote"]["verifications/s"])' <<<"$tdx_json")
tdx_warm=$(python3 -c 'import json,sys; b={x["name"]:x for x in json.load(sys.stdin)["benchmarks"]}; print(b["BM_VerifyQuoteWarmCollateral"]["verifications/s"])' <<<"$tdx_json")
node_out=$(NODE_PATH="$node_dir/node_modules" node "$repo/tests/bench/dcapqvl_bench.js" "$quote" "$bundle" "$at_unix" "$seconds")
js=$(python3 -c 'import json,sys; print([json.loads(l) for l in sys.stdin][0]["per_second"])' <<<"$node_out")
wasm=$(python3 -c 'import json,sys; print([json.loads(l) for l in sys.stdin][1]["per_second"])' <<<"$node_out")
python3 - "$tdx_full" "$tdx_warm" "$js" "$wasm" <<'PY'
import sys
full, warm, js, wasm = map(float, sys.argv[1:])
print(f"  tdxkit full verification        {full:10.0f}/s")
print(f"  tdxkit warm collateral (batch)  {warm:10.0f}/s")
print(f"  @phala/dcap-qvl (JavaScript)    {js:10.1f}/s   tdxkit full is {full/js:.0f}x faster")
print(f"  @phala/dcap-qvl-web (WASM)      {wasm:10.1f}/s   tdxkit full is {full/wasm:.0f}x faster")
PY

echo "== whole process: verify --batch --jobs 2 --output summary ($batch_lines lines)"
# Issue #12's targets: >= 1.5x the one-core warm in-process rate above, >= 40x the best npm peer.
hex=$(od -An -v -tx1 "$quote" | tr -d ' \n')
batch_input=$(mktemp)
trap 'rm -f "$batch_input"' EXIT
awk -v n="$batch_lines" -v q="$hex" 'BEGIN { for (i = 0; i < n; i++) printf "{\"id\":%d,\"quote\":\"%s\"}\n", i, q }' >"$batch_input"
start=$(date +%s.%N)
"$build/apps/tdxkit" -q verify --batch "$batch_input" --collateral "$collateral_dir" --at "$at" --jobs 2 \
  --output summary >/dev/null
end=$(date +%s.%N)
python3 - "$batch_lines" "$start" "$end" "$tdx_warm" "$js" "$wasm" <<'PY'
import sys
lines, start, end, warm, js, wasm = map(float, sys.argv[1:])
rate = lines / (end - start)
print(f"  tdxkit verify --batch            {rate:10.0f}/s   {rate/warm:.2f}x the warm in-process rate,"
      f" {rate/max(js, wasm):.0f}x the best npm peer")
PY

echo "== one-shot process: wall time and peak RSS (median of 11)"
# Peak RSS from /usr/bin/time (a small parent: a child forked from python would carry python's
# high-water mark across exec); wall time read around a direct run, since /usr/bin/time prints it in
# 10 ms steps, too coarse for tdxkit.
one_shot() {
  python3 - "$@" <<'PY'
import statistics, subprocess, sys, tempfile, time
name, argv = sys.argv[1], sys.argv[2:]
walls, rss = [], []
with tempfile.NamedTemporaryFile(mode="r") as stats:
    for _ in range(11):
        subprocess.run(["/usr/bin/time", "-o", stats.name, "-f", "%M", *argv], capture_output=True)
        rss.append(int(open(stats.name).read().split()[-1]))
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True)
        walls.append(time.perf_counter() - start)
print(f"  {name:32} {statistics.median(walls)*1000:7.1f} ms  {statistics.median(rss)/1024:6.1f} MiB")
PY
}
one_shot "tdxkit verify" "$build/apps/tdxkit" verify "$quote" --collateral "$collateral_dir" --at "$at"
one_shot "node @phala/dcap-qvl verify" env NODE_PATH="$node_dir/node_modules" node -e \
  "const q=require('fs').readFileSync('$quote');const c=JSON.parse(require('fs').readFileSync('$bundle','utf8'));require('@phala/dcap-qvl').verify(q,c,$at_unix)"
