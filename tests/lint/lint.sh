#!/usr/bin/env bash
# Lint checks run by ctest (tests/lint/tests.cmake). Exit 0 pass, 1 fail, 77 skipped (tool missing).
# Usage: lint.sh MODE ARGS, where MODE ARGS is one of: groff PAGE, mandoc PAGE, bash-syntax FILE,
# zsh-syntax FILE, fish-syntax FILE, shellcheck FILE..., clang-format-config SOURCE_DIR,
# clang-format FILE..., clang-tidy BUILD_DIR SOURCE_DIR.
set -euo pipefail

skip_unless() {
    if ! command -v "$1" >/dev/null; then
        echo "SKIPPED: $1 is not installed${2:+ ($2)}"
        exit 77
    fi
}

# Runs a command and fails if it prints anything at all (groff warns but still exits 0).
silent() {
    local out
    out=$("$@" 2>&1) || { printf '%s\n' "$out"; echo "FAILED: $*"; exit 1; }
    if [[ -n $out ]]; then
        printf '%s\n' "$out"
        echo "FAILED: $* printed the above"
        exit 1
    fi
}

mode=${1:?mode}
shift
case $mode in
groff)
    skip_unless groff 'scripts/setup.sh installs groff-base'
    silent groff -man -ww -z "$1"
    ;;
mandoc)
    skip_unless mandoc 'optional: apt-get install mandoc'
    silent mandoc -Tlint -W warning "$1"
    ;;
bash-syntax)
    silent bash -n "$1"
    ;;
zsh-syntax)
    skip_unless zsh 'scripts/setup.sh installs it'
    silent zsh -n "$1"
    ;;
fish-syntax)
    skip_unless fish 'scripts/setup.sh installs it'
    silent fish --no-execute "$1"
    ;;
shellcheck)
    skip_unless shellcheck 'optional: apt-get install shellcheck'
    silent shellcheck -x -s bash "$@"
    ;;
clang-format-config)
    skip_unless clang-format 'optional: apt-get install clang-format'
    cd "$1"
    clang-format --style=file --dump-config >/dev/null
    ;;
clang-format)
    skip_unless clang-format 'scripts/setup.sh installs it'
    silent clang-format --style=file --dry-run --Werror "$@"
    ;;
clang-tidy)
    # The checks of .clang-tidy over every lib/ and apps/ source in BUILD_DIR's compile database (the
    # library, tdxkit-testing and the CLI; not tests/ or the fuzzers), two files at a time. Findings
    # in the project's own headers count too (the filter is anchored to SOURCE_DIR: not the system
    # headers, nor the generated ones under the build directory). Any finding fails.
    skip_unless clang-tidy 'scripts/test.sh installs it'
    build=$1 src=$2
    db=$build/compile_commands.json
    [[ -f $db ]] || { echo "FAILED: no $db (CMAKE_EXPORT_COMPILE_COMMANDS)"; exit 1; }
    # CMake writes one key per line: '  "file": "/abs/path.cpp",'.
    mapfile -t files < <(sed -n 's/^ *"file": "\(.*\)",\{0,1\}$/\1/p' "$db" |
        awk -v lib="$src/lib/" -v apps="$src/apps/" 'index($0, lib) == 1 || index($0, apps) == 1' | sort -u)
    ((${#files[@]} > 0)) || { echo "FAILED: no lib/ or apps/ source in $db"; exit 1; }
    src_re=$(printf '%s' "$src" | sed 's/[][\.*^$+?(){}|]/\\&/g')
    echo "clang-tidy: ${#files[@]} files"
    set +e
    printf '%s\0' "${files[@]}" |
        xargs -0 -n 1 -P 2 clang-tidy -p "$build" --quiet --header-filter="^$src_re/(lib|apps)/" 2>&1 |
        grep -v -E '^[0-9]+ warnings? (and [0-9]+ errors? )?generated\.$'
    status=${PIPESTATUS[1]}
    set -e
    ((status == 0)) || { echo "FAILED: clang-tidy reported the above (exit $status)"; exit 1; }
    ;;
*)
    echo "lint.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac
echo "ok: $mode $*"
