/* Rock Ridge: IEEE P1281 (SUSP 1.12) entries carrying RRIP 1.10 ("RRIP_1991A")
 * POSIX semantics in the system use area of ECMA-119 directory records.
 *
 *   SP  SUSP 5.3   first entry of the root's "." record: SUSP is in use
 *   ER  SUSP 5.5   in the root's "." record: which extension (RRIP_1991A)
 *   CE  SUSP 5.1   where a record's entries continue when 255 bytes are not
 *                  enough (long names, symlink targets, the ER text)
 *   PX  RRIP 4.1.1 mode, links, uid, gid (the 36-byte RRIP 1.10 form)
 *   TF  RRIP 4.1.6 modify, access and attribute-change times
 *   NM  RRIP 4.1.4 the real name, split with CONTINUE above 250 bytes
 *   SL  RRIP 4.1.3 a symbolic link's target as component records
 *
 * A continuation area lives in one sector (readers such as Linux refuse
 * areas crossing a block); when a record needs more, the area ends with
 * another CE. */
#include "iso_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"

#define CE_LEN 28
#define NM_MAX 250 /* 255 minus the 5-byte header */
#define SL_MAX 250

static const char er_id[] = "RRIP_1991A";
static const char er_des[] =
	"THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS";
static const char er_src[] =
	"PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN "
	"PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.";

struct susp_buf {
	uint8_t *p;
	size_t len;
};

static uint8_t *entry(struct susp_buf *b, const char sig[2], size_t len)
{
	uint8_t *e = b->p + b->len;

	e[0] = (uint8_t)sig[0];
	e[1] = (uint8_t)sig[1];
	e[2] = (uint8_t)len;
	e[3] = 1; /* SUSP entry version */
	b->len += len;
	return e;
}

/* RRIP 4.1.3.1: one component record (flags, length, content). */
static void sl_component(struct susp_buf *b, uint8_t **sl, uint8_t flags, const char *c,
			 size_t len)
{
	if (*sl && (*sl)[2] + 2 + len > 255) {
		(*sl)[4] |= 0x01; /* the link continues in the next SL */
		*sl = NULL;
	}
	if (!*sl) {
		*sl = entry(b, "SL", 5);
		(*sl)[4] = 0;
	}
	b->p[b->len] = flags;
	b->p[b->len + 1] = (uint8_t)len;
	memcpy(b->p + b->len + 2, c, len);
	b->len += 2 + len;
	(*sl)[2] = (uint8_t)((*sl)[2] + 2 + len);
}

static void sl_entries(struct susp_buf *b, const char *target)
{
	uint8_t *sl = NULL;
	const char *s = target;

	if (*s == '/') {
		sl_component(b, &sl, 0x08, "", 0); /* ROOT */
		s += strspn(s, "/");
	}
	while (*s) {
		size_t len = strcspn(s, "/");

		if (len == 1 && s[0] == '.') {
			sl_component(b, &sl, 0x02, "", 0); /* CURRENT */
		} else if (len == 2 && s[0] == '.' && s[1] == '.') {
			sl_component(b, &sl, 0x04, "", 0); /* PARENT */
		} else {
			const char *c = s;
			size_t left = len;

			/* A component longer than one record continues (bit 0). */
			while (left > SL_MAX - 2) {
				sl_component(b, &sl, 0x01, c, SL_MAX - 2);
				c += SL_MAX - 2;
				left -= SL_MAX - 2;
			}
			sl_component(b, &sl, 0, c, left);
		}
		s += len;
		s += strspn(s, "/");
	}
	if (!sl) /* an empty target: one empty component */
		sl_component(b, &sl, 0, "", 0);
}

static int susp_reserve(struct iso_ctx *ctx, size_t need)
{
	if (need > ctx->susp_cap) {
		void *p = realloc(ctx->susp, need);

		if (!p)
			return -ENOMEM;
		ctx->susp = p;
		ctx->susp_cap = need;
	}
	return 0;
}

/* Bytes of whole entries from @off that fit in @cap, keeping room for a CE
 * when not everything fits (*more). */
static size_t chunk_len(const uint8_t *e, size_t len, size_t off, size_t cap, bool *more)
{
	size_t n = 0;

	if (len - off <= cap) {
		*more = false;
		return len - off;
	}
	while (off + n < len && n + e[off + n + 2] + CE_LEN <= cap)
		n += e[off + n + 2];
	*more = true;
	return n;
}

static void ce_entry(uint8_t *p, uint32_t lba, uint32_t off, uint32_t len)
{
	p[0] = 'C';
	p[1] = 'E';
	p[2] = CE_LEN;
	p[3] = 1;
	iso_set_733(p + 4, lba);
	iso_set_733(p + 12, off);
	iso_set_733(p + 20, len);
}

/* Places entries: into the record, then into continuation areas taken from
 * ctx->ce_cursor (the same sequence while sizing and while writing). */
static size_t susp_place(struct iso_ctx *ctx, const uint8_t *e, size_t len, uint8_t *rec,
			 size_t avail)
{
	bool more;
	size_t in_rec = chunk_len(e, len, 0, avail, &more), off = in_rec, rec_len;
	uint8_t *ce_at;

	if (rec)
		memcpy(rec, e, in_rec);
	rec_len = in_rec + (more ? CE_LEN : 0);
	ce_at = rec ? rec + in_rec : NULL;
	while (more) {
		size_t n = chunk_len(e, len, off, ISO_SECTOR, &more);
		uint32_t clen = (uint32_t)(n + (more ? CE_LEN : 0)), at;

		if (ctx->ce_cursor % ISO_SECTOR + clen > ISO_SECTOR)
			ctx->ce_cursor += ISO_SECTOR - ctx->ce_cursor % ISO_SECTOR;
		at = ctx->ce_cursor;
		ctx->ce_cursor += clen;
		if (ce_at)
			ce_entry(ce_at, ctx->ce_lba + at / ISO_SECTOR, at % ISO_SECTOR, clen);
		if (ctx->ce_buf) {
			memcpy(ctx->ce_buf + at, e + off, n);
			ce_at = ctx->ce_buf + at + n;
		} else {
			ce_at = NULL;
		}
		off += n;
	}
	if (rec_len & 1) { /* keep the record's length even */
		if (rec)
			rec[rec_len] = 0;
		rec_len++;
	}
	return rec_len;
}

static uint32_t posix_mode(const struct iso_node *n)
{
	uint32_t perm = n->t->mode & 07777;

	if (n->dir)
		return 0040000 | perm;
	if (n->symlink)
		return 0120000 | 0777;
	return 0100000 | perm;
}

static size_t scratch_size(size_t namelen, size_t tlen)
{
	/* Generous: headers for every 250 bytes, two bytes per component. */
	return 512 + namelen + 5 * (namelen / NM_MAX + 1) + 3 * tlen + 16;
}

int rr_prepare(struct iso_ctx *ctx)
{
	size_t need = scratch_size(0, 0);

	for (size_t i = 0; i < ctx->nnodes; i++) {
		const struct tsm_tree_node *t = ctx->nodes[i].t;
		size_t s = scratch_size(strlen(t->name), t->link_target ? strlen(t->link_target) : 0);

		if (s > need)
			need = s;
	}
	return susp_reserve(ctx, need);
}

size_t rr_record_su(struct iso_ctx *ctx, struct iso_node *n, enum rr_record which, bool root_dot,
		    uint8_t *su, size_t avail)
{
	size_t namelen = which == RR_NORMAL ? strlen(n->t->name) : 0;
	struct susp_buf b;
	uint8_t *e;

	/* rr_prepare() reserved room for the longest name and target. */
	b.p = ctx->susp;
	b.len = 0;
	if (root_dot) {
		e = entry(&b, "SP", 7);
		e[4] = 0xBE;
		e[5] = 0xEF;
		e[6] = 0; /* LEN_SKP */
	}
	e = entry(&b, "PX", 36);
	iso_set_733(e + 4, posix_mode(n));
	iso_set_733(e + 12, n->dir ? 2 + n->nsubdirs : 1);
	iso_set_733(e + 20, 0);
	iso_set_733(e + 28, 0);
	e = entry(&b, "TF", 5 + 3 * 7);
	e[4] = 0x0E; /* MODIFY, ACCESS, ATTRIBUTES, short (9.1.5) form */
	iso_set_date_9_1_5(e + 5, n->t->mtime_ns);
	iso_set_date_9_1_5(e + 12, n->t->mtime_ns);
	iso_set_date_9_1_5(e + 19, n->t->mtime_ns);
	if (which == RR_NORMAL) {
		const char *name = n->t->name;
		size_t left = namelen;

		do {
			size_t part = left > NM_MAX ? NM_MAX : left;

			e = entry(&b, "NM", 5 + part);
			left -= part;
			e[4] = left ? 0x01 : 0; /* CONTINUE */
			memcpy(e + 5, name, part);
			name += part;
		} while (left);
		if (n->symlink)
			sl_entries(&b, n->t->link_target ? n->t->link_target : "");
	}
	if (root_dot) {
		size_t li = strlen(er_id), ld = strlen(er_des), ls = strlen(er_src);

		e = entry(&b, "ER", 8 + li + ld + ls);
		e[4] = (uint8_t)li;
		e[5] = (uint8_t)ld;
		e[6] = (uint8_t)ls;
		e[7] = 1; /* extension version */
		memcpy(e + 8, er_id, li);
		memcpy(e + 8 + li, er_des, ld);
		memcpy(e + 8 + li + ld, er_src, ls);
	}
	return susp_place(ctx, b.p, b.len, su, avail & ~(size_t)1);
}
