// Where verification gets its collateral: --collateral, else a fresh cache entry, else the network.

#include <fmt/format.h>

#include "pcs/client.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/pcs.hpp"

namespace tdxkit {

Collateral resolve_collateral(const CollateralSources& sources, const CollateralRequest& request, UnixTime now) {
    if (!sources.path.empty()) return load_collateral(sources.path);

    const auto say = [&](const std::string& line) {
        if (sources.progress) sources.progress(line);
    };
    const CollateralCache cache{sources.cache_dir.empty() ? CollateralCache::default_dir() : sources.cache_dir};
    const auto key = cache_key(sources.service, request);
    const auto what = fmt::format("{} FMSPC {} ({} CA, {} update)", request.tee == TeeType::tdx ? "TDX" : "SGX",
                                  key.request.fmspc, pck_ca_type_name(request.ca), update_type_name(key.update));

    std::string miss = "--refresh";
    if (!sources.refresh) {
        auto hit = cache.load(key, now);
        if (hit.collateral && sources.check_cached) {
            if (const auto refused = sources.check_cached(*hit.collateral)) {
                hit.miss_reason = fmt::format("cached collateral {} does not verify ({}), so it is treated as absent",
                                              hit.collateral->source, *refused);
                hit.collateral.reset();
            }
        }
        if (hit.collateral && (hit.fresh || sources.offline)) {
            if (!hit.fresh) say(fmt::format("--offline: using a stale entry: {}", hit.miss_reason));
            return std::move(*hit.collateral);
        }
        miss = hit.miss_reason;
        say(miss);
    }
    if (sources.offline) {
        throw Error(Errc::collateral_unavailable,
                    fmt::format("--offline and no usable cached collateral for {} from {}: {}; run `tdxkit collateral "
                                "fetch` while online, or pass --collateral",
                                what, service_label(sources.service), miss));
    }

    std::unique_ptr<HttpTransport> owned;
    HttpTransport* transport = sources.transport;
    if (transport == nullptr) {
        owned = make_curl_transport(sources.http);
        transport = owned.get();
    }
    CollateralFetcher fetcher{*transport, sources.service, sources.progress, sources.sleep};
    auto collateral = fetcher.fetch(request);
    // A cache that cannot be written costs a refetch next time; it does not make this result wrong.
    try {
        const auto path = cache.store(key, collateral, now_utc());
        say(fmt::format("cached {} in {}", what, path.string()));
    } catch (const Error& e) {
        say(fmt::format("not cached: {}", e.what()));
    }
    return collateral;
}

}  // namespace tdxkit
