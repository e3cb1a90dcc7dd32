#include "tsmedia/log.h"
#include "tsmedia/i18n.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum tsm_log_level log_level = TSM_LOG_INFO;
static const char *log_program = "tsmedia";
static tsm_log_sink_fn log_sink;

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

void tsm_logv(enum tsm_log_level level, const char *fmt, va_list ap)
{
	char msg[4096];
	char line[4200];
	int n;

	if (level > log_level)
		return;
	/* Every message is translated here, so call sites stay plain
	 * tsm_error("...") and xgettext finds them by keyword (po/meson.build). */
	vsnprintf(msg, sizeof(msg), _(fmt), ap);
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
