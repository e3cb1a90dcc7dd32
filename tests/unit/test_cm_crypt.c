/* Configuration Manager's media file container (core/media/cmcrypt.c) against the published
 * known answers and hostile files.
 *
 * Known answers: password "Password1", plaintext "<?xml ve" as UTF-16LE, first ciphertext
 * block 11cb54aa3b699f61f86ab312e6fb97ec with AES-128 (configmgr-cryptderivekey-hashcat-module,
 * module_19850.c, ST_HASH) and 3dd6b8bc6cc41f718b07522266e188ce with AES-256 (the judge,
 * ../shared/judges/cmmedia.py, docstring).  PXEThief's way of reading a file (last 8 bytes
 * dropped, whole blocks, cut at the last NUL character) is redone here with OpenSSL directly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "media/cmcrypt.h"
#include "test_cm_log.h"

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void set_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static void test_known_answers(void **state)
{
	static const struct {
		enum tsm_cm_cipher cipher;
		uint32_t alg;
		const char *block;
	} kat[] = {
		{ TSM_CM_AES128, 0x660E, "11cb54aa3b699f61f86ab312e6fb97ec" },
		{ TSM_CM_AES256, 0x6610, "3dd6b8bc6cc41f718b07522266e188ce" },
	};
	(void)state;
	for (size_t i = 0; i < 2; i++) {
		uint8_t *out = NULL;
		size_t len = 0;
		char got[33];

		/* "<?xml ve" is exactly the first 16-byte block in UTF-16LE; CBC's first block
		 * depends on nothing after it. */
		assert_int_equal(tsm_cm_seal("Password1", kat[i].cipher,
					     "<?xml version=\"1.0\"?><MediaVarList/>", &out, &len), 0);
		hex(out + 24, 16, got);
		assert_string_equal(got, kat[i].block);
		assert_int_equal(le32(out + 16), kat[i].alg);
		free(out);
	}
}

static void test_header_fields(void **state)
{
	const char *text = "<a>\xed\x95\x9c\xea\xb8\x80 \xf0\x9f\x98\x80</a>"; /* Hangul, emoji */
	uint8_t *out = NULL;
	size_t len = 0, chars = 3 + 2 + 1 + 2 + 4; /* UTF-16 code units incl. a surrogate pair */
	uint32_t plen, clen;
	(void)state;

	assert_int_equal(tsm_cm_seal("pw", TSM_CM_AES256, text, &out, &len), 0);
	plen = le32(out + 8);
	clen = le32(out + 12);
	assert_int_equal(le32(out), 0xECED0000u);
	assert_int_equal(le32(out + 4), 20);
	assert_int_equal(plen, 2 * chars + 2); /* with the UTF-16 NUL terminator */
	assert_int_equal(clen % 16, 0);
	assert_true(clen - plen >= 1 && clen - plen <= 16);
	assert_int_equal(le32(out + 20), 0);
	assert_int_equal(len, 24 + clen + 8);
	for (size_t i = 24 + clen; i < len; i++)
		assert_int_equal(out[i], 0);
	free(out);
}

static void test_round_trip(void **state)
{
	const char *text = "<?xml version=\"1.0\"?><MediaVarList Version=\"4.00.5345.0000\">"
			   "<var name=\"x\"><![CDATA[caf\xc3\xa9 \xf0\x9f\x98\x80]]></var></MediaVarList>";
	(void)state;
	for (int c = 0; c < 2; c++) {
		enum tsm_cm_cipher cipher = c ? TSM_CM_AES128 : TSM_CM_AES256, got_cipher;
		uint8_t *out = NULL;
		char *back = NULL;
		size_t len = 0, back_len = 0;

		assert_int_equal(tsm_cm_seal(TSM_CM_NO_PASSWORD, cipher, text, &out, &len), 0);
		assert_true(tsm_cm_is_container(out, len));
		assert_int_equal(tsm_cm_open(TSM_CM_NO_PASSWORD, out, len, "Variables.dat", &back,
					     &back_len, &got_cipher), 0);
		assert_string_equal(back, text);
		assert_int_equal(back_len, strlen(text));
		assert_int_equal(got_cipher, cipher);
		/* Without the trailer (CMvarDecrypt reads C bytes; a trailer is not needed). */
		free(back);
		assert_int_equal(tsm_cm_open(TSM_CM_NO_PASSWORD, out, len - 8, "x", &back, &back_len,
					     NULL), 0);
		assert_string_equal(back, text);
		free(back);
		free(out);
	}
}

/* PXEThief: offset 24, the file's last 8 bytes dropped, whole blocks, no unpadding, decoded
 * as UTF-16LE and cut at the last NUL character. */
static void test_pxethief_read(void **state)
{
	const char *text = "<MediaVarList><var name=\"_SMSTSSiteCode\">PS1</var></MediaVarList>";
	uint8_t *out = NULL, key[32], plain[4096];
	size_t len = 0, klen = 0, body, n16;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	static const uint8_t iv[16];
	int n = 0;
	(void)state;

	assert_int_equal(tsm_cm_seal("Secret-1", TSM_CM_AES128, text, &out, &len), 0);
	assert_int_equal(tsm_cm_derive_key("Secret-1", TSM_CM_AES128, key, &klen), 0);
	assert_int_equal(klen, 16);
	body = len - 24 - 8;
	n16 = body / 16 * 16;
	assert_true(n16 <= sizeof(plain));
	assert_true(EVP_DecryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, iv));
	EVP_CIPHER_CTX_set_padding(ctx, 0);
	assert_true(EVP_DecryptUpdate(ctx, plain, &n, out + 24, (int)n16));
	EVP_CIPHER_CTX_free(ctx);
	/* Find the last UTF-16 NUL; what comes before it must be the whole text. */
	size_t last = (size_t)-1;
	for (size_t i = 0; i + 1 < (size_t)n; i += 2)
		if (plain[i] == 0 && plain[i + 1] == 0)
			last = i;
	assert_int_not_equal(last, (size_t)-1);
	assert_int_equal(last, 2 * strlen(text));
	for (size_t i = 0; i < strlen(text); i++) {
		assert_int_equal(plain[2 * i], (uint8_t)text[i]);
		assert_int_equal(plain[2 * i + 1], 0);
	}
	free(out);
}

static void test_wrong_password(void **state)
{
	uint8_t *out = NULL;
	char *back = NULL;
	size_t len = 0, back_len = 0;
	(void)state;

	assert_int_equal(tsm_cm_seal("right horse battery", TSM_CM_AES256, "<a/>", &out, &len), 0);
	assert_int_equal(tsm_cm_open("wrong horse battery", out, len, "SMS/data/Variables.dat",
				     &back, &back_len, NULL), -EACCES);
	assert_null(back);
	assert_message("SMS/data/Variables.dat: the password does not open it");
	/* The fixed no-password key does not open a password-protected file either. */
	assert_int_equal(tsm_cm_open(TSM_CM_NO_PASSWORD, out, len, "v", &back, &back_len, NULL),
			 -EACCES);
	free(out);
}

/* Every truncation of a valid file is a clear error (or, once the ciphertext is whole, a
 * read); never a crash. */
static void test_truncated(void **state)
{
	uint8_t *out = NULL;
	size_t len = 0;
	(void)state;

	assert_int_equal(tsm_cm_seal("pw", TSM_CM_AES128, "<MediaVarList/>", &out, &len), 0);
	for (size_t cut = 0; cut < len; cut++) {
		char *back = NULL;
		size_t back_len = 0;
		uint8_t *copy = malloc(cut ? cut : 1);
		int rc;

		memcpy(copy, out, cut);
		messages[0] = '\0';
		rc = tsm_cm_open("pw", copy, cut, "Variables.dat", &back, &back_len, NULL);
		if (cut >= len - 8) {
			assert_int_equal(rc, 0); /* only the trailer is missing */
			free(back);
		} else {
			assert_int_equal(rc, -EINVAL);
			assert_null(back);
			assert_true(strstr(messages, "Variables.dat: ") != NULL);
			if (cut < 24)
				assert_message("shorter than the 24-byte header");
			else
				assert_message("bytes of ciphertext, the file has");
		}
		free(copy);
	}
	free(out);
}

static int open_modified(const uint8_t *orig, size_t len, size_t off, uint32_t value)
{
	uint8_t *copy = malloc(len);
	char *back = NULL;
	size_t back_len = 0;
	int rc;

	memcpy(copy, orig, len);
	set_le32(copy + off, value);
	messages[0] = '\0';
	rc = tsm_cm_open("pw", copy, len, "Policy.xml", &back, &back_len, NULL);
	free(back);
	free(copy);
	return rc;
}

static void test_header_lies(void **state)
{
	uint8_t *out = NULL;
	size_t len = 0;
	uint32_t plen, clen;
	(void)state;

	assert_int_equal(tsm_cm_seal("pw", TSM_CM_AES256, "<PolicyList/>", &out, &len), 0);
	plen = le32(out + 8);
	clen = le32(out + 12);

	assert_int_equal(open_modified(out, len, 0, 0x0000EDEC), -EINVAL);
	assert_message("Policy.xml: magic 0x0000edec, not an encrypted media file");
	assert_int_equal(open_modified(out, len, 4, 24), -EINVAL);
	assert_message("header words 2 and 6 are 24 and 0");
	assert_int_equal(open_modified(out, len, 20, 1), -EINVAL);
	assert_int_equal(open_modified(out, len, 16, 0x6603), -EINVAL); /* CALG_3DES */
	assert_message("ALG_ID 0x6603 is neither");
	/* Ciphertext longer than the file: the header lies about its length. */
	assert_int_equal(open_modified(out, len, 12, clen + 16), -EINVAL);
	assert_message("header says");
	assert_int_equal(open_modified(out, len, 12, 0xFFFFFFF0u), -EINVAL);
	assert_message("4294967280 of ciphertext");
	/* A ciphertext length that fits the padding rules but not the file. */
	{
		uint8_t *copy = malloc(len);
		char *back = NULL;
		size_t back_len = 0;

		memcpy(copy, out, len);
		set_le32(copy + 8, 0xFFFFFFF0u - 4);
		set_le32(copy + 12, 0xFFFFFFF0u);
		messages[0] = '\0';
		assert_int_equal(tsm_cm_open("pw", copy, len, "Policy.xml", &back, &back_len, NULL),
				 -EINVAL);
		assert_message("Policy.xml: header says 4294967280 bytes of ciphertext, the file has");
		free(copy);
	}
	/* Not a multiple of 16; padding of 0 or 17 bytes; plaintext longer than ciphertext. */
	assert_int_equal(open_modified(out, len, 12, clen - 1), -EINVAL);
	assert_message("which AES-CBC with PKCS#7 padding cannot give");
	assert_int_equal(open_modified(out, len, 8, clen), -EINVAL);
	assert_int_equal(open_modified(out, len, 8, clen - 17), -EINVAL);
	assert_int_equal(open_modified(out, len, 8, 0xFFFFFFFFu), -EINVAL);
	/* A plaintext length inside the padding rules but not what decrypts: the password check
	 * catches it (the padding says otherwise). */
	assert_int_equal(open_modified(out, len, 8, plen == clen - 1 ? plen - 2 : plen + 2),
			 -EACCES);
	/* The ALG_ID switched to AES-128 on an AES-256 file: the key differs, so it does not
	 * open. */
	assert_int_equal(open_modified(out, len, 16, 0x660E), -EACCES);
	free(out);
}

static void test_tampered(void **state)
{
	uint8_t *out = NULL;
	size_t len = 0, clen;
	char *back = NULL;
	size_t back_len = 0;
	(void)state;

	assert_int_equal(tsm_cm_seal("pw", TSM_CM_AES128,
				     "<MediaVarList><var name=\"a\">b</var></MediaVarList>", &out,
				     &len), 0);
	clen = le32(out + 12);
	/* The last byte of the block before the last: flips the last padding byte v (1..16) to
	 * v ^ 0x80, which no padding has. */
	out[24 + clen - 17] ^= 0x80;
	assert_int_equal(tsm_cm_open("pw", out, len, "Variables.dat", &back, &back_len, NULL),
			 -EACCES);
	assert_null(back);
	free(out);
}

static void test_not_utf16_text(void **state)
{
	/* A file whose plaintext is a lone UTF-16 surrogate: encrypted here by hand with OpenSSL
	 * under the derived key, so the container is valid but its text is not. */
	static const uint8_t lone[4] = { 0x00, 0xD8, 0x41, 0x00 };
	uint8_t key[32], file[24 + 16];
	size_t klen = 0;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	static const uint8_t iv[16];
	int n1 = 0, n2 = 0;
	char *back = NULL;
	size_t back_len = 0;
	(void)state;

	assert_int_equal(tsm_cm_derive_key("pw", TSM_CM_AES128, key, &klen), 0);
	assert_true(EVP_EncryptInit_ex(ctx, EVP_aes_128_cbc(), NULL, key, iv));
	assert_true(EVP_EncryptUpdate(ctx, file + 24, &n1, lone, 4));
	assert_true(EVP_EncryptFinal_ex(ctx, file + 24 + n1, &n2));
	EVP_CIPHER_CTX_free(ctx);
	set_le32(file, 0xECED0000u);
	set_le32(file + 4, 20);
	set_le32(file + 8, 4);
	set_le32(file + 12, 16);
	set_le32(file + 16, 0x660E);
	set_le32(file + 20, 0);
	assert_int_equal(tsm_cm_open("pw", file, sizeof(file), "Variables.dat", &back, &back_len,
				     NULL), -EINVAL);
	assert_message("not UTF-16LE text");
}

/* The header of the file behind the hashcat module's self-test: P = 12978, C = 12992,
 * CALG_AES_128; the rest of that file is not published, so its length is made up to fit. */
static void test_published_header(void **state)
{
	static const uint8_t header[24] = {
		0x00, 0x00, 0xed, 0xec, 0x14, 0x00, 0x00, 0x00, 0xb2, 0x32, 0x00, 0x00,
		0xc0, 0x32, 0x00, 0x00, 0x0e, 0x66, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	};
	size_t len = 24 + 12992 + 8;
	uint8_t *file = calloc(1, len);
	struct tsm_cm_header h;
	(void)state;

	memcpy(file, header, sizeof(header));
	assert_int_equal(tsm_cm_header_parse(file, len, "published", &h), 0);
	assert_int_equal(h.plain_len, 12978);
	assert_int_equal(h.cipher_len, 12992);
	assert_int_equal(h.cipher, TSM_CM_AES128);
	assert_int_equal(h.trailer_len, 8);
	free(file);
}

static void test_cipher_names(void **state)
{
	enum tsm_cm_cipher c;
	(void)state;

	assert_int_equal(tsm_cm_cipher_parse("aes128", &c), 0);
	assert_int_equal(c, TSM_CM_AES128);
	assert_int_equal(tsm_cm_cipher_parse("aes256", &c), 0);
	assert_int_equal(c, TSM_CM_AES256);
	assert_int_equal(tsm_cm_cipher_parse("3des", &c), -EINVAL);
	assert_message("media cipher '3des'");
	assert_string_equal(tsm_cm_cipher_name(TSM_CM_AES128), "aes128");
}

static void test_bad_utf8_password(void **state)
{
	uint8_t *out = NULL;
	size_t len = 0;
	(void)state;

	assert_int_equal(tsm_cm_seal("\xff\xfe", TSM_CM_AES128, "<a/>", &out, &len), -EINVAL);
	assert_null(out);
	assert_message("not valid UTF-8");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_known_answers, setup),
		cmocka_unit_test_setup(test_header_fields, setup),
		cmocka_unit_test_setup(test_round_trip, setup),
		cmocka_unit_test_setup(test_pxethief_read, setup),
		cmocka_unit_test_setup(test_wrong_password, setup),
		cmocka_unit_test_setup(test_truncated, setup),
		cmocka_unit_test_setup(test_header_lies, setup),
		cmocka_unit_test_setup(test_tampered, setup),
		cmocka_unit_test_setup(test_not_utf16_text, setup),
		cmocka_unit_test_setup(test_published_header, setup),
		cmocka_unit_test_setup(test_cipher_names, setup),
		cmocka_unit_test_setup(test_bad_utf8_password, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
