#pragma once

// The machinery behind resolve_collateral: the libcurl transport, HTTP helpers, the PCS/PCCS
// fetcher and the on-disk cache. Private to the library (and its unit tests): programs ask
// resolve_collateral, which decides between them.

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tdxkit/collateral.hpp"
#include "tdxkit/pcs.hpp"
#include "tdxkit/time.hpp"

namespace tdxkit {

// libcurl, HTTPS only, peer and host verification always on, proxies from the usual environment
// variables (https_proxy, no_proxy), at most 3 redirects.
[[nodiscard]] std::unique_ptr<HttpTransport> make_curl_transport(const HttpOptions& options);

// %XX decoding for issuer-chain headers. '+' stays '+': it is a base64 character in the PEM, and a
// server that did not escape it must not have it turned into a space. Throws Error(malformed).
[[nodiscard]] std::string percent_decode(std::string_view text, std::string_view what);

// Retry-After: delta-seconds or an HTTP-date (RFC 9110). nullopt when it is neither.
[[nodiscard]] std::optional<std::chrono::seconds> parse_retry_after(std::string_view value, UnixTime now);
// How long to wait before the next attempt after `response` ended attempt number `attempt` (1-based),
// or nullopt when not to retry: success, a client error other than 429, a non-retryable transport
// error, or the last attempt. 5xx, 429 and transport errors back off exponentially; Retry-After,
// when present, replaces the backoff (capped).
[[nodiscard]] std::optional<std::chrono::milliseconds> retry_delay(const HttpResponse& response, int attempt,
                                                                   const RetryPolicy& policy, UnixTime now);

class CollateralFetcher {
public:
    // `progress` hears one line per request and per retry; `sleep` defaults to the real clock.
    CollateralFetcher(HttpTransport& transport, CollateralService service, ProgressFn progress = {},
                      SleepFn sleep = {});

    // The five items (TCB Info, QE Identity, PCK CRL, root CA CRL and their issuer chains), with
    // the signed bodies byte-exact. Checks that the service answered what was asked (FMSPC, TEE,
    // CA) but not signatures: that is verification's job. Throws Error(collateral_unavailable)
    // naming the URL and HTTP status when a request fails, Error(malformed) for a bad response.
    [[nodiscard]] Collateral fetch(const CollateralRequest& request);

    // One GET with the retry policy; returns only a 200 response.
    [[nodiscard]] HttpResponse get(const std::string& url);

private:
    HttpTransport& transport_;
    CollateralService service_;
    ProgressFn progress_;
    SleepFn sleep_;
};

// ---- Cache ----

struct CacheKey {
    std::string service_url;  // and the root CRL URL: both decide the content
    CollateralRequest request;
    UpdateType update = UpdateType::standard;
};
[[nodiscard]] CacheKey cache_key(const CollateralService& service, const CollateralRequest& request);

// One file per key, QuoteCollateralV3 JSON plus metadata, written atomically (temporary file in the
// same directory, then rename), so concurrent tdxkit processes never see a partial entry.
class CollateralCache {
public:
    explicit CollateralCache(std::filesystem::path dir);

    // $XDG_CACHE_HOME/tdxkit, else $HOME/.cache/tdxkit. Throws Error(invalid_argument) if neither is set.
    [[nodiscard]] static std::filesystem::path default_dir();
    [[nodiscard]] const std::filesystem::path& dir() const noexcept { return dir_; }
    [[nodiscard]] std::filesystem::path entry_path(const CacheKey& key) const;

    struct Lookup {
        std::optional<Collateral> collateral;  // source: "cache <file> (<service>, fetched <time>)"
        bool fresh = false;                    // now < the earliest nextUpdate of its items
        std::string miss_reason;               // when not usable: no entry, expired at ..., corrupted: ...
    };
    // A missing, unreadable, truncated or corrupted entry is a miss with a reason, never an error.
    [[nodiscard]] Lookup load(const CacheKey& key, UnixTime now) const;
    // Throws Error(io) when the directory or file cannot be written.
    std::filesystem::path store(const CacheKey& key, const Collateral& collateral, UnixTime fetched_at) const;

private:
    std::filesystem::path dir_;
};

}  // namespace tdxkit
