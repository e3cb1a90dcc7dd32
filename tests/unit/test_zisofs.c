/* zisofs decoding (core/import/zisofs.c) on files built here as the zisofs
 * tools document the format (16-byte header, LE32 block pointers, one zlib
 * stream per block, equal pointers for a block of zeros), and on damaged
 * ones: each must be refused, never decoded to other bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "import/zisofs.h"

struct buf {
	uint8_t *p;
	size_t len;
};

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* The stored form of @data (@size bytes), block size 2^@log2; blocks that
 * are all zeros are stored as nothing (equal pointers), as mkzftree does. */
static struct buf encode(const uint8_t *data, size_t size, unsigned log2)
{
	static const uint8_t magic[8] = { 0x37, 0xe4, 0x53, 0x96, 0xc9, 0xdb, 0xd6, 0x07 };
	size_t bs = (size_t)1 << log2, n = (size + bs - 1) / bs, off = 16 + 4 * (n + 1);
	struct buf b = { calloc(1, off + n * compressBound(bs)), 0 };

	assert_non_null(b.p);
	memcpy(b.p, magic, 8);
	put32(b.p + 8, (uint32_t)size);
	b.p[12] = 4;
	b.p[13] = (uint8_t)log2;
	for (size_t i = 0; i < n; i++) {
		size_t len = size - i * bs < bs ? size - i * bs : bs;
		uLongf out = compressBound(bs);
		bool zero = true;

		put32(b.p + 16 + 4 * i, (uint32_t)off);
		for (size_t k = 0; k < len && zero; k++)
			zero = data[i * bs + k] == 0;
		if (!zero) {
			assert_int_equal(compress2(b.p + off, &out, data + i * bs, len, 9), Z_OK);
			off += out;
		}
	}
	put32(b.p + 16 + 4 * n, (uint32_t)off);
	b.len = off;
	return b;
}

static int buf_pread(void *ctx, void *out, size_t len, uint64_t off)
{
	const struct buf *b = ctx;

	if (off > b->len || len > b->len - off)
		return -5;
	memcpy(out, b->p + off, len);
	return 0;
}

/* Decodes @b as a file of @size bytes; 0 and the bytes, or the error. */
static int decode(struct buf *b, uint64_t size, unsigned log2, uint8_t **out_ret)
{
	struct tsm_zisofs *z;
	uint8_t *out;
	uint64_t got = 0;
	ssize_t n;
	int rc;

	*out_ret = NULL;
	/* Sizes that must be refused are never allocated. */
	if ((rc = tsm_zisofs_open("test", buf_pread, b, b->len, size, log2, &z)) < 0)
		return rc;
	out = malloc(size + 1);
	assert_non_null(out);
	while ((n = tsm_zisofs_read(z, out + got, 7777)) > 0)
		got += (uint64_t)n;
	tsm_zisofs_free(z);
	if (n < 0) {
		free(out);
		return (int)n;
	}
	assert_int_equal(got, size);
	*out_ret = out;
	return 0;
}

static uint8_t *sample(size_t size)
{
	uint8_t *d = malloc(size);

	assert_non_null(d);
	for (size_t i = 0; i < size; i++)
		d[i] = (uint8_t)((i * 2654435761u) >> 13);
	memset(d + size / 3, 0, size / 3 < 70000 ? size / 3 : 70000); /* zero blocks too */
	return d;
}

static void test_round_trip(void **state)
{
	static const size_t sizes[] = { 0, 1, 32768, 32769, 200000, 300001 };

	(void)state;
	for (unsigned log2 = 15; log2 <= 17; log2++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			uint8_t *d = sample(sizes[i] + 1), *out;
			struct buf b = encode(d, sizes[i], log2);

			assert_int_equal(decode(&b, sizes[i], log2, &out), 0);
			if (sizes[i])
				assert_memory_equal(out, d, sizes[i]);
			free(out);
			free(b.p);
			free(d);
		}
}

static void expect_refused(struct buf *b, uint64_t size, unsigned log2)
{
	uint8_t *out;

	assert_true(decode(b, size, log2, &out) < 0);
	assert_null(out);
}

static void test_damaged(void **state)
{
	size_t size = 200000;
	uint8_t *d = sample(size);
	struct buf b;

	(void)state;
	/* The header disagrees with ZF: size, block size. */
	b = encode(d, size, 15);
	expect_refused(&b, size + 1, 15);
	expect_refused(&b, size, 16);
	expect_refused(&b, size, 14);
	/* No magic. */
	b.p[0] ^= 1;
	expect_refused(&b, size, 15);
	b.p[0] ^= 1;
	/* Pointers going backwards, into the header, past the stored bytes. */
	put32(b.p + 16 + 4, 20);
	expect_refused(&b, size, 15);
	free(b.p);
	b = encode(d, size, 15);
	put32(b.p + 16, 4);
	expect_refused(&b, size, 15);
	free(b.p);
	b = encode(d, size, 15);
	put32(b.p + 16 + 4 * 7, 0xfffffff0u);
	expect_refused(&b, size, 15);
	free(b.p);
	/* A block that is not zlib, and stored bytes cut short. */
	b = encode(d, size, 15);
	b.p[16 + 4 * 8 + 2] ^= 0xff;
	expect_refused(&b, size, 15);
	free(b.p);
	b = encode(d, size, 15);
	b.len -= 10;
	expect_refused(&b, size, 15);
	free(b.p);
	/* A size zisofs cannot hold, and a header claiming 4 GiB in a tiny file. */
	b = encode(d, 100, 15);
	expect_refused(&b, (uint64_t)1 << 33, 15);
	put32(b.p + 8, 0xffffffffu);
	expect_refused(&b, 0xffffffffu, 15);
	free(b.p);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_damaged),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
