/* Layer: catalog (core/catalog/); tsm_content_add is import's (core/import/content_add.c). */
/* Content items (boot images, OS images, packages, applications, driver
 * packages, prestart files) and their versions, each a tree of files whose
 * data are blobs in the store.
 *
 * IDs follow Configuration Manager's package IDs: a three-character site
 * code and five hex digits ("TSM00001", "PS100012").  An item never changes:
 * adding content under an existing ID adds a version; the old one stays
 * until nothing references it (gc). */
#ifndef TSMEDIA_CONTENT_H
#define TSMEDIA_CONTENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "tsmedia/hash.h"

struct tsm_store;
struct tsm_progress;

#define TSM_CONTENT_ID_LEN 8

enum tsm_content_kind {
	TSM_KIND_BOOT_IMAGE,
	TSM_KIND_OS_IMAGE,
	TSM_KIND_PACKAGE,
	TSM_KIND_APPLICATION,
	TSM_KIND_DRIVER_PACKAGE,
	TSM_KIND_PRESTART,
	TSM_KIND_COUNT
};

/* "boot-image" etc.; parse returns -EINVAL for anything else. */
const char *tsm_content_kind_name(enum tsm_content_kind kind);
int tsm_content_kind_parse(const char *name, enum tsm_content_kind *kind_ret);
/* A valid ID is 3 of [A-Z0-9] and 5 hex digits; lower case is accepted and
 * upper-cased into @out (TSM_CONTENT_ID_LEN + 1 bytes). */
int tsm_content_id_normalize(const char *id, char out[TSM_CONTENT_ID_LEN + 1]);

/* El Torito boot entries an imported ISO brought (ECMA-119 + El Torito 1.0). */
enum { TSM_BOOT_PLATFORM_BIOS = 0x00, TSM_BOOT_PLATFORM_UEFI = 0xef };

struct tsm_boot_entry {
	uint8_t platform;      /* TSM_BOOT_PLATFORM_* */
	uint8_t emulation;     /* 0: no emulation */
	uint16_t load_size;    /* 512-byte sectors the firmware loads */
	bool boot_info_table;  /* the file carries an isolinux boot info table */
	char *path;            /* the boot file in the tree, or NULL: hidden */
	int64_t blob_id;       /* a hidden boot image's blob (path NULL) */
	uint64_t size;
};

struct tsm_content_add_options {
	enum tsm_content_kind kind;
	const char *name;
	const char *version_label; /* --version, may be NULL */
	const char *id;            /* --id, may be NULL: a new ID is allocated */
	const char *source;        /* a directory or a single file */
	bool progress;             /* draw a progress line on the terminal */
	bool as_file;              /* an image file (ISO) stays one file, not its tree */
	int wim_index;             /* a WIM: 0 every image (one: the tree; several:
				    * "1/", "2/"...), else only image N */
};

struct tsm_content_add_result {
	char id[TSM_CONTENT_ID_LEN + 1];
	int64_t version;   /* 1, 2, ... within the item */
	uint64_t files, dirs, bytes;
	bool new_item;
};

/* Imports @opts->source.  On any error nothing is changed: the catalog
 * transaction is rolled back and packs are cut back. */
int tsm_content_add(struct tsm_store *store, const struct tsm_content_add_options *opts,
		    struct tsm_content_add_result *result_ret);

struct tsm_content_version {
	int64_t row_id;   /* catalog id of the version (what pins name) */
	int64_t version;
	char *label;      /* may be NULL */
	char *source;
	int64_t created;  /* seconds since the epoch */
	uint64_t files, bytes;
	bool removed;
};

struct tsm_content_item {
	char id[TSM_CONTENT_ID_LEN + 1];
	enum tsm_content_kind kind;
	char *name;
	int64_t created;
	struct tsm_content_version *versions; /* oldest first; the last is current */
	size_t nversions;
};

enum tsm_entry_type { TSM_ENTRY_FILE, TSM_ENTRY_DIR, TSM_ENTRY_SYMLINK };

struct tsm_tree_entry {
	char *path;          /* relative, '/'-separated, no leading slash */
	enum tsm_entry_type type;
	uint32_t mode;       /* permission bits */
	int64_t mtime_ns;
	uint32_t attributes; /* Windows file attributes */
	uint64_t size;
	int64_t blob_id;     /* files; 0 otherwise */
	uint8_t sha256[TSM_SHA256_LEN];
	char *link_target;   /* symlinks */
	/* Files whose bytes are read out of a stored WIM (a boot image's boot
	 * files): that WIM's blob, which takes their space; 0 otherwise. */
	int64_t wim_blob_id;
};

/* Items not removed, by ID.  Free with tsm_content_items_free(). */
int tsm_content_list(struct tsm_store *store, struct tsm_content_item **items_ret,
		     size_t *n_ret);
/* One item (removed versions of a live item are listed, marked). */
int tsm_content_get(struct tsm_store *store, const char *id, struct tsm_content_item *item_ret);
void tsm_content_item_clear(struct tsm_content_item *item);
/* Whether a live item @id exists (no message either way). */
bool tsm_content_exists(struct tsm_store *store, const char *id);
void tsm_content_items_free(struct tsm_content_item *items, size_t n);

/* The tree of a version (@version 0: the current one), sorted by path. */
int tsm_content_tree(struct tsm_store *store, const char *id, int64_t version,
		     struct tsm_tree_entry **entries_ret, size_t *n_ret);
void tsm_tree_entries_free(struct tsm_tree_entry *entries, size_t n);

/* The boot entries of a version (@version 0: current). */
int tsm_content_boot_entries(struct tsm_store *store, const char *id, int64_t version,
			     struct tsm_boot_entry **entries_ret, size_t *n_ret);
void tsm_boot_entries_free(struct tsm_boot_entry *entries, size_t n);
/* A fact an image import recorded (volume_id, hybrid_mbr, hybrid_gpt):
 * a malloc'ed copy, or -ENOENT. */
int tsm_content_meta(struct tsm_store *store, const char *id, int64_t version,
		     const char *key, void **value_ret, size_t *len_ret);

/* Marks the item removed; its data goes at the next gc once no pin holds it. */
int tsm_content_rm(struct tsm_store *store, const char *id);

/* Streams one file of the current version to @fd, every chunk checked
 * before it is written.  The version is pinned while it streams. */
int tsm_content_cat(struct tsm_store *store, const char *id, const char *path, int fd);

#endif
