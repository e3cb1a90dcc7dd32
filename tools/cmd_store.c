/* tsmedia init | stats | verify | gc | frontends | store push */
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
	"                                  [--s3 s3://BUCKET[/PREFIX] --endpoint URL [--region R]]\n"
	"\n"
	"Creates a content store in DIR (private to its owner: 0700/0600).\n"
	"\n"
	"  --site-code ABC       three letters or digits that start every content ID\n"
	"                        this store hands out (ABC00001, ...); default TSM\n"
	"  --compression zstd|none\n"
	"                        compress chunks with zstd (kept raw when that does not\n"
	"                        shrink them) or store them raw; default zstd\n"
	"  --s3 s3://BUCKET[/PREFIX]\n"
	"                        keep the packs on S3-compatible object storage too and\n"
	"                        publish the catalog there after every change, for\n"
	"                        tsmediafs --remote frontends (docs/scale.md); DIR stays\n"
	"                        the writer's store.  Credentials: AWS_ACCESS_KEY_ID and\n"
	"                        AWS_SECRET_ACCESS_KEY, or TSMEDIA_S3_CREDENTIALS naming a\n"
	"                        private (0600) file that holds them\n"
	"  --endpoint URL        the object storage service (http(s)://HOST[:PORT])\n"
	"  --region R            its region (default us-east-1)\n");

int cmd_init(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "site-code", required_argument, NULL, 's' },
		{ "compression", required_argument, NULL, 'c' },
		{ "s3", required_argument, NULL, 'u' },
		{ "endpoint", required_argument, NULL, 'e' },
		{ "region", required_argument, NULL, 'r' },
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
		case 'u': opts.remote_url = optarg; break;
		case 'e': opts.remote_endpoint = optarg; break;
		case 'r': opts.remote_region = optarg; break;
		case 'h': fputs(_(init_help), stdout); return 0;
		default: return cli_bad_option("init ", argv);
		}
	}
	if (optind < argc)
		return cli_usage_error("init ", "unexpected argument '%s'", argv[optind]);
	if ((opts.remote_endpoint || opts.remote_region) && !opts.remote_url)
		return cli_usage_error("init ", "--endpoint and --region go with --s3");
	if (opts.remote_url && !opts.remote_endpoint)
		return cli_usage_error("init ", "--s3 needs --endpoint URL");
	if (!(dir = cli_store_dir(cli)))
		return 1;
	rc = tsm_store_init(dir, &opts);
	if (rc == 0 && !cli->quiet)
		printf(_("created store %s (site code %s, compression %s)\n"), dir, opts.site_code,
		       opts.compression == TSM_COMPRESSION_ZSTD ? "zstd" : "none");
	if (rc == 0 && !cli->quiet && opts.remote_url)
		printf(_("packs and catalog published to %s at %s\n"), opts.remote_url,
		       opts.remote_endpoint);
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
		json_object_object_add(o, "wim_resource_blobs",
				       json_object_new_uint64(s.wim_resource_blobs));
		json_object_object_add(o, "wim_resource_bytes",
				       json_object_new_uint64(s.wim_resource_bytes));
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
		printf(_("in stored WIMs: %llu blobs, %llu bytes (no chunks of their own)\n"),
		       (unsigned long long)s.wim_resource_blobs,
		       (unsigned long long)s.wim_resource_bytes);
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
	if (res.remote_packs_bad) {
		tsm_error("object storage is damaged: %llu of %llu pack objects differ from their packs",
			  (unsigned long long)res.remote_packs_bad,
			  (unsigned long long)res.remote_packs_checked);
		return 1;
	}
	if (res.remote_packs_checked && !cli->quiet)
		printf(_("ok: %llu pack objects on object storage match their packs\n"),
		       (unsigned long long)res.remote_packs_checked);
	if (!cli->quiet)
		printf(_("ok: %llu blobs, %llu chunk reads, %llu bytes checked\n"),
		       (unsigned long long)res.blobs_checked, (unsigned long long)res.chunks_checked,
		       (unsigned long long)res.bytes_checked);
	return 0;
}

static const char gc_help[] = N_(
	"Usage: tsmedia [--store DIR] gc [--keep-versions N] [--grace DURATION]\n"
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
	"                      a reader or a mount's listing holds them)\n"
	"  --grace DURATION    a store on object storage: a pack object the catalog no\n"
	"                      longer names is deleted DURATION after gc first found it\n"
	"                      so (frontends on an older catalog still read it), and a\n"
	"                      frontend's lease is honoured DURATION past its expiry\n"
	"                      (90s, 30m, 6h, 7d; default 1h)\n");

int cmd_gc(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "keep-versions", required_argument, NULL, 'k' },
		{ "grace", required_argument, NULL, 'g' },
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
		case 'g':
			if (tsm_parse_interval(optarg, &opts.remote_grace) < 0)
				return cli_usage_error("gc ", "invalid --grace '%s': an interval like 90s, 30m,"
						       " 6h or 7d", optarg);
			break;
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
		if (res.remote_packs_deleted || res.remote_packs_waiting)
			printf(_("object storage: deleted %llu pack objects, %llu wait for the grace "
				 "period\n"),
			       (unsigned long long)res.remote_packs_deleted,
			       (unsigned long long)res.remote_packs_waiting);
	}
	return 0;
}

static const char frontends_help[] = N_(
	"Usage: tsmedia [--store DIR] frontends\n"
	"\n"
	"Lists the tsmediafs frontends of a store on object storage, from their leases:\n"
	"each one's id, the catalog generation it serves (and the current one), how\n"
	"long ago it renewed its lease, when the lease expires (negative: expired),\n"
	"and its cache use.\n");

int cmd_frontends(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tsm_frontend_info *list;
	struct tsm_store *store;
	int64_t current = 0, now = (int64_t)time(NULL);
	size_t n;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'h': fputs(_(frontends_help), stdout); return 0;
		default: return cli_bad_option("frontends ", argv);
		}
	}
	if (optind < argc)
		return cli_usage_error("frontends ", "unexpected argument '%s'", argv[optind]);
	if (cli_open_store(cli, &store) < 0)
		return 1;
	rc = tsm_store_frontends(store, &list, &n);
	if (rc == 0)
		rc = tsm_store_remote_generation(store, &current);
	tsm_store_close(store);
	if (rc < 0) {
		free(list);
		return 1;
	}
	printf(_("%-24s %10s %10s %12s %21s\n"), _("FRONTEND"), _("GENERATION"), _("LEASE AGE"),
	       _("EXPIRES IN"), _("CACHE"));
	for (size_t i = 0; i < n; i++) {
		char used[32], limit[32], cache[70];

		human(list[i].cache_bytes, used, sizeof(used));
		human(list[i].cache_limit, limit, sizeof(limit));
		snprintf(cache, sizeof(cache), "%s / %s", used, limit);
		printf("%-24s %4lld of %3lld %9llds %11llds %21s\n", list[i].id,
		       (long long)list[i].generation, (long long)current,
		       (long long)(now - list[i].renewed), (long long)(list[i].expires - now), cache);
	}
	free(list);
	return 0;
}

static const char store_help[] = N_(
	"Usage: tsmedia [--store DIR] store COMMAND [ARGS]\n"
	"\n"
	"  push s3://BUCKET[/PREFIX] --endpoint URL [--region R]\n"
	"                  move the store to S3-compatible object storage\n");

static const char push_help[] = N_(
	"Usage: tsmedia [--store DIR] store push s3://BUCKET[/PREFIX] --endpoint URL\n"
	"                                        [--region R]\n"
	"\n"
	"Moves an existing local store to S3-compatible object storage, as if it had\n"
	"been made with init --s3 (docs/scale.md): uploads every pack the catalog\n"
	"names that the bucket does not already hold exactly (each object checked by\n"
	"size and checksum), publishes the catalog for tsmediafs --remote frontends,\n"
	"and only then records the location in the store, which from then on uploads\n"
	"and publishes every change.  Stopped at any point, it is run again and\n"
	"uploads only what is missing.  DIR stays the writer's store.  Credentials:\n"
	"AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or TSMEDIA_S3_CREDENTIALS naming\n"
	"a private (0600) file that holds them.\n"
	"\n"
	"  --endpoint URL        the object storage service (http(s)://HOST[:PORT])\n"
	"  --region R            its region (default us-east-1)\n");

static int store_push(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "endpoint", required_argument, NULL, 'e' },
		{ "region", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tsm_store_push_options opts = { 0 };
	struct tsm_store_push_result res;
	struct tsm_progress progress;
	struct tsm_store *store;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'e': opts.endpoint = optarg; break;
		case 'r': opts.region = optarg; break;
		case 'h': fputs(_(push_help), stdout); return 0;
		default: return cli_bad_option("store push ", argv);
		}
	}
	if (optind >= argc)
		return cli_usage_error("store push ", "store push needs s3://BUCKET[/PREFIX]");
	opts.url = argv[optind++];
	if (optind < argc)
		return cli_usage_error("store push ", "unexpected argument '%s'", argv[optind]);
	if (!opts.endpoint)
		return cli_usage_error("store push ", "store push needs --endpoint URL");
	if (cli_open_store(cli, &store) < 0)
		return 1;
	tsm_progress_start(&progress, _("pushing"), 0, cli->progress);
	rc = tsm_store_push(store, &opts, &progress, &res);
	tsm_progress_finish(&progress);
	tsm_store_close(store);
	if (rc < 0)
		return 1;
	if (!cli->quiet) {
		printf(_("%llu packs: %llu uploaded (%llu bytes), %llu already there and checked\n"),
		       (unsigned long long)res.packs, (unsigned long long)res.uploaded,
		       (unsigned long long)res.bytes_uploaded, (unsigned long long)res.present);
		printf(_("catalog generation %lld published; the store now keeps its packs on %s at "
			 "%s\n"),
		       (long long)res.generation, opts.url, opts.endpoint);
	}
	return 0;
}

int cmd_store(struct cli *cli, int argc, char **argv)
{
	static const struct cli_subcommand subs[] = {
		{ "push", store_push },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, "store", store_help, subs);
}
