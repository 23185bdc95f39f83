// libcurl, loaded on first use. Linking it directly makes every tdxkit process map and initialise
// libcurl's ~30 dependencies (GnuTLS, p11-kit, Kerberos, LDAP...), about 5 ms and 4 MiB per run,
// although only fetching collateral and talking to the dstack agent need it. These definitions
// of the libcurl entry points tdxkit uses (hidden, like every symbol of the library) forward to
// libcurl.so.4 opened with dlopen the first time one is called.

#include <cstdarg>
#include <mutex>

// The forwarders below define curl_easy_setopt/getinfo, which curl.h otherwise wraps in GCC
// type-checking macros.
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>

namespace {

struct CurlApi {
    CURLcode (*global_init)(long);
    CURL* (*easy_init)();
    CURLcode (*easy_setopt)(CURL*, CURLoption, ...);
    CURLcode (*easy_perform)(CURL*);
    CURLcode (*easy_getinfo)(CURL*, CURLINFO, ...);
    void (*easy_cleanup)(CURL*);
    const char* (*easy_strerror)(CURLcode);
    curl_slist* (*slist_append)(curl_slist*, const char*);
    void (*slist_free_all)(curl_slist*);
};

template <class Fn>
bool bind(void* lib, const char* name, Fn& out) {
    out = reinterpret_cast<Fn>(dlsym(lib, name));
    return out != nullptr;
}

// nullptr when libcurl cannot be loaded: every forwarder then reports failure the libcurl way.
const CurlApi* api() {
    static const CurlApi* loaded = [] () -> const CurlApi* {
        void* lib = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
        if (lib == nullptr) return nullptr;
        static CurlApi a{};
        const bool ok = bind(lib, "curl_global_init", a.global_init) && bind(lib, "curl_easy_init", a.easy_init) &&
                        bind(lib, "curl_easy_setopt", a.easy_setopt) && bind(lib, "curl_easy_perform", a.easy_perform) &&
                        bind(lib, "curl_easy_getinfo", a.easy_getinfo) &&
                        bind(lib, "curl_easy_cleanup", a.easy_cleanup) &&
                        bind(lib, "curl_easy_strerror", a.easy_strerror) &&
                        bind(lib, "curl_slist_append", a.slist_append) &&
                        bind(lib, "curl_slist_free_all", a.slist_free_all);
        return ok ? &a : nullptr;
    }();
    return loaded;
}

}  // namespace

extern "C" {

CURLcode curl_global_init(long flags) { return api() ? api()->global_init(flags) : CURLE_FAILED_INIT; }

CURL* curl_easy_init() { return api() ? api()->easy_init() : nullptr; }

// The variadic argument is read with the type libcurl itself reads for the option's range
// (curl.h CURLOPTTYPE_*), then passed on unchanged.
CURLcode curl_easy_setopt(CURL* handle, CURLoption option, ...) {
    if (!api()) return CURLE_FAILED_INIT;
    va_list args;
    va_start(args, option);
    CURLcode rc;
    if (option < CURLOPTTYPE_OBJECTPOINT) {
        rc = api()->easy_setopt(handle, option, va_arg(args, long));
    } else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
        rc = api()->easy_setopt(handle, option, va_arg(args, void*));
    } else if (option < CURLOPTTYPE_OFF_T) {
        using AnyFunction = void (*)();
        rc = api()->easy_setopt(handle, option, va_arg(args, AnyFunction));
    } else if (option < CURLOPTTYPE_BLOB) {
        rc = api()->easy_setopt(handle, option, va_arg(args, curl_off_t));
    } else {
        rc = api()->easy_setopt(handle, option, va_arg(args, void*));
    }
    va_end(args);
    return rc;
}

CURLcode curl_easy_perform(CURL* handle) { return api() ? api()->easy_perform(handle) : CURLE_FAILED_INIT; }

// Every CURLINFO tdxkit asks for returns through a pointer.
CURLcode curl_easy_getinfo(CURL* handle, CURLINFO info, ...) {
    if (!api()) return CURLE_FAILED_INIT;
    va_list args;
    va_start(args, info);
    void* out = va_arg(args, void*);
    va_end(args);
    return api()->easy_getinfo(handle, info, out);
}

void curl_easy_cleanup(CURL* handle) {
    if (api()) api()->easy_cleanup(handle);
}

const char* curl_easy_strerror(CURLcode code) {
    return api() ? api()->easy_strerror(code) : "libcurl.so.4 could not be loaded (install libcurl4)";
}

curl_slist* curl_slist_append(curl_slist* list, const char* text) {
    return api() ? api()->slist_append(list, text) : nullptr;
}

void curl_slist_free_all(curl_slist* list) {
    if (api()) api()->slist_free_all(list);
}

}  // extern "C"
