/* An imported ISO's system area, read as the partition tables it holds
 * (see iso_sysarea.h for the map this writes).
 *
 * Sources of the structures read here:
 *   MBR: the classic partition table, four 16-byte entries at byte 446 of
 *     LBA 0 (0 status, 1 CHS first, 4 type, 5 CHS last, 8 LE32 first LBA,
 *     12 LE32 sectors), 0x55 0xAA at 510; isohybrid and GRUB 2's MBR keep
 *     the boot image's address in 512-byte blocks as LE64 at 432 (0x1b0),
 *     GRUB 2's plus 4 (xorrisofs(1), --grub2-mbr and -isohybrid-mbr).
 *   GPT: UEFI 2.x section 5.3 (table 5-5 the header: 12 size, 16 CRC32,
 *     24 my LBA, 32 alternate LBA, 40 first usable, 48 last usable, 72
 *     entry array LBA, 80 entries, 84 entry size, 88 array CRC32; table 5-6
 *     an entry: 0 type GUID, 32 first LBA, 40 last LBA inclusive).
 *   APM: Apple's partition map ("Inside Macintosh: Devices", The Partition
 *     Map: block 0 the driver descriptor "ER" with the block size as BE16
 *     at 2; from block 1 one "PM" entry a block: 4 BE32 entries in the
 *     map, 8 BE32 first block, 12 BE32 blocks, 16 name, 48 type, 80 data
 *     start, 84 data blocks, 92 boot code start, 96 boot code bytes), as
 *     xorriso writes it for -isohybrid-apm-hfsplus with 2048-byte blocks
 *     (xorrisofs(1): -apm-block-size).
 * libisofs' summary of the system area (xorriso(1), -report_system_area)
 * names what else a system area may hold (MIPS, SPARC, HP-PA, Alpha boot
 * blocks, CHRP, PReP); those carry addresses this does not know and are
 * refused by name. */
#include "import/iso_sysarea.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "tsmedia/i18n.h"

#define SA TSM_ISO_SYSTEM_AREA
/* How far before the image's end a field may point (the backup GPT and
 * the gap xorriso leaves before it): 256 ISO sectors, what the ISO writer
 * can leave at the end beside UDF's last anchor (ECMA-167 3/8.4.2.1). */
#define TAIL_MAX (256u * 2048u)

enum ref_kind { R_ABS, R_IMG, R_START, R_END };

struct ref {
	enum ref_kind kind;
	size_t anchor;
	int64_t delta; /* blocks */
};

struct desc {
	const uint8_t *sa;
	uint64_t image_size;
	const struct tsm_sa_anchor *anchors;
	size_t nanchors;
	bool *used;
	FILE *out;
	uint64_t tail;
	char *why;     /* the first field that cannot follow, or NULL */
	bool hfsplus;  /* an HFS+ partition was among them */
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static uint32_t be16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/* The first reason, translated (xgettext: --keyword=sa_refuse:2). */
static void sa_refuse(struct desc *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sa_refuse(struct desc *d, const char *fmt, ...)
{
	va_list ap;

	if (d->why)
		return;
	va_start(ap, fmt);
	if (vasprintf(&d->why, _(fmt), ap) < 0)
		d->why = NULL;
	va_end(ap);
}

/* An anchor's first and end (exclusive, rounded up) block of @unit bytes;
 * false when it does not start on a block. */
static bool anchor_blocks(const struct tsm_sa_anchor *a, uint32_t unit, uint64_t *first,
			  uint64_t *end)
{
	if (a->off % unit)
		return false;
	*first = a->off / unit;
	*end = (a->off + a->len + unit - 1) / unit;
	return true;
}

/* What block @v (of @unit bytes; a start, or an exclusive end) is: a place
 * in the system area, a boot image's start or end, or near the image's end.
 * An end tries @prefer's anchor first (a partition over one boot image). */
static bool classify(struct desc *d, uint64_t v, uint32_t unit, const struct ref *prefer,
		     struct ref *out)
{
	uint64_t first, end, img = (d->image_size + unit - 1) / unit;

	if (prefer && prefer->kind == R_START && prefer->delta == 0 &&
	    anchor_blocks(&d->anchors[prefer->anchor], unit, &first, &end) && v == end) {
		*out = (struct ref){ R_END, prefer->anchor, 0 };
		return true;
	}
	if (v <= SA / unit) {
		*out = (struct ref){ R_ABS, 0, (int64_t)v };
		return true;
	}
	for (size_t i = 0; i < d->nanchors; i++) {
		if (strcmp(d->anchors[i].kind, "file") == 0 ||
		    !anchor_blocks(&d->anchors[i], unit, &first, &end))
			continue;
		if (v == first || v == end) {
			*out = (struct ref){ v == first ? R_START : R_END, i, 0 };
			return true;
		}
	}
	if (v <= img && (img - v) * unit <= TAIL_MAX) {
		*out = (struct ref){ R_IMG, 0, -(int64_t)(img - v) };
		return true;
	}
	return false;
}

/* A partition [@first, @end) of @unit-byte blocks that is exactly one boot
 * image or file of the tree (xorriso's "partition path"). */
static bool exact_range(struct desc *d, uint64_t first, uint64_t end, uint32_t unit,
			struct ref *rs, struct ref *re)
{
	uint64_t f, e;

	for (size_t i = 0; i < d->nanchors; i++)
		if (anchor_blocks(&d->anchors[i], unit, &f, &e) && f == first && e == end) {
			*rs = (struct ref){ R_START, i, 0 };
			*re = (struct ref){ R_END, i, 0 };
			return true;
		}
	return false;
}

/* A partition [@first, @end): both ends classified, or exactly a file. */
static bool classify_range(struct desc *d, uint64_t first, uint64_t end, uint32_t unit,
			   struct ref *rs, struct ref *re)
{
	if (classify(d, first, unit, NULL, rs) && classify(d, end, unit, rs, re))
		return true;
	return exact_range(d, first, end, unit, rs, re);
}

static const char *ref_name(struct desc *d, const struct ref *r, char buf[32])
{
	switch (r->kind) {
	case R_ABS: return "abs";
	case R_IMG: return "img";
	default:
		d->used[r->anchor] = true;
		snprintf(buf, 32, "%c%zu", r->kind == R_START ? 's' : 'e', r->anchor);
		return buf;
	}
}

static void note_tail(struct desc *d, const struct ref *r, uint32_t unit)
{
	if (r->kind == R_IMG && r->delta < 0 && (uint64_t)-r->delta * unit > d->tail)
		d->tail = (uint64_t)-r->delta * unit;
}

/* field at @off = @r + @adjust */
static void put_pos(struct desc *d, size_t off, int width, const char *endian, uint32_t unit,
		    const struct ref *r, int64_t adjust)
{
	char b[32];

	if (r->kind == R_ABS)
		return; /* stays as it is */
	note_tail(d, r, unit);
	fprintf(d->out, "pos %zu %d %s %u %s %lld\n", off, width, endian, unit, ref_name(d, r, b),
		(long long)(r->delta + adjust));
}

/* field at @off = @re - @rs */
static void put_count(struct desc *d, size_t off, int width, const char *endian, uint32_t unit,
		      const struct ref *rs, const struct ref *re)
{
	char b1[32], b2[32];

	if (rs->kind == R_ABS && re->kind == R_ABS)
		return;
	note_tail(d, rs, unit);
	note_tail(d, re, unit);
	fprintf(d->out, "count %zu %d %s %u %s %lld %s %lld\n", off, width, endian, unit,
		ref_name(d, rs, b1), (long long)rs->delta, ref_name(d, re, b2),
		(long long)re->delta);
}

/* ---- MBR ------------------------------------------------------------- */

static void describe_mbr(struct desc *d)
{
	const uint8_t *sa = d->sa;

	for (int i = 0; i < 4; i++) {
		size_t off = 446 + 16 * (size_t)i;
		const uint8_t *p = sa + off;
		uint64_t first = le32(p + 8), count = le32(p + 12);
		struct ref rs, re;

		/* No partition; or a protective one as large as 32 bits hold
		 * (UEFI 2.x 5.2.3: 0xFFFFFFFF when the disk is larger). */
		if (all_zero(p, 16) || count == 0 || count == 0xFFFFFFFFu)
			continue;
		if (!classify_range(d, first, first + count, 512, &rs, &re)) {
			sa_refuse(d, "MBR partition %d (type 0x%02x) covers blocks %llu-%llu of 512"
			       " bytes, which are neither a boot image nor a file of the image, nor"
			       " reach its end", i + 1, p[4], (unsigned long long)first,
			       (unsigned long long)(first + count - 1));
			continue;
		}
		put_pos(d, off + 8, 4, "le", 512, &rs, 0);
		put_count(d, off + 12, 4, "le", 512, &rs, &re);
		if (rs.kind != R_ABS || re.kind != R_ABS)
			fprintf(d->out, "chs %zu\n", off);
	}
	/* isohybrid / GRUB 2: the BIOS boot image's first 512-byte block (GRUB
	 * 2: plus 4) as LE64 at 432. */
	for (size_t i = 0; i < d->nanchors; i++) {
		uint64_t first, end, v = le64(sa + 432);

		if (strcmp(d->anchors[i].kind, "bios") != 0 ||
		    !anchor_blocks(&d->anchors[i], 512, &first, &end))
			continue;
		if (v == first || v == first + 4) {
			struct ref r = { R_START, i, 0 };

			put_pos(d, 432, 8, "le", 512, &r, (int64_t)(v - first));
		}
	}
}

/* ---- GPT (UEFI 2.x 5.3) ---------------------------------------------- */

static const uint8_t gpt_type_hfsplus[16] = { 0x00, 0x53, 0x46, 0x48, 0x00, 0x00, 0xaa, 0x11,
					      0xaa, 0x11, 0x00, 0x30, 0x65, 0x43, 0xec, 0xac };

static uint32_t gpt_crc(const uint8_t *p, size_t n)
{
	return (uint32_t)crc32(crc32(0L, Z_NULL, 0), p, (uInt)n);
}

static void describe_gpt(struct desc *d)
{
	const uint8_t *h = d->sa + 512;
	uint32_t hsize = le32(h + 12), count = le32(h + 80), esize = le32(h + 84);
	uint64_t array = le64(h + 72), alt = le64(h + 32), last = le64(h + 48);
	uint8_t copy[512];
	struct ref r;

	/* 5.3.2: the header is 92 bytes up to a block; its CRC32 is over the
	 * header with the CRC field zero. */
	if (hsize < 92 || hsize > 512) {
		sa_refuse(d, "its GPT header says it is %u bytes (92 to 512)", hsize);
		return;
	}
	memcpy(copy, h, hsize);
	memset(copy + 16, 0, 4);
	if (gpt_crc(copy, hsize) != le32(h + 16) || le64(h + 24) != 1) {
		sa_refuse(d, "its GPT header is damaged (CRC32 or its own LBA wrong)");
		return;
	}
	/* Entries of 128 x 2^n bytes (5.3.2); all of them in the system area. */
	if (esize < 128 || esize % 128 || (esize & (esize - 1)) || count > SA / esize ||
	    array < 2 || array > SA / 512 || (uint64_t)count * esize > SA - array * 512) {
		sa_refuse(d, "its GPT entry array (%u entries of %u bytes at block %llu) is not in the"
		       " system area", count, esize, (unsigned long long)array);
		return;
	}
	if (gpt_crc(d->sa + array * 512, (size_t)count * esize) != le32(h + 88)) {
		sa_refuse(d, "its GPT entry array is damaged (CRC32 wrong)");
		return;
	}
	/* The backup header is the image's last block; the last usable block
	 * comes some blocks before it. */
	if (!classify(d, alt + 1, 512, NULL, &r) || r.kind != R_IMG) {
		sa_refuse(d, "its backup GPT header (block %llu) is not near the image's end",
		       (unsigned long long)alt);
		return;
	}
	put_pos(d, 512 + 32, 8, "le", 512, &r, -1);
	/* The backup array lies right before the backup header. */
	{
		uint64_t need = ((uint64_t)-r.delta + ((uint64_t)count * esize + 511) / 512) * 512;

		if (need > TAIL_MAX) {
			sa_refuse(d, "its backup GPT would need %llu bytes at the image's end",
			       (unsigned long long)need);
			return;
		}
		if (need > d->tail)
			d->tail = need;
	}
	if (!classify(d, last + 1, 512, NULL, &r)) {
		sa_refuse(d, "its GPT's last usable block (%llu) is not near the image's end",
		       (unsigned long long)last);
		return;
	}
	put_pos(d, 512 + 48, 8, "le", 512, &r, -1);
	if (!classify(d, le64(h + 40), 512, NULL, &r)) {
		sa_refuse(d, "its GPT's first usable block (%llu) is not in the system area",
		       (unsigned long long)le64(h + 40));
		return;
	}
	put_pos(d, 512 + 40, 8, "le", 512, &r, 0);
	for (uint32_t i = 0; i < count; i++) {
		size_t off = (size_t)(array * 512 + (uint64_t)i * esize);
		const uint8_t *e = d->sa + off;
		uint64_t first = le64(e + 32), elast = le64(e + 40);
		struct ref rs, re;

		if (all_zero(e, 16))
			continue;
		if (elast < first || elast == UINT64_MAX) {
			sa_refuse(d, "GPT partition %u ends (block %llu) before it starts (%llu)", i + 1,
			       (unsigned long long)elast, (unsigned long long)first);
			continue;
		}
		/* An HFS+ partition holds a file system whose extents point at
		 * the image's blocks: it follows only when it is one image. */
		if (memcmp(e, gpt_type_hfsplus, 16) == 0 &&
		    !exact_range(d, first, elast + 1, 512, &rs, &re)) {
			d->hfsplus = true;
			sa_refuse(d, "GPT partition %u is an HFS+ file system (blocks %llu-%llu of 512"
			       " bytes)", i + 1, (unsigned long long)first, (unsigned long long)elast);
			continue;
		}
		if (!classify_range(d, first, elast + 1, 512, &rs, &re)) {
			sa_refuse(d, "GPT partition %u covers blocks %llu-%llu of 512 bytes, which are"
			       " neither a boot image nor a file of the image, nor reach its end",
			       i + 1, (unsigned long long)first, (unsigned long long)elast);
			continue;
		}
		put_pos(d, off + 32, 8, "le", 512, &rs, 0);
		put_pos(d, off + 40, 8, "le", 512, &re, -1);
	}
	fprintf(d->out, "gpt 512\n");
}

/* ---- APM ------------------------------------------------------------- */

static void describe_apm(struct desc *d, uint32_t bs)
{
	uint32_t n = be32(d->sa + bs + 4);

	if (n == 0 || n >= SA / bs) {
		sa_refuse(d, "its Apple partition map has %u entries of %u bytes: not all in the"
		       " system area", n, bs);
		return;
	}
	for (uint32_t i = 1; i <= n; i++) {
		size_t off = (size_t)i * bs;
		const uint8_t *e = d->sa + off;
		uint64_t first = be32(e + 8), count = be32(e + 12);
		char type[33];
		struct ref rs, re;

		memcpy(type, e + 48, 32);
		type[32] = '\0';
		if (e[0] != 'P' || e[1] != 'M') {
			sa_refuse(d, "Apple partition map entry %u is not one (no \"PM\")", i);
			return;
		}
		if (strcmp(type, "Apple_HFS") == 0 &&
		    !exact_range(d, first, first + count, bs, &rs, &re)) {
			d->hfsplus = true;
			sa_refuse(d, "Apple partition map entry %u is an HFS+ file system (blocks"
			       " %llu-%llu of %u bytes)", i, (unsigned long long)first,
			       (unsigned long long)(first + count - 1), bs);
			continue;
		}
		if (!classify_range(d, first, first + count, bs, &rs, &re)) {
			sa_refuse(d, "Apple partition map entry %u (%s) covers blocks %llu-%llu of %u"
			       " bytes, which are neither a boot image nor a file of the image, nor"
			       " reach its end", i, type, (unsigned long long)first,
			       (unsigned long long)(first + count - 1), bs);
			continue;
		}
		if (rs.kind == R_ABS && re.kind == R_ABS)
			continue;
		/* Data blocks as many as the partition's, no boot code fields:
		 * what xorriso writes; anything else would not follow. */
		if (be32(e + 80) != 0 || be32(e + 84) != count || !all_zero(e + 92, 28)) {
			sa_refuse(d, "Apple partition map entry %u (%s) has data or boot code fields"
			       " that would not follow a new layout", i, type);
			continue;
		}
		put_pos(d, off + 8, 4, "be", bs, &rs, 0);
		put_count(d, off + 12, 4, "be", bs, &rs, &re);
		put_count(d, off + 84, 4, "be", bs, &rs, &re);
	}
}

/* ---- the whole ------------------------------------------------------- */

/* xorriso(1) -report_system_area: the words of its summary this knows. */
static const char *unknown_kind(const char *summary, char *word, size_t size)
{
	static const char *const known[] = { "MBR", "protective-msdos-label", "isohybrid",
					     "grub2-mbr", "cyl-align-on", "cyl-align-off",
					     "cyl-align-all", "GPT", "APM" };
	const char *p = summary;

	while (p && *p) {
		size_t len = strcspn(p, " ");
		bool ok = false;

		for (size_t i = 0; i < sizeof(known) / sizeof(known[0]) && !ok; i++)
			ok = strlen(known[i]) == len && memcmp(known[i], p, len) == 0;
		if (len && !ok) {
			snprintf(word, size, "%.*s", (int)len, p);
			return word;
		}
		p += len;
		p += strspn(p, " ");
	}
	return NULL;
}

int tsm_iso_sysarea_describe(const uint8_t *sa, uint64_t image_size, const char *summary,
			     const struct tsm_sa_anchor *anchors, size_t nanchors, char **map_ret,
			     char **why_ret)
{
	struct desc d = { .sa = sa, .image_size = image_size, .anchors = anchors,
			  .nanchors = nanchors };
	char *body = NULL, *map = NULL, word[64];
	size_t body_len = 0, map_len = 0;
	FILE *f;
	int rc;

	*map_ret = *why_ret = NULL;
	if (all_zero(sa, SA))
		return TSM_SA_EMPTY;
	if (unknown_kind(summary, word, sizeof(word))) {
		if (asprintf(why_ret, _("its system area holds '%s' (as xorriso calls it), which"
				       " tsmedia does not carry over"), word) < 0)
			return -ENOMEM;
		return TSM_SA_REFUSED;
	}
	if (!(d.used = calloc(nanchors ? nanchors : 1, sizeof(*d.used))))
		return -ENOMEM;
	if (!(d.out = open_memstream(&body, &body_len))) {
		free(d.used);
		return -ENOMEM;
	}
	if (sa[510] == 0x55 && sa[511] == 0xaa)
		describe_mbr(&d);
	if (memcmp(sa + 512, "EFI PART", 8) == 0)
		describe_gpt(&d);
	/* An APM: "ER" and a block size, then "PM" in block 1 (with a GPT at
	 * byte 512 the blocks are larger than that). */
	if (sa[0] == 'E' && sa[1] == 'R') {
		uint32_t bs = be16(sa + 2);

		if ((bs == 512 || bs == 1024 || bs == 2048 || bs == 4096) && sa[bs] == 'P' &&
		    sa[bs + 1] == 'M')
			describe_apm(&d, bs);
	}
	if (fclose(d.out) != 0) {
		free(body);
		free(d.used);
		free(d.why);
		return -ENOMEM;
	}
	if (d.why) {
		*why_ret = d.why;
		rc = d.hfsplus ? TSM_SA_HFSPLUS : TSM_SA_REFUSED;
		goto out;
	}
	if (!(f = open_memstream(&map, &map_len))) {
		rc = -ENOMEM;
		goto out;
	}
	/* The backup GPT and what follows it: whole ISO sectors. */
	fprintf(f, "tsmedia-system-area 1\ntail %llu\n", (unsigned long long)d.tail);
	for (size_t i = 0; i < nanchors; i++) {
		if (!d.used[i])
			continue;
		if (strcmp(anchors[i].kind, "file") == 0)
			fprintf(f, "anchor %zu file %s\n", i, anchors[i].path);
		else
			fprintf(f, "anchor %zu %s\n", i, anchors[i].kind);
	}
	fputs(body ? body : "", f);
	if (fclose(f) != 0) {
		free(map);
		rc = -ENOMEM;
		goto out;
	}
	*map_ret = map;
	rc = TSM_SA_MAPPED;
out:
	free(body);
	free(d.used);
	return rc;
}
