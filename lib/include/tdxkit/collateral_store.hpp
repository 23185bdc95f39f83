#pragma once

// Collateral for a long-running verifier (`tdxkit serve`, `atls-serve --client-ra-tls`): per platform
// (TEE, FMSPC, PCK CA), fetched once however many requests need it at the same moment (single flight),
// kept for a refresh interval or until an item's nextUpdate passes (whichever is first, so no verdict
// rests on stale collateral), and never replaced by a failure: a failed fetch fails the requests that
// waited for it, is the answer for a few seconds (a source that is down is not asked once per
// request), and then the next request tries again.
//
// Only a genuine PCK certificate can make it fetch: before asking its source about a platform it
// checks that the quote's PCK chain is signed up to the trust root, because the FMSPC and CA type it
// fetches for come from that chain's leaf. Revocation and validity stay with verify_quote.

#include <chrono>
#include <cstdint>
#include <memory>

#include "tdxkit/collateral.hpp"
#include "tdxkit/export.hpp"
#include "tdxkit/pcs.hpp"
#include "tdxkit/quote.hpp"
#include "tdxkit/time.hpp"
#include "tdxkit/verify.hpp"

namespace tdxkit {

class TDXKIT_EXPORT CollateralStore {
public:
    struct Stats {
        std::uint64_t hits = 0;      // served from memory
        std::uint64_t fetches = 0;   // resolve_collateral calls (disk cache, then the network)
        std::uint64_t failures = 0;  // of those, the ones that threw
        std::uint64_t waits = 0;     // requests that waited for another request's fetch
    };

    // `sources` as resolve_collateral takes them. When sources.check_cached is unset, a cached entry
    // counts only if check_collateral passes under `root` at the time of the get() that reads it.
    CollateralStore(CollateralSources sources, TrustRoot root,
                    std::chrono::seconds refresh_after = std::chrono::hours(1));
    ~CollateralStore();
    CollateralStore(const CollateralStore&) = delete;
    CollateralStore& operator=(const CollateralStore&) = delete;

    // Thread-safe. Throws Error(collateral_unavailable) for any failure of resolve_collateral
    // (internal stays internal), and Error(malformed) for a quote whose PCK chain cannot be read or is
    // not signed up to the trust root (only when a fetch is due: a fresh entry serves any quote of its
    // platform, and verify_quote checks the chain in full).
    [[nodiscard]] std::shared_ptr<const Collateral> get(const Quote& quote, UnixTime now);
    [[nodiscard]] Stats stats() const;
    [[nodiscard]] const CollateralSources& sources() const noexcept;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tdxkit
