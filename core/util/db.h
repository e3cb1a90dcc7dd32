/* Small sqlite helpers shared by the store and the catalog: running and
 * preparing statements, one integer result, and sqlite's errors as
 * negative errnos with a logged message.  No SQL of any table here.
 * A connection is used by one thread at a time (its owner's rule). */
#ifndef TSMEDIA_UTIL_DB_H
#define TSMEDIA_UTIL_DB_H

#include <sqlite3.h>
#include <stdint.h>

/* Runs SQL without results; logs and maps failures to -EIO. */
int tsm_db_exec(sqlite3 *db, const char *sql);
int tsm_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **stmt_ret);
/* Logs sqlite's message with @what and returns a negative errno. */
int tsm_db_error(sqlite3 *db, const char *what);

/* Single integer result of @sql (no parameters); 0 when no row. */
int tsm_db_int64(sqlite3 *db, const char *sql, int64_t *value_ret);
/* The same, of @sql with one parameter, the text @text. */
int tsm_db_int64_text(sqlite3 *db, const char *sql, const char *text, int64_t *value_ret);

/* Steps @stmt, a statement without results, then resets it and clears its
 * bindings for its next use: 0, or sqlite's error logged with @what. */
int tsm_db_step_reset(sqlite3 *db, sqlite3_stmt *stmt, const char *what);

#endif
