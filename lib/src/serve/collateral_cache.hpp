#pragma once

// Collateral for a long-running service: per platform (TEE, FMSPC, PCK CA), fetched once however
// many requests need it at the same moment (single flight), kept for a refresh interval or until
// an item's nextUpdate passes (whichever is first, so no verdict rests on stale collateral), and never
// replaced by a failure: a failed fetch fails the requests that waited for it (503), and the next
// request tries again.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "tdxkit/collateral.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/pcs.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/time.hpp"

namespace tdxkit::serve {

class CollateralCache {
public:
    struct Stats {
        std::uint64_t hits = 0;      // served from memory
        std::uint64_t fetches = 0;   // resolve_collateral calls (disk cache, then the network)
        std::uint64_t failures = 0;  // of those, the ones that threw
        std::uint64_t waits = 0;     // requests that waited for another request's fetch
    };

    CollateralCache(CollateralSources sources, std::chrono::seconds refresh_after)
        : sources_(std::move(sources)), refresh_after_(refresh_after) {}

    // Throws Error(collateral_unavailable) for any failure of resolve_collateral (internal stays
    // internal), and collateral_request_for's errors for a quote whose PCK chain cannot be read.
    [[nodiscard]] std::shared_ptr<const Collateral> get(const Quote& quote, UnixTime now);
    [[nodiscard]] Stats stats() const;
    [[nodiscard]] const CollateralSources& sources() const noexcept { return sources_; }

private:
    struct Entry {
        std::shared_ptr<const Collateral> value;
        std::chrono::steady_clock::time_point fetched_at{};
        UnixTime next_update = 0;  // the earliest nextUpdate of its items: stale from then on
        bool fetching = false;
        std::uint64_t attempts = 0;         // fetches finished, for waiters to tell theirs apart
        std::optional<Error> last_failure;  // of the last attempt; shared with the requests that waited for it
    };

    CollateralSources sources_;
    std::chrono::seconds refresh_after_;
    mutable std::mutex mutex_;
    std::condition_variable fetched_;
    std::map<std::string, Entry> entries_;
    Stats stats_;
};

}  // namespace tdxkit::serve
