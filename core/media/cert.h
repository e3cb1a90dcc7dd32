/* Certificate checks that core/media shares (not public API). */
#ifndef TSMEDIA_MEDIA_CERT_H
#define TSMEDIA_MEDIA_CERT_H

#include <stddef.h>

/* @pem holds exactly one X.509 certificate with basicConstraints CA:TRUE
 * (and, when it has a keyUsage, keyCertSign).  Fills its SHA-256
 * thumbprint (lower-case hex).  Logs with @what and returns -EINVAL
 * otherwise. */
int tsm_root_ca_check_pem(const char *pem, const char *what, char sha256_ret[65]);

/* Lower-case hex without separators from @in (hex with optional ':'
 * separators, any case); -EINVAL unless it is @nbytes bytes. */
int tsm_thumbprint_normalize(const char *in, size_t nbytes, char *out);

#endif
