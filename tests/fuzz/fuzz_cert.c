/* libFuzzer harness: certificates (core/media/cert.c, OpenSSL underneath).
 * Every input is tried three ways, as the commands read files: as a PKCS#12
 * file opened with the harness's password (`media create --certificate`,
 * `cert check`), as a root CA file, PEM or DER (`site add --root-ca`), and
 * as PEM text (what the catalog keeps and `site show` describes).  A PKCS#12
 * that loads is verified against the root CAs the input also yields, and
 * those are encoded as _SMSTSRootCACerts is (media create's checks). */
#include <openssl/err.h>
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "tsmedia/site.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsm_cert cert, p12 = { 0 };
	char **pems = NULL, why[256], *hex;
	size_t npems = 0;
	const char *path;
	char *text;
	int ok = 0;
	bool have_p12 = false;

	fuzz_init("cert");
	path = fuzz_write_file("input.cert", data, size);
	if (tsm_cert_load_pkcs12(path, FUZZ_PASSWORD, &p12) == 0) {
		have_p12 = true;
		ok = 1;
	}
	if (tsm_root_ca_read(path, &pems, &npems) == 0) {
		ok = 1;
		for (size_t i = 0; i < npems; i++)
			if (tsm_cert_from_pem(pems[i], "root CA", &cert) == 0)
				tsm_cert_clear(&cert);
		if (tsm_root_cas_der_hex(pems, npems, &hex) == 0)
			free(hex);
	}
	if (have_p12) {
		(void)tsm_cert_verify_roots(&p12, pems, npems, why, sizeof(why));
		tsm_cert_clear(&p12);
	}
	tsm_pem_list_free(pems, npems);
	fuzz_remove("input.cert");
	if (!(text = malloc(size + 1)))
		abort();
	memcpy(text, data, size);
	text[size] = 0;
	if (tsm_cert_from_pem(text, "fuzz input", &cert) == 0) {
		tsm_cert_clear(&cert);
		ok = 1;
	}
	free(text);
	fuzz_expect_valid(ok, "all three certificate readers");
	/* OpenSSL's per-thread error queue must not carry over to the next input. */
	ERR_clear_error();
	return 0;
}
