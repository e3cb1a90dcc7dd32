/* Media definitions in the catalog: media, media_versions, media_content,
 * media_files rows (the options are catalog/media_options.c's), read and
 * written for core/media/, which holds the rules and the composition. */
#include "tsmedia/content.h"
#include "tsmedia/media_def.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/catalog.h"
#include "catalog/rows.h"
#include "store/store_internal.h"
#include "tsmedia/log.h"
#include "tsmedia/site_def.h"

static const char *const type_names[TSM_MEDIA_TYPE_COUNT] = {
	[TSM_MEDIA_DATA] = "data",
	[TSM_MEDIA_CAPTURE] = "capture",
	[TSM_MEDIA_BOOTABLE] = "bootable",
	[TSM_MEDIA_PRESTAGED] = "prestaged",
	[TSM_MEDIA_STANDALONE] = "standalone",
};

const char *tsm_media_type_name(enum tsm_media_type type)
{
	return type < TSM_MEDIA_TYPE_COUNT ? type_names[type] : "unknown";
}

int tsm_media_type_parse(const char *name, enum tsm_media_type *type_ret)
{
	for (int i = 0; i < TSM_MEDIA_TYPE_COUNT; i++) {
		if (strcmp(name, type_names[i]) == 0) {
			*type_ret = (enum tsm_media_type)i;
			return 0;
		}
	}
	return -EINVAL;
}

static int def_load(sqlite3 *db, int64_t version, struct tsm_media_def *d)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_media_options_load(db, version, d)) < 0)
		return rc;
	if ((rc = tsm_db_prepare(db, "SELECT content FROM media_content WHERE version = ?"
				     " ORDER BY seq", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, version);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		void *p = realloc(d->content, (d->ncontent + 1) * sizeof(*d->content));

		if (!p) {
			rc = -ENOMEM;
			break;
		}
		d->content = p;
		if (!(d->content[d->ncontent] = strdup((const char *)sqlite3_column_text(stmt, 0)))) {
			rc = -ENOMEM;
			break;
		}
		d->ncontent++;
	}
	sqlite3_finalize(stmt);
	return rc;
}

/* ---- reading media rows --------------------------------------------- */

static const char info_sql[] =
	"SELECT m.name, m.type, v.id, v.version, v.created FROM media m"
	" JOIN media_versions v ON v.media = m.name"
	" WHERE m.removed = 0 AND v.removed = 0 AND v.version ="
	"  (SELECT max(version) FROM media_versions w WHERE w.media = m.name AND w.removed = 0)";

static int info_from_row(sqlite3 *db, sqlite3_stmt *stmt, struct tsm_media_info *info)
{
	memset(info, 0, sizeof(*info));
	if (!(info->def.name = strdup((const char *)sqlite3_column_text(stmt, 0))))
		return -ENOMEM;
	if (tsm_media_type_parse((const char *)sqlite3_column_text(stmt, 1), &info->def.type) < 0)
		info->def.type = TSM_MEDIA_TYPE_COUNT;
	info->version_id = sqlite3_column_int64(stmt, 2);
	info->version = sqlite3_column_int64(stmt, 3);
	info->created = sqlite3_column_int64(stmt, 4);
	return def_load(db, info->version_id, &info->def);
}

void tsm_media_info_clear(struct tsm_media_info *info)
{
	tsm_media_def_clear(&info->def);
	memset(info, 0, sizeof(*info));
}

void tsm_media_list_free(struct tsm_media_info *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tsm_media_info_clear(&list[i]);
	free(list);
}

/* The one row of @sql (?1 the media name, ?2 a version row when @version_id
 * is not 0) as @info; -ENOENT when there is none. */
static int info_query(struct tsm_store *store, const char *sql, const char *name,
		      int64_t version_id, struct tsm_media_info *info)
{
	sqlite3_stmt *stmt;
	int rc = tsm_db_prepare(store->db, sql, &stmt);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	if (version_id)
		sqlite3_bind_int64(stmt, 2, version_id);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		rc = info_from_row(store->db, stmt, info);
		if (rc < 0)
			tsm_media_info_clear(info);
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : tsm_db_error(store->db, "reading media");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int tsm_media_row_get(struct tsm_store *store, const char *name, struct tsm_media_info *info)
{
	char sql[sizeof(info_sql) + 32];
	int rc;

	snprintf(sql, sizeof(sql), "%s AND m.name = ?1", info_sql);
	if ((rc = info_query(store, sql, name, 0, info)) == -ENOENT)
		tsm_error("no media '%s' in %s", name, store->dir);
	return rc;
}

int tsm_media_row_get_version(struct tsm_store *store, const char *name, int64_t version_id,
			      struct tsm_media_info *info)
{
	int rc = info_query(store, "SELECT m.name, m.type, v.id, v.version, v.created FROM media m"
			    " JOIN media_versions v ON v.media = m.name WHERE m.name = ?1"
			    " AND v.id = ?2", name, version_id, info);

	if (rc == -ENOENT)
		tsm_error("media '%s': version row %lld is gone", name, (long long)version_id);
	return rc;
}

int tsm_media_get(struct tsm_store *store, const char *name, struct tsm_media_info *info)
{
	int rc = tsm_store_read_begin(store);

	if (rc < 0)
		return rc;
	rc = tsm_media_row_get(store, name, info);
	tsm_store_read_end(store);
	return rc;
}

int tsm_media_list(struct tsm_store *store, struct tsm_media_info **list_ret, size_t *n_ret)
{
	struct tsm_media_info *list = NULL;
	char sql[sizeof(info_sql) + 32];
	sqlite3_stmt *stmt;
	size_t n = 0;
	int rc;

	if ((rc = tsm_store_read_begin(store)) < 0)
		return rc;
	snprintf(sql, sizeof(sql), "%s ORDER BY m.name", info_sql);
	if ((rc = tsm_db_prepare(store->db, sql, &stmt)) < 0)
		goto out_end;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		void *p = realloc(list, (n + 1) * sizeof(*list));

		if (!p) {
			rc = -ENOMEM;
			break;
		}
		list = p;
		if ((rc = info_from_row(store->db, stmt, &list[n++])) < 0)
			break;
	}
	sqlite3_finalize(stmt);
	rc = rc == SQLITE_DONE ? 0 : rc < 0 ? rc : tsm_db_error(store->db, "listing media");
out_end:
	tsm_store_read_end(store);
	if (rc < 0) {
		tsm_media_list_free(list, n);
		return rc;
	}
	*list_ret = list;
	*n_ret = n;
	return 0;
}

static int row_exists(struct tsm_store *store, const char *table, int64_t id, bool *alive_ret)
{
	char sql[128];
	int64_t n = 0;
	int rc;

	/* @table is one of ours, @id a number: safe in the statement. */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s WHERE id = %lld", table, (long long)id);
	if ((rc = tsm_db_int64(store->db, sql, &n)) < 0)
		return rc;
	*alive_ret = n > 0;
	return 0;
}

int tsm_media_version_row_exists(struct tsm_store *store, int64_t id, bool *alive_ret)
{
	return row_exists(store, "media_versions", id, alive_ret);
}

int tsm_content_version_row_exists(struct tsm_store *store, int64_t id, bool *alive_ret)
{
	return row_exists(store, "content_versions", id, alive_ret);
}

int tsm_media_rows_insert_version(struct tsm_store *store, const struct tsm_media_def *d,
				  bool edit, int64_t *version_ret, int64_t *row_ret)
{
	sqlite3_stmt *stmt;
	int64_t exists = 0, max_version = 0;
	char sql[256];
	int rc;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM media WHERE removed = 0 AND name = '%s'",
		 d->name); /* the name is checked: [A-Za-z0-9._-] only */
	if ((rc = tsm_db_int64(store->db, sql, &exists)) < 0)
		return rc;
	if (edit && !exists) {
		tsm_error("no media '%s' in %s", d->name, store->dir);
		return -ENOENT;
	}
	if (!edit && exists) {
		tsm_error("media '%s' exists already (use 'tsmedia media edit' to change it)", d->name);
		return -EEXIST;
	}
	snprintf(sql, sizeof(sql), "SELECT coalesce(max(version), 0) FROM media_versions"
				   " WHERE media = '%s'", d->name);
	if ((rc = tsm_db_int64(store->db, sql, &max_version)) < 0)
		return rc;
	if ((rc = tsm_db_prepare(store->db,
				 "INSERT INTO media(name, type, created) VALUES(?1, ?2, ?3)"
				 " ON CONFLICT(name) DO UPDATE SET type = ?2, removed = 0", &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, d->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, tsm_media_type_name(d->type), -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, (int64_t)time(NULL));
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(store->db, "recording media");
	sqlite3_finalize(stmt);
	if (rc < 0)
		return rc;
	if ((rc = tsm_db_prepare(store->db, "INSERT INTO media_versions(media, version, created)"
					    " VALUES(?, ?, ?)", &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, d->name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, max_version + 1);
	sqlite3_bind_int64(stmt, 3, (int64_t)time(NULL));
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(store->db, "recording media");
	sqlite3_finalize(stmt);
	*version_ret = max_version + 1;
	*row_ret = sqlite3_last_insert_rowid(store->db);
	return rc;
}

int tsm_media_rows_insert_content(struct tsm_store *store, int64_t row,
				  const struct tsm_media_def *d)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(store->db, "INSERT INTO media_content(version, seq, content)"
					    " VALUES(?, ?, ?)", &stmt)) < 0)
		return rc;
	for (size_t i = 0; i < d->ncontent && rc == 0; i++) {
		char id[TSM_CONTENT_ID_LEN + 1];

		tsm_content_id_normalize(d->content[i], id);
		sqlite3_bind_int64(stmt, 1, row);
		sqlite3_bind_int64(stmt, 2, (int64_t)i);
		sqlite3_bind_text(stmt, 3, id, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(stmt) != SQLITE_DONE)
			rc = tsm_db_error(store->db, "recording media content");
		sqlite3_reset(stmt);
	}
	sqlite3_finalize(stmt);
	return rc;
}

int tsm_media_file_row_insert(struct tsm_store *store, int64_t version, const char *path,
			      int64_t blob)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(store->db, "INSERT INTO media_files(version, path, blob)"
					    " VALUES(?, ?, ?)", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, version);
	sqlite3_bind_text(stmt, 2, path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, blob);
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(store->db, path);
	sqlite3_finalize(stmt);
	return rc;
}
int tsm_media_files_load(struct tsm_store *store, int64_t version,
			 struct tsm_media_file **files_ret, size_t *n_ret)
{
	struct tsm_media_file *files = NULL;
	sqlite3_stmt *stmt;
	size_t n = 0;
	int rc;

	if ((rc = tsm_db_prepare(store->db, "SELECT f.path, f.blob, b.size, b.sha256 FROM media_files f"
				     " JOIN blobs b ON b.id = f.blob WHERE f.version = ?"
				     " ORDER BY f.path", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, version);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		void *p = realloc(files, (n + 1) * sizeof(*files));

		if (!p) {
			rc = -ENOMEM;
			break;
		}
		files = p;
		files[n].path = strdup((const char *)sqlite3_column_text(stmt, 0));
		files[n].blob_id = sqlite3_column_int64(stmt, 1);
		files[n].size = (uint64_t)sqlite3_column_int64(stmt, 2);
		if (sqlite3_column_bytes(stmt, 3) == 32)
			memcpy(files[n].sha256, sqlite3_column_blob(stmt, 3), 32);
		n++;
	}
	sqlite3_finalize(stmt);
	if (rc < 0) {
		tsm_media_files_free(files, n);
		return rc;
	}
	*files_ret = files;
	*n_ret = n;
	return 0;
}

void tsm_media_files_free(struct tsm_media_file *files, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(files[i].path);
	free(files);
}

/* A random GUID in registry format, for a new media. */
int tsm_media_rm(struct tsm_store *store, const char *name)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_store_write_begin(store)) < 0)
		return rc;
	if ((rc = tsm_db_prepare(store->db, "UPDATE media SET removed = 1 WHERE name = ?1"
					    " AND removed = 0", &stmt)) < 0)
		goto out_abort;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(store->db, "removing media");
	sqlite3_finalize(stmt);
	if (rc == 0 && sqlite3_changes(store->db) == 0) {
		tsm_error("no media '%s' in %s", name, store->dir);
		rc = -ENOENT;
	}
	if (rc < 0 || (rc = tsm_db_prepare(store->db, "UPDATE media_versions SET removed = 1"
						      " WHERE media = ?1", &stmt)) < 0)
		goto out_abort;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(store->db, "removing media");
	sqlite3_finalize(stmt);
	if (rc < 0)
		goto out_abort;
	return tsm_store_write_commit(store);

out_abort:
	tsm_store_write_abort(store);
	return rc;
}

int tsm_media_using_content(struct tsm_store *store, const char *id, char ***names_ret,
			    size_t *n_ret)
{
	sqlite3_stmt *stmt;
	char **names = NULL;
	size_t n = 0;
	int rc;

	if ((rc = tsm_db_prepare(store->db,
				 "SELECT DISTINCT v.media FROM media_content c"
				 " JOIN media_versions v ON v.id = c.version"
				 " WHERE c.content = ? AND c.live = 0 ORDER BY 1", &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		void *p = realloc(names, (n + 1) * sizeof(*names));

		if (!p)
			break;
		names = p;
		names[n++] = strdup((const char *)sqlite3_column_text(stmt, 0));
	}
	sqlite3_finalize(stmt);
	*names_ret = names;
	*n_ret = n;
	return 0;
}

int tsm_media_used_error(struct tsm_store *store, const char *what, enum tsm_media_ref ref,
			 const char *value)
{
	static const char *const sql[] = {
		[TSM_MEDIA_REF_TS] = "SELECT DISTINCT v.media FROM media_refs r"
				     " JOIN media_versions v ON v.id = r.version WHERE r.ts = ? ORDER BY 1",
		[TSM_MEDIA_REF_SITE] = "SELECT DISTINCT v.media FROM media_refs r"
				       " JOIN media_versions v ON v.id = r.version WHERE r.site = ?"
				       " ORDER BY 1",
	};
	char list[512] = "";
	size_t len = 0, n = 0;
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(store->db, sql[ref], &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, value, -1, SQLITE_STATIC);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		if (len < sizeof(list))
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", n ? ", " : "",
						sqlite3_column_text(stmt, 0));
		n++;
	}
	sqlite3_finalize(stmt);
	tsm_error("%s %s is used by media %s: remove or edit them first", what, value,
		  n ? list : "?");
	return -EBUSY;
}

int tsm_media_rows_insert_refs(struct tsm_store *store, int64_t row,
			       const struct tsm_media_def *d)
{
	char ts[TSM_CONTENT_ID_LEN + 1] = "", site[4] = "";
	sqlite3_stmt *stmt;
	int rc;

	if (d->task_sequence && tsm_content_id_normalize(d->task_sequence, ts) < 0)
		ts[0] = '\0';
	if (d->site && tsm_site_code_normalize(d->site, site) < 0)
		site[0] = '\0';
	if (!ts[0] && !site[0])
		return 0;
	if ((rc = tsm_db_prepare(store->db,
				 "INSERT INTO media_refs(version, ts, ts_version, site) VALUES(?1, ?2,"
				 " (SELECT max(version) FROM task_sequences WHERE id = ?2 AND removed = 0),"
				 " ?3)", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, row);
	if (ts[0])
		sqlite3_bind_text(stmt, 2, ts, -1, SQLITE_STATIC);
	if (site[0])
		sqlite3_bind_text(stmt, 3, site, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(store->db, "recording what a media uses");
	sqlite3_finalize(stmt);
	return rc;
}
