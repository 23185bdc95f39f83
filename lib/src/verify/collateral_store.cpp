#include "tdxkit/collateral_store.hpp"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <openssl/x509.h>

#include "crypto/ossl.hpp"
#include "pcs/collateral_summary.hpp"
#include "tdxkit/error.hpp"
#include "verify/chain.hpp"

namespace tdxkit {

namespace {

// Platforms a store keeps collateral for; far above any real fleet's FMSPC count.
constexpr std::size_t kMaxPlatforms = 1024;
// A failed fetch is the answer for this long, so a PCCS that is down is not asked once per request.
constexpr std::chrono::seconds kFailureHold{5};

// The quote's PCK chain must end at the trust root, each certificate signed by the next: the FMSPC
// and CA type that decide what to fetch come from its leaf. Revocation and validity are verify_quote's
// (they need the collateral this is about to fetch).
void require_genuine_pck_chain(const Quote& quote, const TrustRoot& root) {
    const auto& cert = quote.signature_data.certification;
    if (cert.type != static_cast<std::uint16_t>(CertDataType::pck_cert_chain)) return;  // request_for says why
    const auto chain = pcs::parse_pem_chain(
        std::string_view(reinterpret_cast<const char*>(cert.data.data()), cert.data.size()), "PCK chain");
    const auto trusted = ossl::parse_der_cert(root.certificate_der, "trust root");
    const auto fail = [](std::string_view why) {
        throw Error(Errc::malformed, fmt::format("the quote's PCK chain {}: no collateral is fetched for it", why));
    };
    if (chain.empty() || !verify::same_public_key(chain.back().get(), trusted.get())) {
        fail("does not end at the trust root");
    }
    for (std::size_t i = 0; i + 1 < chain.size(); ++i) {
        const bool signed_by_next = X509_verify(chain[i].get(), X509_get0_pubkey(chain[i + 1].get())) == 1;
        ossl::drain_errors();
        if (!signed_by_next) fail(fmt::format("has certificate {} not signed by certificate {}", i, i + 1));
    }
}

}  // namespace

struct CollateralStore::Impl {
    struct Entry {
        std::shared_ptr<const Collateral> value;
        std::chrono::steady_clock::time_point fetched_at{};
        UnixTime next_update = 0;  // the earliest nextUpdate of its items: stale from then on
        bool fetching = false;
        std::uint64_t attempts = 0;         // fetches finished, for waiters to tell theirs apart
        std::optional<Error> last_failure;  // of the last attempt; shared with the requests that waited for it
        std::chrono::steady_clock::time_point retry_after{};  // after a failure, answered from it until then
    };

    CollateralSources sources;
    TrustRoot root;
    std::chrono::seconds refresh_after{};
    std::mutex mutex;
    std::condition_variable fetched;
    std::map<std::string, Entry> entries;
    Stats stats;

    // A long-running verifier judges a cached entry at the time of the request that reads it, not at
    // its start.
    [[nodiscard]] CollateralSources sources_at(UnixTime now) const {
        auto s = sources;
        if (!s.check_cached) {
            s.check_cached = [root = root, now](const Collateral& c) {
                return check_collateral(c, root, now).failure();
            };
        }
        return s;
    }
};

CollateralStore::CollateralStore(CollateralSources sources, TrustRoot root, std::chrono::seconds refresh_after)
    : impl_(std::make_unique<Impl>()) {
    impl_->sources = std::move(sources);
    impl_->root = std::move(root);
    impl_->refresh_after = refresh_after;
}

CollateralStore::~CollateralStore() = default;

const CollateralSources& CollateralStore::sources() const noexcept { return impl_->sources; }

std::shared_ptr<const Collateral> CollateralStore::get(const Quote& quote, UnixTime now) {
    auto& impl = *impl_;
    CollateralRequest request;
    std::string key = "given";
    if (impl.sources.path.empty()) {
        request = collateral_request_for(quote);
        key = collateral_key(request);
    }
    // The chain's signatures are checked only when a fetch is due: a fresh entry serves a quote whatever
    // its chain claims (verify_quote checks that chain in full), and only a genuine certificate may make
    // the service ask its collateral source about a platform. The check runs unlocked, then the entry is
    // looked up again (another request may have fetched it meanwhile).
    bool chain_checked = !impl.sources.path.empty();
    for (;;) {
        std::unique_lock lock(impl.mutex);
        if (!impl.entries.contains(key) && impl.entries.size() >= kMaxPlatforms) {
            // Platforms whose last fetch failed go first; a full map of good entries refuses the newcomer.
            const auto failed = std::find_if(impl.entries.begin(), impl.entries.end(),
                                             [](const auto& e) { return !e.second.value && !e.second.fetching; });
            if (failed == impl.entries.end()) {
                throw Error(Errc::collateral_unavailable,
                            fmt::format("collateral is held for {} platforms already; not fetching for another",
                                        kMaxPlatforms));
            }
            impl.entries.erase(failed);
        }
        auto& entry = impl.entries[key];
        const auto fresh = [&] {
            return entry.value && std::chrono::steady_clock::now() - entry.fetched_at < impl.refresh_after &&
                   now < entry.next_update;
        };
        if (entry.fetching) {
            // Another request is fetching this platform's collateral: share its result, success or failure,
            // instead of a second fetch (a PCCS that is down is asked once, not once per waiting request).
            ++impl.stats.waits;
            const auto attempt = entry.attempts;
            impl.fetched.wait(lock, [&] { return !entry.fetching; });
            if (entry.attempts != attempt && entry.last_failure) throw Error(*entry.last_failure);
        }
        if (fresh()) {
            ++impl.stats.hits;
            return entry.value;
        }
        if (entry.last_failure && std::chrono::steady_clock::now() < entry.retry_after)
            throw Error(*entry.last_failure);
        if (!chain_checked) {
            lock.unlock();
            require_genuine_pck_chain(quote, impl.root);
            chain_checked = true;
            continue;
        }
        entry.fetching = true;
        ++impl.stats.fetches;
        lock.unlock();
        std::shared_ptr<const Collateral> value;
        UnixTime next_update = 0;
        std::optional<Error> failure;
        try {
            value = std::make_shared<const Collateral>(resolve_collateral(impl.sources_at(now), request, now));
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
            ++impl.stats.failures;
            entry.retry_after = std::chrono::steady_clock::now() + kFailureHold;
        }
        impl.fetched.notify_all();
        if (failure) throw Error(*failure);
        return value;
    }
}

CollateralStore::Stats CollateralStore::stats() const {
    const std::lock_guard lock(impl_->mutex);
    return impl_->stats;
}

}  // namespace tdxkit
