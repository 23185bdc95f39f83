#include "serve/collateral_cache.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <openssl/x509.h>

#include "crypto/ossl.hpp"
#include "pcs/collateral_summary.hpp"
#include "verify/chain.hpp"

namespace tdxkit::serve {

namespace {

// Platforms the service keeps collateral for; far above any real fleet's FMSPC count.
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

std::shared_ptr<const Collateral> CollateralCache::get(const Quote& quote, UnixTime now) {
    CollateralRequest request;
    std::string key = "given";
    if (sources_.path.empty()) {
        request = collateral_request_for(quote);
        key = collateral_key(request);
    }
    // The chain's signatures are checked only when a fetch is due: a fresh entry serves a quote whatever
    // its chain claims (verify_quote checks that chain in full), and only a genuine certificate may make
    // the service ask its collateral source about a platform. The check runs unlocked, then the entry is
    // looked up again (another request may have fetched it meanwhile).
    bool chain_checked = !sources_.path.empty();
    for (;;) {
        std::unique_lock lock(mutex_);
        if (!entries_.contains(key) && entries_.size() >= kMaxPlatforms) {
            // Platforms whose last fetch failed go first; a full map of good entries refuses the newcomer.
            const auto failed = std::find_if(entries_.begin(), entries_.end(),
                                             [](const auto& e) { return !e.second.value && !e.second.fetching; });
            if (failed == entries_.end()) {
                throw Error(Errc::collateral_unavailable,
                            fmt::format("collateral is held for {} platforms already; not fetching for another",
                                        kMaxPlatforms));
            }
            entries_.erase(failed);
        }
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
        if (entry.last_failure && std::chrono::steady_clock::now() < entry.retry_after)
            throw Error(*entry.last_failure);
        if (!chain_checked) {
            lock.unlock();
            require_genuine_pck_chain(quote, root_);
            chain_checked = true;
            continue;
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
            entry.retry_after = std::chrono::steady_clock::now() + kFailureHold;
        }
        fetched_.notify_all();
        if (failure) throw Error(*failure);
        return value;
    }
}

CollateralCache::Stats CollateralCache::stats() const {
    const std::lock_guard lock(mutex_);
    return stats_;
}

}  // namespace tdxkit::serve
