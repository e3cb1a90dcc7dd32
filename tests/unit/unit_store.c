/* What the unit tests of the store share (unit_store.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "unit_store.h"

void unit_store_create(const char *tag, const struct tsm_store_init_options *opts, char root[64],
		       char dir[96], struct tsm_store **store_ret)
{
	snprintf(root, 64, "/tmp/tsm-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(root));
	snprintf(dir, 96, "%s/store", root);
	assert_int_equal(tsm_store_init(dir, opts), 0);
	assert_int_equal(tsm_store_open(dir, store_ret), 0);
}

int unit_store_remove(struct tsm_store *store, const char *root)
{
	char cmd[128];

	tsm_store_close(store);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

void unit_fill32(uint8_t *p, size_t n, uint32_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

void unit_fill64(uint8_t *p, size_t n, uint64_t seed)
{
	for (size_t i = 0; i < n; i++) {
		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		p[i] = (uint8_t)(seed >> 33);
	}
}

void unit_write_file(const char *path, const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

int64_t unit_blob_of(struct tsm_store *store, const char *path)
{
	sqlite3_stmt *stmt;
	int64_t blob;

	assert_int_equal(sqlite3_prepare_v2(store->db, "SELECT blob FROM tree_entries WHERE path = ?",
					    -1, &stmt, NULL),
			 SQLITE_OK);
	sqlite3_bind_text(stmt, 1, path, -1, SQLITE_STATIC);
	assert_int_equal(sqlite3_step(stmt), SQLITE_ROW);
	blob = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return blob;
}

size_t unit_blob_chunks(struct tsm_store *store, int64_t blob, struct tsm_chunk_loc *locs,
			size_t max)
{
	sqlite3_stmt *stmt;
	size_t n = 0;

	assert_int_equal(sqlite3_prepare_v2(store->db,
					    "SELECT chunk FROM blob_chunks WHERE blob = ? ORDER BY seq",
					    -1, &stmt, NULL),
			 SQLITE_OK);
	sqlite3_bind_int64(stmt, 1, blob);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		assert_true(n < max);
		assert_int_equal(tsm_chunk_lookup(store, sqlite3_column_int64(stmt, 0), &locs[n]), 0);
		n++;
	}
	sqlite3_finalize(stmt);
	return n;
}
