/* The cache of decompressed chunks (core/store/chunk_cache.c):
 *  - a file whose content repeats is decompressed once per distinct chunk,
 *    and every later occurrence comes from the cache, with the right bytes;
 *  - the cache never holds more than its limit, and a limit of 0 keeps
 *    nothing (the bytes still read right);
 *  - a compressed chunk damaged in its pack after it was cached is EIO to
 *    the next reader, never the cached bytes nor the damaged ones: an
 *    entry is served only while the chunk is checked in its pack file as
 *    it is now.
 * TSMEDIA_THREADS=1: no verify-ahead worker, so the counts are exact. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store_internal.h"
#include "tsmedia/content.h"
#include "tsmedia/store.h"
#include "unit_store.h"

#define PART_LEN (3u << 20)
#define X_LEN (3 * PART_LEN) /* the same 3 MiB three times */
#define STEP (1u << 20)

struct fixture {
	char root[64];
	char dir[96];
	struct tsm_store *store;
	uint8_t *x;
	int64_t blob;
	struct tsm_chunk_loc *locs; /* x.bin's chunks in order, repeats included */
	size_t nchunks;
	size_t distinct; /* distinct chunk ids among them */
};

static void fill(uint8_t *p, size_t n, uint64_t seed)
{
	unit_fill64(p, n, seed);
	for (size_t i = 0; i < n; i++)
		p[i] &= 0x0f; /* half of it compresses away */
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct tsm_store_init_options opts = { .compression = TSM_COMPRESSION_ZSTD };
	struct tsm_content_add_options o = { .kind = TSM_KIND_PACKAGE, .name = "x.bin" };
	struct tsm_content_add_result res;
	char tree[128], path[192];

	assert_non_null(f);
	unit_store_create("chunk-cache", &opts, f->root, f->dir, &f->store);
	assert_non_null(f->x = malloc(X_LEN));
	fill(f->x, PART_LEN, 1);
	memcpy(f->x + PART_LEN, f->x, PART_LEN);
	memcpy(f->x + 2 * PART_LEN, f->x, PART_LEN);
	snprintf(tree, sizeof(tree), "%s/x", f->root);
	assert_int_equal(mkdir(tree, 0755), 0);
	snprintf(path, sizeof(path), "%s/x.bin", tree);
	unit_write_file(path, f->x, X_LEN);
	o.source = tree;
	assert_int_equal(tsm_content_add(f->store, &o, &res), 0);

	f->blob = unit_blob_of(f->store, "x.bin");
	assert_non_null(f->locs = calloc(X_LEN / TSM_CHUNK_MIN + 1, sizeof(*f->locs)));
	f->nchunks = unit_blob_chunks(f->store, f->blob, f->locs, X_LEN / TSM_CHUNK_MIN + 1);
	for (size_t i = 0; i < f->nchunks; i++)
		assert_true(f->locs[i].codec == TSM_COMPRESSION_ZSTD);
	for (size_t i = 0; i < f->nchunks; i++) {
		bool seen = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = f->locs[j].id == f->locs[i].id;
		f->distinct += !seen;
	}
	/* The content repeats: most chunks are named more than once. */
	assert_true(f->nchunks > 20);
	assert_true(f->distinct < f->nchunks * 2 / 3);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	int rc = unit_store_remove(f->store, f->root);

	tsm_chunk_cache_set_limit(UINT64_MAX); /* back to the default */
	if (rc != 0)
		return -1;
	free(f->x);
	free(f->locs);
	free(f);
	return 0;
}

/* Reads x.bin through a new reader in 1 MiB steps: 0, or the first error. */
static ssize_t read_all(struct fixture *f)
{
	static uint8_t buf[STEP];
	struct tsm_blob_reader *r;
	ssize_t rc = 0;

	assert_int_equal(tsm_blob_reader_open(f->store, f->blob, &r), 0);
	for (uint64_t off = 0; off < X_LEN && rc == 0; off += STEP) {
		ssize_t got = tsm_blob_reader_pread(r, buf, STEP, off);

		if (got < 0) {
			rc = got;
			break;
		}
		assert_int_equal(got, STEP);
		assert_memory_equal(buf, f->x + off, STEP);
	}
	tsm_blob_reader_close(r);
	return rc;
}

static void stats(struct fixture *f, struct tsm_chunk_cache_stats *st)
{
	struct tsm_chunk_cache *cache = tsm_verified_chunk_cache(f->store->verified);

	assert_non_null(cache);
	tsm_chunk_cache_stats(cache, st);
}

static void test_repeats_decompressed_once(void **state)
{
	struct fixture *f = *state;
	struct tsm_chunk_cache_stats st;

	assert_int_equal(read_all(f), 0);
	stats(f, &st);
	/* Every distinct chunk missed once, then was put in; every later
	 * occurrence was found there. */
	assert_int_equal(st.misses, f->distinct);
	assert_true(st.hits >= f->nchunks - f->distinct);
	assert_true(st.used > 0 && st.used <= st.limit);
	/* A second reader finds them all. */
	assert_int_equal(read_all(f), 0);
	stats(f, &st);
	assert_int_equal(st.misses, f->distinct);
	assert_true(st.hits >= 2 * f->nchunks - f->distinct);
}

static void test_bounded(void **state)
{
	struct fixture *f = *state;
	struct tsm_chunk_cache_stats st;

	/* A new limit applies to the caches made after it: reopen. */
	tsm_store_close(f->store);
	tsm_chunk_cache_set_limit(1u << 20);
	assert_int_equal(tsm_store_open(f->dir, &f->store), 0);
	assert_int_equal(read_all(f), 0);
	stats(f, &st);
	assert_int_equal(st.limit, 1u << 20);
	assert_true(st.used > 0 && st.used <= st.limit);
	/* Too small to hold a pass: chunks are decompressed again. */
	assert_true(st.misses > f->distinct);

	tsm_store_close(f->store);
	tsm_chunk_cache_set_limit(0);
	assert_int_equal(tsm_store_open(f->dir, &f->store), 0);
	assert_int_equal(read_all(f), 0);
	stats(f, &st);
	assert_int_equal(st.used, 0);
	assert_int_equal(st.hits, 0);
}

static void test_damaged_after_cached_is_eio(void **state)
{
	struct fixture *f = *state;
	const struct tsm_chunk_loc *loc = &f->locs[f->nchunks / 2];
	struct tsm_chunk_cache_stats before;
	char path[160];
	uint8_t junk[64];
	int fd;

	assert_int_equal(read_all(f), 0); /* every chunk cached */
	stats(f, &before);
	assert_true(before.used >= loc->size);
	/* In place, after a tick of the ctime clock: the pack's identity
	 * changes, so what was checked in it is no longer. */
	nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
	snprintf(path, sizeof(path), "%s/packs/pack-%08lld.pack", f->dir, (long long)loc->pack);
	memset(junk, 0x5a, sizeof(junk));
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, junk, sizeof(junk), (off_t)(loc->offset + loc->stored_size / 2)),
			 (ssize_t)sizeof(junk));
	close(fd);
	/* read_all checks every byte it gets: the first error must be EIO,
	 * and no step before it may have held wrong bytes. */
	assert_int_equal(read_all(f), -EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_repeats_decompressed_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_after_cached_is_eio, setup, teardown),
	};

	setenv("TSMEDIA_THREADS", "1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
