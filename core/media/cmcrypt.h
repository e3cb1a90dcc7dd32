/* Configuration Manager's encrypted media file container: SMS/data/Variables.dat and
 * SMS/data/Policy.xml on every task sequence media Configuration Manager makes.
 *
 *   offset  size  field (little-endian)
 *   0       4     0xECED0000                    magic
 *   4       4     20                            (constant)
 *   8       4     P   plaintext bytes
 *   12      4     C   ciphertext bytes: a multiple of 16, C - P = PKCS#7 padding (1..16)
 *   16      4     ALG_ID: 0x660E CALG_AES_128 or 0x6610 CALG_AES_256
 *   20      4     0
 *   24      C     AES-CBC, zero IV
 *   24 + C  8     trailer (written as zeros; see cmcrypt.c)
 *
 * The key is Windows CryptDeriveKey(SHA-1) of the password as UTF-16LE without terminator.
 * The plaintext is UTF-16LE text; these functions take and give UTF-8 (converted with iconv),
 * so the XML writers and readers above work in UTF-8 with libxml2.
 *
 * Sources are cited in cmcrypt.c beside the code that relies on each fact.
 * Thread-safe: no shared state.  Keys are wiped before return; the caller owns (and should
 * wipe) the plaintext it gets back. */
#ifndef TSMEDIA_MEDIA_CMCRYPT_H
#define TSMEDIA_MEDIA_CMCRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TSM_CM_MAGIC 0xECED0000u
#define TSM_CM_HEADER_LEN 24u
#define TSM_CM_TRAILER_LEN 8u
#define TSM_CM_CALG_AES_128 0x660Eu
#define TSM_CM_CALG_AES_256 0x6610u

/* The password Variables.dat is encrypted under when the media has none. */
#define TSM_CM_NO_PASSWORD "{BAC6E688-DE21-4ABE-B7FB-C9F54E6DB664}"

/* Hostile-input limit: Configuration Manager's files are tens of KiB (a media certificate in
 * hex, a task sequence); 64 MiB bounds what a reader decrypts and converts. */
#define TSM_CM_MAX_FILE (64u << 20)

enum tsm_cm_cipher {
	TSM_CM_AES256 = 0, /* the default: Configuration Manager 2107 and later */
	TSM_CM_AES128,
};

/* "aes128"/"aes256" <-> cipher; parse returns -EINVAL (logged) for anything else. */
int tsm_cm_cipher_parse(const char *text, enum tsm_cm_cipher *cipher_ret);
const char *tsm_cm_cipher_name(enum tsm_cm_cipher cipher);

struct tsm_cm_header {
	uint32_t plain_len;  /* P */
	uint32_t cipher_len; /* C */
	uint32_t alg_id;
	enum tsm_cm_cipher cipher;
	size_t trailer_len;  /* bytes after the ciphertext */
};

/* Checks the 24-byte header against the file's @len: every field, C a multiple of 16,
 * 1 <= C - P <= 16, 24 + C <= len.  -EINVAL with a message naming @what and the field. */
int tsm_cm_header_parse(const uint8_t *data, size_t len, const char *what,
			struct tsm_cm_header *header_ret);

/* CryptDeriveKey(CALG_SHA1) of @password (UTF-8, converted to UTF-16LE): 16 or 32 bytes into
 * @key (room for 32).  -EINVAL when the password is not UTF-8. */
int tsm_cm_derive_key(const char *password, enum tsm_cm_cipher cipher, uint8_t key[32],
		      size_t *key_len_ret);

/* Encrypts UTF-8 @text (converted to UTF-16LE with a terminating NUL) into a whole file:
 * header, ciphertext, trailer.  malloc'ed into @out_ret. */
int tsm_cm_seal(const char *password, enum tsm_cm_cipher cipher, const char *text,
		uint8_t **out_ret, size_t *out_len_ret);

/* Decrypts a whole file read from @what and gives its text as UTF-8 (NUL-terminated, one
 * trailing UTF-16 NUL dropped).  Errors, each logged naming @what:
 *   -EINVAL   not this container (magic, header fields, lengths that lie about the file),
 *             or a plaintext that is not UTF-16LE text
 *   -EACCES   the password does not open it (bad padding or a length that does not match)
 *   -EFBIG    larger than TSM_CM_MAX_FILE */
int tsm_cm_open(const char *password, const uint8_t *data, size_t len, const char *what,
		char **text_ret, size_t *text_len_ret, enum tsm_cm_cipher *cipher_ret);

/* The decrypted bytes of a file read from @what (UTF-16LE) as UTF-8 text, NUL-terminated, the
 * trailing UTF-16 NULs dropped: what tsm_cm_open() gives after decrypting.  -EINVAL (logged)
 * when it is not UTF-16LE text or holds a NUL before its end.  The caller wipes the text. */
int tsm_cm_text_from_plain(const uint8_t *plain, size_t len, const char *what, char **text_ret,
			   size_t *text_len_ret);

/* True when @data starts with the container's magic (a quick test; open checks all). */
bool tsm_cm_is_container(const uint8_t *data, size_t len);

/* UTF-8 <-> UTF-16LE through iconv.  @terminate appends a UTF-16 NUL.  -EINVAL when the input
 * is not valid in its encoding. */
int tsm_cm_utf16le_from_utf8(const char *text, size_t len, bool terminate, uint8_t **out_ret,
			     size_t *out_len_ret);
int tsm_cm_utf8_from_utf16le(const uint8_t *data, size_t len, char **out_ret,
			     size_t *out_len_ret);

/* Frees after wiping (NULL is fine). */
void tsm_cm_free_secret(void *p, size_t len);

#endif
