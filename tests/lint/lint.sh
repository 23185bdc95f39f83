#!/usr/bin/env bash
# Lint checks run by ctest (tests/lint/tests.cmake). Exit 0 pass, 1 fail, 77 skipped (tool missing).
# Usage: lint.sh MODE ARGS, where MODE ARGS is one of: groff PAGE, mandoc PAGE, bash-syntax FILE,
# zsh-syntax FILE, fish-syntax FILE, shellcheck FILE..., clang-format-config SOURCE_DIR,
# clang-format FILE....
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
    silent shellcheck -s bash "$@"
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
*)
    echo "lint.sh: unknown mode $mode" >&2
    exit 2
    ;;
esac
echo "ok: $mode $*"
