/* Decompressed chunks kept warm.
 *
 * A chunk stored compressed is decompressed by every read of it; a served
 * image reads the same chunk again for the next request that touches it,
 * on another of the mount's threads, and a file of repeated content (a
 * log, a WIM's padding) names one chunk over and over.  This cache keeps
 * the bytes of recently read compressed chunks, after their SHA-256 matched,
 * up to a number of bytes (tsm_chunk_cache_set_limit: tsmediafs
 * -o chunk_cache=SIZE; by default 1/64 of the machine's memory, between 16
 * and 64 MiB, since it counts in the daemon's memory).  Raw chunks are never
 * kept: they are read from their pack.
 *
 * Safety.  An entry is used only while the reader's own look at the pack
 * file finds the chunk checked in that file as it is now
 * (tsm_chunk_is_checked, the rule raw chunks are served by): bytes that
 * matched the chunk's SHA-256 are the chunk's bytes, and a pack written to,
 * truncated, replaced or found damaged by the scrub makes the reader read
 * and check the chunk again, as it would without the cache.  An entry also
 * carries the hash it matched, so it is never taken for another chunk.
 *
 * Threads.  One cache per verified map (per store directory per process),
 * shared by every handle: @lock guards the table, the list and the counts.
 * An entry is reference-counted: a reader copies from it outside the lock;
 * an entry evicted meanwhile is freed by its last reader. */
#include "store/store_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BUCKETS 4096u
#define LIMIT_MIN (16ull << 20)
#define LIMIT_MAX (64ull << 20)

struct tsm_cached_chunk {
	int64_t id;
	uint8_t hash[TSM_SHA256_LEN];
	uint32_t size;
	int refs;    /* the table's while listed, and each reader's */
	struct tsm_cached_chunk *hnext;       /* bucket chain */
	struct tsm_cached_chunk *prev, *next; /* most recently used first */
	uint8_t bytes[];
};

struct tsm_chunk_cache {
	pthread_mutex_t lock;
	uint64_t limit, used;
	struct tsm_cached_chunk *buckets[BUCKETS];
	struct tsm_cached_chunk *head, *tail;
	uint64_t hits, misses;
};

/* UINT64_MAX: not set, the default applies. */
static _Atomic uint64_t limit_set = UINT64_MAX;

void tsm_chunk_cache_set_limit(uint64_t bytes)
{
	atomic_store(&limit_set, bytes);
}

uint64_t tsm_chunk_cache_limit(void)
{
	uint64_t set = atomic_load(&limit_set);
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	uint64_t ram, limit;

	if (set != UINT64_MAX)
		return set;
	ram = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
	limit = ram / 64;
	return limit < LIMIT_MIN ? LIMIT_MIN : limit > LIMIT_MAX ? LIMIT_MAX : limit;
}

struct tsm_chunk_cache *tsm_chunk_cache_new(void)
{
	struct tsm_chunk_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->limit = tsm_chunk_cache_limit();
	return c;
}

void tsm_chunk_cache_free(struct tsm_chunk_cache *c)
{
	if (!c)
		return;
	/* The last handle of the directory is gone: no reader holds an entry. */
	for (struct tsm_cached_chunk *e = c->head, *next; e; e = next) {
		next = e->next;
		free(e);
	}
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static size_t bucket_of(int64_t id)
{
	return (size_t)((uint64_t)id * 0x9E3779B97F4A7C15ull >> 52) & (BUCKETS - 1);
}

/* Under c->lock: off the table and the list, the table's reference dropped. */
static void entry_unlist(struct tsm_chunk_cache *c, struct tsm_cached_chunk *e)
{
	struct tsm_cached_chunk **p = &c->buckets[bucket_of(e->id)];

	while (*p != e)
		p = &(*p)->hnext;
	*p = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	c->used -= e->size;
	if (--e->refs == 0)
		free(e);
}

static void entry_to_front(struct tsm_chunk_cache *c, struct tsm_cached_chunk *e)
{
	if (c->head == e)
		return;
	e->prev->next = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = NULL;
	e->next = c->head;
	c->head->prev = e;
	c->head = e;
}

static struct tsm_cached_chunk *entry_find(struct tsm_chunk_cache *c,
					   const struct tsm_chunk_loc *loc)
{
	for (struct tsm_cached_chunk *e = c->buckets[bucket_of(loc->id)]; e; e = e->hnext)
		if (e->id == loc->id)
			return e;
	return NULL;
}

struct tsm_cached_chunk *tsm_chunk_cache_get(struct tsm_chunk_cache *c,
					     const struct tsm_chunk_loc *loc)
{
	struct tsm_cached_chunk *e;

	if (!c)
		return NULL;
	pthread_mutex_lock(&c->lock);
	e = entry_find(c, loc);
	if (e && (e->size != loc->size || memcmp(e->hash, loc->hash, TSM_SHA256_LEN) != 0))
		e = NULL;
	if (e) {
		e->refs++;
		entry_to_front(c, e);
		c->hits++;
	} else {
		c->misses++;
	}
	pthread_mutex_unlock(&c->lock);
	return e;
}

const uint8_t *tsm_cached_chunk_bytes(const struct tsm_cached_chunk *e)
{
	return e->bytes;
}

void tsm_chunk_cache_release(struct tsm_chunk_cache *c, struct tsm_cached_chunk *e)
{
	if (!e)
		return;
	pthread_mutex_lock(&c->lock);
	if (--e->refs == 0)
		free(e);
	pthread_mutex_unlock(&c->lock);
}

void tsm_chunk_cache_add(struct tsm_chunk_cache *c, const struct tsm_chunk_loc *loc,
			 const uint8_t *bytes)
{
	struct tsm_cached_chunk *e, *old;

	/* A chunk bigger than a quarter of the cache would push out too much. */
	if (!c || loc->size == 0 || loc->size > c->limit / 4)
		return;
	if (!(e = malloc(sizeof(*e) + loc->size)))
		return;
	e->id = loc->id;
	memcpy(e->hash, loc->hash, TSM_SHA256_LEN);
	e->size = loc->size;
	e->refs = 1;
	memcpy(e->bytes, bytes, loc->size);
	pthread_mutex_lock(&c->lock);
	if ((old = entry_find(c, loc)))
		entry_unlist(c, old); /* another thread put it in meanwhile */
	while (c->tail && c->used + e->size > c->limit)
		entry_unlist(c, c->tail);
	e->hnext = c->buckets[bucket_of(e->id)];
	c->buckets[bucket_of(e->id)] = e;
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	else
		c->tail = e;
	c->head = e;
	c->used += e->size;
	pthread_mutex_unlock(&c->lock);
}

void tsm_chunk_cache_stats(struct tsm_chunk_cache *c, struct tsm_chunk_cache_stats *stats_ret)
{
	memset(stats_ret, 0, sizeof(*stats_ret));
	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	stats_ret->limit = c->limit;
	stats_ret->used = c->used;
	stats_ret->hits = c->hits;
	stats_ret->misses = c->misses;
	pthread_mutex_unlock(&c->lock);
}
