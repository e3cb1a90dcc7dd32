/* File content into chunks and a blob.
 *
 * Two buffers alternate: while the workers hash and compress the chunks of
 * one (and one worker runs the file's whole SHA-256 and SHA-1 over it), the
 * calling thread reads and cuts the next.  Chunks are stored in file order
 * by the calling thread, which alone touches sqlite and the packs. */
#include "store/store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "tsmedia/log.h"
#include "tsmedia/progress.h"
#include "util/db.h"
#include "util/workqueue.h"
#include "store/wim_resource.h"

#define BUFFER_DATA (8u << 20)
#define BUFFER_CAP (BUFFER_DATA + TSM_CHUNK_MAX)
/* Files that fit one buffer this small are done on the calling thread:
 * handing them to workers costs more than it saves. */
#define INLINE_LIMIT (1u << 20)
#define MAX_WORKERS 16
/* One being filled, one being hashed, one being stored. */
#define NBUFFERS 3

struct chunk_job {
	struct tsm_blob_writer *writer;
	const uint8_t *data;
	size_t len;
	uint8_t *out;     /* compressed bytes, or NULL: store raw */
	size_t out_len;
	bool try_compress;
	uint8_t hash[TSM_SHA256_LEN];
	int err;
};

/* The file's SHA-256 and SHA-1 run as two jobs per buffer, so neither is
 * the one long task every buffer waits for. */
struct hash_job {
	struct tsm_blob_writer *writer;
	struct buffer *buf;
	bool sha1;
	int err;
};

struct buffer {
	uint8_t *data;
	uint8_t *zdata; /* compressed chunks, at the same offsets as in data */
	size_t len;     /* valid bytes in data */
	size_t cut;     /* bytes covered by jobs; the rest moves to the other buffer */
	struct chunk_job *jobs;
	size_t njobs, cap_jobs;
	struct hash_job hash[2]; /* SHA-256, SHA-1 */
};

struct tsm_blob_writer {
	struct tsm_store *store;
	struct tsm_workqueue *wq;
	ZSTD_CCtx *cctx[MAX_WORKERS + 1]; /* one per worker, the last for inline work */
	struct tsm_file_hasher *hasher;
	struct buffer buf[NBUFFERS];
	int64_t *chunk_ids;
	size_t n_chunk_ids, cap_chunk_ids;
	uint64_t size; /* bytes of the current file stored so far */
	/* Compression of the current file so far: a file that does not
	 * compress (a WIM, an archive, random data) stops being tried, but
	 * is probed again now and then. */
	uint64_t tried, submitted;
	uint64_t compressed_chunks;
};

#define COMPRESS_PROBE (8u << 20)   /* tried on at least this much of a file */
#define COMPRESS_REPROBE (64u << 20) /* and on one buffer in this much after */

static bool compression_worth_trying(const struct tsm_blob_writer *w)
{
	return w->tried < COMPRESS_PROBE || w->compressed_chunks > 0 ||
	       w->submitted % COMPRESS_REPROBE < BUFFER_DATA;
}

int tsm_blob_writer_new(struct tsm_store *store, struct tsm_blob_writer **writer_ret)
{
	struct tsm_blob_writer *w = calloc(1, sizeof(*w));
	unsigned nthreads = tsm_cpu_count(MAX_WORKERS);
	int rc;

	if (!w)
		return -ENOMEM;
	w->store = store;
	if ((rc = tsm_file_hasher_new(&w->hasher)) < 0)
		goto out_free;
	for (int i = 0; i < NBUFFERS; i++) {
		w->buf[i].data = malloc(BUFFER_CAP);
		w->buf[i].zdata = malloc(BUFFER_CAP);
		if (!w->buf[i].data || !w->buf[i].zdata) {
			rc = -ENOMEM;
			goto out_free;
		}
	}
	if (store->compression == TSM_COMPRESSION_ZSTD) {
		for (unsigned i = 0; i <= nthreads; i++) {
			if (!(w->cctx[i] = ZSTD_createCCtx())) {
				rc = -ENOMEM;
				goto out_free;
			}
		}
	}
	if ((rc = tsm_workqueue_new(nthreads, &w->wq)) < 0)
		goto out_free;
	*writer_ret = w;
	return 0;

out_free:
	tsm_blob_writer_free(w);
	return rc;
}

void tsm_blob_writer_free(struct tsm_blob_writer *w)
{
	if (!w)
		return;
	tsm_workqueue_free(w->wq);
	for (int i = 0; i <= MAX_WORKERS; i++)
		ZSTD_freeCCtx(w->cctx[i]);
	for (int i = 0; i < NBUFFERS; i++) {
		free(w->buf[i].data);
		free(w->buf[i].zdata);
		free(w->buf[i].jobs);
	}
	tsm_file_hasher_free(w->hasher);
	free(w->chunk_ids);
	free(w);
}

static void chunk_job_run(void *arg, unsigned worker)
{
	struct chunk_job *job = arg;
	ZSTD_CCtx *cctx = job->writer->cctx[worker];

	job->err = tsm_sha256(job->data, job->len, job->hash);
	job->out_len = 0;
	if (cctx && job->err == 0 && job->try_compress) {
		/* Worth keeping only when it saves at least 1/32. */
		size_t room = job->len - job->len / 32;
		size_t n = ZSTD_compressCCtx(cctx, job->out, room, job->data, job->len,
					     TSM_ZSTD_LEVEL);

		if (!ZSTD_isError(n) && n < room)
			job->out_len = n;
	}
}

static void hash_job_run(void *arg, unsigned worker)
{
	struct hash_job *job = arg;
	struct buffer *b = job->buf;

	(void)worker;
	job->err = job->sha1 ? tsm_file_hasher_update_sha1(job->writer->hasher, b->data, b->cut)
			     : tsm_file_hasher_update_sha256(job->writer->hasher, b->data, b->cut);
}

static int buffer_add_job(struct tsm_blob_writer *w, struct buffer *b, size_t off, size_t len)
{
	struct chunk_job *job;

	if (b->njobs == b->cap_jobs) {
		size_t cap = b->cap_jobs ? 2 * b->cap_jobs : 256;
		void *p = realloc(b->jobs, cap * sizeof(*b->jobs));

		if (!p)
			return -ENOMEM;
		b->jobs = p;
		b->cap_jobs = cap;
	}
	job = &b->jobs[b->njobs++];
	job->writer = w;
	job->data = b->data + off;
	job->out = b->zdata + off;
	job->len = len;
	job->err = 0;
	return 0;
}

struct stream {
	tsm_blob_read_fn read;
	void *ctx;
};

/* Reads until the buffer is full or the stream ends. */
static int buffer_fill(struct buffer *b, const struct stream *in, bool *eof_ret)
{
	*eof_ret = false;
	while (b->len < BUFFER_DATA) {
		ssize_t n = in->read(in->ctx, b->data + b->len, BUFFER_DATA - b->len);

		if (n < 0)
			return (int)n; /* reported by the reader */
		if (n == 0) {
			*eof_ret = true;
			break;
		}
		b->len += (size_t)n;
	}
	return 0;
}

static int buffer_cut(struct tsm_blob_writer *w, struct buffer *b, bool eof)
{
	size_t off = 0;
	int rc;

	b->njobs = 0;
	while (off < b->len) {
		size_t n = tsm_chunker_cut(&w->store->chunker, b->data + off, b->len - off, eof);

		if (n == 0)
			break;
		if ((rc = buffer_add_job(w, b, off, n)) < 0)
			return rc;
		off += n;
	}
	b->cut = off;
	return 0;
}

static int chunk_ids_push(struct tsm_blob_writer *w, int64_t id)
{
	if (w->n_chunk_ids == w->cap_chunk_ids) {
		size_t cap = w->cap_chunk_ids ? 2 * w->cap_chunk_ids : 1024;
		void *p = realloc(w->chunk_ids, cap * sizeof(*w->chunk_ids));

		if (!p)
			return -ENOMEM;
		w->chunk_ids = p;
		w->cap_chunk_ids = cap;
	}
	w->chunk_ids[w->n_chunk_ids++] = id;
	return 0;
}

/* Stores the processed chunks of @b, in order. */
static int buffer_commit(struct tsm_blob_writer *w, struct buffer *b, const char *what,
			 struct tsm_progress *progress)
{
	int rc;

	if (b->hash[0].err < 0 || b->hash[1].err < 0) {
		tsm_error("hashing %s failed", what);
		return -EIO;
	}
	for (size_t i = 0; i < b->njobs; i++) {
		struct chunk_job *job = &b->jobs[i];
		int64_t id;

		if (job->err < 0) {
			tsm_error("hashing a chunk of %s failed", what);
			return job->err;
		}
		if (job->try_compress) {
			w->tried += job->len;
			w->compressed_chunks += job->out_len > 0;
		}
		rc = tsm_chunk_put(w->store, job->hash, job->data, job->len,
				   job->out_len ? job->out : NULL, job->out_len, &id);
		if (rc < 0)
			return rc;
		if ((rc = chunk_ids_push(w, id)) < 0)
			return rc;
		w->size += job->len;
		tsm_progress_add(progress, job->len);
	}
	return 0;
}

static void buffer_prepare_hash_jobs(struct tsm_blob_writer *w, struct buffer *b)
{
	for (int i = 0; i < 2; i++)
		b->hash[i] = (struct hash_job){ .writer = w, .buf = b, .sha1 = i == 1 };
}

static int buffer_submit(struct tsm_blob_writer *w, struct buffer *b)
{
	bool compress = compression_worth_trying(w);
	int rc;

	for (size_t i = 0; i < b->njobs; i++)
		b->jobs[i].try_compress = compress;
	w->submitted += b->cut;
	buffer_prepare_hash_jobs(w, b);
	for (int i = 0; i < 2; i++)
		if ((rc = tsm_workqueue_submit(w->wq, hash_job_run, &b->hash[i])) < 0)
			return rc;
	for (size_t i = 0; i < b->njobs; i++)
		if ((rc = tsm_workqueue_submit(w->wq, chunk_job_run, &b->jobs[i])) < 0)
			return rc;
	return 0;
}

static void buffer_run_inline(struct tsm_blob_writer *w, struct buffer *b)
{
	unsigned inline_slot = tsm_workqueue_threads(w->wq);

	for (size_t i = 0; i < b->njobs; i++)
		b->jobs[i].try_compress = true;
	buffer_prepare_hash_jobs(w, b);
	hash_job_run(&b->hash[0], inline_slot);
	hash_job_run(&b->hash[1], inline_slot);
	for (size_t i = 0; i < b->njobs; i++)
		chunk_job_run(&b->jobs[i], inline_slot);
}

/* Reads, cuts and stores the file's chunks; fills w->chunk_ids. */
static int blob_write_chunks(struct tsm_blob_writer *w, const struct stream *in,
			     const char *what, struct tsm_progress *progress)
{
	struct buffer *pending = NULL;
	int cur = 0, rc = 0;
	bool eof = false;

	w->buf[0].len = 0;
	while (!eof) {
		struct buffer *b = &w->buf[cur], *next = &w->buf[(cur + 1) % NBUFFERS];

		/* The workers hash @pending meanwhile. */
		if ((rc = buffer_fill(b, in, &eof)) < 0 || (rc = buffer_cut(w, b, eof)) < 0)
			break;
		if (!pending && eof && b->len <= INLINE_LIMIT) {
			buffer_run_inline(w, b);
			return buffer_commit(w, b, what, progress);
		}
		if (pending)
			tsm_workqueue_wait(w->wq);
		if ((rc = buffer_submit(w, b)) < 0)
			break;
		/* Stored while the workers hash @b. */
		if (pending && (rc = buffer_commit(w, pending, what, progress)) < 0)
			break;
		/* The uncut tail starts the next buffer, which is free: it was
		 * stored two rounds ago. */
		next->len = b->len - b->cut;
		memcpy(next->data, b->data + b->cut, next->len);
		pending = b;
		cur = (cur + 1) % NBUFFERS;
	}
	tsm_workqueue_wait(w->wq);
	if (pending && rc == 0)
		rc = buffer_commit(w, pending, what, progress);
	return rc;
}

/* The blob row for the file just chunked: an existing one with the same
 * SHA-256, or a new one with its chunk list. */
static int blob_record(struct tsm_blob_writer *w, const uint8_t sha256[TSM_SHA256_LEN],
		       const uint8_t sha1[TSM_SHA1_LEN], uint64_t size, const char *what,
		       int64_t *blob_id_ret)
{
	struct tsm_store *store = w->store;
	sqlite3_stmt *stmt = tsm_store_stmt(store, TSM_STMT_BLOB_FIND);
	int64_t blob_id;
	int rc;

	if (!stmt)
		return -EIO;
	sqlite3_bind_blob(stmt, 1, sha256, TSM_SHA256_LEN, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		blob_id = sqlite3_column_int64(stmt, 0);
		if ((uint64_t)sqlite3_column_int64(stmt, 1) != size) {
			sqlite3_reset(stmt);
			tsm_error("%s: a stored blob has the same SHA-256 and another size", what);
			return -EIO;
		}
		sqlite3_reset(stmt);
		*blob_id_ret = blob_id;
		return 0;
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		return tsm_db_error(store->db, "looking up a blob");

	if (!(stmt = tsm_store_stmt(store, TSM_STMT_BLOB_INSERT)))
		return -EIO;
	sqlite3_bind_blob(stmt, 1, sha256, TSM_SHA256_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 2, sha1, TSM_SHA1_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, (int64_t)size);
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		return tsm_db_error(store->db, "adding a blob");
	blob_id = sqlite3_last_insert_rowid(store->db);
	for (size_t i = 0; i < w->n_chunk_ids; i++) {
		if (!(stmt = tsm_store_stmt(store, TSM_STMT_BLOB_CHUNK_INSERT)))
			return -EIO;
		sqlite3_bind_int64(stmt, 1, blob_id);
		sqlite3_bind_int64(stmt, 2, (int64_t)i);
		sqlite3_bind_int64(stmt, 3, w->chunk_ids[i]);
		rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
		if (rc != SQLITE_DONE)
			return tsm_db_error(store->db, "adding a blob's chunk list");
	}
	*blob_id_ret = blob_id;
	return 0;
}

int tsm_blob_writer_import_stream(struct tsm_blob_writer *w, tsm_blob_read_fn read, void *ctx,
				  const char *what, struct tsm_progress *progress,
				  int64_t *blob_id_ret, uint64_t *size_ret)
{
	uint8_t sha256[TSM_SHA256_LEN], sha1[TSM_SHA1_LEN];
	struct stream in = { read, ctx };
	int rc;

	w->n_chunk_ids = 0;
	w->size = 0;
	w->tried = w->submitted = w->compressed_chunks = 0;
	if ((rc = tsm_file_hasher_reset(w->hasher)) < 0)
		return rc;
	if ((rc = blob_write_chunks(w, &in, what, progress)) < 0)
		return rc;
	if ((rc = tsm_file_hasher_final(w->hasher, sha256, sha1)) < 0)
		return rc;
	if ((rc = blob_record(w, sha256, sha1, w->size, what, blob_id_ret)) < 0)
		return rc;
	*size_ret = w->size;
	return 0;
}

struct fd_reader {
	int fd;
	const char *what;
};

static ssize_t fd_read(void *ctx, void *buf, size_t len)
{
	struct fd_reader *r = ctx;

	for (;;) {
		ssize_t n = read(r->fd, buf, len);

		if (n >= 0)
			return n;
		if (errno != EINTR) {
			int err = errno;

			tsm_error("reading %s: %s", r->what, strerror(err));
			return -err;
		}
	}
}

int tsm_blob_writer_import_fd(struct tsm_blob_writer *w, int fd, const char *what,
			      struct tsm_progress *progress, int64_t *blob_id_ret,
			      uint64_t *size_ret)
{
	struct fd_reader r = { fd, what };

	return tsm_blob_writer_import_stream(w, fd_read, &r, what, progress, blob_id_ret, size_ret);
}

struct mem_reader {
	const uint8_t *p;
	size_t left;
};

static ssize_t mem_read(void *ctx, void *buf, size_t len)
{
	struct mem_reader *m = ctx;
	size_t n = len < m->left ? len : m->left;

	memcpy(buf, m->p, n);
	m->p += n;
	m->left -= n;
	return (ssize_t)n;
}

int tsm_store_put_bytes(struct tsm_store *store, const void *data, size_t len, const char *what,
			int64_t *blob_id_ret)
{
	struct tsm_blob_writer *w;
	struct mem_reader m = { data, len };
	uint64_t size;
	int rc = tsm_blob_writer_new(store, &w);

	if (rc < 0)
		return rc;
	rc = tsm_blob_writer_import_stream(w, mem_read, &m, what, NULL, blob_id_ret, &size);
	tsm_blob_writer_free(w);
	return rc;
}

int tsm_store_put_wim_resource(struct tsm_store *store, int64_t wim_blob,
			       const struct tsm_wim_res_desc *d,
			       const uint8_t sha256[TSM_SHA256_LEN],
			       const uint8_t sha1[TSM_SHA1_LEN], const char *what,
			       int64_t *blob_id_ret)
{
	sqlite3_stmt *stmt = tsm_store_stmt(store, TSM_STMT_BLOB_FIND);
	int64_t wim_size = -1;
	int rc;

	if (!stmt)
		return -EIO;
	/* Bytes the store holds already (as chunks or inside a WIM) stay
	 * where they are. */
	sqlite3_bind_blob(stmt, 1, sha256, TSM_SHA256_LEN, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*blob_id_ret = sqlite3_column_int64(stmt, 0);
		rc = (uint64_t)sqlite3_column_int64(stmt, 1) == d->size ? 0 : -EIO;
		sqlite3_reset(stmt);
		if (rc < 0)
			tsm_error("%s: a stored blob has the same SHA-256 and another size", what);
		return rc;
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		return tsm_db_error(store->db, "looking up a blob");
	if ((rc = tsm_db_prepare(store->db, "SELECT size FROM blobs WHERE id = ?", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, wim_blob);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		wim_size = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	if (wim_size < 0) {
		tsm_error("%s: blob %lld is not in the catalog", what, (long long)wim_blob);
		return -ENOENT;
	}
	if ((rc = tsm_wim_res_check(what, d, (uint64_t)wim_size)) < 0)
		return rc;
	if (!(stmt = tsm_store_stmt(store, TSM_STMT_BLOB_INSERT)))
		return -EIO;
	sqlite3_bind_blob(stmt, 1, sha256, TSM_SHA256_LEN, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 2, sha1, TSM_SHA1_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, (int64_t)d->size);
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		return tsm_db_error(store->db, "adding a blob");
	*blob_id_ret = sqlite3_last_insert_rowid(store->db);
	if ((rc = tsm_db_prepare(store->db,
				 "INSERT INTO blob_wim_resources(blob, wim, offset, stored_size, format,"
				 " chunk_size) VALUES(?, ?, ?, ?, ?, ?)", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, *blob_id_ret);
	sqlite3_bind_int64(stmt, 2, wim_blob);
	sqlite3_bind_int64(stmt, 3, (int64_t)d->offset);
	sqlite3_bind_int64(stmt, 4, (int64_t)d->stored_size);
	sqlite3_bind_int(stmt, 5, (int)d->format);
	sqlite3_bind_int64(stmt, 6, d->chunk_size);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : tsm_db_error(store->db, "adding a blob's WIM resource");
}
