/* A child process under resource limits for a parser of hostile input;
 * see sandbox.h. */
#include "util/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tsmedia/i18n.h"
#include "tsmedia/log.h"
#include "util/fdio.h"

/* AddressSanitizer reserves terabytes of address space for its shadow
 * memory: under it RLIMIT_AS would stop every child at its start, so the
 * memory limit is left to ASan's own (ASAN_OPTIONS=malloc_limit_mb, or
 * libFuzzer's -rss_limit_mb). */
#if defined(__SANITIZE_ADDRESS__)
#define SANDBOX_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANDBOX_ASAN 1
#endif
#endif
#ifndef SANDBOX_ASAN
#define SANDBOX_ASAN 0
#endif

/* The child's descriptors: its socket to the parent, its message pipe. */
#define CHILD_SOCK 3
#define CHILD_MSG 4
/* Messages the child forwards, in bytes: less than a pipe holds (64 KiB
 * on Linux), so the child never waits for the parent to read them. */
#define MSG_BUDGET 48000

struct tsm_sandbox {
	const char *file, *what;
	struct tsm_sandbox_limits lim;
	pid_t pid;
	int fd;     /* the parent's end of the socket */
	int msg_fd; /* the read end of the child's messages */
	bool killed;
	/* Thread mode (fuzz builds only, see thread_mode()) */
	bool in_thread;
	pthread_t thread;
	tsm_sandbox_fn fn;
	void *arg;
	int child_fd;
	int thread_rc;
};

/* ---- the child -------------------------------------------------------- */

static size_t child_msg_left = MSG_BUDGET;

/* Each message: its level (1 byte), its length (2 bytes), its text. */
static void child_sink(enum tsm_log_level level, const char *msg)
{
	size_t len = strlen(msg);
	uint8_t head[3];

	if (len > 4000)
		len = 4000;
	if (len + sizeof(head) > child_msg_left)
		return;
	child_msg_left -= len + sizeof(head);
	head[0] = (uint8_t)level;
	head[1] = (uint8_t)(len & 0xff);
	head[2] = (uint8_t)(len >> 8);
	if (tsm_fd_write_full(CHILD_MSG, head, sizeof(head), false) == 0)
		(void)tsm_fd_write_full(CHILD_MSG, msg, len, false);
}

static void child_limit(int resource, rlim_t soft, rlim_t hard)
{
	struct rlimit rl = { soft, hard };

	if (setrlimit(resource, &rl) < 0)
		_exit(EPERM);
}

static const int default_signals[] = { SIGPIPE, SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL,
				       SIGXCPU };

static __attribute__((noreturn)) void child_main(const struct tsm_sandbox_limits *lim,
						 pid_t parent, int sock, int msg, tsm_sandbox_fn fn,
						 void *arg)
{
	int a = fcntl(sock, F_DUPFD, 100), b = fcntl(msg, F_DUPFD, 100), rc;

	/* Only the standard descriptors and ours: a reader gone wrong can
	 * reach neither the catalog nor the packs nor the store's lock. */
	if (a < 0 || b < 0 || dup2(a, CHILD_SOCK) < 0 || dup2(b, CHILD_MSG) < 0 ||
	    close_range(CHILD_MSG + 1, ~0u, 0) < 0)
		_exit(EBADF);
	/* Dies with its parent (also when the parent died before this). */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		_exit(EPERM);
	if (getppid() != parent)
		_exit(ESRCH);
	child_limit(RLIMIT_CORE, 0, 0);
	if (lim->memory && !SANDBOX_ASAN)
		child_limit(RLIMIT_AS, lim->memory, lim->memory);
	/* SIGXCPU at the limit, SIGKILL a second later. */
	if (lim->cpu_seconds)
		child_limit(RLIMIT_CPU, lim->cpu_seconds, (rlim_t)lim->cpu_seconds + 1);
	/* A crash is a crash, whatever the parent catches. */
	for (size_t i = 0; i < sizeof(default_signals) / sizeof(default_signals[0]); i++)
		signal(default_signals[i], SIG_DFL);
	tsm_log_set_sink(child_sink);
	rc = fn(arg, CHILD_SOCK);
	_exit(rc < 0 ? (-rc < 256 ? -rc : EIO) : 0);
}

/* ---- thread mode (fuzz builds) ---------------------------------------- */

/* libFuzzer's coverage counters in a forked child are the child's copy: the
 * readers' own branches would never guide the fuzzing.  A fuzz build
 * (-Dfuzz=true defines TSM_FUZZ_BUILD) can therefore run @fn in a thread of
 * the same process instead, when TSM_SANDBOX_THREAD=1 is in the
 * environment.  The protocol over the socket is the same; what is lost is
 * what only a process gives: no RLIMIT_AS or RLIMIT_CPU (libFuzzer's
 * -rss_limit_mb and -timeout are the limits then), no closed descriptors,
 * and a crash is the whole process's (which is what a fuzzer wants to see).
 * Normal builds never take this path: the code is not compiled in. */
#ifdef TSM_FUZZ_BUILD
static bool thread_mode(void)
{
	const char *v = getenv("TSM_SANDBOX_THREAD");

	return v && strcmp(v, "1") == 0;
}

static void *thread_main(void *p)
{
	struct tsm_sandbox *sb = p;

	sb->thread_rc = sb->fn(sb->arg, sb->child_fd);
	/* As a child's exit would: the parent's reads see the end. */
	close(sb->child_fd);
	return NULL;
}

static int thread_start(struct tsm_sandbox *sb, int sv[2])
{
	int rc;

	/* A write to a socket the parent closed fails with EPIPE here, as the
	 * child's would end it; never a signal that ends the fuzzer. */
	signal(SIGPIPE, SIG_IGN);
	sb->child_fd = sv[1];
	sb->fd = sv[0];
	sb->in_thread = true;
	if ((rc = pthread_create(&sb->thread, NULL, thread_main, sb)) != 0) {
		sb->fd = -1;
		return -rc;
	}
	return 0;
}

static int thread_finish(struct tsm_sandbox *sb, bool kill_child)
{
	int rc;

	/* Giving up: the reader's next read or write on the socket fails. */
	if (kill_child) {
		sb->killed = true;
		shutdown(sb->fd, SHUT_RDWR);
	}
	pthread_join(sb->thread, NULL);
	close(sb->fd);
	rc = sb->killed ? 0 : sb->thread_rc;
	free(sb);
	return rc;
}
#else
static bool thread_mode(void)
{
	return false;
}

static int thread_start(struct tsm_sandbox *sb, int sv[2])
{
	(void)sb;
	(void)sv;
	return -ENOSYS;
}

static int thread_finish(struct tsm_sandbox *sb, bool kill_child)
{
	(void)sb;
	(void)kill_child;
	return -ENOSYS;
}
#endif

/* ---- the parent ------------------------------------------------------- */

int tsm_sandbox_start(const char *file, const char *what, const struct tsm_sandbox_limits *lim,
		      tsm_sandbox_fn fn, void *arg, struct tsm_sandbox **sb_ret)
{
	struct tsm_sandbox *sb;
	int sv[2], msg[2], rc;
	pid_t parent;

	if (!(sb = calloc(1, sizeof(*sb))))
		return -ENOMEM;
	*sb = (struct tsm_sandbox){ .file = file, .what = what, .lim = *lim, .fd = -1,
				    .msg_fd = -1, .fn = fn, .arg = arg };
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		rc = -errno;
		goto out_free;
	}
	if (thread_mode()) {
		if ((rc = thread_start(sb, sv)) < 0)
			goto out_close_socket;
		*sb_ret = sb;
		return 0;
	}
	if (pipe2(msg, O_CLOEXEC) < 0) {
		rc = -errno;
		goto out_close_socket;
	}
	/* Nothing buffered may be written twice. */
	fflush(NULL);
	parent = getpid();
	sb->pid = fork();
	if (sb->pid < 0) {
		rc = -errno;
		goto out_close_pipe;
	}
	if (sb->pid == 0)
		child_main(lim, parent, sv[1], msg[1], fn, arg);
	close(sv[1]);
	close(msg[1]);
	sb->fd = sv[0];
	sb->msg_fd = msg[0];
	*sb_ret = sb;
	return 0;
out_close_pipe:
	close(msg[0]);
	close(msg[1]);
out_close_socket:
	close(sv[0]);
	close(sv[1]);
out_free:
	tsm_error("%s: cannot start the %s: %s", file, what, strerror(-rc));
	free(sb);
	return rc;
}

bool tsm_sandbox_limits_memory(void)
{
	return !SANDBOX_ASAN;
}

int tsm_sandbox_fd(const struct tsm_sandbox *sb)
{
	return sb->fd;
}

int tsm_sandbox_send(struct tsm_sandbox *sb, const void *buf, size_t len)
{
	return tsm_fd_write_full(sb->fd, buf, len, true);
}

/* The child's messages, logged here as the parent's. */
static void relay_messages(struct tsm_sandbox *sb)
{
	uint8_t head[3];
	char msg[4001];

	while (tsm_fd_read_full(sb->msg_fd, head, sizeof(head)) == 0) {
		size_t len = (size_t)head[1] | (size_t)head[2] << 8;

		if (len >= sizeof(msg) || tsm_fd_read_full(sb->msg_fd, msg, len) < 0)
			break;
		msg[len] = '\0';
		tsm_log(head[0] <= TSM_LOG_DEBUG ? (enum tsm_log_level)head[0] : TSM_LOG_ERROR, "%s",
			msg);
	}
}

static void format_bytes(uint64_t n, char *buf, size_t size)
{
	if (n % (1ull << 30) == 0)
		snprintf(buf, size, "%llu GiB", (unsigned long long)(n >> 30));
	else
		snprintf(buf, size, "%llu MiB", (unsigned long long)(n >> 20));
}

int tsm_sandbox_finish(struct tsm_sandbox *sb, bool kill_child)
{
	struct rusage ru;
	char mem[32] = "";
	int status, rc = 0;
	pid_t got;

	if (sb->in_thread)
		return thread_finish(sb, kill_child);
	if (kill_child) {
		sb->killed = true;
		kill(sb->pid, SIGKILL);
	}
	close(sb->fd);
	do
		got = wait4(sb->pid, &status, 0, &ru);
	while (got < 0 && errno == EINTR);
	relay_messages(sb);
	close(sb->msg_fd);
	if (sb->lim.memory)
		format_bytes(sb->lim.memory, mem, sizeof(mem));
	if (got < 0) {
		rc = -errno;
		tsm_error("%s: cannot wait for the %s: %s", sb->file, sb->what, strerror(-rc));
	} else if (WIFEXITED(status)) {
		rc = -WEXITSTATUS(status);
		if (rc == -ENOMEM && sb->lim.memory)
			tsm_error("%s: the %s ran out of its %s memory limit", sb->file, sb->what, mem);
	} else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && sb->killed) {
		rc = 0;
	} else if (WIFSIGNALED(status) &&
		   (WTERMSIG(status) == SIGXCPU ||
		    (WTERMSIG(status) == SIGKILL && sb->lim.cpu_seconds &&
		     ru.ru_utime.tv_sec + ru.ru_stime.tv_sec >= (time_t)sb->lim.cpu_seconds))) {
		tsm_error("%s: the %s used up its %u s of CPU time (a hostile or damaged file?)",
			  sb->file, sb->what, sb->lim.cpu_seconds);
		rc = -ETIME;
	} else if (WIFSIGNALED(status)) {
		tsm_error("%s: the %s crashed (signal %d, %s)%s%s%s", sb->file, sb->what,
			  WTERMSIG(status), strsignal(WTERMSIG(status)),
			  *mem ? _("; perhaps at its ") : "", mem, *mem ? _(" memory limit") : "");
		rc = -ECHILD;
	} else {
		rc = -ECHILD;
	}
	free(sb);
	return rc;
}
