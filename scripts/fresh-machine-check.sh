#!/usr/bin/env bash
# "Works on a fresh machine", checked: builds a clean Debian 12 (bookworm) root with debootstrap,
# clones this repository's committed HEAD into it and runs the README's two quick-start commands
# there, timing each. Nothing from this machine's build (packages, ccache, build trees) is visible
# inside, so a package a script forgets to install fails here.
#
#   sudo bash scripts/fresh-machine-check.sh [--setup-only] [WORK_DIR]   (default /var/tmp/tdxkit-fresh)
#
# --setup-only stops after setup.sh: the quick check of step 1 alone (about 10 minutes).
#
# Needs root (debootstrap, chroot, mounts) and network access to a Debian mirror (MIRROR, default
# http://deb.debian.org/debian). Takes 30-60 minutes on 2 cores: everything is compiled from cold.
# Prints a summary with the duration of each step and exits non-zero when a step fails. The root is
# removed afterwards unless KEEP_ROOT=1. The log of each step is kept in WORK_DIR/*.log.
set -euo pipefail

readonly SUITE=bookworm
readonly MIRROR=${MIRROR:-http://deb.debian.org/debian}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
setup_only=0
if [[ ${1:-} == --setup-only ]]; then
    setup_only=1
    shift
fi
work=${1:-/var/tmp/tdxkit-fresh}
root="$work/root"

[[ $(id -u) -eq 0 ]] || { echo "fresh-machine-check.sh: run as root (sudo)" >&2; exit 2; }

readonly BIND_MOUNTS=(proc sys dev dev/pts)
unmount_all() {
    local i
    for ((i = ${#BIND_MOUNTS[@]} - 1; i >= 0; i--)); do
        if mountpoint -q "$root/${BIND_MOUNTS[i]}"; then umount "$root/${BIND_MOUNTS[i]}" || umount -l "$root/${BIND_MOUNTS[i]}"; fi
    done
}
# Removing a root that still has the host's /dev or /sys bound into it would delete the host's.
remove_root() {
    unmount_all
    if grep -q " $root/" /proc/mounts; then
        echo "fresh-machine-check.sh: something is still mounted under $root; not removing it" >&2
        return 1
    fi
    rm -rf "$root"
}
cleanup() {
    if [[ ${KEEP_ROOT:-0} == 1 ]]; then unmount_all; else remove_root; fi
}
trap cleanup EXIT

summary=()
# Runs one timed step, its output in $work/<name>.log; stops the check at the first failure.
timed() {
    local name=$1
    shift
    local start end status=0
    start=$(date +%s)
    printf '\n==> %s\n' "$name"
    # Not a pipeline: the step runs in this shell (bootstrap's mounts must be seen by cleanup).
    "$@" >"$work/$name.log" 2>&1 || status=$?
    tail -n 25 "$work/$name.log"
    end=$(date +%s)
    summary+=("$(printf '%-22s %5d s  %s' "$name" $((end - start)) "$([[ $status -eq 0 ]] && echo ok || echo "FAILED ($status)")")")
    if [[ $status -ne 0 ]]; then
        report
        exit 1
    fi
}
report() {
    printf '\n==> fresh-machine check (%s, %s cores)\n' "$SUITE" "$(nproc)"
    printf '%s\n' "${summary[@]}"
}

in_root() { chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 CI=true "$@"; }

bootstrap() {
    command -v debootstrap >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }
    remove_root
    mkdir -p "$root"
    debootstrap --variant=minbase "$SUITE" "$root" "$MIRROR"
    cp /etc/resolv.conf "$root/etc/resolv.conf"
    local fs
    for fs in "${BIND_MOUNTS[@]}"; do
        mkdir -p "$root/$fs"
        mount --bind "/$fs" "$root/$fs"
    done
    # What a newcomer has before the README: git, to clone (and nothing else).
    in_root apt-get update -qq
    in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq git ca-certificates
}

clone() {
    # The committed HEAD only, as a clone from a forge would give it: no work tree changes, no build/.
    git clone --quiet --no-local "$repo" "$root/root/tdxkit"
    git -C "$root/root/tdxkit" log -1 --format='commit %H %s'
}

mkdir -p "$work"
timed debootstrap bootstrap
timed clone clone
# The README's quick start, verbatim, from the clone's root, without a terminal or standard input.
timed setup.sh in_root bash -c 'cd /root/tdxkit && bash scripts/setup.sh </dev/null'
if [[ $setup_only == 0 ]]; then
    timed test.sh in_root bash -c 'cd /root/tdxkit && bash scripts/test.sh </dev/null'
fi
report
