/* libFuzzer harness: a Windows PE boot image (content add --kind
 * boot-image FILE.wim): the WIM's blob table looked up for the boot files
 * (core/import/wim_check.c, tsm_wim_find_resources), each boot file read
 * out of the WIM's bytes and its chunks decompressed
 * (core/store/wim_resource.c), then, when the import succeeded, every file
 * of the new version read back through the store as a mount reads it
 * (core/store/blob_reader.c over the stored WIM blob) and checked against
 * its SHA-256.  A failed import must leave the store unchanged. */
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "import/wim.h"
#include "tsmedia/content.h"
#include "tsmedia/hash.h"
#include "tsmedia/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every file of content @id read back; aborts when one does not read as
 * its SHA-256 says. */
static void read_back(struct tsm_store *store, const char *id)
{
	struct tsm_tree_entry *e;
	size_t n;
	static uint8_t buf[1 << 16];

	if (tsm_content_tree(store, id, 0, &e, &n) < 0)
		abort();
	for (size_t i = 0; i < n; i++) {
		struct tsm_blob_reader *r;
		struct tsm_file_hasher *h;
		uint8_t sha256[TSM_SHA256_LEN], sha1[TSM_SHA1_LEN];
		uint64_t off = 0;
		ssize_t got;

		if (e[i].type != TSM_ENTRY_FILE || !e[i].blob_id)
			continue;
		if (tsm_blob_reader_open(store, e[i].blob_id, &r) < 0 || tsm_file_hasher_new(&h) < 0) {
			fprintf(stderr, "fuzz: winpe: '%s' of an imported boot image does not open\n",
				e[i].path);
			abort();
		}
		while ((got = tsm_blob_reader_pread(r, buf, sizeof(buf), off)) > 0) {
			tsm_file_hasher_update(h, buf, (size_t)got);
			off += (uint64_t)got;
		}
		tsm_file_hasher_final(h, sha256, sha1);
		tsm_file_hasher_free(h);
		tsm_blob_reader_close(r);
		if (got < 0 || off != e[i].size || memcmp(sha256, e[i].sha256, TSM_SHA256_LEN) != 0) {
			fprintf(stderr, "fuzz: winpe: '%s' reads back otherwise than imported\n",
				e[i].path);
			abort();
		}
	}
	tsm_tree_entries_free(e, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_init("winpe");
	fuzz_import_then(tsm_import_wim, TSM_KIND_BOOT_IMAGE, "boot image import", "boot.wim", data,
			 size, read_back);
	return 0;
}
