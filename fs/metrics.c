/* Prometheus metrics of the mount (fs/metrics.h), served by libmicrohttpd.
 *
 * The page is Prometheus' text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/): "# HELP"
 * and "# TYPE" lines, then one "name{label="value"} number" line a
 * sample; a histogram is cumulative _bucket{le="..."} lines ending in
 * le="+Inf", then _sum and _count.  Label values escape \, " and newline. */
#include "metrics.h"

#include "fs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tsmedia/log.h"
#include "tsmedia/store.h"

struct fs_metrics {
	char *spec;     /* ADDRESS:PORT as given */
	int listen_fd;  /* bound and listening from fs_metrics_new() */
	struct MHD_Daemon *httpd;
	struct fs *fs;

	pthread_mutex_t lock; /* the list of files; never held on the read path */
	struct fs_file_stats *files;

	/* Read latency: counts per bucket (not cumulative; the last is +Inf)
	 * and the sum of all latencies. */
	_Atomic uint64_t latency[FS_LATENCY_BUCKETS + 1];
	_Atomic uint64_t latency_sum_ns;
	_Atomic uint64_t refreshes;
};

static const uint64_t latency_bound_ns[FS_LATENCY_BUCKETS] = {
	100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 25000000,
	50000000, 100000000, 250000000, 500000000, 1000000000, 2500000000, 5000000000,
};

static void bump(_Atomic uint64_t *counter, uint64_t by)
{
	atomic_fetch_add_explicit(counter, by, memory_order_relaxed);
}

static uint64_t get(_Atomic uint64_t *counter)
{
	return atomic_load_explicit(counter, memory_order_relaxed);
}

uint64_t fs_metrics_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void fs_metrics_read_done(struct fs_metrics *m, struct fs_file_stats *f, uint64_t start_ns,
			  ssize_t result)
{
	uint64_t ns = fs_metrics_now_ns() - start_ns;
	size_t b = 0;

	if (!m)
		return;
	while (b < FS_LATENCY_BUCKETS && ns > latency_bound_ns[b])
		b++;
	bump(&m->latency[b], 1);
	bump(&m->latency_sum_ns, ns);
	if (!f)
		return;
	bump(&f->reads, 1);
	if (result < 0)
		bump(&f->errors, 1);
	else
		bump(&f->bytes, (uint64_t)result);
}

void fs_metrics_opened(struct fs_file_stats *f)
{
	if (f)
		bump(&f->opens, 1);
}

void fs_metrics_refreshed(struct fs_metrics *m)
{
	if (m)
		bump(&m->refreshes, 1);
}

struct fs_file_stats *fs_metrics_file(struct fs_metrics *m, const char *file, const char *media)
{
	struct fs_file_stats *f;

	if (!m)
		return NULL;
	pthread_mutex_lock(&m->lock);
	for (f = m->files; f; f = f->next)
		if (strcmp(f->file, file) == 0 && strcmp(f->media, media) == 0)
			goto out_unlock;
	if (!(f = calloc(1, sizeof(*f))) || !(f->file = strdup(file)) ||
	    !(f->media = strdup(media))) {
		if (f)
			free(f->file);
		free(f);
		f = NULL;
		goto out_unlock;
	}
	f->next = m->files;
	m->files = f;
out_unlock:
	pthread_mutex_unlock(&m->lock);
	return f;
}

/* A label value as the exposition format wants it. */
static void put_label(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static void put_header(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void put_file_counter(FILE *out, struct fs_metrics *m, const char *name, const char *help,
			     size_t offset)
{
	put_header(out, name, "counter", help);
	for (struct fs_file_stats *f = m->files; f; f = f->next) {
		fprintf(out, "%s{media=\"", name);
		put_label(out, f->media);
		fputs("\",file=\"", out);
		put_label(out, f->file);
		fprintf(out, "\"} %llu\n",
			(unsigned long long)get((_Atomic uint64_t *)((char *)f + offset)));
	}
}

/* The whole page, in a malloc'ed buffer. */
static int render(struct fs_metrics *m, char **page_ret, size_t *len_ret)
{
	struct fs *fs = m->fs;
	struct tsm_chunk_counters chunks;
	uint64_t snapshots = 0, pins = 0, open_files = 0, listed = 0, cumulative = 0;
	FILE *out = open_memstream(page_ret, len_ret);

	if (!out)
		return -errno;
	/* Gauges from the nodes: a snapshot counted once however many volume
	 * files it has; a pin for each listed snapshot and each open file. */
	pthread_mutex_lock(&fs->lock);
	for (struct fs_node *n = fs->nodes; n; n = n->next) {
		bool first = n->snap != NULL; /* directories without one */

		for (struct fs_node *p = fs->nodes; p != n && first; p = p->next)
			if (p->snap == n->snap)
				first = false;
		if (first) {
			snapshots++;
			pins += n->snap->listing_pin != NULL;
		}
		open_files += n->nopen;
		listed += n->current && !n->is_dir;
	}
	pins += open_files;
	pthread_mutex_unlock(&fs->lock);

	pthread_mutex_lock(&m->lock);
	put_file_counter(out, m, "tsmediafs_opens_total", "Files opened, per media file.",
			 offsetof(struct fs_file_stats, opens));
	put_file_counter(out, m, "tsmediafs_reads_total", "Read requests served, per media file.",
			 offsetof(struct fs_file_stats, reads));
	put_file_counter(out, m, "tsmediafs_read_bytes_total", "Bytes served, per media file.",
			 offsetof(struct fs_file_stats, bytes));
	put_file_counter(out, m, "tsmediafs_read_errors_total",
			 "Read requests answered with an error (EIO), per media file.",
			 offsetof(struct fs_file_stats, errors));
	pthread_mutex_unlock(&m->lock);

	put_header(out, "tsmediafs_read_seconds", "histogram", "Time to serve a read request.");
	for (size_t b = 0; b <= FS_LATENCY_BUCKETS; b++) {
		cumulative += get(&m->latency[b]);
		if (b < FS_LATENCY_BUCKETS)
			fprintf(out, "tsmediafs_read_seconds_bucket{le=\"%g\"} %llu\n",
				(double)latency_bound_ns[b] / 1e9, (unsigned long long)cumulative);
		else
			fprintf(out, "tsmediafs_read_seconds_bucket{le=\"+Inf\"} %llu\n",
				(unsigned long long)cumulative);
	}
	fprintf(out, "tsmediafs_read_seconds_sum %.9f\n", (double)get(&m->latency_sum_ns) / 1e9);
	fprintf(out, "tsmediafs_read_seconds_count %llu\n", (unsigned long long)cumulative);

	tsm_chunk_counters(&chunks);
	put_header(out, "tsmediafs_chunk_verifications_total", "counter",
		   "Chunks checked against their SHA-256 (reads and scrub).");
	fprintf(out, "tsmediafs_chunk_verifications_total %llu\n",
		(unsigned long long)chunks.verified);
	put_header(out, "tsmediafs_chunk_failures_total", "counter",
		   "Chunks found damaged (checksum, decompression, truncated pack): each an EIO.");
	fprintf(out, "tsmediafs_chunk_failures_total %llu\n", (unsigned long long)chunks.damaged);
	put_header(out, "tsmediafs_snapshots_live", "gauge",
		   "Media snapshots the mount holds (listed or open).");
	fprintf(out, "tsmediafs_snapshots_live %llu\n", (unsigned long long)snapshots);
	put_header(out, "tsmediafs_pins_live", "gauge",
		   "Pins the mount holds in the store (one per listed snapshot and open file).");
	fprintf(out, "tsmediafs_pins_live %llu\n", (unsigned long long)pins);
	put_header(out, "tsmediafs_open_files", "gauge", "Open media files.");
	fprintf(out, "tsmediafs_open_files %llu\n", (unsigned long long)open_files);
	put_header(out, "tsmediafs_media_files", "gauge", "Files the mount lists.");
	fprintf(out, "tsmediafs_media_files %llu\n", (unsigned long long)listed);
	put_header(out, "tsmediafs_catalog_refreshes_total", "counter",
		   "Times the catalog was read again after it changed.");
	fprintf(out, "tsmediafs_catalog_refreshes_total %llu\n",
		(unsigned long long)get(&m->refreshes));
	/* A frontend of a store on object storage (--remote). */
	struct tsm_frontend_stats fe;

	if (tsm_frontend_stats(&fe) == 0) {
		put_header(out, "tsmediafs_remote_generation", "gauge",
			   "The published catalog generation the frontend serves.");
		fprintf(out, "tsmediafs_remote_generation %lld\n", (long long)fe.generation);
		put_header(out, "tsmediafs_cache_bytes", "gauge", "Bytes in the chunk cache.");
		fprintf(out, "tsmediafs_cache_bytes %llu\n", (unsigned long long)fe.cache_bytes);
		put_header(out, "tsmediafs_cache_limit_bytes", "gauge", "The chunk cache's limit.");
		fprintf(out, "tsmediafs_cache_limit_bytes %llu\n", (unsigned long long)fe.cache_limit);
		put_header(out, "tsmediafs_cache_hits_total", "counter",
			   "Chunk reads served from the cache.");
		fprintf(out, "tsmediafs_cache_hits_total %llu\n", (unsigned long long)fe.hits);
		put_header(out, "tsmediafs_cache_misses_total", "counter",
			   "Chunk reads that fetched from object storage.");
		fprintf(out, "tsmediafs_cache_misses_total %llu\n", (unsigned long long)fe.misses);
		put_header(out, "tsmediafs_remote_fetched_bytes_total", "counter",
			   "Bytes fetched from object storage (read-ahead included).");
		fprintf(out, "tsmediafs_remote_fetched_bytes_total %llu\n",
			(unsigned long long)fe.fetched_bytes);
		put_header(out, "tsmediafs_remote_streams_total", "counter",
			   "Streams of sequential readers: ranged GETs received straight into "
			   "the cache.");
		fprintf(out, "tsmediafs_remote_streams_total %llu\n", (unsigned long long)fe.streams);
		put_header(out, "tsmediafs_remote_streamed_bytes_total", "counter",
			   "Bytes those streams fetched (part of the bytes fetched).");
		fprintf(out, "tsmediafs_remote_streamed_bytes_total %llu\n",
			(unsigned long long)fe.streamed_bytes);
		put_header(out, "tsmediafs_cache_rechecks_total", "counter",
			   "Cached chunks hashed again as they were read: not checked in their "
			   "cache file as it is now.");
		fprintf(out, "tsmediafs_cache_rechecks_total %llu\n",
			(unsigned long long)fe.rechecks);
	}
	if (fclose(out) != 0)
		return -ENOMEM;
	return 0;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, char *body,
			     size_t len, enum MHD_ResponseMemoryMode mode, const char *type)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, mode);
	enum MHD_Result ret;

	if (!resp) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **req_cls)
{
	static char not_found[] = "tsmediafs: only /metrics is served here\n";
	static char not_allowed[] = "tsmediafs: GET /metrics\n";
	static char failed[] = "tsmediafs: cannot render the metrics\n";
	struct fs_metrics *m = cls;
	char *page = NULL;
	size_t len = 0;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)req_cls;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, not_allowed, strlen(not_allowed),
			     MHD_RESPMEM_PERSISTENT, "text/plain");
	if (strcmp(url, "/metrics") != 0)
		return reply(conn, MHD_HTTP_NOT_FOUND, not_found, strlen(not_found),
			     MHD_RESPMEM_PERSISTENT, "text/plain");
	if (render(m, &page, &len) < 0) {
		free(page);
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, failed, strlen(failed),
			     MHD_RESPMEM_PERSISTENT, "text/plain");
	}
	return reply(conn, MHD_HTTP_OK, page, len, MHD_RESPMEM_MUST_FREE,
		     "text/plain; version=0.0.4; charset=utf-8");
}

/* ADDRESS:PORT or [ADDRESS]:PORT, numeric: no name lookup at mount time. */
static int listen_on(const char *spec, int *fd_ret)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	struct addrinfo *ai = NULL;
	const char *colon = strrchr(spec, ':'), *start = spec;
	char host[INET6_ADDRSTRLEN + 2];
	size_t hlen;
	int fd, one = 1, rc;

	if (!colon || colon == spec || !colon[1] || strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
		tsm_error("-o metrics=%s: expected ADDRESS:PORT (127.0.0.1:9477, [::1]:9477)", spec);
		return -EINVAL;
	}
	hlen = (size_t)(colon - spec);
	if (spec[0] == '[' && hlen >= 2 && spec[hlen - 1] == ']') {
		start++;
		hlen -= 2;
	}
	if (hlen >= sizeof(host)) {
		tsm_error("-o metrics=%s: not a numeric address", spec);
		return -EINVAL;
	}
	memcpy(host, start, hlen);
	host[hlen] = '\0';
	if (atol(colon + 1) < 1 || atol(colon + 1) > 65535) {
		tsm_error("-o metrics=%s: the port must be 1 to 65535", spec);
		return -EINVAL;
	}
	if ((rc = getaddrinfo(host, colon + 1, &hints, &ai)) != 0) {
		tsm_error("-o metrics=%s: '%s' is not a numeric IPv4 or IPv6 address: %s", spec, host,
			  gai_strerror(rc));
		return -EINVAL;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		rc = -errno;
		tsm_error("-o metrics=%s: socket: %s", spec, strerror(errno));
		goto out_free;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 16) < 0) {
		rc = -errno;
		tsm_error("-o metrics=%s: cannot listen there: %s", spec, strerror(errno));
		close(fd);
		goto out_free;
	}
	*fd_ret = fd;
	rc = 0;
out_free:
	freeaddrinfo(ai);
	return rc;
}

int fs_metrics_new(const char *spec, struct fs_metrics **metrics_ret)
{
	struct fs_metrics *m = calloc(1, sizeof(*m));
	int rc;

	if (!m || !(m->spec = strdup(spec))) {
		free(m);
		return -ENOMEM;
	}
	m->listen_fd = -1;
	pthread_mutex_init(&m->lock, NULL);
	if ((rc = listen_on(spec, &m->listen_fd)) < 0) {
		fs_metrics_free(m);
		return rc;
	}
	*metrics_ret = m;
	return 0;
}

int fs_metrics_start(struct fs *fs)
{
	struct fs_metrics *m = fs->metrics;

	if (!m)
		return 0;
	m->fs = fs;
	/* Our socket, bound before the daemon detached; one thread polls it
	 * and answers (a scrape is small and rare). */
	m->httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL,
				    NULL, handle, m, MHD_OPTION_LISTEN_SOCKET, m->listen_fd,
				    MHD_OPTION_CONNECTION_TIMEOUT, 10u,
				    MHD_OPTION_CONNECTION_LIMIT, 64u, MHD_OPTION_END);
	if (!m->httpd) {
		tsm_error("-o metrics=%s: cannot start the HTTP server", m->spec);
		return -EIO;
	}
	m->listen_fd = -1; /* the server's now */
	tsm_info("metrics on http://%s/metrics", m->spec);
	return 0;
}

void fs_metrics_stop(struct fs_metrics *m)
{
	if (m && m->httpd) {
		MHD_stop_daemon(m->httpd);
		m->httpd = NULL;
	}
}

void fs_metrics_free(struct fs_metrics *m)
{
	if (!m)
		return;
	fs_metrics_stop(m);
	if (m->listen_fd >= 0)
		close(m->listen_fd);
	while (m->files) {
		struct fs_file_stats *f = m->files;

		m->files = f->next;
		free(f->file);
		free(f->media);
		free(f);
	}
	pthread_mutex_destroy(&m->lock);
	free(m->spec);
	free(m);
}
