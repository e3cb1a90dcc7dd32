/* SMS/data/TsmBootstrap.ini: the first file Configuration Manager's client reads from media,
 * before the media variables.  Plain text, [MediaInfo] with the media type, whether a
 * password is required, and whether the media runs unattended. */
#ifndef TSMEDIA_MEDIA_CMBOOTSTRAP_H
#define TSMEDIA_MEDIA_CMBOOTSTRAP_H

#include <stdbool.h>
#include <stddef.h>

struct tsm_cm_bootstrap {
	char media_type[32];    /* BootMedia, FullMedia, OEMMedia, CaptureMedia */
	bool password_required;
	bool unattended;
};

/* The file's text (malloc'ed, NUL-terminated, CRLF lines).  -EINVAL for an empty or
 * unprintable media type. */
int tsm_cm_bootstrap_render(const struct tsm_cm_bootstrap *b, char **text_ret,
			    size_t *len_ret);
/* Reads [MediaInfo]; keys it does not know are ignored (another writer's file).  -EINVAL
 * (logged, naming @what) when MediaType is missing or a value is not true/false. */
int tsm_cm_bootstrap_parse(const char *text, size_t len, const char *what,
			   struct tsm_cm_bootstrap *b_ret);

#endif
