#!/usr/bin/env bash
# Builds the Debian package twice with the same SOURCE_DATE_EPOCH and checks the two are
# byte-identical and install what they should.
set -euo pipefail
build_dir=$1
command -v dpkg-deb >/dev/null || { echo "SKIPPED: dpkg-deb not available"; exit 77; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=1700000000
for i in 1 2; do
  (cd "$build_dir" && cpack -G DEB -B "$work/$i" >/dev/null)
done
deb1=$(ls "$work"/1/*.deb)
deb2=$(ls "$work"/2/*.deb)
cmp "$deb1" "$deb2"
contents=$(dpkg-deb -c "$deb1")
for path in ./usr/bin/tdxkit ./usr/share/man/man1/tdxkit.1 ./usr/share/bash-completion/completions/tdxkit \
            ./usr/share/zsh/vendor-completions/_tdxkit ./usr/share/fish/vendor_completions.d/tdxkit.fish \
            ./usr/include/tdxkit/verify.hpp ./usr/lib/pkgconfig/tdxkit.pc ./usr/lib/cmake/tdxkit/tdxkitConfig.cmake; do
  grep -q " $path" <<<"$contents" || { echo "missing $path in $(basename "$deb1")"; exit 1; }
done
dpkg-deb -f "$deb1" Depends
echo "reproducible package $(basename "$deb1") OK"
