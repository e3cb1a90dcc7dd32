/* File content into chunks and a blob.
 *
 * Three buffers of 1 MiB turn: while the workers hash and compress the
 * chunks of one (two jobs run the file's whole SHA-256 and SHA-1 over it),
 * the calling thread stores the one before and reads and cuts the next.
 * Chunks are recorded in file order by the calling thread, which alone
 * touches sqlite and places chunks in the packs; a worker writes a
 * buffer's new chunks to their places (pack.h), and every write has ended
 * before its buffer is reused and before the session commits or aborts.
 * While it waits for the workers, the calling thread runs their jobs too.
 *
 * Small files go in bulk (tsm_blob_writer_queue_file): many are read and
 * cut into one batch, whose files the workers hash (one job per file)
 * while the calling thread reads the next batch and stores the one before,
 * file after file in the order they were queued.  What reaches the packs
 * and the catalog, and in which order, is what the file-by-file path
 * writes (the same cuts, the same compression choice, the same rows). */
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

/* Small enough that the bytes read are still in the cache when the workers
 * hash them: SHA-256 of 8 MiB just read by another thread ran at 2/3 of
 * its speed on 1 MiB here (the next pass reads them from memory). */
#define BUFFER_DATA (1u << 20)
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

/* The new chunks of a buffer or batch, written to their packs by a worker
 * while the calling thread goes on (pack.h: placed in order by the calling
 * thread, written before the session ends). */
struct write_job {
	struct tsm_pack_write *writes;
	size_t n, cap;
	int err;
	int64_t err_pack;
};

struct buffer {
	uint8_t *data;
	uint8_t *zdata; /* compressed chunks, at the same offsets as in data */
	size_t len;     /* valid bytes in data */
	size_t cut;     /* bytes covered by jobs; the rest moves to the other buffer */
	struct chunk_job *jobs;
	size_t njobs, cap_jobs;
	struct hash_job hash[2]; /* SHA-256, SHA-1 */
	struct write_job write;
};

/* A queued small file (or a place in the order, with no bytes). */
struct small_item {
	bool is_blob;
	const uint8_t *data; /* its bytes in the batch */
	size_t len;
	size_t job0, njobs; /* its chunks: the batch's jobs[job0 .. job0 + njobs) */
	struct chunk_job *jobs; /* &jobs[job0], once the batch is submitted */
	uint8_t sha256[TSM_SHA256_LEN], sha1[TSM_SHA1_LEN];
	int err;
	char *what;
	tsm_blob_done_fn done;
	void *ctx;
};

/* A file is read into room for INLINE_LIMIT + 1 bytes, so a batch holds
 * about 1 MiB of files, hashed while still in the cache (as BUFFER_DATA). */
#define SMALL_BATCH_DATA (2 * (INLINE_LIMIT + 1))
#define SMALL_BATCH_ITEMS 2048

struct small_batch {
	uint8_t *data, *zdata;
	size_t len;
	struct write_job write;
	struct chunk_job *jobs;
	size_t njobs, cap_jobs;
	struct small_item *items;
	size_t nitems, cap_items;
};

struct tsm_blob_writer {
	struct tsm_store *store;
	/* The workers, or NULL with TSMEDIA_THREADS=1: then every job runs on
	 * the calling thread, in the order it is submitted, through the same
	 * steps (the same chunks, the same store bytes). */
	struct tsm_workqueue *wq;
	unsigned nworkers;
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

	/* Small files: one batch being filled (@small_cur), the one before it
	 * (when @small_pending) being hashed, to be stored next, and the one
	 * before that being written to the packs. */
	struct small_batch small[3];
	int small_cur;
	bool small_pending;
	struct tsm_progress *small_progress;
};

#define COMPRESS_PROBE (8u << 20)   /* tried on at least this much of a file */
#define COMPRESS_REPROBE (64u << 20) /* and on this much in every */
#define COMPRESS_WINDOW (8u << 20)  /* ... of this much after */

static bool compression_worth_trying(const struct tsm_blob_writer *w)
{
	return w->tried < COMPRESS_PROBE || w->compressed_chunks > 0 ||
	       w->submitted % COMPRESS_REPROBE < COMPRESS_WINDOW;
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
	/* The calling thread is one of the @nthreads: it reads, cuts and
	 * stores, and runs jobs while it waits for them (the inline slot). */
	w->nworkers = nthreads > 1 ? nthreads - 1 : 0;
	if (store->compression == TSM_COMPRESSION_ZSTD) {
		for (unsigned i = 0; i <= w->nworkers; i++) {
			if (!(w->cctx[i] = ZSTD_createCCtx())) {
				rc = -ENOMEM;
				goto out_free;
			}
		}
	}
	if (w->nworkers && (rc = tsm_workqueue_new(w->nworkers, &w->wq)) < 0)
		goto out_free;
	if (w->wq)
		w->nworkers = tsm_workqueue_threads(w->wq);
	*writer_ret = w;
	return 0;

out_free:
	tsm_blob_writer_free(w);
	return rc;
}

static void small_batch_drop(struct small_batch *b, size_t from)
{
	for (size_t i = from; i < b->nitems; i++) {
		b->items[i].done(b->items[i].ctx, -ECANCELED, 0, 0);
		free(b->items[i].what);
	}
	b->nitems = b->njobs = b->len = 0;
}

static void small_batch_free(struct small_batch *b)
{
	small_batch_drop(b, 0);
	free(b->data);
	free(b->zdata);
	free(b->jobs);
	free(b->items);
	free(b->write.writes);
}

void tsm_blob_writer_free(struct tsm_blob_writer *w)
{
	if (!w)
		return;
	tsm_workqueue_free(w->wq);
	for (int i = 0; i < 3; i++)
		small_batch_free(&w->small[i]);
	for (int i = 0; i <= MAX_WORKERS; i++)
		ZSTD_freeCCtx(w->cctx[i]);
	for (int i = 0; i < NBUFFERS; i++) {
		free(w->buf[i].data);
		free(w->buf[i].zdata);
		free(w->buf[i].jobs);
		free(w->buf[i].write.writes);
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

static int writer_submit(struct tsm_blob_writer *w, tsm_work_fn fn, void *arg)
{
	if (!w->wq) {
		fn(arg, w->nworkers); /* the inline slot */
		return 0;
	}
	return tsm_workqueue_submit(w->wq, fn, arg);
}

static void write_job_run(void *arg, unsigned worker)
{
	struct write_job *job = arg;
	struct iovec iov[64];
	size_t i = 0;

	(void)worker;
	/* Chunks placed one after the other go in one call. */
	while (i < job->n && job->err == 0) {
		const struct tsm_pack_write *first = &job->writes[i];
		uint64_t end = first->offset;
		int n = 0;

		while (i < job->n && n < 64 && job->writes[i].fd == first->fd &&
		       job->writes[i].offset == end) {
			iov[n++] = (struct iovec){ (void *)job->writes[i].data, job->writes[i].len };
			end += job->writes[i++].len;
		}
		if ((job->err = tsm_pack_write_at(first->fd, iov, n, first->offset)) < 0)
			job->err_pack = first->pack;
	}
}

static int write_job_add(struct write_job *job, const struct tsm_pack_write *pw)
{
	if (job->n == job->cap) {
		size_t cap = job->cap ? 2 * job->cap : 64;
		void *p = realloc(job->writes, cap * sizeof(*job->writes));

		if (!p)
			return -ENOMEM;
		job->writes = p;
		job->cap = cap;
	}
	job->writes[job->n++] = *pw;
	return 0;
}

/* The first write that failed since the last wait, reported. */
static int write_job_check(struct tsm_blob_writer *w, struct write_job *job)
{
	int rc = job->err;

	if (rc < 0)
		tsm_pack_write_report(w->store, job->err_pack, rc);
	job->err = 0;
	return rc;
}

/* Every job submitted so far has run (and every write of new chunks is
 * in its pack); the first write error, if any. */
static int writer_wait(struct tsm_blob_writer *w)
{
	int rc = 0, err;

	if (w->wq)
		tsm_workqueue_wait_helping(w->wq, w->nworkers);
	for (int i = 0; i < NBUFFERS; i++)
		if ((err = write_job_check(w, &w->buf[i].write)) < 0 && rc == 0)
			rc = err;
	for (int i = 0; i < 3; i++)
		if ((err = write_job_check(w, &w->small[i].write)) < 0 && rc == 0)
			rc = err;
	return rc;
}

/* A job for the chunk at @data (its compressed form goes to @out). */
static int jobs_add(struct tsm_blob_writer *w, struct chunk_job **jobs, size_t *njobs,
		    size_t *cap_jobs, const uint8_t *data, uint8_t *out, size_t len)
{
	struct chunk_job *job;

	if (*njobs == *cap_jobs) {
		size_t cap = *cap_jobs ? 2 * *cap_jobs : 256;
		void *p = realloc(*jobs, cap * sizeof(**jobs));

		if (!p)
			return -ENOMEM;
		*jobs = p;
		*cap_jobs = cap;
	}
	job = &(*jobs)[(*njobs)++];
	job->writer = w;
	job->data = data;
	job->out = out;
	job->len = len;
	job->err = 0;
	return 0;
}

static int buffer_add_job(struct tsm_blob_writer *w, struct buffer *b, size_t off, size_t len)
{
	return jobs_add(w, &b->jobs, &b->njobs, &b->cap_jobs, b->data + off, b->zdata + off, len);
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

/* Records a hashed chunk, unless stored already, and places its bytes in
 * the pack for @write to write. */
static int chunk_store(struct tsm_blob_writer *w, struct write_job *write,
		       const struct chunk_job *job, int64_t *id_ret)
{
	struct tsm_pack_write pw;
	int rc = tsm_chunk_put_deferred(w->store, job->hash, job->data, job->len,
					job->out_len ? job->out : NULL, job->out_len, &pw, id_ret);

	if (rc < 0 || pw.len == 0)
		return rc;
	return write_job_add(write, &pw);
}

/* Stores the processed chunks of @b, in order; their bytes go to the packs
 * on a worker (writer_wait() says how it went). */
static int buffer_commit(struct tsm_blob_writer *w, struct buffer *b, const char *what,
			 struct tsm_progress *progress)
{
	int rc;

	b->write.n = 0;
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
		if ((rc = chunk_store(w, &b->write, job, &id)) < 0)
			return rc;
		if ((rc = chunk_ids_push(w, id)) < 0)
			return rc;
		w->size += job->len;
		tsm_progress_add(progress, job->len);
	}
	return writer_submit(w, write_job_run, &b->write);
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
		if ((rc = writer_submit(w, hash_job_run, &b->hash[i])) < 0)
			return rc;
	for (size_t i = 0; i < b->njobs; i++)
		if ((rc = writer_submit(w, chunk_job_run, &b->jobs[i])) < 0)
			return rc;
	return 0;
}

static void buffer_run_inline(struct tsm_blob_writer *w, struct buffer *b)
{
	unsigned inline_slot = w->nworkers;

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
	int cur = 0, rc = 0, err;
	bool eof = false;

	w->buf[0].len = 0;
	while (!eof) {
		struct buffer *b = &w->buf[cur], *next = &w->buf[(cur + 1) % NBUFFERS];

		/* The workers hash @pending meanwhile. */
		if ((rc = buffer_fill(b, in, &eof)) < 0 || (rc = buffer_cut(w, b, eof)) < 0)
			break;
		if (!pending && eof && b->len <= INLINE_LIMIT) {
			buffer_run_inline(w, b);
			rc = buffer_commit(w, b, what, progress);
			pending = NULL;
			break;
		}
		/* @pending hashed, and the buffer stored before it written. */
		if (pending && (rc = writer_wait(w)) < 0)
			break;
		if ((rc = buffer_submit(w, b)) < 0)
			break;
		/* Stored while the workers hash @b. */
		if (pending && (rc = buffer_commit(w, pending, what, progress)) < 0)
			break;
		/* The uncut tail starts the next buffer, which is free: it was
		 * stored two rounds ago, and written since. */
		next->len = b->len - b->cut;
		memcpy(next->data, b->data + b->cut, next->len);
		pending = b;
		cur = (cur + 1) % NBUFFERS;
	}
	err = writer_wait(w);
	if (pending && rc == 0 && (rc = err) == 0)
		rc = buffer_commit(w, pending, what, progress);
	/* The buffers are free for the next file. */
	err = writer_wait(w);
	return rc < 0 ? rc : err;
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

/* ---- small files in bulk ------------------------------------------- */

bool tsm_blob_writer_parallel(const struct tsm_blob_writer *w) { return w->wq != NULL; }

bool tsm_blob_writer_pending(const struct tsm_blob_writer *w)
{
	return w->small_pending || w->small[w->small_cur].nitems > 0;
}

/* One small file on one worker: its chunks, then its SHA-256 and SHA-1
 * over its bytes in the batch (fixed while the batch's jobs run), which
 * the chunks' pass has just brought into this core's cache.  A file of
 * one chunk has the chunk's SHA-256. */
static void small_file_run(void *arg, unsigned worker)
{
	struct small_item *item = arg;

	for (size_t j = 0; j < item->njobs; j++) {
		item->jobs[j].try_compress = true; /* as a small file alone (buffer_run_inline) */
		chunk_job_run(&item->jobs[j], worker);
	}
	if (item->njobs == 1 && item->jobs[0].err == 0 && item->jobs[0].len == item->len)
		memcpy(item->sha256, item->jobs[0].hash, TSM_SHA256_LEN);
	else
		item->err = tsm_sha256(item->data, item->len, item->sha256);
	if (item->err == 0)
		item->err = tsm_sha1(item->data, item->len, item->sha1);
}

static int small_batch_submit(struct tsm_blob_writer *w, struct small_batch *b)
{
	int rc;

	for (size_t i = 0; i < b->nitems; i++) {
		struct small_item *item = &b->items[i];

		if (!item->is_blob)
			continue;
		item->jobs = b->jobs + item->job0; /* the array no longer grows */
		if ((rc = writer_submit(w, small_file_run, item)) < 0)
			return rc;
	}
	return 0;
}

/* Stores one small file: its chunks in order, then its blob row. */
static int small_item_store(struct tsm_blob_writer *w, struct small_batch *b,
			    struct small_item *item, int64_t *blob_id_ret)
{
	int rc;

	if (item->err < 0) {
		tsm_error("hashing %s failed", item->what);
		return -EIO;
	}
	w->n_chunk_ids = 0;
	for (size_t j = item->job0; j < item->job0 + item->njobs; j++) {
		struct chunk_job *job = &b->jobs[j];
		int64_t id;

		if (job->err < 0) {
			tsm_error("hashing a chunk of %s failed", item->what);
			return job->err;
		}
		rc = chunk_store(w, &b->write, job, &id);
		if (rc < 0 || (rc = chunk_ids_push(w, id)) < 0)
			return rc;
		tsm_progress_add(w->small_progress, job->len);
	}
	return blob_record(w, item->sha256, item->sha1, item->len, item->what, blob_id_ret);
}

/* Stores the batch's files and calls their owners, in queue order; the
 * new chunks' bytes go to the packs on a worker. */
static int small_batch_commit(struct tsm_blob_writer *w, struct small_batch *b)
{
	size_t i = 0;
	int rc = 0;

	b->write.n = 0;
	while (i < b->nitems && rc == 0) {
		struct small_item *item = &b->items[i++];
		int64_t blob_id = 0;
		int status = item->is_blob ? small_item_store(w, b, item, &blob_id) : 0;

		rc = item->done(item->ctx, status, blob_id, item->len);
		if (status < 0)
			rc = status;
		free(item->what);
	}
	/* After an error the rest are let go: the import is given up. */
	small_batch_drop(b, i);
	return rc < 0 ? rc : writer_submit(w, write_job_run, &b->write);
}

/* The batch being hashed: the one filled before @small_cur. */
static struct small_batch *small_hashed(struct tsm_blob_writer *w)
{
	return &w->small[(w->small_cur + 2) % 3];
}

/* The filled batch goes to the workers; the one before is stored meanwhile,
 * and the one written to the packs since is filled next. */
static int small_cycle(struct tsm_blob_writer *w)
{
	struct small_batch *cur = &w->small[w->small_cur], *prev = small_hashed(w);
	int rc;

	if ((rc = writer_wait(w)) < 0 || (rc = small_batch_submit(w, cur)) < 0)
		return rc;
	if (w->small_pending && (rc = small_batch_commit(w, prev)) < 0)
		return rc;
	w->small_pending = true;
	w->small_cur = (w->small_cur + 1) % 3;
	return 0;
}

int tsm_blob_writer_flush(struct tsm_blob_writer *w)
{
	int rc = 0, err;

	if (w->small[w->small_cur].nitems && (rc = small_cycle(w)) < 0)
		return rc;
	if ((rc = writer_wait(w)) < 0)
		return rc;
	if (w->small_pending) {
		w->small_pending = false;
		rc = small_batch_commit(w, small_hashed(w));
	}
	/* Everything queued is in the packs. */
	if ((err = writer_wait(w)) < 0 && rc == 0)
		rc = err;
	return rc;
}

static struct small_item *small_item_new(struct small_batch *b)
{
	if (b->nitems == b->cap_items) {
		size_t cap = b->cap_items ? 2 * b->cap_items : 64;
		void *p = realloc(b->items, cap * sizeof(*b->items));

		if (!p)
			return NULL;
		b->items = p;
		b->cap_items = cap;
	}
	memset(&b->items[b->nitems], 0, sizeof(b->items[0]));
	return &b->items[b->nitems++];
}

/* Room in the batch being filled for @len bytes and an item, storing the
 * batch before when there is none. */
static int small_make_room(struct tsm_blob_writer *w, size_t len, struct small_batch **b_ret)
{
	struct small_batch *b = &w->small[w->small_cur];
	int rc;

	if (b->nitems == SMALL_BATCH_ITEMS || b->len + len > SMALL_BATCH_DATA) {
		if ((rc = small_cycle(w)) < 0)
			return rc;
		b = &w->small[w->small_cur];
	}
	if (!b->data && (!(b->data = malloc(SMALL_BATCH_DATA)) ||
			 !(b->zdata = malloc(SMALL_BATCH_DATA))))
		return -ENOMEM;
	*b_ret = b;
	return 0;
}

int tsm_blob_writer_queue_entry(struct tsm_blob_writer *w, tsm_blob_done_fn done, void *ctx)
{
	struct small_batch *b;
	struct small_item *item;
	int rc;

	if ((rc = small_make_room(w, 0, &b)) < 0)
		return rc;
	if (!(item = small_item_new(b)))
		return -ENOMEM;
	item->done = done;
	item->ctx = ctx;
	return 0;
}

/* Queues the @len bytes at the end of batch @b (b->data + b->len) as a
 * small file: its chunks cut, an item in queue order. */
static int small_queue(struct tsm_blob_writer *w, struct small_batch *b, size_t len,
		       const char *what, struct tsm_progress *progress, tsm_blob_done_fn done,
		       void *ctx)
{
	struct small_item *item;
	size_t off;
	int rc;

	if (!(item = small_item_new(b)) || !(item->what = strdup(what))) {
		if (item)
			b->nitems--;
		return -ENOMEM;
	}
	item->is_blob = true;
	item->data = b->data + b->len;
	item->len = len;
	item->job0 = b->njobs;
	item->done = done;
	item->ctx = ctx;
	for (off = 0; off < len;) {
		size_t n = tsm_chunker_cut(&w->store->chunker, b->data + b->len + off, len - off, true);

		if ((rc = jobs_add(w, &b->jobs, &b->njobs, &b->cap_jobs, b->data + b->len + off,
				   b->zdata + b->len + off, n)) < 0) {
			free(item->what);
			b->nitems--;
			b->njobs = item->job0;
			return rc;
		}
		off += n;
	}
	item->njobs = b->njobs - item->job0;
	b->len += len;
	w->small_progress = progress;
	return 0;
}

int tsm_blob_writer_queue_file(struct tsm_blob_writer *w, int fd, const char *what,
			       struct tsm_progress *progress, tsm_blob_done_fn done, void *ctx)
{
	struct small_batch *b;
	size_t len = 0;
	int rc;

	if ((rc = small_make_room(w, INLINE_LIMIT + 1, &b)) < 0)
		return rc;
	/* pread: a file found not small is read again from its start. */
	while (len <= INLINE_LIMIT) {
		ssize_t n = pread(fd, b->data + b->len + len, INLINE_LIMIT + 1 - len, (off_t)len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			tsm_error("reading %s: %s", what, strerror(-rc));
			return rc;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > INLINE_LIMIT)
		return 1;
	return small_queue(w, b, len, what, progress, done, ctx);
}

int tsm_blob_writer_queue_bytes(struct tsm_blob_writer *w, const void *data, size_t len,
				const char *what, struct tsm_progress *progress,
				tsm_blob_done_fn done, void *ctx)
{
	struct small_batch *b;
	int rc;

	if (len > INLINE_LIMIT)
		return 1;
	if ((rc = small_make_room(w, len, &b)) < 0)
		return rc;
	memcpy(b->data + b->len, data, len);
	return small_queue(w, b, len, what, progress, done, ctx);
}

int tsm_blob_writer_import_stream(struct tsm_blob_writer *w, tsm_blob_read_fn read, void *ctx,
				  const char *what, struct tsm_progress *progress,
				  int64_t *blob_id_ret, uint64_t *size_ret)
{
	uint8_t sha256[TSM_SHA256_LEN], sha1[TSM_SHA1_LEN];
	struct stream in = { read, ctx };
	int rc;

	/* Files queued before this one are stored before it. */
	if ((rc = tsm_blob_writer_flush(w)) < 0)
		return rc;

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
