/* Appending chunk payloads to pack files, and reading them back. */
#include "store/store_internal.h"
#include "store/remote.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/meta.h"
#include "tsmedia/log.h"
#include "util/db.h"

void tsm_pack_name(int64_t pack_id, char buf[32])
{
	snprintf(buf, 32, "pack-%08lld.pack", (long long)pack_id);
}

static int pack_open_at(struct tsm_store *store, int64_t id, int flags, int *fd_ret)
{
	char name[32], rel[48];
	int fd;

	tsm_pack_name(id, name);
	snprintf(rel, sizeof(rel), "packs/%s", name);
	fd = openat(store->dir_fd, rel, flags | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	*fd_ret = fd;
	return 0;
}

static void pack_unlink(struct tsm_store *store, int64_t id)
{
	char name[32], rel[48];

	tsm_pack_name(id, name);
	snprintf(rel, sizeof(rel), "packs/%s", name);
	unlinkat(store->dir_fd, rel, 0);
}

static int touched_add(struct tsm_pack_writer *w, const struct tsm_pack_touched *t)
{
	if (w->n_touched == w->cap_touched) {
		size_t cap = w->cap_touched ? 2 * w->cap_touched : 4;
		void *p = realloc(w->touched, cap * sizeof(*w->touched));

		if (!p)
			return -ENOMEM;
		w->touched = p;
		w->cap_touched = cap;
	}
	w->touched[w->n_touched++] = *t;
	w->current = (int64_t)w->n_touched - 1;
	return 0;
}

/* Continues the newest pack while it is under the target size. */
static int pack_writer_reopen_last(struct tsm_store *store, bool *opened_ret)
{
	struct tsm_pack_touched t = { .created = false };
	struct stat st;
	int64_t last = 0;
	int rc;

	*opened_ret = false;
	if ((rc = tsm_db_int64(store->db, "SELECT max(id) FROM packs", &last)) < 0)
		return rc;
	if (last <= 0)
		return 0;
	rc = pack_open_at(store, last, O_RDWR, &t.fd);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0) {
		tsm_error("%s: cannot open pack %lld: %s", store->dir, (long long)last, strerror(-rc));
		return rc;
	}
	if (fstat(t.fd, &st) < 0 || (uint64_t)st.st_size >= TSM_PACK_TARGET_SIZE) {
		close(t.fd);
		return 0;
	}
	t.id = last;
	t.start_size = (uint64_t)st.st_size;
	if ((rc = touched_add(&store->writer, &t)) < 0) {
		close(t.fd);
		return rc;
	}
	store->writer.size = t.start_size;
	*opened_ret = true;
	return 0;
}

/* The catalog's next_pack_id: a positive decimal number and nothing else
 * (the catalog is a file and may be damaged). */
static int parse_pack_id(struct tsm_store *store, const char *value, int64_t *id_ret)
{
	char *end;
	long long id;

	errno = 0;
	id = strtoll(value, &end, 10);
	if (end == value || *end || errno || id < 1 || id >= INT64_MAX - 1) {
		tsm_error("%s: the catalog's next_pack_id '%s' is not a pack number", store->dir,
			  value);
		return -EIO;
	}
	*id_ret = id;
	return 0;
}

static int pack_writer_create(struct tsm_store *store)
{
	struct tsm_pack_touched t = { .created = true };
	char value[32];
	sqlite3_stmt *stmt;
	int64_t last = 0;
	int rc;

	/* Pack ids are never reused, so a reader's cached descriptor of a pack
	 * gc removed can never be mistaken for a new pack of the same id. */
	if ((rc = tsm_meta_get(store->db, "next_pack_id", value, sizeof(value))) < 0)
		return rc;
	if ((rc = parse_pack_id(store, value, &t.id)) < 0)
		return rc;
	if ((rc = tsm_db_int64(store->db, "SELECT max(id) FROM packs", &last)) < 0)
		return rc;
	if (last < 0 || last >= INT64_MAX - 1) {
		tsm_error("%s: pack id %lld in the catalog is out of range", store->dir,
			  (long long)last);
		return -EIO;
	}
	if (t.id <= last)
		t.id = last + 1;
	snprintf(value, sizeof(value), "%lld", (long long)(t.id + 1));
	if ((rc = tsm_meta_set(store->db, "next_pack_id", value)) < 0)
		return rc;
	/* A file under this name is an orphan of a crashed session (no
	 * catalog row names it), so truncating it loses nothing. */
	rc = pack_open_at(store, t.id, O_RDWR | O_CREAT | O_TRUNC, &t.fd);
	if (rc < 0) {
		tsm_error("%s: cannot create pack %lld: %s", store->dir, (long long)t.id,
			  strerror(-rc));
		return rc;
	}
	if ((rc = tsm_db_prepare(store->db, "INSERT INTO packs(id, created) VALUES(?, ?)",
				 &stmt)) < 0)
		goto out_close;
	sqlite3_bind_int64(stmt, 1, t.id);
	sqlite3_bind_int64(stmt, 2, (int64_t)time(NULL));
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(store->db, "adding a pack");
	sqlite3_finalize(stmt);
	if (rc < 0)
		goto out_close;
	if ((rc = touched_add(&store->writer, &t)) < 0)
		goto out_close;
	store->writer.size = 0;
	return 0;

out_close:
	close(t.fd);
	pack_unlink(store, t.id);
	return rc;
}

static int pack_writer_ready(struct tsm_store *store, size_t len)
{
	struct tsm_pack_writer *w = &store->writer;
	bool opened;
	int rc;

	if (w->current >= 0 && w->size + len <= TSM_PACK_TARGET_SIZE)
		return 0;
	if (w->current < 0 && w->n_touched == 0 && !w->fresh_only) {
		if ((rc = pack_writer_reopen_last(store, &opened)) < 0)
			return rc;
		if (opened && w->size + len <= TSM_PACK_TARGET_SIZE)
			return 0;
	}
	return pack_writer_create(store);
}

int tsm_pack_reserve(struct tsm_store *store, size_t len, struct tsm_pack_write *write_ret)
{
	struct tsm_pack_writer *w = &store->writer;
	struct tsm_pack_touched *t;
	int rc;

	if ((rc = pack_writer_ready(store, len)) < 0)
		return rc;
	t = &w->touched[w->current];
	*write_ret = (struct tsm_pack_write){ .fd = t->fd, .pack = t->id, .offset = w->size,
					      .len = len };
	w->size += len;
	return 0;
}

int tsm_pack_write_at(int fd, struct iovec *iov, int iovcnt, uint64_t offset)
{
	while (iovcnt > 0) {
		ssize_t n = pwritev(fd, iov, iovcnt, (off_t)offset);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		offset += (uint64_t)n;
		while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			iovcnt--;
		}
		if (iovcnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

void tsm_pack_write_report(struct tsm_store *store, int64_t pack, int err)
{
	char name[32];

	tsm_pack_name(pack, name);
	tsm_error("writing %s/packs/%s: %s", store->dir, name, strerror(-err));
}

int tsm_pack_append(struct tsm_store *store, const void *data, size_t len, int64_t *pack_ret,
		    uint64_t *offset_ret)
{
	struct tsm_pack_write pw;
	struct iovec iov = { (void *)data, len };
	int rc;

	if ((rc = tsm_pack_reserve(store, len, &pw)) < 0)
		return rc;
	if ((rc = tsm_pack_write_at(pw.fd, &iov, 1, pw.offset)) < 0) {
		tsm_pack_write_report(store, pw.pack, rc);
		return rc;
	}
	*pack_ret = pw.pack;
	*offset_ret = pw.offset;
	return 0;
}

int tsm_pack_writer_sync(struct tsm_store *store)
{
	struct tsm_pack_writer *w = &store->writer;
	bool created = false;

	for (size_t i = 0; i < w->n_touched; i++) {
		if (fsync(w->touched[i].fd) < 0) {
			int err = errno;
			char name[32];

			tsm_pack_name(w->touched[i].id, name);
			tsm_error("syncing %s/packs/%s: %s", store->dir, name, strerror(err));
			return -err;
		}
		created |= w->touched[i].created;
	}
	if (created) {
		int fd = openat(store->dir_fd, "packs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd >= 0) {
			fsync(fd);
			close(fd);
		}
	}
	return 0;
}

void tsm_pack_writer_rollback(struct tsm_store *store)
{
	struct tsm_pack_writer *w = &store->writer;

	for (size_t i = 0; i < w->n_touched; i++) {
		struct tsm_pack_touched *t = &w->touched[i];
		char name[32];

		tsm_pack_name(t->id, name);
		if (t->created)
			pack_unlink(store, t->id);
		else if (ftruncate(t->fd, (off_t)t->start_size) < 0)
			tsm_warn("%s/packs/%s: cannot cut back to %llu bytes: %s (gc reclaims it)",
				 store->dir, name, (unsigned long long)t->start_size, strerror(errno));
		tsm_pack_cache_forget(store, t->id);
	}
	tsm_pack_writer_reset(store);
}

void tsm_pack_writer_reset(struct tsm_store *store)
{
	struct tsm_pack_writer *w = &store->writer;

	for (size_t i = 0; i < w->n_touched; i++)
		close(w->touched[i].fd);
	w->n_touched = 0;
	w->current = -1;
	w->size = 0;
	w->fresh_only = false;
}

static pthread_mutex_t caches_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tsm_pack_cache *caches;

void tsm_pack_cache_init(struct tsm_pack_cache *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_lock(&caches_lock);
	c->next = caches;
	caches = c;
	c->registered = true;
	pthread_mutex_unlock(&caches_lock);
}

/* Closes @fd now, or once no reply can still read from it. */
static void pack_cache_retire(struct tsm_pack_cache *c, int fd)
{
	if (c->lent) {
		if (c->nretired == c->cap_retired) {
			size_t cap = c->cap_retired ? 2 * c->cap_retired : 8;
			void *p = realloc(c->retired, cap * sizeof(*c->retired));

			if (p) {
				c->retired = p;
				c->cap_retired = cap;
			}
		}
		if (c->nretired < c->cap_retired) {
			c->retired[c->nretired++] = fd;
			return;
		}
	}
	close(fd);
}

static void pack_cache_drop(struct tsm_pack_cache *c, size_t i)
{
	pack_cache_retire(c, c->entries[i].fd);
	c->entries[i] = c->entries[--c->n];
}

static void pack_file_set(struct tsm_store *store, struct tsm_pack_file *pf, const struct stat *st)
{
	tsm_pack_identity_set(&pf->ident, st);
	pf->size = (uint64_t)st->st_size;
	pf->gen = tsm_verified_pack_gen(store->verified, pf->id, st);
}

static int pack_cache_get_locked(struct tsm_store *store, int64_t pack_id,
				 struct tsm_pack_file **pack_ret);

int tsm_pack_cache_get(struct tsm_store *store, int64_t pack_id,
		       const struct tsm_pack_file **pack_ret)
{
	struct tsm_pack_cache *c = &store->packs;
	struct tsm_pack_file *pf = NULL;
	int rc;

	pthread_mutex_lock(&c->lock);
	rc = pack_cache_get_locked(store, pack_id, &pf);
	pthread_mutex_unlock(&c->lock);
	if (rc == 0)
		*pack_ret = pf;
	return rc;
}

static int pack_cache_get_locked(struct tsm_store *store, int64_t pack_id,
				 struct tsm_pack_file **pack_ret)
{
	struct tsm_pack_cache *c = &store->packs;
	struct tsm_pack_file *pf;
	struct stat st;
	int fd, rc;

	c->busy = true;
	c->clock++;
	for (size_t i = 0; i < c->n; i++) {
		pf = &c->entries[i];
		if (pf->id != pack_id)
			continue;
		if (fstat(pf->fd, &st) < 0 || st.st_nlink == 0) {
			/* gc removed or replaced it: let its space go. */
			pack_cache_drop(c, i);
			break;
		}
		if (!tsm_pack_identity_same(&pf->ident, &st))
			pack_file_set(store, pf, &st); /* written to: check again */
		pf->last_use = c->clock;
		*pack_ret = pf;
		return 0;
	}
	rc = pack_open_at(store, pack_id, O_RDONLY, &fd);
	if (rc < 0)
		return rc;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	if (c->n == TSM_PACK_CACHE_MAX) {
		size_t lru = 0;

		for (size_t i = 1; i < c->n; i++)
			if (c->entries[i].last_use < c->entries[lru].last_use)
				lru = i;
		pack_cache_drop(c, lru);
	}
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 8;
		void *p = realloc(c->entries, cap * sizeof(*c->entries));

		if (!p) {
			close(fd);
			return -ENOMEM;
		}
		c->entries = p;
		c->cap = cap;
	}
	pf = &c->entries[c->n++];
	pf->id = pack_id;
	pf->fd = fd;
	pf->last_use = c->clock;
	pack_file_set(store, pf, &st);
	*pack_ret = pf;
	return 0;
}

int tsm_pack_cache_fd(struct tsm_store *store, int64_t pack_id)
{
	const struct tsm_pack_file *pf;
	int rc = tsm_pack_cache_get(store, pack_id, &pf);

	return rc < 0 ? rc : pf->fd;
}

void tsm_pack_cache_forget(struct tsm_store *store, int64_t pack_id)
{
	struct tsm_pack_cache *c = &store->packs;

	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->n; i++) {
		if (c->entries[i].id == pack_id) {
			pack_cache_drop(c, i);
			break;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

void tsm_store_reads_done(struct tsm_store *store)
{
	struct tsm_pack_cache *c = &store->packs;

	tsm_remote_reads_done(store);
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < c->nretired; i++)
		close(c->retired[i]);
	c->nretired = 0;
	c->lent = false;
	c->busy = false;
	pthread_mutex_unlock(&c->lock);
}

int tsm_store_sweep_removed_packs(void)
{
	int closed = 0;

	pthread_mutex_lock(&caches_lock);
	for (struct tsm_pack_cache *c = caches; c; c = c->next) {
		pthread_mutex_lock(&c->lock);
		/* A busy cache's owner may be reading from its descriptors. */
		for (size_t i = 0; !c->busy && i < c->n;) {
			struct stat st;

			if (fstat(c->entries[i].fd, &st) < 0 || st.st_nlink == 0) {
				pack_cache_drop(c, i);
				closed++;
			} else {
				i++;
			}
		}
		pthread_mutex_unlock(&c->lock);
	}
	pthread_mutex_unlock(&caches_lock);
	return closed;
}

void tsm_pack_cache_close(struct tsm_pack_cache *cache)
{
	if (!cache->registered)
		return;
	pthread_mutex_lock(&caches_lock);
	for (struct tsm_pack_cache **p = &caches; *p; p = &(*p)->next) {
		if (*p == cache) {
			*p = cache->next;
			break;
		}
	}
	pthread_mutex_unlock(&caches_lock);
	for (size_t i = 0; i < cache->n; i++)
		close(cache->entries[i].fd);
	for (size_t i = 0; i < cache->nretired; i++)
		close(cache->retired[i]);
	free(cache->entries);
	free(cache->retired);
	pthread_mutex_destroy(&cache->lock);
	memset(cache, 0, sizeof(*cache));
}
