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
		why = "expected YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ";
		goto out_bad;
	}
	p += 10;
	if (*p == 'T') {
		if (!digits(p + 1, 2, &hour) || p[3] != ':' || !digits(p + 4, 2, &min)) {
			why = "expected a time THH:MM[:SS] after the date";
			goto out_bad;
		}
		p += 6;
		if (*p == ':') {
			if (!digits(p + 1, 2, &sec)) {
				why = "expected two digits of seconds";
				goto out_bad;
			}
			p += 3;
			if (*p == '.' || *p == ',') { /* a fraction of a second: dropped */
				if (p[1] < '0' || p[1] > '9') {
					why = "expected digits after the decimal point";
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
			why = "give the time in UTC, ending in Z (like 2026-05-01T08:00:00Z)";
			goto out_bad;
		}
	}
	if (*p != '\0') {
		why = "unexpected text after the date";
		goto out_bad;
	}
	if (year < 1970 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month) ||
	    hour > 23 || min > 59 || sec > 59) {
		why = year < 1970 ? "years before 1970 are not supported" : "no such day or time";
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
		*why = "it is empty";
		return false;
	}
	for (const unsigned char *p = (const unsigned char *)cn; *p; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			*why = "it holds a control character";
			return false;
		}
		if ((*p & 0xc0) != 0x80)
			chars++;
	}
	if (chars > CN_MAX) {
		*why = "it is longer than 64 characters";
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
	if ((rc = cert_describe(x, "the new certificate", cert_ret)) < 0)
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

static int pkcs12_mac_check(PKCS12 *p12, const char *path, const char **pass)
{
	char err[512];

	if (!PKCS12_mac_present(p12))
		return 0;
	if (PKCS12_verify_mac(p12, *pass, -1))
		return 0;
	/* An empty password may have been written as none at all. */
	if (!**pass && PKCS12_verify_mac(p12, NULL, 0)) {
		*pass = NULL;
		return 0;
	}
	if (err_is_unsupported()) {
		tsm_error("%s: the PKCS#12 integrity check uses an algorithm this OpenSSL lacks: %s",
			  path, ossl_errors(err, sizeof(err)));
		return -ENOTSUP;
	}
	ERR_clear_error();
	tsm_error("%s: wrong password for this PKCS#12 file", path);
	return -EACCES;
}

static int pkcs12_parse(PKCS12 *p12, const char *path, const char *pass, bool mac_checked,
			EVP_PKEY **key, X509 **x, STACK_OF(X509) **ca)
{
	static atomic_bool legacy_tried;
	char err[512];

	if (PKCS12_parse(p12, pass, key, x, ca))
		return 0;
	/* Files exported by older Windows protect the certificate bag with
	 * RC2-40, which OpenSSL 3 keeps in its legacy provider (loaded once,
	 * into the default library context, only when such a file comes). */
	if (err_is_unsupported() && !atomic_exchange(&legacy_tried, true)) {
		ERR_clear_error();
		if (OSSL_PROVIDER_try_load(NULL, "legacy", 1)) {
			tsm_debug("%s: loaded OpenSSL's legacy provider for an old PKCS#12 cipher", path);
			if (PKCS12_parse(p12, pass, key, x, ca))
				return 0;
		}
	}
	if (!mac_checked && !err_is_unsupported()) {
		/* Without a MAC, a wrong password shows as bags that do not decrypt. */
		ERR_clear_error();
		tsm_error("%s: wrong password for this PKCS#12 file (its contents do not decrypt)", path);
		return -EACCES;
	}
	tsm_error("%s: cannot read the PKCS#12 contents: %s", path, ossl_errors(err, sizeof(err)));
	return -EINVAL;
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

int tsm_cert_load_pkcs12(const char *path, const char *password, struct tsm_cert *cert_ret)
{
	const char *pass = password ? password : "";
	unsigned char *buf = NULL;
	const unsigned char *p;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	STACK_OF(X509) *ca = NULL;
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
	if ((rc = pkcs12_mac_check(p12, path, &pass)) < 0 ||
	    (rc = pkcs12_parse(p12, path, pass, PKCS12_mac_present(p12), &key, &x, &ca)) < 0)
		goto out_free;
	if (!key) {
		tsm_error("%s holds no private key: a media certificate needs its key", path);
		rc = -EINVAL;
		goto out_free;
	}
	if (!x) {
		tsm_error("%s holds no certificate for its private key", path);
		rc = -EINVAL;
		goto out_free;
	}
	if (X509_check_private_key(x, key) != 1) {
		ERR_clear_error();
		tsm_error("%s: the private key does not belong to the certificate", path);
		rc = -EINVAL;
		goto out_free;
	}
	if ((rc = cert_describe(x, path, cert_ret)) < 0)
		goto out_free;
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
	sk_X509_pop_free(ca, X509_free);
	X509_free(x);
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
