/* A store on S3-compatible object storage: the writer's uploads and
 * publishing, the frontend's mirror catalog and chunk cache, leases and
 * the remote side of gc and verify (remote.h; docs/scale.md).
 *
 * Objects under the store's prefix:
 *   packs/pack-NNNNNNNN.pack  a sealed pack, byte for byte the writer's file
 *   catalog/GENERATION.db     a published catalog (sqlite database)
 *   catalog/CURRENT           which generation is current, and its SHA-256
 *   leases/FRONTEND-ID        what a frontend still serves, until when
 *
 * sqlite's online backup API (https://www.sqlite.org/backup.html) makes
 * the published copy (a consistent snapshot of the writer's catalog, read
 * in one read transaction) and switches a frontend's catalog in one write
 * transaction, so the mount's readers (WAL) see either generation whole. */
#include "store/remote.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <zstd.h>

#include "store/meta.h"
#include "store/s3.h"
#include "store/store_internal.h"
#include "tsmedia/log.h"
#include "util/db.h"

/* A published catalog larger than this is refused by frontends. */
#define CATALOG_MAX (64ull << 30)
#define CURRENT_MAX 4096
#define LEASE_MAX (16u << 20)
/* One ranged GET reads the missing chunk and the ones after it in its
 * pack, up to this many bytes: sequential reads need few requests. */
#define READAHEAD_BYTES (4u << 20)
#define READAHEAD_CHUNKS 64
/* Attempts of a ranged GET that failed for a reason other than 404. */
#define GET_TRIES 3

/* ---- the frontend registered for this process ---------------------------- */

struct tsm_frontend {
	dev_t dev;
	ino_t ino;
	char *store_dir;
	char *url, *endpoint, *region;
	unsigned timeout;
	char *chunks_dir;
	uint64_t limit;
	_Atomic uint64_t used;
	pthread_mutex_t evict_lock;
	char id[64];
	int64_t poll_interval, lease_ttl;
	int64_t generation;       /* applied; under the poller's thread */
	int64_t next_poll, next_lease;
	_Atomic uint64_t hits, misses, fetched;
};

static pthread_mutex_t frontends_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tsm_frontend *frontend; /* one per process (the mount) */

struct tsm_remote {
	bool frontend;
	char *url, *endpoint, *region;
	unsigned timeout;
	struct tsm_frontend *fe; /* frontend: shared */
	struct tsm_s3 *s3;       /* this handle's client, made at first use */
};

static char *meta_dup(struct tsm_store *store, const char *key)
{
	char buf[1024];

	if (tsm_meta_get(store->db, key, buf, sizeof(buf)) < 0)
		return NULL;
	return strdup(buf);
}

int tsm_remote_attach(struct tsm_store *store)
{
	struct tsm_remote *r;
	struct stat st;
	char *url = NULL;

	if (fstat(store->dir_fd, &st) < 0)
		return -errno;
	pthread_mutex_lock(&frontends_lock);
	struct tsm_frontend *fe = frontend && frontend->dev == st.st_dev && frontend->ino == st.st_ino
					  ? frontend : NULL;
	pthread_mutex_unlock(&frontends_lock);
	if (!fe && !(url = meta_dup(store, "remote_url")))
		return 0; /* a local store */
	if (!(r = calloc(1, sizeof(*r)))) {
		free(url);
		return -ENOMEM;
	}
	if (fe) {
		r->frontend = true;
		r->fe = fe;
		r->url = strdup(fe->url);
		r->endpoint = strdup(fe->endpoint);
		r->region = fe->region ? strdup(fe->region) : NULL;
		r->timeout = fe->timeout;
	} else {
		r->url = url;
		r->endpoint = meta_dup(store, "remote_endpoint");
		r->region = meta_dup(store, "remote_region");
		if (!r->endpoint) {
			tsm_error("%s: the catalog names object storage %s but no endpoint", store->dir,
				  url);
			store->remote = r;
			tsm_remote_detach(store);
			return -EIO;
		}
	}
	store->remote = r;
	if (!r->url || !r->endpoint) {
		tsm_remote_detach(store);
		return -ENOMEM;
	}
	return 0;
}

void tsm_remote_detach(struct tsm_store *store)
{
	struct tsm_remote *r = store->remote;

	if (!r)
		return;
	tsm_s3_free(r->s3);
	free(r->url);
	free(r->endpoint);
	free(r->region);
	free(r);
	store->remote = NULL;
}

bool tsm_remote_is_writer(const struct tsm_store *store)
{
	return store->remote && !store->remote->frontend;
}

bool tsm_remote_is_frontend(const struct tsm_store *store)
{
	return store->remote && store->remote->frontend;
}

int tsm_remote_s3(struct tsm_store *store, struct tsm_s3 **s3_ret)
{
	struct tsm_remote *r = store->remote;
	int rc;

	if (!r->s3) {
		struct tsm_s3_config cfg = { .url = r->url, .endpoint = r->endpoint,
					     .region = r->region, .timeout = r->timeout };

		if ((rc = tsm_s3_new(&cfg, &r->s3)) < 0)
			return rc;
	}
	*s3_ret = r->s3;
	return 0;
}

/* ---- writer: packs ------------------------------------------------------------ */

static void pack_key(int64_t id, char key[48])
{
	char name[32];

	tsm_pack_name(id, name);
	snprintf(key, 48, "packs/%s", name);
}

int tsm_remote_upload_session(struct tsm_store *store)
{
	struct tsm_pack_writer *w = &store->writer;
	struct tsm_s3 *s3;
	int rc;

	if (!tsm_remote_is_writer(store) || !w->n_touched)
		return 0;
	if ((rc = tsm_remote_s3(store, &s3)) < 0)
		return rc;
	for (size_t i = 0; i < w->n_touched; i++) {
		struct tsm_pack_touched *t = &w->touched[i];
		char key[48];
		struct stat st;

		/* Objects are immutable: a remote store's sessions only ever
		 * create packs (tsm_store_write_begin sets fresh_only). */
		if (!t->created) {
			tsm_error("%s: pack %lld was appended to, which a store on object storage "
				  "never does",
				  store->dir, (long long)t->id);
			return -EIO;
		}
		if (fstat(t->fd, &st) < 0)
			return -errno;
		pack_key(t->id, key);
		if ((rc = tsm_s3_put_fd(s3, key, t->fd, (uint64_t)st.st_size)) < 0) {
			tsm_error("%s: pack %lld could not be stored on %s: nothing is committed",
				  store->dir, (long long)t->id, tsm_s3_location(s3));
			return rc;
		}
	}
	return 0;
}

/* ---- writer: publishing the catalog ------------------------------------------ */

int tsm_remote_current_parse(const char *text, size_t len, struct tsm_remote_current *cur)
{
	char hex[TSM_SHA256_HEX_LEN + 2], tail;
	long long gen;
	unsigned long long size;

	/* Exactly the four lines tsm_remote_publish writes; NUL-terminated
	 * within @len. */
	if (len == 0 || len > CURRENT_MAX || memchr(text, 0, len) || text[len] != 0)
		return -EINVAL;
	if (sscanf(text, "tsmedia-catalog 1\ngeneration %lld\nsha256 %65[0-9a-f]\nsize %llu%c", &gen,
		   hex, &size, &tail) != 4 ||
	    tail != '\n' || gen < 1 || strlen(hex) != TSM_SHA256_HEX_LEN ||
	    tsm_hex_decode(hex, cur->sha256, TSM_SHA256_LEN) < 0 || size > CATALOG_MAX ||
	    strchr(text, '\n') == NULL)
		return -EINVAL;
	/* Nothing after the fourth line. */
	const char *p = text;

	for (int i = 0; i < 4; i++)
		p = strchr(p, '\n') + 1;
	if (*p)
		return -EINVAL;
	cur->generation = gen;
	cur->size = size;
	return 0;
}

static int current_get(struct tsm_s3 *s3, struct tsm_remote_current *cur)
{
	char *text;
	size_t len;
	int rc = tsm_s3_get_small(s3, "catalog/CURRENT", CURRENT_MAX, &text, &len);

	if (rc < 0)
		return rc;
	if ((rc = tsm_remote_current_parse(text, len, cur)) < 0)
		tsm_error("%scatalog/CURRENT is not a tsmedia catalog pointer", tsm_s3_location(s3));
	free(text);
	return rc;
}

static int file_sha256(int fd, uint8_t out[TSM_SHA256_LEN], uint64_t *size_ret)
{
	struct tsm_file_hasher *h;
	uint8_t buf[1 << 16], sha1[TSM_SHA1_LEN];
	uint64_t off = 0;
	int rc;

	if ((rc = tsm_file_hasher_new(&h)) < 0)
		return rc;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		if ((rc = tsm_file_hasher_update_sha256(h, buf, (size_t)n)) < 0)
			break;
		off += (uint64_t)n;
	}
	if (rc == 0)
		rc = tsm_file_hasher_final(h, out, sha1);
	tsm_file_hasher_free(h);
	*size_ret = off;
	return rc;
}

/* A copy of @src's main database at @path, in one read transaction. */
static int db_copy_to(sqlite3 *src, const char *path)
{
	sqlite3 *dst = NULL;
	sqlite3_backup *b;
	int rc;

	if (sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		rc = tsm_db_error(dst, "creating the catalog copy to publish");
		sqlite3_close(dst);
		return rc;
	}
	if (!(b = sqlite3_backup_init(dst, "main", src, "main"))) {
		rc = tsm_db_error(dst, "copying the catalog to publish");
		sqlite3_close(dst);
		return rc;
	}
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	if (rc != SQLITE_DONE) {
		rc = tsm_db_error(dst, "copying the catalog to publish");
		sqlite3_close(dst);
		return rc;
	}
	/* The copy is a frontend's catalog: the writer's location and settings
	 * of object storage are its own; a single file, no WAL. */
	rc = tsm_db_exec(dst, "DELETE FROM meta WHERE key LIKE 'remote\\_%' ESCAPE '\\'");
	if (rc == 0)
		rc = tsm_db_exec(dst, "PRAGMA journal_mode=DELETE");
	sqlite3_close(dst);
	return rc;
}

int tsm_remote_publish(struct tsm_store *store)
{
	struct tsm_remote_current cur = { 0 };
	uint8_t sha[TSM_SHA256_LEN];
	char tmp[4096], key[64], text[256], hex[TSM_SHA256_HEX_LEN + 1];
	struct tsm_s3 *s3;
	uint64_t size;
	int fd, rc;

	if (!tsm_remote_is_writer(store))
		return 0;
	if ((rc = tsm_remote_s3(store, &s3)) < 0)
		return rc;
	rc = current_get(s3, &cur);
	if (rc < 0 && rc != -ENOENT)
		return rc;
	snprintf(tmp, sizeof(tmp), "%s/publish-%d.tmp", store->dir, (int)getpid());
	unlink(tmp);
	if ((rc = db_copy_to(store->db, tmp)) < 0)
		goto out_unlink;
	if ((fd = open(tmp, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = -errno;
		goto out_unlink;
	}
	if ((rc = file_sha256(fd, sha, &size)) == 0) {
		snprintf(key, sizeof(key), "catalog/%020lld.db", (long long)(cur.generation + 1));
		rc = tsm_s3_put_fd(s3, key, fd, size);
	}
	close(fd);
	if (rc < 0)
		goto out_unlink;
	tsm_hex_encode(sha, TSM_SHA256_LEN, hex);
	snprintf(text, sizeof(text), "tsmedia-catalog 1\ngeneration %lld\nsha256 %s\nsize %llu\n",
		 (long long)(cur.generation + 1), hex, (unsigned long long)size);
	/* CURRENT last: a frontend never sees a generation before it is whole. */
	rc = tsm_s3_put_buf(s3, "catalog/CURRENT", text, strlen(text));
	if (rc == 0)
		tsm_info("published catalog generation %lld to %s", (long long)(cur.generation + 1),
			 tsm_s3_location(s3));
out_unlink:
	unlink(tmp);
	return rc;
}

/* ---- frontend: setup and polling ---------------------------------------------- */

static int mkdir_private(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		int err = errno;

		tsm_error("cannot create %s: %s", path, strerror(err));
		return -err;
	}
	return 0;
}

/* Fetches generation @cur into @path and checks its size and SHA-256. */
static int catalog_fetch(struct tsm_s3 *s3, const struct tsm_remote_current *cur, const char *path)
{
	uint8_t sha[TSM_SHA256_LEN];
	char key[64];
	uint64_t len, size;
	int fd, rc;

	snprintf(key, sizeof(key), "catalog/%020lld.db", (long long)cur->generation);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		tsm_error("cannot create %s: %s", path, strerror(-rc));
		return rc;
	}
	rc = tsm_s3_get_fd(s3, key, fd, cur->size, &len);
	if (rc == 0 && (rc = file_sha256(fd, sha, &size)) == 0 &&
	    (size != cur->size || memcmp(sha, cur->sha256, TSM_SHA256_LEN) != 0)) {
		tsm_error("%s%s does not match catalog/CURRENT (size or SHA-256): not used",
			  tsm_s3_location(s3), key);
		rc = -EIO;
	}
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc < 0)
		unlink(path);
	return rc;
}

/* Switches the catalog of @dest to the database at @path, in one write
 * transaction of @dest (readers of other connections see one or the other). */
static int catalog_switch(sqlite3 *dest, const char *path)
{
	sqlite3 *src = NULL;
	sqlite3_backup *b;
	int rc;

	sqlite3_busy_timeout(dest, 60000);
	if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = tsm_db_error(src, "opening a fetched catalog");
		sqlite3_close(src);
		return rc;
	}
	if (!(b = sqlite3_backup_init(dest, "main", src, "main"))) {
		rc = tsm_db_error(dest, "switching to a fetched catalog");
		sqlite3_close(src);
		return rc;
	}
	rc = sqlite3_backup_step(b, -1);
	sqlite3_backup_finish(b);
	rc = rc == SQLITE_DONE ? 0 : tsm_db_error(dest, "switching to a fetched catalog");
	sqlite3_close(src);
	return rc;
}

static int frontend_poll_catalog(struct tsm_store *store, struct tsm_frontend *fe, bool *changed)
{
	struct tsm_remote_current cur;
	struct tsm_s3 *s3;
	char tmp[4096];
	int rc;

	if ((rc = tsm_remote_s3(store, &s3)) < 0 || (rc = current_get(s3, &cur)) < 0)
		return rc;
	if (cur.generation == fe->generation)
		return 0;
	if (cur.generation < fe->generation) {
		tsm_warn("%scatalog/CURRENT went back from generation %lld to %lld: kept %lld",
			 tsm_s3_location(s3), (long long)fe->generation, (long long)cur.generation,
			 (long long)fe->generation);
		return 0;
	}
	snprintf(tmp, sizeof(tmp), "%s/fetch.tmp", store->dir);
	if ((rc = catalog_fetch(s3, &cur, tmp)) < 0)
		return rc;
	/* Through a connection of its own, so that every handle, this one
	 * too, sees another connection's commit (sqlite's data_version), as
	 * after a writer's change to a local store.  Like gc: no reader is
	 * between a lookup and its pin meanwhile. */
	char db_path[4096];
	sqlite3 *dest = NULL;

	snprintf(db_path, sizeof(db_path), "%s/catalog.db", store->dir);
	while (flock(store->gc_lock_fd, LOCK_EX) < 0 && errno == EINTR)
		;
	if (sqlite3_open_v2(db_path, &dest, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
		rc = tsm_db_error(dest, "opening the frontend's catalog");
	else
		rc = catalog_switch(dest, tmp);
	sqlite3_close(dest);
	flock(store->gc_lock_fd, LOCK_UN);
	unlink(tmp);
	if (rc < 0)
		return rc;
	tsm_info("switched to catalog generation %lld of %s", (long long)cur.generation,
		 tsm_s3_location(s3));
	fe->generation = cur.generation;
	*changed = true;
	return 0;
}

static uint64_t dir_usage(const char *path)
{
	uint64_t total = 0;
	DIR *d = opendir(path);
	struct dirent *de;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		char sub[4096];
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", path, de->d_name);
		if (lstat(sub, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			total += dir_usage(sub);
		else if (S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	closedir(d);
	return total;
}

static bool id_valid(const char *id)
{
	size_t n = strlen(id);

	if (n == 0 || n >= 64)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z') ||
		      (id[i] >= '0' && id[i] <= '9') || strchr("._-", id[i])))
			return false;
	return true;
}

int tsm_frontend_setup(const struct tsm_frontend_options *opts, char **store_dir_ret)
{
	struct tsm_frontend *fe;
	struct tsm_remote_current cur;
	struct tsm_s3_config cfg = { .url = opts->url, .endpoint = opts->endpoint,
				     .region = opts->region, .timeout = opts->timeout };
	struct tsm_s3 *s3 = NULL;
	char path[4096], host[64];
	struct stat st;
	int rc;

	if (!opts->cache_dir || !opts->url || !opts->endpoint) {
		tsm_error("a frontend needs --remote, --endpoint and --cache");
		return -EINVAL;
	}
	/* Room for chunks/XX/HASH in the cache's path buffers. */
	if (strlen(opts->cache_dir) > 3900) {
		tsm_error("the cache directory %s: its path must be at most 3900 characters",
			  opts->cache_dir);
		return -ENAMETOOLONG;
	}
	if (opts->id && !id_valid(opts->id)) {
		tsm_error("invalid frontend id '%s': up to 63 letters, digits, '.', '_' or '-'",
			  opts->id);
		return -EINVAL;
	}
	if ((rc = tsm_s3_new(&cfg, &s3)) < 0)
		return rc;
	if (!(fe = calloc(1, sizeof(*fe)))) {
		rc = -ENOMEM;
		goto out_s3;
	}
	pthread_mutex_init(&fe->evict_lock, NULL);
	fe->timeout = opts->timeout;
	fe->limit = opts->cache_size ? opts->cache_size : (10ull << 30);
	fe->poll_interval = opts->poll_interval > 0 ? opts->poll_interval : 5;
	fe->lease_ttl = opts->lease_ttl > 0 ? opts->lease_ttl : 60;
	if (opts->id) {
		snprintf(fe->id, sizeof(fe->id), "%s", opts->id);
	} else {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "frontend");
		host[sizeof(host) - 1] = 0;
		for (char *p = host; *p; p++)
			if (!strchr("._-", *p) && !((*p >= 'a' && *p <= 'z') ||
						   (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9')))
				*p = '-';
		snprintf(fe->id, sizeof(fe->id), "%.40s-%d", host, (int)getpid());
	}
	rc = -ENOMEM;
	if (!(fe->url = strdup(opts->url)) || !(fe->endpoint = strdup(opts->endpoint)) ||
	    (opts->region && !(fe->region = strdup(opts->region))) ||
	    asprintf(&fe->store_dir, "%s/store", opts->cache_dir) < 0 ||
	    asprintf(&fe->chunks_dir, "%s/chunks", opts->cache_dir) < 0)
		goto out_fe;
	if ((rc = mkdir_private(opts->cache_dir)) < 0 || (rc = mkdir_private(fe->store_dir)) < 0 ||
	    (rc = mkdir_private(fe->chunks_dir)) < 0)
		goto out_fe;
	const char *subdirs[] = { "packs", "pins" };

	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/%s", fe->store_dir, subdirs[i]);
		if ((rc = mkdir_private(path)) < 0)
			goto out_fe;
	}
	const char *locks[] = { "lock", "gc.lock" };

	for (size_t i = 0; i < 2; i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s", fe->store_dir, locks[i]);
		if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) < 0) {
			rc = -errno;
			tsm_error("cannot create %s: %s", path, strerror(-rc));
			goto out_fe;
		}
		close(fd);
	}
	/* The first catalog: the mount starts only with a complete one. */
	if ((rc = current_get(s3, &cur)) < 0) {
		if (rc == -ENOENT)
			tsm_error("%s holds no published catalog (catalog/CURRENT): is it a tsmedia "
				  "store?",
				  tsm_s3_location(s3));
		goto out_fe;
	}
	snprintf(path, sizeof(path), "%s/fetch.tmp", fe->store_dir);
	if ((rc = catalog_fetch(s3, &cur, path)) < 0)
		goto out_fe;
	char db[4096];

	snprintf(db, sizeof(db), "%s/catalog.db", fe->store_dir);
	if (stat(db, &st) == 0) {
		sqlite3 *dest = NULL;

		/* A cache directory used before: switch its catalog in place. */
		if (sqlite3_open_v2(db, &dest, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK)
			rc = tsm_db_error(dest, "opening the frontend's catalog");
		else
			rc = catalog_switch(dest, path);
		sqlite3_close(dest);
		unlink(path);
	} else {
		rc = rename(path, db) < 0 ? -errno : 0;
	}
	if (rc < 0)
		goto out_fe;
	fe->generation = cur.generation;
	if (stat(fe->store_dir, &st) < 0) {
		rc = -errno;
		goto out_fe;
	}
	fe->dev = st.st_dev;
	fe->ino = st.st_ino;
	atomic_store(&fe->used, dir_usage(fe->chunks_dir));
	pthread_mutex_lock(&frontends_lock);
	if (frontend) {
		pthread_mutex_unlock(&frontends_lock);
		tsm_error("this process already serves a frontend");
		rc = -EBUSY;
		goto out_fe;
	}
	frontend = fe;
	pthread_mutex_unlock(&frontends_lock);
	if (!(*store_dir_ret = strdup(fe->store_dir))) {
		rc = -ENOMEM;
		goto out_s3; /* registered: stays for the process */
	}
	tsm_info("frontend %s of %s: catalog generation %lld, cache %s (%llu of %llu bytes used)",
		 fe->id, tsm_s3_location(s3), (long long)cur.generation, fe->chunks_dir,
		 (unsigned long long)atomic_load(&fe->used), (unsigned long long)fe->limit);
	tsm_s3_free(s3);
	return 0;

out_fe:
	free(fe->url);
	free(fe->endpoint);
	free(fe->region);
	free(fe->store_dir);
	free(fe->chunks_dir);
	free(fe);
out_s3:
	tsm_s3_free(s3);
	return rc;
}

/* The lease: what this frontend still serves (its live pins), and until
 * when.  Same pin lines as a pin file. */
static int frontend_lease_write(struct tsm_store *store, struct tsm_frontend *fe, int64_t now)
{
	struct tsm_pinned p;
	struct tsm_s3 *s3;
	char key[96], *text = NULL;
	size_t cap, len = 0;
	int rc;

	if ((rc = tsm_remote_s3(store, &s3)) < 0)
		return rc;
	if ((rc = tsm_pins_collect(store, &p)) < 0)
		return rc;
	cap = 512 + 40 * (p.ncontent + p.nmedia);
	if (!(text = malloc(cap))) {
		tsm_pinned_clear(&p);
		return -ENOMEM;
	}
	len += (size_t)snprintf(text + len, cap - len,
				"tsmedia-lease 1\nfrontend %s\ngeneration %lld\nrenewed %lld\n"
				"expires %lld\ncache-bytes %llu\ncache-limit %llu\n",
				fe->id, (long long)fe->generation, (long long)now,
				(long long)(now + fe->lease_ttl),
				(unsigned long long)atomic_load(&fe->used),
				(unsigned long long)fe->limit);
	for (size_t i = 0; i < p.nmedia; i++)
		len += (size_t)snprintf(text + len, cap - len, "media-version %lld\n",
					(long long)p.media_versions[i]);
	for (size_t i = 0; i < p.ncontent; i++)
		len += (size_t)snprintf(text + len, cap - len, "content-version %lld\n",
					(long long)p.content_versions[i]);
	tsm_pinned_clear(&p);
	snprintf(key, sizeof(key), "leases/%s", fe->id);
	rc = tsm_s3_put_buf(s3, key, text, len);
	free(text);
	return rc;
}

int tsm_frontend_poll(struct tsm_store *store, bool *changed_ret)
{
	struct tsm_frontend *fe;
	struct timespec ts;
	int64_t now;
	int rc = 0, lrc = 0;

	*changed_ret = false;
	if (!tsm_remote_is_frontend(store))
		return 0;
	fe = store->remote->fe;
	clock_gettime(CLOCK_REALTIME, &ts);
	now = ts.tv_sec;
	if (now >= fe->next_poll) {
		fe->next_poll = now + fe->poll_interval;
		rc = frontend_poll_catalog(store, fe, changed_ret);
	}
	/* Renewed at a third of its life, and at once when the catalog moved. */
	if (now >= fe->next_lease || *changed_ret) {
		lrc = frontend_lease_write(store, fe, now);
		fe->next_lease = lrc < 0 ? now + 1 : now + (fe->lease_ttl + 2) / 3;
	}
	return rc < 0 ? rc : lrc;
}

void tsm_frontend_stop(struct tsm_store *store)
{
	struct tsm_s3 *s3;
	char key[96];

	if (!tsm_remote_is_frontend(store) || tsm_remote_s3(store, &s3) < 0)
		return;
	snprintf(key, sizeof(key), "leases/%s", store->remote->fe->id);
	tsm_s3_delete(s3, key);
}

int tsm_frontend_stats(struct tsm_store *store, struct tsm_frontend_stats *stats)
{
	struct tsm_frontend *fe;

	memset(stats, 0, sizeof(*stats));
	if (!tsm_remote_is_frontend(store))
		return -EINVAL;
	fe = store->remote->fe;
	stats->generation = fe->generation;
	stats->cache_bytes = atomic_load(&fe->used);
	stats->cache_limit = fe->limit;
	stats->hits = atomic_load(&fe->hits);
	stats->misses = atomic_load(&fe->misses);
	stats->fetched_bytes = atomic_load(&fe->fetched);
	return 0;
}

/* ---- frontend: chunks through the cache ---------------------------------------- */

static void cache_path(const struct tsm_frontend *fe, const uint8_t hash[TSM_SHA256_LEN],
		       char *buf, size_t n, char *dir, size_t dn)
{
	char hex[TSM_SHA256_HEX_LEN + 1];

	tsm_hex_encode(hash, TSM_SHA256_LEN, hex);
	/* tsm_frontend_setup() keeps chunks_dir short enough for both. */
	if (snprintf(dir, dn, "%s/%.2s", fe->chunks_dir, hex) >= (int)dn ||
	    snprintf(buf, n, "%s/%s", dir, hex) >= (int)n)
		buf[0] = dir[0] = 0;
}

/* Decompresses (when stored so) and checks one chunk's stored bytes. */
static int chunk_decode(const struct tsm_chunk_loc *loc, const uint8_t *stored, uint8_t *out,
			const char **problem)
{
	uint8_t digest[TSM_SHA256_LEN];

	if (loc->codec == TSM_COMPRESSION_ZSTD) {
		size_t n = ZSTD_decompress(out, loc->size, stored, loc->stored_size);

		if (ZSTD_isError(n) || n != loc->size) {
			*problem = "does not decompress";
			return -EIO;
		}
	} else if (stored != out) {
		memcpy(out, stored, loc->size);
	}
	if (tsm_sha256(out, loc->size, digest) < 0 ||
	    memcmp(digest, loc->hash, TSM_SHA256_LEN) != 0) {
		*problem = "checksum mismatch";
		return -EIO;
	}
	return 0;
}

struct evict_entry {
	struct timespec mtime;
	uint64_t size;
	char path[160];
};

static int evict_cmp(const void *a, const void *b)
{
	const struct evict_entry *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	return (x->mtime.tv_nsec > y->mtime.tv_nsec) - (x->mtime.tv_nsec < y->mtime.tv_nsec);
}

/* Least recently used out (a hit moves a file's mtime forward), down to
 * 90% of the limit. */
static void cache_evict(struct tsm_frontend *fe)
{
	struct evict_entry *e = NULL;
	size_t n = 0, cap = 0;
	uint64_t used = 0, target = fe->limit / 10 * 9;
	DIR *top;
	struct dirent *de;

	if (pthread_mutex_trylock(&fe->evict_lock) != 0)
		return; /* another thread is at it */
	if (!(top = opendir(fe->chunks_dir)))
		goto out;
	while ((de = readdir(top))) {
		char sub[4096];
		DIR *d;
		struct dirent *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", fe->chunks_dir, de->d_name);
		if (!(d = opendir(sub)))
			continue;
		while ((f = readdir(d))) {
			struct stat st;
			char path[4096];

			if (strlen(f->d_name) != TSM_SHA256_HEX_LEN)
				continue;
			if (snprintf(path, sizeof(path), "%s/%s", sub, f->d_name) >=
				    (int)sizeof(e->path) ||
			    stat(path, &st) < 0)
				continue;
			if (n == cap) {
				size_t c = cap ? 2 * cap : 1024;
				void *p = realloc(e, c * sizeof(*e));

				if (!p)
					break;
				e = p;
				cap = c;
			}
			e[n].mtime = st.st_mtim;
			e[n].size = (uint64_t)st.st_size;
			strcpy(e[n].path, path);
			used += e[n].size;
			n++;
		}
		closedir(d);
	}
	closedir(top);
	qsort(e, n, sizeof(*e), evict_cmp);
	for (size_t i = 0; i < n && used > target; i++)
		if (unlink(e[i].path) == 0)
			used -= e[i].size;
	atomic_store(&fe->used, used);
out:
	free(e);
	pthread_mutex_unlock(&fe->evict_lock);
}

static void cache_put(struct tsm_frontend *fe, const uint8_t hash[TSM_SHA256_LEN],
		      const uint8_t *stored, size_t len)
{
	char path[4096], dir[4096], tmp[4200];
	static _Atomic unsigned counter;
	int fd;

	cache_path(fe, hash, path, sizeof(path), dir, sizeof(dir));
	mkdir(dir, 0700);
	snprintf(tmp, sizeof(tmp), "%s/.%d-%u.tmp", dir, (int)getpid(),
		 atomic_fetch_add(&counter, 1));
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return;
	bool ok = write(fd, stored, len) == (ssize_t)len;

	close(fd);
	if (!ok || rename(tmp, path) < 0) {
		unlink(tmp);
		return;
	}
	if (atomic_fetch_add(&fe->used, len) + len > fe->limit)
		cache_evict(fe);
}

/* From the cache: 0 (checked), -ENOENT (not there), -EIO (damaged: the
 * file is removed and the caller fetches it again). */
static int cache_get(struct tsm_store *store, struct tsm_frontend *fe,
		     const struct tsm_chunk_loc *loc, uint8_t *out, uint8_t *scratch)
{
	char path[4096], dir[4096], hex[TSM_SHA256_HEX_LEN + 1];
	uint8_t *stored = loc->codec == TSM_COMPRESSION_ZSTD ? scratch : out;
	const char *problem = NULL;
	struct stat st;
	ssize_t n;
	int fd, rc;

	cache_path(fe, loc->hash, path, sizeof(path), dir, sizeof(dir));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -ENOENT;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != loc->stored_size) {
		problem = "has the wrong size";
		rc = -EIO;
	} else if ((n = pread(fd, stored, loc->stored_size, 0)) != (ssize_t)loc->stored_size) {
		problem = "cannot be read";
		rc = -EIO;
	} else {
		rc = chunk_decode(loc, stored, out, &problem);
	}
	if (rc == 0) {
		struct timespec now;

		/* Recently used: its mtime, at most once a minute. */
		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec - st.st_mtim.tv_sec > 60)
			futimens(fd, NULL);
	}
	close(fd);
	if (rc < 0) {
		tsm_hex_encode(loc->hash, TSM_SHA256_LEN, hex);
		tsm_warn("%s: cached chunk %s %s: removed, fetched again", store->dir, hex, problem);
		if (unlink(path) == 0)
			atomic_fetch_sub(&fe->used, (uint64_t)st.st_size);
	}
	return rc;
}

/* The chunks after @loc in its pack that a read-ahead fetches with it:
 * contiguous, at most READAHEAD_BYTES in all. */
static size_t readahead_plan(struct tsm_store *store, const struct tsm_chunk_loc *loc,
			     struct tsm_chunk_loc *next, size_t max)
{
	static const char sql[] = "SELECT " TSM_CHUNK_LOC_COLUMNS
				  " FROM chunks c WHERE c.pack = ? AND c.offset > ?"
				  " ORDER BY c.offset LIMIT ?";
	uint64_t end = loc->offset + loc->stored_size;
	sqlite3_stmt *stmt;
	size_t n = 0;

	if (tsm_db_prepare(store->db, sql, &stmt) < 0)
		return 0;
	sqlite3_bind_int64(stmt, 1, loc->pack);
	sqlite3_bind_int64(stmt, 2, (int64_t)loc->offset);
	sqlite3_bind_int64(stmt, 3, (int64_t)max);
	while (n < max && sqlite3_step(stmt) == SQLITE_ROW) {
		struct tsm_chunk_loc c;

		if (tsm_chunk_loc_from_row(store, stmt, 0, &c) < 0 || c.offset != end ||
		    end + c.stored_size - loc->offset > READAHEAD_BYTES)
			break;
		next[n++] = c;
		end += c.stored_size;
	}
	sqlite3_finalize(stmt);
	return n;
}

static void chunk_fail(struct tsm_store *store, struct tsm_s3 *s3, const struct tsm_chunk_loc *loc,
		       const char *problem)
{
	char hex[TSM_SHA256_HEX_LEN + 1], key[48];

	tsm_hex_encode(loc->hash, TSM_SHA256_LEN, hex);
	pack_key(loc->pack, key);
	tsm_error("chunk %s in %s%s at offset %llu: %s", hex, tsm_s3_location(s3), key,
		  (unsigned long long)loc->offset, problem);
	(void)store;
}

int tsm_remote_chunk_read(struct tsm_store *store, const struct tsm_chunk_loc *loc, uint8_t *out,
			  uint8_t *scratch)
{
	struct tsm_frontend *fe = store->remote->fe;
	struct tsm_chunk_loc next[READAHEAD_CHUNKS];
	const char *problem = NULL;
	struct tsm_s3 *s3;
	uint8_t *buf;
	size_t nnext, total;
	char key[48];
	int rc;

	if (loc->size > TSM_CHUNK_MAX || loc->stored_size > TSM_CHUNK_MAX ||
	    (loc->codec == TSM_COMPRESSION_NONE && loc->stored_size != loc->size))
		return -EIO;
	if (cache_get(store, fe, loc, out, scratch) == 0) {
		atomic_fetch_add(&fe->hits, 1);
		return 0;
	}
	atomic_fetch_add(&fe->misses, 1);
	if ((rc = tsm_remote_s3(store, &s3)) < 0)
		return -EIO;
	nnext = readahead_plan(store, loc, next, READAHEAD_CHUNKS);
	total = loc->stored_size;
	for (size_t i = 0; i < nnext; i++)
		total += next[i].stored_size;
	if (!(buf = malloc(total ? total : 1)))
		return -ENOMEM;
	pack_key(loc->pack, key);
	for (int attempt = 0; attempt < GET_TRIES; attempt++) {
		if (attempt)
			usleep(200000u << attempt);
		rc = tsm_s3_get_range(s3, key, loc->offset, total, buf);
		if (rc == 0 || rc == -ENOENT)
			break;
	}
	if (rc < 0) {
		free(buf);
		if (rc == -ENOENT)
			return -ENOENT;
		chunk_fail(store, s3, loc, "cannot be fetched");
		return -EIO;
	}
	atomic_fetch_add(&fe->fetched, total);
	/* Only checked bytes enter the cache. */
	rc = chunk_decode(loc, loc->codec == TSM_COMPRESSION_ZSTD ? buf : buf, out, &problem);
	if (rc < 0) {
		chunk_fail(store, s3, loc, problem);
		free(buf);
		return -EIO;
	}
	cache_put(fe, loc->hash, buf, loc->stored_size);
	size_t off = loc->stored_size;

	for (size_t i = 0; i < nnext; i++) {
		if (chunk_decode(&next[i], buf + off, scratch, &problem) == 0)
			cache_put(fe, next[i].hash, buf + off, next[i].stored_size);
		off += next[i].stored_size;
	}
	free(buf);
	return 0;
}

/* ---- leases ---------------------------------------------------------------------- */

static int pinned_push(int64_t **ids, size_t *n, size_t *cap, int64_t id)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 16;
		void *p = realloc(*ids, c * sizeof(**ids));

		if (!p)
			return -ENOMEM;
		*ids = p;
		*cap = c;
	}
	(*ids)[(*n)++] = id;
	return 0;
}

int tsm_remote_lease_parse(const char *text, size_t len, struct tsm_remote_lease *lease,
			   struct tsm_pinned *pinned)
{
	char *copy, *line, *save = NULL;
	int rc = 0, n = 0;

	memset(lease, 0, sizeof(*lease));
	if (len > LEASE_MAX || memchr(text, 0, len))
		return -EINVAL;
	if (!(copy = strndup(text, len)))
		return -ENOMEM;
	for (line = strtok_r(copy, "\n", &save); line && rc == 0; line = strtok_r(NULL, "\n", &save)) {
		long long v;
		unsigned long long u;
		char word[64], end;

		n++;
		if (n == 1) {
			if (strcmp(line, "tsmedia-lease 1") != 0)
				rc = -EINVAL;
		} else if (sscanf(line, "frontend %63s%c", word, &end) == 1 && id_valid(word)) {
			strcpy(lease->frontend, word);
		} else if (sscanf(line, "generation %lld%c", &v, &end) == 1 && v >= 0) {
			lease->generation = v;
		} else if (sscanf(line, "renewed %lld%c", &v, &end) == 1) {
			lease->renewed = v;
		} else if (sscanf(line, "expires %lld%c", &v, &end) == 1) {
			lease->expires = v;
		} else if (sscanf(line, "cache-bytes %llu%c", &u, &end) == 1) {
			lease->cache_bytes = u;
		} else if (sscanf(line, "cache-limit %llu%c", &u, &end) == 1) {
			lease->cache_limit = u;
		} else if (sscanf(line, "media-version %lld%c", &v, &end) == 1 && v > 0) {
			if (pinned)
				rc = pinned_push(&pinned->media_versions, &pinned->nmedia,
						 &pinned->cap_media, v);
		} else if (sscanf(line, "content-version %lld%c", &v, &end) == 1 && v > 0) {
			if (pinned)
				rc = pinned_push(&pinned->content_versions, &pinned->ncontent,
						 &pinned->cap_content, v);
		} else {
			rc = -EINVAL;
		}
	}
	free(copy);
	if (rc == 0 && (n == 0 || !lease->frontend[0] || !lease->expires))
		rc = -EINVAL;
	return rc;
}

struct lease_walk {
	struct tsm_store *store;
	struct tsm_s3 *s3;
	int64_t now, grace;
	struct tsm_pinned *pinned;
	struct tsm_frontend_info *infos;
	size_t ninfos, cap;
};

static int lease_visit(void *ctx, const char *key, uint64_t size, int64_t mtime)
{
	struct lease_walk *w = ctx;
	struct tsm_remote_lease lease;
	char *text;
	size_t len;
	int rc;

	(void)mtime;
	if (size > LEASE_MAX)
		return 0;
	rc = tsm_s3_get_small(w->s3, key, LEASE_MAX, &text, &len);
	if (rc == -ENOENT)
		return 0; /* its frontend stopped meanwhile */
	if (rc < 0)
		return rc;
	rc = tsm_remote_lease_parse(text, len, &lease, NULL);
	if (rc == 0 && w->pinned && w->now < lease.expires + w->grace)
		rc = tsm_remote_lease_parse(text, len, &lease, w->pinned);
	free(text);
	if (rc == -EINVAL) {
		/* Not a lease: what it would keep is unknown, so gc stops. */
		tsm_error("%s%s is not a frontend lease: nothing is collected while it is there "
			  "(remove it if no frontend wrote it)",
			  tsm_s3_location(w->s3), key);
		return rc;
	}
	if (rc < 0)
		return rc;
	if (w->pinned && w->now >= lease.expires + w->grace) {
		tsm_info("forgetting frontend %s: its lease expired at %lld", lease.frontend,
			 (long long)lease.expires);
		return tsm_s3_delete(w->s3, key);
	}
	if (w->infos || !w->pinned) {
		if (w->ninfos == w->cap) {
			size_t c = w->cap ? 2 * w->cap : 8;
			void *p = realloc(w->infos, c * sizeof(*w->infos));

			if (!p)
				return -ENOMEM;
			w->infos = p;
			w->cap = c;
		}
		struct tsm_frontend_info *fi = &w->infos[w->ninfos++];

		memset(fi, 0, sizeof(*fi));
		snprintf(fi->id, sizeof(fi->id), "%s", lease.frontend);
		fi->generation = lease.generation;
		fi->renewed = lease.renewed;
		fi->expires = lease.expires;
		fi->cache_bytes = lease.cache_bytes;
		fi->cache_limit = lease.cache_limit;
	}
	return 0;
}

int tsm_remote_leases_collect(struct tsm_store *store, int64_t grace, struct tsm_pinned *pinned)
{
	struct lease_walk w = { .store = store, .now = (int64_t)time(NULL), .grace = grace,
				.pinned = pinned };
	int rc;

	if (!tsm_remote_is_writer(store))
		return 0;
	if ((rc = tsm_remote_s3(store, &w.s3)) < 0)
		return rc;
	return tsm_s3_list(w.s3, "leases/", lease_visit, &w);
}

int tsm_store_frontends(struct tsm_store *store, struct tsm_frontend_info **list_ret,
			size_t *n_ret)
{
	struct lease_walk w = { .store = store, .now = (int64_t)time(NULL) };
	int rc;

	*list_ret = NULL;
	*n_ret = 0;
	if (!tsm_remote_is_writer(store)) {
		tsm_error("%s is not a store on object storage (tsmedia init --s3)", store->dir);
		return -EINVAL;
	}
	if ((rc = tsm_remote_s3(store, &w.s3)) < 0)
		return rc;
	rc = tsm_s3_list(w.s3, "leases/", lease_visit, &w);
	if (rc < 0) {
		free(w.infos);
		return rc;
	}
	*list_ret = w.infos;
	*n_ret = w.ninfos;
	return 0;
}

int tsm_store_remote_generation(struct tsm_store *store, int64_t *generation_ret)
{
	struct tsm_remote_current cur;
	struct tsm_s3 *s3;
	int rc;

	*generation_ret = 0;
	if (!tsm_remote_is_writer(store))
		return -EINVAL;
	if ((rc = tsm_remote_s3(store, &s3)) < 0)
		return rc;
	rc = current_get(s3, &cur);
	if (rc == 0)
		*generation_ret = cur.generation;
	return rc == -ENOENT ? 0 : rc;
}

/* ---- the remote side of gc and verify ---------------------------------------------- */

/* remote-trash in the writer's store: "PACK-ID SINCE" per line, packs the
 * catalog no longer names and since when.  The writer's own file. */
struct trash {
	int64_t *ids, *since;
	size_t n, cap;
};

static int trash_add(struct trash *t, int64_t id, int64_t since)
{
	if (t->n == t->cap) {
		size_t c = t->cap ? 2 * t->cap : 32;
		int64_t *a = realloc(t->ids, c * sizeof(*a)), *b;

		if (!a)
			return -ENOMEM;
		t->ids = a;
		if (!(b = realloc(t->since, c * sizeof(*b))))
			return -ENOMEM;
		t->since = b;
		t->cap = c;
	}
	t->ids[t->n] = id;
	t->since[t->n++] = since;
	return 0;
}

static int64_t trash_since(const struct trash *t, int64_t id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->ids[i] == id)
			return t->since[i];
	return -1;
}

static void trash_load(struct tsm_store *store, struct trash *t)
{
	FILE *f;
	int fd = openat(store->dir_fd, "remote-trash", O_RDONLY | O_CLOEXEC);
	long long id, since;

	if (fd < 0 || !(f = fdopen(fd, "r"))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while (fscanf(f, "%lld %lld\n", &id, &since) == 2)
		if (id > 0 && trash_add(t, id, since) < 0)
			break;
	fclose(f);
}

static int trash_save(struct tsm_store *store, const struct trash *t)
{
	FILE *f;
	int fd = openat(store->dir_fd, "remote-trash.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			0600);

	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	for (size_t i = 0; i < t->n; i++)
		fprintf(f, "%lld %lld\n", (long long)t->ids[i], (long long)t->since[i]);
	if (fflush(f) != 0 || fsync(fileno(f)) < 0) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	return renameat(store->dir_fd, "remote-trash.tmp", store->dir_fd, "remote-trash") < 0 ? -errno
												: 0;
}

struct gc_walk {
	struct tsm_store *store;
	struct tsm_s3 *s3;
	sqlite3_stmt *known;
	struct trash old, now_trash;
	int64_t now, grace;
	uint64_t deleted;
};

static int gc_visit(void *ctx, const char *key, uint64_t size, int64_t mtime)
{
	struct gc_walk *w = ctx;
	long long id;
	char end;
	int rc;

	(void)size;
	(void)mtime;
	if (sscanf(key, "packs/pack-%lld.pac%c", &id, &end) != 2 || end != 'k' || id <= 0)
		return 0; /* not ours: left alone */
	sqlite3_reset(w->known);
	sqlite3_bind_int64(w->known, 1, id);
	rc = sqlite3_step(w->known);
	if (rc == SQLITE_ROW)
		return 0; /* named by the catalog */
	if (rc != SQLITE_DONE)
		return tsm_db_error(w->store->db, "looking up a pack");
	int64_t since = trash_since(&w->old, id);

	if (since < 0)
		since = w->now;
	if (w->now - since >= w->grace) {
		if ((rc = tsm_s3_delete(w->s3, key)) < 0)
			return rc;
		w->deleted++;
		return 0;
	}
	return trash_add(&w->now_trash, id, since);
}

/* Published catalogs older than the current one: deleted once no live
 * lease names them and they are older than the grace period (a frontend
 * that has just read catalog/CURRENT fetches its generation at once). */
struct gen_walk {
	struct tsm_s3 *s3;
	int64_t current, now, grace;
	const struct tsm_frontend_info *leases;
	size_t nleases;
	uint64_t deleted;
};

static int gen_visit(void *ctx, const char *key, uint64_t size, int64_t mtime)
{
	struct gen_walk *w = ctx;
	long long gen;
	char end;

	(void)size;
	if (sscanf(key, "catalog/%lld.d%c", &gen, &end) != 2 || end != 'b' || gen < 1 ||
	    gen >= w->current || w->now - mtime < w->grace)
		return 0;
	for (size_t i = 0; i < w->nleases; i++)
		if (w->leases[i].generation == gen && w->now < w->leases[i].expires + w->grace)
			return 0;
	w->deleted++;
	return tsm_s3_delete(w->s3, key);
}

static int gc_generations(struct tsm_store *store, struct tsm_s3 *s3, int64_t grace)
{
	struct lease_walk lw = { .store = store, .s3 = s3, .now = (int64_t)time(NULL) };
	struct gen_walk gw = { .s3 = s3, .now = lw.now, .grace = grace };
	struct tsm_remote_current cur;
	int rc;

	if ((rc = current_get(s3, &cur)) < 0)
		return rc == -ENOENT ? 0 : rc;
	if ((rc = tsm_s3_list(s3, "leases/", lease_visit, &lw)) == 0) {
		gw.current = cur.generation;
		gw.leases = lw.infos;
		gw.nleases = lw.ninfos;
		rc = tsm_s3_list(s3, "catalog/", gen_visit, &gw);
	}
	free(lw.infos);
	return rc;
}

int tsm_remote_gc(struct tsm_store *store, int64_t grace, struct tsm_gc_result *res)
{
	struct gc_walk w = { .store = store, .now = (int64_t)time(NULL), .grace = grace };
	int rc;

	if (!tsm_remote_is_writer(store))
		return 0;
	if ((rc = tsm_remote_s3(store, &w.s3)) < 0)
		return rc;
	if ((rc = tsm_db_prepare(store->db, "SELECT 1 FROM packs WHERE id = ?", &w.known)) < 0)
		return rc;
	trash_load(store, &w.old);
	rc = tsm_s3_list(w.s3, "packs/", gc_visit, &w);
	sqlite3_finalize(w.known);
	if (rc == 0)
		rc = trash_save(store, &w.now_trash);
	if (rc == 0)
		rc = gc_generations(store, w.s3, grace);
	res->remote_packs_deleted += w.deleted;
	res->remote_packs_waiting += w.now_trash.n;
	free(w.old.ids);
	free(w.old.since);
	free(w.now_trash.ids);
	free(w.now_trash.since);
	return rc;
}

static int md5_file(int fd, char hex[33], uint64_t *size_ret)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	uint8_t buf[1 << 16], d[EVP_MAX_MD_SIZE];
	unsigned dlen;
	uint64_t off = 0;
	int rc = -EIO;

	if (!ctx || !EVP_DigestInit_ex(ctx, EVP_md5(), NULL))
		goto out;
	for (;;) {
		ssize_t n = pread(fd, buf, sizeof(buf), (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		if (!EVP_DigestUpdate(ctx, buf, (size_t)n))
			goto out;
		off += (uint64_t)n;
	}
	if (!EVP_DigestFinal_ex(ctx, d, &dlen))
		goto out;
	tsm_hex_encode(d, dlen, hex);
	*size_ret = off;
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	return rc;
}

int tsm_remote_verify(struct tsm_store *store, uint64_t *checked_ret, uint64_t *bad_ret)
{
	sqlite3_stmt *stmt;
	struct tsm_s3 *s3;
	int rc;

	*checked_ret = *bad_ret = 0;
	if (!tsm_remote_is_writer(store))
		return 0;
	if ((rc = tsm_remote_s3(store, &s3)) < 0)
		return rc;
	if ((rc = tsm_db_prepare(store->db, "SELECT id FROM packs ORDER BY id", &stmt)) < 0)
		return rc;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int64_t id = sqlite3_column_int64(stmt, 0);
		char key[48], md5[33], etag[80];
		uint64_t local_size, size;
		int fd;

		/* The object's key is the local file's path in the store. */
		pack_key(id, key);
		if ((fd = openat(store->dir_fd, key, O_RDONLY | O_CLOEXEC)) < 0) {
			tsm_error("%s/%s is missing", store->dir, key);
			(*bad_ret)++;
			continue;
		}
		rc = md5_file(fd, md5, &local_size);
		close(fd);
		if (rc < 0)
			break;
		rc = tsm_s3_head_etag(s3, key, &size, etag, sizeof(etag));
		(*checked_ret)++;
		if (rc == -ENOENT) {
			tsm_error("%s%s is missing from object storage", tsm_s3_location(s3), key);
			(*bad_ret)++;
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		if (size != local_size || strcasecmp(etag, md5) != 0) {
			tsm_error("%s%s differs from the pack it was uploaded from (%llu bytes, MD5 %s; "
				  "object: %llu bytes, ETag %s): frontends read it as damage",
				  tsm_s3_location(s3), key, (unsigned long long)local_size, md5,
				  (unsigned long long)size, etag);
			(*bad_ret)++;
		}
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE || rc == 0 ? 0 : rc < 0 ? rc : tsm_db_error(store->db, "listing packs");
}
