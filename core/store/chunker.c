#include "store/chunker.h"

/* splitmix64: a fixed, well-mixed sequence for the gear table. */
static uint64_t splitmix64(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* @bits high-order bits set: with the gear hash shifting left, the top bits
 * are the ones that depend on the whole 64-byte window. */
static uint64_t top_bits_mask(unsigned bits)
{
	return bits >= 64 ? ~0ull : ~0ull << (64 - bits);
}

static unsigned log2_exact(size_t v)
{
	unsigned n = 0;

	while (v > 1) {
		v >>= 1;
		n++;
	}
	return n;
}

void tsm_chunker_init(struct tsm_chunker *chunker, size_t min, size_t avg, size_t max)
{
	uint64_t seed = 0x74736d6564696131ull; /* "tsmedia1" */
	unsigned bits = log2_exact(avg);

	chunker->min = min;
	chunker->avg = avg;
	chunker->max = max;
	chunker->mask_hard = top_bits_mask(bits + 2);
	chunker->mask_easy = top_bits_mask(bits - 2);
	for (int i = 0; i < 256; i++)
		chunker->gear[i] = splitmix64(&seed);
}

size_t tsm_chunker_cut(const struct tsm_chunker *chunker, const uint8_t *data, size_t len,
		       bool at_eof)
{
	size_t end, normal, i;
	uint64_t fp = 0;

	if (len <= chunker->min)
		return at_eof ? len : 0;
	end = len < chunker->max ? len : chunker->max;
	normal = chunker->avg < end ? chunker->avg : end;
	for (i = chunker->min; i < normal; i++) {
		fp = (fp << 1) + chunker->gear[data[i]];
		if (!(fp & chunker->mask_hard))
			return i + 1;
	}
	for (; i < end; i++) {
		fp = (fp << 1) + chunker->gear[data[i]];
		if (!(fp & chunker->mask_easy))
			return i + 1;
	}
	if (end == chunker->max)
		return end;
	return at_eof ? len : 0;
}
