/* tsmedia site add | edit | list | show | rm, and tsmedia cert create | check */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"
#include "tsmedia/site.h"
#include "tsmedia/store.h"

static const char site_help[] = N_(
	"Usage: tsmedia [--store DIR] site COMMAND [ARGS]\n"
	"\n"
	"  add --code CODE --type primary|cas [--parent CODE] [--root-ca FILE ...]\n"
	"      [--management-point URL ...] [site values]   add a site\n"
	"  edit CODE [--add-mp URL] [--rm-mp URL] [--add-root-ca FILE]\n"
	"      [--rm-root-ca SHA256] [site values] [--clear NAME]\n"
	"                              change its management points, root CAs and values\n"
	"  list [--json]               every site\n"
	"  show CODE [--json]          a site, and the primary sites of its hierarchy\n"
	"                              that do not trust its root CAs\n"
	"  rm CODE                     remove a site (not while it is a parent)\n"
	"\n"
	"A hierarchy is a central administration site (cas) with primary sites below\n"
	"it, or a stand-alone primary site.  Site codes are three letters or digits.\n");

static const char add_help[] = N_(
	"Usage: tsmedia [--store DIR] site add --code CODE --type primary|cas\n"
	"                                      [--parent CODE] [--root-ca FILE ...]\n"
	"                                      [--management-point URL ...]\n"
	"\n"
	"  --code CODE      three letters or digits, like PS1\n"
	"  --type TYPE      primary, or cas (central administration site)\n"
	"  --parent CODE    a primary site's central administration site, which must\n"
	"                   exist; a cas has none, a stand-alone primary none\n"
	"  --root-ca FILE   a root CA certificate the site trusts (PEM, one or more\n"
	"                   certificates, or DER); each must be a CA certificate\n"
	"                   (basicConstraints CA:TRUE).  Repeatable\n"
	"  --management-point URL\n"
	"                   a management point, http://HOST[:PORT][/PATH] or https://...\n"
	"                   Repeatable; the order is kept (clients try them in order).\n"
	"                   Primary sites only (--mp is the same option, as in media\n"
	"                   create)\n"
	"\n"
	"and the site values below.  Nothing is stored unless everything is valid.\n\n");

static const char values_help[] = N_(
	"Site values: what only the site knows and the bootable and prestaged media made\n"
	"for it carry in their variables (Configuration Manager refuses media without\n"
	"them; so does tsmedia, naming the missing ones).  Copy them from the site, or\n"
	"from a media it made (tsmedia media inspect --show-secrets):\n"
	"  --http-port N, --https-port N     the site's client ports (_SMSTSHTTPPort, ...)\n"
	"  --iis-ssl-state N                 its IISSSLState (_SMSTSIISSSLState)\n"
	"  --signing-certificate HEX         _SMSTSSiteSigningCertificate\n"
	"  --public-root-key HEX             _SMSTSPublicRootKey\n"
	"  --root-ca-certs TEXT              _SMSTSRootCACerts\n"
	"  --use-first-cert VALUE            _SMSTSUseFirstCert\n"
	"  --x64-unknown-guid GUID, --x86-unknown-guid GUID\n"
	"                                    the unknown-computer records media with\n"
	"                                    --unknown-computers use\n");

static const char edit_help[] = N_(
	"Usage: tsmedia [--store DIR] site edit CODE [--add-mp URL] [--rm-mp URL]\n"
	"                                            [--add-root-ca FILE] [--rm-root-ca SHA256]\n"
	"\n"
	"Changes a site's management points and root CAs in one step: removals first,\n"
	"then additions at the end of the lists.  Each option is repeatable.  A root CA\n"
	"is named by the SHA-256 thumbprint 'site show' prints (colons allowed).  A site\n"
	"value is set (replacing the one there) or removed with --clear NAME (http-port,\n"
	"...).\n\n");

static const char list_help[] = N_(
	"Usage: tsmedia [--store DIR] site list [--json]\n\n"
	"Lists every site: code, type, parent, management points and root CAs.\n");

static const char show_help[] = N_(
	"Usage: tsmedia [--store DIR] site show CODE [--json]\n\n"
	"Shows a site: its type and parent, management points in order (and which use\n"
	"HTTPS), its root CAs, and the primary sites of its hierarchy that trust none\n"
	"of them (dynamic media made at this site needs that list empty).\n");

static const char rm_help[] = N_(
	"Usage: tsmedia [--store DIR] site rm CODE\n\n"
	"Removes a site.  A central administration site is not removed while primary\n"
	"sites have it as their parent.\n");

/* getopt values of the site value options: OPT_VALUE + enum tsm_site_value. */
#define OPT_VALUE 1000
#define OPT_CLEAR 999

/* @fixed followed by one option per site value (and --clear when @clear): malloc'ed. */
static struct option *value_options(const struct option *fixed, size_t nfixed, bool clear)
{
	struct option *o = calloc(nfixed + TSM_SITE_VALUE_COUNT + 2, sizeof(*o));
	size_t n = nfixed;

	if (!o)
		return NULL;
	memcpy(o, fixed, nfixed * sizeof(*o));
	for (int i = 0; i < TSM_SITE_VALUE_COUNT; i++)
		o[n++] = (struct option){ tsm_site_value_name(i), required_argument, NULL,
					  OPT_VALUE + i };
	if (clear)
		o[n++] = (struct option){ "clear", required_argument, NULL, OPT_CLEAR };
	return o;
}

/* --clear NAME: the value's index, or -1 (usage error printed). */
static int value_by_name(const char *name)
{
	for (int i = 0; i < TSM_SITE_VALUE_COUNT; i++)
		if (strcmp(name, tsm_site_value_name(i)) == 0)
			return i;
	cli_usage_error("site edit ", "--clear '%s': not a site value (http-port, https-port, ...)",
			name);
	return -1;
}

/* Root CA files, read and checked, appended to @pems. */
static int read_root_cas(const char *path, char ***pems, size_t *n)
{
	char **more;
	size_t nmore;
	int rc = tsm_root_ca_read(path, &more, &nmore);

	if (rc < 0)
		return rc;
	for (size_t i = 0; i < nmore; i++) {
		char **p = realloc(*pems, (*n + 1) * sizeof(**pems));

		if (!p) {
			tsm_pem_list_free(more, nmore);
			return -ENOMEM;
		}
		*pems = p;
		p[(*n)++] = more[i];
		more[i] = NULL;
	}
	tsm_pem_list_free(more, nmore);
	return 0;
}

/* "added primary site PS1 under CAS: 2 management points, 1 root CA" (a cas
 * has no parent: the store refuses one). */
static void print_added(const struct tsm_site *site, size_t npems)
{
	char mps[64], cas[64];

	snprintf(mps, sizeof(mps),
		 dngettext(TSM_TEXTDOMAIN, "%zu management point", "%zu management points", site->nmps),
		 site->nmps);
	snprintf(cas, sizeof(cas), dngettext(TSM_TEXTDOMAIN, "%zu root CA", "%zu root CAs", npems),
		 npems);
	if (site->type == TSM_SITE_CAS)
		printf(_("added central administration site %s: %s, %s\n"), site->code, mps, cas);
	else if (site->parent[0])
		printf(_("added primary site %s under %s: %s, %s\n"), site->code, site->parent, mps,
		       cas);
	else
		printf(_("added primary site %s: %s, %s\n"), site->code, mps, cas);
}

static int site_add(struct cli *cli, int argc, char **argv)
{
	static const struct option fixed[] = {
		{ "code", required_argument, NULL, 'c' },
		{ "type", required_argument, NULL, 't' },
		{ "parent", required_argument, NULL, 'p' },
		{ "root-ca", required_argument, NULL, 'r' },
		{ "management-point", required_argument, NULL, 'm' },
		{ "mp", required_argument, NULL, 'm' }, /* the same, shorter */
		{ "help", no_argument, NULL, 'h' },
	};
	struct option *options = value_options(fixed, sizeof(fixed) / sizeof(fixed[0]), false);
	struct tsm_site site = { .type = TSM_SITE_PRIMARY };
	const char *code = NULL, *parent = NULL, **ca_files = NULL;
	char **pems = NULL;
	size_t nca_files = 0, npems = 0;
	struct tsm_store *store;
	bool have_type = false;
	int c, rc, ret = 1;

	if (!options || !(ca_files = calloc((size_t)argc, sizeof(*ca_files))) ||
	    !(site.mps = calloc((size_t)argc, sizeof(*site.mps)))) {
		free(ca_files);
		free(options);
		return 1;
	}
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'c': code = optarg; break;
		case 't':
			if (tsm_site_type_parse(optarg, &site.type) < 0) {
				ret = cli_usage_error("site add ", "invalid --type '%s': primary or cas",
						      optarg);
				goto out_free;
			}
			have_type = true;
			break;
		case 'p': parent = optarg; break;
		case 'r': ca_files[nca_files++] = optarg; break;
		case 'm': site.mps[site.nmps++] = optarg; break;
		case 'h': fputs(_(add_help), stdout); fputs(_(values_help), stdout); ret = 0; goto out_free;
		default:
			if (c >= OPT_VALUE && c < OPT_VALUE + TSM_SITE_VALUE_COUNT) {
				site.values[c - OPT_VALUE] = optarg;
				break;
			}
			ret = cli_bad_option("site add ", argv);
			goto out_free;
		}
	}
	if (optind != argc) {
		ret = cli_usage_error("site add ", "unexpected argument '%s'", argv[optind]);
		goto out_free;
	}
	if (!code || !have_type) {
		ret = cli_usage_error("site add ", !code ? "--code is required"
						    : N_("--type is required (primary or cas)"));
		goto out_free;
	}
	if (tsm_site_code_normalize(code, site.code) < 0)
		goto out_free;
	if (parent && tsm_site_code_normalize(parent, site.parent) < 0) {
		tsm_error("site %s: --parent is not a site code", site.code);
		goto out_free;
	}
	for (size_t i = 0; i < nca_files; i++) {
		if (read_root_cas(ca_files[i], &pems, &npems) < 0) {
			tsm_error("site %s was not added", code);
			goto out_free;
		}
	}
	site.root_cas = pems;
	site.nroot_cas = npems;
	if (cli_open_store(cli, &store) < 0)
		goto out_free;
	rc = tsm_site_add(store, &site);
	tsm_store_close(store);
	if (rc < 0) {
		if (rc != -EEXIST)
			tsm_error("site %s was not added", code);
		goto out_free;
	}
	if (!cli->quiet)
		print_added(&site, npems);
	ret = 0;
out_free:
	tsm_pem_list_free(pems, npems);
	free(site.mps);
	free(ca_files);
	free(options);
	return ret;
}

static int site_edit(struct cli *cli, int argc, char **argv)
{
	static const struct option fixed[] = {
		{ "add-mp", required_argument, NULL, 'm' },
		{ "rm-mp", required_argument, NULL, 'M' },
		{ "add-root-ca", required_argument, NULL, 'r' },
		{ "rm-root-ca", required_argument, NULL, 'R' },
		{ "help", no_argument, NULL, 'h' },
	};
	struct option *options = value_options(fixed, sizeof(fixed) / sizeof(fixed[0]), true);
	const char **add_mps, **rm_mps, **ca_files, **rm_cas;
	size_t nadd_mps = 0, nrm_mps = 0, nca_files = 0, nrm_cas = 0, npems = 0, nvalues = 0;
	char **pems = NULL;
	struct tsm_site_edit e = { 0 };
	struct tsm_store *store;
	int c, rc, ret = 1;

	add_mps = calloc((size_t)argc, sizeof(*add_mps));
	rm_mps = calloc((size_t)argc, sizeof(*rm_mps));
	ca_files = calloc((size_t)argc, sizeof(*ca_files));
	rm_cas = calloc((size_t)argc, sizeof(*rm_cas));
	if (!options || !add_mps || !rm_mps || !ca_files || !rm_cas)
		goto out_free;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		int v;

		switch (c) {
		case 'm': add_mps[nadd_mps++] = optarg; break;
		case 'M': rm_mps[nrm_mps++] = optarg; break;
		case 'r': ca_files[nca_files++] = optarg; break;
		case 'R': rm_cas[nrm_cas++] = optarg; break;
		case 'h': fputs(_(edit_help), stdout); fputs(_(values_help), stdout); ret = 0; goto out_free;
		case OPT_CLEAR:
			if ((v = value_by_name(optarg)) < 0) {
				ret = 2;
				goto out_free;
			}
			e.set_values[v] = "";
			nvalues++;
			break;
		default:
			if (c >= OPT_VALUE && c < OPT_VALUE + TSM_SITE_VALUE_COUNT) {
				if (!*optarg) {
					ret = cli_usage_error("site edit ", "--%s needs a value (--clear %s"
							      " removes it)", tsm_site_value_name(c - OPT_VALUE),
							      tsm_site_value_name(c - OPT_VALUE));
					goto out_free;
				}
				e.set_values[c - OPT_VALUE] = optarg;
				nvalues++;
				break;
			}
			ret = cli_bad_option("site edit ", argv);
			goto out_free;
		}
	}
	if (argc - optind != 1) {
		ret = cli_usage_error("site edit ", "expected one site CODE");
		goto out_free;
	}
	if (!nadd_mps && !nrm_mps && !nca_files && !nrm_cas && !nvalues) {
		ret = cli_usage_error("site edit ", "nothing to change: give --add-mp, --rm-mp,"
						    " --add-root-ca, --rm-root-ca or a site value");
		goto out_free;
	}
	for (size_t i = 0; i < nca_files; i++) {
		if (read_root_cas(ca_files[i], &pems, &npems) < 0) {
			tsm_error("site %s was not changed", argv[optind]);
			goto out_free;
		}
	}
	e.add_mps = add_mps;
	e.nadd_mps = nadd_mps;
	e.rm_mps = rm_mps;
	e.nrm_mps = nrm_mps;
	e.add_root_cas = (const char *const *)pems;
	e.nadd_root_cas = npems;
	e.rm_root_cas = rm_cas;
	e.nrm_root_cas = nrm_cas;
	if (cli_open_store(cli, &store) < 0)
		goto out_free;
	rc = tsm_site_edit(store, argv[optind], &e);
	tsm_store_close(store);
	if (rc < 0) {
		tsm_error("site %s was not changed", argv[optind]);
		goto out_free;
	}
	if (!cli->quiet)
		printf(_("changed site %s\n"), argv[optind]);
	ret = 0;
out_free:
	tsm_pem_list_free(pems, npems);
	free(add_mps);
	free(rm_mps);
	free(ca_files);
	free(rm_cas);
	free(options);
	return ret;
}

/* --json and --help, then @nargs operands. */
/* What show and list print of a site beyond the site itself. */
struct site_view {
	const struct tsm_site *site;
	struct tsm_cert *cas;   /* the root CAs described, one per site->root_cas */
	char **untrusting;      /* NULL-terminated */
	size_t nuntrusting;
	char **children;        /* primary sites below a CAS */
	size_t nchildren;
};

static void site_view_clear(struct site_view *v)
{
	for (size_t i = 0; v->cas && i < v->site->nroot_cas; i++)
		tsm_cert_clear(&v->cas[i]);
	free(v->cas);
	tsm_site_codes_free(v->untrusting);
	free(v->children);
	memset(v, 0, sizeof(*v));
}

static int site_view_load(struct tsm_store *store, const struct tsm_site *site,
			  const struct tsm_site *all, size_t nall, struct site_view *v)
{
	int rc;

	memset(v, 0, sizeof(*v));
	v->site = site;
	if (!(v->cas = calloc(site->nroot_cas + 1, sizeof(*v->cas))) ||
	    !(v->children = calloc(nall + 1, sizeof(*v->children)))) {
		site_view_clear(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < site->nroot_cas; i++) {
		char what[64];

		snprintf(what, sizeof(what), _("site %s: root CA %zu"), site->code, i + 1);
		if ((rc = tsm_cert_from_pem(site->root_cas[i], what, &v->cas[i])) < 0) {
			site_view_clear(v);
			return rc;
		}
	}
	for (size_t i = 0; i < nall; i++)
		if (strcmp(all[i].parent, site->code) == 0)
			v->children[v->nchildren++] = (char *)all[i].code;
	if ((rc = tsm_site_untrusting_primaries(store, site->code, &v->untrusting,
						&v->nuntrusting)) < 0) {
		site_view_clear(v);
		return rc;
	}
	return 0;
}

/* The certificate's fields, added to object @o. */
static void json_cert_fields(struct json_object *o, const struct tsm_cert *c)
{
	char nb[32], na[32];

	tsm_date_format(c->not_before, nb);
	tsm_date_format(c->not_after, na);
	json_object_object_add(o, "subject", cli_json_string(c->subject));
	json_object_object_add(o, "issuer", cli_json_string(c->issuer));
	json_object_object_add(o, "not_before", json_object_new_int64(c->not_before));
	json_object_object_add(o, "not_after", json_object_new_int64(c->not_after));
	json_object_object_add(o, "valid_from", json_object_new_string(nb));
	json_object_object_add(o, "valid_until", json_object_new_string(na));
	json_object_object_add(o, "self_signed", json_object_new_boolean(c->self_signed));
	json_object_object_add(o, "sha1", cli_json_string(c->sha1));
	json_object_object_add(o, "sha256", cli_json_string(c->sha256));
}

static struct json_object *json_site(const struct site_view *v)
{
	const struct tsm_site *s = v->site;
	struct json_object *o = json_object_new_object(), *mps = json_object_new_array(),
			   *cas = json_object_new_array(), *values = json_object_new_object();
	bool any_https = false;

	json_object_object_add(o, "code", cli_json_string(s->code));
	json_object_object_add(o, "type", cli_json_string(tsm_site_type_name(s->type)));
	json_object_object_add(o, "parent", cli_json_string(s->parent[0] ? s->parent : NULL));
	for (size_t i = 0; i < s->nmps; i++) {
		struct json_object *mp = json_object_new_object();

		json_object_object_add(mp, "url", cli_json_string(s->mps[i]));
		json_object_object_add(mp, "https", json_object_new_boolean(tsm_mp_is_https(s->mps[i])));
		json_object_array_add(mps, mp);
		any_https |= tsm_mp_is_https(s->mps[i]);
	}
	json_object_object_add(o, "management_points", mps);
	json_object_object_add(o, "https", json_object_new_boolean(any_https));
	for (size_t i = 0; i < s->nroot_cas; i++) {
		struct json_object *ca = json_object_new_object();

		json_cert_fields(ca, &v->cas[i]);
		json_object_array_add(cas, ca);
	}
	json_object_object_add(o, "root_cas", cas);
	for (int i = 0; i < TSM_SITE_VALUE_COUNT; i++)
		json_object_object_add(values, tsm_site_value_name(i), cli_json_string(s->values[i]));
	json_object_object_add(o, "values", values);
	json_object_object_add(o, "primary_sites", cli_json_strings(v->children, v->nchildren));
	json_object_object_add(o, "untrusting_primaries",
			       cli_json_strings(v->untrusting, v->nuntrusting));
	return o;
}

static void print_site(const struct site_view *v)
{
	const struct tsm_site *s = v->site;

	/* TRANSLATORS: site show; keep the values of the lines aligned. */
	printf(_("Site:      %s\n"), s->code);
	printf(_("Type:      %s\n"), s->type == TSM_SITE_CAS ? _("central administration site (cas)")
							    : _("primary"));
	if (s->type == TSM_SITE_CAS) {
		fputs(_("Primary sites:"), stdout);
		for (size_t i = 0; i < v->nchildren; i++)
			printf(" %s", v->children[i]);
		printf("%s\n", v->nchildren ? "" : _(" none"));
	} else {
		printf(_("Parent:    %s\n"),
		       s->parent[0] ? s->parent : _("none (stand-alone primary site)"));
	}
	printf(_("Management points:%s\n"), s->nmps ? "" : _(" none"));
	for (size_t i = 0; i < s->nmps; i++)
		printf("  %zu. %s  (%s)\n", i + 1, s->mps[i], tsm_mp_is_https(s->mps[i]) ? "HTTPS" : "HTTP");
	printf(_("Root CAs:%s\n"), s->nroot_cas ? "" : _(" none"));
	for (size_t i = 0; i < s->nroot_cas; i++) {
		char na[32];

		tsm_date_format(v->cas[i].not_after, na);
		printf(_("  %s\n    SHA-256 %s, valid until %s\n"), v->cas[i].subject,
		       v->cas[i].sha256, na);
	}
	fputs(_("Values its media carry:\n"), stdout);
	for (int i = 0; i < TSM_SITE_VALUE_COUNT; i++) {
		const char *val = s->values[i];

		printf("  %-20s %.*s%s\n", tsm_site_value_name(i), val ? 60 : 0, val ? val : "",
		       !val ? "-" : strlen(val) > 60 ? "..." : "");
	}
	fputs(_("Primary sites not trusting its root CAs:"), stdout);
	for (size_t i = 0; i < v->nuntrusting; i++)
		printf(" %s", v->untrusting[i]);
	printf("%s\n", v->nuntrusting ? "" : _(" none"));
}

static int site_show_or_list(struct cli *cli, int argc, char **argv, bool show)
{
	struct tsm_site *all = NULL;
	struct tsm_store *store;
	size_t nall = 0, first = 0, count;
	bool as_json, found = false;
	struct json_object *doc = NULL;
	char code[4];
	int rc = cli_parse_json_args(argc, argv, show ? show_help : list_help,
				     show ? "site show " : "site list ",
				     show ? N_("one site CODE") : NULL, &as_json);
	int ret = 1;

	if (rc >= 0)
		return rc;
	if (show && tsm_site_code_normalize(argv[optind], code) < 0)
		return 1;
	if (cli_open_store(cli, &store) < 0)
		return 1;
	if (tsm_site_list(store, &all, &nall) < 0)
		goto out_close;
	count = nall;
	if (show) {
		for (size_t i = 0; i < nall && !found; i++)
			if (strcmp(all[i].code, code) == 0)
				found = true, first = i;
		if (!found) {
			tsm_error("no site %s in %s", code, tsm_store_dir(store));
			goto out_free;
		}
		count = 1;
	}
	if (!show && !as_json && !nall)
		fputs(_("no sites; add one with 'tsmedia site add'\n"), stderr);
	if (!show && !as_json && nall)
		/* TRANSLATORS: the header of site list, over columns of 4, 7, 6,
		 * 3 (right) and 7 (right) characters and the management points. */
		fputs(_("CODE  TYPE     PARENT  MPS  ROOTCAS  MANAGEMENT POINTS\n"), stdout);
	/* list --json: an array of sites; show --json: the site. */
	doc = as_json && !show ? json_object_new_array() : NULL;
	{
		for (size_t i = first; i < first + count; i++) {
			struct site_view v;

			if (site_view_load(store, &all[i], all, nall, &v) < 0)
				goto out_free;
			if (as_json && show) {
				doc = json_site(&v);
			} else if (as_json) {
				json_object_array_add(doc, json_site(&v));
			} else if (show) {
				print_site(&v);
			} else {
				printf("%-4s  %-7s  %-6s  %3zu  %7zu ", all[i].code,
				       tsm_site_type_name(all[i].type),
				       all[i].parent[0] ? all[i].parent : "-", all[i].nmps,
				       all[i].nroot_cas);
				for (size_t k = 0; k < all[i].nmps; k++)
					printf(" %s", all[i].mps[k]);
				printf("\n");
			}
			site_view_clear(&v);
		}
	}
	ret = 0;
	if (as_json) {
		ret = cli_json_print(doc);
		doc = NULL;
	}
out_free:
	json_object_put(doc);
	tsm_site_list_free(all, nall);
out_close:
	tsm_store_close(store);
	return ret;
}

static int site_rm(struct cli *cli, int argc, char **argv)
{
	struct tsm_store *store;
	bool as_json;
	int rc = cli_parse_json_args(argc, argv, rm_help, "site rm ", N_("one site CODE"), &as_json);

	if (rc >= 0)
		return rc;
	if (cli_open_store(cli, &store) < 0)
		return 1;
	rc = tsm_site_rm(store, argv[optind]);
	tsm_store_close(store);
	if (rc < 0)
		return 1;
	if (as_json) {
		char code[4];

		tsm_site_code_normalize(argv[optind], code);
		return cli_json_print_removed("code", code);
	}
	if (!cli->quiet)
		printf(_("removed site %s\n"), argv[optind]);
	return 0;
}

static int site_list(struct cli *cli, int argc, char **argv)
{
	return site_show_or_list(cli, argc, argv, false);
}

static int site_show(struct cli *cli, int argc, char **argv)
{
	return site_show_or_list(cli, argc, argv, true);
}

int cmd_site(struct cli *cli, int argc, char **argv)
{
	static const struct cli_subcommand subs[] = {
		{ "add", site_add },
		{ "edit", site_edit },
		{ "list", site_list },
		{ "show", site_show },
		{ "rm", site_rm },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, "site", site_help, subs);
}

/* ---- tsmedia cert ---------------------------------------------------- */

static const char cert_help[] = N_(
	"Usage: tsmedia cert COMMAND [ARGS]\n"
	"\n"
	"  create --out FILE.p12 --password-file F --subject CN --valid-from DATE\n"
	"         --valid-until DATE     a self-signed media certificate (PKCS#12)\n"
	"  check FILE.p12 --password-file F [--json]\n"
	"                                read a PKCS#12 file and show its certificate\n"
	"\n"
	"DATE: YYYY-MM-DD (midnight UTC) or YYYY-MM-DDTHH:MM:SSZ.\n");

static const char create_help[] = N_(
	"Usage: tsmedia cert create --out FILE.p12 --password-file F --subject CN\n"
	"                           --valid-from DATE --valid-until DATE [--json]\n"
	"\n"
	"Makes a self-signed media certificate: an RSA 2048 key and a SHA-256 signed\n"
	"client authentication certificate named CN=<CN>, valid between the dates,\n"
	"written with its key as PKCS#12 protected by the password (the first line of\n"
	"F).  FILE is created with mode 0600 and never overwritten.\n"
	"\n"
	"Configuration Manager accepts a self-signed media certificate only for HTTP\n"
	"management points; HTTPS needs a certificate from your PKI.\n"
	"\n"
	"DATE: YYYY-MM-DD (midnight UTC) or YYYY-MM-DDTHH:MM:SSZ.\n");

static const char check_help[] = N_(
	"Usage: tsmedia cert check FILE.p12 --password-file F [--json]\n"
	"\n"
	"Reads a PKCS#12 (.pfx/.p12) file the way media creation does: it must open\n"
	"with the password, hold a private key and its certificate, and be valid now.\n"
	"Prints the subject, issuer, dates, whether it is self-signed, and its SHA-1\n"
	"and SHA-256 thumbprints.\n");

/* Returns 0, or 1 when the JSON could not be written. */
static int cert_print(const struct tsm_cert *c, bool as_json, const char *file)
{
	char nb[32], na[32];

	if (as_json) {
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "file", cli_json_string(file));
		json_cert_fields(o, c);
		return cli_json_print(o);
	}
	tsm_date_format(c->not_before, nb);
	tsm_date_format(c->not_after, na);
	/* TRANSLATORS: cert check; keep the values of the lines aligned. */
	printf(_("File:        %s\n"), file);
	printf(_("Subject:     %s\n"), c->subject);
	printf(_("Issuer:      %s\n"), c->issuer);
	printf(_("Valid from:  %s\n"), nb);
	printf(_("Valid until: %s\n"), na);
	printf(_("Self-signed: %s\n"), c->self_signed ? _("yes") : _("no (issued by a CA)"));
	printf(_("SHA-1:       %s\n"), c->sha1);
	printf(_("SHA-256:     %s\n"), c->sha256);
	return 0;
}

static int write_new_file(const char *path, const unsigned char *data, size_t len)
{
	char *tmp = NULL;
	int fd, rc = 0;

	if (asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0)
		return -ENOMEM;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		tsm_error("cannot create %s: %s", tmp, strerror(errno));
		free(tmp);
		return rc;
	}
	rc = cli_write_all(fd, data, len);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	if (rc < 0) {
		tsm_error("writing %s: %s", path, strerror(-rc));
	} else if (link(tmp, path) < 0) { /* never replaces an existing file */
		rc = -errno;
		if (errno == EEXIST)
			tsm_error("%s already exists; not overwritten", path);
		else
			tsm_error("cannot create %s: %s", path, strerror(errno));
	}
	unlink(tmp);
	free(tmp);
	return rc;
}

static int cert_create(int argc, char **argv)
{
	static const struct option options[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "subject", required_argument, NULL, 's' },
		{ "valid-from", required_argument, NULL, 'f' },
		{ "valid-until", required_argument, NULL, 'u' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *out = NULL, *pwfile = NULL, *subject = NULL, *from = NULL, *until = NULL;
	struct tsm_cert cert;
	char *password = NULL;
	int64_t nb, na;
	bool as_json = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'p': pwfile = optarg; break;
		case 's': subject = optarg; break;
		case 'f': from = optarg; break;
		case 'u': until = optarg; break;
		case 'j': as_json = true; break;
		case 'h': fputs(_(create_help), stdout); return 0;
		default: return cli_bad_option("cert create ", argv);
		}
	}
	if (optind != argc)
		return cli_usage_error("cert create ", "unexpected argument '%s'", argv[optind]);
	if (!out || !pwfile || !subject || !from || !until)
		return cli_usage_error("cert create ", "--%s is required",
				       !out ? "out" : !pwfile ? "password-file" : !subject ? "subject"
				       : !from ? "valid-from" : "valid-until");
	if (tsm_date_parse(from, &nb) < 0 || tsm_date_parse(until, &na) < 0)
		return 1;
	if (tsm_password_read(pwfile, &password) < 0)
		return 1;
	rc = tsm_cert_create_self_signed(subject, nb, na, password, &cert);
	tsm_password_free(password);
	if (rc < 0)
		return 1;
	if (access(out, F_OK) == 0) {
		tsm_error("%s already exists; not overwritten", out);
		tsm_cert_clear(&cert);
		return 1;
	}
	rc = write_new_file(out, cert.pkcs12, cert.pkcs12_len);
	if (rc == 0)
		rc = cert_print(&cert, as_json, out);
	tsm_cert_clear(&cert);
	return rc ? 1 : 0;
}

static int cert_check(int argc, char **argv)
{
	static const struct option options[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *pwfile = NULL;
	struct tsm_cert cert;
	char *password = NULL;
	bool as_json = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'p': pwfile = optarg; break;
		case 'j': as_json = true; break;
		case 'h': fputs(_(check_help), stdout); return 0;
		default: return cli_bad_option("cert check ", argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("cert check ", "expected one PKCS#12 FILE");
	if (!pwfile)
		return cli_usage_error("cert check ", "--password-file is required");
	if (tsm_password_read(pwfile, &password) < 0)
		return 1;
	rc = tsm_cert_load_pkcs12(argv[optind], password, &cert);
	tsm_password_free(password);
	if (rc < 0)
		return 1;
	rc = cert_print(&cert, as_json, argv[optind]);
	tsm_cert_clear(&cert);
	return rc;
}

static int cert_create_cmd(struct cli *cli, int argc, char **argv)
{
	(void)cli;
	return cert_create(argc, argv);
}

static int cert_check_cmd(struct cli *cli, int argc, char **argv)
{
	(void)cli;
	return cert_check(argc, argv);
}

int cmd_cert(struct cli *cli, int argc, char **argv)
{
	static const struct cli_subcommand subs[] = {
		{ "create", cert_create_cmd },
		{ "check", cert_check_cmd },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, "cert", cert_help, subs);
}
