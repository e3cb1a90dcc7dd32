/* util/sandbox.c: a child's result reaches the parent; a child that
 * allocates past its memory limit, spins past its CPU limit or crashes is
 * reported as such and the parent lives on; the child's messages are
 * relayed; the child cannot see the parent's other descriptors. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "tsmedia/log.h"
#include "util/fdio.h"
#include "util/sandbox.h"

/* Messages the parent logged, one after the other. */
static char logged[8192];

static void capture(enum tsm_log_level level, const char *msg)
{
	size_t len = strlen(logged);

	(void)level;
	snprintf(logged + len, sizeof(logged) - len, "%s\n", msg);
}

static int setup(void **state)
{
	(void)state;
	logged[0] = '\0';
	tsm_log_set_sink(capture);
	return 0;
}

static int child_echo(void *arg, int fd)
{
	char buf[6];

	(void)arg;
	if (tsm_fd_write_full(fd, "hello", 5, false) < 0 || tsm_fd_read_full(fd, buf, 5) < 0)
		return -EIO;
	buf[5] = '\0';
	tsm_warn("child got %s", buf);
	return tsm_fd_write_full(fd, buf, 5, false);
}

static void test_result_and_messages(void **state)
{
	struct tsm_sandbox_limits lim = { 256u << 20, 10 };
	struct tsm_sandbox *sb;
	char buf[6] = "";

	(void)state;
	assert_int_equal(tsm_sandbox_start("in.bin", "test reader", &lim, child_echo, NULL, &sb), 0);
	assert_int_equal(tsm_fd_read_full(tsm_sandbox_fd(sb), buf, 5), 0);
	assert_string_equal(buf, "hello");
	assert_int_equal(tsm_sandbox_send(sb, "again", 5), 0);
	assert_int_equal(tsm_fd_read_full(tsm_sandbox_fd(sb), buf, 5), 0);
	assert_string_equal(buf, "again");
	assert_int_equal(tsm_fd_read_full(tsm_sandbox_fd(sb), buf, 1), -EPIPE);
	assert_int_equal(tsm_sandbox_finish(sb, false), 0);
	assert_non_null(strstr(logged, "child got again"));
}

static int child_hog(void *arg, int fd)
{
	size_t step = 64u << 20;

	(void)arg;
	(void)fd;
	/* Touch every page, as a library filling what it allocated would. */
	for (int i = 0; i < 64; i++) {
		char *p = malloc(step);

		if (!p) {
			tsm_error("in the child: out of memory after %d MiB", i * 64);
			return -ENOMEM;
		}
		memset(p, 1, step);
	}
	return 0;
}

static void test_memory_limit(void **state)
{
	struct tsm_sandbox_limits lim = { 256u << 20, 20 };
	struct tsm_sandbox *sb;

	(void)state;
	if (!tsm_sandbox_limits_memory())
		skip();
	assert_int_equal(tsm_sandbox_start("big.wim", "test reader", &lim, child_hog, NULL, &sb), 0);
	assert_int_equal(tsm_sandbox_finish(sb, false), -ENOMEM);
	assert_non_null(strstr(logged, "in the child: out of memory"));
	assert_non_null(strstr(logged, "big.wim: the test reader ran out of its 256 MiB memory limit"));
}

static int child_spin(void *arg, int fd)
{
	volatile uint64_t x = 0;

	(void)arg;
	(void)fd;
	for (;;)
		x++;
	return 0;
}

static void test_cpu_limit(void **state)
{
	struct tsm_sandbox_limits lim = { 0, 1 };
	struct tsm_sandbox *sb;

	(void)state;
	assert_int_equal(tsm_sandbox_start("loop.wim", "test reader", &lim, child_spin, NULL, &sb), 0);
	assert_int_equal(tsm_sandbox_finish(sb, false), -ETIME);
	assert_non_null(strstr(logged, "loop.wim: the test reader used up its 1 s of CPU time"));
}

static int child_crash(void *arg, int fd)
{
	(void)arg;
	(void)fd;
	raise(SIGSEGV);
	return 0;
}

static void test_crash(void **state)
{
	struct tsm_sandbox_limits lim = { 512u << 20, 10 };
	struct tsm_sandbox *sb;

	(void)state;
	assert_int_equal(tsm_sandbox_start("bad.wim", "test reader", &lim, child_crash, NULL, &sb), 0);
	assert_int_equal(tsm_sandbox_finish(sb, false), -ECHILD);
	assert_non_null(strstr(logged, "bad.wim: the test reader crashed (signal 11"));
}

static int child_blocked(void *arg, int fd)
{
	char c;

	(void)arg;
	return tsm_fd_read_full(fd, &c, 1);
}

static void test_kill(void **state)
{
	struct tsm_sandbox_limits lim = { 0, 10 };
	struct tsm_sandbox *sb;

	(void)state;
	assert_int_equal(tsm_sandbox_start("x", "test reader", &lim, child_blocked, NULL, &sb), 0);
	assert_int_equal(tsm_sandbox_finish(sb, true), 0);
	assert_string_equal(logged, "");
}

static int secret_fd = -1;

static int child_probe_fd(void *arg, int fd)
{
	(void)arg;
	(void)fd;
	return fcntl(secret_fd, F_GETFD) < 0 && errno == EBADF ? 0 : -EEXIST;
}

static void test_descriptors_closed(void **state)
{
	struct tsm_sandbox_limits lim = { 0, 10 };
	struct tsm_sandbox *sb;

	(void)state;
	int null_fd = open("/dev/null", O_RDONLY);

	/* Above the child's own descriptors (3 and 4). */
	assert_true(null_fd >= 0);
	assert_true((secret_fd = fcntl(null_fd, F_DUPFD, 50)) >= 0);
	close(null_fd);
	assert_int_equal(tsm_sandbox_start("x", "test reader", &lim, child_probe_fd, NULL, &sb), 0);
	assert_int_equal(tsm_sandbox_finish(sb, false), 0);
	close(secret_fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_result_and_messages, setup),
		cmocka_unit_test_setup(test_memory_limit, setup),
		cmocka_unit_test_setup(test_cpu_limit, setup),
		cmocka_unit_test_setup(test_crash, setup),
		cmocka_unit_test_setup(test_kill, setup),
		cmocka_unit_test_setup(test_descriptors_closed, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
