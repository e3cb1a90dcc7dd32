/* Import sessions: a new content version, entry by entry. */
#include "import/session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog/catalog.h"
#include "import/source.h"
#include "store/store_internal.h"
#include "tsmedia/log.h"
#include "tsmedia/progress.h"
#include "tsmedia/wim.h"

/* Windows file attributes kept with each entry (for WIM and UDF later). */
#define FILE_ATTRIBUTE_READONLY 0x1
#define FILE_ATTRIBUTE_DIRECTORY 0x10
#define FILE_ATTRIBUTE_ARCHIVE 0x20
#define FILE_ATTRIBUTE_REPARSE_POINT 0x400

int64_t tsm_timespec_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

uint32_t tsm_windows_attributes(const struct stat *st)
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


struct tsm_import {
	struct tsm_store *store;
	struct tsm_blob_writer *blobs;
	struct tsm_progress progress;
	sqlite3_stmt *insert_entry;
	sqlite3_stmt *win_stmts[4]; /* tsm_import_add_win_meta's, prepared once */
	int64_t version_row;
	int boot_seq;
	uint64_t files, dirs, bytes;
	struct tsm_content_add_result res;
	char label[300];
};

int tsm_import_check_options(const struct tsm_content_add_options *o)
{
	char id[TSM_CONTENT_ID_LEN + 1];

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
	if (o->id && tsm_content_id_normalize(o->id, id) < 0) {
		tsm_error("invalid content ID '%s': a site code of three letters or digits and"
			  " five hex digits, e.g. PS100012", o->id);
		return -EINVAL;
	}
	return 0;
}

int tsm_import_begin(struct tsm_store *store, const struct tsm_content_add_options *o,
		     const char *source, uint64_t total_bytes, struct tsm_import **imp_ret)
{
	struct tsm_import *imp;
	int rc = tsm_import_check_options(o);

	if (rc < 0)
		return rc;
	if (!(imp = calloc(1, sizeof(*imp))))
		return -ENOMEM;
	imp->store = store;
	if ((rc = tsm_store_write_begin(store)) < 0) {
		free(imp);
		return rc;
	}
	if ((rc = import_resolve_item(store, o, &imp->res)) < 0 ||
	    (rc = version_insert(store, imp->res.id, imp->res.version, o->version_label, source,
				 &imp->version_row)) < 0 ||
	    (rc = tsm_db_prepare(store->db,
				 "INSERT INTO tree_entries(version, path, mode, mtime_ns, attributes,"
				 " size, blob, link_target) VALUES(?, ?, ?, ?, ?, ?, ?, ?)",
				 &imp->insert_entry)) < 0 ||
	    (rc = tsm_blob_writer_new(store, &imp->blobs)) < 0) {
		tsm_import_abort(imp);
		return rc;
	}
	snprintf(imp->label, sizeof(imp->label), "importing %s", o->name);
	tsm_progress_start(&imp->progress, imp->label, total_bytes, o->progress);
	*imp_ret = imp;
	return 0;
}

static int entry_insert(struct tsm_import *imp, const char *path, uint32_t mode,
			int64_t mtime_ns, uint32_t attributes, uint64_t size, int64_t blob,
			const char *target)
{
	sqlite3_stmt *stmt = imp->insert_entry;
	int rc;

	if (!*path || !tsm_utf8_valid(path)) {
		tsm_error("invalid path '%s' in the source", path);
		return -EINVAL;
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	sqlite3_bind_int64(stmt, 1, imp->version_row);
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
		return tsm_db_error(imp->store->db, path);
	return 0;
}

int tsm_import_add_dir(struct tsm_import *imp, const char *path, uint32_t mode,
		       int64_t mtime_ns, uint32_t attributes)
{
	int rc = entry_insert(imp, path, S_IFDIR | (mode & 07777), mtime_ns,
			      attributes | FILE_ATTRIBUTE_DIRECTORY, 0, 0, NULL);

	if (rc == 0)
		imp->dirs++;
	return rc;
}

int tsm_import_add_symlink(struct tsm_import *imp, const char *path, const char *target,
			   int64_t mtime_ns)
{
	return entry_insert(imp, path, S_IFLNK | 0777, mtime_ns, FILE_ATTRIBUTE_REPARSE_POINT, 0,
			    0, target);
}

static int file_recorded(struct tsm_import *imp, const char *path, uint32_t mode,
			 int64_t mtime_ns, uint32_t attributes, int64_t blob, uint64_t size)
{
	int rc = entry_insert(imp, path, S_IFREG | (mode & 07777), mtime_ns, attributes, size,
			      blob, NULL);

	if (rc == 0) {
		imp->files++;
		imp->bytes += size;
	}
	return rc;
}

int tsm_import_add_file_fd(struct tsm_import *imp, const char *path, uint32_t mode,
			   int64_t mtime_ns, uint32_t attributes, int fd, const char *what)
{
	int64_t blob;
	uint64_t size;
	int rc = tsm_blob_writer_import_fd(imp->blobs, fd, what, &imp->progress, &blob, &size);

	if (rc < 0)
		return rc;
	return file_recorded(imp, path, mode, mtime_ns, attributes, blob, size);
}

int tsm_import_add_file_stream(struct tsm_import *imp, const char *path, uint32_t mode,
			       int64_t mtime_ns, uint32_t attributes, tsm_import_read_fn read,
			       void *ctx, const char *what)
{
	int64_t blob;
	uint64_t size;
	int rc = tsm_blob_writer_import_stream(imp->blobs, read, ctx, what, &imp->progress, &blob,
					       &size);

	if (rc < 0)
		return rc;
	return file_recorded(imp, path, mode, mtime_ns, attributes, blob, size);
}

int tsm_import_add_hidden_blob(struct tsm_import *imp, tsm_import_read_fn read, void *ctx,
			       const char *what, int64_t *blob_id_ret, uint64_t *size_ret)
{
	return tsm_blob_writer_import_stream(imp->blobs, read, ctx, what, &imp->progress,
					     blob_id_ret, size_ret);
}

int tsm_import_add_boot(struct tsm_import *imp, const struct tsm_boot_entry *e)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(imp->store->db,
				 "INSERT INTO content_boot(version, seq, platform, emulation, load_size,"
				 " boot_info_table, path, blob, size) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
				 &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, imp->version_row);
	sqlite3_bind_int(stmt, 2, imp->boot_seq++);
	sqlite3_bind_int(stmt, 3, e->platform);
	sqlite3_bind_int(stmt, 4, e->emulation);
	sqlite3_bind_int(stmt, 5, e->load_size);
	sqlite3_bind_int(stmt, 6, e->boot_info_table);
	if (e->path)
		sqlite3_bind_text(stmt, 7, e->path, -1, SQLITE_STATIC);
	if (e->blob_id)
		sqlite3_bind_int64(stmt, 8, e->blob_id);
	sqlite3_bind_int64(stmt, 9, (int64_t)e->size);
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(imp->store->db, "recording a boot entry");
	sqlite3_finalize(stmt);
	return rc;
}

int tsm_import_set_meta(struct tsm_import *imp, const char *key, const void *value, size_t len)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(imp->store->db, "INSERT OR REPLACE INTO content_meta(version, key,"
						 " value) VALUES(?, ?, ?)", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, imp->version_row);
	sqlite3_bind_text(stmt, 2, key, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 3, value, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(imp->store->db, key);
	sqlite3_finalize(stmt);
	return rc;
}

/* ---- images whose data arrive apart from their tree (WIM) ------------- */

int tsm_import_add_blob(struct tsm_import *imp, tsm_import_read_fn read, void *ctx,
			const char *what, const uint8_t *sha1, int64_t *blob_id_ret,
			uint64_t *size_ret)
{
	sqlite3_stmt *stmt;
	int rc = tsm_blob_writer_import_stream(imp->blobs, read, ctx, what, &imp->progress,
					       blob_id_ret, size_ret);

	if (rc < 0 || !sha1)
		return rc;
	if ((rc = tsm_db_prepare(imp->store->db, "SELECT sha1 FROM blobs WHERE id = ?", &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, *blob_id_ret);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		rc = tsm_db_error(imp->store->db, what);
	} else if (sqlite3_column_bytes(stmt, 0) != TSM_SHA1_LEN ||
		   memcmp(sqlite3_column_blob(stmt, 0), sha1, TSM_SHA1_LEN) != 0) {
		char want[2 * TSM_SHA1_LEN + 1], got[2 * TSM_SHA1_LEN + 1] = "?";

		tsm_hex_encode(sha1, TSM_SHA1_LEN, want);
		if (sqlite3_column_bytes(stmt, 0) == TSM_SHA1_LEN)
			tsm_hex_encode(sqlite3_column_blob(stmt, 0), TSM_SHA1_LEN, got);
		tsm_error("%s: SHA-1 mismatch: the image says %s, the data hash to %s", what, want,
			  got);
		rc = -EBADMSG;
	} else {
		rc = 0;
	}
	sqlite3_finalize(stmt);
	return rc;
}

int tsm_import_add_file_blob(struct tsm_import *imp, const char *path, uint32_t mode,
			     int64_t mtime_ns, uint32_t attributes, int64_t blob_id, uint64_t size)
{
	return file_recorded(imp, path, mode, mtime_ns, attributes, size ? blob_id : 0, size);
}

/* The id of security descriptor @data in win_security, added if new. */
static int win_security_id(struct tsm_import *imp, const uint8_t *data, size_t len,
			   int64_t *id_ret)
{
	sqlite3 *db = imp->store->db;
	uint8_t hash[TSM_SHA256_LEN];
	int rc;

	if ((rc = tsm_sha256(data, len, hash)) < 0)
		return rc;
	if (!imp->win_stmts[0] &&
	    (rc = tsm_db_prepare(db, "SELECT id FROM win_security WHERE sha256 = ?",
				 &imp->win_stmts[0])) < 0)
		return rc;
	if (!imp->win_stmts[1] &&
	    (rc = tsm_db_prepare(db, "INSERT INTO win_security(sha256, data) VALUES(?, ?)",
				 &imp->win_stmts[1])) < 0)
		return rc;
	sqlite3_reset(imp->win_stmts[0]);
	sqlite3_bind_blob(imp->win_stmts[0], 1, hash, sizeof(hash), SQLITE_STATIC);
	rc = sqlite3_step(imp->win_stmts[0]);
	if (rc == SQLITE_ROW) {
		*id_ret = sqlite3_column_int64(imp->win_stmts[0], 0);
		sqlite3_reset(imp->win_stmts[0]);
		return 0;
	}
	sqlite3_reset(imp->win_stmts[0]);
	if (rc != SQLITE_DONE)
		return tsm_db_error(db, "looking up a security descriptor");
	sqlite3_reset(imp->win_stmts[1]);
	sqlite3_bind_blob(imp->win_stmts[1], 1, hash, sizeof(hash), SQLITE_STATIC);
	sqlite3_bind_blob(imp->win_stmts[1], 2, data, (int)len, SQLITE_STATIC);
	rc = sqlite3_step(imp->win_stmts[1]);
	sqlite3_reset(imp->win_stmts[1]);
	if (rc != SQLITE_DONE)
		return tsm_db_error(db, "recording a security descriptor");
	*id_ret = sqlite3_last_insert_rowid(db);
	return 0;
}

int tsm_import_add_win_meta(struct tsm_import *imp, const struct tsm_win_meta *m)
{
	sqlite3 *db = imp->store->db;
	sqlite3_stmt *stmt;
	int64_t sec = 0;
	int rc;

	if (!tsm_utf8_valid(m->path) || (m->short_name && !tsm_utf8_valid(m->short_name))) {
		tsm_error("invalid path '%s' in the source", m->path);
		return -EINVAL;
	}
	if (m->security && m->security_len > INT32_MAX / 2) {
		tsm_error("'%s': a security descriptor of %zu bytes", m->path, m->security_len);
		return -EFBIG;
	}
	if (m->security && (rc = win_security_id(imp, m->security, m->security_len, &sec)) < 0)
		return rc;
	if (!imp->win_stmts[2] &&
	    (rc = tsm_db_prepare(db, "INSERT INTO win_meta(version, path, security, short_name,"
				     " attributes, creation_ft, access_ft, write_ft, reparse_tag,"
				     " reparse, hardlink_group, unix_uid, unix_gid, unix_mode,"
				     " unix_rdev, object_id) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
				     " ?, ?, ?, ?, ?)", &imp->win_stmts[2])) < 0)
		return rc;
	if (!imp->win_stmts[3] &&
	    (rc = tsm_db_prepare(db, "INSERT INTO win_streams(version, path, name, blob, size, seq)"
				     " VALUES(?, ?, ?, ?, ?, ?)", &imp->win_stmts[3])) < 0)
		return rc;
	stmt = imp->win_stmts[2];
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	sqlite3_bind_int64(stmt, 1, imp->version_row);
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
	stmt = imp->win_stmts[3];
	for (size_t i = 0; i < m->nstreams; i++) {
		const struct tsm_win_stream *s = &m->streams[i];

		if (!tsm_utf8_valid(s->name)) {
			tsm_error("'%s': a data stream name that is not UTF-8", m->path);
			return -EINVAL;
		}
		sqlite3_reset(stmt);
		sqlite3_clear_bindings(stmt);
		sqlite3_bind_int64(stmt, 1, imp->version_row);
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

static void import_free(struct tsm_import *imp)
{
	for (size_t i = 0; i < sizeof(imp->win_stmts) / sizeof(imp->win_stmts[0]); i++)
		sqlite3_finalize(imp->win_stmts[i]);
	tsm_progress_finish(&imp->progress);
	tsm_blob_writer_free(imp->blobs);
	sqlite3_finalize(imp->insert_entry);
	free(imp);
}

int tsm_import_finish(struct tsm_import *imp, struct tsm_content_add_result *res)
{
	int rc = version_set_totals(imp->store, imp->version_row, imp->files, imp->bytes);

	imp->res.files = imp->files;
	imp->res.dirs = imp->dirs;
	imp->res.bytes = imp->bytes;
	*res = imp->res;
	sqlite3_finalize(imp->insert_entry);
	imp->insert_entry = NULL;
	if (rc == 0)
		rc = tsm_store_write_commit(imp->store);
	else
		tsm_store_write_abort(imp->store);
	import_free(imp);
	return rc;
}

void tsm_import_abort(struct tsm_import *imp)
{
	if (!imp)
		return;
	sqlite3_finalize(imp->insert_entry);
	imp->insert_entry = NULL;
	tsm_store_write_abort(imp->store);
	import_free(imp);
}
