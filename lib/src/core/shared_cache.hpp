#pragma once

// A bounded map from exact input bytes to a computed value, shared by the threads of a batch. Keys
// are the input itself (certificates, CRLs, signed bodies: kilobytes), never a digest of it, so a hit
// is exactly what computing again would give.
//
// Built for concurrent readers: the key is hashed before any lock is taken, lookups share the lock,
// and only an insertion takes it alone. With one mutex held for hashing and comparing kilobyte keys,
// two batch workers contended on it (README.md, "Performance").

#include <cstddef>
#include <functional>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace tdxkit::detail {

template <class Value>
class SharedCache {
public:
    explicit SharedCache(std::size_t max_entries) : max_entries_(max_entries) {}

    // The cached value for `key`, or compute()'s (stored unless another thread stored one first:
    // then that one is returned, so every caller sees the same value). compute() runs outside the
    // lock; what it throws propagates and nothing is stored. A full cache starts over.
    template <class Compute>
    Value get(std::string_view key, Compute&& compute) {
        const KeyView view{std::hash<std::string_view>{}(key), key};
        {
            const std::shared_lock lock(mutex_);
            if (const auto it = map_.find(view); it != map_.end()) return it->second;
        }
        Value value = std::forward<Compute>(compute)();
        const std::unique_lock lock(mutex_);
        if (const auto it = map_.find(view); it != map_.end()) return it->second;
        if (map_.size() >= max_entries_) map_.clear();
        map_.emplace(Key{view.hash, std::string(key)}, value);
        return value;
    }

private:
    struct Key {
        std::size_t hash = 0;
        std::string bytes;
    };
    struct KeyView {
        std::size_t hash = 0;
        std::string_view bytes;
    };
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(const Key& k) const noexcept { return k.hash; }
        std::size_t operator()(const KeyView& k) const noexcept { return k.hash; }
    };
    struct Equal {
        using is_transparent = void;
        template <class A, class B>
        bool operator()(const A& a, const B& b) const noexcept {
            return a.hash == b.hash && std::string_view(a.bytes) == std::string_view(b.bytes);
        }
    };

    std::size_t max_entries_;
    std::shared_mutex mutex_;
    std::unordered_map<Key, Value, Hash, Equal> map_;
};

}  // namespace tdxkit::detail
