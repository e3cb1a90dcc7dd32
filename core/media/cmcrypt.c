/* Configuration Manager's media file container (see cmcrypt.h for the layout).
 *
 * Sources for the format, cited again beside the code that relies on each fact:
 *  [HC]  MWR-CyberSec/configmgr-cryptderivekey-hashcat-module, module_code/module_19850.c:
 *        the self-test "hash" is the first 40 bytes of a real file,
 *        0000edec 14000000 b2320000 c0320000 0e660000 00000000 | 11cb54aa...,
 *        i.e. magic 0xECED0000, 20, P = 12978, C = 12992, ALG_ID 0x660E, 0, then ciphertext;
 *        password "Password1"; AES-128 "not salted, not iterated".
 *  [PT]  MWR-CyberSec/PXEThief, media_variable_file_cryptography.py and pxethief.py: key =
 *        SHA-1(pw as UTF-16LE) xor 0x36 / 0x5C padded to 64 bytes, SHA-1 of each; AES-CBC with a
 *        zero IV; the file is read from offset 24 with its last 8 bytes dropped, rounded down
 *        to 16 bytes, decoded as UTF-16LE and cut at the last NUL character.
 *  [PU]  evildaemond/pxethiefup, media_variable_file_cryptography.py: ALG_ID 0x6610
 *        (CALG_AES_256, key = first 32 bytes of the two SHA-1s, hashcat mode 19851) beside
 *        0x660E (AES-128, mode 19850); "skip the last 8 bytes of the file footer".
 *  [CV]  1njected/CMvarDecrypt, CMvarDecrypt.cpp: header struct {u32 signature; 8 bytes;
 *        u32 encryptedsize; 8 bytes}, reads exactly encryptedsize bytes after the 24-byte
 *        header, CryptDecrypt(final = TRUE) (PKCS#5/7 padding); default password
 *        {BAC6E688-DE21-4ABE-B7FB-C9F54E6DB664}.
 *  [MS]  Microsoft, CryptDeriveKey remarks (learn.microsoft.com/windows/win32/api/wincrypt/
 *        nf-wincrypt-cryptderivekey#remarks): the 64-byte buffers of 0x36 / 0x5C xor'ed with the
 *        hash, hashed again, concatenated, key = the first bytes.
 *  [CC]  Microsoft, Cryptographic controls technical reference (Configuration Manager): starting
 *        in version 2107 the primary encryption algorithm is AES-256. */
#include "media/cmcrypt.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "tsmedia/log.h"

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

void tsm_cm_free_secret(void *p, size_t len)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

int tsm_cm_cipher_parse(const char *text, enum tsm_cm_cipher *cipher_ret)
{
	if (text && strcmp(text, "aes256") == 0)
		*cipher_ret = TSM_CM_AES256;
	else if (text && strcmp(text, "aes128") == 0)
		*cipher_ret = TSM_CM_AES128;
	else {
		tsm_error("media cipher '%s': want aes256 (Configuration Manager 2107 and later)"
			  " or aes128 (older sites)", text ? text : "");
		return -EINVAL;
	}
	return 0;
}

const char *tsm_cm_cipher_name(enum tsm_cm_cipher cipher)
{
	return cipher == TSM_CM_AES128 ? "aes128" : "aes256";
}

static size_t key_len(enum tsm_cm_cipher cipher)
{
	return cipher == TSM_CM_AES128 ? 16 : 32;
}

/* ALG_ID values: CALG_AES_128 = 0x660E, CALG_AES_256 = 0x6610 ([HC], [PU]). */
static uint32_t alg_id(enum tsm_cm_cipher cipher)
{
	return cipher == TSM_CM_AES128 ? TSM_CM_CALG_AES_128 : TSM_CM_CALG_AES_256;
}

static const EVP_CIPHER *evp_cipher(enum tsm_cm_cipher cipher)
{
	return cipher == TSM_CM_AES128 ? EVP_aes_128_cbc() : EVP_aes_256_cbc();
}

bool tsm_cm_is_container(const uint8_t *data, size_t len)
{
	return len >= 4 && get_le32(data) == TSM_CM_MAGIC;
}

int tsm_cm_header_parse(const uint8_t *data, size_t len, const char *what,
			struct tsm_cm_header *header_ret)
{
	uint32_t magic, twenty, plen, clen, alg, zero;

	if (len < TSM_CM_HEADER_LEN) {
		tsm_error("%s: %zu bytes, shorter than the 24-byte header of an encrypted media file",
			  what, len);
		return -EINVAL;
	}
	magic = get_le32(data);
	twenty = get_le32(data + 4);
	plen = get_le32(data + 8);
	clen = get_le32(data + 12);
	alg = get_le32(data + 16);
	zero = get_le32(data + 20);
	/* Words 0, 1 and 5 are constant in every file seen ([HC]'s header). */
	if (magic != TSM_CM_MAGIC) {
		tsm_error("%s: magic %#010x, not an encrypted media file (want %#010x)", what, magic,
			  TSM_CM_MAGIC);
		return -EINVAL;
	}
	if (twenty != 20 || zero != 0) {
		tsm_error("%s: header words 2 and 6 are %u and %u, want 20 and 0", what, twenty, zero);
		return -EINVAL;
	}
	if (alg == TSM_CM_CALG_AES_128)
		header_ret->cipher = TSM_CM_AES128;
	else if (alg == TSM_CM_CALG_AES_256)
		header_ret->cipher = TSM_CM_AES256;
	else {
		tsm_error("%s: ALG_ID %#x is neither CALG_AES_128 (0x660e) nor CALG_AES_256 (0x6610)",
			  what, alg);
		return -EINVAL;
	}
	/* CryptEncrypt(final = TRUE) pads with PKCS#5/7: always 1..16 bytes ([CV]). */
	if (clen % 16 || clen < plen || clen - plen < 1 || clen - plen > 16) {
		tsm_error("%s: header says %u bytes of plaintext and %u of ciphertext, which AES-CBC"
			  " with PKCS#7 padding cannot give", what, plen, clen);
		return -EINVAL;
	}
	if (clen > len - TSM_CM_HEADER_LEN) {
		tsm_error("%s: header says %u bytes of ciphertext, the file has %zu after the header",
			  what, clen, len - TSM_CM_HEADER_LEN);
		return -EINVAL;
	}
	header_ret->plain_len = plen;
	header_ret->cipher_len = clen;
	header_ret->alg_id = alg;
	header_ret->trailer_len = len - TSM_CM_HEADER_LEN - clen;
	return 0;
}

/* One conversion through iconv into a buffer of @out_cap bytes. */
static int convert(const char *to, const char *from, const void *in, size_t len, size_t out_cap,
		   size_t extra, uint8_t **out_ret, size_t *out_len_ret)
{
	iconv_t cd = iconv_open(to, from);
	char *inp = (char *)(uintptr_t)in, *outp;
	size_t inleft = len, outleft = out_cap, total;
	uint8_t *out;

	if (cd == (iconv_t)-1)
		return -errno;
	if (__builtin_add_overflow(out_cap, extra, &total) || !(out = malloc(total))) {
		iconv_close(cd);
		return -ENOMEM;
	}
	outp = (char *)out;
	if (iconv(cd, &inp, &inleft, &outp, &outleft) == (size_t)-1) {
		int err = errno;

		iconv_close(cd);
		tsm_cm_free_secret(out, total);
		return err == E2BIG ? -EOVERFLOW : -EINVAL;
	}
	iconv_close(cd);
	memset(outp, 0, extra);
	*out_ret = out;
	*out_len_ret = out_cap - outleft;
	return 0;
}

int tsm_cm_utf16le_from_utf8(const char *text, size_t len, bool terminate, uint8_t **out_ret,
			     size_t *out_len_ret)
{
	size_t cap;
	int rc;

	/* A UTF-8 byte gives at most two bytes of UTF-16 (4-byte sequences: a surrogate pair). */
	if (__builtin_mul_overflow(len, 2, &cap))
		return -EFBIG;
	if ((rc = convert("UTF-16LE", "UTF-8", text, len, cap, 2, out_ret, out_len_ret)) < 0)
		return rc;
	if (terminate)
		*out_len_ret += 2; /* convert() zeroed the two bytes after the text */
	return 0;
}

int tsm_cm_utf8_from_utf16le(const uint8_t *data, size_t len, char **out_ret, size_t *out_len_ret)
{
	size_t cap;

	if (len % 2)
		return -EINVAL;
	/* Two bytes of UTF-16 give at most three of UTF-8 (a surrogate pair: four for four). */
	if (__builtin_mul_overflow(len / 2, 3, &cap))
		return -EFBIG;
	return convert("UTF-8", "UTF-16LE", data, len, cap, 1, (uint8_t **)out_ret, out_len_ret);
}

int tsm_cm_derive_key(const char *password, enum tsm_cm_cipher cipher, uint8_t key[32],
		      size_t *key_len_ret)
{
	uint8_t *pw16 = NULL, h[EVP_MAX_MD_SIZE], buf[64], k[2][EVP_MAX_MD_SIZE];
	static const uint8_t pad[2] = { 0x36, 0x5C };
	size_t pw16_len = 0;
	unsigned int n = 0;
	int rc = 0;

	/* The password is hashed as UTF-16LE without its terminator ([PT]: password.encode(
	 * "utf-16-le"); [CV]: CryptHashData over lstrlenW(key) * sizeof(wchar_t) bytes). */
	if ((rc = tsm_cm_utf16le_from_utf8(password, strlen(password), false, &pw16, &pw16_len)) < 0) {
		tsm_error("the media password is not valid UTF-8 text");
		return rc;
	}
	if (!EVP_Digest(pw16, pw16_len, h, &n, EVP_sha1(), NULL) || n != 20) {
		rc = -EIO;
		goto out_wipe;
	}
	/* CryptDeriveKey ([MS]): 64 bytes of 0x36 (then 0x5C) xor'ed with the hash value, each
	 * hashed; the key is the first bytes of the two results concatenated ([PT], [PU]). */
	for (int i = 0; i < 2; i++) {
		memset(buf, pad[i], sizeof(buf));
		for (size_t j = 0; j < 20; j++)
			buf[j] ^= h[j];
		if (!EVP_Digest(buf, sizeof(buf), k[i], &n, EVP_sha1(), NULL) || n != 20) {
			rc = -EIO;
			goto out_wipe;
		}
	}
	memcpy(key, k[0], 20);
	memcpy(key + 20, k[1], 12);
	*key_len_ret = key_len(cipher);
out_wipe:
	OPENSSL_cleanse(h, sizeof(h));
	OPENSSL_cleanse(buf, sizeof(buf));
	OPENSSL_cleanse(k, sizeof(k));
	tsm_cm_free_secret(pw16, pw16_len + 2);
	return rc;
}

/* One AES-CBC pass with a zero IV ([PT], [CV]) and PKCS#7 padding (OpenSSL's default).
 * @out has room for len + 16.  Decrypt: -EACCES when the padding does not check. */
static int aes_cbc(bool encrypt, enum tsm_cm_cipher cipher, const uint8_t *key,
		   const uint8_t *in, size_t len, uint8_t *out, size_t *out_len_ret)
{
	static const uint8_t iv[16];
	EVP_CIPHER_CTX *ctx;
	int n1 = 0, n2 = 0, ok;

	if (len > TSM_CM_MAX_FILE)
		return -EFBIG;
	if (!(ctx = EVP_CIPHER_CTX_new()))
		return -ENOMEM;
	ok = EVP_CipherInit_ex(ctx, evp_cipher(cipher), NULL, key, iv, encrypt) &&
	     EVP_CipherUpdate(ctx, out, &n1, in, (int)len);
	if (!ok) {
		EVP_CIPHER_CTX_free(ctx);
		return -EIO;
	}
	ok = EVP_CipherFinal_ex(ctx, out + n1, &n2);
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		return encrypt ? -EIO : -EACCES;
	*out_len_ret = (size_t)n1 + (size_t)n2;
	return 0;
}

int tsm_cm_seal(const char *password, enum tsm_cm_cipher cipher, const char *text,
		uint8_t **out_ret, size_t *out_len_ret)
{
	uint8_t key[32], *plain = NULL, *out;
	size_t klen, plain_len = 0, total, clen = 0;
	int rc;

	/* The plaintext ends with a UTF-16 NUL: PXEThief ([PT]) cuts the decrypted text at its
	 * last NUL character, so without one it would keep the padding as text. */
	if ((rc = tsm_cm_utf16le_from_utf8(text, strlen(text), true, &plain, &plain_len)) < 0) {
		tsm_error("media file text is not valid UTF-8");
		return rc;
	}
	if (plain_len > TSM_CM_MAX_FILE - TSM_CM_HEADER_LEN - TSM_CM_TRAILER_LEN - 16) {
		tsm_error("media file text of %zu bytes is over the %u-byte limit", plain_len,
			  TSM_CM_MAX_FILE);
		tsm_cm_free_secret(plain, plain_len);
		return -EFBIG;
	}
	total = TSM_CM_HEADER_LEN + plain_len + 16 + TSM_CM_TRAILER_LEN;
	if (!(out = calloc(1, total))) {
		tsm_cm_free_secret(plain, plain_len);
		return -ENOMEM;
	}
	if ((rc = tsm_cm_derive_key(password, cipher, key, &klen)) < 0 ||
	    (rc = aes_cbc(true, cipher, key, plain, plain_len, out + TSM_CM_HEADER_LEN, &clen)) < 0) {
		OPENSSL_cleanse(key, sizeof(key));
		tsm_cm_free_secret(plain, plain_len);
		free(out);
		return rc;
	}
	OPENSSL_cleanse(key, sizeof(key));
	tsm_cm_free_secret(plain, plain_len);
	/* Header ([HC]): magic, 20, P, C, ALG_ID, 0. */
	put_le32(out, TSM_CM_MAGIC);
	put_le32(out + 4, 20);
	put_le32(out + 8, (uint32_t)plain_len);
	put_le32(out + 12, (uint32_t)clen);
	put_le32(out + 16, alg_id(cipher));
	put_le32(out + 20, 0);
	/* Eight bytes follow the ciphertext.  PXEThief ([PT]) and pxethiefup ([PU], "file footer")
	 * drop a file's last 8 bytes before decrypting, so without them they would lose the last
	 * block; CMvarDecrypt ([CV]) reads exactly C bytes and ignores them.  What Configuration
	 * Manager puts there is not public: zeros here.  (One published file, 24,248 bytes in
	 * Misconfiguration-Manager ELEVATE-5, is 24 + a multiple of 16, i.e. has no trailer; the
	 * readers above read it because its last block holds only NULs and padding.) */
	memset(out + TSM_CM_HEADER_LEN + clen, 0, TSM_CM_TRAILER_LEN);
	*out_ret = out;
	*out_len_ret = TSM_CM_HEADER_LEN + clen + TSM_CM_TRAILER_LEN;
	return 0;
}

int tsm_cm_text_from_plain(const uint8_t *plain, size_t len, const char *what, char **text_ret,
			   size_t *text_len_ret)
{
	size_t text_len = 0;
	char *text = NULL;
	int rc;

	if ((rc = tsm_cm_utf8_from_utf16le(plain, len, &text, &text_len)) < 0) {
		tsm_error("%s: the decrypted data is not UTF-16LE text", what);
		return rc;
	}
	/* Trailing NUL characters end the text ([PT] cuts at the last NUL). */
	while (text_len && text[text_len - 1] == '\0')
		text_len--;
	if (memchr(text, '\0', text_len)) {
		tsm_error("%s: the decrypted text holds a NUL character before its end", what);
		tsm_cm_free_secret(text, text_len);
		return -EINVAL;
	}
	text[text_len] = '\0';
	*text_ret = text;
	*text_len_ret = text_len;
	return 0;
}

int tsm_cm_open(const char *password, const uint8_t *data, size_t len, const char *what,
		char **text_ret, size_t *text_len_ret, enum tsm_cm_cipher *cipher_ret)
{
	struct tsm_cm_header h;
	uint8_t key[32], *plain;
	size_t klen, plain_len = 0, text_len = 0;
	char *text = NULL;
	int rc;

	if (len > TSM_CM_MAX_FILE) {
		tsm_error("%s: %zu bytes, over the %u-byte limit for an encrypted media file", what,
			  len, TSM_CM_MAX_FILE);
		return -EFBIG;
	}
	if ((rc = tsm_cm_header_parse(data, len, what, &h)) < 0)
		return rc;
	if (!(plain = malloc((size_t)h.cipher_len + 16)))
		return -ENOMEM;
	if ((rc = tsm_cm_derive_key(password, h.cipher, key, &klen)) < 0)
		goto out_free_plain;
	/* Exactly C bytes at offset 24, as CMvarDecrypt reads them ([CV]). */
	rc = aes_cbc(false, h.cipher, key, data + TSM_CM_HEADER_LEN, h.cipher_len, plain,
		     &plain_len);
	OPENSSL_cleanse(key, sizeof(key));
	if (rc == -EACCES || (rc == 0 && plain_len != h.plain_len)) {
		tsm_error("%s: the password does not open it (the decrypted %s data has bad padding"
			  " or a length other than the header's %u bytes)", what,
			  tsm_cm_cipher_name(h.cipher), h.plain_len);
		rc = -EACCES;
		goto out_free_plain;
	}
	if (rc < 0)
		goto out_free_plain;
	if ((rc = tsm_cm_text_from_plain(plain, plain_len, what, &text, &text_len)) < 0)
		goto out_free_plain;
	*text_ret = text;
	*text_len_ret = text_len;
	if (cipher_ret)
		*cipher_ret = h.cipher;
out_free_plain:
	tsm_cm_free_secret(plain, (size_t)h.cipher_len + 16);
	return rc;
}
