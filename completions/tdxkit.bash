# bash completion for tdxkit                                          -*- shell-script -*-
#
# Installed as ${datadir}/bash-completion/completions/tdxkit; or: source completions/tdxkit.bash
# Self-contained: works without the bash-completion package.
# Kept in sync with `tdxkit --help` by tests/cli/docs_test.cpp: every subcommand, long option and
# option value must be offered here, and nothing the CLI does not accept.

_tdxkit_global_opts='-h --help --json -q --quiet'

# Options without a value; every other long option takes one.
_tdxkit_flags=' --ekm-header --help --insecure-skip-tls-verify --json --no-cert-binding --normalize --offline --pipe --preprocess --quiet --refresh --version '

# Subcommands of a command path ('' is the top level).
_tdxkit_subcommands() {
    case $1 in
    '') echo 'quote verify replay-rtmr measure measure-compose collateral atls-connect atls-serve serve' ;;
    quote) echo 'decode generate' ;;
    collateral) echo 'fetch show' ;;
    esac
}

# Long options of a command path, besides the global ones.
_tdxkit_options() {
    case $1 in
    '') echo '--version' ;;
    'quote decode') echo '--format' ;;
    'quote generate') echo '--report-data --report-data-file --provider --out --format --tsm-dir --pki --bind-cert --event-log-out --ra-tls-cert --key --cert-not-before --cert-not-after' ;;
    verify) echo '--format --collateral --policy --at --trust-root --event-log --expect-report-data --batch --jobs --output --pccs-url --pccs-ca --root-ca-crl-url --update --cache-dir --timeout --retries --offline --refresh' ;;
    replay-rtmr) echo '--quote --acpi-table' ;;
    measure) echo '--image --firmware --kernel --initrd --cmdline --vm-config --memory --cpus --qemu-version --page-order --ovmf-variant --acpi-from --event-log --acpi-tables --acpi-rsdp --acpi-loader --policy-out --merge-policy --diagnose' ;;
    measure-compose) echo '--normalize --preprocess --write-normalized --app-id --key-provider --key-provider-id --policy-out' ;;
    'collateral fetch') echo '--fmspc --ca --tee --out --pccs-url --pccs-ca --root-ca-crl-url --update --cache-dir --timeout --retries --offline --refresh' ;;
    'collateral show') echo '--at --trust-root' ;;
    atls-connect) echo '--server-name --ca-file --insecure-skip-tls-verify --quote-path --trust-root --at --policy --no-cert-binding --http-get --pipe --ra-tls --client-ra-tls --key --collateral --pccs-url --pccs-ca --root-ca-crl-url --update --cache-dir --timeout --retries --offline --refresh' ;;
    atls-serve) echo '--listen --cert --key --ra-tls --cert-not-before --cert-not-after --client-ra-tls --trust-root --at --policy --collateral --pccs-url --pccs-ca --root-ca-crl-url --update --cache-dir --timeout --retries --offline --refresh --provider --pki --tsm-dir --event-log --upstream --quote-path --ekm-header --ekm-hmac-key-file --max-connections' ;;
    serve) echo '--listen --tls-cert --tls-key --policy-dir --verify-policy --collateral --pccs-url --pccs-ca --root-ca-crl-url --update --cache-dir --timeout --retries --offline --refresh --trust-root --at --max-body --max-inflight --max-connections --request-timeout --shutdown-timeout --workers' ;;
    esac
}

# How to complete the value of option $2 of command path $1: 'file', 'dir', or the words to offer.
_tdxkit_values() {
    case "$1:$2" in
    'quote decode:--format' | 'verify:--format')
        echo 'auto raw hex base64 json' ;;
    'atls-connect:--at' | 'atls-connect:--http-get' | 'atls-connect:--pccs-url' | 'atls-connect:--quote-path' | 'atls-connect:--retries' | 'atls-connect:--root-ca-crl-url' | 'atls-connect:--server-name' | 'atls-connect:--timeout' | 'atls-serve:--at' | 'atls-serve:--cert-not-after' | 'atls-serve:--cert-not-before' | 'atls-serve:--listen' | 'atls-serve:--max-connections' | 'atls-serve:--pccs-url' | 'atls-serve:--quote-path' | 'atls-serve:--retries' | 'atls-serve:--root-ca-crl-url' | 'atls-serve:--timeout' | 'atls-serve:--upstream' | 'collateral fetch:--fmspc' | 'collateral fetch:--pccs-url' | 'collateral fetch:--retries' | 'collateral fetch:--root-ca-crl-url' | 'collateral fetch:--timeout' | 'collateral show:--at' | 'measure-compose:--app-id' | 'measure-compose:--key-provider-id' | 'measure:--cmdline' | 'measure:--cpus' | 'measure:--memory' | 'measure:--qemu-version' | 'quote generate:--cert-not-after' | 'quote generate:--cert-not-before' | 'quote generate:--report-data' | 'verify:--at' | 'verify:--expect-report-data' | 'verify:--jobs' | 'verify:--pccs-url' | 'verify:--retries' | 'verify:--root-ca-crl-url' | 'verify:--timeout')
        ;; # free text
    'atls-connect:--ca-file' | 'atls-connect:--client-ra-tls' | 'atls-connect:--collateral' | 'atls-connect:--key' | 'atls-connect:--pccs-ca' | 'atls-connect:--policy' | 'atls-connect:--trust-root' | 'atls-serve:--cert' | 'atls-serve:--collateral' | 'atls-serve:--pccs-ca' | 'atls-serve:--policy' | 'atls-serve:--trust-root' | 'atls-serve:--ekm-hmac-key-file' | 'atls-serve:--event-log' | 'atls-serve:--key' | 'collateral fetch:--out' | 'collateral fetch:--pccs-ca' | 'collateral show:--trust-root' | 'measure:--acpi-from' | 'measure:--acpi-loader' | 'measure:--acpi-rsdp' | 'measure:--acpi-tables' | 'measure:--diagnose' | 'measure:--event-log' | 'measure:--firmware' | 'measure:--initrd' | 'measure:--kernel' | 'measure:--merge-policy' | 'measure:--policy-out' | 'measure:--vm-config' | 'measure-compose:--policy-out' | 'measure-compose:--write-normalized' | 'quote generate:--bind-cert' | 'quote generate:--event-log-out' | 'quote generate:--key' | 'quote generate:--out' | 'quote generate:--ra-tls-cert' | 'quote generate:--report-data-file' | 'replay-rtmr:--acpi-table' | 'replay-rtmr:--quote' | 'verify:--batch' | 'verify:--collateral' | 'verify:--event-log' | 'verify:--pccs-ca' | 'verify:--policy' | 'verify:--trust-root')
        echo 'file' ;;
    'atls-serve:--provider' | 'quote generate:--provider')
        echo 'auto configfs-tsm dstack simulated' ;;
    'quote generate:--format')
        echo 'raw hex base64 json' ;;
    'atls-connect:--cache-dir' | 'atls-serve:--cache-dir' | 'atls-serve:--pki' | 'atls-serve:--tsm-dir' | 'collateral fetch:--cache-dir' | 'measure:--image' | 'quote generate:--pki' | 'quote generate:--tsm-dir' | 'verify:--cache-dir')
        echo 'dir' ;;
    'atls-connect:--update' | 'atls-serve:--update' | 'collateral fetch:--update' | 'verify:--update')
        echo 'standard early' ;;
    'measure-compose:--key-provider')
        echo 'none local kms tpm' ;;
    'measure:--page-order')
        echo 'single two' ;;
    'measure:--ovmf-variant')
        echo 'pre202505 stable202505' ;;
    'verify:--output')
        echo 'full summary' ;;
    'collateral fetch:--ca')
        echo 'platform processor' ;;
    'collateral fetch:--tee')
        echo 'tdx sgx' ;;
    # tdxkit serve
    'serve:--listen' | 'serve:--verify-policy' | 'serve:--pccs-url' | 'serve:--root-ca-crl-url' | 'serve:--timeout' | 'serve:--retries' | 'serve:--at' | 'serve:--max-body' | 'serve:--max-inflight' | 'serve:--max-connections' | 'serve:--request-timeout' | 'serve:--shutdown-timeout' | 'serve:--workers')
        ;; # free text
    'serve:--tls-cert' | 'serve:--tls-key' | 'serve:--collateral' | 'serve:--pccs-ca' | 'serve:--trust-root')
        echo 'file' ;;
    'serve:--policy-dir' | 'serve:--cache-dir')
        echo 'dir' ;;
    'serve:--update')
        echo 'standard early' ;;
    esac
}

_tdxkit_files() {
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -f -- "$1")
}

_tdxkit_dirs() {
    compopt -o filenames 2>/dev/null
    mapfile -t COMPREPLY < <(compgen -d -- "$1")
}

_tdxkit_takes_value() {
    [[ $1 == --* && $_tdxkit_flags != *" $1 "* ]]
}

_tdxkit() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prev=''
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}

    # The subcommand path typed so far, skipping options and their values. bash splits
    # `--format=hex` into `--format` `=` `hex`.
    local cmd='' word i
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
        if _tdxkit_takes_value "$word"; then
            if [[ ${COMP_WORDS[i + 1]-} == '=' ]]; then ((i += 2)); else ((i += 1)); fi
            continue
        fi
        [[ $word == -* || $word == '=' ]] && continue
        if [[ " $(_tdxkit_subcommands "$cmd") " == *" $word "* ]]; then
            cmd=${cmd:+$cmd }$word
        fi
    done

    # The option whose value is being completed, if any.
    local opt=''
    if [[ $cur == '=' ]]; then
        opt=$prev
        cur=''
    elif [[ $prev == '=' ]] && ((COMP_CWORD > 1)); then
        opt=${COMP_WORDS[COMP_CWORD - 2]}
    elif _tdxkit_takes_value "$prev"; then
        opt=$prev
    fi
    if [[ -n $opt ]]; then
        local values
        values=$(_tdxkit_values "$cmd" "$opt")
        case $values in
        file) _tdxkit_files "$cur" ;;
        dir) _tdxkit_dirs "$cur" ;;
        *) mapfile -t COMPREPLY < <(compgen -W "$values" -- "$cur") ;;
        esac
        return 0
    fi

    local subcommands
    subcommands=$(_tdxkit_subcommands "$cmd")
    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$_tdxkit_global_opts $(_tdxkit_options "$cmd")" -- "$cur")
    elif [[ -n $subcommands ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$subcommands" -- "$cur")
    else
        case $cmd in
        'quote decode' | verify | replay-rtmr | measure-compose | 'collateral fetch' | 'collateral show') _tdxkit_files "$cur" ;;
        esac
    fi
    return 0
}

complete -F _tdxkit tdxkit
