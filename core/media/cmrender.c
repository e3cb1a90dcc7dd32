/* A task sequence media's SMS/data files in Configuration Manager's formats (cmrender.h).
 *
 * Sources for what goes where (the formats themselves are cited in cmcrypt.c, cmvars.c,
 * cmpolicy.c, cmbootstrap.c, cmpfx.c):
 *  [TSV] Microsoft, "Task sequence variables": _SMSTSLaunchMode is CD, DVD, UFD+FORMAT (USB
 *        media made on current Windows), HD (prestaged media on a hard disk); _SMSTSMediaType
 *        BootMedia, FullMedia, OEMMedia; SMSTSAssignUsersMode Auto, Pending, Disabled.
 *  [PXE] Microsoft, "Understand PXE boot in Configuration Manager" (KB 4468601): the variables
 *        a network-connected media carries, among them the site's HTTP and HTTPS ports
 *        ("ports: http=80,https=443"), its IIS SSL state, signing certificate, public root key,
 *        root CA certificates and the x64/x86 unknown-computer GUIDs.
 *  [PU]  evildaemond/pxethiefup: stand-alone media have _SMSTSStandAloneMedia=true and no
 *        management point; their Policy.xml opens with the password or _SMSMediaGuid.
 *  [CM]  Microsoft, "Create bootable media" / "Create stand-alone media": site-based media
 *        contact the one management point given, dynamic media any in the list.
 * Not public, chosen here and said in the report: capture media's _SMSTSMediaType and
 * TsmBootstrap MediaType (CaptureMedia), the advertisement ID of a stand-alone media's policy
 * (the site code, '2' and the task sequence ID's last four digits), the names of the
 * stand-alone validity dates and of the prestart command and package. */
#include "media/cmrender.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/cmbootstrap.h"
#include "media/cmvars.h"
#include "tsmedia/log.h"
#include "tsmedia/site.h"

int tsm_cm_media_guid(const char *guid, char out[37])
{
	size_t n = strlen(guid);

	if (n == 38 && guid[0] == '{' && guid[37] == '}') {
		guid++;
		n = 36;
	}
	if (n != 36) {
		tsm_error("media GUID '%s' is not a GUID", guid);
		return -EINVAL;
	}
	for (size_t i = 0; i < 36; i++)
		out[i] = (char)(guid[i] >= 'a' && guid[i] <= 'f' ? guid[i] - 32 : guid[i]);
	out[36] = '\0';
	return 0;
}

static const char *media_type_word(enum tsm_media_type type)
{
	switch (type) {
	case TSM_MEDIA_BOOTABLE: return "BootMedia";
	case TSM_MEDIA_PRESTAGED: return "OEMMedia";
	case TSM_MEDIA_STANDALONE: return "FullMedia";
	default: return "CaptureMedia";
	}
}

/* [TSV]: how the client was started from this media. */
static const char *launch_mode(const struct tsm_media_def *d)
{
	if (d->type == TSM_MEDIA_PRESTAGED)
		return "HD";
	if (d->form == TSM_MEDIA_USB)
		return "UFD+FORMAT";
	return d->volume_size && d->volume_size <= 900ull * 1024 * 1024 ? "CD" : "DVD";
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

/* Bootable and prestaged media reach a site; they carry what only it knows ([PXE]). */
static int site_values_check(const struct tsm_cm_render_in *in)
{
	const struct tsm_media_def *d = in->def;
	const struct tsm_cm_site_values *s = in->site;
	static const struct tsm_cm_site_values none;
	const char *missing[8];
	size_t n = 0;

	if (d->type != TSM_MEDIA_BOOTABLE && d->type != TSM_MEDIA_PRESTAGED)
		return 0;
	if (!s)
		s = &none;
	if (!s->http_port)
		missing[n++] = "--http-port";
	if (!s->https_port)
		missing[n++] = "--https-port";
	if (!s->iis_ssl_state)
		missing[n++] = "--iis-ssl-state";
	if (!s->site_signing_certificate)
		missing[n++] = "--signing-certificate";
	if (d->unknown_computers && !s->x64_unknown_guid)
		missing[n++] = "--x64-unknown-guid";
	if (d->unknown_computers && !s->x86_unknown_guid)
		missing[n++] = "--x86-unknown-guid";
	if (!n)
		return 0;
	tsm_error("media %s: site %s lacks what %s media carry for the client; give it with"
		  " tsmedia site edit %s:", d->name, d->site ? d->site : "(none)",
		  tsm_media_type_name(d->type), d->site ? d->site : "CODE");
	for (size_t i = 0; i < n; i++)
		tsm_error("  %s", missing[i]);
	return -EINVAL;
}

static int render_vars(const struct tsm_cm_render_in *in, const char *guid,
		       struct tsm_cm_vars *vars)
{
	const struct tsm_media_def *d = in->def;
	const struct tsm_cm_site_values *s = in->site;
	bool networked = d->type == TSM_MEDIA_BOOTABLE || d->type == TSM_MEDIA_PRESTAGED;
	struct tsm_cm_media_vars mv = {
		.media_guid = guid,
		.pfx = in->pfx,
		.pfx_len = in->pfx_len,
		.media_type = media_type_word(d->type),
		.launch_mode = launch_mode(d),
		.standalone = d->type == TSM_MEDIA_STANDALONE,
		.site_code = d->site,
		/* [CM]: site-based media name one management point, dynamic media the list. */
		.mp = networked && d->mode == TSM_MODE_SITE_BASED && d->nmanagement_points
			      ? d->management_points[0]
			      : NULL,
		.location_mps = (const char *const *)d->management_points,
		.nlocation_mps = networked && d->mode == TSM_MODE_DYNAMIC ? d->nmanagement_points : 0,
		.assign_users_mode = uda_word(d->user_device_affinity),
		.support_unknown = d->unknown_computers,
		.prestart_command = d->prestart_command,
		.prestart_package = d->prestart_files,
		.extra = (const char *const *)d->variables,
		.nextra = d->nvariables,
	};
	char when[32];
	int rc;

	if (networked && s) {
		mv.http_port = s->http_port;
		mv.https_port = s->https_port;
		mv.iis_ssl_state = s->iis_ssl_state;
		mv.site_signing_certificate = s->site_signing_certificate;
		mv.public_root_key = s->public_root_key;
		mv.root_ca_certs = s->root_ca_certs;
		mv.use_first_cert = s->use_first_cert;
		if (d->unknown_computers) {
			mv.x64_unknown_guid = s->x64_unknown_guid;
			mv.x86_unknown_guid = s->x86_unknown_guid;
		}
	}
	if (networked)
		mv.boot_media_package_id = d->boot_image;
	if ((rc = tsm_cm_vars_build(&mv, vars)) < 0)
		return rc;
	/* Stand-alone validity: no public name (see the header comment). */
	if (d->valid_from) {
		tsm_date_format(d->valid_from, when);
		rc = tsm_cm_vars_add(vars, "_SMSTSMediaValidFrom", when);
	}
	if (rc == 0 && d->valid_until) {
		tsm_date_format(d->valid_until, when);
		rc = tsm_cm_vars_add(vars, "_SMSTSMediaValidUntil", when);
	}
	return rc;
}

/* The built-in task sequence of capture media: prepare the OS, capture it. */
static const char capture_sequence[] =
	"<sequence version=\"3.10\">"
	"<step type=\"SMS_TaskSequence_PrepareOSAction\" name=\"Prepare Operating System\"/>"
	"<step type=\"SMS_TaskSequence_CaptureSystemImageAction\" name=\"Capture the Reference"
	" Machine\"/></sequence>";

static int render_policy(const struct tsm_cm_render_in *in, const char *key, uint8_t **out,
			 size_t *out_len)
{
	const struct tsm_media_def *d = in->def;
	char adv[9], version[24];
	struct tsm_cm_media_policy p = {
		.site_code = d->site,
		.packages = in->packages,
		.npackages = in->npackages,
		.apps = in->apps,
		.napps = in->napps,
		.dts = in->dts,
		.ndts = in->ndts,
	};

	if (d->type == TSM_MEDIA_CAPTURE) {
		p.adv_id = "CAPTURE";
		p.ts_id = "CAPTURE";
		p.ts_name = "Capture";
		p.boot_image_id = d->boot_image;
		p.sequence_xml = capture_sequence;
	} else {
		if (!in->ts) {
			tsm_error("media %s: stand-alone media need their task sequence", d->name);
			return -EINVAL;
		}
		/* An advertisement ID like Configuration Manager's: the task sequence's site
		 * code, '2', its last four digits (see the header comment). */
		snprintf(adv, sizeof(adv), "%.3s2%.4s", in->ts->id, in->ts->id + 4);
		snprintf(version, sizeof(version), "%lld", (long long)in->ts->version);
		p.adv_id = adv;
		p.ts_id = in->ts->id;
		p.ts_name = in->ts->name;
		p.ts_version = version;
		p.boot_image_id = d->boot_image ? d->boot_image : in->ts->boot_image;
		p.sequence_xml = in->ts->sequence_xml;
	}
	return tsm_cm_policy_seal(&p, key, in->cipher, out, out_len);
}

int tsm_cm_render(const struct tsm_cm_render_in *in, struct tsm_cm_rendered *out_ret)
{
	const struct tsm_media_def *d = in->def;
	struct tsm_cm_rendered out = { 0 };
	struct tsm_cm_bootstrap b = { .password_required = in->password != NULL,
				      .unattended = d->unattended };
	struct tsm_cm_vars vars = { 0 };
	char guid[37];
	int rc;

	if ((rc = site_values_check(in)) < 0 || (rc = tsm_cm_media_guid(d->media_guid, guid)) < 0)
		return rc;
	snprintf(b.media_type, sizeof(b.media_type), "%s", media_type_word(d->type));
	if ((rc = tsm_cm_bootstrap_render(&b, &out.bootstrap, &out.bootstrap_len)) < 0 ||
	    (rc = render_vars(in, guid, &vars)) < 0 ||
	    (rc = tsm_cm_vars_seal(&vars, in->password, in->cipher, &out.variables,
				   &out.variables_len)) < 0)
		goto out_fail;
	/* [PU]: without a password the policy's key is the media GUID as the variables say it. */
	if ((d->type == TSM_MEDIA_CAPTURE || d->type == TSM_MEDIA_STANDALONE) &&
	    (rc = render_policy(in, in->password ? in->password : guid, &out.policy,
				&out.policy_len)) < 0)
		goto out_fail;
	tsm_cm_vars_clear(&vars);
	*out_ret = out;
	return 0;
out_fail:
	tsm_cm_vars_clear(&vars);
	tsm_cm_rendered_clear(&out);
	return rc;
}

void tsm_cm_rendered_clear(struct tsm_cm_rendered *out)
{
	free(out->bootstrap);
	free(out->variables);
	free(out->policy);
	memset(out, 0, sizeof(*out));
}
