/* Checking an ISO 9660 image's directory records before libiso9660 reads
 * them: libcdio 2.1.0 copies a record's file identifier without checking
 * that it stays inside the record or its sector (fixed upstream later), so
 * a hostile record makes it read past its buffer.  Here every directory
 * of every tree libiso9660 may read is walked once, breadth first, and
 * each record checked against ECMA-119 (4th edition, 2019). */
#include "import/iso_dirs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <search.h>
#include <string.h>

#include "tsmedia/log.h"
#include "util/fdio.h"

#define SECTOR 2048u
#define VRS_FIRST 16        /* ECMA-119 6.2.1: sectors 0-15 are the system area */
#define MAX_DIRS 1000000    /* as iso.c's MAX_ENTRIES: no usable image has more */
#define DIV_UP(n) (((uint64_t)(n) + SECTOR - 1) / SECTOR)
#define REC_MIN 34          /* ECMA-119 9.1: 33 bytes + a 1-byte identifier */

struct dir {
	uint32_t lba, size;
};

struct walk {
	int fd;
	const char *file, *tree;
	uint64_t image_size;
	struct dir *q; /* queue of directories to read */
	size_t n, cap;
	void *seen;    /* tsearch() tree of their first sectors */
	uint64_t budget; /* directory sectors left to read */
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
		  (unsigned long long)sector, what, w->tree, (unsigned long)d->lba);
	return -EINVAL;
}

/* Queues a directory found in a record; a directory reached twice (by a
 * loop or two records) is refused, which also bounds the walk. */
static int push(struct walk *w, const uint8_t *rec, const struct dir *parent, uint64_t sector)
{
	struct dir d = { le32(rec + 2), le32(rec + 10) }; /* ECMA-119 9.1.3, 9.1.4 */
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

/* One directory's records, sector by sector (ECMA-119 6.8.1.1: a record
 * never crosses a sector boundary; a zero length byte ends the sector). */
static int read_dir(struct walk *w, const struct dir *d)
{
	uint8_t buf[SECTOR];
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
			    (rc = push(w, buf + off, d, sector)) < 0)
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
	w->budget = DIV_UP(w->image_size); /* directory extents never overlap */
	tdestroy(w->seen, no_free);
	w->seen = NULL;
	if ((rc = push(w, root, &none, vd_sector)) < 0)
		return rc;
	for (size_t i = 0; i < w->n; i++) {
		struct dir d = w->q[i];

		if ((rc = read_dir(w, &d)) < 0)
			return rc;
	}
	return 0;
}

int tsm_iso_dirs_check(int fd, const char *file, uint64_t image_size)
{
	struct walk w = { .fd = fd, .file = file, .image_size = image_size };
	uint8_t vd[SECTOR];
	int rc = 0;

	/* ECMA-119 8.1: the descriptor set runs to a terminator (type 255). */
	for (uint64_t s = VRS_FIRST; rc == 0 && (s + 1) * SECTOR <= image_size; s++) {
		if (tsm_pread_full(fd, vd, sizeof(vd), s * SECTOR) < 0 || memcmp(vd + 1, "CD001", 5) != 0 ||
		    vd[0] == 255)
			break;
		if (vd[0] == 1) {
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
	tdestroy(w.seen, no_free);
	free(w.q);
	return rc;
}
