/* Checking an ISO 9660 image's directory records before libiso9660 reads
 * them: libcdio 2.1.0 copies a record's file identifier without checking
 * that it stays inside the record or its sector (fixed upstream later), so
 * a hostile record makes it read past its buffer.  Here every directory
 * of every tree libiso9660 may read is walked once, breadth first, and
 * each record checked against ECMA-119 (4th edition, 2019).
 *
 * The ISO 9660 reader (libisofs) also follows Rock Ridge's directory
 * relocation (RRIP 1.12, 4.1.5: a CL entry in a file's record names the
 * directory that stands there), and loops for ever when a CL names the
 * directory it is in or one above it.  The primary tree's CL entries are
 * found here (in the System Use field, SUSP 1.12 4, and the continuation
 * areas its CE entries name, 5.1) and such a loop is refused. */
#include "import/iso_dirs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <search.h>
#include <string.h>

#include "tsmedia/i18n.h"
#include "tsmedia/log.h"
#include "util/fdio.h"

#define SECTOR 2048u
#define VRS_FIRST 16        /* ECMA-119 6.2.1: sectors 0-15 are the system area */
#define MAX_DIRS 1000000    /* as iso.c's MAX_ENTRIES: no usable image has more */
#define DIV_UP(n) (((uint64_t)(n) + SECTOR - 1) / SECTOR)
#define REC_MIN 34          /* ECMA-119 9.1: 33 bytes + a 1-byte identifier */

struct dir {
	uint32_t lba, size;
	size_t parent; /* index in the queue (the root: itself) */
};

struct reloc {
	size_t dir;    /* the directory whose record holds the CL */
	uint32_t lba;  /* the directory the CL names */
};

struct walk {
	int fd;
	const char *file, *tree;
	uint64_t image_size;
	struct dir *q; /* queue of directories to read */
	size_t n, cap;
	void *seen;    /* tsearch() tree of their first sectors */
	uint64_t budget; /* directory sectors left to read */
	bool susp;       /* primary tree: look for CL entries */
	unsigned skip;   /* SUSP SP: bytes to skip in each System Use field */
	struct reloc *cl;
	size_t ncl, capcl;
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int cmp_key(const void *a, const void *b)
{
	return (uintptr_t)a < (uintptr_t)b ? -1 : (uintptr_t)a > (uintptr_t)b;
}

static void no_free(void *p)
{
	(void)p;
}

static int bad(const struct walk *w, uint64_t sector, const char *what, const struct dir *d)
{
	tsm_error("%s: not a usable ISO 9660 image: a directory record at sector %llu %s"
		  " (ECMA-119 9.1), in the %s tree's directory at sector %lu", w->file,
		  (unsigned long long)sector, _(what), w->tree, (unsigned long)d->lba);
	return -EINVAL;
}

/* Queues a directory found in a record; a directory reached twice (by a
 * loop or two records) is refused, which also bounds the walk. */
static int push(struct walk *w, const uint8_t *rec, const struct dir *parent, uint64_t sector)
{
	struct dir d = { le32(rec + 2), le32(rec + 10), w->n ? (size_t)(parent - w->q) : 0 };
	/* ECMA-119 9.1.3, 9.1.4: the extent's sector and bytes */
	void *key = (void *)((uintptr_t)d.lba + 1); /* never NULL */

	if ((uint64_t)d.lba * SECTOR > w->image_size || d.size > w->image_size - (uint64_t)d.lba * SECTOR)
		return bad(w, sector, "has its directory's extent past the end of the image", parent);
	if (tfind(key, &w->seen, cmp_key))
		return bad(w, sector, "names a directory already listed: the tree loops", parent);
	if (DIV_UP(d.size) > w->budget)
		return bad(w, sector, "makes the directories more sectors than the image has", parent);
	w->budget -= DIV_UP(d.size);
	if (w->n >= MAX_DIRS) {
		tsm_error("%s: more than %d directories in the image", w->file, MAX_DIRS);
		return -EINVAL;
	}
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 64;
		void *p = realloc(w->q, cap * sizeof(*w->q));

		if (!p)
			return -ENOMEM;
		w->q = p;
		w->cap = cap;
	}
	if (!tsearch(key, &w->seen, cmp_key))
		return -ENOMEM;
	w->q[w->n++] = d;
	return 0;
}

static int push_child(struct walk *w, const uint8_t *rec, size_t parent, uint64_t sector)
{
	struct dir p = w->q[parent];
	size_t n = w->n;
	int rc = push(w, rec, &p, sector);

	if (rc == 0)
		w->q[n].parent = parent;
	return rc;
}

static int add_reloc(struct walk *w, size_t dir, uint32_t lba)
{
	if (w->ncl == w->capcl) {
		size_t cap = w->capcl ? 2 * w->capcl : 16;
		void *p = realloc(w->cl, cap * sizeof(*w->cl));

		if (!p)
			return -ENOMEM;
		w->cl = p;
		w->capcl = cap;
	}
	w->cl[w->ncl++] = (struct reloc){ dir, lba };
	return 0;
}

#define MAX_CE 16 /* continuation areas followed per record */

/* The SUSP entries of the record @rec (@len bytes) in directory @index:
 * each entry is a 2-byte signature, a length byte, a version byte (SUSP
 * 4.1); CE (5.1): the continuation area's block, offset and length, each
 * both-endian (ECMA-119 7.3.3) at 4, 12, 20; ST (5.3) ends the list; CL
 * (RRIP 4.1.5.1): the relocated directory's block at 4.  The root's "."
 * record begins with SP (5.3), whose byte 6 is the bytes to skip. */
static int susp_scan(struct walk *w, const uint8_t *rec, size_t rec_off, size_t len, size_t index,
		     uint64_t sector)
{
	uint8_t area[SECTOR];
	size_t len_fi = rec[32], p = 33 + len_fi + !(len_fi % 2), end = len;
	const uint8_t *b = rec;
	int hops = 0, rc;

	if (index == 0 && len_fi == 1 && rec[33] == 0 && p + 7 <= len && memcmp(rec + p, "SP", 2) == 0 &&
	    rec[p + 4] == 0xbe && rec[p + 5] == 0xef)
		w->skip = rec[p + 6];
	p += w->skip;
	for (;;) {
		uint32_t ce_lba = 0, ce_off = 0, ce_len = 0;
		bool ce = false;

		while (p + 4 <= end) {
			size_t n = b[p + 2];

			if (n < 4 || p + n > end)
				break;
			if (memcmp(b + p, "ST", 2) == 0)
				break;
			if (memcmp(b + p, "CE", 2) == 0 && n >= 28) {
				ce = true;
				ce_lba = le32(b + p + 4);
				ce_off = le32(b + p + 12);
				ce_len = le32(b + p + 20);
			} else if (memcmp(b + p, "CL", 2) == 0 && n >= 12 &&
				   (rc = add_reloc(w, index, le32(b + p + 4))) < 0) {
				return rc;
			}
			p += n;
		}
		if (!ce)
			return 0;
		if (++hops > MAX_CE)
			return bad(w, sector, "chains more Rock Ridge continuation areas (SUSP CE) than"
				   " any image needs: they loop", &w->q[index]);
		if (ce_off >= SECTOR || ce_len > SECTOR - ce_off || !ce_len ||
		    ((uint64_t)ce_lba + 1) * SECTOR > w->image_size)
			return bad(w, sector, "has a Rock Ridge continuation area (SUSP CE) outside the"
				   " image or its sector", &w->q[index]);
		if (ce_lba == sector && ce_off < rec_off + len && rec_off < (size_t)ce_off + ce_len)
			return bad(w, sector, "has a Rock Ridge continuation area (SUSP CE) that points"
				   " at the record itself", &w->q[index]);
		if ((rc = tsm_pread_full(w->fd, area, sizeof(area), (uint64_t)ce_lba * SECTOR)) < 0)
			return rc;
		b = area;
		p = ce_off;
		end = (size_t)ce_off + ce_len;
	}
}

static int reloc_cmp(const void *a, const void *b)
{
	const struct reloc *x = a, *y = b;

	return x->lba < y->lba ? -1 : x->lba > y->lba;
}

static int reloc_cmp_dir(const void *a, const void *b)
{
	uint32_t x = ((const struct dir *)a)->lba, y = ((const struct dir *)b)->lba;

	return x < y ? -1 : x > y;
}

static int dir_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = ((const struct dir *)b)->lba;

	return x < y ? -1 : x > y;
}

/* A directory's parent as Rock Ridge puts the tree together: the directory
 * whose CL names it (@w->cl sorted by lba), else the one that lists it. */
static size_t logical_parent(const struct walk *w, size_t i)
{
	const struct reloc *r = bsearch(&(struct reloc){ 0, w->q[i].lba }, w->cl, w->ncl,
					sizeof(*w->cl), reloc_cmp);

	return r ? r->dir : w->q[i].parent;
}

#define MAX_RELOC_DEPTH 1024 /* far deeper than the import's 64 levels */

static int check_relocations(struct walk *w)
{
	struct dir *sorted;
	int rc = 0;

	if (!w->ncl)
		return 0;
	qsort(w->cl, w->ncl, sizeof(*w->cl), reloc_cmp);
	for (size_t k = 1; k < w->ncl; k++)
		if (w->cl[k].lba == w->cl[k - 1].lba) {
			tsm_error("%s: not a usable ISO 9660 image: two Rock Ridge relocations (CL,"
				  " RRIP 4.1.5.1) name the directory at sector %lu", w->file,
				  (unsigned long)w->cl[k].lba);
			return -EINVAL;
		}
	/* The queue by first sector, to find each CL's directory. */
	if (!(sorted = malloc(w->n * sizeof(*sorted))))
		return -ENOMEM;
	for (size_t i = 0; i < w->n; i++) {
		sorted[i] = w->q[i];
		sorted[i].parent = i; /* here: the index in the queue */
	}
	qsort(sorted, w->n, sizeof(*sorted), reloc_cmp_dir);
	for (size_t k = 0; rc == 0 && k < w->ncl; k++) {
		const struct dir *t = bsearch(&w->cl[k].lba, sorted, w->n, sizeof(*sorted), dir_cmp);
		size_t at = w->cl[k].dir;

		if (!t) {
			tsm_error("%s: not a usable ISO 9660 image: a Rock Ridge relocation (CL, RRIP"
				  " 4.1.5.1) in the directory at sector %lu names sector %lu, which is"
				  " no directory of the tree", w->file, (unsigned long)w->q[at].lba,
				  (unsigned long)w->cl[k].lba);
			rc = -EINVAL;
			break;
		}
		/* Up from the CL's directory: reaching the directory it names is a
		 * loop; a chain longer than any tree is one too. */
		for (size_t steps = 0; at != 0; steps++) {
			if (at == t->parent || steps > MAX_RELOC_DEPTH) {
				tsm_error("%s: not a usable ISO 9660 image: a Rock Ridge relocation"
					  " loop: a CL entry (RRIP 4.1.5.1) in the directory at sector"
					  " %lu names the directory at sector %lu, which contains it",
					  w->file, (unsigned long)w->q[w->cl[k].dir].lba,
					  (unsigned long)w->cl[k].lba);
				rc = -ELOOP;
				break;
			}
			at = logical_parent(w, at);
		}
		if (rc == 0 && t->parent == 0) {
			tsm_error("%s: not a usable ISO 9660 image: a Rock Ridge relocation loop: a CL"
				  " entry (RRIP 4.1.5.1) names the root directory", w->file);
			rc = -ELOOP;
		}
	}
	free(sorted);
	return rc;
}

/* One directory's records, sector by sector (ECMA-119 6.8.1.1: a record
 * never crosses a sector boundary; a zero length byte ends the sector). */
static int read_dir(struct walk *w, size_t index)
{
	uint8_t buf[SECTOR];
	struct dir dd = w->q[index], *d = &dd; /* push() may move w->q */
	int rc;

	for (uint32_t s = 0; (uint64_t)s * SECTOR < d->size; s++) {
		uint64_t sector = (uint64_t)d->lba + s;

		if ((rc = tsm_pread_full(w->fd, buf, sizeof(buf), sector * SECTOR)) < 0) {
			tsm_error("%s: cannot read the directory at sector %lu", w->file,
				  (unsigned long)d->lba);
			return rc;
		}
		for (size_t off = 0; off < SECTOR && buf[off];) {
			size_t len = buf[off], len_fi;

			if (off + len > SECTOR)
				return bad(w, sector, "runs past its sector", d);
			if (len < REC_MIN)
				return bad(w, sector, "is shorter than 34 bytes", d);
			len_fi = buf[off + 32]; /* ECMA-119 9.1.10 */
			if (33 + len_fi > len)
				return bad(w, sector, "has a file identifier longer than the record", d);
			/* ECMA-119 9.1.6 bit 1: a directory; 6.8.2.2: identifiers 0 and 1
			 * are the directory itself and its parent. */
			if ((buf[off + 25] & 2) && !(len_fi == 1 && buf[off + 33] <= 1) &&
			    (rc = push_child(w, buf + off, index, sector)) < 0)
				return rc;
			if (w->susp && (rc = susp_scan(w, buf + off, off, len, index, sector)) < 0)
				return rc;
			off += len;
		}
	}
	return 0;
}

/* The tree whose root directory record is @root (ECMA-119 8.4.18). */
static int walk_tree(struct walk *w, const uint8_t *root, uint64_t vd_sector)
{
	struct dir none = { (uint32_t)vd_sector, 0 };
	int rc;

	w->n = 0;
	w->ncl = 0;
	w->skip = 0;
	w->budget = DIV_UP(w->image_size); /* directory extents never overlap */
	tdestroy(w->seen, no_free);
	w->seen = NULL;
	if ((rc = push(w, root, &none, vd_sector)) < 0)
		return rc;
	for (size_t i = 0; i < w->n; i++)
		if ((rc = read_dir(w, i)) < 0)
			return rc;
	return w->susp ? check_relocations(w) : 0;
}

int tsm_iso_dirs_check(int fd, const char *file, uint64_t image_size)
{
	return tsm_iso_dirs_check_ended(fd, file, image_size, NULL);
}

int tsm_iso_dirs_check_ended(int fd, const char *file, uint64_t image_size, bool *ended_ret)
{
	struct walk w = { .fd = fd, .file = file, .image_size = image_size };
	bool ended = false;
	uint8_t vd[SECTOR];
	int rc = 0;

	/* ECMA-119 8.1: the descriptor set runs to a terminator (type 255).
	 * libiso9660 (libcdio 2.1.0, iso9660_ifs_read_superblock) reads the
	 * descriptors after the first without looking at their identifier
	 * "CD001", up to a terminator or the end of the image: a Joliet one
	 * without it is checked too, so that no tree it may read is left out. */
	for (uint64_t s = VRS_FIRST; rc == 0 && (s + 1) * SECTOR <= image_size; s++) {
		bool cd001;

		if (tsm_pread_full(fd, vd, sizeof(vd), s * SECTOR) < 0)
			break;
		if (vd[0] == 255) {
			ended = true;
			break;
		}
		cd001 = memcmp(vd + 1, "CD001", 5) == 0;
		if (!cd001 && s == VRS_FIRST)
			break;
		w.susp = vd[0] == 1 && cd001;
		if (w.susp) {
			w.tree = "primary";
		} else if (vd[0] == 2 && vd[88] == '%' && vd[89] == '/' &&
			   (vd[90] == '@' || vd[90] == 'C' || vd[90] == 'E')) {
			/* Joliet: an SVD with escape sequence %/@, %/C or %/E (Joliet
			 * specification 1995, 5.1; ECMA-119 8.5.6). */
			w.tree = "Joliet";
		} else {
			continue;
		}
		rc = walk_tree(&w, vd + 156, s);
	}
	if (ended_ret)
		*ended_ret = ended;
	tdestroy(w.seen, no_free);
	free(w.q);
	free(w.cl);
	return rc;
}
