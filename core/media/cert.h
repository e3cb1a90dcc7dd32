/* Certificate checks that core/media shares (not public API). */
#ifndef TSMEDIA_MEDIA_CERT_H
#define TSMEDIA_MEDIA_CERT_H

#include <stddef.h>

#include <openssl/pkcs12.h>

/* @pem holds exactly one X.509 certificate with basicConstraints CA:TRUE
 * (and, when it has a keyUsage, keyCertSign).  Fills its SHA-256
 * thumbprint (lower-case hex).  Logs with @what and returns -EINVAL
 * otherwise. */
int tsm_root_ca_check_pem(const char *pem, const char *what, char sha256_ret[65]);

/* Lower-case hex without separators from @in (hex with optional ':'
 * separators, any case); -EINVAL unless it is @nbytes bytes. */
int tsm_thumbprint_normalize(const char *in, size_t nbytes, char *out);

/* What PKCS12_parse() does, with every key derivation's iteration count
 * checked before it runs (a hostile file may name 2^31): the first private
 * key and the certificate that belongs to it, both the caller's.  Errors
 * logged naming @path: -EACCES wrong password, -EINVAL malformed, -E2BIG
 * more iterations than Windows accepts, -ENOTSUP an algorithm this OpenSSL
 * lacks.  @others_ret (may be NULL) receives the file's other certificates (the
 * chain a CA-issued certificate travels with), NULL when there are none. */
int tsm_pkcs12_read(PKCS12 *p12, const char *path, const char *password, EVP_PKEY **key_ret,
		    X509 **x_ret, STACK_OF(X509) **others_ret);

#endif
