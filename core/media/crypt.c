/* What a media password protects: AES-256-GCM, key from
 * PBKDF2-HMAC-SHA256(password, random salt, 600,000 iterations).  The
 * header is authenticated too, so a changed iteration count or salt is
 * caught like a changed byte of ciphertext.  The password is never kept. */
#include "media/media_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "tsmedia/log.h"

#define MAGIC_LEN 8
#define SALT_LEN 16
#define NONCE_LEN 12
#define TAG_LEN 16
#define HEADER_LEN (MAGIC_LEN + 4 + SALT_LEN + NONCE_LEN)

static int derive_key(const char *password, const uint8_t *salt, uint32_t iterations,
		      uint8_t key[32])
{
	if (!PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, SALT_LEN, (int)iterations,
			       EVP_sha256(), 32, key))
		return -EIO;
	return 0;
}

bool tsm_media_is_encrypted(const uint8_t *data, size_t len)
{
	return len >= HEADER_LEN + TAG_LEN && memcmp(data, TSM_ENC_MAGIC, MAGIC_LEN) == 0;
}

/* One AES-256-GCM pass: @encrypt, or decrypt and check @tag. */
static int gcm(bool encrypt, const uint8_t key[32], const uint8_t *nonce, const uint8_t *aad,
	       size_t aad_len, const uint8_t *in, size_t len, uint8_t *out, uint8_t *tag)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, NONCE_LEN, NULL) &&
	     EVP_CipherInit_ex(ctx, NULL, NULL, key, nonce, encrypt) &&
	     EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) &&
	     EVP_CipherUpdate(ctx, out, &n, in, (int)len) &&
	     (encrypt || EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN, tag));
	if (ok)
		ok = EVP_CipherFinal_ex(ctx, out + n, &n) == 1;
	if (!ok) {
		EVP_CIPHER_CTX_free(ctx);
		return encrypt ? -EIO : -EACCES;
	}
	if (encrypt && !EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag)) {
		EVP_CIPHER_CTX_free(ctx);
		return -EIO;
	}
	EVP_CIPHER_CTX_free(ctx);
	return 0;
}

int tsm_media_encrypt(const char *password, const uint8_t *plain, size_t len, uint8_t **out_ret,
		      size_t *out_len_ret)
{
	size_t total = HEADER_LEN + len + TAG_LEN;
	uint8_t *out = malloc(total), key[32];
	uint32_t iterations = TSM_ENC_ITERATIONS;
	int rc;

	if (!out)
		return -ENOMEM;
	memcpy(out, TSM_ENC_MAGIC, MAGIC_LEN);
	for (int i = 0; i < 4; i++)
		out[MAGIC_LEN + i] = (uint8_t)(iterations >> (8 * i));
	if (RAND_bytes(out + MAGIC_LEN + 4, SALT_LEN + NONCE_LEN) != 1) {
		free(out);
		return -EIO;
	}
	if ((rc = derive_key(password, out + MAGIC_LEN + 4, iterations, key)) < 0 ||
	    (rc = gcm(true, key, out + MAGIC_LEN + 4 + SALT_LEN, out, HEADER_LEN, plain, len,
		      out + HEADER_LEN, out + HEADER_LEN + len)) < 0) {
		OPENSSL_cleanse(key, sizeof(key));
		free(out);
		return rc;
	}
	OPENSSL_cleanse(key, sizeof(key));
	*out_ret = out;
	*out_len_ret = total;
	return 0;
}

int tsm_media_decrypt(const char *password, const uint8_t *in, size_t len, uint8_t **plain_ret,
		      size_t *plain_len_ret)
{
	uint32_t iterations = 0;
	uint8_t key[32], *plain;
	size_t plain_len;
	int rc;

	if (!tsm_media_is_encrypted(in, len))
		return -EINVAL;
	for (int i = 0; i < 4; i++)
		iterations |= (uint32_t)in[MAGIC_LEN + i] << (8 * i);
	/* A bounded cost: a hostile header cannot make us spin.  tsmedia has
	 * only ever written TSM_ENC_ITERATIONS; more is refused (-E2BIG). */
	if (iterations < 1000)
		return -EINVAL;
	if (iterations > TSM_ENC_ITERATIONS)
		return -E2BIG;
	plain_len = len - HEADER_LEN - TAG_LEN;
	if (!(plain = malloc(plain_len + 1)))
		return -ENOMEM;
	rc = derive_key(password, in + MAGIC_LEN + 4, iterations, key);
	if (rc == 0)
		rc = gcm(false, key, in + MAGIC_LEN + 4 + SALT_LEN, in, HEADER_LEN, in + HEADER_LEN,
			 plain_len, plain, (uint8_t *)(uintptr_t)(in + len - TAG_LEN));
	OPENSSL_cleanse(key, sizeof(key));
	if (rc < 0) {
		free(plain);
		return rc;
	}
	plain[plain_len] = '\0';
	*plain_ret = plain;
	*plain_len_ret = plain_len;
	return 0;
}
