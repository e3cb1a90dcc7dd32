/* Layer: catalog (core/catalog/win_meta.c); the WIM writer reads these structs. */
/* The Windows metadata of entries imported from WIMs, as
 * the catalog's win_* tables hold it: security descriptors, three
 * timestamps, short names, named data streams, reparse data, hard links.
 * Import writes it, media composition reads it and hands it to the WIM
 * writer (tsmedia/wim.h) with the tree.
 *
 * Ownership: a struct tsm_win_meta_set is freed with
 * tsm_win_meta_set_free().  One thread. */
#ifndef TSMEDIA_WINMETA_H
#define TSMEDIA_WINMETA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tsm_store;

/* Windows file attributes (MS-FSCC 2.6) import and the writer use. */
#define TSM_WIN_ATTR_READONLY 0x1u
#define TSM_WIN_ATTR_DIRECTORY 0x10u
#define TSM_WIN_ATTR_ARCHIVE 0x20u
#define TSM_WIN_ATTR_NORMAL 0x80u
#define TSM_WIN_ATTR_REPARSE_POINT 0x400u
#define TSM_WIN_ATTR_ENCRYPTED 0x4000u
#define TSM_WIN_REPARSE_TAG_SYMLINK 0xA000000Cu

struct tsm_win_stream {
	char *name;       /* UTF-8 */
	int64_t blob_id;  /* 0: empty */
	uint64_t size;
};

/* One entry's Windows metadata.  Times are FILETIMEs (100 ns since 1601). */
struct tsm_win_meta {
	char *path;             /* as in the content's tree; "" the root */
	uint32_t attributes;
	uint8_t *security;      /* SECURITY_DESCRIPTOR_RELATIVE, or NULL */
	size_t security_len;
	char *short_name;       /* 8.3 name, or NULL */
	uint64_t creation_ft, access_ft, write_ft;
	uint32_t reparse_tag;   /* with TSM_WIN_ATTR_REPARSE_POINT */
	uint8_t *reparse;       /* the reparse data after its 8-byte header */
	size_t reparse_len;
	uint64_t hardlink_group; /* 0: one name; else shared by every name of the file */
	bool has_unix;          /* wimlib's UNIX data extension */
	uint32_t unix_uid, unix_gid, unix_mode, unix_rdev;
	bool has_object_id;
	uint8_t object_id[64];
	struct tsm_win_stream *streams; /* named data streams */
	size_t nstreams;
};

/* The Windows metadata of a content version, sorted by path. */
struct tsm_win_meta_set {
	struct tsm_win_meta *entries;
	size_t n;
};
/* @version_row: the catalog id of the version (tsm_content_version.row_id).
 * An empty set when the version has none (not imported from a WIM). */
int tsm_win_meta_load(struct tsm_store *store, int64_t version_row,
		      struct tsm_win_meta_set **set_ret);
const struct tsm_win_meta *tsm_win_meta_find(const struct tsm_win_meta_set *set,
					     const char *path);
void tsm_win_meta_set_free(struct tsm_win_meta_set *set);

#endif
