/* An imported system area's fields near the image's end: what the reader
 * (core/import/iso_sysarea.c) accepts, the ISO writer (core/image/sysarea.c)
 * must lay out.  An MBR partition (its classic table: four 16-byte entries
 * at byte 446, LE32 first LBA at 8 and sectors at 12, 0x55 0xAA at 510)
 * ends some ISO sectors before the image's end; the writer keeps that
 * distance from the new end, or the reader refuses the image. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "image/encode.h"
#include "import/iso_sysarea.h"
#include "tsmedia/image.h"
#include "tsmedia/iso.h"
#include "tsmedia/tree.h"

#define OLD_SECTORS 4000u

/* Describes a system area whose MBR partition 1 runs from block 64 to
 * @gap ISO sectors before the end of an image of OLD_SECTORS sectors. */
static int describe_gap(uint8_t *sa, uint32_t gap, char **map, char **why)
{
	uint32_t end = (OLD_SECTORS - gap) * 4;

	memset(sa, 0, TSM_ISO_SYSTEM_AREA);
	sa[446 + 4] = 0x83;
	le32_set(sa + 446 + 8, 64);
	le32_set(sa + 446 + 12, end - 64);
	sa[510] = 0x55;
	sa[511] = 0xaa;
	return tsm_iso_sysarea_describe(sa, (uint64_t)OLD_SECTORS * 2048, "MBR", NULL, 0, map, why);
}

/* Lays out a small tree with @sa and @map: 0 and the image, or the
 * writer's error. */
static int lay_out(const uint8_t *sa, const char *map, uint8_t out[TSM_ISO_SYSTEM_AREA],
		   uint64_t *size_ret)
{
	struct tsm_iso_options o = { .volume_id = "SA", .joliet = true, .rock_ridge = true,
				     .system_area = sa, .system_area_map = map };
	struct tsm_image *img = NULL;
	struct tsm_tree *tree;
	int rc;

	assert_int_equal(tsm_tree_new(&tree), 0);
	assert_int_equal(tsm_tree_add_data(tree, "readme.txt", "x\n", 2, 1, NULL), 0);
	rc = tsm_iso_layout(tree, &o, &img);
	if (rc == 0) {
		*size_ret = tsm_image_size(img);
		assert_int_equal(tsm_image_pread(img, NULL, out, TSM_ISO_SYSTEM_AREA, 0),
				 TSM_ISO_SYSTEM_AREA);
		tsm_image_unref(img);
	}
	tsm_tree_free(tree);
	return rc;
}

static void test_tail_accepted_is_laid_out(void **state)
{
	static uint8_t sa[TSM_ISO_SYSTEM_AREA], out[TSM_ISO_SYSTEM_AREA];

	(void)state;
	for (uint32_t gap = 1; gap <= 300; gap++) {
		char *map = NULL, *why = NULL;
		uint64_t size = 0;
		int rc = describe_gap(sa, gap, &map, &why);

		if (gap > 256) {
			/* Beyond what the reader ever took for "near the end". */
			assert_int_equal(rc, TSM_SA_REFUSED);
		} else if (gap <= 254) {
			/* What the writer can lay out is not refused. */
			assert_int_equal(rc, TSM_SA_MAPPED);
		}
		if (rc == TSM_SA_MAPPED) {
			assert_non_null(map);
			/* An accepted map is one the writer lays out ... */
			assert_int_equal(lay_out(sa, map, out, &size), 0);
			/* ... with the partition's end as far from the new end. */
			assert_int_equal(size % 2048, 0);
			assert_int_equal(le32_get(out + 446 + 8), 64);
			assert_int_equal(64 + le32_get(out + 446 + 12), (size / 2048 - gap) * 4);
		} else {
			assert_int_equal(rc, TSM_SA_REFUSED);
			assert_non_null(why);
			assert_non_null(strstr(why, "MBR partition 1"));
		}
		free(map);
		free(why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tail_accepted_is_laid_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
