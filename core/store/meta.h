/* The catalog's meta table: one text value per key.  The store keeps its
 * settings there (site_code, compression, next_pack_id), the catalog its
 * counters (next_content_number).  On the connection's owner thread. */
#ifndef TSMEDIA_STORE_META_H
#define TSMEDIA_STORE_META_H

#include <sqlite3.h>
#include <stddef.h>

/* The value of @key into @buf (cut to @n bytes); -ENOENT when unset. */
int tsm_meta_get(sqlite3 *db, const char *key, char *buf, size_t n);
int tsm_meta_set(sqlite3 *db, const char *key, const char *value);

#endif
