#!/usr/bin/env bash
# Installs the Debian packages named on the command line that are not installed yet (apt, as root or
# through sudo). Used by setup.sh (what the build needs) and test.sh (what the tests need).
#
#   bash scripts/install-packages.sh PACKAGE...
#
# Never reads standard input. Runs `apt-get update` only when something is missing.
set -euo pipefail

if [[ ! -r /etc/debian_version ]] || ! command -v apt-get >/dev/null; then
    echo "install-packages.sh: this script supports Debian 12 (apt-get); install these packages by hand: $*" >&2
    exit 1
fi

missing=()
for pkg in "$@"; do
    # `dpkg -s` alone also succeeds for removed-but-not-purged packages; require "install ok installed".
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} == 0)); then
    echo "All $# packages are installed."
    exit 0
fi
echo "Missing: ${missing[*]}"
if ((EUID == 0)); then
    as_root=(env DEBIAN_FRONTEND=noninteractive)
elif command -v sudo >/dev/null; then
    # -n: fail instead of prompting when a password would be needed and there is no terminal.
    if [[ -t 0 ]]; then sudo_flags=(); else sudo_flags=(-n); fi
    as_root=(sudo "${sudo_flags[@]}" env DEBIAN_FRONTEND=noninteractive)
else
    echo "install-packages.sh: not root and sudo is not installed; as root run: apt-get install ${missing[*]}" >&2
    exit 1
fi
printf '+ %s\n' "${as_root[*]} apt-get update -q"
"${as_root[@]}" apt-get update -q </dev/null
printf '+ %s\n' "${as_root[*]} apt-get install -y -q --no-install-recommends ${missing[*]}"
"${as_root[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
