#ifndef ERRATA_CSSL_SHIMS_H
#define ERRATA_CSSL_SHIMS_H
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/bio.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

/* OpenSSL macros Swift cannot import, as static inline functions. */
static inline long errata_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) { return SSL_CTX_set_min_proto_version(ctx, version); }
static inline long errata_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline long errata_SSL_CTX_set_options(SSL_CTX *ctx, unsigned long op) { return (long)SSL_CTX_set_options(ctx, op); }
static inline long errata_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_session_cache_mode(ctx, mode); }
static inline long errata_SSL_CTX_set_tlsext_servername_callback(SSL_CTX *ctx, int (*cb)(SSL *, int *, void *)) {
    return SSL_CTX_set_tlsext_servername_callback(ctx, cb);
}
static inline long errata_SSL_CTX_set_tlsext_servername_arg(SSL_CTX *ctx, void *arg) { return SSL_CTX_set_tlsext_servername_arg(ctx, arg); }
static inline long errata_SSL_set_tlsext_host_name(SSL *ssl, const char *name) { return SSL_set_tlsext_host_name(ssl, name); }
static inline size_t errata_BIO_pending(BIO *b) { return BIO_pending(b); }
static inline long errata_BIO_get_mem_ptr(BIO *b, BUF_MEM **pp) { return BIO_get_mem_ptr(b, pp); }
static inline void errata_OPENSSL_free(void *p) { OPENSSL_free(p); }
static inline int errata_SSL_get_ex_new_index(void) { return SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL); }
static inline int errata_SSL_CTX_get_ex_new_index(void) { return SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL); }
static inline long errata_SSL_CTX_add_extra_chain_cert(SSL_CTX *ctx, X509 *x) { return SSL_CTX_add_extra_chain_cert(ctx, x); }
static inline long errata_SSL_CTX_set1_groups_list(SSL_CTX *ctx, const char *list) { return SSL_CTX_set1_groups_list(ctx, list); }

static inline long errata_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) { return SSL_CTX_set_max_proto_version(ctx, version); }
static inline long errata_SSL_CTX_clear_options(SSL_CTX *ctx, unsigned long op) { return (long)SSL_CTX_clear_options(ctx, op); }
static inline long errata_BIO_set_mem_eof_return(BIO *b, long v) { return BIO_set_mem_eof_return(b, v); }
static inline int errata_ERR_GET_REASON(unsigned long e) { return ERR_GET_REASON(e); }
static inline int errata_ERR_GET_LIB(unsigned long e) { return ERR_GET_LIB(e); }

static const unsigned long errata_SSL_OP_IGNORE_UNEXPECTED_EOF = SSL_OP_IGNORE_UNEXPECTED_EOF;
static const unsigned long errata_SSL_OP_NO_SSLv3 = SSL_OP_NO_SSLv3;
static const unsigned long errata_XN_FLAG_RFC2253 = XN_FLAG_RFC2253;

static const unsigned long errata_SSL_OP_NO_RENEGOTIATION = SSL_OP_NO_RENEGOTIATION;
static const unsigned long errata_SSL_OP_NO_COMPRESSION = SSL_OP_NO_COMPRESSION;
static const unsigned long errata_SSL_OP_CIPHER_SERVER_PREFERENCE = SSL_OP_CIPHER_SERVER_PREFERENCE;
static const unsigned long errata_SSL_OP_NO_TICKET = SSL_OP_NO_TICKET;
static const long errata_SSL_MODE_RELEASE_BUFFERS = SSL_MODE_RELEASE_BUFFERS;
static const long errata_SSL_MODE_ENABLE_PARTIAL_WRITE = SSL_MODE_ENABLE_PARTIAL_WRITE;
static const long errata_SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER = SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER;
#endif
