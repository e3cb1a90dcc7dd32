/* Byte-order encoders for on-media structures, named after the spec section
 * that defines each form:
 *   ECMA-119 7.2.1 / 7.3.1   8/32-bit little-endian   (iso_set_711, iso_set_731)
 *   ECMA-119 7.2.2 / 7.3.2   16/32-bit big-endian     (iso_set_722, iso_set_732)
 *   ECMA-119 7.2.3 / 7.3.3   16/32-bit both-endian    (iso_set_723, iso_set_733)
 *   ECMA-119 7.2.1           16-bit little-endian     (iso_set_721)
 *   ECMA-167 1/7.1           UDF's little-endian Uint16/32/64 (udf_set_u16 ...)
 *   UEFI 2.x 5.3             GPT's little-endian fields use the same helpers.
 * All take an unaligned byte pointer; none allocates. */
#ifndef TSMEDIA_CORE_IMAGE_ENCODE_H
#define TSMEDIA_CORE_IMAGE_ENCODE_H

#include <stdint.h>

static inline void le16_set(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void le32_set(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static inline void le64_set(uint8_t *p, uint64_t v)
{
	le32_set(p, (uint32_t)v);
	le32_set(p + 4, (uint32_t)(v >> 32));
}

static inline void be16_set(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void be32_set(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint16_t le16_get(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static inline uint32_t le32_get(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint32_t be32_get(const uint8_t *p)
{
	return (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}

/* ECMA-119 7.1.1: 8-bit unsigned. */
static inline void iso_set_711(uint8_t *p, uint8_t v) { p[0] = v; }
/* ECMA-119 7.2.1: 16-bit little-endian. */
static inline void iso_set_721(uint8_t *p, uint16_t v) { le16_set(p, v); }
/* ECMA-119 7.2.2: 16-bit big-endian. */
static inline void iso_set_722(uint8_t *p, uint16_t v) { be16_set(p, v); }
/* ECMA-119 7.2.3: 16-bit both-byte orders (LE then BE, 4 bytes). */
static inline void iso_set_723(uint8_t *p, uint16_t v)
{
	le16_set(p, v);
	be16_set(p + 2, v);
}
/* ECMA-119 7.3.1: 32-bit little-endian. */
static inline void iso_set_731(uint8_t *p, uint32_t v) { le32_set(p, v); }
/* ECMA-119 7.3.2: 32-bit big-endian. */
static inline void iso_set_732(uint8_t *p, uint32_t v) { be32_set(p, v); }
/* ECMA-119 7.3.3: 32-bit both-byte orders (LE then BE, 8 bytes). */
static inline void iso_set_733(uint8_t *p, uint32_t v)
{
	le32_set(p, v);
	be32_set(p + 4, v);
}

/* ECMA-167 1/7.1.3, 1/7.1.5, 1/7.1.7: Uint16, Uint32, Uint64 little-endian. */
static inline void udf_set_u16(uint8_t *p, uint16_t v) { le16_set(p, v); }
static inline void udf_set_u32(uint8_t *p, uint32_t v) { le32_set(p, v); }
static inline void udf_set_u64(uint8_t *p, uint64_t v) { le64_set(p, v); }

#endif
