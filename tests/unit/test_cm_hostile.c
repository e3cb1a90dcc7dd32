/* Hostile Variables.dat, Policy.xml and TsmBootstrap.ini: thousands of mutations of valid
 * files (bytes flipped, cut, header words set to edge values) through the readers of
 * core/media/cm*.c.  Each must be read or refused with a known error, never crash, leak or
 * run long (the suite also runs under AddressSanitizer). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media/cmread.h"
#include "test_cm_log.h"

#define GUID "8AE6B618-77EC-46CB-B1B5-88F693E0B1C2"

/* xorshift64: the same mutations on every run. */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static const uint32_t edges[] = { 0, 1, 15, 16, 17, 20, 24, 0x7FFFFFFF, 0x80000000u,
				  0xFFFFFFF0u, 0xFFFFFFFFu, 0xECED0000u, 0x660E, 0x6610 };

static void mutate(uint8_t *p, size_t *len)
{
	switch (next() % 4) {
	case 0: /* flip bits */
		for (int i = 0; i < 1 + (int)(next() % 4); i++)
			p[next() % *len] ^= (uint8_t)(1u << (next() % 8));
		break;
	case 1: /* cut */
		*len = next() % *len;
		break;
	case 2: { /* a header word set to an edge value */
		uint32_t v = edges[next() % (sizeof(edges) / sizeof(edges[0]))];
		size_t off = 4 * (next() % 6);

		if (*len >= off + 4)
			for (int i = 0; i < 4; i++)
				p[off + i] = (uint8_t)(v >> (8 * i));
		break;
	}
	default: /* random bytes over a stretch */
		for (size_t i = next() % *len, n = 1 + next() % 64; n-- && i < *len; i++)
			p[i] = (uint8_t)next();
	}
}

static void test_mutations(void **state)
{
	static const char *const extra[] = { "OSDComputerName=PC01" };
	struct tsm_cm_media_vars in = { .media_guid = GUID, .media_type = "FullMedia",
					.extra = extra, .nextra = 1 };
	struct tsm_cm_media_policy pol = { .adv_id = "PS120000", .ts_id = "PS100020",
					   .ts_name = "T", .sequence_xml = "<sequence><step/></sequence>" };
	struct tsm_cm_vars vars = { 0 };
	uint8_t *v = NULL, *p = NULL;
	size_t vlen = 0, plen = 0, counts[4] = { 0 };
	(void)state;

	assert_int_equal(tsm_cm_vars_build(&in, &vars), 0);
	assert_int_equal(tsm_cm_vars_seal(&vars, NULL, TSM_CM_AES128, &v, &vlen), 0);
	tsm_cm_vars_clear(&vars);
	assert_int_equal(tsm_cm_policy_seal(&pol, GUID, TSM_CM_AES256, &p, &plen), 0);
	for (int i = 0; i < 3000; i++) {
		const uint8_t *src = i % 2 ? p : v;
		size_t len = i % 2 ? plen : vlen;
		uint8_t *m = malloc(len);
		struct tsm_cm_vars got = { 0 };
		struct tsm_cm_policy_doc doc = { 0 };
		int rc;

		memcpy(m, src, len);
		mutate(m, &len);
		messages[0] = '\0';
		if (i % 2)
			rc = tsm_cm_policy_open(m, len, GUID, "Policy.xml", &doc, NULL);
		else
			rc = tsm_cm_vars_open(m, len, NULL, "Variables.dat", &got, NULL);
		if (rc != 0 && rc != -EINVAL && rc != -EACCES)
			fail_msg("mutation %d: unexpected error %d", i, rc);
		if (rc < 0 && !strstr(messages, i % 2 ? "Policy.xml" : "Variables.dat"))
			fail_msg("mutation %d: error %d without a message naming the file: %s", i, rc,
				 messages);
		counts[rc == 0 ? 0 : rc == -EINVAL ? 1 : 2]++;
		tsm_cm_vars_clear(&got);
		tsm_cm_policy_doc_clear(&doc);
		free(m);
	}
	/* The mutations reach every path: refused headers, wrong keys, and some still read
	 * (a flipped bit in the trailer, or a cut that keeps the ciphertext). */
	assert_true(counts[1] > 100);
	assert_true(counts[2] > 100);
	assert_true(counts[0] > 0);
	free(v);
	free(p);
}

static void test_bootstrap_mutations(void **state)
{
	static const char ini[] = "[MediaInfo]\r\nMediaType=FullMedia\r\nPasswordRequired=true\r\n"
				  "Unattended=false\r\n";
	(void)state;

	for (int i = 0; i < 2000; i++) {
		size_t len = sizeof(ini) - 1;
		uint8_t *m = malloc(len);
		struct tsm_cm_bootstrap b;
		int rc;

		memcpy(m, ini, len);
		mutate(m, &len);
		rc = tsm_cm_bootstrap_parse((const char *)m, len, "TsmBootstrap.ini", &b);
		if (rc != 0 && rc != -EINVAL)
			fail_msg("mutation %d: unexpected error %d", i, rc);
		free(m);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_mutations, setup),
		cmocka_unit_test_setup(test_bootstrap_mutations, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
