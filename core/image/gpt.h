/* MBR partition entries and GUID partition tables, shared by the hybrid
 * ISO (hybrid.c) and the FAT disk image (fat.c).
 *
 * MBR: the classic partition table at byte 446 of LBA 0 (four 16-byte
 * entries), CHS with isohybrid's geometry of 64 heads and 32 sectors.
 * GPT: UEFI 2.x 5.3: a header at LBA 1 with 128 entries of 128 bytes at
 * LBA 2-33, the backup entries and header in the last 33 LBAs.
 * Nothing here allocates; every pointer is to a caller's buffer. */
#ifndef TSMEDIA_CORE_IMAGE_GPT_H
#define TSMEDIA_CORE_IMAGE_GPT_H

#include <stdint.h>

#define GPT_ENTRIES 128u
#define GPT_ENTRY_SIZE 128u
#define GPT_ARRAY_LBAS (GPT_ENTRIES * GPT_ENTRY_SIZE / 512u)
/* LBAs a GPT needs at the end of the disk: backup entries and header. */
#define GPT_TAIL_LBAS (GPT_ARRAY_LBAS + 1u)

/* UEFI 2.x table 5-7 partition type GUIDs in on-disk (mixed-endian) order:
 * EFI System C12A7328-F81F-11D2-BA4B-00A0C93EC93B, Microsoft basic data
 * EBD0A0A2-B9E5-4433-87C0-68B6B72699C7. */
extern const uint8_t gpt_type_esp[16];
extern const uint8_t gpt_type_basic_data[16];

/* A version-4-shaped GUID: the first 16 bytes of SHA-256(@seed || @salt).
 * 0 or -EIO. */
int gpt_guid_derive(const uint8_t seed[32], uint8_t salt, uint8_t out[16]);

/* The 3-byte CHS at @p of @lba with isohybrid's geometry (64 heads, 32
 * sectors), or the "too large" marker 1023/254/63. */
void mbr_chs(uint8_t *p, uint64_t lba);

/* One MBR partition entry at @p: 0 status, 1 CHS first, 4 type, 5 CHS last,
 * 8 first LBA, 12 number of sectors (clamped to 32 bits). */
void mbr_entry(uint8_t *p, uint8_t status, uint8_t type, uint64_t start, uint64_t count);

/* UEFI 2.x table 5-6 partition entry at @p: 0 type GUID, 16 unique GUID,
 * 32 first LBA, 40 last LBA (inclusive), 48 attributes (0), 56 name
 * (UTF-16LE of an ASCII @name, 36 code units at most). */
void gpt_entry(uint8_t *p, const uint8_t type[16], const uint8_t guid[16], uint64_t first,
	       uint64_t last, const char *name);

/* UEFI 2.x table 5-5 header at @p: 0 "EFI PART", 8 revision 1.0, 12 header
 * size 92, 16 header CRC32, 24 my LBA, 32 alternate LBA, 40 first usable
 * (34), 48 last usable (@last_lba - 33), 56 disk GUID, 72 entry array LBA,
 * 80 number of entries, 84 entry size, 88 entry array CRC32. */
void gpt_header(uint8_t *p, const uint8_t disk_guid[16], uint64_t my_lba, uint64_t alt_lba,
		uint64_t array_lba, uint64_t last_lba, uint32_t array_crc);

/* Both headers around a filled entry array: @primary holds LBA 1-33 (the
 * header, then the array at @primary + 512), @backup the last 33 LBAs of
 * a disk whose last LBA is @last_lba (the array, then the header). */
void gpt_write_headers(uint8_t *primary, uint8_t *backup, const uint8_t disk_guid[16],
		       uint64_t last_lba);

#endif
