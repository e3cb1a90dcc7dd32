/* Pack files: chunk payloads appended one after another, nothing else.
 * The catalog says where each chunk is; a pack holds no index of its own,
 * so bytes that no catalog row points to are garbage for gc. */
#ifndef TSMEDIA_PACK_H
#define TSMEDIA_PACK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

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

/* What tells one state of a pack file from another: the file (device,
 * inode), its size, its mtime and its ctime.  The ctime is there because
 * no user call can set it back (utimensat sets mtime, not ctime): a pack
 * rewritten in place at the same size with its mtime put back (touch -d)
 * still shows as changed.  Its clock is the kernel's coarse one, so a
 * change within the same tick as the file's previous change is not seen;
 * packs are not written once committed, so that is a change made
 * within a few milliseconds of the pack's last append. */
struct tsm_pack_identity {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};
/* Inline: pack.c and verified.c both use them, and pack.c calls verified.c. */
static inline void tsm_pack_identity_set(struct tsm_pack_identity *id, const struct stat *st)
{
	id->dev = st->st_dev;
	id->ino = st->st_ino;
	id->size = st->st_size;
	id->mtime = st->st_mtim;
	id->ctime = st->st_ctim;
}

static inline bool tsm_pack_identity_same(const struct tsm_pack_identity *id,
					  const struct stat *st)
{
	return id->dev == st->st_dev && id->ino == st->st_ino && id->size == st->st_size &&
	       id->mtime.tv_sec == st->st_mtim.tv_sec && id->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       id->ctime.tv_sec == st->st_ctim.tv_sec && id->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

/* An open pack and the identity of the file it was when last looked at.
 * @gen names that identity process-wide (verified.c): a chunk checked in
 * one generation is read unchecked only while the file is still that
 * file, in that state. */
struct tsm_pack_file {
	int64_t id;
	int fd;
	struct tsm_pack_identity ident;
	uint64_t size; /* ident.size, for the readers' bounds checks */
	uint32_t gen;
	uint64_t last_use;
};

/* Read descriptors, by pack id, at most TSM_PACK_CACHE_MAX per handle.
 * Each use checks the file again (one fstat): a pack gc removed (unlinked)
 * is closed, so its space comes back, and the chunk is looked up again; a
 * pack written to or replaced gets a new generation, so its chunks are
 * checked again.  Descriptors handed out by tsm_blob_reader_map() stay
 * open until tsm_store_reads_done(). */
#define TSM_PACK_CACHE_MAX 64
struct tsm_pack_cache {
	/* Taken by the owning thread in each call, and by
	 * tsm_store_sweep_removed_packs() from another thread, which touches a
	 * cache only when it is not busy. */
	pthread_mutex_t lock;
	bool registered;
	bool busy;     /* used since the last tsm_store_reads_done */
	bool lent;     /* a descriptor went out through tsm_blob_reader_map */
	struct tsm_pack_file *entries;
	size_t n, cap;
	uint64_t clock;
	int *retired;  /* closed at tsm_store_reads_done */
	size_t nretired, cap_retired;
	struct tsm_pack_cache *next; /* every registered cache of the process */
};

/* Formats "pack-00000012.pack" into @buf. */
void tsm_pack_name(int64_t pack_id, char buf[32]);

int tsm_pack_append(struct tsm_store *store, const void *data, size_t len,
		    int64_t *pack_ret, uint64_t *offset_ret);

/* Bytes placed in a pack and written later (tsm_pack_reserve), by any
 * thread: @fd stays open until the session commits or aborts, and every
 * reserved byte must be written before it does. */
struct tsm_pack_write {
	int fd;
	int64_t pack;
	uint64_t offset;
	const uint8_t *data;
	size_t len;
};

/* Room for @len bytes at the end of the pack being written: where they
 * go, in @write_ret (its @data left to the caller).  Write session only,
 * on the thread that owns it. */
int tsm_pack_reserve(struct tsm_store *store, size_t len, struct tsm_pack_write *write_ret);
/* pwritev() of @iov (changed on the way) at @offset of @fd, whole: 0 or a
 * negative errno.  Thread-safe; reports nothing. */
int tsm_pack_write_at(int fd, struct iovec *iov, int iovcnt, uint64_t offset);
/* "writing DIR/packs/NAME: ERROR", for a failed write to @pack. */
void tsm_pack_write_report(struct tsm_store *store, int64_t pack, int err);
int tsm_pack_writer_sync(struct tsm_store *store);
void tsm_pack_writer_rollback(struct tsm_store *store);
void tsm_pack_writer_reset(struct tsm_store *store);

/* The open pack @pack_id, checked against its file now (owned by the
 * cache; valid until the next call), or -ENOENT when it is gone. */
int tsm_pack_cache_get(struct tsm_store *store, int64_t pack_id,
		       const struct tsm_pack_file **pack_ret);
/* Its descriptor alone. */
int tsm_pack_cache_fd(struct tsm_store *store, int64_t pack_id);
void tsm_pack_cache_forget(struct tsm_store *store, int64_t pack_id);
void tsm_pack_cache_init(struct tsm_pack_cache *cache);
void tsm_pack_cache_close(struct tsm_pack_cache *cache);

#endif
