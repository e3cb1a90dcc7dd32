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
#include "util/workqueue.h"

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

/* ---- a resource read from start to end, many chunks at a time ---------- */

/* Output of one job: enough chunks that handing them to a worker costs
 * little next to decompressing them. */
#define STREAM_JOB_BYTES (256u << 10)

struct stream_job {
	struct tsm_wim_res_stream *s;
	const uint8_t *in;     /* the stored bytes of chunk @first */
	const uint64_t *start; /* stored starts of chunks first .. first + n, absolute */
	uint8_t *out;
	uint64_t first;
	size_t n;
	uint64_t bad;          /* the chunk that did not decompress */
	int err;
};

struct tsm_wim_res_stream {
	struct tsm_workqueue *wq;        /* NULL: every chunk on the calling thread */
	unsigned nslots;                 /* workers + the calling thread */
	struct wimlib_decompressor **dec; /* one per slot */
	enum tsm_wim_format dec_format;
	uint32_t dec_chunk;
	/* The resource being read. */
	const char *what;
	struct tsm_wim_res_desc d;
	tsm_wim_res_pread_fn pread_fn;
	void *ctx;
	uint64_t nchunks, table;
	unsigned entry;
	uint64_t pos;                    /* decompressed bytes handed out or in @tail */
	uint8_t *in;                     /* stored bytes of the chunks being read */
	size_t in_cap;
	uint64_t *start;
	size_t start_cap;
	struct stream_job *jobs;
	size_t jobs_cap;
	uint8_t *tail;                   /* a chunk larger than the caller's room */
	uint32_t tail_off, tail_len;
};

int tsm_wim_res_stream_new(struct tsm_wim_res_stream **s_ret)
{
	struct tsm_wim_res_stream *s = calloc(1, sizeof(*s));
	unsigned nthreads = tsm_cpu_count(64);
	int rc;

	if (!s)
		return -ENOMEM;
	if (nthreads > 1 && (rc = tsm_workqueue_new(nthreads, &s->wq)) < 0) {
		free(s);
		return rc;
	}
	s->nslots = (s->wq ? tsm_workqueue_threads(s->wq) : 0) + 1;
	if (!(s->dec = calloc(s->nslots, sizeof(*s->dec)))) {
		tsm_wim_res_stream_free(s);
		return -ENOMEM;
	}
	*s_ret = s;
	return 0;
}

void tsm_wim_res_stream_free(struct tsm_wim_res_stream *s)
{
	if (!s)
		return;
	tsm_workqueue_free(s->wq);
	for (unsigned i = 0; s->dec && i < s->nslots; i++)
		wimlib_free_decompressor(s->dec[i]);
	free(s->dec);
	free(s->in);
	free(s->start);
	free(s->jobs);
	free(s->tail);
	free(s);
}

int tsm_wim_res_stream_open(struct tsm_wim_res_stream *s, const char *what,
			    const struct tsm_wim_res_desc *d, uint64_t wim_size,
			    tsm_wim_res_pread_fn pread_fn, void *ctx)
{
	int rc;

	if ((rc = tsm_wim_res_check(what, d, wim_size)) < 0)
		return rc;
	s->what = what;
	s->d = *d;
	s->pread_fn = pread_fn;
	s->ctx = ctx;
	s->pos = 0;
	s->tail_off = s->tail_len = 0;
	if (d->format == TSM_WIM_FORMAT_NONE)
		return 0;
	s->nchunks = d->size / d->chunk_size + (d->size % d->chunk_size != 0);
	s->entry = d->size >= (1ull << 32) ? 8 : 4;
	s->table = s->nchunks ? (s->nchunks - 1) * s->entry : 0;
	if (d->format == s->dec_format && d->chunk_size == s->dec_chunk)
		return 0;
	/* A WIM's resources share one format and chunk size (its header's). */
	for (unsigned i = 0; i < s->nslots; i++) {
		wimlib_free_decompressor(s->dec[i]);
		s->dec[i] = NULL;
	}
	s->dec_format = TSM_WIM_FORMAT_NONE;
	free(s->tail);
	if (!(s->tail = malloc(d->chunk_size)))
		return -ENOMEM;
	for (unsigned i = 0; i < s->nslots; i++)
		if (wimlib_create_decompressor((enum wimlib_compression_type)d->format, d->chunk_size,
					       &s->dec[i]) != 0)
			return broken(what, "wimlib has no decompressor for format %d with chunks of"
				      " %u bytes", (int)d->format, d->chunk_size);
	s->dec_format = d->format;
	s->dec_chunk = d->chunk_size;
	return 0;
}

static uint32_t stream_chunk_len(const struct tsm_wim_res_stream *s, uint64_t i)
{
	uint64_t left = s->d.size - i * s->d.chunk_size;

	return left < s->d.chunk_size ? (uint32_t)left : s->d.chunk_size;
}

/* @p with room for @need items of @size bytes (NULL: no memory; @p is
 * still valid then). */
static void *grow(void *p, size_t *cap, size_t need, size_t size)
{
	void *q;

	if (need <= *cap)
		return p;
	if (!(q = realloc(p, need * size)))
		return NULL;
	*cap = need;
	return q;
}

/* The stored bounds of chunks [@first, @first + @n): s->start[0 .. n],
 * relative to the end of the chunk table, read from the table in one go
 * and checked as load_chunk() checks one chunk's. */
static int stream_bounds(struct tsm_wim_res_stream *s, uint64_t first, size_t n)
{
	uint64_t data = s->d.stored_size - s->table, lo = first ? first : 1;
	uint64_t hi = first + n < s->nchunks ? first + n : s->nchunks - 1; /* entries lo-1 .. hi-1 */
	uint64_t *start = grow(s->start, &s->start_cap, n + 1, sizeof(*s->start));
	uint8_t *e;
	int rc;

	if (start)
		s->start = start;
	if (!start || !(e = grow(s->in, &s->in_cap, (n + 1) * s->entry, 1)))
		return -ENOMEM;
	s->in = e;
	if (hi >= lo && (rc = s->pread_fn(s->ctx, e, (size_t)(hi - lo + 1) * s->entry,
					  s->d.offset + (lo - 1) * s->entry)) < 0)
		return rc;
	for (size_t k = 0; k <= n; k++) {
		uint64_t i = first + k;

		s->start[k] = i == 0 ? 0 : i == s->nchunks ? data : le(e + (i - lo) * s->entry, s->entry);
	}
	for (size_t k = 0; k < n; k++) {
		uint64_t i = first + k, a = s->start[k], b = s->start[k + 1];

		if (a > b || b > data)
			return broken(s->what, "chunk %llu of %llu lies at bytes %llu-%llu of %llu",
				      (unsigned long long)i, (unsigned long long)s->nchunks,
				      (unsigned long long)a, (unsigned long long)b,
				      (unsigned long long)data);
		if (b - a > stream_chunk_len(s, i))
			return broken(s->what, "chunk %llu is %llu bytes stored for %u bytes of data",
				      (unsigned long long)i, (unsigned long long)(b - a),
				      stream_chunk_len(s, i));
	}
	return 0;
}

static void stream_job_run(void *arg, unsigned worker)
{
	struct stream_job *job = arg;
	struct tsm_wim_res_stream *s = job->s;
	uint8_t *out = job->out;

	for (size_t k = 0; k < job->n; k++) {
		uint64_t i = job->first + k;
		uint32_t want = stream_chunk_len(s, i);
		size_t stored = (size_t)(job->start[k + 1] - job->start[k]);
		const uint8_t *in = job->in + (job->start[k] - job->start[0]);

		/* Stored as it is when compressing would not make it smaller. */
		if (stored == want)
			memcpy(out, in, want);
		else if (wimlib_decompress(in, stored, out, want, s->dec[worker]) != 0) {
			job->bad = i;
			job->err = -EIO;
			return;
		}
		out += want;
	}
}

/* Decompresses chunks [@first, @first + @n) into @out:
 * their stored bytes in one read, then in jobs on the workers and on this
 * thread. */
static int stream_chunks(struct tsm_wim_res_stream *s, uint64_t first, size_t n, uint8_t *out)
{
	size_t per_job = STREAM_JOB_BYTES / s->d.chunk_size, njobs = 0, stored;
	struct stream_job *jobs;
	uint8_t *in;
	int rc;

	if ((rc = stream_bounds(s, first, n)) < 0)
		return rc;
	stored = (size_t)(s->start[n] - s->start[0]);
	/* No chunk is stored larger than its data, so as many stored bytes
	 * as decompressed ones means every chunk is stored as it is (data
	 * that does not compress): read straight into @out. */
	if (stored == (size_t)(first + n == s->nchunks ? s->d.size - first * s->d.chunk_size
							: (uint64_t)n * s->d.chunk_size))
		return s->pread_fn(s->ctx, out, stored, s->d.offset + s->table + s->start[0]);
	if (!(in = grow(s->in, &s->in_cap, stored ? stored : 1, 1)))
		return -ENOMEM;
	s->in = in;
	if (stored && (rc = s->pread_fn(s->ctx, s->in, stored,
					s->d.offset + s->table + s->start[0])) < 0)
		return rc;
	if (per_job == 0)
		per_job = 1;
	if (!(jobs = grow(s->jobs, &s->jobs_cap, n / per_job + 1, sizeof(*s->jobs))))
		return -ENOMEM;
	s->jobs = jobs;
	for (size_t k = 0; k < n; k += per_job) {
		struct stream_job *job = &s->jobs[njobs++];

		*job = (struct stream_job){ .s = s, .in = s->in + (s->start[k] - s->start[0]),
					    .start = &s->start[k], .out = out + k * s->d.chunk_size,
					    .first = first + k, .n = n - k < per_job ? n - k : per_job };
	}
	/* The last job on this thread, the others on the workers. */
	for (size_t j = 0; j + 1 < njobs; j++)
		if (!s->wq || tsm_workqueue_submit(s->wq, stream_job_run, &s->jobs[j]) < 0)
			stream_job_run(&s->jobs[j], s->nslots - 1);
	stream_job_run(&s->jobs[njobs - 1], s->nslots - 1);
	if (s->wq)
		tsm_workqueue_wait(s->wq);
	for (size_t j = 0; j < njobs; j++)
		if (s->jobs[j].err)
			return broken(s->what, "chunk %llu does not decompress",
				      (unsigned long long)s->jobs[j].bad);
	return 0;
}

ssize_t tsm_wim_res_stream_read(void *ctx, void *buf, size_t len)
{
	struct tsm_wim_res_stream *s = ctx;
	uint64_t first;
	size_t n = 0, out = 0;
	int rc;

	if (s->tail_off < s->tail_len) {
		size_t k = s->tail_len - s->tail_off < len ? s->tail_len - s->tail_off : len;

		memcpy(buf, s->tail + s->tail_off, k);
		s->tail_off += (uint32_t)k;
		return (ssize_t)k;
	}
	if (s->pos >= s->d.size || len == 0)
		return 0;
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	if (s->d.format == TSM_WIM_FORMAT_NONE) {
		if (len > s->d.size - s->pos)
			len = (size_t)(s->d.size - s->pos);
		if ((rc = s->pread_fn(s->ctx, buf, len, s->d.offset + s->pos)) < 0)
			return rc;
		s->pos += len;
		return (ssize_t)len;
	}
	/* Whole chunks straight into @buf; a chunk that does not fit goes
	 * through the tail, handed out over the next calls. */
	first = s->pos / s->d.chunk_size;
	while (first + n < s->nchunks && out + stream_chunk_len(s, first + n) <= len) {
		out += stream_chunk_len(s, first + n);
		n++;
	}
	if (n == 0) {
		uint32_t k = stream_chunk_len(s, first);

		if ((rc = stream_chunks(s, first, 1, s->tail)) < 0)
			return rc;
		s->pos += k;
		s->tail_off = 0;
		s->tail_len = k;
		return tsm_wim_res_stream_read(s, buf, len);
	}
	if ((rc = stream_chunks(s, first, n, buf)) < 0)
		return rc;
	s->pos += out;
	return (ssize_t)out;
}
