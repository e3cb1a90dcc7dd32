/* tsm_fat_layout(): a file tree as a FAT32 disk image (see tsmedia/fat.h).
 *
 * Passes over one context, as the ISO writer runs them:
 *   collect  the visible nodes (no hidden boot images, no symlinks);
 *   names    long names to UTF-16, checked; names colliding on FAT
 *            refused; short names made unique per directory;
 *   sizes    directory entries, clusters, the cluster size and geometry;
 *   place    clusters: the root at 2, the other directories, then every
 *            file as one contiguous run (walk order);
 *   write    MBR/GPT, boot sectors and FSInfo, both FATs and the
 *            directories as META; file data as BLOB/IMAGE segments.
 * Free clusters and the unused tails of the FATs are never written: they
 * are ZERO.  Spec references are to Microsoft's FAT specification 1.03. */
#include "tsmedia/fat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bios_boot_code.h"
#include "encode.h"
#include "fat_internal.h"
#include "gpt.h"
#include "tsmedia/hash.h"
#include "tsmedia/image.h"
#include "tsmedia/log.h"
#include "tsmedia/tree.h"

/* ---- encoders and algorithms (fat_internal.h) ------------------------- */

uint32_t fat_cluster_size_for(uint64_t bytes)
{
	if (bytes <= 8ull << 30)
		return 4096;
	if (bytes <= 16ull << 30)
		return 8192;
	if (bytes <= 32ull << 30)
		return 16384;
	return 32768;
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

int fat_geometry_compute(uint32_t cluster_bytes, uint64_t used, bool gpt,
			 struct fat_geometry *g)
{
	uint32_t spc = cluster_bytes / FAT_SECTOR;
	uint64_t n = used < FAT_MIN_CLUSTERS ? FAT_MIN_CLUSTERS : used;
	/* Rounding the volume up to 1 MiB adds at most this many clusters;
	 * the FATs are sized for them up front. */
	uint64_t slack = FAT_ALIGN_SECTORS / spc;
	uint64_t fat_sectors, data_start, volume, disk;

	memset(g, 0, sizeof(*g));
	if (n > FAT_MAX_CLUSTERS)
		return -EFBIG;
	fat_sectors = (n + slack + 2) * 4 / FAT_SECTOR + ((n + slack + 2) * 4 % FAT_SECTOR != 0);
	/* Section 3.1: 32 reserved sectors is the FAT32 norm; more of them
	 * put the data area, and so every cluster, on a 1 MiB boundary. */
	data_start = align_up(32 + 2 * fat_sectors, FAT_ALIGN_SECTORS);
	volume = align_up(data_start + n * spc, FAT_ALIGN_SECTORS);
	disk = FAT_ALIGN_SECTORS + volume + (gpt ? FAT_ALIGN_SECTORS : 0);
	if (volume > 0xFFFFFFFFu || disk > 0xFFFFFFFFu)
		return -EFBIG; /* BPB_TotSec32, and the MBR's 32-bit LBAs */
	g->cluster_bytes = cluster_bytes;
	g->sectors_per_cluster = spc;
	g->fat_sectors = (uint32_t)fat_sectors;
	g->data_start = (uint32_t)data_start;
	g->reserved_sectors = (uint32_t)(data_start - 2 * fat_sectors);
	g->volume_sectors = (uint32_t)volume;
	g->clusters = (uint32_t)((volume - data_start) / spc);
	g->part_start = FAT_ALIGN_SECTORS;
	g->disk_sectors = disk;
	if (g->clusters > FAT_MAX_CLUSTERS)
		return -EFBIG;
	return 0;
}

/* x86 real-mode code that prints @msg and, after a key, gives the boot
 * back to the firmware (INT 18h): what BIOS runs from a stick that brings
 * no BIOS boot code.  @base is where it sits in the sector (0 in the MBR,
 * 90 after the BPB); it first far-jumps to 0000:7C00 + @base + 5, so that
 * its absolute message address holds whatever CS:IP the BIOS used. */
static void boot_stub(uint8_t *sector, unsigned base, size_t room, const char *msg)
{
	static const uint8_t code[] = {
		0xEA, 0x00, 0x00, 0x00, 0x00, /* 00 jmp 0000:(7C00 + base + 5) */
		0x31, 0xC0,                   /* 05 xor ax, ax */
		0x8E, 0xD8,                   /* 07 mov ds, ax */
		0xBE, 0x00, 0x00,             /* 09 mov si, message */
		0xAC,                         /* 0C lodsb */
		0x84, 0xC0,                   /* 0D test al, al */
		0x74, 0x0B,                   /* 0F jz 1C */
		0x56,                         /* 11 push si */
		0xB4, 0x0E,                   /* 12 mov ah, 0Eh (teletype) */
		0xBB, 0x07, 0x00,             /* 14 mov bx, 7 */
		0xCD, 0x10,                   /* 17 int 10h */
		0x5E,                         /* 19 pop si */
		0xEB, 0xF0,                   /* 1A jmp 0C */
		0x31, 0xC0,                   /* 1C xor ax, ax */
		0xCD, 0x16,                   /* 1E int 16h: wait for a key */
		0xCD, 0x18,                   /* 20 int 18h: next boot device */
		0xEB, 0xFE,                   /* 22 jmp $ */
	};
	uint8_t *p = sector + base;
	size_t len = strlen(msg);

	memcpy(p, code, sizeof(code));
	le16_set(p + 1, (uint16_t)(0x7C00 + base + 5));
	le16_set(p + 10, (uint16_t)(0x7C00 + base + sizeof(code)));
	if (len > room - sizeof(code) - 1)
		len = room - sizeof(code) - 1;
	memcpy(p + sizeof(code), msg, len);
}

static const char no_bios_boot[] =
	"This disk has no BIOS boot code: it boots under UEFI.\r\n"
	"Press a key to try the next boot device.\r\n";

void fat_write_boot_sector(uint8_t *p, const struct fat_geometry *g, uint32_t serial,
			   const uint8_t label[11])
{
	memset(p, 0, FAT_SECTOR);
	p[0] = 0xEB; /* 0 BS_jmpBoot: jmp 5Ah; nop */
	p[1] = 0x58;
	p[2] = 0x90;
	memcpy(p + 3, "MSWIN4.1", 8);          /* 3 BS_OEMName: what the spec recommends */
	le16_set(p + 11, FAT_SECTOR);          /* 11 BPB_BytsPerSec */
	p[13] = (uint8_t)g->sectors_per_cluster; /* 13 BPB_SecPerClus */
	le16_set(p + 14, (uint16_t)g->reserved_sectors); /* 14 BPB_RsvdSecCnt */
	p[16] = 2;                             /* 16 BPB_NumFATs */
	le16_set(p + 17, 0);                   /* 17 BPB_RootEntCnt: 0 on FAT32 */
	le16_set(p + 19, 0);                   /* 19 BPB_TotSec16: 0, see TotSec32 */
	p[21] = 0xF8;                          /* 21 BPB_Media: fixed disk */
	le16_set(p + 22, 0);                   /* 22 BPB_FATSz16: 0 on FAT32 */
	le16_set(p + 24, 32);                  /* 24 BPB_SecPerTrk: the MBR's CHS geometry */
	le16_set(p + 26, 64);                  /* 26 BPB_NumHeads */
	le32_set(p + 28, (uint32_t)g->part_start); /* 28 BPB_HiddSec */
	le32_set(p + 32, g->volume_sectors);   /* 32 BPB_TotSec32 */
	le32_set(p + 36, g->fat_sectors);      /* 36 BPB_FATSz32 */
	le16_set(p + 40, 0);                   /* 40 BPB_ExtFlags: both FATs mirrored */
	le16_set(p + 42, 0);                   /* 42 BPB_FSVer 0.0 */
	le32_set(p + 44, 2);                   /* 44 BPB_RootClus */
	le16_set(p + 48, 1);                   /* 48 BPB_FSInfo */
	le16_set(p + 50, 6);                   /* 50 BPB_BkBootSec */
	p[64] = 0x80;                          /* 64 BS_DrvNum: hard disk */
	p[66] = 0x29;                          /* 66 BS_BootSig: the next three are there */
	le32_set(p + 67, serial);              /* 67 BS_VolID */
	memcpy(p + 71, label, 11);             /* 71 BS_VolLab */
	memcpy(p + 82, "FAT32   ", 8);         /* 82 BS_FilSysType */
	boot_stub(p, 90, 510 - 90, no_bios_boot);
	p[510] = 0x55;
	p[511] = 0xAA;
}

void fat_write_fsinfo(uint8_t *p, uint32_t free_count, uint32_t next_free)
{
	memset(p, 0, FAT_SECTOR);
	le32_set(p + 0, 0x41615252);   /* 0 FSI_LeadSig */
	le32_set(p + 484, 0x61417272); /* 484 FSI_StrucSig */
	le32_set(p + 488, free_count); /* 488 FSI_Free_Count */
	le32_set(p + 492, next_free);  /* 492 FSI_Nxt_Free */
	le32_set(p + 508, 0xAA550000); /* 508 FSI_TrailSig */
}

uint8_t fat_lfn_checksum(const uint8_t short_name[11])
{
	uint8_t sum = 0;

	for (int i = 0; i < 11; i++)
		sum = (uint8_t)(((sum & 1) << 7) + (sum >> 1) + short_name[i]);
	return sum;
}

int fat_utf16_from_utf8(const char *s, uint16_t *out, size_t max)
{
	const uint8_t *p = (const uint8_t *)s;
	size_t n = 0;

	while (*p) {
		uint32_t c = *p, min;
		int k = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2
			: (c & 0xF8) == 0xF0 ? 3 : -1;

		if (k < 0)
			return -EILSEQ;
		min = k == 0 ? 0 : k == 1 ? 0x80 : k == 2 ? 0x800 : 0x10000;
		c &= k == 0 ? 0x7F : k == 1 ? 0x1F : k == 2 ? 0x0F : 0x07;
		for (int i = 1; i <= k; i++) {
			if ((p[i] & 0xC0) != 0x80)
				return -EILSEQ;
			c = c << 6 | (p[i] & 0x3F);
		}
		if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
			return -EILSEQ;
		p += k + 1;
		if (c >= 0x10000) {
			if (n + 2 > max)
				return -ENAMETOOLONG;
			c -= 0x10000;
			out[n++] = (uint16_t)(0xD800 | c >> 10);
			out[n++] = (uint16_t)(0xDC00 | (c & 0x3FF));
		} else {
			if (n + 1 > max)
				return -ENAMETOOLONG;
			out[n++] = (uint16_t)c;
		}
	}
	return (int)n;
}

uint16_t fat_upcase(uint16_t c)
{
	if (c >= 'a' && c <= 'z')
		return (uint16_t)(c - 0x20);
	if (c < 0xE0)
		return c == 0xB5 ? 0x039C : c;
	if (c <= 0xFE)
		return c == 0xF7 ? c : (uint16_t)(c - 0x20); /* Latin-1 */
	if (c == 0xFF)
		return 0x0178;
	/* Latin Extended-A: pairs, upper case even ... */
	if ((c >= 0x0100 && c <= 0x0137) || (c >= 0x014A && c <= 0x0177))
		return (uint16_t)(c & ~1u);
	/* ... then upper case odd */
	if ((c >= 0x0139 && c <= 0x0148) || (c >= 0x0179 && c <= 0x017E))
		return (c & 1) ? c : (uint16_t)(c - 1);
	if (c == 0x03C2)
		return 0x03A3; /* final sigma */
	if (c >= 0x03B1 && c <= 0x03C9)
		return (uint16_t)(c - 0x20); /* Greek */
	if (c >= 0x0430 && c <= 0x044F)
		return (uint16_t)(c - 0x20); /* Cyrillic */
	if (c >= 0x0450 && c <= 0x045F)
		return (uint16_t)(c - 0x50);
	if (c >= 0x0460 && c <= 0x04FF && c != 0x0482 && !(c >= 0x0483 && c <= 0x0489) &&
	    !(c >= 0x04C0 && c <= 0x04CF))
		return (uint16_t)(c & ~1u);
	if (c >= 0x0561 && c <= 0x0586)
		return (uint16_t)(c - 0x30); /* Armenian */
	if ((c >= 0x1E00 && c <= 0x1E95) || (c >= 0x1EA0 && c <= 0x1EFF))
		return (uint16_t)(c & ~1u); /* Latin Extended Additional */
	if (c >= 0x2170 && c <= 0x217F)
		return (uint16_t)(c - 0x10); /* Roman numerals */
	if (c >= 0x24D0 && c <= 0x24E9)
		return (uint16_t)(c - 0x1A); /* circled letters */
	if (c >= 0xFF41 && c <= 0xFF5A)
		return (uint16_t)(c - 0x20); /* fullwidth */
	return c;
}

/* Section 7.4: what may stand in a short name (beyond A-Z, 0-9). */
static bool short_char_ok(uint16_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c < 0x80 && strchr("$%'-_@~`!(){}^#&", c) && c != 0);
}

void fat_short_basis(const uint16_t *name, size_t len, uint8_t out[11], bool *exact, bool *fits)
{
	size_t last_dot = len, start = 0, nb = 0, ne = 0;
	bool lossy = false, cased = false, multi_dot = false;

	memset(out, ' ', 11);
	for (size_t i = 0; i < len; i++)
		if (name[i] == '.')
			last_dot = i;
	/* leading periods go (and count as a change) */
	while (start < len && (name[start] == '.' || name[start] == ' '))
		start++;
	if (start > 0)
		lossy = true;
	if (last_dot < start)
		last_dot = len; /* the only period was a leading one */
	for (size_t i = start; i < last_dot; i++) {
		uint16_t c = name[i], u = fat_upcase(c);

		if (c == ' ') {
			lossy = true;
			continue;
		}
		if (c == '.') {
			/* section 7.4: the name part ends at the first period */
			multi_dot = true;
			break;
		}
		if (u != c)
			cased = true;
		if (!short_char_ok(u)) {
			lossy = true;
			u = '_';
		}
		if (nb < 8)
			out[nb] = (uint8_t)u;
		nb++;
	}
	for (size_t i = last_dot + 1; i < len; i++) {
		uint16_t c = name[i], u = fat_upcase(c);

		if (c == ' ') {
			lossy = true;
			continue;
		}
		if (u != c)
			cased = true;
		if (!short_char_ok(u)) {
			lossy = true;
			u = '_';
		}
		if (ne < 3)
			out[8 + ne] = (uint8_t)u;
		ne++;
	}
	*fits = !lossy && !multi_dot && nb >= 1 && nb <= 8 && ne <= 3 &&
		!(last_dot < len && ne == 0); /* "NAME." is not 8.3 */
	*exact = *fits && !cased;
}

void fat_short_tail(const uint8_t basis[11], uint32_t n, uint8_t out[11])
{
	char tail[12];
	int tl = snprintf(tail, sizeof(tail), "~%u", n);
	size_t keep = 0;

	memcpy(out, basis, 11);
	while (keep < 8 && basis[keep] != ' ')
		keep++;
	if (keep > 8 - (size_t)tl)
		keep = 8 - (size_t)tl;
	memset(out + keep, ' ', 8 - keep);
	memcpy(out + keep, tail, (size_t)tl);
}

void fat_time_encode(int64_t ns, uint16_t *date, uint16_t *time_, uint8_t *tenth)
{
	/* 1980-01-01 and 2107-12-31 23:59:59 UTC */
	const int64_t lo = 315532800, hi = 4354819199;
	int64_t s = ns >= 0 ? ns / 1000000000 : -((-ns + 999999999) / 1000000000);
	int64_t frac = ns - s * 1000000000;
	struct tm tm;
	time_t tt;

	if (s < lo) {
		s = lo;
		frac = 0;
	} else if (s > hi) {
		s = hi;
		frac = 0;
	}
	tt = (time_t)s;
	gmtime_r(&tt, &tm);
	*date = (uint16_t)((tm.tm_year - 80) << 9 | (tm.tm_mon + 1) << 5 | tm.tm_mday);
	*time_ = (uint16_t)(tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec / 2);
	*tenth = (uint8_t)((tm.tm_sec % 2) * 100 + frac / 10000000);
}

void fat_lfn_entry(uint8_t *p, uint8_t ord, bool last, const uint16_t *name, size_t len,
		   uint8_t checksum)
{
	/* LDIR_Name1 at 1 (5 units), LDIR_Name2 at 14 (6), LDIR_Name3 at 28 (2) */
	static const uint8_t at[FAT_LFN_CHARS] = { 1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30 };
	size_t first = (size_t)(ord - 1) * FAT_LFN_CHARS;

	memset(p, 0, FAT_DIRENT);
	p[0] = (uint8_t)(ord | (last ? 0x40 : 0)); /* 0 LDIR_Ord */
	p[11] = FAT_ATTR_LONG_NAME;                 /* 11 LDIR_Attr */
	p[12] = 0;                                  /* 12 LDIR_Type */
	p[13] = checksum;                           /* 13 LDIR_Chksum */
	le16_set(p + 26, 0);                        /* 26 LDIR_FstClusLO */
	for (size_t i = 0; i < FAT_LFN_CHARS; i++) {
		size_t k = first + i;
		uint16_t c = k < len ? name[k] : k == len ? 0x0000 : 0xFFFF;

		le16_set(p + at[i], c);
	}
}

/* ---- the layout --------------------------------------------------------- */

struct fat_node {
	struct tsm_tree_node *t;
	struct fat_node *parent;   /* the root's is itself */
	struct fat_node **kids;    /* tree (strcmp) order */
	size_t nkids;
	bool dir;
	uint16_t *lfn;             /* UTF-16 long name */
	size_t lfn_len;
	uint8_t sn[11];            /* short name */
	bool exact, fits;          /* see fat_short_basis */
	uint32_t entries;          /* directories: 32-byte entries */
	uint32_t cluster, nclusters;
	uint64_t size;
};

struct fat_ctx {
	const struct tsm_fat_options *opts;
	struct tsm_tree *tree;
	struct tsm_image_builder *b;
	struct fat_node *nodes; /* walk order: nodes[0] is the root */
	size_t nnodes;
	uint8_t label[11];
	bool has_label;
	uint8_t hash[TSM_SHA256_LEN]; /* of names, sizes, times: serial and GUIDs */
	struct fat_geometry g;
	uint32_t used; /* clusters handed out, from 2 */
};

/* An error about node @t; @fmt (a literal) has one %s: its path. */
#define log_path(fmt, t)                                                   \
	do {                                                               \
		char *path_ = tsm_tree_node_path(t);                       \
                                                                           \
		tsm_error(fmt, path_ ? path_ : (t)->name);                 \
		free(path_);                                               \
	} while (0)

struct collect {
	struct fat_ctx *ctx;
	size_t n;
	bool count;
};

/* Visible nodes only: a child of a left-out node never is one. */
static bool node_visible(struct tsm_tree_node *t)
{
	if (!t->parent)
		return true;
	if (t->hidden)
		return false;
	return t->type != TSM_ENTRY_SYMLINK;
}

static int collect_node(struct tsm_tree_node *t, void *arg)
{
	struct collect *c = arg;
	struct fat_node *n;

	if (!node_visible(t) || (t->parent && !c->count && !t->parent->writer_data)) {
		if (!c->count && t->type == TSM_ENTRY_SYMLINK && !t->hidden) {
			char *path = tsm_tree_node_path(t);

			tsm_warn("'%s' is a symbolic link: FAT has none, it is left out of the USB image",
				 path ? path : t->name);
			free(path);
		}
		return 0;
	}
	if (c->count) {
		c->n++;
		return 0;
	}
	n = &c->ctx->nodes[c->ctx->nnodes++];
	n->t = t;
	n->dir = t->type == TSM_ENTRY_DIR;
	n->parent = t->parent ? t->parent->writer_data : n;
	t->writer_data = n;
	if (t->type == TSM_ENTRY_FILE) {
		char *path;

		n->size = t->size;
		if (n->size > FAT_FILE_MAX) {
			path = tsm_tree_node_path(t);
			tsm_error("'%s' is %llu bytes: FAT32 holds files under 4 GiB (a WIM over the "
				  "limit needs splitting into .swm parts, which the WIM split writer "
				  "will do; any other file must be made smaller)",
				  path ? path : t->name, (unsigned long long)n->size);
			free(path);
			return -EFBIG;
		}
		if (n->size && t->blob_id <= 0 && !t->image && !t->data) {
			path = tsm_tree_node_path(t);
			tsm_error("'%s' has %llu bytes but no blob, image or data",
				  path ? path : t->name, (unsigned long long)t->size);
			free(path);
			return -EINVAL;
		}
	}
	return 0;
}

static int nodes_collect(struct fat_ctx *ctx)
{
	struct collect c = { .ctx = ctx, .count = true };
	int rc;

	tsm_tree_walk(ctx->tree, collect_node, &c);
	if (!(ctx->nodes = calloc(c.n ? c.n : 1, sizeof(*ctx->nodes))))
		return -ENOMEM;
	c.count = false;
	if ((rc = tsm_tree_walk(ctx->tree, collect_node, &c)) < 0)
		return rc;
	for (size_t i = 0; i < ctx->nnodes; i++) {
		struct fat_node *n = &ctx->nodes[i];
		struct tsm_tree_node *t = n->t;

		if (!n->dir)
			continue;
		if (!(n->kids = calloc(t->nchildren ? t->nchildren : 1, sizeof(*n->kids))))
			return -ENOMEM;
		for (size_t k = 0; k < t->nchildren; k++)
			if (t->children[k]->writer_data)
				n->kids[n->nkids++] = t->children[k]->writer_data;
	}
	return 0;
}

static void ctx_free(struct fat_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nnodes; i++) {
		free(ctx->nodes[i].kids);
		free(ctx->nodes[i].lfn);
		ctx->nodes[i].t->writer_data = NULL;
	}
	free(ctx->nodes);
}

/* ---- names ---------------------------------------------------------- */

/* Section 7: characters no long name holds, besides those below 0x20. */
static const char lfn_forbidden[] = "\"*/:<>?\\|";

static int name_prepare(struct fat_node *n)
{
	uint16_t buf[FAT_MAX_LFN];
	int len = fat_utf16_from_utf8(n->t->name, buf, FAT_MAX_LFN);

	if (len == -EILSEQ) {
		log_path("'%s': the name is not valid UTF-8, which a FAT long name needs", n->t);
		return -EINVAL;
	}
	if (len == -ENAMETOOLONG) {
		log_path("'%s': the name is longer than FAT's 255 UTF-16 characters", n->t);
		return -EINVAL;
	}
	if (len <= 0)
		return -EINVAL;
	for (int i = 0; i < len; i++) {
		if (buf[i] < 0x20 || (buf[i] < 0x80 && strchr(lfn_forbidden, buf[i]))) {
			char *path = tsm_tree_node_path(n->t);

			if (buf[i] < 0x20)
				tsm_error("'%s': a control character (0x%02x) cannot be in a FAT name",
					  path ? path : n->t->name, buf[i]);
			else
				tsm_error("'%s': '%c' cannot be in a FAT name", path ? path : n->t->name,
					  (char)buf[i]);
			free(path);
			return -EINVAL;
		}
	}
	if (buf[len - 1] == '.' || buf[len - 1] == ' ') {
		log_path("'%s': a FAT name cannot end in a period or a space (Windows drops them)",
			 n->t);
		return -EINVAL;
	}
	if (!(n->lfn = malloc((size_t)len * sizeof(*n->lfn))))
		return -ENOMEM;
	memcpy(n->lfn, buf, (size_t)len * sizeof(*n->lfn));
	n->lfn_len = (size_t)len;
	fat_short_basis(n->lfn, n->lfn_len, n->sn, &n->exact, &n->fits);
	return 0;
}

static int fold_cmp(const void *pa, const void *pb)
{
	const struct fat_node *a = *(struct fat_node *const *)pa, *b = *(struct fat_node *const *)pb;
	size_t n = a->lfn_len < b->lfn_len ? a->lfn_len : b->lfn_len;

	for (size_t i = 0; i < n; i++) {
		uint16_t x = fat_upcase(a->lfn[i]), y = fat_upcase(b->lfn[i]);

		if (x != y)
			return x < y ? -1 : 1;
	}
	return a->lfn_len < b->lfn_len ? -1 : a->lfn_len > b->lfn_len;
}

/* Windows compares names case-insensitively: two that differ only in case
 * would be one file on FAT. */
static int names_collide(struct fat_node *d)
{
	struct fat_node **sorted;
	int rc = 0;

	if (d->nkids < 2)
		return 0;
	if (!(sorted = malloc(d->nkids * sizeof(*sorted))))
		return -ENOMEM;
	memcpy(sorted, d->kids, d->nkids * sizeof(*sorted));
	qsort(sorted, d->nkids, sizeof(*sorted), fold_cmp);
	for (size_t i = 1; i < d->nkids && !rc; i++) {
		if (fold_cmp(&sorted[i - 1], &sorted[i]) == 0) {
			char *a = tsm_tree_node_path(sorted[i - 1]->t), *b = tsm_tree_node_path(sorted[i]->t);

			/* name them in tree order */
			if (a && b && strcmp(a, b) > 0) {
				char *x = a;

				a = b;
				b = x;
			}
			tsm_error("'%s' and '%s' differ only in case: FAT names are case-insensitive "
				  "(as on Windows), so they would be one file",
				  a ? a : "?", b ? b : "?");
			free(a);
			free(b);
			rc = -EEXIST;
		}
	}
	free(sorted);
	return rc;
}

/* Short names in use in one directory, and per basis the next numeric
 * tail to try: open addressing over 12-byte keys (kind, name). */
struct sn_table {
	struct sn_slot {
		uint8_t key[12];
		bool used;
		uint32_t val;
	} *slots;
	size_t cap;
};

static struct sn_slot *sn_find(struct sn_table *tb, uint8_t kind, const uint8_t name[11])
{
	uint8_t key[12];
	uint32_t h = 2166136261u;

	key[0] = kind;
	memcpy(key + 1, name, 11);
	for (int i = 0; i < 12; i++)
		h = (h ^ key[i]) * 16777619u;
	for (size_t i = h & (tb->cap - 1);; i = (i + 1) & (tb->cap - 1)) {
		struct sn_slot *s = &tb->slots[i];

		if (!s->used) {
			memcpy(s->key, key, 12);
			return s;
		}
		if (memcmp(s->key, key, 12) == 0)
			return s;
	}
}

/* Takes @name if free; true when taken. */
static bool sn_take(struct sn_table *tb, const uint8_t name[11])
{
	struct sn_slot *s = sn_find(tb, 0, name);

	if (s->used)
		return false;
	s->used = true;
	return true;
}

/* Unique short names for @d's children: names that are their own short
 * name first, then those whose basis fits 8.3, then numeric tails from ~1
 * in tree order. */
static int short_names(struct fat_node *d)
{
	struct sn_table tb;
	int rc = 0;

	for (tb.cap = 16; tb.cap < 4 * d->nkids + 4; tb.cap *= 2)
		;
	if (!(tb.slots = calloc(tb.cap, sizeof(*tb.slots))))
		return -ENOMEM;
	for (size_t i = 0; i < d->nkids; i++)
		if (d->kids[i]->exact)
			sn_take(&tb, d->kids[i]->sn); /* unique: collisions were refused */
	for (size_t i = 0; i < d->nkids; i++) {
		struct fat_node *k = d->kids[i];

		if (!k->exact && k->fits && !sn_take(&tb, k->sn))
			k->fits = false; /* taken: it needs a tail after all */
	}
	for (size_t i = 0; i < d->nkids && !rc; i++) {
		struct fat_node *k = d->kids[i];
		struct sn_slot *hint;
		uint8_t basis[11];

		if (k->exact || k->fits)
			continue;
		memcpy(basis, k->sn, 11);
		hint = sn_find(&tb, 1, basis);
		if (!hint->used) {
			hint->used = true;
			hint->val = 1;
		}
		for (;; hint->val++) {
			if (hint->val > 9999999) {
				log_path("'%s': no free short name", k->t);
				rc = -EEXIST;
				break;
			}
			fat_short_tail(basis, hint->val, k->sn);
			if (sn_take(&tb, k->sn))
				break;
		}
	}
	free(tb.slots);
	return rc;
}

static uint32_t lfn_entries(const struct fat_node *n)
{
	return n->exact ? 0 : (uint32_t)((n->lfn_len + FAT_LFN_CHARS - 1) / FAT_LFN_CHARS);
}

static int names(struct fat_ctx *ctx)
{
	int rc;

	for (size_t i = 1; i < ctx->nnodes; i++)
		if ((rc = name_prepare(&ctx->nodes[i])) < 0)
			return rc;
	for (size_t i = 0; i < ctx->nnodes; i++) {
		struct fat_node *d = &ctx->nodes[i];
		uint64_t entries;

		if (!d->dir)
			continue;
		if ((rc = names_collide(d)) < 0 || (rc = short_names(d)) < 0)
			return rc;
		entries = d == ctx->nodes ? ctx->has_label : 2; /* the label; . and .. */
		for (size_t k = 0; k < d->nkids; k++)
			entries += 1 + lfn_entries(d->kids[k]);
		if (entries > FAT_MAX_DIR_ENTRIES) {
			char *path = tsm_tree_node_path(d->t);

			tsm_error("directory '%s' needs %llu entries: FAT directories hold %u",
				  path && *path ? path : "/", (unsigned long long)entries,
				  FAT_MAX_DIR_ENTRIES);
			free(path);
			return -EFBIG;
		}
		d->entries = (uint32_t)entries;
	}
	return 0;
}

/* ---- sizes and places ------------------------------------------------ */

static int place(struct fat_ctx *ctx)
{
	uint64_t file_bytes = 0, used = 0;
	uint32_t cs, next = 2;
	int rc;

	for (size_t i = 0; i < ctx->nnodes; i++)
		file_bytes += ctx->nodes[i].size;
	cs = fat_cluster_size_for(file_bytes);
	for (size_t i = 0; i < ctx->nnodes; i++) {
		struct fat_node *n = &ctx->nodes[i];
		uint64_t bytes = n->dir ? (uint64_t)n->entries * FAT_DIRENT : n->size;

		n->nclusters = (uint32_t)((bytes + cs - 1) / cs);
		if (n->dir && !n->nclusters)
			n->nclusters = 1;
		used += n->nclusters;
	}
	rc = fat_geometry_compute(cs, used, ctx->opts->partition_table == TSM_FAT_GPT, &ctx->g);
	if (rc < 0) {
		tsm_error("USB image: %llu bytes of files in %llu clusters of %u bytes are more than "
			  "a FAT32 volume under a %s partition table holds",
			  (unsigned long long)file_bytes, (unsigned long long)used, cs,
			  ctx->opts->partition_table == TSM_FAT_GPT ? "GPT" : "MBR");
		return rc;
	}
	/* directories first (the root at 2, BPB_RootClus), then file runs */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < ctx->nnodes; i++) {
			struct fat_node *n = &ctx->nodes[i];

			if (n->dir != (pass == 0) || !n->nclusters)
				continue;
			n->cluster = next;
			next += n->nclusters;
		}
	}
	ctx->used = next - 2;
	return 0;
}

/* The label as section 6 wants it: upper case, short-name characters,
 * space-padded; "NO NAME" when there is none. */
static void make_label(struct fat_ctx *ctx)
{
	const char *s = ctx->opts->volume_label;
	size_t n = 0;

	memset(ctx->label, ' ', 11);
	if (!s || !*s) {
		memcpy(ctx->label, "NO NAME", 7);
		return;
	}
	for (; *s && n < 11; s++) {
		uint8_t c = (uint8_t)*s;

		if (c >= 0x80) {
			/* one '_' per UTF-8 character */
			while ((s[1] & 0xC0) == 0x80)
				s++;
			c = '_';
		} else if (c == ' ') {
			c = ' ';
		} else {
			c = (uint8_t)fat_upcase(c);
			if (!short_char_ok(c))
				c = '_';
		}
		ctx->label[n++] = c;
	}
	ctx->has_label = true;
}

static int hash_u64(struct tsm_file_hasher *h, uint64_t v)
{
	uint8_t b[8];

	le64_set(b, v);
	return tsm_file_hasher_update_sha256(h, b, 8);
}

/* What makes this volume this volume: the label, the table, every name,
 * size, time, attribute and (when the tree knows it) content hash; the
 * serial number, GUIDs and disk signature come from it. */
static int volume_hash(struct fat_ctx *ctx)
{
	struct tsm_file_hasher *h;
	uint8_t sha1[TSM_SHA1_LEN];
	int rc = tsm_file_hasher_new(&h);

	if (rc < 0)
		return rc;
	rc = tsm_file_hasher_update_sha256(h, "tsmedia FAT32\n", 14);
	if (!rc)
		rc = tsm_file_hasher_update_sha256(h, ctx->label, 11);
	if (!rc)
		rc = hash_u64(h, (uint64_t)ctx->opts->partition_table);
	for (size_t i = 0; i < ctx->nnodes && !rc; i++) {
		const struct fat_node *n = &ctx->nodes[i];

		rc = hash_u64(h, (uint64_t)(n->parent - ctx->nodes));
		if (!rc)
			rc = tsm_file_hasher_update_sha256(h, n->t->name, strlen(n->t->name) + 1);
		if (!rc)
			rc = hash_u64(h, (uint64_t)n->dir << 32 | n->t->attributes);
		if (!rc)
			rc = hash_u64(h, n->size);
		if (!rc)
			rc = hash_u64(h, (uint64_t)n->t->mtime_ns);
		if (!rc && n->t->has_sha256)
			rc = tsm_file_hasher_update_sha256(h, n->t->sha256, sizeof(n->t->sha256));
	}
	if (!rc)
		rc = tsm_file_hasher_final(h, ctx->hash, sha1);
	tsm_file_hasher_free(h);
	return rc;
}

/* ---- writing ---------------------------------------------------------- */

/* The root's file tsm_fat_options.bios_loader names, when tsmedia's own
 * BIOS boot code can load it: MBR table, no template, small enough. */
static const struct fat_node *bios_loader(const struct fat_ctx *ctx)
{
	const struct tsm_fat_options *o = ctx->opts;
	const struct fat_node *root = &ctx->nodes[0];

	if (!o->bios_loader || (o->mbr_boot_code && o->mbr_boot_code_len) ||
	    o->partition_table == TSM_FAT_GPT)
		return NULL;
	for (size_t i = 0; i < root->nkids; i++) {
		const struct fat_node *n = root->kids[i];

		if (n->dir || strcmp(n->t->name, o->bios_loader) != 0)
			continue;
		return n->size && n->size <= TSM_FAT_BIOS_LOADER_MAX ? n : NULL;
	}
	return NULL;
}

static bool bios_boot(const struct fat_ctx *ctx)
{
	return (ctx->opts->mbr_boot_code && ctx->opts->mbr_boot_code_len) || bios_loader(ctx);
}

static int write_partition_table(struct fat_ctx *ctx)
{
	const struct tsm_fat_options *o = ctx->opts;
	const struct fat_geometry *g = &ctx->g;
	bool gpt = o->partition_table == TSM_FAT_GPT;
	uint64_t last = g->disk_sectors - 1;
	uint8_t *mbr = tsm_image_builder_meta(ctx->b, 0, (gpt ? 2 + GPT_ARRAY_LBAS : 1) * FAT_SECTOR);
	uint8_t disk_guid[16], guid[16], *backup;
	char name[12];
	size_t nl = 11;
	int rc;

	if (!mbr)
		return -ENOMEM;
	if (o->mbr_boot_code && o->mbr_boot_code_len)
		memcpy(mbr, o->mbr_boot_code, o->mbr_boot_code_len < 440 ? o->mbr_boot_code_len : 440);
	else if (bios_loader(ctx))
		memcpy(mbr, bios_mbr_code, sizeof(bios_mbr_code));
	else
		boot_stub(mbr, 0, 440, no_bios_boot);
	memcpy(mbr + 440, ctx->hash + 16, 4); /* disk signature */
	le16_set(mbr + 444, 0);
	mbr[510] = 0x55;
	mbr[511] = 0xAA;
	if (!gpt && o->embed_len) {
		uint8_t *gap;

		if (o->embed_len > (uint64_t)(g->part_start - 1) * FAT_SECTOR) {
			tsm_error("FAT image: %zu bytes of embedded boot code do not fit the %llu bytes"
				  " before the partition", o->embed_len,
				  (unsigned long long)(g->part_start - 1) * FAT_SECTOR);
			return -EFBIG;
		}
		if (!(gap = tsm_image_builder_meta(ctx->b, FAT_SECTOR, o->embed_len)))
			return -ENOMEM;
		memcpy(gap, o->embed, o->embed_len);
	}
	if (!gpt) {
		/* 0x0C: FAT32 with LBA addressing */
		mbr_entry(mbr + 446, bios_boot(ctx) ? 0x80 : 0x00, 0x0C, g->part_start,
			  g->volume_sectors);
		return 0;
	}
	/* UEFI 2.x 5.2.3: the protective MBR covers the disk from LBA 1. */
	mbr_entry(mbr + 446, 0x00, 0xEE, 1, g->disk_sectors - 1);
	if ((rc = gpt_guid_derive(ctx->hash, 0, disk_guid)) < 0 ||
	    (rc = gpt_guid_derive(ctx->hash, 1, guid)) < 0)
		return rc;
	memcpy(name, ctx->label, 11);
	while (nl > 0 && name[nl - 1] == ' ')
		nl--;
	name[nl] = '\0';
	/* Basic data, not ESP: Windows gives it a drive letter, and UEFI
	 * firmware boots removable media from any FAT partition. */
	gpt_entry(mbr + 2 * FAT_SECTOR, gpt_type_basic_data, guid, g->part_start,
		  g->part_start + g->volume_sectors - 1, name);
	if (bios_boot(ctx))
		le64_set(mbr + 2 * FAT_SECTOR + 48, 1ull << 2); /* legacy BIOS bootable */
	backup = tsm_image_builder_meta(ctx->b, (last - GPT_ARRAY_LBAS) * FAT_SECTOR,
					GPT_TAIL_LBAS * FAT_SECTOR);
	if (!backup)
		return -ENOMEM;
	gpt_write_headers(mbr + FAT_SECTOR, backup, disk_guid, last);
	return 0;
}

static int write_reserved(struct fat_ctx *ctx)
{
	const struct tsm_fat_options *o = ctx->opts;
	uint64_t at = ctx->g.part_start * FAT_SECTOR;
	uint8_t *p = tsm_image_builder_meta(ctx->b, at, 8 * FAT_SECTOR);
	uint32_t free_count = ctx->g.clusters - ctx->used;

	if (!p)
		return -ENOMEM;
	const struct fat_node *loader = bios_loader(ctx);

	fat_write_boot_sector(p, &ctx->g, le32_get(ctx->hash), ctx->label);
	if (o->boot_sector && o->boot_sector_len >= FAT_SECTOR) {
		/* the template's jump and boot code around our BPB */
		memcpy(p, o->boot_sector, 3);
		memcpy(p + 90, o->boot_sector + 90, 510 - 90);
	} else if (loader) {
		/* Our code after the BPB (the jump at 0 already goes to 90),
		 * told where the file's one run of clusters lies in the volume. */
		memcpy(p + 90, bios_vbr_code, sizeof(bios_vbr_code));
		le32_set(p + BIOS_VBR_FILE_LBA,
			 (uint32_t)(ctx->g.data_start +
				    (uint64_t)(loader->cluster - 2) * ctx->g.sectors_per_cluster));
		le16_set(p + BIOS_VBR_FILE_SECTORS,
			 (uint16_t)((loader->size + FAT_SECTOR - 1) / FAT_SECTOR));
	}
	fat_write_fsinfo(p + FAT_SECTOR, free_count, free_count ? 2 + ctx->used : 0xFFFFFFFFu);
	/* section 3.1: the backup boot sector (BPB_BkBootSec), FSInfo after it */
	memcpy(p + 6 * FAT_SECTOR, p, 2 * FAT_SECTOR);
	return 0;
}

static int write_fats(struct fat_ctx *ctx)
{
	uint64_t at = (ctx->g.part_start + ctx->g.reserved_sectors) * FAT_SECTOR;
	size_t len = ((size_t)ctx->used + 2) * 4;
	uint8_t *fat = tsm_image_builder_meta(ctx->b, at, len), *copy;

	if (!fat)
		return -ENOMEM;
	le32_set(fat, 0x0FFFFFF8);     /* FAT[0]: BPB_Media in the low byte */
	le32_set(fat + 4, 0x0FFFFFFF); /* FAT[1]: EOC, clean, no hard errors */
	for (size_t i = 0; i < ctx->nnodes; i++) {
		const struct fat_node *n = &ctx->nodes[i];

		for (uint32_t k = 0; k < n->nclusters; k++)
			le32_set(fat + ((size_t)n->cluster + k) * 4,
				 k + 1 < n->nclusters ? n->cluster + k + 1 : FAT_EOC);
	}
	copy = tsm_image_builder_meta(ctx->b, at + (uint64_t)ctx->g.fat_sectors * FAT_SECTOR, len);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, fat, len);
	return 0;
}

static uint64_t cluster_offset(const struct fat_ctx *ctx, uint32_t cluster)
{
	return (ctx->g.part_start + ctx->g.data_start +
		(uint64_t)(cluster - 2) * ctx->g.sectors_per_cluster) *
	       FAT_SECTOR;
}

/* Section 6 short entry: 0 DIR_Name, 11 DIR_Attr, 12 DIR_NTRes,
 * 13 DIR_CrtTimeTenth, 14 DIR_CrtTime, 16 DIR_CrtDate, 18 DIR_LstAccDate,
 * 20 DIR_FstClusHI, 22 DIR_WrtTime, 24 DIR_WrtDate, 26 DIR_FstClusLO,
 * 28 DIR_FileSize. */
static void short_entry(uint8_t *p, const uint8_t name[11], uint8_t attr, int64_t mtime_ns,
			uint32_t cluster, uint32_t size)
{
	uint16_t date, time_;
	uint8_t tenth;

	fat_time_encode(mtime_ns, &date, &time_, &tenth);
	memcpy(p, name, 11);
	p[11] = attr;
	p[12] = 0;
	p[13] = tenth;
	le16_set(p + 14, time_);
	le16_set(p + 16, date);
	le16_set(p + 18, date);
	le16_set(p + 20, (uint16_t)(cluster >> 16));
	le16_set(p + 22, time_);
	le16_set(p + 24, date);
	le16_set(p + 26, (uint16_t)cluster);
	le32_set(p + 28, size);
}

static int write_dir(struct fat_ctx *ctx, const struct fat_node *d)
{
	uint8_t *p;
	bool root = d == ctx->nodes;

	if (!d->entries)
		return 0; /* an empty root without a label: its cluster is zero */
	p = tsm_image_builder_meta(ctx->b, cluster_offset(ctx, d->cluster),
				   (size_t)d->entries * FAT_DIRENT);
	if (!p)
		return -ENOMEM;
	if (root && ctx->has_label) {
		short_entry(p, ctx->label, FAT_ATTR_VOLUME_ID, d->t->mtime_ns, 0, 0);
		p += FAT_DIRENT;
	}
	if (!root) {
		/* section 6.7: "." is the directory, ".." its parent (0: the root) */
		short_entry(p, (const uint8_t *)".          ", FAT_ATTR_DIRECTORY, d->t->mtime_ns,
			    d->cluster, 0);
		short_entry(p + FAT_DIRENT, (const uint8_t *)"..         ", FAT_ATTR_DIRECTORY,
			    d->t->mtime_ns, d->parent == ctx->nodes ? 0 : d->parent->cluster, 0);
		p += 2 * FAT_DIRENT;
	}
	for (size_t i = 0; i < d->nkids; i++) {
		const struct fat_node *k = d->kids[i];
		uint32_t nl = lfn_entries(k);
		uint8_t sum = fat_lfn_checksum(k->sn);
		uint8_t attr = (uint8_t)((k->t->attributes &
					  (FAT_ATTR_READ_ONLY | FAT_ATTR_HIDDEN | FAT_ATTR_SYSTEM)) |
					 (k->dir ? FAT_ATTR_DIRECTORY : FAT_ATTR_ARCHIVE));

		/* section 7: long-name entries last part first, right before
		 * their short entry */
		for (uint32_t ord = nl; ord >= 1; ord--) {
			fat_lfn_entry(p, (uint8_t)ord, ord == nl, k->lfn, k->lfn_len, sum);
			p += FAT_DIRENT;
		}
		short_entry(p, k->sn, attr, k->t->mtime_ns, k->cluster, (uint32_t)k->size);
		p += FAT_DIRENT;
	}
	return 0;
}

static int write_file(struct fat_ctx *ctx, const struct fat_node *n)
{
	uint64_t at = cluster_offset(ctx, n->cluster);
	const struct tsm_tree_node *t = n->t;

	if (t->data) {
		uint8_t *m = tsm_image_builder_meta(ctx->b, at, (size_t)n->size);

		if (!m)
			return -ENOMEM;
		memcpy(m, t->data, (size_t)n->size);
		return 0;
	}
	if (t->image)
		return tsm_image_builder_image(ctx->b, at, n->size, t->image, 0);
	return tsm_image_builder_blob(ctx->b, at, n->size, t->blob_id, 0);
}

static int write_all(struct fat_ctx *ctx)
{
	int rc;

	if ((rc = write_partition_table(ctx)) < 0 || (rc = write_reserved(ctx)) < 0 ||
	    (rc = write_fats(ctx)) < 0)
		return rc;
	for (size_t i = 0; i < ctx->nnodes; i++) {
		const struct fat_node *n = &ctx->nodes[i];

		if (n->dir)
			rc = write_dir(ctx, n);
		else if (n->size)
			rc = write_file(ctx, n);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int layout(struct fat_ctx *ctx, struct tsm_image **image_ret)
{
	int rc;

	make_label(ctx);
	if ((rc = nodes_collect(ctx)) < 0)
		return rc;
	if (!ctx->nnodes || ctx->nodes[0].t != ctx->tree->root || !ctx->nodes[0].dir)
		return -EINVAL;
	if ((rc = names(ctx)) < 0 || (rc = place(ctx)) < 0 || (rc = volume_hash(ctx)) < 0)
		return rc;
	if (ctx->opts->bios_loader && !bios_boot(ctx))
		tsm_warn("USB image: no BIOS boot code: %s is not a file of the root of at most %u"
			 " bytes, or the partition table is GPT", ctx->opts->bios_loader,
			 TSM_FAT_BIOS_LOADER_MAX);
	if ((rc = tsm_image_builder_new(&ctx->b)) < 0)
		return rc;
	if ((rc = write_all(ctx)) < 0) {
		tsm_image_builder_free(ctx->b);
		ctx->b = NULL;
		return rc;
	}
	rc = tsm_image_builder_finish(ctx->b, ctx->g.disk_sectors * FAT_SECTOR, image_ret);
	ctx->b = NULL;
	return rc;
}

int tsm_fat_layout(struct tsm_tree *tree, const struct tsm_fat_options *opts,
		   struct tsm_image **image_ret)
{
	struct fat_ctx ctx = { .opts = opts, .tree = tree };
	int rc = layout(&ctx, image_ret);

	if (rc == -ENOMEM)
		tsm_error("USB image layout: out of memory");
	ctx_free(&ctx);
	return rc;
}
