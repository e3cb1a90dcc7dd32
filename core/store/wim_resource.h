/* Layer: store (core/store/).  A file's bytes read out of a WIM's resource,
 * from the WIM's own bytes: a byte range of an uncompressed resource, or
 * the chunks of a compressed one decompressed on read with wimlib's
 * decompression API.  This is how a boot image's boot files are served
 * from the stored boot.wim without a second copy of their bytes.
 *
 * The WIM's bytes are hostile: the resource must lie inside them, every
 * chunk table entry is checked against the resource before it is used, a
 * chunk never decompresses past the chunk size, and a failure is -EIO with
 * a message naming @what.  Memory: two chunk buffers (at most
 * TSM_WIM_RES_CHUNK_MAX each); the chunk table is read as needed, two
 * entries per chunk.  One thread per reader. */
#ifndef TSMEDIA_STORE_WIM_RESOURCE_H
#define TSMEDIA_STORE_WIM_RESOURCE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Compression formats, numbered as wimlib's enum wimlib_compression_type
 * and the solid resource header's format field. */
enum tsm_wim_format {
	TSM_WIM_FORMAT_NONE = 0,
	TSM_WIM_FORMAT_XPRESS = 1,
	TSM_WIM_FORMAT_LZX = 2,
	TSM_WIM_FORMAT_LZMS = 3,
};

/* Largest chunk read this way: LZX's largest (2 MiB); XPRESS's is 64 KiB.
 * A resource with larger chunks (an LZMS WIM written with a larger
 * --chunk-size) is not read this way. */
#define TSM_WIM_RES_CHUNK_MAX (2u << 20)

/* Where a resource lies in its WIM: the blob table entry's
 * RESHDR_DISK_SHORT (offset, size in the WIM, original size) and the WIM
 * header's compression format and chunk size. */
struct tsm_wim_res_desc {
	uint64_t offset;      /* of the resource in the WIM */
	uint64_t stored_size; /* its bytes in the WIM, chunk table included */
	uint64_t size;        /* its bytes once decompressed */
	enum tsm_wim_format format; /* TSM_WIM_FORMAT_NONE: stored as they are */
	uint32_t chunk_size;  /* 0 when uncompressed */
};

/* Reads exactly @len bytes of the WIM at @off (the caller checked they lie
 * inside it): 0 or a negative errno (after a message). */
typedef int (*tsm_wim_res_pread_fn)(void *ctx, void *buf, size_t len, uint64_t off);

struct tsm_wim_res;

/* Checks @d against the WIM's size @wim_size: -EINVAL with a message
 * naming @what when it cannot describe a resource of that WIM. */
int tsm_wim_res_check(const char *what, const struct tsm_wim_res_desc *d, uint64_t wim_size);
/* A reader of resource @d of a WIM of @wim_size bytes read through
 * @pread_fn; @what names the file in messages and must outlive the
 * reader. */
int tsm_wim_res_open(const char *what, const struct tsm_wim_res_desc *d, uint64_t wim_size,
		     tsm_wim_res_pread_fn pread_fn, void *ctx, struct tsm_wim_res **res_ret);
/* Up to @len decompressed bytes at @off: bytes read (short only at the
 * end), or a negative errno (-EIO: damaged). */
ssize_t tsm_wim_res_pread(struct tsm_wim_res *res, void *buf, size_t len, uint64_t off);
void tsm_wim_res_free(struct tsm_wim_res *res);

/* A resource read once from its start to its end, as an importer reads a
 * blob: its chunk table a stretch at a time, the stored bytes of many
 * chunks in one read, and the chunks decompressed at once on worker
 * threads (TSMEDIA_THREADS, util/workqueue.h), straight into the caller's
 * buffer; the same checks and messages as tsm_wim_res_pread().  One
 * calling thread; the read function is called on it only.  Memory: the
 * stored bytes of one read (at most its length) and one chunk. */
struct tsm_wim_res_stream;

int tsm_wim_res_stream_new(struct tsm_wim_res_stream **stream_ret);
/* Starts resource @d (the stream reads one resource at a time). */
int tsm_wim_res_stream_open(struct tsm_wim_res_stream *stream, const char *what,
			    const struct tsm_wim_res_desc *d, uint64_t wim_size,
			    tsm_wim_res_pread_fn pread_fn, void *ctx);
/* The next decompressed bytes of the resource, at most @len: bytes read,
 * 0 at its end, or a negative errno (reported).  A read function of
 * import/session.h (@ctx: the stream). */
ssize_t tsm_wim_res_stream_read(void *ctx, void *buf, size_t len);
void tsm_wim_res_stream_free(struct tsm_wim_res_stream *stream);

#endif
