/* gc: drop what nothing references, then compact packs.
 *
 * Phase 1, under gc.lock held exclusively (so no reader is between its
 * catalog lookup and its pin): versions that are removed or superseded and
 * not pinned go, then the blobs and chunks only they used.
 * Phase 2: packs with enough dead bytes are rewritten; chunks keep their
 * ids and only change location, so a reader that finds its pack gone looks
 * the chunk up again.  Old pack files are unlinked after the catalog
 * commit; a reader holding one open still reads right bytes from it. */
#include "store/store_internal.h"
#include "store/remote.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsmedia/log.h"
#include "tsmedia/progress.h"
#include "util/db.h"
#include "util/fdio.h"

static int count_changes(struct tsm_store *store, const char *sql, uint64_t *count)
{
	int rc = tsm_db_exec(store->db, sql);

	if (rc == 0 && count)
		*count += (uint64_t)sqlite3_changes(store->db);
	return rc;
}

static int gc_insert_ids(struct tsm_store *store, const char *table, const int64_t *ids,
			 size_t n)
{
	sqlite3_stmt *stmt;
	char sql[96];
	int rc;

	snprintf(sql, sizeof(sql), "INSERT OR IGNORE INTO %s VALUES(?)", table);
	if ((rc = tsm_db_prepare(store->db, sql, &stmt)) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		sqlite3_bind_int64(stmt, 1, ids[i]);
		if (sqlite3_step(stmt) != SQLITE_DONE)
			rc = tsm_db_error(store->db, "recording pins");
		sqlite3_reset(stmt);
	}
	sqlite3_finalize(stmt);
	return rc;
}

static int gc_load_pins(struct tsm_store *store, int64_t grace)
{
	struct tsm_pinned pinned;
	int rc;

	if ((rc = tsm_pins_collect(store, &pinned)) < 0)
		return rc;
	/* On object storage, what the frontends' leases name is pinned too. */
	if ((rc = tsm_remote_leases_collect(store, grace, &pinned)) < 0) {
		tsm_pinned_clear(&pinned);
		return rc;
	}
	rc = tsm_db_exec(store->db,
		"CREATE TEMP TABLE IF NOT EXISTS gc_pinned(version INTEGER PRIMARY KEY);"
		"CREATE TEMP TABLE IF NOT EXISTS gc_pinned_media(version INTEGER PRIMARY KEY);"
		"DELETE FROM gc_pinned; DELETE FROM gc_pinned_media;");
	if (rc == 0)
		rc = gc_insert_ids(store, "gc_pinned", pinned.content_versions, pinned.ncontent);
	if (rc == 0)
		rc = gc_insert_ids(store, "gc_pinned_media", pinned.media_versions, pinned.nmedia);
	tsm_pinned_clear(&pinned);
	return rc;
}

/* Numbered snapshots (versions/NAME/N): a live media's newest @keep stay,
 * and the versions they name stay with them (as if pinned); the others and
 * every snapshot of a removed media go.  A mount that still lists one it
 * let go holds a pin on it until its next refresh, so its versions go at a
 * later gc.  The media's number counter (media_snapshot_numbers) stays, so
 * no number is ever given twice. */
static int gc_drop_snapshots(struct tsm_store *store, unsigned keep,
			     struct tsm_gc_result *res)
{
	char sql[1024];
	int rc;

	if (keep < 1)
		keep = 1;
	snprintf(sql, sizeof(sql),
		"CREATE TEMP TABLE IF NOT EXISTS gc_dead_snapshots(id INTEGER PRIMARY KEY);"
		"DELETE FROM gc_dead_snapshots;"
		"INSERT INTO gc_dead_snapshots SELECT s.id FROM media_snapshots s"
		" WHERE s.media NOT IN (SELECT name FROM media WHERE removed = 0)"
		" OR s.number <= (SELECT max(t.number) FROM media_snapshots t"
		"     WHERE t.media = s.media) - %u;"
		"DELETE FROM media_snapshot_content WHERE snapshot IN"
		" (SELECT id FROM gc_dead_snapshots);", keep);
	if ((rc = tsm_db_exec(store->db, sql)) < 0 ||
	    (rc = count_changes(store, "DELETE FROM media_snapshots WHERE id IN"
				       " (SELECT id FROM gc_dead_snapshots)", &res->snapshots_removed)) < 0)
		return rc;
	return tsm_db_exec(store->db,
		"INSERT OR IGNORE INTO gc_pinned_media SELECT media_version FROM media_snapshots;"
		"INSERT OR IGNORE INTO gc_pinned SELECT content_version FROM media_snapshot_content;");
}

/* Media versions go like content versions: removed or superseded, and
 * no reader holds them. */
static int gc_drop_media_versions(struct tsm_store *store, struct tsm_gc_result *res)
{
	int rc = tsm_db_exec(store->db,
		"CREATE TEMP TABLE IF NOT EXISTS gc_dead_media(version INTEGER PRIMARY KEY);"
		"DELETE FROM gc_dead_media;"
		"INSERT INTO gc_dead_media SELECT v.id FROM media_versions v"
		" WHERE v.id NOT IN (SELECT version FROM gc_pinned_media)"
		" AND (v.removed = 1 OR v.version < (SELECT max(w.version) FROM media_versions w"
		"      WHERE w.media = v.media AND w.removed = 0));"
		"DELETE FROM media_options WHERE version IN (SELECT version FROM gc_dead_media);"
		"DELETE FROM media_content WHERE version IN (SELECT version FROM gc_dead_media);"
		"DELETE FROM media_files WHERE version IN (SELECT version FROM gc_dead_media);");

	if (rc == 0)
		rc = count_changes(store, "DELETE FROM media_versions WHERE id IN"
					  " (SELECT version FROM gc_dead_media)", &res->media_versions_removed);
	if (rc == 0)
		rc = tsm_db_exec(store->db, "DELETE FROM media WHERE removed = 1 AND name NOT IN"
					    " (SELECT media FROM media_versions)");
	return rc;
}

static int gc_drop_unreferenced(struct tsm_store *store, unsigned keep, int64_t grace,
				struct tsm_gc_result *res)
{
	int rc;

	if ((rc = gc_load_pins(store, grace)) < 0 || (rc = gc_drop_snapshots(store, keep, res)) < 0 ||
	    (rc = gc_drop_media_versions(store, res)) < 0)
		return rc;
	/* A version lives while it is its item's newest, unremoved one, or pinned. */
	rc = tsm_db_exec(store->db,
		"CREATE TEMP TABLE IF NOT EXISTS gc_dead(version INTEGER PRIMARY KEY);"
		"DELETE FROM gc_dead;"
		"INSERT INTO gc_dead SELECT v.id FROM content_versions v"
		" WHERE v.id NOT IN (SELECT version FROM gc_pinned)"
		" AND (v.removed = 1 OR v.version < (SELECT max(w.version) FROM content_versions w"
		"      WHERE w.content = v.content AND w.removed = 0));");
	if (rc < 0)
		return rc;
	if ((rc = tsm_db_exec(store->db, "DELETE FROM tree_entries WHERE version IN"
					 " (SELECT version FROM gc_dead);"
					 "DELETE FROM content_boot WHERE version IN"
					 " (SELECT version FROM gc_dead);"
					 "DELETE FROM content_meta WHERE version IN"
					 " (SELECT version FROM gc_dead);"
					 "DELETE FROM win_meta WHERE version IN"
					 " (SELECT version FROM gc_dead);"
					 "DELETE FROM win_streams WHERE version IN"
					 " (SELECT version FROM gc_dead);"
					 "DELETE FROM win_security WHERE id NOT IN"
					 " (SELECT security FROM win_meta WHERE security IS NOT NULL)")) < 0 ||
	    (rc = count_changes(store, "DELETE FROM content_versions WHERE id IN"
				       " (SELECT version FROM gc_dead)", &res->versions_removed)) < 0 ||
	    (rc = tsm_db_exec(store->db, "DELETE FROM content WHERE removed = 1 AND id NOT IN"
					 " (SELECT content FROM content_versions)")) < 0)
		return rc;
	rc = tsm_db_exec(store->db,
		"CREATE TEMP TABLE IF NOT EXISTS gc_blobs(id INTEGER PRIMARY KEY);"
		"DELETE FROM gc_blobs;"
		"INSERT INTO gc_blobs SELECT id FROM blobs WHERE id NOT IN"
		" (SELECT blob FROM tree_entries WHERE blob IS NOT NULL) AND id NOT IN"
		" (SELECT blob FROM content_boot WHERE blob IS NOT NULL) AND id NOT IN"
		" (SELECT blob FROM media_files) AND id NOT IN"
		" (SELECT blob FROM win_streams WHERE blob IS NOT NULL) AND id NOT IN"
		/* an imported ISO's system area (core/import/iso.c) */
		" (SELECT CAST(value AS INTEGER) FROM content_meta WHERE key = 'system_area.blob');"
		/* A WIM whose resources live blobs read stays (one level:
		 * a WIM blob is a blob of chunks). */
		"DELETE FROM gc_blobs WHERE id IN (SELECT wim FROM blob_wim_resources"
		" WHERE blob NOT IN (SELECT id FROM gc_blobs));"
		"DELETE FROM blob_wim_resources WHERE blob IN (SELECT id FROM gc_blobs);"
		"DELETE FROM blob_chunks WHERE blob IN (SELECT id FROM gc_blobs);");
	if (rc < 0)
		return rc;
	if ((rc = count_changes(store, "DELETE FROM blobs WHERE id IN (SELECT id FROM gc_blobs)",
				&res->blobs_removed)) < 0)
		return rc;
	return count_changes(store, "DELETE FROM chunks WHERE id NOT IN"
				    " (SELECT chunk FROM blob_chunks)", &res->chunks_removed);
}

static int gc_phase_drop(struct tsm_store *store, unsigned keep, int64_t grace,
			 struct tsm_gc_result *res)
{
	int rc;

	if ((rc = tsm_store_write_begin(store)) < 0)
		return rc;
	while (flock(store->gc_lock_fd, LOCK_EX) < 0) {
		if (errno != EINTR) {
			rc = -errno;
			tsm_error("%s/gc.lock: %s", store->dir, strerror(-rc));
			tsm_store_write_abort(store);
			return rc;
		}
	}
	rc = gc_drop_unreferenced(store, keep, grace, res);
	if (rc == 0)
		rc = tsm_store_write_commit(store);
	else
		tsm_store_write_abort(store);
	flock(store->gc_lock_fd, LOCK_UN);
	return rc;
}

struct pack_usage {
	int64_t id;
	uint64_t live;
	uint64_t live_end;  /* where the last live chunk ends */
	uint64_t file_size;
};

static int pack_file_size(struct tsm_store *store, int64_t id, uint64_t *size_ret)
{
	char name[32], rel[48];
	struct stat st;

	tsm_pack_name(id, name);
	snprintf(rel, sizeof(rel), "packs/%s", name);
	if (fstatat(store->dir_fd, rel, &st, 0) < 0)
		return -errno;
	*size_ret = (uint64_t)st.st_size;
	return 0;
}

static int gc_pack_usage(struct tsm_store *store, struct pack_usage **usage_ret, size_t *n_ret)
{
	struct pack_usage *u = NULL;
	size_t n = 0, cap = 0;
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(store->db,
				 "SELECT p.id, coalesce(sum(c.stored_size), 0),"
				 " coalesce(max(c.offset + c.stored_size), 0) FROM packs p"
				 " LEFT JOIN chunks c ON c.pack = p.id GROUP BY p.id ORDER BY p.id",
				 &stmt)) < 0)
		return rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (n == cap) {
			void *p = realloc(u, (cap = cap ? 2 * cap : 16) * sizeof(*u));

			if (!p) {
				sqlite3_finalize(stmt);
				free(u);
				return -ENOMEM;
			}
			u = p;
		}
		u[n].id = sqlite3_column_int64(stmt, 0);
		if (sqlite3_column_int64(stmt, 1) < 0 || sqlite3_column_int64(stmt, 2) < 0) {
			tsm_error("%s: pack %lld: negative chunk offsets or sizes in the catalog"
				  " (run 'tsmedia verify')", store->dir, (long long)u[n].id);
			sqlite3_finalize(stmt);
			free(u);
			return -EIO;
		}
		u[n].live = (uint64_t)sqlite3_column_int64(stmt, 1);
		u[n].live_end = (uint64_t)sqlite3_column_int64(stmt, 2);
		u[n].file_size = 0;
		pack_file_size(store, u[n].id, &u[n].file_size);
		n++;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		free(u);
		return tsm_db_error(store->db, "listing packs");
	}
	*usage_ret = u;
	*n_ret = n;
	return 0;
}

/* Copies the live chunks of pack @id into fresh packs. */
static int gc_rewrite_pack(struct tsm_store *store, int64_t id, uint8_t *buf,
			   struct tsm_progress *progress)
{
	sqlite3_stmt *sel, *upd;
	int fd = tsm_pack_cache_fd(store, id);
	int rc;

	if (fd < 0)
		return fd;
	if ((rc = tsm_db_prepare(store->db, "SELECT id, offset, stored_size FROM chunks"
					    " WHERE pack = ? ORDER BY offset", &sel)) < 0)
		return rc;
	if ((rc = tsm_db_prepare(store->db, "UPDATE chunks SET pack = ?, offset = ? WHERE id = ?",
				 &upd)) < 0) {
		sqlite3_finalize(sel);
		return rc;
	}
	sqlite3_bind_int64(sel, 1, id);
	while (rc == 0 && sqlite3_step(sel) == SQLITE_ROW) {
		int64_t chunk = sqlite3_column_int64(sel, 0), new_pack;
		int64_t off = sqlite3_column_int64(sel, 1), stored = sqlite3_column_int64(sel, 2);
		uint64_t new_off;
		size_t len = 0;

		/* Checked before narrowing: the catalog is a file too. */
		if (off >= 0 && stored >= 0 && stored <= TSM_CHUNK_MAX)
			len = (size_t)stored;
		if (off < 0 || stored < 0 || stored > TSM_CHUNK_MAX ||
		    tsm_pread_full(fd, buf, len, (uint64_t)off) < 0) {
			char name[32];

			tsm_pack_name(id, name);
			tsm_error("%s/packs/%s: cannot read chunk at offset %llu for compaction"
				  " (run 'tsmedia verify')", store->dir, name,
				  (unsigned long long)off);
			rc = -EIO;
			break;
		}
		if ((rc = tsm_pack_append(store, buf, len, &new_pack, &new_off)) < 0)
			break;
		sqlite3_bind_int64(upd, 1, new_pack);
		sqlite3_bind_int64(upd, 2, (int64_t)new_off);
		sqlite3_bind_int64(upd, 3, chunk);
		if (sqlite3_step(upd) != SQLITE_DONE)
			rc = tsm_db_error(store->db, "moving a chunk");
		sqlite3_reset(upd);
		tsm_progress_add(progress, len);
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	return rc;
}

static void gc_unlink_pack(struct tsm_store *store, int64_t id)
{
	char name[32], rel[48];

	tsm_pack_name(id, name);
	snprintf(rel, sizeof(rel), "packs/%s", name);
	tsm_pack_cache_forget(store, id);
	if (unlinkat(store->dir_fd, rel, 0) < 0 && errno != ENOENT)
		tsm_warn("%s/%s: cannot remove: %s", store->dir, rel, strerror(errno));
}

/* What an interrupted import left is at the end of its pack: cut it off
 * without rewriting anything.  The write lock keeps appends out. */
static void gc_cut_tail(struct tsm_store *store, const struct pack_usage *u,
			struct tsm_gc_result *res)
{
	char name[32], rel[48];

	if (!u->live || u->file_size <= u->live_end)
		return;
	tsm_pack_name(u->id, name);
	snprintf(rel, sizeof(rel), "packs/%s", name);
	int fd = openat(store->dir_fd, rel, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || ftruncate(fd, (off_t)u->live_end) < 0)
		tsm_warn("%s/%s: cannot cut unreferenced bytes off its end: %s", store->dir, rel,
			 strerror(errno));
	else
		res->tails_cut++;
	if (fd >= 0)
		close(fd);
}

static bool pack_needs_compaction(const struct pack_usage *u)
{
	uint64_t dead = u->file_size > u->live ? u->file_size - u->live : 0;

	/* A tenth dead: worth a rewrite; a pack with nothing live just goes. */
	return u->live == 0 || (dead && dead * 10 >= u->file_size);
}

static int gc_phase_compact(struct tsm_store *store, struct tsm_progress *progress,
			    struct tsm_gc_result *res)
{
	struct pack_usage *u = NULL;
	uint8_t *buf = NULL;
	sqlite3_stmt *del = NULL;
	size_t n = 0;
	int rc;

	if ((rc = tsm_store_write_begin(store)) < 0)
		return rc;
	store->writer.fresh_only = true;
	if ((rc = gc_pack_usage(store, &u, &n)) < 0)
		goto out_abort;
	if (progress) {
		progress->total = 0;
		for (size_t i = 0; i < n; i++)
			if (pack_needs_compaction(&u[i]))
				progress->total += u[i].live;
	}
	if (!(buf = malloc(TSM_CHUNK_MAX))) {
		rc = -ENOMEM;
		goto out_abort;
	}
	if ((rc = tsm_db_prepare(store->db, "DELETE FROM packs WHERE id = ?", &del)) < 0)
		goto out_abort;
	for (size_t i = 0; i < n; i++) {
		if (!pack_needs_compaction(&u[i]))
			continue;
		if (u[i].live && (rc = gc_rewrite_pack(store, u[i].id, buf, progress)) < 0)
			goto out_abort;
		sqlite3_bind_int64(del, 1, u[i].id);
		if (sqlite3_step(del) != SQLITE_DONE) {
			rc = tsm_db_error(store->db, "removing a pack");
			goto out_abort;
		}
		sqlite3_reset(del);
		if (u[i].live)
			res->packs_rewritten++;
	}
	sqlite3_finalize(del);
	del = NULL;
	/* Still under the write lock: no import is appending.  A pack on
	 * object storage is never changed (its object is what frontends
	 * read); its sessions seal fresh packs, so it has no such tails. */
	for (size_t i = 0; i < n && !tsm_remote_is_writer(store); i++)
		if (!pack_needs_compaction(&u[i]))
			gc_cut_tail(store, &u[i], res);
	if ((rc = tsm_store_write_commit(store)) < 0)
		goto out_free;
	for (size_t i = 0; i < n; i++) {
		if (pack_needs_compaction(&u[i])) {
			gc_unlink_pack(store, u[i].id);
			res->packs_removed++;
		}
	}
	goto out_free;

out_abort:
	sqlite3_finalize(del);
	tsm_store_write_abort(store);
out_free:
	free(buf);
	free(u);
	return rc;
}

/* Pack files no catalog row names: left by a crash between creating a pack
 * and committing, or by a crash after a compaction commit. */
static int gc_remove_orphan_packs(struct tsm_store *store, struct tsm_gc_result *res)
{
	int fd, rc;
	sqlite3_stmt *stmt;
	struct dirent *de;
	DIR *dir;

	if ((rc = tsm_store_write_begin(store)) < 0)
		return rc;
	if ((rc = tsm_db_prepare(store->db, "SELECT 1 FROM packs WHERE id = ?", &stmt)) < 0)
		goto out_abort;
	fd = openat(store->dir_fd, "packs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(dir = fdopendir(fd))) {
		rc = -errno;
		tsm_error("%s/packs: %s", store->dir, strerror(-rc));
		if (fd >= 0)
			close(fd);
		sqlite3_finalize(stmt);
		goto out_abort;
	}
	while ((de = readdir(dir))) {
		long long id;
		char expect[32];

		if (sscanf(de->d_name, "pack-%lld.pack", &id) != 1)
			continue;
		tsm_pack_name(id, expect);
		if (strcmp(expect, de->d_name) != 0)
			continue;
		sqlite3_bind_int64(stmt, 1, id);
		if (sqlite3_step(stmt) == SQLITE_DONE) {
			gc_unlink_pack(store, id);
			res->packs_removed++;
		}
		sqlite3_reset(stmt);
	}
	closedir(dir);
	sqlite3_finalize(stmt);
	return tsm_store_write_commit(store);

out_abort:
	tsm_store_write_abort(store);
	return rc;
}

static uint64_t pack_bytes(struct tsm_store *store)
{
	struct tsm_store_stats s;

	return tsm_store_stats(store, &s) == 0 ? s.pack_bytes : 0;
}

int tsm_store_gc(struct tsm_store *store, const struct tsm_gc_options *opts,
		 struct tsm_progress *progress, struct tsm_gc_result *res)
{
	int rc;

	memset(res, 0, sizeof(*res));
	res->bytes_before = pack_bytes(store);
	int64_t grace = opts && opts->remote_grace > 0 ? opts->remote_grace : 3600;

	if ((rc = gc_phase_drop(store, opts ? opts->keep_versions : 1, grace, res)) < 0)
		return rc;
	if ((rc = gc_phase_compact(store, progress, res)) < 0)
		return rc;
	if ((rc = gc_remove_orphan_packs(store, res)) < 0)
		return rc;
	/* Pack objects: deleted a grace period after the catalog stopped
	 * naming them, so frontends still on an older generation can read
	 * them meanwhile; under the write lock, so no upload is under way. */
	if (tsm_remote_is_writer(store)) {
		if ((rc = tsm_store_write_begin(store)) < 0)
			return rc;
		rc = tsm_remote_gc(store, grace, res);
		tsm_store_write_abort(store);
		if (rc < 0)
			return rc;
	}
	res->bytes_after = pack_bytes(store);
	return 0;
}
