/* SHA-256 and SHA-1 against the FIPS 180 example vectors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tsmedia/hash.h"

struct vector {
	const char *input;
	const char *sha256;
	const char *sha1;
};

static const struct vector vectors[] = {
	{ "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	  "da39a3ee5e6b4b0d3255bfef95601890afd80709" },
	{ "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	  "a9993e364706816aba3e25717850c26c9cd0d89d" },
	{ "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
	  "84983e441c3bd26ebaae4aa1f95129e5e54670f1" },
};

static void test_one_shot_sha256(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		uint8_t d[TSM_SHA256_LEN];
		char hex[TSM_SHA256_HEX_LEN + 1];

		assert_int_equal(tsm_sha256(vectors[i].input, strlen(vectors[i].input), d), 0);
		tsm_hex_encode(d, sizeof(d), hex);
		assert_string_equal(hex, vectors[i].sha256);
	}
}

/* Fed in uneven pieces, the stream hashes equal the one-shot ones. */
static void test_file_hasher_pieces(void **state)
{
	struct tsm_file_hasher *h;

	(void)state;
	assert_int_equal(tsm_file_hasher_new(&h), 0);
	for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		const char *in = vectors[i].input;
		size_t len = strlen(in), off = 0, step = 1;
		uint8_t d256[TSM_SHA256_LEN], d1[TSM_SHA1_LEN];
		char hex256[TSM_SHA256_HEX_LEN + 1], hex1[2 * TSM_SHA1_LEN + 1];

		assert_int_equal(tsm_file_hasher_reset(h), 0);
		while (off < len) {
			size_t n = step < len - off ? step : len - off;

			assert_int_equal(tsm_file_hasher_update(h, in + off, n), 0);
			off += n;
			step += 3;
		}
		assert_int_equal(tsm_file_hasher_final(h, d256, d1), 0);
		tsm_hex_encode(d256, sizeof(d256), hex256);
		tsm_hex_encode(d1, sizeof(d1), hex1);
		assert_string_equal(hex256, vectors[i].sha256);
		assert_string_equal(hex1, vectors[i].sha1);
	}
	tsm_file_hasher_free(h);
}

/* One million 'a': the long FIPS vector, across many updates. */
static void test_million_a(void **state)
{
	struct tsm_file_hasher *h;
	uint8_t block[1000], d256[TSM_SHA256_LEN], d1[TSM_SHA1_LEN];
	char hex256[TSM_SHA256_HEX_LEN + 1], hex1[2 * TSM_SHA1_LEN + 1];

	(void)state;
	memset(block, 'a', sizeof(block));
	assert_int_equal(tsm_file_hasher_new(&h), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(tsm_file_hasher_update(h, block, sizeof(block)), 0);
	assert_int_equal(tsm_file_hasher_final(h, d256, d1), 0);
	tsm_hex_encode(d256, sizeof(d256), hex256);
	tsm_hex_encode(d1, sizeof(d1), hex1);
	assert_string_equal(hex256, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	assert_string_equal(hex1, "34aa973cd4c4daa4f61eeb2bdbad27316534016f");
	tsm_file_hasher_free(h);
}

static void test_hex_round_trip(void **state)
{
	uint8_t bin[4] = { 0x00, 0x7f, 0xa5, 0xff }, back[4];
	char hex[9];

	(void)state;
	tsm_hex_encode(bin, 4, hex);
	assert_string_equal(hex, "007fa5ff");
	assert_int_equal(tsm_hex_decode("007FA5ff", back, 4), 0);
	assert_memory_equal(bin, back, 4);
	assert_int_not_equal(tsm_hex_decode("007fa5f", back, 4), 0);
	assert_int_not_equal(tsm_hex_decode("007fa5fg", back, 4), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_shot_sha256),
		cmocka_unit_test(test_file_hasher_pieces),
		cmocka_unit_test(test_million_a),
		cmocka_unit_test(test_hex_round_trip),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
