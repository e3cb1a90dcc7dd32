/* tsmedia ts import | list | show | rm */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "cli.h"
#include "tsmedia/app.h"
#include "tsmedia/i18n.h"
#include "tsmedia/content.h"
#include "tsmedia/log.h"
#include "tsmedia/store.h"
#include "tsmedia/ts.h"

static const char ts_help[] = N_(
	"Usage: tsmedia [--store DIR] ts COMMAND [ARGS]\n"
	"\n"
	"  import [--name NAME] [--id ID] [--boot-image ID] FILE.xml\n"
	"                  import a task sequence exported from Configuration Manager\n"
	"                  (or an MDT template); prints its ID\n"
	"  list [--json]   every task sequence\n"
	"  show ID [--json]\n"
	"                  the steps, the content they need and whether the store has it\n"
	"  rm ID [--json]  remove a task sequence\n");

static const char import_help[] = N_(
	"Usage: tsmedia [--store DIR] ts import [--name NAME] [--id ID] [--boot-image ID] FILE.xml\n"
	"\n"
	"Reads a task sequence and records its steps, the packages and applications\n"
	"they reference, and the sequence document itself (kept as exported, for the\n"
	"media's policy).  FILE.xml is one of:\n"
	"  - the <sequence> document ($ts.Sequence, Community Hub files),\n"
	"  - an MDT task sequence template,\n"
	"  - object.xml of a console export (SMS_TaskSequencePackage/<ID>/object.xml\n"
	"    in the exported zip): its PackageID, Name and BootImageID are used when\n"
	"    the options below are not given.\n"
	"\n"
	"  --name NAME       what the task sequence is called (required unless the\n"
	"                    file names it)\n"
	"  --id ID           its ID (a site code and five hex digits); an ID already\n"
	"                    imported gets a new version.  Default: the export's\n"
	"                    PackageID, else a new ID\n"
	"  --boot-image ID   the boot image it runs in (content ID)\n"
	"\n"
	"Packages come from the referenceList and from where steps name them (command\n"
	"lines such as OSDApplyOS.exe /image:ID, and variables such as\n"
	"OSDDownloadDownloadPackages); packages only disabled steps use are listed\n"
	"apart, as media do not need them.  Nothing is changed when the file cannot\n"
	"be read.\n");

static int ts_import(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "id", required_argument, NULL, 'i' },
		{ "boot-image", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *name = NULL, *id = NULL, *boot = NULL;
	struct tsm_store *store;
	struct tsm_ts_info info;
	char id_ret[9];
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'n': name = optarg; break;
		case 'i': id = optarg; break;
		case 'b': boot = optarg; break;
		case 'h': fputs(_(import_help), stdout); return 0;
		default: return cli_bad_option("ts import ", argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("ts import ", optind >= argc ? "no FILE.xml given"
								    : N_("one FILE.xml only"));
	if (cli_open_store(cli, &store) < 0)
		return 1;
	cli_import_begin();
	rc = cli_import_end(argv[optind], tsm_ts_import(store, name, id, boot, argv[optind], id_ret));
	if (rc < 0) {
		tsm_store_close(store);
		return 1;
	}
	printf("%s\n", id_ret);
	fflush(stdout);
	if (!cli->quiet && tsm_ts_get(store, id_ret, &info) == 0) {
		size_t disabled = 0;

		for (size_t i = 0; i < info.nsteps; i++)
			disabled += info.steps[i].disabled;
		fprintf(stderr, _("%s version %lld: %zu steps (%zu disabled) in %zu groups,"
				" %zu packages, %zu applications\n"),
			info.id, (long long)info.version, info.nsteps, disabled, info.ngroups,
			info.npackages, info.napplications);
		size_t missing = 0;

		for (size_t i = 0; i < info.napplications; i++)
			missing += !tsm_app_exists(store, info.applications[i]);
		if (missing)
			tsm_warn("task sequence %s: %zu of its %zu applications are not in the store"
				 " ('tsmedia ts show %s' names them; 'tsmedia app import' adds them)",
				 info.id, missing, info.napplications, info.id);
		tsm_ts_info_clear(&info);
	}
	tsm_store_close(store);
	return 0;
}

/* The fields list and show share, in a new object. */
static struct json_object *json_head(const struct tsm_ts_info *t)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", cli_json_string(t->id));
	json_object_object_add(o, "name", cli_json_string(t->name));
	json_object_object_add(o, "version", json_object_new_int64(t->version));
	json_object_object_add(o, "boot_image", cli_json_string(t->boot_image));
	json_object_object_add(o, "source", cli_json_string(t->source));
	json_object_object_add(o, "created", json_object_new_int64(t->created));
	return o;
}

static const char list_help[] = N_(
	"Usage: tsmedia [--store DIR] ts list [--json]\n\n"
	"Lists every task sequence: ID, current version, packages it needs, boot\n"
	"image, name.\n");

static int ts_list(struct cli *cli, int argc, char **argv)
{
	struct tsm_ts_info *list;
	struct tsm_store *store;
	bool as_json;
	size_t n;
	int rc = cli_parse_json_args(argc, argv, list_help, "ts list ", NULL, &as_json);

	if (rc >= 0)
		return rc;
	if (cli_open_store(cli, &store) < 0)
		return 1;
	rc = tsm_ts_list(store, &list, &n);
	tsm_store_close(store);
	if (rc < 0)
		return 1;
	if (as_json) {
		struct json_object *a = json_object_new_array();

		for (size_t i = 0; i < n; i++) {
			struct json_object *o = json_head(&list[i]);

			json_object_object_add(o, "packages",
					       cli_json_strings(list[i].packages, list[i].npackages));
			json_object_object_add(o, "applications",
					       cli_json_strings(list[i].applications,
								list[i].napplications));
			json_object_array_add(a, o);
		}
		rc = cli_json_print(a);
	} else {
		/* TRANSLATORS: the header of ts list, over columns of 8, 7 (right),
		 * 8 (right) and 10 characters and the name. */
		fputs(_("ID        VERSION  PACKAGES  BOOT        NAME\n"), stdout);
		for (size_t i = 0; i < n; i++)
			printf("%-8s  %7lld  %8zu  %-10s  %s\n", list[i].id, (long long)list[i].version,
			       list[i].npackages, list[i].boot_image ? list[i].boot_image : "-",
			       list[i].name);
	}
	tsm_ts_list_free(list, n);
	return rc; /* 0, or 1 when the JSON could not be written */
}

/* ---- show ------------------------------------------------------------- */

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tsm_content_item *)a)->id,
		      ((const struct tsm_content_item *)b)->id);
}

/* @items sorted by ID (item_cmp): a binary search, as a task sequence may
 * name tens of thousands of packages. */
static const struct tsm_content_item *find_content(const struct tsm_content_item *items,
						   size_t n, const char *id)
{
	struct tsm_content_item key = { 0 };

	if (!n || strlen(id) >= sizeof(key.id))
		return NULL;
	memcpy(key.id, id, strlen(id) + 1);
	return bsearch(&key, items, n, sizeof(*items), item_cmp);
}

/* Every (reference, step) pair, sorted, so that each reference finds the
 * steps that use it by binary search, in step order. */
struct use {
	const char *ref;
	size_t step;
};

struct uses {
	struct use *v;
	size_t n;
};

static int use_cmp(const void *a, const void *b)
{
	const struct use *x = a, *y = b;
	int c = strcmp(x->ref, y->ref);

	return c ? c : (x->step > y->step) - (x->step < y->step);
}

static int uses_build(const struct tsm_ts_info *t, struct uses *u)
{
	size_t n = 0;

	for (size_t i = 0; i < t->nsteps; i++)
		n += t->steps[i].npackages + t->steps[i].napplications;
	u->n = 0;
	if (!(u->v = calloc(n ? n : 1, sizeof(*u->v))))
		return -1;
	for (size_t i = 0; i < t->nsteps; i++) {
		const struct tsm_ts_step *s = &t->steps[i];

		for (size_t k = 0; k < s->npackages; k++)
			u->v[u->n++] = (struct use){ s->packages[k], i };
		for (size_t k = 0; k < s->napplications; k++)
			u->v[u->n++] = (struct use){ s->applications[k], i };
	}
	qsort(u->v, u->n, sizeof(*u->v), use_cmp);
	return 0;
}

/* The first use of @ref (u->n when none). */
static size_t uses_first(const struct uses *u, const char *ref)
{
	size_t lo = 0, hi = u->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(u->v[mid].ref, ref) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool uses_is(const struct uses *u, size_t k, const char *ref)
{
	return k < u->n && strcmp(u->v[k].ref, ref) == 0;
}

static void print_step_path(FILE *f, const struct tsm_ts_step *s)
{
	fprintf(f, "%s%s%s", s->group_path, *s->group_path ? "/" : "", s->name);
}

/* What ts show knows of the applications a task sequence names. */
struct app_presence {
	bool *present;  /* [i]: the store holds t->applications[i] */
	char **titles;  /* [i]: its title, or NULL */
};

static struct json_object *json_ref(const struct tsm_ts_info *t, const struct uses *u,
				    const char *ref, const struct tsm_content_item *items,
				    size_t nitems, bool check_store, const struct app_presence *ap,
				    size_t app_index)
{
	const struct tsm_content_item *c = check_store ? find_content(items, nitems, ref) : NULL;
	struct json_object *o = json_object_new_object(), *used_by = json_object_new_array();

	json_object_object_add(o, "id", cli_json_string(ref));
	if (ap) {
		json_object_object_add(o, "in_store", json_object_new_boolean(ap->present[app_index]));
		json_object_object_add(o, "title", cli_json_string(ap->titles[app_index]));
	}
	if (check_store) {
		json_object_object_add(o, "in_store", json_object_new_boolean(c != NULL));
		json_object_object_add(o, "kind",
				       cli_json_string(c ? tsm_content_kind_name(c->kind) : NULL));
		json_object_object_add(o, "content_name", cli_json_string(c ? c->name : NULL));
	}
	for (size_t k = uses_first(u, ref); uses_is(u, k, ref); k++) {
		char *path = NULL;
		size_t len = 0;
		FILE *f;

		if (!(f = open_memstream(&path, &len)))
			continue;
		print_step_path(f, &t->steps[u->v[k].step]);
		fclose(f);
		json_object_array_add(used_by, cli_json_string(path));
		free(path);
	}
	json_object_object_add(o, "used_by", used_by);
	return o;
}

static int json_show(const struct tsm_ts_info *t, const struct uses *u,
		     const struct tsm_content_item *items, size_t nitems, char **blockers,
		     size_t nblockers, const struct app_presence *ap)
{
	const struct tsm_content_item *boot = t->boot_image ? find_content(items, nitems, t->boot_image)
							    : NULL;
	struct json_object *doc = json_head(t), *groups = json_object_new_array(),
			   *steps = json_object_new_array(), *packages = json_object_new_array(),
			   *missing = json_object_new_array(), *apps = json_object_new_array();

	json_object_object_add(doc, "boot_image_in_store", json_object_new_boolean(boot != NULL));
	json_object_object_add(doc, "sequence_bytes", json_object_new_uint64(t->sequence_len));
	for (size_t i = 0; i < t->ngroups; i++) {
		const struct tsm_ts_group *g = &t->groups[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", cli_json_string(g->name));
		json_object_object_add(o, "path", cli_json_string(g->path));
		json_object_object_add(o, "depth", json_object_new_int64(g->depth));
		json_object_object_add(o, "disabled", json_object_new_boolean(g->disabled));
		json_object_object_add(o, "continue_on_error",
				       json_object_new_boolean(g->continue_on_error));
		json_object_object_add(o, "description", cli_json_string(g->description));
		json_object_object_add(o, "condition", cli_json_string(g->condition));
		json_object_object_add(o, "first_step", json_object_new_uint64(g->first_step));
		json_object_array_add(groups, o);
	}
	json_object_object_add(doc, "groups", groups);
	for (size_t i = 0; i < t->nsteps; i++) {
		const struct tsm_ts_step *s = &t->steps[i];
		struct json_object *o = json_object_new_object();

		json_object_object_add(o, "name", cli_json_string(s->name));
		json_object_object_add(o, "type", cli_json_string(s->type));
		json_object_object_add(o, "group_path", cli_json_string(s->group_path));
		json_object_object_add(o, "disabled", json_object_new_boolean(s->disabled));
		json_object_object_add(o, "continue_on_error",
				       json_object_new_boolean(s->continue_on_error));
		json_object_object_add(o, "description", cli_json_string(s->description));
		json_object_object_add(o, "condition", cli_json_string(s->condition));
		json_object_object_add(o, "dynamic_install",
				       json_object_new_boolean(s->dynamic_install));
		json_object_object_add(o, "packages", cli_json_strings(s->packages, s->npackages));
		json_object_object_add(o, "applications",
				       cli_json_strings(s->applications, s->napplications));
		json_object_array_add(steps, o);
	}
	json_object_object_add(doc, "steps", steps);
	for (size_t i = 0; i < t->npackages; i++)
		json_object_array_add(packages,
				      json_ref(t, u, t->packages[i], items, nitems, true, NULL, 0));
	json_object_object_add(doc, "packages", packages);
	for (size_t i = 0; i < t->npackages; i++)
		if (!find_content(items, nitems, t->packages[i]))
			json_object_array_add(missing, cli_json_string(t->packages[i]));
	json_object_object_add(doc, "missing", missing);
	for (size_t i = 0; i < t->napplications; i++)
		json_object_array_add(apps, json_ref(t, u, t->applications[i], items, nitems, false,
						     ap, i));
	json_object_object_add(doc, "applications", apps);
	json_object_object_add(doc, "disabled_packages",
			       cli_json_strings(t->disabled_packages, t->ndisabled_packages));
	json_object_object_add(doc, "disabled_applications",
			       cli_json_strings(t->disabled_applications, t->ndisabled_applications));
	json_object_object_add(doc, "standalone_blockers", cli_json_strings(blockers, nblockers));
	return cli_json_print(doc) ? -EIO : 0;
}

static void print_indent(int depth)
{
	printf("%*s", 2 + 2 * depth, "");
}

static void print_group(const struct tsm_ts_group *g)
{
	print_indent(g->depth);
	printf("[%s]%s%s\n", g->name, g->disabled ? _("  (disabled)") : "",
	       g->continue_on_error ? _("  (continue on error)") : "");
	if (g->condition) {
		print_indent(g->depth);
		printf(_("  if %s\n"), g->condition);
	}
}

static void print_step(const struct tsm_ts_info *t, const struct tsm_ts_step *s)
{
	int depth = s->group >= 0 ? t->groups[s->group].depth + 1 : 0;

	print_indent(depth);
	printf("%s  <%s>%s%s\n", s->name, s->type ? s->type : _("no type"),
	       s->disabled ? _("  (disabled)") : "",
	       s->continue_on_error ? _("  (continue on error)") : "");
	if (s->condition) {
		print_indent(depth);
		printf(_("  if %s\n"), s->condition);
	}
	if (s->npackages || s->napplications || s->dynamic_install) {
		print_indent(depth);
		fputs(_("  needs:"), stdout);
		for (size_t i = 0; i < s->npackages; i++)
			printf(" %s", s->packages[i]);
		for (size_t i = 0; i < s->napplications; i++)
			printf(" %s", s->applications[i]);
		if (s->dynamic_install)
			fputs(_(" (a list named by a variable at run time)"), stdout);
		printf("\n");
	}
}

static void print_refs_text(const struct tsm_ts_info *t, const struct uses *u,
			    char *const *refs, size_t n, const struct tsm_content_item *items,
			    size_t nitems, bool check_store, const struct app_presence *ap)
{
	for (size_t i = 0; i < n; i++) {
		const struct tsm_content_item *c = check_store ? find_content(items, nitems, refs[i])
							       : NULL;
		bool first = true;

		printf("  %s", refs[i]);
		if (ap && ap->present[i])
			printf(_("  in the store: '%s'"), ap->titles[i] ? ap->titles[i] : "");
		else if (ap)
			fputs(_("  MISSING from the store"), stdout);
		if (check_store) {
			if (c)
				printf(_("  in the store: %s '%s'"), tsm_content_kind_name(c->kind), c->name);
			else
				fputs(_("  MISSING from the store"), stdout);
		}
		fputs(_("\n    used by:"), stdout);
		for (size_t k = uses_first(u, refs[i]); uses_is(u, k, refs[i]); k++) {
			printf("%s", first ? " " : "; ");
			print_step_path(stdout, &t->steps[u->v[k].step]);
			first = false;
		}
		printf("%s\n", first ? _(" (the referenceList only)") : "");
	}
}

static void print_show(const struct tsm_ts_info *t, const struct uses *u,
		       const struct tsm_content_item *items, size_t nitems, char **blockers,
		       size_t nblockers, const struct app_presence *ap)
{
	const struct tsm_content_item *boot = t->boot_image ? find_content(items, nitems, t->boot_image)
							    : NULL;
	size_t disabled = 0, missing = 0, gi = 0;
	time_t when = (time_t)t->created;
	char stamp[32];

	for (size_t i = 0; i < t->nsteps; i++)
		disabled += t->steps[i].disabled;
	for (size_t i = 0; i < t->npackages; i++)
		missing += !find_content(items, nitems, t->packages[i]);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", gmtime(&when));
	/* TRANSLATORS: ts show; keep the values of the lines aligned. */
	printf(_("ID:          %s\nName:        %s\nVersion:     %lld (imported %s UTC)\n"
		 "Source:      %s\n"), t->id, t->name, (long long)t->version, stamp, t->source);
	if (!t->boot_image)
		fputs(_("Boot image:  none\n"), stdout);
	else if (boot)
		printf(_("Boot image:  %s  in the store: '%s'\n"), t->boot_image, boot->name);
	else
		printf(_("Boot image:  %s  MISSING from the store\n"), t->boot_image);
	printf(_("Steps:       %zu in %zu groups, %zu disabled\n"), t->nsteps, t->ngroups, disabled);
	fputs(_("\nSteps:\n"), stdout);
	for (size_t i = 0; i <= t->nsteps; i++) {
		for (; gi < t->ngroups && t->groups[gi].first_step <= i; gi++)
			print_group(&t->groups[gi]);
		if (i < t->nsteps)
			print_step(t, &t->steps[i]);
	}
	printf(_("\nPackages (%zu, in the order steps first use them; %zu missing from the store):\n"),
	       t->npackages, missing);
	print_refs_text(t, u, t->packages, t->npackages, items, nitems, true, NULL);
	if (t->napplications) {
		printf(_("\nApplications (%zu):\n"), t->napplications);
		print_refs_text(t, u, t->applications, t->napplications, items, nitems, false, ap);
	}
	if (t->ndisabled_packages || t->ndisabled_applications) {
		fputs(_("\nUsed only by disabled steps (not needed on media):\n"), stdout);
		print_refs_text(t, u, t->disabled_packages, t->ndisabled_packages, items, nitems,
				false, NULL);
		print_refs_text(t, u, t->disabled_applications, t->ndisabled_applications, items,
				nitems, false, NULL);
	}
	if (nblockers) {
		fputs(_("\nSteps stand-alone media cannot run (they need a site):\n"), stdout);
		for (size_t i = 0; i < nblockers; i++)
			printf("  %s\n", blockers[i]);
	}
}

static const char show_help[] = N_(
	"Usage: tsmedia [--store DIR] ts show ID [--json]\n\n"
	"Shows a task sequence: its steps indented by group (disabled ones marked,\n"
	"with their conditions), the packages and applications each step needs, and\n"
	"for every package whether the store holds content under its ID, so what is\n"
	"missing for media is plain.  Also names the steps stand-alone media cannot\n"
	"run.\n");

static int ts_show(struct cli *cli, int argc, char **argv)
{
	struct tsm_content_item *items = NULL;
	struct tsm_store *store;
	struct tsm_ts_info info;
	struct uses uses = { 0 };
	struct app_presence ap = { 0 };
	char **blockers = NULL;
	size_t nitems = 0, nblockers = 0;
	bool as_json;
	int rc = cli_parse_json_args(argc, argv, show_help, "ts show ", N_("a task sequence ID"), &as_json);

	if (rc >= 0)
		return rc;
	if (cli_open_store(cli, &store) < 0)
		return 1;
	rc = tsm_ts_get(store, argv[optind], &info);
	if (rc == 0 && (rc = tsm_content_list(store, &items, &nitems)) < 0)
		tsm_ts_info_clear(&info);
	if (rc == 0) {
		ap.present = calloc(info.napplications + 1, sizeof(*ap.present));
		ap.titles = calloc(info.napplications + 1, sizeof(*ap.titles));
		if (!ap.present || !ap.titles)
			rc = -ENOMEM;
		for (size_t i = 0; rc == 0 && i < info.napplications; i++) {
			struct tsm_app app;

			if (!tsm_app_exists(store, info.applications[i]) ||
			    tsm_app_get(store, info.applications[i], &app) < 0)
				continue;
			ap.present[i] = true;
			ap.titles[i] = strdup(app.title);
			tsm_app_clear(&app);
		}
		if (rc < 0)
			tsm_ts_info_clear(&info);
	}
	tsm_store_close(store);
	if (rc < 0) {
		free(ap.present);
		free(ap.titles);
		return 1;
	}
	if (nitems)
		qsort(items, nitems, sizeof(*items), item_cmp);
	if ((rc = uses_build(&info, &uses)) < 0) {
		tsm_error("out of memory");
	} else if ((rc = tsm_ts_blocker_lines(&info, as_json ? 0 : TSM_TS_BLOCKERS_LOCALIZED,
					      &blockers, &nblockers)) == 0) {
		if (as_json)
			rc = json_show(&info, &uses, items, nitems, blockers, nblockers, &ap);
		else
			print_show(&info, &uses, items, nitems, blockers, nblockers, &ap);
	}
	for (size_t i = 0; i < info.napplications; i++)
		free(ap.titles[i]);
	free(ap.titles);
	free(ap.present);
	free(uses.v);
	tsm_ts_strings_free(blockers, nblockers);
	tsm_content_items_free(items, nitems);
	tsm_ts_info_clear(&info);
	return rc < 0 ? 1 : 0;
}

static const char rm_help[] = N_(
	"Usage: tsmedia [--store DIR] ts rm ID [--json]\n\n"
	"Removes a task sequence (every version).  Importing under its ID again\n"
	"starts a new version.\n");

static int ts_rm(struct cli *cli, int argc, char **argv)
{
	char id[TSM_CONTENT_ID_LEN + 1];
	struct tsm_store *store;
	bool as_json;
	int rc = cli_parse_json_args(argc, argv, rm_help, "ts rm ", N_("a task sequence ID"), &as_json);

	if (rc >= 0)
		return rc;
	if (cli_open_store(cli, &store) < 0)
		return 1;
	rc = tsm_ts_rm(store, argv[optind]);
	tsm_store_close(store);
	if (rc < 0)
		return 1;
	tsm_content_id_normalize(argv[optind], id);
	if (as_json)
		return cli_json_print_removed("id", id);
	if (!cli->quiet)
		printf(_("removed task sequence %s\n"), id);
	return 0;
}

int cmd_ts(struct cli *cli, int argc, char **argv)
{
	static const struct cli_subcommand subs[] = {
		{ "import", ts_import },
		{ "list", ts_list },
		{ "show", ts_show },
		{ "rm", ts_rm },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, "ts", ts_help, subs);
}
