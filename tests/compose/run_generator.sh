#!/usr/bin/env bash
# ctest wrapper: re-runs generate.js --check when node and the SDK are available, else skips (77).
set -u
if ! command -v node >/dev/null 2>&1; then
  echo "SKIPPED: node is not installed"
  exit 77
fi
exec node "$(dirname "$0")/generate.js" --check
