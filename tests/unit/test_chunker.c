/* FastCDC chunker: sizes, determinism, and boundaries that stay put. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/chunker.h"
#include "tsmedia/hash.h"

#define DATA_LEN (8u << 20)

static uint8_t *random_bytes(size_t n, uint64_t seed)
{
	uint8_t *p = malloc(n + 1);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++) {
		seed ^= seed << 13;
		seed ^= seed >> 7;
		seed ^= seed << 17;
		p[i] = (uint8_t)(seed >> 24);
	}
	return p;
}

struct cuts {
	size_t n;
	size_t len[1024];
	uint8_t hash[1024][TSM_SHA256_LEN];
};

static void cut_all(const struct tsm_chunker *c, const uint8_t *data, size_t len, struct cuts *out)
{
	size_t off = 0;

	out->n = 0;
	while (off < len) {
		size_t n = tsm_chunker_cut(c, data + off, len - off, true);

		assert_true(n > 0);
		assert_true(out->n < 1024);
		out->len[out->n] = n;
		tsm_sha256(data + off, n, out->hash[out->n]);
		out->n++;
		off += n;
	}
}

static void test_sizes_in_bounds(void **state)
{
	struct tsm_chunker c;
	struct cuts *cuts = calloc(1, sizeof(*cuts));
	uint8_t *data = random_bytes(DATA_LEN, 1);
	size_t total = 0;

	(void)state;
	tsm_chunker_init(&c, TSM_CHUNK_MIN, TSM_CHUNK_AVG, TSM_CHUNK_MAX);
	cut_all(&c, data, DATA_LEN, cuts);
	for (size_t i = 0; i < cuts->n; i++) {
		if (i + 1 < cuts->n)
			assert_true(cuts->len[i] > TSM_CHUNK_MIN);
		assert_true(cuts->len[i] <= TSM_CHUNK_MAX);
		total += cuts->len[i];
	}
	assert_int_equal(total, DATA_LEN);
	/* Normalized chunking keeps the mean near the target on random data. */
	assert_in_range(DATA_LEN / cuts->n, 40 * 1024, 100 * 1024);
	free(cuts);
	free(data);
}

/* Not enough data and not at the end: the chunker asks for more rather than
 * cutting short; at the end the remainder is the last chunk. */
static void test_needs_more_data(void **state)
{
	struct tsm_chunker c;
	uint8_t *zeros = calloc(1, TSM_CHUNK_MAX);

	(void)state;
	tsm_chunker_init(&c, TSM_CHUNK_MIN, TSM_CHUNK_AVG, TSM_CHUNK_MAX);
	/* Zeros never match a mask (the gear value of 0 is not 0): max-size cuts. */
	assert_int_equal(tsm_chunker_cut(&c, zeros, TSM_CHUNK_MAX, false), TSM_CHUNK_MAX);
	assert_int_equal(tsm_chunker_cut(&c, zeros, 1000, false), 0);
	assert_int_equal(tsm_chunker_cut(&c, zeros, 1000, true), 1000);
	assert_int_equal(tsm_chunker_cut(&c, zeros, 0, true), 0);
	free(zeros);
}

static void test_deterministic(void **state)
{
	struct tsm_chunker a, b;
	struct cuts *x = calloc(1, sizeof(*x)), *y = calloc(1, sizeof(*y));
	uint8_t *data = random_bytes(DATA_LEN, 7);

	(void)state;
	tsm_chunker_init(&a, TSM_CHUNK_MIN, TSM_CHUNK_AVG, TSM_CHUNK_MAX);
	tsm_chunker_init(&b, TSM_CHUNK_MIN, TSM_CHUNK_AVG, TSM_CHUNK_MAX);
	assert_memory_equal(a.gear, b.gear, sizeof(a.gear));
	cut_all(&a, data, DATA_LEN, x);
	cut_all(&b, data, DATA_LEN, y);
	assert_int_equal(x->n, y->n);
	assert_memory_equal(x->len, y->len, x->n * sizeof(x->len[0]));
	free(x);
	free(y);
	free(data);
}

static size_t shared_chunks(const struct cuts *a, const struct cuts *b)
{
	size_t shared = 0;

	for (size_t i = 0; i < a->n; i++)
		for (size_t j = 0; j < b->n; j++)
			if (memcmp(a->hash[i], b->hash[j], TSM_SHA256_LEN) == 0) {
				shared++;
				break;
			}
	return shared;
}

/* Bytes inserted early change the chunks around the insertion only. */
static void test_insertion_keeps_later_boundaries(void **state)
{
	static const size_t inserts[] = { 0, 1, 12345, 3000000 };
	struct tsm_chunker c;
	struct cuts *orig = calloc(1, sizeof(*orig)), *mod = calloc(1, sizeof(*mod));
	uint8_t *data = random_bytes(DATA_LEN, 42);
	uint8_t *edited = malloc(DATA_LEN + 1);

	(void)state;
	tsm_chunker_init(&c, TSM_CHUNK_MIN, TSM_CHUNK_AVG, TSM_CHUNK_MAX);
	cut_all(&c, data, DATA_LEN, orig);
	for (size_t k = 0; k < sizeof(inserts) / sizeof(inserts[0]); k++) {
		size_t at = inserts[k];

		memcpy(edited, data, at);
		edited[at] = 0x5a;
		memcpy(edited + at + 1, data + at, DATA_LEN - at);
		cut_all(&c, edited, DATA_LEN + 1, mod);
		/* At most two chunks differ: the one holding the byte and, when the
		 * insertion shifts a cut, its neighbour. */
		assert_true(shared_chunks(orig, mod) + 2 >= orig->n);
	}
	free(orig);
	free(mod);
	free(data);
	free(edited);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sizes_in_bounds),
		cmocka_unit_test(test_needs_more_data),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_insertion_keeps_later_boundaries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
