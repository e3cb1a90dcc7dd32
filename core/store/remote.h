/* Layer: store — a store on S3-compatible object storage (remote.c). */
/* Two roles (docs/scale.md):
 *
 * The *writer* (the site server) is a local store whose catalog's meta
 * names a bucket (remote_url, remote_endpoint, remote_region; set by
 * `tsmedia init --s3`).  Its write sessions never append to an existing
 * pack (every session seals fresh packs), upload each new pack as
 * packs/pack-NNNNNNNN.pack and check it before the catalog transaction
 * that references it commits (tsm_remote_upload_session), and after the
 * commit publish the catalog: a consistent copy (sqlite's backup API) as
 * catalog/GENERATION.db, then catalog/CURRENT naming it with its SHA-256
 * (tsm_remote_publish).
 *
 * A *frontend* (tsmediafs --remote) keeps a mirror store in its cache
 * directory: a catalog fetched from catalog/CURRENT and switched in place
 * with sqlite's backup API (the mount sees a commit), no packs, and a
 * bounded cache of checked chunks.  It registers the mirror for the
 * process (tsm_remote_frontend_setup), so every handle the mount opens on
 * it reads chunks with ranged GETs through that cache.
 *
 * Threads: the registered frontend is shared by every handle (its counters
 * are atomic, eviction takes its lock); each handle has its own S3 client.
 * The lease is renewed on a thread of its own (its own S3 client), started
 * by the first tsm_frontend_poll() and stopped by tsm_frontend_stop(). */
#ifndef TSMEDIA_STORE_REMOTE_H
#define TSMEDIA_STORE_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tsm_store;
struct tsm_chunk_loc;
struct tsm_s3;
struct tsm_gc_result;

struct tsm_remote;

/* catalog/WRITER as read back (foreign input: any bytes).  @host and @dir
 * are escaped for log lines (tsm_s3_escape), "" when absent. */
struct tsm_remote_writer {
	char store[33];
	char host[4 * 64 + 1];
	char dir[4 * 200 + 1];
};
#define TSM_REMOTE_WRITER_MAX 4096
int tsm_remote_writer_parse(const char *text, size_t len, struct tsm_remote_writer *w);
/* catalog/WRITER's text for the store @id on @host in @dir since @since
 * (unix time) into @out of @n bytes (TSM_REMOTE_WRITER_MAX: all that is read
 * back of it). */
void tsm_remote_writer_text(const char *id, const char *host, const char *dir, int64_t since,
			    char *out, size_t n);
/* The store's writer id (32 hex digits, meta remote_writer_id) into @id;
 * made and stored when it has none and @make, else -ENOENT. */
int tsm_remote_writer_id(struct tsm_store *store, bool make, char id[33]);
/* Claims @s3's prefix for @store (catalog/WRITER, created only if absent):
 * 0 when it is the store's, -EEXIST (logged, naming the location and the
 * other store) when another store has it.  A store without an id gets
 * one when @make_id (never inside a write transaction), else is let go
 * (0) until its publish claims.  Once claimed, a handle does not ask again. */
int tsm_remote_claim(struct tsm_store *store, struct tsm_s3 *s3, bool make_id);

/* At open: what the store is (a writer by its meta, a frontend by the
 * process's registration, else local: store->remote stays NULL). */
int tsm_remote_attach(struct tsm_store *store);
void tsm_remote_detach(struct tsm_store *store);
bool tsm_remote_is_writer(const struct tsm_store *store);
bool tsm_remote_is_frontend(const struct tsm_store *store);
/* The handle's S3 client, made at first use. */
int tsm_remote_s3(struct tsm_store *store, struct tsm_s3 **s3_ret);

/* Writer: uploads and checks the packs this session created (before
 * COMMIT). */
int tsm_remote_upload_session(struct tsm_store *store);
/* Writer: publishes the catalog as it is now (after COMMIT, the write lock
 * still held). */
int tsm_remote_publish(struct tsm_store *store);
/* The same through @s3, for a store not yet on object storage (push);
 * the generation published in @generation_ret when not NULL. */
int tsm_remote_publish_to(struct tsm_store *store, struct tsm_s3 *s3, int64_t *generation_ret);
/* packs/pack-NNNNNNNN.pack: a pack's object key, and its path in the
 * writer's store. */
void tsm_remote_pack_key(int64_t id, char key[48]);

/* Frontend: reads one chunk (through the cache) into @out, checked
 * against its SHA-256.  -ENOENT when its pack object is gone (gc moved
 * it: the caller looks it up again), -EIO otherwise. */
int tsm_remote_chunk_read(struct tsm_store *store, const struct tsm_chunk_loc *loc, uint8_t *out,
			  uint8_t *scratch);

/* Frontend: where a raw chunk's bytes lie in a cache file already
 * checked as it is, or in the growing file of a stream that has checked
 * it (waiting for the stream's check to pass it, as a read would), for a
 * reply that reads them without a copy: the descriptor stays open until
 * tsm_remote_reads_done().  -EAGAIN when the chunk must go through
 * tsm_remote_chunk_read() (not cached, compressed, not checked in that
 * file, or due to be marked recently used). */
int tsm_remote_chunk_map(struct tsm_store *store, const struct tsm_chunk_loc *loc,
			 uint32_t in_chunk, size_t len, int *fd_ret, uint64_t *pos_ret);
/* Closes the descriptors tsm_remote_chunk_map() lent. */
void tsm_remote_reads_done(struct tsm_store *store);

/* Writer's gc: what unexpired frontend leases still name is kept (added to
 * the pins); leases expired longer than @grace ago are deleted. */
struct tsm_pinned;
int tsm_remote_leases_collect(struct tsm_store *store, int64_t grace, struct tsm_pinned *pinned);
/* Writer's gc, after the local one: pack objects no catalog row names are
 * deleted once they have been unnamed for @grace seconds. */
int tsm_remote_gc(struct tsm_store *store, int64_t grace, struct tsm_gc_result *res);
/* Writer's verify: every pack object has the size and MD5 of its local
 * pack; a different one is named and counted in @bad_ret. */
int tsm_remote_verify(struct tsm_store *store, uint64_t *checked_ret, uint64_t *bad_ret);

/* catalog/CURRENT: "tsmedia-catalog 1\ngeneration N\nsha256 HEX\nsize N\n".
 * Exposed for the fuzz harness. */
struct tsm_remote_current {
	int64_t generation;
	uint8_t sha256[32];
	uint64_t size;
};
int tsm_remote_current_parse(const char *text, size_t len, struct tsm_remote_current *cur);
/* A lease (leases/ID): header lines, then pin lines. */
struct tsm_remote_lease {
	char frontend[64];
	int64_t generation, renewed, expires;
	uint64_t cache_bytes, cache_limit;
};
int tsm_remote_lease_parse(const char *text, size_t len, struct tsm_remote_lease *lease,
			   struct tsm_pinned *pinned);

#endif
