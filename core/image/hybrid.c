/* Hybrid images: the ISO's system area (ECMA-119 6.2.1, its first 32 KiB)
 * holds an MBR, and optionally a GPT, so the same bytes boot from a USB
 * stick.
 *
 * MBR only (as syslinux's isohybrid and xorriso's -isohybrid-mbr do): the
 * template's boot code (isohdpfx.bin) in bytes 0-431, at 432 the boot
 * file's LBA in 512-byte sectors (isohdpfx loads isolinux.bin from there),
 * at 440 a disk signature, one bootable partition of type 0x17 from 0
 * over the whole image, and one of type 0xEF over the EFI image when there
 * is one.
 *
 * With GPT (UEFI 2.x 5.2.3 and 5.3): the MBR's only partition is the
 * protective 0xEE one from LBA 1; the primary header at LBA 1 with 128
 * entries at LBA 2-33, the backup entries and header in the last 33 LBAs.
 * Two partitions: the ISO data (basic data) from LBA 64 up to the EFI
 * image, and the EFI System partition over the FAT image, which the
 * layout places last so that the two do not overlap (firmware such as
 * EDK2 ignores overlapping entries).  GUIDs come from the volume hash. */
#include "iso_internal.h"

#include <errno.h>
#include <string.h>

#include "encode.h"
#include "gpt.h"

/* A GUID from the volume hash and @salt. */
static int derive_guid(const struct iso_ctx *ctx, uint8_t salt, uint8_t out[16])
{
	return gpt_guid_derive(ctx->volume_hash, salt, out);
}

static int write_gpt(struct iso_ctx *ctx, uint8_t *primary)
{
	uint64_t last = (uint64_t)ctx->total_sectors * 4 - 1;
	uint64_t iso_end = (uint64_t)ctx->data_end * 4;
	uint8_t *array = primary + 2 * 512, *backup, disk_guid[16], guid[16];
	int rc;

	if ((rc = derive_guid(ctx, 0, disk_guid)) < 0)
		return rc;
	if (ctx->uefi_boot) {
		uint64_t efi_first = (uint64_t)ctx->uefi_boot->data_lba * 4;
		uint64_t efi_last = efi_first + (ctx->uefi_boot->size + 511) / 512 - 1;

		iso_end = efi_first;
		if ((rc = derive_guid(ctx, 2, guid)) < 0)
			return rc;
		gpt_entry(array + GPT_ENTRY_SIZE, gpt_type_esp, guid, efi_first, efi_last,
			  "EFI System");
	}
	/* ECMA-119 data from the end of the system area (LBA 64). */
	if ((rc = derive_guid(ctx, 1, guid)) < 0)
		return rc;
	gpt_entry(array, gpt_type_basic_data, guid, 64, iso_end - 1, "ISO9660");
	backup = tsm_image_builder_meta(ctx->b, (last - GPT_ARRAY_LBAS) * 512, GPT_TAIL_LBAS * 512);
	if (!backup)
		return -ENOMEM;
	gpt_write_headers(primary + 512, backup, disk_guid, last);
	return 0;
}

int hybrid_write(struct iso_ctx *ctx)
{
	const struct tsm_iso_options *o = ctx->opts;
	uint64_t n512 = (uint64_t)ctx->total_sectors * 4;
	uint8_t *mbr;

	if (!o->hybrid_mbr && !o->hybrid_gpt)
		return 0;
	mbr = tsm_image_builder_meta(ctx->b, 0, o->hybrid_gpt ? (2 + GPT_ARRAY_LBAS) * 512 : 512);
	if (!mbr)
		return -ENOMEM;
	if (o->hybrid_mbr)
		memcpy(mbr, o->hybrid_mbr, o->hybrid_mbr_len < 432 ? o->hybrid_mbr_len : 432);
	/* isohybrid: the boot file in 512-byte sectors at 432 (64-bit); GRUB 2's
	 * MBR (xorrisofs --grub2-mbr): that plus 4. */
	if (ctx->bios_boot)
		le64_set(mbr + 432, (uint64_t)ctx->bios_boot->data_lba * 4 + (o->grub2_mbr ? 4 : 0));
	memcpy(mbr + 440, ctx->volume_hash + 16, 4); /* disk signature */
	le16_set(mbr + 444, 0);
	if (o->hybrid_gpt) {
		mbr_entry(mbr + 446, 0x00, 0xEE, 1, n512 - 1);
	} else {
		mbr_entry(mbr + 446, 0x80, 0x17, 0, n512);
		if (ctx->uefi_boot)
			mbr_entry(mbr + 462, 0x00, 0xEF, (uint64_t)ctx->uefi_boot->data_lba * 4,
				  (ctx->uefi_boot->size + 511) / 512);
	}
	mbr[510] = 0x55;
	mbr[511] = 0xAA;
	return o->hybrid_gpt ? write_gpt(ctx, mbr) : 0;
}
