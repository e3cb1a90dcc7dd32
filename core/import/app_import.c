/* `app import`: an application read and checked (import/app_xml.c) against
 * the store's applications (its dependencies' deployment types exist where
 * their application is in the store; no dependency cycle) before anything
 * is written; then the contents given with --content, then its rows. */
#include "tsmedia/app.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "catalog/rows.h"
#include "import/app_xml.h"
#include "store/store_internal.h"
#include "tsmedia/log.h"
#include "tsmedia/store.h"
#include "util/strset.h"

/* Longest chain of deployment types followed while looking for a cycle. */
#define DEP_DEPTH_MAX 256

struct graph {
	struct tsm_app_edge *e; /* sorted by from_dt */
	size_t n;
};

static int edge_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tsm_app_edge *)a)->from_dt,
		      ((const struct tsm_app_edge *)b)->from_dt);
}

/* The first edge from @dt, or NULL. */
static const struct tsm_app_edge *edges_from(const struct graph *g, const char *dt)
{
	size_t lo = 0, hi = g->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (strcmp(g->e[mid].from_dt, dt) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < g->n && strcmp(g->e[lo].from_dt, dt) == 0 ? &g->e[lo] : NULL;
}

struct walk {
	const struct graph *g;
	const char *stack[DEP_DEPTH_MAX];
	size_t depth;
	struct tsm_strset done; /* explored without a cycle: a diamond is walked once */
	const char *what;
};

/* Depth first from @dt: a deployment type met again on the path is a cycle. */
static int walk_from(struct walk *w, const char *dt)
{
	for (size_t i = 0; i < w->depth; i++) {
		if (strcmp(w->stack[i], dt) == 0) {
			char path[2048];
			size_t len = 0;

			for (size_t k = i; k < w->depth && len < sizeof(path); k++)
				len += (size_t)snprintf(path + len, sizeof(path) - len, "%s -> ",
							w->stack[k]);
			if (len < sizeof(path))
				snprintf(path + len, sizeof(path) - len, "%s", dt);
			tsm_error("%s: a dependency cycle: %s: refused", w->what, path);
			return -ELOOP;
		}
	}
	if (tsm_strset_has(&w->done, dt))
		return 0;
	if (w->depth == DEP_DEPTH_MAX) {
		tsm_error("%s: dependencies nested deeper than %d deployment types: refused", w->what,
			  DEP_DEPTH_MAX);
		return -E2BIG;
	}
	w->stack[w->depth++] = dt;
	for (const struct tsm_app_edge *e = edges_from(w->g, dt);
	     e && e < w->g->e + w->g->n && strcmp(e->from_dt, dt) == 0; e++) {
		int rc = walk_from(w, e->to_dt);

		if (rc < 0)
			return rc;
	}
	w->depth--;
	return tsm_strset_add(&w->done, dt, strlen(dt));
}

/* Inside a store session: @app's dependencies name deployment types their
 * application has (when it is in the store), and none leads back. */
static int deps_check(struct tsm_store *store, const struct tsm_app *app)
{
	struct graph g = { 0 };
	size_t stored = 0;
	int rc;

	if ((rc = tsm_app_edges_load(store, app->id, &g.e, &stored)) < 0)
		return rc;
	g.n = stored;
	for (size_t i = 0; i < app->ndts && rc == 0; i++) {
		const struct tsm_app_dt *dt = &app->dts[i];

		for (size_t k = 0; k < dt->ngroups && rc == 0; k++) {
			const struct tsm_app_dep_group *grp = &dt->groups[k];

			for (size_t j = 0; j < grp->ndeps && rc == 0; j++) {
				const struct tsm_app_dep *d = &grp->deps[j];
				struct tsm_app target;
				bool has = false;
				void *q;

				if ((rc = tsm_app_load(store, d->app, false, &target)) == 0) {
					for (size_t t = 0; t < target.ndts && !has; t++)
						has = strcmp(target.dts[t].id, d->dt) == 0;
					if (!has) {
						tsm_error("%s: deployment type %s depends on deployment type %s,"
							  " which application %s in the store does not have",
							  app->source, dt->id, d->dt, d->app);
						rc = -ENOENT;
					}
					tsm_app_clear(&target);
				} else if (rc == -ENOENT) {
					rc = 0; /* not imported yet: media refuse it until it is */
				}
				if (rc < 0)
					break;
				if (!(q = reallocarray(g.e, g.n + 1, sizeof(*g.e)))) {
					rc = -ENOMEM;
					break;
				}
				g.e = q;
				/* Borrowed strings: freed with @app, not with the graph. */
				g.e[g.n++] = (struct tsm_app_edge){ .from_app = app->id, .from_dt = dt->id,
								    .to_app = d->app, .to_dt = d->dt };
			}
		}
	}
	if (rc == 0) {
		struct walk w = { .g = &g, .what = app->source };

		if (g.n)
			qsort(g.e, g.n, sizeof(*g.e), edge_cmp);
		for (size_t i = 0; i < app->ndts && rc == 0; i++)
			rc = walk_from(&w, app->dts[i].id);
		tsm_strset_clear(&w.done);
	}
	/* The store's edges own their strings; ours do not. */
	for (size_t i = 0; i < g.n; i++) {
		if (g.e[i].from_app == app->id)
			g.e[i] = (struct tsm_app_edge){ 0 };
	}
	tsm_app_edges_free(g.e, g.n);
	return rc;
}

/* --content DIR: each content's folder holds the files its digest lists,
 * at the sizes it lists, before anything is imported. */
static int content_dir_check(const struct tsm_app *app, const char *dir)
{
	int rc = 0;

	for (size_t i = 0; i < app->ndts && rc == 0; i++) {
		for (size_t k = 0; k < app->dts[i].ncontents && rc == 0; k++) {
			const struct tsm_app_content *c = &app->dts[i].contents[k];
			struct stat st;
			char *path = NULL;

			if (asprintf(&path, "%s/%s", dir, c->id) < 0)
				return -ENOMEM;
			if (lstat(path, &st) < 0 || !S_ISDIR(st.st_mode)) {
				tsm_error("%s: no folder %s for content %s of deployment type %s",
					  app->source, path, c->id, app->dts[i].id);
				rc = -ENOENT;
			}
			for (size_t f = 0; f < c->nfiles && rc == 0; f++) {
				char *file = NULL;

				if (asprintf(&file, "%s/%s", path, c->files[f].name) < 0) {
					rc = -ENOMEM;
					break;
				}
				if (lstat(file, &st) < 0 || !S_ISREG(st.st_mode)) {
					tsm_error("%s: content %s lists %s, which %s does not hold as a file",
						  app->source, c->id, c->files[f].name, path);
					rc = -ENOENT;
				} else if ((uint64_t)st.st_size != c->files[f].size) {
					tsm_error("%s: content %s lists %s at %llu bytes; %s is %llu bytes",
						  app->source, c->id, c->files[f].name,
						  (unsigned long long)c->files[f].size, file,
						  (unsigned long long)st.st_size);
					rc = -EINVAL;
				}
				free(file);
			}
			free(path);
		}
	}
	return rc;
}

static int import_contents(struct tsm_store *store, const struct tsm_app *app, const char *dir,
			   bool progress)
{
	int rc = 0;

	for (size_t i = 0; i < app->ndts && rc == 0; i++) {
		const struct tsm_app_dt *dt = &app->dts[i];

		for (size_t k = 0; k < dt->ncontents && rc == 0; k++) {
			const struct tsm_app_content *c = &dt->contents[k];
			struct tsm_content_add_result res;
			char *path = NULL, *name = NULL;
			bool seen = false;

			/* A content two deployment types share is imported once. */
			for (size_t a = 0; a <= i && !seen; a++)
				for (size_t b = 0; b < (a == i ? k : app->dts[a].ncontents) && !seen; b++)
					seen = strcmp(app->dts[a].contents[b].id, c->id) == 0;
			if (seen)
				continue;
			if (asprintf(&path, "%s/%s", dir, c->id) < 0)
				return -ENOMEM;
			if (asprintf(&name, "%.200s: %.200s", app->title, dt->title) < 0) {
				free(path);
				return -ENOMEM;
			}
			struct tsm_content_add_options o = {
				.kind = TSM_KIND_APPLICATION,
				.name = name,
				.id = c->id,
				.source = path,
				.progress = progress,
			};
			rc = tsm_content_add(store, &o, &res);
			free(path);
			free(name);
		}
	}
	return rc;
}

int tsm_app_import(struct tsm_store *store, const struct tsm_app_import_options *o, char **id_ret)
{
	struct tsm_app app;
	char *source;
	int rc;

	if ((rc = tsm_app_xml_parse_file(o->path, &app)) < 0)
		return rc;
	if ((source = realpath(o->path, NULL))) {
		free(app.source);
		app.source = source;
	}
	if (o->content_dir && (rc = content_dir_check(&app, o->content_dir)) < 0)
		goto out;
	/* Checked before the contents go in, and again in the write session. */
	if ((rc = tsm_store_read_begin(store)) < 0)
		goto out;
	rc = deps_check(store, &app);
	tsm_store_read_end(store);
	if (rc < 0)
		goto out;
	if (o->content_dir && (rc = import_contents(store, &app, o->content_dir, o->progress)) < 0)
		goto out;
	if ((rc = tsm_store_write_begin(store)) < 0)
		goto out;
	if ((rc = deps_check(store, &app)) < 0 || (rc = tsm_app_rows_replace(store, &app)) < 0) {
		tsm_store_write_abort(store);
		goto out;
	}
	if ((rc = tsm_store_write_commit(store)) < 0)
		goto out;
	if (!(*id_ret = strdup(app.id)))
		rc = -ENOMEM;
out:
	tsm_app_clear(&app);
	return rc;
}
