/* tsmediafs -o metrics=ADDRESS:PORT: Prometheus metrics over HTTP.
 *
 * The counters the FUSE threads bump are atomics (relaxed: each is a
 * count on its own, read whole by a scrape); nothing on the read path
 * takes a lock.  Per-file counters live in an append-only list under
 * m->lock, taken only when a node is made and when a scrape walks it:
 * a node keeps a pointer to its file's counters, which live as long as
 * the daemon (a file's counters go on across snapshots of its media).
 * Gauges (snapshots, pins, open files) are counted from the node list,
 * under fs->lock, when scraped.  libmicrohttpd's thread serves requests. */
#ifndef TSMEDIA_FS_METRICS_H
#define TSMEDIA_FS_METRICS_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

struct fs;

struct fs_file_stats {
	char *file;  /* the file's name on the mount: NAME.iso, NAME.2.iso ... */
	char *media; /* its media's name */
	_Atomic uint64_t opens, reads, bytes, errors;
	struct fs_file_stats *next;
};

/* Upper bounds of the read latency histogram's buckets, in seconds (the
 * last bucket, +Inf, is implied). */
#define FS_LATENCY_BUCKETS 15

struct fs_metrics;

/* Parses ADDRESS:PORT (an IPv4 address, or [IPv6]:PORT) and binds and
 * listens there now, so a bad address or a port in use is an error before
 * the mount.  Fills *metrics_ret; 0 or a negative errno (reported). */
int fs_metrics_new(const char *spec, struct fs_metrics **metrics_ret);
/* Serves /metrics on the socket (after the daemon has detached). */
int fs_metrics_start(struct fs *fs);
void fs_metrics_stop(struct fs_metrics *m);
void fs_metrics_free(struct fs_metrics *m);

/* The counters of file @file of media @media (made on first use); NULL
 * when @m is NULL or memory ran out (the file is then not counted). */
struct fs_file_stats *fs_metrics_file(struct fs_metrics *m, const char *file, const char *media);

/* CLOCK_MONOTONIC in nanoseconds, where a read starts. */
uint64_t fs_metrics_now_ns(void);
/* A read of @f that started at @start_ns returned @result bytes (or a
 * negative errno). */
void fs_metrics_read_done(struct fs_metrics *m, struct fs_file_stats *f, uint64_t start_ns,
			  ssize_t result);
void fs_metrics_opened(struct fs_file_stats *f);
/* The catalog was read again after a change. */
void fs_metrics_refreshed(struct fs_metrics *m);

#endif
