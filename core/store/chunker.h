/* Content-defined chunking: FastCDC (Xia et al., USENIX ATC 2016) with a gear
 * rolling hash and normalized chunking (level 2: a harder mask before the
 * average size, an easier one after it).
 *
 * A cut point depends only on the 64 bytes before it, so inserting bytes
 * early in a file moves at most the chunks around the insertion.  The gear
 * table is derived from a fixed seed: the same bytes cut the same way on
 * every machine, forever (changing it changes every chunk name).
 *
 * The chunker is immutable after tsm_chunker_init(); share it freely. */
#ifndef TSMEDIA_CHUNKER_H
#define TSMEDIA_CHUNKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TSM_CHUNK_MIN (16u * 1024)
#define TSM_CHUNK_AVG (64u * 1024)
#define TSM_CHUNK_MAX (256u * 1024)

struct tsm_chunker {
	size_t min, avg, max;
	uint64_t mask_hard; /* before avg: more bits, fewer cuts */
	uint64_t mask_easy; /* after avg: fewer bits, more cuts */
	uint64_t gear[256];
};

/* @avg must be a power of two; min < avg < max. */
void tsm_chunker_init(struct tsm_chunker *chunker, size_t min, size_t avg, size_t max);

/* Length of the chunk that starts at @data, given @len bytes available.
 * Returns 0 when more data is needed to decide (only when !@at_eof and
 * @len < max); at end of input the last chunk is whatever remains. */
size_t tsm_chunker_cut(const struct tsm_chunker *chunker, const uint8_t *data, size_t len,
		       bool at_eof);

#endif
