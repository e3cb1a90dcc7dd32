/* Which files of a boot image boot it: the El Torito entries an imported
 * ISO brought (with its hybrid MBR/GPT), else the layouts boot images are
 * known to have.  Re-emitting an imported ISO this way boots as the
 * original did. */
#include "tsmedia/media.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "import/winpe.h"
#include "media/media_internal.h"
#include "tsmedia/blob_source.h"
#include "tsmedia/content.h"
#include "tsmedia/iso.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"
#include "tsmedia/store.h"
#include "tsmedia/tree.h"

void tsm_boot_choice_clear(struct tsm_boot_choice *c)
{
	free(c->bios_boot);
	free(c->uefi_boot);
	free(c->hybrid_mbr);
	free(c->boot_catalog);
	free(c->system_area);
	free(c->system_area_map);
	memset(c, 0, sizeof(*c));
}

/* A boot image no directory names, as in the image it came from: a hidden
 * node of the tree (laid out, named by no directory); its name is only
 * how the boot entry finds it. */
static char *add_hidden_image(struct tsm_tree *tree, const struct tsm_boot_entry *e, size_t i)
{
	struct tsm_tree_entry fe = { .type = TSM_ENTRY_FILE, .mode = 0444, .size = e->size,
				     .blob_id = e->blob_id, .attributes = 0x21 };
	struct tsm_tree_node *t;
	char *path;

	if (asprintf(&path, "[BOOT] %s-%zu.img",
		     e->platform == TSM_BOOT_PLATFORM_UEFI ? "uefi" : "bios", i) < 0)
		return NULL;
	if (tsm_tree_add(tree, path, &fe, NULL) < 0 || !(t = tsm_tree_lookup(tree, path))) {
		free(path);
		return NULL;
	}
	t->hidden = true;
	return path;
}

/* The imported system area (core/import/iso.c: content meta
 * "system_area.blob" names its blob, "system_area.map" says how its fields
 * follow a layout): its 32 KiB read through the store, each chunk checked. */
static int system_area_from_content(struct tsm_store *store, const char *id, int64_t version,
				    struct tsm_boot_choice *c)
{
	struct tsm_blob_source *src;
	void *value;
	size_t len;
	long long blob;
	char text[32];
	ssize_t got;
	int rc;

	if (tsm_content_meta(store, id, version, "system_area.blob", &value, &len) < 0)
		return 0;
	snprintf(text, sizeof(text), "%.*s", (int)(len < 31 ? len : 31), (char *)value);
	free(value);
	if (sscanf(text, "%lld", &blob) != 1 || blob <= 0 ||
	    tsm_content_meta(store, id, version, "system_area.map", &value, &len) < 0) {
		tsm_error("content %s: its system area's record is damaged", id);
		return -EIO;
	}
	c->system_area_map = strndup(value, len);
	free(value);
	if (!c->system_area_map || !(c->system_area = malloc(TSM_ISO_SYSTEM_AREA_BYTES)))
		return -ENOMEM;
	if ((rc = tsm_store_blob_source_new(store, &src)) < 0)
		return rc;
	got = src->pread(src->ctx, blob, c->system_area, TSM_ISO_SYSTEM_AREA_BYTES, 0);
	tsm_store_blob_source_free(src);
	if (got != (ssize_t)TSM_ISO_SYSTEM_AREA_BYTES) {
		tsm_error("content %s: cannot read its system area (blob %lld): %s", id, blob,
			  got < 0 ? strerror((int)-got) : _("it is too short"));
		return got < 0 ? (int)got : -EIO;
	}
	return 0;
}

static void hybrid_from_content(struct tsm_store *store, const char *id, int64_t version,
				struct tsm_boot_choice *c)
{
	void *value;
	size_t len;

	if (tsm_content_meta(store, id, version, "hybrid_mbr", &value, &len) == 0) {
		c->hybrid_mbr = value;
		c->hybrid_mbr_len = len;
	}
	if (tsm_content_meta(store, id, version, "hybrid_gpt", &value, &len) == 0) {
		c->hybrid_gpt = len && ((char *)value)[0] == '1';
		free(value);
	}
	/* libisofs' summary of the imported system area names GRUB 2's MBR. */
	if (tsm_content_meta(store, id, version, "system_area", &value, &len) == 0) {
		c->grub2_mbr = memmem(value, len, "grub2-mbr", 9) != NULL;
		c->cyl_align = memmem(value, len, "cyl-align-on", 12) != NULL;
		free(value);
	}
	if (tsm_content_meta(store, id, version, "boot_catalog", &value, &len) == 0) {
		c->boot_catalog = strndup(value, len);
		free(value);
	}
}

/* The load segment and system type of entry @i, which an ISO import
 * records as content meta "eltorito" (core/import/iso.c), one line per
 * entry: "load_segment=0x0000 system_type=0x00 ...". */
static void boot_fields(struct tsm_store *store, const char *id, int64_t version, size_t i,
			struct tsm_boot_choice *c)
{
	char *text, *line;
	void *value;
	size_t len;

	if (tsm_content_meta(store, id, version, "eltorito", &value, &len) < 0)
		return;
	if ((text = strndup(value, len))) {
		line = text;
		for (size_t k = 0; k < i && line; k++)
			if ((line = strchr(line, '\n')))
				line++;
		if (line && sscanf(line, "load_segment=%x system_type=%x", &c->load_segment,
				   &c->system_type) != 2)
			c->load_segment = c->system_type = 0;
		c->grub2_boot_info = line && strstr(line, "grub2_boot_info=1") &&
				     strstr(line, "grub2_boot_info=1") < strchrnul(line, '\n');
		if (c->load_segment > 0xffff || c->system_type > 0xff)
			c->load_segment = c->system_type = 0;
		free(text);
	}
	free(value);
}

int tsm_boot_choice_from_content(struct tsm_store *store, const char *id, int64_t version,
				 struct tsm_tree *tree, struct tsm_boot_choice *c)
{
	struct tsm_boot_entry *entries = NULL;
	size_t n = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	if ((rc = tsm_content_boot_entries(store, id, version, &entries, &n)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		const struct tsm_boot_entry *e = &entries[i];
		char *path = e->path ? strdup(e->path) : e->blob_id ? add_hidden_image(tree, e, i) : NULL;

		if (!path)
			continue;
		if (e->platform == TSM_BOOT_PLATFORM_UEFI && !c->uefi_boot) {
			c->uefi_boot = path;
			c->uefi_load_size = e->load_size;
		} else if (e->platform == TSM_BOOT_PLATFORM_BIOS && !c->bios_boot) {
			c->bios_boot = path;
			c->load_size = e->load_size;
			c->boot_info_table = e->boot_info_table;
			c->emulation = e->emulation;
			boot_fields(store, id, version, i, c);
		} else {
			free(path);
		}
	}
	tsm_boot_entries_free(entries, n);
	if (n)
		hybrid_from_content(store, id, version, c);
	if (n && (rc = system_area_from_content(store, id, version, c)) < 0) {
		tsm_boot_choice_clear(c);
		return rc;
	}
	/* Windows PE boot images: etfsboot.com for BIOS, efisys.bin for UEFI. */
	if (!c->bios_boot && tsm_tree_lookup(tree, "boot/etfsboot.com")) {
		c->bios_boot = strdup("boot/etfsboot.com");
		c->load_size = 8;
	}
	if (!c->uefi_boot && tsm_tree_lookup(tree, "efi/microsoft/boot/efisys.bin"))
		c->uefi_boot = strdup("efi/microsoft/boot/efisys.bin");
	return 0;
}

/* ---- checks at media create ------------------------------------------ */

static const struct tsm_tree_entry *entry_find(const struct tsm_tree_entry *e, size_t n,
					       const char *path)
{
	/* FAT and ISO 9660 readers match names without case: so does this. */
	for (size_t i = 0; i < n; i++)
		if (e[i].type == TSM_ENTRY_FILE && strcasecmp(e[i].path, path) == 0)
			return &e[i];
	return NULL;
}

char *tsm_boot_image_meta(struct tsm_store *store, const char *id, int64_t version,
			  const char *key)
{
	void *v = NULL;
	size_t len;

	return tsm_content_meta(store, id, version, key, &v, &len) == 0 ? v : NULL;
}

#define BOOT_PROBLEM(...)                                                                    \
	do {                                                                                 \
		tsm_error(__VA_ARGS__);                                                      \
		problems++;                                                                  \
	} while (0)

int tsm_boot_image_check(struct tsm_store *store, const struct tsm_media_def *d, const char *type,
			 const char *boot_id)
{
	static const char *const efi_names[] = { "bootx64.efi", "bootia32.efi", "bootaa64.efi" };
	struct tsm_tree_entry *tree = NULL;
	struct tsm_boot_entry *entries = NULL;
	size_t ntree = 0, nentries = 0;
	bool bios = d->bios_boot != NULL, uefi = d->uefi_boot != NULL;
	char *arch = NULL, *client = NULL;
	int problems = 0, rc;

	if ((rc = tsm_content_tree(store, boot_id, 0, &tree, &ntree)) < 0)
		return rc;
	if ((rc = tsm_content_boot_entries(store, boot_id, 0, &entries, &nentries)) < 0) {
		tsm_tree_entries_free(tree, ntree);
		return rc;
	}
	for (size_t i = 0; i < nentries; i++) {
		bios |= entries[i].platform == TSM_BOOT_PLATFORM_BIOS;
		uefi |= entries[i].platform == TSM_BOOT_PLATFORM_UEFI;
	}
	/* The layouts tsm_boot_choice_from_content() falls back to. */
	bios |= entry_find(tree, ntree, TSM_WINPE_ETFSBOOT) != NULL;
	uefi |= entry_find(tree, ntree, TSM_WINPE_EFISYS) != NULL;
	arch = tsm_boot_image_meta(store, boot_id, 0, "boot.arch");
	client = tsm_boot_image_meta(store, boot_id, 0, "boot.client");
	if (d->form == TSM_MEDIA_USB) {
		/* UEFI starts a stick from \EFI\BOOT\BOOT<arch>.EFI (UEFI 2.x 3.5.1.1). */
		const char *name = tsm_winpe_efi_name(arch);
		bool found = false;
		char path[64];

		for (size_t i = 0; !found && i < sizeof(efi_names) / sizeof(efi_names[0]); i++) {
			snprintf(path, sizeof(path), "efi/boot/%s", name ? name : efi_names[i]);
			found = entry_find(tree, ntree, path) != NULL;
		}
		const struct tsm_tree_entry *wim = entry_find(tree, ntree, TSM_WINPE_BOOT_WIM);

		/* FAT32 file sizes are 32 bits (Microsoft FAT specification 1.03,
		 * DIR_FileSize); the boot manager starts one WIM, not a split set. */
		if (wim && wim->size > 0xFFFFFFFFull)
			BOOT_PROBLEM("media '%s' (%s): %s of boot image %s is %llu bytes: FAT32 holds"
				     " files under 4 GiB and a boot image cannot be split into .swm"
				     " parts; make it CD/DVD media or the boot image smaller", d->name,
				     type, TSM_WINPE_BOOT_WIM, boot_id, (unsigned long long)wim->size);
		if (!found && !arch)
			tsm_warn("media '%s': a USB image boots under UEFI from efi/boot/bootx64.efi"
				 " (bootia32.efi, bootaa64.efi), which boot image %s does not hold: the"
				 " stick will not boot under UEFI", d->name, boot_id);
		if (!found && arch)
			BOOT_PROBLEM("media '%s' (%s): a USB image boots under UEFI from efi/boot/%s,"
				     " which boot image %s (%s) does not hold", d->name, type,
				     name ? name : "boot<arch>.efi", boot_id, arch);
	} else if (d->type != TSM_MEDIA_PRESTAGED && !bios && !uefi) {
		BOOT_PROBLEM("media '%s' (%s): boot image %s has no BIOS or UEFI boot entry: it holds"
			     " neither %s (BIOS) nor %s (UEFI) as Windows PE media do, nor El Torito"
			     " entries of an imported ISO; name its boot files with --bios-boot and"
			     " --uefi-boot", d->name, type, boot_id, TSM_WINPE_ETFSBOOT, TSM_WINPE_EFISYS);
	}
	/* BIOS firmware runs x86 code only (El Torito 1.0: platform 0 is 80x86). */
	if (arch && strcmp(arch, "arm64") == 0 && d->form != TSM_MEDIA_USB && d->bios_boot)
		BOOT_PROBLEM("media '%s' (%s): boot image %s is arm64: a BIOS boot entry (x86"
			     " firmware) cannot start it; leave out --bios-boot", d->name, type,
			     boot_id);
	if (arch && !client)
		tsm_warn("media '%s': boot image %s has no Configuration Manager client"
			 " (sms/bin/.../TsmBootstrap.exe): the media will start Windows PE but no"
			 " task sequence", d->name, boot_id);
	free(arch);
	free(client);
	tsm_boot_entries_free(entries, nentries);
	tsm_tree_entries_free(tree, ntree);
	return problems;
}
