/* The checked-chunk record tied to pack file identities, and the interval
 * and time parsers of verify --since and -o scrub=. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>

#include <cmocka.h>

#include "store/store_internal.h"
#include "tsmedia/store.h"

static struct stat fake_pack(ino_t ino, off_t size, time_t mtime, long nsec)
{
	struct stat st;

	memset(&st, 0, sizeof(st));
	st.st_dev = 1;
	st.st_ino = ino;
	st.st_size = size;
	st.st_mtim.tv_sec = mtime;
	st.st_mtim.tv_nsec = nsec;
	return st;
}

static void test_generations(void **state)
{
	int dir = open(".", O_RDONLY | O_DIRECTORY);
	struct tsm_verified_map *m = tsm_verified_map_get(dir);
	struct stat a = fake_pack(10, 1000, 100, 5);
	struct stat grown = fake_pack(10, 2000, 100, 5);
	struct stat written = fake_pack(10, 1000, 100, 6);
	struct stat replaced = fake_pack(11, 1000, 100, 5);
	uint32_t g1, g2;

	(void)state;
	assert_non_null(m);
	g1 = tsm_verified_pack_gen(m, 7, &a);
	assert_int_not_equal(g1, 0);
	assert_int_equal(tsm_verified_pack_gen(m, 7, &a), g1); /* same file: same generation */
	tsm_verified_mark(m, 42, g1);
	assert_true(tsm_verified_check(m, 42, g1));
	/* Size, mtime or inode changed: a new generation, the chunk unchecked. */
	g2 = tsm_verified_pack_gen(m, 7, &grown);
	assert_int_not_equal(g2, g1);
	assert_false(tsm_verified_check(m, 42, g2));
	assert_int_not_equal(tsm_verified_pack_gen(m, 7, &written), g2);
	assert_int_not_equal(tsm_verified_pack_gen(m, 7, &replaced), tsm_verified_pack_gen(m, 7, &written));
	/* Rewritten with its mtime put back (touch -d): only the ctime tells. */
	struct stat touched = written;
	touched.st_ctim.tv_sec = 200;
	assert_int_not_equal(tsm_verified_pack_gen(m, 7, &touched), tsm_verified_pack_gen(m, 7, &written));
	/* Another pack of the same identity numbers never shares one. */
	assert_int_not_equal(tsm_verified_pack_gen(m, 8, &a), tsm_verified_pack_gen(m, 7, &a));
	/* The scrub's clear. */
	tsm_verified_mark(m, 43, g1);
	tsm_verified_clear(m, 43);
	assert_false(tsm_verified_check(m, 43, g1));
	/* Out of range ids are never "checked". */
	tsm_verified_mark(m, -1, g1);
	assert_false(tsm_verified_check(m, -1, g1));
	assert_false(tsm_verified_check(m, INT64_MAX, g1));
	tsm_verified_map_put(m);
	close(dir);
}

static void test_interval(void **state)
{
	int64_t s;

	(void)state;
	assert_int_equal(tsm_parse_interval("90", &s), 0);
	assert_int_equal(s, 90);
	assert_int_equal(tsm_parse_interval("90s", &s), 0);
	assert_int_equal(s, 90);
	assert_int_equal(tsm_parse_interval("15m", &s), 0);
	assert_int_equal(s, 900);
	assert_int_equal(tsm_parse_interval("6h", &s), 0);
	assert_int_equal(s, 21600);
	assert_int_equal(tsm_parse_interval("7d", &s), 0);
	assert_int_equal(s, 604800);
	assert_int_equal(tsm_parse_interval("2w", &s), 0);
	assert_int_equal(s, 1209600);
	assert_true(tsm_parse_interval("0", &s) < 0);
	assert_true(tsm_parse_interval("-5m", &s) < 0);
	assert_true(tsm_parse_interval("5x", &s) < 0);
	assert_true(tsm_parse_interval("5mm", &s) < 0);
	assert_true(tsm_parse_interval("", &s) < 0);
	assert_true(tsm_parse_interval("m", &s) < 0);
	assert_true(tsm_parse_interval("99999999999999999w", &s) < 0); /* overflows */
}

static void test_since(void **state)
{
	int64_t t, now = 1700000000;
	struct tm tm = { .tm_year = 2024 - 1900, .tm_mon = 2, .tm_mday = 5, .tm_hour = 14,
			 .tm_min = 30, .tm_sec = 15, .tm_isdst = -1 };
	time_t want = mktime(&tm);

	(void)state;
	assert_int_equal(tsm_parse_since("@0", now, &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(tsm_parse_since("@1234", now, &t), 0);
	assert_int_equal(t, 1234);
	assert_int_equal(tsm_parse_since("7d", now, &t), 0);
	assert_int_equal(t, now - 604800);
	assert_int_equal(tsm_parse_since("2024-03-05 14:30:15", now, &t), 0);
	assert_int_equal(t, (int64_t)want);
	assert_int_equal(tsm_parse_since("2024-03-05T14:30:15", now, &t), 0);
	assert_int_equal(t, (int64_t)want);
	assert_int_equal(tsm_parse_since("2024-03-05T14:30", now, &t), 0);
	assert_int_equal(t, (int64_t)want - 15);
	assert_int_equal(tsm_parse_since("2024-03-05", now, &t), 0);
	assert_int_equal(t, (int64_t)want - (14 * 3600 + 30 * 60 + 15));
	assert_true(tsm_parse_since("@", now, &t) < 0);
	assert_true(tsm_parse_since("@-1", now, &t) < 0);
	assert_true(tsm_parse_since("@12x", now, &t) < 0);
	assert_true(tsm_parse_since("2024-03-05 junk", now, &t) < 0);
	assert_true(tsm_parse_since("yesterday", now, &t) < 0);
	assert_true(tsm_parse_since("99999w", 1000, &t) < 0); /* before 1970 */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_generations),
		cmocka_unit_test(test_interval),
		cmocka_unit_test(test_since),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
