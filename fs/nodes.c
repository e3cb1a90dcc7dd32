/* The mount's files: nodes per volume snapshot, refreshed from the catalog. */
#include "fs.h"
#include "metrics.h"

#include <errno.h>
#include <stdio.h>
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

struct fs_node *fs_node_by_name(struct fs *fs, fuse_ino_t parent, const char *name)
{
	for (struct fs_node *n = fs->nodes; n; n = n->next)
		if (n->current && n->parent == parent && strcmp(n->file_name, name) == 0)
			return n;
	return NULL;
}

static void node_destroy(struct fs_node *n)
{
	tsm_image_unref(n->image);
	fs_snap_unref(n->snap);
	free(n->file_name);
	free(n->media);
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
	fs->versions_dir = NULL;
}

/* A node not yet listed, added to the list under fs->lock. */
static struct fs_node *node_new(struct fs *fs, fuse_ino_t parent, bool is_dir, const char *name,
				const char *media)
{
	struct fs_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->file_name = strdup(name);
	n->media = media ? strdup(media) : NULL;
	if (!n->file_name || (media && !n->media)) {
		free(n->file_name);
		free(n->media);
		free(n);
		return NULL;
	}
	n->ino = fs->next_ino++;
	n->parent = parent;
	n->is_dir = is_dir;
	n->next = fs->nodes;
	fs->nodes = n;
	return n;
}

int fs_versions_dir_create(struct fs *fs)
{
	struct fs_node *n;

	pthread_mutex_lock(&fs->lock);
	n = node_new(fs, FUSE_ROOT_ID, true, "versions", NULL);
	if (n) {
		n->current = true;
		n->holds = 1; /* never retired, never freed before the end */
		fs->versions_dir = n;
	}
	pthread_mutex_unlock(&fs->lock);
	return n ? 0 : -ENOMEM;
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

static void stale_add(struct fs *fs, fuse_ino_t parent, const char *name)
{
	void *p = realloc(fs->stale, (fs->nstale + 1) * sizeof(*fs->stale));

	if (!p)
		return;
	fs->stale = p;
	fs->stale[fs->nstale].parent = parent;
	if ((fs->stale[fs->nstale].name = strdup(name)))
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

/* The nodes under directory @parent that serve media @name's snapshot
 * @key already, held for the publish: found and held in one critical
 * section, so nothing frees them in between.  Under fs->lock.  Keys name
 * version rows, which are never reused; the media name is compared too, as
 * a second guard. */
static int fresh_reuse(struct fs *fs, fuse_ino_t parent, const char *name, const char *key,
		       struct fresh *fresh, struct fs_snap **fsnap_ret)
{
	int rc = 0;

	*fsnap_ret = NULL;
	for (struct fs_node *n = fs->nodes; n && rc == 0; n = n->next) {
		if (n->is_dir || !n->snap || n->parent != parent ||
		    strcmp(n->snap->snap->key, key) != 0 ||
		    strcmp(n->snap->snap->info.def.name, name) != 0)
			continue;
		rc = fresh_hold(fresh, n);
		*fsnap_ret = n->snap;
	}
	return rc;
}

/* On a failed refresh of media @name, keep serving what it served: its
 * file at the root and its versions. */
static int fresh_keep_current(struct fs *fs, const char *name, struct fresh *fresh)
{
	int rc = 0;

	pthread_mutex_lock(&fs->lock);
	for (struct fs_node *n = fs->nodes; n && rc == 0; n = n->next)
		if (n->current && n->media && strcmp(n->media, name) == 0)
			rc = fresh_hold(fresh, n);
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

/* Nodes under directory @parent for @snap's volumes (laid out in @set),
 * each holding a reference to @fsnap.  Under fs->lock. */
static int fresh_add_volumes(struct fs *fs, fuse_ino_t parent, struct tsm_media_snapshot *snap,
			     struct tsm_volume_set *set, struct fresh *fresh, int64_t mtime,
			     struct fs_snap *fsnap)
{
	int rc = 0;

	for (size_t i = 0; i < set->n; i++) {
		struct fs_node *n = node_new(fs, parent, false, set->volumes[i].file_name,
					     snap->info.def.name);

		if (!n)
			return -ENOMEM;
		if ((rc = fresh_hold(fresh, n)) < 0)
			return rc; /* unheld and not current: the next publish frees it */
		n->image = set->volumes[i].image;
		set->volumes[i].image = NULL;
		n->size = tsm_image_size(n->image);
		n->mtime = mtime;
		n->snap = fsnap;
		fsnap->refs++;
		if (fs->metrics) {
			/* Counted by its path on the mount: versions/NAME/N/FILE apart
			 * from the root's FILE. */
			char label[512];

			if (parent == FUSE_ROOT_ID)
				snprintf(label, sizeof(label), "%s", n->file_name);
			else
				snprintf(label, sizeof(label), "versions/%s/%lld/%s",
					 snap->info.def.name, (long long)snap->number, n->file_name);
			n->stats = fs_metrics_file(fs->metrics, label, snap->info.def.name);
		}
	}
	return rc;
}

/* Lays @snap out and wraps it, taking over its pin as the listing pin;
 * @snap is the fs_snap's (or freed) from here on. */
static int fs_snap_layout(struct tsm_store *store, struct tsm_media_snapshot *snap,
			  struct tsm_volume_set **set_ret, struct fs_snap **fsnap_ret)
{
	struct fs_snap *fsnap;
	int rc = tsm_media_layout(store, snap, set_ret);

	if (rc < 0) {
		tsm_warn("media '%s' (snapshot %s) cannot be served: it does not lay out",
			 snap->info.def.name, snap->key);
		tsm_media_snapshot_free(snap);
		return rc;
	}
	if (!(fsnap = calloc(1, sizeof(*fsnap)))) {
		tsm_volume_set_free(*set_ret);
		tsm_media_snapshot_free(snap);
		return -ENOMEM;
	}
	fsnap->snap = snap;
	fsnap->listing_pin = snap->pin;
	snap->pin = NULL;
	fsnap->refs = 1; /* the caller's, until the nodes hold it */
	*fsnap_ret = fsnap;
	return 0;
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
	rc = fresh_reuse(fs, FUSE_ROOT_ID, name, snap->key, fresh, &fsnap);
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
	tsm_info("media '%s': serving version %lld (snapshot %s, versions/%s/%lld)", name,
		 (long long)snap->info.version, snap->key, name, (long long)snap->number);
	if ((rc = fs_snap_layout(store, snap, &set, &fsnap)) < 0)
		return rc;
	pthread_mutex_lock(&fs->lock);
	rc = fresh_add_volumes(fs, FUSE_ROOT_ID, snap, set, fresh, snap->time, fsnap);
	fs_snap_unref(fsnap);
	pthread_mutex_unlock(&fs->lock);
	tsm_volume_set_free(set);
	return rc;
}

/* The directory @name under @parent, made when there is none; held for
 * the publish.  Under fs->lock. */
static int fresh_dir(struct fs *fs, fuse_ino_t parent, const char *name, const char *media,
		     struct fresh *fresh, struct fs_node **dir_ret)
{
	struct fs_node *d = NULL;

	for (struct fs_node *n = fs->nodes; n && !d; n = n->next)
		if (n->is_dir && n->parent == parent && strcmp(n->file_name, name) == 0)
			d = n;
	if (!d && !(d = node_new(fs, parent, true, name, media)))
		return -ENOMEM;
	*dir_ret = d;
	return fresh_hold(fresh, d);
}

/* versions/NAME/N/ for snapshot @number of media @name. */
static int fresh_add_version(struct fs *fs, struct tsm_store *store, const char *name,
			     fuse_ino_t media_dir, int64_t number, struct fresh *fresh)
{
	struct tsm_media_snapshot *snap = NULL;
	struct tsm_volume_set *set = NULL;
	struct fs_snap *fsnap;
	struct fs_node *dir = NULL;
	char dir_name[24];
	bool have = false;
	int rc = 0;

	snprintf(dir_name, sizeof(dir_name), "%lld", (long long)number);
	pthread_mutex_lock(&fs->lock);
	for (struct fs_node *n = fs->nodes; n && !dir; n = n->next)
		if (n->is_dir && n->snap && n->parent == media_dir &&
		    strcmp(n->file_name, dir_name) == 0)
			dir = n;
	if (dir) {
		/* A version directory never changes: hold it and its files. */
		have = dir->snap->listing_pin != NULL;
		rc = fresh_hold(fresh, dir);
		for (struct fs_node *n = fs->nodes; n && rc == 0; n = n->next)
			if (n->parent == dir->ino)
				rc = fresh_hold(fresh, n);
	}
	pthread_mutex_unlock(&fs->lock);
	if (rc < 0 || (dir && have))
		return rc;
	/* New, or listed again after it was not: pinned before it is listed. */
	if ((rc = tsm_media_snapshot_take_number(store, name, number, true, &snap)) < 0)
		return rc;
	if (dir) {
		pthread_mutex_lock(&fs->lock);
		if (!dir->snap->listing_pin) {
			dir->snap->listing_pin = snap->pin;
			snap->pin = NULL;
		}
		pthread_mutex_unlock(&fs->lock);
		tsm_media_snapshot_free(snap);
		return 0;
	}
	if ((rc = fs_snap_layout(store, snap, &set, &fsnap)) < 0)
		return rc;
	pthread_mutex_lock(&fs->lock);
	if (!(dir = node_new(fs, media_dir, true, dir_name, name)) || fresh_hold(fresh, dir) < 0) {
		rc = -ENOMEM;
	} else {
		/* Its time never changes: HTTP validators of a versioned path
		 * (ETag, Last-Modified) stay the same across restarts. */
		dir->mtime = snap->time;
		dir->snap = fsnap;
		fsnap->refs++;
		rc = fresh_add_volumes(fs, dir->ino, snap, set, fresh, snap->time, fsnap);
	}
	fs_snap_unref(fsnap);
	pthread_mutex_unlock(&fs->lock);
	tsm_volume_set_free(set);
	return rc;
}

/* versions/NAME/ and a directory per numbered snapshot the store keeps. */
static int fresh_add_versions(struct fs *fs, struct tsm_store *store, const char *name,
			      struct fresh *fresh)
{
	struct fs_node *media_dir;
	int64_t *numbers = NULL;
	size_t n = 0;
	int rc = tsm_media_snapshot_numbers(store, name, &numbers, &n);

	if (rc < 0 || n == 0) {
		free(numbers);
		return rc;
	}
	pthread_mutex_lock(&fs->lock);
	rc = fresh_dir(fs, fs->versions_dir->ino, name, name, fresh, &media_dir);
	fuse_ino_t media_ino = rc == 0 ? media_dir->ino : 0;
	pthread_mutex_unlock(&fs->lock);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = fresh_add_version(fs, store, name, media_ino, numbers[i], fresh);
	free(numbers);
	return rc;
}

/* Marks the fresh nodes current, retires the rest and lets go of the
 * holds. */
static void publish(struct fs *fs, struct fresh *fresh)
{
	bool changed = false;

	pthread_mutex_lock(&fs->lock);
	for (struct fs_node *n = fs->nodes, *next; n; n = next) {
		bool keep = n == fs->versions_dir;

		next = n->next;
		for (size_t i = 0; i < fresh->n && !keep; i++)
			keep = fresh->nodes[i] == n;
		if (keep && !n->current) {
			/* A new snapshot of a file at the root is newer than the one it
			 * replaces, to the second: HTTP validators (ETag,
			 * Last-Modified) and rsync-like tools must see it changed.
			 * Versioned paths keep their snapshot's time: they never
			 * change. */
			for (struct fs_node *o = fs->nodes; o && n->parent == FUSE_ROOT_ID && !n->is_dir;
			     o = o->next)
				if (o != n && o->parent == FUSE_ROOT_ID &&
				    strcmp(o->file_name, n->file_name) == 0 && n->mtime <= o->mtime)
					n->mtime = o->mtime + 1;
			n->current = true;
			if (!n->is_dir)
				n->snap->ncurrent++;
			changed = true;
			stale_add(fs, n->parent, n->file_name); /* a negative dentry may linger */
		} else if (!keep && n->current) {
			n->current = false;
			/* No longer listed: open handles hold their own pins. */
			if (!n->is_dir && --n->snap->ncurrent == 0) {
				tsm_pin_release(n->snap->listing_pin);
				n->snap->listing_pin = NULL;
			}
			changed = true;
			stale_add(fs, n->parent, n->file_name);
			fs_node_maybe_free(fs, n);
		} else if (!keep) {
			fs_node_maybe_free(fs, n); /* made by a refresh that failed */
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
	fs_metrics_refreshed(fs->metrics);
	for (size_t i = 0; i < n; i++) {
		int err = fresh_add_media(fs, fs->refresh_store, list[i].def.name, &fresh);

		if (err == 0)
			err = fresh_add_versions(fs, fs->refresh_store, list[i].def.name, &fresh);

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
	struct fs_stale *stale;
	size_t n;
	bool dir;

	pthread_mutex_lock(&fs->lock);
	stale = fs->stale;
	n = fs->nstale;
	dir = fs->dir_changed;
	fs->stale = NULL;
	fs->nstale = 0;
	fs->dir_changed = false;
	pthread_mutex_unlock(&fs->lock);
	/* Outside every lock: the kernel may call back into us. */
	for (size_t i = 0; i < n; i++) {
		bool seen = false;

		fuse_lowlevel_notify_inval_entry(fs->se, stale[i].parent, stale[i].name,
						 strlen(stale[i].name));
		for (size_t k = 0; k < i && !seen; k++)
			seen = stale[k].parent == stale[i].parent;
		if (!seen && stale[i].parent != FUSE_ROOT_ID)
			fuse_lowlevel_notify_inval_inode(fs->se, stale[i].parent, 0, 0);
		free(stale[i].name);
	}
	free(stale);
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
		/* A frontend: a new catalog generation is a commit to the
		 * mirror's catalog, which the refresh below sees. */
		if (fs->remote && ticks % 5 == 0) {
			bool changed;

			pthread_mutex_lock(&fs->refresh_lock);
			tsm_frontend_poll(fs->refresh_store, &changed);
			tsm_store_reads_done(fs->refresh_store);
			pthread_mutex_unlock(&fs->refresh_lock);
		}
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
