/* What the unit tests of the store share: a store in a directory of its own
 * under /tmp, removed again, pseudo-random bytes, files, and the chunks of an
 * imported file (tests/unit/unit_store.c). */
#ifndef TSMEDIA_TEST_UNIT_STORE_H
#define TSMEDIA_TEST_UNIT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store_internal.h"
#include "tsmedia/store.h"

/* A new directory /tmp/tsm-@tag-XXXXXX in @root, a store made with @opts in
 * its store/ (@dir), opened in *@store_ret; fails the test otherwise. */
void unit_store_create(const char *tag, const struct tsm_store_init_options *opts, char root[64],
		       char dir[96], struct tsm_store **store_ret);

/* Closes @store and removes @root with all in it: 0, or -1 (what a cmocka
 * teardown returns) when it could not be removed. */
int unit_store_remove(struct tsm_store *store, const char *root);

/* @n bytes of a 32-bit linear congruential sequence from @seed. */
void unit_fill32(uint8_t *p, size_t n, uint32_t seed);
/* @n bytes of a 64-bit linear congruential sequence from @seed. */
void unit_fill64(uint8_t *p, size_t n, uint64_t seed);

/* Writes @len bytes at @data to a new file @path (mode 0644). */
void unit_write_file(const char *path, const uint8_t *data, size_t len);

/* The blob of the tree entry @path (the only one of that path in @store). */
int64_t unit_blob_of(struct tsm_store *store, const char *path);

/* The chunks of @blob, in order, into @locs (room for @max): their count. */
size_t unit_blob_chunks(struct tsm_store *store, int64_t blob, struct tsm_chunk_loc *locs,
			size_t max);

#endif
