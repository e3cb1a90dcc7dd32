/* Import sessions: a new content version, entry by entry. */
#include "import/session.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "catalog/rows.h"
#include "import/source.h"
#include "store/store_internal.h"
#include "tsmedia/app.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"
#include "tsmedia/progress.h"
#include "tsmedia/winmeta.h"

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

/* ---- import --------------------------------------------------------- */

/* Which item and version the import goes to; creates or revives the item. */
static int import_resolve_item(struct tsm_store *store, const struct tsm_content_add_options *o,
			       struct tsm_content_add_result *res)
{
	const char *kind = tsm_content_kind_name(o->kind);
	struct tsm_content_row row = { 0 };
	int rc;

	if (o->id && strncasecmp(o->id, "Content_", 8) == 0) {
		/* An application's content: the item bound to its Content_ ID, or
		 * a new one bound to it (catalog/app.c). */
		char uid[TSM_APP_CONTENT_ID_LEN + 1];

		if (tsm_app_content_id_normalize(o->id, uid) < 0) {
			tsm_error("invalid content ID '%s': Content_ and a GUID", o->id);
			return -EINVAL;
		}
		if (o->kind != TSM_KIND_APPLICATION) {
			tsm_error("content %s is an application's content: --kind application", uid);
			return -EINVAL;
		}
		if ((rc = tsm_app_binding_find(store, uid, res->id)) == -ENOENT) {
			if ((rc = tsm_content_id_allocate(store, res->id)) < 0 ||
			    (rc = tsm_content_row_upsert(store, res->id, kind, o->name, false)) < 0 ||
			    (rc = tsm_app_binding_insert(store, uid, res->id)) < 0)
				return rc;
			res->new_item = true;
			res->version = 1;
			return 0;
		}
		if (rc < 0 || (rc = tsm_content_row_find(store, res->id, &row)) < 0)
			return rc;
	} else if (o->id) {
		if (tsm_content_id_normalize(o->id, res->id) < 0) {
			tsm_error("invalid content ID '%s': a site code of three letters or digits"
				  " and five hex digits, e.g. PS100012", o->id);
			return -EINVAL;
		}
		if ((rc = tsm_content_row_find(store, res->id, &row)) < 0)
			return rc;
		if (!row.exists || row.removed) {
			bool ts = false;

			/* One namespace, as Configuration Manager's package IDs are. */
			if ((rc = tsm_ts_id_taken(store, res->id, &ts)) < 0)
				return rc;
			if (ts) {
				tsm_error("ID %s is task sequence %s's: content and task sequences share"
					  " one set of IDs", res->id, res->id);
				return -EEXIST;
			}
		}
		if (row.exists && !row.removed && strcmp(row.kind, kind) != 0) {
			tsm_error("content %s is a %s, not a %s: a new version keeps the kind",
				  res->id, row.kind, kind);
			return -EINVAL;
		}
	} else if ((rc = tsm_content_id_allocate(store, res->id)) < 0) {
		return rc;
	}
	res->new_item = !row.exists || row.removed;
	res->version = row.max_version + 1;
	return tsm_content_row_upsert(store, res->id, kind, o->name, row.exists);
}


struct tsm_import {
	struct tsm_store *store;
	struct tsm_blob_writer *blobs;
	struct tsm_progress progress;
	struct tsm_version_rows *rows;
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
	if (o->id && strncasecmp(o->id, "Content_", 8) == 0) {
		char uid[TSM_APP_CONTENT_ID_LEN + 1];

		if (tsm_app_content_id_normalize(o->id, uid) < 0) {
			tsm_error("invalid content ID '%s': Content_ and a GUID", o->id);
			return -EINVAL;
		}
	} else if (o->id && tsm_content_id_normalize(o->id, id) < 0) {
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
	    (rc = tsm_version_rows_begin(store, imp->res.id, imp->res.version, o->version_label,
					 source, &imp->rows)) < 0 ||
	    (rc = tsm_blob_writer_new(store, &imp->blobs)) < 0) {
		tsm_import_abort(imp);
		return rc;
	}
	snprintf(imp->label, sizeof(imp->label), _("importing %s"), o->name);
	tsm_progress_start(&imp->progress, imp->label, total_bytes, o->progress);
	*imp_ret = imp;
	return 0;
}

static int entry_insert(struct tsm_import *imp, const char *path, uint32_t mode,
			int64_t mtime_ns, uint32_t attributes, uint64_t size, int64_t blob,
			const char *target)
{
	if (!*path || !tsm_utf8_valid(path)) {
		tsm_error("invalid path '%s' in the source", path);
		return -EINVAL;
	}
	return tsm_version_rows_add_entry(imp->rows, path, mode, mtime_ns, attributes, size, blob,
					  target);
}

static int dir_recorded(struct tsm_import *imp, const char *path, uint32_t mode,
			int64_t mtime_ns, uint32_t attributes)
{
	int rc = entry_insert(imp, path, S_IFDIR | (mode & 07777), mtime_ns,
			      attributes | FILE_ATTRIBUTE_DIRECTORY, 0, 0, NULL);

	if (rc == 0)
		imp->dirs++;
	return rc;
}

static int symlink_recorded(struct tsm_import *imp, const char *path, const char *target,
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

/* An entry whose row waits for the small files queued before it (and,
 * for a file, for its own blob): rows go in the order entries came. */
struct deferred {
	struct tsm_import *imp;
	enum { DEFERRED_FILE, DEFERRED_DIR, DEFERRED_SYMLINK } kind;
	char *path, *target;
	uint32_t mode, attributes;
	int64_t mtime_ns;
};

static void deferred_free(struct deferred *d)
{
	free(d->path);
	free(d->target);
	free(d);
}

static struct deferred *deferred_new(struct tsm_import *imp, int kind, const char *path,
				     const char *target, uint32_t mode, int64_t mtime_ns,
				     uint32_t attributes)
{
	struct deferred *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	*d = (struct deferred){ imp, kind, strdup(path), target ? strdup(target) : NULL, mode,
				attributes, mtime_ns };
	if (!d->path || (target && !d->target)) {
		deferred_free(d);
		return NULL;
	}
	return d;
}

static int deferred_done(void *ctx, int status, int64_t blob, uint64_t size)
{
	struct deferred *d = ctx;
	int rc = status;

	if (status == 0) {
		switch (d->kind) {
		case DEFERRED_FILE:
			rc = file_recorded(d->imp, d->path, d->mode, d->mtime_ns, d->attributes, blob,
					   size);
			break;
		case DEFERRED_DIR:
			rc = dir_recorded(d->imp, d->path, d->mode, d->mtime_ns, d->attributes);
			break;
		case DEFERRED_SYMLINK:
			rc = symlink_recorded(d->imp, d->path, d->target, d->mtime_ns);
			break;
		}
	}
	deferred_free(d);
	return rc;
}

/* Queues an entry without bytes behind the small files waiting; 1 when
 * none wait (record it now). */
static int defer_entry(struct tsm_import *imp, int kind, const char *path, const char *target,
		       uint32_t mode, int64_t mtime_ns, uint32_t attributes)
{
	struct deferred *d;
	int rc;

	if (!tsm_blob_writer_pending(imp->blobs))
		return 1;
	if (!(d = deferred_new(imp, kind, path, target, mode, mtime_ns, attributes)))
		return -ENOMEM;
	if ((rc = tsm_blob_writer_queue_entry(imp->blobs, deferred_done, d)) < 0)
		deferred_free(d);
	return rc;
}

/* Everything queued is stored and recorded: before rows that do not go
 * through the queue. */
static int import_flush(struct tsm_import *imp)
{
	return tsm_blob_writer_flush(imp->blobs);
}

int tsm_import_flush(struct tsm_import *imp) { return import_flush(imp); }

int tsm_import_add_dir(struct tsm_import *imp, const char *path, uint32_t mode,
		       int64_t mtime_ns, uint32_t attributes)
{
	int rc = defer_entry(imp, DEFERRED_DIR, path, NULL, mode, mtime_ns, attributes);

	return rc <= 0 ? rc : dir_recorded(imp, path, mode, mtime_ns, attributes);
}

int tsm_import_add_symlink(struct tsm_import *imp, const char *path, const char *target,
			   int64_t mtime_ns)
{
	int rc = defer_entry(imp, DEFERRED_SYMLINK, path, target, 0, mtime_ns, 0);

	return rc <= 0 ? rc : symlink_recorded(imp, path, target, mtime_ns);
}

/* Stores the file now (after what is queued before it) and records it. */
static int add_file_now(struct tsm_import *imp, const char *path, uint32_t mode,
			int64_t mtime_ns, uint32_t attributes, int fd, const char *what,
			int64_t *blob_id_ret)
{
	uint64_t size;
	int rc = tsm_blob_writer_import_fd(imp->blobs, fd, what, &imp->progress, blob_id_ret,
					   &size);

	if (rc < 0)
		return rc;
	return file_recorded(imp, path, mode, mtime_ns, attributes, *blob_id_ret, size);
}

int tsm_import_add_file_fd(struct tsm_import *imp, const char *path, uint32_t mode,
			   int64_t mtime_ns, uint32_t attributes, int fd, const char *what)
{
	int64_t blob;
	int rc;

	/* With workers, a small file joins the queue: many are hashed and
	 * compressed at once (blob_writer.c). */
	if (tsm_blob_writer_parallel(imp->blobs)) {
		struct deferred *d = deferred_new(imp, DEFERRED_FILE, path, NULL, mode, mtime_ns,
						  attributes);

		if (!d)
			return -ENOMEM;
		rc = tsm_blob_writer_queue_file(imp->blobs, fd, what, &imp->progress,
						deferred_done, d);
		if (rc <= 0) {
			if (rc < 0)
				deferred_free(d);
			return rc;
		}
		deferred_free(d); /* not small: imported alone, below */
	}
	return add_file_now(imp, path, mode, mtime_ns, attributes, fd, what, &blob);
}

/* The caller needs the blob's ID at once (a boot.wim, whose boot files are
 * recorded next as resources of it): never queued. */
int tsm_import_add_file_fd_blob(struct tsm_import *imp, const char *path, uint32_t mode,
				int64_t mtime_ns, uint32_t attributes, int fd, const char *what,
				int64_t *blob_id_ret)
{
	return add_file_now(imp, path, mode, mtime_ns, attributes, fd, what, blob_id_ret);
}

int tsm_import_add_wim_resource(struct tsm_import *imp, int64_t wim_blob,
				const struct tsm_wim_res_desc *d, const uint8_t *sha256,
				const uint8_t *sha1, const char *what, int64_t *blob_id_ret)
{
	return tsm_store_put_wim_resource(imp->store, wim_blob, d, sha256, sha1, what,
					  blob_id_ret);
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
	int rc = import_flush(imp);

	if (rc < 0)
		return rc;
	return tsm_version_rows_add_boot(imp->rows, e);
}

int tsm_import_set_meta(struct tsm_import *imp, const char *key, const void *value, size_t len)
{
	int rc = import_flush(imp);

	if (rc < 0)
		return rc;
	return tsm_version_rows_set_meta(imp->rows, key, value, len);
}

/* ---- images whose data arrive apart from their tree (WIM) ------------- */

/* Stored blob @blob has SHA-1 @sha1 (else -EBADMSG, naming @what). */
static int blob_sha1_check(struct tsm_import *imp, int64_t blob, const uint8_t *sha1,
			   const char *what)
{
	uint8_t got[TSM_SHA1_LEN];
	int rc;

	if ((rc = tsm_blob_sha1(imp->store, blob, got)) < 0) {
		tsm_error("%s: blob %lld is not in the catalog", what, (long long)blob);
		return rc;
	}
	if (memcmp(got, sha1, TSM_SHA1_LEN) != 0) {
		char want_hex[2 * TSM_SHA1_LEN + 1], got_hex[2 * TSM_SHA1_LEN + 1];

		tsm_hex_encode(sha1, TSM_SHA1_LEN, want_hex);
		tsm_hex_encode(got, TSM_SHA1_LEN, got_hex);
		tsm_error("%s: SHA-1 mismatch: the image says %s, the data hash to %s", what,
			  want_hex, got_hex);
		return -EBADMSG;
	}
	return 0;
}

int tsm_import_add_blob(struct tsm_import *imp, tsm_import_read_fn read, void *ctx,
			const char *what, const uint8_t *sha1, int64_t *blob_id_ret,
			uint64_t *size_ret)
{
	int rc = tsm_blob_writer_import_stream(imp->blobs, read, ctx, what, &imp->progress,
					       blob_id_ret, size_ret);

	if (rc < 0 || !sha1)
		return rc;
	return blob_sha1_check(imp, *blob_id_ret, sha1, what);
}

ssize_t tsm_import_mem_read(void *ctx, void *buf, size_t len)
{
	struct tsm_import_mem *m = ctx;

	if (len > m->left)
		len = m->left;
	memcpy(buf, m->p, len);
	m->p += len;
	m->left -= len;
	return (ssize_t)len;
}

int tsm_import_add_bytes(struct tsm_import *imp, const void *data, size_t len, const char *what,
			 const uint8_t *sha1, int64_t *blob_id_ret)
{
	struct tsm_import_mem m = { data, len };
	uint64_t size;

	return tsm_import_add_blob(imp, tsm_import_mem_read, &m, what, sha1, blob_id_ret, &size);
}

/* A queued blob, until it is stored. */
struct queued_blob {
	struct tsm_import *imp;
	uint8_t sha1[TSM_SHA1_LEN];
	char *what;
	int64_t *blob_id_ret;
};

static int queued_blob_done(void *ctx, int status, int64_t blob, uint64_t size)
{
	struct queued_blob *q = ctx;
	int rc = status;

	(void)size;
	if (rc == 0)
		rc = blob_sha1_check(q->imp, blob, q->sha1, q->what);
	if (rc == 0)
		*q->blob_id_ret = blob;
	free(q->what);
	free(q);
	return rc;
}

int tsm_import_queue_blob(struct tsm_import *imp, const void *data, size_t len,
			  const char *what, const uint8_t *sha1, int64_t *blob_id_ret)
{
	struct queued_blob *q;
	int rc;

	if (tsm_blob_writer_parallel(imp->blobs)) {
		if (!(q = calloc(1, sizeof(*q))) || !(q->what = strdup(what))) {
			free(q);
			return -ENOMEM;
		}
		q->imp = imp;
		memcpy(q->sha1, sha1, TSM_SHA1_LEN);
		q->blob_id_ret = blob_id_ret;
		rc = tsm_blob_writer_queue_bytes(imp->blobs, data, len, what, &imp->progress,
						 queued_blob_done, q);
		if (rc <= 0) {
			if (rc < 0) {
				free(q->what);
				free(q);
			}
			return rc;
		}
		free(q->what); /* not small: stored alone, below */
		free(q);
	}
	return tsm_import_add_bytes(imp, data, len, what, sha1, blob_id_ret);
}

int tsm_import_add_file_blob(struct tsm_import *imp, const char *path, uint32_t mode,
			     int64_t mtime_ns, uint32_t attributes, int64_t blob_id, uint64_t size)
{
	int rc = import_flush(imp);

	if (rc < 0)
		return rc;
	return file_recorded(imp, path, mode, mtime_ns, attributes, size ? blob_id : 0, size);
}

int tsm_import_add_win_meta(struct tsm_import *imp, const struct tsm_win_meta *m)
{
	int rc = import_flush(imp);

	if (rc < 0)
		return rc;
	if (!tsm_utf8_valid(m->path) || (m->short_name && !tsm_utf8_valid(m->short_name))) {
		tsm_error("invalid path '%s' in the source", m->path);
		return -EINVAL;
	}
	if (m->security && m->security_len > INT32_MAX / 2) {
		tsm_error("'%s': a security descriptor of %zu bytes", m->path, m->security_len);
		return -EFBIG;
	}
	for (size_t i = 0; i < m->nstreams; i++) {
		if (!tsm_utf8_valid(m->streams[i].name)) {
			tsm_error("'%s': a data stream name that is not UTF-8", m->path);
			return -EINVAL;
		}
	}
	return tsm_version_rows_add_win_meta(imp->rows, m);
}

static void import_free(struct tsm_import *imp)
{
	tsm_version_rows_free(imp->rows);
	tsm_progress_finish(&imp->progress);
	tsm_blob_writer_free(imp->blobs);
	free(imp);
}

int tsm_import_finish(struct tsm_import *imp, struct tsm_content_add_result *res)
{
	int rc = import_flush(imp);

	if (rc == 0)
		rc = tsm_version_rows_finish(imp->rows, imp->files, imp->bytes);

	/* A new version of content a media uses is a new snapshot of it. */
	if (rc == 0)
		rc = tsm_media_snapshots_record(imp->store);
	imp->res.files = imp->files;
	imp->res.dirs = imp->dirs;
	imp->res.bytes = imp->bytes;
	*res = imp->res;
	tsm_version_rows_free(imp->rows);
	imp->rows = NULL;
	/* No worker writes to a pack any more (blob_writer.c): the packs can
	 * be synced, or cut back. */
	tsm_blob_writer_free(imp->blobs);
	imp->blobs = NULL;
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
	tsm_version_rows_free(imp->rows);
	imp->rows = NULL;
	tsm_blob_writer_free(imp->blobs); /* its workers stop writing first */
	imp->blobs = NULL;
	tsm_store_write_abort(imp->store);
	import_free(imp);
}
