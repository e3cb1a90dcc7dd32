/* tsmediafs: every media of a store as a live file on a FUSE mount. */
#include "fs.h"
#include "metrics.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include "tsmedia/i18n.h"
#include "tsmedia/log.h"
#include "tsmedia/store.h"

static const char usage_text[] =
	/* TRANSLATORS: keep the option names, the -o options and their values, and
	 * the metavariables (DIR, MOUNTPOINT, OPTION...) as they are; the completion
	 * and the man_pages test read the help of the C locale. */
	N_("Usage: tsmediafs [--store DIR] MOUNTPOINT [-f] [-d] [-s] [-o OPTION[,OPTION...]]\n"
	"       tsmediafs --remote s3://BUCKET[/PREFIX] --endpoint URL --cache DIR\n"
	"                 [--cache-size SIZE] MOUNTPOINT [-o poll=INTERVAL] ...\n"
	"\n"
	"Serves every media of a tsmedia store as a read-only file under MOUNTPOINT:\n"
	"NAME.iso, assembled on read from the store.  Media that are created, changed\n"
	"or removed show up without a remount; a file opened before a change keeps\n"
	"reading the bytes it opened.  Every version the store keeps is also under\n"
	"versions/NAME/N/, read-only and never changing.\n"
	"\n"
	"  --store DIR     the store (default: $TSMEDIA_STORE, else /var/lib/tsmedia for\n"
	"                  root, else $XDG_DATA_HOME/tsmedia)\n"
	"  -f              stay in the foreground (messages on standard error, not syslog)\n"
	"  -d              debug: foreground, and log every request\n"
	"  -s              one thread\n"
	"  -o allow_other  other users may read the media (never the store)\n"
	"  -o store=DIR    the store, as /etc/fstab can give it (see docs/serving.md)\n"
	"  -o scrub=INTERVAL\n"
	"                  check every pack of the store, chunk by chunk, every INTERVAL\n"
	"                  (90s, 30m, 6h, 7d, 2w; a number alone is seconds): damage\n"
	"                  a file's size, mtime and ctime do not show (a failing disk)\n"
	"                  is found, logged with its pack, and read as EIO from then\n"
	"                  on.  Damage that changes a pack file is caught at the next\n"
	"                  read anyway.\n"
	"  -o page_cache   read through the kernel's page cache (cached, 128 KiB requests)\n"
	"                  instead of straight from the daemon (the default: uncached,\n"
	"                  requests as large as the reader's, up to 1 MiB)\n"
	"  -o chunk_cache=SIZE\n"
	"                  bytes of decompressed chunks kept for the next reads of a\n"
	"                  chunk stored compressed (64M, 1G; 0: none; default 1/64 of\n"
	"                  the memory, between 16M and 64M)\n"
	"  -o metrics=ADDRESS:PORT\n"
	"                  serve Prometheus metrics at http://ADDRESS:PORT/metrics (a\n"
	"                  numeric address: 127.0.0.1:9477, [::1]:9477): opens, reads and\n"
	"                  bytes per media file, read latency, chunk checks and damage,\n"
	"                  snapshots, pins, catalog refreshes\n"
	"  -o OPTION       any other FUSE mount option\n"
	"\n"
	"A frontend of a store on object storage (docs/scale.md):\n"
	"  --remote s3://BUCKET[/PREFIX]\n"
	"                  serve the store a writer publishes there (tsmedia init --s3);\n"
	"                  credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,\n"
	"                  or TSMEDIA_S3_CREDENTIALS naming a private (0600) file\n"
	"  --endpoint URL  the object storage service (http(s)://HOST[:PORT])\n"
	"  --region R      its region (default us-east-1)\n"
	"  --cache DIR     the frontend's catalog and its cache of checked chunks\n"
	"  --cache-size SIZE\n"
	"                  bytes of chunks the cache keeps, least recently used out\n"
	"                  (512M, 20G, 1T; default 10G)\n"
	"  --frontend-id ID\n"
	"                  the name of its lease (default HOSTNAME-PID)\n"
	"  -o poll=INTERVAL\n"
	"                  how often to look for a new catalog (default 5s)\n"
	"  -o lease=INTERVAL\n"
	"                  how long its lease lasts unrenewed (default 60s; renewed at\n"
	"                  a third of that)\n"
	"  -o timeout=INTERVAL\n"
	"                  how long a request to object storage may stall before the\n"
	"                  read fails with EIO (default 30s)\n"
	"\n"
	"Stop with 'fusermount3 -u MOUNTPOINT' or SIGTERM.\n");

struct options {
	char *store;
	char *remote, *endpoint, *region, *cache, *cache_size, *frontend_id;
	char *poll, *lease, *timeout;
	char *scrub;
	char *metrics;
	char *chunk_cache;
	int help;
	int version;
	int page_cache;
};

static const struct fuse_opt option_spec[] = {
	{ "--store=%s", offsetof(struct options, store), 1 },
	{ "--store %s", offsetof(struct options, store), 1 },
	/* -o store=DIR: what mount.fuse3 can pass from /etc/fstab. */
	{ "store=%s", offsetof(struct options, store), 1 },
	/* -o page_cache: reads go through the kernel's page cache (128 KiB
	 * requests, cached) instead of straight to the daemon (the request's
	 * size, up to 1 MiB, uncached: faster for one sequential reader). */
	{ "page_cache", offsetof(struct options, page_cache), 1 },
	/* -o scrub=INTERVAL: a background check of every pack. */
	{ "scrub=%s", offsetof(struct options, scrub), 0 },
	/* -o metrics=ADDRESS:PORT: Prometheus metrics over HTTP (metrics.c). */
	{ "metrics=%s", offsetof(struct options, metrics), 0 },
	/* -o chunk_cache=SIZE: the cache of decompressed chunks (store/chunk_cache.c). */
	{ "chunk_cache=%s", offsetof(struct options, chunk_cache), 0 },
	{ "poll=%s", offsetof(struct options, poll), 0 },
	{ "lease=%s", offsetof(struct options, lease), 0 },
	{ "timeout=%s", offsetof(struct options, timeout), 0 },
	{ "-h", offsetof(struct options, help), 1 },
	{ "--help", offsetof(struct options, help), 1 },
	{ "-V", offsetof(struct options, version), 1 },
	{ "--version", offsetof(struct options, version), 1 },
	FUSE_OPT_END
};

/* The frontend's long options, taken out of argv before libfuse parses
 * the rest: libfuse's "--cache %s" would also match "--cache-size" (as
 * "-oVALUE" matches "-o %s") and every matching template is applied. */
static int take_frontend_options(int *argc, char **argv, struct options *o)
{
	static const struct { const char *name; size_t off; } long_opts[] = {
		{ "--remote", offsetof(struct options, remote) },
		{ "--endpoint", offsetof(struct options, endpoint) },
		{ "--region", offsetof(struct options, region) },
		{ "--cache", offsetof(struct options, cache) },
		{ "--cache-size", offsetof(struct options, cache_size) },
		{ "--frontend-id", offsetof(struct options, frontend_id) },
	};
	int out = 1;

	for (int i = 1; i < *argc; i++) {
		const char *value = NULL;
		size_t k, n = sizeof(long_opts) / sizeof(long_opts[0]);

		if (strcmp(argv[i], "--") == 0) {
			while (i < *argc)
				argv[out++] = argv[i++];
			break;
		}
		for (k = 0; k < n; k++) {
			size_t len = strlen(long_opts[k].name);

			if (strncmp(argv[i], long_opts[k].name, len) != 0)
				continue;
			if (argv[i][len] == '=') {
				value = argv[i] + len + 1;
				break;
			}
			if (argv[i][len] == 0) {
				if (i + 1 >= *argc) {
					tsm_error("%s needs a value", long_opts[k].name);
					return -EINVAL;
				}
				value = argv[++i];
				break;
			}
		}
		if (k == n) {
			argv[out++] = argv[i];
			continue;
		}
		char **field = (char **)((char *)o + long_opts[k].off);

		free(*field);
		if (!(*field = strdup(value)))
			return -ENOMEM;
	}
	argv[out] = NULL;
	*argc = out;
	return 0;
}

static void options_free(struct options *o)
{
	char **fields[] = { &o->store, &o->scrub, &o->metrics, &o->remote, &o->endpoint,
			    &o->region, &o->cache, &o->cache_size, &o->frontend_id, &o->poll,
			    &o->lease, &o->timeout };

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		free(*fields[i]);
		*fields[i] = NULL;
	}
}

/* "512M", "20G", "1T", "1048576": bytes (binary units). */
static int parse_size(const char *text, uint64_t *bytes_ret)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || end == text || text[0] == '-')
		return -EINVAL;
	switch (*end) {
	case 0: break;
	case 'K': case 'k': shift = 10; end++; break;
	case 'M': case 'm': shift = 20; end++; break;
	case 'G': case 'g': shift = 30; end++; break;
	case 'T': case 't': shift = 40; end++; break;
	default: return -EINVAL;
	}
	if (*end || v == 0 || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*bytes_ret = (uint64_t)v << shift;
	return 0;
}

static int frontend_setup(struct options *o, struct fs *fs)
{
	struct tsm_frontend_options fo = { .url = o->remote, .endpoint = o->endpoint,
					   .region = o->region, .cache_dir = o->cache,
					   .id = o->frontend_id };
	int64_t secs;
	char *dir = NULL;
	int rc;

	if (!o->endpoint || !o->cache) {
		tsm_error("--remote needs --endpoint URL and --cache DIR");
		return -EINVAL;
	}
	if (o->store) {
		tsm_error("--store and --remote exclude each other: a frontend's store is in its --cache");
		return -EINVAL;
	}
	if (o->cache_size && parse_size(o->cache_size, &fo.cache_size) < 0) {
		tsm_error("invalid --cache-size %s: a size like 512M, 20G or 1T", o->cache_size);
		return -EINVAL;
	}
	/* At most a day of stalling, a year between polls or renewals: a
	 * longer one is refused, not taken as the default (a lease's expiry,
	 * now plus its life, must not wrap round). */
	struct { const char *text, *name; int64_t *out, max; const char *max_text; } ivals[] = {
		{ o->poll, "poll", &fo.poll_interval, 365 * 86400, "365d" },
		{ o->lease, "lease", &fo.lease_ttl, 365 * 86400, "365d" },
		{ o->timeout, "timeout", &secs, 86400, "1d" },
	};

	secs = 0;
	for (size_t i = 0; i < sizeof(ivals) / sizeof(ivals[0]); i++) {
		if (ivals[i].text && tsm_parse_interval(ivals[i].text, ivals[i].out) < 0) {
			tsm_error("invalid -o %s=%s: an interval like 90s, 30m, 6h, 7d or 2w",
				  ivals[i].name, ivals[i].text);
			return -EINVAL;
		}
		if (ivals[i].text && *ivals[i].out > ivals[i].max) {
			tsm_error("invalid -o %s=%s: at most %s", ivals[i].name, ivals[i].text,
				  ivals[i].max_text);
			return -EINVAL;
		}
	}
	fo.timeout = (unsigned)secs;
	/* Absolute: the daemon changes to / when it detaches. */
	if (mkdir(o->cache, 0700) < 0 && errno != EEXIST) {
		tsm_error("cannot create %s: %s", o->cache, strerror(errno));
		return -errno;
	}
	if (!(dir = realpath(o->cache, NULL))) {
		tsm_error("no cache directory at %s: %s", o->cache, strerror(errno));
		return -ENOENT;
	}
	fo.cache_dir = dir;
	rc = tsm_frontend_setup(&fo, &fs->store_dir);
	free(dir);
	if (rc < 0)
		return rc;
	fs->remote = true;
	return 0;
}

static void syslog_sink(enum tsm_log_level level, const char *msg)
{
	int prio = level == TSM_LOG_ERROR ? LOG_ERR : level == TSM_LOG_WARNING ? LOG_WARNING
									     : LOG_INFO;

	syslog(prio, "%s", msg);
}

static void thread_free(void *arg)
{
	struct fs_thread *t = arg;

	tsm_store_blob_source_free(t->source);
	tsm_store_close(t->store);
	free(t->buf);
	free(t->bufv);
	free(t);
}

struct fs_thread *fs_thread_get(struct fs *fs)
{
	struct fs_thread *t = pthread_getspecific(fs->thread_key);

	if (t)
		return t;
	if (!(t = calloc(1, sizeof(*t))))
		return NULL;
	/* A fuse_bufvec ends in one fuse_buf; room for 64 of them. */
	if (!(t->bufv = calloc(1, sizeof(*t->bufv) + 64 * sizeof(struct fuse_buf)))) {
		free(t);
		return NULL;
	}
	if (tsm_store_open(fs->store_dir, &t->store) < 0 ||
	    tsm_store_blob_source_new(t->store, &t->source) < 0) {
		tsm_store_close(t->store);
		free(t->bufv);
		free(t);
		return NULL;
	}
	pthread_setspecific(fs->thread_key, t);
	return t;
}

/* Mount options every tsmedia mount has. */
static int add_default_mount_options(struct fuse_args *args)
{
	return fuse_opt_add_arg(args, "-oro,default_permissions,fsname=tsmedia,subtype=tsmedia,"
				      "max_read=1048576");
}

static int run(struct fs *fs, struct fuse_args *args, struct fuse_cmdline_opts *cl)
{
	struct fuse_loop_config *config;
	int rc = 1;

	fs_probe_pipe(fs);
	fs->se = fuse_session_new(args, &fs_ops, sizeof(fs_ops), fs);
	if (!fs->se)
		return 1;
	if (fuse_set_signal_handlers(fs->se) != 0)
		goto out_destroy;
	if (fuse_session_mount(fs->se, cl->mountpoint) != 0)
		goto out_signals;
	if (!cl->foreground) {
		openlog("tsmediafs", LOG_PID, LOG_DAEMON);
		tsm_log_set_sink(syslog_sink);
	}
	fuse_daemonize(cl->foreground);
	if (fs_watcher_start(fs) < 0) {
		tsm_error("cannot start the catalog watcher");
		goto out_unmount;
	}
	/* From here on the watcher's first poll may have started a
	 * frontend's lease thread and stored its lease: a failure stops both
	 * (out_stop_watcher), as an unmount does. */
	if (fs_scrub_start(fs) < 0) {
		tsm_error("cannot start the scrub");
		goto out_stop_watcher;
	}
	/* After fuse_daemonize: the server's thread must be the daemon's. */
	if (fs_metrics_start(fs) < 0)
		goto out_stop_scrub;
	tsm_info("serving %s on %s", fs->store_dir, cl->mountpoint);
	if (cl->singlethread) {
		rc = fuse_session_loop(fs->se);
	} else {
		config = fuse_loop_cfg_create();
		fuse_loop_cfg_set_clone_fd(config, cl->clone_fd);
		/* -o max_threads=N, else libfuse's default of 10. */
		fuse_loop_cfg_set_max_threads(config, cl->max_threads > 0 && cl->max_threads <= 100000
							      ? cl->max_threads : 10);
		/* Only when -o max_idle_threads= was given: libfuse's "unset" is UINT_MAX, which
		 * its setter reports as "Ignoring invalid max threads value 4294967295". */
		if (cl->max_idle_threads != UINT_MAX && cl->max_idle_threads <= 100000)
			fuse_loop_cfg_set_idle_threads(config, cl->max_idle_threads);
		rc = fuse_session_loop_mt(fs->se, config);
		fuse_loop_cfg_destroy(config);
	}
	fs_metrics_stop(fs->metrics);
	tsm_info("stopped serving %s", cl->mountpoint);
out_stop_scrub:
	fs_scrub_stop(fs);
out_stop_watcher:
	/* A poll stalled on the object store ends now rather than after its
	 * timeout; then the lease's thread, and the lease. */
	if (fs->remote)
		tsm_frontend_interrupt(fs->refresh_store);
	fs_watcher_stop(fs);
	if (fs->remote)
		tsm_frontend_stop(fs->refresh_store);
out_unmount:
	fuse_session_unmount(fs->se);
out_signals:
	fuse_remove_signal_handlers(fs->se);
out_destroy:
	fuse_session_destroy(fs->se);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct fuse_args args;
	struct fuse_cmdline_opts cl = { 0 };
	struct options opts = { 0 };
	struct fs fs = { .next_ino = FUSE_ROOT_ID + 1 };
	int rc = 1, err;

	tsm_i18n_init();
	tsm_log_set_program("tsmediafs");
	if (take_frontend_options(&argc, argv, &opts) < 0) {
		fputs(_("Try 'tsmediafs --help'.\n"), stderr);
		options_free(&opts);
		return 2;
	}
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	if (fuse_opt_parse(&args, &opts, option_spec, NULL) != 0)
		return 2;
	if (opts.help || opts.version) {
		if (opts.help)
			fputs(_(usage_text), stdout);
		else
			printf("tsmediafs %s (FUSE %s)\n", TSMEDIA_VERSION, fuse_pkgversion());
		options_free(&opts);
		fuse_opt_free_args(&args);
		return 0;
	}
	if (fuse_parse_cmdline(&args, &cl) != 0) {
		fputs(_("Try 'tsmediafs --help'.\n"), stderr);
		return 2;
	}
	if (!cl.mountpoint) {
		tsm_error("no MOUNTPOINT given");
		fputs(_("Try 'tsmediafs --help'.\n"), stderr);
		return 2;
	}
	if (opts.remote) {
		/* A frontend: its store is the mirror in the cache directory. */
		int ferr = frontend_setup(&opts, &fs);

		if (ferr < 0) {
			if (ferr == -EINVAL)
				fputs(_("Try 'tsmediafs --help'.\n"), stderr);
			options_free(&opts);
			fuse_opt_free_args(&args);
			free(cl.mountpoint);
			return ferr == -EINVAL ? 2 : 1;
		}
	} else if (opts.endpoint || opts.cache || opts.cache_size || opts.region || opts.frontend_id ||
		   opts.poll || opts.lease || opts.timeout) {
		tsm_error("--endpoint, --region, --cache, --cache-size, --frontend-id and -o poll=, "
			  "lease=, timeout= go with --remote");
		fputs(_("Try 'tsmediafs --help'.\n"), stderr);
		options_free(&opts);
		fuse_opt_free_args(&args);
		free(cl.mountpoint);
		return 2;
	}
	/* Absolute: the daemon changes to / when it detaches. */
	if (!fs.remote) {
		char *dir = opts.store ? strdup(opts.store) : tsm_store_default_dir();

		fs.store_dir = dir ? realpath(dir, NULL) : NULL;
		if (dir && !fs.store_dir)
			tsm_error("no store at %s: %s", dir, strerror(errno));
		free(dir);
	}
	if (opts.scrub && tsm_parse_interval(opts.scrub, &fs.scrub_interval) < 0) {
		tsm_error("invalid -o scrub=%s: an interval like 90s, 30m, 6h, 7d or 2w",
			  opts.scrub);
		fputs(_("Try 'tsmediafs --help'.\n"), stderr);
		options_free(&opts);
		fuse_opt_free_args(&args);
		free(cl.mountpoint);
		return 2;
	}
	if (opts.chunk_cache) {
		uint64_t bytes = 0;

		if (strcmp(opts.chunk_cache, "0") != 0 && parse_size(opts.chunk_cache, &bytes) < 0) {
			tsm_error("invalid -o chunk_cache=%s: a size like 64M or 1G, or 0",
				  opts.chunk_cache);
			fputs(_("Try 'tsmediafs --help'.\n"), stderr);
			options_free(&opts);
			free(fs.store_dir);
			fuse_opt_free_args(&args);
			free(cl.mountpoint);
			return 2;
		}
		tsm_chunk_cache_set_limit(bytes);
	}
	/* Bound now: a bad address or a port in use stops the mount here. */
	if (opts.metrics && (err = fs_metrics_new(opts.metrics, &fs.metrics)) < 0) {
		if (err == -EINVAL)
			fputs(_("Try 'tsmediafs --help'.\n"), stderr);
		options_free(&opts);
		free(fs.store_dir);
		fuse_opt_free_args(&args);
		free(cl.mountpoint);
		return err == -EINVAL ? 2 : 1;
	}
	fs.direct_io = !opts.page_cache;
	fs.uid = getuid();
	fs.gid = getgid();
	fs.dir_mtime = (int64_t)time(NULL);
	pthread_mutex_init(&fs.lock, NULL);
	pthread_mutex_init(&fs.refresh_lock, NULL);
	pthread_cond_init(&fs.wake, NULL);
	pthread_key_create(&fs.thread_key, thread_free);
	/* Open the store before mounting: a bad store is an error at once. */
	if (!fs.store_dir || tsm_store_open(fs.store_dir, &fs.refresh_store) < 0)
		goto out_free;
	if (fs_versions_dir_create(&fs) < 0 || fs_refresh(&fs) < 0)
		goto out_close;
	if (add_default_mount_options(&args) != 0)
		goto out_close;
	rc = run(&fs, &args, &cl);
out_close:
	fs_nodes_free_all(&fs);
	tsm_store_close(fs.refresh_store);
out_free:
	for (size_t i = 0; i < fs.nstale; i++)
		free(fs.stale[i].name);
	free(fs.stale);
	free(fs.store_dir);
	free(cl.mountpoint);
	options_free(&opts);
	fs_metrics_free(fs.metrics);
	fuse_opt_free_args(&args);
	return rc;
}
