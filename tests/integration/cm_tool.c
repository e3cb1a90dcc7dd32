/* A test driver for core/media/cm*.c, so that cm_files.sh can hand what they write to the
 * judge (../shared/judges/cmmedia.py) and what the judge writes to them.
 *
 *   cm_tool vars-seal OUT --guid G [--password-file F] [--aes 128|256]
 *                         [--pfx FILE --pfx-password-file F] [--site S] [--mp URL | --location-mp URL ...] [NAME=VALUE ...]
 *   cm_tool vars-open FILE [--password-file F]            NAME=VALUE lines
 *   cm_tool policy-seal OUT --sequence FILE (--password-file F | --media-guid G) [--aes N]
 *                         [--package ID ...]
 *   cm_tool policy-open FILE (--password-file F | --media-guid G)
 *                                                         CLASS.PROPERTY=VALUE lines
 * Exit: 0 done, 1 failed (the library's message on stderr), 2 usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "media/cmpfx.h"
#include "media/cmpolicy.h"
#include "media/cmvars.h"
#include "tsmedia/site.h"

static int read_file(const char *path, uint8_t **data_ret, size_t *len_ret)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data = NULL;
	size_t len = 0, cap = 0, n;

	if (!f)
		return -errno;
	do {
		if (len == cap) {
			void *p = realloc(data, cap = cap ? 2 * cap : 65536);

			if (!p) {
				free(data);
				fclose(f);
				return -ENOMEM;
			}
			data = p;
		}
		n = fread(data + len, 1, cap - len, f);
		len += n;
	} while (n);
	fclose(f);
	*data_ret = data;
	*len_ret = len;
	return 0;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0)
		return -EIO;
	return 0;
}

static void usage(void)
{
	fputs("usage: cm_tool vars-seal|vars-open|policy-seal|policy-open ... (see cm_tool.c)\n",
	      stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	const char *cmd, *file, *guid = NULL, *pwfile = NULL, *pfx_path = NULL, *site = NULL;
	const char *pfx_pwfile = NULL;
	const char *mp = NULL, *seq_path = NULL, *mps[16], *extra[64];
	struct tsm_cm_policy_package pkgs[16];
	size_t nmps = 0, nextra = 0, npkgs = 0;
	enum tsm_cm_cipher cipher = TSM_CM_AES256;
	char *password = NULL;
	uint8_t *out = NULL, *data = NULL;
	size_t out_len = 0, len = 0;
	int rc = 0;

	if (argc < 3)
		usage();
	cmd = argv[1];
	file = argv[2];
	for (int i = 3; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--guid") == 0 || strcmp(a, "--media-guid") == 0)
			guid = v, i++;
		else if (strcmp(a, "--password-file") == 0)
			pwfile = v, i++;
		else if (strcmp(a, "--aes") == 0)
			cipher = v && strcmp(v, "128") == 0 ? TSM_CM_AES128 : TSM_CM_AES256, i++;
		else if (strcmp(a, "--pfx") == 0)
			pfx_path = v, i++;
		else if (strcmp(a, "--pfx-password-file") == 0)
			pfx_pwfile = v, i++;
		else if (strcmp(a, "--site") == 0)
			site = v, i++;
		else if (strcmp(a, "--mp") == 0)
			mp = v, i++;
		else if (strcmp(a, "--location-mp") == 0 && nmps < 16)
			mps[nmps++] = v, i++;
		else if (strcmp(a, "--sequence") == 0)
			seq_path = v, i++;
		else if (strcmp(a, "--package") == 0 && npkgs < 16)
			pkgs[npkgs++] = (struct tsm_cm_policy_package){ v, v, NULL }, i++;
		else if (a[0] != '-' && strchr(a, '=') && nextra < 64)
			extra[nextra++] = a;
		else
			usage();
		if (!v && a[0] == '-')
			usage();
	}
	if (pwfile && (rc = tsm_password_read(pwfile, &password)) < 0)
		return 1;

	if (strcmp(cmd, "vars-seal") == 0) {
		struct tsm_cm_media_vars in = { .media_guid = guid, .site_code = site, .mp = mp,
						.location_mps = mps, .nlocation_mps = nmps,
						.extra = extra, .nextra = nextra };
		struct tsm_cm_vars vars = { 0 };
		uint8_t *pfx = NULL;
		size_t pfx_len = 0;
		char *pfx_pw = NULL;

		/* The user's PKCS#12 re-encoded under the GUID's password, as render does. */
		if (pfx_path) {
			if (!guid || !pfx_pwfile || read_file(pfx_path, &data, &len) < 0 ||
			    tsm_password_read(pfx_pwfile, &pfx_pw) < 0 ||
			    tsm_cm_pfx_wrap(data, len, pfx_pw, guid, &pfx, &pfx_len) < 0)
				return 1;
			tsm_password_free(pfx_pw);
		}
		in.pfx = pfx;
		in.pfx_len = pfx_len;
		if ((rc = tsm_cm_vars_build(&in, &vars)) == 0 &&
		    (rc = tsm_cm_vars_seal(&vars, password, cipher, &out, &out_len)) == 0)
			rc = write_file(file, out, out_len);
		tsm_cm_vars_clear(&vars);
		OPENSSL_clear_free(pfx, pfx_len);
	} else if (strcmp(cmd, "vars-open") == 0) {
		struct tsm_cm_vars vars = { 0 };

		if ((rc = read_file(file, &data, &len)) < 0)
			return 1;
		if ((rc = tsm_cm_vars_open(data, len, password, file, &vars, &cipher)) == 0) {
			printf("#cipher=%s\n", tsm_cm_cipher_name(cipher));
			for (size_t i = 0; i < vars.n; i++)
				printf("%s=%s\n", vars.v[i].name, vars.v[i].value);
			if (tsm_cm_vars_get(&vars, "_SMSTSMediaPFX")) {
				struct tsm_cm_pfx_info info;

				if ((rc = tsm_cm_pfx_describe(tsm_cm_vars_get(&vars, "_SMSTSMediaPFX"),
							      tsm_cm_vars_get(&vars, "_SMSMediaGuid"),
							      file, &info)) == 0)
					printf("#pfx=%s key=%d sha1=%s\n", info.subject, info.has_key,
					       info.sha1);
			}
		}
		tsm_cm_vars_clear(&vars);
	} else if (strcmp(cmd, "policy-seal") == 0) {
		struct tsm_cm_media_policy in = { .site_code = "PS1", .adv_id = "PS120000",
						  .ts_id = "PS100020", .ts_name = "Test sequence",
						  .packages = pkgs, .npackages = npkgs };
		uint8_t *seq = NULL;
		size_t seq_len = 0;

		if (!seq_path || (!password && !guid) || (rc = read_file(seq_path, &seq, &seq_len)) < 0)
			usage();
		seq = realloc(seq, seq_len + 1);
		seq[seq_len] = '\0';
		in.sequence_xml = (const char *)seq;
		if ((rc = tsm_cm_policy_seal(&in, password ? password : guid, cipher, &out,
					     &out_len)) == 0)
			rc = write_file(file, out, out_len);
		free(seq);
	} else if (strcmp(cmd, "policy-open") == 0) {
		struct tsm_cm_policy_doc doc = { 0 };

		if ((!password && !guid) || (rc = read_file(file, &data, &len)) < 0)
			usage();
		if ((rc = tsm_cm_policy_open(data, len, password ? password : guid, file, &doc,
					     &cipher)) == 0) {
			for (size_t i = 0; i < doc.n; i++)
				for (size_t j = 0; j < doc.inst[i].nprops; j++)
					printf("%s.%s=%s\n", doc.inst[i].class_name,
					       doc.inst[i].props[j].name, doc.inst[i].props[j].value);
		}
		tsm_cm_policy_doc_clear(&doc);
	} else {
		usage();
	}
	free(data);
	free(out);
	tsm_password_free(password);
	return rc < 0 ? 1 : 0;
}
