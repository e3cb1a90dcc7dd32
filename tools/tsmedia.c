/* tsmedia: the command-line tool. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tsmedia/log.h"
#include "tsmedia/store.h"

static const char usage_text[] =
	"Usage: tsmedia [--store DIR] [-q] [-v] COMMAND [ARGS]\n"
	"\n"
	"Task sequence media, assembled live from a deduplicated content store.\n"
	"\n"
	"Commands:\n"
	"  init [--site-code ABC] [--compression zstd|none]\n"
	"                      create a store\n"
	"  content add|list|show|rm|cat|export\n"
	"                      import and inspect content (boot images, OS images,\n"
	"                      packages, applications, driver packages, prestart files)\n"
	"  stats [--json]      logical and stored bytes, chunks, blobs, dedup ratio\n"
	"  verify              re-hash every chunk and blob; names any damage\n"
	"  gc                  remove what nothing references and compact packs\n"
	"  mkiso -o OUT SOURCE write an ISO image (Joliet, Rock Ridge, UDF, El Torito)\n"
	"  media create|edit|list|show|rm|export\n"
	"                      define media and write them out\n"
	"  mount MOUNTPOINT    serve every media as a live file (runs tsmediafs)\n"
	"  capture --name NAME SOURCE\n"
	"                      capture a directory or NTFS volume as an OS image (WIM)\n"
	"  ts import|list|show|rm\n"
	"                      task sequences and the content their steps need\n"
	"  site add|edit|list|show|rm\n"
	"                      sites, their management points and trusted root CAs\n"
	"  cert create|check   a self-signed media certificate; check a PKCS#12 file\n"

	"\n"
	"Options:\n"
	"  --store DIR         the store (default: $TSMEDIA_STORE, else /var/lib/tsmedia\n"
	"                      for root, else $XDG_DATA_HOME/tsmedia)\n"
	"  -q, --quiet         no progress display, errors only\n"
	"  -v, --verbose       more messages\n"
	"  -h, --help          this help; 'tsmedia COMMAND --help' for a command\n"
	"  -V, --version       the version\n";

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
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tsm_error("%s", msg);
	fprintf(stderr, "Try 'tsmedia %s--help'.\n", help_cmd);
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
		fputs(help, stderr);
		return EXIT_USAGE;
	}
	sub = argv[1];
	optind = 0; /* each subcommand parses its own options */
	for (const struct cli_subcommand *s = subs; s->name; s++)
		if (strcmp(sub, s->name) == 0)
			return s->run(cli, argc - 1, argv + 1);
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		fputs(help, stdout);
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
		case 'h': fputs(help, stdout); return 0;
		default: return cli_bad_option(cmd, argv);
		}
	}
	if (argc - optind != (operand ? 1 : 0))
		return operand ? cli_usage_error(cmd, "expected %s", operand)
			       : cli_usage_error(cmd, "unexpected argument");
	return -1;
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

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "store", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	struct cli cli = { 0 };
	const char *cmd;
	int c;

	/* A closed pipe (tsmedia content cat ... | head) is an error return,
	 * not a signal death. */
	signal(SIGPIPE, SIG_IGN);
	opterr = 0; /* options are refused with our own message */
	/* Global options stop at the command name. */
	while ((c = getopt_long(argc, argv, "+qvhV", options, NULL)) != -1) {
		switch (c) {
		case 's': cli.store_dir = optarg; break;
		case 'q': cli.quiet = true; tsm_log_set_level(TSM_LOG_ERROR); break;
		case 'v': tsm_log_set_level(TSM_LOG_DEBUG); break;
		case 'h': fputs(usage_text, stdout); return 0;
		case 'V': printf("tsmedia %s\n", TSMEDIA_VERSION); return 0;
		default: return cli_bad_option("", argv);
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return EXIT_USAGE;
	}
	cli.progress = !cli.quiet && isatty(STDERR_FILENO);
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 0; /* reset getopt for the command */
	if (strcmp(cmd, "init") == 0)
		return cmd_init(&cli, argc, argv);
	if (strcmp(cmd, "content") == 0)
		return cmd_content(&cli, argc, argv);
	if (strcmp(cmd, "stats") == 0)
		return cmd_stats(&cli, argc, argv);
	if (strcmp(cmd, "verify") == 0)
		return cmd_verify(&cli, argc, argv);
	if (strcmp(cmd, "gc") == 0)
		return cmd_gc(&cli, argc, argv);
	if (strcmp(cmd, "mkiso") == 0)
		return cmd_mkiso(&cli, argc, argv);
	if (strcmp(cmd, "media") == 0)
		return cmd_media(&cli, argc, argv);
	if (strcmp(cmd, "mount") == 0)
		return cmd_mount(&cli, argc, argv);
	if (strcmp(cmd, "capture") == 0)
		return cmd_capture(&cli, argc, argv);
	if (strcmp(cmd, "ts") == 0)
		return cmd_ts(&cli, argc, argv);
	if (strcmp(cmd, "site") == 0)
		return cmd_site(&cli, argc, argv);
	if (strcmp(cmd, "cert") == 0)
		return cmd_cert(&cli, argc, argv);
	if (strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	return cli_usage_error("", "unknown command '%s'", cmd);
}
