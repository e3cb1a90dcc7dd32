/* libFuzzer harness: what a store on object storage reads from the bucket
 * (core/store/remote.c, core/store/s3.c).  The first byte picks the parser:
 * 0x01 catalog/CURRENT (a frontend's pointer to the published catalog),
 * 0x02 a frontend's lease (leases/ID, read by the writer's gc),
 * 0x04 a ListMultipartUploads answer (libxml2), as gc lists incomplete
 * uploads (keys must be under "site1/"),
 * 0x05 catalog/WRITER (the claim of the one writer on a prefix),
 * anything else: a ListObjectsV2 answer (libxml2), as gc and `frontends`
 * list the bucket. */
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "store/remote.h"
#include "store/s3.h"
#include "store/store_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count_upload(void *ctx, const char *key, const char *id, int64_t initiated)
{
	(void)initiated;
	*(size_t *)ctx += strlen(key) + strlen(id) + 1;
	return 0;
}

static int count_key(void *ctx, const char *key, uint64_t size, int64_t mtime)
{
	(void)size;
	(void)mtime;
	*(size_t *)ctx += strlen(key) + 1;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text;
	int ok = 0;

	fuzz_init("remote");
	if (size < 1)
		return 0;
	/* The readers get a NUL-terminated copy, as tsm_s3_get_small gives. */
	if (!(text = malloc(size)))
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = 0;
	if (data[0] == 0x01) {
		struct tsm_remote_current cur;

		ok = tsm_remote_current_parse(text, size - 1, &cur) == 0;
	} else if (data[0] == 0x02) {
		struct tsm_remote_lease lease;
		struct tsm_pinned pinned = { 0 };

		ok = tsm_remote_lease_parse(text, size - 1, &lease, &pinned) == 0;
		tsm_pinned_clear(&pinned);
	} else if (data[0] == 0x05) {
		struct tsm_remote_writer w;

		ok = tsm_remote_writer_parse(text, size - 1, &w) == 0;
	} else if (data[0] == 0x04) {
		size_t seen = 0;
		bool truncated;
		char *km = NULL, *im = NULL;

		ok = tsm_s3_uploads_parse(text, size - 1, "site1/", 6, count_upload, &seen, &truncated,
					  &km, &im) == 0;
		free(km);
		free(im);
	} else {
		size_t seen = 0;
		bool truncated;
		char *token = NULL;

		ok = tsm_s3_list_parse(text, size - 1, 0, count_key, &seen, &truncated, &token) == 0;
		free(token);
	}
	fuzz_expect_valid(ok, "a CURRENT pointer, lease, writer claim or bucket listing");
	free(text);
	return 0;
}
