/* tsmedia init | stats | verify | gc */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cli.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"
#include "tsmedia/progress.h"
#include "tsmedia/store.h"

static const char init_help[] = N_(
	"Usage: tsmedia [--store DIR] init [--site-code ABC] [--compression zstd|none]\n"
	"\n"
	"Creates a content store in DIR (private to its owner: 0700/0600).\n"
	"\n"
	"  --site-code ABC       three letters or digits that start every content ID\n"
	"                        this store hands out (ABC00001, ...); default TSM\n"
	"  --compression zstd|none\n"
	"                        compress chunks with zstd (kept raw when that does not\n"
	"                        shrink them) or store them raw; default zstd\n");

int cmd_init(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "site-code", required_argument, NULL, 's' },
		{ "compression", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tsm_store_init_options opts = { .site_code = "TSM",
					       .compression = TSM_COMPRESSION_ZSTD };
	char *dir;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 's': opts.site_code = optarg; break;
		case 'c':
			if (strcmp(optarg, "zstd") == 0)
				opts.compression = TSM_COMPRESSION_ZSTD;
			else if (strcmp(optarg, "none") == 0)
				opts.compression = TSM_COMPRESSION_NONE;
			else
				return cli_usage_error("init ", "invalid --compression '%s': zstd or none",
						       optarg);
			break;
		case 'h': fputs(_(init_help), stdout); return 0;
		default: return cli_bad_option("init ", argv);
		}
	}
	if (optind < argc)
		return cli_usage_error("init ", "unexpected argument '%s'", argv[optind]);
	if (!(dir = cli_store_dir(cli)))
		return 1;
	rc = tsm_store_init(dir, &opts);
	if (rc == 0 && !cli->quiet)
		printf(_("created store %s (site code %s, compression %s)\n"), dir, opts.site_code,
		       opts.compression == TSM_COMPRESSION_ZSTD ? "zstd" : "none");
	free(dir);
	return rc < 0 ? 1 : 0;
}

static const char stats_help[] = N_(
	"Usage: tsmedia [--store DIR] stats [--json]\n"
	"\n"
	"Shows what the store holds: logical bytes (the sum of every live content\n"
	"version's files), unique bytes (distinct file contents), stored bytes (chunks\n"
	"after dedup and compression), pack bytes on disk (garbage included), chunk,\n"
	"blob and content counts, and the dedup ratio (logical / stored).\n");

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

static void human(uint64_t bytes, char *out, size_t n)
{
	static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, n, u ? "%.2f %s" : "%.0f %s", v, units[u]);
}

int cmd_stats(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tsm_store_stats s;
	struct tsm_store *store;
	bool as_json = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'j': as_json = true; break;
		case 'h': fputs(_(stats_help), stdout); return 0;
		default: return cli_bad_option("stats ", argv);
		}
	}
	if (optind < argc)
		return cli_usage_error("stats ", "unexpected argument '%s'", argv[optind]);
	if (cli_open_store(cli, &store) < 0)
		return 1;
	rc = tsm_store_stats(store, &s);
	if (rc == 0 && as_json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "store", cli_json_string(tsm_store_dir(store)));
		json_object_object_add(o, "logical_bytes", json_object_new_uint64(s.logical_bytes));
		json_object_object_add(o, "unique_bytes", json_object_new_uint64(s.unique_bytes));
		json_object_object_add(o, "stored_bytes", json_object_new_uint64(s.stored_bytes));
		json_object_object_add(o, "pack_bytes", json_object_new_uint64(s.pack_bytes));
		json_object_object_add(o, "chunks", json_object_new_uint64(s.chunks));
		json_object_object_add(o, "blobs", json_object_new_uint64(s.blobs));
		json_object_object_add(o, "packs", json_object_new_uint64(s.packs));
		json_object_object_add(o, "content_items", json_object_new_uint64(s.content_items));
		json_object_object_add(o, "content_versions",
				       json_object_new_uint64(s.content_versions));
		json_object_object_add(o, "dedup_ratio",
				       cli_json_ratio(ratio(s.logical_bytes, s.stored_bytes)));
		if (cli_json_print(o))
			rc = -EIO;
	} else if (rc == 0) {
		char a[32], b[32], d[32], e[32];

		human(s.logical_bytes, a, sizeof(a));
		human(s.unique_bytes, b, sizeof(b));
		human(s.stored_bytes, d, sizeof(d));
		human(s.pack_bytes, e, sizeof(e));
		/* TRANSLATORS: store stats; keep the values of the lines aligned. */
		printf(_("store:          %s\n"), tsm_store_dir(store));
		printf(_("content:        %llu items, %llu versions\n"),
		       (unsigned long long)s.content_items, (unsigned long long)s.content_versions);
		printf(_("logical bytes:  %s (%llu)\n"), a, (unsigned long long)s.logical_bytes);
		printf(_("unique bytes:   %s (%llu)\n"), b, (unsigned long long)s.unique_bytes);
		printf(_("stored bytes:   %s (%llu)\n"), d, (unsigned long long)s.stored_bytes);
		printf(_("pack bytes:     %s in %llu packs\n"), e, (unsigned long long)s.packs);
		printf(_("chunks:         %llu\n"), (unsigned long long)s.chunks);
		printf(_("blobs:          %llu\n"), (unsigned long long)s.blobs);
		printf(_("dedup ratio:    %.2f\n"), ratio(s.logical_bytes, s.stored_bytes));
	}
	tsm_store_close(store);
	return rc < 0 ? 1 : 0;
}

static const char verify_help[] = N_(
	"Usage: tsmedia [--store DIR] verify [--since TIME]\n"
	"\n"
	"Re-reads every blob chunk by chunk and checks each chunk against its SHA-256\n"
	"and each blob against its SHA-256, SHA-1 and size.  Damage is reported with\n"
	"the chunk, its pack file and every content item and file that uses it.\n"
	"\n"
	"  --since TIME  check pack by pack instead: the packs that no check has found\n"
	"                good since TIME, or whose file changed after that check, every\n"
	"                chunk in them against its SHA-256.  A pack found good is\n"
	"                recorded as checked now (the mount's scrub records too).\n"
	"                TIME: YYYY-MM-DD, 'YYYY-MM-DD HH:MM[:SS]' (local time),\n"
	"                @SECONDS since 1970, or how long ago: 30m, 12h, 7d, 2w.\n"
	"                '--since @0' checks every pack.\n"
	"\n"
	"Exit status: 0 when the store is intact, 1 when damage was found or the check\n"
	"could not run.\n");

static int verify_since(struct cli *cli, struct tsm_store *store, int64_t since)
{
	struct tsm_pack_verify_options opts = { .since = since, .record = true };
	struct tsm_pack_verify_result res;
	struct tsm_progress progress;
	int rc;

	tsm_progress_start(&progress, _("verifying"), 0, cli->progress);
	rc = tsm_store_verify_packs(store, &opts, &progress, &res);
	tsm_progress_finish(&progress);
	if (rc < 0)
		return 1;
	if (res.packs_bad) {
		tsm_error("store is damaged: %llu bad chunks in %llu of %llu packs checked",
			  (unsigned long long)res.chunks_bad, (unsigned long long)res.packs_bad,
			  (unsigned long long)res.packs_checked);
		return 1;
	}
	if (!cli->quiet)
		printf(_("ok: %llu packs checked (%llu chunks, %llu bytes), %llu unchanged and"
			 " checked since\n"), (unsigned long long)res.packs_checked,
		       (unsigned long long)res.chunks_checked, (unsigned long long)res.bytes_checked,
		       (unsigned long long)res.packs_skipped);
	return 0;
}

int cmd_verify(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "since", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tsm_verify_result res;
	struct tsm_progress progress;
	struct tsm_store *store;
	const char *since_text = NULL;
	int64_t since = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 's': since_text = optarg; break;
		case 'h': fputs(_(verify_help), stdout); return 0;
		default: return cli_bad_option("verify ", argv);
		}
	}
	if (optind < argc)
		return cli_usage_error("verify ", "unexpected argument '%s'", argv[optind]);
	if (since_text && tsm_parse_since(since_text, (int64_t)time(NULL), &since) < 0)
		return cli_usage_error("verify ", "invalid --since '%s': a date (YYYY-MM-DD[ HH:MM[:SS]]),"
				       " @SECONDS or how long ago (30m, 12h, 7d)", since_text);
	if (cli_open_store(cli, &store) < 0)
		return 1;
	if (since_text) {
		rc = verify_since(cli, store, since);
		tsm_store_close(store);
		return rc;
	}
	tsm_progress_start(&progress, _("verifying"), 0, cli->progress);
	rc = tsm_store_verify(store, &progress, &res);
	tsm_progress_finish(&progress);
	tsm_store_close(store);
	if (rc < 0)
		return 1;
	if (res.chunks_bad || res.blobs_bad) {
		tsm_error("store is damaged: %llu bad chunks, %llu bad blobs (of %llu chunk reads,"
			  " %llu blobs)", (unsigned long long)res.chunks_bad,
			  (unsigned long long)res.blobs_bad, (unsigned long long)res.chunks_checked,
			  (unsigned long long)res.blobs_checked);
		return 1;
	}
	if (!cli->quiet)
		printf(_("ok: %llu blobs, %llu chunk reads, %llu bytes checked\n"),
		       (unsigned long long)res.blobs_checked, (unsigned long long)res.chunks_checked,
		       (unsigned long long)res.bytes_checked);
	return 0;
}

static const char gc_help[] = N_(
	"Usage: tsmedia [--store DIR] gc [--keep-versions N]\n"
	"\n"
	"Removes what nothing references: removed content, superseded versions that\n"
	"no reader holds, their blobs and chunks, and bytes left in packs by\n"
	"interrupted imports; then rewrites packs that are a tenth or more garbage.\n"
	"Safe while other processes read: what an open reader holds survives until it\n"
	"lets go.\n"
	"\n"
	"  --keep-versions N   keep the newest N numbered versions of each media\n"
	"                      (versions/NAME/N on the mount) and what they use;\n"
	"                      default 1: only the current one (older ones stay while\n"
	"                      a reader or a mount's listing holds them)\n");

int cmd_gc(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "keep-versions", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tsm_gc_options opts = { .keep_versions = 1 };
	struct tsm_progress progress;
	struct tsm_gc_result res;
	struct tsm_store *store;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'k': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || v < 1 || v > 1000000)
				return cli_usage_error("gc ", "--keep-versions wants a number from 1"
						       " to 1000000, not '%s'", optarg);
			opts.keep_versions = (unsigned)v;
			break;
		}
		case 'h': fputs(_(gc_help), stdout); return 0;
		default: return cli_bad_option("gc ", argv);
		}
	}
	if (optind < argc)
		return cli_usage_error("gc ", "unexpected argument '%s'", argv[optind]);
	if (cli_open_store(cli, &store) < 0)
		return 1;
	tsm_progress_start(&progress, _("compacting"), 0, cli->progress);
	rc = tsm_store_gc(store, &opts, &progress, &res);
	tsm_progress_finish(&progress);
	tsm_store_close(store);
	if (rc < 0)
		return 1;
	if (!cli->quiet) {
		char before[32], after[32];

		human(res.bytes_before, before, sizeof(before));
		human(res.bytes_after, after, sizeof(after));
		printf(_("removed %llu versions, %llu media versions, %llu numbered media versions, %llu blobs,"
		       " %llu chunks; rewrote %llu packs, removed %llu; packs %s -> %s\n"),
		       (unsigned long long)res.versions_removed,
		       (unsigned long long)res.media_versions_removed,
		       (unsigned long long)res.snapshots_removed, (unsigned long long)res.blobs_removed,
		       (unsigned long long)res.chunks_removed, (unsigned long long)res.packs_rewritten,
		       (unsigned long long)res.packs_removed, before, after);
	}
	return 0;
}
