/* Layer: util, below all (core/store/hash.c, core/util/hex.c). */
/* SHA-256 (names of chunks and blobs) and SHA-1 (WIM blob tables), through
 * OpenSSL's EVP interface, and hex encoding of digests. */
#ifndef TSMEDIA_HASH_H
#define TSMEDIA_HASH_H

#include <stddef.h>
#include <stdint.h>

#define TSM_SHA256_LEN 32
#define TSM_SHA1_LEN 20
#define TSM_SHA256_HEX_LEN (2 * TSM_SHA256_LEN)

/* One-shot SHA-256.  Returns 0 or -EIO when the library fails. */
int tsm_sha256(const void *data, size_t len, uint8_t out[TSM_SHA256_LEN]);
/* One-shot SHA-1 (a small file's WIM hash). */
int tsm_sha1(const void *data, size_t len, uint8_t out[TSM_SHA1_LEN]);

/* Incremental SHA-256 and SHA-1 of one stream (a file's content).
 * Not thread-safe; one owner. */
struct tsm_file_hasher;
int tsm_file_hasher_new(struct tsm_file_hasher **hasher_ret);
int tsm_file_hasher_update(struct tsm_file_hasher *hasher, const void *data, size_t len);
/* One digest only: two threads may feed the two digests of one hasher at
 * the same time (each in stream order). */
int tsm_file_hasher_update_sha256(struct tsm_file_hasher *hasher, const void *data, size_t len);
int tsm_file_hasher_update_sha1(struct tsm_file_hasher *hasher, const void *data, size_t len);
int tsm_file_hasher_final(struct tsm_file_hasher *hasher, uint8_t sha256[TSM_SHA256_LEN],
			  uint8_t sha1[TSM_SHA1_LEN]);
/* Starts a new stream (after final). */
int tsm_file_hasher_reset(struct tsm_file_hasher *hasher);
void tsm_file_hasher_free(struct tsm_file_hasher *hasher);

/* @out holds 2 * n + 1 bytes; lower-case hex, NUL-terminated. */
void tsm_hex_encode(const uint8_t *bin, size_t n, char *out);
/* Exactly 2 * n hex digits (either case).  0 or -EINVAL. */
int tsm_hex_decode(const char *hex, uint8_t *out, size_t n);

#endif
