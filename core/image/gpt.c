/* MBR entries and GPT headers (UEFI 2.x 5.2 and 5.3): see gpt.h. */
#include "gpt.h"

#include <string.h>

#include "encode.h"
#include "iso_internal.h" /* iso_crc32: the ISO 3309 CRC-32 UEFI 2.x 5.3.2 names */
#include "tsmedia/hash.h"

const uint8_t gpt_type_esp[16] = { 0x28, 0x73, 0x2A, 0xC1, 0x1F, 0xF8, 0xD2, 0x11,
				   0xBA, 0x4B, 0x00, 0xA0, 0xC9, 0x3E, 0xC9, 0x3B };
const uint8_t gpt_type_basic_data[16] = { 0xA2, 0xA0, 0xD0, 0xEB, 0xE5, 0xB9, 0x33, 0x44,
					  0x87, 0xC0, 0x68, 0xB6, 0xB7, 0x26, 0x99, 0xC7 };

int gpt_guid_derive(const uint8_t seed[32], uint8_t salt, uint8_t out[16])
{
	uint8_t in[33], h[TSM_SHA256_LEN];
	int rc;

	memcpy(in, seed, 32);
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
void mbr_chs(uint8_t *p, uint64_t lba)
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

void mbr_entry(uint8_t *p, uint8_t status, uint8_t type, uint64_t start, uint64_t count)
{
	if (start > 0xFFFFFFFFu)
		start = 0xFFFFFFFFu;
	if (count > 0xFFFFFFFFu - start)
		count = 0xFFFFFFFFu - start;
	p[0] = status;
	mbr_chs(p + 1, start);
	p[4] = type;
	mbr_chs(p + 5, start + count - 1);
	le32_set(p + 8, (uint32_t)start);
	le32_set(p + 12, (uint32_t)count);
}

void gpt_entry(uint8_t *p, const uint8_t type[16], const uint8_t guid[16], uint64_t first,
	       uint64_t last, const char *name)
{
	memcpy(p, type, 16);
	memcpy(p + 16, guid, 16);
	le64_set(p + 32, first);
	le64_set(p + 40, last);
	le64_set(p + 48, 0);
	for (size_t i = 0; name[i] && i < 36; i++)
		le16_set(p + 56 + 2 * i, (uint8_t)name[i]);
}

void gpt_header(uint8_t *p, const uint8_t disk_guid[16], uint64_t my_lba, uint64_t alt_lba,
		uint64_t array_lba, uint64_t last_lba, uint32_t array_crc)
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

void gpt_write_headers(uint8_t *primary, uint8_t *backup, const uint8_t disk_guid[16],
		       uint64_t last_lba)
{
	const uint8_t *array = primary + 512;
	uint32_t crc = iso_crc32(array, GPT_ENTRIES * GPT_ENTRY_SIZE);

	gpt_header(primary, disk_guid, 1, last_lba, 2, last_lba, crc);
	memcpy(backup, array, GPT_ENTRIES * GPT_ENTRY_SIZE);
	gpt_header(backup + GPT_ARRAY_LBAS * 512, disk_guid, last_lba, 1,
		   last_lba - GPT_ARRAY_LBAS, last_lba, crc);
}
