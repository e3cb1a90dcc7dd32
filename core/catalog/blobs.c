/* Blob facts the layers above need from the catalog: a blob's SHA-1 (a WIM
 * names every resource by it; a WIM import checks it). */
#include "catalog/rows.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "store/store_internal.h"
#include "tsmedia/log.h"

struct tsm_blob_sha1s {
	struct tsm_store *store;
	sqlite3_stmt *stmt;
	bool reading; /* inside tsm_store_read_begin */
};

int tsm_blob_sha1s_new(struct tsm_store *store, struct tsm_blob_sha1s **l_ret)
{
	struct tsm_blob_sha1s *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->store = store;
	*l_ret = l;
	return 0;
}

/* The row of @blob_id: its SHA-1 and size.  -ENOENT when there is none. */
static int blob_row(sqlite3 *db, sqlite3_stmt *stmt, int64_t blob_id, uint8_t sha1[TSM_SHA1_LEN],
		    uint64_t *size_ret)
{
	int rc;

	sqlite3_reset(stmt);
	sqlite3_bind_int64(stmt, 1, blob_id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(stmt, 0) == TSM_SHA1_LEN) {
		memcpy(sha1, sqlite3_column_blob(stmt, 0), TSM_SHA1_LEN);
		*size_ret = (uint64_t)sqlite3_column_int64(stmt, 1);
		rc = 0;
	} else {
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? -ENOENT : tsm_db_error(db, "reading a blob");
	}
	sqlite3_reset(stmt);
	return rc;
}

int tsm_blob_sha1s_get(void *ctx, int64_t blob_id, uint64_t size, uint8_t sha1[TSM_SHA1_LEN])
{
	struct tsm_blob_sha1s *l = ctx;
	uint64_t have = 0;
	int rc;

	/* The read session starts at the first lookup and lasts until free:
	 * a layout that names no blob never touches the catalog. */
	if (!l->stmt) {
		if ((rc = tsm_store_read_begin(l->store)) < 0)
			return rc;
		l->reading = true;
		if ((rc = tsm_db_prepare(l->store->db, "SELECT sha1, size FROM blobs WHERE id = ?",
					 &l->stmt)) < 0)
			return rc;
	}
	rc = blob_row(l->store->db, l->stmt, blob_id, sha1, &have);
	if (rc == -ENOENT || (rc == 0 && have != size)) {
		tsm_error("WIM layout: blob %lld is not in the store (or not of %llu bytes)",
			  (long long)blob_id, (unsigned long long)size);
		return -ENOENT;
	}
	return rc;
}

void tsm_blob_sha1s_free(struct tsm_blob_sha1s *l)
{
	if (!l)
		return;
	sqlite3_finalize(l->stmt);
	if (l->reading)
		tsm_store_read_end(l->store);
	free(l);
}

int tsm_blob_sha1(struct tsm_store *store, int64_t blob_id, uint8_t sha1[TSM_SHA1_LEN])
{
	sqlite3_stmt *stmt;
	uint64_t size;
	int rc;

	if ((rc = tsm_db_prepare(store->db, "SELECT sha1, size FROM blobs WHERE id = ?", &stmt)) < 0)
		return rc;
	rc = blob_row(store->db, stmt, blob_id, sha1, &size);
	sqlite3_finalize(stmt);
	return rc;
}
