# fish completion for tdxkit.
#
# Installed as ${datadir}/fish/vendor_completions.d/tdxkit.fish; or: source completions/tdxkit.fish
# Kept in sync with `tdxkit --help` by tests/cli/docs_test.cpp: every subcommand, long option and
# option value must be offered here, and nothing the CLI does not accept.

# Prints the subcommand path typed so far ("", "quote", "quote decode", ...), skipping options and
# their values.
function __tdxkit_path
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l path ''
    set -l skip 0
    for token in $tokens
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $token
            case --ekm-header --help --insecure-skip-tls-verify --json --no-cert-binding --normalize --offline --pipe --preprocess --quiet --refresh --version
                # no value
            case '--*=*'
            case '--*'
                set skip 1
            case '-*'
            case '*'
                switch "$path:$token"
                    case ':quote' ':verify' ':replay-rtmr' ':measure' ':measure-compose' ':collateral' ':atls-connect' ':atls-serve' 'quote:decode' 'quote:generate' 'collateral:fetch' 'collateral:show'
                        set path (string trim -- "$path $token")
                    case ':serve'
                        set path serve
                end
        end
    end
    echo $path
end

function __tdxkit_at -a want
    set -l path (__tdxkit_path)
    test "$path" = "$want"
end

complete -c tdxkit -e

# Global options, accepted at every level.
complete -c tdxkit -s h -l help -d 'Print help and exit'
complete -c tdxkit -l json -d 'Machine-readable JSON on stdout'
complete -c tdxkit -s q -l quiet -d 'No progress or informational messages on stderr'

# tdxkit COMMAND
complete -c tdxkit -n '__tdxkit_at ""' -f
complete -c tdxkit -n '__tdxkit_at ""' -a quote -d 'Decode quotes (and, inside a TD, generate them)'
complete -c tdxkit -n '__tdxkit_at ""' -a verify -d 'Verify a quote (Intel DCAP) and check it against a policy'
complete -c tdxkit -n '__tdxkit_at ""' -a replay-rtmr -d 'Replay an event log (dstack JSON or CCEL) into RTMR0-3'
complete -c tdxkit -n '__tdxkit_at ""' -a measure -d 'Predict MRTD and RTMR0-2 from a dstack image and VM shape'
complete -c tdxkit -n '__tdxkit_at ""' -a measure-compose -d 'Compute the dstack compose hash and derived measurements'
complete -c tdxkit -n '__tdxkit_at ""' -a collateral -d 'Fetch, cache and inspect DCAP collateral (Intel PCS / PCCS)'
complete -c tdxkit -n '__tdxkit_at ""' -a atls-connect -d 'Attested TLS client: verify a TD server, then talk to it'
complete -c tdxkit -n '__tdxkit_at ""' -a atls-serve -d 'Attested TLS server: answer /tdx_quote with session-bound quotes'
complete -c tdxkit -n '__tdxkit_at ""' -a serve -d 'Run a verification service (HTTP; dstack-verifier compatible /verify)'
complete -c tdxkit -n '__tdxkit_at ""' -l version -d 'Print version and exit'

# tdxkit quote
complete -c tdxkit -n '__tdxkit_at "quote"' -f
complete -c tdxkit -n '__tdxkit_at "quote"' -a decode -d 'Decode a quote: raw, hex, base64 or a JSON container'
complete -c tdxkit -n '__tdxkit_at "quote"' -a generate -d 'Generate a quote inside a TD (configfs-tsm or dstack)'

# tdxkit collateral
complete -c tdxkit -n '__tdxkit_at "collateral"' -f
complete -c tdxkit -n '__tdxkit_at "collateral"' -a fetch -d 'Fetch the collateral for a quote or an FMSPC as a QuoteCollateralV3 bundle'
complete -c tdxkit -n '__tdxkit_at "collateral"' -a show -d 'Describe a collateral bundle or directory and check it against the trust root'

# tdxkit quote decode
complete -c tdxkit -n '__tdxkit_at "quote decode"' -l format -x -a 'auto raw hex base64 json' -d 'Input format'

# tdxkit quote generate
complete -c tdxkit -n '__tdxkit_at "quote generate"' -f
complete -c tdxkit -n '__tdxkit_at "quote generate"' -l report-data -x -d 'Report data, hex, at most 64 bytes'
complete -c tdxkit -n '__tdxkit_at "quote generate"' -l report-data-file -r -F -d 'Report data as raw bytes from a file'
complete -c tdxkit -n '__tdxkit_at "quote generate"' -l provider -x -a 'auto configfs-tsm dstack simulated' -d 'Quote provider'
complete -c tdxkit -n '__tdxkit_at "quote generate"' -l out -r -F -d 'Where to write the quote (- for stdout)'
complete -c tdxkit -n '__tdxkit_at "quote generate"' -l format -x -a 'raw hex base64 json' -d 'Quote encoding'
complete -c tdxkit -n '__tdxkit_at "quote generate"' -l tsm-dir -x -a '(__fish_complete_directories)' -d 'configfs-tsm report directory'
complete -c tdxkit -n '__tdxkit_at "quote generate"' -l pki -x -a '(__fish_complete_directories)' -d 'Simulated provider: the TEST PKI directory'
complete -c tdxkit -n '__tdxkit_at "quote generate"' -l bind-cert -r -F -d 'Simulated provider: certificate to bind'
complete -c tdxkit -n '__tdxkit_at "quote generate"' -l ra-tls-cert -r -F -d 'Make a key and an RA-TLS certificate binding it, written here'
complete -c tdxkit -n '__tdxkit_at "quote generate"' -l key -r -F -d 'With --ra-tls-cert: where to write its private key'
complete -c tdxkit -n '__tdxkit_at "quote generate"' -l cert-not-before -x -d 'RA-TLS certificate validity start'
complete -c tdxkit -n '__tdxkit_at "quote generate"' -l cert-not-after -x -d 'RA-TLS certificate validity end'
complete -c tdxkit -n '__tdxkit_at "quote generate"' -l event-log-out -r -F -d 'Write the JSON event log to this file'

# tdxkit verify
complete -c tdxkit -n '__tdxkit_at "verify"' -l format -x -a 'auto raw hex base64 json' -d 'Quote input format'
complete -c tdxkit -n '__tdxkit_at "verify"' -l collateral -r -F -d 'Collateral directory or QuoteCollateralV3 JSON file'
complete -c tdxkit -n '__tdxkit_at "verify"' -l policy -r -F -d 'JSON policy file'
complete -c tdxkit -n '__tdxkit_at "verify"' -l at -x -d 'Verification time, RFC 3339 or unix seconds'
complete -c tdxkit -n '__tdxkit_at "verify"' -l trust-root -r -F -d 'TEST ONLY: replace the Intel SGX Root CA'
complete -c tdxkit -n '__tdxkit_at "verify"' -l event-log -r -F -d 'Event log for the policy dstack rules'
complete -c tdxkit -n '__tdxkit_at "verify"' -l expect-report-data -x -d 'Require this REPORTDATA: HEX or TAG:FILE'
complete -c tdxkit -n '__tdxkit_at "verify"' -l batch -r -F -d 'Verify JSON lines from FILE or - (one result line each)'
complete -c tdxkit -n '__tdxkit_at "verify"' -l jobs -x -d 'Worker threads for --batch'
complete -c tdxkit -n '__tdxkit_at "verify"' -l output -x -a 'full summary' -d '--batch result lines'
complete -c tdxkit -n '__tdxkit_at "verify"' -l pccs-url -x -d 'Intel PCS or PCCS base URL (default: $PCCS_URL)'
complete -c tdxkit -n '__tdxkit_at "verify"' -l pccs-ca -r -F -d 'PEM CA bundle to trust for the collateral service'
complete -c tdxkit -n '__tdxkit_at "verify"' -l root-ca-crl-url -x -d 'Root CA CRL URL'
complete -c tdxkit -n '__tdxkit_at "verify"' -l update -x -a 'standard early' -d 'TCB update type of the collateral'
complete -c tdxkit -n '__tdxkit_at "verify"' -l cache-dir -x -a '(__fish_complete_directories)' -d 'Collateral cache directory (default: $XDG_CACHE_HOME/tdxkit)'
complete -c tdxkit -n '__tdxkit_at "verify"' -l timeout -x -d 'Seconds allowed for each HTTP request'
complete -c tdxkit -n '__tdxkit_at "verify"' -l retries -x -d 'Retries after a 5xx, 429 or connection error'
complete -c tdxkit -n '__tdxkit_at "verify"' -l offline -d 'Never use the network: only --collateral and the cache'
complete -c tdxkit -n '__tdxkit_at "verify"' -l refresh -d 'Ignore cached collateral and fetch it again'

# tdxkit replay-rtmr
complete -c tdxkit -n '__tdxkit_at "replay-rtmr"' -l quote -r -F -d 'Quote to compare with'
complete -c tdxkit -n '__tdxkit_at "replay-rtmr"' -l acpi-table -r -F -d 'The ACPI CCEL table for a CCEL log'

# tdxkit measure
complete -c tdxkit -n '__tdxkit_at "measure"' -f
complete -c tdxkit -n '__tdxkit_at "measure"' -l image -x -a '(__fish_complete_directories)' -d 'dstack image directory (metadata.json names the files)'
complete -c tdxkit -n '__tdxkit_at "measure"' -l firmware -r -F -d 'OVMF/TDVF firmware image'
complete -c tdxkit -n '__tdxkit_at "measure"' -l kernel -r -F -d 'Kernel bzImage'
complete -c tdxkit -n '__tdxkit_at "measure"' -l initrd -r -F -d 'Initrd'
complete -c tdxkit -n '__tdxkit_at "measure"' -l cmdline -x -d 'Kernel command line, without " initrd=initrd"'
complete -c tdxkit -n '__tdxkit_at "measure"' -l vm-config -r -F -d 'dstack vm_config with tdx_measurement (or a GetQuote response)'
complete -c tdxkit -n '__tdxkit_at "measure"' -l memory -x -d 'TD memory size: 2G, 2048M or bytes'
complete -c tdxkit -n '__tdxkit_at "measure"' -l cpus -x -d 'Number of vCPUs (recorded only)'
complete -c tdxkit -n '__tdxkit_at "measure"' -l qemu-version -x -d 'QEMU version MAJOR.MINOR.PATCH'
complete -c tdxkit -n '__tdxkit_at "measure"' -l page-order -x -a 'single two' -d 'Override the MRTD page order'
complete -c tdxkit -n '__tdxkit_at "measure"' -l ovmf-variant -x -a 'pre202505 stable202505' -d 'OVMF variant'
complete -c tdxkit -n '__tdxkit_at "measure"' -l acpi-from -r -F -d 'Event log to take the ACPI digests from'
complete -c tdxkit -n '__tdxkit_at "measure"' -l event-log -r -F -d 'Event log to take the ACPI digests from'
complete -c tdxkit -n '__tdxkit_at "measure"' -l acpi-tables -r -F -d 'etc/acpi/tables dumped from QEMU fw_cfg'
complete -c tdxkit -n '__tdxkit_at "measure"' -l acpi-rsdp -r -F -d 'etc/acpi/rsdp dumped from QEMU fw_cfg'
complete -c tdxkit -n '__tdxkit_at "measure"' -l acpi-loader -r -F -d 'etc/table-loader dumped from QEMU fw_cfg'
complete -c tdxkit -n '__tdxkit_at "measure"' -l policy-out -r -F -d 'Write a policy pinning MRTD and RTMR0-2'
complete -c tdxkit -n '__tdxkit_at "measure"' -l merge-policy -r -F -d 'Start --policy-out from this policy'
complete -c tdxkit -n '__tdxkit_at "measure"' -l diagnose -r -F -d 'Compare with a TD (quote or GetQuote response)'

# tdxkit measure-compose
complete -c tdxkit -n '__tdxkit_at "measure-compose"' -l normalize -d 'Hash the dstack SDK canonical form'
complete -c tdxkit -n '__tdxkit_at "measure-compose"' -l preprocess -d 'With --normalize: the SDK preprocessing too'
complete -c tdxkit -n '__tdxkit_at "measure-compose"' -l write-normalized -r -F -d 'With --normalize: write the canonical bytes here'
complete -c tdxkit -n '__tdxkit_at "measure-compose"' -l app-id -x -d 'App id (20 bytes hex)'
complete -c tdxkit -n '__tdxkit_at "measure-compose"' -l key-provider -x -a 'none local kms tpm' -d 'Key provider for MRCONFIGID V2'
complete -c tdxkit -n '__tdxkit_at "measure-compose"' -l key-provider-id -x -d 'Key provider id (hex) for MRCONFIGID V2'
complete -c tdxkit -n '__tdxkit_at "measure-compose"' -l policy-out -r -F -d 'Write a policy accepting this application'

# tdxkit collateral fetch
complete -c tdxkit -n '__tdxkit_at "collateral fetch"' -l fmspc -x -d 'FMSPC (12 hex digits) instead of a quote'
complete -c tdxkit -n '__tdxkit_at "collateral fetch"' -l ca -x -a 'platform processor' -d 'PCK CA type, with --fmspc'
complete -c tdxkit -n '__tdxkit_at "collateral fetch"' -l tee -x -a 'tdx sgx' -d 'TEE type, with --fmspc'
complete -c tdxkit -n '__tdxkit_at "collateral fetch"' -l out -r -F -d 'Write the bundle to this file (- for stdout)'
complete -c tdxkit -n '__tdxkit_at "collateral fetch"' -l pccs-url -x -d 'Intel PCS or PCCS base URL (default: $PCCS_URL)'
complete -c tdxkit -n '__tdxkit_at "collateral fetch"' -l pccs-ca -r -F -d 'PEM CA bundle to trust for the collateral service'
complete -c tdxkit -n '__tdxkit_at "collateral fetch"' -l root-ca-crl-url -x -d 'Root CA CRL URL'
complete -c tdxkit -n '__tdxkit_at "collateral fetch"' -l update -x -a 'standard early' -d 'TCB update type of the collateral'
complete -c tdxkit -n '__tdxkit_at "collateral fetch"' -l cache-dir -x -a '(__fish_complete_directories)' -d 'Collateral cache directory (default: $XDG_CACHE_HOME/tdxkit)'
complete -c tdxkit -n '__tdxkit_at "collateral fetch"' -l timeout -x -d 'Seconds allowed for each HTTP request'
complete -c tdxkit -n '__tdxkit_at "collateral fetch"' -l retries -x -d 'Retries after a 5xx, 429 or connection error'
complete -c tdxkit -n '__tdxkit_at "collateral fetch"' -l offline -d 'Never use the network: only --collateral and the cache'
complete -c tdxkit -n '__tdxkit_at "collateral fetch"' -l refresh -d 'Ignore cached collateral and fetch it again'

# tdxkit collateral show
complete -c tdxkit -n '__tdxkit_at "collateral show"' -l at -x -d 'Check time, RFC 3339 or unix seconds'
complete -c tdxkit -n '__tdxkit_at "collateral show"' -l trust-root -r -F -d 'TEST ONLY: replace the Intel SGX Root CA'

# tdxkit atls-connect
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -f
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l server-name -x -d 'Name to verify in the certificate and send as SNI'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l ca-file -r -F -d 'PEM CA bundle for the server certificate'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l insecure-skip-tls-verify -d 'Do not validate the server certificate'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l quote-path -x -d 'Path of the quote endpoint'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l trust-root -r -F -d 'TEST ONLY: replace the Intel SGX Root CA'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l at -x -d 'Verification time, RFC 3339 or unix seconds'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l policy -r -F -d 'JSON policy file'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l no-cert-binding -d 'Do not require the certificate in the event log'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l http-get -x -d 'After verification, GET this path'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l pipe -d 'After verification, bridge stdin and stdout to the session'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l ra-tls -d 'Appraise the quote in the server certificate (RA-TLS)'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l client-ra-tls -r -F -d 'Certificate to present when the server asks (mutual RA-TLS)'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l key -r -F -d 'Private key of --client-ra-tls'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l collateral -r -F -d 'Collateral directory or QuoteCollateralV3 JSON file'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l pccs-url -x -d 'Intel PCS or PCCS base URL (default: $PCCS_URL)'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l pccs-ca -r -F -d 'PEM CA bundle to trust for the collateral service'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l root-ca-crl-url -x -d 'Root CA CRL URL'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l update -x -a 'standard early' -d 'TCB update type of the collateral'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l cache-dir -x -a '(__fish_complete_directories)' -d 'Collateral cache directory (default: $XDG_CACHE_HOME/tdxkit)'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l timeout -x -d 'Seconds allowed for each HTTP request'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l retries -x -d 'Retries after a 5xx, 429 or connection error'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l offline -d 'Never use the network: only --collateral and the cache'
complete -c tdxkit -n '__tdxkit_at "atls-connect"' -l refresh -d 'Ignore cached collateral and fetch it again'

# tdxkit atls-serve
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -f
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l listen -x -d 'Address and port to listen on'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l cert -r -F -d 'PEM certificate chain, leaf first'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l key -r -F -d 'PEM private key of --cert'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l ra-tls -d 'Serve an RA-TLS certificate carrying this TD quote'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l cert-not-before -x -d 'RA-TLS certificate validity start'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l cert-not-after -x -d 'RA-TLS certificate validity end'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l client-ra-tls -d 'Require and appraise each client RA-TLS certificate'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l trust-root -r -F -d 'TEST ONLY: replace the Intel SGX Root CA'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l at -x -d 'Verification time, RFC 3339 or unix seconds'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l policy -r -F -d 'JSON policy file for the clients'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l collateral -r -F -d 'Collateral directory or QuoteCollateralV3 JSON file'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l pccs-url -x -d 'Intel PCS or PCCS base URL (default: $PCCS_URL)'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l pccs-ca -r -F -d 'PEM CA bundle to trust for the collateral service'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l root-ca-crl-url -x -d 'Root CA CRL URL'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l update -x -a 'standard early' -d 'TCB update type of the collateral'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l cache-dir -x -a '(__fish_complete_directories)' -d 'Collateral cache directory (default: $XDG_CACHE_HOME/tdxkit)'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l timeout -x -d 'Seconds allowed for each HTTP request'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l retries -x -d 'Retries after a 5xx, 429 or connection error'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l offline -d 'Never use the network: only --collateral and the cache'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l refresh -d 'Ignore cached collateral and fetch it again'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l provider -x -a 'auto configfs-tsm dstack simulated' -d 'Quote provider'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l pki -x -a '(__fish_complete_directories)' -d 'Simulated provider: the TEST PKI directory'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l tsm-dir -x -a '(__fish_complete_directories)' -d 'configfs-tsm report directory'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l event-log -r -F -d 'JSON event log to serve with each quote'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l upstream -x -d 'Plain HTTP upstream for other requests'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l quote-path -x -d 'Path of the quote endpoint'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l ekm-header -d 'Take the EKM from X-TLS-EKM-Channel-Binding'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l ekm-hmac-key-file -r -F -d 'HMAC-SHA256 key shared with the proxy'
complete -c tdxkit -n '__tdxkit_at "atls-serve"' -l max-connections -x -d 'Concurrent connections'

# tdxkit serve
complete -c tdxkit -n '__tdxkit_at "serve"' -f
complete -c tdxkit -n '__tdxkit_at "serve"' -l listen -x -d 'HOST:PORT to listen on (default 127.0.0.1:8080)'
complete -c tdxkit -n '__tdxkit_at "serve"' -l tls-cert -r -F -d 'Serve HTTPS with this PEM certificate chain'
complete -c tdxkit -n '__tdxkit_at "serve"' -l tls-key -r -F -d 'PEM private key of --tls-cert'
complete -c tdxkit -n '__tdxkit_at "serve"' -l policy-dir -x -a '(__fish_complete_directories)' -d 'Directory of policies (*.json), named by file stem'
complete -c tdxkit -n '__tdxkit_at "serve"' -l verify-policy -x -d 'Policy name POST /verify applies'
complete -c tdxkit -n '__tdxkit_at "serve"' -l collateral -r -F -d 'Collateral directory or QuoteCollateralV3 JSON file'
complete -c tdxkit -n '__tdxkit_at "serve"' -l pccs-url -x -d 'Intel PCS or PCCS base URL (default: $PCCS_URL)'
complete -c tdxkit -n '__tdxkit_at "serve"' -l pccs-ca -r -F -d 'PEM CA bundle to trust for the collateral service'
complete -c tdxkit -n '__tdxkit_at "serve"' -l root-ca-crl-url -x -d 'Root CA CRL URL'
complete -c tdxkit -n '__tdxkit_at "serve"' -l update -x -a 'standard early' -d 'TCB update type of the collateral'
complete -c tdxkit -n '__tdxkit_at "serve"' -l cache-dir -x -a '(__fish_complete_directories)' -d 'Collateral cache directory (default: $XDG_CACHE_HOME/tdxkit)'
complete -c tdxkit -n '__tdxkit_at "serve"' -l timeout -x -d 'Seconds allowed for each HTTP request'
complete -c tdxkit -n '__tdxkit_at "serve"' -l retries -x -d 'Retries after a 5xx, 429 or connection error'
complete -c tdxkit -n '__tdxkit_at "serve"' -l offline -d 'Never use the network: only --collateral and the cache'
complete -c tdxkit -n '__tdxkit_at "serve"' -l refresh -d 'Ignore cached collateral and fetch it again'
complete -c tdxkit -n '__tdxkit_at "serve"' -l trust-root -r -F -d 'TEST ONLY: replace the Intel SGX Root CA'
complete -c tdxkit -n '__tdxkit_at "serve"' -l at -x -d 'TEST ONLY: fixed verification time, RFC 3339 or unix seconds'
complete -c tdxkit -n '__tdxkit_at "serve"' -l max-body -x -d 'Largest request body (default 1M)'
complete -c tdxkit -n '__tdxkit_at "serve"' -l max-inflight -x -d 'Requests verified or queued at once (default 64)'
complete -c tdxkit -n '__tdxkit_at "serve"' -l max-connections -x -d 'Open connections at once (default 1024)'
complete -c tdxkit -n '__tdxkit_at "serve"' -l request-timeout -x -d 'Time to send a request; idle keep-alive limit (default 10s)'
complete -c tdxkit -n '__tdxkit_at "serve"' -l shutdown-timeout -x -d 'Grace period for requests in flight on SIGTERM (default 10s)'
complete -c tdxkit -n '__tdxkit_at "serve"' -l workers -x -d 'Verification threads (default: one per core)'
