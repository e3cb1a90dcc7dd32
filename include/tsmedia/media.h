/* Layer: media (core/media/); the definition rows are core/catalog/media.c's. */
/* Media definitions, their versions, and what a reader of one sees.
 *
 * A media definition names content by ID; each `create`/`edit` stores an
 * immutable media version.  A *snapshot* is a media version with each
 * content ID resolved to that item's current version: it is what one open
 * of the media's file reads, start to end.  Its key ("12:3,5,9") names it:
 * equal keys, equal bytes.
 *
 * Ownership: the caller frees what these functions return with the
 * matching _free/_clear. */
#ifndef TSMEDIA_MEDIA_H
#define TSMEDIA_MEDIA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsmedia/content.h"
#include "tsmedia/media_def.h"

struct tsm_store;
struct tsm_image;
struct tsm_pin;

/* Media names: 1 to 64 of [A-Za-z0-9._-], not starting with '.'. */
bool tsm_media_name_valid(const char *name);

/* What anyone holding task sequence media @def without a password can read (its files are
 * encrypted under keys written on the media itself): a sentence for create and show, in English
 * (--json); _() of it is the translation. */
const char *tsm_media_exposure(const struct tsm_media_def *def);
/* Whether media variable @name_value ("NAME=VALUE") has a name that looks secret (a password,
 * a key, a credential): show masks its value, as media inspect does. */
bool tsm_media_variable_secret(const char *name_value);

/* Stores a new media (@edit false; the name must be free) or a new version
 * of an existing one (@edit true).  The definition is checked against its
 * type's rules, content resolved, the definition-time files rendered (task
 * sequence media: the password and certificate are used here) and the media
 * laid out once before anything is committed.  Fills in what it derives
 * (content list, media GUID, certificate summary). */
int tsm_media_save(struct tsm_store *store, struct tsm_media_def *def, bool edit,
		   int64_t *version_ret);

struct tsm_snapshot_content {
	char id[TSM_CONTENT_ID_LEN + 1];
	int64_t version;    /* the item's version number */
	int64_t version_id; /* catalog row */
};

struct tsm_media_snapshot {
	struct tsm_media_info info;
	struct tsm_snapshot_content *content;
	size_t ncontent;
	char *key;
	int64_t time;        /* the newest of its media and content versions' times */
	struct tsm_pin *pin; /* NULL unless taken pinned */
	/* Its number among the media's recorded snapshots (versions/NAME/N on
	 * the mount); 0 when it is not recorded (yet). */
	int64_t number;
};

/* The current snapshot of media @name; with @pin, pinned (its media and
 * content versions survive gc) until freed. */
int tsm_media_snapshot_take(struct tsm_store *store, const char *name, bool pin,
			    struct tsm_media_snapshot **snap_ret);
/* Pins an existing snapshot again (a new open of a file whose snapshot is
 * not the newest); -ESTALE when gc has removed part of it. */
int tsm_media_snapshot_pin(struct tsm_store *store, const struct tsm_media_snapshot *snap,
			   struct tsm_pin **pin_ret);
void tsm_media_snapshot_free(struct tsm_media_snapshot *snap);

/* Numbered snapshots: every snapshot a live media has had is recorded by
 * the writer that made it, numbered 1, 2, ... per media name (never
 * reused), and kept until gc's rules let it go (tsm_gc_options).  The
 * numbers the store keeps for @name, ascending (free with free()). */
int tsm_media_snapshot_numbers(struct tsm_store *store, const char *name,
			       int64_t **numbers_ret, size_t *n_ret);
/* Snapshot @number of media @name, the same bytes whenever it is taken;
 * -ENOENT (reported) when the store does not keep it. */
int tsm_media_snapshot_take_number(struct tsm_store *store, const char *name, int64_t number,
				   bool pin, struct tsm_media_snapshot **snap_ret);

/* What a snapshot looks like on the mount: one volume file, or a set
 * NAME.1.iso ... NAME.N.iso. */
struct tsm_volume {
	char *file_name;
	struct tsm_image *image;
	/* The boot entries the volume has (what `media show` prints); NULL:
	 * none.  Owned, freed with the set. */
	char *bios_boot;         /* El Torito platform 0x00, no emulation */
	unsigned bios_load_size; /* 512-byte sectors */
	char *uefi_boot;         /* El Torito platform 0xEF, no emulation */
	unsigned uefi_load_size; /* 0: the image up to its end */
	char *usb_efi;           /* USB image: the file UEFI firmware starts */
	char *usb_bios;          /* USB image: the file tsmedia's MBR and boot
				  * sector code start under BIOS (bootmgr) */
};

struct tsm_volume_set {
	struct tsm_volume *volumes;
	size_t n;
};

int tsm_media_layout(struct tsm_store *store, const struct tsm_media_snapshot *snap,
		     struct tsm_volume_set **set_ret);
void tsm_volume_set_free(struct tsm_volume_set *set);

/* The boot files of a boot image: the El Torito entries (and hybrid MBR/GPT)
 * an imported ISO brought — a boot image no directory names is added to
 * @tree under [BOOT]/ — else Windows PE's etfsboot.com and efisys.bin when
 * @tree has them.  Paths are malloc'ed; free with tsm_boot_choice_clear. */
struct tsm_tree;
struct tsm_boot_choice {
	char *bios_boot;
	unsigned load_size;
	bool boot_info_table;
	unsigned emulation, load_segment, system_type; /* El Torito 2.2, as imported */
	char *boot_catalog; /* the catalog's path in the imported image */
	bool grub2_boot_info, grub2_mbr; /* GRUB 2's patches, as imported */
	bool cyl_align;                  /* the imported MBR-only image was cylinder-aligned */
	char *uefi_boot;
	unsigned uefi_load_size; /* the imported entry's sector count; 0: the image's */
	uint8_t *hybrid_mbr;
	size_t hybrid_mbr_len;
	bool hybrid_gpt;
	/* The imported ISO's whole system area (32 KiB, read from its blob) and
	 * the map of the fields that follow a layout (tsmedia/iso.h), or NULL. */
	uint8_t *system_area;
	char *system_area_map;
};
int tsm_boot_choice_from_content(struct tsm_store *store, const char *id, int64_t version,
				 struct tsm_tree *tree, struct tsm_boot_choice *choice_ret);
void tsm_boot_choice_clear(struct tsm_boot_choice *choice);

/* ---- volume trees from the catalog (core/media/volume.c) ------------- */

/* Adds every entry of content @id's version @version (0: current) under
 * @prefix ("" for the root) of @tree. */
struct tsm_tree;
int tsm_tree_add_content(struct tsm_tree *tree, struct tsm_store *store, const char *id,
			 int64_t version, const char *prefix);

/* The WIM of content @id version @version_row (the catalog row, pinned by
 * the caller): its images as imported (one, or "1/", "2/"... with their
 * names), else the whole tree as one image named after the item. */
struct tsm_wim_content_options {
	uint64_t part_size;
	int index;                /* 0: every image; else only that one */
};
int tsm_wim_layout_content(struct tsm_store *store, const char *id, int64_t version_row,
			   const struct tsm_wim_content_options *o, struct tsm_image ***parts_ret,
			   size_t *nparts_ret);

#endif
