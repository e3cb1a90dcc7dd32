/* Sites, their management points and trusted root CAs, in the catalog:
 *   sites(code, type, parent, created)
 *   site_mps(site, seq, url)           management points, in order
 *   site_root_cas(site, sha256, pem)   root CA certificates, in rowid order
 *   site_values(site, name, value)     what only the site knows, for its media
 * The rules a site must follow are core/media/site.c's. */
#include "tsmedia/site_def.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "catalog/catalog.h"
#include "catalog/rows.h"
#include "store/store_internal.h"
#include "tsmedia/log.h"
#include "util/strv.h"

/* ---- names ----------------------------------------------------------- */

const char *tsm_site_type_name(enum tsm_site_type type)
{
	return type == TSM_SITE_CAS ? "cas" : "primary";
}

int tsm_site_type_parse(const char *name, enum tsm_site_type *type_ret)
{
	if (strcasecmp(name, "primary") == 0)
		*type_ret = TSM_SITE_PRIMARY;
	else if (strcasecmp(name, "cas") == 0)
		*type_ret = TSM_SITE_CAS;
	else
		return -EINVAL;
	return 0;
}

int tsm_site_code_normalize(const char *code, char norm_ret[4])
{
	/* Configuration Manager refuses these: device names and its own. */
	static const char *const reserved[] = { "AUX", "CON", "NUL", "PRN", "SMS" };
	char norm[4];

	if (!code || strlen(code) != 3)
		goto out_bad;
	for (int i = 0; i < 3; i++) {
		char c = (char)toupper((unsigned char)code[i]);

		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			goto out_bad;
		norm[i] = c;
	}
	norm[3] = '\0';
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++) {
		if (strcmp(norm, reserved[i]) == 0) {
			tsm_error("site code '%s' is reserved by Configuration Manager", code);
			return -EINVAL;
		}
	}
	memcpy(norm_ret, norm, 4);
	return 0;

out_bad:
	tsm_error("invalid site code '%s': three letters or digits (A-Z, 0-9), like PS1",
		  code ? code : "");
	return -EINVAL;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void tsm_site_clear(struct tsm_site *site)
{
	strv_free(site->mps, site->nmps);
	strv_free(site->root_cas, site->nroot_cas);
	for (int i = 0; i < TSM_SITE_VALUE_COUNT; i++)
		free(site->values[i]);
	memset(site, 0, sizeof(*site));
}

void tsm_site_list_free(struct tsm_site *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tsm_site_clear(&list[i]);
	free(list);
}

void tsm_site_codes_free(char **codes)
{
	if (!codes)
		return;
	for (char **p = codes; *p; p++)
		free(*p);
	free(codes);
}

/* The catalog's (and the command line's) names of a site's values. */
static const char *const value_names[TSM_SITE_VALUE_COUNT] = {
	[TSM_SITE_HTTP_PORT] = "http-port",
	[TSM_SITE_HTTPS_PORT] = "https-port",
	[TSM_SITE_IIS_SSL_STATE] = "iis-ssl-state",
	[TSM_SITE_SIGNING_CERTIFICATE] = "signing-certificate",
	[TSM_SITE_PUBLIC_ROOT_KEY] = "public-root-key",
	[TSM_SITE_ROOT_CA_CERTS] = "root-ca-certs",
	[TSM_SITE_USE_FIRST_CERT] = "use-first-cert",
	[TSM_SITE_X64_UNKNOWN_GUID] = "x64-unknown-guid",
	[TSM_SITE_X86_UNKNOWN_GUID] = "x86-unknown-guid",
};

const char *tsm_site_value_name(enum tsm_site_value v)
{
	return (unsigned)v < TSM_SITE_VALUE_COUNT ? value_names[v] : NULL;
}

/* ---- reading --------------------------------------------------------- */

static int site_load_values(struct tsm_store *store, struct tsm_site *site)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(store->db, "SELECT name, value FROM site_values WHERE site = ?",
				 &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, site->code, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(stmt, 0);

		for (int i = 0; i < TSM_SITE_VALUE_COUNT; i++) {
			if (strcmp(name, value_names[i]) != 0)
				continue;
			free(site->values[i]);
			if (!(site->values[i] = strdup((const char *)sqlite3_column_text(stmt, 1)))) {
				sqlite3_finalize(stmt);
				return -ENOMEM;
			}
		}
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : tsm_db_error(store->db, "reading a site's values");
}

static int site_load_lists(struct tsm_store *store, struct tsm_site *site)
{
	static const char *const sql[] = {
		"SELECT url FROM site_mps WHERE site = ? ORDER BY seq",
		"SELECT pem FROM site_root_cas WHERE site = ? ORDER BY rowid",
	};

	for (int i = 0; i < 2; i++) {
		char ***v = i ? &site->root_cas : &site->mps;
		size_t *n = i ? &site->nroot_cas : &site->nmps;
		sqlite3_stmt *stmt;
		int rc;

		if ((rc = tsm_db_prepare(store->db, sql[i], &stmt)) < 0)
			return rc;
		sqlite3_bind_text(stmt, 1, site->code, -1, SQLITE_STATIC);
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
			if (tsm_strv_push(v, n, (const char *)sqlite3_column_text(stmt, 0)) < 0) {
				sqlite3_finalize(stmt);
				return -ENOMEM;
			}
		}
		sqlite3_finalize(stmt);
		if (rc != SQLITE_DONE)
			return tsm_db_error(store->db, "reading a site");
	}
	return site_load_values(store, site);
}

static int site_from_row(struct tsm_store *store, sqlite3_stmt *stmt, struct tsm_site *site)
{
	const char *parent = (const char *)sqlite3_column_text(stmt, 2);
	int rc;

	memset(site, 0, sizeof(*site));
	snprintf(site->code, sizeof(site->code), "%s", sqlite3_column_text(stmt, 0));
	if (tsm_site_type_parse((const char *)sqlite3_column_text(stmt, 1), &site->type) < 0)
		site->type = TSM_SITE_PRIMARY;
	snprintf(site->parent, sizeof(site->parent), "%s", parent ? parent : "");
	if ((rc = site_load_lists(store, site)) < 0)
		tsm_site_clear(site);
	return rc;
}

int tsm_site_row_get(struct tsm_store *store, const char *code, struct tsm_site *site,
			   bool quiet)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(store->db, "SELECT code, type, parent FROM sites WHERE code = ?",
				 &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, code, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		rc = site_from_row(store, stmt, site);
	} else if (rc == SQLITE_DONE) {
		if (!quiet)
			tsm_error("no site %s in %s", code, store->dir);
		rc = -ENOENT;
	} else {
		rc = tsm_db_error(store->db, "reading a site");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int tsm_site_get(struct tsm_store *store, const char *code, struct tsm_site *site_ret)
{
	char norm[4];
	int rc;

	memset(site_ret, 0, sizeof(*site_ret));
	if ((rc = tsm_site_code_normalize(code, norm)) < 0)
		return rc;
	if ((rc = tsm_store_read_begin(store)) < 0)
		return rc;
	rc = tsm_site_row_get(store, norm, site_ret, false);
	tsm_store_read_end(store);
	return rc;
}

int tsm_site_list(struct tsm_store *store, struct tsm_site **list_ret, size_t *n_ret)
{
	struct tsm_site *list = NULL;
	sqlite3_stmt *stmt;
	size_t n = 0;
	int rc;

	if ((rc = tsm_store_read_begin(store)) < 0)
		return rc;
	if ((rc = tsm_db_prepare(store->db, "SELECT code, type, parent FROM sites ORDER BY code",
				 &stmt)) < 0)
		goto out_end;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct tsm_site *p = realloc(list, (n + 1) * sizeof(*list));

		if (!p) {
			rc = -ENOMEM;
			break;
		}
		list = p;
		if ((rc = site_from_row(store, stmt, &list[n])) < 0)
			break;
		n++;
	}
	sqlite3_finalize(stmt);
	rc = rc == SQLITE_DONE ? 0 : rc < 0 ? rc : tsm_db_error(store->db, "listing sites");
out_end:
	tsm_store_read_end(store);
	if (rc < 0) {
		tsm_site_list_free(list, n);
		return rc;
	}
	*list_ret = list;
	*n_ret = n;
	return 0;
}

static int step_done(struct tsm_store *store, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(store->db, what);

	sqlite3_finalize(stmt);
	return rc;
}

int tsm_site_rows_write_lists(struct tsm_store *store, const struct tsm_site *site,
			    char (*sha256s)[65])
{
	sqlite3_stmt *stmt;
	int rc;

	for (size_t i = 0; i < site->nmps; i++) {
		if ((rc = tsm_db_prepare(store->db, "INSERT INTO site_mps(site, seq, url)"
						    " VALUES(?, ?, ?)", &stmt)) < 0)
			return rc;
		sqlite3_bind_text(stmt, 1, site->code, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 2, (int64_t)i);
		sqlite3_bind_text(stmt, 3, site->mps[i], -1, SQLITE_STATIC);
		if ((rc = step_done(store, stmt, "adding a management point")) < 0)
			return rc;
	}
	for (size_t i = 0; i < site->nroot_cas; i++) {
		if ((rc = tsm_db_prepare(store->db, "INSERT INTO site_root_cas(site, sha256, pem)"
						    " VALUES(?, ?, ?)", &stmt)) < 0)
			return rc;
		sqlite3_bind_text(stmt, 1, site->code, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 2, sha256s[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 3, site->root_cas[i], -1, SQLITE_STATIC);
		if ((rc = step_done(store, stmt, "adding a root CA")) < 0)
			return rc;
	}
	for (int i = 0; i < TSM_SITE_VALUE_COUNT; i++) {
		if (!site->values[i])
			continue;
		if ((rc = tsm_db_prepare(store->db, "INSERT INTO site_values(site, name, value)"
						    " VALUES(?, ?, ?)", &stmt)) < 0)
			return rc;
		sqlite3_bind_text(stmt, 1, site->code, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 2, value_names[i], -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 3, site->values[i], -1, SQLITE_STATIC);
		if ((rc = step_done(store, stmt, "adding a site's value")) < 0)
			return rc;
	}
	return 0;
}

int tsm_site_rows_delete_lists(struct tsm_store *store, const char *code)
{
	static const char *const sql[] = {
		"DELETE FROM site_mps WHERE site = ?",
		"DELETE FROM site_root_cas WHERE site = ?",
		"DELETE FROM site_values WHERE site = ?",
	};

	for (int i = 0; i < 3; i++) {
		sqlite3_stmt *stmt;
		int rc;

		if ((rc = tsm_db_prepare(store->db, sql[i], &stmt)) < 0)
			return rc;
		sqlite3_bind_text(stmt, 1, code, -1, SQLITE_STATIC);
		if ((rc = step_done(store, stmt, "changing a site")) < 0)
			return rc;
	}
	return 0;
}

int tsm_site_row_insert(struct tsm_store *store, const struct tsm_site *site,
			char (*sha256s)[65])
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(store->db, "INSERT INTO sites(code, type, parent, created)"
					    " VALUES(?, ?, ?, ?)", &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, site->code, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, tsm_site_type_name(site->type), -1, SQLITE_STATIC);
	if (site->parent[0])
		sqlite3_bind_text(stmt, 3, site->parent, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(stmt, 3);
	sqlite3_bind_int64(stmt, 4, (int64_t)time(NULL));
	if ((rc = step_done(store, stmt, "adding a site")) < 0)
		return rc;
	return tsm_site_rows_write_lists(store, site, sha256s);
}

int tsm_site_row_children(struct tsm_store *store, const char *code, char *list, size_t size,
			  size_t *n_ret)
{
	sqlite3_stmt *stmt;
	size_t len = 0, n = 0;
	int rc;

	if ((rc = tsm_db_prepare(store->db, "SELECT code FROM sites WHERE parent = ? ORDER BY code",
				 &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, code, -1, SQLITE_STATIC);
	list[0] = '\0';
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		if (len < size)
			len += (size_t)snprintf(list + len, size - len, "%s%s", n ? ", " : "",
						sqlite3_column_text(stmt, 0));
		n++;
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return tsm_db_error(store->db, "reading sites");
	*n_ret = n;
	return 0;
}

int tsm_site_row_delete(struct tsm_store *store, const char *code)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_site_rows_delete_lists(store, code)) < 0 ||
	    (rc = tsm_db_prepare(store->db, "DELETE FROM sites WHERE code = ?", &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, code, -1, SQLITE_STATIC);
	/* A media made for it holds a foreign key (media_refs) that refuses
	 * this at once (child sites are refused before, by name). */
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_CONSTRAINT)
		return tsm_media_used_error(store, "site", TSM_MEDIA_REF_SITE, code);
	return rc == SQLITE_DONE ? 0 : tsm_db_error(store->db, "removing a site");
}

int tsm_site_rows_untrusting(struct tsm_store *store, const char *top, const char *code,
			     char ***codes_ret, size_t *n_ret)
{
	char **codes = NULL;
	sqlite3_stmt *stmt;
	size_t n = 0;
	int rc;

	if ((rc = tsm_db_prepare(store->db,
				 "SELECT p.code FROM sites p WHERE p.type = 'primary'"
				 " AND (p.code = ?1 OR p.parent = ?1) AND NOT EXISTS ("
				 "  SELECT 1 FROM site_root_cas a JOIN site_root_cas b"
				 "  ON a.sha256 = b.sha256 WHERE a.site = p.code AND b.site = ?2)"
				 " ORDER BY p.code", &stmt)) < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, top, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 2, code, -1, SQLITE_TRANSIENT);
	if (!(codes = calloc(1, sizeof(*codes)))) {
		sqlite3_finalize(stmt);
		return -ENOMEM;
	}
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		char **p = realloc(codes, (n + 2) * sizeof(*codes));

		if (!p) {
			rc = -ENOMEM;
			break;
		}
		codes = p;
		if (!(codes[n] = strdup((const char *)sqlite3_column_text(stmt, 0)))) {
			rc = -ENOMEM;
			break;
		}
		codes[++n] = NULL;
	}
	sqlite3_finalize(stmt);
	rc = rc == SQLITE_DONE ? 0 : rc < 0 ? rc : tsm_db_error(store->db, "reading sites");
	if (rc < 0) {
		tsm_site_codes_free(codes);
		return rc;
	}
	*codes_ret = codes;
	*n_ret = n;
	return 0;
}
