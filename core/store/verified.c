/* Which chunks this process has checked, and in which pack file.
 *
 * A chunk is checked against its SHA-256 the first time it is read from a
 * pack file; after that, reads of it go straight to the pack file (no
 * hashing, no copy through a cache) for as long as that file is the same
 * file: same device and inode, size, mtime and ctime (struct
 * tsm_pack_identity, pack.h).  Each such identity of a
 * pack gets a generation number, and a chunk's entry holds the generation
 * it was checked in; a pack written to, truncated or replaced gets a new
 * one, so every chunk in it is checked again.  Damage that changes none of
 * these (a failing disk) is found by the scrub (tsm_store_verify_packs),
 * which clears the entry.  The map is shared by
 * every handle of a store in the process (the mount's worker threads)
 * and keyed by the store directory's identity.  Lock-free reads. */
#include "store/store_internal.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/stat.h>

#define PAGE_BITS 16
#define PAGE_ENTRIES (1u << PAGE_BITS)
#define MAX_PAGES (1u << 16) /* chunk ids below 2^32 */

struct tsm_verified_map {
	dev_t dev;
	ino_t ino;
	int refs;
	uint32_t *pages[MAX_PAGES]; /* entry: generation the chunk was checked in, 0: none */
	struct tsm_verified_map *next;

	/* Pack file identities and their generations (under maps_lock). */
	struct pack_gen {
		int64_t pack_id;
		struct tsm_pack_identity ident;
		uint32_t gen;
	} *gens;
	size_t ngens, cap_gens;
	uint32_t last_gen;

	struct tsm_chunk_cache *chunks; /* chunk_cache.c; NULL when out of memory */
};

static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tsm_verified_map *maps;

struct tsm_verified_map *tsm_verified_map_get(int dir_fd)
{
	struct tsm_verified_map *m;
	struct stat st;

	if (fstat(dir_fd, &st) < 0)
		return NULL;
	pthread_mutex_lock(&maps_lock);
	for (m = maps; m; m = m->next)
		if (m->dev == st.st_dev && m->ino == st.st_ino)
			break;
	if (!m && (m = calloc(1, sizeof(*m)))) {
		m->dev = st.st_dev;
		m->ino = st.st_ino;
		m->chunks = tsm_chunk_cache_new();
		m->next = maps;
		maps = m;
	}
	if (m)
		m->refs++;
	pthread_mutex_unlock(&maps_lock);
	return m;
}

void tsm_verified_map_put(struct tsm_verified_map *map)
{
	if (!map)
		return;
	pthread_mutex_lock(&maps_lock);
	if (--map->refs == 0) {
		for (struct tsm_verified_map **p = &maps; *p; p = &(*p)->next) {
			if (*p == map) {
				*p = map->next;
				break;
			}
		}
		for (size_t i = 0; i < MAX_PAGES; i++)
			free(map->pages[i]);
		free(map->gens);
		tsm_chunk_cache_free(map->chunks);
		free(map);
	}
	pthread_mutex_unlock(&maps_lock);
}

struct tsm_chunk_cache *tsm_verified_chunk_cache(struct tsm_verified_map *map)
{
	return map ? map->chunks : NULL;
}

uint32_t tsm_verified_pack_gen(struct tsm_verified_map *map, int64_t pack_id,
			       const struct stat *st)
{
	struct pack_gen *g = NULL;
	uint32_t gen;

	if (!map)
		return 1;
	pthread_mutex_lock(&maps_lock);
	for (size_t i = 0; i < map->ngens && !g; i++)
		if (map->gens[i].pack_id == pack_id)
			g = &map->gens[i];
	if (!g && map->ngens == map->cap_gens) {
		size_t cap = map->cap_gens ? 2 * map->cap_gens : 16;
		void *p = realloc(map->gens, cap * sizeof(*map->gens));

		if (p) {
			map->gens = p;
			map->cap_gens = cap;
		}
	}
	if (!g && map->ngens < map->cap_gens) {
		g = &map->gens[map->ngens++];
		g->pack_id = pack_id;
		g->gen = 0;
	}
	if (!g) {
		/* Out of memory: a generation nobody has checked anything in. */
		gen = ++map->last_gen ? map->last_gen : ++map->last_gen;
	} else {
		if (!g->gen || !tsm_pack_identity_same(&g->ident, st)) {
			tsm_pack_identity_set(&g->ident, st);
			/* 0 means "not checked"; 2^32 changes of pack files in one
			 * process's life wrap around, which is far off. */
			g->gen = ++map->last_gen ? map->last_gen : ++map->last_gen;
		}
		gen = g->gen;
	}
	pthread_mutex_unlock(&maps_lock);
	return gen;
}

bool tsm_verified_check(const struct tsm_verified_map *map, int64_t chunk_id, uint32_t gen)
{
	uint32_t *page;

	if (!map || chunk_id < 0 || (uint64_t)chunk_id >= (uint64_t)MAX_PAGES * PAGE_ENTRIES)
		return false;
	page = __atomic_load_n(&map->pages[chunk_id >> PAGE_BITS], __ATOMIC_ACQUIRE);
	return page && __atomic_load_n(&page[chunk_id & (PAGE_ENTRIES - 1)], __ATOMIC_RELAXED) ==
			       gen;
}

static void verified_store(struct tsm_verified_map *map, int64_t chunk_id, uint32_t value)
{
	uint32_t **slot, *page, *fresh;

	if (!map || chunk_id < 0 || (uint64_t)chunk_id >= (uint64_t)MAX_PAGES * PAGE_ENTRIES)
		return;
	slot = &map->pages[chunk_id >> PAGE_BITS];
	page = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (!page) {
		if (!value)
			return;
		if (!(fresh = calloc(PAGE_ENTRIES, sizeof(*fresh))))
			return;
		page = NULL;
		if (!__atomic_compare_exchange_n(slot, &page, fresh, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			free(fresh); /* another thread made it: @page holds theirs */
		else
			page = fresh;
	}
	__atomic_store_n(&page[chunk_id & (PAGE_ENTRIES - 1)], value, __ATOMIC_RELAXED);
}

void tsm_verified_mark(struct tsm_verified_map *map, int64_t chunk_id, uint32_t gen)
{
	verified_store(map, chunk_id, gen);
}

void tsm_verified_clear(struct tsm_verified_map *map, int64_t chunk_id)
{
	verified_store(map, chunk_id, 0);
}
