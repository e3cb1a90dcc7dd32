/* Layer: store (core/store/blob_source.c); the image reader reads through it. */
/* The interface BLOB bytes are read through.  It is the store's, the layer
 * that provides the bytes, so the store implements it without knowing of
 * images (tsm_store_blob_source_new(), tsmedia/store.h); tests and other
 * sources may implement it too.  Thread-safety is the implementation's. */
#ifndef TSMEDIA_BLOB_SOURCE_H
#define TSMEDIA_BLOB_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Where BLOB bytes come from: returns bytes read (short only at the blob's
 * end) or a negative errno. */
struct tsm_blob_source {
	ssize_t (*pread)(void *ctx, int64_t blob_id, void *buf, size_t len, uint64_t offset);
	/* Optional: where the first bytes of [offset, offset + len) of a blob
	 * lie, already checked, in a file (a pack): sets *fd_ret and *pos_ret
	 * and returns how many bytes are there (> 0), or 0 when they must be
	 * read (compressed, or not yet checked).  The fd stays valid until the
	 * source is next used. */
	size_t (*map)(void *ctx, int64_t blob_id, uint64_t offset, size_t len, int *fd_ret,
		      uint64_t *pos_ret);
	/* Optional, both or neither: verify ahead.  @sequential is told of
	 * each read of a stream (an image) by its reader and says whether the
	 * reads move forward through it; the image's reader then names with
	 * @ahead the blob bytes that come next, which the source may have
	 * checked on other threads meanwhile (tsm_image_pread/map). */
	bool (*sequential)(void *ctx, const void *stream, uint64_t offset, size_t len);
	void (*ahead)(void *ctx, int64_t blob_id, uint64_t offset, uint64_t len);
	void *ctx;
};

#endif
