/* Layer: image (the WIM writer, core/image/wim.c); importing is core/import/wim.c. */
/* WIM files, both ways (Microsoft's Windows Imaging Format, as documented by
 * the WIM format paper and by wimlib's sources).
 *
 * Import (tsm_content_add on a file starting "MSWIM\0\0\0") takes a WIM
 * apart with wimlib: every file's data becomes a blob, the tree becomes a
 * content version, and what Windows keeps besides (security descriptors,
 * three timestamps, short names, named data streams, reparse points, hard
 * links) goes into the catalog's win_* tables, read back as struct
 * tsm_win_meta (tsmedia/winmeta.h) and handed to the writer with the tree.
 *
 * The writer lays one or more images out as a virtual WIM: an extent map
 * whose file resources are stored uncompressed, so each maps straight onto
 * its blob; header, metadata resources (security data + dentry tree), blob
 * table and XML data are generated (META).  The same input gives the same
 * bytes: GUID and times are derived from it.  A split WIM is a set of such
 * images, one per .swm part.
 *
 * Ownership: layout results are images the caller unrefs. One thread. */
#ifndef TSMEDIA_WIM_H
#define TSMEDIA_WIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsmedia/hash.h"
#include "tsmedia/winmeta.h"

struct tsm_image;
struct tsm_tree;
struct tsm_blob_source;

/* FAT32's largest file: the default part size of split WIMs for USB media. */
#define TSM_WIM_FAT32_PART_MAX 4294967295ull


/* ---- the writer ------------------------------------------------------ */

struct tsm_wim_image_spec {
	struct tsm_tree *tree;          /* the image's files (not changed) */
	const struct tsm_win_meta_set *meta; /* may be NULL */
	const char *meta_prefix;        /* paths in @meta are this + "/" + tree path
					 * ("" or NULL: the same) */
	const char *name;               /* unique within the WIM */
	const char *description;        /* the rest may be NULL */
	const char *display_name;
	const char *display_description;
	const char *flags;              /* e.g. "Professional" */
	const char *windows_xml;        /* a <WINDOWS>...</WINDOWS> element, UTF-8 */
	int64_t time_ns;                /* creation time; 0: the newest mtime */
};

struct tsm_wim_options {
	const struct tsm_wim_image_spec *images;
	size_t nimages;
	unsigned boot_index;      /* 1-based; 0: none */
	uint64_t part_size;       /* 0: one WIM; else .swm parts of at most this */
	/* A blob's SHA-1, which names its resource in the WIM (needed when a
	 * tree names blobs): 0, or a negative errno reported by the callee. */
	int (*blob_sha1)(void *ctx, int64_t blob_id, uint64_t size, uint8_t sha1[TSM_SHA1_LEN]);
	void *blob_sha1_ctx;
	/* Reads nested images to hash them (needed when a tree holds one). */
	const struct tsm_blob_source *source;
};

/* Lays the WIM out: one image, or one per part of a split WIM (part 1
 * first).  Free with tsm_wim_parts_free(). */
int tsm_wim_layout(const struct tsm_wim_options *o, struct tsm_image ***parts_ret,
		   size_t *nparts_ret);
void tsm_wim_parts_free(struct tsm_image **parts, size_t n);

/* ---- encoders (exposed for the unit tests) --------------------------- */

#define TSM_WIM_HEADER_SIZE 208
#define TSM_WIM_RESHDR_SIZE 24
#define TSM_WIM_BLOB_ENTRY_SIZE 50
#define TSM_WIM_DENTRY_FIXED 102
#define TSM_WIM_STREAM_ENTRY_FIXED 38

enum {
	TSM_WIM_RESHDR_METADATA = 0x02,
	TSM_WIM_RESHDR_COMPRESSED = 0x04,
	TSM_WIM_RESHDR_SPANNED = 0x08,
};

struct tsm_wim_reshdr {
	uint64_t size_in_wim;  /* 56 bits */
	uint8_t flags;
	uint64_t offset;
	uint64_t uncompressed_size;
};

struct tsm_wim_header {
	uint32_t flags;
	uint8_t guid[16];
	uint16_t part_number, total_parts;
	uint32_t image_count;
	struct tsm_wim_reshdr blob_table, xml, boot_metadata;
	uint32_t boot_index;
};

void tsm_wim_put_reshdr(uint8_t out[TSM_WIM_RESHDR_SIZE], const struct tsm_wim_reshdr *r);
void tsm_wim_put_header(uint8_t out[TSM_WIM_HEADER_SIZE], const struct tsm_wim_header *h);
void tsm_wim_put_blob_entry(uint8_t out[TSM_WIM_BLOB_ENTRY_SIZE], const struct tsm_wim_reshdr *r,
			    uint16_t part_number, uint32_t refcnt,
			    const uint8_t sha1[TSM_SHA1_LEN]);

/* One dentry as the writer sees it. */
struct tsm_wim_dentry {
	uint32_t attributes;
	int32_t security_id;      /* -1: none */
	uint64_t subdir_offset;
	uint64_t creation_ft, access_ft, write_ft;
	uint32_t reparse_tag;
	uint64_t hardlink_group;
	const uint16_t *name;     /* UTF-16LE units; NULL for the root */
	size_t name_units;
	const uint16_t *short_name;
	size_t short_units;
	const uint8_t *extra;     /* tagged items (wimlib's UNIX data), 8-aligned */
	size_t extra_len;
	/* Streams: the unnamed ones (reparse data, then file data) and the
	 * named ones. */
	struct tsm_wim_dentry_stream {
		const uint16_t *name; /* NULL: unnamed */
		size_t name_units;
		uint8_t sha1[TSM_SHA1_LEN]; /* zero: empty */
	} *streams;
	size_t nstreams;
	bool is_reparse, is_dir;
};
/* Bytes tsm_wim_put_dentry writes (a multiple of 8). */
size_t tsm_wim_dentry_size(const struct tsm_wim_dentry *d);
/* Writes the dentry and its stream entries; returns the bytes written. */
size_t tsm_wim_put_dentry(uint8_t *out, const struct tsm_wim_dentry *d);

#endif
