/* The FAT writer's structures and algorithms against known vectors: long
 * name checksums and entries (vectors taken from a directory mtools wrote),
 * UTF-16 encoding, short-name bases and numeric tails, case folding, FAT
 * dates and times, cluster math, the BPB and FSInfo, and whole layouts of
 * small generated trees read back through the image reader. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image/encode.h"
#include "image/fat_internal.h"
#include "tsmedia/fat.h"
#include "tsmedia/image.h"
#include "tsmedia/tree.h"

static uint64_t le64_get_test(const uint8_t *p)
{
	return (uint64_t)le32_get(p) | (uint64_t)le32_get(p + 4) << 32;
}

static size_t u16(const char *s, uint16_t *out)
{
	int n = fat_utf16_from_utf8(s, out, FAT_MAX_LFN);

	assert_true(n >= 0);
	return (size_t)n;
}

/* ---- long names ------------------------------------------------------- */

static void test_lfn_checksum(void **state)
{
	(void)state;
	/* mtools wrote these short names and checksums (see test_lfn_entries). */
	assert_int_equal(fat_lfn_checksum((const uint8_t *)"LONGFI~1TXT"), 0xD4);
	assert_int_equal(fat_lfn_checksum((const uint8_t *)"___     TXT"), 0xBB);
	/* by the specification's loop, computed by hand-checked Python */
	assert_int_equal(fat_lfn_checksum((const uint8_t *)"README  TXT"), 0x73);
}

static void test_lfn_entries(void **state)
{
	/* The long-name entries mtools 4.0 wrote for "Long File Name.txt" and
	 * "한국어.txt" (Korean: U+D55C U+AD6D U+C5B4). */
	static const uint8_t long2[32] = {
		0x42, 0x65, 0x00, 0x2e, 0x00, 0x74, 0x00, 0x78, 0x00, 0x74, 0x00, 0x0f, 0x00, 0xd4, 0x00, 0x00,
		0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
	};
	static const uint8_t long1[32] = {
		0x01, 0x4c, 0x00, 0x6f, 0x00, 0x6e, 0x00, 0x67, 0x00, 0x20, 0x00, 0x0f, 0x00, 0xd4, 0x46, 0x00,
		0x69, 0x00, 0x6c, 0x00, 0x65, 0x00, 0x20, 0x00, 0x4e, 0x00, 0x00, 0x00, 0x61, 0x00, 0x6d, 0x00,
	};
	static const uint8_t korean[32] = {
		0x41, 0x5c, 0xd5, 0x6d, 0xad, 0xb4, 0xc5, 0x2e, 0x00, 0x74, 0x00, 0x0f, 0x00, 0xbb, 0x78, 0x00,
		0x74, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff,
	};
	uint16_t name[FAT_MAX_LFN];
	uint8_t e[32];
	size_t n;

	(void)state;
	n = u16("Long File Name.txt", name);
	assert_int_equal(n, 18);
	fat_lfn_entry(e, 2, true, name, n, 0xD4);
	assert_memory_equal(e, long2, 32);
	fat_lfn_entry(e, 1, false, name, n, 0xD4);
	assert_memory_equal(e, long1, 32);
	n = u16("한국어.txt", name);
	assert_int_equal(n, 7);
	fat_lfn_entry(e, 1, true, name, n, 0xBB);
	assert_memory_equal(e, korean, 32);

	/* exactly 13 units: no terminator, no padding */
	n = u16("abcdefghijklm", name);
	fat_lfn_entry(e, 1, true, name, n, 0);
	assert_int_equal(le16_get(e + 28), 'l');
	assert_int_equal(le16_get(e + 30), 'm');
}

static void test_utf16(void **state)
{
	uint16_t out[FAT_MAX_LFN + 2];

	(void)state;
	assert_int_equal(fat_utf16_from_utf8("a", out, 8), 1);
	assert_int_equal(out[0], 'a');
	/* two-, three- and four-byte UTF-8; U+1F600 becomes a surrogate pair */
	assert_int_equal(fat_utf16_from_utf8("\xC3\xA9\xEA\xB0\x80\xF0\x9F\x98\x80", out, 8), 4);
	assert_int_equal(out[0], 0x00E9);
	assert_int_equal(out[1], 0xAC00);
	assert_int_equal(out[2], 0xD83D);
	assert_int_equal(out[3], 0xDE00);
	/* malformed: lone continuation, truncated, overlong, surrogate, > U+10FFFF */
	assert_int_equal(fat_utf16_from_utf8("\x80", out, 8), -EILSEQ);
	assert_int_equal(fat_utf16_from_utf8("\xE2\x82", out, 8), -EILSEQ);
	assert_int_equal(fat_utf16_from_utf8("\xC0\xAF", out, 8), -EILSEQ);
	assert_int_equal(fat_utf16_from_utf8("\xED\xA0\x80", out, 8), -EILSEQ);
	assert_int_equal(fat_utf16_from_utf8("\xF4\x90\x80\x80", out, 8), -EILSEQ);
	assert_int_equal(fat_utf16_from_utf8("abcdefghi", out, 8), -ENAMETOOLONG);
	/* a surrogate pair that does not fit counts as too long */
	assert_int_equal(fat_utf16_from_utf8("abcdefg\xF0\x9F\x98\x80", out, 8), -ENAMETOOLONG);
}

static void test_upcase(void **state)
{
	(void)state;
	assert_int_equal(fat_upcase('a'), 'A');
	assert_int_equal(fat_upcase('Z'), 'Z');
	assert_int_equal(fat_upcase('_'), '_');
	assert_int_equal(fat_upcase(0x00E9), 0x00C9); /* é */
	assert_int_equal(fat_upcase(0x00F7), 0x00F7); /* ÷ has no case */
	assert_int_equal(fat_upcase(0x00FF), 0x0178); /* ÿ */
	assert_int_equal(fat_upcase(0x0101), 0x0100); /* ā */
	assert_int_equal(fat_upcase(0x03B1), 0x0391); /* α */
	assert_int_equal(fat_upcase(0x0436), 0x0416); /* ж */
	assert_int_equal(fat_upcase(0x0451), 0x0401); /* ё */
	assert_int_equal(fat_upcase(0xFF41), 0xFF21); /* fullwidth a */
	assert_int_equal(fat_upcase(0xD55C), 0xD55C); /* Hangul has no case */
}

/* ---- short names ------------------------------------------------------ */

static void basis(const char *name, const char *want, bool want_exact, bool want_fits)
{
	uint16_t u[FAT_MAX_LFN];
	uint8_t out[11];
	bool exact, fits;
	size_t n = u16(name, u);

	fat_short_basis(u, n, out, &exact, &fits);
	if (memcmp(out, want, 11) != 0)
		fail_msg("basis of '%s' is '%.11s', expected '%s'", name, out, want);
	if (exact != want_exact || fits != want_fits)
		fail_msg("basis of '%s': exact %d fits %d, expected %d %d", name, exact, fits,
			 want_exact, want_fits);
}

static void test_short_basis(void **state)
{
	(void)state;
	basis("README.TXT", "README  TXT", true, true);
	basis("readme.txt", "README  TXT", false, true);
	basis("EFI", "EFI        ", true, true);
	basis("BOOTX64.EFI", "BOOTX64 EFI", true, true);
	basis("Long File Name.txt", "LONGFILETXT", false, false);
	basis("한국어.txt", "___     TXT", false, false);
	basis("a+b.c", "A_B     C  ", false, false);         /* '+' is not a short-name character */
	basis("archive.tar.gz", "ARCHIVE GZ ", false, false); /* first period ends the name part */
	basis(".bashrc", "BASHRC     ", false, false);       /* leading periods go */
	basis("x.html", "X       HTM", false, false);        /* extension cut */
	basis("12345678.123", "12345678123", true, true);
	basis("123456789", "12345678   ", false, false);
	basis("A B", "AB         ", false, false);           /* spaces go */
	basis("it's{1}", "IT'S{1}    ", false, true);        /* valid punctuation stays */
}

static void test_short_tail(void **state)
{
	uint8_t out[11];

	(void)state;
	fat_short_tail((const uint8_t *)"LONGFILETXT", 1, out);
	assert_memory_equal(out, "LONGFI~1TXT", 11);
	fat_short_tail((const uint8_t *)"LONGFILETXT", 12, out);
	assert_memory_equal(out, "LONGF~12TXT", 11);
	fat_short_tail((const uint8_t *)"AB      C  ", 3, out);
	assert_memory_equal(out, "AB~3    C  ", 11);
	fat_short_tail((const uint8_t *)"___     TXT", 1, out);
	assert_memory_equal(out, "___~1   TXT", 11);
	fat_short_tail((const uint8_t *)"ABCDEFGH   ", 1234567, out);
	assert_memory_equal(out, "~1234567   ", 11);
}

/* ---- times -------------------------------------------------------------- */

static void test_time(void **state)
{
	uint16_t d, t;
	uint8_t tenth;

	(void)state;
	/* the mtools entry above: 2026-11-26 10:16:18 is time 0x5209, date 0x5D7A */
	fat_time_encode(1795688178ll * 1000000000, &d, &t, &tenth);
	assert_int_equal(d, 0x5D7A);
	assert_int_equal(t, 0x5209);
	assert_int_equal(tenth, 0);
	/* 2000-02-29 13:45:31.25 UTC: odd second and 250 ms in the tenth */
	fat_time_encode(951831931ll * 1000000000 + 250000000, &d, &t, &tenth);
	assert_int_equal(d, 0x285D);
	assert_int_equal(t, 0x6DAF);
	assert_int_equal(tenth, 125);
	/* clamped to the FAT range */
	fat_time_encode(315532799ll * 1000000000, &d, &t, &tenth);
	assert_int_equal(d, (0 << 9) | (1 << 5) | 1);
	assert_int_equal(t, 0);
	fat_time_encode(-5, &d, &t, &tenth);
	assert_int_equal(d, 0x0021);
	fat_time_encode(4354819200ll * 1000000000, &d, &t, &tenth);
	assert_int_equal(d, (127 << 9) | (12 << 5) | 31);
	assert_int_equal(t, (23 << 11) | (59 << 5) | 29);
}

/* ---- cluster math, BPB, FSInfo ------------------------------------------ */

/* The specification's section 3.5 computation from the BPB alone. */
static uint32_t spec_count_of_clusters(const uint8_t *bs)
{
	uint32_t rsvd = le16_get(bs + 14), nfats = bs[16], fatsz = le32_get(bs + 36);
	uint32_t tot = le32_get(bs + 32), spc = bs[13];

	return (tot - (rsvd + nfats * fatsz)) / spc;
}

static void test_cluster_size(void **state)
{
	(void)state;
	assert_int_equal(fat_cluster_size_for(0), 4096);
	assert_int_equal(fat_cluster_size_for(8ull << 30), 4096);
	assert_int_equal(fat_cluster_size_for((8ull << 30) + 1), 8192);
	assert_int_equal(fat_cluster_size_for(16ull << 30), 8192);
	assert_int_equal(fat_cluster_size_for(32ull << 30), 16384);
	assert_int_equal(fat_cluster_size_for(100ull << 30), 32768);
}

static void check_geometry(uint32_t cs, uint64_t used, bool gpt)
{
	struct fat_geometry g;
	uint8_t bs[512];

	assert_int_equal(fat_geometry_compute(cs, used, gpt, &g), 0);
	assert_int_equal(g.cluster_bytes, cs);
	assert_int_equal(g.sectors_per_cluster * 512, cs);
	assert_true(g.clusters >= FAT_MIN_CLUSTERS);
	assert_true(g.clusters >= used);
	/* both FATs hold an entry per cluster plus the two reserved ones */
	assert_true((uint64_t)g.fat_sectors * 128 >= (uint64_t)g.clusters + 2);
	/* and are not wastefully large: at most a few sectors of slack */
	assert_true((uint64_t)g.fat_sectors * 128 < (uint64_t)g.clusters + 2 + 128 + 2048 / 8 * 1);
	assert_true(g.reserved_sectors >= 32 && g.reserved_sectors <= 0xFFFF);
	assert_int_equal(g.data_start, g.reserved_sectors + 2 * g.fat_sectors);
	assert_int_equal(g.data_start % FAT_ALIGN_SECTORS, 0);
	assert_int_equal(g.volume_sectors % FAT_ALIGN_SECTORS, 0);
	assert_int_equal(g.part_start, FAT_ALIGN_SECTORS);
	assert_true((uint64_t)g.data_start + (uint64_t)g.clusters * g.sectors_per_cluster <=
		    g.volume_sectors);
	/* no room for another whole cluster */
	assert_true((uint64_t)g.data_start + ((uint64_t)g.clusters + 1) * g.sectors_per_cluster >
		    g.volume_sectors);
	assert_int_equal(g.disk_sectors,
			 g.part_start + g.volume_sectors + (gpt ? FAT_ALIGN_SECTORS : 0));
	fat_write_boot_sector(bs, &g, 0x12345678, (const uint8_t *)"LABEL      ");
	assert_int_equal(spec_count_of_clusters(bs), g.clusters);
}

static void test_geometry(void **state)
{
	struct fat_geometry g;

	(void)state;
	check_geometry(4096, 0, false);
	check_geometry(4096, 1, true);
	check_geometry(4096, 65541, false);
	check_geometry(4096, 1000000, false);
	check_geometry(8192, 1500000, true);
	check_geometry(32768, 3000000, false);
	/* the smallest volume: 65541 clusters of 4 KiB, 1 MiB aligned */
	assert_int_equal(fat_geometry_compute(4096, 5, false, &g), 0);
	assert_int_equal(g.fat_sectors, 515); /* (65541 + 256 + 2) * 4 / 512, rounded up */
	assert_int_equal(g.data_start, 2048);
	assert_int_equal(g.reserved_sectors, 2048 - 2 * 515);
	/* too many clusters for FAT32 */
	assert_int_equal(fat_geometry_compute(4096, FAT_MAX_CLUSTERS + 1ull, false, &g), -EFBIG);
	/* over 2 TiB of sectors */
	assert_int_equal(fat_geometry_compute(32768, 70000000, false, &g), -EFBIG);
}

static void test_boot_sector(void **state)
{
	struct fat_geometry g;
	uint8_t bs[512];

	(void)state;
	assert_int_equal(fat_geometry_compute(4096, 70000, false, &g), 0);
	fat_write_boot_sector(bs, &g, 0xDEADBEEF, (const uint8_t *)"STICK      ");
	assert_memory_equal(bs, "\xEB\x58\x90", 3);          /* BS_jmpBoot */
	assert_int_equal(le16_get(bs + 11), 512);            /* BPB_BytsPerSec */
	assert_int_equal(bs[13], 8);                         /* BPB_SecPerClus */
	assert_int_equal(le16_get(bs + 14), g.reserved_sectors);
	assert_int_equal(bs[16], 2);                         /* BPB_NumFATs */
	assert_int_equal(le16_get(bs + 17), 0);              /* BPB_RootEntCnt: FAT32 */
	assert_int_equal(le16_get(bs + 19), 0);              /* BPB_TotSec16 */
	assert_int_equal(bs[21], 0xF8);                      /* BPB_Media: fixed */
	assert_int_equal(le16_get(bs + 22), 0);              /* BPB_FATSz16 */
	assert_int_equal(le32_get(bs + 28), 2048);           /* BPB_HiddSec: partition start */
	assert_int_equal(le32_get(bs + 32), g.volume_sectors);
	assert_int_equal(le32_get(bs + 36), g.fat_sectors);
	assert_int_equal(le16_get(bs + 40), 0);              /* BPB_ExtFlags: FATs mirrored */
	assert_int_equal(le16_get(bs + 42), 0);              /* BPB_FSVer 0.0 */
	assert_int_equal(le32_get(bs + 44), 2);              /* BPB_RootClus */
	assert_int_equal(le16_get(bs + 48), 1);              /* BPB_FSInfo */
	assert_int_equal(le16_get(bs + 50), 6);              /* BPB_BkBootSec */
	assert_int_equal(bs[64], 0x80);                      /* BS_DrvNum */
	assert_int_equal(bs[66], 0x29);                      /* BS_BootSig */
	assert_int_equal(le32_get(bs + 67), 0xDEADBEEF);     /* BS_VolID */
	assert_memory_equal(bs + 71, "STICK      ", 11);     /* BS_VolLab */
	assert_memory_equal(bs + 82, "FAT32   ", 8);         /* BS_FilSysType */
	assert_int_equal(bs[510], 0x55);
	assert_int_equal(bs[511], 0xAA);
}

static void test_fsinfo(void **state)
{
	uint8_t p[512];

	(void)state;
	fat_write_fsinfo(p, 65000, 543);
	assert_int_equal(le32_get(p + 0), 0x41615252);   /* FSI_LeadSig "RRaA" */
	for (int i = 4; i < 484; i++)
		assert_int_equal(p[i], 0);
	assert_int_equal(le32_get(p + 484), 0x61417272); /* FSI_StrucSig "rrAa" */
	assert_int_equal(le32_get(p + 488), 65000);      /* FSI_Free_Count */
	assert_int_equal(le32_get(p + 492), 543);        /* FSI_Nxt_Free */
	assert_int_equal(le32_get(p + 508), 0xAA550000); /* FSI_TrailSig */
}

/* ---- whole layouts ------------------------------------------------------ */

#define T0 (1767225600ll * 1000000000) /* 2026-01-01 00:00:00 UTC */

static struct tsm_tree *tree_new(void)
{
	struct tsm_tree *t;

	assert_int_equal(tsm_tree_new(&t), 0);
	t->default_mtime_ns = T0;
	t->root->mtime_ns = T0;
	return t;
}

static void add_data(struct tsm_tree *t, const char *path, const char *data)
{
	assert_int_equal(tsm_tree_add_data(t, path, data, strlen(data), T0, NULL), 0);
}

static void pread_all(const struct tsm_image *img, void *buf, size_t len, uint64_t off)
{
	assert_int_equal(tsm_image_pread(img, NULL, buf, len, off), (ssize_t)len);
}

struct vol {
	struct tsm_image *img;
	uint64_t part;   /* byte offset of the partition */
	uint8_t bs[512];
	uint32_t spc, rsvd, fatsz, data;
};

static void vol_open(struct vol *v, struct tsm_image *img)
{
	uint8_t mbr[512];

	v->img = img;
	pread_all(img, mbr, 512, 0);
	assert_int_equal(mbr[510], 0x55);
	assert_int_equal(mbr[511], 0xAA);
	v->part = (uint64_t)le32_get(mbr + 446 + 8) * 512;
	if (mbr[446 + 4] == 0xEE) {
		uint8_t hdr[512], ent[128];

		pread_all(img, hdr, 512, 512);
		pread_all(img, ent, 128, le64_get_test(hdr + 72) * 512);
		v->part = le64_get_test(ent + 32) * 512;
	}
	pread_all(img, v->bs, 512, v->part);
	v->spc = v->bs[13];
	v->rsvd = le16_get(v->bs + 14);
	v->fatsz = le32_get(v->bs + 36);
	v->data = v->rsvd + 2 * v->fatsz;
}

static uint32_t vol_fat(struct vol *v, uint32_t cluster, int copy)
{
	uint8_t e[4];

	pread_all(v->img, e, 4,
		  v->part + ((uint64_t)v->rsvd + (uint64_t)copy * v->fatsz) * 512 + cluster * 4ull);
	return le32_get(e) & 0x0FFFFFFF;
}

static uint64_t vol_cluster(struct vol *v, uint32_t cluster)
{
	return v->part + ((uint64_t)v->data + (uint64_t)(cluster - 2) * v->spc) * 512;
}

/* The short entry named @sn (11 bytes) in the directory at @cluster
 * (first cluster only); NULL when absent. */
static const uint8_t *find_entry(struct vol *v, uint32_t cluster, const char *sn, uint8_t *buf)
{
	size_t n = (size_t)v->spc * 512;

	pread_all(v->img, buf, n, vol_cluster(v, cluster));
	for (size_t i = 0; i < n; i += 32) {
		if (!buf[i])
			break;
		if (buf[i + 11] != FAT_ATTR_LONG_NAME && memcmp(buf + i, sn, 11) == 0)
			return buf + i;
	}
	return NULL;
}

static void test_layout_small(void **state)
{
	struct tsm_tree *t = tree_new();
	struct tsm_fat_options o = { .volume_label = "My stick" };
	struct tsm_image *img;
	struct vol v;
	uint8_t *buf = malloc(65536), fsinfo[512], backup[512], mbr[512], data[16];
	const uint8_t *e, *efi, *boot;
	uint32_t efi_cl, boot_cl, f_cl, total, used = 0;

	(void)state;
	add_data(t, "EFI/BOOT/BOOTX64.EFI", "MZ not really an EFI app");
	add_data(t, "readme.txt", "hello\n");
	assert_int_equal(tsm_tree_add_data(t, "empty", "", 0, T0, NULL), 0);
	assert_int_equal(tsm_fat_layout(t, &o, &img), 0);
	vol_open(&v, img);

	pread_all(img, mbr, 512, 0);
	assert_int_equal(mbr[446], 0x00);      /* not active: no BIOS boot code */
	assert_int_equal(mbr[446 + 4], 0x0C);  /* FAT32 LBA */
	assert_int_equal(le32_get(mbr + 446 + 8), 2048);
	assert_int_equal(le32_get(mbr + 446 + 12), le32_get(v.bs + 32));
	assert_int_equal(mbr[462 + 4], 0);     /* one partition */
	assert_int_equal(tsm_image_size(img), (2048ull + le32_get(v.bs + 32)) * 512);
	assert_memory_equal(v.bs + 71, "MY STICK   ", 11);
	total = spec_count_of_clusters(v.bs);
	assert_true(total >= 65525);

	/* the backup boot sector at 6 equals the boot sector; FSInfo at 1 and 7 */
	pread_all(img, backup, 512, v.part + 6 * 512);
	assert_memory_equal(backup, v.bs, 512);
	pread_all(img, fsinfo, 512, v.part + 512);
	pread_all(img, backup, 512, v.part + 7 * 512);
	assert_memory_equal(backup, fsinfo, 512);

	/* FAT[0] media, FAT[1] clean, both copies equal; count what is used */
	assert_int_equal(vol_fat(&v, 0, 0), 0x0FFFFFF8);
	assert_int_equal(vol_fat(&v, 1, 0), 0x0FFFFFFF);
	for (uint32_t c = 2; c < 40; c++) {
		assert_int_equal(vol_fat(&v, c, 0), vol_fat(&v, c, 1));
		used += vol_fat(&v, c, 0) != 0;
	}
	assert_int_equal(vol_fat(&v, total + 1, 0), 0);
	/* root, EFI, BOOT, BOOTX64.EFI, readme.txt: 5 clusters */
	assert_int_equal(used, 5);
	assert_int_equal(le32_get(fsinfo + 488), total - 5);
	assert_int_equal(le32_get(fsinfo + 492), 7);

	/* the root: the label first, then EFI, EMPTY, README.TXT */
	pread_all(img, buf, 32, vol_cluster(&v, 2));
	assert_memory_equal(buf, "MY STICK   ", 11);
	assert_int_equal(buf[11], FAT_ATTR_VOLUME_ID);
	efi = find_entry(&v, 2, "EFI        ", buf);
	assert_non_null(efi);
	assert_int_equal(efi[11] & FAT_ATTR_DIRECTORY, FAT_ATTR_DIRECTORY);
	/* "EFI" is its own short name: no long name (the label is before it) */
	assert_int_equal(efi[-32 + 11], FAT_ATTR_VOLUME_ID);
	efi_cl = (uint32_t)le16_get(efi + 20) << 16 | le16_get(efi + 26);
	e = find_entry(&v, 2, "EMPTY      ", buf);
	assert_non_null(e);
	assert_int_equal(le16_get(e + 26), 0);
	assert_int_equal(le32_get(e + 28), 0);
	assert_int_equal(e[-32 + 11], FAT_ATTR_LONG_NAME); /* "empty" needs its long name */
	e = find_entry(&v, 2, "README  TXT", buf);
	assert_non_null(e);
	assert_int_equal(le32_get(e + 28), 6);
	assert_int_equal(le16_get(e + 24), 0x5C21); /* 2026-01-01 */
	f_cl = le16_get(e + 26);
	assert_int_equal(e[-32 + 11], FAT_ATTR_LONG_NAME);
	assert_int_equal(e[-32 + 13], fat_lfn_checksum(e));
	assert_int_equal(vol_fat(&v, f_cl, 0), FAT_EOC);
	pread_all(img, data, 6, vol_cluster(&v, f_cl));
	assert_memory_equal(data, "hello\n", 6);

	/* EFI: . and .. (the root: cluster 0), then BOOT */
	pread_all(img, buf, 64, vol_cluster(&v, efi_cl));
	assert_memory_equal(buf, ".          ", 11);
	assert_int_equal(le16_get(buf + 26), efi_cl);
	assert_memory_equal(buf + 32, "..         ", 11);
	assert_int_equal(le16_get(buf + 32 + 26), 0);
	boot = find_entry(&v, efi_cl, "BOOT       ", buf);
	assert_non_null(boot);
	boot_cl = le16_get(boot + 26);
	pread_all(img, buf, 64, vol_cluster(&v, boot_cl));
	assert_int_equal(le16_get(buf + 32 + 26), efi_cl);
	e = find_entry(&v, boot_cl, "BOOTX64 EFI", buf);
	assert_non_null(e);
	assert_int_equal(le32_get(e + 28), strlen("MZ not really an EFI app"));

	tsm_image_unref(img);
	tsm_tree_free(t);
	free(buf);
}

static void test_layout_names(void **state)
{
	struct tsm_tree *t = tree_new();
	struct tsm_fat_options o = { .volume_label = "x", .partition_table = TSM_FAT_GPT };
	struct tsm_image *img;
	struct vol v;
	uint8_t *buf = malloc(65536), hdr[512], mbr[512];
	char name[64];
	const uint8_t *e;

	(void)state;
	/* five names with one basis: ~1 .. ~5, in tree order */
	for (int i = 0; i < 5; i++) {
		snprintf(name, sizeof(name), "Long File Name %d.txt", i);
		add_data(t, name, "x");
	}
	add_data(t, "한국어.txt", "k");
	assert_int_equal(tsm_fat_layout(t, &o, &img), 0);
	vol_open(&v, img);
	pread_all(img, mbr, 512, 0);
	assert_int_equal(mbr[446 + 4], 0xEE);
	assert_int_equal(le32_get(mbr + 446 + 8), 1);
	pread_all(img, hdr, 512, 512);
	assert_memory_equal(hdr, "EFI PART", 8);
	assert_int_equal(le64_get_test(hdr + 32), tsm_image_size(img) / 512 - 1);
	assert_int_equal(v.part, 2048 * 512);
	for (int i = 1; i <= 5; i++) {
		snprintf(name, sizeof(name), "LONGFI~%dTXT", i);
		assert_non_null(find_entry(&v, 2, name, buf));
	}
	e = find_entry(&v, 2, "___~1   TXT", buf);
	assert_non_null(e);
	assert_int_equal(e[-32], 0x41);
	assert_int_equal(le16_get(e - 32 + 1), 0xD55C);
	tsm_image_unref(img);
	tsm_tree_free(t);
	free(buf);
}

static void test_layout_refusals(void **state)
{
	struct tsm_tree *t = tree_new();
	struct tsm_fat_options o = { 0 };
	struct tsm_image *img = NULL;
	struct tsm_tree_entry big = { .type = TSM_ENTRY_FILE, .size = 4ull << 30, .blob_id = 7,
				      .mtime_ns = T0 };

	(void)state;
	add_data(t, "Dir/Readme.TXT", "a");
	add_data(t, "dir/readme.txt", "b");
	assert_int_equal(tsm_fat_layout(t, &o, &img), -EEXIST); /* Dir and dir */
	assert_null(img);
	tsm_tree_free(t);

	t = tree_new();
	add_data(t, "d/Readme.TXT", "a");
	add_data(t, "d/README.txt", "b");
	assert_int_equal(tsm_fat_layout(t, &o, &img), -EEXIST);
	tsm_tree_free(t);

	t = tree_new();
	add_data(t, "a:b", "a");
	assert_int_equal(tsm_fat_layout(t, &o, &img), -EINVAL);
	tsm_tree_free(t);

	t = tree_new();
	add_data(t, "small", "a");
	assert_int_equal(tsm_tree_add(t, "sources/install.wim", &big, NULL), 0);
	assert_int_equal(tsm_fat_layout(t, &o, &img), -EFBIG);
	assert_null(img);
	tsm_tree_free(t);

	/* one byte under 4 GiB is fine (never read: a blob segment) */
	t = tree_new();
	big.size = (4ull << 30) - 1;
	assert_int_equal(tsm_tree_add(t, "sources/install.wim", &big, NULL), 0);
	assert_int_equal(tsm_fat_layout(t, &o, &img), 0);
	tsm_image_unref(img);
	tsm_tree_free(t);
}

/* Symlinks have no FAT form and hidden boot images no name: both are left
 * out, everything else stays. */
static void test_layout_left_out(void **state)
{
	struct tsm_tree *t = tree_new();
	struct tsm_fat_options o = { 0 };
	struct tsm_tree_entry link = { .type = TSM_ENTRY_SYMLINK, .mtime_ns = T0,
				       .link_target = (char *)"kept.txt" };
	struct tsm_tree_node *hidden;
	struct tsm_image *img;
	struct vol v;
	uint8_t *buf = malloc(65536);

	(void)state;
	add_data(t, "kept.txt", "k");
	assert_int_equal(tsm_tree_add(t, "link", &link, NULL), 0);
	assert_int_equal(tsm_tree_add_data(t, "boot.img", "b", 1, T0, &hidden), 0);
	hidden->hidden = true;
	assert_int_equal(tsm_fat_layout(t, &o, &img), 0);
	vol_open(&v, img);
	assert_memory_equal(v.bs + 71, "NO NAME    ", 11);
	assert_non_null(find_entry(&v, 2, "KEPT    TXT", buf));
	assert_null(find_entry(&v, 2, "LINK       ", buf));
	assert_null(find_entry(&v, 2, "BOOT    IMG", buf));
	/* no label entry: the root starts with kept.txt's long name */
	assert_int_equal(buf[11], FAT_ATTR_LONG_NAME);
	tsm_image_unref(img);
	tsm_tree_free(t);
	free(buf);
}

static void test_layout_deterministic(void **state)
{
	struct tsm_fat_options o = { .volume_label = "same" };
	struct tsm_image *a, *b;
	const struct tsm_segment *sa, *sb;
	size_t na, nb;

	(void)state;
	for (int round = 0; round < 2; round++) {
		struct tsm_tree *t = tree_new();

		add_data(t, "a/b/c.txt", "abc");
		add_data(t, "Ünïcödé name.txt", "u");
		assert_int_equal(tsm_fat_layout(t, &o, round ? &b : &a), 0);
		tsm_tree_free(t);
	}
	sa = tsm_image_segments(a, &na);
	sb = tsm_image_segments(b, &nb);
	assert_int_equal(na, nb);
	assert_int_equal(tsm_image_size(a), tsm_image_size(b));
	for (size_t i = 0; i < na; i++) {
		assert_int_equal(sa[i].offset, sb[i].offset);
		assert_int_equal(sa[i].length, sb[i].length);
		assert_int_equal(sa[i].kind, sb[i].kind);
		if (sa[i].kind == TSM_SEGMENT_META)
			assert_memory_equal(sa[i].u.meta, sb[i].u.meta, sa[i].length);
	}
	tsm_image_unref(a);
	tsm_image_unref(b);
}

static void test_boot_templates(void **state)
{
	struct tsm_tree *t = tree_new();
	uint8_t mbr_code[512], vbr[512], got[512], bs[512];
	struct tsm_fat_options o = { .mbr_boot_code = mbr_code, .mbr_boot_code_len = 512,
				     .boot_sector = vbr, .boot_sector_len = 512 };
	struct tsm_image *img;
	struct vol v;

	(void)state;
	memset(mbr_code, 0xA5, sizeof(mbr_code));
	memset(vbr, 0x5A, sizeof(vbr));
	vbr[0] = 0xEB;
	vbr[1] = 0x58;
	vbr[2] = 0x90;
	add_data(t, "f", "f");
	assert_int_equal(tsm_fat_layout(t, &o, &img), 0);
	vol_open(&v, img);
	pread_all(img, got, 512, 0);
	for (int i = 0; i < 440; i++)
		assert_int_equal(got[i], 0xA5);
	assert_int_equal(got[446], 0x80); /* active */
	memcpy(bs, v.bs, 512);
	assert_memory_equal(bs, vbr, 3);
	for (int i = 90; i < 510; i++)
		assert_int_equal(bs[i], 0x5A);
	assert_int_equal(le16_get(bs + 11), 512); /* the BPB is the writer's */
	assert_memory_equal(bs + 82, "FAT32   ", 8);
	tsm_image_unref(img);
	tsm_tree_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lfn_checksum),
		cmocka_unit_test(test_lfn_entries),
		cmocka_unit_test(test_utf16),
		cmocka_unit_test(test_upcase),
		cmocka_unit_test(test_short_basis),
		cmocka_unit_test(test_short_tail),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_cluster_size),
		cmocka_unit_test(test_geometry),
		cmocka_unit_test(test_boot_sector),
		cmocka_unit_test(test_fsinfo),
		cmocka_unit_test(test_layout_small),
		cmocka_unit_test(test_layout_names),
		cmocka_unit_test(test_layout_refusals),
		cmocka_unit_test(test_layout_left_out),
		cmocka_unit_test(test_layout_deterministic),
		cmocka_unit_test(test_boot_templates),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
