/* Layer: media (rules, certificates: core/media/); the rows: tsmedia/site_def.h. */
/* Sites of a Configuration Manager hierarchy, their management points and
 * trusted root CAs, and the media certificate (OpenSSL: X.509, PKCS#12).
 *
 * A hierarchy is a central administration site (CAS) with primary sites
 * below it, or a stand-alone primary site.  A CAS has no parent and, as in
 * Configuration Manager, no management points; a primary's parent, when it
 * has one, is a CAS.  Site codes are three of [A-Z0-9] (lower case is taken
 * as upper case), not AUX, CON, NUL, PRN or SMS.
 *
 * Certificates are public: the catalog keeps root CA certificates (PEM),
 * never a private key or a password.
 *
 * Ownership: every *_ret is filled by the callee and owned by the caller,
 * freed with the matching *_clear / *_free.  Store functions follow the
 * store handle's threading rule (one thread at a time); the certificate and
 * URL functions are thread-safe. */
#ifndef TSMEDIA_SITE_H
#define TSMEDIA_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsmedia/site_def.h"

struct tsm_store;

/* ---- sites ----------------------------------------------------------- */

/* Adds a site.  Everything is checked before anything is written: the code,
 * the parent (an existing CAS; none for a CAS), every management point URL
 * (tsm_mp_check; no duplicates; none on a CAS) and every root CA (an X.509
 * CA certificate; no duplicates).  -EEXIST when the code is taken. */
int tsm_site_add(struct tsm_store *store, const struct tsm_site *site);
/* Refused (-EBUSY, naming them) while primary sites have @code as parent. */
int tsm_site_rm(struct tsm_store *store, const char *code);

/* Changes to a site's management points and root CAs, applied in one
 * transaction: removals first, then additions at the end of the lists.
 * Removing what the site does not have, or adding what it has, is an error
 * naming it; the catalog is then unchanged. */
struct tsm_site_edit {
	const char *const *add_mps;      /* URLs */
	size_t nadd_mps;
	const char *const *rm_mps;       /* URLs, as stored */
	size_t nrm_mps;
	const char *const *add_root_cas; /* PEM certificates */
	size_t nadd_root_cas;
	const char *const *rm_root_cas;  /* SHA-256 thumbprints, hex (colons allowed) */
	size_t nrm_root_cas;
	const char *set_values[TSM_SITE_VALUE_COUNT]; /* NULL: unchanged; "": removed */
};
int tsm_site_edit(struct tsm_store *store, const char *code, const struct tsm_site_edit *edit);

/* The media variable site value @v becomes ("_SMSTSHTTPPort"). */
const char *tsm_site_value_variable(enum tsm_site_value v);
/* Checks @value for @v; logs what is wrong, naming site @code and the option, and returns
 * -EINVAL. */
int tsm_site_value_check(enum tsm_site_value v, const char *value, const char *code);

/* A management point URL: http:// or https:// (any case), a host (DNS
 * name, IPv4, or [IPv6]), an optional port 1-65535, an optional path; no
 * user name or password, no spaces, controls or non-ASCII.  Returns 0, or
 * logs what is wrong and returns -EINVAL. */
int tsm_mp_check(const char *url);
/* The URL's scheme is https (any case). */
bool tsm_mp_is_https(const char *url);

/* The primary sites of the hierarchy @code belongs to that do NOT trust any root CA of site @code
 * (compare by certificate SHA-256): NULL-terminated malloc'ed list of codes, empty when all do.
 * The hierarchy of a CAS is its primaries; of a primary, its parent CAS's primaries (itself
 * included), or itself alone when it has no parent.  A site with no root CA is trusted by no
 * one: every primary of its hierarchy is listed.  Free with tsm_site_codes_free(). */
int tsm_site_untrusting_primaries(struct tsm_store *store, const char *code, char ***codes_ret, size_t *n_ret);

/* ---- certificates ---------------------------------------------------- */

struct tsm_cert {
	char *subject, *issuer;          /* RFC 2253 form: "CN=Media,O=Contoso" */
	int64_t not_before, not_after;  /* seconds since the epoch */
	bool self_signed;
	char sha1[41], sha256[65];      /* thumbprints of the DER certificate, hex */
	unsigned char *pkcs12;          /* the PKCS#12 bytes (certificate + key) */
	size_t pkcs12_len;
	bool client_auth;               /* its Enhanced Key Usage holds Client Authentication */
	char *pem;                      /* tsm_cert_load_pkcs12: the certificate, PEM */
	char **chain_pems;              /* and the other certificates of its file */
	size_t nchain;
};

/* A new self-signed certificate with its key, as PKCS#12 protected by @password.
 * The key is RSA 2048, the signature SHA-256; the certificate is an end-entity client
 * authentication certificate named CN=@subject_cn.  Inverted dates, an expiry already past,
 * an empty CN or password are errors (-EINVAL, logged). */
int tsm_cert_create_self_signed(const char *subject_cn, int64_t not_before, int64_t not_after,
				const char *password, struct tsm_cert *cert_ret);
/* Reads a PKCS#12 file: it must parse with @password (a wrong password is its own clear error:
 * -EACCES), hold a private key and a certificate, and be valid now (dates in order, not expired,
 * not yet valid: each its own message naming the file).
 * Returns -EINVAL for inverted dates or a file that is not a usable PKCS#12, -EKEYEXPIRED when
 * expired, -EKEYREJECTED when not yet valid.  The key may be RSA or EC; a file whose bags use
 * RC2-40 (old Windows exports) loads OpenSSL's legacy provider once. */
int tsm_cert_load_pkcs12(const char *path, const char *password, struct tsm_cert *cert_ret);
/* Describes one PEM certificate (pkcs12 stays NULL); no date check.  @what names it in
 * messages. */
int tsm_cert_from_pem(const char *pem, const char *what, struct tsm_cert *cert_ret);
void tsm_cert_clear(struct tsm_cert *cert);
/* Whether @cert (from tsm_cert_load_pkcs12, with the certificates its file carries as
 * intermediates) chains to one of @roots (PEM) and to nothing else: OpenSSL's
 * X509_verify_cert with a store of @roots only.  0; -EKEYREJECTED with OpenSSL's reason in
 * @why; -ENOMEM. */
int tsm_cert_verify_roots(const struct tsm_cert *cert, char *const *roots, size_t nroots,
			  char *why, size_t why_len);

/* Reads a root CA file: PEM with one or more certificates, or one DER certificate.  Each must
 * be an X.509 CA certificate (basicConstraints CA:TRUE); errors name the file.  Returns the
 * certificates as malloc'ed PEM strings; free with tsm_pem_list_free(). */
int tsm_root_ca_read(const char *path, char ***pems_ret, size_t *n_ret);
void tsm_pem_list_free(char **pems, size_t n);
/* The certificates @pems as one string of upper-case hex: each one's DER encoding, one after
 * another (DER is self-delimiting).  What a media's _SMSTSRootCACerts holds when the site has no
 * --root-ca-certs value copied from one of its own media (core/media/render.c). */
int tsm_root_cas_der_hex(char *const *pems, size_t n, char **hex_ret);

/* Reads a password file: the first line without its newline; empty is an error. */
int tsm_password_read(const char *path, char **password_ret);
/* Wipes and frees a password (NULL is fine). */
void tsm_password_free(char *password);

/* Dates: "YYYY-MM-DD" (midnight UTC) or ISO 8601 UTC "YYYY-MM-DDTHH:MM[:SS[.fff]]Z"
 * (also "+00:00").  Logs and returns -EINVAL naming @text when it is not one. */
int tsm_date_parse(const char *text, int64_t *time_ret);
/* "2026-05-01T00:00:00Z" into @buf. */
void tsm_date_format(int64_t time, char buf[32]);

#endif
