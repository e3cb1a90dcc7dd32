/* tsmedia: the command-line tool. */
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"
#include "tsmedia/store.h"

static const char usage_text[] =
	/* TRANSLATORS: every --help text: keep command names, option names, their
	 * values and the metavariables (DIR, FILE, NAME, ID...) as they are, and the
	 * two-space indent of the "  COMMAND" and "  --option" lines.  Scripts and the
	 * completion read the help of the C locale, never this translation. */
	N_("Usage: tsmedia [--store DIR] [-q] [-v] COMMAND [ARGS]\n"
	"\n"
	"Task sequence media, assembled live from a deduplicated content store.\n"
	"\n"
	"Commands:\n"
	"  init [--site-code ABC] [--compression zstd|none] [--s3 URL --endpoint URL]\n"
	"                      create a store (on object storage too, with --s3)\n"
	"  content add|list|show|rm|cat|export\n"
	"                      import and inspect content (boot images, OS images,\n"
	"                      packages, applications, driver packages, prestart files)\n"
	"  stats [--json]      logical and stored bytes, chunks, blobs, dedup ratio\n"
	"  verify              re-hash every chunk and blob; names any damage\n"
	"  gc                  remove what nothing references and compact packs\n"
	"  frontends           the tsmediafs frontends of a store on object storage\n"
	"  store push s3://BUCKET[/PREFIX] --endpoint URL\n"
	"                      move a local store to object storage\n"
	"  mkiso -o OUT SOURCE write an ISO image (Joliet, Rock Ridge, UDF, El Torito)\n"
	"  media create|edit|list|show|rm|export|inspect|write|burn\n"
	"                      define media and write them out\n"
	"  mount MOUNTPOINT    serve every media as a live file (runs tsmediafs)\n"
	"  capture --name NAME SOURCE\n"
	"                      capture a directory or NTFS volume as an OS image (WIM)\n"
	"  ts import|list|show|rm\n"
	"                      task sequences and the content their steps need\n"
	"  app import|list|show|rm\n"
	"                      applications, their deployment types and dependencies\n"
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
	"  -V, --version       the version\n");

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

	tsm_i18n_init();

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
		case 'h': fputs(_(usage_text), stdout); return 0;
		case 'V': printf("tsmedia %s\n", TSMEDIA_VERSION); return 0;
		default: return cli_bad_option("", argv);
		}
	}
	if (optind >= argc) {
		fputs(_(usage_text), stderr);
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
	if (strcmp(cmd, "frontends") == 0)
		return cmd_frontends(&cli, argc, argv);
	if (strcmp(cmd, "store") == 0)
		return cmd_store(&cli, argc, argv);
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
	if (strcmp(cmd, "app") == 0)
		return cmd_app(&cli, argc, argv);
	if (strcmp(cmd, "site") == 0)
		return cmd_site(&cli, argc, argv);
	if (strcmp(cmd, "cert") == 0)
		return cmd_cert(&cli, argc, argv);
	if (strcmp(cmd, "help") == 0) {
		fputs(_(usage_text), stdout);
		return 0;
	}
	return cli_usage_error("", "unknown command '%s'", cmd);
}
