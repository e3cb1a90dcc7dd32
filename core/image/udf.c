/* The UDF 1.02 bridge (OSTA UDF 1.02 on ECMA-167 2nd edition): a second file
 * system over the same file data as ECMA-119, so readers that prefer UDF
 * (Windows Setup, 7-Zip) see real names and files of any size.
 *
 * Windows PE media are made so: the ADK's MakeWinPEMedia /ISO runs
 * "oscdimg -bootdata:2#p0,e,b<etfsboot.com>#pEF,e,b<efisys.bin> -u1
 * -udfver102" (the ADK's MakeWinPEMedia.cmd).  Per oscdimg's usage text
 * (OSCDIMG 2.55) and learn.microsoft.com "Oscdimg Command-Line Options",
 * -u1 writes UDF and ISO 9660 over the same file data, -u2 UDF alone with
 * a default text file in the ISO 9660 tree for readers without UDF (as
 * -j2 does for Joliet), and -udfver102 makes the UDF revision 1.02.
 * Windows setup ISOs are -u2.  tsmedia writes the -u1 form, with Joliet
 * and Rock Ridge beside it (oscdimg's -u1 ISO 9660 names are DOS 8.3).
 *
 *   volume recognition (ECMA-167 2/9): BEA01 NSR02 TEA01 after the ISO
 *     descriptors;
 *   main VDS at sector 32, reserve VDS at 48 (3/8.4): PVD, IUVD, PD, LVD
 *     (one type-1 partition map), USD, TD;
 *   LVID at 64 (3/10.10), closed;
 *   anchors (3/10.2) at sector 256 and at the last sector (or N-256 when a
 *     backup GPT owns the end of the image);
 *   in the partition (4/3): FSD + TD, one File Entry (4/14.9) per node,
 *     directories as File Identifier Descriptors (4/14.4) in their own
 *     blocks, file data shared with ECMA-119 (same sectors), as short_ads
 *     of less than 1 GiB each.
 * Symbolic links are left out, as in Joliet: a File Entry of type 12 makes
 * 7-Zip refuse the whole UDF tree; Rock Ridge carries them.
 * Every descriptor starts with a tag (3/7.2) whose CRC is the CRC-ITU of
 * the bytes after the tag and whose checksum covers the tag itself. */
#include "iso_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encode.h"
#include "tsmedia/log.h"

#define TAG_PVD 1
#define TAG_AVDP 2
#define TAG_IUVD 4
#define TAG_PD 5
#define TAG_LVD 6
#define TAG_USD 7
#define TAG_TD 8
#define TAG_LVID 9
#define TAG_FSD 256
#define TAG_FID 257
#define TAG_FE 261

#define UDF_REVISION 0x0102
#define UDF_MAIN_VDS 32u
#define UDF_RESERVE_VDS 48u
#define UDF_VDS_LEN 16u
#define UDF_LVID 64u
#define UDF_AVDP 256u
#define FE_HEADER 176u

#define FILE_TYPE_DIR 4
#define FILE_TYPE_FILE 5

#define FID_DIRECTORY 0x02
#define FID_PARENT 0x08

/* ---- basic types (ECMA-167 part 1) ---------------------------------- */

uint8_t udf_tag_checksum(const uint8_t *tag)
{
	uint8_t sum = 0;

	for (int i = 0; i < 16; i++)
		if (i != 4)
			sum = (uint8_t)(sum + tag[i]);
	return sum;
}

/* 3/7.2 descriptor tag:
 *   0 tag identifier   2 descriptor version (2 for NSR02)  4 tag checksum
 *   5 reserved         6 tag serial number   8 descriptor CRC
 *  10 descriptor CRC length   12 tag location */
void udf_set_tag(uint8_t *p, uint16_t id, uint32_t location, size_t len)
{
	udf_set_u16(p, id);
	udf_set_u16(p + 2, 2);
	p[5] = 0;
	udf_set_u16(p + 6, 0);
	udf_set_u16(p + 8, iso_crc_itu(p + 16, len - 16));
	udf_set_u16(p + 10, (uint16_t)(len - 16));
	udf_set_u32(p + 12, location);
	p[4] = udf_tag_checksum(p);
}

/* 1/7.2.1 charspec: CS0, "OSTA Compressed Unicode" (UDF 2.1.2). */
static void set_charspec(uint8_t *p)
{
	static const char info[] = "OSTA Compressed Unicode";

	p[0] = 0;
	memcpy(p + 1, info, sizeof(info) - 1);
}

/* 1/7.4 regid: 0 flags, 1 identifier (23), 24 identifier suffix (8). */
static void set_regid(uint8_t *p, const char *id)
{
	p[0] = 0;
	memcpy(p + 1, id, strlen(id));
}

/* UDF 2.1.5.3: domain suffix: UDF revision, domain flags. */
static void set_domain_regid(uint8_t *p)
{
	set_regid(p, "*OSTA UDF Compliant");
	udf_set_u16(p + 24, UDF_REVISION);
}

/* UDF 2.1.5.3: UDF suffix: UDF revision, OS class, OS identifier. */
static void set_udf_regid(uint8_t *p, const char *id)
{
	set_regid(p, id);
	udf_set_u16(p + 24, UDF_REVISION);
}

static void set_impl_regid(uint8_t *p) { set_regid(p, "*tsmedia"); }

/* 1/7.3 timestamp: 0 type and time zone (type 1, offset 0: UTC), 2 year,
 * 4 month, day, hour, minute, second, centiseconds, hundreds of
 * microseconds, microseconds. */
static void set_timestamp(uint8_t *p, int64_t ns)
{
	int64_t s = ns / 1000000000, r = ns % 1000000000;
	struct tm tm;
	time_t t;

	if (r < 0) {
		r += 1000000000;
		s--;
	}
	t = (time_t)s;
	if (!gmtime_r(&t, &tm))
		memset(&tm, 0, sizeof(tm));
	udf_set_u16(p, 0x1000);
	udf_set_u16(p + 2, (uint16_t)(tm.tm_year + 1900));
	p[4] = (uint8_t)(tm.tm_mon + 1);
	p[5] = (uint8_t)tm.tm_mday;
	p[6] = (uint8_t)tm.tm_hour;
	p[7] = (uint8_t)tm.tm_min;
	p[8] = (uint8_t)tm.tm_sec;
	p[9] = (uint8_t)(r / 10000000);
	p[10] = (uint8_t)(r / 100000 % 100);
	p[11] = (uint8_t)(r / 1000 % 100);
}

/* 4/14.14.2 long_ad: 0 extent length, 4 lb_addr (block, partition), 10
 * implementation use. */
static void set_long_ad(uint8_t *p, uint32_t len, uint32_t block)
{
	udf_set_u32(p, len);
	udf_set_u32(p + 4, block);
	udf_set_u16(p + 8, 0);
}

/* ---- names: OSTA CS0 (UDF 2.1.1) ------------------------------------ */

static uint16_t udf_char(uint32_t c)
{
	/* UDF 1.02 has no surrogates; a NUL or '/' cannot be in a name. */
	if (c > 0xFFFF || (c >= 0xD800 && c <= 0xDFFF) || c == 0 || c == '/')
		return '_';
	return (uint16_t)c;
}

static size_t cs0_encode(const uint16_t *u, size_t n, uint8_t *out)
{
	bool wide = false;

	for (size_t i = 0; i < n; i++)
		if (u[i] > 0xFF)
			wide = true;
	out[0] = wide ? 16 : 8;
	for (size_t i = 0; i < n; i++) {
		if (wide)
			be16_set(out + 1 + 2 * i, u[i]);
		else
			out[1 + i] = (uint8_t)u[i];
	}
	return 1 + n * (wide ? 2 : 1);
}

static size_t cs0_capacity(const uint16_t *u, size_t n, size_t max)
{
	for (size_t i = 0; i < n; i++)
		if (u[i] > 0xFF)
			return (max - 1) / 2;
	return max - 1;
}

size_t udf_cs0(const char *utf8, uint8_t *out, size_t max)
{
	uint16_t u[512];
	size_t n = 0, cap;

	while (*utf8 && n < sizeof(u) / sizeof(u[0]))
		u[n++] = udf_char(iso_utf8_next(&utf8));
	cap = cs0_capacity(u, n, max);
	return cs0_encode(u, n < cap ? n : cap, out);
}

static size_t udf_make(const struct iso_node *node, unsigned suffix, uint8_t *out)
{
	uint16_t u[512], res[512];
	const char *s = node->t->name;
	size_t n = 0, r = 0, dot = 0, el = 0, cap, sl = 0, bl;
	char sfx[16] = "";

	while (*s && n < sizeof(u) / sizeof(u[0]))
		u[n++] = udf_char(iso_utf8_next(&s));
	if (suffix)
		sl = (size_t)snprintf(sfx, sizeof(sfx), "_%u", suffix);
	cap = cs0_capacity(u, n, UDF_MAX_NAME);
	if (n + sl <= cap && !suffix)
		return cs0_encode(u, n, out);
	for (size_t i = n; !node->dir && i-- > 1;)
		if (u[i] == '.') {
			dot = i;
			break;
		}
	if (dot && n - dot <= 16)
		el = n - dot;
	bl = n - el;
	if (bl + el + sl > cap)
		bl = cap - el - sl;
	memcpy(res, u, bl * sizeof(*u));
	r = bl;
	for (size_t i = 0; i < sl; i++)
		res[r++] = (uint16_t)sfx[i];
	memcpy(res + r, u + n - el, el * sizeof(*u));
	r += el;
	return cs0_encode(res, r, out);
}

static void udf_store(struct iso_node *n, const uint8_t *name, size_t len)
{
	memcpy(n->udf_name, name, len);
	n->udf_name_len = (uint8_t)len;
}

/* 1/7.2.12 dstring: CS0 bytes, the last byte of the field their length. */
static void set_dstring(uint8_t *p, size_t n, const char *s)
{
	size_t len;

	if (!s || !*s)
		return;
	len = udf_cs0(s, p, n - 1);
	p[n - 1] = (uint8_t)len;
}

/* 4/14.4: 38 bytes of header, the identifier, padded to 4 bytes. */
static uint32_t fid_len(size_t l_fi) { return (uint32_t)((38 + l_fi + 3) & ~(size_t)3); }

int udf_prepare(struct iso_ctx *ctx)
{
	static const struct iso_name_ops ops = { udf_make, udf_store };
	struct iso_node **scratch = calloc(ctx->nnodes, sizeof(*scratch));
	uint32_t blocks = 0;
	int rc = 0;

	if (!scratch)
		return -ENOMEM;
	/* UDF 3.2.1.1: the root's unique ID is 0, 1-15 are reserved. */
	ctx->udf_next_unique = 16;
	for (size_t i = 0; i < ctx->nnodes; i++) {
		struct iso_node *d = &ctx->nodes[i];
		uint32_t len;

		d->udf_unique = i == 0 ? 0 : ctx->udf_next_unique++;
		size_t nk = 0;

		if (!d->dir)
			continue;
		/* Symbolic links are left out (see the top of this file). */
		for (size_t k = 0; k < d->nkids; k++)
			if (!d->kids[k]->symlink)
				scratch[nk++] = d->kids[k];
		if ((rc = iso_names_unique(scratch, nk, &ops)) < 0)
			goto out_free;
		len = fid_len(0);
		for (size_t k = 0; k < nk; k++)
			len += fid_len(scratch[k]->udf_name_len);
		d->udf_fid_off = blocks;
		d->udf_fid_len = len;
		blocks += (len + ISO_SECTOR - 1) / ISO_SECTOR;
	}
	ctx->udf_fid_blocks = blocks;
out_free:
	free(scratch);
	return rc;
}

/* ECMA-167 2/9.1: a volume structure descriptor: 0 type 0, 1 identifier,
 * 6 version 1.  Three of them, one per sector. */
void udf_write_vrs(uint8_t *p)
{
	static const char *ids[] = { "BEA01", "NSR02", "TEA01" };

	for (int i = 0; i < 3; i++) {
		p[i * ISO_SECTOR] = 0;
		memcpy(p + i * ISO_SECTOR + 1, ids[i], 5);
		p[i * ISO_SECTOR + 6] = 1;
	}
}

/* ---- volume descriptor sequence (ECMA-167 part 3) ------------------- */

static void vol_set_id(struct iso_ctx *ctx, char out[160])
{
	/* UDF 2.2.2.5: the first 16 characters should be unique: hex digits
	 * of the volume hash (deterministic, unlike a time stamp). */
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02X", ctx->volume_hash[i]);
	snprintf(out + 16, 144, "%s", ctx->opts->volume_id && *ctx->opts->volume_id
					      ? ctx->opts->volume_id : "CDROM");
}

static const char *vol_id(struct iso_ctx *ctx)
{
	return ctx->opts->volume_id && *ctx->opts->volume_id ? ctx->opts->volume_id : "CDROM";
}

/* 3/10.1 primary volume descriptor (512):
 *   16 VDS number  20 PVD number  24 volume identifier (dstring 32)
 *   56 volume sequence number  58 maximum  60 interchange level 62 maximum
 *   64 character set list  68 maximum  72 volume set identifier (128)
 *  200 descriptor charset  264 explanatory charset  328 abstract
 *  336 copyright  344 application id  376 recording time
 *  388 implementation id  420 implementation use  484 predecessor
 *  488 flags  490 reserved */
static void write_pvd(struct iso_ctx *ctx, uint8_t *p, uint32_t lba)
{
	char vsid[160];

	udf_set_u32(p + 16, 1);
	udf_set_u32(p + 20, 0);
	set_dstring(p + 24, 32, vol_id(ctx));
	udf_set_u16(p + 56, 1);
	udf_set_u16(p + 58, 1);
	udf_set_u16(p + 60, 2);
	udf_set_u16(p + 62, 2);
	udf_set_u32(p + 64, 1);
	udf_set_u32(p + 68, 1);
	vol_set_id(ctx, vsid);
	set_dstring(p + 72, 128, vsid);
	set_charspec(p + 200);
	set_charspec(p + 264);
	set_regid(p + 344, "*tsmedia");
	set_timestamp(p + 376, ctx->opts->volume_time_ns);
	set_impl_regid(p + 388);
	udf_set_u16(p + 488, 1); /* the volume set identifier is common */
	udf_set_tag(p, TAG_PVD, lba, 512);
}

/* 3/10.4 implementation use volume descriptor, UDF 2.2.7 "*UDF LV Info":
 *   16 VDS number  20 implementation identifier  52 LVI charset
 *  116 logical volume identifier (128)  244/280/316 LV info 1-3 (36 each)
 *  352 implementation id  384 implementation use (128) */
static void write_iuvd(struct iso_ctx *ctx, uint8_t *p, uint32_t lba)
{
	udf_set_u32(p + 16, 2);
	set_udf_regid(p + 20, "*UDF LV Info");
	set_charspec(p + 52);
	set_dstring(p + 116, 128, vol_id(ctx));
	set_impl_regid(p + 352);
	udf_set_tag(p, TAG_IUVD, lba, 512);
}

/* 3/10.5 partition descriptor:
 *   16 VDS number  20 flags (1: allocated)  22 partition number
 *   24 contents "+NSR02"  56 contents use  184 access type (1: read only)
 *  188 starting location  192 length  196 implementation id */
static void write_pd(struct iso_ctx *ctx, uint8_t *p, uint32_t lba)
{
	udf_set_u32(p + 16, 3);
	udf_set_u16(p + 20, 1);
	udf_set_u16(p + 22, 0);
	set_regid(p + 24, "+NSR02");
	udf_set_u32(p + 184, 1);
	udf_set_u32(p + 188, ctx->udf_part_start);
	udf_set_u32(p + 192, ctx->udf_part_len);
	set_impl_regid(p + 196);
	udf_set_tag(p, TAG_PD, lba, 512);
}

/* 3/10.6 logical volume descriptor:
 *   16 VDS number  20 descriptor charset  84 logical volume id (128)
 *  212 logical block size  216 domain id  248 contents use (FSD long_ad)
 *  264 map table length  268 number of maps  272 implementation id
 *  304 implementation use  432 integrity sequence extent
 *  440 partition maps: type 1 (10.7.2): type, length 6, volume sequence
 *      number, partition number */
static void write_lvd(struct iso_ctx *ctx, uint8_t *p, uint32_t lba)
{
	udf_set_u32(p + 16, 4);
	set_charspec(p + 20);
	set_dstring(p + 84, 128, vol_id(ctx));
	udf_set_u32(p + 212, ISO_SECTOR);
	set_domain_regid(p + 216);
	set_long_ad(p + 248, ISO_SECTOR, ctx->udf_fsd_lba - ctx->udf_part_start);
	udf_set_u32(p + 264, 6);
	udf_set_u32(p + 268, 1);
	set_impl_regid(p + 272);
	udf_set_u32(p + 432, 2 * ISO_SECTOR);
	udf_set_u32(p + 436, UDF_LVID);
	p[440] = 1;
	p[441] = 6;
	udf_set_u16(p + 442, 1);
	udf_set_u16(p + 444, 0);
	udf_set_tag(p, TAG_LVD, lba, 446);
}

/* 3/10.8 unallocated space descriptor: 16 VDS number, 20 number of
 * allocation descriptors (none: everything is allocated). */
static void write_usd(uint8_t *p, uint32_t lba)
{
	udf_set_u32(p + 16, 5);
	udf_set_u32(p + 20, 0);
	udf_set_tag(p, TAG_USD, lba, 24);
}

/* 3/10.9 terminating descriptor. */
static void write_td(uint8_t *p, uint32_t lba) { udf_set_tag(p, TAG_TD, lba, 512); }

static int write_vds(struct iso_ctx *ctx, uint32_t at)
{
	uint8_t *p = tsm_image_builder_meta(ctx->b, (uint64_t)at * ISO_SECTOR, 6 * ISO_SECTOR);

	if (!p)
		return -ENOMEM;
	write_pvd(ctx, p, at);
	write_iuvd(ctx, p + ISO_SECTOR, at + 1);
	write_pd(ctx, p + 2 * ISO_SECTOR, at + 2);
	write_lvd(ctx, p + 3 * ISO_SECTOR, at + 3);
	write_usd(p + 4 * ISO_SECTOR, at + 4);
	write_td(p + 5 * ISO_SECTOR, at + 5);
	return 0;
}

/* 3/10.2 anchor: 16 main VDS extent, 24 reserve VDS extent. */
static int write_avdp(struct iso_ctx *ctx, uint32_t at)
{
	uint8_t *p = tsm_image_builder_meta(ctx->b, (uint64_t)at * ISO_SECTOR, 512);

	if (!p)
		return -ENOMEM;
	udf_set_u32(p + 16, UDF_VDS_LEN * ISO_SECTOR);
	udf_set_u32(p + 20, UDF_MAIN_VDS);
	udf_set_u32(p + 24, UDF_VDS_LEN * ISO_SECTOR);
	udf_set_u32(p + 28, UDF_RESERVE_VDS);
	udf_set_tag(p, TAG_AVDP, at, 512);
	return 0;
}

/* 3/10.10 logical volume integrity descriptor, closed:
 *   16 recording time  28 integrity type (1: close)  32 next extent
 *   40 contents use: 4/14.15 header (next unique ID)  72 number of
 *   partitions  76 length of implementation use  80 free space table
 *   84 size table  88 implementation use (UDF 2.2.6.4): implementation id,
 *   number of files, of directories, minimum read, minimum and maximum
 *   write UDF revisions. */
static int write_lvid(struct iso_ctx *ctx)
{
	uint8_t *p = tsm_image_builder_meta(ctx->b, (uint64_t)UDF_LVID * ISO_SECTOR, 2 * ISO_SECTOR);
	uint32_t files = 0, dirs = 0;

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < ctx->nnodes; i++) {
		if (ctx->nodes[i].dir)
			dirs++;
		else if (!ctx->nodes[i].symlink)
			files++;
	}
	set_timestamp(p + 16, ctx->opts->volume_time_ns);
	udf_set_u32(p + 28, 1);
	udf_set_u64(p + 40, ctx->udf_next_unique);
	udf_set_u32(p + 72, 1);
	udf_set_u32(p + 76, 46);
	udf_set_u32(p + 80, 0);
	udf_set_u32(p + 84, ctx->udf_part_len);
	set_impl_regid(p + 88);
	udf_set_u32(p + 120, files);
	udf_set_u32(p + 124, dirs);
	udf_set_u16(p + 128, UDF_REVISION);
	udf_set_u16(p + 130, UDF_REVISION);
	udf_set_u16(p + 132, UDF_REVISION);
	udf_set_tag(p, TAG_LVID, UDF_LVID, 134);
	write_td(p + ISO_SECTOR, UDF_LVID + 1);
	return 0;
}

/* ---- file set (ECMA-167 part 4) ------------------------------------- */

/* 4/14.1 file set descriptor:
 *   16 recording time  28 interchange level  30 maximum  32 charset list
 *   36 maximum  40 file set number  44 FSD number  48 LV id charset
 *  112 logical volume id (128)  240 file set charset  304 file set id (32)
 *  336 copyright file id  368 abstract file id  400 root directory ICB
 *  416 domain id  448 next extent  464 stream directory ICB */
static int write_fsd(struct iso_ctx *ctx)
{
	uint8_t *p = tsm_image_builder_meta(ctx->b, (uint64_t)ctx->udf_fsd_lba * ISO_SECTOR,
					    2 * ISO_SECTOR);
	uint32_t at = ctx->udf_fsd_lba - ctx->udf_part_start;

	if (!p)
		return -ENOMEM;
	set_timestamp(p + 16, ctx->opts->volume_time_ns);
	udf_set_u16(p + 28, 3);
	udf_set_u16(p + 30, 3);
	udf_set_u32(p + 32, 1);
	udf_set_u32(p + 36, 1);
	set_charspec(p + 48);
	set_dstring(p + 112, 128, vol_id(ctx));
	set_charspec(p + 240);
	set_dstring(p + 304, 32, vol_id(ctx));
	set_long_ad(p + 400, ISO_SECTOR, ctx->nodes[0].udf_fe);
	set_domain_regid(p + 416);
	udf_set_tag(p, TAG_FSD, at, 512);
	write_td(p + ISO_SECTOR, at + 1);
	return 0;
}

/* ECMA-167 4/14.9.5: owner bits 10-14, group 5-9, other 0-4; each
 * execute, write, read, change attributes, delete. */
static uint32_t udf_permissions(uint32_t mode)
{
	uint32_t p = 0;

	for (int who = 0; who < 3; who++) {
		uint32_t rwx = mode >> (3 * who) & 7;
		uint32_t bits = (rwx & 1 ? 0x01 : 0) | (rwx & 2 ? 0x02 : 0) | (rwx & 4 ? 0x04 : 0);

		p |= bits << (5 * who);
	}
	return p;
}

/* 4/14.9 file entry:
 *   16 ICB tag (4/14.6: 16 prior entries, 20 strategy 4, 22 parameter,
 *      24 maximum entries, 27 file type, 28 parent ICB, 34 flags)
 *   36 uid  40 gid  44 permissions  48 link count  50 record format
 *   51 record display attributes  52 record length  56 information length
 *   64 logical blocks recorded  72 access time  84 modification time
 *   96 attribute time  108 checkpoint  112 extended attribute ICB
 *  128 implementation id  160 unique ID  168 length of extended attributes
 *  172 length of allocation descriptors  176 allocation descriptors */
static int write_fe(struct iso_ctx *ctx, struct iso_node *n, uint8_t *p)
{
	uint32_t at = n->udf_fe, l_ad = 0, start = 0;
	uint64_t len = 0, left;
	uint8_t type = n->dir ? FILE_TYPE_DIR : FILE_TYPE_FILE;

	if (n->dir) {
		len = n->udf_fid_len;
		start = ctx->udf_fid_lba - ctx->udf_part_start + n->udf_fid_off;
	} else {
		len = n->size;
		start = n->data_lba - ctx->udf_part_start;
	}
	left = len;
	while (left) {
		uint32_t part = left > UDF_MAX_EXTENT ? UDF_MAX_EXTENT : (uint32_t)left;

		if (FE_HEADER + l_ad + 8 > ISO_SECTOR) {
			char *path = tsm_tree_node_path(n->t);

			tsm_error("UDF: '%s' is too large for one file entry (%llu bytes)",
				  path ? path : "?", (unsigned long long)n->size);
			free(path);
			return -EFBIG;
		}
		/* 4/14.14.1 short_ad: 0 length (type 0: recorded), 4 position */
		udf_set_u32(p + FE_HEADER + l_ad, part);
		udf_set_u32(p + FE_HEADER + l_ad + 4, start);
		l_ad += 8;
		start += part / ISO_SECTOR;
		left -= part;
	}
	udf_set_u32(p + 16, 0);
	udf_set_u16(p + 20, 4);
	udf_set_u16(p + 24, 1);
	p[27] = type;
	udf_set_u16(p + 34, 0); /* short_ads */
	udf_set_u32(p + 36, 0);
	udf_set_u32(p + 40, 0);
	udf_set_u32(p + 44, udf_permissions(n->t->mode));
	udf_set_u16(p + 48, (uint16_t)(n->dir ? 1 + (n->nsubdirs < 65000 ? n->nsubdirs : 65000) : 1));
	udf_set_u64(p + 56, len);
	udf_set_u64(p + 64, (len + ISO_SECTOR - 1) / ISO_SECTOR);
	set_timestamp(p + 72, n->t->mtime_ns);
	set_timestamp(p + 84, n->t->mtime_ns);
	set_timestamp(p + 96, n->t->mtime_ns);
	udf_set_u32(p + 108, 1);
	set_impl_regid(p + 128);
	udf_set_u64(p + 160, n->udf_unique);
	udf_set_u32(p + 168, 0);
	udf_set_u32(p + 172, l_ad);
	udf_set_tag(p, TAG_FE, at, FE_HEADER + l_ad);
	return 0;
}

/* 4/14.4 file identifier descriptor:
 *   16 file version number  18 characteristics  19 L_FI  20 ICB (long_ad)
 *   36 L_IU  38 implementation use, file identifier, padding to 4 bytes.
 * The tag location is the block holding the descriptor's first byte. */
static uint32_t write_fid(uint8_t *p, uint32_t block, uint8_t chars, const struct iso_node *target,
			  const uint8_t *name, size_t l_fi)
{
	uint32_t len = fid_len(l_fi);

	udf_set_u16(p + 16, 1);
	p[18] = chars;
	p[19] = (uint8_t)l_fi;
	set_long_ad(p + 20, ISO_SECTOR, target->udf_fe);
	udf_set_u16(p + 36, 0);
	if (l_fi)
		memcpy(p + 38, name, l_fi);
	udf_set_tag(p, TAG_FID, block, len);
	return len;
}

static int write_files(struct iso_ctx *ctx)
{
	uint8_t *fe = tsm_image_builder_meta(ctx->b, (uint64_t)ctx->udf_fe_lba * ISO_SECTOR,
					     ctx->nnodes * ISO_SECTOR);
	uint8_t *fid = ctx->udf_fid_blocks
			       ? tsm_image_builder_meta(ctx->b, (uint64_t)ctx->udf_fid_lba * ISO_SECTOR,
							(size_t)ctx->udf_fid_blocks * ISO_SECTOR)
			       : NULL;
	uint32_t fid_block0 = ctx->udf_fid_lba - ctx->udf_part_start;
	int rc;

	if (!fe || (ctx->udf_fid_blocks && !fid))
		return -ENOMEM;
	for (size_t i = 0; i < ctx->nnodes; i++) {
		struct iso_node *n = &ctx->nodes[i];
		uint32_t pos;

		if (n->symlink)
			continue; /* its block stays zero */
		if ((rc = write_fe(ctx, n, fe + i * ISO_SECTOR)) < 0)
			return rc;
		if (!n->dir)
			continue;
		pos = n->udf_fid_off * ISO_SECTOR;
		pos += write_fid(fid + pos, fid_block0 + pos / ISO_SECTOR, FID_DIRECTORY | FID_PARENT,
				 n->parent, NULL, 0);
		for (size_t k = 0; k < n->nkids; k++) {
			struct iso_node *kid = n->kids[k];

			if (kid->symlink)
				continue;
			pos += write_fid(fid + pos, fid_block0 + pos / ISO_SECTOR,
					 kid->dir ? FID_DIRECTORY : 0, kid, kid->udf_name,
					 kid->udf_name_len);
		}
	}
	return 0;
}

int udf_write(struct iso_ctx *ctx)
{
	int rc;

	if ((rc = write_vds(ctx, UDF_MAIN_VDS)) < 0 || (rc = write_vds(ctx, UDF_RESERVE_VDS)) < 0 ||
	    (rc = write_lvid(ctx)) < 0 || (rc = write_avdp(ctx, UDF_AVDP)) < 0 ||
	    (rc = write_avdp(ctx, ctx->udf_avdp2_lba)) < 0 || (rc = write_fsd(ctx)) < 0)
		return rc;
	return write_files(ctx);
}
