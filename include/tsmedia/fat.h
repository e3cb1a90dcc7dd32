/* Layer: image (core/image/fat.c): knows trees and extent maps, not the catalog. */
/* The USB disk image writer: a file tree laid out as an extent map
 * (tsmedia/image.h) holding a partitioned disk with one FAT32 partition,
 * what `dd` writes to a stick.
 *
 *   LBA 0         MBR (FAT32 LBA partition, type 0x0C), or a protective
 *                 MBR and a GPT (UEFI 2.x 5.3) at LBA 1-33
 *   LBA 2048      the partition, aligned to 1 MiB: a FAT32 volume
 *                 (Microsoft FAT specification 1.03): boot sector with the
 *                 BPB, FSInfo, backup boot sector at 6, both FATs, then
 *                 the clusters: every directory, then every file's data
 *                 as one contiguous run, straight from its blob
 *   tail          (GPT) the backup entries and header
 *
 * Names are VFAT long names (UTF-16) with unique 8.3 short names; two
 * names of one directory that differ only in case collide on FAT, as on
 * Windows, and are an error naming both.  Files of 4 GiB or more do not fit
 * FAT32 and are an error naming the file.  Symbolic links have no FAT form
 * and are left out with a warning; hidden nodes (boot images no directory
 * names) are left out.
 *
 * UEFI firmware boots a stick from \EFI\BOOT\BOOTX64.EFI (BOOTIA32.EFI,
 * BOOTAA64.EFI, ...): the tree's own files, as they are.  BIOS boot needs
 * code the boot image brings: an MBR template and a FAT32 boot sector
 * whose boot code is spliced around the writer's BPB; the partition is
 * then active.
 *
 * Nothing is read: file data become BLOB (or IMAGE) segments, everything
 * generated is META, free space is ZERO.  The result is a pure function of
 * the tree and the options (serial number, GUIDs and disk signature come
 * from a hash of the names, sizes, times and content hashes), so the same
 * tree gives the same bytes forever.
 *
 * Ownership: the caller owns @tree and @opts; tsm_fat_layout() uses the
 * nodes' writer_data while it runs (and resets it to NULL) and returns a
 * new image reference in @image_ret.  One thread per call. */
#ifndef TSMEDIA_FAT_H
#define TSMEDIA_FAT_H

#include <stddef.h>
#include <stdint.h>

struct tsm_tree;
struct tsm_image;

enum tsm_fat_partition_table {
	TSM_FAT_MBR, /* default: the widest firmware support */
	TSM_FAT_GPT, /* GPT with a protective MBR */
};

struct tsm_fat_options {
	/* Volume label: upper-cased, characters a short name cannot hold
	 * become '_', cut to 11.  NULL or "": "NO NAME". */
	const char *volume_label;
	enum tsm_fat_partition_table partition_table;
	/* BIOS boot, both optional: the MBR's boot code (the first 440 bytes
	 * of @mbr_boot_code are used; it makes the partition active), and a
	 * FAT32 boot sector (512 bytes) whose jump (0-2) and boot code
	 * (90-509) replace the writer's around its own BPB. */
	const uint8_t *mbr_boot_code;
	size_t mbr_boot_code_len;
	const uint8_t *boot_sector;
	size_t boot_sector_len;
	/* MBR only: bytes placed from LBA 1 in the gap before the partition
	 * (1 MiB), where a loader's MBR code finds the rest of it (GRUB's
	 * core.img, as grub-install embeds it).  Larger than the gap: -EFBIG. */
	const uint8_t *embed;
	size_t embed_len;
	/* BIOS boot by tsmedia's own code (core/image/boot/), when there is
	 * no @mbr_boot_code and the table is MBR: the MBR runs the active
	 * partition's boot sector, whose code loads this file of the root
	 * ("bootmgr") whole to 2000:0000 and runs it with DL the drive and
	 * the boot sector at 0000:7C00, as the Windows boot manager is started
	 * from a disk.  A file larger than TSM_FAT_BIOS_LOADER_MAX, or none
	 * of that name: no BIOS boot, with a warning. */
	const char *bios_loader;
};
/* 2000:0000 up to the extended BIOS data area below 640 KiB. */
#define TSM_FAT_BIOS_LOADER_MAX (0x9F000u - 0x20000u)

/* Lays @tree out as a FAT32 disk image.  Returns 0, or a negative errno
 * with a message logged: -EFBIG for a file of 4 GiB or more or a volume
 * too large for FAT32 or the partition table, -EEXIST for names that
 * collide on FAT, -EINVAL for a name FAT cannot hold. */
int tsm_fat_layout(struct tsm_tree *tree, const struct tsm_fat_options *opts,
		   struct tsm_image **image_ret);

#endif
