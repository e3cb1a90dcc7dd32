/* Layer: import (core/import/).  Reading a zisofs-compressed file's bytes
 * back (Rock Ridge ZF, "xorriso -zisofs", "mkzftree"), with zlib.
 *
 * The stored bytes are hostile: the header, every block pointer and every
 * block are checked against the stored size, the block size and the size
 * the directory record (ZF) gave, before anything is decompressed; a block
 * never inflates past the block size.  One thread per stream. */
#ifndef TSMEDIA_IMPORT_ZISOFS_H
#define TSMEDIA_IMPORT_ZISOFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads @len stored bytes at @off (within the stored size): 0 or a
 * negative errno (after a message). */
typedef int (*tsm_zisofs_pread_fn)(void *ctx, void *buf, size_t len, uint64_t off);

struct tsm_zisofs;

/* @what names the file in messages ("FILE: 'path'").  @stored: the stored
 * (compressed) bytes; @size and @block_log2: what ZF said.  Reads and
 * checks the header and the block pointers. */
int tsm_zisofs_open(const char *what, tsm_zisofs_pread_fn pread_fn, void *ctx, uint64_t stored,
		    uint64_t size, unsigned block_log2, struct tsm_zisofs **z_ret);
/* Up to @want decompressed bytes; 0 at the end; a negative errno. */
ssize_t tsm_zisofs_read(struct tsm_zisofs *z, void *out, size_t want);
void tsm_zisofs_free(struct tsm_zisofs *z);

#endif
