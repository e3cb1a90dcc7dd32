/* _SMSTSMediaPFX (core/media/cmpfx.c): a PKCS#12 re-encoded under the first 31 characters of
 * the media GUID, described back; certificates made here with OpenSSL directly, thumbprints
 * recomputed here with X509_digest. */
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
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "media/cmpfx.h"
#include "test_cm_log.h"

#define GUID "8AE6B618-77EC-46CB-B1B5-88F693E0B1C2"

static EVP_PKEY *key;
static X509 *cert;

static int group_setup(void **state)
{
	X509_NAME *name;
	(void)state;

	key = EVP_RSA_gen(2048);
	cert = X509_new();
	X509_set_version(cert, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(cert), 7);
	X509_gmtime_adj(X509_getm_notBefore(cert), 0);
	X509_gmtime_adj(X509_getm_notAfter(cert), 86400L * 30);
	X509_set_pubkey(cert, key);
	name = X509_get_subject_name(cert);
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Contoso", -1, -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"Media Test", -1, -1, 0);
	X509_set_issuer_name(cert, name);
	return X509_sign(cert, key, EVP_sha256()) > 0 && key ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	X509_free(cert);
	EVP_PKEY_free(key);
	return 0;
}

/* A PKCS#12 as a user brings it: OpenSSL 3's defaults (AES-256, PBKDF2). */
static size_t user_pfx(const char *pass, bool with_key, uint8_t **out)
{
	PKCS12 *p = PKCS12_create(pass, "media", with_key ? key : NULL, cert, NULL, 0, 0, 0, 0, 0);
	unsigned char *der = NULL;
	int n = i2d_PKCS12(p, &der);

	PKCS12_free(p);
	*out = der;
	return (size_t)n;
}

static char *to_hex(const uint8_t *p, size_t n)
{
	char *hex = malloc(2 * n + 1);
	size_t len = 0;

	assert_true(OPENSSL_buf2hexstr_ex(hex, 2 * n + 1, &len, p, n, '\0'));
	return hex;
}

static void test_wrap_and_describe(void **state)
{
	uint8_t *in = NULL, *out = NULL, md[20];
	size_t in_len = user_pfx("user secret", true, &in), out_len = 0;
	struct tsm_cm_pfx_info info;
	unsigned int mdlen = 0;
	char want[41], *hex;
	(void)state;

	assert_int_equal(tsm_cm_pfx_wrap(in, in_len, "user secret", GUID, &out, &out_len), 0);
	hex = to_hex(out, out_len);
	assert_int_equal(tsm_cm_pfx_describe(hex, GUID, "_SMSTSMediaPFX", &info), 0);
	assert_string_equal(info.subject, "CN=Media Test,O=Contoso");
	assert_string_equal(info.issuer, "CN=Media Test,O=Contoso");
	assert_true(info.has_key);
	assert_true(info.not_after - info.not_before == 86400L * 30);
	X509_digest(cert, EVP_sha1(), md, &mdlen);
	for (unsigned int i = 0; i < mdlen; i++)
		sprintf(want + 2 * i, "%02x", md[i]);
	assert_string_equal(info.sha1, want);

	/* The password is the first 31 characters: a GUID differing after them opens it too,
	 * one differing before does not. */
	assert_int_equal(tsm_cm_pfx_describe(hex, GUID "-more", "x", &info), 0);
	messages[0] = '\0';
	assert_int_equal(tsm_cm_pfx_describe(hex, "9AE6B618-77EC-46CB-B1B5-88F693E0B1C2", "x", &info),
			 -EACCES);
	assert_message("x: wrong password for this PKCS#12 file");
	free(hex);
	OPENSSL_free(out);
	OPENSSL_free(in);
}

static void test_refused(void **state)
{
	uint8_t *in = NULL, *out = NULL;
	size_t in_len = user_pfx("pw", false, &in), out_len = 0;
	struct tsm_cm_pfx_info info;
	(void)state;

	assert_int_equal(tsm_cm_pfx_wrap(in, in_len, "pw", GUID, &out, &out_len), -EINVAL);
	assert_message("the PKCS#12 holds no private key");
	OPENSSL_free(in);
	in_len = user_pfx("pw", true, &in);
	assert_int_equal(tsm_cm_pfx_wrap(in, in_len, "wrong", GUID, &out, &out_len), -EACCES);
	assert_int_equal(tsm_cm_pfx_wrap(in, in_len - 1, "pw", GUID, &out, &out_len), -EINVAL);
	assert_message("not a PKCS#12");
	assert_null(out);
	OPENSSL_free(in);
	assert_int_equal(tsm_cm_pfx_describe("30820AZZ", GUID, "Variables.dat", &info), -EINVAL);
	assert_message("Variables.dat: _SMSTSMediaPFX is not hex");
	assert_int_equal(tsm_cm_pfx_describe("3082", GUID, "Variables.dat", &info), -EINVAL);
}

/* A media anyone made may name more key-derivation iterations than any writer uses (2^31 keep
 * a CPU busy for minutes): described only after the counts are checked, as cert.c checks a
 * user's PKCS#12.  One over Windows' maximum (600,000, cert.c) is refused before it is spent. */
static void test_iterations_refused(void **state)
{
	char pass[32];
	PKCS12 *p;
	unsigned char *der = NULL;
	struct tsm_cm_pfx_info info;
	char *hex;
	int n;
	(void)state;

	snprintf(pass, sizeof(pass), "%.31s", GUID);
	p = PKCS12_create(pass, "media", key, cert, NULL, NID_pbe_WithSHA1And3_Key_TripleDES_CBC,
			  NID_pbe_WithSHA1And3_Key_TripleDES_CBC, 2048, 600001, 0);
	assert_non_null(p);
	n = i2d_PKCS12(p, &der);
	PKCS12_free(p);
	assert_true(n > 0);
	hex = to_hex(der, (size_t)n);
	assert_int_equal(tsm_cm_pfx_describe(hex, GUID, "Variables.dat", &info), -E2BIG);
	assert_message("Variables.dat: the integrity check (MAC) asks for 600001 key-derivation"
		       " iterations");
	free(hex);
	OPENSSL_free(der);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_wrap_and_describe, setup),
		cmocka_unit_test_setup(test_refused, setup),
		cmocka_unit_test_setup(test_iterations_refused, setup),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
