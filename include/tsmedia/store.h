/* Layer: store (core/store/), the bottom layer. */
/* The content store: chunks in pack files, blobs, and the sqlite catalog.
 *
 * A store is a directory (0700):
 *   catalog.db   the catalog (sqlite, WAL mode)
 *   packs/       pack-NNNNNNNN.pack: chunk payloads appended, raw or zstd
 *   pins/        one file per live reader pin (see tsm_pin below)
 *   lock         writers (import, gc) hold an exclusive flock on it
 *   gc.lock      gc holds it exclusively while it decides what is dead;
 *                readers hold it shared while they pin what they read
 *
 * Ownership: tsm_store_open() returns a handle owned by the caller and freed
 * by tsm_store_close().  A handle is used by one thread at a time. */
#ifndef TSMEDIA_STORE_H
#define TSMEDIA_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tsmedia/hash.h"

struct tsm_store;
struct tsm_progress;

enum tsm_compression {
	TSM_COMPRESSION_NONE = 0,
	TSM_COMPRESSION_ZSTD = 1,
};

struct tsm_store_init_options {
	const char *site_code;            /* three characters [A-Z0-9]; default "TSM" */
	enum tsm_compression compression; /* default TSM_COMPRESSION_ZSTD */
	/* A store on object storage (docs/scale.md): s3://BUCKET[/PREFIX],
	 * the service's URL and region (NULL: us-east-1).  NULL url: local. */
	const char *remote_url;
	const char *remote_endpoint;
	const char *remote_region;
};

/* Where the store lives when --store is not given: $TSMEDIA_STORE, else
 * /var/lib/tsmedia for root, else $XDG_DATA_HOME/tsmedia (or
 * ~/.local/share/tsmedia).  Returns a malloc'ed path or NULL. */
char *tsm_store_default_dir(void);

/* Creates a store in @dir (created if missing; must be empty otherwise).
 * These two are defined a layer up, in core/catalog/store_open.c: a store's
 * database has the catalog's schema, which the store does not know. */
int tsm_store_init(const char *dir, const struct tsm_store_init_options *opts);
int tsm_store_open(const char *dir, struct tsm_store **store_ret);
void tsm_store_close(struct tsm_store *store);

const char *tsm_store_dir(const struct tsm_store *store);
/* A number that changes whenever another connection commits to the
 * catalog (sqlite's data_version): cheap change detection for the mount. */
int tsm_store_data_version(struct tsm_store *store, int64_t *version_ret);
const char *tsm_store_site_code(const struct tsm_store *store);

/* ---- blobs ---------------------------------------------------------- */

/* Reads one blob back through the store, verifying every chunk it touches
 * against its SHA-256: damage is -EIO (and logged), never wrong bytes.
 * Survives gc compaction (a moved chunk is looked up again). */
struct tsm_blob_reader;
int tsm_blob_reader_open(struct tsm_store *store, int64_t blob_id,
			 struct tsm_blob_reader **reader_ret);
uint64_t tsm_blob_reader_size(const struct tsm_blob_reader *reader);
/* Reads up to @len bytes at @offset; returns bytes read (short only at end)
 * or a negative errno. */
ssize_t tsm_blob_reader_pread(struct tsm_blob_reader *reader, void *buf, size_t len,
			      uint64_t offset);
/* Where the bytes at @offset lie in a pack, when they need no reading
 * (raw, inside the pack file, and checked by this process in that file as
 * it is now): sets the pack's fd and position, returns the bytes there (at
 * most @len); 0 when they must be read with tsm_blob_reader_pread.  The fd
 * stays open until tsm_store_reads_done() on the store handle. */
size_t tsm_blob_reader_map(struct tsm_blob_reader *reader, uint64_t offset, size_t len,
			   int *fd_ret, uint64_t *pos_ret);
/* The descriptors tsm_blob_reader_map() handed out are no longer read
 * from (the reply went out): packs gc removed meanwhile are closed now, so
 * their space comes back. */
void tsm_store_reads_done(struct tsm_store *store);
/* Closes, in every store handle of this process that is between reads,
 * the descriptors of packs gc has removed, so their space comes back even
 * from handles that read nothing more.  Safe from any thread; returns how
 * many it closed. */
int tsm_store_sweep_removed_packs(void);
void tsm_blob_reader_close(struct tsm_blob_reader *reader);

/* What this process's reads have done to chunks since it started: checked
 * against their SHA-256, and found damaged (checksum, decompression, a
 * truncated pack: each an -EIO to its reader, and logged).  Counters for
 * the mount's metrics; safe from any thread. */
struct tsm_chunk_counters {
	uint64_t verified;
	uint64_t damaged;
};
void tsm_chunk_counters(struct tsm_chunk_counters *counters_ret);

/* Bytes of decompressed chunks this process keeps for its readers
 * (store/chunk_cache.c), for every store it opens after the call; 0 keeps
 * none.  Unset: 1/64 of the machine's memory, between 16 and 64 MiB
 * (tsm_chunk_cache_limit() says what applies). */
void tsm_chunk_cache_set_limit(uint64_t bytes);
uint64_t tsm_chunk_cache_limit(void);

/* A tsm_blob_source (tsmedia/blob_source.h) reading blobs from @store, keeping
 * a few blob readers open.  Used by one thread, like the store handle. */
struct tsm_blob_source;
int tsm_store_blob_source_new(struct tsm_store *store, struct tsm_blob_source **source_ret);
void tsm_store_blob_source_free(struct tsm_blob_source *source);

/* ---- pins: what a reader holds cannot be collected --------------------- */

/* A pin keeps a content version (and everything it references) alive
 * across gc until released, even if the version is removed or superseded.
 * A media version pin keeps the media version's definition.
 * Take it inside tsm_store_read_begin()/end() so gc cannot slip between
 * the catalog lookup and the pin. */
struct tsm_pin;
int tsm_store_read_begin(struct tsm_store *store);
void tsm_store_read_end(struct tsm_store *store);
enum tsm_pin_kind { TSM_PIN_CONTENT_VERSION, TSM_PIN_MEDIA_VERSION };
struct tsm_pin_ref {
	enum tsm_pin_kind kind;
	int64_t id; /* catalog row id of the version */
};
int tsm_pin_create(struct tsm_store *store, const struct tsm_pin_ref *refs, size_t n,
		   struct tsm_pin **pin_ret);
int tsm_pin_content_version(struct tsm_store *store, int64_t version_id,
			    struct tsm_pin **pin_ret);
void tsm_pin_release(struct tsm_pin *pin);

/* ---- whole-store operations ------------------------------------------ */

struct tsm_store_stats {
	uint64_t logical_bytes; /* sum of file sizes over every live content version */
	uint64_t unique_bytes;  /* sum of distinct blob sizes */
	uint64_t stored_bytes;  /* sum of stored (possibly compressed) chunk sizes */
	uint64_t pack_bytes;    /* bytes of pack files on disk, garbage included */
	uint64_t chunks;
	uint64_t blobs;
	uint64_t packs;
	uint64_t content_items;
	uint64_t content_versions;
	/* Blobs read out of a stored WIM (a boot image's boot files): counted
	 * in blobs and unique_bytes, but stored as no chunks of their own. */
	uint64_t wim_resource_blobs;
	uint64_t wim_resource_bytes;
};
int tsm_store_stats(struct tsm_store *store, struct tsm_store_stats *stats_ret);

struct tsm_verify_result {
	uint64_t chunks_checked, chunks_bad;
	uint64_t blobs_checked, blobs_bad;
	uint64_t bytes_checked;
	/* A store on object storage: pack objects compared with their local
	 * packs (size and MD5), and those that differ or are missing. */
	uint64_t remote_packs_checked, remote_packs_bad;
};
/* Re-hashes every chunk and every blob.  Each damaged chunk is reported with
 * its pack and every content item that uses it.  Returns 0 when the check
 * ran (see the result for damage), negative errno when it could not run. */
int tsm_store_verify(struct tsm_store *store, struct tsm_progress *progress,
		     struct tsm_verify_result *result_ret);

/* Checks packs chunk by chunk against the chunks' SHA-256 (every pack, or
 * those changed or not checked since a time): what the mount's scrub runs
 * on a schedule and `verify --since` runs once.  Damage is logged with the
 * chunk, its pack and the content that uses it, and this process's record
 * of the chunk as checked is dropped, so the mount reads it through the
 * checked path (EIO) from then on.  gc may run meanwhile: chunks it moves
 * are not damage. */
struct tsm_pack_verify_options {
	int64_t since; /* seconds since the epoch: check only the packs no check
	                * found good since then, or whose file changed after
	                * that check; 0: every pack */
	bool record;   /* note a clean check's time in the catalog (skipped
	                * when a writer holds the store) */
	const bool *cancel; /* when set (read atomically): stop between chunks */
};
struct tsm_pack_verify_result {
	uint64_t packs_checked, packs_bad, packs_skipped;
	uint64_t chunks_checked, chunks_bad;
	uint64_t bytes_checked;
};
int tsm_store_verify_packs(struct tsm_store *store, const struct tsm_pack_verify_options *opts,
			   struct tsm_progress *progress, struct tsm_pack_verify_result *result_ret);
/* "90" or "90s", "15m", "6h", "7d", "2w": a positive number of seconds. */
int tsm_parse_interval(const char *text, int64_t *seconds_ret);
/* A point in time: "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS]" (or with a T;
 * local time), "@SECONDS" since the epoch, or an interval before @now. */
int tsm_parse_since(const char *text, int64_t now, int64_t *time_ret);

struct tsm_gc_result {
	uint64_t versions_removed;
	uint64_t media_versions_removed;
	uint64_t snapshots_removed; /* numbered media snapshots gc let go */
	uint64_t blobs_removed;
	uint64_t chunks_removed;
	uint64_t packs_rewritten;
	uint64_t packs_removed;
	uint64_t tails_cut;       /* packs whose unreferenced end was cut off */
	uint64_t remote_packs_deleted; /* pack objects deleted from object storage */
	uint64_t remote_packs_waiting; /* unnamed pack objects kept for the grace period */
	uint64_t bytes_before, bytes_after; /* pack bytes on disk */
};
/* What gc keeps beyond what is current or pinned. */
struct tsm_gc_options {
	/* The newest N recorded snapshots of each live media (versions/NAME/N
	 * on the mount) and the versions they name; 0 or 1: only the current
	 * one.  A removed media's snapshots all go. */
	unsigned keep_versions;
	/* A store on object storage: a pack object no catalog names is deleted
	 * this many seconds after gc first found it unnamed, and a frontend's
	 * lease is honoured this long after it expired (0: one hour). */
	int64_t remote_grace;
};
/* @opts may be NULL: the defaults (keep_versions 1). */
int tsm_store_gc(struct tsm_store *store, const struct tsm_gc_options *opts,
		 struct tsm_progress *progress, struct tsm_gc_result *result_ret);

/* ---- object storage (docs/scale.md) ------------------------------------ */

/* A frontend: tsmediafs serving a store published on object storage.
 * tsm_frontend_setup() makes (or reuses) the cache directory, fetches the
 * current catalog into cache_dir/store and registers it for this process:
 * every handle opened on that directory reads chunks from the object
 * store through the chunk cache.  Returns the directory to open. */
struct tsm_frontend_options {
	const char *url;          /* s3://BUCKET[/PREFIX] */
	const char *endpoint;     /* http(s)://HOST[:PORT] */
	const char *region;       /* NULL: us-east-1 */
	const char *cache_dir;
	uint64_t cache_size;      /* bytes of chunks kept; 0: 10 GiB */
	const char *id;           /* the lease's name; NULL: HOSTNAME-PID */
	int64_t poll_interval;    /* seconds between looks at catalog/CURRENT; 0: 5 */
	int64_t lease_ttl;        /* seconds a lease lasts unrenewed; 0: 60 */
	unsigned timeout;         /* seconds a request may stall; 0: 30 */
};
int tsm_frontend_setup(const struct tsm_frontend_options *opts, char **store_dir_ret);
/* Call about once a second with a handle on the frontend's store: looks
 * at catalog/CURRENT when the poll interval has passed and switches to a
 * new generation (*changed_ret).  The first call starts the lease's own
 * thread, which renews the lease however long a poll takes (and at once
 * after a switch).  A failure (the object store away) is logged and
 * returned; the catalog stays as it was. */
int tsm_frontend_poll(struct tsm_store *store, bool *changed_ret);
/* Any thread, at once: the frontend is stopping; requests of the lease's
 * thread and of tsm_frontend_poll() under way or to come end (-ECANCELED)
 * within about a second, so that nothing waits for an object store that
 * does not answer.  Call it before waiting for the thread that polls. */
void tsm_frontend_interrupt(struct tsm_store *store);
/* Stops the lease's thread and removes the lease (a clean stop); the
 * removal gives up after a few seconds, leaving the lease to expire.
 * After the thread that polls has stopped. */
void tsm_frontend_stop(struct tsm_store *store);
/* The frontend this process serves (for the mount's metrics; any thread):
 * its catalog generation, cache use and limit, chunk reads served from the
 * cache and fetched, bytes fetched, and the streams of sequential readers
 * (ranged GETs received straight into the cache) and their bytes.
 * -ENOENT when it serves none. */
struct tsm_frontend_stats {
	int64_t generation;
	uint64_t cache_bytes, cache_limit;
	uint64_t hits, misses, fetched_bytes;
	uint64_t streams, streamed_bytes;
	uint64_t rechecks; /* cached chunks hashed again as they were read */
};
int tsm_frontend_stats(struct tsm_frontend_stats *stats_ret);

/* The writer: the frontends whose leases are in the bucket. */
struct tsm_frontend_info {
	char id[64];
	int64_t generation, renewed, expires;
	uint64_t cache_bytes, cache_limit;
};
int tsm_store_frontends(struct tsm_store *store, struct tsm_frontend_info **list_ret,
			size_t *n_ret);
/* The writer: the generation catalog/CURRENT names (0: none yet). */
int tsm_store_remote_generation(struct tsm_store *store, int64_t *generation_ret);
/* Whether @store keeps its packs on object storage (the writer). */
bool tsm_store_is_remote(const struct tsm_store *store);

/* Moves a local store to object storage (docs/scale.md, "Moving a store
 * there"): under the store's write lock, every pack the catalog names is
 * uploaded unless the object already holds exactly it (size and ETag,
 * checked), then the catalog is published, and only then the store's
 * catalog is switched to keep its packs there (as `init --s3` would have).
 * A push stopped at any point is run again: it uploads only what is
 * missing or different.  Refuses a bucket and prefix that already hold
 * another store's catalog. */
struct tsm_store_push_options {
	const char *url;      /* s3://BUCKET[/PREFIX] */
	const char *endpoint; /* http(s)://HOST[:PORT] */
	const char *region;   /* NULL: us-east-1 */
};
struct tsm_store_push_result {
	uint64_t packs;          /* packs the catalog names */
	uint64_t uploaded;       /* of them, uploaded by this run */
	uint64_t present;        /* of them, already there and checked */
	uint64_t bytes_uploaded;
	int64_t generation;      /* the catalog generation published */
};
int tsm_store_push(struct tsm_store *store, const struct tsm_store_push_options *opts,
		   struct tsm_progress *progress, struct tsm_store_push_result *result_ret);

#endif
