#pragma once

// Shared libraries only some commands need (libcurl to fetch collateral, libssl for aTLS) are
// opened with dlopen the first time one of their functions is called, so that every other run
// neither maps nor initialises them: the kernel charges a process for each library's pages it
// touches, and a one-shot `tdxkit verify` must stay under 10 MiB peak RSS. tdxkit defines each
// entry point it calls (hidden, like every symbol of the library, and declared by the real
// header), forwarding to the real function looked up once.

#include <dlfcn.h>

#include <type_traits>

namespace tdxkit::lazy {

// `Soname` returns a string literal: a function, so that it can be a template argument.
using SonameFn = const char* (*)();

template <SonameFn Soname>
void* library() {
    static void* const handle = dlopen(Soname(), RTLD_NOW | RTLD_LOCAL);
    return handle;
}

// The real function our forwarder `Declared` stands in for, typed by the forwarder's own
// declaration; nullptr when the library or the symbol is missing.
template <auto Declared, SonameFn Soname>
decltype(Declared) real(const char* name) {
    static const auto found = [name] {
        void* const handle = library<Soname>();
        return handle == nullptr ? nullptr : reinterpret_cast<decltype(Declared)>(dlsym(handle, name));
    }();
    return found;
}

// Calls the real function, or returns `missing` (converted to the declared result type) when it
// cannot be loaded; for a function returning void, `missing` is ignored.
template <auto Declared, SonameFn Soname, class Missing, class... Args>
auto call(const char* name, Missing missing, Args... args) -> decltype(Declared(args...)) {
    const auto function = real<Declared, Soname>(name);
    if constexpr (std::is_void_v<decltype(Declared(args...))>) {
        if (function != nullptr) function(args...);
    } else {
        return function != nullptr ? function(args...) : missing;
    }
}

}  // namespace tdxkit::lazy

// A forwarder's body, naming the real function by the forwarder's own name: the real `function` from
// the library `soname` names, called with the arguments, or `missing` when it cannot be loaded (pass
// 0 for a function returning void).
#define TDXKIT_LAZY_CALL(soname, function, missing, ...)                                                               \
    ::tdxkit::lazy::call<&function, soname>(#function, missing __VA_OPT__(, ) __VA_ARGS__)
// The real `function` itself, for forwarders that must handle their arguments (varargs).
#define TDXKIT_LAZY_REAL(soname, function) ::tdxkit::lazy::real<&(function), soname>(#function)
