/* tsmediafs: the FUSE daemon's state.
 *
 * Every media volume the catalog defines is a file in the mount's root,
 * following the media's newest snapshot; every numbered snapshot the store
 * keeps is also under versions/NAME/N/, where nothing ever changes (a
 * directory per snapshot, its files with the snapshot's time, gone when gc
 * lets the snapshot go).  An inode is one *snapshot* of a volume (media version + the content
 * versions it resolved to): when a media or its content changes, its file
 * name points at a new inode, and the kernel is told to forget the old
 * name.  A file opened before keeps its inode, so it keeps reading exactly
 * the bytes it opened, and the kernel's page cache never mixes two
 * versions.  An open handle pins its snapshot in the store (gc keeps it).
 *
 * Threads: libfuse's worker threads run the operations; the watcher
 * thread polls the catalog, sends invalidations and, once a second, closes
 * packs gc removed; the scrub thread (-o scrub=) checks every pack on its
 * schedule; the metrics server's thread (-o metrics=, metrics.h) reads the
 * counters and, under fs->lock, the node list.  fs->lock protects the node list, every node's counters and
 * every fs_snap's refs, ncurrent and listing_pin; a node's image and
 * snapshot are immutable once published.  Each thread has its own store
 * handle. */
#ifndef TSMEDIA_FS_H
#define TSMEDIA_FS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct tsm_store;
struct tsm_image;
struct tsm_media_snapshot;
struct tsm_pin;
struct fs_metrics;
struct fs_file_stats;

struct fs_snap {
	int refs; /* under fs->lock */
	struct tsm_media_snapshot *snap; /* unpinned; what an open pins again */
	/* Held while the directory names one of its nodes (and from before it
	 * is laid out): gc never removes a version the listing shows. */
	struct tsm_pin *listing_pin;
	unsigned ncurrent; /* its nodes that are current */
};

/* A file (a volume of a snapshot) or a directory (versions/, versions/NAME/,
 * versions/NAME/N/); the root is no node. */
struct fs_node {
	fuse_ino_t ino;
	fuse_ino_t parent;
	bool is_dir;
	char *file_name;
	char *media;       /* the media it belongs to; NULL for versions/ */
	struct fs_snap *snap;  /* files and versions/NAME/N/ */
	struct tsm_image *image; /* files */
	uint64_t size;
	int64_t mtime;     /* the media version's creation time */
	uint64_t nlookup;  /* the kernel's references */
	unsigned nopen;    /* open handles */
	bool current;      /* the directory names it now */
	unsigned holds;    /* refreshes that will publish it (not freed meanwhile) */
	struct fs_file_stats *stats; /* -o metrics: its file's counters, or NULL */
	struct fs_node *next;
};

struct fs_handle {
	struct fs_node *node;
	struct tsm_pin *pin;
};

struct fs {
	char *store_dir;
	struct fuse_session *se;
	pthread_mutex_t lock;
	struct fs_node *nodes;
	fuse_ino_t next_ino;
	int64_t dir_mtime;

	/* Refreshing from the catalog: one at a time. */
	pthread_mutex_t refresh_lock;
	struct tsm_store *refresh_store;
	int64_t data_version;
	bool refreshed_once;
	/* A refresh that could not add every media is retried (the catalog
	 * it read is not marked seen), after a delay that grows to 30 s. */
	bool retry_pending;
	int64_t retry_version; /* the data_version that failed */
	int64_t retry_at_ms; /* CLOCK_MONOTONIC */
	int64_t retry_delay_ms;

	/* versions/: always there, never freed before the end. */
	struct fs_node *versions_dir;

	/* Names whose dentries the kernel must drop; sent by the watcher. */
	struct fs_stale {
		fuse_ino_t parent;
		char *name;
	} *stale;
	size_t nstale;
	bool dir_changed;
	pthread_cond_t wake;
	bool stopping;
	pthread_t watcher;

	/* -o scrub=INTERVAL: every pack checked every INTERVAL seconds. */
	int64_t scrub_interval;
	pthread_t scrubber;
	pthread_cond_t scrub_wake;
	bool scrub_running, scrub_stopping;

	/* -o metrics=ADDRESS:PORT, or NULL. */
	struct fs_metrics *metrics;

	bool direct_io;    /* open files bypass the page cache (default) */
	size_t pipe_max;   /* the largest pipe this process may have (fs_probe_pipe) */
	bool remote;       /* a frontend of a store on object storage: the watcher
	                    * polls its catalog and renews its lease */
	pthread_key_t thread_key;
	uid_t uid;
	gid_t gid;
};

/* Per worker thread: a store handle and a blob source over it. */
struct fs_thread {
	struct tsm_store *store;
	struct tsm_blob_source *source;
	uint8_t *buf;
	size_t bufsize;
	struct fuse_bufvec *bufv; /* room for MAX_PIECES buffers */
};

struct fs_thread *fs_thread_get(struct fs *fs);

/* Re-reads the catalog when it changed; publishes new nodes, retires
 * replaced ones and queues their names for invalidation. */
int fs_refresh(struct fs *fs);
int fs_watcher_start(struct fs *fs);
void fs_watcher_stop(struct fs *fs);
int fs_scrub_start(struct fs *fs);
void fs_scrub_stop(struct fs *fs);

/* Under fs->lock. */
struct fs_node *fs_node_by_ino(struct fs *fs, fuse_ino_t ino);
/* The current child @name of directory @parent (FUSE_ROOT_ID or a
 * directory node). */
struct fs_node *fs_node_by_name(struct fs *fs, fuse_ino_t parent, const char *name);
/* versions/, made once before the first refresh. */
int fs_versions_dir_create(struct fs *fs);
void fs_node_maybe_free(struct fs *fs, struct fs_node *node);
void fs_nodes_free_all(struct fs *fs);

/* Sets fs->pipe_max: whether a read's reply can be spliced (ops.c). */
void fs_probe_pipe(struct fs *fs);

extern const struct fuse_lowlevel_ops fs_ops;

#endif
