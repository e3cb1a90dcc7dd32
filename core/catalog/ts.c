/* Task sequences in the catalog: their rows (a new version per import),
 * reading back with what they need, listing, removal, and the steps
 * stand-alone media cannot run.  Parsing and checking a document is
 * core/import/'s (ts_xml.c, ts_import.c). */
#include "tsmedia/ts.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "catalog/catalog.h"
#include "catalog/rows.h"
#include "store/store_internal.h"
#include "tsmedia/content.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"
#include "util/strset.h"

void tsm_ts_strings_free(char **strings, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(strings[i]);
	free(strings);
}

void tsm_ts_info_clear(struct tsm_ts_info *info)
{
	free(info->name);
	free(info->boot_image);
	free(info->source);
	for (size_t i = 0; i < info->nsteps; i++)
		tsm_ts_step_clear(&info->steps[i]);
	free(info->steps);
	for (size_t i = 0; i < info->ngroups; i++)
		tsm_ts_group_clear(&info->groups[i]);
	free(info->groups);
	tsm_ts_strings_free(info->packages, info->npackages);
	tsm_ts_strings_free(info->applications, info->napplications);
	tsm_ts_strings_free(info->disabled_packages, info->ndisabled_packages);
	tsm_ts_strings_free(info->disabled_applications, info->ndisabled_applications);
	free(info->sequence_xml);
	memset(info, 0, sizeof(*info));
}

void tsm_ts_list_free(struct tsm_ts_info *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tsm_ts_info_clear(&list[i]);
	free(list);
}

void tsm_ts_step_clear(struct tsm_ts_step *s)
{
	free(s->name);
	free(s->type);
	free(s->group_path);
	tsm_ts_strings_free(s->packages, s->npackages);
	tsm_ts_strings_free(s->applications, s->napplications);
	free(s->description);
	free(s->condition);
	memset(s, 0, sizeof(*s));
}

void tsm_ts_group_clear(struct tsm_ts_group *g)
{
	free(g->name);
	free(g->path);
	free(g->description);
	free(g->condition);
	memset(g, 0, sizeof(*g));
}

/* ---- import ----------------------------------------------------------- */

int tsm_ts_id_taken(struct tsm_store *store, const char *id, bool *taken_ret)
{
	int64_t n = 0;
	int rc = tsm_db_int64_text(store->db, "SELECT count(*) FROM task_sequences WHERE id = ?"
						  " AND removed = 0", id, &n);

	*taken_ret = n > 0;
	return rc;
}

/* The next "<site>NNNNN" free among content and task sequences, from the
 * store's counter (shared with content, as ConfigMgr shares package IDs). */
int tsm_ts_id_allocate(struct tsm_store *store, char id[TSM_CONTENT_ID_LEN + 1])
{
	char value[32];
	long long next;
	int rc;

	if ((rc = tsm_meta_get(store->db, "next_content_number", value, sizeof(value))) < 0)
		return rc;
	for (next = strtoll(value, NULL, 10); next <= 0xfffff; next++) {
		int64_t a, b;

		snprintf(id, TSM_CONTENT_ID_LEN + 1, "%s%05llX", store->site_code, next);
		if ((rc = tsm_db_int64_text(store->db, "SELECT count(*) FROM content WHERE id = ?",
					    id, &a)) < 0 ||
		    (rc = tsm_db_int64_text(store->db,
					    "SELECT count(*) FROM task_sequences WHERE id = ?", id,
					    &b)) < 0)
			return rc;
		if (!a && !b)
			break;
	}
	if (next > 0xfffff) {
		tsm_error("%s: every ID of site %s is taken", store->dir, store->site_code);
		return -ENOSPC;
	}
	snprintf(value, sizeof(value), "%lld", next + 1);
	return tsm_meta_set(store->db, "next_content_number", value);
}

struct ts_writer {
	sqlite3 *db;
	const char *id;
	int64_t version;
	sqlite3_stmt *step, *pkg;
	int64_t seq, pkg_seq;
};

/* The row holds the enclosing path (@parent_path), as a step's row does. */
static int write_group(struct ts_writer *w, const struct tsm_ts_group *g, const char *parent_path)
{
	sqlite3_stmt *s = w->step;

	sqlite3_bind_text(s, 1, w->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, w->version);
	sqlite3_bind_int64(s, 3, w->seq++);
	sqlite3_bind_text(s, 4, "group", -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, g->depth);
	sqlite3_bind_text(s, 6, g->name, -1, SQLITE_STATIC);
	sqlite3_bind_null(s, 7);
	sqlite3_bind_text(s, 8, parent_path, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 9, g->disabled);
	sqlite3_bind_int(s, 10, g->continue_on_error);
	sqlite3_bind_int(s, 11, 0);
	sqlite3_bind_text(s, 12, g->description, -1, SQLITE_STATIC);
	if (g->condition)
		sqlite3_bind_text(s, 13, g->condition, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 13);
	return tsm_db_step_reset(w->db, s, "recording a task sequence group");
}

static int write_ref(struct ts_writer *w, const char *kind, const char *ref, int64_t step_seq)
{
	sqlite3_stmt *s = w->pkg;

	sqlite3_bind_text(s, 1, w->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, w->version);
	sqlite3_bind_int64(s, 3, w->pkg_seq++);
	sqlite3_bind_text(s, 4, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 5, ref, -1, SQLITE_STATIC);
	if (step_seq >= 0)
		sqlite3_bind_int64(s, 6, step_seq);
	else
		sqlite3_bind_null(s, 6);
	return tsm_db_step_reset(w->db, s, "recording a task sequence reference");
}

static int write_step(struct ts_writer *w, const struct tsm_ts_step *st, int depth)
{
	sqlite3_stmt *s = w->step;
	int64_t seq = w->seq++;
	int rc;

	sqlite3_bind_text(s, 1, w->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, w->version);
	sqlite3_bind_int64(s, 3, seq);
	sqlite3_bind_text(s, 4, "step", -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 5, depth);
	sqlite3_bind_text(s, 6, st->name, -1, SQLITE_STATIC);
	if (st->type)
		sqlite3_bind_text(s, 7, st->type, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 7);
	sqlite3_bind_text(s, 8, st->group_path, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 9, st->disabled);
	sqlite3_bind_int(s, 10, st->continue_on_error);
	sqlite3_bind_int(s, 11, st->dynamic_install);
	sqlite3_bind_text(s, 12, st->description, -1, SQLITE_STATIC);
	if (st->condition)
		sqlite3_bind_text(s, 13, st->condition, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(s, 13);
	if ((rc = tsm_db_step_reset(w->db, s, "recording a task sequence step")) < 0)
		return rc;
	for (size_t i = 0; i < st->npackages && rc == 0; i++)
		rc = write_ref(w, "package", st->packages[i], seq);
	for (size_t i = 0; i < st->napplications && rc == 0; i++)
		rc = write_ref(w, "application", st->applications[i], seq);
	return rc;
}

int tsm_ts_rows_write(struct tsm_store *store, const char *id, int64_t version,
		      const char *name, const char *boot_image, const char *source,
		      const struct tsm_ts_rows *doc)
{
	struct ts_writer w = { .db = store->db, .id = id, .version = version };
	sqlite3_stmt *stmt;
	size_t gi = 0;
	int rc;

	if ((rc = tsm_db_prepare(store->db,
				 "INSERT INTO task_sequences(id, version, name, boot_image, source, created,"
				 " dialect, sequence_xml) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, version);
	sqlite3_bind_text(stmt, 3, name, -1, SQLITE_STATIC);
	if (boot_image)
		sqlite3_bind_text(stmt, 4, boot_image, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, source, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 6, (int64_t)time(NULL));
	sqlite3_bind_text(stmt, 7, doc->dialect, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(stmt, 8, doc->sequence_xml, doc->sequence_len, SQLITE_STATIC);
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(store->db, "recording a task sequence");
	sqlite3_finalize(stmt);
	if (rc < 0)
		return rc;
	if ((rc = tsm_db_prepare(store->db,
				 "INSERT INTO ts_steps(ts, version, seq, kind, depth, name, type, group_path,"
				 " disabled, continue_on_error, dynamic_install, description, condition)"
				 " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
				 &w.step)) < 0)
		return rc;
	if ((rc = tsm_db_prepare(store->db,
				 "INSERT INTO ts_packages(ts, version, seq, kind, package, step_seq)"
				 " VALUES(?1, ?2, ?3, ?4, ?5, ?6)", &w.pkg)) < 0) {
		sqlite3_finalize(w.step);
		return rc;
	}
	/* Groups and steps back in document order: a group opens before the
	 * first step that follows it (first_step). */
	for (size_t i = 0; i <= doc->nsteps && rc == 0; i++) {
		for (; rc == 0 && gi < doc->ngroups && doc->groups[gi].first_step <= i; gi++) {
			long parent = doc->groups[gi].parent;

			rc = write_group(&w, &doc->groups[gi], parent >= 0 ? doc->groups[parent].path : "");
		}
		if (rc == 0 && i < doc->nsteps) {
			long g = doc->steps[i].group;

			rc = write_step(&w, &doc->steps[i], g >= 0 ? doc->groups[g].depth + 1 : 0);
		}
	}
	for (size_t i = 0; i < doc->nref_packages && rc == 0; i++)
		rc = write_ref(&w, "package", doc->ref_packages[i], -1);
	for (size_t i = 0; i < doc->nref_applications && rc == 0; i++)
		rc = write_ref(&w, "application", doc->ref_applications[i], -1);
	sqlite3_finalize(w.step);
	sqlite3_finalize(w.pkg);
	return rc;
}

int tsm_ts_max_version(struct tsm_store *store, const char *id, int64_t *version_ret)
{
	return tsm_db_int64_text(store->db, "SELECT coalesce(max(version), 0) FROM task_sequences"
						" WHERE id = ?", id, version_ret);
}

/* ---- reading ---------------------------------------------------------- */

static char *column_strdup(sqlite3_stmt *stmt, int col)
{
	const unsigned char *s = sqlite3_column_text(stmt, col);

	return s ? strdup((const char *)s) : NULL;
}

static int load_steps(struct tsm_store *store, struct tsm_ts_info *info, long **seq_map_ret,
		      size_t *nmap_ret)
{
	/* stack[d]: the group open at depth d, for d < nopen.  A row sits at
	 * most one level below the groups open, so the stack grows with them;
	 * rows damaged out of that shape are refused, not followed. */
	long *stack = NULL, *map = NULL;
	size_t nmap = 0, nopen = 0;
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(store->db,
				 "SELECT kind, depth, name, type, group_path, disabled, continue_on_error,"
				 " dynamic_install, description, condition FROM ts_steps"
				 " WHERE ts = ? AND version = ? ORDER BY seq", &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, info->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, info->version);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		bool group = strcmp((const char *)sqlite3_column_text(stmt, 0), "group") == 0;
		int depth = sqlite3_column_int(stmt, 1);
		long parent;
		void *p;

		if (depth < 0 || (size_t)depth > nopen) {
			tsm_error("task sequence %s: damaged step row (depth %d)", info->id, depth);
			rc = -EIO;
			break;
		}
		if (group && (size_t)depth == nopen) {
			if (!(p = realloc(stack, (nopen + 1) * sizeof(*stack)))) {
				rc = -ENOMEM;
				break;
			}
			stack = p;
		}
		parent = depth ? stack[depth - 1] : -1;
		if (!(p = realloc(map, (nmap + 1) * sizeof(*map)))) {
			rc = -ENOMEM;
			break;
		}
		map = p;
		if (group) {
			struct tsm_ts_group *g;

			if (!(p = realloc(info->groups, (info->ngroups + 1) * sizeof(*info->groups)))) {
				rc = -ENOMEM;
				break;
			}
			info->groups = p;
			g = &info->groups[info->ngroups];
			memset(g, 0, sizeof(*g));
			stack[depth] = (long)info->ngroups++;
			nopen = (size_t)depth + 1;
			map[nmap++] = -1;
			g->name = column_strdup(stmt, 2);
			g->depth = depth;
			g->parent = parent;
			g->disabled = sqlite3_column_int(stmt, 5) != 0;
			g->continue_on_error = sqlite3_column_int(stmt, 6) != 0;
			g->description = column_strdup(stmt, 8);
			g->condition = column_strdup(stmt, 9);
			g->first_step = info->nsteps;
			g->path = parent >= 0 ? NULL : column_strdup(stmt, 2);
			if (parent >= 0 && g->name &&
			    asprintf(&g->path, "%s/%s", info->groups[parent].path, g->name) < 0)
				g->path = NULL;
			if (!g->name || !g->path || !g->description) {
				rc = -ENOMEM;
				break;
			}
		} else {
			struct tsm_ts_step *s;

			if (!(p = realloc(info->steps, (info->nsteps + 1) * sizeof(*info->steps)))) {
				rc = -ENOMEM;
				break;
			}
			info->steps = p;
			s = &info->steps[info->nsteps];
			memset(s, 0, sizeof(*s));
			map[nmap++] = (long)info->nsteps++;
			nopen = (size_t)depth; /* groups deeper than the step are closed */
			s->name = column_strdup(stmt, 2);
			s->type = column_strdup(stmt, 3);
			s->group_path = column_strdup(stmt, 4);
			s->disabled = sqlite3_column_int(stmt, 5) != 0;
			s->continue_on_error = sqlite3_column_int(stmt, 6) != 0;
			s->dynamic_install = sqlite3_column_int(stmt, 7) != 0;
			s->description = column_strdup(stmt, 8);
			s->condition = column_strdup(stmt, 9);
			s->group = parent;
			if (!s->name || !s->group_path || !s->description) {
				rc = -ENOMEM;
				break;
			}
		}
	}
	sqlite3_finalize(stmt);
	free(stack);
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = tsm_db_error(store->db, "reading task sequence steps");
	if (rc < 0) {
		free(map);
		return rc;
	}
	*seq_map_ret = map;
	*nmap_ret = nmap;
	return 0;
}

/* Per-step references, and the referenceList's into @refs (packages) and
 * @apps; @map turns a step row's seq into a step index.  Each list is a set
 * while it fills (a step may name thousands). */
static int load_refs(struct tsm_store *store, struct tsm_ts_info *info, const long *map,
		     size_t nmap, char ***refs, size_t *nrefs, char ***apps, size_t *napps)
{
	/* [2i], [2i+1]: step i's packages and applications; then the list's. */
	struct tsm_strset *sets = calloc(2 * info->nsteps + 2, sizeof(*sets));
	size_t list = 2 * info->nsteps;
	sqlite3_stmt *stmt;
	int rc;

	if (!sets)
		return -ENOMEM;
	if ((rc = tsm_db_prepare(store->db, "SELECT kind, package, step_seq FROM ts_packages"
					    " WHERE ts = ? AND version = ? ORDER BY seq", &stmt)) < 0)
		goto out_sets;
	sqlite3_bind_text(stmt, 1, info->id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, info->version);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		bool app = strcmp((const char *)sqlite3_column_text(stmt, 0), "application") == 0;
		const char *ref = (const char *)sqlite3_column_text(stmt, 1);

		if (sqlite3_column_type(stmt, 2) == SQLITE_NULL) {
			rc = tsm_strset_add(&sets[list + app], ref, strlen(ref));
		} else {
			int64_t seq = sqlite3_column_int64(stmt, 2);

			if (seq < 0 || (uint64_t)seq >= nmap || map[seq] < 0) {
				tsm_error("task sequence %s: damaged reference row", info->id);
				rc = -EIO;
				break;
			}
			rc = tsm_strset_add(&sets[2 * (size_t)map[seq] + app], ref, strlen(ref));
		}
		if (rc < 0)
			break;
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_DONE) {
		rc = 0;
		for (size_t i = 0; i < info->nsteps; i++) {
			struct tsm_ts_step *s = &info->steps[i];

			tsm_strset_take(&sets[2 * i], &s->packages, &s->npackages);
			tsm_strset_take(&sets[2 * i + 1], &s->applications, &s->napplications);
		}
		tsm_strset_take(&sets[list], refs, nrefs);
		tsm_strset_take(&sets[list + 1], apps, napps);
	} else if (rc > 0) {
		rc = tsm_db_error(store->db, "reading task sequence references");
	}
out_sets:
	for (size_t i = 0; i < list + 2; i++)
		tsm_strset_clear(&sets[i]);
	free(sets);
	return rc;
}

/* The current version of @id (validated, upper case) into @info. */
static int ts_load_locked(struct tsm_store *store, const char *id, bool full,
			  struct tsm_ts_info *info)
{
	char **refs = NULL, **apps = NULL;
	size_t nrefs = 0, napps = 0, nmap = 0;
	long *map = NULL;
	sqlite3_stmt *stmt;
	int rc;

	memset(info, 0, sizeof(*info));
	if ((rc = tsm_db_prepare(store->db,
				 "SELECT version, name, boot_image, source, created, sequence_xml"
				 " FROM task_sequences WHERE id = ? AND removed = 0"
				 " ORDER BY version DESC LIMIT 1", &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_DONE) {
			tsm_error("no task sequence %s in %s", id, store->dir);
			rc = -ENOENT;
		} else {
			rc = tsm_db_error(store->db, "reading a task sequence");
		}
		sqlite3_finalize(stmt);
		return rc;
	}
	snprintf(info->id, sizeof(info->id), "%s", id);
	info->version = sqlite3_column_int64(stmt, 0);
	info->name = column_strdup(stmt, 1);
	info->boot_image = column_strdup(stmt, 2);
	info->source = column_strdup(stmt, 3);
	info->created = sqlite3_column_int64(stmt, 4);
	if (full) {
		size_t len = (size_t)sqlite3_column_bytes(stmt, 5);
		const void *xml = sqlite3_column_blob(stmt, 5);

		if ((info->sequence_xml = malloc(len + 1))) {
			if (len)
				memcpy(info->sequence_xml, xml, len);
			info->sequence_xml[len] = '\0';
			info->sequence_len = len;
		}
	}
	sqlite3_finalize(stmt);
	if (!info->name || !info->source || (full && !info->sequence_xml)) {
		rc = -ENOMEM;
		goto out_clear;
	}
	if ((rc = load_steps(store, info, &map, &nmap)) < 0)
		goto out_clear;
	if ((rc = load_refs(store, info, map, nmap, &refs, &nrefs, &apps, &napps)) < 0)
		goto out_clear;
	rc = tsm_ts_summarize(info, refs, nrefs, apps, napps);
out_clear:
	free(map);
	tsm_ts_strings_free(refs, nrefs);
	tsm_ts_strings_free(apps, napps);
	if (rc == 0 && !full) {
		for (size_t i = 0; i < info->nsteps; i++)
			tsm_ts_step_clear(&info->steps[i]);
		free(info->steps);
		info->steps = NULL;
		info->nsteps = 0;
		for (size_t i = 0; i < info->ngroups; i++)
			tsm_ts_group_clear(&info->groups[i]);
		free(info->groups);
		info->groups = NULL;
		info->ngroups = 0;
	}
	if (rc < 0)
		tsm_ts_info_clear(info);
	return rc;
}

int tsm_ts_get(struct tsm_store *store, const char *id, struct tsm_ts_info *info)
{
	char norm[TSM_CONTENT_ID_LEN + 1];
	int rc;

	memset(info, 0, sizeof(*info));
	if (tsm_content_id_normalize(id, norm) < 0) {
		tsm_error("invalid task sequence ID '%s': %s", id, TSM_TS_ID_RULE);
		return -EINVAL;
	}
	if ((rc = tsm_store_read_begin(store)) < 0)
		return rc;
	rc = ts_load_locked(store, norm, true, info);
	tsm_store_read_end(store);
	return rc;
}

int tsm_ts_list(struct tsm_store *store, struct tsm_ts_info **list_ret, size_t *n_ret)
{
	struct tsm_ts_info *list = NULL;
	struct tsm_strset id_set = { 0 };
	char **ids = NULL;
	size_t nids = 0, n = 0;
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_store_read_begin(store)) < 0)
		return rc;
	if ((rc = tsm_db_prepare(store->db, "SELECT DISTINCT id FROM task_sequences"
					    " WHERE removed = 0 ORDER BY id", &stmt)) < 0)
		goto out_end;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *id = (const char *)sqlite3_column_text(stmt, 0);

		if ((rc = tsm_strset_add(&id_set, id, strlen(id))) < 0)
			break;
	}
	sqlite3_finalize(stmt);
	tsm_strset_take(&id_set, &ids, &nids);
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc > 0)
		rc = tsm_db_error(store->db, "listing task sequences");
	if (rc == 0 && nids && !(list = calloc(nids, sizeof(*list))))
		rc = -ENOMEM;
	for (; rc == 0 && n < nids; n++)
		rc = ts_load_locked(store, ids[n], false, &list[n]);
out_end:
	tsm_store_read_end(store);
	tsm_ts_strings_free(ids, nids);
	if (rc < 0) {
		tsm_ts_list_free(list, n);
		return rc;
	}
	*list_ret = list;
	*n_ret = n;
	return 0;
}

int tsm_ts_rm(struct tsm_store *store, const char *id)
{
	char norm[TSM_CONTENT_ID_LEN + 1];
	sqlite3_stmt *stmt;
	int64_t live;
	int rc;

	if (tsm_content_id_normalize(id, norm) < 0) {
		tsm_error("invalid task sequence ID '%s': %s", id, TSM_TS_ID_RULE);
		return -EINVAL;
	}
	if ((rc = tsm_store_write_begin(store)) < 0)
		return rc;
	if ((rc = tsm_db_int64_text(store->db, "SELECT count(*) FROM task_sequences WHERE id = ?"
					       " AND removed = 0", norm, &live)) < 0)
		goto out_abort;
	if (!live) {
		tsm_error("no task sequence %s in %s", norm, store->dir);
		rc = -ENOENT;
		goto out_abort;
	}
	/* A media made for it holds a foreign key (media_refs) that refuses
	 * this at once: no check-then-remove race. */
	if ((rc = tsm_db_prepare(store->db, "UPDATE task_sequences SET removed = 1 WHERE id = ?",
				 &stmt)) < 0)
		goto out_abort;
	sqlite3_bind_text(stmt, 1, norm, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_CONSTRAINT)
		rc = tsm_media_used_error(store, _("task sequence"), TSM_MEDIA_REF_TS, norm);
	else
		rc = rc == SQLITE_DONE ? 0 : tsm_db_error(store->db, "removing a task sequence");
	if (rc < 0)
		goto out_abort;
	return tsm_store_write_commit(store);

out_abort:
	tsm_store_write_abort(store);
	return rc;
}

/* ---- stand-alone media ------------------------------------------------- */

/* Steps that need a site (a management point, a state migration point, the
 * software update point or the driver catalog), which stand-alone media do
 * not have.  Microsoft: "Create stand-alone media", unsupported actions. */
static const char *const standalone_blocker_types[] = {
	"SMS_TaskSequence_AutoApplyAction",             /* Auto Apply Drivers */
	"SMS_TaskSequence_DownloadPackageContentAction",
	"SMS_TaskSequence_InstallUpdateAction",         /* Install Software Updates */
	"SMS_TaskSequence_RequestStateStoreAction",
	"SMS_TaskSequence_ReleaseStateStoreAction",
};

/* Whether a condition summary (core/import/ts_xml.c: the top-level terms joined by " and ",
 * nested operators in parentheses) is false on stand-alone media: one of its terms is
 * "_SMSTSMediaType notEquals FullMedia", or "_SMSTSMediaType equals" another media type.
 * Microsoft, "Task sequence variables", _SMSTSMediaType: FullMedia is stand-alone media. */
static bool condition_excludes_standalone(const char *cond)
{
	static const char var[] = "_SMSTSMediaType ";
	int depth = 0;

	for (const char *term = cond, *p = cond;; p++) {
		if (*p == '(')
			depth++;
		else if (*p == ')')
			depth--;
		if (*p && !(depth == 0 && strncmp(p, " and ", 5) == 0))
			continue;
		{
			size_t len = (size_t)(p - term);
			const char *op = term + sizeof(var) - 1;

			if (len > sizeof(var) - 1 && strncasecmp(term, var, sizeof(var) - 1) == 0) {
				size_t rest = len - (sizeof(var) - 1);

				if (rest == strlen("notEquals FullMedia") &&
				    strncasecmp(op, "notEquals FullMedia", rest) == 0)
					return true;
				if (rest > strlen("equals ") && strncasecmp(op, "equals ", 7) == 0 &&
				    !(rest == strlen("equals FullMedia") &&
				      strncasecmp(op + 7, "FullMedia", 9) == 0))
					return true;
			}
		}
		if (!*p)
			return false;
		term = p + 5;
		p += 4;
	}
}

/* The step's own condition or an enclosing group's keeps it off stand-alone media. */
static bool step_excluded_standalone(const struct tsm_ts_info *info, const struct tsm_ts_step *s)
{
	if (s->condition && condition_excludes_standalone(s->condition))
		return true;
	for (long g = s->group, hops = 0; g >= 0 && (size_t)g < info->ngroups &&
					   hops <= (long)info->ngroups; g = info->groups[g].parent, hops++)
		if (info->groups[g].condition &&
		    condition_excludes_standalone(info->groups[g].condition))
			return true;
	return false;
}

/* @english, or its translation when @localized (text output; --json and the
 * matching of --allow-step keep the English). */
static const char *word(bool localized, const char *english)
{
	return localized ? _(english) : english;
}

static int blockers(const struct tsm_ts_info *info, unsigned flags, char ***names_ret,
		    size_t *n_ret)
{
	bool honour_conditions = flags & TSM_TS_BLOCKERS_REFUSED;
	bool localized = flags & TSM_TS_BLOCKERS_LOCALIZED;
	char **names = NULL;
	size_t n = 0;

	for (size_t i = 0; i < info->nsteps; i++) {
		const struct tsm_ts_step *s = &info->steps[i];
		bool blocked = s->dynamic_install;
		char *line;
		void *p;

		for (size_t k = 0; !blocked && s->type && k < sizeof(standalone_blocker_types) /
							       sizeof(standalone_blocker_types[0]); k++)
			blocked = strcmp(s->type, standalone_blocker_types[k]) == 0;
		if (!blocked || s->disabled || (honour_conditions && step_excluded_standalone(info, s)))
			continue;
		if (asprintf(&line, "%s%s%s (%s%s)", s->group_path, *s->group_path ? "/" : "", s->name,
			     s->type ? s->type : word(localized, N_("untyped")),
			     s->dynamic_install ? word(localized, N_(", a dynamic install list"))
						: "") < 0)
			goto out_oom;
		if (!(p = realloc(names, (n + 1) * sizeof(*names)))) {
			free(line);
			goto out_oom;
		}
		names = p;
		names[n++] = line;
	}
	*names_ret = names;
	*n_ret = n;
	return 0;

out_oom:
	tsm_ts_strings_free(names, n);
	return -ENOMEM;
}

int tsm_ts_standalone_blockers(const struct tsm_ts_info *info, char ***names_ret, size_t *n_ret)
{
	return blockers(info, 0, names_ret, n_ret);
}

int tsm_ts_standalone_refused(const struct tsm_ts_info *info, char ***names_ret, size_t *n_ret)
{
	return blockers(info, TSM_TS_BLOCKERS_REFUSED, names_ret, n_ret);
}

int tsm_ts_blocker_lines(const struct tsm_ts_info *info, unsigned flags, char ***names_ret,
			 size_t *n_ret)
{
	return blockers(info, flags, names_ret, n_ret);
}

/* ---- what the sequence needs ------------------------------------------ */

/* @set filled with the @n strings at @v. */
static int strset_seed(struct tsm_strset *set, char *const *v, size_t n)
{
	int rc = 0;

	for (size_t i = 0; i < n && rc == 0; i++)
		rc = tsm_strset_add(set, v[i], strlen(v[i]));
	return rc;
}

/* *@v, *@n replaced by @set's list. */
static void strset_replace(struct tsm_strset *set, char ***v, size_t *n)
{
	tsm_ts_strings_free(*v, *n);
	tsm_strset_take(set, v, n);
}

static int summarize_one(const struct tsm_ts_info *info, bool apps, char *const *refs,
			 size_t nrefs, char ***need, size_t *nneed, char ***disabled,
			 size_t *ndisabled)
{
	struct tsm_strset need_set = { 0 }, dis = { 0 }, dis_set = { 0 };
	int rc;

	/* What the lists hold already stays first. */
	if ((rc = strset_seed(&need_set, *need, *nneed)) < 0 ||
	    (rc = strset_seed(&dis_set, *disabled, *ndisabled)) < 0)
		goto out_clear;
	for (size_t i = 0; i < info->nsteps && rc == 0; i++) {
		const struct tsm_ts_step *s = &info->steps[i];
		char *const *v = apps ? s->applications : s->packages;
		size_t n = apps ? s->napplications : s->npackages;

		for (size_t k = 0; k < n && rc == 0; k++)
			rc = tsm_strset_add(s->disabled ? &dis : &need_set, v[k], strlen(v[k]));
	}
	/* The referenceList names what no step shows (a child sequence's
	 * applications): needed, unless only a disabled step uses it. */
	for (size_t i = 0; i < nrefs && rc == 0; i++)
		if (!tsm_strset_has(&dis, refs[i]))
			rc = tsm_strset_add(&need_set, refs[i], strlen(refs[i]));
	for (size_t i = 0; i < dis.n && rc == 0; i++)
		if (!tsm_strset_has(&need_set, dis.v[i]))
			rc = tsm_strset_add(&dis_set, dis.v[i], strlen(dis.v[i]));
	if (rc == 0) {
		strset_replace(&need_set, need, nneed);
		strset_replace(&dis_set, disabled, ndisabled);
	}
out_clear:
	tsm_strset_clear(&need_set);
	tsm_strset_clear(&dis);
	tsm_strset_clear(&dis_set);
	return rc;
}

int tsm_ts_summarize(struct tsm_ts_info *info, char *const *ref_packages, size_t nref_packages,
		     char *const *ref_applications, size_t nref_applications)
{
	int rc = summarize_one(info, false, ref_packages, nref_packages, &info->packages,
			       &info->npackages, &info->disabled_packages, &info->ndisabled_packages);

	if (rc == 0)
		rc = summarize_one(info, true, ref_applications, nref_applications,
				   &info->applications, &info->napplications,
				   &info->disabled_applications, &info->ndisabled_applications);
	return rc;
}
