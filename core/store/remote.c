/* A store on S3-compatible object storage: the writer's uploads and
 * publishing, the frontend's mirror catalog and chunk cache, leases and
 * the remote side of gc and verify (remote.h; docs/scale.md).
 *
 * Objects under the store's prefix:
 *   packs/pack-NNNNNNNN.pack  a sealed pack, byte for byte the writer's file
 *   catalog/GENERATION.db     a published catalog (sqlite database)
 *   catalog/CURRENT           which generation is current, and its SHA-256
 *   leases/FRONTEND-ID        what a frontend still serves, until when
 *   catalog/WRITER            the one store that writes here (tsm_remote_claim)
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
#include <openssl/rand.h>
#include <zstd.h>

#include "store/meta.h"
#include "store/s3.h"
#include "store/store_internal.h"
#include "tsmedia/log.h"
#include "util/db.h"
#include "util/fdio.h"

/* A published catalog larger than this is refused by frontends. */
#define CATALOG_MAX (64ull << 30)
#define CURRENT_MAX 4096
#define LEASE_MAX (16u << 20)
/* Attempts of a ranged GET that failed for a reason other than 404. */
#define GET_TRIES 3

/* ---- the frontend registered for this process ---------------------------- */

/* Read-ahead (see pf_ahead): windows of WINDOW_BYTES, AHEAD of them fetched
 * in the background by PREFETCHERS threads. */
#define WINDOW_BYTES (4u << 20)
#define WINDOW_CHUNKS (WINDOW_BYTES / TSM_CHUNK_MIN)
/* A reader shown to be sequential (it reached a read-ahead window) is read
 * ahead with *streams* (pf_stream): one ranged GET of up to STREAM_BYTES
 * (per byte, radosgw serves a large GET much faster than a 4 MiB one;
 * docs/scale.md, "Measuring"), received straight into window files of up
 * to SEQ_WINDOW_BYTES. */
#define SEQ_WINDOW_BYTES (16u << 20)
#define STREAM_BYTES (128u << 20)
#define STREAM_CHUNKS (STREAM_BYTES / TSM_CHUNK_MIN + 1)
/* A reader waiting for a stream is woken this far past its chunk. */
#define WAKE_BATCH (1u << 20)
#define AHEAD 4
#define PREFETCHERS 4
#define INFLIGHT_MAX 64
#define TRIGGERS_MAX 256
/* Cache files one reply may read from without a copy. */
#define LENT_MAX 8

#define CHECKED_SLOTS 65536
#define CHECKED_LOCKS 64
/* A cache file as it is now: what says it is unchanged since a check. */
struct file_ident {
	ino_t ino;
	off_t size;
	struct timespec mtime, ctime;
};

struct checked_slot {
	uint8_t hash[TSM_SHA256_LEN];
	struct file_ident file;
};

/* A chunk checked in its window's file: its place in the window and its
 * SHA-256. */
struct win_chunk {
	uint32_t at, len;
	uint8_t hash[TSM_SHA256_LEN];
};

/* A cached window.  @chunks (@nchunks, by @at): the chunks the fetch or
 * stream that wrote its file checked, in that file as it was then
 * (@file); NULL for a file found at start (its chunks are checked as
 * read, in the checked table). */
struct win_entry {
	int64_t pack;
	uint64_t start, end;
	struct win_chunk *chunks;
	size_t nchunks;
	struct file_ident file;
};

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
	_Atomic int64_t generation; /* applied; written by the poller's thread */
	int64_t next_poll;          /* the poller's thread */
	/* The lease's thread (lease_main), under lease_lock. */
	pthread_mutex_t lease_lock;
	pthread_cond_t lease_wake;
	pthread_t lease_thread;
	bool lease_started, lease_stop, lease_due;
	/* Set when the mount stops (tsm_frontend_interrupt, any thread): the
	 * lease's and the poll's requests end at once (tsm_s3_set_stop). */
	atomic_bool stopping;
	_Atomic int64_t lease_expires; /* of the last lease stored */
	_Atomic uint64_t hits, misses, fetched, streams_started, streamed;
	_Atomic uint64_t rechecks; /* cached chunks hashed as read (cache_get) */
	/* The cache's windows, sorted by pack and start (win_*). */
	pthread_rwlock_t win_lock;
	struct win_entry *wins;
	size_t nwins, capwins;
	/* Checked cache files (checked_has). */
	struct checked_slot *checked;
	pthread_mutex_t checked_lock[CHECKED_LOCKS];
	/* Read-ahead (pf_*): under pf_lock. */
	pthread_mutex_t pf_lock;
	pthread_cond_t pf_work, pf_done;
	struct pf_job *pf_queue;
	bool pf_started;
	struct { int64_t pack; uint64_t start, end; } inflight[64];
	size_t ninflight;
	struct { int64_t pack; uint64_t offset; } triggers[256];
	size_t ntrigger_next;
	struct stream *streams; /* being received (under pf_lock) */
	size_t pf_waiters;      /* readers in pf_wait_read (under pf_lock) */
	_Atomic uint64_t streaming; /* bytes in stream files not yet windows */
};

static pthread_mutex_t frontends_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tsm_frontend *frontend; /* one per process (the mount) */

struct tsm_remote {
	bool frontend;
	char *url, *endpoint, *region;
	unsigned timeout;
	struct tsm_frontend *fe; /* frontend: shared */
	struct tsm_s3 *s3;       /* this handle's client, made at first use */
	bool claimed;            /* writer: catalog/WRITER names this store */
	uint8_t *winbuf;         /* frontend: WINDOW_BYTES for a fetch */
	/* frontend: cache files lent to replies (tsm_remote_chunk_map) */
	struct lent_window {
		int64_t pack; /* 0: no longer lent for new chunks */
		uint64_t start, end;
		int fd;
		struct stat st;
		/* A stream's growing file (its number, else 0): the chunks
		 * before @checked were checked as they arrived in it. */
		unsigned seg_id;
		uint64_t checked;
	} lent[LENT_MAX];
	size_t nlent;
	/* frontend: the stream file last read from (stream_read) */
	int seg_fd;
	unsigned seg_id;
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
	r->seg_fd = -1;
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
	tsm_remote_reads_done(store);
	if (r->seg_fd >= 0)
		close(r->seg_fd);
	tsm_s3_free(r->s3);
	free(r->winbuf);
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

void tsm_remote_pack_key(int64_t id, char key[48]) { pack_key(id, key); }

int tsm_remote_upload_session(struct tsm_store *store)
{
	struct tsm_pack_writer *w = &store->writer;
	struct tsm_s3 *s3;
	int rc;

	if (!tsm_remote_is_writer(store) || !w->n_touched)
		return 0;
	if ((rc = tsm_remote_s3(store, &s3)) < 0)
		return rc;
	/* Inside the session's transaction: an id made here could roll back
	 * with it, so a store without one claims at its publish. */
	if ((rc = tsm_remote_claim(store, s3, false)) < 0)
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

/* ---- writer: the claim on a prefix -------------------------------------------- */

/* One writer per prefix.  Two stores writing under one prefix would name
 * different packs pack-00000001.pack, overwrite each other's objects and
 * CURRENT, and each one's gc would delete the other's packs.  The first
 * writer to publish there (init --s3, store push, or a store made before
 * the claim existed) creates catalog/WRITER naming its id, create-only
 * (If-None-Match: *, tsm_s3_create_buf): of two at once, one creates it
 * and the other is refused.  The id is random, kept in the catalog's meta
 * (remote_writer_id; published copies drop every remote_* key).  A copy of
 * a store's directory has the same id: it is the same writer. */
#define WRITER_KEY "catalog/WRITER"
#define WRITER_ID_META "remote_writer_id"
#define WRITER_MAX TSM_REMOTE_WRITER_MAX

int tsm_remote_writer_id(struct tsm_store *store, bool make, char id[33])
{
	uint8_t raw[16];
	int rc = tsm_meta_get(store->db, WRITER_ID_META, id, 33);

	if (rc == 0 && strlen(id) == 32 && strspn(id, "0123456789abcdef") == 32)
		return 0;
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (rc == 0) {
		tsm_error("%s: the catalog's %s is not an id of 32 hex digits", store->dir,
			  WRITER_ID_META);
		return -EIO;
	}
	if (!make)
		return -ENOENT;
	if (RAND_bytes(raw, sizeof(raw)) != 1) {
		tsm_error("%s: no random bytes for the store's writer id", store->dir);
		return -EIO;
	}
	tsm_hex_encode(raw, sizeof(raw), id);
	return tsm_meta_set(store->db, WRITER_ID_META, id);
}

int tsm_remote_writer_parse(const char *text, size_t len, struct tsm_remote_writer *w)
{
	const char *p = text, *end = text + len;
	bool first = true;

	memset(w, 0, sizeof(*w));
	/* Lines "NAME VALUE\n" as tsm_remote_claim writes them; the first
	 * names the format, "store" is required, unknown names are let be
	 * (a later version may add some). */
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		const char *sp = memchr(p, ' ', n);

		if (!nl || memchr(p, 0, n))
			return -EIO;
		if (first) {
			if (n != 16 || memcmp(p, "tsmedia-writer 1", 16) != 0)
				return -EIO;
			first = false;
		} else if (!sp) {
			return -EIO;
		} else {
			size_t name = (size_t)(sp - p), vlen = n - name - 1;

			if (name == 5 && memcmp(p, "store", 5) == 0) {
				if (vlen != 32 || strspn(sp + 1, "0123456789abcdef") < 32)
					return -EIO;
				memcpy(w->store, sp + 1, 32);
			} else if (name == 4 && memcmp(p, "host", 4) == 0) {
				tsm_s3_escape(sp + 1, vlen, w->host, sizeof(w->host));
			} else if (name == 3 && memcmp(p, "dir", 3) == 0) {
				tsm_s3_escape(sp + 1, vlen, w->dir, sizeof(w->dir));
			}
		}
		p = nl + 1;
	}
	return w->store[0] ? 0 : -EIO;
}

/* A value of a line of catalog/WRITER: at most @max bytes of @in, each
 * control byte as '?'.  The host and the directory only name the writer
 * in another store's messages; written as they are, a newline in a
 * directory's name would start a line of its own, and a name near
 * PATH_MAX would cut the file short of its last newline: either makes a
 * claim its own store reads back as one tsmedia does not make. */
static void writer_value(const char *in, size_t max, char *out)
{
	size_t i;

	for (i = 0; in[i] && i < max; i++)
		out[i] = (unsigned char)in[i] < 0x20 || in[i] == 0x7f ? '?' : in[i];
	out[i] = 0;
}

void tsm_remote_writer_text(const char *id, const char *host, const char *dir, int64_t since,
			    char *out, size_t n)
{
	/* As much of each as a struct tsm_remote_writer shows. */
	char h[64 + 1], d[800 + 1];

	writer_value(host, sizeof(h) - 1, h);
	writer_value(dir, sizeof(d) - 1, d);
	snprintf(out, n, "tsmedia-writer 1\nstore %s\nhost %s\ndir %s\nsince %lld\n", id, h, d,
		 (long long)since);
}

/* What catalog/WRITER says, against @id ("": the store has none yet, so
 * no claim is its): 0 when it names @id, -ENOENT when there is none,
 * else -EEXIST or -EIO, logged. */
static int claim_check(struct tsm_store *store, struct tsm_s3 *s3, const char *id)
{
	struct tsm_remote_writer w;
	char *have = NULL;
	size_t len;
	int rc = tsm_s3_get_small(s3, WRITER_KEY, WRITER_MAX, &have, &len);

	if (rc < 0)
		return rc;
	rc = tsm_remote_writer_parse(have, len, &w);
	free(have);
	if (rc < 0) {
		tsm_error("%s%s is not a claim tsmedia makes: %s does not write under %s",
			  tsm_s3_location(s3), WRITER_KEY, store->dir, tsm_s3_location(s3));
		return -EIO;
	}
	if (id[0] && strcmp(w.store, id) == 0)
		return 0;
	tsm_error("%s belongs to another store (its %s names the store %s, %s on %s): %s "
		  "does not write there; give it a prefix of its own",
		  tsm_s3_location(s3), WRITER_KEY, w.store, w.dir[0] ? w.dir : "?",
		  w.host[0] ? w.host : "?", store->dir);
	return -EEXIST;
}

int tsm_remote_claim(struct tsm_store *store, struct tsm_s3 *s3, bool make_id)
{
	char id[33], host[256] = "", text[WRITER_MAX];
	int rc;

	if (store->remote && store->remote->claimed)
		return 0;
	if ((rc = tsm_remote_writer_id(store, make_id, id)) < 0) {
		if (rc != -ENOENT)
			return rc;
		/* A store of before the claim, inside a session: it claims at
		 * its publish, and meanwhile writes nowhere another claimed. */
		rc = claim_check(store, s3, "");
		return rc == -ENOENT ? 0 : rc;
	}
	gethostname(host, sizeof(host) - 1);
	tsm_remote_writer_text(id, host, store->dir, (int64_t)time(NULL), text, sizeof(text));
	for (int tries = 0; tries < 3; tries++) {
		rc = tsm_s3_create_buf(s3, WRITER_KEY, text, strlen(text));
		if (rc == 0) {
			tsm_info("%s is now written by the store %s only (%s%s)",
				 tsm_s3_location(s3), store->dir, tsm_s3_location(s3), WRITER_KEY);
			break;
		}
		if (rc != -EEXIST)
			return rc;
		/* Removed meanwhile (-ENOENT): create it again. */
		if ((rc = claim_check(store, s3, id)) != -ENOENT)
			break;
	}
	if (rc == -ENOENT) {
		tsm_error("%s%s keeps disappearing: not claimed", tsm_s3_location(s3), WRITER_KEY);
		return -EIO;
	}
	if (rc == 0 && store->remote)
		store->remote->claimed = true;
	return rc;
}

/* ---- writer: publishing the catalog ------------------------------------------ */

/* A decimal number that is all of [@p, @end): digits only, no overflow. */
static bool parse_decimal(const char *p, const char *end, uint64_t max, uint64_t *value_ret)
{
	uint64_t v = 0;

	if (p == end || end - p > 20)
		return false;
	for (; p < end; p++) {
		if (*p < '0' || *p > '9' || v > (max - (uint64_t)(*p - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	*value_ret = v;
	return true;
}

int tsm_remote_current_parse(const char *text, size_t len, struct tsm_remote_current *cur)
{
	static const char *const names[4] = { "tsmedia-catalog ", "generation ", "sha256 ", "size " };
	const char *p = text, *end = text + len;
	uint64_t gen = 0, size = 0, version = 0;

	/* Exactly the four lines tsm_remote_publish writes, each ended by a
	 * newline, nothing after. */
	if (len == 0 || len > CURRENT_MAX || memchr(text, 0, len))
		return -EINVAL;
	for (int i = 0; i < 4; i++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t nlen = strlen(names[i]);

		if (!nl || (size_t)(nl - p) < nlen || memcmp(p, names[i], nlen) != 0)
			return -EINVAL;
		p += nlen;
		switch (i) {
		case 0:
			if (!parse_decimal(p, nl, 1, &version) || version != 1)
				return -EINVAL;
			break;
		case 1:
			if (!parse_decimal(p, nl, INT64_MAX - 1, &gen) || gen < 1)
				return -EINVAL;
			break;
		case 2: {
			if (nl - p != TSM_SHA256_HEX_LEN)
				return -EINVAL;
			for (const char *h = p; h < nl; h++)
				if (!((*h >= '0' && *h <= '9') || (*h >= 'a' && *h <= 'f')))
					return -EINVAL;
			char hex[TSM_SHA256_HEX_LEN + 1];

			memcpy(hex, p, TSM_SHA256_HEX_LEN);
			hex[TSM_SHA256_HEX_LEN] = 0;
			if (tsm_hex_decode(hex, cur->sha256, TSM_SHA256_LEN) < 0)
				return -EINVAL;
			break;
		}
		case 3:
			if (!parse_decimal(p, nl, CATALOG_MAX, &size))
				return -EINVAL;
			break;
		}
		p = nl + 1;
	}
	if (p != end)
		return -EINVAL;
	cur->generation = (int64_t)gen;
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
	struct tsm_s3 *s3;
	int rc;

	if (!tsm_remote_is_writer(store))
		return 0;
	if ((rc = tsm_remote_s3(store, &s3)) < 0)
		return rc;
	return tsm_remote_publish_to(store, s3, NULL);
}

int tsm_remote_publish_to(struct tsm_store *store, struct tsm_s3 *s3, int64_t *generation_ret)
{
	struct tsm_remote_current cur = { 0 };
	uint8_t sha[TSM_SHA256_LEN];
	char tmp[4096], key[64], text[256], hex[TSM_SHA256_HEX_LEN + 1];
	uint64_t size;
	int fd, rc;

	/* After the commit: no transaction for an id to roll back with. */
	if ((rc = tsm_remote_claim(store, s3, true)) < 0)
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
	if (rc == 0 && generation_ret)
		*generation_ret = cur.generation + 1;
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

/* A catalog fetched from the bucket is foreign input until checked: its
 * connection is defensive (no writes to the schema or shadow tables, no
 * journal tricks: SQLITE_DBCONFIG_DEFENSIVE), loads no extensions, trusts
 * no function or virtual table its schema names (trusted_schema off), and
 * the file must pass sqlite's quick_check before a page of it is copied.
 * https://www.sqlite.org/security.html ("Untrusted SQLite Database Files"),
 * https://www.sqlite.org/c3ref/c_dbconfig_defensive.html,
 * https://www.sqlite.org/pragma.html#pragma_trusted_schema */
static int catalog_open_untrusted(const char *path, sqlite3 **db_ret)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int rc;

	*db_ret = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		rc = tsm_db_error(db, "opening a fetched catalog");
		sqlite3_close(db);
		return rc;
	}
	if (sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL) != SQLITE_OK ||
	    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL) != SQLITE_OK ||
	    sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL) != SQLITE_OK ||
	    (rc = tsm_db_exec(db, "PRAGMA trusted_schema=OFF")) < 0) {
		rc = tsm_db_error(db, "making a fetched catalog's connection defensive");
		sqlite3_close(db);
		return rc < 0 ? rc : -EIO;
	}
	rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW || !sqlite3_column_text(st, 0) ||
	    strcmp((const char *)sqlite3_column_text(st, 0), "ok") != 0) {
		tsm_error("%s: the fetched catalog is not a sound sqlite database (quick_check): "
			  "not used",
			  path);
		sqlite3_finalize(st);
		sqlite3_close(db);
		return -EIO;
	}
	sqlite3_finalize(st);
	*db_ret = db;
	return 0;
}

/* Switches the catalog of @dest to the database at @path, in one write
 * transaction of @dest (readers of other connections see one or the other). */
static int catalog_switch(sqlite3 *dest, const char *path)
{
	sqlite3 *src = NULL;
	sqlite3_backup *b;
	int rc;

	sqlite3_busy_timeout(dest, 60000);
	if ((rc = catalog_open_untrusted(path, &src)) < 0)
		return rc;
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

	if ((rc = tsm_remote_s3(store, &s3)) < 0)
		return rc;
	/* A poll stalled on the object store does not hold an unmount up. */
	tsm_s3_set_stop(s3, &fe->stopping);
	if ((rc = current_get(s3, &cur)) < 0)
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

static uint64_t win_scan(struct tsm_frontend *fe);

static bool id_valid(const char *id)
{
	size_t n = strlen(id);

	/* "." and ".." would be dot segments of leases/ID, which a URL's
	 * path folds away (RFC 3986 section 5.2.4): not a key of its own. */
	if (n == 0 || n >= 64 || strcmp(id, ".") == 0 || strcmp(id, "..") == 0)
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
	pthread_mutex_init(&fe->lease_lock, NULL);
	pthread_cond_init(&fe->lease_wake, NULL);
	pthread_mutex_init(&fe->pf_lock, NULL);
	pthread_rwlock_init(&fe->win_lock, NULL);
	pthread_cond_init(&fe->pf_work, NULL);
	pthread_cond_init(&fe->pf_done, NULL);
	for (int i = 0; i < CHECKED_LOCKS; i++)
		pthread_mutex_init(&fe->checked_lock[i], NULL);
	if (!(fe->checked = calloc(CHECKED_SLOTS, sizeof(*fe->checked)))) {
		free(fe);
		rc = -ENOMEM;
		goto out_s3;
	}
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
	{
		sqlite3 *dest = NULL;
		mode_t old_umask = umask(077);

		/* A cache directory used before: its catalog is switched in
		 * place; a new one is made and switched to the fetched one.
		 * Either way the fetched file is only read defensively. */
		if (sqlite3_open_v2(db, &dest, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
		    SQLITE_OK)
			rc = tsm_db_error(dest, "opening the frontend's catalog");
		else
			rc = catalog_switch(dest, path);
		umask(old_umask);
		sqlite3_close(dest);
		unlink(path);
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
	atomic_store(&fe->used, win_scan(fe));
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
	free(fe->wins);
	free(fe->checked);
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
static int frontend_lease_write(struct tsm_s3 *s3, int dir_fd, struct tsm_frontend *fe,
				int64_t now)
{
	struct tsm_pinned p;
	char key[96], *text = NULL;
	size_t cap, len = 0;
	int rc;

	if ((rc = tsm_pins_collect_at(dir_fd, fe->store_dir, &p)) < 0)
		return rc;
	cap = 512 + 40 * (p.ncontent + p.nmedia);
	if (!(text = malloc(cap))) {
		tsm_pinned_clear(&p);
		return -ENOMEM;
	}
	len += (size_t)snprintf(text + len, cap - len,
				"tsmedia-lease 1\nfrontend %s\ngeneration %lld\nrenewed %lld\n"
				"expires %lld\ncache-bytes %llu\ncache-limit %llu\n",
				fe->id, (long long)atomic_load(&fe->generation), (long long)now,
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
	if (rc == 0)
		atomic_store(&fe->lease_expires, now + fe->lease_ttl);
	return rc;
}

/* The lease's own thread: a catalog poll can take long (a catalog
 * download, a switch waiting for gc.lock, a stalled request), and a lease
 * renewed behind it could expire while the frontend still serves, for gc
 * to forget.  It has its own S3 client and its own descriptor of the
 * mirror store; it looks at pins/ every LEASE_TICK_MS and renews the lease
 * at a third of its life, at once when the catalog moved (lease_due, set
 * by the poller), and when the pins changed (a file opened or let go:
 * pins/ was written), so gc learns of a new open within a tick. */
#define LEASE_TICK_MS 200

static void *lease_main(void *arg)
{
	struct tsm_frontend *fe = arg;
	struct tsm_s3_config cfg = { .url = fe->url, .endpoint = fe->endpoint,
				     .region = fe->region, .timeout = fe->timeout };
	struct tsm_s3 *s3 = NULL;
	int64_t next_lease = 0;
	struct timespec pins_mtime = { 0 };
	int dir_fd = open(fe->store_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dir_fd < 0)
		tsm_error("cannot open %s: %s: the lease is not renewed", fe->store_dir,
			  strerror(errno));
	pthread_mutex_lock(&fe->lease_lock);
	while (!fe->lease_stop && dir_fd >= 0) {
		bool due = fe->lease_due;
		struct timespec ts, until;
		struct stat pins;

		fe->lease_due = false;
		pthread_mutex_unlock(&fe->lease_lock);
		clock_gettime(CLOCK_REALTIME, &ts);
		bool pins_changed = fstatat(dir_fd, "pins", &pins, 0) == 0 &&
				    (pins.st_mtim.tv_sec != pins_mtime.tv_sec ||
				     pins.st_mtim.tv_nsec != pins_mtime.tv_nsec);

		if (ts.tv_sec >= next_lease || due || pins_changed) {
			int rc = s3 ? 0 : tsm_s3_new(&cfg, &s3);

			/* A renewal stalled on the object store (up to the
			 * configured timeout) ends when the mount stops. */
			if (rc == 0)
				tsm_s3_set_stop(s3, &fe->stopping);
			if (rc == 0)
				rc = frontend_lease_write(s3, dir_fd, fe, (int64_t)ts.tv_sec);
			next_lease = rc < 0 ? ts.tv_sec + 1 : ts.tv_sec + (fe->lease_ttl + 2) / 3;
			/* Read before the lease collected the pins: a pin made
			 * since is seen at the next tick. */
			if (rc == 0 && pins_changed)
				pins_mtime = pins.st_mtim;
		}
		pthread_mutex_lock(&fe->lease_lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += LEASE_TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		if (!fe->lease_stop && !fe->lease_due)
			pthread_cond_timedwait(&fe->lease_wake, &fe->lease_lock, &until);
	}
	pthread_mutex_unlock(&fe->lease_lock);
	tsm_s3_free(s3);
	if (dir_fd >= 0)
		close(dir_fd);
	return NULL;
}

int tsm_frontend_poll(struct tsm_store *store, bool *changed_ret)
{
	struct tsm_frontend *fe;
	struct timespec ts;
	int rc = 0;

	*changed_ret = false;
	if (!tsm_remote_is_frontend(store))
		return 0;
	fe = store->remote->fe;
	/* The lease thread starts with the first poll (the mount's watcher). */
	pthread_mutex_lock(&fe->lease_lock);
	if (!fe->lease_started && !fe->lease_stop) {
		rc = -pthread_create(&fe->lease_thread, NULL, lease_main, fe);
		if (rc < 0)
			tsm_error("cannot start the lease thread: %s", strerror(-rc));
		fe->lease_started = rc == 0;
	}
	pthread_mutex_unlock(&fe->lease_lock);
	if (rc < 0)
		return rc;
	clock_gettime(CLOCK_REALTIME, &ts);
	if (ts.tv_sec >= fe->next_poll) {
		fe->next_poll = ts.tv_sec + fe->poll_interval;
		rc = frontend_poll_catalog(store, fe, changed_ret);
	}
	if (*changed_ret) {
		pthread_mutex_lock(&fe->lease_lock);
		fe->lease_due = true;
		pthread_cond_signal(&fe->lease_wake);
		pthread_mutex_unlock(&fe->lease_lock);
	}
	return rc;
}

void tsm_frontend_interrupt(struct tsm_store *store)
{
	if (tsm_remote_is_frontend(store))
		atomic_store(&store->remote->fe->stopping, true);
}

/* How long the last request of a stopping frontend, its lease's removal,
 * may take: an object store that does not answer leaves the lease to
 * expire rather than hold the unmount (docs/scale.md, "What happens
 * when"). */
#define LEASE_DELETE_MS 3000

void tsm_frontend_stop(struct tsm_store *store)
{
	struct tsm_frontend *fe;
	struct tsm_s3 *s3;
	char key[96];
	bool started;
	int rc;

	if (!tsm_remote_is_frontend(store))
		return;
	fe = store->remote->fe;
	/* The lease thread first: nothing renews the lease once it is gone.
	 * A request of it under way ends at once. */
	atomic_store(&fe->stopping, true);
	pthread_mutex_lock(&fe->lease_lock);
	fe->lease_stop = true;
	started = fe->lease_started;
	fe->lease_started = false;
	pthread_cond_signal(&fe->lease_wake);
	pthread_mutex_unlock(&fe->lease_lock);
	if (started)
		pthread_join(fe->lease_thread, NULL);
	if (tsm_remote_s3(store, &s3) < 0)
		return;
	snprintf(key, sizeof(key), "leases/%s", fe->id);
	/* The last request, bounded: this handle's client was told to stop
	 * with the poll's requests. */
	tsm_s3_set_stop(s3, NULL);
	tsm_s3_set_deadline(s3, LEASE_DELETE_MS);
	rc = tsm_s3_delete(s3, key);
	tsm_s3_set_deadline(s3, 0);
	if (rc < 0 && atomic_load(&fe->lease_expires))
		tsm_warn("the lease %s%s was not removed: it expires at %lld (unix time)",
			 tsm_s3_location(s3), key, (long long)atomic_load(&fe->lease_expires));
}

int tsm_frontend_stats(struct tsm_frontend_stats *stats)
{
	struct tsm_frontend *fe;

	memset(stats, 0, sizeof(*stats));
	pthread_mutex_lock(&frontends_lock);
	fe = frontend;
	pthread_mutex_unlock(&frontends_lock);
	if (!fe)
		return -ENOENT;
	stats->generation = fe->generation;
	stats->cache_bytes = atomic_load(&fe->used);
	stats->cache_limit = fe->limit;
	stats->hits = atomic_load(&fe->hits);
	stats->misses = atomic_load(&fe->misses);
	stats->fetched_bytes = atomic_load(&fe->fetched);
	stats->streams = atomic_load(&fe->streams_started);
	stats->streamed_bytes = atomic_load(&fe->streamed);
	stats->rechecks = atomic_load(&fe->rechecks);
	return 0;
}

/* ---- frontend: chunks through the cache ---------------------------------------- */

/* Decompresses (when stored so) and checks one chunk's stored bytes into
 * @out; with @out NULL, checks only (a raw chunk is hashed where it is,
 * a compressed one decompressed into @scratch). */
static int chunk_decode_to(const struct tsm_chunk_loc *loc, const uint8_t *stored, uint8_t *out,
			   uint8_t *scratch, const char **problem)
{
	uint8_t digest[TSM_SHA256_LEN];

	if (!out)
		out = loc->codec == TSM_COMPRESSION_ZSTD ? scratch : (uint8_t *)stored;
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

static int chunk_decode(const struct tsm_chunk_loc *loc, const uint8_t *stored, uint8_t *out,
			const char **problem)
{
	return chunk_decode_to(loc, stored, out, NULL, problem);
}

/* ---- frontend: the chunk cache ---------------------------------------------------
 *
 * The cache holds *windows*: runs of contiguous chunks of one pack, as one
 * ranged GET fetched them, every chunk checked, in one file
 * DIR/chunks/pack-NNNNNNNN-START-END (hex offsets in the pack).  One file per
 * window rather than per chunk: a file system makes a few hundred files a
 * second cheaply, not tens of thousands.  The windows of the cache are
 * indexed in memory (made from the directory at start), sorted by pack and
 * start; a chunk is found by its pack and offset, which the catalog gives.
 * Whole windows are evicted, least recently used first (a hit moves a
 * file's mtime forward, at most once a minute). */

static void file_ident_of(struct file_ident *f, const struct stat *st)
{
	f->ino = st->st_ino;
	f->size = st->st_size;
	f->mtime = st->st_mtim;
	f->ctime = st->st_ctim;
}

/* Whether @st is the file @f was taken from, unchanged since (the rule
 * verified.c applies to packs). */
static bool file_ident_is(const struct file_ident *f, const struct stat *st)
{
	return f->ino == st->st_ino && f->size == st->st_size &&
	       f->mtime.tv_sec == st->st_mtim.tv_sec && f->mtime.tv_nsec == st->st_mtim.tv_nsec &&
	       f->ctime.tv_sec == st->st_ctim.tv_sec && f->ctime.tv_nsec == st->st_ctim.tv_nsec;
}

static int win_cmp(int64_t pack_a, uint64_t start_a, int64_t pack_b, uint64_t start_b)
{
	if (pack_a != pack_b)
		return pack_a < pack_b ? -1 : 1;
	return (start_a > start_b) - (start_a < start_b);
}

/* Index of the last window at or before (@pack, @start), or -1.  Under
 * win_lock. */
static ssize_t win_find(const struct tsm_frontend *fe, int64_t pack, uint64_t start)
{
	ssize_t lo = 0, hi = (ssize_t)fe->nwins - 1, best = -1;

	while (lo <= hi) {
		ssize_t mid = lo + (hi - lo) / 2;

		if (win_cmp(fe->wins[mid].pack, fe->wins[mid].start, pack, start) <= 0) {
			best = mid;
			lo = mid + 1;
		} else {
			hi = mid - 1;
		}
	}
	return best;
}

/* Indexes a window file.  @checked: the file as it is now, in which
 * every chunk of @locs (@n, in order, all inside the window) was checked;
 * NULL for a file found at start, whose chunks are checked as read. */
static int win_insert(struct tsm_frontend *fe, int64_t pack, uint64_t start, uint64_t end,
		      const struct stat *checked, const struct tsm_chunk_loc *locs, size_t n)
{
	struct win_entry e = { .pack = pack, .start = start, .end = end };
	ssize_t at;

	if (checked && n && (e.chunks = malloc(n * sizeof(*e.chunks)))) {
		file_ident_of(&e.file, checked);
		for (size_t i = 0; i < n; i++) {
			e.chunks[i].at = (uint32_t)(locs[i].offset - start);
			e.chunks[i].len = locs[i].stored_size;
			memcpy(e.chunks[i].hash, locs[i].hash, TSM_SHA256_LEN);
		}
		e.nchunks = n;
	}
	pthread_rwlock_wrlock(&fe->win_lock);
	at = win_find(fe, pack, start);
	if (at >= 0 && fe->wins[at].pack == pack && fe->wins[at].start == start) {
		free(fe->wins[at].chunks);
		fe->wins[at] = e; /* fetched again */
		pthread_rwlock_unlock(&fe->win_lock);
		return 0;
	}
	if (fe->nwins == fe->capwins) {
		size_t cap = fe->capwins ? 2 * fe->capwins : 256;
		void *p = realloc(fe->wins, cap * sizeof(*fe->wins));

		if (!p) {
			pthread_rwlock_unlock(&fe->win_lock);
			free(e.chunks);
			return -ENOMEM;
		}
		fe->wins = p;
		fe->capwins = cap;
	}
	memmove(&fe->wins[at + 2], &fe->wins[at + 1],
		(fe->nwins - (size_t)(at + 1)) * sizeof(*fe->wins));
	fe->wins[at + 1] = e;
	fe->nwins++;
	pthread_rwlock_unlock(&fe->win_lock);
	return 0;
}

static void win_remove(struct tsm_frontend *fe, int64_t pack, uint64_t start)
{
	ssize_t at;

	pthread_rwlock_wrlock(&fe->win_lock);
	at = win_find(fe, pack, start);
	if (at >= 0 && fe->wins[at].pack == pack && fe->wins[at].start == start) {
		free(fe->wins[at].chunks);
		memmove(&fe->wins[at], &fe->wins[at + 1],
			(fe->nwins - (size_t)at - 1) * sizeof(*fe->wins));
		fe->nwins--;
	}
	pthread_rwlock_unlock(&fe->win_lock);
}

/* The cached window holding @loc whole: its start and end. */
static bool win_lookup(struct tsm_frontend *fe, const struct tsm_chunk_loc *loc,
		       uint64_t *start_ret, uint64_t *end_ret)
{
	bool found = false;
	ssize_t at;

	pthread_rwlock_rdlock(&fe->win_lock);
	at = win_find(fe, loc->pack, loc->offset);
	if (at >= 0 && fe->wins[at].pack == loc->pack &&
	    loc->offset + loc->stored_size <= fe->wins[at].end) {
		*start_ret = fe->wins[at].start;
		*end_ret = fe->wins[at].end;
		found = true;
	}
	pthread_rwlock_unlock(&fe->win_lock);
	return found;
}

/* Whether @loc was checked in its window's file, and that file is @st,
 * unchanged since: one of the chunks the fetch or stream that wrote it
 * checked (same place, size and SHA-256).  A window's chunks are kept with
 * it, not in the checked table, where a cache of more chunks than slots
 * would evict them and every read would hash them again. */
static bool win_checked(struct tsm_frontend *fe, const struct tsm_chunk_loc *loc,
			const struct stat *st)
{
	bool yes = false;
	ssize_t at;

	pthread_rwlock_rdlock(&fe->win_lock);
	at = win_find(fe, loc->pack, loc->offset);
	if (at >= 0 && fe->wins[at].pack == loc->pack && fe->wins[at].chunks &&
	    loc->offset + loc->stored_size <= fe->wins[at].end &&
	    file_ident_is(&fe->wins[at].file, st)) {
		const struct win_entry *w = &fe->wins[at];
		uint64_t want = loc->offset - w->start;
		size_t lo = 0, hi = w->nchunks;

		while (lo < hi) { /* the first chunk at or after @want */
			size_t mid = lo + (hi - lo) / 2;

			if (w->chunks[mid].at < want)
				lo = mid + 1;
			else
				hi = mid;
		}
		yes = lo < w->nchunks && w->chunks[lo].at == want &&
		      w->chunks[lo].len == loc->stored_size &&
		      memcmp(w->chunks[lo].hash, loc->hash, TSM_SHA256_LEN) == 0;
	}
	pthread_rwlock_unlock(&fe->win_lock);
	return yes;
}

static void win_path(const struct tsm_frontend *fe, int64_t pack, uint64_t start, uint64_t end,
		     char *buf, size_t n)
{
	/* tsm_frontend_setup() keeps chunks_dir short enough. */
	if (snprintf(buf, n, "%s/pack-%08lld-%012llx-%012llx", fe->chunks_dir, (long long)pack,
		     (unsigned long long)start, (unsigned long long)end) >= (int)n)
		buf[0] = 0;
}

/* Reads the cache directory into the index (at start); returns the bytes
 * in it.  Files that are not windows (a crash's temporary files) go. */
static uint64_t win_scan(struct tsm_frontend *fe)
{
	DIR *d = opendir(fe->chunks_dir);
	struct dirent *de;
	uint64_t total = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		long long pack;
		unsigned long long start, end;
		char path[4096], tail;
		struct stat st;

		if (de->d_name[0] == '.' && (!de->d_name[1] || de->d_name[1] == '.' ||
					     strstr(de->d_name, ".tmp") == NULL))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", fe->chunks_dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (sscanf(de->d_name, "pack-%lld-%llx-%llx%c", &pack, &start, &end, &tail) != 3 ||
		    pack <= 0 || end <= start || lstat(path, &st) < 0 || !S_ISREG(st.st_mode) ||
		    (uint64_t)st.st_size != end - start) {
			unlink(path);
			continue;
		}
		if (win_insert(fe, pack, start, end, NULL, NULL, 0) == 0)
			total += (uint64_t)st.st_size;
	}
	closedir(d);
	return total;
}

struct evict_entry {
	struct timespec mtime;
	int64_t pack;
	uint64_t start, end;
};

static int evict_cmp(const void *a, const void *b)
{
	const struct evict_entry *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	return (x->mtime.tv_nsec > y->mtime.tv_nsec) - (x->mtime.tv_nsec < y->mtime.tv_nsec);
}

/* Least recently used windows out, down to 90% of the limit. */
static void cache_evict(struct tsm_frontend *fe)
{
	struct evict_entry *e = NULL;
	uint64_t used = 0, target = fe->limit / 10 * 9;
	size_t n = 0;

	if (pthread_mutex_trylock(&fe->evict_lock) != 0)
		return; /* another thread is at it */
	pthread_rwlock_rdlock(&fe->win_lock);
	if (fe->nwins && (e = calloc(fe->nwins, sizeof(*e)))) {
		for (size_t i = 0; i < fe->nwins; i++) {
			e[n].pack = fe->wins[i].pack;
			e[n].start = fe->wins[i].start;
			e[n].end = fe->wins[i].end;
			n++;
		}
	}
	pthread_rwlock_unlock(&fe->win_lock);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		struct stat st;

		win_path(fe, e[i].pack, e[i].start, e[i].end, path, sizeof(path));
		if (stat(path, &st) == 0) {
			e[i].mtime = st.st_mtim;
			used += (uint64_t)st.st_size;
		}
	}
	/* Stream files still growing count too (they are not windows yet,
	 * and cannot go). */
	used += atomic_load(&fe->streaming);
	qsort(e, n, sizeof(*e), evict_cmp);
	for (size_t i = 0; i < n && used > target; i++) {
		char path[4096];

		win_path(fe, e[i].pack, e[i].start, e[i].end, path, sizeof(path));
		win_remove(fe, e[i].pack, e[i].start);
		if (unlink(path) == 0)
			used -= e[i].end - e[i].start;
	}
	atomic_store(&fe->used, used);
	free(e);
	pthread_mutex_unlock(&fe->evict_lock);
}

/* Checked cache files, by chunk hash, with the identity of the file the
 * check read (inode, size, mtime, ctime): a later read of the same file as
 * it was needs no hashing, as a pack's checked chunks need none
 * (verified.c).  A file replaced, rewritten or touched is checked again.
 * Direct-mapped; a slot taken by another chunk only costs a hash.  It
 * holds the chunks checked as they were read (windows found at start or
 * touched since); the chunks a fetch or stream checked stay with their
 * window (win_checked), which no other chunk can take. */
static size_t checked_index(const uint8_t hash[TSM_SHA256_LEN])
{
	return ((size_t)hash[0] << 8 | hash[1]) % CHECKED_SLOTS;
}

static bool checked_has(struct tsm_frontend *fe, const uint8_t hash[TSM_SHA256_LEN],
			const struct stat *st)
{
	size_t i = checked_index(hash);
	const struct checked_slot *c = &fe->checked[i];
	bool yes;

	pthread_mutex_lock(&fe->checked_lock[i % CHECKED_LOCKS]);
	yes = memcmp(c->hash, hash, TSM_SHA256_LEN) == 0 && file_ident_is(&c->file, st);
	pthread_mutex_unlock(&fe->checked_lock[i % CHECKED_LOCKS]);
	return yes;
}

static void checked_set(struct tsm_frontend *fe, const uint8_t hash[TSM_SHA256_LEN],
			const struct stat *st)
{
	size_t i = checked_index(hash);
	struct checked_slot *c = &fe->checked[i];

	pthread_mutex_lock(&fe->checked_lock[i % CHECKED_LOCKS]);
	memcpy(c->hash, hash, TSM_SHA256_LEN);
	file_ident_of(&c->file, st);
	pthread_mutex_unlock(&fe->checked_lock[i % CHECKED_LOCKS]);
}

/* A new temporary file's name in the cache directory (win_scan removes
 * any left by a crash); @id_ret: its number, unique in the process. */
static void tmp_path(const struct tsm_frontend *fe, char *buf, size_t n, unsigned *id_ret)
{
	static _Atomic unsigned counter;
	unsigned id = atomic_fetch_add(&counter, 1) + 1;

	snprintf(buf, n, "%s/.%d-%u.tmp", fe->chunks_dir, (int)getpid(), id);
	if (id_ret)
		*id_ret = id;
}

/* Adds a window whose every chunk was checked (@locs, @n: its chunks; @buf
 * their stored bytes). */
static void cache_put_window(struct tsm_frontend *fe, const struct tsm_chunk_loc *locs, size_t n,
			     const uint8_t *buf)
{
	uint64_t start = locs[0].offset, end = locs[n - 1].offset + locs[n - 1].stored_size;
	char path[4096], tmp[4200];
	struct stat st;
	int fd;

	win_path(fe, locs[0].pack, start, end, path, sizeof(path));
	tmp_path(fe, tmp, sizeof(tmp), NULL);
	if (!path[0] || (fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		return;
	bool ok = write(fd, buf, end - start) == (ssize_t)(end - start);

	/* The identity is taken after the rename: a rename changes the
	 * file's ctime (ext4 does), and one taken before it would make the
	 * first read hash every chunk a second time. */
	bool renamed = ok && rename(tmp, path) == 0;

	/* The bytes just written are the bytes just checked: the window
	 * is recorded as checked whole in this file as it is now. */
	if (!(renamed && fstat(fd, &st) == 0 &&
	      win_insert(fe, locs[0].pack, start, end, &st, locs, n) == 0)) {
		ok = false;
		unlink(renamed ? path : tmp);
	}
	close(fd);
	if (ok && atomic_fetch_add(&fe->used, end - start) + (end - start) > fe->limit)
		cache_evict(fe);
}

/* From the cache: 0 (checked), -ENOENT (not there), -EIO (damaged: its
 * window is removed and the caller fetches the chunk again). */
static int cache_get(struct tsm_store *store, struct tsm_frontend *fe,
		     const struct tsm_chunk_loc *loc, uint8_t *out, uint8_t *scratch)
{
	char path[4096], hex[TSM_SHA256_HEX_LEN + 1];
	uint8_t *stored = loc->codec == TSM_COMPRESSION_ZSTD ? scratch : out;
	const char *problem = NULL;
	uint64_t start, end;
	struct stat st;
	ssize_t n;
	int fd, rc;

	if (!win_lookup(fe, loc, &start, &end))
		return -ENOENT;
	win_path(fe, loc->pack, start, end, path, sizeof(path));
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		win_remove(fe, loc->pack, start); /* removed behind our back */
		return -ENOENT;
	}
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size != end - start) {
		problem = "is in a cache file of the wrong size";
		rc = -EIO;
	} else if ((n = pread(fd, stored, loc->stored_size, (off_t)(loc->offset - start))) !=
		   (ssize_t)loc->stored_size) {
		problem = "cannot be read from the cache";
		rc = -EIO;
	} else if (win_checked(fe, loc, &st) || checked_has(fe, loc->hash, &st)) {
		rc = 0;
		if (loc->codec == TSM_COMPRESSION_ZSTD) {
			size_t z = ZSTD_decompress(out, loc->size, stored, loc->stored_size);

			if (ZSTD_isError(z) || z != loc->size) {
				problem = "does not decompress";
				rc = -EIO;
			}
		}
	} else {
		atomic_fetch_add(&fe->rechecks, 1);
		rc = chunk_decode(loc, stored, out, &problem);
		if (rc == 0)
			checked_set(fe, loc->hash, &st);
	}
	if (rc == 0) {
		struct timespec now;

		/* Recently used: its mtime, at most once a minute (a new
		 * mtime makes the next read check it again). */
		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec - st.st_mtim.tv_sec > 60)
			futimens(fd, NULL);
	}
	close(fd);
	if (rc < 0) {
		tsm_hex_encode(loc->hash, TSM_SHA256_LEN, hex);
		tsm_warn("%s: cached chunk %s %s: removed, fetched again", store->dir, hex, problem);
		win_remove(fe, loc->pack, start);
		if (unlink(path) == 0)
			atomic_fetch_sub(&fe->used, end - start);
	}
	return rc;
}

/* The chunks of @pack from offset @from on, contiguous, at most
 * @max_bytes in all.  With @ended, whether the run of contiguous chunks
 * ends there (the pack's end or a gap) rather than at a limit. */
static size_t plan_from(struct tsm_store *store, int64_t pack, uint64_t from,
			struct tsm_chunk_loc *next, size_t max, uint64_t max_bytes, bool *ended)
{
	static const char sql[] = "SELECT " TSM_CHUNK_LOC_COLUMNS
				  " FROM chunks c WHERE c.pack = ? AND c.offset >= ?"
				  " ORDER BY c.offset LIMIT ?";
	uint64_t end = from;
	sqlite3_stmt *stmt;
	size_t n = 0;
	bool last = false;

	if (ended)
		*ended = false;
	if (from > INT64_MAX || tsm_db_prepare(store->db, sql, &stmt) < 0)
		return 0;
	sqlite3_bind_int64(stmt, 1, pack);
	sqlite3_bind_int64(stmt, 2, (int64_t)from);
	sqlite3_bind_int64(stmt, 3, (int64_t)max + 1); /* one more: is there a next? */
	for (;;) {
		struct tsm_chunk_loc c;
		int step = sqlite3_step(stmt);

		if (step == SQLITE_DONE) {
			last = true;
			break;
		}
		if (step != SQLITE_ROW || n == max || tsm_chunk_loc_from_row(store, stmt, 0, &c) < 0)
			break;
		if (c.offset != end) {
			last = true;
			break;
		}
		if (end + c.stored_size - from > max_bytes)
			break;
		next[n++] = c;
		end += c.stored_size;
	}
	sqlite3_finalize(stmt);
	if (ended)
		*ended = last;
	return n;
}

/* The chunks after @loc in its pack, contiguous with it, at most
 * @max_bytes from its start in all (plan_from). */
static size_t readahead_plan(struct tsm_store *store, const struct tsm_chunk_loc *loc,
			     struct tsm_chunk_loc *next, size_t max, uint64_t max_bytes, bool *ended)
{
	if (ended)
		*ended = false;
	if (max_bytes < loc->stored_size)
		return 0;
	return plan_from(store, loc->pack, loc->offset + loc->stored_size, next, max,
			 max_bytes - loc->stored_size, ended);
}

static void chunk_fail(struct tsm_s3 *s3, const struct tsm_chunk_loc *loc, const char *problem)
{
	char hex[TSM_SHA256_HEX_LEN + 1], key[48];

	tsm_hex_encode(loc->hash, TSM_SHA256_LEN, hex);
	pack_key(loc->pack, key);
	tsm_error("chunk %s in %s%s at offset %llu: %s", hex, tsm_s3_location(s3), key,
		  (unsigned long long)loc->offset, problem);
}

/* Fetches @n contiguous chunks of one pack with one ranged GET (tried
 * GET_TRIES times) into @buf (@cap bytes), checks each and caches the good
 * ones.  With @first_out, the first chunk's bytes go there too and its
 * check decides the result.  -ENOENT: the object is gone (404). */
static int fetch_window(struct tsm_frontend *fe, struct tsm_s3 *s3, const struct tsm_chunk_loc *locs,
			size_t n, uint8_t *first_out, uint8_t *buf, size_t cap, uint8_t *scratch,
			bool quiet)
{
	const char *problem = NULL;
	uint64_t total = 0;
	char key[48];
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		total += locs[i].stored_size;
	if (total > cap)
		return -EIO; /* the plans never make one */
	pack_key(locs[0].pack, key);
	for (int attempt = 0; attempt < GET_TRIES; attempt++) {
		if (attempt)
			usleep(200000u << attempt);
		rc = tsm_s3_get_range(s3, key, locs[0].offset, total, buf);
		if (rc == 0 || rc == -ENOENT)
			break;
	}
	if (rc < 0) {
		if (rc != -ENOENT && !quiet)
			chunk_fail(s3, &locs[0], "cannot be fetched");
		return rc == -ENOENT ? rc : -EIO;
	}
	atomic_fetch_add(&fe->fetched, total);
	/* Only checked bytes enter the cache: the window goes in when every
	 * chunk of it is good. */
	uint64_t off = 0;
	bool all_good = true;

	for (size_t i = 0; i < n; i++) {
		uint8_t *out = i == 0 && first_out ? first_out : NULL;

		if (chunk_decode_to(&locs[i], buf + off, out, scratch, &problem) < 0) {
			chunk_fail(s3, &locs[i], problem);
			all_good = false;
			if (i == 0 && first_out)
				rc = -EIO;
		}
		off += locs[i].stored_size;
	}
	if (all_good)
		cache_put_window(fe, locs, n, buf);
	return rc;
}

/* ---- frontend: read-ahead with several requests in flight -------------------- */

/* A sequential reader's misses are fetched WINDOW_BYTES at a time; AHEAD
 * windows after the one it waits for are fetched meanwhile by PREFETCHERS
 * threads, and reading the first chunk of a fetched window asks for the
 * next one, so a steady reader finds its chunks in the cache.  A reader
 * that needs a chunk another request is already fetching waits for that
 * request (coalescing) instead of fetching it again. */

struct pf_job {
	struct tsm_chunk_loc *locs;
	size_t n;
	struct stream *stream; /* or a stream (its locs) */
	struct pf_job *next;
};

static bool pf_inflight_has(const struct tsm_frontend *fe, int64_t pack, uint64_t offset)
{
	for (size_t i = 0; i < fe->ninflight; i++)
		if (fe->inflight[i].pack == pack && offset >= fe->inflight[i].start &&
		    offset < fe->inflight[i].end)
			return true;
	return false;
}

/* ---- frontend: streams for sequential readers ---------------------------------
 *
 * A reader shown to be sequential gets one ranged GET of up to STREAM_BYTES
 * of contiguous chunks (radosgw serves one large GET much faster per byte
 * than many small ones; docs/scale.md, "Measuring").  Its body is received
 * straight into the cache: each piece libcurl hands over is written where
 * it belongs in a *segment* file (a window of up to SEQ_WINDOW_BYTES, so
 * the cache keeps its windows' size) and hashed from libcurl's buffer,
 * with no copy into a window buffer first.  Each chunk is checked as soon
 * as its last byte has arrived, and moves the stream's "checked up to
 * here" mark: a reader waits for the mark to pass its chunk, not for the
 * whole window, and gets it from the segment file (lent to the reply,
 * lend_stream, or read, stream_read).  A full segment is
 * renamed to its window's name and indexed, like a fetched window.  A
 * chunk that fails its check, or a transfer that breaks, ends the stream:
 * its segment still growing is removed (only whole, checked segments are
 * ever indexed), and readers waiting for it fall back to fetching their
 * window themselves, which reports the damage. */

struct stream {
	struct tsm_frontend *fe;
	struct tsm_s3 *s3;
	struct tsm_chunk_loc *locs;
	size_t n;
	uint64_t start, end; /* in the pack, of the whole GET */
	struct stream *next;
	/* The receiving thread's. */
	size_t chunk;       /* being received */
	uint32_t chunk_got; /* of its stored bytes */
	uint64_t pos;       /* the next byte's offset in the pack */
	size_t seg_first;   /* the segment's first chunk */
	int fd;
	EVP_MD_CTX *md;
	uint8_t *zbuf, *scratch; /* a compressed chunk: stored, decompressed */
	const char *problem;
	size_t bad;
	/* Under pf_lock, for readers: the segment growing, its file (id 0:
	 * none), and how far it is checked. */
	uint64_t seg_start, seg_end, checked;
	unsigned seg_id;
	uint64_t want; /* the mark readers wait for (0: none) */
	char seg_path[4200];
};

/* Opens the segment that starts at the chunk being received. */
static int stream_seg_open(struct stream *st)
{
	struct tsm_frontend *fe = st->fe;
	uint64_t start = st->locs[st->chunk].offset, end = start;
	char path[4200];
	unsigned id;

	for (size_t i = st->chunk;
	     i < st->n && st->locs[i].offset + st->locs[i].stored_size - start <= SEQ_WINDOW_BYTES; i++)
		end = st->locs[i].offset + st->locs[i].stored_size;
	tmp_path(fe, path, sizeof(path), &id);
	if ((st->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
		st->problem = "cannot be written to the cache";
		st->bad = st->chunk;
		return -EIO;
	}
	/* Its blocks at once rather than one write at a time: less of the
	 * file system's work per byte received (fallocate(2); where a file
	 * system cannot, it allocates as it is written, as before). */
	(void)fallocate(st->fd, 0, 0, (off_t)(end - start));
	st->seg_first = st->chunk;
	pthread_mutex_lock(&fe->pf_lock);
	st->seg_start = st->checked = start;
	st->seg_end = end;
	st->seg_id = id;
	memcpy(st->seg_path, path, sizeof(path));
	pthread_mutex_unlock(&fe->pf_lock);
	return 0;
}

/* The segment is whole and checked: it becomes a window. */
static void stream_seg_close(struct stream *st)
{
	struct tsm_frontend *fe = st->fe;
	const struct tsm_chunk_loc *first = &st->locs[st->seg_first];
	uint64_t bytes = st->seg_end - st->seg_start;
	char path[4096];
	struct stat sb;

	win_path(fe, first->pack, st->seg_start, st->seg_end, path, sizeof(path));
	/* The identity after the rename (which changes the ctime), as in
	 * cache_put_window; indexed before readers are sent to the cache. */
	bool renamed = path[0] && rename(st->seg_path, path) == 0;

	if (!(renamed && fstat(st->fd, &sb) == 0 &&
	      win_insert(fe, first->pack, st->seg_start, st->seg_end, &sb, first,
			 st->chunk - st->seg_first) == 0)) {
		unlink(renamed ? path : st->seg_path);
		atomic_fetch_sub(&fe->used, bytes);
	}
	close(st->fd);
	st->fd = -1;
	atomic_fetch_sub(&fe->streaming, bytes);
	pthread_mutex_lock(&fe->pf_lock);
	st->seg_start = st->checked = st->seg_end;
	st->seg_id = 0;
	st->want = 0;
	if (fe->pf_waiters)
		pthread_cond_broadcast(&fe->pf_done);
	pthread_mutex_unlock(&fe->pf_lock);
	if (atomic_load(&fe->used) > fe->limit)
		cache_evict(fe);
}

/* The chunk being received has all its bytes: checked, it moves the mark. */
static int stream_chunk_done(struct stream *st)
{
	struct tsm_frontend *fe = st->fe;
	const struct tsm_chunk_loc *c = &st->locs[st->chunk];
	uint8_t digest[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	bool good;

	if (c->codec == TSM_COMPRESSION_ZSTD) {
		size_t z = ZSTD_decompress(st->scratch, c->size, st->zbuf, c->stored_size);

		if (ZSTD_isError(z) || z != c->size) {
			st->problem = "does not decompress";
			st->bad = st->chunk;
			return -EIO;
		}
		good = tsm_sha256(st->scratch, c->size, digest) == 0;
		dlen = TSM_SHA256_LEN;
	} else {
		good = EVP_DigestFinal_ex(st->md, digest, &dlen) == 1 &&
		       EVP_DigestInit_ex(st->md, EVP_sha256(), NULL) == 1;
	}
	if (!good || dlen != TSM_SHA256_LEN || memcmp(digest, c->hash, TSM_SHA256_LEN) != 0) {
		st->problem = "checksum mismatch";
		st->bad = st->chunk;
		return -EIO;
	}
	pthread_mutex_lock(&fe->pf_lock);
	st->checked = c->offset + c->stored_size;
	if (st->want && st->checked >= st->want) {
		st->want = 0;
		pthread_cond_broadcast(&fe->pf_done);
	}
	pthread_mutex_unlock(&fe->pf_lock);
	st->chunk++;
	st->chunk_got = 0;
	return 0;
}

/* libcurl's pieces of the body (tsm_s3_get_range_pieces): written into
 * the segment file, and fed to the check of the chunks they belong to. */
static int stream_piece(void *ctx, const uint8_t *data, size_t len)
{
	struct stream *st = ctx;
	struct tsm_frontend *fe = st->fe;
	int rc;

	while (len) {
		if (st->fd < 0 && (rc = stream_seg_open(st)) < 0)
			return rc;
		size_t m = len < st->seg_end - st->pos ? len : (size_t)(st->seg_end - st->pos);

		if (tsm_pwrite_full(st->fd, data, m, st->pos - st->seg_start) < 0) {
			st->problem = "cannot be written to the cache";
			st->bad = st->chunk;
			return -EIO;
		}
		/* A growing file counts in the cache's use from its first byte. */
		atomic_fetch_add(&fe->fetched, m);
		atomic_fetch_add(&fe->streamed, m);
		atomic_fetch_add(&fe->streaming, m);
		if (atomic_fetch_add(&fe->used, m) + m > fe->limit)
			cache_evict(fe);
		st->pos += m;
		len -= m;
		while (m) {
			const struct tsm_chunk_loc *c = &st->locs[st->chunk];
			uint32_t k = c->stored_size - st->chunk_got < m ? c->stored_size - st->chunk_got
									 : (uint32_t)m;

			if (c->codec == TSM_COMPRESSION_ZSTD)
				memcpy(st->zbuf + st->chunk_got, data, k);
			else if (EVP_DigestUpdate(st->md, data, k) != 1)
				return -EIO;
			st->chunk_got += k;
			data += k;
			m -= k;
			if (st->chunk_got == c->stored_size && (rc = stream_chunk_done(st)) < 0)
				return rc;
		}
		if (st->pos == st->seg_end)
			stream_seg_close(st);
	}
	return 0;
}

/* Runs a stream on a read-ahead thread, to its end or its first failure. */
static void stream_run(struct stream *st, struct tsm_s3 *s3, uint8_t *scratch)
{
	struct tsm_frontend *fe = st->fe;
	char key[48];
	int rc = -ENOMEM;

	atomic_fetch_add(&fe->streams_started, 1);
	st->s3 = s3;
	st->scratch = scratch;
	st->fd = -1;
	st->pos = st->start;
	pack_key(st->locs[0].pack, key);
	if ((st->md = EVP_MD_CTX_new()) && EVP_DigestInit_ex(st->md, EVP_sha256(), NULL) == 1 &&
	    (st->zbuf = malloc(TSM_CHUNK_MAX)))
		rc = tsm_s3_get_range_pieces(s3, key, st->start, st->end - st->start, stream_piece,
					     st);
	if (rc < 0 && st->problem)
		chunk_fail(s3, &st->locs[st->bad], st->problem);
	/* A segment cut short goes: only whole ones are windows. */
	if (st->fd >= 0) {
		uint64_t got = st->pos - st->seg_start;

		close(st->fd);
		st->fd = -1;
		unlink(st->seg_path);
		atomic_fetch_sub(&fe->streaming, got);
		atomic_fetch_sub(&fe->used, got);
	}
	EVP_MD_CTX_free(st->md);
	free(st->zbuf);
	pthread_mutex_lock(&fe->pf_lock);
	for (struct stream **p = &fe->streams; *p; p = &(*p)->next) {
		if (*p == st) {
			*p = st->next;
			break;
		}
	}
	st->seg_id = 0;
	pthread_mutex_unlock(&fe->pf_lock);
}

/* Reads @loc, checked as it arrived, from the growing segment file @path
 * (number @id) of a stream; -ENOENT when that file is gone (a window by
 * now, or removed). */
static int stream_read(struct tsm_remote *r, const struct tsm_chunk_loc *loc, const char *path,
		       unsigned id, uint64_t seg_start, uint8_t *out, uint8_t *scratch)
{
	uint8_t *stored = loc->codec == TSM_COMPRESSION_ZSTD ? scratch : out;

	/* The handle keeps the file open while it reads from it (and until
	 * it reads another). */
	if (r->seg_fd < 0 || r->seg_id != id) {
		if (r->seg_fd >= 0)
			close(r->seg_fd);
		r->seg_id = id;
		if ((r->seg_fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			return -ENOENT;
	}
	if (pread(r->seg_fd, stored, loc->stored_size, (off_t)(loc->offset - seg_start)) !=
	    (ssize_t)loc->stored_size)
		return -EIO;
	if (loc->codec == TSM_COMPRESSION_ZSTD) {
		size_t z = ZSTD_decompress(out, loc->size, stored, loc->stored_size);

		if (ZSTD_isError(z) || z != loc->size)
			return -EIO;
	}
	return 0;
}

/* The stream whose range holds @loc, or NULL.  Under pf_lock. */
static struct stream *stream_find(struct tsm_frontend *fe, const struct tsm_chunk_loc *loc)
{
	for (struct stream *st = fe->streams; st; st = st->next)
		if (st->locs[0].pack == loc->pack && loc->offset >= st->start && loc->offset < st->end)
			return st;
	return NULL;
}

static void *prefetcher_main(void *arg)
{
	struct tsm_frontend *fe = arg;
	struct tsm_s3_config cfg = { .url = fe->url, .endpoint = fe->endpoint,
				     .region = fe->region, .timeout = fe->timeout };
	struct tsm_s3 *s3 = NULL;
	uint8_t *scratch = malloc(TSM_CHUNK_MAX), *buf = malloc(WINDOW_BYTES);

	if (!scratch || !buf || tsm_s3_new(&cfg, &s3) < 0) {
		free(scratch);
		free(buf);
		return NULL;
	}
	pthread_mutex_lock(&fe->pf_lock);
	for (;;) {
		struct pf_job *job;

		while (!fe->pf_queue)
			pthread_cond_wait(&fe->pf_work, &fe->pf_lock);
		job = fe->pf_queue;
		fe->pf_queue = job->next;
		pthread_mutex_unlock(&fe->pf_lock);
		/* A failure is the reader's to report when it needs the bytes. */
		if (job->stream)
			stream_run(job->stream, s3, scratch);
		else
			fetch_window(fe, s3, job->locs, job->n, NULL, buf, WINDOW_BYTES, scratch,
				     true);
		pthread_mutex_lock(&fe->pf_lock);
		for (size_t i = 0; i < fe->ninflight; i++) {
			if (fe->inflight[i].pack == job->locs[0].pack &&
			    fe->inflight[i].start == job->locs[0].offset) {
				fe->inflight[i] = fe->inflight[--fe->ninflight];
				break;
			}
		}
		pthread_cond_broadcast(&fe->pf_done);
		free(job->locs);
		free(job->stream);
		free(job);
	}
	return NULL;
}

/* The read-ahead threads, at the first request.  Under pf_lock. */
static void pf_start_threads(struct tsm_frontend *fe)
{
	if (fe->pf_started)
		return;
	fe->pf_started = true;
	for (int t = 0; t < PREFETCHERS; t++) {
		pthread_t th;

		if (pthread_create(&th, NULL, prefetcher_main, fe) == 0)
			pthread_detach(th);
	}
}

/* Queues @job; a reader reaching @trigger asks for more.  Under pf_lock. */
static void pf_enqueue(struct tsm_frontend *fe, struct pf_job *job,
		       const struct tsm_chunk_loc *trigger)
{
	struct pf_job **tail = &fe->pf_queue;

	while (*tail)
		tail = &(*tail)->next;
	*tail = job;
	fe->triggers[fe->ntrigger_next % TRIGGERS_MAX].pack = trigger->pack;
	fe->triggers[fe->ntrigger_next % TRIGGERS_MAX].offset = trigger->offset;
	fe->ntrigger_next++;
	pthread_cond_signal(&fe->pf_work);
}

/* Whether a cached window or a request in flight holds @loc; then
 * @end_ret is where that window ends. */
static bool pf_covered(struct tsm_frontend *fe, const struct tsm_chunk_loc *loc, uint64_t *end_ret)
{
	uint64_t start;
	bool yes = false;

	if (win_lookup(fe, loc, &start, end_ret))
		return true;
	pthread_mutex_lock(&fe->pf_lock);
	for (size_t i = 0; i < fe->ninflight && !yes; i++) {
		if (fe->inflight[i].pack == loc->pack && loc->offset >= fe->inflight[i].start &&
		    loc->offset < fe->inflight[i].end) {
			*end_ret = fe->inflight[i].end;
			yes = true;
		}
	}
	pthread_mutex_unlock(&fe->pf_lock);
	return yes;
}

/* Queues windows of up to @size bytes over the chunks of @plan
 * (contiguous, in one pack) that no request fetches and the cache lacks;
 * windows already there are stepped over, whatever their size.  Under no
 * lock; takes pf_lock. */
static void pf_queue_windows(struct tsm_frontend *fe, const struct tsm_chunk_loc *plan, size_t n,
			     uint64_t size, bool ended)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;
		uint64_t start = plan[i].offset, end;

		if (pf_covered(fe, &plan[i], &end)) {
			while (i < n && plan[i].offset < end)
				i++;
			continue;
		}
		/* Up to @size, and short of a window that is already there. */
		while (j < n && plan[j].offset + plan[j].stored_size - start <= size &&
		       (j == i || !pf_covered(fe, &plan[j], &end)))
			j++;
		/* Only whole windows: one the plan cut short would overlap the
		 * window a later plan makes there, and fetch its bytes twice.
		 * The last one is whole when the run of chunks ends there. */
		if (j == i || (j == n && !ended))
			break;
		pthread_mutex_lock(&fe->pf_lock);
		pf_start_threads(fe);
		if (fe->ninflight < INFLIGHT_MAX && !pf_inflight_has(fe, plan[i].pack, start)) {
			struct pf_job *job = calloc(1, sizeof(*job));

			if (job && (job->locs = malloc((j - i) * sizeof(*job->locs)))) {
				memcpy(job->locs, plan + i, (j - i) * sizeof(*job->locs));
				job->n = j - i;
				fe->inflight[fe->ninflight].pack = plan[i].pack;
				fe->inflight[fe->ninflight].start = start;
				fe->inflight[fe->ninflight].end =
					plan[j - 1].offset + plan[j - 1].stored_size;
				fe->ninflight++;
				/* Reading its first chunk asks for the next window. */
				pf_enqueue(fe, job, &plan[i]);
			} else {
				free(job);
			}
		}
		pthread_mutex_unlock(&fe->pf_lock);
		i = j;
	}
}

/* Windows of @size bytes over the AHEAD * @size bytes after @after (where
 * the window holding @loc ends), to be fetched in the background.  A miss
 * asks for WINDOW_BYTES windows (a random reader costs the object store
 * little); a reader that reached a read-ahead window is sequential and asks
 * for SEQ_WINDOW_BYTES ones. */
static void pf_ahead(struct tsm_store *store, struct tsm_frontend *fe,
		     const struct tsm_chunk_loc *loc, uint64_t after, uint64_t size)
{
	size_t max = (size_t)((after - loc->offset) / TSM_CHUNK_MIN + 1 +
			      (AHEAD + 1) * (size / TSM_CHUNK_MIN));
	struct tsm_chunk_loc *plan;
	size_t n, first = 0;
	bool ended;

	if (after < loc->offset || !(plan = malloc(max * sizeof(*plan))))
		return;
	n = readahead_plan(store, loc, plan, max, after - loc->offset + (AHEAD + 1) * size, &ended);
	/* Skip the window holding @loc (the caller has it). */
	while (first < n && plan[first].offset < after)
		first++;
	pf_queue_windows(fe, plan + first, n - first, size, ended);
	free(plan);
}

/* Whether @loc starts a window a prefetch fetched (then the reader has
 * reached it: time to ask for one more). */
static bool pf_triggered(struct tsm_frontend *fe, const struct tsm_chunk_loc *loc)
{
	bool hit = false;

	pthread_mutex_lock(&fe->pf_lock);
	for (size_t i = 0; i < TRIGGERS_MAX && !hit; i++) {
		if (fe->triggers[i].pack == loc->pack && fe->triggers[i].offset == loc->offset &&
		    loc->pack) {
			fe->triggers[i].pack = 0;
			hit = true;
		}
	}
	pthread_mutex_unlock(&fe->pf_lock);
	return hit;
}

/* A reader shown to be sequential, at @loc: a stream over the chunks
 * after the windows and requests already ahead of it, up to STREAM_BYTES
 * and short of anything cached or asked for (no byte is fetched twice),
 * unless that is more than half a stream ahead.  Reaching its middle asks
 * for the next one, so that one GET is always under way ahead of a steady
 * reader. */
static void pf_stream(struct tsm_store *store, struct tsm_frontend *fe,
		      const struct tsm_chunk_loc *loc)
{
	struct tsm_chunk_loc *plan;
	struct stream *st = NULL;
	struct pf_job *job = NULL;
	size_t n, i = 0, j, mid;
	uint64_t end;

	/* Past the windows and requests ahead of the reader without the
	 * catalog (each ends at a chunk's end): only the chunks a new stream
	 * would get are looked up, not the hundred megabytes before them. */
	struct tsm_chunk_loc from = *loc;

	from.offset = loc->offset + loc->stored_size;
	from.stored_size = 1; /* a byte there: whatever holds it */
	while (pf_covered(fe, &from, &end) && end > from.offset)
		from.offset = end;
	/* Bounded: at most half a stream's length between the reader and a
	 * new stream (each reader has one or two under way, never more). */
	if (from.offset - loc->offset > STREAM_BYTES / 2 ||
	    !(plan = malloc(STREAM_CHUNKS * sizeof(*plan))))
		return;
	n = plan_from(store, loc->pack, from.offset, plan, STREAM_CHUNKS, STREAM_BYTES, NULL);
	while (i < n && pf_covered(fe, &plan[i], &end))
		while (i < n && plan[i].offset < end)
			i++;
	if (i < n && plan[i].offset - loc->offset > STREAM_BYTES / 2)
		n = i;
	/* Short of a chunk whose sizes the catalog gives out of range: the
	 * stream's buffers hold TSM_CHUNK_MAX (a reader's own fetch reports
	 * such a chunk). */
	for (j = i; j < n && plan[j].offset + plan[j].stored_size - plan[i].offset <= STREAM_BYTES &&
		    plan[j].size <= TSM_CHUNK_MAX && plan[j].stored_size <= TSM_CHUNK_MAX &&
		    (plan[j].codec == TSM_COMPRESSION_ZSTD || plan[j].stored_size == plan[j].size) &&
		    (j == i || !pf_covered(fe, &plan[j], &end));
	     j++)
		;
	pthread_mutex_lock(&fe->pf_lock);
	/* Another reader may have asked meanwhile: short of its requests. */
	for (size_t k = 0; k < fe->ninflight; k++) {
		for (size_t c = i; c < j && fe->inflight[k].pack == plan[i].pack; c++) {
			if (plan[c].offset + plan[c].stored_size > fe->inflight[k].start &&
			    plan[c].offset < fe->inflight[k].end) {
				j = c;
				break;
			}
		}
	}
	if (j == i || fe->ninflight == INFLIGHT_MAX || !(st = calloc(1, sizeof(*st))) ||
	    !(job = calloc(1, sizeof(*job))) || !(st->locs = malloc((j - i) * sizeof(*plan)))) {
		pthread_mutex_unlock(&fe->pf_lock);
		free(st);
		free(job);
		free(plan);
		return;
	}
	memcpy(st->locs, plan + i, (j - i) * sizeof(*plan));
	st->n = j - i;
	st->fe = fe;
	st->start = plan[i].offset;
	st->end = plan[j - 1].offset + plan[j - 1].stored_size;
	st->next = fe->streams;
	fe->streams = st;
	fe->inflight[fe->ninflight].pack = plan[i].pack;
	fe->inflight[fe->ninflight].start = st->start;
	fe->inflight[fe->ninflight].end = st->end;
	fe->ninflight++;
	job->locs = st->locs;
	job->n = st->n;
	job->stream = st;
	for (mid = 0; mid + 1 < st->n && st->locs[mid].offset < st->start + (st->end - st->start) / 2;)
		mid++;
	pf_start_threads(fe);
	pf_enqueue(fe, job, &st->locs[mid]);
	pthread_mutex_unlock(&fe->pf_lock);
	free(plan);
}

/* Where a stream has a chunk checked: its growing file (number @id). */
struct seg_ref {
	char path[4200];
	unsigned id;
	uint64_t start, end, checked;
};

/* Waits while a request fetches @loc.  1: one did (the cache may have it
 * now); 2: a stream has it checked in its growing file, @seg; 0: no
 * request fetches it.  @stale: a growing file found gone (renamed to its
 * window meanwhile), waited past until the stream says so. */
static int pf_wait(struct tsm_frontend *fe, const struct tsm_chunk_loc *loc, unsigned stale,
		   struct seg_ref *seg)
{
	uint64_t end = loc->offset + loc->stored_size;
	int waited = 0;

	pthread_mutex_lock(&fe->pf_lock);
	for (;;) {
		struct stream *st = stream_find(fe, loc);

		if (st && loc->offset < st->seg_start) {
			waited = 1; /* in a segment that is a window now */
			break;
		}
		if (st && st->seg_id && st->seg_id != stale && end <= st->checked) {
			memcpy(seg->path, st->seg_path, sizeof(seg->path));
			seg->id = st->seg_id;
			seg->start = st->seg_start;
			seg->end = st->seg_end;
			seg->checked = st->checked;
			waited = 2;
			break;
		}
		if (!st && !pf_inflight_has(fe, loc->pack, loc->offset))
			break;
		if (st && st->seg_id != stale) {
			/* Woken when the mark has passed this chunk and up to
			 * WAKE_BATCH more in its window (the next reads find
			 * them checked): not once per chunk. */
			uint64_t want = end + WAKE_BATCH;

			if (end <= st->seg_end && want > st->seg_end)
				want = st->seg_end;
			if (want > st->end)
				want = st->end;
			if (!st->want || want < st->want)
				st->want = want;
		}
		waited = 1;
		fe->pf_waiters++;
		pthread_cond_wait(&fe->pf_done, &fe->pf_lock);
		fe->pf_waiters--;
	}
	pthread_mutex_unlock(&fe->pf_lock);
	return waited;
}

/* pf_wait, then a chunk a stream has checked is read from its growing
 * file into @out (2). */
static int pf_wait_read(struct tsm_store *store, struct tsm_frontend *fe,
			const struct tsm_chunk_loc *loc, uint8_t *out, uint8_t *scratch)
{
	struct seg_ref seg;
	unsigned stale = 0;
	int w;

	while ((w = pf_wait(fe, loc, stale, &seg)) == 2) {
		if (stream_read(store->remote, loc, seg.path, seg.id, seg.start, out, scratch) == 0)
			return 2;
		stale = seg.id; /* renamed meanwhile: indexed once the stream says so */
	}
	return w;
}

int tsm_remote_chunk_read(struct tsm_store *store, const struct tsm_chunk_loc *loc, uint8_t *out,
			  uint8_t *scratch)
{
	struct tsm_frontend *fe = store->remote->fe;
	struct tsm_remote *r = store->remote;
	struct tsm_chunk_loc *win;
	struct tsm_s3 *s3;
	size_t n;
	int rc, w = 0;

	if (loc->size > TSM_CHUNK_MAX || loc->stored_size > TSM_CHUNK_MAX ||
	    (loc->codec == TSM_COMPRESSION_NONE && loc->stored_size != loc->size))
		return -EIO;
	if (cache_get(store, fe, loc, out, scratch) == 0 ||
	    (w = pf_wait_read(store, fe, loc, out, scratch)) == 2 ||
	    (w == 1 && cache_get(store, fe, loc, out, scratch) == 0)) {
		atomic_fetch_add(&fe->hits, 1);
		if (pf_triggered(fe, loc))
			pf_stream(store, fe, loc);
		return 0;
	}
	atomic_fetch_add(&fe->misses, 1);
	if ((rc = tsm_remote_s3(store, &s3)) < 0)
		return -EIO;
	/* The handle's window buffer, kept: no mapping made and torn down
	 * per fetch. */
	if (!r->winbuf && !(r->winbuf = malloc(WINDOW_BYTES)))
		return -ENOMEM;
	if (!(win = malloc(WINDOW_CHUNKS * sizeof(*win))))
		return -ENOMEM;
	/* This chunk's window now, the next ones in the background. */
	win[0] = *loc;
	n = 1 + readahead_plan(store, loc, win + 1, WINDOW_CHUNKS - 1, WINDOW_BYTES, NULL);
	pf_ahead(store, fe, loc, win[n - 1].offset + win[n - 1].stored_size, WINDOW_BYTES);
	rc = fetch_window(fe, s3, win, n, out, r->winbuf, WINDOW_BYTES, scratch, false);
	free(win);
	return rc;
}

/* Opens a cached window's file to lend it (@w: a free entry). */
static int lend_window(struct tsm_frontend *fe, const struct tsm_chunk_loc *loc,
		       struct lent_window *w)
{
	uint64_t start, end;
	char path[4096];
	int fd;

	if (!win_lookup(fe, loc, &start, &end))
		return -EAGAIN;
	win_path(fe, loc->pack, start, end, path, sizeof(path));
	if (!path[0] || (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -EAGAIN;
	if (fstat(fd, &w->st) < 0 || (uint64_t)w->st.st_size != end - start) {
		close(fd);
		return -EAGAIN; /* cache_get says what is wrong */
	}
	w->pack = loc->pack;
	w->start = start;
	w->end = end;
	w->fd = fd;
	w->seg_id = 0;
	w->checked = 0;
	return 0;
}

/* Lends @w the file that holds @loc checked: its cached window, or the
 * growing file of the stream receiving it, once the stream's check has
 * passed it (waiting for that as a read would: the bytes then go to the
 * kernel from that file, not through a copy read from it). */
static int lend_stream(struct tsm_frontend *fe, const struct tsm_chunk_loc *loc,
		       struct lent_window *w)
{
	struct seg_ref seg;
	unsigned stale = 0;
	int k, fd;

	if (lend_window(fe, loc, w) == 0)
		return 0;
	while ((k = pf_wait(fe, loc, stale, &seg)) == 2) {
		if ((fd = open(seg.path, O_RDONLY | O_CLOEXEC)) >= 0) {
			w->pack = loc->pack;
			w->start = seg.start;
			w->end = seg.end;
			w->fd = fd;
			w->seg_id = seg.id;
			w->checked = seg.checked;
			return 0;
		}
		stale = seg.id; /* a window by now: once the stream says so */
	}
	return k == 1 ? lend_window(fe, loc, w) : -EAGAIN;
}

/* Whether the stream file @w lends has @loc checked by now (waiting for
 * the stream's mark to pass it).  False once that file is no longer the
 * stream's growing one: whole and a window then, found as a window. */
static bool lend_stream_more(struct tsm_frontend *fe, const struct tsm_chunk_loc *loc,
			     struct lent_window *w)
{
	struct seg_ref seg;

	if (pf_wait(fe, loc, 0, &seg) != 2 || seg.id != w->seg_id)
		return false;
	w->checked = seg.checked;
	return true;
}

int tsm_remote_chunk_map(struct tsm_store *store, const struct tsm_chunk_loc *loc,
			 uint32_t in_chunk, size_t len, int *fd_ret, uint64_t *pos_ret)
{
	struct tsm_remote *r = store->remote;
	struct tsm_frontend *fe = r->fe;
	struct lent_window *w = NULL;
	uint64_t end = loc->offset + loc->stored_size;
	struct timespec now;

	if (loc->codec != TSM_COMPRESSION_NONE || loc->stored_size != loc->size ||
	    in_chunk > loc->size || len > loc->size - in_chunk)
		return -EAGAIN;
	for (size_t i = 0; i < r->nlent && !w; i++)
		if (r->lent[i].pack == loc->pack && r->lent[i].start <= loc->offset &&
		    end <= r->lent[i].end)
			w = &r->lent[i];
	if (w && w->seg_id && end > w->checked && !lend_stream_more(fe, loc, w)) {
		w->pack = 0; /* its descriptor stays open for the reply */
		w = NULL;
	}
	if (!w) {
		if (r->nlent == LENT_MAX || lend_stream(fe, loc, &r->lent[r->nlent]) < 0)
			return -EAGAIN;
		w = &r->lent[r->nlent++];
	}
	if (!w->seg_id) {
		/* Only bytes checked in this file as it is now; and a file due
		 * to be marked recently used goes through cache_get, which
		 * marks it. */
		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec - w->st.st_mtim.tv_sec > 60 ||
		    !(win_checked(fe, loc, &w->st) || checked_has(fe, loc->hash, &w->st)))
			return -EAGAIN;
	}
	atomic_fetch_add(&fe->hits, 1);
	/* A read-ahead window reached: ask for the next, as cache hits do. */
	if (pf_triggered(fe, loc))
		pf_stream(store, fe, loc);
	*fd_ret = w->fd;
	*pos_ret = loc->offset - w->start + in_chunk;
	return 0;
}

void tsm_remote_reads_done(struct tsm_store *store)
{
	struct tsm_remote *r = store->remote;

	if (!r)
		return;
	for (size_t i = 0; i < r->nlent; i++)
		close(r->lent[i].fd);
	r->nlent = 0;
}

/* ---- leases ---------------------------------------------------------------------- */

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
				rc = tsm_pinned_push(&pinned->media_versions, &pinned->nmedia,
						 &pinned->cap_media, v);
		} else if (sscanf(line, "content-version %lld%c", &v, &end) == 1 && v > 0) {
			if (pinned)
				rc = tsm_pinned_push(&pinned->content_versions, &pinned->ncontent,
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

/* A lease counts until @grace after it expires; a grace beyond the end of
 * time (gc --grace takes any that fits 64 bits) keeps it forever instead
 * of wrapping round to long ago. */
static bool lease_live(int64_t now, int64_t expires, int64_t grace)
{
	int64_t until;

	return __builtin_add_overflow(expires, grace, &until) ? grace > 0 : now < until;
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
	if (rc == 0 && w->pinned && lease_live(w->now, lease.expires, w->grace))
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
	if (w->pinned && !lease_live(w->now, lease.expires, w->grace)) {
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
	char end, own[48];
	int rc;

	(void)size;
	(void)mtime;
	if (sscanf(key, "packs/pack-%lld.pac%c", &id, &end) != 2 || end != 'k' || id <= 0)
		return 0; /* not ours: left alone */
	/* Exactly a key pack_key makes: "packs/pack-00000099.pack.keep",
	 * which the pattern alone takes for pack 99, is not ours either. */
	pack_key(id, own);
	if (strcmp(key, own) != 0)
		return 0;
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
	char end, own[64];

	(void)size;
	if (sscanf(key, "catalog/%lld.d%c", &gen, &end) != 2 || end != 'b' || gen < 1 ||
	    gen >= w->current || w->now - mtime < w->grace)
		return 0;
	/* Exactly a key tsm_remote_publish_to makes, nothing that only
	 * starts like one. */
	snprintf(own, sizeof(own), "catalog/%020lld.db", gen);
	if (strcmp(key, own) != 0)
		return 0;
	for (size_t i = 0; i < w->nleases; i++)
		if (w->leases[i].generation == gen &&
		    lease_live(w->now, w->leases[i].expires, w->grace))
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

/* Incomplete multipart uploads (a writer killed during one, an abort
 * that failed) hold their parts' space until aborted: those of our keys
 * started longer than the grace ago are aborted.  A writer's upload in
 * progress is younger than that (a part is tried for seconds, not an
 * hour). */
struct mpu_walk {
	struct tsm_s3 *s3;
	int64_t now, grace;
	uint64_t aborted;
};

static int mpu_visit(void *ctx, const char *key, const char *upload_id, int64_t initiated)
{
	struct mpu_walk *w = ctx;
	int rc;

	if (strncmp(key, "packs/", 6) != 0 && strncmp(key, "catalog/", 8) != 0)
		return 0;
	if (!tsm_s3_key_safe(key))
		return 0; /* not a key this store makes ("packs/./x": no dot segments) */
	if (initiated <= 0 || w->now - initiated < w->grace)
		return 0;
	if ((rc = tsm_s3_upload_abort(w->s3, key, upload_id)) < 0)
		return rc;
	w->aborted++;
	return 0;
}

int tsm_remote_gc(struct tsm_store *store, int64_t grace, struct tsm_gc_result *res)
{
	struct gc_walk w = { .store = store, .now = (int64_t)time(NULL), .grace = grace };
	int rc;

	if (!tsm_remote_is_writer(store))
		return 0;
	if ((rc = tsm_remote_s3(store, &w.s3)) < 0)
		return rc;
	/* Another store's packs under this prefix are not ours to delete. */
	if ((rc = tsm_remote_claim(store, w.s3, false)) < 0)
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
	if (rc == 0) {
		struct mpu_walk mw = { .s3 = w.s3, .now = w.now, .grace = grace };

		rc = tsm_s3_uploads_list(w.s3, "", mpu_visit, &mw);
		if (mw.aborted)
			tsm_info("aborted %llu incomplete uploads older than the grace period on %s",
				 (unsigned long long)mw.aborted, tsm_s3_location(w.s3));
	}
	res->remote_packs_deleted += w.deleted;
	res->remote_packs_waiting += w.now_trash.n;
	free(w.old.ids);
	free(w.old.since);
	free(w.now_trash.ids);
	free(w.now_trash.since);
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
		char key[48], want[48], etag[80];
		uint64_t size;
		struct stat st;
		bool same;
		int fd;

		/* The object's key is the local file's path in the store. */
		pack_key(id, key);
		if ((fd = openat(store->dir_fd, key, O_RDONLY | O_CLOEXEC)) < 0) {
			tsm_error("%s/%s is missing", store->dir, key);
			(*bad_ret)++;
			continue;
		}
		if (fstat(fd, &st) < 0) {
			rc = -errno;
			close(fd);
			break;
		}
		rc = tsm_s3_object_same(s3, key, fd, (uint64_t)st.st_size, &same, want, etag,
					sizeof(etag), &size);
		close(fd);
		(*checked_ret)++;
		if (rc == -ENOENT) {
			tsm_error("%s%s is missing from object storage", tsm_s3_location(s3), key);
			(*bad_ret)++;
			rc = 0;
			continue;
		}
		if (rc < 0)
			break;
		if (!same) {
			tsm_error("%s%s differs from the pack it was uploaded from (%llu bytes, MD5 %s; "
				  "object: %llu bytes, ETag %s): frontends read it as damage",
				  tsm_s3_location(s3), key, (unsigned long long)st.st_size,
				  want[0] ? want : "-", (unsigned long long)size, etag);
			(*bad_ret)++;
		}
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE || rc == 0 ? 0 : rc < 0 ? rc : tsm_db_error(store->db, "listing packs");
}
