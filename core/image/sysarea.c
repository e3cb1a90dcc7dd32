/* An imported ISO's system area carried over whole (ECMA-119 6.2.1:
 * sectors 0-15): its 32 KiB as they were, but every field its map names
 * (core/import/iso_sysarea.h writes the map) recomputed for this layout.
 *
 * How each field is derived:
 *   - a field that pointed at a boot image or a file (a partition over the
 *     EFI image, the isohybrid / GRUB 2 boot file address at byte 432)
 *     follows that image's new sector (start) or its end (start + size,
 *     rounded up to the field's block), plus the constant it had;
 *   - a field that pointed near the image's end (a partition to the end,
 *     the GPT's last usable block and backup header LBA) keeps its
 *     distance from the new end; the image gets the room that needs after
 *     its data (the map's "tail"), and one sector more, so that a gap
 *     partition between the last image and the backup GPT stays non-empty;
 *   - a size is the new end minus the new start;
 *   - MBR CHS fields that were isohybrid's geometry (64 heads, 32 sectors;
 *     gpt.h) are computed again from the new LBAs, others stay;
 *   - GPT (UEFI 2.x 5.3.2): the entry array's and the header's CRC32 are
 *     computed again, and the backup GPT (5.3.2: the header with my LBA and
 *     alternate LBA swapped and the entry array LBA pointing at the backup
 *     array right before it) is written at the image's end;
 *   - the APM (Apple partition map, "Inside Macintosh: Devices") has no
 *     checksums: its entries' first block, block count and data count are
 *     the fields.
 * Everything else (boot code, disk signature and GUIDs, names, types) is
 * carried as it was.  A map that names something this image lacks, or a
 * field that no longer fits, fails the layout with a message. */
#include "iso_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "gpt.h"
#include "tsmedia/log.h"

#define SA_BYTES TSM_ISO_SYSTEM_AREA_BYTES
#define SA_MAX_ANCHORS 256u
#define SA_MAX_FIELDS 4096u
#define SA_MAX_TAIL_SECTORS 255u /* below UDF's anchor at N - 256 */

enum sa_ref_kind { REF_ABS, REF_IMG, REF_START, REF_END };

struct sa_ref {
	enum sa_ref_kind kind;
	unsigned anchor;
	int64_t delta;
};

struct sa_field {
	bool count; /* (b) - (a), else (a) */
	uint32_t off, unit;
	uint8_t width;
	bool be;
	struct sa_ref a, b;
};

struct sa_plan {
	struct iso_node *anchors[SA_MAX_ANCHORS];
	struct sa_field *fields;
	size_t nfields;
	uint32_t chs[4];
	size_t nchs;
	uint32_t gpt; /* the GPT header's byte offset, or 0 */
	uint32_t tail_sectors;
};

static int bad_map(const char *what, unsigned line)
{
	tsm_error("the imported system area's map is damaged (line %u: %s)", line, what);
	return -EINVAL;
}

static bool parse_ref(const char *tok, long long delta, struct sa_plan *p, struct sa_ref *r)
{
	char *end;
	unsigned long n;

	r->delta = delta;
	if (strcmp(tok, "abs") == 0) {
		r->kind = REF_ABS;
		return true;
	}
	if (strcmp(tok, "img") == 0) {
		r->kind = REF_IMG;
		return true;
	}
	if (tok[0] != 's' && tok[0] != 'e')
		return false;
	n = strtoul(tok + 1, &end, 10);
	if (*end || end == tok + 1 || n >= SA_MAX_ANCHORS || !p->anchors[n])
		return false;
	r->kind = tok[0] == 's' ? REF_START : REF_END;
	r->anchor = (unsigned)n;
	return true;
}

static struct iso_node *anchor_node(struct iso_ctx *ctx, const char *kind, const char *path)
{
	struct tsm_tree_node *t;

	if (strcmp(kind, "bios") == 0)
		return ctx->bios_boot;
	if (strcmp(kind, "uefi") == 0)
		return ctx->uefi_boot;
	if (strcmp(kind, "file") != 0 || !path || !(t = tsm_tree_lookup(ctx->tree, path)) ||
	    t->type != TSM_ENTRY_FILE || !t->writer_data)
		return NULL;
	return t->writer_data;
}

static int parse_line(struct iso_ctx *ctx, struct sa_plan *p, char *s, unsigned line)
{
	char kind[16], t1[24], t2[24], endian[4];
	unsigned off, width, unit, n;
	long long d1, d2;
	int used = 0;

	if (sscanf(s, "anchor %u %15s %n", &n, kind, &used) == 2) {
		char *path = strcmp(kind, "file") == 0 ? s + used : NULL;

		if (n >= SA_MAX_ANCHORS)
			return bad_map("anchor number", line);
		if (!(p->anchors[n] = anchor_node(ctx, kind, path)) || p->anchors[n]->dir ||
		    p->anchors[n]->symlink || !p->anchors[n]->size) {
			if (path)
				tsm_error("the imported system area has a partition over file '%s',"
					  " which this image does not have: it cannot be carried over",
					  path);
			else
				tsm_error("the imported system area has a partition over the %s boot"
					  " image, which this image does not have: it cannot be carried"
					  " over", kind);
			return -EINVAL;
		}
		return 0;
	}
	if (sscanf(s, "tail %lld", &d1) == 1) {
		if (d1 < 0 || d1 > (long long)SA_MAX_TAIL_SECTORS * ISO_SECTOR)
			return bad_map("tail", line);
		/* One sector more: a gap partition between the last image and
		 * the backup GPT stays non-empty. */
		p->tail_sectors = (uint32_t)((d1 + ISO_SECTOR - 1) / ISO_SECTOR + (d1 ? 1 : 0));
		if (p->tail_sectors > SA_MAX_TAIL_SECTORS)
			return bad_map("tail", line);
		return 0;
	}
	if (sscanf(s, "chs %u", &off) == 1) {
		if (p->nchs == 4 || off < 446 || off > 446 + 48 || (off - 446) % 16)
			return bad_map("chs", line);
		p->chs[p->nchs++] = off;
		return 0;
	}
	if (sscanf(s, "gpt %u", &off) == 1) {
		if (off != 512)
			return bad_map("gpt", line);
		p->gpt = off;
		return 0;
	}
	if (strncmp(s, "pos ", 4) == 0 || strncmp(s, "count ", 6) == 0) {
		struct sa_field f = { .count = s[0] == 'c' };
		int got = f.count ? sscanf(s, "count %u %u %3s %u %23s %lld %23s %lld", &off, &width,
					   endian, &unit, t1, &d1, t2, &d2)
				  : sscanf(s, "pos %u %u %3s %u %23s %lld", &off, &width, endian, &unit,
					   t1, &d1);

		if (got != (f.count ? 8 : 6) || (width != 4 && width != 8) || off > SA_BYTES - width ||
		    (strcmp(endian, "le") && strcmp(endian, "be")) || (width == 8 && endian[0] == 'b') ||
		    unit < 512 || unit > 4096 ||
		    (unit & (unit - 1)) || !parse_ref(t1, d1, p, &f.a) ||
		    (f.count && !parse_ref(t2, d2, p, &f.b)) || p->nfields >= SA_MAX_FIELDS)
			return bad_map("field", line);
		f.off = off;
		f.width = (uint8_t)width;
		f.be = endian[0] == 'b';
		f.unit = unit;
		if (p->nfields % 64 == 0) {
			void *q = realloc(p->fields, (p->nfields + 64) * sizeof(*p->fields));

			if (!q)
				return -ENOMEM;
			p->fields = q;
		}
		p->fields[p->nfields++] = f;
		return 0;
	}
	return bad_map("unknown", line);
}

void sysarea_free(struct iso_ctx *ctx)
{
	if (ctx->sa) {
		free(ctx->sa->fields);
		free(ctx->sa);
		ctx->sa = NULL;
	}
}

int sysarea_prepare(struct iso_ctx *ctx)
{
	const char *map = ctx->opts->system_area_map;
	char *copy, *s, *next;
	unsigned line = 1;
	int rc = 0;

	if (!ctx->opts->system_area || !map)
		return 0;
	if (strncmp(map, "tsmedia-system-area 1\n", 22) != 0)
		return bad_map("version", 1);
	if (!(ctx->sa = calloc(1, sizeof(*ctx->sa))) || !(copy = strdup(map + 22))) {
		free(ctx->sa);
		ctx->sa = NULL;
		return -ENOMEM;
	}
	for (s = copy; rc == 0 && s && *s; s = next) {
		line++;
		if ((next = strchr(s, '\n')))
			*next++ = '\0';
		rc = parse_line(ctx, ctx->sa, s, line);
	}
	free(copy);
	if (rc < 0)
		sysarea_free(ctx);
	return rc;
}

uint32_t sysarea_tail_sectors(const struct iso_ctx *ctx)
{
	return ctx->sa ? ctx->sa->tail_sectors : 0;
}

/* A reference's block of @unit bytes in this layout. */
static int ref_value(struct iso_ctx *ctx, const struct sa_ref *r, uint32_t unit, int64_t *v)
{
	const struct iso_node *n;
	uint64_t at;

	switch (r->kind) {
	case REF_ABS:
		*v = r->delta;
		return 0;
	case REF_IMG:
		*v = (int64_t)((uint64_t)ctx->total_sectors * ISO_SECTOR / unit) + r->delta;
		return 0;
	default:
		n = ctx->sa->anchors[r->anchor];
		at = (uint64_t)n->data_lba * ISO_SECTOR;
		if (r->kind == REF_START && at % unit) {
			tsm_error("the imported system area counts in blocks of %u bytes: a boot image"
				  " at sector %u does not start on one", unit, n->data_lba);
			return -EINVAL;
		}
		if (r->kind == REF_END)
			at += n->size + unit - 1;
		*v = (int64_t)(at / unit) + r->delta;
		return 0;
	}
}

static int apply_field(struct iso_ctx *ctx, uint8_t *sa, const struct sa_field *f)
{
	int64_t a, b, v;
	int rc;

	if ((rc = ref_value(ctx, &f->a, f->unit, &a)) < 0 ||
	    (f->count && (rc = ref_value(ctx, &f->b, f->unit, &b)) < 0))
		return rc;
	v = f->count ? b - a : a;
	if (v < 0 || (f->count && v == 0) || (f->width == 4 && v > (int64_t)UINT32_MAX)) {
		tsm_error("the imported system area's field at byte %u comes out as %lld in this"
			  " layout: it cannot be carried over", f->off, (long long)v);
		return -EINVAL;
	}
	if (f->width == 8)
		le64_set(sa + f->off, (uint64_t)v);
	else if (f->be)
		be32_set(sa + f->off, (uint32_t)v);
	else
		le32_set(sa + f->off, (uint32_t)v);
	return 0;
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_le64(const uint8_t *p)
{
	return (uint64_t)get_le32(p) | (uint64_t)get_le32(p + 4) << 32;
}

/* CHS that were isohybrid's geometry for the old LBAs follow the new ones. */
static void apply_chs(const uint8_t *old, uint8_t *sa, uint32_t off)
{
	uint64_t os = get_le32(old + off + 8), oc = get_le32(old + off + 12);
	uint64_t ns = get_le32(sa + off + 8), nc = get_le32(sa + off + 12);
	uint8_t chs[3];

	mbr_chs(chs, os);
	if (memcmp(chs, old + off + 1, 3) == 0)
		mbr_chs(sa + off + 1, ns);
	mbr_chs(chs, os + oc - 1);
	if (oc && nc && memcmp(chs, old + off + 5, 3) == 0)
		mbr_chs(sa + off + 5, ns + nc - 1);
}

/* UEFI 2.x 5.3.2: CRCs of the primary GPT, then the backup at its
 * alternate LBA. */
static int write_gpt(struct iso_ctx *ctx, uint8_t *sa, uint32_t off)
{
	uint8_t *h = sa + off, *tail;
	uint32_t hsize = get_le32(h + 12), count = get_le32(h + 80), esize = get_le32(h + 84);
	uint64_t array = get_le64(h + 72), alt = get_le64(h + 32), blocks, backup_array;
	uint64_t bytes = (uint64_t)count * esize;

	if (hsize < 92 || hsize > 512 || esize < 128 || array < 2 || array > SA_BYTES / 512 ||
	    bytes > SA_BYTES - array * 512)
		return bad_map("GPT header", 0);
	blocks = (bytes + 511) / 512;
	le32_set(h + 88, iso_crc32(sa + array * 512, (size_t)bytes));
	le32_set(h + 16, 0);
	le32_set(h + 16, iso_crc32(h, hsize));
	backup_array = alt - blocks;
	if (alt < blocks || backup_array * 512 < (uint64_t)ctx->data_end * ISO_SECTOR ||
	    (alt + 1) * 512 > (uint64_t)ctx->total_sectors * ISO_SECTOR) {
		tsm_error("the imported system area's backup GPT (block %llu) does not fit after"
			  " the data in this layout", (unsigned long long)alt);
		return -EINVAL;
	}
	if (!(tail = tsm_image_builder_meta(ctx->b, backup_array * 512, (size_t)(blocks + 1) * 512)))
		return -ENOMEM;
	memcpy(tail, sa + array * 512, (size_t)bytes);
	h = tail + blocks * 512;
	memcpy(h, sa + off, hsize);
	le64_set(h + 24, alt);
	le64_set(h + 32, 1);
	le64_set(h + 72, backup_array);
	le32_set(h + 16, 0);
	le32_set(h + 16, iso_crc32(h, hsize));
	return 0;
}

int sysarea_write(struct iso_ctx *ctx)
{
	const uint8_t *old = ctx->opts->system_area;
	uint8_t *sa;
	int rc;

	if (!ctx->sa)
		return 0;
	if (!(sa = tsm_image_builder_meta(ctx->b, 0, SA_BYTES)))
		return -ENOMEM;
	memcpy(sa, old, SA_BYTES);
	for (size_t i = 0; i < ctx->sa->nfields; i++)
		if ((rc = apply_field(ctx, sa, &ctx->sa->fields[i])) < 0)
			return rc;
	for (size_t i = 0; i < ctx->sa->nchs; i++)
		apply_chs(old, sa, ctx->sa->chs[i]);
	return ctx->sa->gpt ? write_gpt(ctx, sa, ctx->sa->gpt) : 0;
}
