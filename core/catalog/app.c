/* Applications in the catalog (tsmedia/app.h): their rows, reading back,
 * listing, removal, and the binding of a content's Content_ ID to the store's
 * content item that holds its files.  Parsing a digest is core/import/'s
 * (app_xml.c, app_import.c). */
#include "tsmedia/app.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "catalog/catalog.h"
#include "catalog/rows.h"
#include "store/store_internal.h"
#include "tsmedia/log.h"
#include "util/strset.h"

/* ---- IDs ----------------------------------------------------------------- */

/* @n characters of a GUID in registry format (8-4-4-4-12), into @out in
 * the case @upper says. */
static bool guid_copy(const char *s, bool upper, char *out)
{
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		unsigned char c = (unsigned char)s[i];

		if (dash ? c != '-' : !isxdigit(c))
			return false;
		out[i] = (char)(dash ? '-' : upper ? toupper(c) : tolower(c));
	}
	return true;
}

/* Task sequences write "ScopeId_<GUID upper>/Application_<guid lower>"
 * (../shared/fixtures/task-sequences/SOURCES.md, "Application IDs"); the
 * digest's AuthoringScopeId and LogicalName are the two halves. */
int tsm_app_id_normalize(const char *s, const char *kind, char *out)
{
	size_t klen = strlen(kind);

	if (strlen(s) != 8 + 36 + 1 + klen + 1 + 36 || strncasecmp(s, "ScopeId_", 8) != 0 ||
	    s[44] != '/' || strncasecmp(s + 45, kind, klen) != 0 || s[45 + klen] != '_')
		return -EINVAL;
	memcpy(out, "ScopeId_", 8);
	if (!guid_copy(s + 8, true, out + 8))
		return -EINVAL;
	out[44] = '/';
	memcpy(out + 45, kind, klen);
	out[45 + klen] = '_';
	if (!guid_copy(s + 46 + klen, false, out + 46 + klen))
		return -EINVAL;
	out[46 + klen + 36] = '\0';
	return 0;
}

int tsm_app_content_id_normalize(const char *s, char out[TSM_APP_CONTENT_ID_LEN + 1])
{
	if (strlen(s) != TSM_APP_CONTENT_ID_LEN || strncasecmp(s, "Content_", 8) != 0)
		return -EINVAL;
	memcpy(out, "Content_", 8);
	if (!guid_copy(s + 8, false, out + 8))
		return -EINVAL;
	out[TSM_APP_CONTENT_ID_LEN] = '\0';
	return 0;
}

/* ---- freeing ------------------------------------------------------------- */

static void strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void dt_clear(struct tsm_app_dt *dt)
{
	free(dt->id);
	free(dt->title);
	free(dt->technology);
	free(dt->install_command);
	for (size_t i = 0; i < dt->ncontents; i++) {
		struct tsm_app_content *c = &dt->contents[i];

		free(c->id);
		for (size_t k = 0; k < c->nfiles; k++)
			free(c->files[k].name);
		free(c->files);
	}
	free(dt->contents);
	for (size_t i = 0; i < dt->ngroups; i++) {
		struct tsm_app_dep_group *g = &dt->groups[i];

		free(g->name);
		free(g->op);
		for (size_t k = 0; k < g->ndeps; k++) {
			free(g->deps[k].app);
			free(g->deps[k].dt);
			free(g->deps[k].desired_state);
		}
		free(g->deps);
	}
	free(dt->groups);
	for (size_t i = 0; i < dt->nsupersedes; i++) {
		free(dt->supersedes[i].app);
		free(dt->supersedes[i].dt);
		free(dt->supersedes[i].desired_state);
	}
	free(dt->supersedes);
}

void tsm_app_clear(struct tsm_app *app)
{
	free(app->id);
	free(app->title);
	free(app->publisher);
	free(app->software_version);
	free(app->source);
	for (size_t i = 0; i < app->ndts; i++)
		dt_clear(&app->dts[i]);
	free(app->dts);
	strings_free(app->superseded_by, app->nsuperseded_by);
	strings_free(app->needed_by, app->nneeded_by);
	memset(app, 0, sizeof(*app));
}

void tsm_app_list_free(struct tsm_app *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tsm_app_clear(&list[i]);
	free(list);
}

/* ---- writing ------------------------------------------------------------- */

enum { W_APP, W_DT, W_CONTENT, W_FILE, W_DEP, W_SUP, W_COUNT };

static const char *const write_sql[W_COUNT] = {
	[W_APP] = "INSERT INTO applications(id, revision, title, publisher, software_version, source,"
		  " created) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[W_DT] = "INSERT INTO app_deployment_types(app, priority, id, revision, title, technology,"
		 " install_command) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[W_CONTENT] = "INSERT INTO app_contents(dt, seq, content, version) VALUES(?1, ?2, ?3, ?4)",
	[W_FILE] = "INSERT INTO app_content_files(dt, content_seq, seq, name, size)"
		   " VALUES(?1, ?2, ?3, ?4, ?5)",
	[W_DEP] = "INSERT INTO app_dependencies(dt, grp, seq, group_name, operator, dep_app, dep_dt,"
		  " desired_state) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	[W_SUP] = "INSERT INTO app_supersedes(dt, seq, old_app, old_dt, desired_state)"
		  " VALUES(?1, ?2, ?3, ?4, ?5)",
};

static int write_dt(sqlite3 *db, sqlite3_stmt **w, const char *app, size_t prio,
		    const struct tsm_app_dt *dt)
{
	int rc;

	sqlite3_bind_text(w[W_DT], 1, app, -1, SQLITE_STATIC);
	sqlite3_bind_int64(w[W_DT], 2, (int64_t)prio + 1);
	sqlite3_bind_text(w[W_DT], 3, dt->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(w[W_DT], 4, dt->revision);
	sqlite3_bind_text(w[W_DT], 5, dt->title, -1, SQLITE_STATIC);
	sqlite3_bind_text(w[W_DT], 6, dt->technology, -1, SQLITE_STATIC);
	sqlite3_bind_text(w[W_DT], 7, dt->install_command, -1, SQLITE_STATIC);
	if ((rc = tsm_db_step_reset(db, w[W_DT], "recording a deployment type")) < 0)
		return rc;
	for (size_t i = 0; i < dt->ncontents && rc == 0; i++) {
		const struct tsm_app_content *c = &dt->contents[i];

		sqlite3_bind_text(w[W_CONTENT], 1, dt->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(w[W_CONTENT], 2, (int64_t)i);
		sqlite3_bind_text(w[W_CONTENT], 3, c->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(w[W_CONTENT], 4, c->version);
		rc = tsm_db_step_reset(db, w[W_CONTENT], "recording a deployment type's content");
		for (size_t k = 0; k < c->nfiles && rc == 0; k++) {
			sqlite3_bind_text(w[W_FILE], 1, dt->id, -1, SQLITE_STATIC);
			sqlite3_bind_int64(w[W_FILE], 2, (int64_t)i);
			sqlite3_bind_int64(w[W_FILE], 3, (int64_t)k);
			sqlite3_bind_text(w[W_FILE], 4, c->files[k].name, -1, SQLITE_STATIC);
			sqlite3_bind_int64(w[W_FILE], 5, (int64_t)c->files[k].size);
			rc = tsm_db_step_reset(db, w[W_FILE], "recording a content's file");
		}
	}
	for (size_t g = 0; g < dt->ngroups && rc == 0; g++) {
		const struct tsm_app_dep_group *grp = &dt->groups[g];

		for (size_t k = 0; k < grp->ndeps && rc == 0; k++) {
			sqlite3_bind_text(w[W_DEP], 1, dt->id, -1, SQLITE_STATIC);
			sqlite3_bind_int64(w[W_DEP], 2, (int64_t)g);
			sqlite3_bind_int64(w[W_DEP], 3, (int64_t)k);
			sqlite3_bind_text(w[W_DEP], 4, grp->name, -1, SQLITE_STATIC);
			sqlite3_bind_text(w[W_DEP], 5, grp->op, -1, SQLITE_STATIC);
			sqlite3_bind_text(w[W_DEP], 6, grp->deps[k].app, -1, SQLITE_STATIC);
			sqlite3_bind_text(w[W_DEP], 7, grp->deps[k].dt, -1, SQLITE_STATIC);
			sqlite3_bind_text(w[W_DEP], 8, grp->deps[k].desired_state, -1, SQLITE_STATIC);
			rc = tsm_db_step_reset(db, w[W_DEP], "recording a dependency");
		}
	}
	for (size_t k = 0; k < dt->nsupersedes && rc == 0; k++) {
		sqlite3_bind_text(w[W_SUP], 1, dt->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(w[W_SUP], 2, (int64_t)k);
		sqlite3_bind_text(w[W_SUP], 3, dt->supersedes[k].app, -1, SQLITE_STATIC);
		sqlite3_bind_text(w[W_SUP], 4, dt->supersedes[k].dt, -1, SQLITE_STATIC);
		sqlite3_bind_text(w[W_SUP], 5, dt->supersedes[k].desired_state, -1, SQLITE_STATIC);
		rc = tsm_db_step_reset(db, w[W_SUP], "recording a supersedence");
	}
	return rc;
}

/* Deployment type IDs are store-wide: one another application holds is refused. */
int tsm_app_dt_owner_check(struct tsm_store *store, const struct tsm_app *app)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = tsm_db_prepare(store->db, "SELECT app FROM app_deployment_types WHERE id = ?1"
					    " AND app <> ?2", &s)) < 0)
		return rc;
	for (size_t i = 0; i < app->ndts && rc == 0; i++) {
		sqlite3_bind_text(s, 1, app->dts[i].id, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 2, app->id, -1, SQLITE_STATIC);
		if ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			tsm_error("%s: deployment type %s belongs to application %s already", app->source,
				  app->dts[i].id, (const char *)sqlite3_column_text(s, 0));
			rc = -EEXIST;
		} else {
			rc = rc == SQLITE_DONE ? 0 : tsm_db_error(store->db, "reading deployment types");
		}
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	return rc;
}

int tsm_app_rows_replace(struct tsm_store *store, const struct tsm_app *app)
{
	sqlite3_stmt *w[W_COUNT] = { 0 }, *del;
	int rc;

	if ((rc = tsm_app_dt_owner_check(store, app)) < 0)
		return rc;
	/* The old rows go with their application (the keys cascade). */
	if ((rc = tsm_db_prepare(store->db, "DELETE FROM applications WHERE id = ?", &del)) < 0)
		return rc;
	sqlite3_bind_text(del, 1, app->id, -1, SQLITE_STATIC);
	rc = sqlite3_step(del) == SQLITE_DONE ? 0 : tsm_db_error(store->db, "replacing an application");
	sqlite3_finalize(del);
	for (int i = 0; i < W_COUNT && rc == 0; i++)
		rc = tsm_db_prepare(store->db, write_sql[i], &w[i]);
	if (rc == 0) {
		sqlite3_bind_text(w[W_APP], 1, app->id, -1, SQLITE_STATIC);
		sqlite3_bind_int64(w[W_APP], 2, app->revision);
		sqlite3_bind_text(w[W_APP], 3, app->title, -1, SQLITE_STATIC);
		sqlite3_bind_text(w[W_APP], 4, app->publisher, -1, SQLITE_STATIC);
		sqlite3_bind_text(w[W_APP], 5, app->software_version, -1, SQLITE_STATIC);
		sqlite3_bind_text(w[W_APP], 6, app->source, -1, SQLITE_STATIC);
		sqlite3_bind_int64(w[W_APP], 7, (int64_t)time(NULL));
		rc = tsm_db_step_reset(store->db, w[W_APP], "recording an application");
	}
	for (size_t i = 0; i < app->ndts && rc == 0; i++)
		rc = write_dt(store->db, w, app->id, i, &app->dts[i]);
	for (int i = 0; i < W_COUNT; i++)
		sqlite3_finalize(w[i]);
	return rc;
}

/* ---- content bindings ---------------------------------------------------- */

static int binding_get(struct tsm_store *store, const char *sql, const char *key, char *out,
		       size_t size)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = tsm_db_prepare(store->db, sql, &s)) < 0)
		return rc;
	sqlite3_bind_text(s, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		snprintf(out, size, "%s", (const char *)sqlite3_column_text(s, 0));
	rc = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT
						      : tsm_db_error(store->db, "reading content bindings");
	sqlite3_finalize(s);
	return rc;
}

int tsm_app_binding_find(struct tsm_store *store, const char *content_id,
			 char id_ret[TSM_CONTENT_ID_LEN + 1])
{
	return binding_get(store, "SELECT content FROM app_content_bindings WHERE content_uid = ?",
			   content_id, id_ret, TSM_CONTENT_ID_LEN + 1);
}

int tsm_app_binding_insert(struct tsm_store *store, const char *content_id, const char *id)
{
	sqlite3_stmt *s;
	int rc;

	if ((rc = tsm_db_prepare(store->db, "INSERT INTO app_content_bindings(content_uid, content)"
					    " VALUES(?1, ?2)", &s)) < 0)
		return rc;
	sqlite3_bind_text(s, 1, content_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : tsm_db_error(store->db, "binding a content ID");
	sqlite3_finalize(s);
	return rc;
}

int tsm_app_content_of(struct tsm_store *store, const char *store_id,
		       char out[TSM_APP_CONTENT_ID_LEN + 1])
{
	int rc;

	if ((rc = tsm_store_read_begin(store)) < 0)
		return rc;
	rc = binding_get(store, "SELECT content_uid FROM app_content_bindings WHERE content = ?",
			 store_id, out, TSM_APP_CONTENT_ID_LEN + 1);
	tsm_store_read_end(store);
	return rc;
}

/* ---- reading ------------------------------------------------------------- */

static char *col_dup(sqlite3_stmt *s, int col)
{
	const unsigned char *t = sqlite3_column_text(s, col);

	return strdup(t ? (const char *)t : "");
}

static int grow(void **v, size_t n, size_t size)
{
	void *p = reallocarray(*v, n + 1, size);

	if (!p)
		return -ENOMEM;
	*v = p;
	return 0;
}

static int step_done(sqlite3 *db, int rc, const char *what)
{
	if (rc == SQLITE_DONE)
		return 0;
	return rc < 0 ? rc : tsm_db_error(db, what);
}

static int load_contents(struct tsm_store *store, struct tsm_app_dt *dt, bool files)
{
	sqlite3_stmt *s, *f = NULL;
	int rc;

	if ((rc = tsm_db_prepare(store->db,
				 "SELECT c.content, c.version, coalesce((SELECT b.content FROM"
				 " app_content_bindings b JOIN content k ON k.id = b.content"
				 " WHERE b.content_uid = c.content AND k.removed = 0), '')"
				 " FROM app_contents c WHERE c.dt = ? ORDER BY c.seq", &s)) < 0)
		return rc;
	if (files && (rc = tsm_db_prepare(store->db,
					  "SELECT name, size FROM app_content_files WHERE dt = ?1"
					  " AND content_seq = ?2 ORDER BY seq", &f)) < 0) {
		sqlite3_finalize(s);
		return rc;
	}
	sqlite3_bind_text(s, 1, dt->id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct tsm_app_content *c;

		if ((rc = grow((void **)&dt->contents, dt->ncontents, sizeof(*dt->contents))) < 0)
			break;
		c = &dt->contents[dt->ncontents];
		memset(c, 0, sizeof(*c));
		c->id = col_dup(s, 0);
		c->version = sqlite3_column_int64(s, 1);
		snprintf(c->store_id, sizeof(c->store_id), "%s", (const char *)sqlite3_column_text(s, 2));
		if (!c->id) {
			rc = -ENOMEM;
			break;
		}
		if (f) {
			sqlite3_bind_text(f, 1, dt->id, -1, SQLITE_STATIC);
			sqlite3_bind_int64(f, 2, (int64_t)dt->ncontents);
			while ((rc = sqlite3_step(f)) == SQLITE_ROW) {
				if ((rc = grow((void **)&c->files, c->nfiles, sizeof(*c->files))) < 0)
					break;
				c->files[c->nfiles].size = (uint64_t)sqlite3_column_int64(f, 1);
				if (!(c->files[c->nfiles++].name = col_dup(f, 0))) {
					rc = -ENOMEM;
					break;
				}
			}
			sqlite3_reset(f);
			if ((rc = step_done(store->db, rc, "reading content files")) < 0) {
				dt->ncontents++;
				break;
			}
		}
		dt->ncontents++;
	}
	rc = step_done(store->db, rc, "reading contents");
	sqlite3_finalize(s);
	sqlite3_finalize(f);
	return rc;
}

static int load_relations(struct tsm_store *store, struct tsm_app_dt *dt)
{
	sqlite3_stmt *s;
	int64_t last = -1;
	int rc;

	if ((rc = tsm_db_prepare(store->db,
				 "SELECT grp, group_name, operator, dep_app, dep_dt, desired_state"
				 " FROM app_dependencies WHERE dt = ? ORDER BY grp, seq", &s)) < 0)
		return rc;
	sqlite3_bind_text(s, 1, dt->id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct tsm_app_dep_group *g;
		struct tsm_app_dep *d;

		if (sqlite3_column_int64(s, 0) != last) {
			if ((rc = grow((void **)&dt->groups, dt->ngroups, sizeof(*dt->groups))) < 0)
				break;
			g = &dt->groups[dt->ngroups++];
			memset(g, 0, sizeof(*g));
			last = sqlite3_column_int64(s, 0);
			g->name = col_dup(s, 1);
			g->op = col_dup(s, 2);
			if (!g->name || !g->op) {
				rc = -ENOMEM;
				break;
			}
		}
		g = &dt->groups[dt->ngroups - 1];
		if ((rc = grow((void **)&g->deps, g->ndeps, sizeof(*g->deps))) < 0)
			break;
		d = &g->deps[g->ndeps++];
		d->app = col_dup(s, 3);
		d->dt = col_dup(s, 4);
		d->desired_state = col_dup(s, 5);
		if (!d->app || !d->dt || !d->desired_state) {
			rc = -ENOMEM;
			break;
		}
	}
	rc = step_done(store->db, rc, "reading dependencies");
	sqlite3_finalize(s);
	if (rc < 0)
		return rc;
	if ((rc = tsm_db_prepare(store->db, "SELECT old_app, old_dt, desired_state FROM app_supersedes"
					    " WHERE dt = ? ORDER BY seq", &s)) < 0)
		return rc;
	sqlite3_bind_text(s, 1, dt->id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct tsm_app_supersede *p;

		if ((rc = grow((void **)&dt->supersedes, dt->nsupersedes, sizeof(*dt->supersedes))) < 0)
			break;
		p = &dt->supersedes[dt->nsupersedes++];
		p->app = col_dup(s, 0);
		p->dt = col_dup(s, 1);
		p->desired_state = col_dup(s, 2);
		if (!p->app || !p->dt || !p->desired_state) {
			rc = -ENOMEM;
			break;
		}
	}
	rc = step_done(store->db, rc, "reading supersedence");
	sqlite3_finalize(s);
	return rc;
}

/* Distinct applications from a query of one parameter (@id) or none (@id NULL), into @v. */
static int app_names(struct tsm_store *store, const char *sql, const char *id, char ***v,
		     size_t *n)
{
	struct tsm_strset set = { 0 };
	sqlite3_stmt *s;
	int rc;

	if ((rc = tsm_db_prepare(store->db, sql, &s)) < 0)
		return rc;
	if (id)
		sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(s, 0);

		if ((rc = tsm_strset_add(&set, t, strlen(t))) < 0)
			break;
	}
	rc = step_done(store->db, rc, "reading applications");
	sqlite3_finalize(s);
	if (rc == 0)
		tsm_strset_take(&set, v, n);
	tsm_strset_clear(&set);
	return rc;
}

/* Application @id (normalized) into @app; -ENOENT without a message when
 * there is none.  @full: content files, dependencies, supersedence, and who
 * depends on or supersedes it. */
int tsm_app_load(struct tsm_store *store, const char *id, bool full, struct tsm_app *app)
{
	sqlite3_stmt *s;
	int rc;

	memset(app, 0, sizeof(*app));
	if ((rc = tsm_db_prepare(store->db, "SELECT revision, title, publisher, software_version,"
					    " source, created FROM applications WHERE id = ?", &s)) < 0)
		return rc;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		app->id = strdup(id);
		app->revision = sqlite3_column_int64(s, 0);
		app->title = col_dup(s, 1);
		app->publisher = col_dup(s, 2);
		app->software_version = col_dup(s, 3);
		app->source = col_dup(s, 4);
		app->created = sqlite3_column_int64(s, 5);
		rc = app->id && app->title && app->publisher && app->software_version && app->source
			     ? 0
			     : -ENOMEM;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : tsm_db_error(store->db, "reading an application");
	}
	sqlite3_finalize(s);
	if (rc < 0)
		goto out;
	if ((rc = tsm_db_prepare(store->db, "SELECT id, revision, title, technology, install_command"
					    " FROM app_deployment_types WHERE app = ? ORDER BY priority",
				 &s)) < 0)
		goto out;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct tsm_app_dt *dt;

		if ((rc = grow((void **)&app->dts, app->ndts, sizeof(*app->dts))) < 0)
			break;
		dt = &app->dts[app->ndts++];
		memset(dt, 0, sizeof(*dt));
		dt->id = col_dup(s, 0);
		dt->revision = sqlite3_column_int64(s, 1);
		dt->title = col_dup(s, 2);
		dt->technology = col_dup(s, 3);
		dt->install_command = col_dup(s, 4);
		if (!dt->id || !dt->title || !dt->technology || !dt->install_command) {
			rc = -ENOMEM;
			break;
		}
	}
	rc = step_done(store->db, rc, "reading deployment types");
	sqlite3_finalize(s);
	for (size_t i = 0; i < app->ndts && rc == 0; i++)
		if ((rc = load_contents(store, &app->dts[i], full)) == 0)
			rc = load_relations(store, &app->dts[i]);
	if (rc == 0 && full)
		rc = app_names(store, "SELECT t.app FROM app_supersedes s JOIN app_deployment_types t"
				      " ON t.id = s.dt WHERE s.old_app = ?1 ORDER BY t.app",
			       id, &app->superseded_by, &app->nsuperseded_by);
	if (rc == 0 && full)
		rc = app_names(store, "SELECT t.app FROM app_dependencies d JOIN app_deployment_types t"
				      " ON t.id = d.dt WHERE d.dep_app = ?1 AND t.app <> ?1 ORDER BY t.app",
			       id, &app->needed_by, &app->nneeded_by);
out:
	if (rc < 0)
		tsm_app_clear(app);
	return rc;
}

#define APP_ID_MAX 100

int tsm_app_get(struct tsm_store *store, const char *id, struct tsm_app *app)
{
	char norm[APP_ID_MAX];
	int rc;

	memset(app, 0, sizeof(*app));
	if (tsm_app_id_normalize(id, "Application", norm) < 0) {
		tsm_error("invalid application ID '%s': ScopeId_<GUID>/Application_<GUID>", id);
		return -EINVAL;
	}
	if ((rc = tsm_store_read_begin(store)) < 0)
		return rc;
	rc = tsm_app_load(store, norm, true, app);
	tsm_store_read_end(store);
	if (rc == -ENOENT)
		tsm_error("no application %s in %s", norm, store->dir);
	return rc;
}

bool tsm_app_exists(struct tsm_store *store, const char *id)
{
	char norm[APP_ID_MAX];
	sqlite3_stmt *s;
	bool found = false;

	if (tsm_app_id_normalize(id, "Application", norm) < 0 || tsm_store_read_begin(store) < 0)
		return false;
	if (tsm_db_prepare(store->db, "SELECT 1 FROM applications WHERE id = ?", &s) == 0) {
		sqlite3_bind_text(s, 1, norm, -1, SQLITE_STATIC);
		found = sqlite3_step(s) == SQLITE_ROW;
		sqlite3_finalize(s);
	}
	tsm_store_read_end(store);
	return found;
}

int tsm_app_list(struct tsm_store *store, struct tsm_app **list_ret, size_t *n_ret)
{
	struct tsm_app *list = NULL;
	char **ids = NULL;
	size_t nids = 0, n = 0;
	int rc;

	if ((rc = tsm_store_read_begin(store)) < 0)
		return rc;
	rc = app_names(store, "SELECT id FROM applications ORDER BY id", NULL, &ids, &nids);
	if (rc == 0 && nids && !(list = calloc(nids, sizeof(*list))))
		rc = -ENOMEM;
	for (; rc == 0 && n < nids; n++)
		rc = tsm_app_load(store, ids[n], false, &list[n]);
	tsm_store_read_end(store);
	strings_free(ids, nids);
	if (rc < 0) {
		tsm_app_list_free(list, n);
		return rc;
	}
	*list_ret = list;
	*n_ret = n;
	return 0;
}

/* The media whose current definition names application @id with --application
 * (media_options' "applications": IDs joined by newlines) could no longer be
 * edited (an edit keeps the list, adding to it): refused, as ts rm and site rm
 * refuse what media use. */
static int media_naming_check(struct tsm_store *store, const char *id)
{
	char names[512] = "";
	size_t len = 0, n = 0;
	sqlite3_stmt *s;
	int rc;

	if ((rc = tsm_db_prepare(store->db,
				 "SELECT DISTINCT v.media FROM media_versions v"
				 " JOIN media m ON m.name = v.media"
				 " JOIN media_options o ON o.version = v.id AND o.key = 'applications'"
				 " WHERE v.removed = 0 AND m.removed = 0 AND v.version = (SELECT"
				 " max(w.version) FROM media_versions w WHERE w.media = v.media AND"
				 " w.removed = 0) AND instr(char(10) || CAST(o.value AS TEXT) || char(10),"
				 " char(10) || ?1 || char(10)) > 0 ORDER BY 1", &s)) < 0)
		return rc;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len < sizeof(names))
			len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", n ? ", " : "",
						(const char *)sqlite3_column_text(s, 0));
		n++;
	}
	rc = step_done(store->db, rc, "reading media definitions");
	sqlite3_finalize(s);
	if (rc == 0 && n) {
		tsm_error("application %s is named by media %s (--application, which media edit"
			  " adds to and never drops): remove those media first", id, names);
		rc = -EBUSY;
	}
	return rc;
}

int tsm_app_rm(struct tsm_store *store, const char *id)
{
	char norm[APP_ID_MAX];
	struct tsm_app app;
	sqlite3_stmt *s;
	int rc;

	if (tsm_app_id_normalize(id, "Application", norm) < 0) {
		tsm_error("invalid application ID '%s': ScopeId_<GUID>/Application_<GUID>", id);
		return -EINVAL;
	}
	if ((rc = tsm_store_write_begin(store)) < 0)
		return rc;
	if ((rc = tsm_app_load(store, norm, true, &app)) < 0) {
		if (rc == -ENOENT)
			tsm_error("no application %s in %s", norm, store->dir);
		goto out_abort;
	}
	if (app.nneeded_by) {
		char names[1024] = "";
		size_t len = 0;

		for (size_t i = 0; i < app.nneeded_by && len < sizeof(names); i++)
			len += (size_t)snprintf(names + len, sizeof(names) - len, "%s%s", i ? ", " : "",
						app.needed_by[i]);
		tsm_error("application %s is a dependency of %s: remove those first", norm, names);
		tsm_app_clear(&app);
		rc = -EBUSY;
		goto out_abort;
	}
	tsm_app_clear(&app);
	if ((rc = media_naming_check(store, norm)) < 0)
		goto out_abort;
	if ((rc = tsm_db_prepare(store->db, "DELETE FROM applications WHERE id = ?", &s)) < 0)
		goto out_abort;
	sqlite3_bind_text(s, 1, norm, -1, SQLITE_STATIC);
	rc = sqlite3_step(s) == SQLITE_DONE ? 0 : tsm_db_error(store->db, "removing an application");
	sqlite3_finalize(s);
	if (rc < 0)
		goto out_abort;
	return tsm_store_write_commit(store);

out_abort:
	tsm_store_write_abort(store);
	return rc;
}

/* ---- the dependency graph ------------------------------------------------ */

int tsm_app_edges_load(struct tsm_store *store, const char *exclude, struct tsm_app_edge **e_ret,
		       size_t *n_ret)
{
	struct tsm_app_edge *e = NULL;
	size_t n = 0;
	sqlite3_stmt *s;
	int rc;

	if ((rc = tsm_db_prepare(store->db,
				 "SELECT t.app, d.dt, d.dep_app, d.dep_dt FROM app_dependencies d"
				 " JOIN app_deployment_types t ON t.id = d.dt WHERE t.app <> ?1"
				 " ORDER BY d.dt, d.grp, d.seq", &s)) < 0)
		return rc;
	sqlite3_bind_text(s, 1, exclude ? exclude : "", -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct tsm_app_edge *x;

		if ((rc = grow((void **)&e, n, sizeof(*e))) < 0)
			break;
		x = &e[n++];
		x->from_app = col_dup(s, 0);
		x->from_dt = col_dup(s, 1);
		x->to_app = col_dup(s, 2);
		x->to_dt = col_dup(s, 3);
		if (!x->from_app || !x->from_dt || !x->to_app || !x->to_dt) {
			rc = -ENOMEM;
			break;
		}
	}
	rc = step_done(store->db, rc, "reading dependencies");
	sqlite3_finalize(s);
	if (rc < 0) {
		tsm_app_edges_free(e, n);
		return rc;
	}
	*e_ret = e;
	*n_ret = n;
	return 0;
}

void tsm_app_edges_free(struct tsm_app_edge *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].from_app);
		free(e[i].from_dt);
		free(e[i].to_app);
		free(e[i].to_dt);
	}
	free(e);
}
