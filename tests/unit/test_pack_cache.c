/* The pack descriptor cache of a store handle (core/store/pack.c) and the
 * pack file identity that a chunk's checked state is tied to:
 *  - reading through more packs than TSM_PACK_CACHE_MAX keeps at most that
 *    many pack descriptors open (counted in /proc/self/fd), the most
 *    recently used ones;
 *  - a pack removed as gc removes it (unlinked) has its descriptor closed:
 *    at the next use, by the sweep, and after the reply that may still read
 *    from a lent descriptor;
 *  - a pack rewritten in place at the same size with its mtime put back
 *    (what touch -d does) is a new file state: its damaged chunk is EIO,
 *    never the damaged bytes, and verify --since checks it again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/store_internal.h"
#include "tsmedia/store.h"
#include "unit_store.h"

#define NPACKS (TSM_PACK_CACHE_MAX + 6)
#define BLOB_LEN 4096 /* under TSM_CHUNK_MIN: one chunk per blob */

struct fixture {
	char root[64];
	int npacks;
	struct tsm_store *store;
	int64_t blobs[NPACKS + 1]; /* blobs[p]: the one blob in pack p */
	uint8_t data[NPACKS + 1][BLOB_LEN];
};

/* One blob per write session, each in a pack of its own (fresh_only, as gc
 * writes its packs), so pack ids 1..@npacks hold blobs 1..@npacks. */
static int setup_packs(void **state, int npacks)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct tsm_store_init_options opts = { .compression = TSM_COMPRESSION_NONE };
	char dir[96];

	assert_non_null(f);
	unit_store_create("packcache", &opts, f->root, dir, &f->store);
	f->npacks = npacks;
	for (int p = 1; p <= npacks; p++) {
		struct tsm_chunk_loc loc;

		unit_fill32(f->data[p], BLOB_LEN, (uint32_t)p);
		assert_int_equal(tsm_store_write_begin(f->store), 0);
		f->store->writer.fresh_only = true;
		assert_int_equal(tsm_store_put_bytes(f->store, f->data[p], BLOB_LEN, "test blob",
						     &f->blobs[p]),
				 0);
		assert_int_equal(tsm_store_write_commit(f->store), 0);
		/* Its chunk is in pack p. */
		assert_int_equal(unit_blob_chunks(f->store, f->blobs[p], &loc, 1), 1);
		assert_int_equal(loc.pack, p);
	}
	*state = f;
	return 0;
}

/* Past the cache's cap, for the cap; a few for the rest (each commit syncs). */
static int setup_many(void **state) { return setup_packs(state, NPACKS); }
static int setup_few(void **state) { return setup_packs(state, 10); }

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (unit_store_remove(f->store, f->root) != 0)
		return -1;
	free(f);
	return 0;
}

/* Which packs of the store this process has open: open[p] is the count of
 * descriptors on pack p (removed ones included: "... (deleted)"). */
static int count_pack_fds(const struct fixture *f, int open[NPACKS + 1])
{
	char packs[96], target[512];
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int total = 0;

	assert_non_null(d);
	memset(open, 0, sizeof(int) * (NPACKS + 1));
	snprintf(packs, sizeof(packs), "%s/store/packs/pack-", f->root);
	while ((e = readdir(d))) {
		ssize_t n;
		long p;

		if (e->d_name[0] == '.')
			continue;
		n = readlinkat(dirfd(d), e->d_name, target, sizeof(target) - 1);
		if (n < 0)
			continue;
		target[n] = 0;
		if (strncmp(target, packs, strlen(packs)) != 0)
			continue;
		p = strtol(target + strlen(packs), NULL, 10);
		assert_true(p >= 1 && p <= NPACKS);
		open[p]++;
		total++;
	}
	closedir(d);
	return total;
}

static void read_blob(struct fixture *f, int p, int want_rc)
{
	struct tsm_blob_reader *r;
	uint8_t buf[BLOB_LEN];
	ssize_t got;

	assert_int_equal(tsm_blob_reader_open(f->store, f->blobs[p], &r), 0);
	got = tsm_blob_reader_pread(r, buf, BLOB_LEN, 0);
	if (want_rc < 0) {
		assert_int_equal(got, want_rc);
	} else {
		assert_int_equal(got, BLOB_LEN);
		assert_memory_equal(buf, f->data[p], BLOB_LEN);
	}
	tsm_blob_reader_close(r);
}

static void unlink_pack(struct fixture *f, int p)
{
	char path[128];

	snprintf(path, sizeof(path), "%s/store/packs/pack-%08d.pack", f->root, p);
	assert_int_equal(unlink(path), 0);
}

static void test_cache_cap(void **state)
{
	struct fixture *f = *state;
	int open[NPACKS + 1], total;

	assert_int_equal(count_pack_fds(f, open), 0); /* the writer closed its packs */
	for (int p = 1; p <= NPACKS; p++) {
		read_blob(f, p, 0);
		tsm_store_reads_done(f->store);
		total = count_pack_fds(f, open);
		/* Every pack read so far stays open up to the cap, never more. */
		assert_int_equal(total, p < TSM_PACK_CACHE_MAX ? p : TSM_PACK_CACHE_MAX);
		for (int q = 1; q <= p; q++)
			assert_int_equal(open[q], q > p - TSM_PACK_CACHE_MAX ? 1 : 0);
	}
	/* A pack used again moves to the front: pack 7 (the oldest open) read,
	 * then one that was closed (pack 1) reopened: pack 8 goes, not 7. */
	read_blob(f, NPACKS - TSM_PACK_CACHE_MAX + 1, 0);
	read_blob(f, 1, 0);
	tsm_store_reads_done(f->store);
	assert_int_equal(count_pack_fds(f, open), TSM_PACK_CACHE_MAX);
	assert_int_equal(open[1], 1);
	assert_int_equal(open[NPACKS - TSM_PACK_CACHE_MAX + 1], 1);
	assert_int_equal(open[NPACKS - TSM_PACK_CACHE_MAX + 2], 0);
}

static void test_removed_pack_closed(void **state)
{
	struct fixture *f = *state;
	int open[NPACKS + 1];
	struct tsm_blob_reader *r;
	const struct tsm_pack_file *pf;
	uint64_t pos;
	int fd;

	for (int p = 1; p <= 3; p++)
		read_blob(f, p, 0);
	tsm_store_reads_done(f->store);
	assert_int_equal(count_pack_fds(f, open), 3);

	/* At the next use: the pack is gone (-ENOENT: the reader looks the
	 * chunk up again) and its descriptor closed. */
	unlink_pack(f, 1);
	assert_int_equal(tsm_pack_cache_get(f->store, 1, &pf), -ENOENT);
	tsm_store_reads_done(f->store);
	count_pack_fds(f, open);
	assert_int_equal(open[1], 0);
	assert_int_equal(open[2], 1);

	/* By the sweep, with no read in between (the mount's watcher). */
	unlink_pack(f, 2);
	count_pack_fds(f, open);
	assert_int_equal(open[2], 1); /* unlinked, still open: its space is held */
	assert_int_equal(tsm_store_sweep_removed_packs(), 1);
	count_pack_fds(f, open);
	assert_int_equal(open[2], 0);
	assert_int_equal(open[3], 1);

	/* A descriptor lent to a reply (tsm_blob_reader_map) stays open until
	 * the reply is done, then closes.  Map needs the chunk checked: the
	 * read above checked it. */
	assert_int_equal(tsm_blob_reader_open(f->store, f->blobs[3], &r), 0);
	assert_int_equal(tsm_blob_reader_map(r, 0, BLOB_LEN, &fd, &pos), BLOB_LEN);
	unlink_pack(f, 3);
	assert_int_equal(tsm_pack_cache_get(f->store, 3, &pf), -ENOENT);
	assert_int_equal(tsm_store_sweep_removed_packs(), 0); /* busy: not touched */
	count_pack_fds(f, open);
	assert_int_equal(open[3], 1);
	assert_true(fcntl(fd, F_GETFD) >= 0);
	tsm_store_reads_done(f->store);
	count_pack_fds(f, open);
	assert_int_equal(open[3], 0);
	tsm_blob_reader_close(r);
	assert_int_equal(count_pack_fds(f, open), 0);
}

/* Rewrites @len bytes at @off of pack @p in place, then puts the file's
 * mtime back, as `touch -d` would. */
static void rewrite_keeping_mtime(struct fixture *f, int p, uint64_t off, size_t len,
				  struct stat *before_ret, struct stat *after_ret)
{
	char path[128];
	uint8_t junk[64];
	struct timespec times[2];
	int fd;

	snprintf(path, sizeof(path), "%s/store/packs/pack-%08d.pack", f->root, p);
	assert_int_equal(stat(path, before_ret), 0);
	/* The ctime clock ticks at the kernel's tick (a few ms): let it. */
	nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
	unit_fill32(junk, sizeof(junk), 0xdead);
	assert_true(len <= sizeof(junk));
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, junk, len, (off_t)off), (ssize_t)len);
	close(fd);
	times[0] = before_ret->st_atim;
	times[1] = before_ret->st_mtim;
	assert_int_equal(utimensat(AT_FDCWD, path, times, 0), 0);
	assert_int_equal(stat(path, after_ret), 0);
	/* What the old identity compared is unchanged; only the ctime tells. */
	assert_int_equal(after_ret->st_size, before_ret->st_size);
	assert_int_equal(after_ret->st_ino, before_ret->st_ino);
	assert_int_equal(after_ret->st_mtim.tv_sec, before_ret->st_mtim.tv_sec);
	assert_int_equal(after_ret->st_mtim.tv_nsec, before_ret->st_mtim.tv_nsec);
	assert_true(after_ret->st_ctim.tv_sec != before_ret->st_ctim.tv_sec ||
		    after_ret->st_ctim.tv_nsec != before_ret->st_ctim.tv_nsec);
}

static void test_rewrite_keeping_mtime_is_eio(void **state)
{
	struct fixture *f = *state;
	struct tsm_blob_reader *r;
	struct stat before, after;
	uint64_t pos;
	int fd;

	/* Read and checked: the chunk now maps straight to the pack. */
	read_blob(f, 5, 0);
	assert_int_equal(tsm_blob_reader_open(f->store, f->blobs[5], &r), 0);
	assert_int_equal(tsm_blob_reader_map(r, 0, BLOB_LEN, &fd, &pos), BLOB_LEN);
	tsm_store_reads_done(f->store);

	rewrite_keeping_mtime(f, 5, 100, 64, &before, &after);
	/* Not mapped (not checked in the file as it is now) ... */
	assert_int_equal(tsm_blob_reader_map(r, 0, BLOB_LEN, &fd, &pos), 0);
	tsm_store_reads_done(f->store);
	tsm_blob_reader_close(r);
	/* ... and read through the checked path: EIO, not the junk. */
	read_blob(f, 5, -EIO);
	/* Another handle of the process (the mount's other threads) too. */
	{
		struct tsm_store *other;

		assert_int_equal(tsm_store_open(tsm_store_dir(f->store), &other), 0);
		assert_int_equal(tsm_blob_reader_open(other, f->blobs[5], &r), 0);
		assert_int_equal(tsm_blob_reader_map(r, 0, BLOB_LEN, &fd, &pos), 0);
		tsm_blob_reader_close(r);
		tsm_store_close(other);
	}
	/* The other packs' chunks are still served. */
	read_blob(f, 6, 0);
}

static void test_verify_since_sees_rewrite(void **state)
{
	struct fixture *f = *state;
	struct tsm_pack_verify_options opts = { .since = 1, .record = true };
	struct tsm_pack_verify_result res;
	struct stat before, after;

	/* verify --since records whole seconds: the packs must be older than
	 * the second the clean check starts. */
	sleep(1);
	memset(&res, 0, sizeof(res));
	assert_int_equal(tsm_store_verify_packs(f->store, &opts, NULL, &res), 0);
	assert_int_equal(res.packs_checked, f->npacks);
	assert_int_equal(res.chunks_bad, 0);
	memset(&res, 0, sizeof(res));
	assert_int_equal(tsm_store_verify_packs(f->store, &opts, NULL, &res), 0);
	assert_int_equal(res.packs_skipped, f->npacks); /* found good, unchanged */

	rewrite_keeping_mtime(f, 9, 10, 64, &before, &after);
	memset(&res, 0, sizeof(res));
	assert_int_equal(tsm_store_verify_packs(f->store, &opts, NULL, &res), 0);
	assert_int_equal(res.packs_skipped, f->npacks - 1);
	assert_int_equal(res.packs_checked, 1);
	assert_int_equal(res.packs_bad, 1);
	assert_int_equal(res.chunks_bad, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cache_cap, setup_many, teardown),
		cmocka_unit_test_setup_teardown(test_removed_pack_closed, setup_few, teardown),
		cmocka_unit_test_setup_teardown(test_rewrite_keeping_mtime_is_eio, setup_few,
						teardown),
		cmocka_unit_test_setup_teardown(test_verify_since_sees_rewrite, setup_few, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
