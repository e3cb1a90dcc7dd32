/* The meta table's values; see meta.h. */
#include "store/meta.h"

#include <errno.h>
#include <stdio.h>

#include "util/db.h"

int tsm_meta_get(sqlite3 *db, const char *key, char *buf, size_t n)
{
	sqlite3_stmt *stmt;
	int rc = tsm_db_prepare(db, "SELECT value FROM meta WHERE key = ?", &stmt);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		snprintf(buf, n, "%s", (const char *)sqlite3_column_text(stmt, 0));
		rc = 0;
	} else {
		rc = rc == SQLITE_DONE ? -ENOENT : tsm_db_error(db, "reading meta");
	}
	sqlite3_finalize(stmt);
	return rc;
}

int tsm_meta_set(sqlite3 *db, const char *key, const char *value)
{
	sqlite3_stmt *stmt;
	int rc = tsm_db_prepare(db, "INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", &stmt);

	if (rc < 0)
		return rc;
	sqlite3_bind_text(stmt, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, value, -1, SQLITE_STATIC);
	rc = sqlite3_step(stmt) == SQLITE_DONE ? 0 : tsm_db_error(db, "writing meta");
	sqlite3_finalize(stmt);
	return rc;
}
