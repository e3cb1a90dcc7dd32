/* Media definitions in the catalog: saving versions, listing, removing,
 * and taking snapshots. */
#include "tsmedia/media.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/rows.h"
#include "media/media_internal.h"
#include "tsmedia/ts.h"
#include "store/store_internal.h"
#include "tsmedia/image.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

bool tsm_media_name_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 64 || name[0] == '.')
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* ---- snapshots ------------------------------------------------------ */

/* "MEDIA_VERSION_ROW:CONTENT_VERSION_ROW,...": equal keys, equal bytes. */
static int snapshot_make_key(struct tsm_media_snapshot *s)
{
	size_t keylen = 32 + 24 * s->ncontent;
	int pos;

	if (!(s->key = malloc(keylen)))
		return -ENOMEM;
	pos = snprintf(s->key, keylen, "%lld:", (long long)s->info.version_id);
	for (size_t i = 0; i < s->ncontent; i++)
		pos += snprintf(s->key + pos, keylen - (size_t)pos, "%s%lld", i ? "," : "",
				(long long)s->content[i].version_id);
	return 0;
}

/* Resolves each content ID to its current version. */
static int snapshot_resolve(struct tsm_store *store, struct tsm_media_snapshot *s)
{
	int rc = 0;

	s->content = calloc(s->info.def.ncontent + 1, sizeof(*s->content));
	if (!s->content)
		return -ENOMEM;
	for (size_t i = 0; i < s->info.def.ncontent; i++) {
		struct tsm_content_item item;
		const struct tsm_content_version *cur = NULL;

		if ((rc = tsm_content_get(store, s->info.def.content[i], &item)) < 0) {
			tsm_error("media '%s' uses content %s, which is gone", s->info.def.name,
				  s->info.def.content[i]);
			return rc;
		}
		for (size_t k = item.nversions; k-- > 0;)
			if (!item.versions[k].removed) {
				cur = &item.versions[k];
				break;
			}
		if (!cur) {
			tsm_content_item_clear(&item);
			return -ENOENT;
		}
		snprintf(s->content[i].id, sizeof(s->content[i].id), "%s", item.id);
		s->content[i].version = cur->version;
		s->content[i].version_id = cur->row_id;
		if (cur->created > s->time)
			s->time = cur->created;
		tsm_content_item_clear(&item);
	}
	s->ncontent = s->info.def.ncontent;
	if (s->info.created > s->time)
		s->time = s->info.created;
	return snapshot_make_key(s);
}

/* The number of the newest recorded snapshot when it is @s. */
static int snapshot_find_number(struct tsm_store *store, struct tsm_media_snapshot *s)
{
	struct tsm_snapshot_row row;
	int64_t *numbers;
	size_t n;
	bool same;
	int rc = tsm_media_snapshot_numbers_get(store, s->info.def.name, &numbers, &n);

	if (rc < 0 || n == 0) {
		free(numbers);
		return rc;
	}
	rc = tsm_media_snapshot_row_get(store, s->info.def.name, numbers[n - 1], &row);
	if (rc == 0) {
		same = row.media_version_id == s->info.version_id && row.ncontent == s->ncontent;
		for (size_t i = 0; same && i < s->ncontent; i++)
			same = row.content[i].version_id == s->content[i].version_id;
		if (same)
			s->number = row.number;
		tsm_snapshot_row_clear(&row);
	}
	free(numbers);
	return rc;
}

int tsm_media_snapshot_pin(struct tsm_store *store, const struct tsm_media_snapshot *snap,
			   struct tsm_pin **pin_ret)
{
	struct tsm_pin_ref *refs = calloc(snap->ncontent + 1, sizeof(*refs));
	bool alive = false;
	int rc;

	if (!refs)
		return -ENOMEM;
	if ((rc = tsm_store_read_begin(store)) < 0)
		goto out_free;
	/* Still there?  gc removes a version only when no pin holds it. */
	rc = tsm_media_version_row_exists(store, snap->info.version_id, &alive);
	if (rc == 0 && !alive)
		rc = -ESTALE;
	for (size_t i = 0; rc == 0 && i < snap->ncontent; i++) {
		rc = tsm_content_version_row_exists(store, snap->content[i].version_id, &alive);
		if (rc == 0 && !alive)
			rc = -ESTALE;
	}
	if (rc == 0) {
		refs[0] = (struct tsm_pin_ref){ TSM_PIN_MEDIA_VERSION, snap->info.version_id };
		for (size_t i = 0; i < snap->ncontent; i++)
			refs[i + 1] = (struct tsm_pin_ref){ TSM_PIN_CONTENT_VERSION,
							    snap->content[i].version_id };
		rc = tsm_pin_create(store, refs, snap->ncontent + 1, pin_ret);
	}
	tsm_store_read_end(store);
out_free:
	free(refs);
	return rc;
}

int tsm_media_snapshot_take(struct tsm_store *store, const char *name, bool pin,
			    struct tsm_media_snapshot **snap_ret)
{
	struct tsm_media_snapshot *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	/* One read session: the definition, the content versions and the pin
	 * all come from one catalog snapshot, with gc held off. */
	if ((rc = tsm_store_read_begin(store)) < 0) {
		free(s);
		return rc;
	}
	rc = tsm_media_row_get(store, name, &s->info);
	if (rc == 0)
		rc = snapshot_resolve(store, s);
	if (rc == 0)
		rc = snapshot_find_number(store, s);
	if (rc == 0 && pin)
		rc = tsm_media_snapshot_pin(store, s, &s->pin);
	tsm_store_read_end(store);
	if (rc < 0) {
		tsm_media_snapshot_free(s);
		return rc;
	}
	*snap_ret = s;
	return 0;
}

int tsm_media_snapshot_numbers(struct tsm_store *store, const char *name,
			       int64_t **numbers_ret, size_t *n_ret)
{
	int rc = tsm_store_read_begin(store);

	if (rc < 0)
		return rc;
	rc = tsm_media_snapshot_numbers_get(store, name, numbers_ret, n_ret);
	tsm_store_read_end(store);
	return rc;
}

int tsm_media_snapshot_take_number(struct tsm_store *store, const char *name, int64_t number,
				   bool pin, struct tsm_media_snapshot **snap_ret)
{
	struct tsm_media_snapshot *s = calloc(1, sizeof(*s));
	struct tsm_snapshot_row row = { 0 };
	int rc;

	if (!s)
		return -ENOMEM;
	if ((rc = tsm_store_read_begin(store)) < 0) {
		free(s);
		return rc;
	}
	rc = tsm_media_snapshot_row_get(store, name, number, &row);
	if (rc == 0)
		rc = tsm_media_row_get_version(store, name, row.media_version_id, &s->info);
	if (rc == 0 && row.ncontent != s->info.def.ncontent) {
		tsm_error("media '%s' version %lld: %zu content versions recorded for %zu IDs",
			  name, (long long)number, row.ncontent, s->info.def.ncontent);
		rc = -EIO;
	}
	if (rc == 0 && !(s->content = calloc(row.ncontent + 1, sizeof(*s->content))))
		rc = -ENOMEM;
	for (size_t i = 0; rc == 0 && i < row.ncontent; i++) {
		snprintf(s->content[i].id, sizeof(s->content[i].id), "%s", row.content[i].id);
		s->content[i].version = row.content[i].version;
		s->content[i].version_id = row.content[i].version_id;
		if (row.content[i].created > s->time)
			s->time = row.content[i].created;
	}
	if (rc == 0) {
		s->ncontent = row.ncontent;
		s->number = number;
		if (s->info.created > s->time)
			s->time = s->info.created;
		rc = snapshot_make_key(s);
	}
	if (rc == 0 && pin)
		rc = tsm_media_snapshot_pin(store, s, &s->pin);
	tsm_store_read_end(store);
	tsm_snapshot_row_clear(&row);
	if (rc < 0) {
		tsm_media_snapshot_free(s);
		return rc;
	}
	*snap_ret = s;
	return 0;
}

void tsm_media_snapshot_free(struct tsm_media_snapshot *snap)
{
	if (!snap)
		return;
	tsm_pin_release(snap->pin);
	tsm_media_info_clear(&snap->info);
	free(snap->content);
	free(snap->key);
	free(snap);
}

/* ---- saving and removing -------------------------------------------- */

static int media_check_def(struct tsm_store *store, const struct tsm_media_def *d)
{
	int rc;

	if (!tsm_media_name_valid(d->name)) {
		tsm_error("invalid media name '%s': 1 to 64 of A-Z a-z 0-9 . _ -, not starting"
			  " with '.'", d->name);
		return -EINVAL;
	}
	/* Data media: only that no task sequence media option was given. */
	if ((rc = tsm_media_check_rules(store, d)) < 0 || d->type != TSM_MEDIA_DATA)
		return rc;
	if (d->ncontent == 0) {
		tsm_error("media '%s' has no content: give --content ID[,ID...]", d->name);
		return -EINVAL;
	}
	for (size_t i = 0; i < d->ncontent; i++) {
		struct tsm_content_item item;

		if ((rc = tsm_content_get(store, d->content[i], &item)) < 0)
			return rc;
		tsm_content_item_clear(&item);
	}
	return 0;
}

/* Lays the new version out once, inside the write transaction, so a
 * definition that cannot be composed (two items with the same file, a boot
 * file that is not on the media) is refused before it is committed. */
static int media_try_layout(struct tsm_store *store, const char *name)
{
	struct tsm_media_snapshot *snap;
	struct tsm_volume_set *set;
	int rc = tsm_media_snapshot_take(store, name, false, &snap);

	if (rc < 0)
		return rc;
	rc = tsm_media_layout(store, snap, &set);
	if (rc == 0)
		tsm_volume_set_free(set);
	tsm_media_snapshot_free(snap);
	return rc;
}

/* Adds @id to the content list unless it is there already. */
static int content_list_add(struct tsm_media_def *d, const char *id)
{
	void *p;

	if (!id)
		return 0;
	for (size_t i = 0; i < d->ncontent; i++)
		if (strcmp(d->content[i], id) == 0)
			return 0;
	if (!(p = realloc(d->content, (d->ncontent + 1) * sizeof(*d->content))))
		return -ENOMEM;
	d->content = p;
	return (d->content[d->ncontent++] = strdup(id)) ? 0 : -ENOMEM;
}

/* What task sequence media carries, fixed at definition time so the
 * rendered policy and the content agree: the boot image first, then the
 * prestart files, the OS image, the task sequence's packages in the order
 * its steps use them, its applications' contents, and the content named on
 * the command line. */
static int media_ts_content(struct tsm_store *store, struct tsm_media_def *d)
{
	struct tsm_ts_info ts = { 0 };
	int rc = 0;

	for (size_t i = 0; i < d->ncontent; i++)
		free(d->content[i]);
	d->ncontent = 0;
	if (d->task_sequence && (rc = tsm_ts_get(store, d->task_sequence, &ts)) < 0)
		return rc;
	if (!d->boot_image && ts.boot_image)
		d->boot_image = strdup(ts.boot_image);
	if ((rc = content_list_add(d, d->boot_image)) == 0 &&
	    (rc = content_list_add(d, d->prestart_files)) == 0)
		rc = content_list_add(d, d->os_image);
	if (d->type == TSM_MEDIA_STANDALONE || d->type == TSM_MEDIA_PRESTAGED) {
		struct tsm_media_apps apps;
		int problems;

		for (size_t i = 0; rc == 0 && i < ts.npackages; i++)
			rc = content_list_add(d, ts.packages[i]);
		/* Then the applications' contents (and their dependencies'), each once. */
		if (rc == 0 && (rc = tsm_media_apps_resolve(store, d, &apps, &problems)) == 0) {
			for (size_t i = 0; rc == 0 && i < apps.ncontents; i++)
				rc = content_list_add(d, apps.contents[i]);
			tsm_media_apps_clear(&apps);
		}
	}
	for (size_t i = 0; rc == 0 && i < d->nextra_content; i++)
		rc = content_list_add(d, d->extra_content[i]);
	tsm_ts_info_clear(&ts);
	return rc;
}

int tsm_media_save(struct tsm_store *store, struct tsm_media_def *d, bool edit,
		   int64_t *version_ret)
{
	int64_t row, prev_row = 0;
	int rc = media_check_def(store, d);
	bool ts_media = d->type != TSM_MEDIA_DATA;

	if (rc < 0)
		return rc;
	if (ts_media) {
		if ((rc = media_ts_content(store, d)) < 0)
			return rc;
		if (!d->media_guid && (rc = tsm_media_new_guid(&d->media_guid)) < 0)
			return rc;
		if (!d->keep_protection)
			d->password_protected = d->password != NULL;
	}
	if ((rc = tsm_store_write_begin(store)) < 0)
		return rc;
	/* An edit renders from what the version it replaces holds (its certificate). */
	if (edit && ts_media) {
		struct tsm_media_info prev;

		if (tsm_media_row_get(store, d->name, &prev) == 0) {
			prev_row = prev.version_id;
			tsm_media_info_clear(&prev);
		}
	}
	if ((rc = tsm_media_rows_insert_version(store, d, edit, version_ret, &row)) < 0 ||
	    (ts_media && (rc = tsm_media_render(store, row, prev_row, d)) < 0) ||
	    (rc = tsm_media_options_save(store, row, d)) < 0 ||
	    (ts_media && (rc = tsm_media_rows_insert_refs(store, row, d)) < 0) ||
	    (rc = tsm_media_rows_insert_content(store, row, d)) < 0 ||
	    (rc = media_try_layout(store, d->name)) < 0 ||
	    (rc = tsm_media_snapshots_record(store)) < 0) {
		tsm_store_write_abort(store);
		return rc;
	}
	if ((rc = tsm_store_write_commit(store)) < 0)
		return rc;
	if (ts_media && d->type != TSM_MEDIA_CAPTURE && !d->password_protected)
		tsm_warn("media '%s' has no password: %s", d->name, _(tsm_media_exposure(d)));
	return 0;
}

