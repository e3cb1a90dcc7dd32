/* What the ISO writer's parts share: the per-node state, the layout
 * context, and each part's entry points.
 *
 * tsm_iso_layout() (iso.c) runs the parts in passes over one context:
 *   names   every namespace maps and uniquifies its names (iso9660.c,
 *           joliet.c, udf.c); Rock Ridge keeps the tree's names as they are;
 *   sizes   directories, path tables, continuation areas, UDF descriptors;
 *   place   sectors are handed out (iso.c);
 *   write   each part fills its META buffers and adds its segments.
 * Nothing here reads file bytes.  One thread; the context lives for one
 * call of tsm_iso_layout(). */
#ifndef TSMEDIA_CORE_IMAGE_ISO_INTERNAL_H
#define TSMEDIA_CORE_IMAGE_ISO_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsmedia/image.h"
#include "tsmedia/iso.h"
#include "tsmedia/tree.h"

#define ISO_SECTOR 2048u
/* ECMA-119 7.5 / 9.1.11: a level 3 file section is at most 4 GiB - 2 KiB,
 * a whole number of sectors. */
#define ISO_MAX_EXTENT 0xFFFFF800u
/* ECMA-167 4/14.14.1.1: an extent length has 30 bits; keep each allocation
 * descriptor a whole number of blocks below 1 GiB. */
#define UDF_MAX_EXTENT 0x3FFFF800u
/* ECMA-119 level 2/3: file name + extension at most 30, directories 31. */
#define ISO_MAX_FILE_NAME 30
#define ISO_MAX_DIR_NAME 31
/* Joliet: identifiers of at most 64 UCS-2 characters (";1" not counted). */
#define JOLIET_MAX_NAME 64
/* UDF: a File Identifier is at most 255 bytes of compressed unicode. */
#define UDF_MAX_NAME 255

struct iso_node {
	struct tsm_tree_node *t;
	struct iso_node *parent;  /* the root's parent is itself */
	struct iso_node **kids;   /* tree (strcmp) order */
	struct iso_node **iso_kids; /* ECMA-119 9.3 order */
	struct iso_node **jol_kids; /* Joliet order; no symlinks */
	size_t nkids, niso_kids, njol_kids;
	bool dir, symlink;
	uint32_t nsubdirs;
	uint32_t serial; /* 1-based, walk order: RRIP PX serial number */

	/* ECMA-119: "NAME.EXT;1" for files, "NAME" for directories */
	char iso_name[ISO_MAX_DIR_NAME + 4];
	uint8_t iso_len;
	uint32_t dir_lba, dir_size; /* directories: their ISO directory */
	/* directories: their Rock Ridge continuation areas, in the sectors
	 * right after the directory (libarchive reads a CE area only when its
	 * sequential read reaches it right after the directory) */
	uint32_t ce_lba, ce_sectors;
	uint16_t pt_num;            /* path table directory number */

	/* Joliet: UCS-2 big-endian, ";1" included for files */
	uint8_t jol_name[2 * JOLIET_MAX_NAME + 4];
	uint8_t jol_len;
	uint32_t jdir_lba, jdir_size;
	uint16_t jpt_num;

	/* file data: contiguous sectors from data_lba */
	uint32_t data_lba;
	uint64_t size;

	/* UDF (ECMA-167 part 4) */
	uint8_t udf_name[UDF_MAX_NAME]; /* OSTA CS0, compression ID first */
	uint8_t udf_name_len;
	uint32_t udf_fe;       /* File Entry, block in the partition */
	uint32_t udf_fid_off;  /* directories: blocks into the FID area */
	uint32_t udf_fid_len;  /* directories: bytes of FIDs */
	uint64_t udf_unique;
};

struct iso_ctx {
	const struct tsm_iso_options *opts;
	struct tsm_tree *tree;
	struct tsm_image_builder *b;
	struct iso_node *nodes; /* walk order: nodes[0] is the root */
	size_t nnodes;
	struct iso_node **dirs;  /* ISO path table order */
	struct iso_node **jdirs; /* Joliet path table order */
	size_t ndirs, njdirs, nfiles;
	struct iso_node *bios_boot, *uefi_boot;
	struct iso_node *catalog_node; /* the file the boot catalog stands for, or NULL */
	char volume_id[33];      /* ECMA-119 d-characters */
	uint8_t volume_hash[32]; /* SHA-256 of the volume id and size: GUIDs, serials */

	/* descriptors (absolute sectors; 0: absent) */
	uint32_t pvd_lba, br_lba, svd_lba, term_lba, vrs_lba, ndesc;
	uint32_t catalog_lba;
	uint32_t pt_size, lpt_lba, mpt_lba;   /* ECMA-119 path tables */
	uint32_t jpt_size, jlpt_lba, jmpt_lba;
	uint32_t dirs_lba, dirs_sectors;      /* every ISO directory and its CE areas */
	uint32_t jdirs_lba, jdirs_sectors;
	/* the directory being sized or written: its CE area */
	uint32_t ce_lba;
	uint32_t ce_cursor;                   /* bytes into the CE area while placing */
	uint8_t *ce_buf;                      /* the CE area while writing, else NULL */
	uint8_t *susp;                        /* scratch for one record's SUSP entries */
	size_t susp_cap;

	/* UDF */
	uint32_t udf_part_start, udf_part_len;
	uint32_t udf_fsd_lba, udf_fe_lba, udf_fid_lba, udf_fid_blocks;
	uint32_t udf_avdp2_lba;
	uint64_t udf_next_unique;

	struct sa_plan *sa;     /* an imported system area carried over (sysarea.c), or NULL */

	uint32_t data_end;      /* first sector after the last file's data */
	uint32_t total_sectors; /* the image, 2048-byte sectors */
};

/* ---- iso.c ---------------------------------------------------------- */
/* Adds segments giving bytes [@off, @off + @len) of file @n at its place in
 * the image, from its blob, nested image or inline data. */
int iso_emit_file_range(struct iso_ctx *ctx, struct iso_node *n, uint64_t off, uint64_t len);

/* ---- crc.c ---------------------------------------------------------- */
/* ECMA-167 1/7.2.6 (CRC-ITU-T / CCITT, x^16+x^12+x^5+1, initial 0, not
 * reflected): the UDF descriptor CRC. */
uint16_t iso_crc_itu(const uint8_t *p, size_t n);
/* UEFI 2.x / ISO 3309 CRC-32 (reflected 0x04C11DB7, initial and final
 * inversion): GPT header and entry array. */
uint32_t iso_crc32(const uint8_t *p, size_t n);

/* ---- iso_fields.c: shared by iso9660.c, joliet.c, rockridge.c ------- */
/* One code point of UTF-8 at *@s (advanced); U+FFFD for malformed bytes. */
uint32_t iso_utf8_next(const char **s);
/* A name space's rules for a directory's names: make() writes the mapped
 * name of @n with numbered suffix @suffix (0: none) into @out (256 bytes)
 * and returns its length; store() keeps it in the node. */
struct iso_name_ops {
	size_t (*make)(const struct iso_node *n, unsigned suffix, uint8_t *out);
	void (*store)(struct iso_node *n, const uint8_t *name, size_t len);
};
/* Names every one of @kids uniquely: names that map without clashing keep
 * their mapping, clashing ones (later in tree order) get the lowest free
 * numbered suffix. */
int iso_names_unique(struct iso_node **kids, size_t n, const struct iso_name_ops *ops);

/* 17-byte ECMA-119 8.4.26.1 date and 7-byte 9.1.5 date. */
void iso_set_date_8_4_26_1(uint8_t *p, int64_t ns);
void iso_set_date_9_1_5(uint8_t *p, int64_t ns);
/* Pads @s into an @n-byte field with spaces (a-/d-characters). */
void iso_set_achars(uint8_t *p, size_t n, const char *s, bool dchars);

/* UCS-2 BE of @s into an @n-byte field padded with UCS-2 spaces. */
void joliet_set_chars(uint8_t *p, size_t n, const char *s);
/* The UCS-2 unit Joliet keeps for code point @c ('_' for what it forbids). */
uint16_t joliet_char(uint32_t c);

/* ---- iso9660.c ------------------------------------------------------ */
/* Maps a UTF-8 name to ECMA-119 d-characters ("NAME.EXT;1" or "NAME"). */
size_t iso9660_map_name(const char *name, bool dir, unsigned suffix, char *out);
/* ECMA-119 9.3 order of two identifiers. */
int iso9660_name_cmp(const char *a, size_t alen, const char *b, size_t blen);
int iso9660_prepare(struct iso_ctx *ctx);
/* Fills a descriptor: type 1 (PVD) or 2 (Joliet SVD). */
void iso9660_write_vd(struct iso_ctx *ctx, uint8_t *p, bool joliet);
void iso9660_write_terminator(uint8_t *p);
/* Path tables: L and M of either namespace. */
int iso9660_write_path_tables(struct iso_ctx *ctx, bool joliet);
/* One directory record (ECMA-119 9.1) at @p; returns its length.  @p may be
 * NULL to size it. */
size_t iso9660_dir_record(uint8_t *p, uint32_t lba, uint32_t size, int64_t mtime_ns,
			  uint8_t flags, const uint8_t *id, size_t idlen, const uint8_t *su,
			  size_t sulen);
/* Bytes of @dir's ISO (or Joliet) directory; with @out, writes it too. */
uint32_t iso9660_dir_bytes(struct iso_ctx *ctx, struct iso_node *dir, bool joliet, uint8_t *out);

/* ---- joliet.c ------------------------------------------------------- */
/* Maps a UTF-8 name to Joliet UCS-2 BE (";1" appended for files); returns
 * bytes. */
size_t joliet_map_name(const char *name, bool dir, unsigned suffix, uint8_t *out);
int joliet_prepare(struct iso_ctx *ctx);

/* ---- rockridge.c ---------------------------------------------------- */
enum rr_record { RR_NORMAL, RR_DOT, RR_DOTDOT };
/* Reserves scratch room for the longest record of the tree. */
int rr_prepare(struct iso_ctx *ctx);
/* The SUSP entries of one record of @n (for RR_DOT/RR_DOTDOT @n is the
 * directory the record names), placed: what fits in @avail bytes of the
 * record is written to @su (may be NULL when sizing), the rest goes to
 * continuation areas.  Returns the bytes used in the record. */
size_t rr_record_su(struct iso_ctx *ctx, struct iso_node *n, enum rr_record which, bool root_dot,
		    uint8_t *su, size_t avail);

/* ---- eltorito.c ----------------------------------------------------- */
int eltorito_prepare(struct iso_ctx *ctx);
void eltorito_write_br(struct iso_ctx *ctx, uint8_t *p);
int eltorito_write_catalog(struct iso_ctx *ctx);
/* Adds the BIOS boot file's segments with the boot info table patched in. */
int eltorito_emit_boot_file(struct iso_ctx *ctx, struct iso_node *n);
/* Sum of the 32-bit little-endian words from byte 64 on (El Torito boot info
 * table checksum). */
uint32_t eltorito_boot_info_csum(const uint8_t *data, size_t len);

/* ---- udf.c ---------------------------------------------------------- */
/* OSTA CS0 compressed unicode of a UTF-8 name: 8-bit when every character is
 * below U+0100, else 16-bit; characters beyond the BMP become '_'.  At most
 * @max bytes (compression ID included); returns bytes written. */
size_t udf_cs0(const char *utf8, uint8_t *out, size_t max);
/* ECMA-167 3/7.2: fills a descriptor tag at @p covering @len bytes of
 * descriptor (tag included). */
void udf_set_tag(uint8_t *p, uint16_t id, uint32_t location, size_t len);
uint8_t udf_tag_checksum(const uint8_t *tag);
int udf_prepare(struct iso_ctx *ctx);
void udf_write_vrs(uint8_t *p);
int udf_write(struct iso_ctx *ctx);

/* ---- sysarea.c ------------------------------------------------------ */
/* An imported system area (opts->system_area and its map): prepare reads
 * the map once the boot images are known; tail_sectors is the room its
 * tables need after the data; write puts it at sector 0 and the backup GPT
 * at the end, once the layout is done. */
struct sa_plan;
int sysarea_prepare(struct iso_ctx *ctx);
uint32_t sysarea_tail_sectors(const struct iso_ctx *ctx);
int sysarea_write(struct iso_ctx *ctx);
void sysarea_free(struct iso_ctx *ctx);

/* ---- hybrid.c ------------------------------------------------------- */
int hybrid_write(struct iso_ctx *ctx);
/* Sectors (2048) the backup GPT needs at the end of the image. */
#define HYBRID_GPT_TAIL_SECTORS 9u

#endif
