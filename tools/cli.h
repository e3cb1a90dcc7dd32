/* What the tsmedia commands share: global options and opening the store. */
#ifndef TSMEDIA_TOOLS_CLI_H
#define TSMEDIA_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>

struct tsm_store;

struct cli {
	const char *store_dir; /* --store, or NULL for the default */
	bool quiet;
	bool progress;         /* standard error is a terminal and not --quiet */
};

/* Exit codes: 0 success, 1 failure, 2 usage error. */
#define EXIT_USAGE 2

/* Resolves the store directory (--store, $TSMEDIA_STORE, the default);
 * returns a malloc'ed path or NULL (reported). */
char *cli_store_dir(const struct cli *cli);
int cli_open_store(const struct cli *cli, struct tsm_store **store_ret);

/* Prints "tsmedia: error: MSG\nTry 'tsmedia HELP --help'." and returns EXIT_USAGE. */
int cli_usage_error(const char *help_cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The option getopt just refused, named; returns EXIT_USAGE. */
int cli_bad_option(const char *help_cmd, char **argv);

/* A command group (content, media, ts, site, cert): its subcommands by
 * name.  argv[0] is the group's name, argv[1] the subcommand; the
 * subcommand sees itself as argv[0]. */
struct cli_subcommand {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
};
int cli_dispatch(struct cli *cli, int argc, char **argv, const char *group, const char *help,
		 const struct cli_subcommand *subs);

/* The options of a listing or showing subcommand: --json and --help, then
 * one operand (described by @operand, e.g. N_("a content ID"): translated
 * when printed) or none (NULL).
 * Returns -1 to go on, else the exit code (help printed, or a usage
 * error). */
int cli_parse_json_args(int argc, char **argv, const char *help, const char *cmd,
			const char *operand, bool *as_json);

/* --json output: a document is built with json-c (json-c/json.h) and
 * written by cli_json_print(), so every string is escaped by the library.
 * json-c's null is a NULL object: cli_json_string(NULL) is null. */
struct json_object;
struct json_object *cli_json_string(const char *s);
/* An array of the strings @v[0..n). */
struct json_object *cli_json_strings(char *const *v, size_t n);
/* A ratio with four decimals ("%.4f"), as --json has always written it. */
struct json_object *cli_json_ratio(double v);
/* Writes @doc compact (no spaces, "/" as is) and a newline to standard
 * output, then frees it.  0, or 1 (reported) when it cannot be written. */
int cli_json_print(struct json_object *doc);
/* What an rm --json prints: {"KEY":"VALUE","removed":true}. */
int cli_json_print_removed(const char *key, const char *value);

/* Around an import (content add, capture, mkiso of a directory, ts import):
 * cli_import_begin() holds the errors it reports; cli_import_end() with its
 * result @rc releases them: on success as they were, on failure as one line
 * "SOURCE: nothing was imported: CAUSE" (the first error; any others are
 * written before it and counted in it).  Returns @rc. */
void cli_import_begin(void);
int cli_import_end(const char *source, int rc);

/* write(2) until all of @len is written: 0 or a negative errno. */
int cli_write_all(int fd, const void *data, size_t len);

/* True when argv holds -h or --help (checked before other parsing). */
bool cli_wants_help(int argc, char **argv);

int cmd_init(struct cli *cli, int argc, char **argv);
int cmd_content(struct cli *cli, int argc, char **argv);
int cmd_stats(struct cli *cli, int argc, char **argv);
int cmd_verify(struct cli *cli, int argc, char **argv);
int cmd_gc(struct cli *cli, int argc, char **argv);
int cmd_frontends(struct cli *cli, int argc, char **argv);
int cmd_store(struct cli *cli, int argc, char **argv);
int cmd_mkiso(struct cli *cli, int argc, char **argv);
int cmd_media(struct cli *cli, int argc, char **argv);
int cmd_mount(struct cli *cli, int argc, char **argv);
int cmd_capture(struct cli *cli, int argc, char **argv);
int cmd_ts(struct cli *cli, int argc, char **argv);
int cmd_app(struct cli *cli, int argc, char **argv);
int cmd_site(struct cli *cli, int argc, char **argv);
int cmd_cert(struct cli *cli, int argc, char **argv);

#endif
