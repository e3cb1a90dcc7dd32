/* The store end to end through the library: import, read back, dedup,
 * damage detection, gc with a pin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tsmedia/content.h"
#include "tsmedia/log.h"
#include "tsmedia/store.h"
#include "unit_store.h"

struct fixture {
	char root[64];
	char store_dir[96];
	char src[96];
	struct tsm_store *store;
};

static uint8_t *pseudo_random(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n ? n : 1);

	unit_fill32(p, n, seed);
	return p;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct tsm_store_init_options opts = { .site_code = "PS1",
					       .compression = TSM_COMPRESSION_ZSTD };

	unit_store_create("unit", &opts, f->root, f->store_dir, &f->store);
	snprintf(f->src, sizeof(f->src), "%s/src", f->root);
	assert_int_equal(mkdir(f->src, 0755), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (unit_store_remove(f->store, f->root) != 0)
		return -1;
	free(f);
	return 0;
}

static void cat_to_buffer(struct tsm_store *store, const char *id, const char *path,
			  uint8_t **out, size_t *len, int *rc)
{
	FILE *tmp = tmpfile();
	long size;

	*rc = tsm_content_cat(store, id, path, fileno(tmp));
	size = ftell(tmp) >= 0 ? lseek(fileno(tmp), 0, SEEK_END) : 0;
	*out = malloc((size_t)size + 1);
	*len = (size_t)size;
	assert_int_equal(pread(fileno(tmp), *out, (size_t)size, 0), size);
	fclose(tmp);
}

static const char *add(struct fixture *f, const char *id, struct tsm_content_add_result *res)
{
	struct tsm_content_add_options o = { .kind = TSM_KIND_PACKAGE, .name = "unit",
					     .id = id, .source = f->src };

	assert_int_equal(tsm_content_add(f->store, &o, res), 0);
	return res->id;
}

static void test_round_trip_and_dedup(void **state)
{
	struct fixture *f = *state;
	struct tsm_content_add_result r1, r2;
	struct tsm_store_stats s1, s2;
	const size_t big = 3u << 20;
	uint8_t *data = pseudo_random(big, 3), *back;
	char path[160];
	size_t len;
	int rc;

	snprintf(path, sizeof(path), "%s/big.bin", f->src);
	unit_write_file(path, data, big);
	snprintf(path, sizeof(path), "%s/empty", f->src);
	unit_write_file(path, data, 0);
	add(f, NULL, &r1);
	assert_string_equal(r1.id, "PS100001");
	assert_int_equal(r1.files, 2);
	assert_int_equal(r1.bytes, big);

	cat_to_buffer(f->store, r1.id, "big.bin", &back, &len, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(len, big);
	assert_memory_equal(back, data, big);
	free(back);
	cat_to_buffer(f->store, r1.id, "/empty", &back, &len, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(len, 0);
	free(back);

	assert_int_equal(tsm_store_stats(f->store, &s1), 0);
	add(f, NULL, &r2);
	assert_string_equal(r2.id, "PS100002");
	assert_int_equal(tsm_store_stats(f->store, &s2), 0);
	assert_int_equal(s2.stored_bytes, s1.stored_bytes); /* nothing new stored */
	assert_int_equal(s2.logical_bytes, 2 * s1.logical_bytes);
	free(data);
}

static void test_blob_reader_random_offsets(void **state)
{
	struct fixture *f = *state;
	struct tsm_content_add_result r;
	struct tsm_tree_entry *entries;
	struct tsm_blob_reader *reader;
	const size_t size = 2u << 20;
	uint8_t *data = pseudo_random(size, 9), buf[70000];
	char path[160];
	size_t n;

	snprintf(path, sizeof(path), "%s/file", f->src);
	unit_write_file(path, data, size);
	add(f, NULL, &r);
	assert_int_equal(tsm_content_tree(f->store, r.id, 0, &entries, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(tsm_blob_reader_open(f->store, entries[0].blob_id, &reader), 0);
	assert_int_equal(tsm_blob_reader_size(reader), size);
	for (int i = 0; i < 200; i++) {
		uint64_t off = (uint64_t)rand() % size;
		size_t len = (size_t)rand() % sizeof(buf);
		size_t want = off + len > size ? size - off : len;

		assert_int_equal(tsm_blob_reader_pread(reader, buf, len, off), (ssize_t)want);
		assert_memory_equal(buf, data + off, want);
	}
	assert_int_equal(tsm_blob_reader_pread(reader, buf, 10, size), 0);
	tsm_blob_reader_close(reader);
	tsm_tree_entries_free(entries, n);
	free(data);
}

static void test_damage_is_an_error(void **state)
{
	struct fixture *f = *state;
	struct tsm_content_add_result r;
	struct tsm_verify_result v;
	const size_t size = 1u << 20;
	uint8_t *data = pseudo_random(size, 11), *back, byte;
	char path[200];
	size_t len;
	int fd, rc;

	snprintf(path, sizeof(path), "%s/file", f->src);
	unit_write_file(path, data, size);
	add(f, NULL, &r);
	snprintf(path, sizeof(path), "%s/packs/pack-00000001.pack", f->store_dir);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &byte, 1, 500000), 1);
	byte ^= 0x40;
	assert_int_equal(pwrite(fd, &byte, 1, 500000), 1);
	close(fd);

	tsm_log_set_level(TSM_LOG_ERROR - 1); /* the errors are expected */
	cat_to_buffer(f->store, r.id, "file", &back, &len, &rc);
	assert_int_equal(rc, -EIO);
	assert_true(len < size);
	assert_memory_equal(back, data, len); /* what came out is right */
	free(back);
	assert_int_equal(tsm_store_verify(f->store, NULL, &v), 0);
	tsm_log_set_level(TSM_LOG_INFO);
	assert_int_equal(v.chunks_bad, 1);
	assert_int_equal(v.blobs_bad, 1);
	free(data);
}

/* A removed item's data survives gc while a pin holds its version. */
static void test_gc_respects_pins(void **state)
{
	struct fixture *f = *state;
	struct tsm_content_add_result r;
	struct tsm_content_item item;
	struct tsm_gc_result g;
	struct tsm_store_stats s;
	struct tsm_pin *pin;
	const size_t size = 1u << 20;
	uint8_t *data = pseudo_random(size, 13);
	char path[160];

	snprintf(path, sizeof(path), "%s/file", f->src);
	unit_write_file(path, data, size);
	add(f, NULL, &r);
	assert_int_equal(tsm_content_get(f->store, r.id, &item), 0);
	assert_int_equal(tsm_store_read_begin(f->store), 0);
	assert_int_equal(tsm_pin_content_version(f->store, item.versions[0].row_id, &pin), 0);
	tsm_store_read_end(f->store);
	assert_int_equal(tsm_content_rm(f->store, r.id), 0);

	assert_int_equal(tsm_store_gc(f->store, NULL, NULL, &g), 0);
	assert_int_equal(g.versions_removed, 0);
	assert_int_equal(tsm_store_stats(f->store, &s), 0);
	assert_int_equal(s.blobs, 1);

	tsm_pin_release(pin);
	assert_int_equal(tsm_store_gc(f->store, NULL, NULL, &g), 0);
	assert_int_equal(g.versions_removed, 1);
	assert_int_equal(g.blobs_removed, 1);
	assert_int_equal(tsm_store_stats(f->store, &s), 0);
	assert_int_equal(s.blobs, 0);
	assert_int_equal(s.chunks, 0);
	assert_int_equal(s.pack_bytes, 0);
	tsm_content_item_clear(&item);
	free(data);
}

/* A handle opened while the store was local must not write once another
 * process (tsmedia store push) has switched the store to object storage:
 * its sessions would append to packs already uploaded and commit chunks
 * no object holds, with nothing published.  The session is refused and
 * nothing changes: packs, catalog. */
static void test_write_refused_after_push_switch(void **state)
{
	struct fixture *f = *state;
	struct tsm_content_add_result r;
	struct tsm_content_add_options o = { .kind = TSM_KIND_PACKAGE, .name = "late",
					     .source = f->src };
	struct tsm_store_stats s0, s1;
	const size_t size = 1u << 20;
	uint8_t *data = pseudo_random(size, 21);
	char path[160], *err = NULL;
	sqlite3 *db;

	snprintf(path, sizeof(path), "%s/file", f->src);
	unit_write_file(path, data, size);
	add(f, NULL, &r);
	assert_int_equal(tsm_store_stats(f->store, &s0), 0);

	/* What push's last step commits, from another connection (another
	 * process). */
	snprintf(path, sizeof(path), "%s/catalog.db", f->store_dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	sqlite3_busy_timeout(db, 10000);
	assert_int_equal(sqlite3_exec(db,
				      "INSERT OR REPLACE INTO meta(key, value) VALUES"
				      "('remote_url', 's3://bucket/site'),"
				      "('remote_endpoint', 'http://127.0.0.1:1')",
				      NULL, NULL, &err),
			 SQLITE_OK);
	sqlite3_close(db);

	free(data);
	data = pseudo_random(size, 22);
	snprintf(path, sizeof(path), "%s/other", f->src);
	unit_write_file(path, data, size);
	assert_int_equal(tsm_content_add(f->store, &o, &r), -ESTALE);
	assert_int_equal(tsm_store_stats(f->store, &s1), 0);
	assert_int_equal(s1.pack_bytes, s0.pack_bytes);
	assert_int_equal(s1.chunks, s0.chunks);
	assert_int_equal(s1.blobs, s0.blobs);
	free(data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip_and_dedup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_blob_reader_random_offsets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damage_is_an_error, setup, teardown),
		cmocka_unit_test_setup_teardown(test_gc_respects_pins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_refused_after_push_switch, setup,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
