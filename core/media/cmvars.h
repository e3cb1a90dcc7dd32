/* The media variables of Configuration Manager's task sequence media: SMS/data/Variables.dat,
 * a <MediaVarList> of <var name="..."> in the container of cmcrypt.h.
 *
 * A list of name/value pairs in order; the XML is written and read with libxml2.  Values may
 * be secrets (the media certificate with its key): tsm_cm_vars_clear() wipes them.
 * Not thread-safe per list; no shared state. */
#ifndef TSMEDIA_MEDIA_CMVARS_H
#define TSMEDIA_MEDIA_CMVARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/cmcrypt.h"

struct tsm_cm_var {
	char *name, *value;
};

struct tsm_cm_vars {
	struct tsm_cm_var *v;
	size_t n, cap;
};

/* Appends NAME=VALUE.  -EEXIST when @name is there already; -EINVAL (logged) when the name or
 * the value cannot be XML text (not UTF-8, control characters) or the name is empty. */
int tsm_cm_vars_add(struct tsm_cm_vars *vars, const char *name, const char *value);
/* The value of @name (exact, as the client reads it), or NULL. */
const char *tsm_cm_vars_get(const struct tsm_cm_vars *vars, const char *name);
/* Wipes every value and frees the list. */
void tsm_cm_vars_clear(struct tsm_cm_vars *vars);

/* The plaintext of Variables.dat as UTF-8 XML (malloc'ed, NUL-terminated). */
int tsm_cm_vars_to_xml(const struct tsm_cm_vars *vars, char **xml_ret, size_t *len_ret);
/* Reads a <MediaVarList>; errors name @what and what is wrong (-EINVAL). */
int tsm_cm_vars_from_xml(const char *xml, size_t len, const char *what,
			 struct tsm_cm_vars *vars_ret);

/* The whole Variables.dat: encrypted under @password, or the fixed key when it is NULL. */
int tsm_cm_vars_seal(const struct tsm_cm_vars *vars, const char *password,
		     enum tsm_cm_cipher cipher, uint8_t **out_ret, size_t *out_len_ret);
/* Opens a Variables.dat read from @what (password NULL: the fixed key); errors as
 * tsm_cm_open() and tsm_cm_vars_from_xml(). */
int tsm_cm_vars_open(const uint8_t *data, size_t len, const char *password, const char *what,
		     struct tsm_cm_vars *vars_ret, enum tsm_cm_cipher *cipher_ret);

/* What a media's variables are made of.  NULL strings are left out. */
struct tsm_cm_media_vars {
	const char *media_guid;        /* _SMSMediaGuid: a GUID without braces (required) */
	const uint8_t *pfx;            /* the media certificate as PKCS#12, its password the */
	size_t pfx_len;                /*   first 31 characters of media_guid; or NULL */
	const char *media_type;        /* _SMSTSMediaType: BootMedia, FullMedia, OEMMedia */
	const char *launch_mode;       /* _SMSTSLaunchMode: CD, DVD, UFD+FORMAT, HD */
	bool standalone;               /* _SMSTSStandAloneMedia=true */
	const char *site_code;         /* _SMSTSSiteCode */
	const char *mp;                /* site-based media: SMSTSMP */
	const char *const *location_mps; /* dynamic media: SMSTSLocationMPs, '*'-separated */
	size_t nlocation_mps;
	const char *http_port, *https_port, *iis_ssl_state; /* _SMSTSHTTPPort, ... (the site's) */
	const char *root_ca_certs;     /* _SMSTSRootCACerts */
	const char *site_signing_certificate; /* _SMSTSSiteSigningCertificate */
	const char *public_root_key;   /* _SMSTSPublicRootKey */
	const char *use_first_cert;    /* _SMSTSUseFirstCert */
	const char *x64_unknown_guid, *x86_unknown_guid; /* _SMSTSx64/x86UnknownMachineGUID */
	const char *boot_media_package_id; /* _SMSTSBootMediaPackageID */
	const char *assign_users_mode; /* SMSTSAssignUsersMode: Auto, Pending, Disabled */
	bool support_unknown;          /* _SMSTSSupportUnknownMachines=true */
	const char *prestart_command, *prestart_package;
	const char *const *extra;      /* the media's own variables, NAME=VALUE */
	size_t nextra;
};

/* The variables of @in, in the order above.  A media variable (extra) that names one of
 * Configuration Manager's own is refused (-EEXIST, logged), as is a malformed GUID. */
int tsm_cm_vars_build(const struct tsm_cm_media_vars *in, struct tsm_cm_vars *vars_ret);

#endif
