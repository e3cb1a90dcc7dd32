/* Composing a snapshot into volumes and laying each out.  Pure function of
 * catalog rows: no content bytes are read. */
#include "tsmedia/media.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/media_internal.h"
#include "tsmedia/fat.h"
#include "tsmedia/image.h"
#include "tsmedia/iso.h"
#include "tsmedia/log.h"
#include "tsmedia/store.h"
#include "tsmedia/tree.h"

void tsm_volume_set_free(struct tsm_volume_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++) {
		free(set->volumes[i].file_name);
		free(set->volumes[i].bios_boot);
		free(set->volumes[i].uefi_boot);
		free(set->volumes[i].usb_efi);
		free(set->volumes[i].usb_bios);
		tsm_image_unref(set->volumes[i].image);
	}
	free(set->volumes);
	free(set);
}

static int newest_mtime(struct tsm_tree_node *node, void *arg)
{
	int64_t *t = arg;

	if (node->mtime_ns > *t)
		*t = node->mtime_ns;
	return 0;
}

/* Every content item's tree at the root; the same path twice is an error
 * that names both items. */
static int compose_data_tree(struct tsm_store *store, const struct tsm_media_snapshot *snap,
			     struct tsm_tree **tree_ret)
{
	struct tsm_tree *tree;
	int rc = tsm_tree_new(&tree);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < snap->ncontent && rc == 0; i++) {
		rc = tsm_tree_add_content(tree, store, snap->content[i].id, snap->content[i].version,
					  "");
		if (rc == -EEXIST)
			tsm_error("media '%s': content %s has a file another item of the media has too",
				  snap->info.def.name, snap->content[i].id);
	}
	if (rc < 0) {
		tsm_tree_free(tree);
		return rc;
	}
	*tree_ret = tree;
	return 0;
}

static int layout_iso(struct tsm_store *store, const struct tsm_media_def *d,
		      struct tsm_tree *tree, struct tsm_image **image_ret)
{
	struct tsm_blob_source *source = NULL;
	int rc;
	struct tsm_iso_options o = {
		.volume_id = d->label ? d->label : d->name,
		.publisher = d->publisher,
		.application = "tsmedia",
		.joliet = d->joliet,
		.rock_ridge = d->rock_ridge,
		.udf = d->udf,
		.bios_boot = d->bios_boot,
		.bios_load_size = d->boot_load_size,
		.boot_info_table = d->boot_info_table,
		.bios_emulation = d->boot_emulation,
		.bios_load_segment = d->boot_load_segment,
		.bios_system_type = d->boot_system_type,
		.boot_catalog = d->boot_catalog,
		.grub2_boot_info = d->boot_grub2_info,
		.grub2_mbr = d->boot_grub2_mbr,
		.hybrid_cyl_align = d->boot_cyl_align,
		.uefi_boot = d->uefi_boot,
		.uefi_load_size = d->uefi_load_size,
		.hybrid_mbr = d->hybrid_mbr,
		.hybrid_mbr_len = d->hybrid_mbr_len,
		.hybrid_gpt = d->hybrid_gpt,
		.system_area = d->system_area,
		.system_area_map = d->system_area_map,
	};

	tsm_tree_walk(tree, newest_mtime, &o.volume_time_ns);
	if (!tree->root->mtime_ns)
		tree->root->mtime_ns = o.volume_time_ns;
	/* The boot info table's checksum is the one place file bytes count. */
	if ((d->boot_info_table || d->boot_grub2_info || d->boot_emulation == 4) &&
	    (rc = tsm_store_blob_source_new(store, &source)) < 0)
		return rc;
	o.boot_source = source;
	rc = tsm_iso_layout(tree, &o, image_ret);
	tsm_store_blob_source_free(source);
	return rc;
}

/* A USB disk image: one FAT32 partition holding the tree.  UEFI firmware
 * boots a stick from the tree's own \EFI\BOOT\BOOTX64.EFI; the CD's boot
 * entries (El Torito, the hybrid MBR) have no meaning on it. */
/* The bytes of a (small) file of the tree, read through the store: the
 * BIOS boot code a boot image brings for USB sticks. */
static int tree_file_bytes(struct tsm_store *store, struct tsm_tree *tree, const char *path,
			   size_t max, uint8_t **data_ret, size_t *len_ret)
{
	struct tsm_tree_node *n = tsm_tree_lookup(tree, path);
	struct tsm_blob_source *source;
	uint8_t *data;
	ssize_t got;
	int rc;

	if (!n || n->type != TSM_ENTRY_FILE || !n->blob_id) {
		tsm_error("USB BIOS boot code '%s': no such file on the media", path);
		return -ENOENT;
	}
	if (n->size > max) {
		tsm_error("USB BIOS boot code '%s' is %llu bytes: it must fit the %zu bytes it has",
			  path, (unsigned long long)n->size, max);
		return -EFBIG;
	}
	if (!(data = malloc(n->size)))
		return -ENOMEM;
	if ((rc = tsm_store_blob_source_new(store, &source)) < 0) {
		free(data);
		return rc;
	}
	got = source->pread(source->ctx, n->blob_id, data, n->size, 0);
	tsm_store_blob_source_free(source);
	if (got != (ssize_t)n->size) {
		free(data);
		return got < 0 ? (int)got : -EIO;
	}
	*data_ret = data;
	*len_ret = n->size;
	return 0;
}

/* A Windows PE boot image that boots under BIOS, on a stick with an MBR
 * and no boot code of the boot image's own: tsmedia's MBR and boot sector
 * code (core/image/boot/) start its boot manager, "bootmgr", as a disk
 * made with "bootsect /nt60" does.  NULL otherwise. */
static const char *usb_bios_loader(struct tsm_store *store, const struct tsm_media_def *d)
{
	char *fw;
	bool bios;

	if (d->usb_bios_mbr || !d->boot_image || d->partition_table == TSM_PARTITION_GPT)
		return NULL;
	fw = tsm_boot_image_meta(store, d->boot_image, 0, "boot.firmware");
	bios = fw && strstr(fw, "bios");
	free(fw);
	return bios ? "bootmgr" : NULL;
}

static int layout_usb(struct tsm_store *store, const struct tsm_media_def *d,
		      struct tsm_tree *tree, struct tsm_image **image_ret)
{
	struct tsm_fat_options o = {
		.volume_label = d->label ? d->label : d->name,
		.partition_table = d->partition_table == TSM_PARTITION_GPT ? TSM_FAT_GPT : TSM_FAT_MBR,
	};
	uint8_t *mbr = NULL, *core = NULL;
	size_t mbr_len = 0, core_len = 0;
	int rc;

	/* BIOS boot from the stick: the boot image's own MBR code and what it
	 * loads from the gap before the partition. */
	if (d->usb_bios_mbr &&
	    (rc = tree_file_bytes(store, tree, d->usb_bios_mbr, 512, &mbr, &mbr_len)) < 0)
		return rc;
	if (d->usb_bios_core &&
	    (rc = tree_file_bytes(store, tree, d->usb_bios_core, (1u << 20) - 512, &core,
				  &core_len)) < 0) {
		free(mbr);
		return rc;
	}
	o.mbr_boot_code = mbr;
	o.mbr_boot_code_len = mbr_len;
	o.embed = core;
	o.embed_len = core_len;
	o.bios_loader = usb_bios_loader(store, d);

	if (d->bios_boot || d->hybrid_mbr)
		tsm_warn("media '%s': a USB image boots under UEFI only: --bios-boot and "
			 "--hybrid-mbr are CD boot code, not used on USB",
			 d->name);
	if (d->uefi_boot && !tsm_tree_lookup(tree, "EFI/BOOT/BOOTX64.EFI") &&
	    !tsm_tree_lookup(tree, "efi/boot/bootx64.efi"))
		tsm_warn("media '%s': UEFI boots a stick from EFI/BOOT/BOOTX64.EFI in its files, "
			 "which this media has not (--uefi-boot %s is the CD's El Torito image)",
			 d->name, d->uefi_boot);
	if (!tree->root->mtime_ns)
		tsm_tree_walk(tree, newest_mtime, &tree->root->mtime_ns);
	rc = tsm_fat_layout(tree, &o, image_ret);
	free(mbr);
	free(core);
	return rc;
}

/* The volume in the media's form. */
static int layout_volume(struct tsm_store *store, const struct tsm_media_def *d,
			 struct tsm_tree *tree, struct tsm_image **image_ret)
{
	if (d->form == TSM_MEDIA_USB)
		return layout_usb(store, d, tree, image_ret);
	return layout_iso(store, d, tree, image_ret);
}

int tsm_volume_note_boot(struct tsm_store *store, struct tsm_volume *v,
			 const struct tsm_media_def *d, struct tsm_tree *tree)
{
	/* UEFI 2.x 3.5.1.1: the removable-media file of each architecture. */
	static const char *const usb_efi[] = { "EFI/BOOT/BOOTX64.EFI", "efi/boot/bootx64.efi",
					       "EFI/BOOT/BOOTIA32.EFI", "efi/boot/bootia32.efi",
					       "EFI/BOOT/BOOTAA64.EFI", "efi/boot/bootaa64.efi" };

	if (d->form == TSM_MEDIA_USB) {
		for (size_t i = 0; !v->usb_efi && i < sizeof(usb_efi) / sizeof(usb_efi[0]); i++)
			if (tsm_tree_lookup(tree, usb_efi[i]) && !(v->usb_efi = strdup(usb_efi[i])))
				return -ENOMEM;
		/* As the FAT writer decides: the file there, small enough. */
		const char *loader = usb_bios_loader(store, d);
		struct tsm_tree_node *n = loader ? tsm_tree_lookup(tree, loader) : NULL;

		if (n && n->type == TSM_ENTRY_FILE && n->size && n->size <= TSM_FAT_BIOS_LOADER_MAX &&
		    !(v->usb_bios = strdup(loader)))
			return -ENOMEM;
		return 0;
	}
	if (d->bios_boot) {
		if (!(v->bios_boot = strdup(d->bios_boot)))
			return -ENOMEM;
		v->bios_load_size = d->boot_load_size ? d->boot_load_size : 4; /* as the writer */
	}
	if (d->uefi_boot) {
		struct tsm_tree_node *n = tsm_tree_lookup(tree, d->uefi_boot);

		if (!(v->uefi_boot = strdup(d->uefi_boot)))
			return -ENOMEM;
		v->uefi_load_size = d->uefi_load_size ? d->uefi_load_size
						      : tsm_iso_efi_load_size(n ? n->size : 0);
	}
	return 0;
}

/* The file name of volume @index (0-based) of @n. */
static int volume_file_name(const struct tsm_media_def *d, size_t index, size_t n,
			    char **name_ret)
{
	const char *ext = d->form == TSM_MEDIA_USB ? "img" : "iso";
	int rc = n == 1 ? asprintf(name_ret, "%s.%s", d->name, ext)
			: asprintf(name_ret, "%s.%zu.%s", d->name, index + 1, ext);

	return rc < 0 ? -ENOMEM : 0;
}

int tsm_media_layout_volume(struct tsm_store *store, const struct tsm_media_def *d,
			    struct tsm_tree *tree, struct tsm_image **image_ret)
{
	return layout_volume(store, d, tree, image_ret);
}

int tsm_media_volume_file_name(const struct tsm_media_def *d, size_t index, size_t n,
			       char **name_ret)
{
	return volume_file_name(d, index, n, name_ret);
}

int tsm_media_layout(struct tsm_store *store, const struct tsm_media_snapshot *snap,
		     struct tsm_volume_set **set_ret)
{
	struct tsm_volume_set *set = calloc(1, sizeof(*set));
	struct tsm_tree *tree = NULL;
	struct tsm_image *image = NULL;
	int rc;

	if (!set || !(set->volumes = calloc(1, sizeof(*set->volumes)))) {
		free(set);
		return -ENOMEM;
	}
	switch (snap->info.def.type) {
	case TSM_MEDIA_CAPTURE:
	case TSM_MEDIA_BOOTABLE:
	case TSM_MEDIA_STANDALONE:
		free(set->volumes);
		free(set);
		return tsm_media_compose_ts(store, snap, set_ret);
	case TSM_MEDIA_PRESTAGED:
		free(set->volumes);
		free(set);
		return tsm_media_compose_prestaged(store, snap, set_ret);
	case TSM_MEDIA_DATA: {
		struct tsm_media_def d = snap->info.def;
		struct tsm_boot_choice bc = { 0 };

		rc = compose_data_tree(store, snap, &tree);
		/* One item from a bootable ISO boots as the ISO did (a USB image
		 * boots from its files, not from El Torito entries). */
		if (rc == 0 && !d.bios_boot && !d.uefi_boot && snap->ncontent == 1 &&
		    d.form != TSM_MEDIA_USB &&
		    (rc = tsm_boot_choice_from_content(store, snap->content[0].id,
						       snap->content[0].version, tree, &bc)) == 0) {
			d.bios_boot = bc.bios_boot;
			d.boot_load_size = bc.load_size;
			d.boot_info_table = bc.boot_info_table;
			d.boot_emulation = bc.emulation;
			d.boot_load_segment = bc.load_segment;
			d.boot_system_type = bc.system_type;
			d.boot_catalog = bc.boot_catalog;
			d.boot_grub2_info = bc.grub2_boot_info;
			d.boot_grub2_mbr = bc.grub2_mbr;
			d.boot_cyl_align = bc.cyl_align;
			d.uefi_boot = bc.uefi_boot;
			d.uefi_load_size = bc.uefi_load_size;
			/* The imported system area, unless the media names its own. */
			if (!d.hybrid_mbr_len && !d.hybrid_gpt && bc.system_area) {
				d.system_area = bc.system_area;
				d.system_area_map = bc.system_area_map;
			}
			if (!d.hybrid_mbr_len && bc.hybrid_mbr_len) {
				d.hybrid_mbr = bc.hybrid_mbr;
				d.hybrid_mbr_len = bc.hybrid_mbr_len;
			}
			d.hybrid_gpt |= bc.hybrid_gpt;
		}
		if (rc == 0)
			rc = layout_volume(store, &d, tree, &image);
		if (rc == 0)
			rc = tsm_volume_note_boot(store, &set->volumes[0], &d, tree);
		tsm_boot_choice_clear(&bc);
		break;
	}
	default:
		tsm_error("media '%s' has a type this tsmedia cannot lay out", snap->info.def.name);
		rc = -EINVAL;
	}
	tsm_tree_free(tree);
	if (rc < 0) {
		tsm_volume_set_free(set);
		return rc;
	}
	set->volumes[0].image = image;
	set->n = 1;
	if ((rc = volume_file_name(&snap->info.def, 0, 1, &set->volumes[0].file_name)) < 0) {
		tsm_volume_set_free(set);
		return rc;
	}
	*set_ret = set;
	return 0;
}
