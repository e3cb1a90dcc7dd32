/* The store handle and the pieces of it that core/ shares.  Not part of
 * the public API: fs/ and tools/ go through include/tsmedia/. */
#ifndef TSMEDIA_STORE_INTERNAL_H
#define TSMEDIA_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store/chunker.h"
#include "store/pack.h"
#include "tsmedia/store.h"

/* Packs are rolled over near this size; small imports share a pack. */
#define TSM_PACK_TARGET_SIZE (1ull << 30)
#define TSM_ZSTD_LEVEL 3

/* Statements used per chunk or per file, prepared once per handle. */
enum tsm_stmt {
	TSM_STMT_CHUNK_FIND,
	TSM_STMT_CHUNK_INSERT,
	TSM_STMT_CHUNK_GET,
	TSM_STMT_BLOB_FIND,
	TSM_STMT_BLOB_INSERT,
	TSM_STMT_BLOB_CHUNK_INSERT,
	TSM_STMT_COUNT
};

struct tsm_store {
	char *dir;
	int dir_fd;
	int lock_fd;    /* writers: LOCK_EX */
	int gc_lock_fd; /* gc: LOCK_EX; pinning readers: LOCK_SH */
	sqlite3 *db;
	char site_code[4];
	enum tsm_compression compression;
	struct tsm_chunker chunker;
	struct tsm_pack_cache packs;
	sqlite3_stmt *stmts[TSM_STMT_COUNT];
	struct tsm_verified_map *verified;
	struct tsm_remote *remote; /* NULL: a local store (store/remote.h) */
	/* Verify ahead (verify_ahead.c): the directory's context, taken on
	 * first use; @ahead_off once it is known not to run. */
	struct tsm_ahead *ahead;
	bool ahead_off;

	/* A write session (tsm_store_write_begin .. commit/abort). */
	bool writing;
	int64_t changes_at_begin; /* sqlite3_total_changes64 then: publish only a change */
	struct tsm_pack_writer writer;
	bool read_owns_txn; /* tsm_store_read_begin() opened the transaction */
	int read_depth;     /* nested read sessions */
};

/* How a store's database (catalog.db) is made and opened.  Its schema,
 * the store's tables included, and the upgrades between schema versions
 * are the catalog's (core/catalog/catalog.c), a layer above: the catalog
 * hands these in (core/catalog/store_open.c defines tsm_store_init() and
 * tsm_store_open() with them), so the store calls nothing above it. */
struct tsm_remote;
struct tsm_store_db_ops {
	/* A new database at @path with the store's settings. */
	int (*create)(const char *path, const char *site_code, const char *compression);
	/* Opens (and brings up to date) the database at @path. */
	int (*open)(const char *path, sqlite3 **db_ret);
};
int tsm_store_init_db(const char *dir, const struct tsm_store_init_options *opts,
		      const struct tsm_store_db_ops *db_ops);
int tsm_store_open_db(const char *dir, const struct tsm_store_db_ops *db_ops,
		      struct tsm_store **store_ret);

/* The cached statement, reset and with bindings cleared; NULL on failure
 * (logged). */
sqlite3_stmt *tsm_store_stmt(struct tsm_store *store, enum tsm_stmt which);

/* A write session: the store lock, one catalog transaction and the pack
 * appends it references.  Commit fsyncs the packs, then commits the
 * transaction; abort rolls the transaction back and cuts the packs back to
 * where they were, so a failed import leaves the store as it was. */
/* The writers' lock alone, without a transaction (store push: no session
 * may change a pack, and the catalog can still be copied); a session
 * begun meanwhile keeps it, and its commit or abort lets it go. */
int tsm_store_writers_lock(struct tsm_store *store);
void tsm_store_writers_unlock(struct tsm_store *store);
int tsm_store_write_begin(struct tsm_store *store);
int tsm_store_write_commit(struct tsm_store *store);
void tsm_store_write_abort(struct tsm_store *store);

/* Location and name of one stored chunk. */
struct tsm_chunk_loc {
	int64_t id;
	int64_t pack;
	uint64_t offset;
	uint32_t stored_size;
	uint32_t size;
	int codec; /* enum tsm_compression */
	uint8_t hash[TSM_SHA256_LEN];
};

/* Adds a chunk unless one with @hash exists; @stored is @data compressed
 * (@stored_len < @len) or NULL to store it raw.  Inside a write session. */
int tsm_chunk_put(struct tsm_store *store, const uint8_t hash[TSM_SHA256_LEN],
		  const uint8_t *data, size_t len, const uint8_t *stored, size_t stored_len,
		  int64_t *chunk_id_ret);
int tsm_chunk_lookup(struct tsm_store *store, int64_t chunk_id, struct tsm_chunk_loc *loc_ret);
/* A chunk's location from a catalog row whose columns from @col on are
 * id, pack, offset, stored_size, size, codec, hash; every value checked
 * (sizes within TSM_CHUNK_MAX, offset + size without overflow): -EIO with a
 * message naming the chunk otherwise. */
int tsm_chunk_loc_from_row(struct tsm_store *store, sqlite3_stmt *stmt, int col,
			   struct tsm_chunk_loc *loc);
#define TSM_CHUNK_LOC_COLUMNS "c.id, c.pack, c.offset, c.stored_size, c.size, c.codec, c.hash"
/* Reads, decompresses and checks one chunk into @out (loc->size bytes).
 * A hash mismatch is logged and returns -EIO.  @scratch holds at least
 * TSM_CHUNK_MAX bytes when the chunk may be compressed. */
int tsm_chunk_read(struct tsm_store *store, const struct tsm_chunk_loc *loc, uint8_t *out,
		   uint8_t *scratch);
/* TSM_CHUNK_RECHECK: hash it even if this pack file generation checked it
 * already (verify, scrub). */
#define TSM_CHUNK_RECHECK 1u
/* TSM_CHUNK_QUIET: damage is neither logged nor counted (a check ahead of
 * the reader: the reader reports what it finds when it gets there). */
#define TSM_CHUNK_QUIET 2u
int tsm_chunk_read_flags(struct tsm_store *store, const struct tsm_chunk_loc *loc, uint8_t *out,
			 uint8_t *scratch, unsigned flags);
/* Whether the chunk was checked in its pack file as it is now (one fstat). */
bool tsm_chunk_is_checked(struct tsm_store *store, const struct tsm_chunk_loc *loc);
/* Where part of a raw chunk checked in its pack file as it is now lies:
 * the pack's descriptor (owned by the cache) and position; -EAGAIN when the
 * chunk needs the checked path (compressed, not checked, moved, or past
 * the end of a truncated pack). */
int tsm_chunk_map_checked(struct tsm_store *store, const struct tsm_chunk_loc *loc,
			  uint32_t in_chunk, size_t len, int *fd_ret, uint64_t *pos_ret);
/* Reads part of a raw chunk this process has already checked straight from
 * its pack into @out; -EAGAIN when the chunk needs the checked path. */
int tsm_chunk_pread_checked(struct tsm_store *store, const struct tsm_chunk_loc *loc,
			    uint8_t *out, size_t len, uint32_t in_chunk);
/* The same, looking the chunk up again when its pack has gone (gc moved it). */
int tsm_chunk_read_relocating(struct tsm_store *store, struct tsm_chunk_loc *loc,
			      uint8_t *out, uint8_t *scratch);
int tsm_chunk_read_relocating_flags(struct tsm_store *store, struct tsm_chunk_loc *loc,
				    uint8_t *out, uint8_t *scratch, unsigned flags);

/* Turns files into blobs: reads, cuts, hashes and compresses on a pool of
 * worker threads while the calling thread stores the chunks in order.
 * One per import; used inside a write session by one thread. */
struct tsm_blob_writer;
int tsm_blob_writer_new(struct tsm_store *store, struct tsm_blob_writer **writer_ret);
/* Imports @fd (read to its end) as a blob; @what names it in messages. */
int tsm_blob_writer_import_fd(struct tsm_blob_writer *writer, int fd, const char *what,
			      struct tsm_progress *progress, int64_t *blob_id_ret,
			      uint64_t *size_ret);
/* The same from any sequential reader: bytes read, 0 at the end, or a
 * negative errno (reported by the reader). */
typedef ssize_t (*tsm_blob_read_fn)(void *ctx, void *buf, size_t len);
int tsm_blob_writer_import_stream(struct tsm_blob_writer *writer, tsm_blob_read_fn read,
				  void *ctx, const char *what, struct tsm_progress *progress,
				  int64_t *blob_id_ret, uint64_t *size_ret);
void tsm_blob_writer_free(struct tsm_blob_writer *writer);
/* Small files in bulk, when the writer has workers (tsm_blob_writer_parallel;
 * not with TSMEDIA_THREADS=1): tsm_blob_writer_queue_file() reads @fd (from
 * its start, with pread) and queues it when it is small (0), or returns 1
 * and queues nothing when it is not (import it with import_fd).  @done is
 * called on the calling thread, in queue order, once the file is stored
 * (status 0, its blob and size), or with a negative status when the queue
 * is given up (an earlier error, or the writer freed): it then only lets
 * @ctx go.  tsm_blob_writer_queue_entry() takes a place in the same order
 * for something with no bytes (a directory): @done gets blob 0.  An
 * import of a file (import_fd, import_stream) or tsm_blob_writer_flush()
 * stores everything queued first. */
typedef int (*tsm_blob_done_fn)(void *ctx, int status, int64_t blob_id, uint64_t size);
bool tsm_blob_writer_parallel(const struct tsm_blob_writer *writer);
bool tsm_blob_writer_pending(const struct tsm_blob_writer *writer);
int tsm_blob_writer_queue_file(struct tsm_blob_writer *writer, int fd, const char *what,
			       struct tsm_progress *progress, tsm_blob_done_fn done, void *ctx);
int tsm_blob_writer_queue_entry(struct tsm_blob_writer *writer, tsm_blob_done_fn done,
				void *ctx);
int tsm_blob_writer_flush(struct tsm_blob_writer *writer);
/* Bytes in memory as a blob (generated files).  Inside a write session. */
int tsm_store_put_bytes(struct tsm_store *store, const void *data, size_t len, const char *what,
			int64_t *blob_id_ret);

/* A blob whose bytes are resource @d of blob @wim_blob, a stored WIM
 * (store/wim_resource.h): a row in blobs and one in blob_wim_resources,
 * no chunks.  The caller read the resource and hashed it (@sha256,
 * @sha1); a blob with that SHA-256 already stored is returned instead.
 * gc keeps @wim_blob while the blob lives.  Inside a write session. */
struct tsm_wim_res_desc;
int tsm_store_put_wim_resource(struct tsm_store *store, int64_t wim_blob,
			       const struct tsm_wim_res_desc *d,
			       const uint8_t sha256[TSM_SHA256_LEN],
			       const uint8_t sha1[TSM_SHA1_LEN], const char *what,
			       int64_t *blob_id_ret);

/* Pin bookkeeping for gc: the content versions some live pin holds; stale
 * pins of dead processes are removed.  Caller holds gc.lock exclusively. */
struct tsm_pinned {
	int64_t *content_versions;
	size_t ncontent, cap_content;
	int64_t *media_versions;
	size_t nmedia, cap_media;
};
int tsm_pins_collect(struct tsm_store *store, struct tsm_pinned *pinned_ret);
/* The same for the store whose directory is open as @store_dir_fd (a
 * thread without a store handle: a frontend's lease renewal). */
int tsm_pins_collect_at(int store_dir_fd, const char *store_dir, struct tsm_pinned *pinned_ret);
void tsm_pinned_clear(struct tsm_pinned *pinned);
/* Appends @id to an array of @n (room for @cap), growing it by doubling. */
int tsm_pinned_push(int64_t **ids, size_t *n, size_t *cap, int64_t id);

/* Chunks checked by this process (see verified.c). */
struct tsm_verified_map;
struct tsm_verified_map *tsm_verified_map_get(int dir_fd);
void tsm_verified_map_put(struct tsm_verified_map *map);
/* The generation of pack @pack_id's file as @st describes it: the same
 * number for as long as the file is the same (struct tsm_pack_identity:
 * device, inode, size, mtime, ctime), a new one when it changes.  Never 0. */
struct stat;
uint32_t tsm_verified_pack_gen(struct tsm_verified_map *map, int64_t pack_id,
			       const struct stat *st);
bool tsm_verified_check(const struct tsm_verified_map *map, int64_t chunk_id, uint32_t gen);
void tsm_verified_mark(struct tsm_verified_map *map, int64_t chunk_id, uint32_t gen);
/* Forgets a check (scrub found the chunk damaged). */
void tsm_verified_clear(struct tsm_verified_map *map, int64_t chunk_id);

/* Decompressed chunks kept warm (chunk_cache.c): one cache per verified
 * map.  tsm_chunk_cache_get() returns a reference to the entry of the
 * chunk (matched by id, size and hash), or NULL; the caller uses its bytes
 * only when tsm_chunk_is_checked() says the chunk is checked in its pack
 * file as it is now, then releases it.  tsm_chunk_cache_add() keeps a copy
 * of a compressed chunk's checked bytes (loc->size of them). */
struct tsm_chunk_cache;
struct tsm_cached_chunk;
struct tsm_chunk_cache_stats {
	uint64_t limit, used, hits, misses;
};
struct tsm_chunk_cache *tsm_chunk_cache_new(void);
void tsm_chunk_cache_free(struct tsm_chunk_cache *cache);
struct tsm_chunk_cache *tsm_verified_chunk_cache(struct tsm_verified_map *map);
struct tsm_cached_chunk *tsm_chunk_cache_get(struct tsm_chunk_cache *cache,
					     const struct tsm_chunk_loc *loc);
const uint8_t *tsm_cached_chunk_bytes(const struct tsm_cached_chunk *entry);
void tsm_chunk_cache_release(struct tsm_chunk_cache *cache, struct tsm_cached_chunk *entry);
void tsm_chunk_cache_add(struct tsm_chunk_cache *cache, const struct tsm_chunk_loc *loc,
			 const uint8_t *bytes);
void tsm_chunk_cache_stats(struct tsm_chunk_cache *cache, struct tsm_chunk_cache_stats *stats_ret);

/* Verify ahead (verify_ahead.c): worker threads check the chunks a
 * sequential reader will read next.  tsm_ahead_get() is the context of
 * @store's directory (the handle keeps a reference until it closes), or
 * NULL when the process has one processor or TSMEDIA_THREADS=1.
 * tsm_ahead_submit() queues a copy of @locs and returns the job, with a
 * reference for the caller (tsm_ahead_job_put).  tsm_ahead_claim() is the
 * reader's turn at chunk @i of a job: false when the reader must check it
 * itself (no worker took it, and none will now; or one is still at it);
 * true when a worker did: the verified map has the outcome, and
 * tsm_ahead_bytes() a compressed chunk's bytes.
 * tsm_ahead_job_cancel(): no worker takes its chunks any more.  A job is
 * used by the thread that submitted it; the context by any thread. */
struct tsm_ahead;
struct tsm_ahead_job;
/* Has [offset, offset + len) of the blob checked ahead of the reader (the
 * chunks not handed over yet); nothing when verify ahead does not run. */
void tsm_blob_reader_ahead(struct tsm_blob_reader *reader, uint64_t offset, uint64_t len);
struct tsm_ahead *tsm_ahead_get(struct tsm_store *store);
void tsm_ahead_put(struct tsm_ahead *ctx);
int tsm_ahead_submit(struct tsm_ahead *ctx, const struct tsm_chunk_loc *locs, size_t n,
		     struct tsm_ahead_job **job_ret);
bool tsm_ahead_claim(struct tsm_ahead_job *job, size_t i);
void tsm_ahead_job_cancel(struct tsm_ahead_job *job);
/* The checked bytes (loc->size) of compressed chunk @i that a worker
 * decompressed, or NULL; valid while the caller holds the job. */
const uint8_t *tsm_ahead_bytes(struct tsm_ahead_job *job, size_t i);
void tsm_ahead_job_put(struct tsm_ahead_job *job);

#endif
