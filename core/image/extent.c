/* Extent maps: building them and reading from them. */
#include "tsmedia/image.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tsmedia/log.h"

struct tsm_image {
	uint64_t size;
	struct tsm_segment *segs;
	size_t nsegs;
	uint8_t **meta_bufs; /* every META buffer, freed with the image */
	size_t nmeta;
	int refs;
};

struct tsm_image_builder {
	struct tsm_segment *segs;
	size_t nsegs, cap;
	uint8_t **meta_bufs;
	size_t nmeta, cap_meta;
};

uint64_t tsm_image_size(const struct tsm_image *image) { return image->size; }

const struct tsm_segment *tsm_image_segments(const struct tsm_image *image, size_t *n_ret)
{
	*n_ret = image->nsegs;
	return image->segs;
}

struct tsm_image *tsm_image_ref(struct tsm_image *image)
{
	__atomic_add_fetch(&image->refs, 1, __ATOMIC_RELAXED);
	return image;
}

static void segments_release(struct tsm_segment *segs, size_t n, uint8_t **meta, size_t nmeta)
{
	for (size_t i = 0; i < n; i++)
		if (segs[i].kind == TSM_SEGMENT_IMAGE)
			tsm_image_unref(segs[i].u.image.image);
	for (size_t i = 0; i < nmeta; i++)
		free(meta[i]);
	free(meta);
	free(segs);
}

void tsm_image_unref(struct tsm_image *image)
{
	if (!image || __atomic_sub_fetch(&image->refs, 1, __ATOMIC_ACQ_REL) > 0)
		return;
	segments_release(image->segs, image->nsegs, image->meta_bufs, image->nmeta);
	free(image);
}

/* ---- reading -------------------------------------------------------- */

static size_t segment_at(const struct tsm_image *image, uint64_t offset)
{
	size_t lo = 0, hi = image->nsegs;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (image->segs[mid].offset <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

static ssize_t image_pread_at(const struct tsm_image *image,
			      const struct tsm_blob_source *source, void *buf, size_t len,
			      uint64_t offset);

static ssize_t segment_read(const struct tsm_segment *s, const struct tsm_blob_source *source,
			    uint8_t *out, size_t n, uint64_t in_seg)
{
	ssize_t got;

	switch (s->kind) {
	case TSM_SEGMENT_ZERO:
		memset(out, 0, n);
		return (ssize_t)n;
	case TSM_SEGMENT_META:
		memcpy(out, s->u.meta + in_seg, n);
		return (ssize_t)n;
	case TSM_SEGMENT_IMAGE:
		got = image_pread_at(s->u.image.image, source, out, n, s->u.image.offset + in_seg);
		break;
	case TSM_SEGMENT_BLOB:
		got = source->pread(source->ctx, s->u.blob.id, out, n, s->u.blob.offset + in_seg);
		break;
	default:
		return -EINVAL;
	}
	if (got >= 0 && (size_t)got != n)
		return -EIO; /* the map promised bytes its source does not have */
	return got;
}

/* A sequential reader has this much after its read checked ahead. */
#define AHEAD_BYTES (8u << 20)

/* Names the blob bytes in [offset, offset + len) to the source. */
static void image_ahead(const struct tsm_image *image, const struct tsm_blob_source *source,
			uint64_t offset, uint64_t len)
{
	if (offset >= image->size)
		return;
	if (len > image->size - offset)
		len = image->size - offset;
	for (size_t i = segment_at(image, offset); i < image->nsegs && len; i++) {
		const struct tsm_segment *s = &image->segs[i];
		uint64_t in_seg = offset - s->offset;
		uint64_t n = s->length - in_seg < len ? s->length - in_seg : len;

		if (s->kind == TSM_SEGMENT_BLOB)
			source->ahead(source->ctx, s->u.blob.id, s->u.blob.offset + in_seg, n);
		else if (s->kind == TSM_SEGMENT_IMAGE)
			image_ahead(s->u.image.image, source, s->u.image.offset + in_seg, n);
		offset += n;
		len -= n;
	}
}

/* A read of @image starts: when the source finds it sequential, the
 * bytes of this read and those after it are named for checking ahead. */
static void image_read_starts(const struct tsm_image *image,
			      const struct tsm_blob_source *source, uint64_t offset, size_t len)
{
	if (source && source->sequential && source->ahead &&
	    source->sequential(source->ctx, image, offset, len))
		image_ahead(image, source, offset, (uint64_t)len + AHEAD_BYTES);
}

ssize_t tsm_image_pread(const struct tsm_image *image, const struct tsm_blob_source *source,
			void *buf, size_t len, uint64_t offset)
{
	image_read_starts(image, source, offset, len);
	return image_pread_at(image, source, buf, len, offset);
}

static ssize_t image_pread_at(const struct tsm_image *image,
			      const struct tsm_blob_source *source, void *buf, size_t len,
			      uint64_t offset)
{
	uint8_t *out = buf;
	size_t done = 0, i;

	if (offset >= image->size || len == 0)
		return 0;
	if (len > image->size - offset)
		len = (size_t)(image->size - offset);
	i = segment_at(image, offset);
	while (done < len) {
		const struct tsm_segment *s = &image->segs[i++];
		uint64_t in_seg = offset + done - s->offset;
		size_t n = (size_t)(s->length - in_seg < len - done ? s->length - in_seg : len - done);
		ssize_t got = segment_read(s, source, out + done, n, in_seg);

		if (got < 0)
			return got;
		done += n;
	}
	return (ssize_t)done;
}

/* ---- mapping ------------------------------------------------------- */

struct map_state {
	const struct tsm_blob_source *source;
	uint8_t *scratch;      /* the request's bytes that are read */
	struct tsm_piece *pieces;
	size_t max, n;
	size_t read_step;      /* bytes that do not map are read this many at a time */
};

static bool piece_push(struct map_state *m, const void *mem, int fd, uint64_t pos, size_t len)
{
	struct tsm_piece *last = m->n ? &m->pieces[m->n - 1] : NULL;

	/* Neighbours in memory or in the same file merge. */
	if (last && mem && last->mem && (const uint8_t *)last->mem + last->len == mem) {
		last->len += len;
		return true;
	}
	if (last && !mem && !last->mem && last->fd == fd && last->pos + last->len == pos) {
		last->len += len;
		return true;
	}
	if (m->n == m->max)
		return false;
	m->pieces[m->n++] = (struct tsm_piece){ .mem = mem, .fd = fd, .pos = pos, .len = len };
	return true;
}

static ssize_t map_range(const struct tsm_image *image, struct map_state *m, uint64_t offset,
			 size_t len, size_t done_before);

/* tsm_image_map_stepped reads blob bytes that do not map this many at a
 * time (a fraction of a chunk on average, tsm_store's chunker: 64 KiB),
 * then tries mapping again. */
#define MAP_READ_STEP (16u << 10)

/* Maps @n bytes of one BLOB segment; the request's byte @at is its first. */
static ssize_t map_blob(const struct tsm_segment *s, struct map_state *m, uint64_t in_seg,
			size_t n, size_t at)
{
	size_t done = 0;

	while (done < n) {
		int fd;
		uint64_t pos;
		size_t got = m->source->map ? m->source->map(m->source->ctx, s->u.blob.id,
							     s->u.blob.offset + in_seg + done,
							     n - done, &fd, &pos)
					    : 0;

		if (got > 0) {
			if (!piece_push(m, NULL, fd, pos, got))
				return (ssize_t)done;
		} else {
			/* Read what cannot be mapped, up to the rest of the segment's
			 * share or one step of it: the read checks the chunk it falls
			 * in, so the rest of that chunk maps, and so do the chunks
			 * after it that were checked ahead meanwhile. */
			size_t want = n - done < m->read_step ? n - done : m->read_step;
			ssize_t r = m->source->pread(m->source->ctx, s->u.blob.id, m->scratch + at + done,
						     want, s->u.blob.offset + in_seg + done);

			if (r < 0)
				return r;
			if ((size_t)r != want)
				return -EIO;
			if (!piece_push(m, m->scratch + at + done, -1, 0, want))
				return (ssize_t)done;
			got = want;
		}
		done += got;
	}
	return (ssize_t)done;
}

static ssize_t map_range(const struct tsm_image *image, struct map_state *m, uint64_t offset,
			 size_t len, size_t at)
{
	size_t done = 0, i;

	if (offset >= image->size || len == 0)
		return 0;
	if (len > image->size - offset)
		len = (size_t)(image->size - offset);
	i = segment_at(image, offset);
	while (done < len) {
		const struct tsm_segment *s = &image->segs[i++];
		uint64_t in_seg = offset + done - s->offset;
		size_t n = (size_t)(s->length - in_seg < len - done ? s->length - in_seg : len - done);
		ssize_t got;

		switch (s->kind) {
		case TSM_SEGMENT_ZERO:
			memset(m->scratch + at + done, 0, n);
			got = piece_push(m, m->scratch + at + done, -1, 0, n) ? (ssize_t)n : 0;
			break;
		case TSM_SEGMENT_META:
			got = piece_push(m, s->u.meta + in_seg, -1, 0, n) ? (ssize_t)n : 0;
			break;
		case TSM_SEGMENT_BLOB:
			got = map_blob(s, m, in_seg, n, at + done);
			break;
		case TSM_SEGMENT_IMAGE:
			got = map_range(s->u.image.image, m, s->u.image.offset + in_seg, n, at + done);
			break;
		default:
			return -EINVAL;
		}
		if (got < 0)
			return got;
		done += (size_t)got;
		if ((size_t)got < n)
			break; /* out of pieces */
	}
	return (ssize_t)done;
}

static ssize_t image_map(const struct tsm_image *image, const struct tsm_blob_source *source,
			 uint64_t offset, size_t len, uint8_t *scratch, struct tsm_piece *pieces,
			 size_t max, size_t *n_ret, size_t read_step)
{
	struct map_state m = { source, scratch, pieces, max, 0, read_step };
	ssize_t got;

	image_read_starts(image, source, offset, len);
	got = map_range(image, &m, offset, len, 0);

	*n_ret = m.n;
	return got;
}

ssize_t tsm_image_map(const struct tsm_image *image, const struct tsm_blob_source *source,
		      uint64_t offset, size_t len, uint8_t *scratch, struct tsm_piece *pieces,
		      size_t max, size_t *n_ret)
{
	return image_map(image, source, offset, len, scratch, pieces, max, n_ret, SIZE_MAX);
}

ssize_t tsm_image_map_stepped(const struct tsm_image *image, const struct tsm_blob_source *source,
			      uint64_t offset, size_t len, uint8_t *scratch,
			      struct tsm_piece *pieces, size_t max, size_t *n_ret)
{
	return image_map(image, source, offset, len, scratch, pieces, max, n_ret, MAP_READ_STEP);
}

/* ---- building ------------------------------------------------------- */

int tsm_image_builder_new(struct tsm_image_builder **builder_ret)
{
	*builder_ret = calloc(1, sizeof(**builder_ret));
	return *builder_ret ? 0 : -ENOMEM;
}

static struct tsm_segment *builder_push(struct tsm_image_builder *b)
{
	if (b->nsegs == b->cap) {
		size_t cap = b->cap ? 2 * b->cap : 64;
		void *p = realloc(b->segs, cap * sizeof(*b->segs));

		if (!p)
			return NULL;
		b->segs = p;
		b->cap = cap;
	}
	memset(&b->segs[b->nsegs], 0, sizeof(b->segs[0]));
	return &b->segs[b->nsegs++];
}

uint8_t *tsm_image_builder_meta(struct tsm_image_builder *b, uint64_t offset, size_t len)
{
	struct tsm_segment *s;
	uint8_t *buf;

	if (len == 0)
		return NULL;
	if (b->nmeta == b->cap_meta) {
		size_t cap = b->cap_meta ? 2 * b->cap_meta : 64;
		void *p = realloc(b->meta_bufs, cap * sizeof(*b->meta_bufs));

		if (!p)
			return NULL;
		b->meta_bufs = p;
		b->cap_meta = cap;
	}
	if (!(buf = calloc(1, len)))
		return NULL;
	if (!(s = builder_push(b))) {
		free(buf);
		return NULL;
	}
	b->meta_bufs[b->nmeta++] = buf;
	s->offset = offset;
	s->length = len;
	s->kind = TSM_SEGMENT_META;
	s->u.meta = buf;
	return buf;
}

int tsm_image_builder_blob(struct tsm_image_builder *b, uint64_t offset, uint64_t length,
			   int64_t blob_id, uint64_t blob_offset)
{
	struct tsm_segment *s;

	if (length == 0)
		return 0;
	if (!(s = builder_push(b)))
		return -ENOMEM;
	s->offset = offset;
	s->length = length;
	s->kind = TSM_SEGMENT_BLOB;
	s->u.blob.id = blob_id;
	s->u.blob.offset = blob_offset;
	return 0;
}

int tsm_image_builder_image(struct tsm_image_builder *b, uint64_t offset, uint64_t length,
			    struct tsm_image *child, uint64_t child_offset)
{
	struct tsm_segment *s;

	if (length == 0)
		return 0;
	if (child_offset > child->size || length > child->size - child_offset) {
		tsm_error("image layout: a nested image of %llu bytes cannot give %llu bytes at %llu",
			  (unsigned long long)child->size, (unsigned long long)length,
			  (unsigned long long)child_offset);
		return -EINVAL;
	}
	if (!(s = builder_push(b)))
		return -ENOMEM;
	s->offset = offset;
	s->length = length;
	s->kind = TSM_SEGMENT_IMAGE;
	s->u.image.image = tsm_image_ref(child);
	s->u.image.offset = child_offset;
	return 0;
}

static int segment_cmp(const void *a, const void *b)
{
	const struct tsm_segment *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* Sorted segments plus ZERO for every gap. */
static int builder_fill_gaps(struct tsm_image_builder *b, uint64_t size,
			     struct tsm_segment **out_ret, size_t *n_ret)
{
	struct tsm_segment *out = malloc((2 * b->nsegs + 1) * sizeof(*out));
	uint64_t pos = 0;
	size_t n = 0;

	if (!out)
		return -ENOMEM;
	qsort(b->segs, b->nsegs, sizeof(*b->segs), segment_cmp);
	for (size_t i = 0; i < b->nsegs; i++) {
		const struct tsm_segment *s = &b->segs[i];

		if (s->offset < pos || s->offset + s->length > size ||
		    s->offset + s->length < s->offset) {
			tsm_error("image layout: segment at %llu (+%llu) overlaps another or ends past"
				  " the image's %llu bytes", (unsigned long long)s->offset,
				  (unsigned long long)s->length, (unsigned long long)size);
			free(out);
			return -EINVAL;
		}
		if (s->offset > pos)
			out[n++] = (struct tsm_segment){ .offset = pos, .length = s->offset - pos,
							 .kind = TSM_SEGMENT_ZERO };
		out[n++] = *s;
		pos = s->offset + s->length;
	}
	if (pos < size)
		out[n++] = (struct tsm_segment){ .offset = pos, .length = size - pos,
						 .kind = TSM_SEGMENT_ZERO };
	*out_ret = out;
	*n_ret = n;
	return 0;
}

int tsm_image_builder_finish(struct tsm_image_builder *b, uint64_t size,
			     struct tsm_image **image_ret)
{
	struct tsm_image *image = calloc(1, sizeof(*image));
	int rc;

	if (!image) {
		tsm_image_builder_free(b);
		return -ENOMEM;
	}
	rc = builder_fill_gaps(b, size, &image->segs, &image->nsegs);
	if (rc < 0) {
		free(image);
		tsm_image_builder_free(b);
		return rc;
	}
	image->size = size;
	image->refs = 1;
	image->meta_bufs = b->meta_bufs;
	image->nmeta = b->nmeta;
	free(b->segs); /* the segments were copied; the references moved with them */
	free(b);
	*image_ret = image;
	return 0;
}

void tsm_image_builder_free(struct tsm_image_builder *b)
{
	if (!b)
		return;
	segments_release(b->segs, b->nsegs, b->meta_bufs, b->nmeta);
	free(b);
}
