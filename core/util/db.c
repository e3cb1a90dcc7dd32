/* Small sqlite helpers shared by the store and the catalog; see db.h. */
#include "util/db.h"

#include <errno.h>
#include <stddef.h>

#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

int tsm_db_error(sqlite3 *db, const char *what)
{
	int code = sqlite3_errcode(db);

	/* @what is a phrase of the catalogue (po/meson.build: tsm_db_error:2), or SQL,
	 * which has no translation and stays as it is. */
	tsm_error("catalog: %s: %s", _(what), sqlite3_errmsg(db));
	switch (code) {
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_NOMEM: return -ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_READONLY:
	case SQLITE_PERM:
	case SQLITE_AUTH: return -EACCES;
	default: return -EIO;
	}
}

int tsm_db_exec(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return tsm_db_error(db, sql);
	return 0;
}

int tsm_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt_ret)
{
	if (sqlite3_prepare_v2(db, sql, -1, stmt_ret, NULL) != SQLITE_OK)
		return tsm_db_error(db, sql);
	return 0;
}

static int int64_of(sqlite3 *db, const char *sql, const char *text, int64_t *value_ret)
{
	sqlite3_stmt *stmt;
	int rc = tsm_db_prepare(db, sql, &stmt);

	if (rc < 0)
		return rc;
	if (text)
		sqlite3_bind_text(stmt, 1, text, -1, SQLITE_STATIC);
	*value_ret = 0;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		*value_ret = sqlite3_column_int64(stmt, 0);
	else if (rc != SQLITE_DONE) {
		sqlite3_finalize(stmt);
		return tsm_db_error(db, sql);
	}
	sqlite3_finalize(stmt);
	return 0;
}

int tsm_db_int64(sqlite3 *db, const char *sql, int64_t *value_ret)
{
	return int64_of(db, sql, NULL, value_ret);
}

int tsm_db_int64_text(sqlite3 *db, const char *sql, const char *text, int64_t *value_ret)
{
	return int64_of(db, sql, text, value_ret);
}

int tsm_db_step_reset(sqlite3 *db, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(db, what);

	sqlite3_reset(stmt);
	sqlite3_clear_bindings(stmt);
	return rc;
}
