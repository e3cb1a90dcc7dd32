#include "tsmedia/hash.h"

#include <errno.h>
#include <stdlib.h>

#include <openssl/evp.h>

struct tsm_file_hasher {
	EVP_MD_CTX *sha256;
	EVP_MD_CTX *sha1;
};

int tsm_sha256(const void *data, size_t len, uint8_t out[TSM_SHA256_LEN])
{
	unsigned int n = 0;

	if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) || n != TSM_SHA256_LEN)
		return -EIO;
	return 0;
}

int tsm_sha1(const void *data, size_t len, uint8_t out[TSM_SHA1_LEN])
{
	unsigned int n = 0;

	if (!EVP_Digest(data, len, out, &n, EVP_sha1(), NULL) || n != TSM_SHA1_LEN)
		return -EIO;
	return 0;
}

int tsm_file_hasher_reset(struct tsm_file_hasher *hasher)
{
	if (!EVP_DigestInit_ex(hasher->sha256, EVP_sha256(), NULL) ||
	    !EVP_DigestInit_ex(hasher->sha1, EVP_sha1(), NULL))
		return -EIO;
	return 0;
}

int tsm_file_hasher_new(struct tsm_file_hasher **hasher_ret)
{
	struct tsm_file_hasher *hasher = calloc(1, sizeof(*hasher));

	if (!hasher)
		return -ENOMEM;
	hasher->sha256 = EVP_MD_CTX_new();
	hasher->sha1 = EVP_MD_CTX_new();
	if (!hasher->sha256 || !hasher->sha1 || tsm_file_hasher_reset(hasher) < 0) {
		tsm_file_hasher_free(hasher);
		return -ENOMEM;
	}
	*hasher_ret = hasher;
	return 0;
}

int tsm_file_hasher_update(struct tsm_file_hasher *hasher, const void *data, size_t len)
{
	if (!EVP_DigestUpdate(hasher->sha256, data, len) ||
	    !EVP_DigestUpdate(hasher->sha1, data, len))
		return -EIO;
	return 0;
}

int tsm_file_hasher_update_sha256(struct tsm_file_hasher *hasher, const void *data, size_t len)
{
	return EVP_DigestUpdate(hasher->sha256, data, len) ? 0 : -EIO;
}

int tsm_file_hasher_update_sha1(struct tsm_file_hasher *hasher, const void *data, size_t len)
{
	return EVP_DigestUpdate(hasher->sha1, data, len) ? 0 : -EIO;
}

int tsm_file_hasher_final(struct tsm_file_hasher *hasher, uint8_t sha256[TSM_SHA256_LEN],
			  uint8_t sha1[TSM_SHA1_LEN])
{
	unsigned int n256 = 0, n1 = 0;

	if (!EVP_DigestFinal_ex(hasher->sha256, sha256, &n256) ||
	    !EVP_DigestFinal_ex(hasher->sha1, sha1, &n1) ||
	    n256 != TSM_SHA256_LEN || n1 != TSM_SHA1_LEN)
		return -EIO;
	return 0;
}

void tsm_file_hasher_free(struct tsm_file_hasher *hasher)
{
	if (!hasher)
		return;
	EVP_MD_CTX_free(hasher->sha256);
	EVP_MD_CTX_free(hasher->sha1);
	free(hasher);
}
