/* Content items: import, listing, removal and reading files back. */
#include "tsmedia/content.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "import/source.h"
#include "store/store_internal.h"
#include "tsmedia/log.h"
#include "tsmedia/progress.h"

/* Windows file attributes kept with each entry (for WIM and UDF later). */
#define FILE_ATTRIBUTE_READONLY 0x1
#define FILE_ATTRIBUTE_DIRECTORY 0x10
#define FILE_ATTRIBUTE_ARCHIVE 0x20
#define FILE_ATTRIBUTE_REPARSE_POINT 0x400

static int64_t timespec_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

static uint32_t windows_attributes(const struct stat *st)
{
	uint32_t a = 0;

	if (S_ISDIR(st->st_mode))
		a |= FILE_ATTRIBUTE_DIRECTORY;
	else if (S_ISLNK(st->st_mode))
		a |= FILE_ATTRIBUTE_REPARSE_POINT;
	else
		a |= FILE_ATTRIBUTE_ARCHIVE;
	if (!(st->st_mode & S_IWUSR))
		a |= FILE_ATTRIBUTE_READONLY;
	return a;
}

/* ---- IDs and rows --------------------------------------------------- */

struct item_row {
	bool exists, removed;
	char kind[32];
	int64_t max_version;
};

static int item_find(struct tsm_store *store, const char *id, struct item_row *row)
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

/* The next free "<site>NNNNN" from the store's counter. */
static int item_allocate_id(struct tsm_store *store, char id[TSM_CONTENT_ID_LEN + 1])
{
	char value[32];
	long long next;
	int rc;

	if ((rc = tsm_meta_get(store->db, "next_content_number", value, sizeof(value))) < 0)
		return rc;
	for (next = strtoll(value, NULL, 10); next <= 0xfffff; next++) {
		struct item_row row;

		snprintf(id, TSM_CONTENT_ID_LEN + 1, "%s%05llX", store->site_code, next);
		if ((rc = item_find(store, id, &row)) < 0)
			return rc;
		if (!row.exists)
			break;
	}
	if (next > 0xfffff) {
		tsm_error("%s: every content ID of site %s is taken", store->dir, store->site_code);
		return -ENOSPC;
	}
	snprintf(value, sizeof(value), "%lld", next + 1);
	return tsm_meta_set(store->db, "next_content_number", value);
}

static int item_upsert(struct tsm_store *store, const char *id, const char *kind,
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

/* ---- import --------------------------------------------------------- */

struct import_ctx {
	struct tsm_store *store;
	struct tsm_blob_writer *blobs;
	struct tsm_progress progress;
	sqlite3_stmt *insert_entry;
	int64_t version_row;
	uint64_t files, bytes;
};

static int import_file(struct import_ctx *ctx, const struct tsm_source_entry *e,
		       int64_t *blob_ret, uint64_t *size_ret)
{
	struct stat st;
	int fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	int rc;

	if (fd < 0) {
		rc = -errno;
		tsm_error("cannot read %s: %s", e->path, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		tsm_error("%s changed while it was imported: no longer a regular file", e->path);
		close(fd);
		return -EINVAL;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	rc = tsm_blob_writer_import_fd(ctx->blobs, fd, e->path, &ctx->progress, blob_ret, size_ret);
	close(fd);
	return rc;
}

static int import_entry(struct import_ctx *ctx, const struct tsm_source_entry *e)
{
	sqlite3_stmt *stmt = ctx->insert_entry;
	int64_t blob = 0;
	uint64_t size = 0;
	int rc;

	if (S_ISREG(e->st.st_mode)) {
		if ((rc = import_file(ctx, e, &blob, &size)) < 0)
			return rc;
		ctx->files++;
		ctx->bytes += size;
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	sqlite3_bind_int64(stmt, 1, ctx->version_row);
	sqlite3_bind_text(stmt, 2, e->rel_path, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, (int64_t)e->st.st_mode);
	sqlite3_bind_int64(stmt, 4, timespec_ns(&e->st.st_mtim));
	sqlite3_bind_int64(stmt, 5, windows_attributes(&e->st));
	sqlite3_bind_int64(stmt, 6, (int64_t)size);
	if (blob)
		sqlite3_bind_int64(stmt, 7, blob);
	if (e->link_target)
		sqlite3_bind_text(stmt, 8, e->link_target, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		return tsm_db_error(ctx->store->db, e->path);
	return 0;
}

/* Which item and version the import goes to; creates or revives the item. */
static int import_resolve_item(struct tsm_store *store, const struct tsm_content_add_options *o,
			       struct tsm_content_add_result *res)
{
	const char *kind = tsm_content_kind_name(o->kind);
	struct item_row row = { 0 };
	int rc;

	if (o->id) {
		if (tsm_content_id_normalize(o->id, res->id) < 0) {
			tsm_error("invalid content ID '%s': a site code of three letters or digits"
				  " and five hex digits, e.g. PS100012", o->id);
			return -EINVAL;
		}
		if ((rc = item_find(store, res->id, &row)) < 0)
			return rc;
		if (row.exists && !row.removed && strcmp(row.kind, kind) != 0) {
			tsm_error("content %s is a %s, not a %s: a new version keeps the kind",
				  res->id, row.kind, kind);
			return -EINVAL;
		}
	} else if ((rc = item_allocate_id(store, res->id)) < 0) {
		return rc;
	}
	res->new_item = !row.exists || row.removed;
	res->version = row.max_version + 1;
	return item_upsert(store, res->id, kind, o->name, row.exists);
}

static int import_tree(struct tsm_store *store, const struct tsm_content_add_options *o,
		       const struct tsm_source_tree *tree, struct tsm_content_add_result *res)
{
	struct import_ctx ctx = { .store = store };
	char label[300];
	int rc;

	if ((rc = import_resolve_item(store, o, res)) < 0)
		return rc;
	if ((rc = version_insert(store, res->id, res->version, o->version_label, tree->root,
				 &ctx.version_row)) < 0)
		return rc;
	if ((rc = tsm_db_prepare(store->db,
				 "INSERT INTO tree_entries(version, path, mode, mtime_ns, attributes,"
				 " size, blob, link_target) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
				 &ctx.insert_entry)) < 0)
		return rc;
	if ((rc = tsm_blob_writer_new(store, &ctx.blobs)) < 0)
		goto out_finalize;
	snprintf(label, sizeof(label), "importing %s", o->name);
	tsm_progress_start(&ctx.progress, label, tree->file_bytes, o->progress);
	for (size_t i = 0; i < tree->n && rc == 0; i++)
		rc = import_entry(&ctx, &tree->entries[i]);
	tsm_progress_finish(&ctx.progress);
	if (rc == 0)
		rc = version_set_totals(store, ctx.version_row, ctx.files, ctx.bytes);
	res->files = ctx.files;
	res->dirs = tree->dirs;
	res->bytes = ctx.bytes;
	tsm_blob_writer_free(ctx.blobs);
out_finalize:
	sqlite3_finalize(ctx.insert_entry);
	return rc;
}

int tsm_content_add(struct tsm_store *store, const struct tsm_content_add_options *o,
		    struct tsm_content_add_result *res)
{
	struct tsm_source_tree tree;
	int rc;

	memset(res, 0, sizeof(*res));
	if (!o->name || !*o->name || strlen(o->name) > 255 || !tsm_utf8_valid(o->name)) {
		tsm_error("invalid content name '%s': 1 to 255 characters of UTF-8",
			  o->name ? o->name : "");
		return -EINVAL;
	}
	if (o->version_label && (strlen(o->version_label) > 64 ||
				 !tsm_utf8_valid(o->version_label))) {
		tsm_error("invalid version label '%s': up to 64 characters", o->version_label);
		return -EINVAL;
	}
	if (o->id && tsm_content_id_normalize(o->id, res->id) < 0) {
		tsm_error("invalid content ID '%s': a site code of three letters or digits and"
			  " five hex digits, e.g. PS100012", o->id);
		return -EINVAL;
	}
	/* The whole source is checked before the store is touched. */
	if ((rc = tsm_source_scan(o->source, &tree)) < 0)
		return rc;
	if ((rc = tsm_store_write_begin(store)) < 0)
		goto out_free;
	rc = import_tree(store, o, &tree, res);
	if (rc == 0)
		rc = tsm_store_write_commit(store);
	else
		tsm_store_write_abort(store);
out_free:
	tsm_source_tree_free(&tree);
	return rc;
}

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
					    " t.attributes, t.size, t.blob, b.sha256, t.link_target"
					    " FROM tree_entries t LEFT JOIN blobs b ON b.id = t.blob"
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

void tsm_tree_entries_free(struct tsm_tree_entry *entries, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(entries[i].path);
		free(entries[i].link_target);
	}
	free(entries);
}

int tsm_content_rm(struct tsm_store *store, const char *id)
{
	char norm[TSM_CONTENT_ID_LEN + 1];
	struct item_row row;
	sqlite3_stmt *stmt;
	int rc;

	if (tsm_content_id_normalize(id, norm) < 0) {
		tsm_error("invalid content ID '%s'", id);
		return -EINVAL;
	}
	if ((rc = tsm_store_write_begin(store)) < 0)
		return rc;
	if ((rc = item_find(store, norm, &row)) < 0)
		goto out_abort;
	if (!row.exists || row.removed) {
		tsm_error("no content %s in %s", norm, store->dir);
		rc = -ENOENT;
		goto out_abort;
	}
	if ((rc = tsm_db_prepare(store->db, "UPDATE content SET removed = 1 WHERE id = ?1;",
				 &stmt)) < 0)
		goto out_abort;
	sqlite3_bind_text(stmt, 1, norm, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(store->db, "removing content");
	sqlite3_finalize(stmt);
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
	int rc;

	if ((rc = version_row_find(store, id, 0, &row)) < 0)
		return rc;
	if ((rc = tsm_db_prepare(store->db, "SELECT mode, blob FROM tree_entries"
					    " WHERE version = ? AND path = ?", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, row);
	sqlite3_bind_text(stmt, 2, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		mode = (uint32_t)sqlite3_column_int64(stmt, 0);
		blob = sqlite3_column_int64(stmt, 1);
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
	if ((rc = tsm_pin_content_version(store, row, pin_ret)) < 0)
		return rc;
	if ((rc = tsm_blob_reader_open(store, blob, reader_ret)) < 0) {
		tsm_pin_release(*pin_ret);
		*pin_ret = NULL;
	}
	return rc;
}

static int write_full(int fd, const uint8_t *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
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
		if ((rc = write_full(fd, buf, (size_t)n)) < 0) {
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
