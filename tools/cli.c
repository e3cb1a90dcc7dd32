/* The helpers every tsmedia command uses (tools/cli.h): the store, usage
 * errors, subcommand dispatch, --json/--help parsing, writing out.  The
 * dispatcher (tsmedia.c) and the commands (cmd_*.c) both sit above it. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"
#include "tsmedia/store.h"

char *cli_store_dir(const struct cli *cli)
{
	return cli->store_dir ? strdup(cli->store_dir) : tsm_store_default_dir();
}

int cli_open_store(const struct cli *cli, struct tsm_store **store_ret)
{
	char *dir = cli_store_dir(cli);
	int rc;

	if (!dir)
		return -1;
	rc = tsm_store_open(dir, store_ret);
	free(dir);
	return rc;
}

int cli_usage_error(const char *help_cmd, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), _(fmt), ap);
	va_end(ap);
	tsm_error("%s", msg);
	fprintf(stderr, _("Try 'tsmedia %s--help'.\n"), help_cmd);
	return EXIT_USAGE;
}

int cli_bad_option(const char *help_cmd, char **argv)
{
	const char *opt = argv[optind - 1];

	if (optopt && optopt != '?' && opt[0] == '-' && opt[1] != '-')
		return cli_usage_error(help_cmd, "unknown option '-%c'", optopt);
	return cli_usage_error(help_cmd, "unknown option or missing value in '%s'", opt);
}

int cli_dispatch(struct cli *cli, int argc, char **argv, const char *group, const char *help,
		 const struct cli_subcommand *subs)
{
	const char *sub;
	char prefix[64];

	if (argc < 2) {
		fputs(_(help), stderr);
		return EXIT_USAGE;
	}
	sub = argv[1];
	optind = 0; /* each subcommand parses its own options */
	for (const struct cli_subcommand *s = subs; s->name; s++)
		if (strcmp(sub, s->name) == 0)
			return s->run(cli, argc - 1, argv + 1);
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		fputs(_(help), stdout);
		return 0;
	}
	snprintf(prefix, sizeof(prefix), "%s ", group);
	return cli_usage_error(prefix, "unknown %s command '%s'", group, sub);
}

int cli_parse_json_args(int argc, char **argv, const char *help, const char *cmd,
			const char *operand, bool *as_json)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*as_json = false;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'j': *as_json = true; break;
		case 'h': fputs(_(help), stdout); return 0;
		default: return cli_bad_option(cmd, argv);
		}
	}
	if (argc - optind != (operand ? 1 : 0))
		return operand ? cli_usage_error(cmd, "expected %s", _(operand))
			       : cli_usage_error(cmd, "unexpected argument");
	return -1;
}

void cli_import_begin(void)
{
	tsm_log_hold_errors();
}

int cli_import_end(const char *source, int rc)
{
	char **msgs = NULL;
	size_t n = tsm_log_release_errors(rc < 0 ? &msgs : NULL);
	const char *cause;

	if (rc >= 0)
		return rc;
	for (size_t i = 1; i < n; i++)
		tsm_error("%s", msgs[i]);
	/* The cause as it was reported: it names the file or the entry of it
	 * that is wrong ("X.iso: 'a/b': damaged zisofs data ..."). */
	cause = n ? msgs[0] : strerror(-rc);
	/* "X.iso: nothing was imported: X.iso: ..." names it once. */
	if (n && strncmp(cause, source, strlen(source)) == 0 && cause[strlen(source)] == ':' &&
	    cause[strlen(source) + 1] == ' ')
		cause += strlen(source) + 2;
	if (n > 1)
		tsm_error("%s: nothing was imported: %s (and %zu more problems above)", source,
			  cause, n - 1);
	else
		tsm_error("%s: nothing was imported: %s", source, cause);
	tsm_log_messages_free(msgs, n);
	return rc;
}

int cli_write_all(int fd, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

bool cli_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return false;
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
			return true;
	}
	return false;
}

struct json_object *cli_json_string(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

struct json_object *cli_json_strings(char *const *v, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, cli_json_string(v[i]));
	return a;
}

struct json_object *cli_json_ratio(double v)
{
	char text[64];

	snprintf(text, sizeof(text), "%.4f", v);
	return json_object_new_double_s(v, text);
}

int cli_json_print(struct json_object *doc)
{
	/* PLAIN: no spaces; NOSLASHESCAPE: paths keep their "/" (RFC 8259
	 * section 7 allows "/" unescaped). */
	const char *text = json_object_to_json_string_ext(
		doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	int rc = 0;

	if (!text) {
		tsm_error("out of memory writing JSON");
		rc = 1;
	} else if (printf("%s\n", text) < 0 || fflush(stdout) != 0) {
		tsm_error("writing JSON to standard output: %s", strerror(errno));
		rc = 1;
	}
	json_object_put(doc);
	return rc;
}

int cli_json_print_removed(const char *key, const char *value)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, key, cli_json_string(value));
	json_object_object_add(o, "removed", json_object_new_boolean(true));
	return cli_json_print(o);
}
