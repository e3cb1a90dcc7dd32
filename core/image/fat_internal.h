/* The FAT writer's algorithms and on-disk structures, exposed for the unit
 * tests.  References are to the Microsoft FAT specification (version 1.03,
 * "Microsoft Extensible Firmware Initiative FAT32 File System
 * Specification"): section 3 the boot sector and BPB, 4 the FAT, 5 FSInfo,
 * 6 directory entries, 7 long names.  Nothing here allocates. */
#ifndef TSMEDIA_CORE_IMAGE_FAT_INTERNAL_H
#define TSMEDIA_CORE_IMAGE_FAT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FAT_SECTOR 512u
#define FAT_DIRENT 32u
/* Section 3.5: a volume with fewer than 65525 clusters is FAT12/16; the
 * specification advises staying clear of the boundary, so 16 more. */
#define FAT_MIN_CLUSTERS (65525u + 16u)
/* Section 4: cluster numbers 2 .. 0x0FFFFFF6 hold data. */
#define FAT_MAX_CLUSTERS 0x0FFFFFF5u
#define FAT_EOC 0x0FFFFFFFu
/* Section 6: a directory holds at most 65536 entries. */
#define FAT_MAX_DIR_ENTRIES 65536u
/* Section 7: a long name is at most 255 UTF-16 code units. */
#define FAT_MAX_LFN 255u
#define FAT_LFN_CHARS 13u
/* 1 MiB in sectors: where the partition starts, what the data area and
 * the volume are aligned to. */
#define FAT_ALIGN_SECTORS 2048u
#define FAT_FILE_MAX 0xFFFFFFFFull /* section 6: DIR_FileSize is 32 bits */

/* Section 6 attributes. */
#define FAT_ATTR_READ_ONLY 0x01
#define FAT_ATTR_HIDDEN 0x02
#define FAT_ATTR_SYSTEM 0x04
#define FAT_ATTR_VOLUME_ID 0x08
#define FAT_ATTR_DIRECTORY 0x10
#define FAT_ATTR_ARCHIVE 0x20
#define FAT_ATTR_LONG_NAME 0x0F

struct fat_geometry {
	uint32_t cluster_bytes;       /* 4096 .. 32768 */
	uint32_t sectors_per_cluster;
	uint32_t reserved_sectors;    /* BPB_RsvdSecCnt */
	uint32_t fat_sectors;         /* BPB_FATSz32, each of the two FATs */
	uint32_t data_start;          /* first data sector, volume-relative */
	uint32_t clusters;            /* count of clusters (section 3.5) */
	uint32_t volume_sectors;      /* BPB_TotSec32 */
	uint64_t part_start;          /* LBA of the partition */
	uint64_t disk_sectors;        /* the whole image */
};

/* The cluster size for @bytes of content (the specification's table for
 * FAT32: up to 8 GiB 4 KiB, 16 GiB 8 KiB, 32 GiB 16 KiB, then 32 KiB). */
uint32_t fat_cluster_size_for(uint64_t bytes);

/* The volume for @used clusters of @cluster_bytes: at least
 * FAT_MIN_CLUSTERS, data area and volume aligned to 1 MiB, the partition
 * at 1 MiB, a GPT's tail after it when @gpt.  -EFBIG when it exceeds FAT32
 * or 32-bit sector counts (2 TiB). */
int fat_geometry_compute(uint32_t cluster_bytes, uint64_t used, bool gpt,
			 struct fat_geometry *g);

/* Section 3.1-3.3 boot sector of a FAT32 volume, with the writer's boot
 * stub (prints that the disk is not BIOS-bootable).  @label is 11 bytes. */
void fat_write_boot_sector(uint8_t *p, const struct fat_geometry *g, uint32_t serial,
			   const uint8_t label[11]);
/* Section 5 FSInfo sector. */
void fat_write_fsinfo(uint8_t *p, uint32_t free_count, uint32_t next_free);

/* Section 7.2: the checksum of an 11-byte short name kept in each of its
 * long-name entries. */
uint8_t fat_lfn_checksum(const uint8_t short_name[11]);

/* UTF-8 @s to UTF-16 in @out (at most @max units).  Returns the number of
 * units, -EILSEQ for malformed UTF-8 (overlong, surrogates, beyond
 * U+10FFFF) or -ENAMETOOLONG beyond @max. */
int fat_utf16_from_utf8(const char *s, uint16_t *out, size_t max);

/* The upper case Windows compares names by (simple case mapping of the
 * scripts names are written in); used to find names colliding on FAT. */
uint16_t fat_upcase(uint16_t c);

/* Section 7.4 basis-name generation: the 11-byte upper-case short name
 * of a long name, '_' for characters a short name cannot hold.  Sets
 * *@exact when the long name is its short name as is (no long-name
 * entries needed) and *@fits when the basis needs no numeric tail (no
 * lossy conversion and the name fits 8.3). */
void fat_short_basis(const uint16_t *name, size_t len, uint8_t out[11], bool *exact, bool *fits);

/* Section 7.4 numeric tail: the basis with "~@n" (n >= 1) at the end of
 * its name part, which is cut so that both fit 8 characters. */
void fat_short_tail(const uint8_t basis[11], uint32_t n, uint8_t out[11]);

/* Section 6 date (bits 15-9 years since 1980, 8-5 month, 4-0 day) and
 * time (15-11 hours, 10-5 minutes, 4-0 2-second count) of @ns since the
 * epoch, in UTC (FAT has no time zone; UTC keeps the image the same on
 * every machine); clamped to 1980-01-01 .. 2107-12-31.  @tenth (0-199)
 * is the creation time's 10 ms count. */
void fat_time_encode(int64_t ns, uint16_t *date, uint16_t *time, uint8_t *tenth);

/* One long-name entry (section 7): sequence number @ord (0x40 ORed in for
 * the last), 13 code units of @name from @(ord-1)*13, 0x0000 after the
 * name's end and 0xFFFF after that. */
void fat_lfn_entry(uint8_t *p, uint8_t ord, bool last, const uint16_t *name, size_t len,
		   uint8_t checksum);

#endif
