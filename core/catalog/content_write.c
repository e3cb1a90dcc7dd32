/* Writing a content version's rows: the item, the version, its tree
 * entries, boot entries, facts and Windows metadata.  The import session
 * (core/import/session.c) drives it inside the store's write session. */
#include "catalog/rows.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/catalog.h"
#include "store/store_internal.h"
#include "tsmedia/content.h"
#include "tsmedia/log.h"
#include "tsmedia/winmeta.h"

/* Windows file attributes (MS-FSCC 2.6). */
#define FILE_ATTRIBUTE_REPARSE_POINT 0x400

int tsm_content_row_find(struct tsm_store *store, const char *id, struct tsm_content_row *row)
{
	sqlite3_stmt *stmt;
	int rc;

	memset(row, 0, sizeof(*row));
	if ((rc = tsm_db_prepare(store->db,
				 "SELECT kind, removed, (SELECT coalesce(max(version), 0) FROM"
				 " content_versions WHERE content = c.id) FROM content c"
				 " WHERE id = ?", &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		row->exists = true;
		snprintf(row->kind, sizeof(row->kind), "%s", sqlite3_column_text(stmt, 0));
		row->removed = sqlite3_column_int(stmt, 1) != 0;
		row->max_version = sqlite3_column_int64(stmt, 2);
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? 0 : tsm_db_error(store->db, "looking up content");
	}
	sqlite3_finalize(stmt);
	return rc;
}

/* The next free "<site>NNNNN" from the store's counter: free among content and task sequences
 * alike, one namespace as Configuration Manager's package IDs are (ts.c). */
int tsm_content_id_allocate(struct tsm_store *store, char id[TSM_CONTENT_ID_LEN + 1])
{
	return tsm_ts_id_allocate(store, id);
}

int tsm_content_row_upsert(struct tsm_store *store, const char *id, const char *kind,
			   const char *name, bool exists)
{
	sqlite3_stmt *stmt;
	int rc;

	rc = tsm_db_prepare(store->db,
			    exists ? "UPDATE content SET kind = ?2, name = ?3, removed = 0 WHERE id = ?1"
				   : "INSERT INTO content(id, kind, name, created) VALUES(?1, ?2, ?3, ?4)",
			    &stmt);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, name, -1, SQLITE_STATIC);
	if (!exists)
		sqlite3_bind_int64(stmt, 4, (int64_t)time(NULL));
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(store->db, "recording content");
	sqlite3_finalize(stmt);
	return rc;
}

static int version_insert(struct tsm_store *store, const char *id, int64_t version,
			  const char *label, const char *source, int64_t *row_ret)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(store->db,
				 "INSERT INTO content_versions(content, version, label, source, created,"
				 " files, bytes) VALUES(?, ?, ?, ?, ?, 0, 0)", &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, version);
	if (label)
		sqlite3_bind_text(stmt, 3, label, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 5, (int64_t)time(NULL));
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(store->db, "recording a version");
	sqlite3_finalize(stmt);
	*row_ret = sqlite3_last_insert_rowid(store->db);
	return rc;
}

static int version_set_totals(struct tsm_store *store, int64_t row, uint64_t files,
			      uint64_t bytes)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(store->db, "UPDATE content_versions SET files = ?, bytes = ?"
					    " WHERE id = ?", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, (int64_t)files);
	sqlite3_bind_int64(stmt, 2, (int64_t)bytes);
	sqlite3_bind_int64(stmt, 3, row);
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(store->db, "recording a version");
	sqlite3_finalize(stmt);
	return rc;
}

struct tsm_version_rows {
	struct tsm_store *store;
	int64_t row;
	int boot_seq;
	sqlite3_stmt *insert_entry;
	sqlite3_stmt *win_stmts[4]; /* tsm_version_rows_add_win_meta's, prepared once */
};

int tsm_version_rows_begin(struct tsm_store *store, const char *id, int64_t version,
			   const char *label, const char *source, struct tsm_version_rows **vr_ret)
{
	struct tsm_version_rows *vr = calloc(1, sizeof(*vr));
	int rc;

	if (!vr)
		return -ENOMEM;
	vr->store = store;
	if ((rc = version_insert(store, id, version, label, source, &vr->row)) < 0 ||
	    (rc = tsm_db_prepare(store->db,
				 "INSERT INTO tree_entries(version, path, mode, mtime_ns, attributes,"
				 " size, blob, link_target) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
				 &vr->insert_entry)) < 0) {
		tsm_version_rows_free(vr);
		return rc;
	}
	*vr_ret = vr;
	return 0;
}

int tsm_version_rows_finish(struct tsm_version_rows *vr, uint64_t files, uint64_t bytes)
{
	return version_set_totals(vr->store, vr->row, files, bytes);
}

void tsm_version_rows_free(struct tsm_version_rows *vr)
{
	if (!vr)
		return;
	for (size_t i = 0; i < sizeof(vr->win_stmts) / sizeof(vr->win_stmts[0]); i++)
		sqlite3_finalize(vr->win_stmts[i]);
	sqlite3_finalize(vr->insert_entry);
	free(vr);
}

int tsm_version_rows_add_entry(struct tsm_version_rows *vr, const char *path, uint32_t mode,
			       int64_t mtime_ns, uint32_t attributes, uint64_t size, int64_t blob,
			       const char *target)
{
	sqlite3_stmt *stmt = vr->insert_entry;
	int rc;

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	sqlite3_bind_int64(stmt, 1, vr->row);
	sqlite3_bind_text(stmt, 2, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, (int64_t)mode);
	sqlite3_bind_int64(stmt, 4, mtime_ns);
	sqlite3_bind_int64(stmt, 5, attributes);
	sqlite3_bind_int64(stmt, 6, (int64_t)size);
	if (blob)
		sqlite3_bind_int64(stmt, 7, blob);
	if (target)
		sqlite3_bind_text(stmt, 8, target, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc == SQLITE_CONSTRAINT) {
		tsm_error("'%s' is in the source twice", path);
		return -EEXIST;
	}
	if (rc != SQLITE_DONE)
		return tsm_db_error(vr->store->db, path);
	return 0;
}

int tsm_version_rows_add_boot(struct tsm_version_rows *vr, const struct tsm_boot_entry *e)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(vr->store->db,
				 "INSERT INTO content_boot(version, seq, platform, emulation, load_size,"
				 " boot_info_table, path, blob, size) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
				 &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, vr->row);
	sqlite3_bind_int(stmt, 2, vr->boot_seq++);
	sqlite3_bind_int(stmt, 3, e->platform);
	sqlite3_bind_int(stmt, 4, e->emulation);
	sqlite3_bind_int(stmt, 5, e->load_size);
	sqlite3_bind_int(stmt, 6, e->boot_info_table);
	if (e->path)
		sqlite3_bind_text(stmt, 7, e->path, -1, SQLITE_STATIC);
	if (e->blob_id)
		sqlite3_bind_int64(stmt, 8, e->blob_id);
	sqlite3_bind_int64(stmt, 9, (int64_t)e->size);
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(vr->store->db, "recording a boot entry");
	sqlite3_finalize(stmt);
	return rc;
}

int tsm_version_rows_set_meta(struct tsm_version_rows *vr, const char *key, const void *value,
			      size_t len)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(vr->store->db, "INSERT OR REPLACE INTO content_meta(version, key,"
						 " value) VALUES(?, ?, ?)", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, vr->row);
	sqlite3_bind_text(stmt, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 3, value, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(vr->store->db, key);
	sqlite3_finalize(stmt);
	return rc;
}

/* The id of security descriptor @data in win_security, added if new. */
static int win_security_id(struct tsm_version_rows *vr, const uint8_t *data, size_t len,
			   int64_t *id_ret)
{
	sqlite3 *db = vr->store->db;
	uint8_t hash[TSM_SHA256_LEN];
	int rc;

	if ((rc = tsm_sha256(data, len, hash)) < 0)
		return rc;
	if (!vr->win_stmts[0] &&
	    (rc = tsm_db_prepare(db, "SELECT id FROM win_security WHERE sha256 = ?",
				 &vr->win_stmts[0])) < 0)
		return rc;
	if (!vr->win_stmts[1] &&
	    (rc = tsm_db_prepare(db, "INSERT INTO win_security(sha256, data) VALUES(?, ?)",
				 &vr->win_stmts[1])) < 0)
		return rc;
	sqlite3_reset(vr->win_stmts[0]);
	sqlite3_bind_blob(vr->win_stmts[0], 1, hash, sizeof(hash), SQLITE_STATIC);
	rc = sqlite3_step(vr->win_stmts[0]);
	if (rc == SQLITE_ROW) {
		*id_ret = sqlite3_column_int64(vr->win_stmts[0], 0);
		sqlite3_reset(vr->win_stmts[0]);
		return 0;
	}
	sqlite3_reset(vr->win_stmts[0]);
	if (rc != SQLITE_DONE)
		return tsm_db_error(db, "looking up a security descriptor");
	sqlite3_reset(vr->win_stmts[1]);
	sqlite3_bind_blob(vr->win_stmts[1], 1, hash, sizeof(hash), SQLITE_STATIC);
	sqlite3_bind_blob(vr->win_stmts[1], 2, data, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(vr->win_stmts[1]);
	sqlite3_reset(vr->win_stmts[1]);
	if (rc != SQLITE_DONE)
		return tsm_db_error(db, "recording a security descriptor");
	*id_ret = sqlite3_last_insert_rowid(db);
	return 0;
}

int tsm_version_rows_add_win_meta(struct tsm_version_rows *vr, const struct tsm_win_meta *m)
{
	sqlite3 *db = vr->store->db;
	sqlite3_stmt *stmt;
	int64_t sec = 0;
	int rc;

	if (m->security && (rc = win_security_id(vr, m->security, m->security_len, &sec)) < 0)
		return rc;
	if (!vr->win_stmts[2] &&
	    (rc = tsm_db_prepare(db, "INSERT INTO win_meta(version, path, security, short_name,"
				     " attributes, creation_ft, access_ft, write_ft, reparse_tag,"
				     " reparse, hardlink_group, unix_uid, unix_gid, unix_mode,"
				     " unix_rdev, object_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
				     " ?, ?, ?, ?, ?)", &vr->win_stmts[2])) < 0)
		return rc;
	if (!vr->win_stmts[3] &&
	    (rc = tsm_db_prepare(db, "INSERT INTO win_streams(version, path, name, blob, size, seq)"
				     " VALUES(?, ?, ?, ?, ?, ?)", &vr->win_stmts[3])) < 0)
		return rc;
	stmt = vr->win_stmts[2];
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	sqlite3_bind_int64(stmt, 1, vr->row);
	sqlite3_bind_text(stmt, 2, m->path, -1, SQLITE_STATIC);
	if (sec)
		sqlite3_bind_int64(stmt, 3, sec);
	if (m->short_name)
		sqlite3_bind_text(stmt, 4, m->short_name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 5, m->attributes);
	sqlite3_bind_int64(stmt, 6, (int64_t)m->creation_ft);
	sqlite3_bind_int64(stmt, 7, (int64_t)m->access_ft);
	sqlite3_bind_int64(stmt, 8, (int64_t)m->write_ft);
	if (m->attributes & FILE_ATTRIBUTE_REPARSE_POINT) {
		sqlite3_bind_int64(stmt, 9, m->reparse_tag);
		sqlite3_bind_blob(stmt, 10, m->reparse ? (const void *)m->reparse : "",
				  (int)m->reparse_len, SQLITE_STATIC);
	}
	if (m->hardlink_group)
		sqlite3_bind_int64(stmt, 11, (int64_t)m->hardlink_group);
	if (m->has_unix) {
		sqlite3_bind_int64(stmt, 12, m->unix_uid);
		sqlite3_bind_int64(stmt, 13, m->unix_gid);
		sqlite3_bind_int64(stmt, 14, m->unix_mode);
		sqlite3_bind_int64(stmt, 15, m->unix_rdev);
	}
	if (m->has_object_id)
		sqlite3_bind_blob(stmt, 16, m->object_id, sizeof(m->object_id), SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc == SQLITE_CONSTRAINT) {
		tsm_error("'%s' is in the source twice", m->path);
		return -EEXIST;
	}
	if (rc != SQLITE_DONE)
		return tsm_db_error(db, m->path);
	stmt = vr->win_stmts[3];
	for (size_t i = 0; i < m->nstreams; i++) {
		const struct tsm_win_stream *s = &m->streams[i];

		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		sqlite3_bind_int64(stmt, 1, vr->row);
		sqlite3_bind_text(stmt, 2, m->path, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 3, s->name, -1, SQLITE_STATIC);
		if (s->blob_id)
			sqlite3_bind_int64(stmt, 4, s->blob_id);
		sqlite3_bind_int64(stmt, 5, (int64_t)s->size);
		sqlite3_bind_int64(stmt, 6, (int64_t)i);
		rc = sqlite3_step(stmt);
		sqlite3_reset(stmt);
		if (rc == SQLITE_CONSTRAINT) {
			tsm_error("'%s' has data stream '%s' twice", m->path, s->name);
			return -EEXIST;
		}
		if (rc != SQLITE_DONE)
			return tsm_db_error(db, m->path);
	}
	return 0;
}
