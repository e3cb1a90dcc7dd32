/* Volume trees from the catalog: compose reads content versions (files,
 * Windows metadata, WIM facts) and hands the format writers in core/image/
 * trees and specs that say nothing of where they came from. */
#include "tsmedia/media.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/rows.h"
#include "media/media_internal.h"
#include "tsmedia/log.h"
#include "tsmedia/tree.h"
#include "tsmedia/wim.h"

int tsm_tree_add_content(struct tsm_tree *tree, struct tsm_store *store, const char *id,
			 int64_t version, const char *prefix)
{
	struct tsm_tree_entry *entries;
	size_t n;
	int rc = tsm_content_tree(store, id, version, &entries, &n);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *path;

		if (asprintf(&path, "%s%s%s", prefix, *prefix ? "/" : "", entries[i].path) < 0) {
			rc = -ENOMEM;
			break;
		}
		rc = tsm_tree_add(tree, path, &entries[i], NULL);
		free(path);
	}
	tsm_tree_entries_free(entries, n);
	return rc;
}

int tsm_media_wim_layout(struct tsm_store *store, struct tsm_wim_options *o,
			 struct tsm_image ***parts_ret, size_t *nparts_ret)
{
	struct tsm_blob_sha1s *sha1s;
	int rc = tsm_blob_sha1s_new(store, &sha1s);

	if (rc < 0)
		return rc;
	o->blob_sha1 = tsm_blob_sha1s_get;
	o->blob_sha1_ctx = sha1s;
	rc = tsm_wim_layout(o, parts_ret, nparts_ret);
	o->blob_sha1 = NULL;
	o->blob_sha1_ctx = NULL;
	tsm_blob_sha1s_free(sha1s);
	return rc;
}

static char *meta_string(struct tsm_store *store, const char *id, int64_t version,
			 const char *key)
{
	void *v = NULL;
	size_t len;

	if (tsm_content_meta(store, id, version, key, &v, &len) < 0)
		return NULL;
	return v;
}

int tsm_wim_layout_content(struct tsm_store *store, const char *id, int64_t version_row,
			   const struct tsm_wim_content_options *co, struct tsm_image ***parts_ret,
			   size_t *nparts_ret)
{
	struct tsm_content_item item;
	struct tsm_win_meta_set *meta = NULL;
	struct tsm_wim_image_spec *specs = NULL;
	struct tsm_tree **trees = NULL;
	struct tsm_tree_entry *entries = NULL;
	size_t nentries = 0;
	char **strings = NULL;
	size_t nstrings = 0;
	int64_t version = 0;
	int count = 1, boot = 0, first, last, rc;
	bool indexed = false;
	char *s;

	if ((rc = tsm_content_get(store, id, &item)) < 0)
		return rc;
	for (size_t i = 0; i < item.nversions; i++)
		if (item.versions[i].row_id == version_row)
			version = item.versions[i].version;
	if (!version) {
		tsm_error("content %s has no version row %lld", item.id, (long long)version_row);
		tsm_content_item_clear(&item);
		return -ENOENT;
	}
	if ((s = meta_string(store, id, version, "wim.images"))) {
		count = atoi(s);
		free(s);
	}
	if ((s = meta_string(store, id, version, "wim.layout"))) {
		indexed = strcmp(s, "indexed") == 0;
		free(s);
	}
	if ((s = meta_string(store, id, version, "wim.boot_index"))) {
		boot = atoi(s);
		free(s);
	}
	if (count < 1 || (!indexed && count != 1)) {
		tsm_error("content %s: its WIM facts are inconsistent (%d images)", item.id, count);
		rc = -EINVAL;
		goto out;
	}
	if (co->index < 0 || co->index > count) {
		tsm_error("content %s holds %d image%s, not image %d", item.id, count,
			  count == 1 ? "" : "s", co->index);
		rc = -EINVAL;
		goto out;
	}
	first = co->index ? co->index : 1;
	last = co->index ? co->index : count;
	if (boot < first || boot > last)
		boot = 0;
	else
		boot = boot - first + 1;
	if ((rc = tsm_win_meta_load(store, version_row, &meta)) < 0 ||
	    (rc = tsm_content_tree(store, id, version, &entries, &nentries)) < 0)
		goto out;
	specs = calloc((size_t)(last - first + 1), sizeof(*specs));
	trees = calloc((size_t)(last - first + 1), sizeof(*trees));
	strings = calloc((size_t)(last - first + 1) * 8, sizeof(*strings));
	if (!specs || !trees || !strings) {
		rc = -ENOMEM;
		goto out;
	}
	for (int k = first; k <= last; k++) {
		struct tsm_wim_image_spec *sp = &specs[k - first];
		char prefix[16], key[64];
		static const char *const props[] = { "name", "description", "display_name",
						     "display_description", "flags", "windows" };
		const char **dst[] = { &sp->name, &sp->description, &sp->display_name,
				       &sp->display_description, &sp->flags, &sp->windows_xml };

		snprintf(prefix, sizeof(prefix), "%d", k);
		if ((rc = tsm_tree_new(&trees[k - first])) < 0)
			goto out;
		sp->tree = trees[k - first];
		if (indexed)
			sp->meta_prefix = strings[nstrings++] = strdup(prefix);
		/* Image k is the whole tree, or the subtree "k/" as its root. */
		for (size_t i = 0; i < nentries; i++) {
			const char *path = entries[i].path;
			size_t plen = strlen(prefix);

			if (indexed) {
				if (strncmp(path, prefix, plen) != 0 || (path[plen] && path[plen] != '/'))
					continue;
				if (!path[plen]) {
					sp->tree->root->mtime_ns = entries[i].mtime_ns;
					sp->tree->root->attributes = entries[i].attributes;
					sp->tree->root->mode = entries[i].mode;
					continue;
				}
				path += plen + 1;
			}
			if ((rc = tsm_tree_add(sp->tree, path, &entries[i], NULL)) < 0)
				goto out;
		}
		sp->meta = meta;
		for (size_t p = 0; p < sizeof(props) / sizeof(props[0]); p++) {
			snprintf(key, sizeof(key), "wim.image.%d.%s", k, props[p]);
			*dst[p] = strings[nstrings++] = meta_string(store, id, version, key);
		}
		if (!sp->name) {
			char name[300];

			if (last > first)
				snprintf(name, sizeof(name), "%s %d", item.name, k);
			else
				snprintf(name, sizeof(name), "%s", item.name);
			sp->name = strings[nstrings++] = strdup(name);
		}
	}
	{
		struct tsm_wim_options o = { .images = specs, .nimages = (size_t)(last - first + 1),
					     .boot_index = (unsigned)boot,
					     .part_size = co->part_size };

		rc = tsm_media_wim_layout(store, &o, parts_ret, nparts_ret);
	}
out:
	for (int k = 0; trees && k <= last - first; k++)
		tsm_tree_free(trees[k]);
	free(trees);
	for (size_t i = 0; i < nstrings; i++)
		free(strings[i]);
	free(strings);
	free(specs);
	tsm_tree_entries_free(entries, nentries);
	tsm_win_meta_set_free(meta);
	tsm_content_item_clear(&item);
	return rc;
}
