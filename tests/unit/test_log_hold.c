/* util/log.c: errors held while a command works (tsm_log_hold_errors) are
 * handed back in order and not written; warnings are written as ever; an
 * error a sandboxed reader reports is relayed to the parent and held there
 * (the child, which inherits the holding, must not keep it to itself). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tsmedia/log.h"
#include "util/sandbox.h"

static void test_hold_and_release(void **state)
{
	char **msgs = NULL;
	size_t n;

	(void)state;
	tsm_log_hold_errors();
	tsm_error("first %d", 1);
	tsm_warn("a warning is written, not held");
	tsm_error("second");
	n = tsm_log_release_errors(&msgs);
	assert_int_equal(n, 2);
	assert_string_equal(msgs[0], "first 1");
	assert_string_equal(msgs[1], "second");
	tsm_log_messages_free(msgs, n);
	/* Released: nothing is held any more. */
	tsm_error("written at once");
	assert_int_equal(tsm_log_release_errors(&msgs), 0);
}

static int child_fails(void *arg, int fd)
{
	(void)arg;
	(void)fd;
	tsm_error("the reader's cause");
	return -EINVAL;
}

static void test_child_error_reaches_parent(void **state)
{
	struct tsm_sandbox_limits lim = { 256u << 20, 10 };
	struct tsm_sandbox *sb;
	char **msgs = NULL;
	size_t n;

	(void)state;
	tsm_log_hold_errors();
	assert_int_equal(tsm_sandbox_start("in.iso", "test reader", &lim, child_fails, NULL, &sb), 0);
	assert_int_equal(tsm_sandbox_finish(sb, false), -EINVAL);
	n = tsm_log_release_errors(&msgs);
	assert_true(n >= 1);
	assert_string_equal(msgs[0], "the reader's cause");
	tsm_log_messages_free(msgs, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hold_and_release),
		cmocka_unit_test(test_child_error_reaches_parent),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
