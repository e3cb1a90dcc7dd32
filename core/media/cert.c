/* Media certificates and root CAs through OpenSSL: a self-signed
 * certificate written as PKCS#12, reading and checking PKCS#12 files and
 * root CA files, password files, and the dates certificates are given. */
#include "tsmedia/site.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "media/cert.h"
#include "tsmedia/hash.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

/* Larger than any certificate file an administrator hands us. */
#define CERT_FILE_MAX (1u << 20)
#define PASSWORD_MAX 1024
/* PBKDF2 iterations for the PKCS#12 key and certificate bags and its MAC;
 * OpenSSL's default (2048) is low for a file that travels on media. */
#define PKCS12_ITERATIONS 100000
/* X.520 upper bound of a common name. */
#define CN_MAX 64

/* OpenSSL's queued errors as one line (and the queue emptied). */
static const char *ossl_errors(char *buf, size_t n)
{
	unsigned long e;
	size_t len = 0;

	buf[0] = '\0';
	while ((e = ERR_get_error()) != 0) {
		const char *reason = ERR_reason_error_string(e);
		char one[256];

		if (!reason) {
			ERR_error_string_n(e, one, sizeof(one));
			reason = one;
		}
		if (len < n)
			len += (size_t)snprintf(buf + len, n - len, "%s%s", len ? "; " : "", reason);
	}
	if (!buf[0])
		snprintf(buf, n, "unknown OpenSSL error");
	return buf;
}

/* ---- dates ----------------------------------------------------------- */

static bool digits(const char *s, int n, int *value_ret)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*value_ret = v;
	return true;
}

static int days_in_month(int year, int month)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

int tsm_date_parse(const char *text, int64_t *time_ret)
{
	int year, month, day, hour = 0, min = 0, sec = 0;
	const char *p = text;
	struct tm tm = { 0 };
	const char *why = NULL;

	if (!digits(p, 4, &year) || p[4] != '-' || !digits(p + 5, 2, &month) || p[7] != '-' ||
	    !digits(p + 8, 2, &day)) {
		why = _("expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ");
		goto out_bad;
	}
	p += 10;
	if (*p == 'T') {
		if (!digits(p + 1, 2, &hour) || p[3] != ':' || !digits(p + 4, 2, &min)) {
			why = _("expected a time THH:MM[:SS] after the date");
			goto out_bad;
		}
		p += 6;
		if (*p == ':') {
			if (!digits(p + 1, 2, &sec)) {
				why = _("expected two digits of seconds");
				goto out_bad;
			}
			p += 3;
			if (*p == '.' || *p == ',') { /* a fraction of a second: dropped */
				if (p[1] < '0' || p[1] > '9') {
					why = _("expected digits after the decimal point");
					goto out_bad;
				}
				for (p++; *p >= '0' && *p <= '9'; p++)
					;
			}
		}
		if (strcmp(p, "Z") == 0 || strcmp(p, "+00:00") == 0 || strcmp(p, "+0000") == 0 ||
		    strcmp(p, "-00:00") == 0) {
			p += strlen(p);
		} else if (*p == '\0' || *p == '+' || *p == '-') {
			why = _("give the time in UTC, ending in Z (like 2026-05-01T08:00:00Z)");
			goto out_bad;
		}
	}
	if (*p != '\0') {
		why = _("unexpected text after the date");
		goto out_bad;
	}
	if (year < 1970 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
	    hour > 23 || min > 59 || sec > 59) {
		why = year < 1970 ? _("years before 1970 are not supported")
				  : _("no such day or time");
		goto out_bad;
	}
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	*time_ret = (int64_t)timegm(&tm);
	return 0;

out_bad:
	tsm_error("invalid date '%s': %s", text, why);
	return -EINVAL;
}

void tsm_date_format(int64_t t, char buf[32])
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, 32, "@%lld", (long long)t);
}

static int asn1_time_epoch(const ASN1_TIME *t, int64_t *epoch_ret)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return -EINVAL;
	*epoch_ret = (int64_t)timegm(&tm);
	return 0;
}

/* ---- files ----------------------------------------------------------- */

/* Reads a whole regular file of at most @max bytes. */
static int file_read(const char *path, size_t max, unsigned char **buf_ret, size_t *len_ret)
{
	unsigned char *buf = NULL;
	size_t len = 0;
	struct stat st;
	int fd, rc = 0;

	/* O_NONBLOCK: a FIFO given as a certificate must not hang us. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		rc = -errno;
		tsm_error("cannot open %s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		tsm_error("%s is not a regular file", path);
		rc = -EINVAL;
		goto out_close;
	}
	if ((uint64_t)st.st_size > max) {
		tsm_error("%s is too large for a certificate file (%lld bytes, at most %zu)", path,
			  (long long)st.st_size, max);
		rc = -EFBIG;
		goto out_close;
	}
	if (!(buf = malloc(max + 1))) {
		rc = -ENOMEM;
		goto out_close;
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, max + 1 - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			tsm_error("reading %s: %s", path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > max) {
			tsm_error("%s grew while it was read", path);
			rc = -EFBIG;
			break;
		}
	}
	if (rc < 0) {
		free(buf);
		goto out_close;
	}
	buf[len] = '\0';
	*buf_ret = buf;
	*len_ret = len;
out_close:
	close(fd);
	return rc;
}

int tsm_password_read(const char *path, char **password_ret)
{
	char buf[PASSWORD_MAX + 2];
	size_t len = 0;
	int fd, rc = 0;

	/* Blocking on purpose: --password-file <(pass show media) is a pipe. */
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		tsm_error("cannot open password file %s: %s", path, strerror(errno));
		return rc;
	}
	while (len < sizeof(buf) && !memchr(buf, '\n', len)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			tsm_error("reading password file %s: %s", path, strerror(errno));
			goto out_close;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	{
		char *nl = memchr(buf, '\n', len);

		if (nl)
			len = (size_t)(nl - buf);
		else if (len > PASSWORD_MAX)
			len = PASSWORD_MAX + 1;
	}
	if (len && buf[len - 1] == '\r') /* a file written on Windows */
		len--;
	if (len > PASSWORD_MAX) {
		tsm_error("password file %s: the password (its first line) is longer than %d bytes",
			  path, PASSWORD_MAX);
		rc = -EINVAL;
	} else if (len == 0) {
		tsm_error("password file %s is empty: its first line is the password", path);
		rc = -EINVAL;
	} else if (memchr(buf, '\0', len)) {
		tsm_error("password file %s: the password holds a NUL byte", path);
		rc = -EINVAL;
	} else if (!(*password_ret = strndup(buf, len))) {
		rc = -ENOMEM;
	}
out_close:
	OPENSSL_cleanse(buf, sizeof(buf));
	close(fd);
	return rc;
}

void tsm_password_free(char *password)
{
	if (password) {
		OPENSSL_cleanse(password, strlen(password));
		free(password);
	}
}

/* ---- describing certificates ----------------------------------------- */

static char *name_string(const X509_NAME *name)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *s = NULL;
	long n;

	if (!bio)
		return NULL;
	/* RFC 2253 with UTF-8 kept as it is. */
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_get_mem_data(bio, &data)) >= 0)
		s = strndup(data, (size_t)n);
	BIO_free(bio);
	return s;
}

static int thumbprint(X509 *x, const EVP_MD *md, char *hex)
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!X509_digest(x, md, d, &n))
		return -EIO;
	tsm_hex_encode(d, n, hex);
	return 0;
}

static int cert_describe(X509 *x, const char *what, struct tsm_cert *c)
{
	memset(c, 0, sizeof(*c));
	if (!(c->subject = name_string(X509_get_subject_name(x))) ||
	    !(c->issuer = name_string(X509_get_issuer_name(x)))) {
		tsm_cert_clear(c);
		return -ENOMEM;
	}
	if (asn1_time_epoch(X509_get0_notBefore(x), &c->not_before) < 0 ||
	    asn1_time_epoch(X509_get0_notAfter(x), &c->not_after) < 0) {
		tsm_error("%s: the certificate's validity dates cannot be read", what);
		tsm_cert_clear(c);
		return -EINVAL;
	}
	/* Issued by itself and signed by its own key. */
	c->self_signed = X509_self_signed(x, 1) == 1;
	ERR_clear_error();
	/* Microsoft, "PKI certificate requirements for Configuration Manager", client certificate
	 * for task sequence media: "Enhanced Key Usage value must contain Client Authentication
	 * (1.3.6.1.5.5.7.3.2)".  A certificate without the extension does not carry the value. */
	c->client_auth = (X509_get_extension_flags(x) & EXFLAG_XKUSAGE) &&
			 (X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
	if (thumbprint(x, EVP_sha1(), c->sha1) < 0 || thumbprint(x, EVP_sha256(), c->sha256) < 0) {
		char err[256];

		tsm_error("%s: hashing the certificate failed: %s", what, ossl_errors(err, sizeof(err)));
		tsm_cert_clear(c);
		return -EIO;
	}
	return 0;
}

void tsm_cert_clear(struct tsm_cert *c)
{
	free(c->subject);
	free(c->issuer);
	free(c->pem);
	tsm_pem_list_free(c->chain_pems, c->nchain);
	if (c->pkcs12) {
		OPENSSL_cleanse(c->pkcs12, c->pkcs12_len);
		free(c->pkcs12);
	}
	memset(c, 0, sizeof(*c));
}

/* ---- a self-signed media certificate --------------------------------- */

static bool cn_valid(const char *cn, const char **why)
{
	size_t chars = 0;

	if (!cn || !*cn) {
		*why = _("it is empty");
		return false;
	}
	for (const unsigned char *p = (const unsigned char *)cn; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			*why = _("it holds a control character");
			return false;
		}
		if ((*p & 0xc0) != 0x80)
			chars++;
	}
	if (chars > CN_MAX) {
		*why = _("it is longer than 64 characters");
		return false;
	}
	return true;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = ext && X509_add_ext(x, ext, -1);

	X509_EXTENSION_free(ext);
	return ok ? 0 : -EIO;
}

static int random_serial(X509 *x)
{
	unsigned char rnd[16];
	BIGNUM *bn;
	int rc = -EIO;

	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return -EIO;
	rnd[0] = (rnd[0] & 0x7f) | 0x40; /* positive, 16 bytes, never zero */
	if ((bn = BN_bin2bn(rnd, sizeof(rnd), NULL)) &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)))
		rc = 0;
	BN_free(bn);
	return rc;
}

int tsm_cert_create_self_signed(const char *subject_cn, int64_t not_before, int64_t not_after,
				const char *password, struct tsm_cert *cert_ret)
{
	char nb[32], na[32], err[512];
	const char *why;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	PKCS12 *p12 = NULL;
	unsigned char *der = NULL;
	X509V3_CTX ctx;
	X509_NAME *name;
	int der_len, rc;

	memset(cert_ret, 0, sizeof(*cert_ret));
	tsm_date_format(not_before, nb);
	tsm_date_format(not_after, na);
	if (!cn_valid(subject_cn, &why)) {
		tsm_error("invalid certificate subject '%s': %s", subject_cn ? subject_cn : "", why);
		return -EINVAL;
	}
	if (not_after <= not_before) {
		tsm_error("certificate dates are inverted: valid from %s must come before valid until %s",
			  nb, na);
		return -EINVAL;
	}
	if (not_after <= (int64_t)time(NULL)) {
		tsm_error("certificate expiry %s is already past", na);
		return -EINVAL;
	}
	if (!password || !*password) {
		tsm_error("a certificate's PKCS#12 file needs a password");
		return -EINVAL;
	}
	ERR_clear_error();
	rc = -EIO;
	if (!(key = EVP_RSA_gen(2048)) || !(x = X509_new()) || !X509_set_version(x, X509_VERSION_3) ||
	    random_serial(x) < 0)
		goto out_ssl;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
					(const unsigned char *)subject_cn, -1, -1, 0) ||
	    !X509_set_issuer_name(x, name))
		goto out_ssl;
	if (!ASN1_TIME_set(X509_getm_notBefore(x), (time_t)not_before) ||
	    !ASN1_TIME_set(X509_getm_notAfter(x), (time_t)not_after)) {
		tsm_error("certificate dates %s .. %s cannot be encoded", nb, na);
		rc = -EINVAL;
		goto out_free;
	}
	if (!X509_set_pubkey(x, key))
		goto out_ssl;
	/* An end-entity client authentication certificate, as Configuration
	 * Manager asks of a media certificate. */
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature,keyEncipherment") < 0 ||
	    add_ext(x, &ctx, NID_ext_key_usage, "clientAuth") < 0 ||
	    add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0)
		goto out_ssl;
	if (X509_sign(x, key, EVP_sha256()) <= 0)
		goto out_ssl;
	/* 0 for the bag ciphers: OpenSSL 3's default, AES-256-CBC with PBKDF2. */
	if (!(p12 = PKCS12_create(password, "tsmedia media certificate", key, x, NULL, 0, 0,
				  PKCS12_ITERATIONS, PKCS12_ITERATIONS, 0)))
		goto out_ssl;
	if ((der_len = i2d_PKCS12(p12, &der)) <= 0)
		goto out_ssl;
	if ((rc = cert_describe(x, _("the new certificate"), cert_ret)) < 0)
		goto out_free;
	if (!(cert_ret->pkcs12 = malloc((size_t)der_len))) {
		tsm_cert_clear(cert_ret);
		rc = -ENOMEM;
		goto out_free;
	}
	memcpy(cert_ret->pkcs12, der, (size_t)der_len);
	cert_ret->pkcs12_len = (size_t)der_len;
	rc = 0;
	goto out_free;

out_ssl:
	tsm_error("creating a self-signed certificate for CN=%s failed: %s", subject_cn,
		  ossl_errors(err, sizeof(err)));
out_free:
	if (der)
		OPENSSL_clear_free(der, (size_t)der_len);
	PKCS12_free(p12);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

/* ---- reading PKCS#12 ------------------------------------------------- */

static bool err_is_unsupported(void)
{
	unsigned long e = ERR_peek_last_error();

	int reason = ERR_GET_REASON(e);

	return reason == ERR_R_UNSUPPORTED || reason == ERR_R_FETCH_FAILED ||
	       (ERR_GET_LIB(e) == ERR_LIB_EVP && reason == EVP_R_UNSUPPORTED_ALGORITHM);
}

/* Files exported by older Windows protect the certificate bag with RC2-40,
 * which OpenSSL 3 keeps in its legacy provider: loaded once, into the
 * default library context, when such a file comes.  True when the caller
 * should try again. */
static OSSL_PROVIDER *legacy_provider;

/* At exit, before OpenSSL's own cleanup (registered earlier, so run later):
 * a provider still loaded then is never freed. */
static void legacy_provider_unload(void)
{
	OSSL_PROVIDER_unload(legacy_provider);
	legacy_provider = NULL;
}

static bool legacy_provider_load(const char *path)
{
	static atomic_bool legacy_tried;

	if (!err_is_unsupported() || atomic_exchange(&legacy_tried, true))
		return false;
	ERR_clear_error();
	if (!(legacy_provider = OSSL_PROVIDER_try_load(NULL, "legacy", 1)))
		return false;
	atexit(legacy_provider_unload);
	tsm_debug("%s: loaded OpenSSL's legacy provider for an old PKCS#12 cipher", path);
	return true;
}

/*
 * A PKCS#12 file names the work its own key derivations take (the MAC key,
 * RFC 7292 appendix B; each encrypted safe and shrouded key bag, PKCS#12 PBE
 * or PBES2/PBKDF2, RFC 8018 appendix A.2 and A.4), and nothing in it can be
 * checked before that work is done: 2^31-1 iterations keep a CPU busy for
 * minutes whatever the password.  So every count is read with OpenSSL's
 * ASN.1 types and checked before any derivation runs.
 *
 * Writers: OpenSSL's PKCS12_DEFAULT_ITER is 2048 (openssl/pkcs12.h, equal to
 * PKCS5_DEFAULT_ITER in openssl/evp.h); Windows exports use 2000 (.NET's
 * Pkcs12Builder.SealWithMac documentation); Firefox (NSS) writes 600,000 and
 * tsmedia 100,000 (PKCS12_ITERATIONS).  Windows' own import refuses more
 * than 600,000 ("Iteration count doesn't lie in expected range. Maximum
 * permissible value: 600000"); .NET refuses more than 300,000 per derivation
 * and 1,000,000 per file (Pkcs12LoaderLimits).  One derivation may take
 * Windows' maximum; a file, a MAC, a key and a certificate safe at that
 * maximum with room to spare (about half a second of PBKDF2-HMAC-SHA256).
 */
#define PKCS12_ITER_MAX 600000
#define PKCS12_ITER_TOTAL_MAX 2000000
/* Nested SafeContents bags (RFC 7292 4.2.6): writers use none. */
#define PKCS12_NEST_MAX 4

struct p12_walk {
	const char *path;
	const char *pass;        /* NULL: an empty password written as none */
	bool mac_checked;
	uint64_t iterations;     /* of every derivation counted so far */
	EVP_PKEY *key;           /* the first private key, as PKCS12_parse() takes */
	STACK_OF(X509) *certs;
};

/* Counts one derivation of @count iterations (NULL: RFC 7292's DEFAULT 1). */
static int p12_iterations_take(struct p12_walk *w, const char *what, const ASN1_INTEGER *count)
{
	int64_t n = 1;

	if (count && (!ASN1_INTEGER_get_int64(&n, count) || n < 1)) {
		ERR_clear_error();
		tsm_error("%s: the %s has no valid iteration count: not a well-formed PKCS#12 file",
			  w->path, what);
		return -EINVAL;
	}
	if (n > PKCS12_ITER_MAX) {
		tsm_error("%s: the %s asks for %lld key-derivation iterations, more than the %d"
			  " Windows accepts (OpenSSL writes 2048, Windows 2000): refused", w->path,
			  what, (long long)n, PKCS12_ITER_MAX);
		return -E2BIG;
	}
	w->iterations += (uint64_t)n;
	if (w->iterations > PKCS12_ITER_TOTAL_MAX) {
		tsm_error("%s: its key derivations add up to more than %d iterations (the %s brings"
			  " them to %llu): refused", w->path, PKCS12_ITER_TOTAL_MAX, what,
			  (unsigned long long)w->iterations);
		return -E2BIG;
	}
	return 0;
}

/* The iteration count of a password-based encryption algorithm: PKCS#12's
 * own PBE or PKCS#5 v1.5 (a PBEParameter, RFC 7292 appendix C, RFC 8018
 * A.3) or PBES2 with PBKDF2 (RFC 8018 A.4 and A.2). */
static int p12_alg_take(struct p12_walk *w, const char *what, const X509_ALGOR *alg)
{
	int nid = alg ? OBJ_obj2nid(alg->algorithm) : NID_undef, rc;

	if (nid == NID_pbes2) {
		PBE2PARAM *pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
		PBKDF2PARAM *kdf = NULL;
		int kdf_nid = pbe2 ? OBJ_obj2nid(pbe2->keyfunc->algorithm) : NID_undef;

		if (kdf_nid == NID_id_pbkdf2)
			kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM),
							pbe2->keyfunc->parameter);
		if (!kdf) {
			ERR_clear_error();
			if (pbe2 && kdf_nid != NID_id_pbkdf2)
				tsm_error("%s: the %s derives its key with %s, not PBKDF2 (what OpenSSL and"
					  " Windows write): refused", w->path, what,
					  kdf_nid != NID_undef ? OBJ_nid2sn(kdf_nid)
							       : _("an unknown function"));
			else
				tsm_error("%s: the %s has malformed PBES2 parameters", w->path, what);
			PBE2PARAM_free(pbe2);
			return pbe2 ? -ENOTSUP : -EINVAL;
		}
		rc = p12_iterations_take(w, what, kdf->iter);
		PBKDF2PARAM_free(kdf);
		PBE2PARAM_free(pbe2);
		return rc;
	}
	if (nid != NID_undef && EVP_PBE_find(EVP_PBE_TYPE_OUTER, nid, NULL, NULL, NULL)) {
		PBEPARAM *pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), alg->parameter);

		if (!pbe) {
			ERR_clear_error();
			tsm_error("%s: the %s has malformed %s parameters", w->path, what,
				  OBJ_nid2sn(nid));
			return -EINVAL;
		}
		rc = p12_iterations_take(w, what, pbe->iter);
		PBEPARAM_free(pbe);
		return rc;
	}
	tsm_error("%s: the %s is encrypted with %s, not a password-based scheme of PKCS#12 or"
		  " PKCS#5", w->path, what,
		  nid != NID_undef ? OBJ_nid2sn(nid) : _("an unknown algorithm"));
	return -ENOTSUP;
}

static int p12_decrypt_failed(struct p12_walk *w, const char *what)
{
	char err[512];

	if (err_is_unsupported()) {
		tsm_error("%s: the PKCS#12 %s uses an algorithm this OpenSSL lacks: %s", w->path, what,
			  ossl_errors(err, sizeof(err)));
		return -ENOTSUP;
	}
	if (!w->mac_checked) {
		/* Without a MAC, a wrong password shows as bags that do not decrypt. */
		ERR_clear_error();
		tsm_error("%s: wrong password for this PKCS#12 file (its contents do not decrypt)",
			  w->path);
		return -EACCES;
	}
	tsm_error("%s: cannot read the PKCS#12 %s: %s", w->path, what, ossl_errors(err, sizeof(err)));
	return -EINVAL;
}

static int p12_key_read(struct p12_walk *w, const PKCS12_SAFEBAG *bag, bool shrouded)
{
	PKCS8_PRIV_KEY_INFO *p8 = NULL;
	const PKCS8_PRIV_KEY_INFO *info;
	char err[512];

	if (shrouded) {
		if (!(p8 = PKCS12_decrypt_skey(bag, w->pass, -1)) && legacy_provider_load(w->path))
			p8 = PKCS12_decrypt_skey(bag, w->pass, -1);
		if (!p8)
			return p12_decrypt_failed(w, _("private key"));
	}
	info = p8 ? p8 : PKCS12_SAFEBAG_get0_p8inf(bag);
	w->key = info ? EVP_PKCS82PKEY(info) : NULL;
	PKCS8_PRIV_KEY_INFO_free(p8);
	if (!w->key) {
		tsm_error("%s: the private key cannot be read: %s", w->path,
			  ossl_errors(err, sizeof(err)));
		return -EINVAL;
	}
	return 0;
}

/* The bags of one SafeContents (RFC 7292 4.2).  @take: count their
 * derivations now (the scan, or bags that were inside an encrypted safe);
 * @read: decrypt and keep the key and certificates. */
static int p12_bags(struct p12_walk *w, const STACK_OF(PKCS12_SAFEBAG) *bags, bool take,
		    bool read, int depth)
{
	int rc = 0;

	for (int i = 0; i < sk_PKCS12_SAFEBAG_num(bags) && rc == 0; i++) {
		const PKCS12_SAFEBAG *bag = sk_PKCS12_SAFEBAG_value(bags, i);
		const X509_ALGOR *alg = NULL;
		X509 *x;

		switch (PKCS12_SAFEBAG_get_nid(bag)) {
		case NID_pkcs8ShroudedKeyBag:
			X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
			if (take)
				rc = p12_alg_take(w, _("shrouded private key"), alg);
			if (rc == 0 && read && !w->key)
				rc = p12_key_read(w, bag, true);
			break;
		case NID_keyBag:
			if (read && !w->key)
				rc = p12_key_read(w, bag, false);
			break;
		case NID_certBag:
			if (!read || PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate)
				break;
			if (!(x = PKCS12_SAFEBAG_get1_cert(bag))) {
				ERR_clear_error();
				tsm_error("%s: a certificate bag holds no readable X.509 certificate",
					  w->path);
				rc = -EINVAL;
			} else if (!sk_X509_push(w->certs, x)) {
				X509_free(x);
				rc = -ENOMEM;
			}
			break;
		case NID_safeContentsBag:
			if (depth >= PKCS12_NEST_MAX) {
				tsm_error("%s: safe contents nested deeper than %d: refused", w->path,
					  PKCS12_NEST_MAX);
				rc = -E2BIG;
			} else {
				rc = p12_bags(w, PKCS12_SAFEBAG_get0_safes(bag), take, read, depth + 1);
			}
			break;
		default: /* CRL and secret bags: nothing a media certificate needs */
			break;
		}
	}
	return rc;
}

/* The AuthenticatedSafe's contents (RFC 7292 4.1).  @scan: count every
 * derivation that can be seen without the password; else read. */
static int p12_safes(struct p12_walk *w, STACK_OF(PKCS7) *safes, bool scan)
{
	for (int i = 0; i < sk_PKCS7_num(safes); i++) {
		PKCS7 *p7 = sk_PKCS7_value(safes, i);
		STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
		int nid = OBJ_obj2nid(p7->type), rc;
		char err[512];

		if (nid == NID_pkcs7_data) {
			if (!(bags = PKCS12_unpack_p7data(p7))) {
				tsm_error("%s: a PKCS#12 safe cannot be read: %s", w->path,
					  ossl_errors(err, sizeof(err)));
				return -EINVAL;
			}
			/* Plain bags were counted by the scan. */
			rc = p12_bags(w, bags, scan, !scan, 0);
		} else if (nid == NID_pkcs7_encrypted && scan) {
			if (!p7->d.encrypted || !p7->d.encrypted->enc_data) {
				tsm_error("%s: an encrypted PKCS#12 safe has no contents", w->path);
				return -EINVAL;
			}
			rc = p12_alg_take(w, _("encrypted safe"), p7->d.encrypted->enc_data->algorithm);
		} else if (nid == NID_pkcs7_encrypted) {
			if (!(bags = PKCS12_unpack_p7encdata(p7, w->pass, -1)) &&
			    legacy_provider_load(w->path))
				bags = PKCS12_unpack_p7encdata(p7, w->pass, -1);
			if (!bags)
				return p12_decrypt_failed(w, _("certificates"));
			/* Their bags were out of the scan's sight: counted now. */
			rc = p12_bags(w, bags, true, true, 0);
		} else {
			continue; /* public-key protected safes: PKCS12_parse() skips them too */
		}
		sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int p12_mac_verify(struct p12_walk *w, PKCS12 *p12, const ASN1_INTEGER *iter)
{
	char err[512];
	int rc;

	if (PKCS12_verify_mac(p12, w->pass, -1))
		return 0;
	/* An empty password may have been written as none at all: one more
	 * derivation, counted. */
	if (!*w->pass) {
		ERR_clear_error();
		if ((rc = p12_iterations_take(w, _("integrity check (MAC)"), iter)) < 0)
			return rc;
		if (PKCS12_verify_mac(p12, NULL, 0)) {
			w->pass = NULL;
			return 0;
		}
	}
	if (err_is_unsupported()) {
		tsm_error("%s: the PKCS#12 integrity check uses an algorithm this OpenSSL lacks: %s",
			  w->path, ossl_errors(err, sizeof(err)));
		return -ENOTSUP;
	}
	ERR_clear_error();
	tsm_error("%s: wrong password for this PKCS#12 file", w->path);
	return -EACCES;
}

int tsm_pkcs12_read(PKCS12 *p12, const char *path, const char *password, EVP_PKEY **key_ret,
		    X509 **x_ret, STACK_OF(X509) **others_ret)
{
	struct p12_walk w = { .path = path, .pass = password };
	const ASN1_INTEGER *mac_iter = NULL;
	STACK_OF(PKCS7) *safes = NULL;
	bool mac = PKCS12_mac_present(p12);
	char err[512];
	X509 *x;
	int rc;

	*key_ret = NULL;
	*x_ret = NULL;
	if (others_ret)
		*others_ret = NULL;
	if (!(w.certs = sk_X509_new_null()))
		return -ENOMEM;
	if (!(safes = PKCS12_unpack_authsafes(p12))) {
		tsm_error("%s: the PKCS#12 contents cannot be read: %s", path,
			  ossl_errors(err, sizeof(err)));
		rc = -EINVAL;
		goto out_free;
	}
	if (mac)
		PKCS12_get0_mac(NULL, NULL, NULL, &mac_iter, p12);
	/* Every count in sight before the first derivation. */
	if ((mac && (rc = p12_iterations_take(&w, _("integrity check (MAC)"), mac_iter)) < 0) ||
	    (rc = p12_safes(&w, safes, true)) < 0)
		goto out_free;
	if (mac && (rc = p12_mac_verify(&w, p12, mac_iter)) < 0)
		goto out_free;
	w.mac_checked = mac;
	if ((rc = p12_safes(&w, safes, false)) < 0)
		goto out_free;
	if (!w.key) {
		tsm_error("%s holds no private key: a media certificate needs its key", path);
		rc = -EINVAL;
		goto out_free;
	}
	while ((x = sk_X509_shift(w.certs))) {
		int match;

		ERR_set_mark();
		match = X509_check_private_key(x, w.key);
		ERR_pop_to_mark();
		if (match == 1 && !*x_ret) {
			*x_ret = x;
			if (!others_ret)
				break;
			continue;
		}
		if (others_ret && !*others_ret && !(*others_ret = sk_X509_new_null())) {
			X509_free(x);
			continue;
		}
		if (!others_ret || !sk_X509_push(*others_ret, x))
			X509_free(x);
	}
	if (!*x_ret) {
		tsm_error("%s holds no certificate for its private key", path);
		rc = -EINVAL;
		goto out_free;
	}
	*key_ret = w.key;
	w.key = NULL;
	rc = 0;
out_free:
	if (rc < 0 && others_ret) {
		sk_X509_pop_free(*others_ret, X509_free);
		*others_ret = NULL;
	}
	EVP_PKEY_free(w.key);
	sk_X509_pop_free(w.certs, X509_free);
	sk_PKCS7_pop_free(safes, PKCS7_free);
	return rc;
}

static int cert_dates_check(const struct tsm_cert *c, const char *path)
{
	char nb[32], na[32];
	int64_t now = (int64_t)time(NULL);

	tsm_date_format(c->not_before, nb);
	tsm_date_format(c->not_after, na);
	if (c->not_after <= c->not_before) {
		tsm_error("%s: the certificate's dates are inverted: valid from %s until %s", path, nb,
			  na);
		return -EINVAL;
	}
	if (now >= c->not_after) {
		tsm_error("%s: the certificate expired on %s", path, na);
		return -EKEYEXPIRED;
	}
	if (now < c->not_before) {
		tsm_error("%s: the certificate is not yet valid: valid from %s", path, nb);
		return -EKEYREJECTED;
	}
	return 0;
}

static char *x509_pem(X509 *x);

/* The certificate and the others its file carries, as PEM, for tsm_cert_verify_roots(). */
static int cert_keep_pems(struct tsm_cert *c, X509 *x, STACK_OF(X509) *others)
{
	int n = others ? sk_X509_num(others) : 0;

	if (!(c->pem = x509_pem(x)))
		return -ENOMEM;
	if (n > 0 && !(c->chain_pems = calloc((size_t)n, sizeof(*c->chain_pems))))
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		if (!(c->chain_pems[i] = x509_pem(sk_X509_value(others, i))))
			return -ENOMEM;
		c->nchain++;
	}
	return 0;
}

int tsm_cert_load_pkcs12(const char *path, const char *password, struct tsm_cert *cert_ret)
{
	const char *pass = password ? password : "";
	unsigned char *buf = NULL;
	const unsigned char *p;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	STACK_OF(X509) *others = NULL;
	PKCS12 *p12 = NULL;
	size_t len;
	int rc;

	memset(cert_ret, 0, sizeof(*cert_ret));
	if ((rc = file_read(path, CERT_FILE_MAX, &buf, &len)) < 0)
		return rc;
	ERR_clear_error();
	p = buf;
	if (len > LONG_MAX || !(p12 = d2i_PKCS12(NULL, &p, (long)len)) || p != buf + len) {
		ERR_clear_error();
		tsm_error("%s is not a PKCS#12 (.pfx/.p12) file", path);
		rc = -EINVAL;
		goto out_free;
	}
	if ((rc = tsm_pkcs12_read(p12, path, pass, &key, &x, &others)) < 0)
		goto out_free;
	if ((rc = cert_describe(x, path, cert_ret)) < 0)
		goto out_free;
	if ((rc = cert_keep_pems(cert_ret, x, others)) < 0) {
		tsm_cert_clear(cert_ret);
		goto out_free;
	}
	if ((rc = cert_dates_check(cert_ret, path)) < 0) {
		tsm_cert_clear(cert_ret);
		goto out_free;
	}
	cert_ret->pkcs12 = buf;
	cert_ret->pkcs12_len = len;
	buf = NULL;
out_free:
	if (buf) {
		OPENSSL_cleanse(buf, len);
		free(buf);
	}
	X509_free(x);
	sk_X509_pop_free(others, X509_free);
	EVP_PKEY_free(key);
	PKCS12_free(p12);
	ERR_clear_error();
	return rc;
}

/* ---- root CAs -------------------------------------------------------- */

static int ca_check(X509 *x, const char *what)
{
	uint32_t flags = X509_get_extension_flags(x);

	if (flags & EXFLAG_INVALID) {
		tsm_error("%s: the certificate has malformed or repeated extensions", what);
		return -EINVAL;
	}
	if (!(flags & EXFLAG_CA)) {
		tsm_error("%s: not a CA certificate (no basicConstraints CA:TRUE)", what);
		return -EINVAL;
	}
	if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(x) & KU_KEY_CERT_SIGN)) {
		tsm_error("%s: not a CA certificate (its keyUsage does not allow keyCertSign)", what);
		return -EINVAL;
	}
	return 0;
}

static char *x509_pem(X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *s = NULL;
	long n;

	if (bio && PEM_write_bio_X509(bio, x) && (n = BIO_get_mem_data(bio, &data)) > 0)
		s = strndup(data, (size_t)n);
	BIO_free(bio);
	return s;
}

void tsm_pem_list_free(char **pems, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(pems[i]);
	free(pems);
}

static bool looks_like_pem(const unsigned char *buf, size_t len)
{
	return memmem(buf, len, "-----BEGIN", 10) != NULL;
}

int tsm_root_ca_read(const char *path, char ***pems_ret, size_t *n_ret)
{
	unsigned char *buf;
	char **pems = NULL, what[4200], err[512];
	size_t len, n = 0;
	X509 *x = NULL;
	BIO *bio = NULL;
	int rc;

	if ((rc = file_read(path, CERT_FILE_MAX, &buf, &len)) < 0)
		return rc;
	ERR_clear_error();
	if (!looks_like_pem(buf, len)) {
		const unsigned char *p = buf;

		if (len > LONG_MAX || !(x = d2i_X509(NULL, &p, (long)len)) || p != buf + len) {
			tsm_error("%s is not a certificate (neither PEM nor DER X.509)", path);
			rc = -EINVAL;
			goto out_free;
		}
	} else if (!(bio = BIO_new_mem_buf(buf, (int)len))) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (;;) {
		void *q;

		if (bio) {
			x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
			if (!x) {
				unsigned long e = ERR_peek_last_error();

				/* The end of the file after at least one certificate. */
				if (n && ERR_GET_LIB(e) == ERR_LIB_PEM &&
				    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
					ERR_clear_error();
					break;
				}
				if (!n && ERR_GET_LIB(e) == ERR_LIB_PEM &&
				    ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
					ERR_clear_error();
					tsm_error("%s holds no PEM certificate", path);
					rc = -EINVAL;
					goto out_free;
				}
				tsm_error("%s: %s cannot be read as an X.509 certificate: %s", path,
					  n ? "a later PEM block" : "the PEM data",
					  ossl_errors(err, sizeof(err)));
				rc = -EINVAL;
				goto out_free;
			}
		} else if (!x) {
			break;
		}
		snprintf(what, sizeof(what), n ? "%s (certificate %zu)" : "%s", path, n + 1);
		if ((rc = ca_check(x, what)) < 0)
			goto out_free;
		if (!(q = realloc(pems, (n + 1) * sizeof(*pems))) || !(((char **)q)[n] = x509_pem(x))) {
			if (q)
				pems = q;
			rc = -ENOMEM;
			goto out_free;
		}
		pems = q;
		n++;
		X509_free(x);
		x = NULL;
		if (!bio)
			break;
	}
	*pems_ret = pems;
	*n_ret = n;
	pems = NULL;
	n = 0;
	rc = 0;
out_free:
	tsm_pem_list_free(pems, n);
	X509_free(x);
	BIO_free(bio);
	free(buf);
	ERR_clear_error();
	return rc;
}

static X509 *pem_one_cert(const char *pem, const char *what)
{
	BIO *bio = BIO_new_mem_buf(pem, -1);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	X509 *extra = NULL;
	char err[512];

	if (!x) {
		tsm_error("%s: not a PEM X.509 certificate: %s", what, ossl_errors(err, sizeof(err)));
	} else if ((extra = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
		tsm_error("%s: more than one certificate where one was expected", what);
		X509_free(x);
		x = NULL;
	}
	X509_free(extra);
	BIO_free(bio);
	ERR_clear_error();
	return x;
}

int tsm_cert_from_pem(const char *pem, const char *what, struct tsm_cert *cert_ret)
{
	X509 *x = pem_one_cert(pem, what);
	int rc;

	memset(cert_ret, 0, sizeof(*cert_ret));
	if (!x)
		return -EINVAL;
	rc = cert_describe(x, what, cert_ret);
	X509_free(x);
	return rc;
}

int tsm_root_ca_check_pem(const char *pem, const char *what, char sha256_ret[65])
{
	X509 *x = pem_one_cert(pem, what);
	int rc;

	if (!x)
		return -EINVAL;
	if ((rc = ca_check(x, what)) == 0 && thumbprint(x, EVP_sha256(), sha256_ret) < 0)
		rc = -EIO;
	X509_free(x);
	return rc;
}

int tsm_cert_verify_roots(const struct tsm_cert *c, char *const *roots, size_t nroots,
			  char *why, size_t why_len)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *untrusted = sk_X509_new_null();
	X509 *leaf = c->pem ? pem_one_cert(c->pem, _("the media certificate")) : NULL;
	int rc = -ENOMEM;

	snprintf(why, why_len, "%s", "");
	if (!store || !ctx || !untrusted || !leaf)
		goto out_free;
	for (size_t i = 0; i < nroots; i++) {
		X509 *r = pem_one_cert(roots[i], _("a root CA of the site"));

		if (!r || !X509_STORE_add_cert(store, r)) {
			X509_free(r);
			goto out_free;
		}
		X509_free(r);
	}
	for (size_t i = 0; i < c->nchain; i++) {
		X509 *o = pem_one_cert(c->chain_pems[i], _("a certificate of the PKCS#12 file"));

		if (!o || !sk_X509_push(untrusted, o)) {
			X509_free(o);
			goto out_free;
		}
	}
	/* Only the site's roots are trusted: no system store, no partial chain. */
	if (!X509_STORE_CTX_init(ctx, store, leaf, untrusted))
		goto out_free;
	if (X509_verify_cert(ctx) == 1) {
		rc = 0;
	} else {
		snprintf(why, why_len, "%s",
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		rc = -EKEYREJECTED;
	}
out_free:
	X509_free(leaf);
	sk_X509_pop_free(untrusted, X509_free);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	ERR_clear_error();
	return rc;
}

int tsm_root_cas_der_hex(char *const *pems, size_t n, char **hex_ret)
{
	size_t cap = 1, len = 0;
	char *hex = malloc(1);
	int rc = 0;

	if (!hex)
		return -ENOMEM;
	hex[0] = '\0';
	for (size_t i = 0; i < n && rc == 0; i++) {
		X509 *x = pem_one_cert(pems[i], _("a root CA of the site"));
		unsigned char *der = NULL;
		int dlen = x ? i2d_X509(x, &der) : -1;
		char *p;

		if (dlen <= 0 || !(p = realloc(hex, cap + 2 * (size_t)dlen))) {
			rc = x ? -ENOMEM : -EINVAL;
		} else {
			hex = p;
			cap += 2 * (size_t)dlen;
			/* Upper-case hex of the DER bytes, as the site's signing certificate is written. */
			for (int k = 0; k < dlen; k++)
				len += (size_t)snprintf(hex + len, cap - len, "%02X", der[k]);
		}
		OPENSSL_free(der);
		X509_free(x);
	}
	if (rc < 0) {
		free(hex);
		return rc;
	}
	*hex_ret = hex;
	return 0;
}

int tsm_thumbprint_normalize(const char *in, size_t nbytes, char *out)
{
	size_t n = 0;

	for (const char *p = in; *p; p++) {
		char c = *p;

		if (c == ':' || c == ' ')
			continue;
		if (c >= 'A' && c <= 'F')
			c = (char)(c - 'A' + 'a');
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) || n >= 2 * nbytes)
			return -EINVAL;
		out[n++] = c;
	}
	if (n != 2 * nbytes)
		return -EINVAL;
	out[n] = '\0';
	return 0;
}
