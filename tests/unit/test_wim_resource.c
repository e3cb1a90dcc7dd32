/* Reading a WIM resource out of the WIM's bytes (core/store/wim_resource.c)
 * on resources built here as the WIM format lays them out (a chunk table
 * of LE32 offsets from the table's end for every chunk but the first; a
 * chunk stored at its full size is stored as it is, the others are one
 * block of the WIM's compression format, made here with wimlib's own
 * compressor), and on damaged ones: each must be refused with -EIO, never
 * read as other bytes. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <wimlib.h>

#include "store/wim_resource.h"

#define CHUNK 32768u

struct wim {
	uint8_t *p;
	size_t len;
};

static int mem_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	const struct wim *w = ctx;

	assert_true(off <= w->len && len <= w->len - off); /* the reader checks first */
	memcpy(buf, w->p + off, len);
	return 0;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* Text that compresses, and random bytes that do not. */
static uint8_t *sample(size_t size)
{
	uint8_t *d = malloc(size);
	uint32_t x = 12345;

	assert_non_null(d);
	for (size_t i = 0; i < size; i++) {
		if ((i / 5000) % 2) {
			x = x * 1103515245u + 12345u;
			d[i] = (uint8_t)(x >> 16);
		} else {
			d[i] = (uint8_t)"tsmedia boot file "[i % 18];
		}
	}
	return d;
}

/* @data as a compressed resource of @format at offset 100 of a WIM (the
 * bytes before it are junk); *@d describes it. */
static struct wim build(const uint8_t *data, size_t size, enum tsm_wim_format format,
			struct tsm_wim_res_desc *d)
{
	size_t n = (size + CHUNK - 1) / CHUNK, table = n ? 4 * (n - 1) : 0, at;
	struct wimlib_compressor *c;
	struct wim w = { calloc(1, 100 + table + n * CHUNK + 100), 0 };
	uint8_t *out = malloc(CHUNK);

	assert_non_null(w.p);
	assert_non_null(out);
	memset(w.p, 0xAB, 100);
	assert_int_equal(wimlib_create_compressor((enum wimlib_compression_type)format, CHUNK, 0, &c),
			 0);
	at = 0;
	for (size_t i = 0; i < n; i++) {
		size_t len = size - i * CHUNK < CHUNK ? size - i * CHUNK : CHUNK;
		size_t got = wimlib_compress(data + i * CHUNK, len, out, len - 1, c);

		if (i)
			put32(w.p + 100 + 4 * (i - 1), (uint32_t)at);
		if (got) {
			memcpy(w.p + 100 + table + at, out, got);
			at += got;
		} else { /* does not compress: stored as it is */
			memcpy(w.p + 100 + table + at, data + i * CHUNK, len);
			at += len;
		}
	}
	wimlib_free_compressor(c);
	free(out);
	w.len = 100 + table + at;
	*d = (struct tsm_wim_res_desc){ .offset = 100, .stored_size = table + at, .size = size,
					.format = format, .chunk_size = CHUNK };
	return w;
}

/* Reads @d back whole, in uneven pieces; the return of the first failure. */
static int read_back(struct wim *w, const struct tsm_wim_res_desc *d, uint8_t *out)
{
	struct tsm_wim_res *r;
	uint64_t off = 0;
	size_t step = 7777;
	int rc = tsm_wim_res_open("test.wim: 'file'", d, w->len, mem_pread, w, &r);

	if (rc < 0)
		return rc;
	while (off < d->size) {
		ssize_t got = tsm_wim_res_pread(r, out + off, step, off);

		if (got <= 0) {
			tsm_wim_res_free(r);
			return got < 0 ? (int)got : -EPIPE;
		}
		off += (uint64_t)got;
		step = step * 3 % 70001 + 1;
	}
	tsm_wim_res_free(r);
	return 0;
}

static void round_trip(enum tsm_wim_format format, size_t size)
{
	uint8_t *data = sample(size), *out = malloc(size + 1);
	struct tsm_wim_res_desc d;
	struct wim w = build(data, size, format, &d);

	assert_non_null(out);
	assert_int_equal(read_back(&w, &d, out), 0);
	assert_memory_equal(out, data, size);
	free(w.p);
	free(data);
	free(out);
}

static void test_xpress(void **state)
{
	(void)state;
	round_trip(TSM_WIM_FORMAT_XPRESS, 5 * CHUNK + 1234);
}

static void test_lzx(void **state)
{
	(void)state;
	round_trip(TSM_WIM_FORMAT_LZX, 3 * CHUNK);
}

static void test_lzms(void **state)
{
	(void)state;
	round_trip(TSM_WIM_FORMAT_LZMS, CHUNK - 1);
}

static void test_uncompressed(void **state)
{
	uint8_t *data = sample(100000), *out = malloc(100000);
	struct wim w = { calloc(1, 100100), 100100 };
	struct tsm_wim_res_desc d = { .offset = 50, .stored_size = 100000, .size = 100000 };

	(void)state;
	memcpy(w.p + 50, data, 100000);
	assert_int_equal(read_back(&w, &d, out), 0);
	assert_memory_equal(out, data, 100000);
	/* Past the end of its WIM, or a size that is not its stored size. */
	d.offset = 200;
	assert_int_equal(read_back(&w, &d, out), -EIO);
	d.offset = 50;
	d.size = 99999;
	assert_int_equal(read_back(&w, &d, out), -EIO);
	free(w.p);
	free(data);
	free(out);
}

/* Every way a chunk table or a chunk can be damaged is -EIO. */
static void test_damaged(void **state)
{
	size_t size = 5 * CHUNK + 1234;
	uint8_t *data = sample(size), *out = malloc(size);
	struct tsm_wim_res_desc d, good;
	struct wim w = build(data, size, TSM_WIM_FORMAT_XPRESS, &good);
	uint8_t *table = w.p + 100, keep[16];

	(void)state;
	memcpy(keep, table, sizeof(keep));
	put32(table + 4, 1); /* chunk 2 starts before chunk 1 */
	assert_int_equal(read_back(&w, &good, out), -EIO);
	memcpy(table, keep, sizeof(keep));
	put32(table + 8, 0x7fffffff); /* past the resource */
	assert_int_equal(read_back(&w, &good, out), -EIO);
	memcpy(table, keep, sizeof(keep));
	put32(table, CHUNK + 1); /* chunk 0 stored larger than its data */
	assert_int_equal(read_back(&w, &good, out), -EIO);
	memcpy(table, keep, sizeof(keep));
	/* A compressed chunk's bytes changed: it decompresses to nothing
	 * right (wimlib refuses it or the bytes differ; never silently the
	 * same). */
	w.p[100 + 4 * 5 + 3] ^= 0xff;
	{
		int rc = read_back(&w, &good, out);

		assert_true(rc == -EIO || memcmp(out, data, size) != 0);
	}
	w.p[100 + 4 * 5 + 3] ^= 0xff;
	assert_int_equal(read_back(&w, &good, out), 0);
	/* Descriptors no WIM writer makes. */
	d = good;
	d.chunk_size = 3000;
	assert_int_equal(read_back(&w, &d, out), -EIO);
	d = good;
	d.chunk_size = 4u << 20;
	assert_int_equal(read_back(&w, &d, out), -EIO);
	d = good;
	d.format = 7;
	assert_int_equal(read_back(&w, &d, out), -EIO);
	d = good;
	d.size = (uint64_t)1 << 40; /* more chunks than the table can list */
	assert_int_equal(read_back(&w, &d, out), -EIO);
	free(w.p);
	free(data);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xpress),
		cmocka_unit_test(test_lzx),
		cmocka_unit_test(test_lzms),
		cmocka_unit_test(test_uncompressed),
		cmocka_unit_test(test_damaged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
