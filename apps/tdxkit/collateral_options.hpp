#pragma once

// Collateral-source options shared by the subcommands that need collateral (`collateral fetch`,
// `verify`, `atls-connect`): where to fetch from, the cache, and the network limits.

#include <functional>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "tdxkit/collateral.hpp"
#include "tdxkit/pcs.hpp"
#include "tdxkit/policy.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/time.hpp"
#include "tdxkit/verify.hpp"

namespace tdxkit::cli {

struct CollateralCliOptions {
    std::string collateral;  // --collateral DIR|FILE (not offered by `collateral fetch`)
    std::string pccs_url;    // empty: $PCCS_URL, else Intel PCS
    std::string pccs_ca;
    std::string root_ca_crl_url;
    std::string update = "standard";
    std::string cache_dir;
    double timeout = 30;
    int retries = 3;
    bool offline = false;
    bool refresh = false;
};

// --pccs-url, --pccs-ca, --root-ca-crl-url, --update, --cache-dir, --timeout, --retries, --offline,
// --refresh; and --collateral when `with_collateral_path`.
void add_collateral_options(CLI::App* sub, CollateralCliOptions& o, bool with_collateral_path = true);

// The library's source settings for these options. Progress goes to stderr when it is a terminal
// and not `quiet`.
CollateralSources collateral_sources(const CollateralCliOptions& o, bool quiet);

// The policy file at `path` (JSON, at most 1 MiB), or the default policy when `path` is empty.
Policy policy_option(const std::string& path);

// Intel's pinned SGX Root CA when `path` is empty; else that certificate, with a warning on stderr
// that the result proves nothing about genuine Intel hardware.
TrustRoot trust_root_option(const std::string& path);

// Judges cache entries for CollateralSources::check_cached: check_collateral against `root` at `now`;
// a refused entry is named in a warning unless quiet.
std::function<std::optional<std::string>(const Collateral&)> cached_collateral_check(const TrustRoot& root,
                                                                                     UnixTime now, bool quiet);

// --collateral, else a fresh cache entry, else the network: the collateral for this quote.
// `now` decides cache freshness (pass the verification time). A cache entry that does not pass
// check_collateral against `root` at `now` is treated as absent. Throws tdxkit::Error.
Collateral resolve_collateral(const CollateralCliOptions& o, const Quote& quote, UnixTime now, bool quiet,
                              const TrustRoot& root);

}  // namespace tdxkit::cli
