#!/usr/bin/env zsh
# Prints the candidates zsh's completion system offers for a command line, one per line.
#   zsh -f tests/lint/zsh-complete.zsh COMPLETIONS_DIR 'tdxkit quote decode --'
# Drives an interactive `zsh -f` on a pseudo-terminal (zsh/zpty), presses TAB, and records every
# candidate passed to compadd in a file.
emulate -L zsh
setopt err_return
zmodload zsh/zpty

local dir=${1:A} line=$2
local out=$(mktemp) done_flag=$(mktemp -u)
trap 'rm -f -- $out $done_flag; zpty -d tdxkit_capture 2>/dev/null' EXIT

zpty tdxkit_capture zsh -f -i
zpty -w tdxkit_capture "PS1=''; fpath=(${(q)dir} \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w tdxkit_capture "zstyle ':completion:*' list-separator ''; zstyle ':completion:*' menu no"
# Record the candidates, then mark completion as finished.
zpty -w tdxkit_capture "compadd() { local -a __hits; builtin compadd -A __hits \"\$@\"; print -rl -- \$__hits >> ${(q)out}; builtin compadd \"\$@\"; }"
zpty -w tdxkit_capture "_tdxkit_capture_done() { : > ${(q)done_flag}; }; comppostfuncs=(_tdxkit_capture_done)"
zpty -w -n tdxkit_capture "$line"$'\t'

local i
for i in {1..100}; do
  [[ -e $done_flag ]] && break
  sleep 0.05
done
[[ -e $done_flag ]] || { print -u2 "zsh-complete: no completion after 5 s for: $line"; exit 2 }
sort -u -- $out
