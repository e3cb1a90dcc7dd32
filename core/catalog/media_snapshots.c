/* Numbered media snapshots (schema v5): media_snapshots,
 * media_snapshot_content and media_snapshot_numbers.  A writer that changes
 * what a live media resolves to (a media version saved, a content version
 * imported) records the new snapshot in its own transaction, so every
 * snapshot a reader can see has its number before anyone sees it. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/catalog.h"
#include "catalog/rows.h"
#include "store/store_internal.h"
#include "tsmedia/content.h"
#include "tsmedia/log.h"

struct ids {
	int64_t *v;
	size_t n, cap;
};

static int ids_push(struct ids *ids, int64_t id)
{
	if (ids->n == ids->cap) {
		size_t cap = ids->cap ? 2 * ids->cap : 8;
		void *p = realloc(ids->v, cap * sizeof(*ids->v));

		if (!p)
			return -ENOMEM;
		ids->v = p;
		ids->cap = cap;
	}
	ids->v[ids->n++] = id;
	return 0;
}

/* The column-0 integers of @stmt's rows, after binding @bind to ?1 (or
 * @text when non-NULL). */
static int ids_query(sqlite3 *db, const char *sql, int64_t bind, const char *text,
		     struct ids *ids)
{
	sqlite3_stmt *stmt;
	int rc = tsm_db_prepare(db, sql, &stmt);

	if (rc < 0)
		return rc;
	if (text)
		sqlite3_bind_text(stmt, 1, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(stmt, 1, bind);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (sqlite3_column_type(stmt, 0) == SQLITE_NULL) {
			rc = -ENOENT; /* a content ID with no live version */
			break;
		}
		if ((rc = ids_push(ids, sqlite3_column_int64(stmt, 0))) < 0)
			break;
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE)
		return 0;
	return rc < 0 ? rc : tsm_db_error(db, sql);
}

/* What media version @mv resolves to now: the newest live version of each
 * content ID, in media_content order (as core/media's snapshot_resolve). */
static const char current_content_sql[] =
	"SELECT (SELECT k.id FROM content_versions k WHERE k.content = c.content"
	"  AND k.removed = 0 ORDER BY k.version DESC LIMIT 1)"
	" FROM media_content c WHERE c.version = ?1 ORDER BY c.seq";

static int record_one(struct tsm_store *store, const char *name, int64_t mv, int64_t now)
{
	struct ids cur = { 0 }, last = { 0 };
	sqlite3_stmt *stmt = NULL;
	int64_t last_id = 0, last_mv = 0, number = 0;
	int rc = ids_query(store->db, current_content_sql, mv, NULL, &cur);

	if (rc == -ENOENT) {
		rc = 0; /* it cannot be served; nothing to name */
		goto out_free;
	}
	if (rc < 0)
		goto out_free;
	if ((rc = tsm_db_prepare(store->db, "SELECT id, media_version FROM media_snapshots"
					    " WHERE media = ?1 ORDER BY number DESC LIMIT 1", &stmt)) < 0)
		goto out_free;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		last_id = sqlite3_column_int64(stmt, 0);
		last_mv = sqlite3_column_int64(stmt, 1);
	} else if (rc != SQLITE_DONE) {
		rc = tsm_db_error(store->db, "reading media snapshots");
		goto out_free;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;
	if (last_id && (rc = ids_query(store->db, "SELECT content_version FROM"
				       " media_snapshot_content WHERE snapshot = ?1 ORDER BY seq",
				       last_id, NULL, &last)) < 0)
		goto out_free;
	rc = 0;
	if (last_id && last_mv == mv && last.n == cur.n &&
	    (cur.n == 0 || memcmp(last.v, cur.v, cur.n * sizeof(*cur.v)) == 0))
		goto out_free; /* unchanged */
	if ((rc = tsm_db_prepare(store->db, "SELECT last FROM media_snapshot_numbers"
					    " WHERE media = ?1", &stmt)) < 0)
		goto out_free;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		number = sqlite3_column_int64(stmt, 0);
	else if (rc != SQLITE_DONE) {
		rc = tsm_db_error(store->db, "reading media snapshot numbers");
		goto out_free;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;
	if (number < 0 || number == INT64_MAX) {
		tsm_error("media '%s': snapshot number %lld cannot grow", name, (long long)number);
		rc = -EOVERFLOW;
		goto out_free;
	}
	number++;
	if ((rc = tsm_db_prepare(store->db, "INSERT INTO media_snapshots(media, number,"
					    " media_version, created) VALUES(?1, ?2, ?3, ?4)", &stmt)) < 0)
		goto out_free;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, number);
	sqlite3_bind_int64(stmt, 3, mv);
	sqlite3_bind_int64(stmt, 4, now);
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		rc = tsm_db_error(store->db, "recording a media snapshot");
		goto out_free;
	}
	sqlite3_finalize(stmt);
	stmt = NULL;
	last_id = sqlite3_last_insert_rowid(store->db);
	if ((rc = tsm_db_prepare(store->db, "INSERT INTO media_snapshot_content(snapshot, seq,"
					    " content_version) VALUES(?1, ?2, ?3)", &stmt)) < 0)
		goto out_free;
	for (size_t i = 0; i < cur.n && rc == 0; i++) {
		sqlite3_bind_int64(stmt, 1, last_id);
		sqlite3_bind_int64(stmt, 2, (int64_t)i);
		sqlite3_bind_int64(stmt, 3, cur.v[i]);
		if (sqlite3_step(stmt) != SQLITE_DONE)
			rc = tsm_db_error(store->db, "recording a media snapshot's content");
		sqlite3_reset(stmt);
	}
	sqlite3_finalize(stmt);
	stmt = NULL;
	if (rc < 0)
		goto out_free;
	if ((rc = tsm_db_prepare(store->db, "INSERT OR REPLACE INTO media_snapshot_numbers(media,"
					    " last) VALUES(?1, ?2)", &stmt)) < 0)
		goto out_free;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, number);
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(store->db, "numbering snapshots");
out_free:
	sqlite3_finalize(stmt);
	free(cur.v);
	free(last.v);
	return rc;
}

int tsm_media_snapshots_record(struct tsm_store *store)
{
	sqlite3_stmt *stmt;
	int64_t now = (int64_t)time(NULL);
	char **names = NULL;
	int64_t *mvs = NULL;
	size_t n = 0;
	int rc = tsm_db_prepare(store->db,
		"SELECT m.name, v.id FROM media m JOIN media_versions v ON v.media = m.name"
		" WHERE m.removed = 0 AND v.removed = 0 AND v.version ="
		"  (SELECT max(w.version) FROM media_versions w WHERE w.media = m.name"
		"   AND w.removed = 0)", &stmt);

	if (rc < 0)
		return rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		void *p = realloc(names, (n + 1) * sizeof(*names));
		void *q = p ? realloc(mvs, (n + 1) * sizeof(*mvs)) : NULL;

		if (p)
			names = p;
		if (q)
			mvs = q;
		if (!p || !q || !(names[n] = strdup((const char *)sqlite3_column_text(stmt, 0)))) {
			rc = -ENOMEM;
			break;
		}
		mvs[n++] = sqlite3_column_int64(stmt, 1);
	}
	sqlite3_finalize(stmt);
	rc = rc == SQLITE_DONE ? 0 : rc < 0 ? rc : tsm_db_error(store->db, "listing media");
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = record_one(store, names[i], mvs[i], now);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(mvs);
	return rc;
}

int tsm_media_snapshot_numbers_get(struct tsm_store *store, const char *name,
				   int64_t **numbers_ret, size_t *n_ret)
{
	struct ids ids = { 0 };
	int rc = ids_query(store->db, "SELECT s.number FROM media_snapshots s JOIN media m"
			   " ON m.name = s.media WHERE m.removed = 0 AND s.media = ?1"
			   " ORDER BY s.number", 0, name, &ids);

	if (rc < 0) {
		free(ids.v);
		return rc;
	}
	*numbers_ret = ids.v;
	*n_ret = ids.n;
	return 0;
}

int tsm_media_snapshot_row_get(struct tsm_store *store, const char *name, int64_t number,
			       struct tsm_snapshot_row *row)
{
	sqlite3_stmt *stmt;
	int64_t id = 0;
	int rc;

	memset(row, 0, sizeof(*row));
	if ((rc = tsm_db_prepare(store->db, "SELECT s.id, s.media_version FROM media_snapshots s"
					    " JOIN media m ON m.name = s.media WHERE m.removed = 0"
					    " AND s.media = ?1 AND s.number = ?2", &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, number);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		id = sqlite3_column_int64(stmt, 0);
		row->media_version_id = sqlite3_column_int64(stmt, 1);
		rc = 0;
	} else if (rc == SQLITE_DONE) {
		tsm_error("media '%s' has no version %lld in %s (tsmedia media show %s lists"
			  " the versions the store keeps)", name, (long long)number, store->dir, name);
		rc = -ENOENT;
	} else {
		rc = tsm_db_error(store->db, "reading a media snapshot");
	}
	sqlite3_finalize(stmt);
	if (rc < 0)
		return rc;
	row->number = number;
	if ((rc = tsm_db_prepare(store->db, "SELECT k.id, k.content, k.version, k.created"
					    " FROM media_snapshot_content c JOIN content_versions k"
					    " ON k.id = c.content_version WHERE c.snapshot = ?1"
					    " ORDER BY c.seq", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, id);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		void *p = realloc(row->content, (row->ncontent + 1) * sizeof(*row->content));
		struct tsm_snapshot_row_content *c;

		if (!p) {
			rc = -ENOMEM;
			break;
		}
		row->content = p;
		c = &row->content[row->ncontent++];
		c->version_id = sqlite3_column_int64(stmt, 0);
		snprintf(c->id, sizeof(c->id), "%s", (const char *)sqlite3_column_text(stmt, 1));
		c->version = sqlite3_column_int64(stmt, 2);
		c->created = sqlite3_column_int64(stmt, 3);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		rc = rc < 0 ? rc : tsm_db_error(store->db, "reading a media snapshot's content");
		tsm_snapshot_row_clear(row);
		return rc;
	}
	return 0;
}

void tsm_snapshot_row_clear(struct tsm_snapshot_row *row)
{
	free(row->content);
	memset(row, 0, sizeof(*row));
}
