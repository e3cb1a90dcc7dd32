/* TsmBootstrap.ini (see cmbootstrap.h).
 *
 * Sources:
 *  [PU]  evildaemond/pxethiefup, pxethiefup.py (parse_bootstrap_ini): reads [MediaInfo]
 *        MediaType, PasswordRequired and Unattended with Python's configparser; stand-alone
 *        media say MediaType=FullMedia, a media without password PasswordRequired=false.
 *  [UB]  a public script that turns Configuration Manager ISO media into a boot WIM replaces
 *        "Unattended=false" with "Unattended=true" in SMS\data\TsmBootstrap.ini (so the
 *        value is the word true/false and the line is exactly KEY=VALUE).
 *  The other media types' MediaType words (BootMedia for bootable, OEMMedia for prestaged)
 *  follow Configuration Manager's _SMSTSMediaType values in Microsoft's "Task sequence
 *  variables"; what capture media says is not public (CaptureMedia here). */
#include "media/cmbootstrap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tsmedia/log.h"

static bool word_ok(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
			return false;
	return true;
}

int tsm_cm_bootstrap_render(const struct tsm_cm_bootstrap *b, char **text_ret,
			    size_t *len_ret)
{
	int n;

	if (!word_ok(b->media_type)) {
		tsm_error("TsmBootstrap.ini: media type '%s' is not a word", b->media_type);
		return -EINVAL;
	}
	/* Only the keys Configuration Manager writes ([PU], [UB]); Windows line ends. */
	n = asprintf(text_ret, "[MediaInfo]\r\nMediaType=%s\r\nPasswordRequired=%s\r\n"
			       "Unattended=%s\r\n", b->media_type,
		     b->password_required ? "true" : "false", b->unattended ? "true" : "false");
	if (n < 0)
		return -ENOMEM;
	*len_ret = (size_t)n;
	return 0;
}

static int parse_bool(const char *value, const char *key, const char *what, bool *out)
{
	if (strcasecmp(value, "true") == 0)
		*out = true;
	else if (strcasecmp(value, "false") == 0)
		*out = false;
	else {
		tsm_error("%s: %s=%s, want true or false", what, key, value);
		return -EINVAL;
	}
	return 0;
}

int tsm_cm_bootstrap_parse(const char *text, size_t len, const char *what,
			   struct tsm_cm_bootstrap *b_ret)
{
	struct tsm_cm_bootstrap b = { 0 };
	bool in_media_info = false, have_type = false;
	const char *p = text, *end = text + len;
	int rc = 0;

	/* Lines of at most 255 bytes: the file is a few short lines. */
	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = (size_t)((nl ? nl : end) - p);
		char line[256], *eq, *key, *value;

		if (n >= sizeof(line)) {
			tsm_error("%s: a line of %zu bytes; TsmBootstrap.ini has short lines", what, n);
			return -EINVAL;
		}
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl ? nl + 1 : end;
		while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
			line[--n] = '\0';
		key = line + strspn(line, " \t");
		if (!*key || *key == ';' || *key == '#')
			continue;
		if (*key == '[') {
			in_media_info = strcasecmp(key, "[MediaInfo]") == 0;
			continue;
		}
		if (!in_media_info || !(eq = strchr(key, '=')))
			continue;
		*eq = '\0';
		value = eq + 1;
		value += strspn(value, " \t");
		for (char *k = eq; k > key && (k[-1] == ' ' || k[-1] == '\t');)
			*--k = '\0';
		if (strcasecmp(key, "MediaType") == 0) {
			if (!word_ok(value) || strlen(value) >= sizeof(b.media_type)) {
				tsm_error("%s: MediaType '%s' is not a media type", what, value);
				return -EINVAL;
			}
			strcpy(b.media_type, value);
			have_type = true;
		} else if (strcasecmp(key, "PasswordRequired") == 0) {
			rc = parse_bool(value, "PasswordRequired", what, &b.password_required);
		} else if (strcasecmp(key, "Unattended") == 0) {
			rc = parse_bool(value, "Unattended", what, &b.unattended);
		}
	}
	if (rc < 0)
		return rc;
	if (!have_type) {
		tsm_error("%s: no MediaType in [MediaInfo]: not Configuration Manager's"
			  " TsmBootstrap.ini", what);
		return -EINVAL;
	}
	*b_ret = b;
	return 0;
}
