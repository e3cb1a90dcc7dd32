/* Layer: image (core/image/): knows trees and extent maps, not the catalog. */
/* The virtual ISO writer: a file tree plus a boot spec laid out as an
 * extent map (tsmedia/image.h) holding an ISO 9660 volume with Joliet,
 * Rock Ridge, a UDF 1.02 bridge, El Torito BIOS/UEFI boot entries and an
 * optional hybrid MBR/GPT for USB sticks.
 *
 * File bytes are never read (but for the boot info table's checksum of the
 * BIOS boot file, see boot_source): file data become BLOB (or IMAGE) segments
 * that every namespace shares; everything generated is META.  The result
 * is a pure function of the tree and the options (no clock, no
 * randomness), so the same media version gives the same bytes forever.
 *
 * Ownership: the caller owns @tree and @opts; tsm_iso_layout() uses the
 * nodes' writer_data while it runs (and resets it to NULL) and returns a
 * new image reference in @image_ret.  One thread per call. */
#ifndef TSMEDIA_ISO_H
#define TSMEDIA_ISO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tsm_tree;
struct tsm_image;
struct tsm_blob_source;

/* ECMA-119 6.2.1: the system area is sectors 0-15. */
#define TSM_ISO_SYSTEM_AREA_BYTES 32768u

struct tsm_iso_options {
	const char *volume_id;     /* default "CDROM"; ISO: d-characters upper-cased, 32 max; Joliet: 16 UCS-2 */
	const char *publisher, *preparer, *application; /* may be NULL */
	bool joliet, rock_ridge, udf;  /* a caller wanting defaults sets all three true */
	int64_t volume_time_ns;    /* creation/modification time of the volume */
	const char *bios_boot;     /* path in the tree of an El Torito no-emulation boot file, or NULL */
	unsigned bios_load_size;   /* 512-byte sectors to load; 0: 4 (no emulation), 1 (emulation) */
	/* El Torito 1.0 2.2 for the BIOS entry: media type (0 no emulation,
	 * 1-3 a 1.2/1.44/2.88 MB floppy, 4 a hard disk), load segment (0:
	 * 0x7C0) and system type (the boot image's partition type; emulated
	 * hard disk only; 0: taken from the image's MBR). */
	unsigned bios_emulation, bios_load_segment, bios_system_type;
	/* A file of the tree (at most one sector) whose place the boot catalog
	 * takes, as in the image it was imported from ("isolinux/boot.cat"),
	 * or NULL: the catalog has no name. */
	const char *boot_catalog;
	bool grub2_boot_info;      /* patch GRUB 2's boot info into the BIOS boot file (--grub2-boot-info) */
	bool grub2_mbr;            /* the MBR template is GRUB 2's: its boot file address is +4 (--grub2-mbr) */
	/* MBR only (no GPT, no UDF): pad the image to whole cylinders of 64
	 * heads x 32 sectors (1 MiB), as isohybrid and xorriso do
	 * ("cyl-align-on" in xorriso's -report_system_area). */
	bool hybrid_cyl_align;
	bool boot_info_table;      /* patch the isolinux boot info table into the BIOS boot file */
	/* Where the BIOS boot file's bytes are read from for the boot info
	 * table's checksum (isolinux verifies it): the only file bytes the
	 * writer ever reads.  NULL is fine when the boot file is inline data. */
	const struct tsm_blob_source *boot_source;
	const char *uefi_boot;     /* path in the tree of a FAT image for the UEFI (platform 0xEF) entry, or NULL */
	unsigned uefi_load_size;   /* the 0xEF entry's sector count; 0: the image's (tsm_iso_efi_load_size) */
	const uint8_t *hybrid_mbr; /* 432..512-byte MBR boot code template (isohdpfx.bin), or NULL */
	size_t hybrid_mbr_len;
	bool hybrid_gpt;           /* GPT with the EFI image as an EFI System partition */
	/* An imported ISO's whole system area (32 KiB, sectors 0-15) carried
	 * over, and the map of its fields that follow the layout (written by
	 * core/import/iso_sysarea.c, applied by core/image/sysarea.c): its MBR,
	 * GPT and APM partitions over the boot images follow their new sectors.
	 * Both or neither; they take the place of hybrid_mbr and hybrid_gpt. */
	const uint8_t *system_area;
	const char *system_area_map;
};

/* Lays @tree out as an ISO image.  Returns 0, or a negative errno with a
 * message logged (a boot path that is not a file, more than 65535
 * directories, ...). */
/* The sector count the UEFI (platform 0xEF) El Torito entry gives for a
 * FAT image of @size bytes: its 512-byte sectors, or 0 (to the end of the
 * image) above 65535. */
uint16_t tsm_iso_efi_load_size(uint64_t size);

int tsm_iso_layout(struct tsm_tree *tree, const struct tsm_iso_options *opts,
		   struct tsm_image **image_ret);

#endif
