/* The SMS/data files of a task sequence media in Configuration Manager's formats, from its
 * definition: TsmBootstrap.ini, Variables.dat and (capture and stand-alone) Policy.xml.
 * Pure: no store, no catalog; render.c feeds it and stores what it gives. */
#ifndef TSMEDIA_MEDIA_CMRENDER_H
#define TSMEDIA_MEDIA_CMRENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/cmcrypt.h"
#include "media/cmpolicy.h"
#include "tsmedia/media.h"
#include "tsmedia/ts.h"

/* What only a site knows and its media carry (site add/edit), or NULL. */
struct tsm_cm_site_values {
	const char *http_port, *https_port;       /* _SMSTSHTTPPort, _SMSTSHTTPSPort */
	const char *iis_ssl_state;                /* _SMSTSIISSSLState */
	const char *site_signing_certificate;     /* _SMSTSSiteSigningCertificate */
	const char *public_root_key;              /* _SMSTSPublicRootKey */
	const char *root_ca_certs;                /* _SMSTSRootCACerts */
	const char *use_first_cert;               /* _SMSTSUseFirstCert */
	const char *x64_unknown_guid, *x86_unknown_guid; /* _SMSTSx64/x86UnknownMachineGUID */
};

struct tsm_cm_render_in {
	const struct tsm_media_def *def;
	const struct tsm_cm_site_values *site;    /* the media's site, or NULL */
	const uint8_t *pfx;                       /* the media certificate, already under the */
	size_t pfx_len;                           /*   GUID's PFX password (cmpfx.h), or NULL */
	const struct tsm_ts_info *ts;             /* stand-alone: its task sequence */
	const struct tsm_cm_policy_package *packages; /* stand-alone: what it carries */
	size_t npackages;
	const struct tsm_cm_policy_app *apps;     /* stand-alone: its applications */
	size_t napps;
	const struct tsm_cm_policy_dt *dts;       /*   and their deployment types */
	size_t ndts;
	const char *password;                     /* the media password, or NULL for none */
	enum tsm_cm_cipher cipher;
};

struct tsm_cm_rendered {
	char *bootstrap;
	size_t bootstrap_len;
	uint8_t *variables, *policy;              /* policy NULL for bootable and prestaged */
	size_t variables_len, policy_len;
};

/* The media GUID as the client takes it: without braces, upper case. */
int tsm_cm_media_guid(const char *guid, char out[37]);

/* Renders the three files.  A bootable or prestaged media whose site lacks a value it needs is
 * refused (-EINVAL), every missing one named with the site option that gives it. */
int tsm_cm_render(const struct tsm_cm_render_in *in, struct tsm_cm_rendered *out_ret);
void tsm_cm_rendered_clear(struct tsm_cm_rendered *out);

#endif
