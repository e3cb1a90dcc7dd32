/* ECMA-119 (ISO 9660): names, volume descriptors, path tables, directory
 * records.
 *
 * Names follow level 2/3 rules (ECMA-119 7.5, 7.6, 10.2/10.3): d-characters
 * only (A-Z 0-9 _), files "NAME.EXT;1" with NAME + EXT at most 30
 * characters, directories at most 31 characters and no dot.  Anything else
 * becomes '_', and clashes (including names that differ only in case) get
 * a numbered suffix, so every input tree maps to distinct names.  Rock
 * Ridge and Joliet carry the real names. */
#include "iso_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encode.h"
#include "tsmedia/log.h"

static char dchar(uint32_t c)
{
	if (c >= 'a' && c <= 'z')
		return (char)(c - 'a' + 'A');
	if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')
		return (char)c;
	return '_';
}

static size_t map_part(const char *s, const char *end, char *out, size_t max)
{
	size_t n = 0;

	while (*s && (!end || s < end)) {
		uint32_t c = iso_utf8_next(&s);

		if (n < max)
			out[n++] = dchar(c);
	}
	return n;
}

size_t iso9660_map_name(const char *name, bool dir, unsigned suffix, char *out)
{
	const char *dot = dir ? NULL : strrchr(name, '.');
	size_t max = dir ? ISO_MAX_DIR_NAME : ISO_MAX_FILE_NAME;
	char base[256], ext[256], sfx[16] = "";
	size_t bl, el = 0, sl = 0, n;

	bl = map_part(name, dot, base, sizeof(base));
	if (dot)
		el = map_part(dot + 1, NULL, ext, sizeof(ext));
	if (suffix)
		sl = (size_t)snprintf(sfx, sizeof(sfx), "_%u", suffix);
	if (bl + el + sl > max) {
		/* Keep an extension of up to 10 characters whole: it says what
		 * the file is; the base name gives way. */
		size_t keep = bl + sl < max ? max - bl - sl : 0;

		if (el > keep)
			el = keep > 10 ? keep : (el < 10 ? el : 10);
		if (bl + el + sl > max)
			bl = max - el - sl;
	}
	if (bl + el == 0 && !suffix)
		base[bl++] = '_';
	memcpy(out, base, bl);
	n = bl;
	memcpy(out + n, sfx, sl);
	n += sl;
	if (!dir) {
		out[n++] = '.';
		memcpy(out + n, ext, el);
		n += el;
		memcpy(out + n, ";1", 2);
		n += 2;
	}
	out[n] = '\0';
	return n;
}

/* ECMA-119 9.3: by name, then extension (each padded with spaces, which sort
 * below every d-character), then version. */
int iso9660_name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	for (int part = 0; part < 3; part++) {
		size_t al = strcspn(a, ".;"), bl = strcspn(b, ".;");
		int c;

		if (al > alen)
			al = alen;
		if (bl > blen)
			bl = blen;
		c = memcmp(a, b, al < bl ? al : bl);
		if (c)
			return c;
		if (al != bl)
			return al < bl ? -1 : 1;
		a += al + (al < alen);
		alen -= al + (al < alen);
		b += bl + (bl < blen);
		blen -= bl + (bl < blen);
	}
	return 0;
}

static size_t iso_make(const struct iso_node *n, unsigned suffix, uint8_t *out)
{
	return iso9660_map_name(n->t->name, n->dir, suffix, (char *)out);
}

static void iso_store(struct iso_node *n, const uint8_t *name, size_t len)
{
	memcpy(n->iso_name, name, len);
	n->iso_name[len] = '\0';
	n->iso_len = (uint8_t)len;
}

static int iso_kid_cmp(const void *a, const void *b)
{
	const struct iso_node *x = *(struct iso_node *const *)a, *y = *(struct iso_node *const *)b;

	return iso9660_name_cmp(x->iso_name, x->iso_len, y->iso_name, y->iso_len);
}

int iso9660_prepare(struct iso_ctx *ctx)
{
	static const struct iso_name_ops ops = { iso_make, iso_store };
	size_t head = 0;
	int rc;

	for (size_t i = 0; i < ctx->nnodes; i++) {
		struct iso_node *d = &ctx->nodes[i];

		if (!d->dir)
			continue;
		if (!(d->iso_kids = calloc(d->nkids ? d->nkids : 1, sizeof(*d->iso_kids))))
			return -ENOMEM;
		d->niso_kids = 0;
		for (size_t k = 0; k < d->nkids; k++)
			/* Without Rock Ridge a symlink has nothing to say. */
			if (!d->kids[k]->symlink || ctx->opts->rock_ridge)
				d->iso_kids[d->niso_kids++] = d->kids[k];
		if ((rc = iso_names_unique(d->iso_kids, d->niso_kids, &ops)) < 0)
			return rc;
		qsort(d->iso_kids, d->niso_kids, sizeof(*d->iso_kids), iso_kid_cmp);
	}
	/* ECMA-119 6.9.1 / 9.4: path table order is by level, then parent
	 * number, then identifier: a breadth-first walk of the sorted tree. */
	if (!(ctx->dirs = calloc(ctx->nnodes, sizeof(*ctx->dirs))))
		return -ENOMEM;
	ctx->dirs[ctx->ndirs++] = &ctx->nodes[0];
	while (head < ctx->ndirs) {
		struct iso_node *d = ctx->dirs[head++];

		if (ctx->ndirs > 65535) {
			tsm_error("ISO 9660: more than 65535 directories do not fit a path table");
			return -E2BIG;
		}
		d->pt_num = (uint16_t)head;
		for (size_t k = 0; k < d->niso_kids; k++)
			if (d->iso_kids[k]->dir)
				ctx->dirs[ctx->ndirs++] = d->iso_kids[k];
	}
	ctx->pt_size = 0;
	for (size_t i = 0; i < ctx->ndirs; i++) {
		size_t idl = i == 0 ? 1 : ctx->dirs[i]->iso_len;

		ctx->pt_size += (uint32_t)(8 + idl + (idl & 1));
	}
	return 0;
}

/* ---- directory records ---------------------------------------------- */

/* ECMA-119 9.1:
 *   0 length of directory record       1 extended attribute record length
 *   2 location of extent (7.3.3)      10 data length (7.3.3)
 *  18 recording date and time (9.1.5) 25 file flags
 *  26 file unit size                  27 interleave gap size
 *  28 volume sequence number (7.2.3)  32 length of file identifier
 *  33 file identifier, a padding byte when its length is even, then the
 *     system use area (Rock Ridge). */
size_t iso9660_dir_record(uint8_t *p, uint32_t lba, uint32_t size, int64_t mtime_ns,
			  uint8_t flags, const uint8_t *id, size_t idlen, const uint8_t *su,
			  size_t sulen)
{
	size_t pad = (idlen & 1) ? 0 : 1;
	size_t len = 33 + idlen + pad + sulen;

	if (!p)
		return len;
	p[0] = (uint8_t)len;
	p[1] = 0;
	iso_set_733(p + 2, lba);
	iso_set_733(p + 10, size);
	iso_set_date_9_1_5(p + 18, mtime_ns);
	p[25] = flags;
	p[26] = 0;
	p[27] = 0;
	iso_set_723(p + 28, 1);
	p[32] = (uint8_t)idlen;
	memcpy(p + 33, id, idlen);
	if (pad)
		p[33 + idlen] = 0;
	if (sulen)
		memcpy(p + 33 + idlen + pad, su, sulen);
	return len;
}

#define DR_FLAG_DIR 0x02
#define DR_FLAG_MULTI_EXTENT 0x80

struct dir_writer {
	uint8_t *out;
	uint32_t pos;
};

/* Appends one record; records never cross a sector (ECMA-119 6.8.1.1). */
static void dir_put(struct dir_writer *w, uint32_t lba, uint32_t size, int64_t mtime,
		    uint8_t flags, const uint8_t *id, size_t idlen, const uint8_t *su, size_t sulen)
{
	size_t len = iso9660_dir_record(NULL, lba, size, mtime, flags, id, idlen, su, sulen);

	if (w->pos % ISO_SECTOR + len > ISO_SECTOR)
		w->pos += ISO_SECTOR - w->pos % ISO_SECTOR;
	if (w->out)
		iso9660_dir_record(w->out + w->pos, lba, size, mtime, flags, id, idlen, su, sulen);
	w->pos += (uint32_t)len;
}

static size_t record_su(struct iso_ctx *ctx, struct iso_node *n, enum rr_record which,
			bool root_dot, size_t idlen, bool writing, uint8_t *su)
{
	size_t avail = 255 - (33 + idlen + ((idlen & 1) ? 0 : 1));

	if (!ctx->opts->rock_ridge)
		return 0;
	return rr_record_su(ctx, n, which, root_dot, writing ? su : NULL, avail);
}

uint32_t iso9660_dir_bytes(struct iso_ctx *ctx, struct iso_node *d, bool joliet, uint8_t *out)
{
	static const uint8_t dot = 0, dotdot = 1;
	struct dir_writer w = { .out = out };
	struct iso_node **kids = joliet ? d->jol_kids : d->iso_kids;
	size_t nkids = joliet ? d->njol_kids : d->niso_kids;
	bool rr = !joliet;
	uint8_t su[256] = { 0 };
	size_t sl;

	sl = rr ? record_su(ctx, d, RR_DOT, d == &ctx->nodes[0], 1, out != NULL, su) : 0;
	dir_put(&w, joliet ? d->jdir_lba : d->dir_lba, joliet ? d->jdir_size : d->dir_size,
		d->t->mtime_ns, DR_FLAG_DIR, &dot, 1, su, sl);
	sl = rr ? record_su(ctx, d->parent, RR_DOTDOT, false, 1, out != NULL, su) : 0;
	dir_put(&w, joliet ? d->parent->jdir_lba : d->parent->dir_lba,
		joliet ? d->parent->jdir_size : d->parent->dir_size, d->parent->t->mtime_ns,
		DR_FLAG_DIR, &dotdot, 1, su, sl);
	for (size_t i = 0; i < nkids; i++) {
		struct iso_node *k = kids[i];
		const uint8_t *id = joliet ? k->jol_name : (const uint8_t *)k->iso_name;
		size_t idlen = joliet ? k->jol_len : k->iso_len;
		uint64_t left = k->size, off = 0;

		if (k->dir) {
			sl = rr ? record_su(ctx, k, RR_NORMAL, false, idlen, out != NULL, su) : 0;
			dir_put(&w, joliet ? k->jdir_lba : k->dir_lba,
				joliet ? k->jdir_size : k->dir_size, k->t->mtime_ns, DR_FLAG_DIR, id,
				idlen, su, sl);
			continue;
		}
		/* ECMA-119 6.5.1 / 9.1.6 bit 7: a file of 4 GiB or more is
		 * several records, one per section, all but the last flagged. */
		do {
			uint32_t part = left > ISO_MAX_EXTENT ? ISO_MAX_EXTENT : (uint32_t)left;

			left -= part;
			sl = rr ? record_su(ctx, k, RR_NORMAL, false, idlen, out != NULL, su) : 0;
			dir_put(&w, k->size ? k->data_lba + (uint32_t)(off / ISO_SECTOR) : 0, part,
				k->t->mtime_ns, left ? DR_FLAG_MULTI_EXTENT : 0, id, idlen, su, sl);
			off += part;
		} while (left);
	}
	return (w.pos + ISO_SECTOR - 1) / ISO_SECTOR * ISO_SECTOR;
}

/* ---- path tables ---------------------------------------------------- */

/* ECMA-119 9.4:
 *   0 length of directory identifier   1 extended attribute record length
 *   2 location of extent (7.3.1 / 7.3.2)
 *   6 parent directory number (7.2.1 / 7.2.2)
 *   8 directory identifier, a padding byte when its length is odd. */
int iso9660_write_path_tables(struct iso_ctx *ctx, bool joliet)
{
	uint32_t size = joliet ? ctx->jpt_size : ctx->pt_size;
	struct iso_node **dirs = joliet ? ctx->jdirs : ctx->dirs;
	size_t ndirs = joliet ? ctx->njdirs : ctx->ndirs;
	uint8_t *l = tsm_image_builder_meta(ctx->b, (uint64_t)(joliet ? ctx->jlpt_lba : ctx->lpt_lba) *
						       ISO_SECTOR, size);
	uint8_t *m = tsm_image_builder_meta(ctx->b, (uint64_t)(joliet ? ctx->jmpt_lba : ctx->mpt_lba) *
						       ISO_SECTOR, size);
	size_t pos = 0;

	if (!l || !m)
		return -ENOMEM;
	for (size_t i = 0; i < ndirs; i++) {
		struct iso_node *d = dirs[i];
		static const uint8_t root_id = 0;
		const uint8_t *id = i == 0 ? &root_id
				    : joliet ? d->jol_name : (const uint8_t *)d->iso_name;
		size_t idl = i == 0 ? 1 : joliet ? d->jol_len : d->iso_len;
		uint32_t lba = joliet ? d->jdir_lba : d->dir_lba;
		uint16_t parent = joliet ? d->parent->jpt_num : d->parent->pt_num;

		l[pos] = m[pos] = (uint8_t)idl;
		iso_set_731(l + pos + 2, lba);
		iso_set_732(m + pos + 2, lba);
		iso_set_721(l + pos + 6, parent);
		iso_set_722(m + pos + 6, parent);
		memcpy(l + pos + 8, id, idl);
		memcpy(m + pos + 8, id, idl);
		pos += 8 + idl + (idl & 1);
	}
	return 0;
}

/* ---- volume descriptors --------------------------------------------- */

/* ECMA-119 8.4 (primary) and 8.5 (supplementary; Joliet puts UCS-2 in the
 * identifier fields and the escape sequence %/E, UCS-2 level 3, at 88):
 *    0 type (1 / 2)          1 "CD001"            6 version 1
 *    8 system identifier    40 volume identifier  80 volume space size (7.3.3)
 *   88 escape sequences    120 volume set size   124 volume sequence number
 *  128 logical block size  132 path table size   140 L path table (7.3.1)
 *  144 optional L table    148 M path table (7.3.2) 152 optional M table
 *  156 root directory record (34 bytes)
 *  190 volume set id  318 publisher  446 data preparer  574 application
 *  702 copyright file 739 abstract file 776 bibliographic file
 *  813 creation  830 modification  847 expiration  864 effective (8.4.26.1)
 *  881 file structure version 1 */
void iso9660_write_vd(struct iso_ctx *ctx, uint8_t *p, bool joliet)
{
	const struct tsm_iso_options *o = ctx->opts;
	const char *vol = o->volume_id && *o->volume_id ? o->volume_id : "CDROM";
	struct iso_node *root = &ctx->nodes[0];
	static const uint8_t root_id = 0;
	void (*field)(uint8_t *, size_t, const char *);

	p[0] = joliet ? 2 : 1;
	memcpy(p + 1, "CD001", 5);
	p[6] = 1;
	if (joliet) {
		field = joliet_set_chars;
		joliet_set_chars(p + 8, 32, "");
		joliet_set_chars(p + 40, 32, vol);
		memcpy(p + 88, "%/E", 3);
	} else {
		field = NULL;
		iso_set_achars(p + 8, 32, "", false);
		iso_set_achars(p + 40, 32, ctx->volume_id, true);
	}
	iso_set_733(p + 80, ctx->total_sectors);
	iso_set_723(p + 120, 1);
	iso_set_723(p + 124, 1);
	iso_set_723(p + 128, ISO_SECTOR);
	iso_set_733(p + 132, joliet ? ctx->jpt_size : ctx->pt_size);
	iso_set_731(p + 140, joliet ? ctx->jlpt_lba : ctx->lpt_lba);
	iso_set_732(p + 148, joliet ? ctx->jmpt_lba : ctx->mpt_lba);
	iso9660_dir_record(p + 156, joliet ? root->jdir_lba : root->dir_lba,
			   joliet ? root->jdir_size : root->dir_size, root->t->mtime_ns, DR_FLAG_DIR,
			   &root_id, 1, NULL, 0);
	if (field) {
		field(p + 190, 128, vol);
		field(p + 318, 128, o->publisher ? o->publisher : "");
		field(p + 446, 128, o->preparer ? o->preparer : "");
		field(p + 574, 128, o->application ? o->application : "TSMEDIA");
		field(p + 702, 36, "");
		field(p + 739, 36, "");
		field(p + 776, 36, "");
	} else {
		iso_set_achars(p + 190, 128, ctx->volume_id, true);
		iso_set_achars(p + 318, 128, o->publisher, false);
		iso_set_achars(p + 446, 128, o->preparer, false);
		iso_set_achars(p + 574, 128, o->application ? o->application : "TSMEDIA", false);
		iso_set_achars(p + 702, 37, "", true);
		iso_set_achars(p + 739, 37, "", true);
		iso_set_achars(p + 776, 37, "", true);
	}
	iso_set_date_8_4_26_1(p + 813, o->volume_time_ns);
	iso_set_date_8_4_26_1(p + 830, o->volume_time_ns);
	memset(p + 847, '0', 16); /* 8.4.26.1: all zero digits: not specified */
	memset(p + 864, '0', 16);
	p[881] = 1;
}

/* ECMA-119 8.3: the volume descriptor set terminator. */
void iso9660_write_terminator(uint8_t *p)
{
	p[0] = 255;
	memcpy(p + 1, "CD001", 5);
	p[6] = 1;
}
