/* Opening, creating and locking a store; write and read sessions. */
#include "store/store_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/meta.h"
#include "store/remote.h"
#include "store/s3.h"
#include "tsmedia/log.h"
#include "util/db.h"

char *tsm_store_default_dir(void)
{
	const char *env = getenv("TSMEDIA_STORE");
	const char *xdg, *home;
	char *path = NULL;

	if (env && *env)
		return strdup(env);
	if (geteuid() == 0)
		return strdup("/var/lib/tsmedia");
	xdg = getenv("XDG_DATA_HOME");
	if (xdg && *xdg) {
		if (asprintf(&path, "%s/tsmedia", xdg) < 0)
			return NULL;
		return path;
	}
	home = getenv("HOME");
	if (!home || !*home) {
		tsm_error("no store given: set --store, $TSMEDIA_STORE or $HOME");
		return NULL;
	}
	if (asprintf(&path, "%s/.local/share/tsmedia", home) < 0)
		return NULL;
	return path;
}

static bool site_code_valid(const char *code)
{
	if (strlen(code) != 3)
		return false;
	for (int i = 0; i < 3; i++)
		if (!((code[i] >= 'A' && code[i] <= 'Z') || (code[i] >= '0' && code[i] <= '9')))
			return false;
	return true;
}

static int make_private_dir(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		int err = errno;

		tsm_error("cannot create %s: %s", path, strerror(err));
		return -err;
	}
	if (chmod(path, 0700) < 0) {
		int err = errno;

		tsm_error("cannot set the mode of %s: %s", path, strerror(err));
		return -err;
	}
	return 0;
}

static int touch_private_file(int dir_fd, const char *dir, const char *name)
{
	int fd = openat(dir_fd, name, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0) {
		int err = errno;

		tsm_error("cannot create %s/%s: %s", dir, name, strerror(err));
		return -err;
	}
	close(fd);
	return 0;
}

static bool dir_is_empty(const char *path)
{
	char cmd_path[4096];
	struct stat st;

	/* Empty enough: no catalog, no packs.  A fresh mount point with
	 * lost+found is fine; somebody's home directory is not. */
	snprintf(cmd_path, sizeof(cmd_path), "%s/catalog.db", path);
	if (stat(cmd_path, &st) == 0)
		return false;
	snprintf(cmd_path, sizeof(cmd_path), "%s/packs", path);
	return stat(cmd_path, &st) != 0;
}

static int remote_init_check(const struct tsm_store_init_options *opts)
{
	struct tsm_s3_config cfg = { .url = opts->remote_url, .endpoint = opts->remote_endpoint,
				     .region = opts->remote_region };
	struct tsm_s3 *s3;
	int rc;

	if (!opts->remote_endpoint) {
		tsm_error("a store on object storage needs --endpoint URL");
		return -EINVAL;
	}
	if ((rc = tsm_s3_new(&cfg, &s3)) < 0)
		return rc;
	if ((rc = tsm_s3_bucket_ensure(s3)) == 0) {
		rc = tsm_s3_head(s3, "catalog/CURRENT", NULL, NULL);
		if (rc == 0) {
			tsm_error("%s already holds a store (catalog/CURRENT)", tsm_s3_location(s3));
			rc = -EEXIST;
		} else if (rc == -ENOENT) {
			rc = 0;
		}
	}
	tsm_s3_free(s3);
	return rc;
}

/* Records the location in the new catalog and publishes it (generation 1). */
static int remote_init_finish(const char *dir, const struct tsm_store_init_options *opts,
			      const struct tsm_store_db_ops *db_ops)
{
	struct tsm_store *store;
	int rc = tsm_store_open_db(dir, db_ops, &store);

	if (rc < 0)
		return rc;
	if ((rc = tsm_meta_set(store->db, "remote_url", opts->remote_url)) < 0 ||
	    (rc = tsm_meta_set(store->db, "remote_endpoint", opts->remote_endpoint)) < 0 ||
	    (opts->remote_region &&
	     (rc = tsm_meta_set(store->db, "remote_region", opts->remote_region)) < 0) ||
	    (rc = tsm_remote_attach(store)) < 0)
		goto out_close;
	rc = tsm_remote_publish(store);
out_close:
	tsm_store_close(store);
	return rc;
}

int tsm_store_init_db(const char *dir, const struct tsm_store_init_options *opts,
		      const struct tsm_store_db_ops *db_ops)
{
	const char *site = opts && opts->site_code ? opts->site_code : "TSM";
	enum tsm_compression comp = opts ? opts->compression : TSM_COMPRESSION_ZSTD;
	char path[4096];
	int dir_fd, rc;

	if (!site_code_valid(site)) {
		tsm_error("invalid site code '%s': three characters, A-Z or 0-9", site);
		return -EINVAL;
	}
	if (!dir_is_empty(dir)) {
		tsm_error("%s already holds a store", dir);
		return -EEXIST;
	}
	/* Object storage is checked before anything is made here. */
	if (opts && opts->remote_url && (rc = remote_init_check(opts)) < 0)
		return rc;
	if ((rc = make_private_dir(dir)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/packs", dir);
	if ((rc = make_private_dir(path)) < 0)
		return rc;
	snprintf(path, sizeof(path), "%s/pins", dir);
	if ((rc = make_private_dir(path)) < 0)
		return rc;
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0) {
		rc = -errno;
		tsm_error("cannot open %s: %s", dir, strerror(-rc));
		return rc;
	}
	if ((rc = touch_private_file(dir_fd, dir, "lock")) < 0 ||
	    (rc = touch_private_file(dir_fd, dir, "gc.lock")) < 0)
		goto out_close_dir;
	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	/* sqlite creates its files with the umask; make them private. */
	mode_t old_umask = umask(077);
	rc = db_ops->create(path, site, comp == TSM_COMPRESSION_ZSTD ? "zstd" : "none");
	umask(old_umask);
	if (rc < 0)
		goto out_close_dir;
	chmod(path, 0600);
	fsync(dir_fd);
	if (opts && opts->remote_url && (rc = remote_init_finish(dir, opts, db_ops)) < 0) {
		/* Leave nothing half made. */
		const char *files[] = { "catalog.db", "catalog.db-wal", "catalog.db-shm", "lock",
					"gc.lock" };

		for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
			unlinkat(dir_fd, files[i], 0);
		unlinkat(dir_fd, "packs", AT_REMOVEDIR);
		unlinkat(dir_fd, "pins", AT_REMOVEDIR);
	}
out_close_dir:
	close(dir_fd);
	return rc;
}

static int open_lock_file(struct tsm_store *store, const char *name, int *fd_ret)
{
	int fd = openat(store->dir_fd, name, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		int err = errno;

		tsm_error("%s is not a tsmedia store (%s: %s)", store->dir, name, strerror(err));
		return -err;
	}
	*fd_ret = fd;
	return 0;
}

int tsm_store_open_db(const char *dir, const struct tsm_store_db_ops *db_ops,
		      struct tsm_store **store_ret)
{
	struct tsm_store *store;
	char path[4096], value[32];
	struct stat st;
	int rc;

	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	if (stat(dir, &st) < 0) {
		rc = -errno;
		tsm_error("no store at %s: %s (create one with 'tsmedia init')", dir, strerror(-rc));
		return rc;
	}
	if (stat(path, &st) < 0) {
		tsm_error("%s is not a tsmedia store: no catalog.db (create one with 'tsmedia init')",
			  dir);
		return -ENOENT;
	}
	store = calloc(1, sizeof(*store));
	if (!store)
		return -ENOMEM;
	store->dir_fd = store->lock_fd = store->gc_lock_fd = -1;
	store->writer.current = -1;
	tsm_pack_cache_init(&store->packs);
	store->dir = strdup(dir);
	if (!store->dir) {
		rc = -ENOMEM;
		goto out_free;
	}
	store->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (store->dir_fd < 0) {
		rc = -errno;
		tsm_error("cannot open %s: %s", dir, strerror(-rc));
		goto out_free;
	}
	if ((rc = open_lock_file(store, "lock", &store->lock_fd)) < 0 ||
	    (rc = open_lock_file(store, "gc.lock", &store->gc_lock_fd)) < 0)
		goto out_free;
	if ((rc = db_ops->open(path, &store->db)) < 0) {
		tsm_error("%s is not a usable tsmedia store", dir);
		goto out_free;
	}
	if ((rc = tsm_meta_get(store->db, "site_code", store->site_code,
			       sizeof(store->site_code))) < 0 ||
	    (rc = tsm_meta_get(store->db, "compression", value, sizeof(value))) < 0) {
		tsm_error("%s: catalog has no site code or compression setting", path);
		goto out_free;
	}
	store->compression = strcmp(value, "zstd") == 0 ? TSM_COMPRESSION_ZSTD
							: TSM_COMPRESSION_NONE;
	tsm_chunker_init(&store->chunker, TSM_CHUNK_MIN, TSM_CHUNK_AVG, TSM_CHUNK_MAX);
	store->verified = tsm_verified_map_get(store->dir_fd);
	if ((rc = tsm_remote_attach(store)) < 0)
		goto out_free;
	*store_ret = store;
	return 0;

out_free:
	tsm_store_close(store);
	return rc;
}

void tsm_store_close(struct tsm_store *store)
{
	if (!store)
		return;
	if (store->writing)
		tsm_store_write_abort(store);
	tsm_remote_detach(store);
	tsm_ahead_put(store->ahead);
	tsm_pack_cache_close(&store->packs);
	tsm_verified_map_put(store->verified);
	for (int i = 0; i < TSM_STMT_COUNT; i++)
		sqlite3_finalize(store->stmts[i]);
	free(store->writer.touched);
	if (store->db)
		sqlite3_close(store->db);
	if (store->gc_lock_fd >= 0)
		close(store->gc_lock_fd);
	if (store->lock_fd >= 0)
		close(store->lock_fd);
	if (store->dir_fd >= 0)
		close(store->dir_fd);
	free(store->dir);
	free(store);
}

static const char *const stmt_sql[TSM_STMT_COUNT] = {
	[TSM_STMT_CHUNK_FIND] = "SELECT id FROM chunks WHERE hash = ?",
	[TSM_STMT_CHUNK_INSERT] = "INSERT INTO chunks(hash, pack, offset, stored_size, size, codec)"
				  " VALUES(?, ?, ?, ?, ?, ?)",
	[TSM_STMT_CHUNK_GET] = "SELECT " TSM_CHUNK_LOC_COLUMNS " FROM chunks c WHERE c.id = ?",
	[TSM_STMT_BLOB_FIND] = "SELECT id, size FROM blobs WHERE sha256 = ?",
	[TSM_STMT_BLOB_INSERT] = "INSERT INTO blobs(sha256, sha1, size) VALUES(?, ?, ?)",
	[TSM_STMT_BLOB_CHUNK_INSERT] = "INSERT INTO blob_chunks(blob, seq, chunk) VALUES(?, ?, ?)",
};

sqlite3_stmt *tsm_store_stmt(struct tsm_store *store, enum tsm_stmt which)
{
	sqlite3_stmt *stmt = store->stmts[which];

	if (!stmt) {
		if (tsm_db_prepare(store->db, stmt_sql[which], &stmt) < 0)
			return NULL;
		store->stmts[which] = stmt;
	}
	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return stmt;
}

const char *tsm_store_dir(const struct tsm_store *store) { return store->dir; }
int tsm_store_data_version(struct tsm_store *store, int64_t *version_ret)
{
	return tsm_db_int64(store->db, "PRAGMA data_version", version_ret);
}

const char *tsm_store_site_code(const struct tsm_store *store) { return store->site_code; }
bool tsm_store_is_remote(const struct tsm_store *store) { return tsm_remote_is_writer(store); }

static int flock_waiting(int fd, int op, const char *what, const char *dir)
{
	if (flock(fd, op | LOCK_NB) == 0)
		return 0;
	if (errno != EWOULDBLOCK) {
		int err = errno;

		tsm_error("%s/%s: cannot lock: %s", dir, what, strerror(err));
		return -err;
	}
	tsm_info("waiting for another tsmedia process using %s ...", dir);
	while (flock(fd, op) < 0) {
		if (errno != EINTR) {
			int err = errno;

			tsm_error("%s/%s: cannot lock: %s", dir, what, strerror(err));
			return -err;
		}
	}
	return 0;
}

int tsm_store_writers_lock(struct tsm_store *store)
{
	return flock_waiting(store->lock_fd, LOCK_EX, "lock", store->dir);
}

void tsm_store_writers_unlock(struct tsm_store *store)
{
	if (!store->writing)
		flock(store->lock_fd, LOCK_UN);
}

int tsm_store_write_begin(struct tsm_store *store)
{
	int rc = flock_waiting(store->lock_fd, LOCK_EX, "lock", store->dir);

	if (rc < 0)
		return rc;
	rc = tsm_db_exec(store->db, "BEGIN IMMEDIATE");
	if (rc < 0) {
		flock(store->lock_fd, LOCK_UN);
		return rc;
	}
	tsm_pack_writer_reset(store);
	/* Pack objects are never rewritten: every session seals its own. */
	if (tsm_remote_is_writer(store))
		store->writer.fresh_only = true;
	store->changes_at_begin = sqlite3_total_changes64(store->db);
	store->writing = true;
	return 0;
}

int tsm_store_write_commit(struct tsm_store *store)
{
	int rc = tsm_pack_writer_sync(store);

	/* On object storage, durable means stored there and checked: the
	 * same rule as the fsync, before anything references the packs. */
	if (rc == 0)
		rc = tsm_remote_upload_session(store);
	if (rc < 0) {
		tsm_store_write_abort(store);
		return rc;
	}
	bool changed = sqlite3_total_changes64(store->db) != store->changes_at_begin;

	rc = tsm_db_exec(store->db, "COMMIT");
	if (rc < 0) {
		tsm_store_write_abort(store);
		return rc;
	}
	tsm_pack_writer_reset(store);
	/* Frontends see the change once it is published; a failure here loses
	 * nothing (the next command that commits publishes everything). */
	if (changed && tsm_remote_is_writer(store) && tsm_remote_publish(store) < 0)
		tsm_warn("%s: the change is committed but not yet published to object storage; "
			 "the next change publishes it",
			 store->dir);
	store->writing = false;
	flock(store->lock_fd, LOCK_UN);
	return 0;
}

void tsm_store_write_abort(struct tsm_store *store)
{
	if (!store->writing)
		return;
	if (!sqlite3_get_autocommit(store->db))
		sqlite3_exec(store->db, "ROLLBACK", NULL, NULL, NULL);
	tsm_pack_writer_rollback(store);
	store->writing = false;
	flock(store->lock_fd, LOCK_UN);
}

int tsm_store_read_begin(struct tsm_store *store)
{
	int rc;

	if (store->read_depth++ > 0)
		return 0; /* nested: the outer session's snapshot and lock hold */
	rc = flock_waiting(store->gc_lock_fd, LOCK_SH, "gc.lock", store->dir);
	if (rc < 0) {
		store->read_depth = 0;
		return rc;
	}
	/* Inside a write session the session's transaction is the snapshot. */
	store->read_owns_txn = sqlite3_get_autocommit(store->db);
	if (store->read_owns_txn && (rc = tsm_db_exec(store->db, "BEGIN")) < 0) {
		flock(store->gc_lock_fd, LOCK_UN);
		store->read_depth = 0;
		return rc;
	}
	return 0;
}

void tsm_store_read_end(struct tsm_store *store)
{
	if (store->read_depth <= 0 || --store->read_depth > 0)
		return;
	if (store->read_owns_txn)
		sqlite3_exec(store->db, "COMMIT", NULL, NULL, NULL);
	store->read_owns_txn = false;
	flock(store->gc_lock_fd, LOCK_UN);
}
