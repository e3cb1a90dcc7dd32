/* Importing a WIM as content, with wimlib (any compression, solid or not,
 * split .swm sets given as their first part).
 *
 * Without an index every image is imported into one content version: a
 * single image is the tree itself, several are "1/", "2/"... (the WIM's
 * image numbers), as a Configuration Manager OS image package holds the
 * whole install.wim and task sequences pick an index.  With an index, that
 * image alone is the tree.  Names, descriptions, flags and the boot index
 * are kept as content_meta ("wim.*"); Windows metadata in win_* tables.
 *
 * The WIM is hostile: its header and blob table are checked against the
 * file's size before wimlib reads them (import/wim_check.h); wimlib runs
 * only in a child process under memory and CPU limits (util/sandbox.h);
 * everything it lets us see is checked (names, depth, sizes against the
 * files, missing parts, entries wimlib had to drop) before the store is
 * touched, the child's result again as it arrives, and every blob's SHA-1
 * as it is stored.  Any error leaves the store unchanged.  One thread;
 * forks the reader before the import session starts its threads. */
#ifndef TSMEDIA_IMPORT_WIM_H
#define TSMEDIA_IMPORT_WIM_H

#include <stdbool.h>

struct tsm_store;
struct tsm_content_add_options;
struct tsm_content_add_result;

/* True when the file open at @fd starts with "MSWIM\0\0\0" (or wimlib's
 * pipable "WLPWM\0\0\0").  The file offset is not moved. */
bool tsm_wim_file_detect(int fd);

int tsm_import_wim(struct tsm_store *store, const struct tsm_content_add_options *o,
		   struct tsm_content_add_result *res);

#endif
