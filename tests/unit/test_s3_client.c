/* The S3 client against a service that misbehaves (fake_s3.py, started by
 * each test on a free port of 127.0.0.1):
 *   - a listing whose continuation tokens (ListObjectsV2) or markers
 *     (ListMultipartUploads) lead in a cycle is stopped when a token comes
 *     back, not after LIST_PAGES_MAX pages;
 *   - a request to a service that stopped answering ends within about a
 *     second of its stop flag (tsm_s3_set_stop), or at its deadline;
 *   - no block of memory freed in the process (by us or by libcurl) still
 *     holds the secret key or the session token: this executable replaces
 *     free() with one that looks for them in every block it is given
 *     before glibc's __libc_free() frees it (glibc allows replacing the
 *     malloc functions:
 *     https://www.gnu.org/software/libc/manual/html_node/Replacing-malloc.html). */
#include <errno.h>
#include <fcntl.h>
#include <execinfo.h>
#include <malloc.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/s3.h"

#define SECRET "hyg-secret-7f3a9c2e51d04b8e"
#define TOKEN "hyg-token-0c5d9e1f77a24b3c"

/* ---- free() that counts blocks still holding a secret --------------------- */

/* Under AddressSanitizer the sanitizer owns malloc() and free(): glibc's
 * __libc_free() must not see its blocks, so the count is left to the
 * plain build (tools/test.sh runs both). */
#if defined(__SANITIZE_ADDRESS__)
#define FREE_WATCHED 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FREE_WATCHED 0
#endif
#endif
#ifndef FREE_WATCHED
#define FREE_WATCHED 1
#endif

static atomic_bool watching;
static atomic_int dirty_frees;

#if FREE_WATCHED
extern void __libc_free(void *p);

void free(void *p)
{
	if (p && atomic_load(&watching)) {
		size_t n = malloc_usable_size(p);

		if (memmem(p, n, SECRET, strlen(SECRET)) || memmem(p, n, TOKEN, strlen(TOKEN))) {
			void *bt[20];
			int depth = backtrace(bt, 20);

			/* Who freed it, for the failure's log. */
			atomic_fetch_add(&dirty_frees, 1);
			backtrace_symbols_fd(bt, depth, 2);
		}
	}
	__libc_free(p);
}
#endif

/* ---- the fake service ------------------------------------------------------ */

struct fake {
	pid_t pid;
	char log[64];
	char endpoint[64];
};

static void fake_start(struct fake *f)
{
	const char *script = getenv("FAKE_S3");
	int fds[2];
	char line[32] = "";

	if (!script)
		fail_msg("FAKE_S3 does not name fake_s3.py (run through meson test)");
	snprintf(f->log, sizeof(f->log), "/tmp/tsm-unit-s3-XXXXXX");
	int lfd = mkstemp(f->log);

	assert_true(lfd >= 0);
	close(lfd);
	assert_int_equal(pipe(fds), 0);
	f->pid = fork();
	assert_true(f->pid >= 0);
	if (f->pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		/* Not meson's output (it would wait for its end), and not
		 * beyond this process (a failed assertion skips fake_stop). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(null, 2);
		dup2(fds[1], 1);
		close(fds[0]);
		execl("/usr/bin/python3", "python3", script, f->log, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	FILE *in = fdopen(fds[0], "r");

	assert_non_null(in);
	assert_non_null(fgets(line, sizeof(line), in));
	fclose(in);
	assert_true(atoi(line) > 0);
	snprintf(f->endpoint, sizeof(f->endpoint), "http://127.0.0.1:%d", atoi(line));
}

static void fake_stop(struct fake *f)
{
	kill(f->pid, SIGKILL);
	waitpid(f->pid, NULL, 0);
	unlink(f->log);
}

/* Requests the fake service was sent whose line holds @what. */
static int fake_count(const struct fake *f, const char *what)
{
	FILE *in = fopen(f->log, "r");
	char line[4096];
	int n = 0;

	assert_non_null(in);
	while (fgets(line, sizeof(line), in))
		n += strstr(line, what) != NULL;
	fclose(in);
	return n;
}

static struct tsm_s3 *client(const struct fake *f, unsigned timeout)
{
	struct tsm_s3_config cfg = { .url = "s3://bucket/site", .endpoint = f->endpoint,
				     .timeout = timeout };
	struct tsm_s3 *s3 = NULL;

	setenv("AWS_ACCESS_KEY_ID", "unit", 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	setenv("AWS_SESSION_TOKEN", TOKEN, 1);
	unsetenv("TSMEDIA_S3_CREDENTIALS");
	assert_int_equal(tsm_s3_new(&cfg, &s3), 0);
	return s3;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- listings in a cycle ------------------------------------------------------ */

static int count_key(void *ctx, const char *key, uint64_t size, int64_t mtime)
{
	(void)key;
	(void)size;
	(void)mtime;
	(*(int *)ctx)++;
	return 0;
}

static int count_upload(void *ctx, const char *key, const char *id, int64_t initiated)
{
	(void)key;
	(void)id;
	(void)initiated;
	(*(int *)ctx)++;
	return 0;
}

/* Tokens "A", "B", "A": the third page gives back the first page's token,
 * and the listing stops there (before: only a token repeated at once was
 * seen, and a cycle of two was followed for 10,000 pages). */
static void test_list_cycle(void **state)
{
	struct fake f;
	struct tsm_s3 *s3;
	int keys = 0;

	(void)state;
	fake_start(&f);
	s3 = client(&f, 10);
	assert_int_equal(tsm_s3_list(s3, "packs/", count_key, &keys), -EIO);
	assert_int_equal(fake_count(&f, "list-type=2"), 3);
	assert_int_equal(keys, 3);
	tsm_s3_free(s3);
	fake_stop(&f);
}

static void test_uploads_cycle(void **state)
{
	struct fake f;
	struct tsm_s3 *s3;
	int uploads = 0;

	(void)state;
	fake_start(&f);
	s3 = client(&f, 10);
	assert_int_equal(tsm_s3_uploads_list(s3, "packs/", count_upload, &uploads), -EIO);
	assert_int_equal(fake_count(&f, "uploads="), 3);
	assert_int_equal(uploads, 3);
	tsm_s3_free(s3);
	fake_stop(&f);
}

/* ---- a service that stopped answering -------------------------------------------- */

struct stalled_get {
	struct tsm_s3 *s3;
	int rc;
	double took;
};

static void *stalled_get_main(void *arg)
{
	struct stalled_get *g = arg;
	char *buf = NULL;
	size_t len;
	double t0 = now_s();

	g->rc = tsm_s3_get_small(g->s3, "stall", 4096, &buf, &len);
	g->took = now_s() - t0;
	if (g->rc == 0)
		free(buf);
	return NULL;
}

/* A request stalled for good (the request's timeout is 30 s) ends within
 * about a second of its stop flag set from another thread; a request
 * after it fails at once. */
static void test_stop(void **state)
{
	struct fake f;
	struct stalled_get g = { 0 };
	atomic_bool stop = false;
	pthread_t t;
	char *buf = NULL;
	size_t len;

	(void)state;
	fake_start(&f);
	g.s3 = client(&f, 30);
	tsm_s3_set_stop(g.s3, &stop);
	assert_int_equal(pthread_create(&t, NULL, stalled_get_main, &g), 0);
	usleep(500 * 1000);
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	print_message("stopped after %.2f s\n", g.took);
	assert_int_equal(g.rc, -ECANCELED);
	assert_true(g.took < 3.0);
	assert_int_equal(fake_count(&f, "/stall"), 1);
	assert_int_equal(tsm_s3_get_small(g.s3, "stall", 4096, &buf, &len), -ECANCELED);
	assert_int_equal(fake_count(&f, "/stall"), 1);
	tsm_s3_free(g.s3);
	fake_stop(&f);
}

/* A deadline bounds the whole request, whatever the stall timeout. */
static void test_deadline(void **state)
{
	struct fake f;
	struct stalled_get g = { 0 };

	(void)state;
	fake_start(&f);
	g.s3 = client(&f, 30);
	tsm_s3_set_deadline(g.s3, 1000);
	stalled_get_main(&g);
	print_message("gave up after %.2f s\n", g.took);
	assert_int_equal(g.rc, -EIO);
	assert_true(g.took >= 0.9 && g.took < 4.0);
	tsm_s3_free(g.s3);
	fake_stop(&f);
}

/* ---- credentials ------------------------------------------------------------------ */

/* Requests signed with the secret key and carrying the session token, then
 * the client freed: no block freed meanwhile holds either (libcurl's
 * copies of KEY:SECRET, its SigV4 key, the request's headers, our own). */
static void test_secrets_wiped(void **state)
{
	struct fake f;
	struct tsm_s3 *s3;
	uint64_t size;
	int keys = 0;

	(void)state;
	if (!FREE_WATCHED) {
		print_message("skipped under AddressSanitizer: it owns free(); the plain build"
			      " runs this check\n");
		skip();
	}
	fake_start(&f);
	atomic_store(&dirty_frees, 0);
	atomic_store(&watching, true);
	s3 = client(&f, 10);
	assert_int_equal(tsm_s3_head(s3, "catalog/CURRENT", &size, NULL), 0);
	assert_int_equal(tsm_s3_put_buf(s3, "leases/x", "", 0), 0);
	assert_int_equal(tsm_s3_list(s3, "leases/", count_key, &keys), -EIO);
	assert_int_equal(tsm_s3_delete(s3, "leases/x"), 0);
	tsm_s3_free(s3);
	atomic_store(&watching, false);
	print_message("blocks freed holding the secret or the token: %d\n",
		      atomic_load(&dirty_frees));
	assert_int_equal(atomic_load(&dirty_frees), 0);
	fake_stop(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list_cycle),
		cmocka_unit_test(test_uploads_cycle),
		cmocka_unit_test(test_stop),
		cmocka_unit_test(test_deadline),
		cmocka_unit_test(test_secrets_wiped),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
