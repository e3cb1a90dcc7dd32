/* El Torito ("El Torito" Bootable CD-ROM Format Specification 1.0,
 * Phoenix/IBM 1995): the boot record volume descriptor, the boot catalog,
 * and the isolinux boot information table.
 *
 * The catalog holds a validation entry, the initial/default entry (the
 * BIOS no-emulation image when there is one, else the UEFI image) and, when
 * both are present, a final section header for platform 0xEF (UEFI, added
 * by UEFI 2.x 13.3.2.1) with one entry for the FAT image. */
#include "iso_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

#define PLATFORM_X86 0x00
#define PLATFORM_EFI 0xEF
#define BOOT_INFO_OFF 8
#define BOOT_INFO_LEN 56

static struct iso_node *boot_node(struct iso_ctx *ctx, const char *path, const char *what)
{
	struct tsm_tree_node *t = tsm_tree_lookup(ctx->tree, path);

	if (!t) {
		tsm_error("%s '%s' is not in the tree", what, path);
		return NULL;
	}
	if (t->type != TSM_ENTRY_FILE || !t->size) {
		tsm_error("%s '%s' is not a file with data", what, path);
		return NULL;
	}
	return t->writer_data;
}

/* El Torito 1.0 2.2 byte 1: an emulated floppy is the whole disk the BIOS
 * sees, so the image must be exactly that large; an emulated hard disk
 * needs an MBR (2.2 byte 4, its partition's type, is read from it). */
static int check_emulation(struct iso_ctx *ctx)
{
	static const uint64_t floppy[] = { 0, 1228800, 1474560, 2949120 };
	const struct tsm_iso_options *o = ctx->opts;

	if (o->bios_emulation > 4) {
		tsm_error("BIOS boot file '%s': unknown El Torito media type %u", o->bios_boot,
			  o->bios_emulation);
		return -EINVAL;
	}
	if (o->bios_emulation >= 1 && o->bios_emulation <= 3 &&
	    ctx->bios_boot->size != floppy[o->bios_emulation]) {
		tsm_error("BIOS boot file '%s' is %llu bytes: floppy emulation needs a %llu-byte"
			  " image", o->bios_boot, (unsigned long long)ctx->bios_boot->size,
			  (unsigned long long)floppy[o->bios_emulation]);
		return -EINVAL;
	}
	if (o->bios_emulation && o->boot_info_table) {
		tsm_error("BIOS boot file '%s': a boot info table is for no-emulation images only",
			  o->bios_boot);
		return -EINVAL;
	}
	if (o->bios_load_segment > 0xffff || o->bios_system_type > 0xff) {
		tsm_error("BIOS boot file '%s': load segment or system type out of range",
			  o->bios_boot);
		return -EINVAL;
	}
	return 0;
}

int eltorito_prepare(struct iso_ctx *ctx)
{
	const struct tsm_iso_options *o = ctx->opts;
	int rc;

	if (o->bios_boot && !(ctx->bios_boot = boot_node(ctx, o->bios_boot, _("BIOS boot file"))))
		return -ENOENT;
	if (o->uefi_boot && !(ctx->uefi_boot = boot_node(ctx, o->uefi_boot, _("UEFI boot image"))))
		return -ENOENT;
	if (o->boot_info_table && ctx->bios_boot && ctx->bios_boot->size < 64) {
		tsm_error("BIOS boot file '%s' is %llu bytes: too small for a boot info table",
			  o->bios_boot, (unsigned long long)ctx->bios_boot->size);
		return -EINVAL;
	}
	if (ctx->bios_boot && (rc = check_emulation(ctx)) < 0)
		return rc;
	if (o->boot_catalog && (ctx->bios_boot || ctx->uefi_boot)) {
		struct tsm_tree_node *t = tsm_tree_lookup(ctx->tree, o->boot_catalog);

		/* A catalog path that is not a small file is left alone: the
		 * file stays what it is and the catalog has no name. */
		if (t && t->type == TSM_ENTRY_FILE && t->size && t->size <= ISO_SECTOR)
			ctx->catalog_node = t->writer_data;
	}
	if (ctx->bios_boot && ctx->bios_boot == ctx->uefi_boot) {
		tsm_error("the BIOS boot file and the UEFI boot image are the same file '%s'",
			  o->bios_boot);
		return -EINVAL;
	}
	return 0;
}

/* El Torito 2.0, boot record volume descriptor (ECMA-119 8.2 layout):
 *   0 type 0   1 "CD001"   6 version 1
 *   7 boot system identifier "EL TORITO SPECIFICATION" (zero padded, 32)
 *  39 boot identifier (zero, 32)
 *  71 absolute sector of the boot catalog (32-bit little-endian) */
void eltorito_write_br(struct iso_ctx *ctx, uint8_t *p)
{
	static const char id[] = "EL TORITO SPECIFICATION";

	p[0] = 0;
	memcpy(p + 1, "CD001", 5);
	p[6] = 1;
	memcpy(p + 7, id, sizeof(id) - 1);
	le32_set(p + 71, ctx->catalog_lba);
}

/* El Torito 2.2 / 2.3 / 2.5, initial or section entry (32 bytes):
 *   0 boot indicator 0x88    1 media type (0 no emulation, 1-3 floppy,
 *   4 hard disk)  2 load segment (0: 0x7C0)  4 system type  5 unused
 *   6 sector count (virtual 512-byte sectors)  8 load RBA (32-bit)
 *  12 unused / selection criteria */
static void boot_entry(uint8_t *p, uint32_t lba, uint16_t sectors, uint8_t media,
		       uint16_t segment, uint8_t system)
{
	p[0] = 0x88;
	p[1] = media;
	le16_set(p + 2, segment);
	p[4] = system;
	le16_set(p + 6, sectors);
	le32_set(p + 8, lba);
}

/* 2.2 byte 4 for an emulated hard disk: "a copy of byte 5 (System
 * Indicator) from the Partition Table found in the boot image", i.e. the
 * type of the image's first used MBR partition (entries at 446, type at 4). */
static int hd_system_type(struct iso_ctx *ctx, uint8_t *type_ret)
{
	const struct tsm_blob_source *src = ctx->opts->boot_source;
	struct tsm_tree_node *t = ctx->bios_boot->t;
	uint8_t mbr[512];
	ssize_t got;

	*type_ret = 0;
	if (ctx->bios_boot->size < sizeof(mbr))
		return 0;
	if (t->data)
		memcpy(mbr, t->data, sizeof(mbr));
	else if (!src)
		return 0;
	else if ((got = t->image ? tsm_image_pread(t->image, src, mbr, sizeof(mbr), 0)
				 : src->pread(src->ctx, t->blob_id, mbr, sizeof(mbr), 0)) !=
		 (ssize_t)sizeof(mbr))
		return got < 0 ? (int)got : -EIO;
	for (int i = 0; i < 4 && !*type_ret; i++)
		*type_ret = mbr[446 + 16 * i + 4];
	return 0;
}

uint16_t tsm_iso_efi_load_size(uint64_t size)
{
	uint64_t s = (size + 511) / 512;

	/* Above 65535 the count cannot be said; 0 tells firmware (EDK2's
	 * ElTorito.c among them) to use the image up to the end. */
	return s > 0xFFFF ? 0 : (uint16_t)s;
}

static uint16_t efi_sectors(const struct iso_ctx *ctx, const struct iso_node *n)
{
	unsigned given = ctx->opts->uefi_load_size;

	return given ? (uint16_t)(given > 0xFFFF ? 0 : given) : tsm_iso_efi_load_size(n->size);
}

int eltorito_write_catalog(struct iso_ctx *ctx)
{
	uint8_t *p = tsm_image_builder_meta(ctx->b, (uint64_t)ctx->catalog_lba * ISO_SECTOR,
					    ISO_SECTOR);
	const struct tsm_iso_options *o = ctx->opts;
	uint16_t sum = 0;
	struct iso_node *first = ctx->bios_boot ? ctx->bios_boot : ctx->uefi_boot;
	uint8_t system = (uint8_t)o->bios_system_type;
	unsigned load = o->bios_load_size ? o->bios_load_size : o->bios_emulation ? 1 : 4;
	int rc;

	if (!p)
		return -ENOMEM;
	if (ctx->bios_boot && o->bios_emulation == 4 && !system &&
	    (rc = hd_system_type(ctx, &system)) < 0)
		return rc;
	/* 2.1 validation entry: 0 header id 1, 1 platform, 4 id string (24),
	 * 28 checksum (the 16-bit words of the entry sum to 0), 30 0x55 0xAA */
	p[0] = 1;
	p[1] = ctx->bios_boot ? PLATFORM_X86 : PLATFORM_EFI;
	p[30] = 0x55;
	p[31] = 0xAA;
	for (int i = 0; i < 32; i += 2)
		sum = (uint16_t)(sum + le16_get(p + i));
	le16_set(p + 28, (uint16_t)(0x10000 - sum));
	if (ctx->bios_boot)
		boot_entry(p + 32, first->data_lba, (uint16_t)load, (uint8_t)o->bios_emulation,
			   (uint16_t)o->bios_load_segment, system);
	else
		boot_entry(p + 32, first->data_lba, efi_sectors(ctx, ctx->uefi_boot), 0, 0, 0);
	if (ctx->bios_boot && ctx->uefi_boot) {
		/* 2.4 section header: 0 0x91 (final), 1 platform, 2 entries */
		p[64] = 0x91;
		p[65] = PLATFORM_EFI;
		le16_set(p + 66, 1);
		boot_entry(p + 96, ctx->uefi_boot->data_lba, efi_sectors(ctx, ctx->uefi_boot), 0, 0, 0);
	}
	return 0;
}

uint32_t eltorito_boot_info_csum(const uint8_t *data, size_t len)
{
	uint32_t sum = 0;

	for (size_t i = 64; i + 4 <= len; i += 4)
		sum += le32_get(data + i);
	if (len > 64 && len % 4) { /* a short last word, zero-padded */
		uint8_t w[4] = { 0 };

		memcpy(w, data + len - len % 4, len % 4);
		sum += le32_get(w);
	}
	return sum;
}

/* The boot information table (mkisofs -boot-info-table, read by isolinux):
 * 56 bytes at offset 8 of the boot file:
 *   0 LBA of the primary volume descriptor   4 LBA of the boot file
 *   8 boot file length in bytes             12 checksum of the file from
 *  byte 64 on (32-bit little-endian words)  16 reserved (40 bytes)
 * isolinux verifies the checksum, so this is the one place the writer reads
 * file bytes: the boot file's, through opts->boot_source. */
#define BOOT_FILE_MAX (64u << 20)

/* GRUB 2's boot info (xorrisofs --grub2-boot-info): bytes 2548-2555 of its
 * El Torito image hold, as LE64, the image's 2 KiB block address times 4
 * plus 5 (xorrisofs(1)), from which its boot.img finds the rest of it. */
#define GRUB2_INFO_OFF 2548u

static bool grub2_patch(const struct iso_ctx *ctx, const struct iso_node *n)
{
	return ctx->opts->grub2_boot_info && n->size >= GRUB2_INFO_OFF + 8;
}

/* The checksum with GRUB 2's 8 bytes as they will be written (its two
 * words are 4-aligned words of the sum). */
static uint32_t csum_grub2(const struct iso_ctx *ctx, const struct iso_node *n,
			   const uint8_t *data, uint32_t sum)
{
	uint64_t v = (uint64_t)n->data_lba * 4 + 5;

	if (!grub2_patch(ctx, n))
		return sum;
	sum -= le32_get(data + GRUB2_INFO_OFF) + le32_get(data + GRUB2_INFO_OFF + 4);
	return sum + (uint32_t)v + (uint32_t)(v >> 32);
}

static int boot_file_csum(struct iso_ctx *ctx, struct iso_node *n, uint32_t *csum_ret)
{
	const struct tsm_blob_source *src = ctx->opts->boot_source;
	struct tsm_tree_node *t = n->t;
	uint8_t *buf;
	ssize_t got;

	if (t->data) {
		*csum_ret = csum_grub2(ctx, n, t->data, eltorito_boot_info_csum(t->data,
										 (size_t)n->size));
		return 0;
	}
	if (!src) {
		tsm_error("boot info table for '%s': the writer needs a source for the boot file's"
			  " bytes to compute its checksum", ctx->opts->bios_boot);
		return -EINVAL;
	}
	if (n->size > BOOT_FILE_MAX) {
		tsm_error("BIOS boot file '%s' is %llu bytes: too large for a boot info table",
			  ctx->opts->bios_boot, (unsigned long long)n->size);
		return -EFBIG;
	}
	if (!(buf = malloc((size_t)n->size)))
		return -ENOMEM;
	got = t->image ? tsm_image_pread(t->image, src, buf, (size_t)n->size, 0)
		       : src->pread(src->ctx, t->blob_id, buf, (size_t)n->size, 0);
	if (got >= 0 && (uint64_t)got != n->size)
		got = -EIO;
	if (got < 0) {
		tsm_error("reading BIOS boot file '%s' for its boot info table: %s",
			  ctx->opts->bios_boot, strerror((int)-got));
		free(buf);
		return (int)got;
	}
	*csum_ret = csum_grub2(ctx, n, buf, eltorito_boot_info_csum(buf, (size_t)n->size));
	free(buf);
	return 0;
}

/* The BIOS boot file with its patches (the boot info table, GRUB 2's boot
 * info) as META and the rest of its bytes from the store, in order. */
int eltorito_emit_boot_file(struct iso_ctx *ctx, struct iso_node *n)
{
	uint64_t base = (uint64_t)n->data_lba * ISO_SECTOR, at = 0;
	bool table = ctx->opts->boot_info_table, grub = grub2_patch(ctx, n);
	uint32_t csum = 0;
	uint8_t *m;
	int rc;

	if (table) {
		if ((rc = boot_file_csum(ctx, n, &csum)) < 0)
			return rc;
		if (!(m = tsm_image_builder_meta(ctx->b, base + BOOT_INFO_OFF, BOOT_INFO_LEN)))
			return -ENOMEM;
		le32_set(m, ctx->pvd_lba);
		le32_set(m + 4, n->data_lba);
		le32_set(m + 8, (uint32_t)n->size);
		le32_set(m + 12, csum);
		if ((rc = iso_emit_file_range(ctx, n, 0, BOOT_INFO_OFF)) < 0)
			return rc;
		at = BOOT_INFO_OFF + BOOT_INFO_LEN;
	}
	if (grub) {
		if (!(m = tsm_image_builder_meta(ctx->b, base + GRUB2_INFO_OFF, 8)))
			return -ENOMEM;
		le64_set(m, (uint64_t)n->data_lba * 4 + 5);
		if ((rc = iso_emit_file_range(ctx, n, at, GRUB2_INFO_OFF - at)) < 0)
			return rc;
		at = GRUB2_INFO_OFF + 8;
	}
	return iso_emit_file_range(ctx, n, at, n->size - at);
}
