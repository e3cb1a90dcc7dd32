/* Layer: util, below all (core/util/log.c). */
/* Messages for the user: one helper, one format ("tsmedia: error: ...").
 *
 * Core functions return 0 or a negative errno and report what went wrong
 * here, with the thing it came from ("chunk 3f2a... in pack 12: checksum
 * mismatch").  Thread-safe: each message is written with a single write(2). */
#ifndef TSMEDIA_LOG_H
#define TSMEDIA_LOG_H

#include <stdarg.h>
#include <stddef.h>

enum tsm_log_level {
	TSM_LOG_ERROR = 0,
	TSM_LOG_WARNING = 1,
	TSM_LOG_INFO = 2,
	TSM_LOG_DEBUG = 3,
};

/* Messages above @level are dropped.  Default: TSM_LOG_INFO. */
void tsm_log_set_level(enum tsm_log_level level);
enum tsm_log_level tsm_log_get_level(void);

/* The prefix of every message; default "tsmedia". */
void tsm_log_set_program(const char *name);

/* Where messages go; default: standard error.  A daemon installs syslog. */
typedef void (*tsm_log_sink_fn)(enum tsm_log_level level, const char *msg);
void tsm_log_set_sink(tsm_log_sink_fn sink);

void tsm_log(enum tsm_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void tsm_logv(enum tsm_log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* Holding errors: between tsm_log_hold_errors() and tsm_log_release_errors()
 * error messages (translated, without the "tsmedia: error: " prefix) are
 * kept instead of written, so that a command can say in one line what failed
 * and why ("FILE: nothing was imported: CAUSE").  Other levels are written as
 * ever.  At most 64 messages are kept (the rest are written at once).
 * tsm_log_release_errors() stops holding and returns how many it held in
 * @msgs_ret, a malloc'ed array of malloc'ed strings the caller frees with
 * tsm_log_messages_free(); with @msgs_ret NULL it writes them (as errors).
 * Held messages of other threads are held alike (one lock).  With a sink set
 * (tsm_log_set_sink) nothing is held: messages go to the sink. */
void tsm_log_hold_errors(void);
size_t tsm_log_release_errors(char ***msgs_ret);
void tsm_log_messages_free(char **msgs, size_t n);

#define tsm_error(...) tsm_log(TSM_LOG_ERROR, __VA_ARGS__)
#define tsm_warn(...) tsm_log(TSM_LOG_WARNING, __VA_ARGS__)
#define tsm_info(...) tsm_log(TSM_LOG_INFO, __VA_ARGS__)
#define tsm_debug(...) tsm_log(TSM_LOG_DEBUG, __VA_ARGS__)

#endif
