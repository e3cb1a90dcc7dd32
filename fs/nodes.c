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
	if (node->current || node->nlookup || node->nopen)
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

/* Whether nodes serve this snapshot already (keys are unique across
 * media: they start with the media version's row id). */
static bool snapshot_served(struct fs *fs, const char *key)
{
	for (struct fs_node *n = fs->nodes; n; n = n->next)
		if (strcmp(n->snap->snap->key, key) == 0)
			return true;
	return false;
}

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


static int fresh_add_media(struct fs *fs, struct tsm_store *store, const char *name,
			   struct fresh *fresh)
{
	struct tsm_media_snapshot *snap;
	struct tsm_volume_set *set = NULL;
	struct fs_snap *fsnap;
	bool reused = true;
	int rc = tsm_media_snapshot_take(store, name, false, &snap);

	if (rc < 0)
		return rc;
	/* Unchanged media keep their nodes: no layout, no new inode. */
	pthread_mutex_lock(&fs->lock);
	reused = snapshot_served(fs, snap->key);
	pthread_mutex_unlock(&fs->lock);
	if (!reused)
		tsm_info("media '%s': serving version %lld (snapshot %s)", name,
			 (long long)snap->info.version, snap->key);
	if (!reused && (rc = tsm_media_layout(store, snap, &set)) < 0) {
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
	pthread_mutex_lock(&fs->lock);
	if (reused) {
		for (struct fs_node *n = fs->nodes; n && rc == 0; n = n->next)
			if (strcmp(n->snap->snap->key, snap->key) == 0)
				rc = fresh_push(fresh, n);
	} else {
		for (size_t i = 0; i < set->n; i++) {
			struct fs_node *n = calloc(1, sizeof(*n));

			if (!n || fresh_push(fresh, n) < 0) {
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
	}
	if (fsnap->refs == 0) {
		fsnap->refs = 1;
		fs_snap_unref(fsnap);
	}
	pthread_mutex_unlock(&fs->lock);
	tsm_volume_set_free(set);
	return rc;
}

/* Marks the fresh nodes current and retires the rest. */
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
			changed = true;
			stale_add(fs, n->file_name); /* a negative dentry may linger */
		} else if (!keep && n->current) {
			n->current = false;
			changed = true;
			stale_add(fs, n->file_name);
			fs_node_maybe_free(fs, n);
		}
	}
	if (changed) {
		fs->dir_mtime = (int64_t)time(NULL);
		fs->dir_changed = true;
		pthread_cond_signal(&fs->wake);
	}
	pthread_mutex_unlock(&fs->lock);
}

int fs_refresh(struct fs *fs)
{
	struct tsm_media_info *list = NULL;
	struct fresh fresh = { 0 };
	int64_t version;
	size_t n = 0;
	int rc;

	pthread_mutex_lock(&fs->refresh_lock);
	rc = tsm_store_data_version(fs->refresh_store, &version);
	if (rc < 0 || (fs->refreshed_once && version == fs->data_version)) {
		pthread_mutex_unlock(&fs->refresh_lock);
		return rc;
	}
	rc = tsm_media_list(fs->refresh_store, &list, &n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		fresh_add_media(fs, fs->refresh_store, list[i].def.name, &fresh);
	if (rc == 0) {
		publish(fs, &fresh);
		fs->data_version = version;
		fs->refreshed_once = true;
	}
	free(fresh.nodes);
	tsm_media_list_free(list, n);
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
