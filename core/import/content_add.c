/* `content add`: which importer takes a source (an ISO or a WIM file taken
 * apart, else a directory or a single file kept whole). */
#include "tsmedia/content.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "import/iso.h"
#include "import/session.h"
#include "import/source.h"
#include "import/wim.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

int tsm_content_add(struct tsm_store *store, const struct tsm_content_add_options *o,
		    struct tsm_content_add_result *res)
{
	int rc;

	memset(res, 0, sizeof(*res));
	if ((rc = tsm_import_check_options(o)) < 0)
		return rc;
	/* An ISO is taken apart unless --as-file keeps it whole. */
	if (!o->as_file) {
		struct stat st;
		/* Only a regular file is opened: opening a FIFO would block. */
		int fd = stat(o->source, &st) == 0 && S_ISREG(st.st_mode)
				 ? open(o->source, O_RDONLY | O_CLOEXEC | O_NONBLOCK) : -1;
		bool reg = fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
		bool iso = reg && tsm_iso_file_detect(fd);
		bool wim = reg && !iso && tsm_wim_file_detect(fd);

		if (fd >= 0)
			close(fd);
		if (iso)
			return tsm_import_iso(store, o, res);
		if (wim)
			return tsm_import_wim(store, o, res);
	}
	if (o->wim_index) {
		tsm_error("--index %d: %s is not a WIM file%s", o->wim_index, o->source,
			  o->as_file ? _(" taken apart (--as-file keeps it whole)") : "");
		return -EINVAL;
	}
	return tsm_import_directory(store, o, res);
}
