/* Verify ahead (core/store/verify_ahead.c): a reader moving forward through
 * a blob has the chunks after its read checked by a worker thread, and:
 *  - random reads hand nothing to the workers;
 *  - what a worker checked is read back right, and is checked *in the pack
 *    file it was read from*: a chunk damaged in place after the worker
 *    checked it is EIO to the reader, never the damaged bytes;
 *  - a pack gc rewrites (compacts into a new pack) between the worker's
 *    check and the read: the chunk damaged in its new pack is EIO too;
 *  - compressed chunks (which the worker hands over decompressed) read
 *    back right, and one damaged before any check is EIO, whoever meets it
 *    first.
 * TSMEDIA_THREADS=2 gives the process one worker on any machine. */
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

#define X_LEN (12u << 20)
#define Y_LEN (3u << 20)
#define STEP (1u << 20)

struct fixture {
	char root[64];
	char dir[96];
	struct tsm_store *store;
	char y_id[TSM_CONTENT_ID_LEN + 1];
	uint8_t *x;                /* the bytes of x.bin */
	int64_t blob;              /* its blob */
	struct tsm_chunk_loc *locs; /* its chunks, as imported */
	uint64_t *starts;
	size_t nchunks;
};

static void add_tree(struct fixture *f, const char *sub, const char *name, const uint8_t *data,
		     size_t len, char id_ret[TSM_CONTENT_ID_LEN + 1])
{
	struct tsm_content_add_options o = { .kind = TSM_KIND_PACKAGE, .name = name };
	struct tsm_content_add_result res;
	char tree[128], path[192];

	snprintf(tree, sizeof(tree), "%s/%s", f->root, sub);
	assert_int_equal(mkdir(tree, 0755), 0);
	snprintf(path, sizeof(path), "%s/%s", tree, name);
	unit_write_file(path, data, len);
	o.source = tree;
	assert_int_equal(tsm_content_add(f->store, &o, &res), 0);
	memcpy(id_ret, res.id, sizeof(res.id));
}

static int setup_store(void **state, enum tsm_compression compression)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct tsm_store_init_options opts = { .compression = compression };
	char x_id[TSM_CONTENT_ID_LEN + 1];
	uint8_t *y = malloc(Y_LEN);
	uint64_t pos = 0;

	assert_non_null(f);
	assert_non_null(y);
	unit_store_create("ahead", &opts, f->root, f->dir, &f->store);
	/* y first, x after it in the same pack: with y removed, gc rewrites
	 * the pack (its garbage is at the start, not a tail to cut). */
	unit_fill64(y, Y_LEN, 2);
	add_tree(f, "y", "y.bin", y, Y_LEN, f->y_id);
	free(y);
	assert_non_null(f->x = malloc(X_LEN));
	unit_fill64(f->x, X_LEN, 1);
	if (compression == TSM_COMPRESSION_ZSTD)
		for (size_t i = 0; i < X_LEN; i++)
			f->x[i] &= 0x0f; /* half of it compresses away */
	add_tree(f, "x", "x.bin", f->x, X_LEN, x_id);

	f->blob = unit_blob_of(f->store, "x.bin");
	f->locs = calloc(X_LEN / TSM_CHUNK_MIN + 1, sizeof(*f->locs));
	f->starts = calloc(X_LEN / TSM_CHUNK_MIN + 1, sizeof(*f->starts));
	assert_non_null(f->locs);
	assert_non_null(f->starts);
	f->nchunks = unit_blob_chunks(f->store, f->blob, f->locs, X_LEN / TSM_CHUNK_MIN + 1);
	for (size_t i = 0; i < f->nchunks; i++) {
		f->starts[i] = pos;
		pos += f->locs[i].size;
	}
	assert_int_equal(pos, X_LEN);
	assert_true(f->nchunks > 40);
	*state = f;
	return 0;
}

static int setup(void **state) { return setup_store(state, TSM_COMPRESSION_NONE); }
static int setup_zstd(void **state) { return setup_store(state, TSM_COMPRESSION_ZSTD); }

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (unit_store_remove(f->store, f->root) != 0)
		return -1;
	free(f->x);
	free(f->locs);
	free(f->starts);
	free(f);
	return 0;
}

/* The chunk that holds byte @off of x.bin. */
static size_t chunk_at(const struct fixture *f, uint64_t off)
{
	size_t i = 0;

	while (i + 1 < f->nchunks && f->starts[i + 1] <= off)
		i++;
	return i;
}

/* Whether chunk @i (its location now: gc may have moved it) is checked,
 * waiting up to @ms for it. */
static bool checked_within(struct fixture *f, size_t i, int ms)
{
	struct tsm_chunk_loc loc;

	for (int t = 0; t <= ms; t++) {
		assert_int_equal(tsm_chunk_lookup(f->store, f->locs[i].id, &loc), 0);
		if (tsm_chunk_is_checked(f->store, &loc))
			return true;
		nanosleep(&(struct timespec){ .tv_nsec = 1000 * 1000 }, NULL);
	}
	return false;
}

static void read_step(struct tsm_blob_reader *r, const struct fixture *f, uint64_t off,
		      ssize_t want)
{
	static uint8_t buf[STEP];
	ssize_t got = tsm_blob_reader_pread(r, buf, STEP, off);

	assert_int_equal(got, want);
	if (want > 0)
		assert_memory_equal(buf, f->x + off, (size_t)want);
}

/* Writes junk over 64 bytes in the middle of chunk @loc in its pack, after
 * a tick of the ctime clock. */
static void damage(struct fixture *f, const struct tsm_chunk_loc *loc)
{
	char path[160];
	uint8_t junk[64];
	int fd;

	nanosleep(&(struct timespec){ .tv_nsec = 20 * 1000 * 1000 }, NULL);
	snprintf(path, sizeof(path), "%s/packs/pack-%08lld.pack", f->dir, (long long)loc->pack);
	unit_fill64(junk, sizeof(junk), 0xbad);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, junk, sizeof(junk), (off_t)(loc->offset + loc->size / 2)),
			 (ssize_t)sizeof(junk));
	close(fd);
}

static void test_random_reads_hand_over_nothing(void **state)
{
	struct fixture *f = *state;
	struct tsm_blob_reader *r;
	static const uint64_t offs[] = { 9u << 20, 1u << 20, 6u << 20, 3u << 20 };

	assert_int_equal(tsm_blob_reader_open(f->store, f->blob, &r), 0);
	for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++) {
		uint8_t buf[4096];

		assert_int_equal(tsm_blob_reader_pread(r, buf, sizeof(buf), offs[k]), 4096);
		assert_memory_equal(buf, f->x + offs[k], sizeof(buf));
	}
	/* Only the chunks read were checked: none after them, even later. */
	nanosleep(&(struct timespec){ .tv_nsec = 200 * 1000 * 1000 }, NULL);
	for (size_t i = 0; i < f->nchunks; i++) {
		bool read = false;

		for (size_t k = 0; k < sizeof(offs) / sizeof(offs[0]); k++)
			read |= chunk_at(f, offs[k]) == i || chunk_at(f, offs[k] + 4095) == i;
		assert_int_equal(tsm_chunk_is_checked(f->store, &f->locs[i]), read);
	}
	tsm_blob_reader_close(r);
}

static void test_sequential_reads_check_ahead(void **state)
{
	struct fixture *f = *state;
	struct tsm_blob_reader *r;
	struct tsm_chunk_counters before, after;
	size_t far = chunk_at(f, 8u << 20);

	tsm_chunk_counters(&before);
	assert_int_equal(tsm_blob_reader_open(f->store, f->blob, &r), 0);
	read_step(r, f, 0, STEP);
	read_step(r, f, STEP, STEP); /* goes on where the last ended */
	/* A chunk 6 MiB past the reader is checked by a worker. */
	assert_true(checked_within(f, far, 10000));
	tsm_chunk_counters(&after);
	assert_true(after.verified > before.verified);
	assert_int_equal(after.damaged, before.damaged);
	for (uint64_t off = 2 * STEP; off < X_LEN; off += STEP)
		read_step(r, f, off, STEP);
	for (size_t i = 0; i < f->nchunks; i++)
		assert_true(tsm_chunk_is_checked(f->store, &f->locs[i]));
	tsm_blob_reader_close(r);
}

static void test_damaged_after_check_is_eio(void **state)
{
	struct fixture *f = *state;
	struct tsm_blob_reader *r;
	size_t k = chunk_at(f, 7u << 20);
	/* The reads that touch chunk k: [bad_step, good_again). */
	uint64_t bad_step = f->starts[k] - f->starts[k] % STEP;
	uint64_t good_again = f->starts[k] + f->locs[k].size - 1;

	good_again += STEP - good_again % STEP;
	assert_int_equal(tsm_blob_reader_open(f->store, f->blob, &r), 0);
	read_step(r, f, 0, STEP);
	read_step(r, f, STEP, STEP);
	assert_true(checked_within(f, k, 10000));
	/* Checked by the worker in the pack as it was; now it is not that. */
	damage(f, &f->locs[k]);
	for (uint64_t off = 2 * STEP; off < bad_step; off += STEP)
		read_step(r, f, off, STEP);
	read_step(r, f, bad_step, -EIO);
	tsm_blob_reader_close(r);
	/* And for a new reader, which reads it again. */
	assert_int_equal(tsm_blob_reader_open(f->store, f->blob, &r), 0);
	read_step(r, f, bad_step, -EIO);
	tsm_blob_reader_close(r);
}

static void test_gc_rewrite_between_check_and_read(void **state)
{
	struct fixture *f = *state;
	struct tsm_blob_reader *r;
	struct tsm_gc_result g;
	struct tsm_chunk_loc now;
	size_t k = chunk_at(f, 7u << 20);
	/* The reads that touch chunk k: [bad_step, good_again). */
	uint64_t bad_step = f->starts[k] - f->starts[k] % STEP;
	uint64_t good_again = f->starts[k] + f->locs[k].size - 1;

	good_again += STEP - good_again % STEP;
	assert_int_equal(tsm_content_rm(f->store, f->y_id), 0);
	assert_int_equal(tsm_blob_reader_open(f->store, f->blob, &r), 0);
	read_step(r, f, 0, STEP);
	read_step(r, f, STEP, STEP);
	assert_true(checked_within(f, k, 10000));

	/* gc moves x's chunks to a new pack (y's 3 MiB are a fifth of it). */
	memset(&g, 0, sizeof(g));
	assert_int_equal(tsm_store_gc(f->store, NULL, NULL, &g), 0);
	assert_true(g.packs_rewritten >= 1);
	assert_int_equal(tsm_chunk_lookup(f->store, f->locs[k].id, &now), 0);
	assert_true(now.pack != f->locs[k].pack);
	/* Damaged in its new pack: the check the worker made in the old one
	 * does not carry over. */
	damage(f, &now);
	for (uint64_t off = 2 * STEP; off < bad_step; off += STEP)
		read_step(r, f, off, STEP);
	read_step(r, f, bad_step, -EIO);
	/* The chunks after it are read from the new pack, checked, right. */
	for (uint64_t off = good_again; off < X_LEN; off += STEP)
		read_step(r, f, off, STEP);
	tsm_blob_reader_close(r);
}

static void test_compressed_read_ahead(void **state)
{
	struct fixture *f = *state;
	struct tsm_blob_reader *r;
	size_t far = chunk_at(f, 8u << 20);

	assert_true(f->locs[far].codec == TSM_COMPRESSION_ZSTD);
	assert_int_equal(tsm_blob_reader_open(f->store, f->blob, &r), 0);
	read_step(r, f, 0, STEP);
	read_step(r, f, STEP, STEP);
	assert_true(checked_within(f, far, 10000));
	for (uint64_t off = 2 * STEP; off < X_LEN; off += STEP)
		read_step(r, f, off, STEP);
	tsm_blob_reader_close(r);
}

static void test_compressed_damaged_is_eio(void **state)
{
	struct fixture *f = *state;
	struct tsm_blob_reader *r;
	size_t k = chunk_at(f, 7u << 20);
	uint64_t bad_step = f->starts[k] - f->starts[k] % STEP;
	uint64_t good_again = f->starts[k] + f->locs[k].size - 1;

	good_again += STEP - good_again % STEP;
	damage(f, &f->locs[k]);
	assert_int_equal(tsm_blob_reader_open(f->store, f->blob, &r), 0);
	for (uint64_t off = 0; off < bad_step; off += STEP)
		read_step(r, f, off, STEP);
	read_step(r, f, bad_step, -EIO);
	for (uint64_t off = good_again; off < X_LEN; off += STEP)
		read_step(r, f, off, STEP);
	tsm_blob_reader_close(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_random_reads_hand_over_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_sequential_reads_check_ahead, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_after_check_is_eio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_rewrite_between_check_and_read, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_compressed_read_ahead, setup_zstd, teardown),
		cmocka_unit_test_setup_teardown(test_compressed_damaged_is_eio, setup_zstd,
						teardown),
	};

	/* One worker beside the reader, whatever the machine. */
	setenv("TSMEDIA_THREADS", "2", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
