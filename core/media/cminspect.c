/* `media inspect`'s view of Configuration Manager's SMS/data files (tsmedia/inspect.h): what
 * cmread.c reads, with secrets masked unless asked for. */
#include "tsmedia/inspect.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wimlib.h>

#include "import/wim_check.h"
#include "media/cmread.h"
#include "media/media_internal.h"
#include "tsmedia/log.h"
#include "tsmedia/media.h"
#include "tsmedia/store.h"

#define MASK "********"

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int tsm_inspect_sms_data(const char *bootstrap, size_t bootstrap_len, const uint8_t *vars,
			 size_t vars_len, const uint8_t *policy, size_t policy_len,
			 const char *password, bool show_secrets, const char *where,
			 struct tsm_inspect_result *r)
{
	struct tsm_cm_media_view v;
	int rc;

	if ((rc = tsm_cm_media_open(bootstrap, bootstrap_len, vars, vars_len, policy, policy_len,
				    password, where, &v)) < 0)
		return rc;
	snprintf(r->media_type, sizeof(r->media_type), "%s", v.bootstrap.media_type);
	r->password_required = v.bootstrap.password_required;
	r->unattended = v.bootstrap.unattended;
	r->cipher = tsm_cm_cipher_name(v.vars_cipher);
	rc = -ENOMEM;
	if (!(r->vars = calloc(v.vars.n ? v.vars.n : 1, sizeof(*r->vars))))
		goto out_clear;
	for (size_t i = 0; i < v.vars.n; i++, r->nvars++) {
		bool secret = tsm_cm_is_secret_name(v.vars.v[i].name);

		r->vars[i].secret = secret;
		r->vars[i].name = strdup(v.vars.v[i].name);
		r->vars[i].value = strdup(secret && !show_secrets ? MASK : v.vars.v[i].value);
		if (!r->vars[i].name || !r->vars[i].value)
			goto out_clear;
	}
	if (v.has_cert) {
		r->has_cert = true;
		r->cert_has_key = v.cert.has_key;
		memcpy(r->cert_subject, v.cert.subject, sizeof(r->cert_subject));
		memcpy(r->cert_issuer, v.cert.issuer, sizeof(r->cert_issuer));
		memcpy(r->cert_sha1, v.cert.sha1, sizeof(r->cert_sha1));
		r->cert_not_before = v.cert.not_before;
		r->cert_not_after = v.cert.not_after;
	}
	if (v.has_policy) {
		const struct tsm_cm_instance *ts = tsm_cm_policy_find(&v.policy, "CCM_TaskSequence");
		const char *seq = ts ? tsm_cm_instance_get(ts, "TS_Sequence") : NULL;

		r->has_policy = true;
		r->policy_cipher = tsm_cm_cipher_name(v.policy_cipher);
		if (ts) {
			r->ts_id = dup_or_null(tsm_cm_instance_get(ts, "PKG_PackageID"));
			r->ts_name = dup_or_null(tsm_cm_instance_get(ts, "PKG_Name"));
			r->adv_id = dup_or_null(tsm_cm_instance_get(ts, "ADV_AdvertisementID"));
			r->boot_image_id = dup_or_null(tsm_cm_instance_get(ts, "TS_BootImageID"));
		}
		if (seq && show_secrets)
			r->sequence = strdup(seq);
		else if (seq && tsm_cm_mask_sequence(seq, &r->sequence) < 0)
			tsm_warn("%s: the policy's TS_Sequence is not XML", where);
		if (!(r->packages = calloc(v.policy.n ? v.policy.n : 1, sizeof(*r->packages))))
			goto out_clear;
		for (size_t i = 0; i < v.policy.n; i++) {
			const char *id = tsm_cm_instance_get(&v.policy.inst[i], "PKG_PackageID");

			if (&v.policy.inst[i] == ts || !id)
				continue;
			if (!(r->packages[r->npackages++] = strdup(id)))
				goto out_clear;
		}
	}
	rc = 0;
out_clear:
	tsm_cm_media_view_clear(&v);
	return rc;
}

int tsm_media_inspect_stored(struct tsm_store *store, const char *name, const char *password,
			     bool show_secrets, struct tsm_inspect_result *r)
{
	static const char *const paths[3] = { "SMS/data/TsmBootstrap.ini", "SMS/data/Variables.dat",
					      "SMS/data/Policy.xml" };
	struct tsm_media_info info;
	uint8_t *data[3] = { NULL };
	size_t len[3] = { 0 };
	int rc;

	memset(r, 0, sizeof(*r));
	if ((rc = tsm_media_get(store, name, &info)) < 0)
		return rc;
	if (info.def.type == TSM_MEDIA_DATA) {
		tsm_error("media %s is a data media: it has no SMS/data to inspect", name);
		tsm_media_info_clear(&info);
		return -EINVAL;
	}
	for (int k = 0; k < 3 && rc == 0; k++) {
		rc = tsm_media_file_bytes(store, info.version_id, paths[k], &data[k], &len[k]);
		if (rc == -ENOENT && k == 2)
			rc = 0; /* bootable and prestaged media have no policy */
		else if (rc == -ENOENT)
			tsm_error("media %s: its %s is not in the store", name, paths[k]);
	}
	tsm_media_info_clear(&info);
	if (rc == 0) {
		r->volumes = 1;
		rc = tsm_inspect_sms_data((const char *)data[0], len[0], data[1], len[1], data[2],
					  len[2], password, show_secrets, name, r);
	}
	for (int k = 0; k < 3; k++)
		free(data[k]);
	return rc;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A file extracted to @dir, whole, at most TSM_CM_MAX_FILE bytes; -ENOENT when not there. */
static int read_extracted(const char *dir, const char *name, uint8_t **data_ret, size_t *len_ret)
{
	char path[4200];
	uint8_t *data;
	size_t n;
	long size;
	FILE *f;

	snprintf(path, sizeof(path), "%s/data/%s", dir, name);
	if (!(f = fopen(path, "rb")))
		return -ENOENT;
	if (fseek(f, 0, SEEK_END) < 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0 ||
	    (unsigned long)size > TSM_CM_MAX_FILE || !(data = malloc((size_t)size + 1))) {
		fclose(f);
		return -EFBIG;
	}
	n = fread(data, 1, (size_t)size, f);
	fclose(f);
	if (n != (size_t)size) {
		free(data);
		return -EIO;
	}
	data[n] = 0;
	*data_ret = data;
	*len_ret = n;
	return 0;
}

int tsm_media_inspect_wim(const char *path, const char *password, bool show_secrets,
			  struct tsm_inspect_result *r)
{
	static const char *const names[3] = { "TsmBootstrap.ini", "Variables.dat", "Policy.xml" };
	const char *tmp = getenv("TMPDIR");
	const wimlib_tchar *sms_data = "/SMS/data";
	char dir[4096];
	WIMStruct *wim = NULL;
	struct tsm_wim_facts facts;
	uint8_t *data[3] = { NULL };
	size_t len[3] = { 0 };
	int rc, wrc;

	memset(r, 0, sizeof(*r));
	/* A WIM from anywhere: its header, blob table and metadata sizes are checked
	 * against the file before wimlib reads it, as an import does, since wimlib
	 * allocates what a hostile header claims (gigabytes for a few KB). */
	rc = tsm_wim_check_file(path, &facts);
	if (rc < 0)
		return rc;
	snprintf(dir, sizeof(dir), "%s/tsmedia-inspect.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		return -errno;
	/* SMS/data of image 1 (a prestaged media's only image) into a private directory: the
	 * files are small, and Variables.dat and Policy.xml stay encrypted there. */
	if ((wrc = wimlib_open_wim(path, 0, &wim)) != 0) {
		tsm_error("%s: not a WIM wimlib reads: %s", path, wimlib_get_error_string(wrc));
		rc = -EINVAL;
		goto out_rmdir;
	}
	wrc = wimlib_extract_paths(wim, 1, dir, &sms_data, 1,
				   WIMLIB_EXTRACT_FLAG_NO_ACLS | WIMLIB_EXTRACT_FLAG_NO_ATTRIBUTES |
					   WIMLIB_EXTRACT_FLAG_NO_PRESERVE_DIR_STRUCTURE);
	wimlib_free(wim);
	if (wrc != 0) {
		tsm_error("%s: no SMS/data in its first image (%s): not task sequence media", path,
			  wimlib_get_error_string(wrc));
		rc = -EINVAL;
		goto out_rmdir;
	}
	rc = 0;
	for (int k = 0; k < 3 && rc == 0; k++) {
		rc = read_extracted(dir, names[k], &data[k], &len[k]);
		if (rc == -ENOENT && k == 2)
			rc = 0;
		else if (rc < 0)
			tsm_error("%s: SMS/data/%s: %s", path, names[k], strerror(-rc));
	}
	if (rc == 0) {
		r->volumes = 1;
		rc = tsm_inspect_sms_data((const char *)data[0], len[0], data[1], len[1], data[2],
					  len[2], password, show_secrets, path, r);
	}
	for (int k = 0; k < 3; k++)
		free(data[k]);
out_rmdir:
	nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
