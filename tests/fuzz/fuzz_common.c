#include "fuzz_common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsmedia/content.h"
#include "tsmedia/log.h"
#include "tsmedia/store.h"

/* The ISO and WIM readers run in a child process (core/util/sandbox.c), so
 * a sanitizer report there ends the child, not this process.  The child then
 * exits with this code (ASan's and UBSan's, set below), or with libFuzzer's
 * own 77 (-error_exitcode) when libFuzzer handled the death; the sandbox
 * hands the exit code back negated, and a signal as -ECHILD.  Each is a
 * finding (fuzz_import aborts), its report printed above by the child. */
#define FUZZ_SANITIZER_EXITCODE 242
#define FUZZ_LIBFUZZER_EXITCODE 77

const char *__asan_default_options(void);
const char *__ubsan_default_options(void);

const char *__asan_default_options(void)
{
	return "exitcode=242";
}

const char *__ubsan_default_options(void)
{
	return "exitcode=242:halt_on_error=1:print_stacktrace=1";
}

static char scratch[4096];
static bool expect_valid;
/* fuzz_path() hands out these in turn, so that a few paths stay valid together. */
static char path_bufs[4][4096 + 256];
static unsigned path_next;
static struct tsm_store *store;
static struct tsm_store_stats store_stats;

static void quiet_sink(enum tsm_log_level level, const char *msg)
{
	(void)level;
	(void)msg;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void remove_tree(const char *path)
{
	nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void scratch_remove(void)
{
	if (store) {
		tsm_store_close(store);
		store = NULL;
	}
	if (scratch[0])
		remove_tree(scratch);
}

/* tmpfs when there is one: a store per input costs no disk writes. */
static const char *scratch_parent(void)
{
	const char *env = getenv("TSM_FUZZ_TMPDIR");

	if (env && *env)
		return env;
	if (access("/dev/shm", W_OK) == 0)
		return "/dev/shm";
	env = getenv("TMPDIR");
	return env && *env ? env : "/tmp";
}

/* A crash ends the process without atexit: the next harness to start
 * removes the scratch directories of processes that are gone (named
 * tsmedia-fuzz-HARNESS-PID, ours only). */
static void remove_stale_scratch(const char *parent)
{
	DIR *dir = opendir(parent);
	struct dirent *de;

	if (!dir)
		return;
	while ((de = readdir(dir))) {
		const char *dash = strrchr(de->d_name, '-');
		char path[4096 + 256], *end;
		struct stat st;
		long pid;

		if (strncmp(de->d_name, "tsmedia-fuzz-", 13) != 0 || !dash || !dash[1])
			continue;
		errno = 0;
		pid = strtol(dash + 1, &end, 10);
		if (*end || errno || pid <= 0 || pid == (long)getpid() ||
		    kill((pid_t)pid, 0) == 0 || errno != ESRCH)
			continue;
		snprintf(path, sizeof(path), "%s/%s", parent, de->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == getuid())
			remove_tree(path);
	}
	closedir(dir);
}

void fuzz_init(const char *harness)
{
	const char *verbose = getenv("TSM_FUZZ_VERBOSE");
	const char *expect = getenv("TSM_FUZZ_EXPECT_VALID");

	if (scratch[0])
		return;
	expect_valid = expect && strcmp(expect, "1") == 0;
	/* A seed that fails says why. */
	if ((!verbose || strcmp(verbose, "1") != 0) && !expect_valid)
		tsm_log_set_sink(quiet_sink);
	remove_stale_scratch(scratch_parent());
	snprintf(scratch, sizeof(scratch), "%s/tsmedia-fuzz-%s-%ld", scratch_parent(), harness,
		 (long)getpid());
	remove_tree(scratch); /* left by an earlier process with this pid */
	if (mkdir(scratch, 0700) < 0) {
		fprintf(stderr, "fuzz_%s: cannot create %s: %s\n", harness, scratch, strerror(errno));
		abort();
	}
	atexit(scratch_remove);
}

void fuzz_expect_valid(int ok, const char *what)
{
	if (expect_valid && !ok) {
		fprintf(stderr, "fuzz: a seed was refused by %s (TSM_FUZZ_EXPECT_VALID=1)\n", what);
		abort();
	}
}

const char *fuzz_path(const char *name)
{
	char *buf = path_bufs[path_next++ % 4];

	snprintf(buf, sizeof(path_bufs[0]), "%s/%s", scratch, name);
	return buf;
}

const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size)
{
	const char *path = fuzz_path(name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0) {
		fprintf(stderr, "fuzz: cannot create %s: %s\n", path, strerror(errno));
		abort();
	}
	while (size) {
		ssize_t n = write(fd, data, size);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fprintf(stderr, "fuzz: cannot write %s: %s\n", path, strerror(errno));
			abort();
		}
		data += n;
		size -= (size_t)n;
	}
	close(fd);
	return path;
}

void fuzz_remove(const char *name)
{
	remove_tree(fuzz_path(name));
}

struct tsm_store *fuzz_store(void)
{
	const char *dir;
	int rc;

	if (store)
		return store;
	fuzz_remove("store");
	dir = fuzz_path("store");
	if ((rc = tsm_store_init(dir, NULL)) < 0 || (rc = tsm_store_open(dir, &store)) < 0 ||
	    (rc = tsm_store_stats(store, &store_stats)) < 0) {
		fprintf(stderr, "fuzz: cannot make a store in %s: %s\n", dir, strerror(-rc));
		abort();
	}
	return store;
}

void fuzz_store_discard(void)
{
	if (store) {
		tsm_store_close(store);
		store = NULL;
	}
}

void fuzz_store_check_unchanged(const char *what)
{
	struct tsm_store_stats now;
	int rc;

	if (!store)
		return;
	if ((rc = tsm_store_stats(store, &now)) < 0) {
		fprintf(stderr, "fuzz: store stats after %s: %s\n", what, strerror(-rc));
		abort();
	}
	if (memcmp(&now, &store_stats, sizeof(now)) != 0) {
		fprintf(stderr,
			"fuzz: %s failed but changed the store: blobs %llu -> %llu, chunks %llu -> %llu,"
			" pack bytes %llu -> %llu, content versions %llu -> %llu\n",
			what, (unsigned long long)store_stats.blobs, (unsigned long long)now.blobs,
			(unsigned long long)store_stats.chunks, (unsigned long long)now.chunks,
			(unsigned long long)store_stats.pack_bytes, (unsigned long long)now.pack_bytes,
			(unsigned long long)store_stats.content_versions,
			(unsigned long long)now.content_versions);
		abort();
	}
}

void fuzz_import(fuzz_import_fn import, int kind, const char *what, const char *file_name,
		 const uint8_t *data, size_t size)
{
	fuzz_import_then(import, kind, what, file_name, data, size, NULL);
}

void fuzz_import_then(fuzz_import_fn import, int kind, const char *what, const char *file_name,
		      const uint8_t *data, size_t size,
		      void (*after)(struct tsm_store *store, const char *id))
{
	struct tsm_content_add_options o = {
		.kind = (enum tsm_content_kind)kind,
		.name = "fuzz",
	};
	struct tsm_content_add_result res;
	int rc;

	o.source = fuzz_write_file(file_name, data, size);
	rc = import(fuzz_store(), &o, &res);
	if (rc == -ECHILD || rc == -FUZZ_SANITIZER_EXITCODE || rc == -FUZZ_LIBFUZZER_EXITCODE) {
		fprintf(stderr, "fuzz: %s: the reader's child process died (%s): its report is above\n",
			what, rc == -ECHILD ? "a signal" : "a sanitizer or libFuzzer error");
		abort();
	}

	fuzz_expect_valid(rc == 0, what);
	if (rc < 0) {
		fuzz_store_check_unchanged(what);
	} else {
		if (after)
			after(fuzz_store(), res.id);
		fuzz_store_discard();
	}
	fuzz_remove(file_name);
}
