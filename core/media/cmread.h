/* Reading Configuration Manager media files the way its client does, for `media inspect`:
 * TsmBootstrap.ini says whether a password is needed; Variables.dat opens with it or the fixed
 * key; Policy.xml with it or the media GUID; the media certificate opens with the GUID's first
 * 31 characters.  Works on anyone's media, not only tsmedia's.  Pure: bytes in, a view out. */
#ifndef TSMEDIA_MEDIA_CMREAD_H
#define TSMEDIA_MEDIA_CMREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/cmbootstrap.h"
#include "media/cmpfx.h"
#include "media/cmpolicy.h"
#include "media/cmvars.h"

struct tsm_cm_media_view {
	struct tsm_cm_bootstrap bootstrap;
	struct tsm_cm_vars vars;
	enum tsm_cm_cipher vars_cipher;
	bool has_policy;
	struct tsm_cm_policy_doc policy;
	enum tsm_cm_cipher policy_cipher;
	bool has_cert;
	struct tsm_cm_pfx_info cert;
};

/* @policy NULL when the media has none.  @password is needed when TsmBootstrap.ini says
 * PasswordRequired=true (-EACCES, logged, without it or with a wrong one); with
 * PasswordRequired=false a given password is not needed and a warning says so.  Other errors
 * as the readers of each file, naming @where. */
int tsm_cm_media_open(const char *bootstrap, size_t bootstrap_len, const uint8_t *vars,
		      size_t vars_len, const uint8_t *policy, size_t policy_len,
		      const char *password, const char *where, struct tsm_cm_media_view *view_ret);
void tsm_cm_media_view_clear(struct tsm_cm_media_view *view);

/* A variable or property whose value is a secret: the media certificate, and names that say
 * password, secret or key-like words (OSDJoinPassword, OSDLocalAdminPassword, ...). */
bool tsm_cm_is_secret_name(const char *name);
/* @sequence with the values of secret-named elements and attributes replaced by ********
 * (malloc'ed UTF-8).  -EINVAL (logged) when it is not XML. */
int tsm_cm_mask_sequence(const char *sequence, char **masked_ret);

#endif
