#include "tsmedia/log.h"
#include "tsmedia/i18n.h"

#include <locale.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum tsm_log_level log_level = TSM_LOG_INFO;
static const char *log_program = "tsmedia";
static tsm_log_sink_fn log_sink;

#define HELD_MAX 64
static pthread_mutex_t held_lock = PTHREAD_MUTEX_INITIALIZER;
static bool holding;
static char *held[HELD_MAX];
static size_t nheld;

void tsm_i18n_init(void)
{
	/* TEXTDOMAINDIR lets a build-tree run (and the tests) use the catalogue
	 * built in build/po instead of the installed one. */
	const char *dir = getenv("TEXTDOMAINDIR");

	/* The messages' language and the character set to write them in, only:
	 * numbers, dates and sorting stay C so JSON, metrics and listings read
	 * the same under every locale. */
	setlocale(LC_CTYPE, "");
	setlocale(LC_MESSAGES, "");
	bindtextdomain(TSM_TEXTDOMAIN, dir && *dir ? dir : TSMEDIA_LOCALEDIR);
	bind_textdomain_codeset(TSM_TEXTDOMAIN, "UTF-8");
}

void tsm_log_set_level(enum tsm_log_level level) { log_level = level; }
enum tsm_log_level tsm_log_get_level(void) { return log_level; }
void tsm_log_set_program(const char *name) { log_program = name; }
void tsm_log_set_sink(tsm_log_sink_fn sink) { log_sink = sink; }

static const char *level_prefix(enum tsm_log_level level)
{
	switch (level) {
	case TSM_LOG_ERROR: return _("error: ");
	case TSM_LOG_WARNING: return _("warning: ");
	default: return "";
	}
}

/* Keeps an error message while errors are held: true when kept. */
static bool hold(enum tsm_log_level level, const char *msg)
{
	bool kept = false;

	/* With a sink (a sandboxed reader's, which hands its messages to the
	 * parent; a daemon's syslog) messages go there, held or not. */
	if (level != TSM_LOG_ERROR || log_sink)
		return false;
	pthread_mutex_lock(&held_lock);
	if (holding && nheld < HELD_MAX && (held[nheld] = strdup(msg))) {
		nheld++;
		kept = true;
	}
	pthread_mutex_unlock(&held_lock);
	return kept;
}

static void log_write(enum tsm_log_level level, const char *msg);

void tsm_log_hold_errors(void)
{
	pthread_mutex_lock(&held_lock);
	holding = true;
	pthread_mutex_unlock(&held_lock);
}

size_t tsm_log_release_errors(char ***msgs_ret)
{
	char **msgs = NULL;
	size_t n;

	pthread_mutex_lock(&held_lock);
	holding = false;
	n = nheld;
	if (n && (msgs = malloc(n * sizeof(*msgs))))
		memcpy(msgs, held, n * sizeof(*msgs));
	else
		for (size_t i = 0; i < n; i++)
			free(held[i]);
	nheld = 0;
	pthread_mutex_unlock(&held_lock);
	if (!msgs)
		n = 0;
	if (!msgs_ret) {
		for (size_t i = 0; i < n; i++)
			log_write(TSM_LOG_ERROR, msgs[i]);
		tsm_log_messages_free(msgs, n);
		return n;
	}
	*msgs_ret = msgs;
	return n;
}

void tsm_log_messages_free(char **msgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(msgs[i]);
	free(msgs);
}

void tsm_logv(enum tsm_log_level level, const char *fmt, va_list ap)
{
	char msg[4096];

	if (level > log_level)
		return;
	/* Every message is translated here, so call sites stay plain
	 * tsm_error("...") and xgettext finds them by keyword (po/meson.build). */
	vsnprintf(msg, sizeof(msg), _(fmt), ap);
	if (!hold(level, msg))
		log_write(level, msg);
}

static void log_write(enum tsm_log_level level, const char *msg)
{
	char line[4200];
	int n;

	if (log_sink) {
		log_sink(level, msg);
		return;
	}
	n = snprintf(line, sizeof(line), "%s: %s%s\n", log_program, level_prefix(level), msg);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	/* One write(2) so concurrent messages do not interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}

void tsm_log(enum tsm_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	tsm_logv(level, fmt, ap);
	va_end(ap);
}
