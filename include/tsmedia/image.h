/* Layer: image (core/image/): extent maps and their reader; no catalog. */
/* Virtual images as extent maps, and the one reader that serves them.
 *
 * A format writer (ISO 9660, FAT disk image, WIM) lays a volume out as an
 * extent map: sorted, non-overlapping segments covering [0, size), each
 *   ZERO   padding,
 *   META   bytes the writer generated (descriptors, directories, tables),
 *   BLOB   a range of a blob in the store,
 *   IMAGE  a range of another image (a virtual install.wim inside a
 *          virtual ISO), read through it without copying.
 * The reader finds a segment by binary search and copies from it; the FUSE
 * daemon and `export` share it, so what is mounted is what is exported.
 *
 * Ownership: an image is reference-counted; tsm_image_unref() frees it at
 * zero.  A finished image is immutable and may be read from many threads
 * at once (the blob source decides its own thread-safety). */
#ifndef TSMEDIA_IMAGE_H
#define TSMEDIA_IMAGE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tsmedia/blob_source.h" /* where BLOB segments read from */

struct tsm_image;

/* A piece of a read: bytes in memory, or a file range (zero-copy). */
struct tsm_piece {
	const void *mem; /* NULL: the bytes are at @pos in @fd */
	int fd;
	uint64_t pos;
	size_t len;
};

enum tsm_segment_kind {
	TSM_SEGMENT_ZERO,
	TSM_SEGMENT_META,
	TSM_SEGMENT_BLOB,
	TSM_SEGMENT_IMAGE,
};

struct tsm_segment {
	uint64_t offset; /* in the image */
	uint64_t length;
	enum tsm_segment_kind kind;
	union {
		const uint8_t *meta; /* owned by the image */
		struct {
			int64_t id;
			uint64_t offset;
		} blob;
		struct {
			struct tsm_image *image; /* a reference held by this image */
			uint64_t offset;
		} image;
	} u;
};

uint64_t tsm_image_size(const struct tsm_image *image);
const struct tsm_segment *tsm_image_segments(const struct tsm_image *image, size_t *n_ret);
struct tsm_image *tsm_image_ref(struct tsm_image *image);
void tsm_image_unref(struct tsm_image *image);

/* Reads up to @len bytes at @offset: bytes read (short only at the end) or
 * a negative errno from the blob source. */
ssize_t tsm_image_pread(const struct tsm_image *image, const struct tsm_blob_source *source,
			void *buf, size_t len, uint64_t offset);

/* Like tsm_image_pread, but describes the bytes as pieces instead of
 * copying them where it can: file ranges for checked raw chunks, pointers
 * into the image for META.  Bytes that must be read go to @scratch (@len
 * bytes; piece memory may point into it).  Fills at most @max pieces and
 * returns the bytes described (short when pieces ran out or at the end),
 * or a negative errno. */
ssize_t tsm_image_map(const struct tsm_image *image, const struct tsm_blob_source *source,
		      uint64_t offset, size_t len, uint8_t *scratch, struct tsm_piece *pieces,
		      size_t max, size_t *n_ret);
/* Like tsm_image_map, but bytes that do not map are read a little at a
 * time, mapping being tried again after each read: the rest of a chunk the
 * read has just checked, and the chunks checked ahead after it, come as
 * file ranges instead of being read too.  More pieces per request: for a
 * caller that writes them out as they come (an export). */
ssize_t tsm_image_map_stepped(const struct tsm_image *image, const struct tsm_blob_source *source,
			      uint64_t offset, size_t len, uint8_t *scratch,
			      struct tsm_piece *pieces, size_t max, size_t *n_ret);

/* Building an image.  Segments may be added in any order; ranges not
 * covered are zero.  Overlapping ranges are a writer bug: finish fails. */
struct tsm_image_builder;
int tsm_image_builder_new(struct tsm_image_builder **builder_ret);
/* A zeroed buffer of @len bytes that become the image's bytes at @offset;
 * valid until finish or free.  NULL when out of memory. */
uint8_t *tsm_image_builder_meta(struct tsm_image_builder *b, uint64_t offset, size_t len);
int tsm_image_builder_blob(struct tsm_image_builder *b, uint64_t offset, uint64_t length,
			   int64_t blob_id, uint64_t blob_offset);
/* Takes a new reference to @child. */
int tsm_image_builder_image(struct tsm_image_builder *b, uint64_t offset, uint64_t length,
			    struct tsm_image *child, uint64_t child_offset);
/* Frees the builder whatever happens. */
int tsm_image_builder_finish(struct tsm_image_builder *b, uint64_t size,
			     struct tsm_image **image_ret);
void tsm_image_builder_free(struct tsm_image_builder *b);

#endif
