// In-process verification rate of the npm packages @phala/dcap-qvl (pure JavaScript) and
// @phala/dcap-qvl-web (Rust compiled to WebAssembly) on one quote and its collateral.
// Usage: node dcapqvl_bench.js QUOTE COLLATERAL_JSON UNIX_TIME SECONDS   (run by side_by_side.sh)
'use strict';
const fs = require('fs');
const path = require('path');

const [quotePath, collateralPath, nowText, secondsText] = process.argv.slice(2);
const quote = new Uint8Array(fs.readFileSync(quotePath));
const collateral = JSON.parse(fs.readFileSync(collateralPath, 'utf8'));
const now = Number(nowText);
const seconds = Number(secondsText || '3');

function rate(name, fn) {
  fn();  // warm-up, and fail early if the library rejects the input
  let n = 0;
  const start = process.hrtime.bigint();
  const limit = BigInt(Math.round(seconds * 1e9));
  while (process.hrtime.bigint() - start < limit) {
    fn();
    n++;
  }
  const elapsed = Number(process.hrtime.bigint() - start) / 1e9;
  console.log(JSON.stringify({ name, verifications: n, seconds: elapsed, per_second: n / elapsed }));
}

const js = require('@phala/dcap-qvl');
const jsResult = js.verify(quote, collateral, now);
if (jsResult.status !== 'UpToDate') throw new Error('dcap-qvl (JS) status ' + jsResult.status);
rate('@phala/dcap-qvl (JavaScript)', () => js.verify(quote, collateral, now));

const webDir = path.dirname(require.resolve('@phala/dcap-qvl-web/package.json'));
const web = require(path.join(webDir, 'dcap-qvl-web.js'));
if (typeof web.initSync === 'function') {
  web.initSync({ module: fs.readFileSync(path.join(webDir, 'dcap-qvl-web_bg.wasm')) });
}
const wasmResult = web.js_verify(quote, collateral, BigInt(now));
if (wasmResult.status !== 'UpToDate') throw new Error('dcap-qvl-web (WASM) status ' + wasmResult.status);
rate('@phala/dcap-qvl-web (WASM)', () => web.js_verify(quote, collateral, BigInt(now)));
