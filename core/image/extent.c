/* Extent maps: building them and reading from them. */
#include "tsmedia/image.h"

#include <errno.h>
#include <stdbool.h>
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
		got = tsm_image_pread(s->u.image.image, source, out, n, s->u.image.offset + in_seg);
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

ssize_t tsm_image_pread(const struct tsm_image *image, const struct tsm_blob_source *source,
			void *buf, size_t len, uint64_t offset)
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
