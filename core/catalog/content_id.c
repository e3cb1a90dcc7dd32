#include "tsmedia/content.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

static const char *const kind_names[TSM_KIND_COUNT] = {
	[TSM_KIND_BOOT_IMAGE] = "boot-image",
	[TSM_KIND_OS_IMAGE] = "os-image",
	[TSM_KIND_PACKAGE] = "package",
	[TSM_KIND_APPLICATION] = "application",
	[TSM_KIND_DRIVER_PACKAGE] = "driver-package",
	[TSM_KIND_PRESTART] = "prestart",
};

const char *tsm_content_kind_name(enum tsm_content_kind kind)
{
	return kind < TSM_KIND_COUNT ? kind_names[kind] : "unknown";
}

int tsm_content_kind_parse(const char *name, enum tsm_content_kind *kind_ret)
{
	for (int i = 0; i < TSM_KIND_COUNT; i++) {
		if (strcmp(name, kind_names[i]) == 0) {
			*kind_ret = (enum tsm_content_kind)i;
			return 0;
		}
	}
	return -EINVAL;
}

int tsm_content_id_normalize(const char *id, char out[TSM_CONTENT_ID_LEN + 1])
{
	if (strlen(id) != TSM_CONTENT_ID_LEN)
		return -EINVAL;
	for (int i = 0; i < TSM_CONTENT_ID_LEN; i++) {
		unsigned char c = (unsigned char)toupper((unsigned char)id[i]);
		bool ok = i < 3 ? (isdigit(c) || (c >= 'A' && c <= 'Z')) : isxdigit(c);

		if (!ok || !isascii(c))
			return -EINVAL;
		out[i] = (char)c;
	}
	out[TSM_CONTENT_ID_LEN] = '\0';
	return 0;
}
