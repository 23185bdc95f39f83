#include "crypto/cert_cache.hpp"

#include <memory>
#include <string>

#include "core/shared_cache.hpp"

namespace tdxkit::ossl {
namespace {

// Bounded so that a long-running process fed hostile inputs cannot grow without limit; when full
// the cache starts over (collateral working sets are a handful of entries).
constexpr std::size_t kMaxEntries = 512;

// Each caller gets its own reference to the shared object, as a fresh parse would give it one.
template <class Object, auto UpRef, auto Free>
class Cache {
public:
    template <class Parse>
    Ptr<Object, Free> get(std::string_view key, Parse&& parse) {
        const auto shared = cache_.get(key, [&] { return std::shared_ptr<Object>(parse().release(), Free); });
        UpRef(shared.get());
        return Ptr<Object, Free>{shared.get()};
    }

private:
    detail::SharedCache<std::shared_ptr<Object>> cache_{kMaxEntries};
};

// Never destroyed: OpenSSL may already be shut down by its own atexit handler when static
// destructors run.
Cache<X509, X509_up_ref, X509_free>& cert_cache() {
    static auto* cache = new Cache<X509, X509_up_ref, X509_free>;
    return *cache;
}

Cache<X509_CRL, X509_CRL_up_ref, X509_CRL_free>& crl_cache() {
    static auto* cache = new Cache<X509_CRL, X509_CRL_up_ref, X509_CRL_free>;
    return *cache;
}

}  // namespace

// Found by its PEM text (the warm path of batch verification: no base64 decoding) and decoded
// through the DER entry, so a certificate met as PEM in one chain and as DER elsewhere (Intel's
// root: in every chain, and pinned in the library) is decoded once. DER and PEM keys cannot
// collide: PEM text never starts with the SEQUENCE tag 0x30.
X509Ptr cached_pem_cert(std::string_view pem, std::string_view what) {
    return cert_cache().get(pem, [&] { return cached_der_cert(pem_cert_der(pem, what), what); });
}

X509Ptr cached_der_cert(ByteSpan der, std::string_view what) {
    const std::string_view key{reinterpret_cast<const char*>(der.data()), der.size()};
    return cert_cache().get(key, [&] { return parse_der_cert(der, what); });
}

X509CrlPtr cached_der_crl(ByteSpan der, std::string_view what) {
    const std::string_view key{reinterpret_cast<const char*>(der.data()), der.size()};
    return crl_cache().get(key, [&] { return parse_der_crl(der, what); });
}

}  // namespace tdxkit::ossl
