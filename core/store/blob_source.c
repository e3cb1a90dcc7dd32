/* Blob bytes for the image reader, from the store. */
#include "store/store_internal.h"

#include <errno.h>
#include <stdlib.h>

#include "tsmedia/blob_source.h"

#define OPEN_READERS 8

/* Readers are kept by blob id: a blob id names one immutable blob for the
 * life of the store (blobs.id is AUTOINCREMENT since schema v2, so gc never
 * lets a new blob take a removed one's id), so the id is what identifies
 * the content.  Where a reader's chunks live may change (gc moves them): a
 * reader looks a chunk up again when its pack has gone. */

struct store_source {
	struct tsm_blob_source source; /* first: the public handle points here */
	struct tsm_store *store;
	struct {
		int64_t blob_id;
		struct tsm_blob_reader *reader;
		uint64_t last_use;
	} open[OPEN_READERS];
	uint64_t clock;
};

static struct tsm_blob_reader **reader_for(struct store_source *s, int64_t blob_id, int *rc)
{
	int victim = 0;

	s->clock++;
	for (int i = 0; i < OPEN_READERS; i++) {
		if (s->open[i].reader && s->open[i].blob_id == blob_id) {
			s->open[i].last_use = s->clock;
			return &s->open[i].reader;
		}
		if (s->open[i].last_use < s->open[victim].last_use)
			victim = i;
	}
	tsm_blob_reader_close(s->open[victim].reader);
	s->open[victim].reader = NULL;
	*rc = tsm_blob_reader_open(s->store, blob_id, &s->open[victim].reader);
	if (*rc < 0)
		return NULL;
	s->open[victim].blob_id = blob_id;
	s->open[victim].last_use = s->clock;
	return &s->open[victim].reader;
}

static ssize_t store_source_pread(void *ctx, int64_t blob_id, void *buf, size_t len,
				  uint64_t offset)
{
	struct store_source *s = ctx;
	int rc = 0;
	struct tsm_blob_reader **r = reader_for(s, blob_id, &rc);

	if (!r)
		return rc;
	return tsm_blob_reader_pread(*r, buf, len, offset);
}

static size_t store_source_map(void *ctx, int64_t blob_id, uint64_t offset, size_t len,
			       int *fd_ret, uint64_t *pos_ret)
{
	struct store_source *s = ctx;
	int rc = 0;
	struct tsm_blob_reader **r = reader_for(s, blob_id, &rc);

	return r ? tsm_blob_reader_map(*r, offset, len, fd_ret, pos_ret) : 0;
}

int tsm_store_blob_source_new(struct tsm_store *store, struct tsm_blob_source **source_ret)
{
	struct store_source *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->store = store;
	s->source.pread = store_source_pread;
	s->source.map = store_source_map;
	s->source.ctx = s;
	*source_ret = &s->source;
	return 0;
}

void tsm_store_blob_source_free(struct tsm_blob_source *source)
{
	struct store_source *s = (struct store_source *)source;

	if (!s)
		return;
	for (int i = 0; i < OPEN_READERS; i++)
		tsm_blob_reader_close(s->open[i].reader);
	free(s);
}
