/* Typed access to catalog rows for the layers above (import, media): no
 * sqlite types cross this header, and no SQL is written above it.  Each
 * function runs inside the caller's store session (read or write) unless
 * it says otherwise. */
#ifndef TSMEDIA_CATALOG_ROWS_H
#define TSMEDIA_CATALOG_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsmedia/hash.h"

struct tsm_store;

/* ---- blobs ----------------------------------------------------------- */

/* Looks blobs' SHA-1s up for a WIM layout with one prepared statement; its
 * read session begins at the first lookup and ends with the free. */
struct tsm_blob_sha1s;
int tsm_blob_sha1s_new(struct tsm_store *store, struct tsm_blob_sha1s **l_ret);
/* tsm_wim_options.blob_sha1: -ENOENT (reported) unless blob @blob_id is
 * there with @size bytes. */
int tsm_blob_sha1s_get(void *l, int64_t blob_id, uint64_t size, uint8_t sha1[TSM_SHA1_LEN]);
void tsm_blob_sha1s_free(struct tsm_blob_sha1s *l);
/* One blob's SHA-1 (-ENOENT, not reported, when there is no such blob). */
int tsm_blob_sha1(struct tsm_store *store, int64_t blob_id, uint8_t sha1[TSM_SHA1_LEN]);

#endif
