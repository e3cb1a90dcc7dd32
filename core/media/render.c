/* Files a task sequence media's definition renders once, at create/edit, in Configuration
 * Manager's formats (core/media/cm*.c): SMS/data/TsmBootstrap.ini, SMS/data/Variables.dat and,
 * for capture and stand-alone media, SMS/data/Policy.xml.  They go into the store as blobs and
 * are recorded in media_files.  The password and the certificate's private key are used here
 * and kept nowhere else: the key exists only inside the encrypted Variables.dat. */
#include "media/media_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "catalog/rows.h"
#include "media/cmpassword.h"
#include "media/cmpfx.h"
#include "media/cmread.h"
#include "media/cmrender.h"
#include "media/cmvars.h"
#include "store/store_internal.h"
#include "tsmedia/app.h"
#include "tsmedia/content.h"
#include "tsmedia/hash.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"
#include "tsmedia/site.h"
#include "tsmedia/store.h"
#include "tsmedia/ts.h"

/* The SMS/data files' names: TsmBootstrap.ini as Configuration Manager spells it (scripts that
 * copy it out of its media, e.g. pxethiefup's ISO reader, and its own logs). */
#define BOOTSTRAP_PATH "SMS/data/TsmBootstrap.ini"
#define VARIABLES_PATH "SMS/data/Variables.dat"
#define POLICY_PATH "SMS/data/Policy.xml"

static int media_file_put(struct tsm_store *store, int64_t version, const char *path,
			  const void *data, size_t len)
{
	int64_t blob;
	int rc = tsm_store_put_bytes(store, data, len, path, &blob);

	if (rc < 0)
		return rc;
	return tsm_media_file_row_insert(store, version, path, blob);
}

int tsm_media_file_bytes(struct tsm_store *store, int64_t version, const char *path,
			 uint8_t **data_ret, size_t *len_ret)
{
	struct tsm_media_file *files = NULL;
	struct tsm_blob_reader *r = NULL;
	size_t nfiles = 0;
	uint64_t size;
	uint8_t *data;
	ssize_t n;
	int rc;

	if ((rc = tsm_media_files_load(store, version, &files, &nfiles)) < 0)
		return rc;
	rc = -ENOENT;
	for (size_t i = 0; i < nfiles && rc == -ENOENT; i++)
		if (strcmp(files[i].path, path) == 0)
			rc = tsm_blob_reader_open(store, files[i].blob_id, &r);
	tsm_media_files_free(files, nfiles);
	if (rc < 0)
		return rc;
	size = tsm_blob_reader_size(r);
	if (size > TSM_CM_MAX_FILE || !(data = malloc(size + 1))) {
		tsm_blob_reader_close(r);
		return size > TSM_CM_MAX_FILE ? -EFBIG : -ENOMEM;
	}
	n = tsm_blob_reader_pread(r, data, size, 0);
	tsm_blob_reader_close(r);
	if (n < 0 || (uint64_t)n != size) {
		free(data);
		return n < 0 ? (int)n : -EIO;
	}
	data[size] = 0; /* text files read as strings */
	*data_ret = data;
	*len_ret = size;
	return 0;
}

/* An edit that does not change the certificate carries it over from the previous version's
 * Variables.dat, which only the media password (or, without one, the fixed key) opens; the
 * GUID is kept, so the PKCS#12 opens as it did. */
static int certificate_carry_over(struct tsm_store *store, int64_t prev_version,
				  const struct tsm_media_def *d, uint8_t **pfx_ret,
				  size_t *pfx_len_ret)
{
	struct tsm_cm_vars vars = { 0 };
	uint8_t *data = NULL;
	size_t len = 0;
	const char *hex;
	long pfx_len = 0;
	int rc;

	if ((rc = tsm_media_file_bytes(store, prev_version, VARIABLES_PATH, &data, &len)) < 0) {
		tsm_error("media %s: the previous version's Variables.dat cannot be read", d->name);
		return rc;
	}
	rc = tsm_cm_vars_open(data, len, d->password, _("the previous version's Variables.dat"),
			      &vars, NULL);
	if (rc == -EACCES && d->password) /* the previous version may have had no password */
		rc = tsm_cm_vars_open(data, len, NULL, _("the previous version's Variables.dat"),
				      &vars, NULL);
	free(data);
	if (rc == -EACCES) {
		tsm_error("media %s: its certificate (with its private key) is only inside the"
			  " previous version's encrypted Variables.dat; give the media password with"
			  " --password-file to keep it, or a new certificate (--certificate or"
			  " --self-signed-certificate)", d->name);
		return rc;
	}
	if (rc < 0)
		return rc;
	if (!(hex = tsm_cm_vars_get(&vars, "_SMSTSMediaPFX"))) {
		tsm_error("media %s: the previous version lists a certificate its Variables.dat"
			  " does not hold", d->name);
		tsm_cm_vars_clear(&vars);
		return -EINVAL;
	}
	*pfx_ret = OPENSSL_hexstr2buf(hex, &pfx_len);
	tsm_cm_vars_clear(&vars);
	if (!*pfx_ret)
		return -EINVAL;
	*pfx_len_ret = (size_t)pfx_len;
	return 0;
}

/* The media certificate as _SMSTSMediaPFX wants it: made here (self-signed) or read from the
 * user's PKCS#12, and re-encoded under the GUID's PFX password (cmpfx.h). */
static int media_certificate(struct tsm_media_def *d, const char *guid, uint8_t **pfx_ret,
			     size_t *pfx_len_ret)
{
	struct tsm_cert cert = { 0 };
	char summary[512], from[32], until[32], pw[33] = "";
	const char *password = d->cert_password;
	int rc;

	if (d->cert_pfx_path) {
		rc = tsm_cert_load_pkcs12(d->cert_pfx_path, d->cert_password, &cert);
	} else {
		/* A throwaway password for the moment between making and re-encoding. */
		uint8_t rnd[16];

		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return -EIO;
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(pw + 2 * i, 3, "%02x", rnd[i]);
		OPENSSL_cleanse(rnd, sizeof(rnd));
		password = pw;
		rc = tsm_cert_create_self_signed(d->name, d->cert_valid_from, d->cert_valid_until,
						 pw, &cert);
	}
	if (rc == 0)
		rc = tsm_cm_pfx_wrap(cert.pkcs12, cert.pkcs12_len, password, guid, pfx_ret,
				     pfx_len_ret);
	OPENSSL_cleanse(pw, sizeof(pw));
	if (rc < 0) {
		tsm_cert_clear(&cert);
		return rc;
	}
	tsm_date_format(cert.not_before, from);
	tsm_date_format(cert.not_after, until);
	snprintf(summary, sizeof(summary), "%s, %s, valid %s to %s, SHA-256 %s", cert.subject,
		 cert.self_signed ? "self-signed" : "issued by a CA", from, until, cert.sha256);
	free(d->cert_summary);
	free(d->cert_subject);
	free(d->cert_issuer);
	free(d->cert_sha1);
	d->cert_summary = strdup(summary);
	d->cert_subject = strdup(cert.subject);
	d->cert_issuer = strdup(cert.issuer);
	d->cert_sha1 = strdup(cert.sha1);
	d->cert_not_before = cert.not_before;
	d->cert_not_after = cert.not_after;
	d->cert_is_pki = !cert.self_signed;
	tsm_cert_clear(&cert);
	return d->cert_summary && d->cert_subject && d->cert_issuer && d->cert_sha1 ? 0 : -ENOMEM;
}

/* A stand-alone media's applications and deployment types, as its policy
 * describes them (cmpolicy.h); the strings are @apps'. */
struct policy_apps {
	struct tsm_media_apps apps;
	struct tsm_cm_policy_app *a;
	struct tsm_cm_policy_dt *t;
	char (*paths)[64];
};

static void policy_apps_clear(struct policy_apps *p)
{
	tsm_media_apps_clear(&p->apps);
	free(p->a);
	free(p->t);
	free(p->paths);
}

static int policy_apps(struct tsm_store *store, const struct tsm_media_def *d,
		       struct policy_apps *p)
{
	struct tsm_media_apps *apps = &p->apps;
	int problems, rc = tsm_media_apps_resolve(store, d, apps, &problems);

	if (rc < 0)
		return rc;
	p->a = calloc(apps->napps ? apps->napps : 1, sizeof(*p->a));
	p->t = calloc(apps->ndts ? apps->ndts : 1, sizeof(*p->t));
	p->paths = calloc(apps->ndts ? apps->ndts : 1, sizeof(*p->paths));
	if (!p->a || !p->t || !p->paths)
		return -ENOMEM;
	for (size_t i = 0; i < apps->napps; i++) {
		const struct tsm_app *a = &apps->apps[i];

		p->a[i] = (struct tsm_cm_policy_app){
			.model_name = a->id, .title = a->title,
			.software_version = *a->software_version ? a->software_version : NULL,
			.publisher = *a->publisher ? a->publisher : NULL,
		};
	}
	for (size_t i = 0; i < apps->ndts; i++) {
		const struct tsm_app *a = &apps->apps[apps->dts[i].app_index];
		const struct tsm_app_dt *dt = &a->dts[apps->dts[i].dt_index];
		unsigned depended = 0;

		for (size_t g = 0; g < dt->ngroups; g++)
			depended += (unsigned)dt->groups[g].ndeps;
		if (dt->ncontents)
			snprintf(p->paths[i], sizeof(p->paths[i]), "SMS\\PKG\\%s", dt->contents[0].id);
		p->t[i] = (struct tsm_cm_policy_dt){
			.model_name = dt->id, .app_model_name = a->id, .title = dt->title,
			.technology = dt->technology, .priority = (unsigned)apps->dts[i].dt_index + 1,
			.content_id = dt->ncontents ? dt->contents[0].id : NULL,
			.content_path = dt->ncontents ? p->paths[i] : NULL, .depended = depended,
		};
	}
	return 0;
}

/* A stand-alone media's packages, named as the catalog names them. */
static int policy_packages(struct tsm_store *store, const struct tsm_media_def *d,
			   const struct tsm_ts_info *ts, struct tsm_cm_policy_package **pkgs_ret,
			   struct tsm_content_item **items_ret, size_t *n_ret)
{
	size_t n = ts->npackages + d->nextra_content;
	struct tsm_cm_policy_package *pkgs = calloc(n ? n : 1, sizeof(*pkgs));
	struct tsm_content_item *items = calloc(n ? n : 1, sizeof(*items));
	int rc = 0;

	if (!pkgs || !items) {
		free(pkgs);
		free(items);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *id = i < ts->npackages ? ts->packages[i]
						   : d->extra_content[i - ts->npackages];

		rc = tsm_content_get(store, id, &items[i]);
		pkgs[i].id = id;
		pkgs[i].name = rc == 0 ? items[i].name : id;
	}
	*pkgs_ret = pkgs;
	*items_ret = items;
	*n_ret = n;
	return rc;
}

/* ---- what the files are rendered from ---------------------------------------------------- */

static void key_str(FILE *f, const char *tag, const char *v)
{
	fprintf(f, "%s=%zu:%s;", tag, v ? strlen(v) : (size_t)0, v ? v : "");
}

static void key_list(FILE *f, const char *tag, char *const *v, size_t n)
{
	fprintf(f, "%s=%zu[", tag, n);
	for (size_t i = 0; i < n; i++)
		key_str(f, "", v[i]);
	fputs("];", f);
}

/* A SHA-256 (hex) of everything the SMS/data files are rendered from but the password and the
 * certificate's private key: the definition's fields, the site's values, management points and
 * root CAs, the task sequence's version, whether a password protects them.  Equal keys, equal
 * files (but for the random IVs): an edit that keeps the key keeps the files. */
static int render_key(struct tsm_store *store, const struct tsm_media_def *d, char hex[65])
{
	struct tsm_site site = { 0 };
	struct tsm_ts_info ts = { 0 };
	uint8_t sum[TSM_SHA256_LEN];
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (!f)
		return -ENOMEM;
	fprintf(f, "type=%d;form=%d;size=%llu;unattended=%d;unknown=%d;mode=%d;uda=%d;cipher=%d;"
		   "protected=%d;from=%lld;until=%lld;", (int)d->type, (int)d->form,
		(unsigned long long)d->volume_size, d->unattended, d->unknown_computers, (int)d->mode,
		(int)d->user_device_affinity, (int)d->cipher, d->password_protected,
		(long long)d->valid_from, (long long)d->valid_until);
	key_str(f, "guid", d->media_guid);
	key_str(f, "boot", d->boot_image);
	key_str(f, "ts", d->task_sequence);
	key_str(f, "prestart", d->prestart_command);
	key_str(f, "prestart_files", d->prestart_files);
	key_str(f, "cert", d->cert_summary);
	key_str(f, "site", d->site);
	key_list(f, "mps", d->management_points, d->nmanagement_points);
	key_list(f, "vars", d->variables, d->nvariables);
	key_list(f, "extra", d->extra_content, d->nextra_content);
	if (d->site && tsm_site_get(store, d->site, &site) == 0) {
		for (int v = 0; v < TSM_SITE_VALUE_COUNT; v++)
			key_str(f, "value", site.values[v]);
		key_list(f, "site_mps", site.mps, site.nmps);
		key_list(f, "root_cas", site.root_cas, site.nroot_cas);
		tsm_site_clear(&site);
	}
	if (d->task_sequence && tsm_ts_get(store, d->task_sequence, &ts) == 0) {
		fprintf(f, "ts_version=%lld;", (long long)ts.version);
		tsm_ts_info_clear(&ts);
	}
	if (fclose(f) != 0) {
		free(buf);
		return -ENOMEM;
	}
	rc = tsm_sha256(buf, len, sum);
	free(buf);
	if (rc == 0)
		tsm_hex_encode(sum, sizeof(sum), hex);
	return rc;
}

/* The rendered files of @prev_version, recorded again for @version: same blobs. */
static int files_carry_over(struct tsm_store *store, int64_t version, int64_t prev_version)
{
	struct tsm_media_file *files = NULL;
	size_t n = 0;
	int rc = tsm_media_files_load(store, prev_version, &files, &n);

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = tsm_media_file_row_insert(store, version, files[i].path, files[i].blob_id);
	tsm_media_files_free(files, n);
	return rc;
}

bool tsm_media_variable_secret(const char *name_value)
{
	char name[256];
	size_t n = strcspn(name_value, "=");

	snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1),
		 name_value);
	return tsm_cm_is_secret_name(name);
}

const char *tsm_media_exposure(const struct tsm_media_def *d)
{
	/* Without a password Variables.dat opens with a key every copy of Configuration Manager
	 * knows, and Policy.xml with the media GUID written in Variables.dat (cmrender.c). */
	bool policy = d->type == TSM_MEDIA_STANDALONE;

	/* A PKI certificate's key is trusted by the site's systems, not only by this media. */
	if (d->cert_summary && d->cert_is_pki)
		return N_("anyone holding it can read its variables and the private key of its PKI"
		       " certificate, which the site's systems trust: whoever copies the media can"
		       " authenticate as it until the certificate is revoked");
	if (d->cert_summary && policy)
		return N_("anyone holding it can read its variables, the media certificate's private"
		       " key, the task sequence and any credentials in it");
	if (d->cert_summary)
		return N_("anyone holding it can read its variables and the media certificate's private"
		       " key");
	if (policy)
		return N_("anyone holding it can read its variables, the task sequence and any"
		       " credentials in it");
	return N_("anyone holding it can read its variables");
}

int tsm_media_render(struct tsm_store *store, int64_t version, int64_t prev_version,
		     struct tsm_media_def *d)
{
	enum tsm_cm_cipher cipher = d->cipher == TSM_MEDIA_AES128 ? TSM_CM_AES128 : TSM_CM_AES256;
	const char *words[4] = { d->name, d->label, d->site, NULL };
	struct tsm_cm_password_estimate est;
	struct tsm_cm_site_values sv = { 0 };
	struct tsm_cm_policy_package *pkgs = NULL;
	struct tsm_content_item *items = NULL;
	struct policy_apps papps = { 0 };
	struct tsm_cm_rendered out = { 0 };
	struct tsm_ts_info ts = { 0 };
	struct tsm_site site = { 0 };
	uint8_t *pfx = NULL;
	size_t pfx_len = 0, npkgs = 0;
	char *root_cas = NULL;
	bool have_site = false;
	char guid[37], key[65];
	int rc = 0;

	if ((rc = render_key(store, d, key)) < 0)
		return rc;
	/* An edit with neither password option: what the files hold has not changed, so they
	 * carry over as they are (no password asked); else they must be written again, which a
	 * password-protected media cannot be without its password. */
	if (d->keep_protection && prev_version) {
		bool new_cert = d->cert_pfx_path || d->cert_self_signed;

		if (!new_cert && d->render_key && strcmp(d->render_key, key) == 0)
			return files_carry_over(store, version, prev_version);
		if (d->password_protected) {
			tsm_error("media %s: this change rewrites its encrypted variables%s: give the"
				  " media password with --password-file (or --no-password to drop it)",
				  d->name, d->type == TSM_MEDIA_STANDALONE ? _(" and policy") : "");
			return -EACCES;
		}
	}
	if (!words[1])
		words[1] = d->site, words[2] = NULL;
	/* Configuration Manager's key is one unsalted SHA-1: refuse what a GPU finds in a year. */
	if (d->password) {
		if ((rc = tsm_cm_password_check(d->password, cipher, words,
						d->allow_weak_password, &est)) < 0)
			return rc;
		d->weak_password = est.seconds < TSM_CM_PASSWORD_MIN_SECONDS;
	}
	if ((rc = tsm_cm_media_guid(d->media_guid, guid)) < 0)
		return rc;
	if (d->cert_pfx_path || d->cert_self_signed)
		rc = media_certificate(d, guid, &pfx, &pfx_len);
	else if (d->cert_summary && prev_version)
		rc = certificate_carry_over(store, prev_version, d, &pfx, &pfx_len);
	if (rc < 0)
		goto out_free;
	if (d->site) {
		if ((rc = tsm_site_get(store, d->site, &site)) < 0)
			goto out_free;
		have_site = true;
		/* The root CAs the site trusts reach the client in _SMSTSRootCACerts (KB 4468601
		 * lists the variable among those a network media sets; its encoding is not
		 * published): a value copied from the site's own media wins, else the DER of each
		 * root CA in hex (site.h). */
		if (!site.values[TSM_SITE_ROOT_CA_CERTS] && site.nroot_cas &&
		    (rc = tsm_root_cas_der_hex(site.root_cas, site.nroot_cas, &root_cas)) < 0)
			goto out_free;
		sv = (struct tsm_cm_site_values){
			.http_port = site.values[TSM_SITE_HTTP_PORT],
			.https_port = site.values[TSM_SITE_HTTPS_PORT],
			.iis_ssl_state = site.values[TSM_SITE_IIS_SSL_STATE],
			.site_signing_certificate = site.values[TSM_SITE_SIGNING_CERTIFICATE],
			.public_root_key = site.values[TSM_SITE_PUBLIC_ROOT_KEY],
			.root_ca_certs = site.values[TSM_SITE_ROOT_CA_CERTS] ? site.values[TSM_SITE_ROOT_CA_CERTS]
									    : root_cas,
			.use_first_cert = site.values[TSM_SITE_USE_FIRST_CERT],
			.x64_unknown_guid = site.values[TSM_SITE_X64_UNKNOWN_GUID],
			.x86_unknown_guid = site.values[TSM_SITE_X86_UNKNOWN_GUID],
		};
	}
	if (d->type == TSM_MEDIA_STANDALONE &&
	    ((rc = tsm_ts_get(store, d->task_sequence, &ts)) < 0 ||
	     (rc = policy_packages(store, d, &ts, &pkgs, &items, &npkgs)) < 0 ||
	     (rc = policy_apps(store, d, &papps)) < 0))
		goto out_free;
	struct tsm_cm_render_in in = {
		.def = d,
		.site = have_site ? &sv : NULL,
		.pfx = pfx,
		.pfx_len = pfx_len,
		.ts = d->type == TSM_MEDIA_STANDALONE ? &ts : NULL,
		.packages = pkgs,
		.npackages = npkgs,
		.apps = papps.a,
		.napps = papps.apps.napps,
		.dts = papps.t,
		.ndts = papps.apps.ndts,
		.password = d->password,
		.cipher = cipher,
	};
	if ((rc = tsm_cm_render(&in, &out)) < 0)
		goto out_free;
	if ((rc = media_file_put(store, version, BOOTSTRAP_PATH, out.bootstrap,
				 out.bootstrap_len)) < 0 ||
	    (rc = media_file_put(store, version, VARIABLES_PATH, out.variables,
				 out.variables_len)) < 0 ||
	    (out.policy &&
	     (rc = media_file_put(store, version, POLICY_PATH, out.policy, out.policy_len)) < 0))
		goto out_free;
	/* Keyed as rendered: with the certificate just made or read. */
	if ((rc = render_key(store, d, key)) == 0) {
		free(d->render_key);
		rc = (d->render_key = strdup(key)) ? 0 : -ENOMEM;
	}
out_free:
	tsm_cm_rendered_clear(&out);
	if (pfx)
		OPENSSL_clear_free(pfx, pfx_len);
	for (size_t i = 0; items && i < npkgs; i++)
		tsm_content_item_clear(&items[i]);
	free(items);
	free(pkgs);
	policy_apps_clear(&papps);
	tsm_ts_info_clear(&ts);
	free(root_cas);
	if (have_site)
		tsm_site_clear(&site);
	return rc;
}

/* A random GUID in registry format, for a new media (the variables carry it without its
 * braces: cmrender.c). */
int tsm_media_new_guid(char **guid_ret)
{
	uint8_t b[16];

	if (RAND_bytes(b, sizeof(b)) != 1)
		return -EIO;
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40); /* version 4 */
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	return asprintf(guid_ret, "{%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X}",
			b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
			b[12], b[13], b[14], b[15]) < 0 ? -ENOMEM : 0;
}
