/* Chunks: stored once per SHA-256, read back and checked on every read. */
#include "store/store_internal.h"
#include "store/remote.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include <zstd.h>

#include "tsmedia/log.h"
#include "util/db.h"

int tsm_chunk_put_deferred(struct tsm_store *store, const uint8_t hash[TSM_SHA256_LEN],
			   const uint8_t *data, size_t len, const uint8_t *stored,
			   size_t stored_len, struct tsm_pack_write *write_ret,
			   int64_t *chunk_id_ret)
{
	sqlite3_stmt *stmt = tsm_store_stmt(store, TSM_STMT_CHUNK_FIND);
	int rc;

	write_ret->len = 0;
	if (!stmt)
		return -EIO;
	sqlite3_bind_blob(stmt, 1, hash, TSM_SHA256_LEN, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*chunk_id_ret = sqlite3_column_int64(stmt, 0);
		sqlite3_reset(stmt);
		return 0;
	}
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		return tsm_db_error(store->db, "looking up a chunk");

	if (!stored) {
		stored = data;
		stored_len = len;
	}
	if ((rc = tsm_pack_reserve(store, stored_len, write_ret)) < 0)
		return rc;
	write_ret->data = stored;
	stmt = tsm_store_stmt(store, TSM_STMT_CHUNK_INSERT);
	if (!stmt)
		return -EIO;
	sqlite3_bind_blob(stmt, 1, hash, TSM_SHA256_LEN, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, write_ret->pack);
	sqlite3_bind_int64(stmt, 3, (int64_t)write_ret->offset);
	sqlite3_bind_int64(stmt, 4, (int64_t)stored_len);
	sqlite3_bind_int64(stmt, 5, (int64_t)len);
	sqlite3_bind_int(stmt, 6, stored == data ? TSM_COMPRESSION_NONE : TSM_COMPRESSION_ZSTD);
	rc = sqlite3_step(stmt);
	sqlite3_reset(stmt);
	if (rc != SQLITE_DONE)
		return tsm_db_error(store->db, "adding a chunk");
	*chunk_id_ret = sqlite3_last_insert_rowid(store->db);
	return 0;
}

int tsm_chunk_loc_from_row(struct tsm_store *store, sqlite3_stmt *stmt, int col,
			   struct tsm_chunk_loc *loc)
{
	int64_t id = sqlite3_column_int64(stmt, col);
	int64_t offset = sqlite3_column_int64(stmt, col + 2);
	int64_t stored = sqlite3_column_int64(stmt, col + 3);
	int64_t size = sqlite3_column_int64(stmt, col + 4);
	int codec = sqlite3_column_int(stmt, col + 5);
	uint64_t end;
	const char *problem = NULL;

	/* The catalog is a file too: every size is checked before use. */
	if (stored < 0 || stored > TSM_CHUNK_MAX || size < 0 || size > TSM_CHUNK_MAX)
		problem = "a size out of range";
	else if (offset < 0 || __builtin_add_overflow((uint64_t)offset, (uint64_t)stored, &end) ||
		 end > INT64_MAX)
		problem = "an offset out of range";
	else if (codec != TSM_COMPRESSION_NONE && codec != TSM_COMPRESSION_ZSTD)
		problem = "an unknown codec";
	else if (codec == TSM_COMPRESSION_NONE && stored != size)
		problem = "two sizes for a raw chunk";
	else if (sqlite3_column_bytes(stmt, col + 6) != TSM_SHA256_LEN)
		problem = "a malformed hash";
	if (problem) {
		tsm_error("%s: chunk %lld has %s in the catalog", store->dir, (long long)id, problem);
		return -EIO;
	}
	loc->id = id;
	loc->pack = sqlite3_column_int64(stmt, col + 1);
	loc->offset = (uint64_t)offset;
	loc->stored_size = (uint32_t)stored;
	loc->size = (uint32_t)size;
	loc->codec = codec;
	memcpy(loc->hash, sqlite3_column_blob(stmt, col + 6), TSM_SHA256_LEN);
	return 0;
}

int tsm_chunk_lookup(struct tsm_store *store, int64_t chunk_id, struct tsm_chunk_loc *loc_ret)
{
	sqlite3_stmt *stmt = tsm_store_stmt(store, TSM_STMT_CHUNK_GET);
	int rc;

	if (!stmt)
		return -EIO;
	sqlite3_bind_int64(stmt, 1, chunk_id);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		sqlite3_reset(stmt);
		if (rc == SQLITE_DONE) {
			tsm_error("%s: chunk %lld is not in the catalog", store->dir,
				  (long long)chunk_id);
			return -ENOENT;
		}
		return tsm_db_error(store->db, "looking up a chunk");
	}
	rc = tsm_chunk_loc_from_row(store, stmt, 0, loc_ret);
	sqlite3_reset(stmt);
	return rc;
}

static int pread_full(int fd, void *buf, size_t len, uint64_t offset)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENODATA; /* pack shorter than the catalog says */
		p += n;
		len -= (size_t)n;
		offset += (uint64_t)n;
	}
	return 0;
}

/* Process-wide, for the mount's metrics (tsm_chunk_counters()). */
static _Atomic uint64_t chunks_verified, chunks_damaged;

void tsm_chunk_counters(struct tsm_chunk_counters *counters_ret)
{
	counters_ret->verified = atomic_load_explicit(&chunks_verified, memory_order_relaxed);
	counters_ret->damaged = atomic_load_explicit(&chunks_damaged, memory_order_relaxed);
}

static void chunk_report_flags(struct tsm_store *store, const struct tsm_chunk_loc *loc,
			       const char *problem, unsigned flags)
{
	char hex[TSM_SHA256_HEX_LEN + 1], name[32];

	/* A check made ahead of the reader says nothing: the reader, when it
	 * gets there, reads the chunk again and reports what it finds. */
	if (flags & TSM_CHUNK_QUIET)
		return;
	atomic_fetch_add_explicit(&chunks_damaged, 1, memory_order_relaxed);
	tsm_hex_encode(loc->hash, TSM_SHA256_LEN, hex);
	tsm_pack_name(loc->pack, name);
	tsm_error("chunk %s in %s/packs/%s at offset %llu: %s", hex, store->dir, name,
		  (unsigned long long)loc->offset, problem);
}

static void chunk_report(struct tsm_store *store, const struct tsm_chunk_loc *loc,
			 const char *problem)
{
	chunk_report_flags(store, loc, problem, 0);
}

/* Whether the chunk lies inside the pack file as it is now. */
static bool chunk_in_pack(const struct tsm_chunk_loc *loc, const struct tsm_pack_file *pf)
{
	return loc->offset <= pf->size && loc->stored_size <= pf->size - loc->offset;
}

int tsm_chunk_read_flags(struct tsm_store *store, const struct tsm_chunk_loc *loc, uint8_t *out,
			 uint8_t *scratch, unsigned flags)
{
	uint8_t digest[TSM_SHA256_LEN];
	const struct tsm_pack_file *pf;
	uint32_t gen;
	int rc;

	/* A frontend has no packs: chunks come from object storage through
	 * its cache, checked as they come. */
	if (tsm_remote_is_frontend(store)) {
		rc = tsm_remote_chunk_read(store, loc, out, scratch);
		if (rc == 0)
			atomic_fetch_add_explicit(&chunks_verified, 1, memory_order_relaxed);
		else if (rc == -EIO)
			atomic_fetch_add_explicit(&chunks_damaged, 1, memory_order_relaxed);
		return rc;
	}
	if ((rc = tsm_pack_cache_get(store, loc->pack, &pf)) < 0)
		return rc;
	gen = pf->gen;
	if (loc->size > TSM_CHUNK_MAX || loc->stored_size > TSM_CHUNK_MAX) {
		chunk_report_flags(store, loc, "size out of range in the catalog", flags);
		return -EIO;
	}
	if (!chunk_in_pack(loc, pf)) {
		chunk_report_flags(store, loc, "pack is truncated", flags);
		return -EIO;
	}
	if (loc->codec == TSM_COMPRESSION_NONE) {
		if (loc->stored_size != loc->size) {
			chunk_report_flags(store, loc, "raw chunk with two sizes in the catalog", flags);
			return -EIO;
		}
		rc = pread_full(pf->fd, out, loc->size, loc->offset);
	} else {
		rc = pread_full(pf->fd, scratch, loc->stored_size, loc->offset);
		if (rc == 0) {
			size_t n = ZSTD_decompress(out, loc->size, scratch, loc->stored_size);

			if (ZSTD_isError(n) || n != loc->size) {
				tsm_verified_clear(store->verified, loc->id);
				chunk_report_flags(store, loc, "does not decompress", flags);
				return -EIO;
			}
		}
	}
	if (rc == -ENODATA) {
		chunk_report_flags(store, loc, "pack is truncated", flags);
		return -EIO;
	}
	if (rc < 0) {
		chunk_report_flags(store, loc, strerror(-rc), flags);
		return rc == -EIO ? rc : -EIO;
	}
	/* Checked once per pack file generation (see verified.c), like raw
	 * chunks read straight from their pack. */
	if (!(flags & TSM_CHUNK_RECHECK) && tsm_verified_check(store->verified, loc->id, gen))
		return 0;
	if ((rc = tsm_sha256(out, loc->size, digest)) < 0)
		return rc;
	atomic_fetch_add_explicit(&chunks_verified, 1, memory_order_relaxed);
	if (memcmp(digest, loc->hash, TSM_SHA256_LEN) != 0) {
		tsm_verified_clear(store->verified, loc->id);
		chunk_report_flags(store, loc, "checksum mismatch", flags);
		return -EIO;
	}
	tsm_verified_mark(store->verified, loc->id, gen);
	return 0;
}

int tsm_chunk_read(struct tsm_store *store, const struct tsm_chunk_loc *loc, uint8_t *out,
		   uint8_t *scratch)
{
	return tsm_chunk_read_flags(store, loc, out, scratch, 0);
}

bool tsm_chunk_is_checked(struct tsm_store *store, const struct tsm_chunk_loc *loc)
{
	const struct tsm_pack_file *pf;

	return tsm_pack_cache_get(store, loc->pack, &pf) == 0 && chunk_in_pack(loc, pf) &&
	       tsm_verified_check(store->verified, loc->id, pf->gen);
}

int tsm_chunk_map_checked(struct tsm_store *store, const struct tsm_chunk_loc *loc,
			  uint32_t in_chunk, size_t len, int *fd_ret, uint64_t *pos_ret)
{
	const struct tsm_pack_file *pf;

	if (tsm_remote_is_frontend(store))
		return tsm_remote_chunk_map(store, loc, in_chunk, len, fd_ret, pos_ret);
	if (loc->codec != TSM_COMPRESSION_NONE ||
	    in_chunk > loc->size ||
	    len > loc->size - in_chunk)
		return -EAGAIN;
	if (tsm_pack_cache_get(store, loc->pack, &pf) < 0)
		return -EAGAIN; /* moved: the slow path looks it up again */
	/* Past the file's end (truncated) or not checked in this file as it is
	 * now: the checked path reads it, and fails with EIO if it must. */
	if (!chunk_in_pack(loc, pf) || !tsm_verified_check(store->verified, loc->id, pf->gen))
		return -EAGAIN;
	*fd_ret = pf->fd;
	*pos_ret = loc->offset + in_chunk;
	return 0;
}

int tsm_chunk_pread_checked(struct tsm_store *store, const struct tsm_chunk_loc *loc,
			    uint8_t *out, size_t len, uint32_t in_chunk)
{
	uint64_t pos;
	int fd, rc;

	if ((rc = tsm_chunk_map_checked(store, loc, in_chunk, len, &fd, &pos)) < 0)
		return rc;
	rc = pread_full(fd, out, len, pos);
	if (rc < 0) {
		chunk_report(store, loc, rc == -ENODATA ? "pack is truncated" : strerror(-rc));
		return -EIO;
	}
	return 0;
}

int tsm_chunk_read_relocating(struct tsm_store *store, struct tsm_chunk_loc *loc, uint8_t *out,
			      uint8_t *scratch)
{
	return tsm_chunk_read_relocating_flags(store, loc, out, scratch, 0);
}

/* How many times a read follows a chunk that gc moved: each gc run can move
 * a chunk once (its pack is compacted into a fresh one, which a later run
 * may compact again), so a reader between two lookups can see it moved more
 * than once.  A pack the catalog still names after a new lookup is missing
 * for real. */
#define CHUNK_RELOCATE_TRIES 16

int tsm_chunk_read_relocating_flags(struct tsm_store *store, struct tsm_chunk_loc *loc,
				    uint8_t *out, uint8_t *scratch, unsigned flags)
{
	int rc = tsm_chunk_read_flags(store, loc, out, scratch, flags);

	for (unsigned tries = 0; rc == -ENOENT && tries < CHUNK_RELOCATE_TRIES; tries++) {
		int64_t gone = loc->pack;
		char name[32];

		/* gc compacted the pack away after we looked the chunk up. */
		if ((rc = tsm_chunk_lookup(store, loc->id, loc)) < 0)
			return rc;
		rc = tsm_chunk_read_flags(store, loc, out, scratch, flags);
		if (rc == -ENOENT && loc->pack == gone) {
			tsm_pack_name(loc->pack, name);
			tsm_error("%s/packs/%s is missing", store->dir, name);
			return -EIO;
		}
	}
	if (rc == -ENOENT) {
		tsm_error("%s: chunk %lld: its pack was removed %d times while it was read",
			  store->dir, (long long)loc->id, CHUNK_RELOCATE_TRIES);
		return -EIO;
	}
	return rc;
}
