/* libFuzzer harness: an ISO's system area (core/import/iso_sysarea.c reads
 * its MBR, GPT and Apple partition map) and the map it writes, applied by
 * the ISO writer (core/image/sysarea.c).  One input: a 24-byte head, LE64
 * the image's size (modulo 4 GiB; its lowest bit chooses UDF for the
 * layout), LE32 the BIOS boot image's sector and bytes (modulo 64 KiB; 0: 1), LE32
 * the EFI image's sector and bytes (modulo 64 MiB; 0: 1), then the system area (32
 * KiB, zero padded).  make-corpus.sh writes such heads from real images.
 * When the system area is mapped, a tree with those images is laid out with
 * it, which must either work or fail with a message, never crash. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "import/iso_sysarea.h"
#include "tsmedia/image.h"
#include "tsmedia/iso.h"
#include "tsmedia/tree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void lay_out(const uint8_t *sa, const char *map, bool udf, size_t bios_size,
		    uint64_t efi_size)
{
	static const uint8_t boot[65536];
	struct tsm_tree_entry efi = { .type = TSM_ENTRY_FILE, .mode = 0444, .size = efi_size,
				      .blob_id = 1 };
	struct tsm_tree_entry file = { .type = TSM_ENTRY_FILE, .mode = 0444, .size = 300000,
				       .blob_id = 2 };
	struct tsm_iso_options o = { .joliet = true, .rock_ridge = true, .udf = udf,
				     .bios_boot = "isolinux/isolinux.bin", .bios_load_size = 4,
				     .uefi_boot = "efi.img", .system_area = sa,
				     .system_area_map = map };
	struct tsm_image *image = NULL;
	struct tsm_tree *tree;

	if (tsm_tree_new(&tree) < 0)
		abort();
	if (tsm_tree_add_data(tree, "isolinux/isolinux.bin", boot, bios_size, 0, NULL) < 0 ||
	    tsm_tree_add(tree, "efi.img", &efi, NULL) < 0 ||
	    tsm_tree_add(tree, "data/file.bin", &file, NULL) < 0)
		abort();
	if (tsm_iso_layout(tree, &o, &image) == 0)
		tsm_image_unref(image);
	tsm_tree_free(tree);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t sa[TSM_ISO_SYSTEM_AREA];
	uint64_t image_size = 0;
	uint32_t bios_size, efi_size;
	struct tsm_sa_anchor anchors[3];
	char *map = NULL, *why = NULL;
	int rc;

	fuzz_init("sysarea");
	if (size < 24)
		return 0;
	for (int i = 7; i >= 0; i--)
		image_size = image_size << 8 | data[i];
	image_size %= 1ull << 32;
	bios_size = get32(data + 12) % 65536 ? get32(data + 12) % 65536 : 1;
	efi_size = get32(data + 20) % (64u << 20) ? get32(data + 20) % (64u << 20) : 1;
	anchors[0] = (struct tsm_sa_anchor){ "bios", NULL, (uint64_t)get32(data + 8) * 2048,
					     bios_size };
	anchors[1] = (struct tsm_sa_anchor){ "uefi", NULL, (uint64_t)get32(data + 16) * 2048,
					     efi_size };
	anchors[2] = (struct tsm_sa_anchor){ "file", "data/file.bin", 900 * 2048, 300000 };
	memset(sa, 0, sizeof(sa));
	memcpy(sa, data + 24, size - 24 < sizeof(sa) ? size - 24 : sizeof(sa));
	rc = tsm_iso_sysarea_describe(sa, image_size, "MBR GPT APM", anchors,
				      sizeof(anchors) / sizeof(anchors[0]), &map, &why);
	if (rc < 0)
		return 0; /* out of memory */
	fuzz_expect_valid(rc == TSM_SA_MAPPED, "a mapped system area");
	if (rc == TSM_SA_MAPPED)
		lay_out(sa, map, image_size & 1, bios_size, efi_size);
	free(map);
	free(why);
	return 0;
}
