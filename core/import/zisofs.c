/* zisofs version 1, as its tools document it (zisofs-tools' README and
 * mkzftree; libisofs doc/zisofs_format.txt):
 *
 *   file header, 16 bytes:  0 magic 37 E4 53 96 C9 DB D6 07
 *                           8 uncompressed size, LE32
 *                          12 header size / 4 (4)
 *                          13 log2 of the block size (15, 16 or 17)
 *                          14 two reserved bytes
 *   then nblocks + 1 block pointers, LE32 byte offsets from the start of
 *   the file (nblocks = size / block size, rounded up); block i is the
 *   zlib stream (RFC 1950) from pointer i to pointer i + 1; a block whose
 *   pointers are equal is all zeros.
 *
 * Rock Ridge names such a file with a ZF entry ("pz", the header size / 4,
 * log2 of the block size, the uncompressed size: RRIP as extended by the
 * zisofs tools), which is where @size and @block_log2 come from. */
#include "import/zisofs.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

#define HEADER 16u

static const uint8_t zisofs_magic[8] = { 0x37, 0xe4, 0x53, 0x96, 0xc9, 0xdb, 0xd6, 0x07 };

struct tsm_zisofs {
	const char *what;
	tsm_zisofs_pread_fn pread_fn;
	void *ctx;
	uint64_t size, pos;   /* decompressed: total, delivered */
	uint32_t bs;          /* block size */
	uint32_t nblocks;
	uint32_t *ptr;        /* nblocks + 1 */
	uint8_t *in, *out;    /* one compressed block, one decompressed */
	uint32_t out_len, out_pos, next_block;
};

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int bad(const struct tsm_zisofs *z, const char *why)
{
	tsm_error("%s: damaged zisofs data: %s", z->what, _(why));
	return -EINVAL;
}

void tsm_zisofs_free(struct tsm_zisofs *z)
{
	if (!z)
		return;
	free(z->ptr);
	free(z->in);
	free(z->out);
	free(z);
}

int tsm_zisofs_open(const char *what, tsm_zisofs_pread_fn pread_fn, void *ctx, uint64_t stored,
		    uint64_t size, unsigned block_log2, struct tsm_zisofs **z_ret)
{
	struct tsm_zisofs *z = calloc(1, sizeof(*z));
	uint8_t head[HEADER], *raw = NULL;
	uint64_t table;
	int rc;

	*z_ret = NULL;
	if (!z)
		return -ENOMEM;
	z->what = what;
	z->pread_fn = pread_fn;
	z->ctx = ctx;
	z->size = size;
	if (block_log2 < 15 || block_log2 > 17) {
		rc = bad(z, "its block size is not 32, 64 or 128 KiB");
		goto out_free;
	}
	z->bs = 1u << block_log2;
	if (size > UINT32_MAX) {
		rc = bad(z, "its size does not fit zisofs' 32 bits");
		goto out_free;
	}
	if (stored < HEADER) {
		rc = bad(z, "shorter than its header");
		goto out_free;
	}
	if ((rc = pread_fn(ctx, head, HEADER, 0)) < 0)
		goto out_free;
	if (memcmp(head, zisofs_magic, sizeof(zisofs_magic)) != 0) {
		rc = bad(z, "no zisofs header where Rock Ridge ZF says there is one");
		goto out_free;
	}
	if (le32(head + 8) != size || head[12] != HEADER / 4 || head[13] != block_log2) {
		rc = bad(z, "its header disagrees with its Rock Ridge ZF entry (size, header size"
			    " or block size)");
		goto out_free;
	}
	/* Both at most 2^32 / 2^15 + 1: the table is at most 512 KiB. */
	z->nblocks = (uint32_t)((size + z->bs - 1) >> block_log2);
	table = ((uint64_t)z->nblocks + 1) * 4;
	if (HEADER + table > stored) {
		rc = bad(z, "its block pointers run past its stored bytes");
		goto out_free;
	}
	if (!(raw = malloc((size_t)table)) ||
	    !(z->ptr = calloc((size_t)z->nblocks + 1, sizeof(*z->ptr))) ||
	    !(z->in = malloc(compressBound(z->bs))) || !(z->out = malloc(z->bs))) {
		rc = -ENOMEM;
		goto out_free;
	}
	if ((rc = pread_fn(ctx, raw, (size_t)table, HEADER)) < 0)
		goto out_free;
	for (uint32_t i = 0; i <= z->nblocks; i++) {
		z->ptr[i] = le32(raw + 4 * (size_t)i);
		if (i == 0 && z->ptr[0] < HEADER + table) {
			rc = bad(z, "its first block starts inside its header");
			goto out_free;
		}
		if (i && z->ptr[i] < z->ptr[i - 1]) {
			rc = bad(z, "its block pointers go backwards");
			goto out_free;
		}
		if (i && z->ptr[i] - z->ptr[i - 1] > compressBound(z->bs)) {
			rc = bad(z, "a compressed block is larger than zlib makes any");
			goto out_free;
		}
	}
	if (z->ptr[z->nblocks] > stored) {
		rc = bad(z, "a block pointer points past its stored bytes");
		goto out_free;
	}
	free(raw);
	*z_ret = z;
	return 0;
out_free:
	free(raw);
	tsm_zisofs_free(z);
	return rc;
}

/* Block @z->next_block into z->out. */
static int next_block(struct tsm_zisofs *z)
{
	uint32_t i = z->next_block, in_len = z->ptr[i + 1] - z->ptr[i];
	uint64_t left = z->size - (uint64_t)i * z->bs;
	uint32_t want = left < z->bs ? (uint32_t)left : z->bs;
	uLongf out_len = z->bs;
	int rc;

	if (in_len == 0) {
		memset(z->out, 0, want);
	} else {
		if ((rc = z->pread_fn(z->ctx, z->in, in_len, z->ptr[i])) < 0)
			return rc;
		rc = uncompress(z->out, &out_len, z->in, in_len);
		if (rc != Z_OK || out_len != want) {
			tsm_error("%s: damaged zisofs data: block %u %s", z->what, i,
				  rc == Z_OK ? _("inflates to the wrong size") :
				  rc == Z_BUF_ERROR ? _("inflates past the block size or is cut short") :
				  _("is not a zlib stream"));
			return -EINVAL;
		}
	}
	z->out_len = want;
	z->out_pos = 0;
	z->next_block++;
	return 0;
}

ssize_t tsm_zisofs_read(struct tsm_zisofs *z, void *out, size_t want)
{
	int rc;

	if (z->pos == z->size)
		return 0;
	if (z->out_pos == z->out_len && (rc = next_block(z)) < 0)
		return rc;
	if (want > z->out_len - z->out_pos)
		want = z->out_len - z->out_pos;
	memcpy(out, z->out + z->out_pos, want);
	z->out_pos += (uint32_t)want;
	z->pos += want;
	return (ssize_t)want;
}
