/* The ISO writer's encoders and algorithms against known vectors: byte
 * orders (ECMA-119 7.2/7.3), CRC-ITU (ECMA-167 1/7.2.6), CRC-32 (UEFI GPT),
 * descriptor tags, name mapping for ISO 9660, Joliet and UDF, the boot info
 * table checksum, and whole layouts of small generated trees. */
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
#include "image/iso_internal.h"
#include "tsmedia/image.h"
#include "tsmedia/iso.h"
#include "tsmedia/tree.h"

static uint64_t le64_get_test(const uint8_t *p)
{
	return (uint64_t)le32_get(p) | (uint64_t)le32_get(p + 4) << 32;
}

static void test_both_endian(void **state)
{
	uint8_t b[8];
	static const uint8_t v733[8] = { 0x78, 0x56, 0x34, 0x12, 0x12, 0x34, 0x56, 0x78 };
	static const uint8_t v723[4] = { 0x34, 0x12, 0x12, 0x34 };

	(void)state;
	iso_set_733(b, 0x12345678);
	assert_memory_equal(b, v733, 8);
	iso_set_723(b, 0x1234);
	assert_memory_equal(b, v723, 4);
	iso_set_731(b, 0x01020304);
	assert_memory_equal(b, "\x04\x03\x02\x01", 4);
	iso_set_732(b, 0x01020304);
	assert_memory_equal(b, "\x01\x02\x03\x04", 4);
	iso_set_721(b, 0xABCD);
	assert_memory_equal(b, "\xCD\xAB", 2);
	iso_set_722(b, 0xABCD);
	assert_memory_equal(b, "\xAB\xCD", 2);
	udf_set_u64(b, 0x0102030405060708ull);
	assert_memory_equal(b, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
}

static void test_crc_vectors(void **state)
{
	/* ECMA-167 1/7.2.6's own example: 70 6A 77 gives 3299. */
	static const uint8_t ecma_example[3] = { 0x70, 0x6A, 0x77 };

	(void)state;
	assert_int_equal(iso_crc_itu((const uint8_t *)"123456789", 9), 0x31C3);
	assert_int_equal(iso_crc_itu(ecma_example, 3), 0x3299);
	assert_int_equal(iso_crc_itu(NULL, 0), 0);
	assert_int_equal(iso_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
	assert_int_equal(iso_crc32((const uint8_t *)"", 0), 0);
}

static void test_tag_checksum(void **state)
{
	uint8_t d[512] = { 0 };
	unsigned sum = 0;

	(void)state;
	for (int i = 16; i < 512; i++)
		d[i] = (uint8_t)(i * 7);
	udf_set_tag(d, 2, 256, 512);
	assert_int_equal(le16_get(d), 2);
	assert_int_equal(le16_get(d + 2), 2);
	assert_int_equal(le16_get(d + 8), iso_crc_itu(d + 16, 496));
	assert_int_equal(le16_get(d + 10), 496);
	assert_int_equal(le32_get(d + 12), 256);
	for (int i = 0; i < 16; i++)
		if (i != 4)
			sum += d[i];
	assert_int_equal(d[4], sum & 0xFF);
	assert_int_equal(udf_tag_checksum(d), d[4]);
	/* A known tag: id 8, version 2, CRC 0, length 0, location 0x20. */
	memset(d, 0, 16);
	d[0] = 8;
	d[2] = 2;
	d[12] = 0x20;
	assert_int_equal(udf_tag_checksum(d), 0x2A);
}

static bool is_dchar_name(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == ';'))
			return false;
	}
	return true;
}

static void test_iso_map_name(void **state)
{
	char out[64], name[256];
	size_t n;

	(void)state;
	n = iso9660_map_name("readme.txt", false, 0, out);
	assert_string_equal(out, "README.TXT;1");
	assert_int_equal(n, 12);
	iso9660_map_name("my.dir.name", true, 0, out);
	assert_string_equal(out, "MY_DIR_NAME");
	iso9660_map_name("Makefile", false, 0, out);
	assert_string_equal(out, "MAKEFILE.;1");
	iso9660_map_name("a b+c.tar.gz", false, 0, out);
	assert_string_equal(out, "A_B_C_TAR.GZ;1");
	iso9660_map_name("\xed\x95\x9c\xea\xb5\xad\xec\x96\xb4.txt", false, 0, out); /* 한국어 */
	assert_string_equal(out, "___.TXT;1");
	iso9660_map_name("x.txt", false, 12, out);
	assert_string_equal(out, "X_12.TXT;1");
	memset(name, 'a', 200);
	memcpy(name + 196, ".doc", 5);
	n = iso9660_map_name(name, false, 0, out);
	assert_true(n <= ISO_MAX_FILE_NAME + 3);
	assert_true(is_dchar_name(out, n));
	assert_string_equal(out + n - 6, ".DOC;1");
	n = iso9660_map_name(name, false, 4294967295u, out);
	assert_true(n <= ISO_MAX_FILE_NAME + 3);
	assert_non_null(strstr(out, "_4294967295.DOC;1"));
	memset(name, 'b', 200);
	name[200] = '\0';
	n = iso9660_map_name(name, true, 0, out);
	assert_int_equal(n, ISO_MAX_DIR_NAME);
	/* a long extension is cut, the name keeps room */
	n = iso9660_map_name("a.verylongextensionthatgoesonandon", false, 0, out);
	assert_true(n <= ISO_MAX_FILE_NAME + 3);
	assert_true(out[0] == 'A' && out[1] == '.');
}

static void test_iso_name_order(void **state)
{
	(void)state;
	/* ECMA-119 9.3: name part first (padded), then extension. */
	assert_true(iso9660_name_cmp("AB.;1", 5, "AB_.;1", 6) < 0);
	assert_true(iso9660_name_cmp("A.Z;1", 5, "AB.A;1", 6) < 0);
	assert_true(iso9660_name_cmp("AB.TXT;1", 8, "AB.C;1", 6) > 0);
	assert_true(iso9660_name_cmp("SAME", 4, "SAME", 4) == 0);
}

/* Fake nodes for the uniquifier. */
struct fake {
	struct tsm_tree_node t[64];
	struct iso_node n[64];
	struct iso_node *p[64];
};

static void fake_init(struct fake *f, const char **names, size_t count, bool dir)
{
	memset(f, 0, sizeof(*f));
	for (size_t i = 0; i < count; i++) {
		f->t[i].name = (char *)names[i];
		f->n[i].t = &f->t[i];
		f->n[i].dir = dir;
		f->p[i] = &f->n[i];
	}
}

static size_t iso_make(const struct iso_node *n, unsigned suffix, uint8_t *out)
{
	return iso9660_map_name(n->t->name, n->dir, suffix, (char *)out);
}

static void iso_store(struct iso_node *n, const uint8_t *name, size_t len)
{
	memcpy(n->iso_name, name, len);
	n->iso_name[len] = '\0';
	n->iso_len = (uint8_t)len;
}

static void assert_distinct_iso(struct fake *f, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		assert_true(f->n[i].iso_len > 0);
		for (size_t j = i + 1; j < count; j++)
			assert_false(f->n[i].iso_len == f->n[j].iso_len &&
				     memcmp(f->n[i].iso_name, f->n[j].iso_name, f->n[i].iso_len) == 0);
	}
}

static void test_iso_unique(void **state)
{
	static const struct iso_name_ops ops = { iso_make, iso_store };
	/* tree (strcmp) order */
	const char *names[] = { "README.TXT", "README_1.TXT", "ReadMe.txt", "readme.txt",
				"\xed\x95\x9c.txt", "\xea\xb8\x80.txt", "\xeb\xa7\x90.txt" };
	const char *longs[10];
	char buf[10][201];
	struct fake *f = malloc(sizeof(*f));

	(void)state;
	fake_init(f, names, 7, false);
	assert_int_equal(iso_names_unique(f->p, 7, &ops), 0);
	assert_distinct_iso(f, 7);
	assert_string_equal(f->n[0].iso_name, "README.TXT;1");
	assert_string_equal(f->n[1].iso_name, "README_1.TXT;1"); /* a real name keeps its own */
	assert_string_equal(f->n[4].iso_name, "_.TXT;1");
	/* 200-character names that differ only at the end */
	for (int i = 0; i < 10; i++) {
		memset(buf[i], 'q', 200);
		buf[i][199] = (char)('0' + i);
		buf[i][200] = '\0';
		longs[i] = buf[i];
	}
	fake_init(f, longs, 10, true);
	assert_int_equal(iso_names_unique(f->p, 10, &ops), 0);
	assert_distinct_iso(f, 10);
	for (int i = 0; i < 10; i++)
		assert_true(f->n[i].iso_len <= ISO_MAX_DIR_NAME);
	free(f);
}

static size_t ucs2_units(size_t bytes, bool file)
{
	return (bytes - (file ? 4 : 0)) / 2;
}

static void test_joliet(void **state)
{
	uint8_t out[256];
	char name[256];
	size_t n;

	(void)state;
	n = joliet_map_name("Hello.txt", false, 0, out);
	assert_int_equal(n, 2 * 9 + 4);
	assert_memory_equal(out, "\0H\0e\0l\0l\0o\0.\0t\0x\0t\0;\0" "1", n);
	/* non-BMP (U+1F600) and forbidden characters become '_' */
	n = joliet_map_name("a\xf0\x9f\x98\x80:b", true, 0, out);
	assert_int_equal(n, 8);
	assert_memory_equal(out, "\0a\0_\0_\0b", 8);
	/* Korean stays Korean: U+D55C */
	n = joliet_map_name("\xed\x95\x9c", true, 0, out);
	assert_int_equal(n, 2);
	assert_int_equal(out[0], 0xD5);
	assert_int_equal(out[1], 0x5C);
	/* long names: 64 characters, extension kept */
	memset(name, 'x', 200);
	memcpy(name + 196, ".iso", 5);
	n = joliet_map_name(name, false, 0, out);
	assert_int_equal(ucs2_units(n, true), JOLIET_MAX_NAME);
	assert_memory_equal(out + n - 12, "\0.\0i\0s\0o\0;\0" "1", 12);
	n = joliet_map_name(name, false, 7, out);
	assert_int_equal(ucs2_units(n, true), JOLIET_MAX_NAME);
	assert_memory_equal(out + n - 16, "\0_\0" "7\0.\0i\0s\0o\0;\0" "1", 16);
	/* a 64-character name is left alone */
	memset(name, 'y', 64);
	name[64] = '\0';
	n = joliet_map_name(name, true, 0, out);
	assert_int_equal(n, 128);
}

static void test_udf_cs0(void **state)
{
	uint8_t out[256];
	char name[300];
	size_t n;

	(void)state;
	n = udf_cs0("abc", out, 255);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "\x08" "abc", 4);
	n = udf_cs0("\xc3\xa9", out, 255); /* é: still 8-bit */
	assert_int_equal(n, 2);
	assert_int_equal(out[1], 0xE9);
	n = udf_cs0("a\xed\x95\x9c", out, 255);
	assert_int_equal(n, 5);
	assert_memory_equal(out, "\x10\x00" "a\xD5\x5C", 5);
	n = udf_cs0("\xf0\x9f\x98\x80", out, 255);
	assert_memory_equal(out, "\x08_", 2);
	memset(name, 'z', 299);
	name[299] = '\0';
	n = udf_cs0(name, out, 255);
	assert_int_equal(n, 255);
}

static void test_boot_info_csum(void **state)
{
	uint8_t d[72] = { 0 };

	(void)state;
	d[0] = 0xFF; /* before byte 64: not counted */
	le32_set(d + 64, 0x01020304);
	le32_set(d + 68, 0xFFFFFFFF);
	assert_int_equal(eltorito_boot_info_csum(d, 72), 0x01020303);
	assert_int_equal(eltorito_boot_info_csum(d, 66), 0x0304);
}

/* ---- whole layouts -------------------------------------------------- */

static uint8_t *image_bytes(struct tsm_image *img)
{
	uint64_t size = tsm_image_size(img);
	uint8_t *buf = malloc((size_t)size);

	assert_non_null(buf);
	/* All-generated trees: no blob source is needed. */
	assert_int_equal(tsm_image_pread(img, NULL, buf, (size_t)size, 0), (ssize_t)size);
	return buf;
}

static struct tsm_tree *small_tree(void)
{
	struct tsm_tree *tree;
	static uint8_t boot[4096], efi[64 * 1024];

	for (size_t i = 0; i < sizeof(boot); i++)
		boot[i] = (uint8_t)(i * 13);
	memcpy(efi, "\xEB\x3C\x90mkfs.fat", 11);
	assert_int_equal(tsm_tree_new(&tree), 0);
	assert_int_equal(tsm_tree_add_data(tree, "isolinux/isolinux.bin", boot, sizeof(boot),
					   1700000000000000000ll, NULL), 0);
	assert_int_equal(tsm_tree_add_data(tree, "efi.img", efi, sizeof(efi), 1700000000000000000ll,
					   NULL), 0);
	assert_int_equal(tsm_tree_add_data(tree, "a/b/c/d/e/f/g/h/i/deep.txt", "deep\n", 5,
					   1700000000000000000ll, NULL), 0);
	assert_int_equal(tsm_tree_add_data(tree, "Readme.TXT", "1", 1, 1, NULL), 0);
	assert_int_equal(tsm_tree_add_data(tree, "readme.txt", "2", 1, 2, NULL), 0);
	assert_int_equal(tsm_tree_add_data(tree, "empty", "", 0, 3, NULL), 0);
	return tree;
}

static void check_udf_tag(const uint8_t *img, uint64_t off, uint16_t id, uint32_t loc)
{
	const uint8_t *t = img + off;

	assert_int_equal(le16_get(t), id);
	assert_int_equal(udf_tag_checksum(t), t[4]);
	assert_int_equal(le16_get(t + 8), iso_crc_itu(t + 16, le16_get(t + 10)));
	assert_int_equal(le32_get(t + 12), loc);
}

static void test_layout_small(void **state)
{
	struct tsm_iso_options o = { .volume_id = "Unit Test", .joliet = true, .rock_ridge = true,
				     .udf = true, .volume_time_ns = 1700000000000000000ll,
				     .bios_boot = "isolinux/isolinux.bin", .boot_info_table = true,
				     .uefi_boot = "efi.img", .hybrid_gpt = true };
	static uint8_t mbr_code[432];
	struct tsm_tree *tree = small_tree();
	struct tsm_image *img, *img2;
	uint8_t *a, *b;
	uint64_t size;
	uint32_t cat, boot_lba, nsec;

	(void)state;
	memset(mbr_code, 0x90, sizeof(mbr_code));
	o.hybrid_mbr = mbr_code;
	o.hybrid_mbr_len = sizeof(mbr_code);
	assert_int_equal(tsm_iso_layout(tree, &o, &img), 0);
	assert_int_equal(tsm_iso_layout(tree, &o, &img2), 0);
	size = tsm_image_size(img);
	assert_int_equal(size % 2048, 0);
	assert_int_equal(tsm_image_size(img2), size);
	a = image_bytes(img);
	b = image_bytes(img2);
	assert_memory_equal(a, b, (size_t)size); /* deterministic */
	nsec = (uint32_t)(size / 2048);

	/* PVD */
	assert_memory_equal(a + 16 * 2048, "\x01" "CD001\x01", 7);
	assert_memory_equal(a + 16 * 2048 + 40, "UNIT_TEST ", 10);
	assert_int_equal(le32_get(a + 16 * 2048 + 80), nsec);
	/* El Torito boot record and catalog */
	assert_memory_equal(a + 17 * 2048, "\x00" "CD001\x01" "EL TORITO SPECIFICATION", 30);
	cat = le32_get(a + 17 * 2048 + 71);
	{
		const uint8_t *c = a + (size_t)cat * 2048;
		uint16_t sum = 0;

		for (int i = 0; i < 32; i += 2)
			sum = (uint16_t)(sum + le16_get(c + i));
		assert_int_equal(sum, 0);
		assert_int_equal(c[30], 0x55);
		assert_int_equal(c[31], 0xAA);
		assert_int_equal(c[32], 0x88);
		assert_int_equal(le16_get(c + 38), 4);
		boot_lba = le32_get(c + 40);
		assert_int_equal(c[64], 0x91);
		assert_int_equal(c[65], 0xEF);
		assert_int_equal(c[96], 0x88);
		assert_int_equal(le16_get(c + 102), 64 * 1024 / 512);
	}
	/* boot info table */
	assert_int_equal(le32_get(a + (size_t)boot_lba * 2048 + 8), 16);
	assert_int_equal(le32_get(a + (size_t)boot_lba * 2048 + 12), boot_lba);
	assert_int_equal(le32_get(a + (size_t)boot_lba * 2048 + 16), 4096);
	{
		static uint8_t boot[4096];

		for (size_t i = 0; i < sizeof(boot); i++)
			boot[i] = (uint8_t)(i * 13);
		assert_int_equal(le32_get(a + (size_t)boot_lba * 2048 + 20),
				 eltorito_boot_info_csum(boot, sizeof(boot)));
		assert_memory_equal(a + (size_t)boot_lba * 2048, boot, 8);
		assert_memory_equal(a + (size_t)boot_lba * 2048 + 64, boot + 64, 4096 - 64);
	}
	/* Joliet SVD, terminator, UDF VRS */
	assert_memory_equal(a + 18 * 2048, "\x02" "CD001", 6);
	assert_memory_equal(a + 18 * 2048 + 88, "%/E", 3);
	assert_memory_equal(a + 19 * 2048, "\xFF" "CD001", 6);
	assert_memory_equal(a + 20 * 2048 + 1, "BEA01", 5);
	assert_memory_equal(a + 21 * 2048 + 1, "NSR02", 5);
	assert_memory_equal(a + 22 * 2048 + 1, "TEA01", 5);
	/* UDF descriptors */
	check_udf_tag(a, 256 * 2048, 2, 256);
	check_udf_tag(a, 32 * 2048, 1, 32);
	check_udf_tag(a, 35 * 2048, 6, 35);
	check_udf_tag(a, 37 * 2048, 8, 37);
	check_udf_tag(a, 48 * 2048, 1, 48);
	check_udf_tag(a, 64 * 2048, 9, 64);
	/* with a GPT at the end, the second anchor is at N - 256 */
	check_udf_tag(a, (uint64_t)(nsec - 1 - 256) * 2048, 2, nsec - 1 - 256);
	/* MBR and GPT */
	assert_int_equal(a[510], 0x55);
	assert_int_equal(a[511], 0xAA);
	assert_int_equal(a[446 + 4], 0xEE);
	assert_int_equal(le64_get_test(a + 432), (uint64_t)boot_lba * 4);
	assert_memory_equal(a + 512, "EFI PART", 8);
	{
		uint8_t hdr[92];
		uint64_t last = (uint64_t)nsec * 4 - 1;

		memcpy(hdr, a + 512, 92);
		memset(hdr + 16, 0, 4);
		assert_int_equal(le32_get(a + 512 + 16), iso_crc32(hdr, 92));
		assert_int_equal(le32_get(a + 512 + 88), iso_crc32(a + 1024, 128 * 128));
		assert_memory_equal(a + last * 512, "EFI PART", 8);
		assert_memory_equal(a + (last - 32) * 512, a + 1024, 128 * 128);
		/* the ESP entry covers the EFI image, after the ISO partition */
		assert_int_equal(a[1024 + 128], 0x28);
		assert_true(le32_get(a + 1024 + 40) < le32_get(a + 1024 + 128 + 32));
	}
	free(a);
	free(b);
	tsm_image_unref(img);
	tsm_image_unref(img2);
	tsm_tree_free(tree);
}

static void test_layout_errors(void **state)
{
	struct tsm_iso_options o = { .joliet = true, .rock_ridge = true, .udf = true,
				     .bios_boot = "missing.bin" };
	struct tsm_tree *tree = small_tree();
	struct tsm_image *img = NULL;

	(void)state;
	assert_int_equal(tsm_iso_layout(tree, &o, &img), -ENOENT);
	o.bios_boot = "a/b";
	assert_int_equal(tsm_iso_layout(tree, &o, &img), -ENOENT);
	o.bios_boot = NULL;
	o.rock_ridge = o.joliet = o.udf = false;
	assert_int_equal(tsm_iso_layout(tree, &o, &img), 0); /* plain ISO 9660 */
	tsm_image_unref(img);
	tsm_tree_free(tree);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_both_endian),
		cmocka_unit_test(test_crc_vectors),
		cmocka_unit_test(test_tag_checksum),
		cmocka_unit_test(test_iso_map_name),
		cmocka_unit_test(test_iso_name_order),
		cmocka_unit_test(test_iso_unique),
		cmocka_unit_test(test_joliet),
		cmocka_unit_test(test_udf_cs0),
		cmocka_unit_test(test_boot_info_csum),
		cmocka_unit_test(test_layout_small),
		cmocka_unit_test(test_layout_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
