#include "collateral_options.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <unistd.h>
#include <fmt/format.h>

#include "cli.hpp"
#include "tdxkit/error.hpp"

namespace tdxkit::cli {

void add_collateral_options(CLI::App* sub, CollateralCliOptions& o, bool with_collateral_path) {
    if (with_collateral_path) {
        sub->add_option("--collateral", o.collateral,
                        "Collateral directory or QuoteCollateralV3 JSON file; skips the cache and the network");
    }
    sub->add_option(
        "--pccs-url", o.pccs_url,
        fmt::format("Collateral service: Intel PCS or a PCCS base URL (default: $PCCS_URL, else {})", kIntelPcsUrl));
    sub->add_option("--pccs-ca", o.pccs_ca, "PEM CA bundle to trust for the service instead of the system store");
    sub->add_option("--root-ca-crl-url", o.root_ca_crl_url,
                    "Root CA CRL URL (default: Intel's CRL distribution point for Intel PCS, rootcacrl for a PCCS)");
    sub->add_option("--update", o.update, "TCB update type of the collateral")
        ->check(CLI::IsMember({"standard", "early"}))
        ->capture_default_str();
    sub->add_option("--cache-dir", o.cache_dir, "Collateral cache directory (default: $XDG_CACHE_HOME/tdxkit)");
    sub->add_option("--timeout", o.timeout, "Seconds allowed for each HTTP request")
        ->check(CLI::Range(0.1, 3600.0))
        ->capture_default_str();
    sub->add_option("--retries", o.retries, "Retries after a 5xx, 429 or connection error")
        ->check(CLI::Range(0, 10))
        ->capture_default_str();
    sub->add_flag("--offline", o.offline, "Never use the network: only --collateral and the cache");
    sub->add_flag("--refresh", o.refresh, "Ignore cached collateral and fetch it again");
}

CollateralSources collateral_sources(const CollateralCliOptions& o, bool quiet) {
    if (o.offline && o.refresh) throw Error(Errc::invalid_argument, "--offline and --refresh exclude each other");
    CollateralSources s;
    s.path = o.collateral;
    if (!o.pccs_url.empty()) {
        s.service.url = o.pccs_url;
    } else if (const char* env = std::getenv("PCCS_URL"); env != nullptr && env[0] != '\0') {
        s.service.url = env;
    }
    s.service.root_ca_crl_url = o.root_ca_crl_url;
    s.service.update = o.update == "early" ? UpdateType::early : UpdateType::standard;
    s.service.retry.max_attempts = o.retries + 1;
    s.http.ca_file = o.pccs_ca;
    s.http.timeout = std::chrono::milliseconds(std::llround(o.timeout * 1000));
    s.http.connect_timeout = std::min(s.http.connect_timeout, s.http.timeout);
    s.cache_dir = o.cache_dir;
    s.offline = o.offline;
    s.refresh = o.refresh;
    if (!quiet && ::isatty(STDERR_FILENO) == 1) {
        s.progress = [](std::string_view line) { fmt::print(stderr, "tdxkit: {}\n", line); };
    }
    return s;
}

Policy policy_option(const std::string& path) {
    constexpr std::size_t kMaxPolicy = 1024 * 1024;
    if (path.empty()) return default_policy();
    const auto text = read_input(path, kMaxPolicy);
    return parse_policy(std::string_view(reinterpret_cast<const char*>(text.data()), text.size()), path);
}

TrustRoot trust_root_option(const std::string& path) {
    if (path.empty()) return intel_sgx_root_ca();
    constexpr std::size_t kMaxCertificate = 1024 * 1024;
    auto root = custom_trust_root(read_input(path, kMaxCertificate));
    if (!root.is_intel_production) {
        warn(fmt::format("--trust-root {} replaces Intel's SGX Root CA: a pass proves nothing about genuine Intel "
                         "hardware. Use only for tests and development.",
                         path));
    }
    return root;
}

std::function<std::optional<std::string>(const Collateral&)> cached_collateral_check(const TrustRoot& root,
                                                                                     UnixTime now, bool quiet) {
    return [root, now, quiet](const Collateral& cached) -> std::optional<std::string> {
        auto why = check_collateral(cached, root, now).failure();
        if (why && !quiet) {
            warn(fmt::format("cached collateral {} does not verify ({}); it is ignored", cached.source, *why));
        }
        return why;
    };
}

Collateral resolve_collateral(const CollateralCliOptions& o, const Quote& quote, UnixTime now, bool quiet,
                              const TrustRoot& root) {
    auto sources = collateral_sources(o, quiet);
    sources.check_cached = cached_collateral_check(root, now, quiet);
    if (!sources.path.empty()) return load_collateral(sources.path);
    return tdxkit::resolve_collateral(sources, collateral_request_for(quote), now);
}

}  // namespace tdxkit::cli
