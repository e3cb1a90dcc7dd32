/* verify: every blob re-read chunk by chunk, each chunk checked against its
 * SHA-256 and each blob against its SHA-256, SHA-1 and size; then the chunks
 * no blob uses.  Damage names the chunk, its pack and the content using it. */
#include "store/store_internal.h"
#include "store/remote.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "tsmedia/log.h"
#include "tsmedia/progress.h"
#include "util/db.h"

struct verify_state {
	struct tsm_store *store;
	struct tsm_progress *progress;
	struct tsm_verify_result *result;
	struct tsm_file_hasher *hasher;
	uint8_t *data, *scratch;
	uint8_t *bad_chunks; /* bitmap by chunk id: reported already */
	int64_t max_chunk_id;
};

/* Names every content version and path that reads @chunk_id. */
static void report_chunk_users(struct tsm_store *store, int64_t chunk_id)
{
	sqlite3_stmt *stmt;

	if (tsm_db_prepare(store->db,
			   "SELECT DISTINCT v.content, v.version, t.path FROM blob_chunks b"
			   " JOIN tree_entries t ON t.blob = b.blob"
			   "  OR t.blob IN (SELECT w.blob FROM blob_wim_resources w WHERE w.wim = b.blob)"
			   " JOIN content_versions v ON v.id = t.version"
			   " WHERE b.chunk = ? ORDER BY v.content, v.version, t.path", &stmt) < 0)
		return;
	sqlite3_bind_int64(stmt, 1, chunk_id);
	while (sqlite3_step(stmt) == SQLITE_ROW)
		tsm_error("  affects content %s version %lld: %s", sqlite3_column_text(stmt, 0),
			  (long long)sqlite3_column_int64(stmt, 1), sqlite3_column_text(stmt, 2));
	sqlite3_finalize(stmt);
}

static bool chunk_seen_bad(struct verify_state *vs, int64_t id)
{
	if (id < 0 || id > vs->max_chunk_id)
		return false;
	return vs->bad_chunks[id / 8] & (1u << (id % 8));
}

static void chunk_mark_bad(struct verify_state *vs, int64_t id)
{
	if (id < 0 || id > vs->max_chunk_id || chunk_seen_bad(vs, id))
		return;
	vs->bad_chunks[id / 8] |= (uint8_t)(1u << (id % 8));
	vs->result->chunks_bad++;
	report_chunk_users(vs->store, id);
}

/* A blob read out of a WIM blob (store/wim_resource.h): read back as a
 * reader reads it, through the WIM blob's chunks (checked there, and on
 * their own when verify comes to the WIM blob). 1: it is one. */
static int verify_wim_resource(struct verify_state *vs, int64_t blob_id, uint64_t *size_ret,
			       bool *bad_ret)
{
	struct tsm_blob_reader *r;
	int64_t is = 0;
	char sql[96];
	int rc;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM blob_wim_resources WHERE blob = %lld",
		 (long long)blob_id);
	if ((rc = tsm_db_int64(vs->store->db, sql, &is)) < 0 || !is)
		return rc;
	if (tsm_blob_reader_open(vs->store, blob_id, &r) < 0) {
		*bad_ret = true;
		return 1;
	}
	for (;;) {
		ssize_t n = tsm_blob_reader_pread(r, vs->data, TSM_CHUNK_MAX, *size_ret);

		if (n <= 0) {
			*bad_ret = n < 0;
			break;
		}
		tsm_file_hasher_update(vs->hasher, vs->data, (size_t)n);
		*size_ret += (uint64_t)n;
		vs->result->bytes_checked += (uint64_t)n;
	}
	tsm_blob_reader_close(r);
	return 1;
}

static int verify_blob(struct verify_state *vs, int64_t blob_id, const uint8_t *want_sha256,
		       const uint8_t *want_sha1, uint64_t want_size)
{
	uint8_t sha256[TSM_SHA256_LEN], sha1[TSM_SHA1_LEN];
	struct tsm_store *store = vs->store;
	sqlite3_stmt *stmt;
	uint64_t size = 0;
	bool bad = false;
	int rc;

	if ((rc = tsm_db_prepare(store->db,
				 "SELECT " TSM_CHUNK_LOC_COLUMNS
				 " FROM blob_chunks b JOIN chunks c ON c.id = b.chunk"
				 " WHERE b.blob = ? ORDER BY b.seq", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, blob_id);
	tsm_file_hasher_reset(vs->hasher);
	if ((rc = verify_wim_resource(vs, blob_id, &size, &bad)) < 0) {
		sqlite3_finalize(stmt);
		return rc;
	}
	while (rc == 0 && sqlite3_step(stmt) == SQLITE_ROW) {
		struct tsm_chunk_loc loc;

		vs->result->chunks_checked++;
		if (tsm_chunk_loc_from_row(store, stmt, 0, &loc) < 0) {
			chunk_mark_bad(vs, sqlite3_column_int64(stmt, 0));
			bad = true;
			continue;
		}
		if (chunk_seen_bad(vs, loc.id)) {
			bad = true;
			continue;
		}
		rc = tsm_chunk_read_relocating_flags(store, &loc, vs->data, vs->scratch,
						     TSM_CHUNK_RECHECK);
		if (rc < 0) {
			chunk_mark_bad(vs, loc.id);
			bad = true;
			continue;
		}
		tsm_file_hasher_update(vs->hasher, vs->data, loc.size);
		size += loc.size;
		vs->result->bytes_checked += loc.size;
		tsm_progress_add(vs->progress, loc.size);
	}
	sqlite3_finalize(stmt);
	vs->result->blobs_checked++;
	if (bad) {
		vs->result->blobs_bad++;
		return 0;
	}
	tsm_file_hasher_final(vs->hasher, sha256, sha1);
	if (size != want_size || memcmp(sha256, want_sha256, TSM_SHA256_LEN) != 0 ||
	    memcmp(sha1, want_sha1, TSM_SHA1_LEN) != 0) {
		char hex[TSM_SHA256_HEX_LEN + 1];

		tsm_hex_encode(want_sha256, TSM_SHA256_LEN, hex);
		tsm_error("blob %s: its chunks do not add up to it (size %llu, expected %llu)", hex,
			  (unsigned long long)size, (unsigned long long)want_size);
		vs->result->blobs_bad++;
	}
	return 0;
}

static int verify_all_blobs(struct verify_state *vs)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(vs->store->db, "SELECT id, sha256, sha1, size FROM blobs"
						" ORDER BY id", &stmt)) < 0)
		return rc;
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		if (sqlite3_column_bytes(stmt, 1) != TSM_SHA256_LEN ||
		    sqlite3_column_bytes(stmt, 2) != TSM_SHA1_LEN) {
			tsm_error("blob %lld has malformed hashes in the catalog",
				  (long long)sqlite3_column_int64(stmt, 0));
			vs->result->blobs_bad++;
			continue;
		}
		rc = verify_blob(vs, sqlite3_column_int64(stmt, 0), sqlite3_column_blob(stmt, 1),
				 sqlite3_column_blob(stmt, 2),
				 (uint64_t)sqlite3_column_int64(stmt, 3));
		if (rc < 0)
			break;
	}
	sqlite3_finalize(stmt);
	return rc;
}

/* Chunks no blob uses (left by a removed blob before gc): still checked. */
static int verify_loose_chunks(struct verify_state *vs)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(vs->store->db,
				 "SELECT id FROM chunks WHERE id NOT IN"
				 " (SELECT chunk FROM blob_chunks)", &stmt)) < 0)
		return rc;
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		struct tsm_chunk_loc loc;

		if (tsm_chunk_lookup(vs->store, sqlite3_column_int64(stmt, 0), &loc) < 0)
			continue;
		vs->result->chunks_checked++;
		if (tsm_chunk_read_relocating_flags(vs->store, &loc, vs->data, vs->scratch,
						    TSM_CHUNK_RECHECK) < 0)
			chunk_mark_bad(vs, loc.id);
	}
	sqlite3_finalize(stmt);
	return 0;
}

int tsm_store_verify(struct tsm_store *store, struct tsm_progress *progress,
		     struct tsm_verify_result *result_ret)
{
	struct verify_state vs = { .store = store, .progress = progress, .result = result_ret };
	int64_t total = 0;
	int rc;

	memset(result_ret, 0, sizeof(*result_ret));
	/* Held shared for the whole check: gc waits rather than move chunks
	 * under us. */
	if ((rc = tsm_store_read_begin(store)) < 0)
		return rc;
	if ((rc = tsm_db_int64(store->db, "SELECT coalesce(max(id), 0) FROM chunks",
			       &vs.max_chunk_id)) < 0 ||
	    (rc = tsm_db_int64(store->db, "SELECT coalesce(sum(b.size), 0) FROM blobs b",
			       &total)) < 0)
		goto out_end;
	/* The bitmap is sized by the largest chunk id (ids are never reused). */
	if (vs.max_chunk_id < 0 || (uint64_t)vs.max_chunk_id / 8 >= SIZE_MAX / 2) {
		tsm_error("%s: chunk id %lld in the catalog is out of range", store->dir,
			  (long long)vs.max_chunk_id);
		rc = -EIO;
		goto out_end;
	}
	if (progress)
		progress->total = total > 0 ? (uint64_t)total : 0;
	vs.data = malloc(TSM_CHUNK_MAX);
	vs.scratch = malloc(TSM_CHUNK_MAX);
	vs.bad_chunks = calloc((size_t)vs.max_chunk_id / 8 + 1, 1);
	if (!vs.data || !vs.scratch || !vs.bad_chunks) {
		rc = -ENOMEM;
		goto out_free;
	}
	if ((rc = tsm_file_hasher_new(&vs.hasher)) < 0)
		goto out_free;
	if ((rc = verify_all_blobs(&vs)) == 0)
		rc = verify_loose_chunks(&vs);
out_free:
	tsm_file_hasher_free(vs.hasher);
	free(vs.data);
	free(vs.scratch);
	free(vs.bad_chunks);
out_end:
	tsm_store_read_end(store);
	/* On object storage: every pack object is the pack it was uploaded
	 * from (frontends read the objects). */
	if (rc == 0)
		rc = tsm_remote_verify(store, &result_ret->remote_packs_checked,
				       &result_ret->remote_packs_bad);
	return rc;
}

/* ---- pack by pack: verify --since and the mount's scrub ------------------ */

struct pack_check {
	int64_t id;
	int64_t verified;
};

/* Every chunk of pack @id, as the catalog has them now. */
static int pack_chunks(struct tsm_store *store, int64_t id, struct tsm_chunk_loc **locs_ret,
		       size_t *n_ret)
{
	struct tsm_chunk_loc *locs = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_store_read_begin(store)) < 0)
		return rc;
	if ((rc = tsm_db_prepare(store->db, "SELECT " TSM_CHUNK_LOC_COLUMNS " FROM chunks c"
					    " WHERE c.pack = ? ORDER BY c.offset", &stmt)) < 0)
		goto out_end;
	sqlite3_bind_int64(stmt, 1, id);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			void *p = realloc(locs, (cap = cap ? 2 * cap : 256) * sizeof(*locs));

			if (!p) {
				rc = -ENOMEM;
				break;
			}
			locs = p;
		}
		if (tsm_chunk_loc_from_row(store, stmt, 0, &locs[n]) == 0)
			n++;
		/* A row that does not check out is damage the catalog shows;
		 * the blob verify names it.  Here: the pack's bytes. */
	}
	sqlite3_finalize(stmt);
	rc = rc == SQLITE_DONE ? 0 : rc < 0 ? rc : tsm_db_error(store->db, "listing a pack's chunks");
out_end:
	tsm_store_read_end(store);
	if (rc < 0) {
		free(locs);
		return rc;
	}
	*locs_ret = locs;
	*n_ret = n;
	return 0;
}

/* A chunk that failed to read: damage, or gc moved or dropped it after we
 * listed it (and maybe cut the pack's end)?  Asked again with gc held off. */
static bool chunk_damage_confirmed(struct tsm_store *store, const struct tsm_chunk_loc *seen,
				   uint8_t *data, uint8_t *scratch)
{
	struct tsm_chunk_loc now;
	bool damaged = false;

	sqlite3_stmt *stmt;
	bool same = false;

	if (tsm_store_read_begin(store) < 0)
		return false;
	if (tsm_db_prepare(store->db, "SELECT " TSM_CHUNK_LOC_COLUMNS " FROM chunks c"
				      " WHERE c.id = ?", &stmt) == 0) {
		sqlite3_bind_int64(stmt, 1, seen->id);
		same = sqlite3_step(stmt) == SQLITE_ROW &&
		       tsm_chunk_loc_from_row(store, stmt, 0, &now) == 0 &&
		       now.pack == seen->pack && now.offset == seen->offset;
		sqlite3_finalize(stmt);
	}
	if (same)
		damaged = tsm_chunk_read_flags(store, &now, data, scratch, TSM_CHUNK_RECHECK) < 0;
	tsm_store_read_end(store);
	return damaged;
}

static bool pack_still_listed(struct tsm_store *store, int64_t id)
{
	char sql[64];
	int64_t n = 0;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM packs WHERE id = %lld", (long long)id);
	return tsm_db_int64(store->db, sql, &n) < 0 || n > 0;
}

static void record_verified(struct tsm_store *store, const int64_t *ids, size_t n, int64_t when)
{
	sqlite3_stmt *stmt;
	bool ok = true;

	if (!n || flock(store->lock_fd, LOCK_EX | LOCK_NB) < 0)
		return; /* a writer is busy: the next check records it */
	if (tsm_db_exec(store->db, "BEGIN IMMEDIATE") < 0)
		goto out_unlock;
	if (tsm_db_prepare(store->db, "UPDATE packs SET verified = ? WHERE id = ?", &stmt) == 0) {
		for (size_t i = 0; i < n && ok; i++) {
			sqlite3_bind_int64(stmt, 1, when);
			sqlite3_bind_int64(stmt, 2, ids[i]);
			ok = sqlite3_step(stmt) == SQLITE_DONE;
			sqlite3_reset(stmt);
		}
		sqlite3_finalize(stmt);
	}
	sqlite3_exec(store->db, ok ? "COMMIT" : "ROLLBACK", NULL, NULL, NULL);
out_unlock:
	flock(store->lock_fd, LOCK_UN);
}

/* Checks one pack's chunks against their hashes; returns the bad count. */
static bool cancelled(const struct tsm_pack_verify_options *opts)
{
	return opts && opts->cancel && __atomic_load_n(opts->cancel, __ATOMIC_RELAXED);
}

static uint64_t verify_one_pack(struct tsm_store *store, int64_t id, uint8_t *data,
				uint8_t *scratch, const struct tsm_pack_verify_options *opts,
				struct tsm_progress *progress, struct tsm_pack_verify_result *res,
				bool *gone_ret)
{
	struct tsm_chunk_loc *locs = NULL;
	uint64_t bad = 0;
	size_t n = 0;

	*gone_ret = false;
	if (pack_chunks(store, id, &locs, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int rc;

		if (cancelled(opts)) {
			*gone_ret = true; /* not checked to the end: neither good nor bad */
			break;
		}
		rc = tsm_chunk_read_flags(store, &locs[i], data, scratch, TSM_CHUNK_RECHECK);

		res->chunks_checked++;
		if (rc == 0) {
			res->bytes_checked += locs[i].stored_size;
			tsm_progress_add(progress, locs[i].stored_size);
			continue;
		}
		if (rc == -ENOENT) {
			*gone_ret = true; /* gc compacted it away meanwhile */
			break;
		}
		if (chunk_damage_confirmed(store, &locs[i], data, scratch)) {
			bad++;
			report_chunk_users(store, locs[i].id);
		}
	}
	free(locs);
	/* Whatever the scrub found, the next reads check again. */
	tsm_store_reads_done(store);
	return bad;
}

int tsm_store_verify_packs(struct tsm_store *store, const struct tsm_pack_verify_options *opts,
			   struct tsm_progress *progress, struct tsm_pack_verify_result *res)
{
	struct pack_check *packs = NULL;
	int64_t *good = NULL;
	size_t n = 0, cap = 0, ngood = 0;
	uint8_t *data = malloc(TSM_CHUNK_MAX), *scratch = malloc(TSM_CHUNK_MAX);
	int64_t started = (int64_t)time(NULL);
	sqlite3_stmt *stmt;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!data || !scratch) {
		rc = -ENOMEM;
		goto out_free;
	}
	if ((rc = tsm_store_read_begin(store)) < 0)
		goto out_free;
	if ((rc = tsm_db_prepare(store->db, "SELECT id, verified FROM packs ORDER BY id",
				 &stmt)) == 0) {
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			if (n == cap) {
				void *p = realloc(packs, (cap = cap ? 2 * cap : 64) * sizeof(*packs));

				if (!p) {
					rc = -ENOMEM;
					break;
				}
				packs = p;
			}
			packs[n].id = sqlite3_column_int64(stmt, 0);
			packs[n].verified = sqlite3_column_int64(stmt, 1);
			n++;
		}
		sqlite3_finalize(stmt);
		rc = rc == SQLITE_DONE ? 0 : rc < 0 ? rc : tsm_db_error(store->db, "listing packs");
	}
	tsm_store_read_end(store);
	if (rc < 0)
		goto out_free;
	if (!(good = calloc(n + 1, sizeof(*good)))) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < n; i++) {
		char name[32], rel[48];
		struct stat st;
		uint64_t bad;
		bool gone;

		tsm_pack_name(packs[i].id, name);
		snprintf(rel, sizeof(rel), "packs/%s", name);
		if (fstatat(store->dir_fd, rel, &st, 0) < 0) {
			int err = errno;

			/* Removed by gc since we listed it, or lost. */
			if (err != ENOENT || pack_still_listed(store, packs[i].id)) {
				tsm_error("%s/%s: %s", store->dir, rel, strerror(err));
				res->packs_checked++;
				res->packs_bad++;
			}
			continue;
		}
		/* Found good since, and not changed after that: skipped.  (The
		 * mtime and the ctime, which no user call can set back, are
		 * compared to the second the good check started.) */
		if (opts && opts->since && packs[i].verified >= opts->since &&
		    st.st_mtim.tv_sec < packs[i].verified && st.st_ctim.tv_sec < packs[i].verified) {
			res->packs_skipped++;
			continue;
		}
		if (cancelled(opts))
			break;
		bad = verify_one_pack(store, packs[i].id, data, scratch, opts, progress, res, &gone);
		if (gone)
			continue;
		res->packs_checked++;
		res->chunks_bad += bad;
		if (bad) {
			res->packs_bad++;
			tsm_error("%s/%s: %llu damaged chunk%s", store->dir, rel,
				  (unsigned long long)bad, bad == 1 ? "" : "s");
		} else {
			good[ngood++] = packs[i].id;
		}
	}
	if (opts && opts->record && !cancelled(opts))
		record_verified(store, good, ngood, started);
out_free:
	free(good);
	free(packs);
	free(data);
	free(scratch);
	return rc;
}

int tsm_parse_interval(const char *text, int64_t *seconds_ret)
{
	static const struct {
		char suffix;
		int64_t seconds;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 } };
	char *end;
	long long n;
	int64_t mult = 1;

	errno = 0;
	n = strtoll(text, &end, 10);
	if (end == text || errno || n <= 0)
		return -EINVAL;
	if (*end) {
		size_t i;

		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (*end == units[i].suffix)
				break;
		if (i == sizeof(units) / sizeof(units[0]) || end[1])
			return -EINVAL;
		mult = units[i].seconds;
	}
	if (__builtin_mul_overflow((int64_t)n, mult, seconds_ret))
		return -ERANGE;
	return 0;
}

int tsm_parse_since(const char *text, int64_t now, int64_t *time_ret)
{
	static const char *const formats[] = { "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S",
					       "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%d" };
	int64_t ago;

	if (text[0] == '@') {
		char *end;
		long long t;

		errno = 0;
		t = strtoll(text + 1, &end, 10);
		if (end == text + 1 || *end || errno || t < 0)
			return -EINVAL;
		*time_ret = t;
		return 0;
	}
	/* "7d": that long ago. */
	if (tsm_parse_interval(text, &ago) == 0) {
		if (ago > now)
			return -ERANGE;
		*time_ret = now - ago;
		return 0;
	}
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		struct tm tm = { .tm_isdst = -1 };
		const char *end = strptime(text, formats[i], &tm);
		time_t t;

		if (!end || *end)
			continue;
		tm.tm_isdst = -1;
		if ((t = mktime(&tm)) == (time_t)-1)
			return -EINVAL;
		*time_ret = (int64_t)t;
		return 0;
	}
	return -EINVAL;
}
