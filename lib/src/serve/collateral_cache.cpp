#include "serve/collateral_cache.hpp"

#include <fmt/format.h>

namespace tdxkit::serve {

std::shared_ptr<const Collateral> CollateralCache::get(const Quote& quote, UnixTime now) {
    CollateralRequest request;
    std::string key = "given";
    if (sources_.path.empty()) {
        request = collateral_request_for(quote);
        key = fmt::format("{}/{}/{}", tee_type_name(request.tee), request.fmspc, pck_ca_type_name(request.ca));
    }
    std::unique_lock lock(mutex_);
    auto& entry = entries_[key];
    const auto fresh = [&] {
        return entry.value && std::chrono::steady_clock::now() - entry.fetched_at < refresh_after_ &&
               now < entry.next_update;
    };
    if (entry.fetching) {
        // Another request is fetching this platform's collateral: share its result, success or failure,
        // instead of a second fetch (a PCCS that is down is asked once, not once per waiting request).
        ++stats_.waits;
        const auto attempt = entry.attempts;
        fetched_.wait(lock, [&] { return !entry.fetching; });
        if (entry.attempts != attempt && entry.last_failure) throw Error(*entry.last_failure);
    }
    if (fresh()) {
        ++stats_.hits;
        return entry.value;
    }
    entry.fetching = true;
    ++stats_.fetches;
    lock.unlock();
    std::shared_ptr<const Collateral> value;
    UnixTime next_update = 0;
    std::optional<Error> failure;
    try {
        value = std::make_shared<const Collateral>(resolve_collateral(sources_, request, now));
        next_update = describe_collateral(*value).next_update;
    } catch (const Error& e) {
        // Whatever went wrong between the service and its collateral source (unreachable, a bad answer,
        // no cache directory) says nothing about the evidence: the request is answered 503, never a verdict.
        failure = e.code() == Errc::internal ? e
                                             : Error(Errc::collateral_unavailable,
                                                     fmt::format("collateral could not be obtained: {}", e.what()));
    }
    lock.lock();
    entry.fetching = false;
    ++entry.attempts;
    entry.last_failure = failure;
    if (value) {
        entry.value = value;
        entry.fetched_at = std::chrono::steady_clock::now();
        entry.next_update = next_update;
    } else {
        ++stats_.failures;
    }
    fetched_.notify_all();
    if (failure) throw Error(*failure);
    return value;
}

CollateralCache::Stats CollateralCache::stats() const {
    const std::lock_guard lock(mutex_);
    return stats_;
}

}  // namespace tdxkit::serve
