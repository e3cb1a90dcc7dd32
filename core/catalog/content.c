/* Content items: listing, removal and reading files back (importing is
 * core/import/'s). */
#include "util/fdio.h"
#include "tsmedia/content.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "catalog/rows.h"
#include "store/store_internal.h"
#include "tsmedia/log.h"


/* ---- queries -------------------------------------------------------- */

static char *column_strdup(sqlite3_stmt *stmt, int col)
{
	const unsigned char *s = sqlite3_column_text(stmt, col);

	return s ? strdup((const char *)s) : NULL;
}

static int item_load_versions(struct tsm_store *store, struct tsm_content_item *item)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(store->db,
				 "SELECT id, version, label, source, created, files, bytes, removed"
				 " FROM content_versions WHERE content = ? ORDER BY version", &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, item->id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct tsm_content_version *v;
		void *p = realloc(item->versions, (item->nversions + 1) * sizeof(*item->versions));

		if (!p) {
			sqlite3_finalize(stmt);
			return -ENOMEM;
		}
		item->versions = p;
		v = &item->versions[item->nversions++];
		v->row_id = sqlite3_column_int64(stmt, 0);
		v->version = sqlite3_column_int64(stmt, 1);
		v->label = column_strdup(stmt, 2);
		v->source = column_strdup(stmt, 3);
		v->created = sqlite3_column_int64(stmt, 4);
		v->files = (uint64_t)sqlite3_column_int64(stmt, 5);
		v->bytes = (uint64_t)sqlite3_column_int64(stmt, 6);
		v->removed = sqlite3_column_int(stmt, 7) != 0;
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : tsm_db_error(store->db, "listing versions");
}

static int item_from_row(struct tsm_store *store, sqlite3_stmt *stmt,
			 struct tsm_content_item *item)
{
	memset(item, 0, sizeof(*item));
	snprintf(item->id, sizeof(item->id), "%s", sqlite3_column_text(stmt, 0));
	if (tsm_content_kind_parse((const char *)sqlite3_column_text(stmt, 1), &item->kind) < 0)
		item->kind = TSM_KIND_COUNT;
	item->name = column_strdup(stmt, 2);
	item->created = sqlite3_column_int64(stmt, 3);
	return item_load_versions(store, item);
}

int tsm_content_list(struct tsm_store *store, struct tsm_content_item **items_ret,
		     size_t *n_ret)
{
	struct tsm_content_item *items = NULL;
	size_t n = 0;
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_store_read_begin(store)) < 0)
		return rc;
	if ((rc = tsm_db_prepare(store->db, "SELECT id, kind, name, created FROM content"
					    " WHERE removed = 0 ORDER BY id", &stmt)) < 0)
		goto out_end;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		void *p = realloc(items, (n + 1) * sizeof(*items));

		if (!p) {
			rc = -ENOMEM;
			break;
		}
		items = p;
		if ((rc = item_from_row(store, stmt, &items[n++])) < 0)
			break;
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = tsm_db_error(store->db, "listing content");
out_end:
	tsm_store_read_end(store);
	if (rc < 0) {
		tsm_content_items_free(items, n);
		return rc;
	}
	*items_ret = items;
	*n_ret = n;
	return 0;
}

static int content_get_locked(struct tsm_store *store, const char *id,
			      struct tsm_content_item *item)
{
	char norm[TSM_CONTENT_ID_LEN + 1];
	sqlite3_stmt *stmt;
	int rc;

	if (tsm_content_id_normalize(id, norm) < 0) {
		tsm_error("invalid content ID '%s'", id);
		return -EINVAL;
	}
	if ((rc = tsm_db_prepare(store->db, "SELECT id, kind, name, created FROM content"
					    " WHERE id = ? AND removed = 0", &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, norm, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		rc = item_from_row(store, stmt, item);
	else if (rc == SQLITE_DONE) {
		tsm_error("no content %s in %s", norm, store->dir);
		rc = -ENOENT;
	} else {
		rc = tsm_db_error(store->db, "reading content");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int tsm_content_get(struct tsm_store *store, const char *id, struct tsm_content_item *item)
{
	int rc = tsm_store_read_begin(store);

	if (rc < 0)
		return rc;
	rc = content_get_locked(store, id, item);
	tsm_store_read_end(store);
	return rc;
}

/* Whether ?1 names content not removed: its count of rows. */
#define LIVE_CONTENT_SQL "SELECT count(*) FROM content WHERE id = ?1 AND removed = 0"

bool tsm_content_exists(struct tsm_store *store, const char *id)
{
	char norm[TSM_CONTENT_ID_LEN + 1];
	int64_t n = 0;

	if (tsm_content_id_normalize(id, norm) < 0)
		return false;
	return tsm_db_int64_text(store->db, LIVE_CONTENT_SQL, norm, &n) == 0 && n > 0;
}

void tsm_content_item_clear(struct tsm_content_item *item)
{
	for (size_t i = 0; i < item->nversions; i++) {
		free(item->versions[i].label);
		free(item->versions[i].source);
	}
	free(item->versions);
	free(item->name);
	memset(item, 0, sizeof(*item));
}

void tsm_content_items_free(struct tsm_content_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tsm_content_item_clear(&items[i]);
	free(items);
}

/* The catalog row of @id's version @version (0: the newest not removed). */
static int version_row_find(struct tsm_store *store, const char *id, int64_t version,
			    int64_t *row_ret)
{
	struct tsm_content_item item;
	int rc = content_get_locked(store, id, &item);

	if (rc < 0)
		return rc;
	rc = -ENOENT;
	for (size_t i = item.nversions; i-- > 0;) {
		const struct tsm_content_version *v = &item.versions[i];

		if ((version == 0 && !v->removed) || v->version == version) {
			*row_ret = v->row_id;
			rc = 0;
			break;
		}
	}
	if (rc < 0)
		tsm_error("content %s has no version %lld", item.id, (long long)version);
	tsm_content_item_clear(&item);
	return rc;
}

static void entry_from_row(sqlite3_stmt *stmt, struct tsm_tree_entry *e)
{
	uint32_t mode = (uint32_t)sqlite3_column_int64(stmt, 1);

	memset(e, 0, sizeof(*e));
	e->path = column_strdup(stmt, 0);
	e->type = S_ISDIR(mode) ? TSM_ENTRY_DIR : S_ISLNK(mode) ? TSM_ENTRY_SYMLINK
								: TSM_ENTRY_FILE;
	e->mode = mode & 07777;
	e->mtime_ns = sqlite3_column_int64(stmt, 2);
	e->attributes = (uint32_t)sqlite3_column_int64(stmt, 3);
	e->size = (uint64_t)sqlite3_column_int64(stmt, 4);
	e->blob_id = sqlite3_column_int64(stmt, 5);
	if (sqlite3_column_bytes(stmt, 6) == TSM_SHA256_LEN)
		memcpy(e->sha256, sqlite3_column_blob(stmt, 6), TSM_SHA256_LEN);
	e->link_target = column_strdup(stmt, 7);
	e->wim_blob_id = sqlite3_column_int64(stmt, 8);
}

int tsm_content_tree(struct tsm_store *store, const char *id, int64_t version,
		     struct tsm_tree_entry **entries_ret, size_t *n_ret)
{
	struct tsm_tree_entry *entries = NULL;
	sqlite3_stmt *stmt;
	int64_t row;
	size_t n = 0;
	int rc;

	if ((rc = tsm_store_read_begin(store)) < 0)
		return rc;
	if ((rc = version_row_find(store, id, version, &row)) < 0)
		goto out_end;
	if ((rc = tsm_db_prepare(store->db, "SELECT * FROM (SELECT t.path, t.mode, t.mtime_ns,"
					    " t.attributes, t.size, t.blob, b.sha256, t.link_target, w.wim"
					    " FROM tree_entries t LEFT JOIN blobs b ON b.id = t.blob"
					    " LEFT JOIN blob_wim_resources w ON w.blob = t.blob"
					    " WHERE t.version = ?) ORDER BY 1", &stmt)) < 0)
		goto out_end;
	sqlite3_bind_int64(stmt, 1, row);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		void *p = realloc(entries, (n + 1) * sizeof(*entries));

		if (!p) {
			rc = -ENOMEM;
			break;
		}
		entries = p;
		entry_from_row(stmt, &entries[n++]);
	}
	sqlite3_finalize(stmt);
	rc = rc == SQLITE_DONE ? 0 : rc < 0 ? rc : tsm_db_error(store->db, "reading a tree");
out_end:
	tsm_store_read_end(store);
	if (rc < 0) {
		tsm_tree_entries_free(entries, n);
		return rc;
	}
	*entries_ret = entries;
	*n_ret = n;
	return 0;
}

int tsm_content_boot_entries(struct tsm_store *store, const char *id, int64_t version,
			     struct tsm_boot_entry **entries_ret, size_t *n_ret)
{
	struct tsm_boot_entry *entries = NULL;
	sqlite3_stmt *stmt;
	int64_t row;
	size_t n = 0;
	int rc;

	if ((rc = tsm_store_read_begin(store)) < 0)
		return rc;
	if ((rc = version_row_find(store, id, version, &row)) < 0)
		goto out_end;
	if ((rc = tsm_db_prepare(store->db,
				 "SELECT platform, emulation, load_size, boot_info_table, path, blob,"
				 " size FROM content_boot WHERE version = ? ORDER BY seq", &stmt)) < 0)
		goto out_end;
	sqlite3_bind_int64(stmt, 1, row);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct tsm_boot_entry *e;
		void *p = realloc(entries, (n + 1) * sizeof(*entries));

		if (!p) {
			rc = -ENOMEM;
			break;
		}
		entries = p;
		e = &entries[n++];
		memset(e, 0, sizeof(*e));
		e->platform = (uint8_t)sqlite3_column_int(stmt, 0);
		e->emulation = (uint8_t)sqlite3_column_int(stmt, 1);
		e->load_size = (uint16_t)sqlite3_column_int(stmt, 2);
		e->boot_info_table = sqlite3_column_int(stmt, 3) != 0;
		e->path = column_strdup(stmt, 4);
		e->blob_id = sqlite3_column_int64(stmt, 5);
		e->size = (uint64_t)sqlite3_column_int64(stmt, 6);
	}
	sqlite3_finalize(stmt);
	rc = rc == SQLITE_DONE ? 0 : rc < 0 ? rc : tsm_db_error(store->db, "reading boot entries");
out_end:
	tsm_store_read_end(store);
	if (rc < 0) {
		tsm_boot_entries_free(entries, n);
		return rc;
	}
	*entries_ret = entries;
	*n_ret = n;
	return 0;
}

void tsm_boot_entries_free(struct tsm_boot_entry *entries, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(entries[i].path);
	free(entries);
}

int tsm_content_meta(struct tsm_store *store, const char *id, int64_t version,
		     const char *key, void **value_ret, size_t *len_ret)
{
	sqlite3_stmt *stmt;
	int64_t row;
	int rc;

	if ((rc = tsm_store_read_begin(store)) < 0)
		return rc;
	if ((rc = version_row_find(store, id, version, &row)) < 0)
		goto out_end;
	if ((rc = tsm_db_prepare(store->db, "SELECT value FROM content_meta WHERE version = ?"
					    " AND key = ?", &stmt)) < 0)
		goto out_end;
	sqlite3_bind_int64(stmt, 1, row);
	sqlite3_bind_text(stmt, 2, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		int len = sqlite3_column_bytes(stmt, 0);

		*value_ret = malloc((size_t)len + 1);
		if (*value_ret) {
			memcpy(*value_ret, sqlite3_column_blob(stmt, 0), (size_t)len);
			((char *)*value_ret)[len] = '\0';
			*len_ret = (size_t)len;
			rc = 0;
		} else {
			rc = -ENOMEM;
		}
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : tsm_db_error(store->db, key);
	}
	sqlite3_finalize(stmt);
out_end:
	tsm_store_read_end(store);
	return rc;
}

void tsm_tree_entries_free(struct tsm_tree_entry *entries, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(entries[i].path);
		free(entries[i].link_target);
	}
	free(entries);
}

/* The message for content @id that the foreign key kept from being removed:
 * the media whose current versions use it, read in the same transaction. */
static int content_used_error(struct tsm_store *store, const char *id)
{
	char **names, list[512] = "";
	size_t n, len = 0;
	int rc = tsm_media_using_content(store, id, &names, &n);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		if (len < sizeof(list))
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", i ? ", " : "",
						names[i] ? names[i] : "?");
		free(names[i]);
	}
	free(names);
	tsm_error("content %s is used by media %s: remove it from them first", id, n ? list : "?");
	return -EBUSY;
}

int tsm_content_rm(struct tsm_store *store, const char *id)
{
	char norm[TSM_CONTENT_ID_LEN + 1];
	sqlite3_stmt *stmt;
	int64_t live = 0;
	int rc;

	if (tsm_content_id_normalize(id, norm) < 0) {
		tsm_error("invalid content ID '%s'", id);
		return -EINVAL;
	}
	if ((rc = tsm_store_write_begin(store)) < 0)
		return rc;
	if ((rc = tsm_db_int64_text(store->db, LIVE_CONTENT_SQL, norm, &live)) < 0)
		goto out_abort;
	if (!live) {
		tsm_error("no content %s in %s", norm, store->dir);
		rc = -ENOENT;
		goto out_abort;
	}
	/* A media that uses it holds a foreign key (media_content) that refuses
	 * this at once: no check-then-remove race. */
	if ((rc = tsm_db_prepare(store->db, "UPDATE content SET removed = 1 WHERE id = ?1;",
				 &stmt)) < 0)
		goto out_abort;
	sqlite3_bind_text(stmt, 1, norm, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_CONSTRAINT)
		rc = content_used_error(store, norm);
	else
		rc = rc == SQLITE_DONE ? 0 : tsm_db_error(store->db, "removing content");
	if (rc < 0 || (rc = tsm_db_prepare(store->db, "UPDATE content_versions SET removed = 1"
						      " WHERE content = ?1", &stmt)) < 0)
		goto out_abort;
	sqlite3_bind_text(stmt, 1, norm, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(store->db, "removing content");
	sqlite3_finalize(stmt);
	if (rc < 0)
		goto out_abort;
	return tsm_store_write_commit(store);

out_abort:
	tsm_store_write_abort(store);
	return rc;
}

/* "a/b", "/a/b" and "./a/b" all name the entry "a/b". */
static const char *path_relative(const char *path)
{
	while (*path == '/' || (path[0] == '.' && path[1] == '/'))
		path += *path == '/' ? 1 : 2;
	return path;
}

static int cat_open_locked(struct tsm_store *store, const char *id, const char *path,
			   struct tsm_pin **pin_ret, struct tsm_blob_reader **reader_ret)
{
	sqlite3_stmt *stmt;
	int64_t row, blob = 0;
	uint32_t mode = 0;
	bool no_blob = false;
	int rc;

	if ((rc = version_row_find(store, id, 0, &row)) < 0)
		return rc;
	if ((rc = tsm_db_prepare(store->db, "SELECT mode, blob, size FROM tree_entries"
					    " WHERE version = ? AND path = ?", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, row);
	sqlite3_bind_text(stmt, 2, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		mode = (uint32_t)sqlite3_column_int64(stmt, 0);
		blob = sqlite3_column_int64(stmt, 1);
		/* An empty file imported from a WIM has no blob (the WIM
		 * names no stream for it): there are no bytes to read. */
		no_blob = sqlite3_column_type(stmt, 1) == SQLITE_NULL &&
			  sqlite3_column_int64(stmt, 2) == 0;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW) {
		tsm_error("content %s has no file '%s'", id, path);
		return -ENOENT;
	}
	if (!S_ISREG(mode)) {
		tsm_error("'%s' in content %s is a %s, not a file", path, id,
			  S_ISDIR(mode) ? "directory" : "symlink");
		return -EISDIR;
	}
	if (no_blob)
		return 0;
	if ((rc = tsm_pin_content_version(store, row, pin_ret)) < 0)
		return rc;
	if ((rc = tsm_blob_reader_open(store, blob, reader_ret)) < 0) {
		tsm_pin_release(*pin_ret);
		*pin_ret = NULL;
	}
	return rc;
}

int tsm_content_cat(struct tsm_store *store, const char *id, const char *path, int fd)
{
	struct tsm_blob_reader *reader = NULL;
	struct tsm_pin *pin = NULL;
	const size_t bufsize = 1u << 20;
	uint8_t *buf;
	uint64_t off = 0;
	int rc;

	if ((rc = tsm_store_read_begin(store)) < 0)
		return rc;
	rc = cat_open_locked(store, id, path_relative(path), &pin, &reader);
	tsm_store_read_end(store);
	if (rc < 0)
		return rc;
	if (!reader)
		return 0; /* an empty file */
	if (!(buf = malloc(bufsize))) {
		rc = -ENOMEM;
		goto out_close;
	}
	for (;;) {
		ssize_t n = tsm_blob_reader_pread(reader, buf, bufsize, off);

		if (n < 0) {
			tsm_error("content %s: reading '%s' at offset %llu failed", id, path,
				  (unsigned long long)off);
			rc = (int)n;
			break;
		}
		if (n == 0)
			break;
		if ((rc = tsm_fd_write_full(fd, buf, (size_t)n, false)) < 0) {
			if (rc != -EPIPE)
				tsm_error("writing '%s': %s", path, strerror(-rc));
			break;
		}
		off += (uint64_t)n;
	}
	free(buf);
out_close:
	tsm_blob_reader_close(reader);
	tsm_pin_release(pin);
	return rc;
}
