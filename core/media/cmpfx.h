/* The media certificate as Configuration Manager's client takes it: _SMSTSMediaPFX, a PKCS#12
 * with the certificate and its private key whose password is the first 31 characters of the
 * media's _SMSMediaGuid (OpenSSL PKCS#12).  The key exists only inside the encrypted
 * Variables.dat; these functions wipe what they decode. */
#ifndef TSMEDIA_MEDIA_CMPFX_H
#define TSMEDIA_MEDIA_CMPFX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The PKCS#12 password for a media GUID: its first 31 characters. */
#define TSM_CM_PFX_PASSWORD_LEN 31

/* Re-encodes @p12 (opened with @password) under @media_guid's PFX password.  -EACCES when
 * @password does not open it, -EINVAL (logged) when it holds no key and certificate. */
int tsm_cm_pfx_wrap(const uint8_t *p12, size_t len, const char *password, const char *media_guid,
		    uint8_t **out_ret, size_t *out_len_ret);

struct tsm_cm_pfx_info {
	char subject[256], issuer[256];   /* RFC 2253 */
	int64_t not_before, not_after;    /* seconds since the epoch */
	char sha1[41];                    /* thumbprint, lower-case hex */
	bool has_key;
};

/* Opens a _SMSTSMediaPFX value (hex) with @media_guid's PFX password and describes it.
 * -EINVAL (logged, naming @what) when it is not hex or not PKCS#12, -EACCES when the GUID's
 * password does not open it, -E2BIG when it asks for more key-derivation iterations than
 * Windows accepts (checked before any is spent: the file may come from anyone's media). */
int tsm_cm_pfx_describe(const char *hex, const char *media_guid, const char *what,
			struct tsm_cm_pfx_info *info_ret);

#endif
