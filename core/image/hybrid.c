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
#include "tsmedia/hash.h"

#define GPT_ENTRIES 128u
#define GPT_ENTRY_SIZE 128u
#define GPT_ARRAY_LBAS (GPT_ENTRIES * GPT_ENTRY_SIZE / 512u)

/* UEFI 2.x table 5-7: EFI System Partition C12A7328-F81F-11D2-BA4B-00A0C93EC93B
 * and Microsoft basic data EBD0A0A2-B9E5-4433-87C0-68B6B72699C7, in their
 * on-disk (mixed-endian) byte order. */
static const uint8_t guid_esp[16] = { 0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11,
				      0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B };
static const uint8_t guid_basic_data[16] = { 0xA2, 0xA0, 0xD0, 0xEB, 0xE5, 0xB9, 0x33, 0x44,
					     0x87, 0xC0, 0x68, 0xB6, 0xB7, 0x26, 0x99, 0xC7 };

/* A version-4-shaped GUID from the volume hash and @salt. */
static int derive_guid(const struct iso_ctx *ctx, uint8_t salt, uint8_t out[16])
{
	uint8_t in[33], h[TSM_SHA256_LEN];
	int rc;

	memcpy(in, ctx->volume_hash, 32);
	in[32] = salt;
	if ((rc = tsm_sha256(in, sizeof(in), h)) < 0)
		return rc;
	memcpy(out, h, 16);
	out[7] = (uint8_t)((out[7] & 0x0F) | 0x40); /* version 4 (time_hi is little-endian) */
	out[8] = (uint8_t)((out[8] & 0x3F) | 0x80); /* RFC 4122 variant */
	return 0;
}

/* CHS of an LBA with isohybrid's geometry (64 heads, 32 sectors), or the
 * "too large" marker 1023/255/63. */
static void set_chs(uint8_t *p, uint64_t lba)
{
	uint64_t c = lba / (64 * 32);
	unsigned h = (unsigned)(lba / 32 % 64), s = (unsigned)(lba % 32 + 1);

	if (c > 1023) {
		p[0] = 0xFE;
		p[1] = 0xFF;
		p[2] = 0xFF;
		return;
	}
	p[0] = (uint8_t)h;
	p[1] = (uint8_t)(s | ((c >> 2) & 0xC0));
	p[2] = (uint8_t)c;
}

/* One MBR partition entry: 0 status, 1 CHS first, 4 type, 5 CHS last,
 * 8 first LBA, 12 number of sectors. */
static void mbr_entry(uint8_t *p, uint8_t status, uint8_t type, uint64_t start, uint64_t count)
{
	if (start > 0xFFFFFFFFu)
		start = 0xFFFFFFFFu;
	if (count > 0xFFFFFFFFu - start)
		count = 0xFFFFFFFFu - start;
	p[0] = status;
	set_chs(p + 1, start);
	p[4] = type;
	set_chs(p + 5, start + count - 1);
	le32_set(p + 8, (uint32_t)start);
	le32_set(p + 12, (uint32_t)count);
}

/* UEFI 2.x table 5-6 GPT partition entry: 0 type GUID, 16 unique GUID,
 * 32 first LBA, 40 last LBA (inclusive), 48 attributes, 56 name (UTF-16LE,
 * 36 code units). */
static int gpt_entry(struct iso_ctx *ctx, uint8_t *p, const uint8_t type[16], uint8_t salt,
		     uint64_t first, uint64_t last, const char *name)
{
	int rc;

	memcpy(p, type, 16);
	if ((rc = derive_guid(ctx, salt, p + 16)) < 0)
		return rc;
	le64_set(p + 32, first);
	le64_set(p + 40, last);
	le64_set(p + 48, 0);
	for (size_t i = 0; name[i] && i < 36; i++)
		le16_set(p + 56 + 2 * i, (uint8_t)name[i]);
	return 0;
}

/* UEFI 2.x table 5-5 GPT header: 0 "EFI PART", 8 revision 1.0, 12 header
 * size 92, 16 header CRC32, 24 my LBA, 32 alternate LBA, 40 first usable,
 * 48 last usable, 56 disk GUID, 72 entry array LBA, 80 number of entries,
 * 84 entry size, 88 entry array CRC32. */
static void gpt_header(uint8_t *p, const uint8_t disk_guid[16], uint64_t my_lba,
		       uint64_t alt_lba, uint64_t array_lba, uint64_t last_lba, uint32_t array_crc)
{
	memcpy(p, "EFI PART", 8);
	le32_set(p + 8, 0x00010000);
	le32_set(p + 12, 92);
	le32_set(p + 16, 0);
	le64_set(p + 24, my_lba);
	le64_set(p + 32, alt_lba);
	le64_set(p + 40, 2 + GPT_ARRAY_LBAS);
	le64_set(p + 48, last_lba - 1 - GPT_ARRAY_LBAS);
	memcpy(p + 56, disk_guid, 16);
	le64_set(p + 72, array_lba);
	le32_set(p + 80, GPT_ENTRIES);
	le32_set(p + 84, GPT_ENTRY_SIZE);
	le32_set(p + 88, array_crc);
	le32_set(p + 16, iso_crc32(p, 92));
}

static int write_gpt(struct iso_ctx *ctx, uint8_t *primary)
{
	uint64_t last = (uint64_t)ctx->total_sectors * 4 - 1;
	uint64_t iso_end = (uint64_t)ctx->data_end * 4;
	uint8_t *array = primary + 2 * 512, *backup, disk_guid[16];
	uint32_t crc;
	int rc;

	if ((rc = derive_guid(ctx, 0, disk_guid)) < 0)
		return rc;
	if (ctx->uefi_boot) {
		uint64_t efi_first = (uint64_t)ctx->uefi_boot->data_lba * 4;
		uint64_t efi_last = efi_first + (ctx->uefi_boot->size + 511) / 512 - 1;

		iso_end = efi_first;
		if ((rc = gpt_entry(ctx, array + GPT_ENTRY_SIZE, guid_esp, 2, efi_first, efi_last,
				    "EFI System")) < 0)
			return rc;
	}
	/* ECMA-119 data from the end of the system area (LBA 64). */
	if ((rc = gpt_entry(ctx, array, guid_basic_data, 1, 64, iso_end - 1, "ISO9660")) < 0)
		return rc;
	crc = iso_crc32(array, GPT_ENTRIES * GPT_ENTRY_SIZE);
	gpt_header(primary + 512, disk_guid, 1, last, 2, last, crc);
	backup = tsm_image_builder_meta(ctx->b, (last - GPT_ARRAY_LBAS) * 512,
					(GPT_ARRAY_LBAS + 1) * 512);
	if (!backup)
		return -ENOMEM;
	memcpy(backup, array, GPT_ENTRIES * GPT_ENTRY_SIZE);
	gpt_header(backup + GPT_ARRAY_LBAS * 512, disk_guid, last, 1, last - GPT_ARRAY_LBAS, last,
		   crc);
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
	/* isohybrid: the boot file in 512-byte sectors at 432 (64-bit). */
	if (ctx->bios_boot)
		le64_set(mbr + 432, (uint64_t)ctx->bios_boot->data_lba * 4);
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
