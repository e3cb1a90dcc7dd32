/* Blob bytes for the image reader, from the store. */
#include "store/store_internal.h"

#include <errno.h>
#include <stdlib.h>

#include "tsmedia/blob_source.h"

#define OPEN_READERS 16
/* Verify ahead: reads that start at most this far past where the last one
 * ended count as sequential (the mount's worker threads share a reader's
 * requests between them, so each thread sees every other one); a blob is
 * opened for checking ahead only for this much of it at least, and at
 * most this many blobs per read (the open readers stay useful). */
#define SEQ_GAP (4u << 20)
#define AHEAD_MIN (256u << 10)
#define AHEAD_OPENS (OPEN_READERS / 2)

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
	/* The stream last read and where that read ended. */
	const void *last_stream;
	uint64_t last_end;
	unsigned ahead_opens; /* readers opened for checking ahead in this read */
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

static bool store_source_sequential(void *ctx, const void *stream, uint64_t offset, size_t len)
{
	struct store_source *s = ctx;
	bool seq = stream == s->last_stream && offset <= s->last_end + SEQ_GAP &&
		   offset + len > s->last_end;

	s->last_stream = stream;
	s->last_end = offset + len;
	s->ahead_opens = 0;
	return seq;
}

static void store_source_ahead(void *ctx, int64_t blob_id, uint64_t offset, uint64_t len)
{
	struct store_source *s = ctx;
	struct tsm_blob_reader **r;
	bool open = false;
	int rc = 0;

	for (int i = 0; i < OPEN_READERS && !open; i++)
		open = s->open[i].reader && s->open[i].blob_id == blob_id;
	if (!open && (len < AHEAD_MIN || s->ahead_opens >= AHEAD_OPENS))
		return;
	s->ahead_opens += !open;
	if ((r = reader_for(s, blob_id, &rc)))
		tsm_blob_reader_ahead(*r, offset, len);
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
	s->source.sequential = store_source_sequential;
	s->source.ahead = store_source_ahead;
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
