/* The WIM writer's encoders against the field offsets of the WIM format
 * (wimlib's header.h, resource.h, blob_table.c, dentry.c), then whole
 * layouts of generated trees judged by wimlib itself: a multi-image WIM,
 * a split set, and a virtual WIM nested as a file in a virtual ISO (read
 * back out of the ISO with libiso9660 and verified by wimlib). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cdio/iso9660.h>
#include <wimlib.h>

#include "image/encode.h"
#include "tsmedia/image.h"
#include "tsmedia/iso.h"
#include "tsmedia/tree.h"
#include "tsmedia/wim.h"

static uint64_t le64_get_t(const uint8_t *p)
{
	return (uint64_t)le32_get(p) | (uint64_t)le32_get(p + 4) << 32;
}

static void test_reshdr(void **state)
{
	uint8_t b[TSM_WIM_RESHDR_SIZE];
	struct tsm_wim_reshdr r = { 0x0123456789abcdull, 0x02, 0x1122334455667788ull, 42 };

	(void)state;
	tsm_wim_put_reshdr(b, &r);
	assert_memory_equal(b, "\xcd\xab\x89\x67\x45\x23\x01\x02", 8); /* 7-byte size, flags */
	assert_true(le64_get_t(b + 8) == 0x1122334455667788ull);
	assert_true(le64_get_t(b + 16) == 42);
}

static void test_header(void **state)
{
	uint8_t b[TSM_WIM_HEADER_SIZE];
	struct tsm_wim_header h = { .flags = 0x8, .part_number = 2, .total_parts = 3,
				    .image_count = 5, .boot_index = 4 };

	(void)state;
	for (int i = 0; i < 16; i++)
		h.guid[i] = (uint8_t)(i + 1);
	h.blob_table = (struct tsm_wim_reshdr){ 100, 2, 1000, 100 };
	h.xml = (struct tsm_wim_reshdr){ 60, 0, 1100, 60 };
	h.boot_metadata = (struct tsm_wim_reshdr){ 30, 2, 208, 30 };
	tsm_wim_put_header(b, &h);
	assert_memory_equal(b, "MSWIM\0\0\0", 8);
	assert_int_equal(le32_get(b + 8), 208);       /* header size */
	assert_int_equal(le32_get(b + 12), 0x10d00);  /* version */
	assert_int_equal(le32_get(b + 16), 0x8);      /* flags: spanned */
	assert_int_equal(le32_get(b + 20), 0);        /* chunk size: uncompressed */
	assert_int_equal(b[24], 1);                   /* GUID */
	assert_int_equal(b[39], 16);
	assert_int_equal(le16_get(b + 40), 2);        /* part number */
	assert_int_equal(le16_get(b + 42), 3);        /* total parts */
	assert_int_equal(le32_get(b + 44), 5);        /* image count */
	assert_true(le64_get_t(b + 48 + 8) == 1000);  /* blob table offset */
	assert_int_equal(b[48 + 7], 2);
	assert_true(le64_get_t(b + 72 + 8) == 1100);  /* XML offset */
	assert_true(le64_get_t(b + 96 + 8) == 208);   /* boot metadata */
	assert_int_equal(le32_get(b + 120), 4);       /* boot index */
	for (int i = 124; i < 208; i++)               /* no integrity table; unused */
		assert_int_equal(b[i], 0);
}

static void test_blob_entry(void **state)
{
	uint8_t b[TSM_WIM_BLOB_ENTRY_SIZE], sha1[TSM_SHA1_LEN];
	struct tsm_wim_reshdr r = { 5, 0, 208, 5 };

	(void)state;
	for (int i = 0; i < TSM_SHA1_LEN; i++)
		sha1[i] = (uint8_t)(0xa0 + i);
	tsm_wim_put_blob_entry(b, &r, 7, 3, sha1);
	assert_true(le64_get_t(b) == 5);
	assert_true(le64_get_t(b + 8) == 208);
	assert_int_equal(le16_get(b + 24), 7);   /* part number */
	assert_int_equal(le32_get(b + 26), 3);   /* reference count */
	assert_memory_equal(b + 30, sha1, TSM_SHA1_LEN);
}

static void test_dentry(void **state)
{
	static const uint16_t name[] = { 'a', 'b', 'c' }, sname[] = { 'A' }, sn[] = { 'z', 'o' };
	struct tsm_wim_dentry_stream one = { .name = NULL };
	struct tsm_wim_dentry d = { .attributes = 0x20, .security_id = -1, .creation_ft = 1,
				    .access_ft = 2, .write_ft = 3, .hardlink_group = 9,
				    .name = name, .name_units = 3, .streams = &one, .nstreams = 1 };
	uint8_t b[512];
	size_t n;

	(void)state;
	memset(one.sha1, 0x5a, TSM_SHA1_LEN);
	/* 102 fixed bytes + "abc" + NUL in UTF-16 = 110, aligned to 112. */
	assert_int_equal(tsm_wim_dentry_size(&d), 112);
	n = tsm_wim_put_dentry(b, &d);
	assert_int_equal(n, 112);
	assert_true(le64_get_t(b) == 112);                     /* length */
	assert_int_equal(le32_get(b + 8), 0x20);               /* attributes */
	assert_int_equal(le32_get(b + 12), 0xffffffffu);       /* no security descriptor */
	assert_true(le64_get_t(b + 40) == 1 && le64_get_t(b + 48) == 2 && le64_get_t(b + 56) == 3);
	assert_memory_equal(b + 64, one.sha1, TSM_SHA1_LEN);   /* one stream: main hash */
	assert_true(le64_get_t(b + 88) == 9);                  /* hard link group */
	assert_int_equal(le16_get(b + 96), 0);                 /* no extra stream entries */
	assert_int_equal(le16_get(b + 100), 6);                /* name bytes */
	assert_int_equal(le16_get(b + 102), 'a');
	assert_int_equal(le16_get(b + 108), 0);                /* terminator */

	/* A short name and a named stream: every stream goes into extra
	 * entries (unnamed first), main hash zero. */
	{
		struct tsm_wim_dentry_stream two[2] = { { .name = NULL }, { .name = sn, .name_units = 2 } };
		static const uint8_t zero[TSM_SHA1_LEN];

		memset(two[0].sha1, 0x11, TSM_SHA1_LEN);
		memset(two[1].sha1, 0x22, TSM_SHA1_LEN);
		d.short_name = sname;
		d.short_units = 1;
		d.streams = two;
		d.nstreams = 2;
		/* 102 + 8 + 4 = 114 -> 120; entries: 38 -> 40, 38 + 6 = 44 -> 48. */
		assert_int_equal(tsm_wim_dentry_size(&d), 120 + 40 + 48);
		n = tsm_wim_put_dentry(b, &d);
		assert_int_equal(n, 208);
		assert_true(le64_get_t(b) == 120);             /* length excludes stream entries */
		assert_memory_equal(b + 64, zero, TSM_SHA1_LEN);
		assert_int_equal(le16_get(b + 96), 2);
		assert_int_equal(le16_get(b + 98), 2);         /* short name bytes */
		assert_int_equal(le16_get(b + 110), 'A');
		assert_true(le64_get_t(b + 120) == 40);
		assert_memory_equal(b + 120 + 16, two[0].sha1, TSM_SHA1_LEN);
		assert_int_equal(le16_get(b + 120 + 36), 0);
		assert_true(le64_get_t(b + 160) == 48);
		assert_memory_equal(b + 160 + 16, two[1].sha1, TSM_SHA1_LEN);
		assert_int_equal(le16_get(b + 160 + 36), 4);
		assert_int_equal(le16_get(b + 160 + 38), 'z');
	}

	/* A reparse point directory: tag instead of a link group, its one
	 * stream (the reparse data) in the main hash. */
	{
		struct tsm_wim_dentry r = { .attributes = 0x410, .security_id = 0, .is_dir = true,
					    .is_reparse = true, .reparse_tag = 0xA0000003u,
					    .name = name, .name_units = 3, .streams = &one,
					    .nstreams = 1, .subdir_offset = 4096 };

		n = tsm_wim_put_dentry(b, &r);
		assert_int_equal(n, 112);
		assert_int_equal(le32_get(b + 88), 0xA0000003u);
		assert_true(le64_get_t(b + 16) == 4096);
		assert_memory_equal(b + 64, one.sha1, TSM_SHA1_LEN);
	}
}

/* ---- whole layouts --------------------------------------------------- */

static ssize_t no_blobs(void *ctx, int64_t id, void *buf, size_t len, uint64_t off)
{
	(void)ctx, (void)id, (void)buf, (void)len, (void)off;
	return -EIO;
}

static const struct tsm_blob_source source = { .pread = no_blobs };

static void write_image(struct tsm_image *image, const char *path)
{
	FILE *f = fopen(path, "wb");
	uint64_t size = tsm_image_size(image);
	uint8_t *buf = malloc(1 << 20);

	assert_non_null(f);
	assert_non_null(buf);
	for (uint64_t off = 0; off < size;) {
		ssize_t n = tsm_image_pread(image, &source, buf, 1 << 20, off);

		assert_true(n > 0);
		assert_int_equal(fwrite(buf, 1, (size_t)n, f), (size_t)n);
		off += (uint64_t)n;
	}
	fclose(f);
	free(buf);
}

static struct tsm_tree *make_tree(int salt)
{
	struct tsm_tree *t;
	char data[3000];

	assert_int_equal(tsm_tree_new(&t), 0);
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 7 + (size_t)salt);
	assert_int_equal(tsm_tree_add_data(t, "Windows/System32/config.txt", "config\n", 7,
					   1500000000000000000ll, NULL), 0);
	assert_int_equal(tsm_tree_add_data(t, "Windows/big.bin", data, sizeof(data),
					   1500000000000000000ll, NULL), 0);
	assert_int_equal(tsm_tree_add_data(t, "same.txt", "config\n", 7, 1500000000000000000ll,
					   NULL), 0);
	assert_int_equal(tsm_tree_add_data(t, "empty", "", 0, 1500000000000000000ll, NULL), 0);
	return t;
}

static int count_entry(const struct wimlib_dir_entry *d, void *arg)
{
	(void)d;
	(*(int *)arg)++;
	return 0;
}

static char tmpdir[] = "/tmp/test_wim.XXXXXX";

static void test_layout_multi(void **state)
{
	struct tsm_tree *t1 = make_tree(1), *t2 = make_tree(2);
	struct tsm_wim_image_spec specs[2] = {
		{ .tree = t1, .name = "Setup & <Tools>", .description = "first" },
		{ .tree = t2, .name = "Second" },
	};
	struct tsm_wim_options o = { .images = specs, .nimages = 2, .boot_index = 2 };
	struct tsm_image **parts, **again;
	size_t n, n2;
	char path[256];
	WIMStruct *wim;
	struct wimlib_wim_info info;
	int count = 0;

	(void)state;
	assert_int_equal(tsm_wim_layout(&o, &parts, &n), 0);
	assert_int_equal(n, 1);
	/* Deterministic: the same input gives the same map. */
	assert_int_equal(tsm_wim_layout(&o, &again, &n2), 0);
	assert_true(tsm_image_size(parts[0]) == tsm_image_size(again[0]));
	tsm_wim_parts_free(again, n2);
	snprintf(path, sizeof(path), "%s/multi.wim", tmpdir);
	write_image(parts[0], path);
	assert_int_equal(wimlib_open_wim(path, WIMLIB_OPEN_FLAG_CHECK_INTEGRITY, &wim), 0);
	wimlib_get_wim_info(wim, &info);
	assert_int_equal(info.image_count, 2);
	assert_int_equal(info.boot_index, 2);
	assert_string_equal(wimlib_get_image_name(wim, 1), "Setup & <Tools>");
	assert_string_equal(wimlib_get_image_description(wim, 1), "first");
	assert_int_equal(wimlib_verify_wim(wim, 0), 0);
	assert_int_equal(wimlib_iterate_dir_tree(wim, 2, "/", WIMLIB_ITERATE_DIR_TREE_FLAG_RECURSIVE,
						 count_entry, &count), 0);
	assert_int_equal(count, 7); /* root, Windows, System32, 4 files */
	wimlib_free(wim);
	tsm_wim_parts_free(parts, n);
	tsm_tree_free(t1);
	tsm_tree_free(t2);
}

static void test_layout_split(void **state)
{
	struct tsm_tree *t = make_tree(3);
	struct tsm_wim_image_spec spec = { .tree = t, .name = "split" };
	struct tsm_wim_options o = { .images = &spec, .nimages = 1, .part_size = 4096 };
	struct tsm_image **parts;
	size_t n;
	char path[256], glob[256];
	WIMStruct *wim;

	(void)state;
	assert_int_equal(tsm_wim_layout(&o, &parts, &n), 0);
	assert_true(n >= 2);
	for (size_t i = 0; i < n; i++) {
		assert_true(tsm_image_size(parts[i]) <= 4096);
		snprintf(path, sizeof(path), "%s/split%zu.swm", tmpdir, i + 1);
		write_image(parts[i], path);
	}
	snprintf(path, sizeof(path), "%s/split1.swm", tmpdir);
	snprintf(glob, sizeof(glob), "%s/split*.swm", tmpdir);
	assert_int_equal(wimlib_open_wim(path, 0, &wim), 0);
	assert_int_equal(wimlib_reference_resource_files(wim, (const char *[]){ glob }, 1,
							 WIMLIB_REF_FLAG_GLOB_ENABLE, 0), 0);
	assert_int_equal(wimlib_verify_wim(wim, 0), 0);
	wimlib_free(wim);
	tsm_wim_parts_free(parts, n);
	/* A file larger than a part cannot be split. */
	o.part_size = 2048;
	assert_int_equal(tsm_wim_layout(&o, &parts, &n), -EFBIG);
	tsm_tree_free(t);
}

/* Stand-alone media carry the OS image as sources/install.wim: a virtual
 * WIM nested, uncopied, as a file of a virtual ISO. */
static void test_wim_in_iso(void **state)
{
	struct tsm_tree *t = make_tree(4), *iso_tree;
	struct tsm_wim_image_spec spec = { .tree = t, .name = "Windows" };
	struct tsm_wim_options o = { .images = &spec, .nimages = 1 };
	struct tsm_iso_options io = { .joliet = true, .rock_ridge = true, .udf = true };
	struct tsm_image **parts, *iso;
	size_t n, nsegs;
	const struct tsm_segment *segs;
	bool nested = false;
	char path[256], wpath[256];
	iso9660_t *fs;
	iso9660_stat_t *st;
	uint8_t *want, *got;
	uint64_t size;
	WIMStruct *wim;
	FILE *f;

	(void)state;
	assert_int_equal(tsm_wim_layout(&o, &parts, &n), 0);
	size = tsm_image_size(parts[0]);
	assert_int_equal(tsm_tree_new(&iso_tree), 0);
	assert_int_equal(tsm_tree_add_data(iso_tree, "setup.txt", "run setup\n", 10, 0, NULL), 0);
	assert_int_equal(tsm_tree_add_image(iso_tree, "sources/install.wim", parts[0], 0, NULL), 0);
	assert_int_equal(tsm_iso_layout(iso_tree, &io, &iso), 0);
	segs = tsm_image_segments(iso, &nsegs);
	for (size_t i = 0; i < nsegs; i++)
		nested |= segs[i].kind == TSM_SEGMENT_IMAGE && segs[i].u.image.image == parts[0];
	assert_true(nested); /* an IMAGE segment, not a copy */
	snprintf(path, sizeof(path), "%s/media.iso", tmpdir);
	write_image(iso, path);

	/* libiso9660 finds the file; its bytes are the WIM's. */
	assert_non_null(fs = iso9660_open(path));
	assert_non_null(st = iso9660_ifs_stat_translate(fs, "/sources/install.wim"));
	assert_true(st->size == size);
	want = malloc((size_t)size);
	got = malloc((size_t)size);
	assert_true(tsm_image_pread(parts[0], &source, want, (size_t)size, 0) == (ssize_t)size);
	f = fopen(path, "rb");
	assert_int_equal(fseek(f, (long)st->lsn * 2048, SEEK_SET), 0);
	assert_int_equal(fread(got, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	assert_memory_equal(want, got, (size_t)size);
	iso9660_stat_free(st);
	iso9660_close(fs);

	/* And wimlib accepts the WIM taken out of the ISO. */
	snprintf(wpath, sizeof(wpath), "%s/from-iso.wim", tmpdir);
	f = fopen(wpath, "wb");
	assert_int_equal(fwrite(got, 1, (size_t)size, f), (size_t)size);
	fclose(f);
	assert_int_equal(wimlib_open_wim(wpath, 0, &wim), 0);
	assert_int_equal(wimlib_verify_wim(wim, 0), 0);
	assert_string_equal(wimlib_get_image_name(wim, 1), "Windows");
	wimlib_free(wim);
	free(want);
	free(got);
	tsm_image_unref(iso);
	tsm_tree_free(iso_tree);
	tsm_wim_parts_free(parts, n);
	tsm_tree_free(t);
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reshdr),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_blob_entry),
		cmocka_unit_test(test_dentry),
		cmocka_unit_test(test_layout_multi),
		cmocka_unit_test(test_layout_split),
		cmocka_unit_test(test_wim_in_iso),
	};

	wimlib_global_init(0);
	return cmocka_run_group_tests(tests, setup, teardown);
}
