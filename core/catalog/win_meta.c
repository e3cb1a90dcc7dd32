/* The Windows metadata of WIM imports (win_meta, win_security,
 * win_streams): read back for media composition. */
#include "tsmedia/winmeta.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "store/store_internal.h"
#include "tsmedia/log.h"

static int meta_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tsm_win_meta *)a)->path, ((const struct tsm_win_meta *)b)->path);
}

static void *blob_dup(sqlite3_stmt *stmt, int col, size_t *len_ret)
{
	int len = sqlite3_column_bytes(stmt, col);
	void *p = malloc(len ? (size_t)len : 1);

	if (p && len)
		memcpy(p, sqlite3_column_blob(stmt, col), (size_t)len);
	*len_ret = (size_t)len;
	return p;
}

void tsm_win_meta_set_free(struct tsm_win_meta_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++) {
		struct tsm_win_meta *m = &set->entries[i];

		free(m->path);
		free(m->security);
		free(m->short_name);
		free(m->reparse);
		for (size_t s = 0; s < m->nstreams; s++)
			free(m->streams[s].name);
		free(m->streams);
	}
	free(set->entries);
	free(set);
}

const struct tsm_win_meta *tsm_win_meta_find(const struct tsm_win_meta_set *set,
					     const char *path)
{
	struct tsm_win_meta key = { .path = (char *)path };

	if (!set || !set->n)
		return NULL;
	return bsearch(&key, set->entries, set->n, sizeof(*set->entries), meta_cmp);
}

static int meta_load_locked(struct tsm_store *store, int64_t row, struct tsm_win_meta_set *set)
{
	sqlite3_stmt *stmt;
	size_t cap = 0;
	int rc;

	if ((rc = tsm_db_prepare(store->db,
				 "SELECT m.path, s.data, m.short_name, m.attributes, m.creation_ft,"
				 " m.access_ft, m.write_ft, m.reparse_tag, m.reparse, m.hardlink_group,"
				 " m.unix_uid, m.unix_gid, m.unix_mode, m.unix_rdev, m.object_id"
				 " FROM win_meta m LEFT JOIN win_security s ON s.id = m.security"
				 " WHERE m.version = ? ORDER BY m.path", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, row);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct tsm_win_meta *m;

		if (set->n == cap) {
			void *p = realloc(set->entries, (cap = cap ? 2 * cap : 256) * sizeof(*m));

			if (!p) {
				sqlite3_finalize(stmt);
				return -ENOMEM;
			}
			set->entries = p;
		}
		m = &set->entries[set->n++];
		memset(m, 0, sizeof(*m));
		m->path = strdup((const char *)sqlite3_column_text(stmt, 0));
		if (sqlite3_column_type(stmt, 1) != SQLITE_NULL)
			m->security = blob_dup(stmt, 1, &m->security_len);
		if (sqlite3_column_type(stmt, 2) != SQLITE_NULL)
			m->short_name = strdup((const char *)sqlite3_column_text(stmt, 2));
		m->attributes = (uint32_t)sqlite3_column_int64(stmt, 3);
		m->creation_ft = (uint64_t)sqlite3_column_int64(stmt, 4);
		m->access_ft = (uint64_t)sqlite3_column_int64(stmt, 5);
		m->write_ft = (uint64_t)sqlite3_column_int64(stmt, 6);
		m->reparse_tag = (uint32_t)sqlite3_column_int64(stmt, 7);
		if (sqlite3_column_type(stmt, 8) != SQLITE_NULL)
			m->reparse = blob_dup(stmt, 8, &m->reparse_len);
		m->hardlink_group = (uint64_t)sqlite3_column_int64(stmt, 9);
		if (sqlite3_column_type(stmt, 12) != SQLITE_NULL) {
			m->has_unix = true;
			m->unix_uid = (uint32_t)sqlite3_column_int64(stmt, 10);
			m->unix_gid = (uint32_t)sqlite3_column_int64(stmt, 11);
			m->unix_mode = (uint32_t)sqlite3_column_int64(stmt, 12);
			m->unix_rdev = (uint32_t)sqlite3_column_int64(stmt, 13);
		}
		if (sqlite3_column_bytes(stmt, 14) == sizeof(m->object_id)) {
			m->has_object_id = true;
			memcpy(m->object_id, sqlite3_column_blob(stmt, 14), sizeof(m->object_id));
		}
		if (!m->path) {
			sqlite3_finalize(stmt);
			return -ENOMEM;
		}
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return tsm_db_error(store->db, "reading Windows metadata");
	/* qsort(NULL, 0, ...) is undefined: an OS image that is not a WIM has
	 * no rows, and no array. */
	if (set->n)
		qsort(set->entries, set->n, sizeof(*set->entries), meta_cmp);
	if ((rc = tsm_db_prepare(store->db, "SELECT path, name, blob, size FROM win_streams"
					    " WHERE version = ? ORDER BY path, seq", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, row);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct tsm_win_meta *m = (struct tsm_win_meta *)tsm_win_meta_find(
			set, (const char *)sqlite3_column_text(stmt, 0));
		void *p;

		if (!m)
			continue;
		if (!(p = realloc(m->streams, (m->nstreams + 1) * sizeof(*m->streams)))) {
			sqlite3_finalize(stmt);
			return -ENOMEM;
		}
		m->streams = p;
		m->streams[m->nstreams].name = strdup((const char *)sqlite3_column_text(stmt, 1));
		m->streams[m->nstreams].blob_id = sqlite3_column_int64(stmt, 2);
		m->streams[m->nstreams].size = (uint64_t)sqlite3_column_int64(stmt, 3);
		if (!m->streams[m->nstreams++].name) {
			sqlite3_finalize(stmt);
			return -ENOMEM;
		}
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : tsm_db_error(store->db, "reading data streams");
}

int tsm_win_meta_load(struct tsm_store *store, int64_t version_row,
		      struct tsm_win_meta_set **set_ret)
{
	struct tsm_win_meta_set *set = calloc(1, sizeof(*set));
	int rc;

	if (!set)
		return -ENOMEM;
	if ((rc = tsm_store_read_begin(store)) < 0) {
		free(set);
		return rc;
	}
	rc = meta_load_locked(store, version_row, set);
	tsm_store_read_end(store);
	if (rc < 0) {
		tsm_win_meta_set_free(set);
		return rc;
	}
	*set_ret = set;
	return 0;
}

