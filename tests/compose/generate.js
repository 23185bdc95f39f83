#!/usr/bin/env node
// Computes the expected compose hashes of corpus/*.json with the real dstack SDK
// (@phala/dstack-sdk getComposeHash), which tdxkit's `measure-compose --normalize` must reproduce.
//
//   node generate.js --sdk DIR            write expected.json (DIR: node_modules holding the SDK)
//   node generate.js --sdk DIR --check    compare with the committed expected.json
//
// Install the SDK outside the repository: npm install --prefix /tmp/dstack-sdk @phala/dstack-sdk
// Exit status: 0 ok, 1 mismatch, 77 SDK not available (ctest: skipped).
'use strict';
const fs = require('fs');
const path = require('path');

const args = process.argv.slice(2);
const sdkIndex = args.indexOf('--sdk');
const sdkDir = sdkIndex >= 0 ? args[sdkIndex + 1] : process.env.TDXKIT_DSTACK_SDK || '/tmp/dstack-sdk/node_modules';
const check = args.includes('--check');

let sdk;
let version;
try {
  // The module itself, by path: the package index also loads optional peer dependencies.
  sdk = require(path.join(sdkDir, '@phala/dstack-sdk/dist/get-compose-hash.js'));
  version = JSON.parse(fs.readFileSync(path.join(sdkDir, '@phala/dstack-sdk/package.json'), 'utf8')).version;
} catch (e) {
  console.log(`SKIPPED: @phala/dstack-sdk not found under ${sdkDir} (npm install --prefix /tmp/dstack-sdk @phala/dstack-sdk)`);
  process.exit(77);
}

const corpus = path.join(__dirname, 'corpus');
const files = fs.readdirSync(corpus).filter((f) => f.endsWith('.json')).sort();
const hashes = {};
for (const file of files) {
  const doc = JSON.parse(fs.readFileSync(path.join(corpus, file), 'utf8'));
  hashes[file] = { canonical: sdk.getComposeHash(doc), preprocessed: sdk.getComposeHash(doc, true) };
}
const expectedPath = path.join(__dirname, 'expected.json');
if (!check) {
  const out = { generator: 'tests/compose/generate.js', sdk: `@phala/dstack-sdk@${version}`, hashes };
  fs.writeFileSync(expectedPath, JSON.stringify(out, null, 2) + '\n');
  console.log(`wrote ${files.length} entries to ${expectedPath}`);
  process.exit(0);
}
const expected = JSON.parse(fs.readFileSync(expectedPath, 'utf8')).hashes;
let failures = 0;
for (const file of new Set([...Object.keys(expected), ...files])) {
  if (JSON.stringify(expected[file]) !== JSON.stringify(hashes[file])) {
    console.log(`MISMATCH ${file}: committed ${JSON.stringify(expected[file])}, SDK ${version} gives ${JSON.stringify(hashes[file])}`);
    failures++;
  }
}
console.log(`${files.length - failures} of ${files.length} corpus files agree with @phala/dstack-sdk@${version}`);
process.exit(failures === 0 ? 0 : 1);
