/* tsmedia app import | list | show | rm */
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
#include "tsmedia/log.h"
#include "tsmedia/store.h"

static const char app_help[] = N_(
	"Usage: tsmedia [--store DIR] app COMMAND [ARGS]\n"
	"\n"
	"  import [--content DIR] FILE.xml\n"
	"                  import an application exported from Configuration Manager;\n"
	"                  prints its ID\n"
	"  list [--json]   every application\n"
	"  show ID [--json]\n"
	"                  its deployment types, their contents, dependencies and\n"
	"                  supersedence, and whether the store holds each content\n"
	"  rm ID [--json]  remove an application\n");

static const char import_help[] = N_(
	"Usage: tsmedia [--store DIR] app import [--content DIR] FILE.xml\n"
	"\n"
	"Reads an application and records its deployment types in priority order\n"
	"(technology, install command, the contents each uses with their files),\n"
	"the dependency groups of each deployment type, and what it supersedes.\n"
	"FILE.xml is one of:\n"
	"  - object.xml of a console export (SMS_Application/<ID>/object.xml in the\n"
	"    exported zip), whose SDMPackageXML property holds the application,\n"
	"  - the application's digest itself (<AppMgmtDigest>, what SDMPackageXML\n"
	"    holds).\n"
	"Importing an application again replaces it.  A dependency on the application\n"
	"itself, and dependencies that lead back to a deployment type (through the\n"
	"applications in the store), are refused.\n"
	"\n"
	"  --content DIR     a folder per content, named by its ID (DIR/Content_<GUID>/),\n"
	"                    each checked against the files the application lists and\n"
	"                    imported as content; else add each later with\n"
	"                    'tsmedia content add --kind application --id Content_<GUID>'\n"
	"\n"
	"Nothing is changed when the file cannot be read or is refused.\n");

static int app_import(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "content", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tsm_app_import_options o = { .progress = cli->progress };
	struct tsm_store *store;
	struct tsm_app app;
	char *id = NULL;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'c': o.content_dir = optarg; break;
		case 'h': fputs(_(import_help), stdout); return 0;
		default: return cli_bad_option("app import ", argv);
		}
	}
	if (optind + 1 != argc)
		return cli_usage_error("app import ", optind >= argc ? "no FILE.xml given"
								     : N_("one FILE.xml only"));
	o.path = argv[optind];
	if (cli_open_store(cli, &store) < 0)
		return 1;
	if ((rc = tsm_app_import(store, &o, &id)) < 0) {
		tsm_store_close(store);
		tsm_error("nothing was imported from %s", argv[optind]);
		return 1;
	}
	printf("%s\n", id);
	fflush(stdout);
	if (!cli->quiet && tsm_app_get(store, id, &app) == 0) {
		size_t ncontents = 0, ngroups = 0;

		for (size_t i = 0; i < app.ndts; i++) {
			ncontents += app.dts[i].ncontents;
			ngroups += app.dts[i].ngroups;
		}
		fprintf(stderr, _("%s: '%s', %zu deployment types, %zu contents, %zu dependency"
				  " groups\n"), app.id, app.title, app.ndts, ncontents, ngroups);
		tsm_app_clear(&app);
	}
	free(id);
	tsm_store_close(store);
	return 0;
}

static const char list_help[] = N_(
	"Usage: tsmedia [--store DIR] app list [--json]\n\n"
	"Lists every application: ID, revision, deployment types, title.\n");

static struct json_object *json_head(const struct tsm_app *a)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "id", cli_json_string(a->id));
	json_object_object_add(o, "revision", json_object_new_int64(a->revision));
	json_object_object_add(o, "title", cli_json_string(a->title));
	json_object_object_add(o, "publisher", cli_json_string(a->publisher));
	json_object_object_add(o, "software_version", cli_json_string(a->software_version));
	json_object_object_add(o, "source", cli_json_string(a->source));
	json_object_object_add(o, "created", json_object_new_int64(a->created));
	return o;
}

static int app_list(struct cli *cli, int argc, char **argv)
{
	struct tsm_store *store;
	struct tsm_app *list;
	bool as_json;
	size_t n;
	int rc = cli_parse_json_args(argc, argv, list_help, "app list ", NULL, &as_json);

	if (rc >= 0)
		return rc;
	if (cli_open_store(cli, &store) < 0)
		return 1;
	rc = tsm_app_list(store, &list, &n);
	tsm_store_close(store);
	if (rc < 0)
		return 1;
	if (as_json) {
		struct json_object *a = json_object_new_array();

		for (size_t i = 0; i < n; i++) {
			struct json_object *o = json_head(&list[i]), *dts = json_object_new_array();

			for (size_t k = 0; k < list[i].ndts; k++)
				json_object_array_add(dts, cli_json_string(list[i].dts[k].id));
			json_object_object_add(o, "deployment_types", dts);
			json_object_array_add(a, o);
		}
		rc = cli_json_print(a);
	} else {
		/* TRANSLATORS: the header of app list after its ID column, over
		 * columns of 8 (right) and 3 (right) characters and the title. */
		printf("%-93s  %s\n", "ID", _("REVISION  DTS  TITLE"));
		for (size_t i = 0; i < n; i++)
			printf("%-93s  %8lld  %3zu  %s\n", list[i].id, (long long)list[i].revision,
			       list[i].ndts, list[i].title);
	}
	tsm_app_list_free(list, n);
	return rc;
}

/* ---- show ------------------------------------------------------------- */

static struct json_object *json_dt(const struct tsm_app_dt *dt, size_t priority)
{
	struct json_object *o = json_object_new_object(), *contents = json_object_new_array(),
			   *groups = json_object_new_array(), *sup = json_object_new_array();

	json_object_object_add(o, "id", cli_json_string(dt->id));
	json_object_object_add(o, "priority", json_object_new_uint64(priority));
	json_object_object_add(o, "revision", json_object_new_int64(dt->revision));
	json_object_object_add(o, "title", cli_json_string(dt->title));
	json_object_object_add(o, "technology", cli_json_string(dt->technology));
	json_object_object_add(o, "install_command", cli_json_string(dt->install_command));
	for (size_t i = 0; i < dt->ncontents; i++) {
		const struct tsm_app_content *c = &dt->contents[i];
		struct json_object *co = json_object_new_object(), *files = json_object_new_array();

		json_object_object_add(co, "id", cli_json_string(c->id));
		json_object_object_add(co, "version", json_object_new_int64(c->version));
		json_object_object_add(co, "store_content",
				       cli_json_string(c->store_id[0] ? c->store_id : NULL));
		for (size_t k = 0; k < c->nfiles; k++) {
			struct json_object *f = json_object_new_object();

			json_object_object_add(f, "name", cli_json_string(c->files[k].name));
			json_object_object_add(f, "size", json_object_new_uint64(c->files[k].size));
			json_object_array_add(files, f);
		}
		json_object_object_add(co, "files", files);
		json_object_array_add(contents, co);
	}
	json_object_object_add(o, "contents", contents);
	for (size_t i = 0; i < dt->ngroups; i++) {
		const struct tsm_app_dep_group *g = &dt->groups[i];
		struct json_object *go = json_object_new_object(), *deps = json_object_new_array();

		json_object_object_add(go, "name", cli_json_string(g->name));
		json_object_object_add(go, "operator", cli_json_string(g->op));
		for (size_t k = 0; k < g->ndeps; k++) {
			struct json_object *d = json_object_new_object();

			json_object_object_add(d, "application", cli_json_string(g->deps[k].app));
			json_object_object_add(d, "deployment_type", cli_json_string(g->deps[k].dt));
			json_object_object_add(d, "desired_state",
					       cli_json_string(g->deps[k].desired_state));
			json_object_array_add(deps, d);
		}
		json_object_object_add(go, "deployment_types", deps);
		json_object_array_add(groups, go);
	}
	json_object_object_add(o, "dependency_groups", groups);
	for (size_t i = 0; i < dt->nsupersedes; i++) {
		struct json_object *s = json_object_new_object();

		json_object_object_add(s, "application", cli_json_string(dt->supersedes[i].app));
		json_object_object_add(s, "deployment_type", cli_json_string(dt->supersedes[i].dt));
		json_object_object_add(s, "desired_state",
				       cli_json_string(dt->supersedes[i].desired_state));
		json_object_array_add(sup, s);
	}
	json_object_object_add(o, "supersedes", sup);
	return o;
}

static void print_show(struct tsm_store *store, const struct tsm_app *a)
{
	time_t when = (time_t)a->created;
	char stamp[32];

	strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", gmtime(&when));
	/* TRANSLATORS: app show; keep the values of the lines aligned. */
	printf(_("ID:          %s\nTitle:       %s\nRevision:    %lld (imported %s UTC)\n"
		 "Publisher:   %s\nVersion:     %s\nSource:      %s\n"), a->id, a->title,
	       (long long)a->revision, stamp, a->publisher, a->software_version, a->source);
	printf(_("\nDeployment types (%zu, in priority order):\n"), a->ndts);
	for (size_t i = 0; i < a->ndts; i++) {
		const struct tsm_app_dt *dt = &a->dts[i];

		printf("  %zu. %s  <%s>\n     %s\n", i + 1, dt->title, dt->technology, dt->id);
		if (*dt->install_command)
			printf(_("     install: %s\n"), dt->install_command);
		for (size_t k = 0; k < dt->ncontents; k++) {
			const struct tsm_app_content *c = &dt->contents[k];
			uint64_t bytes = 0;

			for (size_t f = 0; f < c->nfiles; f++)
				bytes += c->files[f].size;
			printf(_("     content %s (version %lld): %zu files, %llu bytes; "), c->id,
			       (long long)c->version, c->nfiles, (unsigned long long)bytes);
			if (c->store_id[0])
				printf(_("in the store as %s\n"), c->store_id);
			else
				fputs(_("MISSING from the store\n"), stdout);
		}
		for (size_t g = 0; g < dt->ngroups; g++) {
			const struct tsm_app_dep_group *grp = &dt->groups[g];

			printf(_("     depends on ('%s', %s of):\n"), grp->name, grp->op);
			for (size_t k = 0; k < grp->ndeps; k++)
				printf("       %s %s  (DesiredState %s)%s\n", grp->deps[k].app,
				       grp->deps[k].dt, grp->deps[k].desired_state,
				       tsm_app_exists(store, grp->deps[k].app)
					       ? "" : _("  MISSING from the store"));
		}
		for (size_t k = 0; k < dt->nsupersedes; k++)
			printf(_("     supersedes %s %s  (DesiredState %s)\n"), dt->supersedes[k].app,
			       dt->supersedes[k].dt, dt->supersedes[k].desired_state);
	}
	if (a->nsuperseded_by) {
		fputs(_("\nSuperseded by:\n"), stdout);
		for (size_t i = 0; i < a->nsuperseded_by; i++)
			printf("  %s\n", a->superseded_by[i]);
	}
	if (a->nneeded_by) {
		fputs(_("\nA dependency of:\n"), stdout);
		for (size_t i = 0; i < a->nneeded_by; i++)
			printf("  %s\n", a->needed_by[i]);
	}
}

static const char show_help[] = N_(
	"Usage: tsmedia [--store DIR] app show ID [--json]\n\n"
	"Shows an application: its deployment types in priority order with their\n"
	"technology, install command and contents (and whether the store holds each),\n"
	"the dependency groups of each (and whether the store holds each application\n"
	"they name), what each supersedes, and the applications that supersede it or\n"
	"depend on it.  ID is ScopeId_<GUID>/Application_<GUID>, as task sequences\n"
	"name it.\n");

static int app_show(struct cli *cli, int argc, char **argv)
{
	struct tsm_store *store;
	struct tsm_app app;
	bool as_json;
	int rc = cli_parse_json_args(argc, argv, show_help, "app show ", N_("an application ID"),
				     &as_json);

	if (rc >= 0)
		return rc;
	if (cli_open_store(cli, &store) < 0)
		return 1;
	if ((rc = tsm_app_get(store, argv[optind], &app)) < 0) {
		tsm_store_close(store);
		return 1;
	}
	if (as_json) {
		struct json_object *o = json_head(&app), *dts = json_object_new_array();

		for (size_t i = 0; i < app.ndts; i++)
			json_object_array_add(dts, json_dt(&app.dts[i], i + 1));
		json_object_object_add(o, "deployment_types", dts);
		json_object_object_add(o, "superseded_by",
				       cli_json_strings(app.superseded_by, app.nsuperseded_by));
		json_object_object_add(o, "needed_by", cli_json_strings(app.needed_by, app.nneeded_by));
		rc = cli_json_print(o);
	} else {
		print_show(store, &app);
	}
	tsm_app_clear(&app);
	tsm_store_close(store);
	return rc ? 1 : 0;
}

static const char rm_help[] = N_(
	"Usage: tsmedia [--store DIR] app rm ID [--json]\n\n"
	"Removes an application.  One that another application depends on is kept\n"
	"(the error names them).  Its contents stay until 'tsmedia content rm'.\n");

static int app_rm(struct cli *cli, int argc, char **argv)
{
	char id[128];
	struct tsm_store *store;
	bool as_json;
	int rc = cli_parse_json_args(argc, argv, rm_help, "app rm ", N_("an application ID"), &as_json);

	if (rc >= 0)
		return rc;
	if (cli_open_store(cli, &store) < 0)
		return 1;
	rc = tsm_app_rm(store, argv[optind]);
	tsm_store_close(store);
	if (rc < 0)
		return 1;
	tsm_app_id_normalize(argv[optind], "Application", id);
	if (as_json)
		return cli_json_print_removed("id", id);
	if (!cli->quiet)
		printf(_("removed application %s\n"), id);
	return 0;
}

int cmd_app(struct cli *cli, int argc, char **argv)
{
	static const struct cli_subcommand subs[] = {
		{ "import", app_import },
		{ "list", app_list },
		{ "show", app_show },
		{ "rm", app_rm },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, "app", app_help, subs);
}
