#!/usr/bin/env bash
# Installs the build into a temporary prefix, then builds a consumer with find_package(tdxkit) and
# another with pkg-config, and runs both.
set -euo pipefail
build_dir=$1
source_dir=$2
# A sanitizer build's library needs consumers built with the same runtime.
flags=${3:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
test -x "$work/prefix/bin/tdxkit"
test -f "$work/prefix/share/man/man1/tdxkit.1"
test -f "$work/prefix/share/bash-completion/completions/tdxkit"
"$work/prefix/bin/tdxkit" --version

# The forging test PKI and the simulated provider live in tdxkit-testing, which is never installed:
# neither its header nor any of its symbols may reach the installed library.
if [ -e "$work/prefix/include/tdxkit/testing.hpp" ]; then
  echo "the installed headers include tdxkit/testing.hpp" >&2
  exit 1
fi
library=$(find "$work/prefix" -name 'libtdxkit.so.*' -type f | head -n 1)
test -n "$library"
if nm -D --defined-only -C "$library" | grep -E 'tdxkit::testing::|simulated'; then
  echo "the installed libtdxkit exports test-PKI or simulated-provider symbols (above)" >&2
  exit 1
fi

cmake -S "$source_dir/tests/install/consumer" -B "$work/consumer" -G Ninja -DCMAKE_CXX_FLAGS="$flags" \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_RPATH="$work/prefix/lib" >/dev/null
cmake --build "$work/consumer" >/dev/null
"$work/consumer/consumer"

export PKG_CONFIG_PATH="$work/prefix/lib/pkgconfig"
# shellcheck disable=SC2046,SC2086
c++ $flags -std=c++20 "$source_dir/tests/install/consumer/main.cpp" -o "$work/pc-consumer" \
  $(pkg-config --cflags --libs tdxkit) -Wl,-rpath,"$work/prefix/lib"
"$work/pc-consumer"
echo "install, find_package and pkg-config consumers OK"
