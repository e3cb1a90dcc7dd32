/* tsmedia store push: a local store moved to object storage (tsmedia/store.h,
 * docs/scale.md "Moving a store there").
 *
 * The order keeps every step safe to stop and run again:
 *   1. the target is recorded in the catalog (meta remote_push_target), so
 *      that a second run recognises a bucket it published to itself and
 *      any other store's catalog there is refused; the prefix is claimed
 *      (catalog/WRITER, tsm_remote_claim): of two stores pushed to one
 *      prefix at once, one is refused before it uploads anything;
 *   2. under the write lock (no session changes a pack meanwhile), every
 *      pack the catalog names is uploaded unless its object already holds
 *      exactly its bytes (size and ETag, tsm_s3_object_same); each upload
 *      is checked by the service and after it (tsm_s3_put_fd);
 *   3. the catalog is published (catalog/GENERATION.db, then CURRENT);
 *   4. only then the catalog names the bucket (remote_url, ...), in the
 *      same transaction that drops the marker: from the next command on,
 *      the store is a writer on object storage. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/meta.h"
#include "store/remote.h"
#include "store/s3.h"
#include "store/store_internal.h"
#include "tsmedia/log.h"
#include "tsmedia/progress.h"
#include "util/db.h"

#define MARKER "remote_push_target"

/* Refuses a target that holds another store's catalog; records ours. */
static int push_claim(struct tsm_store *store, struct tsm_s3 *s3, const char *target)
{
	char have[2048];
	bool ours = tsm_meta_get(store->db, MARKER, have, sizeof(have)) == 0 &&
		    strcmp(have, target) == 0;
	int rc = tsm_s3_head(s3, "catalog/CURRENT", NULL, NULL);

	if (rc == 0 && !ours) {
		tsm_error("%s already holds a store (catalog/CURRENT): push %s somewhere else",
			  tsm_s3_location(s3), store->dir);
		return -EEXIST;
	}
	if (rc < 0 && rc != -ENOENT)
		return rc;
	if (!ours) {
		char id[33];

		if ((rc = tsm_store_write_begin(store)) < 0)
			return rc;
		if ((rc = tsm_meta_set(store->db, MARKER, target)) < 0 ||
		    (rc = tsm_remote_writer_id(store, true, id)) < 0) {
			tsm_store_write_abort(store);
			return rc;
		}
		if ((rc = tsm_store_write_commit(store)) < 0)
			return rc;
	}
	/* Before any pack goes up: one writer per prefix (of two pushes of
	 * different stores there at once, one is refused here). */
	return tsm_remote_claim(store, s3, false);
}

/* One pack: already there and the same, or uploaded and checked. */
static int push_pack(struct tsm_store *store, struct tsm_s3 *s3, int64_t id,
		     struct tsm_progress *progress, struct tsm_store_push_result *res)
{
	char key[48], want[48], got[80];
	struct stat st;
	uint64_t size;
	bool same;
	int fd, rc;

	tsm_remote_pack_key(id, key);
	if ((fd = openat(store->dir_fd, key, O_RDONLY | O_CLOEXEC)) < 0) {
		rc = -errno;
		tsm_error("%s/%s, which the catalog names, cannot be read: %s (run tsmedia verify)",
			  store->dir, key, strerror(-rc));
		return rc;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out_close;
	}
	rc = tsm_s3_object_same(s3, key, fd, (uint64_t)st.st_size, &same, want, got, sizeof(got),
				&size);
	if (rc == 0 && same) {
		tsm_debug("%s%s is already there (%llu bytes, ETag %s)", tsm_s3_location(s3), key,
			  (unsigned long long)size, got);
		res->present++;
	} else if (rc == 0 || rc == -ENOENT) {
		if (rc == 0)
			tsm_info("%s%s differs from %s/%s (%llu bytes, ETag %s): uploading it again",
				 tsm_s3_location(s3), key, store->dir, key, (unsigned long long)size,
				 got);
		if ((rc = tsm_s3_put_fd(s3, key, fd, (uint64_t)st.st_size)) == 0) {
			res->uploaded++;
			res->bytes_uploaded += (uint64_t)st.st_size;
		}
	}
	if (rc == 0 && progress)
		tsm_progress_add(progress, (uint64_t)st.st_size);
out_close:
	close(fd);
	return rc;
}

static int pack_ids(struct tsm_store *store, int64_t **ids_ret, size_t *n_ret)
{
	sqlite3_stmt *st;
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	int rc;

	if ((rc = tsm_db_prepare(store->db, "SELECT id FROM packs ORDER BY id", &st)) < 0)
		return rc;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (n == cap) {
			size_t c = cap ? 2 * cap : 64;
			int64_t *p = realloc(ids, c * sizeof(*p));

			if (!p) {
				rc = -ENOMEM;
				break;
			}
			ids = p;
			cap = c;
		}
		ids[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		free(ids);
		return rc < 0 ? rc : tsm_db_error(store->db, "listing packs");
	}
	*ids_ret = ids;
	*n_ret = n;
	return 0;
}

static uint64_t packs_bytes(struct tsm_store *store, const int64_t *ids, size_t n)
{
	uint64_t total = 0;

	for (size_t i = 0; i < n; i++) {
		char key[48];
		struct stat st;

		tsm_remote_pack_key(ids[i], key);
		if (fstatat(store->dir_fd, key, &st, 0) == 0)
			total += (uint64_t)st.st_size;
	}
	return total;
}

int tsm_store_push(struct tsm_store *store, const struct tsm_store_push_options *opts,
		   struct tsm_progress *progress, struct tsm_store_push_result *res)
{
	struct tsm_s3_config cfg = { .url = opts->url, .endpoint = opts->endpoint,
				     .region = opts->region };
	struct tsm_s3 *s3 = NULL;
	char *target = NULL;
	int64_t *ids = NULL;
	size_t n = 0;
	int rc;

	memset(res, 0, sizeof(*res));
	if (tsm_remote_is_writer(store) || tsm_remote_is_frontend(store)) {
		tsm_error("%s is already a store on object storage", store->dir);
		return -EINVAL;
	}
	if (!opts->url || !opts->endpoint) {
		tsm_error("store push needs s3://BUCKET[/PREFIX] and --endpoint URL");
		return -EINVAL;
	}
	if ((rc = tsm_s3_new(&cfg, &s3)) < 0)
		return rc;
	if ((rc = tsm_s3_bucket_ensure(s3)) < 0)
		goto out;
	if (asprintf(&target, "%s %s", opts->url, opts->endpoint) < 0) {
		target = NULL;
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = push_claim(store, s3, target)) < 0)
		goto out;
	/* The writers' lock for the rest: no session appends to a pack
	 * while it is compared and uploaded, none commits before the switch.
	 * No transaction yet: the catalog is copied to be published. */
	if ((rc = tsm_store_writers_lock(store)) < 0)
		goto out;
	/* Another push of this store may have finished while this one
	 * waited for the lock: it is a writer on object storage now. */
	{
		char url[2048];

		if (tsm_meta_get(store->db, "remote_url", url, sizeof(url)) == 0) {
			tsm_error("%s was moved to %s by another push meanwhile: nothing to push",
				  store->dir, url);
			rc = -EALREADY;
			goto out_abort;
		}
	}
	if ((rc = pack_ids(store, &ids, &n)) < 0)
		goto out_abort;
	res->packs = n;
	if (progress) {
		progress->total = packs_bytes(store, ids, n);
	}
	for (size_t i = 0; i < n; i++)
		if ((rc = push_pack(store, s3, ids[i], progress, res)) < 0) {
			tsm_error("%s: the push stopped; nothing is switched (run it again to go on)",
				  store->dir);
			goto out_abort;
		}
	if ((rc = tsm_remote_publish_to(store, s3, &res->generation)) < 0)
		goto out_abort;
	if ((rc = tsm_store_write_begin(store)) < 0)
		goto out_abort;
	/* The switch, last: the location as init --s3 records it. */
	if ((rc = tsm_meta_set(store->db, "remote_url", opts->url)) < 0 ||
	    (rc = tsm_meta_set(store->db, "remote_endpoint", opts->endpoint)) < 0 ||
	    (opts->region && (rc = tsm_meta_set(store->db, "remote_region", opts->region)) < 0) ||
	    (rc = tsm_db_exec(store->db, "DELETE FROM meta WHERE key = '" MARKER "'")) < 0)
		goto out_abort;
	rc = tsm_store_write_commit(store);
	goto out;
out_abort:
	tsm_store_write_abort(store);
	tsm_store_writers_unlock(store);
out:
	free(ids);
	free(target);
	tsm_s3_free(s3);
	return rc;
}
