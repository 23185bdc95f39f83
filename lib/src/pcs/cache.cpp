// On-disk collateral cache. An entry is a convenience, never a trust decision: whatever is read is
// parsed like any untrusted input and verified again by its user. Freshness comes from the
// collateral itself (earliest nextUpdate), not from metadata an editor could change.

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <memory>

#include <unistd.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json.hpp"
#include "pcs/client.hpp"
#include "pcs/collateral_json.hpp"
#include "tdxkit/error.hpp"
#include "tdxkit/file.hpp"
#include "tdxkit/pcs.hpp"

namespace tdxkit {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kEntrySchema = "tdxkit.collateral-cache/v1";
// A cached set holds two CRLs and two signed JSON documents: far below this.
constexpr std::uintmax_t kMaxEntry = 16 * 1024 * 1024;

std::string key_text(const CacheKey& k) {
    return fmt::format("{}\n{}\n{}\n{}\n{}", k.service_url, tee_type_name(k.request.tee), k.request.fmspc,
                       pck_ca_type_name(k.request.ca), update_type_name(k.update));
}

json key_json(const CacheKey& k) {
    return {{"service", k.service_url},
            {"tee", tee_type_name(k.request.tee)},
            {"fmspc", k.request.fmspc},
            {"ca", pck_ca_type_name(k.request.ca)},
            {"update", update_type_name(k.update)}};
}

}  // namespace

CacheKey cache_key(const CollateralService& service, const CollateralRequest& request) {
    auto url = service.url;
    while (url.ends_with('/')) url.pop_back();
    if (!service.root_ca_crl_url.empty()) url += " root-ca-crl=" + service.root_ca_crl_url;
    return {url, {request.tee, normalize_fmspc(request.fmspc), request.ca}, service.update};
}

CollateralCache::CollateralCache(fs::path dir) : dir_(std::move(dir)) {}

fs::path CollateralCache::default_dir() {
    // XDG Base Directory: a relative XDG_CACHE_HOME is invalid and must be ignored.
    if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && xdg[0] == '/') {
        return fs::path(xdg) / "tdxkit";
    }
    if (const char* home = std::getenv("HOME"); home != nullptr && home[0] != '\0') {
        return fs::path(home) / ".cache" / "tdxkit";
    }
    throw Error(Errc::invalid_argument, "no cache directory: neither XDG_CACHE_HOME nor HOME is set; pass --cache-dir");
}

fs::path CollateralCache::entry_path(const CacheKey& key) const {
    // Readable names for operators, plus a hash of the whole key so services never share a file.
    const auto digest = sha256(as_bytes(key_text(key)));
    return dir_ / fmt::format("{}-{}-{}-{}-{}.json", tee_type_name(key.request.tee), key.request.fmspc,
                              pck_ca_type_name(key.request.ca), update_type_name(key.update),
                              to_hex(ByteSpan(digest).first(8)));
}

CollateralCache::Lookup CollateralCache::load(const CacheKey& key, UnixTime now) const {
    const auto path = entry_path(key);
    Lookup out;
    std::error_code ec;
    const auto size = fs::file_size(path, ec);
    if (ec) {
        out.miss_reason = fmt::format("no cache entry {}", path.string());
        return out;
    }
    try {
        if (size > kMaxEntry) throw Error(Errc::malformed, fmt::format("{} bytes, over the limit", size));
        std::ifstream in(path, std::ios::binary);
        const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
        if (!in.good() && !in.eof()) throw Error(Errc::io, "read error");
        const auto doc = detail::parse_json(text, "cache entry");
        if (!doc.is_object()) throw Error(Errc::malformed, fmt::format("not a {} document", kEntrySchema));
        const auto member = [&](const char* name) -> const json& {
            const auto it = doc.find(name);
            if (it == doc.end()) throw Error(Errc::malformed, fmt::format("no \"{}\"", name));
            return *it;
        };
        if (member("schema") != kEntrySchema) {
            throw Error(Errc::malformed, fmt::format("not a {} document", kEntrySchema));
        }
        if (member("key") != key_json(key)) throw Error(Errc::malformed, "entry is for another key");
        if (!member("collateral").is_object() || !member("fetched_at").is_string()) {
            throw Error(Errc::malformed, "missing collateral or fetched_at");
        }
        auto collateral = pcs::collateral_from_document(member("collateral"), "cache entry");
        const auto summary = describe_collateral(collateral);
        // {:.40} counts code points, so the shortened value stays valid UTF-8.
        collateral.source = fmt::format("cache {} ({}, fetched {:.40})", path.string(), key.service_url,
                                        member("fetched_at").get_ref<const std::string&>());
        out.fresh = now < summary.next_update;
        if (!out.fresh) {
            out.miss_reason = fmt::format("cache entry {} expired at {} (earliest nextUpdate)", path.string(),
                                          format_rfc3339(summary.next_update));
        }
        out.collateral = std::move(collateral);
    } catch (const Error& e) {
        out.collateral.reset();
        out.fresh = false;
        out.miss_reason = fmt::format("cache entry {} is unusable, ignored: {}", path.string(), e.what());
    }
    return out;
}

fs::path CollateralCache::store(const CacheKey& key, const Collateral& collateral, UnixTime fetched_at) const {
    std::error_code ec;
    fs::create_directories(dir_, ec);
    if (ec) throw Error(Errc::io, fmt::format("cannot create cache directory {}: {}", dir_.string(), ec.message()));
    const json doc{{"schema", kEntrySchema},
                   {"key", key_json(key)},
                   {"fetched_at", format_rfc3339(fetched_at)},
                   {"next_update", format_rfc3339(describe_collateral(collateral).next_update)},
                   {"collateral", json::parse(collateral_to_json(collateral))}};
    const auto text = doc.dump(2) + "\n";
    auto path = entry_path(key);
    // Concurrent writers each rename a complete file; the last wins.
    write_file_atomically(path, as_bytes(text));
    return path;
}

}  // namespace tdxkit
