// libmicrohttpd, loaded on first use (see core/lazy_library.hpp): only `tdxkit serve` speaks HTTP
// as a server, and mapping libmicrohttpd with GnuTLS would cost every other run its pages. When
// libmicrohttpd.so.12 cannot be opened, MHD_start_daemon returns NULL and serve::run says why.

#include <cstdarg>

#include <microhttpd.h>

#include "core/lazy_library.hpp"

namespace {

const char* libmicrohttpd_soname() { return "libmicrohttpd.so.12"; }

}  // namespace

extern "C" {

// Variadic: forwarded through the library's va_list twin.
struct MHD_Daemon* MHD_start_daemon(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc, void* apc_cls,
                                    MHD_AccessHandlerCallback dh, void* dh_cls, ...) {
    const auto real = TDXKIT_LAZY_REAL(libmicrohttpd_soname, MHD_start_daemon_va);
    if (real == nullptr) return nullptr;
    va_list ap;
    va_start(ap, dh_cls);
    auto* daemon = real(flags, port, apc, apc_cls, dh, dh_cls, ap);
    va_end(ap);
    return daemon;
}
struct MHD_Daemon* MHD_start_daemon_va(unsigned int flags, uint16_t port, MHD_AcceptPolicyCallback apc, void* apc_cls,
                                       MHD_AccessHandlerCallback dh, void* dh_cls, va_list ap) {
    return TDXKIT_LAZY_CALL(libmicrohttpd_soname, MHD_start_daemon_va, nullptr, flags, port, apc, apc_cls, dh, dh_cls,
                            ap);
}
MHD_socket MHD_quiesce_daemon(struct MHD_Daemon* daemon) {
    return TDXKIT_LAZY_CALL(libmicrohttpd_soname, MHD_quiesce_daemon, MHD_INVALID_SOCKET, daemon);
}
void MHD_stop_daemon(struct MHD_Daemon* daemon) { TDXKIT_LAZY_CALL(libmicrohttpd_soname, MHD_stop_daemon, 0, daemon); }
const char* MHD_lookup_connection_value(struct MHD_Connection* connection, enum MHD_ValueKind kind, const char* key) {
    return TDXKIT_LAZY_CALL(libmicrohttpd_soname, MHD_lookup_connection_value, nullptr, connection, kind, key);
}
enum MHD_Result MHD_queue_response(struct MHD_Connection* connection, unsigned int status_code,
                                   struct MHD_Response* response) {
    return TDXKIT_LAZY_CALL(libmicrohttpd_soname, MHD_queue_response, MHD_NO, connection, status_code, response);
}
void MHD_suspend_connection(struct MHD_Connection* connection) {
    TDXKIT_LAZY_CALL(libmicrohttpd_soname, MHD_suspend_connection, 0, connection);
}
void MHD_resume_connection(struct MHD_Connection* connection) {
    TDXKIT_LAZY_CALL(libmicrohttpd_soname, MHD_resume_connection, 0, connection);
}
struct MHD_Response* MHD_create_response_from_buffer(size_t size, void* buffer, enum MHD_ResponseMemoryMode mode) {
    return TDXKIT_LAZY_CALL(libmicrohttpd_soname, MHD_create_response_from_buffer, nullptr, size, buffer, mode);
}
void MHD_destroy_response(struct MHD_Response* response) {
    TDXKIT_LAZY_CALL(libmicrohttpd_soname, MHD_destroy_response, 0, response);
}
enum MHD_Result MHD_add_response_header(struct MHD_Response* response, const char* header, const char* content) {
    return TDXKIT_LAZY_CALL(libmicrohttpd_soname, MHD_add_response_header, MHD_NO, response, header, content);
}
// Variadic, but no info type tdxkit asks for takes an argument.
const union MHD_ConnectionInfo* MHD_get_connection_info(struct MHD_Connection* connection,
                                                        enum MHD_ConnectionInfoType info_type, ...) {
    const auto real = TDXKIT_LAZY_REAL(libmicrohttpd_soname, MHD_get_connection_info);
    return real == nullptr ? nullptr : real(connection, info_type);
}

}  // extern "C"
