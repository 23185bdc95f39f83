// libssl, loaded on first use (see core/lazy_library.hpp): only `atls-connect` and `atls-serve`
// speak TLS themselves, and mapping libssl costs every other run 0.25 MiB of resident memory.
// When libssl.so.3 cannot be opened, TLS_client_method/TLS_server_method leave an OpenSSL error
// saying so and every other entry point fails the way libssl reports failure, so the aTLS code's
// usual error path explains it.

#include "core/lazy_library.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace {

const char* libssl_soname() { return "libssl.so.3"; }

const SSL_METHOD* method_or_error(const SSL_METHOD* method) {
    if (method == nullptr) {
        ERR_raise_data(ERR_LIB_SSL, ERR_R_INIT_FAIL, "libssl.so.3 could not be loaded (install libssl3)");
    }
    return method;
}

}  // namespace

extern "C" {

const SSL_METHOD* TLS_client_method() {
    return method_or_error(TDXKIT_LAZY_CALL(libssl_soname, TLS_client_method, nullptr));
}
const SSL_METHOD* TLS_server_method() {
    return method_or_error(TDXKIT_LAZY_CALL(libssl_soname, TLS_server_method, nullptr));
}

SSL_CTX* SSL_CTX_new(const SSL_METHOD* method) { return TDXKIT_LAZY_CALL(libssl_soname, SSL_CTX_new, nullptr, method); }
void SSL_CTX_free(SSL_CTX* ctx) { TDXKIT_LAZY_CALL(libssl_soname, SSL_CTX_free, 0, ctx); }
long SSL_CTX_ctrl(SSL_CTX* ctx, int cmd, long larg, void* parg) {
    return TDXKIT_LAZY_CALL(libssl_soname, SSL_CTX_ctrl, 0, ctx, cmd, larg, parg);
}
int SSL_CTX_check_private_key(const SSL_CTX* ctx) {
    return TDXKIT_LAZY_CALL(libssl_soname, SSL_CTX_check_private_key, 0, ctx);
}
int SSL_CTX_load_verify_locations(SSL_CTX* ctx, const char* ca_file, const char* ca_path) {
    return TDXKIT_LAZY_CALL(libssl_soname, SSL_CTX_load_verify_locations, 0, ctx, ca_file, ca_path);
}
int SSL_CTX_set_default_verify_paths(SSL_CTX* ctx) {
    return TDXKIT_LAZY_CALL(libssl_soname, SSL_CTX_set_default_verify_paths, 0, ctx);
}
void SSL_CTX_set_verify(SSL_CTX* ctx, int mode, SSL_verify_cb callback) {
    TDXKIT_LAZY_CALL(libssl_soname, SSL_CTX_set_verify, 0, ctx, mode, callback);
}
int SSL_CTX_use_PrivateKey(SSL_CTX* ctx, EVP_PKEY* key) {
    return TDXKIT_LAZY_CALL(libssl_soname, SSL_CTX_use_PrivateKey, 0, ctx, key);
}
int SSL_CTX_use_certificate_chain_file(SSL_CTX* ctx, const char* file) {
    return TDXKIT_LAZY_CALL(libssl_soname, SSL_CTX_use_certificate_chain_file, 0, ctx, file);
}
int SSL_CTX_use_certificate(SSL_CTX* ctx, X509* cert) {
    return TDXKIT_LAZY_CALL(libssl_soname, SSL_CTX_use_certificate, 0, ctx, cert);
}

SSL* SSL_new(SSL_CTX* ctx) { return TDXKIT_LAZY_CALL(libssl_soname, SSL_new, nullptr, ctx); }
void SSL_free(SSL* ssl) { TDXKIT_LAZY_CALL(libssl_soname, SSL_free, 0, ssl); }
int SSL_set_fd(SSL* ssl, int fd) { return TDXKIT_LAZY_CALL(libssl_soname, SSL_set_fd, 0, ssl, fd); }
long SSL_ctrl(SSL* ssl, int cmd, long larg, void* parg) {
    return TDXKIT_LAZY_CALL(libssl_soname, SSL_ctrl, 0, ssl, cmd, larg, parg);
}
X509_VERIFY_PARAM* SSL_get0_param(SSL* ssl) { return TDXKIT_LAZY_CALL(libssl_soname, SSL_get0_param, nullptr, ssl); }
int SSL_connect(SSL* ssl) { return TDXKIT_LAZY_CALL(libssl_soname, SSL_connect, -1, ssl); }
int SSL_accept(SSL* ssl) { return TDXKIT_LAZY_CALL(libssl_soname, SSL_accept, -1, ssl); }
int SSL_read(SSL* ssl, void* buffer, int size) {
    return TDXKIT_LAZY_CALL(libssl_soname, SSL_read, -1, ssl, buffer, size);
}
int SSL_write(SSL* ssl, const void* buffer, int size) {
    return TDXKIT_LAZY_CALL(libssl_soname, SSL_write, -1, ssl, buffer, size);
}
int SSL_pending(const SSL* ssl) { return TDXKIT_LAZY_CALL(libssl_soname, SSL_pending, 0, ssl); }
int SSL_shutdown(SSL* ssl) { return TDXKIT_LAZY_CALL(libssl_soname, SSL_shutdown, -1, ssl); }
int SSL_get_error(const SSL* ssl, int result) {
    return TDXKIT_LAZY_CALL(libssl_soname, SSL_get_error, SSL_ERROR_SSL, ssl, result);
}
int SSL_export_keying_material(SSL* ssl, unsigned char* out, size_t out_length, const char* label, size_t label_length,
                               const unsigned char* context, size_t context_length, int use_context) {
    return TDXKIT_LAZY_CALL(libssl_soname, SSL_export_keying_material, 0, ssl, out, out_length, label, label_length,
                            context, context_length, use_context);
}
X509* SSL_get1_peer_certificate(const SSL* ssl) {
    return TDXKIT_LAZY_CALL(libssl_soname, SSL_get1_peer_certificate, nullptr, ssl);
}
STACK_OF(X509) * SSL_get_peer_cert_chain(const SSL* ssl) {
    return TDXKIT_LAZY_CALL(libssl_soname, SSL_get_peer_cert_chain, nullptr, ssl);
}
long SSL_get_verify_result(const SSL* ssl) {
    return TDXKIT_LAZY_CALL(libssl_soname, SSL_get_verify_result, X509_V_ERR_UNSPECIFIED, ssl);
}
int SSL_version(const SSL* ssl) { return TDXKIT_LAZY_CALL(libssl_soname, SSL_version, 0, ssl); }
const char* SSL_get_version(const SSL* ssl) { return TDXKIT_LAZY_CALL(libssl_soname, SSL_get_version, "unknown", ssl); }
const SSL_CIPHER* SSL_get_current_cipher(const SSL* ssl) {
    return TDXKIT_LAZY_CALL(libssl_soname, SSL_get_current_cipher, nullptr, ssl);
}
const char* SSL_CIPHER_get_name(const SSL_CIPHER* cipher) {
    return TDXKIT_LAZY_CALL(libssl_soname, SSL_CIPHER_get_name, "(NONE)", cipher);
}

}  // extern "C"
