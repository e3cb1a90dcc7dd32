/* The rules of task sequence media, checked before anything is stored.
 * Every broken rule is reported (not only the first), each naming what is
 * wrong, and the save fails. */
#include "media/media_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tsmedia/i18n.h"
#include "tsmedia/log.h"
#include "tsmedia/site.h"
#include "tsmedia/ts.h"

struct check {
	const struct tsm_media_def *d;
	const char *type;
	int errors;
};

static void broken(struct check *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void broken(struct check *c, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), _(fmt), ap);
	va_end(ap);
	tsm_error("media '%s' (%s): %s", c->d->name, c->type, msg);
	c->errors++;
}

/* Options a type has no use for are errors, not silently ignored. */
static void check_not_for_type(struct check *c)
{
	const struct tsm_media_def *d = c->d;
	enum tsm_media_type t = d->type;
	bool network = t == TSM_MEDIA_BOOTABLE || t == TSM_MEDIA_PRESTAGED;
	bool protectable = t != TSM_MEDIA_CAPTURE;

	if (!network && (d->site || d->nmanagement_points || d->cert_pfx_path ||
			 d->cert_self_signed || d->mode == TSM_MODE_SITE_BASED))
		broken(c, "--site, --management-point, --mode and certificates belong to bootable and"
			  " prestaged media, which reach a site; %s media does not",
		       c->type);
	if (!network && d->unknown_computers)
		broken(c, "--unknown-computers belongs to bootable and prestaged media");
	if (!protectable && (d->password || d->no_password))
		broken(c, "capture media has no password: leave out --password-file/--no-password");
	if (t != TSM_MEDIA_PRESTAGED && (d->os_image || d->created_by || d->version_text ||
					 d->comment))
		broken(c, "--os-image, --created-by, --version and --comment belong to prestaged media");
	if (t != TSM_MEDIA_STANDALONE && (d->valid_from || d->valid_until))
		broken(c, "--valid-from/--valid-until belong to stand-alone media");
	if ((t == TSM_MEDIA_CAPTURE || t == TSM_MEDIA_BOOTABLE) &&
	    (d->task_sequence || d->nextra_content || d->napplications || d->include_dependencies))
		broken(c, "%s media carries no task sequence and no packages: leave out"
			  " --task-sequence, --application/--package/--driver-package and"
			  " --include-dependencies", c->type);
	if (t == TSM_MEDIA_CAPTURE && (d->prestart_command || d->prestart_files || d->nvariables ||
				       d->user_device_affinity != TSM_UDA_NONE || d->unattended))
		broken(c, "capture media takes no variables, prestart command, user device affinity"
			  " or unattended setting");
	if (t == TSM_MEDIA_PRESTAGED && d->form == TSM_MEDIA_USB)
		broken(c, "prestaged media is a WIM file, not a USB or CD/DVD image: leave out --media");
	if (d->prestart_files && !d->prestart_command)
		broken(c, "--prestart-files needs --prestart-command");
}

static void check_content_exists(struct check *c, struct tsm_store *store, const char *id,
				 const char *what)
{
	if (id && !tsm_content_exists(store, id))
		broken(c, "%s %s is not in the store", what, id);
}

static void check_password(struct check *c)
{
	const struct tsm_media_def *d = c->d;

	if (d->type == TSM_MEDIA_CAPTURE)
		return;
	if (!d->password && !d->no_password)
		broken(c, "say how the media is protected: --password-file FILE, or --no-password");
	if (d->password && d->no_password)
		broken(c, "--password-file and --no-password contradict each other");
}

static void check_text_limits(struct check *c)
{
	const struct tsm_media_def *d = c->d;
	static const struct {
		const char *name;
		size_t off, max;
	} limits[] = {
		{ "--created-by", offsetof(struct tsm_media_def, created_by), 50 },
		{ "--version", offsetof(struct tsm_media_def, version_text), 32 },
		{ "--comment", offsetof(struct tsm_media_def, comment), 127 },
	};

	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		const char *v = *(char *const *)((const char *)d + limits[i].off);

		if (v && strlen(v) > limits[i].max)
			broken(c, "%s is %zu characters; at most %zu", limits[i].name, strlen(v),
			       limits[i].max);
	}
	if (d->valid_from && d->valid_until && d->valid_from >= d->valid_until)
		broken(c, "--valid-from is not before --valid-until");
	for (size_t i = 0; i < d->nvariables; i++) {
		const char *eq = strchr(d->variables[i], '=');

		if (!eq || eq == d->variables[i])
			broken(c, "--variable '%s' is not NAME=VALUE", d->variables[i]);
	}
}

/* Management points, sites and certificates of network media. */
static void check_site(struct check *c, struct tsm_store *store)
{
	const struct tsm_media_def *d = c->d;
	struct tsm_site site = { 0 };
	bool https = false;

	if (d->type != TSM_MEDIA_BOOTABLE && d->type != TSM_MEDIA_PRESTAGED)
		return;
	if (!d->site) {
		broken(c, "--site CODE is required: the site the media is created for");
		return;
	}
	if (tsm_site_get(store, d->site, &site) < 0) {
		broken(c, "site %s is not defined (tsmedia site add)", d->site);
		return;
	}
	for (size_t i = 0; i < d->nmanagement_points; i++) {
		if (tsm_mp_check(d->management_points[i]) < 0)
			broken(c, "management point '%s' is not an http:// or https:// URL",
			       d->management_points[i]);
		https |= tsm_mp_is_https(d->management_points[i]);
	}
	if (d->nmanagement_points == 0)
		broken(c, "--management-point URL is required (repeatable, in order of preference)");
	if (d->mode == TSM_MODE_SITE_BASED && d->nmanagement_points != 1)
		broken(c, "site-based media names exactly one management point; %zu given",
		       d->nmanagement_points);
	if (https && !d->cert_pfx_path)
		broken(c, "HTTPS management points need a PKI certificate: --certificate FILE.p12"
			  " issued by your CA (a self-signed media certificate is refused by HTTPS"
			  " site systems)");
	if (https && site.type == TSM_SITE_CAS)
		broken(c, "media for HTTPS site systems is created for a primary site, not the"
			  " central administration site %s", site.code);
	if (https && d->mode == TSM_MODE_DYNAMIC) {
		char **codes = NULL;
		size_t n = 0;

		if (tsm_site_untrusting_primaries(store, d->site, &codes, &n) == 0 && n) {
			char list[512] = "";
			size_t len = 0;

			for (size_t i = 0; i < n && len < sizeof(list); i++)
				len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
							i ? ", " : "", codes[i]);
			broken(c, "dynamic media needs every primary site to trust site %s's root CA;"
				  " %s do(es) not: add the CA to them, or use --mode site-based",
			       d->site, list);
		}
		tsm_site_codes_free(codes);
	}
	tsm_site_clear(&site);
}

static void check_certificate_dates(struct check *c)
{
	const struct tsm_media_def *d = c->d;

	if (!d->cert_self_signed)
		return;
	if (d->cert_valid_from >= d->cert_valid_until)
		broken(c, "the certificate's dates are inverted: --certificate-valid-from is not"
			  " before --certificate-valid-until");
	else if (d->cert_valid_until <= (int64_t)time(NULL))
		broken(c, "the certificate would already be expired (--certificate-valid-until is"
			  " past)");
}

/* What stand-alone media carries: a task sequence with a boot image, all
 * its content, and no step that needs a site. */
static void check_task_sequence(struct check *c, struct tsm_store *store)
{
	const struct tsm_media_def *d = c->d;
	struct tsm_ts_info ts = { 0 };
	char **blockers = NULL;
	size_t nblockers = 0;

	if (d->type != TSM_MEDIA_STANDALONE && d->type != TSM_MEDIA_PRESTAGED)
		return;
	if (!d->task_sequence) {
		if (d->type == TSM_MEDIA_STANDALONE)
			broken(c, "--task-sequence ID is required");
		return;
	}
	if (tsm_ts_get(store, d->task_sequence, &ts) < 0) {
		broken(c, "task sequence %s is not in the store (tsmedia ts import)", d->task_sequence);
		return;
	}
	if (d->type == TSM_MEDIA_STANDALONE && !ts.boot_image && !d->boot_image)
		broken(c, "task sequence %s has no boot image: stand-alone media needs one (import it"
			  " with --boot-image, or give --boot-image)", ts.id);
	{
		char missing[1024] = "";
		size_t len = 0, nmissing = 0;

		for (size_t i = 0; i < ts.npackages; i++) {
			if (tsm_content_exists(store, ts.packages[i]))
				continue;
			nmissing++;
			if (len < sizeof(missing))
				len += (size_t)snprintf(missing + len, sizeof(missing) - len, "%s%s",
							nmissing > 1 ? ", " : "", ts.packages[i]);
		}
		if (nmissing)
			broken(c, "task sequence %s references content the store lacks: %s (import"
				  " each with 'tsmedia content add --id ID')", ts.id, missing);
	}
	if (d->type == TSM_MEDIA_STANDALONE &&
	    tsm_ts_standalone_blockers(&ts, &blockers, &nblockers) == 0 && nblockers) {
		for (size_t i = 0; i < nblockers; i++)
			broken(c, "step '%s' needs a site and cannot run from stand-alone media",
			       blockers[i]);
	}
	for (size_t i = 0; i < nblockers; i++)
		free(blockers[i]);
	free(blockers);
	tsm_ts_info_clear(&ts);
}

/* The boot image (named, else the task sequence's) can boot the media. */
static void check_boot(struct check *c, struct tsm_store *store)
{
	struct tsm_ts_info ts = { 0 };
	const char *id = c->d->boot_image;
	int n;

	if (!id && c->d->task_sequence && tsm_ts_get(store, c->d->task_sequence, &ts) == 0)
		id = ts.boot_image;
	if (id && tsm_content_exists(store, id) &&
	    (n = tsm_boot_image_check(store, c->d, c->type, id)) != 0)
		c->errors += n > 0 ? n : 1;
	tsm_ts_info_clear(&ts);
}

int tsm_media_check_rules(struct tsm_store *store, const struct tsm_media_def *d)
{
	struct check c = { d, tsm_media_type_name(d->type), 0 };

	if (d->type == TSM_MEDIA_DATA)
		return 0;
	check_not_for_type(&c);
	check_password(&c);
	check_text_limits(&c);
	check_certificate_dates(&c);
	if (d->type != TSM_MEDIA_STANDALONE && !d->boot_image)
		broken(&c, "--boot-image ID is required");
	check_content_exists(&c, store, d->boot_image, "boot image");
	check_content_exists(&c, store, d->os_image, "OS image");
	check_content_exists(&c, store, d->prestart_files, "prestart files");
	for (size_t i = 0; i < d->nextra_content; i++)
		check_content_exists(&c, store, d->extra_content[i], "content");
	if (d->type == TSM_MEDIA_PRESTAGED && !d->os_image)
		broken(&c, "--os-image ID is required");
	check_site(&c, store);
	check_task_sequence(&c, store);
	c.errors += tsm_media_apps_check(store, d); /* media/apps.c */
	check_boot(&c, store);
	return c.errors ? -EINVAL : 0;
}
