/* Content IDs and kinds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "import/source.h"
#include "tsmedia/content.h"

static void test_ids_accepted(void **state)
{
	char out[TSM_CONTENT_ID_LEN + 1];

	(void)state;
	assert_int_equal(tsm_content_id_normalize("PS100012", out), 0);
	assert_string_equal(out, "PS100012");
	assert_int_equal(tsm_content_id_normalize("tsm0abcd", out), 0);
	assert_string_equal(out, "TSM0ABCD");
	assert_int_equal(tsm_content_id_normalize("2CM00010", out), 0);
	assert_string_equal(out, "2CM00010");
}

static void test_ids_refused(void **state)
{
	static const char *bad[] = { "", "ABC", "PS1XYZ12", "PS1000123", "PS10001", "P-100012",
				     "PS1 0012", "PS10001G", "ÄS100012" };
	char out[TSM_CONTENT_ID_LEN + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_not_equal(tsm_content_id_normalize(bad[i], out), 0);
}

static void test_kinds(void **state)
{
	enum tsm_content_kind k;

	(void)state;
	for (int i = 0; i < TSM_KIND_COUNT; i++) {
		assert_int_equal(tsm_content_kind_parse(tsm_content_kind_name(i), &k), 0);
		assert_int_equal(k, i);
	}
	assert_string_equal(tsm_content_kind_name(TSM_KIND_DRIVER_PACKAGE), "driver-package");
	assert_int_not_equal(tsm_content_kind_parse("driver", &k), 0);
	assert_int_not_equal(tsm_content_kind_parse("Boot-Image", &k), 0);
}

static void test_utf8(void **state)
{
	(void)state;
	assert_true(tsm_utf8_valid("plain.txt"));
	assert_true(tsm_utf8_valid("한국어_파일.txt"));
	assert_true(tsm_utf8_valid("\xf0\x9f\x98\x80"));    /* U+1F600 */
	assert_false(tsm_utf8_valid("\xff"));
	assert_false(tsm_utf8_valid("\xc0\xaf"));           /* overlong '/' */
	assert_false(tsm_utf8_valid("\xed\xa0\x80"));       /* surrogate */
	assert_false(tsm_utf8_valid("\xe2\x82"));           /* truncated */
	assert_false(tsm_utf8_valid("\xf4\x90\x80\x80"));   /* above U+10FFFF */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ids_accepted),
		cmocka_unit_test(test_ids_refused),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_utf8),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
