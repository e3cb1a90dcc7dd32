/* TsmBootstrap.ini (core/media/cmbootstrap.c): the three keys Configuration Manager writes,
 * read back, another writer's file, malformed files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media/cmbootstrap.h"
#include "test_cm_log.h"

static void test_render(void **state)
{
	struct tsm_cm_bootstrap b = { .media_type = "FullMedia", .password_required = true };
	char *text = NULL;
	size_t len = 0;
	(void)state;

	assert_int_equal(tsm_cm_bootstrap_render(&b, &text, &len), 0);
	assert_string_equal(text, "[MediaInfo]\r\nMediaType=FullMedia\r\nPasswordRequired=true\r\n"
				  "Unattended=false\r\n");
	assert_int_equal(len, strlen(text));
	free(text);
	strcpy(b.media_type, "Full Media");
	assert_int_equal(tsm_cm_bootstrap_render(&b, &text, &len), -EINVAL);
}

static int parse(const char *text, struct tsm_cm_bootstrap *b)
{
	messages[0] = '\0';
	return tsm_cm_bootstrap_parse(text, strlen(text), "SMS/data/TsmBootstrap.ini", b);
}

static void test_parse(void **state)
{
	struct tsm_cm_bootstrap b;
	char long_line[600];
	(void)state;

	assert_int_equal(parse("[MediaInfo]\r\nMediaType=BootMedia\r\nPasswordRequired=false\r\n"
			       "Unattended=true\r\n", &b), 0);
	assert_string_equal(b.media_type, "BootMedia");
	assert_false(b.password_required);
	assert_true(b.unattended);
	/* Another writer: comments, other sections and keys, spaces, LF only, no final newline. */
	assert_int_equal(parse("; made elsewhere\n[Other]\nMediaType=Nope\n[mediainfo]\n"
			       " MediaType = OEMMedia \nPasswordRequired=TRUE\nExtra=1", &b), 0);
	assert_string_equal(b.media_type, "OEMMedia");
	assert_true(b.password_required);
	assert_false(b.unattended);

	assert_int_equal(parse("[MediaInfo]\nPasswordRequired=true\n", &b), -EINVAL);
	assert_message("SMS/data/TsmBootstrap.ini: no MediaType in [MediaInfo]");
	assert_int_equal(parse("[MediaInfo]\nMediaType=FullMedia\nPasswordRequired=yes\n", &b),
			 -EINVAL);
	assert_message("PasswordRequired=yes, want true or false");
	assert_int_equal(parse("[MediaInfo]\nMediaType=Full<Media>\n", &b), -EINVAL);
	memset(long_line, 'A', sizeof(long_line) - 1);
	long_line[sizeof(long_line) - 1] = '\0';
	assert_int_equal(parse(long_line, &b), -EINVAL);
	assert_message("a line of 599 bytes");
	assert_int_equal(parse("", &b), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_render, setup),
		cmocka_unit_test_setup(test_parse, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
