/* The applications stand-alone and prestaged media carry: every application
 * the task sequence names (its steps and its referenceList, which holds a
 * child sequence's applications too) and every --application, each with all
 * its deployment types, since the client picks one at run time; with
 * --include-dependencies, the deployment types those depend on, transitively,
 * each once, a cycle refused.  Every problem is an error naming the media, the
 * application, the deployment type and the content. */
#include "media/media_internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsmedia/app.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"
#include "tsmedia/ts.h"
#include "util/strset.h"

/* Longest dependency chain followed. */
#define DEPTH_MAX 256

struct resolve {
	struct tsm_store *store;
	const struct tsm_media_def *d;
	struct tsm_media_apps *out;
	struct tsm_strset contents; /* store content IDs, in order */
	struct tsm_strset done;     /* deployment types taken */
	const char *stack[DEPTH_MAX];
	size_t depth;
	int errors;
};

static void broken(struct resolve *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void broken(struct resolve *r, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), _(fmt), ap);
	va_end(ap);
	tsm_error("media '%s' (%s): %s", r->d->name, tsm_media_type_name(r->d->type), msg);
	r->errors++;
}

void tsm_media_apps_clear(struct tsm_media_apps *a)
{
	for (size_t i = 0; i < a->napps; i++)
		tsm_app_clear(&a->apps[i]);
	free(a->apps);
	for (size_t i = 0; i < a->ncontents; i++)
		free(a->contents[i]);
	free(a->contents);
	free(a->dts);
	memset(a, 0, sizeof(*a));
}

/* The application @id among those loaded, else loaded (NULL when the store lacks it). */
static const struct tsm_app *app_find(struct resolve *r, const char *id, int *rc)
{
	struct tsm_media_apps *o = r->out;
	void *p;

	*rc = 0;
	for (size_t i = 0; i < o->napps; i++)
		if (strcmp(o->apps[i].id, id) == 0)
			return &o->apps[i];
	if (!tsm_app_exists(r->store, id))
		return NULL;
	if (!(p = reallocarray(o->apps, o->napps + 1, sizeof(*o->apps)))) {
		*rc = -ENOMEM;
		return NULL;
	}
	o->apps = p;
	if ((*rc = tsm_app_get(r->store, id, &o->apps[o->napps])) < 0)
		return NULL;
	/* dts point into the array: fix them up after it moved. */
	for (size_t i = 0; i < o->ndts; i++)
		o->dts[i].app = &o->apps[o->dts[i].app_index];
	return &o->apps[o->napps++];
}

static int take_dt(struct resolve *r, size_t app_index, size_t dt_index);

/* Deployment type @dt_id of application @app_id, which a dependency names. */
static int take_dep(struct resolve *r, const struct tsm_app_dt *from, const char *app_id,
		    const char *dt_id)
{
	const struct tsm_app *app;
	int rc;

	for (size_t i = 0; i < r->depth; i++) {
		if (strcmp(r->stack[i], dt_id) == 0) {
			broken(r, "deployment type %s depends on %s, which depends on it again (a"
				   " dependency cycle): refused", from->id, dt_id);
			return 0;
		}
	}
	if (tsm_strset_has(&r->done, dt_id))
		return 0;
	if (!(app = app_find(r, app_id, &rc))) {
		if (rc < 0)
			return rc;
		broken(r, "deployment type %s ('%s') depends on application %s (deployment type %s),"
			   " which is not in the store (tsmedia app import)", from->id, from->title,
			app_id, dt_id);
		return 0;
	}
	for (size_t k = 0; k < app->ndts; k++)
		if (strcmp(app->dts[k].id, dt_id) == 0)
			return take_dt(r, (size_t)(app - r->out->apps), k);
	broken(r, "deployment type %s ('%s') depends on deployment type %s of application %s,"
		   " which that application does not have", from->id, from->title, dt_id, app_id);
	return 0;
}

static int take_dt(struct resolve *r, size_t app_index, size_t dt_index)
{
	struct tsm_media_apps *o = r->out;
	const struct tsm_app *app = &o->apps[app_index];
	const struct tsm_app_dt *dt = &app->dts[dt_index];
	int rc;
	void *p;

	if (tsm_strset_has(&r->done, dt->id))
		return 0;
	if (r->depth == DEPTH_MAX) {
		broken(r, "dependencies nested deeper than %d deployment types at %s", DEPTH_MAX,
			dt->id);
		return 0;
	}
	if ((rc = tsm_strset_add(&r->done, dt->id, strlen(dt->id))) < 0)
		return rc;
	if (!(p = reallocarray(o->dts, o->ndts + 1, sizeof(*o->dts))))
		return -ENOMEM;
	o->dts = p;
	o->dts[o->ndts++] = (struct tsm_media_app_dt){ .app = app, .app_index = app_index,
							.dt_index = dt_index };
	for (size_t k = 0; k < dt->ncontents; k++) {
		const struct tsm_app_content *c = &dt->contents[k];

		if (!c->store_id[0])
			broken(r, "application %s ('%s'), deployment type %s ('%s'): content %s is not"
				   " in the store (tsmedia content add --kind application --id %s)",
				app->id, app->title, dt->id, dt->title, c->id, c->id);
		else if ((rc = tsm_strset_add(&r->contents, c->store_id, strlen(c->store_id))) < 0)
			return rc;
	}
	if (!r->d->include_dependencies)
		return 0;
	r->stack[r->depth++] = dt->id;
	for (size_t g = 0; g < dt->ngroups; g++) {
		for (size_t k = 0; k < dt->groups[g].ndeps; k++) {
			/* @app and @dt may move as applications load: index again. */
			const struct tsm_app_dt *now = &o->apps[app_index].dts[dt_index];
			const struct tsm_app_dep *dep = &now->groups[g].deps[k];

			if ((rc = take_dep(r, now, dep->app, dep->dt)) < 0) {
				r->depth--;
				return rc;
			}
		}
	}
	r->depth--;
	return 0;
}

/* An application the media names: all its deployment types. */
static int take_app(struct resolve *r, const char *id, const char *named_by)
{
	char norm[128];
	const struct tsm_app *app;
	size_t index, ndts;
	int rc;

	if (tsm_app_id_normalize(id, "Application", norm) < 0) {
		broken(r, "'%s' (%s) is not an application ID", id, named_by);
		return 0;
	}
	if (!(app = app_find(r, norm, &rc))) {
		if (rc < 0)
			return rc;
		broken(r, "application %s (%s) is not in the store (tsmedia app import)", norm,
			named_by);
		return 0;
	}
	index = (size_t)(app - r->out->apps);
	ndts = app->ndts;
	for (size_t k = 0; k < ndts; k++)
		if ((rc = take_dt(r, index, k)) < 0)
			return rc;
	return 0;
}

int tsm_media_apps_resolve(struct tsm_store *store, const struct tsm_media_def *d,
			   struct tsm_media_apps *out, int *problems_ret)
{
	struct resolve r = { .store = store, .d = d, .out = out };
	struct tsm_ts_info ts = { 0 };
	char by[64];
	int rc = 0;

	memset(out, 0, sizeof(*out));
	*problems_ret = 0;
	if (d->type != TSM_MEDIA_STANDALONE && d->type != TSM_MEDIA_PRESTAGED)
		return 0;
	if (d->task_sequence && tsm_ts_get(store, d->task_sequence, &ts) == 0) {
		snprintf(by, sizeof(by), _("named by task sequence %s"), ts.id);
		for (size_t i = 0; i < ts.napplications && rc == 0; i++)
			rc = take_app(&r, ts.applications[i], by);
	}
	for (size_t i = 0; i < d->napplications && rc == 0; i++)
		rc = take_app(&r, d->applications[i], "--application");
	tsm_ts_info_clear(&ts);
	if (rc == 0)
		tsm_strset_take(&r.contents, &out->contents, &out->ncontents);
	tsm_strset_clear(&r.contents);
	tsm_strset_clear(&r.done);
	*problems_ret = r.errors;
	if (rc == 0 && r.errors)
		rc = -EINVAL;
	if (rc < 0)
		tsm_media_apps_clear(out);
	return rc;
}

int tsm_media_apps_check(struct tsm_store *store, const struct tsm_media_def *d)
{
	struct tsm_media_apps a;
	int problems, rc = tsm_media_apps_resolve(store, d, &a, &problems);

	if (rc == 0)
		tsm_media_apps_clear(&a);
	return rc == 0 ? 0 : problems ? problems : 1;
}
