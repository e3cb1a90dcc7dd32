/* A WIM resource's bytes, read from the WIM's own bytes.
 *
 * Format (Microsoft, "Windows Imaging File Format (WIM)", 2007, the
 * resource header RESHDR_DISK_SHORT and "compressed resources"; wimlib's
 * src/resource.c, "Compressed WIM resources", which reads them the same
 * way):
 *
 * An uncompressed resource is the file's bytes as they are, at its offset.
 *
 * A compressed resource is cut into chunks that each decompress to the
 * chunk size the WIM header gives (dwCompressionSize), the last to what
 * remains.  The resource starts with a chunk table: for every chunk but
 * the first, the offset of its start relative to the end of the table
 * (the first chunk's is 0 and not stored); the entries are LE32, or LE64
 * when the resource is 4 GiB or more once decompressed.  A chunk's stored
 * size is the next chunk's offset minus its own (the last one's: the rest
 * of the resource).  A chunk whose stored size equals its decompressed
 * size is stored uncompressed; the others are one XPRESS, LZX or LZMS
 * block each (the WIM header's flags say which), decompressed here with
 * wimlib_decompress().  Solid resources (WIM version 0xe00) and pipable
 * WIMs lay their chunks out otherwise and are not read here. */
#include "store/wim_resource.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wimlib.h>

#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

struct tsm_wim_res {
	const char *what;
	struct tsm_wim_res_desc d;
	tsm_wim_res_pread_fn pread_fn;
	void *ctx;
	struct wimlib_decompressor *dec;
	uint64_t nchunks;
	uint64_t table;        /* bytes of the chunk table */
	unsigned entry;        /* bytes per chunk table entry */
	uint8_t *in, *out;     /* one stored chunk, one decompressed */
	uint64_t cached;       /* the chunk in out; UINT64_MAX: none */
};

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

static int broken(const char *what, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int broken(const char *what, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), _(fmt), ap);
	va_end(ap);
	tsm_error("%s: damaged WIM resource: %s", what, msg);
	return -EIO;
}

int tsm_wim_res_check(const char *what, const struct tsm_wim_res_desc *d, uint64_t wim_size)
{
	uint64_t nchunks, entry;

	if (d->offset > wim_size || d->stored_size > wim_size - d->offset)
		return broken(what, "it lies past the end of its WIM (bytes %llu-%llu of %llu)",
			      (unsigned long long)d->offset,
			      (unsigned long long)d->offset + d->stored_size,
			      (unsigned long long)wim_size);
	if (d->format == TSM_WIM_FORMAT_NONE) {
		if (d->stored_size != d->size || d->chunk_size)
			return broken(what, "an uncompressed resource of %llu bytes claims %llu",
				      (unsigned long long)d->stored_size,
				      (unsigned long long)d->size);
		return 0;
	}
	/* wimlib's chunk sizes (src/wim.c, wim_ctype_info): powers of two,
	 * XPRESS 4 KiB to 64 KiB, LZX 32 KiB to 2 MiB, LZMS from 32 KiB. */
	if (d->format > TSM_WIM_FORMAT_LZMS || d->chunk_size < 4096 ||
	    d->chunk_size > TSM_WIM_RES_CHUNK_MAX || (d->chunk_size & (d->chunk_size - 1)) ||
	    (d->format == TSM_WIM_FORMAT_XPRESS && d->chunk_size > 65536) ||
	    (d->format != TSM_WIM_FORMAT_XPRESS && d->chunk_size < 32768))
		return broken(what, "compression format %d with chunks of %u bytes", (int)d->format,
			      d->chunk_size);
	nchunks = d->size / d->chunk_size + (d->size % d->chunk_size != 0);
	entry = d->size >= (1ull << 32) ? 8 : 4;
	if (nchunks && nchunks - 1 > d->stored_size / entry)
		return broken(what, "%llu bytes in %llu chunks, but %llu stored bytes cannot list"
			      " that many", (unsigned long long)d->size,
			      (unsigned long long)nchunks, (unsigned long long)d->stored_size);
	return 0;
}

void tsm_wim_res_free(struct tsm_wim_res *r)
{
	if (!r)
		return;
	wimlib_free_decompressor(r->dec);
	free(r->in);
	free(r->out);
	free(r);
}

int tsm_wim_res_open(const char *what, const struct tsm_wim_res_desc *d, uint64_t wim_size,
		     tsm_wim_res_pread_fn pread_fn, void *ctx, struct tsm_wim_res **res_ret)
{
	struct tsm_wim_res *r;
	int rc;

	*res_ret = NULL;
	if ((rc = tsm_wim_res_check(what, d, wim_size)) < 0)
		return rc;
	if (!(r = calloc(1, sizeof(*r))))
		return -ENOMEM;
	r->what = what;
	r->d = *d;
	r->pread_fn = pread_fn;
	r->ctx = ctx;
	r->cached = UINT64_MAX;
	if (d->format != TSM_WIM_FORMAT_NONE) {
		r->nchunks = d->size / d->chunk_size + (d->size % d->chunk_size != 0);
		r->entry = d->size >= (1ull << 32) ? 8 : 4;
		r->table = r->nchunks ? (r->nchunks - 1) * r->entry : 0;
		if (!(r->in = malloc(d->chunk_size)) || !(r->out = malloc(d->chunk_size))) {
			tsm_wim_res_free(r);
			return -ENOMEM;
		}
		if (wimlib_create_decompressor((enum wimlib_compression_type)d->format, d->chunk_size,
					       &r->dec) != 0) {
			tsm_wim_res_free(r);
			return broken(what, "wimlib has no decompressor for format %d with chunks of"
				      " %u bytes", (int)d->format, d->chunk_size);
		}
	}
	*res_ret = r;
	return 0;
}

/* Chunk @i's stored bytes: [*start, *end) relative to the end of the
 * chunk table. */
static int chunk_bounds(struct tsm_wim_res *r, uint64_t i, uint64_t *start, uint64_t *end)
{
	uint64_t data = r->d.stored_size - r->table;
	uint8_t e[16];
	int rc;

	/* Entries i - 1 and i: the start of chunk i and of chunk i + 1. */
	if (i == 0) {
		*start = 0;
		if (r->nchunks == 1) {
			*end = data;
			return 0;
		}
		if ((rc = r->pread_fn(r->ctx, e + r->entry, r->entry, r->d.offset)) < 0)
			return rc;
		*end = le(e + r->entry, r->entry);
	} else {
		size_t n = i + 1 < r->nchunks ? 2 * r->entry : r->entry;

		if ((rc = r->pread_fn(r->ctx, e, n, r->d.offset + (i - 1) * r->entry)) < 0)
			return rc;
		*start = le(e, r->entry);
		*end = i + 1 < r->nchunks ? le(e + r->entry, r->entry) : data;
	}
	if (*start > *end || *end > data)
		return broken(r->what, "chunk %llu of %llu lies at bytes %llu-%llu of %llu",
			      (unsigned long long)i, (unsigned long long)r->nchunks,
			      (unsigned long long)*start, (unsigned long long)*end,
			      (unsigned long long)data);
	return 0;
}

/* Decompresses chunk @i into r->out; its size in *@len. */
static int load_chunk(struct tsm_wim_res *r, uint64_t i, uint32_t *len)
{
	uint64_t left = r->d.size - i * r->d.chunk_size, start, end;
	uint32_t want = left < r->d.chunk_size ? (uint32_t)left : r->d.chunk_size;
	int rc;

	*len = want;
	if (r->cached == i)
		return 0;
	r->cached = UINT64_MAX;
	if ((rc = chunk_bounds(r, i, &start, &end)) < 0)
		return rc;
	/* Stored as it is when compressing would not make it smaller; a
	 * compressed chunk is never larger than the chunk. */
	if (end - start > want)
		return broken(r->what, "chunk %llu is %llu bytes stored for %u bytes of data",
			      (unsigned long long)i, (unsigned long long)(end - start), want);
	if (end - start == want) {
		if ((rc = r->pread_fn(r->ctx, r->out, want, r->d.offset + r->table + start)) < 0)
			return rc;
	} else {
		if ((rc = r->pread_fn(r->ctx, r->in, (size_t)(end - start),
				      r->d.offset + r->table + start)) < 0)
			return rc;
		if (wimlib_decompress(r->in, (size_t)(end - start), r->out, want, r->dec) != 0)
			return broken(r->what, "chunk %llu does not decompress",
				      (unsigned long long)i);
	}
	r->cached = i;
	return 0;
}

ssize_t tsm_wim_res_pread(struct tsm_wim_res *r, void *buf, size_t len, uint64_t off)
{
	uint8_t *out = buf;
	size_t done = 0;
	int rc;

	if (off >= r->d.size || len == 0)
		return 0;
	if (len > r->d.size - off)
		len = (size_t)(r->d.size - off);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	if (r->d.format == TSM_WIM_FORMAT_NONE) {
		rc = r->pread_fn(r->ctx, buf, len, r->d.offset + off);
		return rc < 0 ? rc : (ssize_t)len;
	}
	while (done < len) {
		uint64_t pos = off + done, i = pos / r->d.chunk_size;
		uint32_t in_chunk = (uint32_t)(pos % r->d.chunk_size), n;
		size_t k;

		if ((rc = load_chunk(r, i, &n)) < 0)
			return rc;
		k = n - in_chunk;
		if (k > len - done)
			k = len - done;
		memcpy(out + done, r->out + in_chunk, k);
		done += k;
	}
	return (ssize_t)done;
}
