/* Media definitions in the catalog: saving versions, listing, removing,
 * and taking snapshots. */
#include "tsmedia/media.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/catalog.h"
#include "media/media_internal.h"
#include "tsmedia/ts.h"
#include "store/store_internal.h"
#include "tsmedia/image.h"
#include "tsmedia/log.h"

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

bool tsm_media_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 64 || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
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

static int media_get_locked(struct tsm_store *store, const char *name,
			    struct tsm_media_info *info)
{
	sqlite3_stmt *stmt;
	char sql[sizeof(info_sql) + 32];
	int rc;

	snprintf(sql, sizeof(sql), "%s AND m.name = ?", info_sql);
	if ((rc = tsm_db_prepare(store->db, sql, &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		rc = info_from_row(store->db, stmt, info);
		if (rc < 0)
			tsm_media_info_clear(info);
	} else if (rc == SQLITE_DONE) {
		tsm_error("no media '%s' in %s", name, store->dir);
		rc = -ENOENT;
	} else {
		rc = tsm_db_error(store->db, "reading media");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int tsm_media_get(struct tsm_store *store, const char *name, struct tsm_media_info *info)
{
	int rc = tsm_store_read_begin(store);

	if (rc < 0)
		return rc;
	rc = media_get_locked(store, name, info);
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

/* ---- snapshots ------------------------------------------------------ */

/* Resolves each content ID to its current version. */
static int snapshot_resolve(struct tsm_store *store, struct tsm_media_snapshot *s)
{
	size_t keylen = 32 + 24 * s->info.def.ncontent;
	int rc = 0;

	s->content = calloc(s->info.def.ncontent + 1, sizeof(*s->content));
	s->key = malloc(keylen);
	if (!s->content || !s->key)
		return -ENOMEM;
	int pos = snprintf(s->key, keylen, "%lld:", (long long)s->info.version_id);
	for (size_t i = 0; i < s->info.def.ncontent; i++) {
		struct tsm_content_item item;
		const struct tsm_content_version *cur = NULL;

		if ((rc = tsm_content_get(store, s->info.def.content[i], &item)) < 0) {
			tsm_error("media '%s' uses content %s, which is gone", s->info.def.name,
				  s->info.def.content[i]);
			return rc;
		}
		for (size_t k = item.nversions; k-- > 0;)
			if (!item.versions[k].removed) {
				cur = &item.versions[k];
				break;
			}
		if (!cur) {
			tsm_content_item_clear(&item);
			return -ENOENT;
		}
		snprintf(s->content[i].id, sizeof(s->content[i].id), "%s", item.id);
		s->content[i].version = cur->version;
		s->content[i].version_id = cur->row_id;
		if (cur->created > s->time)
			s->time = cur->created;
		pos += snprintf(s->key + pos, keylen - (size_t)pos, "%s%lld", i ? "," : "",
				(long long)cur->row_id);
		tsm_content_item_clear(&item);
	}
	s->ncontent = s->info.def.ncontent;
	if (s->info.created > s->time)
		s->time = s->info.created;
	return 0;
}

int tsm_media_snapshot_pin(struct tsm_store *store, const struct tsm_media_snapshot *snap,
			   struct tsm_pin **pin_ret)
{
	struct tsm_pin_ref *refs = calloc(snap->ncontent + 1, sizeof(*refs));
	int64_t alive = 0;
	char sql[128];
	int rc;

	if (!refs)
		return -ENOMEM;
	if ((rc = tsm_store_read_begin(store)) < 0)
		goto out_free;
	/* Still there?  gc removes a version only when no pin holds it. */
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM media_versions WHERE id = %lld",
		 (long long)snap->info.version_id);
	if ((rc = tsm_db_int64(store->db, sql, &alive)) == 0 && !alive)
		rc = -ESTALE;
	for (size_t i = 0; rc == 0 && i < snap->ncontent; i++) {
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM content_versions WHERE id = %lld",
			 (long long)snap->content[i].version_id);
		if ((rc = tsm_db_int64(store->db, sql, &alive)) == 0 && !alive)
			rc = -ESTALE;
	}
	if (rc == 0) {
		refs[0] = (struct tsm_pin_ref){ TSM_PIN_MEDIA_VERSION, snap->info.version_id };
		for (size_t i = 0; i < snap->ncontent; i++)
			refs[i + 1] = (struct tsm_pin_ref){ TSM_PIN_CONTENT_VERSION,
							    snap->content[i].version_id };
		rc = tsm_pin_create(store, refs, snap->ncontent + 1, pin_ret);
	}
	tsm_store_read_end(store);
out_free:
	free(refs);
	return rc;
}

int tsm_media_snapshot_take(struct tsm_store *store, const char *name, bool pin,
			    struct tsm_media_snapshot **snap_ret)
{
	struct tsm_media_snapshot *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	/* One read session: the definition, the content versions and the pin
	 * all come from one catalog snapshot, with gc held off. */
	if ((rc = tsm_store_read_begin(store)) < 0) {
		free(s);
		return rc;
	}
	rc = media_get_locked(store, name, &s->info);
	if (rc == 0)
		rc = snapshot_resolve(store, s);
	if (rc == 0 && pin)
		rc = tsm_media_snapshot_pin(store, s, &s->pin);
	tsm_store_read_end(store);
	if (rc < 0) {
		tsm_media_snapshot_free(s);
		return rc;
	}
	*snap_ret = s;
	return 0;
}

void tsm_media_snapshot_free(struct tsm_media_snapshot *snap)
{
	if (!snap)
		return;
	tsm_pin_release(snap->pin);
	tsm_media_info_clear(&snap->info);
	free(snap->content);
	free(snap->key);
	free(snap);
}

/* ---- saving and removing -------------------------------------------- */

static int media_check_def(struct tsm_store *store, const struct tsm_media_def *d)
{
	if (!tsm_media_name_valid(d->name)) {
		tsm_error("invalid media name '%s': 1 to 64 of A-Z a-z 0-9 . _ -, not starting"
			  " with '.'", d->name);
		return -EINVAL;
	}
	if (d->type != TSM_MEDIA_DATA)
		return tsm_media_check_rules(store, d);
	if (d->ncontent == 0) {
		tsm_error("media '%s' has no content: give --content ID[,ID...]", d->name);
		return -EINVAL;
	}
	for (size_t i = 0; i < d->ncontent; i++) {
		struct tsm_content_item item;
		int rc = tsm_content_get(store, d->content[i], &item);

		if (rc < 0)
			return rc;
		tsm_content_item_clear(&item);
	}
	return 0;
}

static int media_insert_version(struct tsm_store *store, const struct tsm_media_def *d,
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

static int media_insert_content(struct tsm_store *store, int64_t row,
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

/* Lays the new version out once, inside the write transaction, so a
 * definition that cannot be composed (two items with the same file, a boot
 * file that is not on the media) is refused before it is committed. */
static int media_try_layout(struct tsm_store *store, const char *name)
{
	struct tsm_media_snapshot *snap;
	struct tsm_volume_set *set;
	int rc = tsm_media_snapshot_take(store, name, false, &snap);

	if (rc < 0)
		return rc;
	rc = tsm_media_layout(store, snap, &set);
	if (rc == 0)
		tsm_volume_set_free(set);
	tsm_media_snapshot_free(snap);
	return rc;
}

/* Adds @id to the content list unless it is there already. */
static int content_list_add(struct tsm_media_def *d, const char *id)
{
	void *p;

	if (!id)
		return 0;
	for (size_t i = 0; i < d->ncontent; i++)
		if (strcmp(d->content[i], id) == 0)
			return 0;
	if (!(p = realloc(d->content, (d->ncontent + 1) * sizeof(*d->content))))
		return -ENOMEM;
	d->content = p;
	return (d->content[d->ncontent++] = strdup(id)) ? 0 : -ENOMEM;
}

/* What task sequence media carries, fixed at definition time so the
 * rendered policy and the content agree: the boot image first, then the
 * prestart files, the OS image, the task sequence's packages in the order
 * its steps use them, and the content named on the command line. */
static int media_ts_content(struct tsm_store *store, struct tsm_media_def *d)
{
	struct tsm_ts_info ts = { 0 };
	int rc = 0;

	for (size_t i = 0; i < d->ncontent; i++)
		free(d->content[i]);
	d->ncontent = 0;
	if (d->task_sequence && (rc = tsm_ts_get(store, d->task_sequence, &ts)) < 0)
		return rc;
	if (!d->boot_image && ts.boot_image)
		d->boot_image = strdup(ts.boot_image);
	if ((rc = content_list_add(d, d->boot_image)) == 0 &&
	    (rc = content_list_add(d, d->prestart_files)) == 0)
		rc = content_list_add(d, d->os_image);
	if (d->type == TSM_MEDIA_STANDALONE || d->type == TSM_MEDIA_PRESTAGED)
		for (size_t i = 0; rc == 0 && i < ts.npackages; i++)
			rc = content_list_add(d, ts.packages[i]);
	for (size_t i = 0; rc == 0 && i < d->nextra_content; i++)
		rc = content_list_add(d, d->extra_content[i]);
	tsm_ts_info_clear(&ts);
	return rc;
}

int tsm_media_save(struct tsm_store *store, struct tsm_media_def *d, bool edit,
		   int64_t *version_ret)
{
	int64_t row;
	int rc = media_check_def(store, d);
	bool ts_media = d->type != TSM_MEDIA_DATA;

	if (rc < 0)
		return rc;
	if (ts_media) {
		if ((rc = media_ts_content(store, d)) < 0)
			return rc;
		if (!d->media_guid && (rc = tsm_media_new_guid(&d->media_guid)) < 0)
			return rc;
		d->password_protected = d->password != NULL;
	}
	if ((rc = tsm_store_write_begin(store)) < 0)
		return rc;
	if ((rc = media_insert_version(store, d, edit, version_ret, &row)) < 0 ||
	    (ts_media && (rc = tsm_media_render(store, row, d)) < 0) ||
	    (rc = tsm_media_options_save(store->db, row, d)) < 0 ||
	    (rc = media_insert_content(store, row, d)) < 0 ||
	    (rc = media_try_layout(store, d->name)) < 0) {
		tsm_store_write_abort(store);
		return rc;
	}
	if ((rc = tsm_store_write_commit(store)) < 0)
		return rc;
	if (ts_media && d->type != TSM_MEDIA_CAPTURE && !d->password)
		tsm_warn("media '%s' has no password: anyone holding it can read its variables%s",
			 d->name, d->cert_summary ? " and its certificate's private key" : "");
	return 0;
}

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
				 " JOIN media m ON m.name = v.media"
				 " WHERE c.content = ? AND v.removed = 0 AND m.removed = 0"
				 " AND v.version = (SELECT max(version) FROM media_versions w"
				 "   WHERE w.media = v.media AND w.removed = 0) ORDER BY 1", &stmt)) < 0)
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

int tsm_media_refuse_if_used(struct tsm_store *store, const char *what, const char *key,
			     const char *value)
{
	char list[512] = "";
	size_t len = 0, n = 0;
	sqlite3_stmt *stmt;
	int rc;

	/* The current version of each live media: what an open would use. */
	if ((rc = tsm_db_prepare(store->db,
				 "SELECT DISTINCT v.media FROM media_options o"
				 " JOIN media_versions v ON v.id = o.version"
				 " JOIN media m ON m.name = v.media"
				 " WHERE o.key = ? AND o.value = ? AND v.removed = 0 AND m.removed = 0"
				 " AND v.version = (SELECT max(version) FROM media_versions w"
				 "   WHERE w.media = v.media AND w.removed = 0) ORDER BY 1", &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		if (len < sizeof(list))
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", n ? ", " : "",
						sqlite3_column_text(stmt, 0));
		n++;
	}
	sqlite3_finalize(stmt);
	if (n) {
		tsm_error("%s %s is used by media %s: remove or edit them first", what, value, list);
		return -EBUSY;
	}
	return 0;
}
