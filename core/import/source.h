/* Walking an import source (a directory or one file) into a sorted list of
 * entries, checking everything before the store is touched: unreadable
 * files, special files, symlinks that leave the source, names that are not
 * UTF-8. */
#ifndef TSMEDIA_SOURCE_H
#define TSMEDIA_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "util/path.h" /* tsm_utf8_valid */

struct tsm_source_entry {
	char *rel_path;    /* '/'-separated, relative to the source root */
	char *path;        /* to open it: the source path joined with rel_path */
	struct stat st;    /* lstat */
	char *link_target; /* symlinks */
};

struct tsm_source_tree {
	char *root;        /* the source's real path */
	struct tsm_source_entry *entries; /* parents before children, names sorted */
	size_t n, cap;
	uint64_t file_bytes;
	uint64_t files, dirs;
};

int tsm_source_scan(const char *source, struct tsm_source_tree *tree_ret);
void tsm_source_tree_free(struct tsm_source_tree *tree);

/* Imports directory or single-file @o->source: scanned and checked first,
 * then every entry through an import session. */
struct tsm_store;
struct tsm_content_add_options;
struct tsm_content_add_result;
int tsm_import_directory(struct tsm_store *store, const struct tsm_content_add_options *o,
			 struct tsm_content_add_result *res);

#endif
