/* libFuzzer harness: the readers of Configuration Manager's SMS/data files
 * (core/media/cmcrypt.c, cmbootstrap.c, cmvars.c, cmpolicy.c, cmpfx.c,
 * cmread.c), what `media inspect` reads from anyone's media and a booting
 * client reads from ours.  The first byte of the input chooses what the rest is:
 *   0x01  TsmBootstrap.ini
 *   0x02  Variables.dat of a media without a password (the fixed key), then
 *         its media certificate opened with its _SMSMediaGuid
 *   0x03  Variables.dat opened with the harness's password, the same after
 *   0x04  Policy.xml of a media without a password: its media GUID (36
 *         characters, the key) and the file
 *   0x05  Policy.xml opened with the harness's password
 *   0x06  the decrypted bytes of a Variables.dat (UTF-16LE): what 0x02 and
 *         0x03 read after the container, which a mutation of an encrypted
 *         file almost never reaches (the padding no longer checks)
 *   0x07  the decrypted bytes of a Policy.xml (UTF-16LE), then its task
 *         sequence masked as inspect shows it
 *   0x08  a media certificate: a media GUID (36 characters) and the PKCS#12
 *         (DER) whose hex is the value of _SMSTSMediaPFX, opened with the
 *         GUID's first 31 characters
 * Every reader must accept or refuse with a message; anything else (a crash,
 * a sanitizer report, a hang, a leak) is a finding. */
#include <openssl/err.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "media/cmbootstrap.h"
#include "media/cmcrypt.h"
#include "media/cmpfx.h"
#include "media/cmpolicy.h"
#include "media/cmread.h"
#include "media/cmvars.h"
#include "tsmedia/hash.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A media GUID without braces: the start of a 0x04 and a 0x08 input. */
#define GUID_LEN 36

/* The media certificate of @vars, as the client takes it (cmread.c does
 * the same for inspect): 0 when there is none or it opens. */
static int vars_certificate(const struct tsm_cm_vars *vars)
{
	const char *guid = tsm_cm_vars_get(vars, "_SMSMediaGuid");
	const char *pfx = tsm_cm_vars_get(vars, "_SMSTSMediaPFX");
	struct tsm_cm_pfx_info info;

	if (!pfx || !*pfx)
		return 0;
	if (!guid)
		return -1;
	return tsm_cm_pfx_describe(pfx, guid, "fuzz: _SMSTSMediaPFX", &info);
}

static int read_vars(const uint8_t *data, size_t size, const char *password)
{
	struct tsm_cm_vars vars = { 0 };
	int rc = tsm_cm_vars_open(data, size, password, "fuzz: Variables.dat", &vars, NULL);

	if (rc == 0)
		rc = vars_certificate(&vars);
	tsm_cm_vars_clear(&vars);
	return rc;
}

/* The task sequence of a policy, masked as inspect prints it. */
static int policy_sequence(const struct tsm_cm_policy_doc *doc)
{
	const struct tsm_cm_instance *ts = tsm_cm_policy_find(doc, "CCM_TaskSequence");
	const char *seq = ts ? tsm_cm_instance_get(ts, "TS_Sequence") : NULL;
	char *masked;

	if (!seq)
		return 0;
	if (tsm_cm_mask_sequence(seq, &masked) < 0)
		return -1;
	free(masked);
	return 0;
}

static int read_policy(const uint8_t *data, size_t size, const char *password)
{
	struct tsm_cm_policy_doc doc = { 0 };
	int rc = tsm_cm_policy_open(data, size, password, "fuzz: Policy.xml", &doc, NULL);

	if (rc == 0)
		rc = policy_sequence(&doc);
	tsm_cm_policy_doc_clear(&doc);
	return rc;
}

/* Decrypted bytes to text as tsm_cm_open() does, then @what's reader. */
static int read_plain(const uint8_t *data, size_t size, int policy)
{
	const char *what = policy ? "fuzz: Policy.xml (decrypted)" : "fuzz: Variables.dat (decrypted)";
	size_t len;
	char *text;
	int rc;

	if ((rc = tsm_cm_text_from_plain(data, size, what, &text, &len)) < 0)
		return rc;
	if (policy) {
		struct tsm_cm_policy_doc doc = { 0 };

		if ((rc = tsm_cm_policy_from_xml(text, len, what, &doc)) == 0)
			rc = policy_sequence(&doc);
		tsm_cm_policy_doc_clear(&doc);
	} else {
		struct tsm_cm_vars vars = { 0 };

		if ((rc = tsm_cm_vars_from_xml(text, len, what, &vars)) == 0)
			rc = vars_certificate(&vars);
		tsm_cm_vars_clear(&vars);
	}
	tsm_cm_free_secret(text, len);
	return rc;
}

/* The media GUID at the start of @data into @guid; -1 when too short. */
static int take_guid(const uint8_t **data, size_t *size, char guid[GUID_LEN + 1])
{
	if (*size < GUID_LEN)
		return -1;
	memcpy(guid, *data, GUID_LEN);
	guid[GUID_LEN] = '\0';
	if (memchr(guid, '\0', GUID_LEN))
		return -1;
	*data += GUID_LEN;
	*size -= GUID_LEN;
	return 0;
}

static int read_certificate(const uint8_t *data, size_t size)
{
	char guid[GUID_LEN + 1], *hex;
	struct tsm_cm_pfx_info info;
	int rc;

	if (take_guid(&data, &size, guid) < 0)
		return -1;
	if (!(hex = malloc(2 * size + 1)))
		abort();
	tsm_hex_encode(data, size, hex);
	rc = tsm_cm_pfx_describe(hex, guid, "fuzz: _SMSTSMediaPFX", &info);
	free(hex);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsm_cm_bootstrap boot;
	char guid[GUID_LEN + 1];
	const uint8_t *rest;
	size_t rest_len;
	int rc = -1;

	fuzz_init("cmdata");
	if (!size)
		return 0;
	switch (data[0]) {
	case 0x01:
		rc = tsm_cm_bootstrap_parse((const char *)data + 1, size - 1, "fuzz: TsmBootstrap.ini",
					    &boot);
		break;
	case 0x02:
		rc = read_vars(data + 1, size - 1, NULL);
		break;
	case 0x03:
		rc = read_vars(data + 1, size - 1, FUZZ_PASSWORD);
		break;
	case 0x04:
		rest = data + 1;
		rest_len = size - 1;
		if (take_guid(&rest, &rest_len, guid) == 0)
			rc = read_policy(rest, rest_len, guid);
		break;
	case 0x05:
		rc = read_policy(data + 1, size - 1, FUZZ_PASSWORD);
		break;
	case 0x06:
	case 0x07:
		rc = read_plain(data + 1, size - 1, data[0] == 0x07);
		break;
	case 0x08:
		rc = read_certificate(data + 1, size - 1);
		break;
	default:
		break;
	}
	fuzz_expect_valid(rc == 0, "the SMS/data reader its first byte names");
	/* OpenSSL's per-thread error queue must not carry over to the next input. */
	ERR_clear_error();
	return 0;
}
