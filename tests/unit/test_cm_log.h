/* Captured log messages for the tests of core/media/cm*.c: each test's setup clears them and
 * installs the sink; assert_message() fails with everything that was logged. */
#ifndef TSMEDIA_TEST_CM_LOG_H
#define TSMEDIA_TEST_CM_LOG_H

#include <stdio.h>
#include <string.h>

#include "tsmedia/log.h"

static char messages[8192];

static void capture(enum tsm_log_level level, const char *msg)
{
	size_t len = strlen(messages);

	(void)level;
	snprintf(messages + len, sizeof(messages) - len, "%s\n", msg);
}

static __attribute__((unused)) void assert_message(const char *needle)
{
	if (!strstr(messages, needle))
		fail_msg("expected a message containing '%s'; got:\n%s", needle, messages);
}

static int setup(void **state)
{
	(void)state;
	messages[0] = '\0';
	tsm_log_set_sink(capture);
	return 0;
}

#endif
