/* _SMSTSMediaPFX (see cmpfx.h).
 *
 * Sources: MWR-CyberSec/PXEThief, pxethief.py: the PFX is binascii.unhexlify(_SMSTSMediaPFX)
 * and imported with PFXImportCertStore(pfx, _SMSMediaGuid[:31], ...); Misconfiguration-Manager
 * ELEVATE-5 opens such a file with `openssl pkcs12 -passin pass:<first 31 characters>`.
 *
 * The bags are written with pbeWithSHAAnd3-KeyTripleDES-CBC and a SHA-1 MAC, the PKCS#12
 * algorithms every Windows version's PFXImportCertStore reads (newer AES ones need Windows 10
 * 1709 or later); the protection does not matter here: the password is in the same file. */
#include "media/cmpfx.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "media/cert.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

static void pfx_password(const char *media_guid, char out[TSM_CM_PFX_PASSWORD_LEN + 1])
{
	size_t n = strnlen(media_guid, TSM_CM_PFX_PASSWORD_LEN);

	memcpy(out, media_guid, n);
	out[n] = '\0';
}

/* @p12 as one whole DER PKCS#12, or -EINVAL (logged). */
static int decode(const uint8_t *p12, size_t len, const char *what, PKCS12 **pk_ret)
{
	const unsigned char *p = p12;
	PKCS12 *pk = NULL;

	if (len > LONG_MAX || !(pk = d2i_PKCS12(NULL, &p, (long)len)) || p != p12 + len) {
		PKCS12_free(pk);
		ERR_clear_error();
		tsm_error("%s: not a PKCS#12", what);
		return -EINVAL;
	}
	*pk_ret = pk;
	return 0;
}

static int parse(const uint8_t *p12, size_t len, const char *password, const char *what,
		 EVP_PKEY **key, X509 **x, STACK_OF(X509) **ca)
{
	PKCS12 *pk;
	int ok, rc;

	if ((rc = decode(p12, len, what, &pk)) < 0)
		return rc;
	if (PKCS12_mac_present(pk) && !PKCS12_verify_mac(pk, password, -1)) {
		PKCS12_free(pk);
		ERR_clear_error();
		tsm_error("%s: the PKCS#12 does not open with its password", what);
		return -EACCES;
	}
	ok = PKCS12_parse(pk, password, key, x, ca);
	PKCS12_free(pk);
	if (!ok) {
		ERR_clear_error();
		tsm_error("%s: the PKCS#12 contents do not decrypt with its password", what);
		return -EACCES;
	}
	if (!*key || !*x) {
		tsm_error("%s: the PKCS#12 holds no %s", what,
			  *key ? _("certificate for its key") : _("private key"));
		return -EINVAL;
	}
	return 0;
}

/* A _SMSTSMediaPFX from a media anyone made: every key derivation's iteration count is
 * checked before it runs (cert.c), since the file may name 2^31 of them (minutes of CPU)
 * whatever the password.  The user's own PKCS#12 that tsm_cm_pfx_wrap() takes was read
 * the same way by tsm_cert_load_pkcs12() first. */
static int open_checked(const uint8_t *p12, size_t len, const char *password, const char *what,
			EVP_PKEY **key, X509 **x)
{
	PKCS12 *pk;
	int rc;

	if ((rc = decode(p12, len, what, &pk)) < 0)
		return rc;
	rc = tsm_pkcs12_read(pk, what, password, key, x, NULL);
	PKCS12_free(pk);
	ERR_clear_error();
	return rc;
}

int tsm_cm_pfx_wrap(const uint8_t *p12, size_t len, const char *password, const char *media_guid,
		    uint8_t **out_ret, size_t *out_len_ret)
{
	char pass[TSM_CM_PFX_PASSWORD_LEN + 1];
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	STACK_OF(X509) *ca = NULL;
	PKCS12 *out = NULL;
	unsigned char *der = NULL;
	int n, rc;

	if ((rc = parse(p12, len, password ? password : "", "the media certificate", &key, &x,
			&ca)) < 0)
		goto out_free;
	pfx_password(media_guid, pass);
	out = PKCS12_create(pass, NULL, key, x, ca, NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
			    NID_pbe_WithSHA1And3_Key_TripleDES_CBC, PKCS12_DEFAULT_ITER, -1, 0);
	if (out && !PKCS12_set_mac(out, pass, -1, NULL, 0, PKCS12_DEFAULT_ITER, EVP_sha1()))
		PKCS12_free(out), out = NULL;
	OPENSSL_cleanse(pass, sizeof(pass));
	if (!out || (n = i2d_PKCS12(out, &der)) <= 0) {
		ERR_clear_error();
		tsm_error("the media certificate: cannot write it as PKCS#12");
		rc = -EIO;
		goto out_free;
	}
	*out_ret = der;
	*out_len_ret = (size_t)n;
out_free:
	PKCS12_free(out);
	sk_X509_pop_free(ca, X509_free);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

static int asn1_epoch(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm))
		return -EINVAL;
	*out = (int64_t)timegm(&tm);
	return 0;
}

/* "CN=Media,O=Contoso" (RFC 2253), cut to @n - 1 bytes. */
static int name_rfc2253(const X509_NAME *name, char *out, size_t n)
{
	BIO *b = BIO_new(BIO_s_mem());
	int len;

	if (!b || X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) < 0) {
		BIO_free(b);
		return -ENOMEM;
	}
	len = BIO_read(b, out, (int)n - 1);
	out[len > 0 ? len : 0] = '\0';
	BIO_free(b);
	return 0;
}

int tsm_cm_pfx_describe(const char *hex, const char *media_guid, const char *what,
			struct tsm_cm_pfx_info *info_ret)
{
	char pass[TSM_CM_PFX_PASSWORD_LEN + 1];
	unsigned char *der = NULL, md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	long der_len = 0;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int rc;

	memset(info_ret, 0, sizeof(*info_ret));
	/* The value is the PKCS#12 in hex (PXEThief: binascii.unhexlify). */
	if (!(der = OPENSSL_hexstr2buf(hex, &der_len))) {
		ERR_clear_error();
		tsm_error("%s: _SMSTSMediaPFX is not hex", what);
		return -EINVAL;
	}
	pfx_password(media_guid, pass);
	rc = open_checked(der, (size_t)der_len, pass, what, &key, &x);
	OPENSSL_cleanse(pass, sizeof(pass));
	OPENSSL_clear_free(der, (size_t)der_len);
	if (rc < 0)
		goto out_free;
	if (name_rfc2253(X509_get_subject_name(x), info_ret->subject, sizeof(info_ret->subject)) < 0 ||
	    name_rfc2253(X509_get_issuer_name(x), info_ret->issuer, sizeof(info_ret->issuer)) < 0 ||
	    asn1_epoch(X509_get0_notBefore(x), &info_ret->not_before) < 0 ||
	    asn1_epoch(X509_get0_notAfter(x), &info_ret->not_after) < 0 ||
	    !X509_digest(x, EVP_sha1(), md, &mdlen)) {
		tsm_error("%s: the media certificate's dates or thumbprint cannot be read", what);
		rc = -EINVAL;
		goto out_free;
	}
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(info_ret->sha1 + 2 * i, 3, "%02x", md[i]);
	info_ret->has_key = key != NULL;
out_free:
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}
