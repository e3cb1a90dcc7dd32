/* The two checksums the ISO writer needs, table-driven.
 *
 * CRC-ITU: ECMA-167 1/7.2.6 (used for every UDF descriptor tag, 3/7.2.6):
 * generator x^16 + x^12 + x^5 + 1, initial value 0, bits taken most
 * significant first, no final inversion ("CRC-16/XMODEM").
 *
 * CRC-32: UEFI 2.x 5.3.2 names the GPT header and entry array CRC32; it is
 * the ISO 3309 / IEEE 802.3 one (reflected 0xEDB88320, initial and final
 * value 0xFFFFFFFF). */
#include "iso_internal.h"

#include <pthread.h>

static uint16_t crc_itu_table[256];
static uint32_t crc32_table[256];

static void crc_tables_make(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint16_t c16 = (uint16_t)(i << 8);
		uint32_t c32 = i;

		for (int k = 0; k < 8; k++) {
			c16 = (uint16_t)(c16 & 0x8000 ? (c16 << 1) ^ 0x1021 : c16 << 1);
			c32 = c32 & 1 ? (c32 >> 1) ^ 0xEDB88320u : c32 >> 1;
		}
		crc_itu_table[i] = c16;
		crc32_table[i] = c32;
	}
}

static void crc_tables_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, crc_tables_make);
}

uint16_t iso_crc_itu(const uint8_t *p, size_t n)
{
	uint16_t crc = 0;

	crc_tables_init();
	for (size_t i = 0; i < n; i++)
		crc = (uint16_t)(crc << 8) ^ crc_itu_table[(uint8_t)(crc >> 8) ^ p[i]];
	return crc;
}

uint32_t iso_crc32(const uint8_t *p, size_t n)
{
	uint32_t crc = 0xFFFFFFFFu;

	crc_tables_init();
	for (size_t i = 0; i < n; i++)
		crc = (crc >> 8) ^ crc32_table[(crc ^ p[i]) & 0xFF];
	return crc ^ 0xFFFFFFFFu;
}
