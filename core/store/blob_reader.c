/* Reading a blob back: binary search for the chunk, read it, check it.
 * The last chunk read is kept, so sequential small reads cost one chunk
 * read per chunk.  A reader moving forward has the chunks it will read
 * next checked ahead on worker threads (verify_ahead.c): reads that
 * continue where the last one ended ask for it themselves, and an image
 * reader asks for the blobs it will come to (tsm_blob_reader_ahead).
 *
 * A blob listed in blob_wim_resources has no chunks of its own: its bytes
 * are a resource of another blob, a stored WIM (a boot image's boot
 * files inside its boot.wim), read through that blob's reader, so every
 * byte still comes from chunks checked against their SHA-256
 * (store/wim_resource.h decompresses them). */
#include "store/remote.h"
#include "store/store_internal.h"

#include <errno.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "store/wim_resource.h"
#include "tsmedia/log.h"
#include "util/db.h"

/* A reader that reads on from where it stopped has this much after its
 * read checked ahead. */
#define AHEAD_BYTES (8u << 20)
#define AHEAD_JOBS 16

struct tsm_blob_reader {
	struct tsm_store *store;
	int64_t blob_id;
	uint64_t size;
	size_t nchunks;
	struct tsm_chunk_loc *chunks;
	uint64_t *starts; /* offset of each chunk in the blob */
	uint8_t *cache;   /* the chunk last read */
	uint8_t *scratch;
	ssize_t cached;   /* its index, or -1 */
	/* A blob inside a WIM blob: that blob's reader and the resource. */
	struct tsm_blob_reader *wim;
	struct tsm_wim_res *res;
	char *what;

	/* Verify ahead: jobs handed to the workers and not yet behind the
	 * reader, oldest first; chunks before @ahead_end were handed over. */
	struct reader_job {
		struct tsm_ahead_job *job;
		size_t first, n;
	} jobs[AHEAD_JOBS];
	size_t njobs;
	size_t ahead_end;
	size_t pos;       /* the chunk the last read started in */
	uint64_t seq_end; /* where the last pread ended */
};

static int reader_load_chunks(struct tsm_blob_reader *r)
{
	struct tsm_store *store = r->store;
	sqlite3_stmt *stmt;
	int64_t count = 0;
	uint64_t pos = 0;
	size_t i = 0;
	int rc;

	if ((rc = tsm_db_prepare(store->db,
				 "SELECT count(*) FROM blob_chunks WHERE blob = ?", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, r->blob_id);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		count = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	/* A blob of n chunks holds at least n bytes (chunks are never empty
	 * but for the empty blob's one): more chunks than bytes is damage. */
	if (count < 0 || (uint64_t)count > r->size + 1 ||
	    (uint64_t)count >= SIZE_MAX / sizeof(*r->chunks)) {
		tsm_error("%s: blob %lld: %lld chunks for %llu bytes in the catalog", store->dir,
			  (long long)r->blob_id, (long long)count, (unsigned long long)r->size);
		return -EIO;
	}
	r->chunks = calloc((size_t)count + 1, sizeof(*r->chunks));
	r->starts = calloc((size_t)count + 1, sizeof(*r->starts));
	if (!r->chunks || !r->starts)
		return -ENOMEM;
	if ((rc = tsm_db_prepare(store->db,
				 "SELECT " TSM_CHUNK_LOC_COLUMNS
				 " FROM blob_chunks b JOIN chunks c ON c.id = b.chunk"
				 " WHERE b.blob = ? ORDER BY b.seq", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, r->blob_id);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && i < (size_t)count) {
		struct tsm_chunk_loc *c = &r->chunks[i];

		if (tsm_chunk_loc_from_row(store, stmt, 0, c) < 0) {
			sqlite3_finalize(stmt);
			return -EIO;
		}
		r->starts[i] = pos;
		if (__builtin_add_overflow(pos, (uint64_t)c->size, &pos)) {
			sqlite3_finalize(stmt);
			tsm_error("%s: blob %lld: its chunk sizes overflow", store->dir,
				  (long long)r->blob_id);
			return -EIO;
		}
		i++;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return tsm_db_error(store->db, "reading a blob's chunk list");
	r->nchunks = i;
	if (pos != r->size) {
		tsm_error("%s: blob %lld: chunks add up to %llu bytes, the catalog says %llu",
			  store->dir, (long long)r->blob_id, (unsigned long long)pos,
			  (unsigned long long)r->size);
		return -EIO;
	}
	return 0;
}

/* tsm_wim_res_pread_fn over the WIM blob. */
static int wim_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct tsm_blob_reader *wim = ctx;
	ssize_t n = tsm_blob_reader_pread(wim, buf, len, off);

	if (n >= 0 && (size_t)n != len) {
		tsm_error("%s: blob %lld ends before byte %llu", wim->store->dir,
			  (long long)wim->blob_id, (unsigned long long)(off + len));
		return -EIO;
	}
	return n < 0 ? (int)n : 0;
}

/* The blob's WIM resource row, if it has one: its reader reads through
 * the WIM blob's.  0 also when there is none (r->res stays NULL). */
static int reader_open_wim_resource(struct tsm_blob_reader *r)
{
	struct tsm_store *store = r->store;
	struct tsm_wim_res_desc d = { 0 };
	sqlite3_stmt *stmt;
	int64_t wim_blob, v[5];
	int rc;

	if ((rc = tsm_db_prepare(store->db,
				 "SELECT wim, offset, stored_size, format, chunk_size"
				 " FROM blob_wim_resources WHERE blob = ?", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, r->blob_id);
	rc = sqlite3_step(stmt);
	for (int i = 0; i < 5; i++)
		v[i] = sqlite3_column_int64(stmt, i);
	sqlite3_finalize(stmt);
	wim_blob = v[0];
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return tsm_db_error(store->db, "reading a blob's WIM resource");
	if (asprintf(&r->what, "%s: blob %lld (in WIM blob %lld)", store->dir,
		     (long long)r->blob_id, (long long)wim_blob) < 0) {
		r->what = NULL;
		return -ENOMEM;
	}
	if (v[1] < 0 || v[2] < 0 || v[3] < 0 || v[3] > TSM_WIM_FORMAT_LZMS || v[4] < 0 ||
	    v[4] > TSM_WIM_RES_CHUNK_MAX) {
		tsm_error("%s: a WIM resource row with negative or unknown values", r->what);
		return -EIO;
	}
	d = (struct tsm_wim_res_desc){ .offset = (uint64_t)v[1], .stored_size = (uint64_t)v[2],
				       .size = r->size, .format = (enum tsm_wim_format)v[3],
				       .chunk_size = (uint32_t)v[4] };
	if ((rc = tsm_blob_reader_open(store, wim_blob, &r->wim)) < 0)
		return rc;
	/* One level: the WIM is a blob of chunks. */
	if (r->wim->res) {
		tsm_error("%s: the WIM blob is itself inside another blob", r->what);
		return -EIO;
	}
	return tsm_wim_res_open(r->what, &d, r->wim->size, wim_pread, r->wim, &r->res);
}

int tsm_blob_reader_open(struct tsm_store *store, int64_t blob_id,
			 struct tsm_blob_reader **reader_ret)
{
	struct tsm_blob_reader *r = calloc(1, sizeof(*r));
	sqlite3_stmt *stmt;
	int rc;

	if (!r)
		return -ENOMEM;
	r->store = store;
	r->blob_id = blob_id;
	r->cached = -1;
	r->seq_end = UINT64_MAX;
	if ((rc = tsm_db_prepare(store->db, "SELECT size FROM blobs WHERE id = ?", &stmt)) < 0)
		goto out_free;
	sqlite3_bind_int64(stmt, 1, blob_id);
	rc = sqlite3_step(stmt);
	int64_t size = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : 0;
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW) {
		tsm_error("%s: blob %lld is not in the catalog", store->dir, (long long)blob_id);
		rc = -ENOENT;
		goto out_free;
	}
	if (size < 0) {
		tsm_error("%s: blob %lld has a negative size in the catalog", store->dir,
			  (long long)blob_id);
		rc = -EIO;
		goto out_free;
	}
	r->size = (uint64_t)size;
	if ((rc = reader_open_wim_resource(r)) < 0)
		goto out_free;
	if (r->res) {
		*reader_ret = r;
		return 0;
	}
	r->cache = malloc(TSM_CHUNK_MAX);
	r->scratch = malloc(TSM_CHUNK_MAX);
	if (!r->cache || !r->scratch) {
		rc = -ENOMEM;
		goto out_free;
	}
	if ((rc = reader_load_chunks(r)) < 0)
		goto out_free;
	*reader_ret = r;
	return 0;

out_free:
	tsm_blob_reader_close(r);
	return rc;
}

uint64_t tsm_blob_reader_size(const struct tsm_blob_reader *r) { return r->size; }

static size_t chunk_index_at(const struct tsm_blob_reader *r, uint64_t offset)
{
	size_t lo = 0, hi = r->nchunks;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->starts[mid] <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static void reader_job_drop(struct tsm_blob_reader *r, size_t k)
{
	tsm_ahead_job_cancel(r->jobs[k].job);
	tsm_ahead_job_put(r->jobs[k].job);
	memmove(&r->jobs[k], &r->jobs[k + 1], (r->njobs - k - 1) * sizeof(r->jobs[0]));
	r->njobs--;
}

void tsm_blob_reader_ahead(struct tsm_blob_reader *r, uint64_t offset, uint64_t len)
{
	struct tsm_ahead_job *job;
	struct tsm_ahead *ctx;
	size_t first, end;

	/* A WIM resource has no chunks of its own: its reads go through the
	 * WIM blob's reader, which checks what it reads itself. */
	if (r->res || !r->nchunks)
		return;
	if (offset >= r->size || len == 0 || !(ctx = tsm_ahead_get(r->store)))
		return;
	if (len > r->size - offset)
		len = r->size - offset;
	first = chunk_index_at(r, offset);
	end = chunk_index_at(r, offset + len - 1) + 1;
	/* Jobs the reader has passed are of no more use. */
	while (r->njobs && r->jobs[0].first + r->jobs[0].n <= r->pos)
		reader_job_drop(r, 0);
	/* Moved back before what was handed over: start again from here. */
	if (first < r->ahead_end && (!r->njobs || first < r->jobs[0].first)) {
		while (r->njobs)
			reader_job_drop(r, r->njobs - 1);
		r->ahead_end = first;
	}
	if (first < r->ahead_end)
		first = r->ahead_end;
	if (first >= end)
		return;
	if (r->njobs == AHEAD_JOBS)
		reader_job_drop(r, 0);
	if (tsm_ahead_submit(ctx, &r->chunks[first], end - first, &job) < 0)
		return; /* the reader checks them itself */
	r->jobs[r->njobs++] = (struct reader_job){ job, first, end - first };
	r->ahead_end = end;
}

/* The reader is at chunk @i: true when a worker checked it ahead (the
 * verified map says how that went), false when the reader checks it.
 * A compressed chunk the worker checked is copied to the reader's cache. */
static bool reader_ahead_claim(struct tsm_blob_reader *r, size_t i)
{
	for (size_t k = 0; k < r->njobs; k++) {
		struct reader_job *j = &r->jobs[k];
		const uint8_t *bytes;

		if (i < j->first || i - j->first >= j->n)
			continue;
		if (!tsm_ahead_claim(j->job, i - j->first))
			return false;
		if ((bytes = tsm_ahead_bytes(j->job, i - j->first))) {
			memcpy(r->cache, bytes, r->chunks[i].size);
			r->cached = (ssize_t)i;
		}
		return true;
	}
	return false;
}

/* A compressed chunk's bytes from the process's cache of decompressed
 * chunks, when it holds them and the chunk is checked in its pack file as
 * it is now (chunk_cache.c): true when @n bytes from @in_chunk are in @out. */
static bool reader_cache_copy(struct tsm_blob_reader *r, const struct tsm_chunk_loc *c,
			      uint8_t *out, size_t n, uint64_t in_chunk)
{
	struct tsm_chunk_cache *cache = tsm_verified_chunk_cache(r->store->verified);
	struct tsm_cached_chunk *e;
	bool ok;

	if (c->codec == TSM_COMPRESSION_NONE || tsm_remote_is_frontend(r->store) ||
	    !(e = tsm_chunk_cache_get(cache, c)))
		return false;
	if ((ok = tsm_chunk_is_checked(r->store, c)))
		memcpy(out, tsm_cached_chunk_bytes(e) + in_chunk, n);
	tsm_chunk_cache_release(cache, e);
	return ok;
}

ssize_t tsm_blob_reader_pread(struct tsm_blob_reader *r, void *buf, size_t len,
			      uint64_t offset)
{
	uint8_t *out = buf;
	size_t done = 0;
	size_t i;

	if (offset >= r->size || len == 0)
		return 0;
	if (r->res)
		return tsm_wim_res_pread(r->res, buf, len, offset);
	if (len > r->size - offset)
		len = (size_t)(r->size - offset);
	if (len > SSIZE_MAX)
		len = SSIZE_MAX;
	i = chunk_index_at(r, offset);
	r->pos = i;
	/* A frontend's copy of its last chunk serves only the read that goes
	 * on from where this one ended: its cache files can be changed
	 * behind its back, and a reader starting over (or elsewhere) reads
	 * them again, so a damaged one is caught there rather than served
	 * from a copy made before the damage (the copy itself was checked;
	 * it is only never older than the pass that made it). */
	if (offset != r->seq_end && tsm_remote_is_frontend(r->store))
		r->cached = -1;
	/* Reading on from where the last read ended: sequential. */
	if (offset == r->seq_end)
		tsm_blob_reader_ahead(r, offset, (uint64_t)len + AHEAD_BYTES);
	while (done < len) {
		struct tsm_chunk_loc *c = &r->chunks[i];
		uint64_t in_chunk = offset + done - r->starts[i];
		size_t n = c->size - (size_t)in_chunk;

		if (n > len - done)
			n = len - done;
		if (r->cached != (ssize_t)i &&
		    (tsm_chunk_pread_checked(r->store, c, out + done, n, (uint32_t)in_chunk) == 0 ||
		     (reader_ahead_claim(r, i) && r->cached != (ssize_t)i &&
		      tsm_chunk_pread_checked(r->store, c, out + done, n, (uint32_t)in_chunk) == 0))) {
			done += n;
			i++;
			continue;
		}
		if (r->cached != (ssize_t)i && reader_cache_copy(r, c, out + done, n, in_chunk)) {
			done += n;
			i++;
			continue;
		}
		if (r->cached != (ssize_t)i) {
			/* A chunk the read wants whole is read and checked where it
			 * goes (on an error the caller gets nothing); a part of one
			 * goes through the reader's cache, which keeps it for the
			 * read that wants the rest. */
			bool whole = in_chunk == 0 && n == c->size;
			uint8_t *dst = whole ? out + done : r->cache;
			int rc = tsm_chunk_read_relocating(r->store, c, dst, r->scratch);

			if (rc < 0) {
				r->cached = -1;
				return rc;
			}
			if (c->codec != TSM_COMPRESSION_NONE && !tsm_remote_is_frontend(r->store))
				tsm_chunk_cache_add(tsm_verified_chunk_cache(r->store->verified), c,
						    dst);
			if (whole) {
				done += n;
				i++;
				continue;
			}
			r->cached = (ssize_t)i;
		}
		memcpy(out + done, r->cache + in_chunk, n);
		done += n;
		i++;
	}
	r->seq_end = offset + done;
	return (ssize_t)done;
}

size_t tsm_blob_reader_map(struct tsm_blob_reader *r, uint64_t offset, size_t len,
			   int *fd_ret, uint64_t *pos_ret)
{
	struct tsm_chunk_loc *c;
	uint64_t in_chunk;
	size_t i, n;

	if (offset >= r->size || len == 0 || r->res)
		return 0; /* a WIM resource's bytes are decompressed: read them */
	i = chunk_index_at(r, offset);
	r->pos = i;
	c = &r->chunks[i];
	in_chunk = offset - r->starts[i];
	n = c->size - (size_t)in_chunk;
	if (n > len)
		n = len;
	if (tsm_chunk_map_checked(r->store, c, (uint32_t)in_chunk, n, fd_ret, pos_ret) < 0 &&
	    (!reader_ahead_claim(r, i) ||
	     tsm_chunk_map_checked(r->store, c, (uint32_t)in_chunk, n, fd_ret, pos_ret) < 0))
		return 0;
	/* The reply reads from it later: keep it open until the reads end. */
	r->store->packs.lent = true;
	return n;
}

void tsm_blob_reader_close(struct tsm_blob_reader *r)
{
	if (!r)
		return;
	while (r->njobs)
		reader_job_drop(r, r->njobs - 1);
	free(r->chunks);
	free(r->starts);
	free(r->cache);
	free(r->scratch);
	tsm_wim_res_free(r->res);
	tsm_blob_reader_close(r->wim);
	free(r->what);
	free(r);
}
