/* The mount's files: nodes per volume snapshot, refreshed from the catalog. */
#include "fs.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tsmedia/image.h"
#include "tsmedia/log.h"
#include "tsmedia/media.h"
#include "tsmedia/store.h"

static void fs_snap_unref(struct fs_snap *s)
{
	if (s && --s->refs == 0) {
		tsm_pin_release(s->listing_pin);
		tsm_media_snapshot_free(s->snap);
		free(s);
	}
}

struct fs_node *fs_node_by_ino(struct fs *fs, fuse_ino_t ino)
{
	for (struct fs_node *n = fs->nodes; n; n = n->next)
		if (n->ino == ino)
			return n;
	return NULL;
}

struct fs_node *fs_node_by_name(struct fs *fs, const char *name)
{
	for (struct fs_node *n = fs->nodes; n; n = n->next)
		if (n->current && strcmp(n->file_name, name) == 0)
			return n;
	return NULL;
}

static void node_destroy(struct fs_node *n)
{
	tsm_image_unref(n->image);
	fs_snap_unref(n->snap);
	free(n->file_name);
	free(n);
}

void fs_node_maybe_free(struct fs *fs, struct fs_node *node)
{
	if (node->current || node->nlookup || node->nopen || node->holds)
		return;
	for (struct fs_node **p = &fs->nodes; *p; p = &(*p)->next) {
		if (*p == node) {
			*p = node->next;
			node_destroy(node);
			return;
		}
	}
}

void fs_nodes_free_all(struct fs *fs)
{
	while (fs->nodes) {
		struct fs_node *n = fs->nodes;

		fs->nodes = n->next;
		node_destroy(n);
	}
}

/* New nodes for what the catalog defines now (built outside fs->lock). */
struct fresh {
	struct fs_node **nodes;
	size_t n;
};

static int fresh_push(struct fresh *fresh, struct fs_node *n)
{
	void *p = realloc(fresh->nodes, (fresh->n + 1) * sizeof(*fresh->nodes));

	if (!p)
		return -ENOMEM;
	fresh->nodes = p;
	fresh->nodes[fresh->n++] = n;
	return 0;
}

static void stale_add(struct fs *fs, const char *name)
{
	void *p = realloc(fs->stale_names, (fs->nstale + 1) * sizeof(*fs->stale_names));

	if (!p)
		return;
	fs->stale_names = p;
	if ((fs->stale_names[fs->nstale] = strdup(name)))
		fs->nstale++;
}


/* Adds @n to the nodes the running refresh publishes, held so that no
 * release or forget frees it before then.  Under fs->lock. */
static int fresh_hold(struct fresh *fresh, struct fs_node *n)
{
	int rc = fresh_push(fresh, n);

	if (rc == 0)
		n->holds++;
	return rc;
}

/* The nodes that serve media @name's snapshot @key already, held for the
 * publish: found and held in one critical section, so nothing frees them
 * in between.  Under fs->lock.  Keys name version rows, which are never
 * reused; the media name is compared too, as a second guard. */
static int fresh_reuse(struct fs *fs, const char *name, const char *key, struct fresh *fresh,
		       struct fs_snap **fsnap_ret)
{
	int rc = 0;

	*fsnap_ret = NULL;
	for (struct fs_node *n = fs->nodes; n && rc == 0; n = n->next) {
		if (strcmp(n->snap->snap->key, key) != 0 ||
		    strcmp(n->snap->snap->info.def.name, name) != 0)
			continue;
		rc = fresh_hold(fresh, n);
		*fsnap_ret = n->snap;
	}
	return rc;
}

/* On a failed refresh of media @name, keep serving what it served. */
static int fresh_keep_current(struct fs *fs, const char *name, struct fresh *fresh)
{
	int rc = 0;

	pthread_mutex_lock(&fs->lock);
	for (struct fs_node *n = fs->nodes; n && rc == 0; n = n->next)
		if (n->current && strcmp(n->snap->snap->info.def.name, name) == 0)
			rc = fresh_hold(fresh, n);
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

static int fresh_add_media(struct fs *fs, struct tsm_store *store, const char *name,
			   struct fresh *fresh)
{
	struct tsm_media_snapshot *snap;
	struct tsm_volume_set *set = NULL;
	struct fs_snap *fsnap;
	/* Pinned from here on: gc cannot drop a version between taking the
	 * snapshot, laying it out and listing it. */
	int rc = tsm_media_snapshot_take(store, name, true, &snap);

	if (rc < 0)
		return rc;
	/* Unchanged media keep their nodes: no layout, no new inode. */
	pthread_mutex_lock(&fs->lock);
	rc = fresh_reuse(fs, name, snap->key, fresh, &fsnap);
	if (fsnap && !fsnap->listing_pin) {
		/* Named again after it was not (an older version came back). */
		fsnap->listing_pin = snap->pin;
		snap->pin = NULL;
	}
	pthread_mutex_unlock(&fs->lock);
	if (fsnap || rc < 0) {
		tsm_media_snapshot_free(snap);
		return rc;
	}
	tsm_info("media '%s': serving version %lld (snapshot %s)", name,
		 (long long)snap->info.version, snap->key);
	if ((rc = tsm_media_layout(store, snap, &set)) < 0) {
		tsm_warn("media '%s' cannot be served: it does not lay out", name);
		tsm_media_snapshot_free(snap);
		return rc;
	}
	if (!(fsnap = calloc(1, sizeof(*fsnap)))) {
		tsm_volume_set_free(set);
		tsm_media_snapshot_free(snap);
		return -ENOMEM;
	}
	fsnap->snap = snap;
	fsnap->listing_pin = snap->pin;
	snap->pin = NULL;
	fsnap->refs = 1; /* ours, until the nodes hold it */
	pthread_mutex_lock(&fs->lock);
	for (size_t i = 0; i < set->n; i++) {
		struct fs_node *n = calloc(1, sizeof(*n));

		if (!n || fresh_hold(fresh, n) < 0) {
			free(n);
			rc = -ENOMEM;
			break;
		}
		n->ino = fs->next_ino++;
		n->file_name = set->volumes[i].file_name;
		set->volumes[i].file_name = NULL;
		n->image = set->volumes[i].image;
		set->volumes[i].image = NULL;
		n->size = tsm_image_size(n->image);
		n->mtime = snap->time;
		n->snap = fsnap;
		fsnap->refs++;
		n->next = fs->nodes;
		fs->nodes = n;
	}
	fs_snap_unref(fsnap);
	pthread_mutex_unlock(&fs->lock);
	tsm_volume_set_free(set);
	return rc;
}

/* Marks the fresh nodes current, retires the rest and lets go of the
 * holds. */
static void publish(struct fs *fs, struct fresh *fresh)
{
	bool changed = false;

	pthread_mutex_lock(&fs->lock);
	for (struct fs_node *n = fs->nodes, *next; n; n = next) {
		bool keep = false;

		next = n->next;
		for (size_t i = 0; i < fresh->n && !keep; i++)
			keep = fresh->nodes[i] == n;
		if (keep && !n->current) {
			/* A new snapshot of a file is newer than the one it replaces,
			 * to the second: HTTP validators (ETag, Last-Modified) and
			 * rsync-like tools must see it changed. */
			for (struct fs_node *o = fs->nodes; o; o = o->next)
				if (o != n && strcmp(o->file_name, n->file_name) == 0 &&
				    n->mtime <= o->mtime)
					n->mtime = o->mtime + 1;
			n->current = true;
			n->snap->ncurrent++;
			changed = true;
			stale_add(fs, n->file_name); /* a negative dentry may linger */
		} else if (!keep && n->current) {
			n->current = false;
			/* No longer listed: open handles hold their own pins. */
			if (--n->snap->ncurrent == 0) {
				tsm_pin_release(n->snap->listing_pin);
				n->snap->listing_pin = NULL;
			}
			changed = true;
			stale_add(fs, n->file_name);
			fs_node_maybe_free(fs, n);
		}
	}
	for (size_t i = 0; i < fresh->n; i++) {
		fresh->nodes[i]->holds--;
		fs_node_maybe_free(fs, fresh->nodes[i]);
	}
	if (changed) {
		fs->dir_mtime = (int64_t)time(NULL);
		fs->dir_changed = true;
		pthread_cond_signal(&fs->wake);
	}
	pthread_mutex_unlock(&fs->lock);
}

static int64_t monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

#define RETRY_FIRST_MS 200
#define RETRY_MAX_MS 30000

int fs_refresh(struct fs *fs)
{
	struct tsm_media_info *list = NULL;
	struct fresh fresh = { 0 };
	int64_t version;
	size_t n = 0, failed = 0;
	int rc;

	pthread_mutex_lock(&fs->refresh_lock);
	rc = tsm_store_data_version(fs->refresh_store, &version);
	if (rc < 0)
		goto out_unlock;
	/* data_version moves when another connection commits.  A catalog that
	 * could not be served whole is not marked seen: it is read again, at
	 * once if it changes, else at the retry time. */
	if (fs->refreshed_once && version == fs->data_version)
		goto out_unlock;
	if (fs->retry_pending && version == fs->retry_version && monotonic_ms() < fs->retry_at_ms)
		goto out_unlock;
	if ((rc = tsm_media_list(fs->refresh_store, &list, &n)) < 0)
		goto out_unlock;
	for (size_t i = 0; i < n; i++) {
		int err = fresh_add_media(fs, fs->refresh_store, list[i].def.name, &fresh);

		if (err < 0) {
			failed++;
			tsm_warn("media '%s': not refreshed (%s); trying again", list[i].def.name,
				 strerror(-err));
			if (fresh_keep_current(fs, list[i].def.name, &fresh) < 0)
				rc = -ENOMEM;
		}
	}
	publish(fs, &fresh);
	if (failed || rc < 0) {
		fs->retry_delay_ms = fs->retry_delay_ms ? fs->retry_delay_ms * 2 : RETRY_FIRST_MS;
		if (fs->retry_delay_ms > RETRY_MAX_MS)
			fs->retry_delay_ms = RETRY_MAX_MS;
		fs->retry_at_ms = monotonic_ms() + fs->retry_delay_ms;
		fs->retry_version = version;
		fs->retry_pending = true;
	} else {
		fs->retry_pending = false;
		fs->retry_delay_ms = 0;
		fs->data_version = version;
		fs->refreshed_once = true;
	}
out_unlock:
	free(fresh.nodes);
	tsm_media_list_free(list, n);
	tsm_store_reads_done(fs->refresh_store);
	pthread_mutex_unlock(&fs->refresh_lock);
	return rc;
}

static void send_invalidations(struct fs *fs)
{
	char **names;
	size_t n;
	bool dir;

	pthread_mutex_lock(&fs->lock);
	names = fs->stale_names;
	n = fs->nstale;
	dir = fs->dir_changed;
	fs->stale_names = NULL;
	fs->nstale = 0;
	fs->dir_changed = false;
	pthread_mutex_unlock(&fs->lock);
	/* Outside every lock: the kernel may call back into us. */
	for (size_t i = 0; i < n; i++) {
		fuse_lowlevel_notify_inval_entry(fs->se, FUSE_ROOT_ID, names[i], strlen(names[i]));
		free(names[i]);
	}
	free(names);
	if (dir)
		fuse_lowlevel_notify_inval_inode(fs->se, FUSE_ROOT_ID, 0, 0);
}

static void *watcher_main(void *arg)
{
	struct fs *fs = arg;
	unsigned ticks = 0;

	pthread_mutex_lock(&fs->lock);
	while (!fs->stopping) {
		struct timespec until;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 200 * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&fs->wake, &fs->lock, &until);
		if (fs->stopping)
			break;
		pthread_mutex_unlock(&fs->lock);
		fs_refresh(fs);
		send_invalidations(fs);
		/* Once a second: let go of packs gc removed, also in worker
		 * threads that have not read since. */
		if (++ticks % 5 == 0)
			tsm_store_sweep_removed_packs();
		pthread_mutex_lock(&fs->lock);
	}
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

int fs_watcher_start(struct fs *fs)
{
	return -pthread_create(&fs->watcher, NULL, watcher_main, fs);
}

void fs_watcher_stop(struct fs *fs)
{
	pthread_mutex_lock(&fs->lock);
	fs->stopping = true;
	pthread_cond_signal(&fs->wake);
	pthread_mutex_unlock(&fs->lock);
	pthread_join(fs->watcher, NULL);
}
