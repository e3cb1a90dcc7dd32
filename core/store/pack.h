/* Pack files: chunk payloads appended one after another, nothing else.
 * The catalog says where each chunk is; a pack holds no index of its own,
 * so bytes that no catalog row points to are garbage for gc. */
#ifndef TSMEDIA_PACK_H
#define TSMEDIA_PACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tsm_store;

/* Packs appended to in one write session: what commit fsyncs and abort
 * undoes. */
struct tsm_pack_touched {
	int64_t id;
	int fd;
	uint64_t start_size; /* size before this session */
	bool created;        /* made by this session: abort unlinks it */
};

struct tsm_pack_writer {
	struct tsm_pack_touched *touched;
	size_t n_touched, cap_touched;
	int64_t current;   /* index into touched of the pack being appended, or -1 */
	uint64_t size;     /* current pack's size */
	bool fresh_only;   /* never append to an existing pack (gc compaction) */
};

/* Read descriptors, by pack id.  Reading from a pack gc has since
 * replaced is fine: its bytes are still right, and still checked. */
struct tsm_pack_cache {
	struct {
		int64_t id;
		int fd;
	} *entries;
	size_t n, cap;
};

int tsm_pack_append(struct tsm_store *store, const void *data, size_t len,
		    int64_t *pack_ret, uint64_t *offset_ret);
int tsm_pack_writer_sync(struct tsm_store *store);
void tsm_pack_writer_rollback(struct tsm_store *store);
void tsm_pack_writer_reset(struct tsm_store *store);

/* Returns a read fd for @pack_id (owned by the cache), or -ENOENT. */
int tsm_pack_cache_fd(struct tsm_store *store, int64_t pack_id);
void tsm_pack_cache_forget(struct tsm_store *store, int64_t pack_id);
void tsm_pack_cache_close(struct tsm_pack_cache *cache);

#endif
