/* Running a parser of hostile input in a child process under resource
 * limits.
 *
 * A library that reads a foreign format (wimlib for WIMs; PKCS#12 and XML
 * readers could follow) may be driven by its input to allocate or loop
 * without bound, or to crash.  In a child with RLIMIT_AS and RLIMIT_CPU
 * that costs the child, not the caller, the store or the machine, and the
 * user reads "FILE: the WIM reader ran out of its 2 GiB memory limit"
 * instead of an out-of-memory-killed shell.
 *
 * tsm_sandbox_start() forks.  The child: closes every descriptor but the
 * standard ones and its end of a socket pair, sets the limits (and no core
 * files), sends its log messages to the parent, runs @fn with the socket
 * and _exit()s with what @fn returned (0, or a negative errno).  @fn writes
 * its result to the socket, in whatever form its caller reads, and may
 * read from it what the parent sends.  The parent reads the child's output
 * from tsm_sandbox_fd(), which it treats as it would the input itself:
 * checked, bounded.  tsm_sandbox_finish() waits for the child, logs the
 * child's messages, then how it ended when that was not by returning.
 *
 * A fuzz build can run @fn in a thread instead (TSM_SANDBOX_THREAD=1; see
 * sandbox.c and tests/fuzz/README.md), so @fn must not rely on exiting to
 * free what it made, nor on the caller's memory being a copy.
 *
 * Fork copies only the calling thread: start a sandbox before the caller
 * starts threads, or from a thread that holds no lock the child needs.
 * One sandbox is owned by one thread of the parent. */
#ifndef TSMEDIA_UTIL_SANDBOX_H
#define TSMEDIA_UTIL_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tsm_sandbox_limits {
	uint64_t memory;      /* RLIMIT_AS, bytes; 0: none */
	unsigned cpu_seconds; /* RLIMIT_CPU; 0: none */
};

/* Runs in the child.  @fd: the socket to the parent.  Returns 0 or a
 * negative errno (reported through tsm_log, which the child forwards). */
typedef int (*tsm_sandbox_fn)(void *arg, int fd);

struct tsm_sandbox;

/* @file and @what name the input and the reader in messages ("FILE: the
 * WIM reader ..."); both must outlive the sandbox. */
int tsm_sandbox_start(const char *file, const char *what, const struct tsm_sandbox_limits *lim,
		      tsm_sandbox_fn fn, void *arg, struct tsm_sandbox **sb_ret);

/* False in a build with AddressSanitizer, whose shadow memory takes more
 * address space than any RLIMIT_AS would allow: there the memory limit is
 * not set (use ASAN_OPTIONS=malloc_limit_mb). */
bool tsm_sandbox_limits_memory(void);

/* The parent's end of the socket (blocking). */
int tsm_sandbox_fd(const struct tsm_sandbox *sb);

/* @len bytes to the child; -EPIPE when it is gone (no SIGPIPE). */
int tsm_sandbox_send(struct tsm_sandbox *sb, const void *buf, size_t len);

/* Waits for the child and frees @sb; with @kill, kills it first (the
 * parent gave up on it).  Returns what @fn returned, or -ENOMEM (memory
 * limit), -ETIME (CPU limit), -ECHILD (crashed), each reported.  A child
 * killed on purpose returns 0. */
int tsm_sandbox_finish(struct tsm_sandbox *sb, bool kill);

#endif
