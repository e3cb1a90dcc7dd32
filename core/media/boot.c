/* Which files of a boot image boot it: the El Torito entries an imported
 * ISO brought (with its hybrid MBR/GPT), else the layouts boot images are
 * known to have.  Re-emitting an imported ISO this way boots as the
 * original did. */
#include "tsmedia/media.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsmedia/content.h"
#include "tsmedia/tree.h"

void tsm_boot_choice_clear(struct tsm_boot_choice *c)
{
	free(c->bios_boot);
	free(c->uefi_boot);
	free(c->hybrid_mbr);
	memset(c, 0, sizeof(*c));
}

/* A boot image no directory names, shown under [BOOT]/ as archivers show
 * El Torito images. */
static char *add_hidden_image(struct tsm_tree *tree, const struct tsm_boot_entry *e, size_t i)
{
	struct tsm_tree_entry fe = { .type = TSM_ENTRY_FILE, .mode = 0444, .size = e->size,
				     .blob_id = e->blob_id, .attributes = 0x21 };
	char *path;

	if (asprintf(&path, "[BOOT]/%s-%zu.img",
		     e->platform == TSM_BOOT_PLATFORM_UEFI ? "uefi" : "bios", i) < 0)
		return NULL;
	if (tsm_tree_add(tree, path, &fe, NULL) < 0) {
		free(path);
		return NULL;
	}
	return path;
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
		} else if (e->platform == TSM_BOOT_PLATFORM_BIOS && !c->bios_boot) {
			c->bios_boot = path;
			c->load_size = e->load_size;
			c->boot_info_table = e->boot_info_table;
		} else {
			free(path);
		}
	}
	tsm_boot_entries_free(entries, n);
	if (n)
		hybrid_from_content(store, id, version, c);
	/* Windows PE boot images: etfsboot.com for BIOS, efisys.bin for UEFI. */
	if (!c->bios_boot && tsm_tree_lookup(tree, "boot/etfsboot.com")) {
		c->bios_boot = strdup("boot/etfsboot.com");
		c->load_size = 8;
	}
	if (!c->uefi_boot && tsm_tree_lookup(tree, "efi/microsoft/boot/efisys.bin"))
		c->uefi_boot = strdup("efi/microsoft/boot/efisys.bin");
	return 0;
}
