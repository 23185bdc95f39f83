// libcurl, loaded on first use (see lazy_library.hpp). Linking it directly makes every tdxkit
// process map and initialise libcurl's ~30 dependencies (GnuTLS, p11-kit, Kerberos, LDAP...), about
// 5 ms and 4 MiB per run, although only fetching collateral and talking to the dstack agent need it.
// When libcurl.so.4 cannot be opened, every entry point fails the libcurl way and
// curl_easy_strerror says why.

#include <cstdarg>

// The forwarders below define curl_easy_setopt/getinfo, which curl.h otherwise wraps in GCC
// type-checking macros.
#define CURL_DISABLE_TYPECHECK
#include "core/lazy_library.hpp"

#include <curl/curl.h>

namespace {

const char* libcurl_soname() { return "libcurl.so.4"; }

// va_start names the last fixed parameter, here an enum (CURLoption, CURLINFO) as curl.h declares
// it. Clang warns that an enum may be promoted; these are int-sized, so nothing is promoted.
static_assert(sizeof(CURLoption) == sizeof(int) && sizeof(CURLINFO) == sizeof(int));
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wvarargs"
#endif

}  // namespace

extern "C" {

CURLcode curl_global_init(long flags) {
    return TDXKIT_LAZY_CALL(libcurl_soname, curl_global_init, CURLE_FAILED_INIT, flags);
}

CURL* curl_easy_init() { return TDXKIT_LAZY_CALL(libcurl_soname, curl_easy_init, nullptr); }

// The variadic argument is read with the type libcurl itself reads for the option's range
// (curl.h CURLOPTTYPE_*), then passed on unchanged.
CURLcode curl_easy_setopt(CURL* handle, CURLoption option, ...) {
    const auto setopt = TDXKIT_LAZY_REAL(libcurl_soname, curl_easy_setopt);
    if (setopt == nullptr) return CURLE_FAILED_INIT;
    va_list args;
    va_start(args, option);
    CURLcode rc;
    // NOLINTNEXTLINE(bugprone-branch-clone): the branches differ in the va_arg type, which it ignores
    if (option < CURLOPTTYPE_OBJECTPOINT) {
        rc = setopt(handle, option, va_arg(args, long));
    } else if (option < CURLOPTTYPE_FUNCTIONPOINT) {
        rc = setopt(handle, option, va_arg(args, void*));
    } else if (option < CURLOPTTYPE_OFF_T) {
        using AnyFunction = void (*)();
        rc = setopt(handle, option, va_arg(args, AnyFunction));
    } else if (option < CURLOPTTYPE_BLOB) {
        rc = setopt(handle, option, va_arg(args, curl_off_t));
    } else {
        rc = setopt(handle, option, va_arg(args, void*));
    }
    va_end(args);
    return rc;
}

CURLcode curl_easy_perform(CURL* handle) {
    return TDXKIT_LAZY_CALL(libcurl_soname, curl_easy_perform, CURLE_FAILED_INIT, handle);
}

// Every CURLINFO tdxkit asks for returns through a pointer.
CURLcode curl_easy_getinfo(CURL* handle, CURLINFO info, ...) {
    const auto getinfo = TDXKIT_LAZY_REAL(libcurl_soname, curl_easy_getinfo);
    if (getinfo == nullptr) return CURLE_FAILED_INIT;
    va_list args;
    va_start(args, info);
    void* out = va_arg(args, void*);
    va_end(args);
    return getinfo(handle, info, out);
}

void curl_easy_cleanup(CURL* handle) { TDXKIT_LAZY_CALL(libcurl_soname, curl_easy_cleanup, 0, handle); }

const char* curl_easy_strerror(CURLcode code) {
    return TDXKIT_LAZY_CALL(libcurl_soname, curl_easy_strerror, "libcurl.so.4 could not be loaded (install libcurl4)",
                            code);
}

curl_slist* curl_slist_append(curl_slist* list, const char* text) {
    return TDXKIT_LAZY_CALL(libcurl_soname, curl_slist_append, nullptr, list, text);
}

void curl_slist_free_all(curl_slist* list) { TDXKIT_LAZY_CALL(libcurl_soname, curl_slist_free_all, 0, list); }

}  // extern "C"
