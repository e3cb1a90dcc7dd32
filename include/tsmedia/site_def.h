/* Layer: catalog (core/catalog/site.c). */
/* Sites as the catalog stores them: code, type, parent, management points
 * root CAs and values; reading and listing them.  Adding, editing and removing a
 * site (its rules) are tsmedia/site.h's.
 *
 * Ownership: the caller frees what these functions return with the
 * matching _free/_clear. */
#ifndef TSMEDIA_SITE_DEF_H
#define TSMEDIA_SITE_DEF_H

#include <stddef.h>

struct tsm_store;

enum tsm_site_type { TSM_SITE_PRIMARY, TSM_SITE_CAS };

/* What only a site knows and the bootable and prestaged media made for it carry in their
 * variables (the media variables and the checks: tsmedia/site.h, core/media/site_values.c).
 * Copied from the site (or from a media it made: tsmedia media inspect --show-secrets). */
enum tsm_site_value {
	TSM_SITE_HTTP_PORT,           /* _SMSTSHTTPPort */
	TSM_SITE_HTTPS_PORT,          /* _SMSTSHTTPSPort */
	TSM_SITE_IIS_SSL_STATE,       /* _SMSTSIISSSLState */
	TSM_SITE_SIGNING_CERTIFICATE, /* _SMSTSSiteSigningCertificate */
	TSM_SITE_PUBLIC_ROOT_KEY,     /* _SMSTSPublicRootKey */
	TSM_SITE_ROOT_CA_CERTS,       /* _SMSTSRootCACerts */
	TSM_SITE_USE_FIRST_CERT,      /* _SMSTSUseFirstCert */
	TSM_SITE_X64_UNKNOWN_GUID,    /* _SMSTSx64UnknownMachineGUID */
	TSM_SITE_X86_UNKNOWN_GUID,    /* _SMSTSx86UnknownMachineGUID */
	TSM_SITE_VALUE_COUNT
};

/* A value's option and catalog name ("http-port"). */
const char *tsm_site_value_name(enum tsm_site_value v);

struct tsm_site {
	char code[4];
	enum tsm_site_type type;
	char parent[4];          /* "" for none */
	char **mps;              /* management point URLs, in order */
	size_t nmps;
	char **root_cas;         /* PEM certificates */
	size_t nroot_cas;
	char *values[TSM_SITE_VALUE_COUNT]; /* NULL: not given */
};

/* "primary" / "cas" and back; parse returns 0 or -EINVAL (not logged). */
const char *tsm_site_type_name(enum tsm_site_type type);
int tsm_site_type_parse(const char *name, enum tsm_site_type *type_ret);

/* Checks a site code and writes its upper-case form to @norm_ret; logs and
 * returns -EINVAL when it is not three of [A-Z0-9] or is reserved. */
int tsm_site_code_normalize(const char *code, char norm_ret[4]);

/* -ENOENT (logged) when there is no such site. */
int tsm_site_get(struct tsm_store *store, const char *code, struct tsm_site *site_ret);
/* Every site, by code. */
int tsm_site_list(struct tsm_store *store, struct tsm_site **list_ret, size_t *n_ret);
void tsm_site_clear(struct tsm_site *site);
void tsm_site_list_free(struct tsm_site *list, size_t n);
/* Frees a NULL-terminated list of codes (tsm_site_untrusting_primaries). */
void tsm_site_codes_free(char **codes);

#endif
