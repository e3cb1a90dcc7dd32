/* verify: every blob re-read chunk by chunk, each chunk checked against its
 * SHA-256 and each blob against its SHA-256, SHA-1 and size; then the chunks
 * no blob uses.  Damage names the chunk, its pack and the content using it. */
#include "store/store_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "tsmedia/log.h"
#include "tsmedia/progress.h"

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
	while (sqlite3_step(stmt) == SQLITE_ROW) {
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
	if (progress)
		progress->total = (uint64_t)total;
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
	return rc;
}
