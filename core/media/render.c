/* Files a task sequence media's definition renders once, at create/edit:
 * SMS/data/TSMBootstrap.ini, SMS/data/Variables.dat and, for capture and
 * stand-alone media, SMS/data/Policy.xml.  They go into the store as blobs
 * (encrypted first when the media has a password) and are recorded in
 * media_files; the password and the certificate's key are used here and
 * kept nowhere else. */
#include "media/media_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "catalog/rows.h"
#include "store/store_internal.h"
#include "tsmedia/log.h"
#include "tsmedia/site.h"
#include "tsmedia/ts.h"

/* A growing text buffer. */
struct text {
	char *p;
	size_t len, cap;
	bool failed;
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || (t->len + (size_t)n + 1 > t->cap &&
		      !(t->p = realloc(t->p, t->cap = (t->len + (size_t)n + 1) * 2)))) {
		t->failed = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(t->p + t->len, t->cap - t->len, fmt, ap);
	va_end(ap);
	t->len += (size_t)n;
}

/* XML text with the five entities escaped. */
static void text_add_xml(struct text *t, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<': text_add(t, "&lt;"); break;
		case '>': text_add(t, "&gt;"); break;
		case '&': text_add(t, "&amp;"); break;
		case '"': text_add(t, "&quot;"); break;
		case '\'': text_add(t, "&apos;"); break;
		default: text_add(t, "%c", *s);
		}
	}
}

static const char *media_type_word(enum tsm_media_type type)
{
	switch (type) {
	case TSM_MEDIA_CAPTURE: return "CaptureMedia";
	case TSM_MEDIA_BOOTABLE: return "BootMedia";
	case TSM_MEDIA_PRESTAGED: return "OEMMedia";
	case TSM_MEDIA_STANDALONE: return "FullMedia";
	default: return "DataMedia";
	}
}

static const char *uda_word(enum tsm_uda uda)
{
	switch (uda) {
	case TSM_UDA_AUTO: return "Auto";
	case TSM_UDA_ADMIN: return "Pending";
	case TSM_UDA_DENY: return "Disabled";
	default: return NULL;
	}
}

static void format_time(int64_t t, char *out, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void var(struct text *t, const char *name, const char *value)
{
	if (!value)
		return;
	text_add(t, "  <var name=\"");
	text_add_xml(t, name);
	text_add(t, "\">");
	text_add_xml(t, value);
	text_add(t, "</var>\r\n");
}

static char *base64(const uint8_t *data, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *)out, data, (int)len);
	return out;
}

/* The media variables (ConfigMgr's names where it has them). */
static int render_variables(const struct tsm_media_def *d, const struct tsm_cert *cert,
			    const char *pfx_password, struct text *t)
{
	char when[32];

	text_add(t, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<MediaVarList Version=\"1\">\r\n");
	var(t, "_SMSMediaGuid", d->media_guid);
	var(t, "_SMSTSMediaType", media_type_word(d->type));
	var(t, "_SMSTSMediaLabel", d->label ? d->label : d->name);
	if (d->site)
		var(t, "_SMSTSSiteCode", d->site);
	if (d->nmanagement_points) {
		struct text mps = { 0 };

		for (size_t i = 0; i < d->nmanagement_points; i++)
			text_add(&mps, "%s%s", i ? "*" : "", d->management_points[i]);
		var(t, "SMSTSLocationMPs", mps.p);
		free(mps.p);
		var(t, "_SMSTSMediaMode", d->mode == TSM_MODE_SITE_BASED ? "SiteBased" : "Dynamic");
	}
	if (cert && cert->pkcs12) {
		char *pfx = base64(cert->pkcs12, cert->pkcs12_len);

		var(t, "_SMSTSMediaPFX", pfx);
		var(t, "_SMSTSMediaCertThumbprint", cert->sha1);
		free(pfx);
		var(t, "_SMSTSMediaPFXPassword", pfx_password);
	}
	var(t, "SMSTSAssignUsersMode", uda_word(d->user_device_affinity));
	if (d->unknown_computers)
		var(t, "_SMSTSSupportUnknownMachines", "true");
	if (d->prestart_command)
		var(t, "_SMSTSPreStartCommand", d->prestart_command);
	if (d->prestart_files)
		var(t, "_SMSTSPreStartPackageID", d->prestart_files);
	if (d->valid_from) {
		format_time(d->valid_from, when, sizeof(when));
		var(t, "_SMSTSMediaValidFrom", when);
	}
	if (d->valid_until) {
		format_time(d->valid_until, when, sizeof(when));
		var(t, "_SMSTSMediaValidUntil", when);
	}
	if (d->type == TSM_MEDIA_PRESTAGED) {
		var(t, "_SMSTSMediaCreatedBy", d->created_by);
		var(t, "_SMSTSMediaVersion", d->version_text);
		var(t, "_SMSTSMediaComment", d->comment);
	}
	for (size_t i = 0; i < d->nvariables; i++) {
		char *eq = strchr(d->variables[i], '=');
		char *name = eq ? strndup(d->variables[i], (size_t)(eq - d->variables[i])) : NULL;

		if (name)
			var(t, name, eq + 1);
		free(name);
	}
	text_add(t, "</MediaVarList>\r\n");
	return t->failed ? -ENOMEM : 0;
}

static void render_bootstrap(const struct tsm_media_def *d, bool has_policy, struct text *t)
{
	text_add(t, "[MediaInfo]\r\n");
	text_add(t, "MediaType=%s\r\n", media_type_word(d->type));
	text_add(t, "MediaGuid=%s\r\n", d->media_guid);
	text_add(t, "MediaLabel=%s\r\n", d->label ? d->label : d->name);
	text_add(t, "PasswordRequired=%s\r\n", d->password ? "true" : "false");
	text_add(t, "Encryption=%s\r\n", d->password ? "AES-256-GCM/PBKDF2-HMAC-SHA256" : "none");
	text_add(t, "Unattended=%s\r\n", d->unattended ? "true" : "false");
	text_add(t, "UnknownComputers=%s\r\n", d->unknown_computers ? "true" : "false");
	if (d->site)
		text_add(t, "SiteCode=%s\r\n", d->site);
	text_add(t, "Variables=SMS\\data\\Variables.dat\r\n");
	if (has_policy)
		text_add(t, "Policy=SMS\\data\\Policy.xml\r\n");
	text_add(t, "Manifest=SMS\\data\\Manifest.txt\r\n");
	text_add(t, "CreatedBy=tsmedia %s\r\n", TSMEDIA_VERSION_STRING);
}

/* The built-in task sequence of capture media: prepare the OS, capture it. */
static const char capture_sequence[] =
	"<sequence version=\"3.10\">"
	"<step type=\"SMS_TaskSequence_PrepareOSAction\" name=\"Prepare Operating System\"/>"
	"<step type=\"SMS_TaskSequence_CaptureSystemImageAction\" name=\"Capture the Reference"
	" Machine\"/></sequence>";

static int render_policy(struct tsm_store *store, const struct tsm_media_def *d, struct text *t)
{
	struct tsm_ts_info ts = { 0 };
	int rc;

	text_add(t, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<MediaPolicy Version=\"1\">\r\n");
	if (d->type == TSM_MEDIA_CAPTURE) {
		text_add(t, "  <TaskSequence ID=\"CAPTURE\" Name=\"Capture\"><![CDATA[%s]]></TaskSequence>\r\n",
			 capture_sequence);
	} else {
		if ((rc = tsm_ts_get(store, d->task_sequence, &ts)) < 0)
			return rc;
		text_add(t, "  <TaskSequence ID=\"%s\" Version=\"%lld\" Name=\"", ts.id,
			 (long long)ts.version);
		text_add_xml(t, ts.name);
		text_add(t, "\" BootImage=\"%s\">", d->boot_image ? d->boot_image : ts.boot_image);
		/* The sequence as it was exported, in a CDATA section ("]]>"
		 * inside is split so it cannot end the section early). */
		text_add(t, "<![CDATA[");
		for (const char *p = ts.sequence_xml, *q; p && *p; p = q + 3) {
			q = strstr(p, "]]>");
			if (!q) {
				text_add(t, "%s", p);
				break;
			}
			text_add(t, "%.*s]]]]><![CDATA[>", (int)(q - p), p);
		}
		text_add(t, "]]></TaskSequence>\r\n  <Packages>\r\n");
		for (size_t i = 0; i < ts.npackages; i++)
			text_add(t, "    <Package ID=\"%s\" Path=\"SMS\\PKG\\%s\"/>\r\n", ts.packages[i],
				 ts.packages[i]);
		for (size_t i = 0; i < d->nextra_content; i++)
			text_add(t, "    <Package ID=\"%s\" Path=\"SMS\\PKG\\%s\"/>\r\n",
				 d->extra_content[i], d->extra_content[i]);
		text_add(t, "  </Packages>\r\n");
		tsm_ts_info_clear(&ts);
	}
	text_add(t, "</MediaPolicy>\r\n");
	return t->failed ? -ENOMEM : 0;
}

static int media_file_put(struct tsm_store *store, int64_t version, const char *path,
			  const void *data, size_t len, const char *password)
{
	uint8_t *enc = NULL;
	size_t enc_len = 0;
	int64_t blob;
	int rc;

	if (password && (rc = tsm_media_encrypt(password, data, len, &enc, &enc_len)) < 0) {
		tsm_error("encrypting %s failed", path);
		return rc;
	}
	rc = tsm_store_put_bytes(store, enc ? enc : data, enc ? enc_len : len, path, &blob);
	free(enc);
	if (rc < 0)
		return rc;
	return tsm_media_file_row_insert(store, version, path, blob);
}

/* The media certificate: made here (self-signed) or read from PKCS#12. */
static int media_certificate(struct tsm_media_def *d, struct tsm_cert *cert, bool *have,
			     char **pfx_password)
{
	char summary[512], from[32], until[32];
	int rc = 0;

	*have = false;
	if (d->cert_pfx_path) {
		rc = tsm_cert_load_pkcs12(d->cert_pfx_path, d->cert_password, cert);
	} else if (d->cert_self_signed) {
		/* The key travels in the variables as PKCS#12; its password is a
		 * random one, in the variables beside it. */
		uint8_t rnd[18];

		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return -EIO;
		free(*pfx_password);
		if (!(*pfx_password = base64(rnd, sizeof(rnd))))
			return -ENOMEM;
		rc = tsm_cert_create_self_signed(d->name, d->cert_valid_from, d->cert_valid_until,
						 *pfx_password, cert);
	} else {
		return 0;
	}
	if (rc < 0)
		return rc;
	*have = true;
	format_time(cert->not_before, from, sizeof(from));
	format_time(cert->not_after, until, sizeof(until));
	snprintf(summary, sizeof(summary), "%s, %s, valid %s to %s, SHA-256 %s", cert->subject,
		 cert->self_signed ? "self-signed" : "issued by a CA", from, until, cert->sha256);
	free(d->cert_summary);
	d->cert_summary = strdup(summary);
	d->cert_is_pki = !cert->self_signed;
	return 0;
}

int tsm_media_render(struct tsm_store *store, int64_t version, struct tsm_media_def *d)
{
	struct text boot = { 0 }, vars = { 0 }, policy = { 0 };
	struct tsm_cert cert = { 0 };
	bool has_policy = d->type == TSM_MEDIA_CAPTURE || d->type == TSM_MEDIA_STANDALONE;
	char *pfx_password = NULL;
	bool have_cert;
	int rc;

	if ((rc = media_certificate(d, &cert, &have_cert, &pfx_password)) < 0) {
		free(pfx_password);
		return rc;
	}
	render_bootstrap(d, has_policy, &boot);
	if ((rc = render_variables(d, have_cert ? &cert : NULL,
				   pfx_password ? pfx_password : d->cert_password, &vars)) < 0)
		goto out;
	if (has_policy && (rc = render_policy(store, d, &policy)) < 0)
		goto out;
	if (boot.failed) {
		rc = -ENOMEM;
		goto out;
	}
	/* TSMBootstrap.ini stays readable: it says whether a password is needed. */
	if ((rc = media_file_put(store, version, "SMS/data/TSMBootstrap.ini", boot.p, boot.len,
				 NULL)) < 0 ||
	    (rc = media_file_put(store, version, "SMS/data/Variables.dat", vars.p, vars.len,
				 d->password)) < 0)
		goto out;
	if (has_policy)
		rc = media_file_put(store, version, "SMS/data/Policy.xml", policy.p, policy.len,
				    d->password);
out:
	if (vars.p)
		OPENSSL_cleanse(vars.p, vars.len); /* it held the certificate's key */
	free(boot.p);
	free(vars.p);
	free(policy.p);
	free(pfx_password);
	tsm_cert_clear(&cert);
	return rc;
}

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
