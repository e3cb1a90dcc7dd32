/* Capture, bootable and stand-alone media: what is on each volume.
 *
 *   /                 the boot image's files
 *   SMS/data/         TsmBootstrap.ini, Variables.dat, Policy.xml (rendered
 *                     at definition time), Manifest.txt (made here)
 *   SMS/PKG/<ID>/     each content item the media carries (an application's
 *                     content: SMS/PKG/Content_<GUID>/)
 *   MediaLabel.txt, autorun.inf
 *
 * Stand-alone media over its volume size spans a set: the first volume
 * holds the boot files and SMS/data, then packages follow in the order the
 * task sequence uses them, file by file, each volume as full as it can be.
 * Pure function of catalog rows: the manifest's hashes are the blobs'. */
#include "media/media_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/rows.h"
#include "store/store_internal.h"
#include "tsmedia/app.h"
#include "tsmedia/hash.h"
#include "tsmedia/image.h"
#include "tsmedia/log.h"
#include "tsmedia/tree.h"
#include "tsmedia/wim.h"

#define SECTOR 2048ull

/* One file of the media, wherever it ends up. */
struct item {
	char *path;
	struct tsm_tree_entry entry; /* path unused */
	struct tsm_tree_node *node;  /* in the full tree */
	unsigned volume;             /* 1-based */
	bool on_every_volume;        /* MediaLabel.txt */
	bool first_volume;           /* boot files, SMS/data */
};

struct plan {
	const struct tsm_media_def *d;
	struct tsm_tree *full;
	struct item *items;
	size_t n, cap;
	unsigned volumes;
};

static const struct tsm_snapshot_content *snap_find(const struct tsm_media_snapshot *snap,
						    const char *id)
{
	for (size_t i = 0; id && i < snap->ncontent; i++)
		if (strcmp(snap->content[i].id, id) == 0)
			return &snap->content[i];
	return NULL;
}

/* The boot image's own boot files, unless the definition names them. */
static int boot_options(struct tsm_store *store, const struct tsm_snapshot_content *boot,
			struct tsm_tree *tree, struct tsm_media_def *d, struct tsm_boot_choice *c)
{
	int rc;

	if (d->bios_boot || d->uefi_boot)
		return 0; /* given explicitly */
	if (d->form == TSM_MEDIA_USB)
		return 0; /* a stick boots from its files, not from El Torito entries */
	if ((rc = tsm_boot_choice_from_content(store, boot->id, boot->version, tree, c)) < 0)
		return rc;
	d->bios_boot = c->bios_boot ? strdup(c->bios_boot) : NULL;
	d->uefi_boot = c->uefi_boot ? strdup(c->uefi_boot) : NULL;
	d->boot_load_size = c->load_size;
	d->boot_info_table = c->boot_info_table;
	d->uefi_load_size = c->uefi_load_size;
	d->boot_emulation = c->emulation;
	d->boot_load_segment = c->load_segment;
	d->boot_system_type = c->system_type;
	d->boot_catalog = c->boot_catalog;
	d->boot_grub2_info = c->grub2_boot_info;
	d->boot_grub2_mbr = c->grub2_mbr;
	d->boot_cyl_align = c->cyl_align;
	if (!d->hybrid_mbr_len && c->hybrid_mbr_len) {
		d->hybrid_mbr = c->hybrid_mbr; /* owned by @c, which outlives the layout */
		d->hybrid_mbr_len = c->hybrid_mbr_len;
	}
	d->hybrid_gpt |= c->hybrid_gpt;
	return 0;
}

static int plan_collect(struct tsm_tree_node *node, void *arg)
{
	struct plan *p = arg;
	struct item *it;
	char *path;

	if (node->type != TSM_ENTRY_FILE)
		return 0;
	if (!(path = tsm_tree_node_path(node)))
		return -ENOMEM;
	if (p->n == p->cap) {
		void *q = realloc(p->items, (p->cap = p->cap ? 2 * p->cap : 256) * sizeof(*p->items));

		if (!q) {
			free(path);
			return -ENOMEM;
		}
		p->items = q;
	}
	it = &p->items[p->n++];
	memset(it, 0, sizeof(*it));
	it->path = path;
	it->node = node;
	it->first_volume = strncmp(path, "SMS/PKG/", 8) != 0;
	it->on_every_volume = strcmp(path, "MediaLabel.txt") == 0;
	return 0;
}

/* Bytes a file costs on an ISO volume: its sectors plus its records in
 * three directory trees and a UDF file entry. */
static uint64_t item_cost(const struct item *it)
{
	return (it->node->size + SECTOR - 1) / SECTOR * SECTOR + SECTOR + 512;
}

/* Where content @id lies on the media: SMS/PKG/<ID> for a package; an
 * application's content under its content ID, SMS/PKG/Content_<GUID>.  What
 * folder Configuration Manager gives an application's content on stand-alone
 * media is not published; its content IDs name content everywhere else
 * (SMS_DeploymentType.ContentId, the digest's Content elements). */
static void content_dir(struct tsm_store *store, const char *id, char *out, size_t n)
{
	char uid[TSM_APP_CONTENT_ID_LEN + 1];

	snprintf(out, n, "SMS/PKG/%s", tsm_app_content_of(store, id, uid) == 0 ? uid : id);
}

/* Package files, in the order of the media's content list (the task
 * sequence's order of use), then by path. */
static int plan_order(struct tsm_store *store, struct plan *p, const struct tsm_media_snapshot *snap)
{
	struct item *sorted = malloc((p->n + 1) * sizeof(*sorted));
	size_t k = 0;

	if (!sorted)
		return -ENOMEM;
	for (size_t i = 0; i < p->n; i++)
		if (p->items[i].first_volume)
			sorted[k++] = p->items[i];
	for (size_t c = 0; c < snap->ncontent; c++) {
		char prefix[80];

		content_dir(store, snap->content[c].id, prefix, sizeof(prefix) - 1);
		strcat(prefix, "/");
		for (size_t i = 0; i < p->n; i++)
			if (!p->items[i].first_volume &&
			    strncmp(p->items[i].path, prefix, strlen(prefix)) == 0)
				sorted[k++] = p->items[i];
	}
	free(p->items);
	p->items = sorted;
	p->n = k;
	return 0;
}

/* Assigns volumes; @budget is what a volume may hold of file costs. */
static int plan_assign(struct plan *p, uint64_t budget)
{
	uint64_t used = 0;
	unsigned vol = 1;

	for (size_t i = 0; i < p->n; i++) {
		struct item *it = &p->items[i];
		uint64_t cost = item_cost(it);

		if (it->first_volume) {
			it->volume = 1;
			used += cost;
			continue;
		}
		if (budget && cost > budget) {
			tsm_error("media '%s': %s is %llu bytes, more than a whole volume holds",
				  p->d->name, it->path, (unsigned long long)it->node->size);
			return -EFBIG;
		}
		if (budget && used + cost > budget) {
			vol++;
			used = 0;
		}
		it->volume = vol;
		used += cost;
	}
	p->volumes = vol;
	return 0;
}

static void hex(const uint8_t *b, char out[65])
{
	tsm_hex_encode(b, 32, out);
}

/* TSMVolume.txt, on every volume of a set: which one it is. */
static int volume_note(const struct plan *p, unsigned vol, char *buf, size_t n)
{
	return snprintf(buf, n, "Volume %u of %u\r\nMediaGuid=%s\r\n", vol, p->volumes,
			p->d->media_guid ? p->d->media_guid : "");
}

/* SMS/data/Manifest.txt: "SHA256 SIZE VOLUME PATH" for every file of the
 * set (a file on every volume has a line per volume), so a client checks
 * what it has against what it should have. */
static int manifest_render(const struct plan *p, char **text_ret, size_t *len_ret)
{
	size_t cap = 256 + (p->n + 2 * p->volumes) * 400, len = 0;
	char *t = malloc(cap), sha[65];

	if (!t)
		return -ENOMEM;
	len += (size_t)snprintf(t + len, cap - len,
				"# tsmedia manifest: SHA-256 size volume path; media %s, %u volume(s)\r\n",
				p->d->media_guid ? p->d->media_guid : p->d->name, p->volumes);
	for (size_t i = 0; i < p->n; i++) {
		const struct item *it = &p->items[i];

		if (it->node->image) {
			/* A virtual image nested in the media: its own format
			 * carries its checks (a WIM: a SHA-1 per file). */
			strcpy(sha, "-");
		} else if (!it->node->has_sha256) {
			free(t);
			tsm_error("media '%s': no SHA-256 known for %s", p->d->name, it->path);
			return -EIO;
		} else {
			hex(it->node->sha256, sha);
		}
		/* The image writer patches the boot info table into the BIOS boot
		 * file: its bytes on the media are not the stored ones. */
		if (p->d->boot_info_table && p->d->bios_boot && strcmp(it->path, p->d->bios_boot) == 0)
			strcpy(sha, "-");
		for (unsigned v = 1; v <= (it->on_every_volume ? p->volumes : 1); v++)
			len += (size_t)snprintf(t + len, cap - len, "%s %llu %u %s\r\n", sha,
						(unsigned long long)it->node->size,
						it->on_every_volume ? v : it->volume, it->path);
	}
	for (unsigned v = 1; p->volumes > 1 && v <= p->volumes; v++) {
		char note[160];
		uint8_t digest[32];
		int n = volume_note(p, v, note, sizeof(note));

		tsm_sha256(note, (size_t)n, digest);
		hex(digest, sha);
		len += (size_t)snprintf(t + len, cap - len, "%s %d %u TSMVolume.txt\r\n", sha, n, v);
	}
	*text_ret = t;
	*len_ret = len;
	return 0;
}

/* Copies a node of the full tree into a volume's tree. */
static int volume_add(struct tsm_tree *vt, const struct item *it)
{
	const struct tsm_tree_node *n = it->node;
	struct tsm_tree_node *copy;
	struct tsm_tree_entry e = { .type = TSM_ENTRY_FILE, .mode = n->mode, .mtime_ns = n->mtime_ns,
				    .attributes = n->attributes, .size = n->size,
				    .blob_id = n->blob_id };
	int rc;

	memcpy(e.sha256, n->sha256, sizeof(e.sha256));
	if (n->data)
		return tsm_tree_add_data(vt, it->path, n->data, n->size, n->mtime_ns, NULL);
	if (n->image)
		return tsm_tree_add_image(vt, it->path, n->image, n->mtime_ns, NULL);
	rc = tsm_tree_add(vt, it->path, &e, &copy);
	return rc;
}

static int build_volume(struct tsm_store *store, struct plan *p, struct tsm_media_def *vd,
			unsigned vol, const char *manifest, size_t manifest_len,
			struct tsm_volume *volume)
{
	struct tsm_tree *vt;
	int rc = tsm_tree_new(&vt);

	if (rc < 0)
		return rc;
	vt->default_mtime_ns = p->full->root->mtime_ns;
	for (size_t i = 0; rc == 0 && i < p->n; i++)
		if (p->items[i].volume == vol || p->items[i].on_every_volume)
			rc = volume_add(vt, &p->items[i]);
	if (rc == 0 && vol == 1)
		rc = tsm_tree_add_data(vt, "SMS/data/Manifest.txt", manifest, manifest_len,
				       p->full->root->mtime_ns, NULL);
	if (rc == 0 && p->volumes > 1) {
		char note[160];
		int n = volume_note(p, vol, note, sizeof(note));

		rc = tsm_tree_add_data(vt, "TSMVolume.txt", note, (size_t)n,
				       p->full->root->mtime_ns, NULL);
	}
	if (rc == 0) {
		/* Only the first volume boots. */
		struct tsm_media_def v = *vd;

		if (vol > 1) {
			v.bios_boot = v.uefi_boot = NULL;
			v.hybrid_mbr = NULL;
			v.hybrid_mbr_len = 0;
			v.hybrid_gpt = false;
		}
		rc = tsm_media_layout_volume(store, &v, vt, &volume->image);
		if (rc == 0)
			rc = tsm_volume_note_boot(volume, &v, vt);
	}
	tsm_tree_free(vt);
	return rc;
}

/* An OS image goes on the media as a WIM (a virtual one, read through
 * from the store), as deployment expects it: SMS/PKG/<ID>/install.wim, or
 * on USB media, where FAT32 holds files under 4 GiB, a split set
 * install.swm, install2.swm, ... as Windows Setup expects. */
static int add_os_image_wim(struct tsm_store *store, struct tsm_tree *tree,
			    const struct tsm_snapshot_content *c, const struct tsm_media_def *d,
			    int64_t mtime_ns)
{
	struct tsm_wim_content_options o = {
		.part_size = d->form == TSM_MEDIA_USB ? TSM_WIM_FAT32_PART_MAX : 0,
		.index = d->os_image && strcmp(c->id, d->os_image) == 0 ? (int)d->os_image_index : 0,
	};
	struct tsm_image **parts = NULL;
	size_t nparts = 0;
	int rc = tsm_wim_layout_content(store, c->id, c->version_id, &o, &parts, &nparts);

	for (size_t i = 0; rc == 0 && i < nparts; i++) {
		char path[64];

		if (nparts == 1)
			snprintf(path, sizeof(path), "SMS/PKG/%s/install.wim", c->id);
		else if (i == 0)
			snprintf(path, sizeof(path), "SMS/PKG/%s/install.swm", c->id);
		else
			snprintf(path, sizeof(path), "SMS/PKG/%s/install%zu.swm", c->id, i + 1);
		rc = tsm_tree_add_image(tree, path, parts[i], mtime_ns, NULL);
	}
	tsm_wim_parts_free(parts, nparts);
	return rc;
}

static bool content_is_os_image(struct tsm_store *store, const char *id)
{
	struct tsm_content_item item;
	bool os;

	if (tsm_content_get(store, id, &item) < 0)
		return false;
	os = item.kind == TSM_KIND_OS_IMAGE;
	tsm_content_item_clear(&item);
	return os;
}

/* The full tree of everything the media carries. */
static int full_tree(struct tsm_store *store, const struct tsm_media_snapshot *snap,
		     struct tsm_media_def *d, struct tsm_boot_choice *bc, struct tsm_tree **tree_ret)
{
	const struct tsm_snapshot_content *boot = snap_find(snap, d->boot_image);
	struct tsm_media_file *files = NULL;
	struct tsm_tree *tree;
	size_t nfiles = 0;
	int rc = tsm_tree_new(&tree);

	if (rc < 0)
		return rc;
	if (!boot) {
		tsm_error("media '%s': no boot image", d->name);
		rc = -EINVAL;
		goto out;
	}
	if ((rc = tsm_tree_add_content(tree, store, boot->id, boot->version, "")) < 0 ||
	    (rc = boot_options(store, boot, tree, d, bc)) < 0)
		goto out;
	for (size_t i = 0; i < snap->ncontent; i++) {
		const struct tsm_snapshot_content *c = &snap->content[i];
		char prefix[80];

		if (c == boot)
			continue;
		if (d->type == TSM_MEDIA_CAPTURE)
			break;
		if (d->type == TSM_MEDIA_BOOTABLE && (!d->prestart_files ||
						      strcmp(c->id, d->prestart_files) != 0))
			continue;
		if (content_is_os_image(store, c->id)) {
			if ((rc = add_os_image_wim(store, tree, c, d,
						   snap->info.created * 1000000000LL)) < 0)
				goto out;
			continue;
		}
		content_dir(store, c->id, prefix, sizeof(prefix));
		if ((rc = tsm_tree_add_content(tree, store, c->id, c->version, prefix)) < 0)
			goto out;
	}
	if ((rc = tsm_store_read_begin(store)) < 0)
		goto out;
	rc = tsm_media_files_load(store, snap->info.version_id, &files, &nfiles);
	tsm_store_read_end(store);
	for (size_t i = 0; rc == 0 && i < nfiles; i++) {
		struct tsm_tree_entry e = { .type = TSM_ENTRY_FILE, .mode = 0444,
					    .size = files[i].size, .blob_id = files[i].blob_id,
					    .attributes = 0x21, .mtime_ns = snap->info.created * 1000000000LL };

		struct tsm_tree_node *old = tsm_tree_lookup(tree, files[i].path);

		memcpy(e.sha256, files[i].sha256, 32);
		if (old && old->type == TSM_ENTRY_FILE && !old->data && !old->image) {
			/* The media's own files win over a boot image's copies. */
			old->blob_id = e.blob_id;
			old->size = e.size;
			memcpy(old->sha256, e.sha256, 32);
			old->has_sha256 = true;
			continue;
		}
		rc = tsm_tree_add(tree, files[i].path, &e, NULL);
	}
	tsm_media_files_free(files, nfiles);
	if (rc == 0) {
		/* "label=<the media label>", one line (Microsoft, "Create stand-alone media":
		 * Configuration Manager writes MediaLabel.txt with label=Configuration Manager
		 * by default, the custom label instead when one is given). */
		char label[160];
		int n = snprintf(label, sizeof(label), "label=%s\r\n", d->label ? d->label : d->name);

		rc = tsm_tree_add_data(tree, "MediaLabel.txt", label, (size_t)n,
				       snap->info.created * 1000000000LL, NULL);
	}
	if (rc == 0 && d->autorun) {
		char inf[256];
		int n = snprintf(inf, sizeof(inf), "[autorun]\r\nlabel=%s\r\n",
				 d->label ? d->label : d->name);

		rc = tsm_tree_add_data(tree, "autorun.inf", inf, (size_t)n,
				       snap->info.created * 1000000000LL, NULL);
	}
	tree->root->mtime_ns = snap->info.created * 1000000000LL;
out:
	if (rc < 0) {
		tsm_tree_free(tree);
		return rc;
	}
	*tree_ret = tree;
	return 0;
}

static void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->items[i].path);
	free(p->items);
	tsm_tree_free(p->full);
}

int tsm_media_compose_ts(struct tsm_store *store, const struct tsm_media_snapshot *snap,
			 struct tsm_volume_set **set_ret)
{
	struct tsm_media_def d = snap->info.def; /* boot options filled in below (copies) */
	struct tsm_boot_choice bc = { 0 };
	struct plan p = { .d = &d };
	struct tsm_volume_set *set = NULL;
	uint64_t budget = 0;
	char *manifest = NULL;
	size_t manifest_len = 0;
	int rc, attempt;

	/* Strings boot_options() may set are ours to free; the rest alias snap. */
	d.bios_boot = d.bios_boot ? strdup(d.bios_boot) : NULL;
	d.uefi_boot = d.uefi_boot ? strdup(d.uefi_boot) : NULL;
	if ((rc = full_tree(store, snap, &d, &bc, &p.full)) < 0)
		goto out;
	if ((rc = tsm_tree_walk(p.full, plan_collect, &p)) < 0 || (rc = plan_order(store, &p, snap)) < 0)
		goto out;
	if (d.type == TSM_MEDIA_STANDALONE && d.form == TSM_MEDIA_CD_DVD && d.volume_size)
		budget = d.volume_size - d.volume_size / 50 - (4u << 20); /* room for metadata */
	/* Lay out; a volume over its size gets a smaller budget and a new plan. */
	for (attempt = 0; attempt < 8; attempt++) {
		bool over = false;

		if ((rc = plan_assign(&p, budget)) < 0)
			goto out;
		free(manifest);
		if ((rc = manifest_render(&p, &manifest, &manifest_len)) < 0)
			goto out;
		tsm_volume_set_free(set);
		if (!(set = calloc(1, sizeof(*set))) ||
		    !(set->volumes = calloc(p.volumes, sizeof(*set->volumes)))) {
			rc = -ENOMEM;
			goto out;
		}
		for (unsigned v = 1; v <= p.volumes; v++) {
			struct tsm_volume *vol = &set->volumes[set->n];

			if ((rc = build_volume(store, &p, &d, v, manifest, manifest_len, vol)) < 0 ||
			    (rc = tsm_media_volume_file_name(&d, v - 1, p.volumes, &vol->file_name)) < 0)
				goto out;
			set->n++;
			if (budget && tsm_image_size(vol->image) > d.volume_size)
				over = true;
		}
		if (!over)
			break;
		budget -= budget / 20;
	}
	if (attempt == 8) {
		tsm_error("media '%s': cannot fit the volumes into %llu bytes", d.name,
			  (unsigned long long)d.volume_size);
		rc = -EFBIG;
	}
out:
	free(manifest);
	free(d.bios_boot);
	free(d.uefi_boot);
	tsm_boot_choice_clear(&bc);
	plan_free(&p);
	if (rc < 0) {
		tsm_volume_set_free(set);
		return rc;
	}
	*set_ret = set;
	return 0;
}

/* Prestaged media: one WIM a factory applies to a disk.  The boot image's
 * files at its root, SMS/data and SMS/PKG as on the other media, the OS
 * image a virtual WIM nested in it, read through without a copy. */
int tsm_media_compose_prestaged(struct tsm_store *store, const struct tsm_media_snapshot *snap,
				struct tsm_volume_set **set_ret)
{
	struct tsm_media_def d = snap->info.def;
	struct tsm_boot_choice bc = { 0 };
	struct plan p = { .d = &d };
	struct tsm_volume_set *set = NULL;
	struct tsm_image **parts = NULL;
	size_t nparts = 0, manifest_len = 0;
	char *manifest = NULL;
	int rc;

	d.bios_boot = d.bios_boot ? strdup(d.bios_boot) : NULL;
	d.uefi_boot = d.uefi_boot ? strdup(d.uefi_boot) : NULL;
	if ((rc = full_tree(store, snap, &d, &bc, &p.full)) < 0 ||
	    (rc = tsm_tree_walk(p.full, plan_collect, &p)) < 0 || (rc = plan_order(store, &p, snap)) < 0 ||
	    (rc = plan_assign(&p, 0)) < 0)
		goto out;
	if ((rc = manifest_render(&p, &manifest, &manifest_len)) < 0 ||
	    (rc = tsm_tree_add_data(p.full, "SMS/data/Manifest.txt", manifest, manifest_len,
				    snap->info.created * 1000000000LL, NULL)) < 0)
		goto out;
	{
		struct tsm_wim_image_spec spec = {
			.tree = p.full,
			.name = d.label ? d.label : d.name,
			.description = d.comment,
			.time_ns = snap->info.created * 1000000000LL,
		};
		struct tsm_wim_options o = { .images = &spec, .nimages = 1 };
		struct tsm_blob_source *source = NULL;

		if ((rc = tsm_store_blob_source_new(store, &source)) < 0)
			goto out;
		o.source = source;
		rc = tsm_media_wim_layout(store, &o, &parts, &nparts);
		tsm_store_blob_source_free(source);
		if (rc < 0)
			goto out;
	}
	if (!(set = calloc(1, sizeof(*set))) || !(set->volumes = calloc(1, sizeof(*set->volumes)))) {
		rc = -ENOMEM;
		goto out;
	}
	set->volumes[0].image = parts[0];
	parts[0] = NULL;
	set->n = 1;
	if (asprintf(&set->volumes[0].file_name, "%s.wim", d.name) < 0) {
		set->volumes[0].file_name = NULL;
		rc = -ENOMEM;
	}
out:
	tsm_wim_parts_free(parts, nparts);
	free(manifest);
	free(d.bios_boot);
	free(d.uefi_boot);
	tsm_boot_choice_clear(&bc);
	plan_free(&p);
	if (rc < 0) {
		tsm_volume_set_free(set);
		return rc;
	}
	*set_ret = set;
	return 0;
}
