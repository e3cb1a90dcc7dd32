/* The rules of task sequence media, checked before anything is stored.
 * Every broken rule is reported (not only the first), each naming what is
 * wrong, and the save fails.
 *
 * Sources (Microsoft Learn, Configuration Manager), cited by tag beside each rule:
 *  [TSM]  "Create task sequence media": the four media types, what each carries.
 *  [BOOT] "Create bootable media": the Security page (a self-signed media certificate, the
 *         default, or an imported PKI certificate; "HTTPS-enabled" site systems need the PKI
 *         one), dynamic or site-based media and their management points.
 *  [SA]   "Create stand-alone media": the actions stand-alone media do not support, media
 *         size and spanning, the Customization page (variables, prestart command).
 *  [PRE]  "Create prestaged media": a WIM file applied to a disk.
 *  [CAP]  "Create capture media".
 *  [NB]/[NS]/[NP]/[NC] the New-CMBootableMedia / New-CMStandaloneMedia / New-CMPrestageMedia /
 *         New-CMCaptureMedia cmdlet references: which parameters each media type takes
 *         (New-CMStandaloneMedia has no -UserDeviceAffinity; -MediaSize belongs to the media
 *         written to CD/DVD sets, not to the prestaged WIM).
 *  [PKI]  "PKI certificate requirements for Configuration Manager", client certificate for
 *         task sequence media: "Enhanced Key Usage value must contain Client Authentication
 *         (1.3.6.1.5.5.7.3.2)", issued by a CA the site trusts.
 *  [TSV]  "Task sequence variables" (built-in variables): names that begin with an underscore
 *         are read-only; _SMSTSMediaType is FullMedia on stand-alone media.
 *  [PRC]  "Prestart commands for task sequence media": the command runs with the prestart
 *         files' package as its working directory, so what it runs is among those files. */
#include "media/media_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <strings.h>

#include "tsmedia/content.h"
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
	/* [PRE]: prestaged media is one WIM, never spanned; [NP] has no media size. */
	if (t == TSM_MEDIA_PRESTAGED && d->volume_size_given)
		broken(c, "--size belongs to CD/DVD media sets; prestaged media is one WIM file");
	/* [NS]: New-CMStandaloneMedia takes no user device affinity. */
	if (t == TSM_MEDIA_STANDALONE && d->user_device_affinity != TSM_UDA_NONE)
		broken(c, "--user-device-affinity is not supported on stand-alone media, which reach"
			  " no site");
	if (t != TSM_MEDIA_STANDALONE && d->nallowed_steps)
		broken(c, "--allow-step belongs to stand-alone media");
}

/* Data media is an ISO of the content given with --content: none of the task sequence media's
 * options reaches it, so each is refused rather than stored and ignored. */
static void check_data_options(struct check *c)
{
	const struct tsm_media_def *d = c->d;
	const struct {
		bool given;
		const char *option;
	} ts_only[] = {
		{ d->task_sequence != NULL, "--task-sequence" },
		{ d->boot_image != NULL, "--boot-image" },
		{ d->os_image || d->os_image_index, "--os-image/--os-image-index" },
		{ d->nextra_content || d->napplications, "--application/--package/--driver-package" },
		{ d->include_dependencies, "--include-dependencies" },
		{ d->site || d->nmanagement_points || d->mode == TSM_MODE_SITE_BASED,
		  "--site/--management-point/--mode" },
		{ d->password || d->no_password || d->allow_weak_password || d->cipher != TSM_MEDIA_AES256,
		  "--password-file/--no-password/--allow-weak-password/--media-cipher" },
		{ d->cert_pfx_path || d->cert_self_signed || d->cert_valid_from || d->cert_valid_until,
		  "--certificate/--self-signed-certificate" },
		{ d->nvariables, "--variable" },
		{ d->prestart_command || d->prestart_files, "--prestart-command/--prestart-files" },
		{ d->unattended || d->unknown_computers || d->user_device_affinity != TSM_UDA_NONE,
		  "--unattended/--unknown-computers/--user-device-affinity" },
		{ d->valid_from || d->valid_until || d->nallowed_steps,
		  "--valid-from/--valid-until/--allow-step" },
		{ d->created_by || d->version_text || d->comment, "--created-by/--version/--comment" },
	};

	for (size_t i = 0; i < sizeof(ts_only) / sizeof(ts_only[0]); i++)
		if (ts_only[i].given)
			broken(c, "data media is an ISO of its --content and nothing else: %s belongs to"
				  " task sequence media (leave it out)", ts_only[i].option);
}

/* [BOOT]: one media certificate, self-signed or imported; its dates belong to the self-signed
 * one. */
static void check_certificate_options(struct check *c)
{
	const struct tsm_media_def *d = c->d;

	if (d->cert_self_signed && d->cert_pfx_path)
		broken(c, "--self-signed-certificate and --certificate contradict each other: the media"
			  " carries one certificate, made here or imported");
	if (!d->cert_self_signed && (d->cert_valid_from || d->cert_valid_until))
		broken(c, "--certificate-valid-from/--certificate-valid-until date a self-signed"
			  " certificate: give --self-signed-certificate (an imported certificate keeps"
			  " its own dates)");
	if (d->cert_pfx_path && !d->cert_password)
		broken(c, "--certificate %s needs --certificate-password-file FILE: the password of"
			  " the PKCS#12 file", d->cert_pfx_path);
}

/* The kind of content each option names ([TSM]: boot images, OS images, packages, driver
 * packages and applications are each their own kind of object). */
static void check_content_kind(struct check *c, struct tsm_store *store, const char *id,
			       const char *option, const enum tsm_content_kind *want, size_t nwant)
{
	struct tsm_content_item item;
	char wanted[128] = "";
	size_t len = 0;

	if (!id || !tsm_content_exists(store, id) || tsm_content_get(store, id, &item) < 0)
		return;
	for (size_t i = 0; i < nwant; i++) {
		if (item.kind == want[i]) {
			tsm_content_item_clear(&item);
			return;
		}
		len += (size_t)snprintf(wanted + len, sizeof(wanted) - len, "%s%s",
					i ? _(" or ") : "", tsm_content_kind_name(want[i]));
		if (len >= sizeof(wanted))
			break;
	}
	broken(c, "%s %s is a %s, not a %s", option, id, tsm_content_kind_name(item.kind), wanted);
	tsm_content_item_clear(&item);
}

static void check_content_kinds(struct check *c, struct tsm_store *store)
{
	const struct tsm_media_def *d = c->d;
	static const enum tsm_content_kind boot[] = { TSM_KIND_BOOT_IMAGE };
	static const enum tsm_content_kind os[] = { TSM_KIND_OS_IMAGE };
	static const enum tsm_content_kind prestart[] = { TSM_KIND_PRESTART, TSM_KIND_PACKAGE };
	static const enum tsm_content_kind extra[] = { TSM_KIND_APPLICATION, TSM_KIND_PACKAGE,
						       TSM_KIND_DRIVER_PACKAGE };
	static const char *const extra_option[] = {
		[TSM_KIND_APPLICATION] = "--application", [TSM_KIND_PACKAGE] = "--package",
		[TSM_KIND_DRIVER_PACKAGE] = "--driver-package",
	};

	check_content_kind(c, store, d->boot_image, "--boot-image", boot, 1);
	check_content_kind(c, store, d->os_image, "--os-image", os, 1);
	check_content_kind(c, store, d->prestart_files, "--prestart-files", prestart, 2);
	for (size_t i = 0; i < d->nextra_content; i++) {
		unsigned slot = d->extra_slots ? d->extra_slots[i] : 0;

		if (slot > 0 && slot - 1 < sizeof(extra_option) / sizeof(extra_option[0]) &&
		    extra_option[slot - 1]) {
			enum tsm_content_kind k = (enum tsm_content_kind)(slot - 1);

			check_content_kind(c, store, d->extra_content[i], extra_option[k], &k, 1);
		} else {
			check_content_kind(c, store, d->extra_content[i], "content", extra, 3);
		}
	}
}

/* Names the media sets itself (render: cmvars.c, cmrender.c). */
static const char *const media_variables[] = {
	"SMSTSMP", "SMSTSLocationMPs", "SMSTSAssignUsersMode",
};

/* [TSV]: names that begin with an underscore are read-only, the built-in variables; the media
 * sets _SMSTS* and the names above itself.  A name is printable ASCII without spaces or '='
 * (chosen here: Variables.dat is XML, and task sequence conditions name variables bare). */
static void check_variables(struct check *c)
{
	const struct tsm_media_def *d = c->d;

	for (size_t i = 0; i < d->nvariables; i++) {
		const char *v = d->variables[i], *eq = strchr(v, '=');
		size_t len = eq ? (size_t)(eq - v) : 0;
		bool ok = true;

		if (!eq || eq == v) {
			broken(c, "--variable '%s' is not NAME=VALUE", v);
			continue;
		}
		for (size_t k = 0; k < len; k++)
			ok &= v[k] > 0x20 && v[k] < 0x7f;
		if (!ok || len > 255) {
			broken(c, "--variable %.*s: a name is 1 to 255 printable ASCII characters"
				  " without spaces", (int)(len > 64 ? 64 : len), v);
			continue;
		}
		if (v[0] == '_') {
			broken(c, "--variable %.*s: names beginning with '_' are Configuration"
				  " Manager's read-only built-in variables", (int)len, v);
			continue;
		}
		for (size_t k = 0; k < sizeof(media_variables) / sizeof(media_variables[0]); k++)
			if (strlen(media_variables[k]) == len &&
			    strncasecmp(v, media_variables[k], len) == 0)
				broken(c, "--variable %.*s: the media sets %s itself", (int)len, v,
				       media_variables[k]);
		for (size_t k = 0; k < i; k++) {
			const char *w = d->variables[k], *weq = strchr(w, '=');

			if (weq && (size_t)(weq - w) == len && strncasecmp(v, w, len) == 0) {
				broken(c, "--variable %.*s is given twice (names are not case-sensitive)",
				       (int)len, v);
				break;
			}
		}
	}
}

/* WinPE's own programs, which a prestart command may run without shipping them ([PRC]). */
static const char *const winpe_programs[] = {
	"cmd.exe", "cmd", "powershell.exe", "powershell", "cscript.exe", "cscript", "wscript.exe",
	"wscript", "mshta.exe", "mshta", "wpeutil.exe", "wpeutil", "reg.exe", "reg",
	"diskpart.exe", "diskpart", "xcopy.exe", "xcopy", "robocopy.exe", "robocopy",
};

static bool file_like(const char *w, size_t n)
{
	static const char *const ext[] = { ".exe", ".cmd", ".bat", ".ps1", ".vbs", ".wsf", ".js",
					   ".hta" };

	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (n > strlen(ext[i]) && strncasecmp(w + n - strlen(ext[i]), ext[i],
						      strlen(ext[i])) == 0)
			return true;
	return false;
}

/* [PRC]: each program or script the prestart command names by a relative path is in the
 * prestart files, where the command runs. */
static void check_prestart(struct check *c, struct tsm_store *store)
{
	const struct tsm_media_def *d = c->d;
	struct tsm_tree_entry *entries = NULL;
	size_t nentries = 0;
	const char *p = d->prestart_command;

	if (!p)
		return;
	if (d->prestart_files && (!tsm_content_exists(store, d->prestart_files) ||
				  tsm_content_tree(store, d->prestart_files, 0, &entries,
						   &nentries) < 0))
		return; /* reported as missing */
	while (*p) {
		char word[1024];
		size_t n = 0;
		bool quoted = false, found = false, system = false;

		while (*p == ' ' || *p == '\t')
			p++;
		for (; *p && (quoted || (*p != ' ' && *p != '\t')); p++) {
			if (*p == '"')
				quoted = !quoted;
			else if (n + 1 < sizeof(word))
				word[n++] = *p == '\\' ? '/' : *p;
		}
		word[n] = '\0';
		if (!n || !file_like(word, n) || strchr(word, '%') || strchr(word, ':') ||
		    word[0] == '/')
			continue; /* not a file, or an absolute path or variable: not ours to check */
		for (size_t i = 0; i < sizeof(winpe_programs) / sizeof(winpe_programs[0]); i++)
			system |= strcasecmp(word, winpe_programs[i]) == 0;
		if (system)
			continue;
		for (size_t i = 0; i < nentries && !found; i++)
			found = entries[i].type == TSM_ENTRY_FILE &&
				strcasecmp(entries[i].path, word + (strncmp(word, "./", 2) ? 0 : 2)) == 0;
		if (found)
			continue;
		if (d->prestart_files)
			broken(c, "the prestart command runs %s, which is not in the prestart files %s"
				  " (the command runs in their folder)", word, d->prestart_files);
		else
			broken(c, "the prestart command runs %s, which is not on the media: give the"
				  " files it needs with --prestart-files ID", word);
	}
	tsm_tree_entries_free(entries, nentries);
}


static void check_content_exists(struct check *c, struct tsm_store *store, const char *id,
				 const char *what)
{
	if (id && !tsm_content_exists(store, id))
		broken(c, "%s %s is not in the store", _(what), id);
}

static void check_password(struct check *c)
{
	const struct tsm_media_def *d = c->d;

	if (d->type == TSM_MEDIA_CAPTURE)
		return;
	if (!d->password && !d->no_password && !d->keep_protection)
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
	else if (d->valid_until && d->valid_until <= (int64_t)time(NULL))
		tsm_warn("media '%s' (%s): --valid-until is already past: the media will not run",
			 d->name, c->type);
}

/* The sites of the store that list management point @url, as "PS1, PS2" (empty: none). */
static void mp_sites(const struct tsm_site *sites, size_t nsites, const char *url, char *out,
		     size_t out_len)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < nsites; i++)
		for (size_t k = 0; k < sites[i].nmps; k++)
			if (strcasecmp(sites[i].mps[k], url) == 0 && len < out_len)
				len += (size_t)snprintf(out + len, out_len - len, "%s%s",
							len ? ", " : "", sites[i].code);
}

/* [BOOT]: site-based media use the management point of the site they are made for; dynamic
 * media any of the hierarchy's, in order.  A management point no site lists is no site's. */
static void check_management_points(struct check *c, struct tsm_store *store,
				    const struct tsm_site *site)
{
	const struct tsm_media_def *d = c->d;
	struct tsm_site *sites = NULL;
	size_t nsites = 0;

	if (tsm_site_list(store, &sites, &nsites) < 0)
		return;
	for (size_t i = 0; i < d->nmanagement_points; i++) {
		const char *mp = d->management_points[i];
		char owners[256];
		bool dup = false;

		for (size_t k = 0; k < i && !dup; k++)
			dup = strcasecmp(d->management_points[k], mp) == 0;
		if (dup) {
			broken(c, "management point %s is given twice", mp);
			continue;
		}
		if (tsm_mp_check(mp) < 0)
			continue; /* named below */
		mp_sites(sites, nsites, mp, owners, sizeof(owners));
		if (!owners[0])
			broken(c, "management point %s belongs to no site (tsmedia site edit CODE"
				  " --add-mp URL)", mp);
		else if (d->mode == TSM_MODE_SITE_BASED && !strstr(owners, site->code))
			broken(c, "site-based media for site %s names management point %s, which is"
				  " site %s's, not %s's", site->code, mp, owners, site->code);
	}
	tsm_site_list_free(sites, nsites);
}

/* [PKI], [BOOT]: an imported media certificate is a client authentication certificate issued by
 * a CA the media's site trusts; HTTPS site systems refuse a self-signed one. */
static void check_imported_certificate(struct check *c, const struct tsm_site *site, bool https)
{
	const struct tsm_media_def *d = c->d;
	struct tsm_cert cert;
	char why[256];
	int rc;

	if (!d->cert_pfx_path || !d->cert_password)
		return;
	if (tsm_cert_load_pkcs12(d->cert_pfx_path, d->cert_password, &cert) < 0) {
		c->errors++; /* the problem is logged, naming the file */
		return;
	}
	if (!cert.client_auth)
		broken(c, "%s: the certificate's Enhanced Key Usage lacks Client Authentication"
			  " (1.3.6.1.5.5.7.3.2), which a media certificate needs", d->cert_pfx_path);
	if (cert.self_signed && https)
		broken(c, "%s is self-signed: HTTPS management points need a certificate issued by"
			  " a CA the site trusts", d->cert_pfx_path);
	else if (!cert.self_signed && site && site->nroot_cas == 0)
		broken(c, "%s is issued by %s, but site %s trusts no root CA (tsmedia site edit %s"
			  " --add-root-ca FILE)", d->cert_pfx_path, cert.issuer, site->code,
		       site->code);
	else if (!cert.self_signed && site &&
		 (rc = tsm_cert_verify_roots(&cert, site->root_cas, site->nroot_cas, why,
					     sizeof(why))) < 0)
		broken(c, "%s is issued by %s, which no root CA of site %s vouches for (%s)",
		       d->cert_pfx_path, cert.issuer, site->code,
		       rc == -EKEYREJECTED ? why : "out of memory");
	tsm_cert_clear(&cert);
}

/* Management points, sites and certificates of network media. */
static void check_site(struct check *c, struct tsm_store *store)
{
	const struct tsm_media_def *d = c->d;
	struct tsm_site site = { 0 };
	bool https = false;
	/* What the media carries: a certificate given now, or the edited version's. */
	bool pki = d->cert_pfx_path || (!d->cert_self_signed && d->cert_summary && d->cert_is_pki);

	if (d->type != TSM_MEDIA_BOOTABLE && d->type != TSM_MEDIA_PRESTAGED)
		return;
	for (size_t i = 0; i < d->nmanagement_points; i++)
		https |= tsm_mp_is_https(d->management_points[i]);
	if (!d->site) {
		broken(c, "--site CODE is required: the site the media is created for");
		check_imported_certificate(c, NULL, https);
		return;
	}
	if (tsm_site_get(store, d->site, &site) < 0) {
		broken(c, "site %s is not defined (tsmedia site add)", d->site);
		check_imported_certificate(c, NULL, https);
		return;
	}
	for (size_t i = 0; i < d->nmanagement_points; i++)
		if (tsm_mp_check(d->management_points[i]) < 0)
			broken(c, "management point '%s' is not an http:// or https:// URL",
			       d->management_points[i]);
	if (d->nmanagement_points == 0)
		broken(c, "--management-point URL is required (repeatable, in order of preference)");
	if (d->mode == TSM_MODE_SITE_BASED && d->nmanagement_points != 1)
		broken(c, "site-based media names exactly one management point; %zu given",
		       d->nmanagement_points);
	check_management_points(c, store, &site);
	if (https && !pki)
		broken(c, "HTTPS management points need a PKI certificate: --certificate FILE.p12"
			  " issued by your CA (a self-signed media certificate is refused by HTTPS"
			  " site systems)");
	check_imported_certificate(c, &site, https);
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

/* Whether blocker line @line ("group/step (type...)", tsm_ts_standalone_blockers) is the step
 * @name: its name, or its path with the groups above it. */
static bool step_matches(const char *line, const char *name)
{
	size_t n = strlen(name);
	const char *at = strstr(line, name);

	for (; at; at = strstr(at + 1, name))
		if ((at == line || at[-1] == '/') && strncmp(at + n, " (", 2) == 0)
			return true;
	return false;
}

static bool step_allowed(const struct tsm_media_def *d, const char *line)
{
	for (size_t k = 0; k < d->nallowed_steps; k++)
		if (step_matches(line, d->allowed_steps[k]))
			return true;
	return false;
}

/* What stand-alone media carries: a task sequence with a boot image, all
 * its content, and no step that needs a site. */
static void check_task_sequence(struct check *c, struct tsm_store *store)
{
	const struct tsm_media_def *d = c->d;
	struct tsm_ts_info ts = { 0 };
	char **blockers = NULL, **shown = NULL;
	size_t nblockers = 0, nshown = 0;

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
	/* [SA]: actions stand-alone media do not support, unless their condition keeps them off
	 * stand-alone media (ts.c), or the administrator allows them by name (--allow-step,
	 * recorded on the media: the step then fails or is skipped at run time, as they chose). */
	/* The English lines are matched against --allow-step; the message names the step
	 * in the locale's language (the same steps in the same order). */
	if (d->type == TSM_MEDIA_STANDALONE &&
	    tsm_ts_standalone_refused(&ts, &blockers, &nblockers) == 0 &&
	    tsm_ts_blocker_lines(&ts, TSM_TS_BLOCKERS_REFUSED | TSM_TS_BLOCKERS_LOCALIZED, &shown,
				 &nshown) == 0 && nshown == nblockers) {
		for (size_t i = 0; i < nblockers; i++)
			if (!step_allowed(d, blockers[i]))
				broken(c, "step '%s' needs a site and cannot run from stand-alone media"
					  " (--allow-step NAME to keep it)", shown[i]);
		for (size_t k = 0; k < d->nallowed_steps; k++) {
			bool used = false;

			for (size_t i = 0; i < nblockers && !used; i++)
				used = step_matches(blockers[i], d->allowed_steps[k]);
			if (!used)
				broken(c, "--allow-step '%s': task sequence %s has no step of that name"
					  " that stand-alone media would refuse", d->allowed_steps[k], ts.id);
		}
	}
	tsm_ts_strings_free(blockers, nblockers);
	tsm_ts_strings_free(shown, nshown);
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

	if (d->type == TSM_MEDIA_DATA) {
		check_data_options(&c);
		return c.errors ? -EINVAL : 0;
	}
	check_not_for_type(&c);
	check_certificate_options(&c);
	check_password(&c);
	check_text_limits(&c);
	check_variables(&c);
	check_certificate_dates(&c);
	if (d->type != TSM_MEDIA_STANDALONE && !d->boot_image)
		broken(&c, "--boot-image ID is required");
	check_content_exists(&c, store, d->boot_image, N_("boot image"));
	check_content_exists(&c, store, d->os_image, N_("OS image"));
	check_content_exists(&c, store, d->prestart_files, N_("prestart files"));
	for (size_t i = 0; i < d->nextra_content; i++)
		check_content_exists(&c, store, d->extra_content[i], N_("content"));
	if (d->type == TSM_MEDIA_PRESTAGED && !d->os_image)
		broken(&c, "--os-image ID is required");
	check_content_kinds(&c, store);
	check_prestart(&c, store);
	check_site(&c, store);
	check_task_sequence(&c, store);
	c.errors += tsm_media_apps_check(store, d); /* media/apps.c */
	check_boot(&c, store);
	return c.errors ? -EINVAL : 0;
}
