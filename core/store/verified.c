/* Which chunks this process has checked, and where.
 *
 * A chunk is checked against its SHA-256 the first time it is read from a
 * pack; after that, reads of it from the same pack go straight to the
 * pack file (no hashing, no copy through a cache).  The map is shared by
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
	uint32_t *pages[MAX_PAGES]; /* entry: pack id the chunk was checked in, 0: none */
	struct tsm_verified_map *next;
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
		free(map);
	}
	pthread_mutex_unlock(&maps_lock);
}

bool tsm_verified_check(const struct tsm_verified_map *map, int64_t chunk_id, int64_t pack_id)
{
	uint32_t *page;

	if (!map || chunk_id < 0 || (uint64_t)chunk_id >= (uint64_t)MAX_PAGES * PAGE_ENTRIES)
		return false;
	page = __atomic_load_n(&map->pages[chunk_id >> PAGE_BITS], __ATOMIC_ACQUIRE);
	return page && __atomic_load_n(&page[chunk_id & (PAGE_ENTRIES - 1)], __ATOMIC_RELAXED) ==
			       (uint32_t)pack_id;
}

void tsm_verified_mark(struct tsm_verified_map *map, int64_t chunk_id, int64_t pack_id)
{
	uint32_t **slot, *page, *fresh;

	if (!map || chunk_id < 0 || (uint64_t)chunk_id >= (uint64_t)MAX_PAGES * PAGE_ENTRIES)
		return;
	slot = &map->pages[chunk_id >> PAGE_BITS];
	page = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
	if (!page) {
		if (!(fresh = calloc(PAGE_ENTRIES, sizeof(*fresh))))
			return;
		page = NULL;
		if (!__atomic_compare_exchange_n(slot, &page, fresh, false, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			free(fresh); /* another thread made it: @page holds theirs */
		else
			page = fresh;
	}
	__atomic_store_n(&page[chunk_id & (PAGE_ENTRIES - 1)], (uint32_t)pack_id, __ATOMIC_RELAXED);
}
