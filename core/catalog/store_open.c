/* Opening a store is opening its catalog: the store (a layer below) is
 * handed the catalog's schema and upgrades through tsm_store_db_ops, so
 * the public tsm_store_init() and tsm_store_open() live here, the lowest
 * layer that knows both. */
#include "catalog/catalog.h"
#include "store/store_internal.h"

static const struct tsm_store_db_ops catalog_db = {
	.create = tsm_catalog_create,
	.open = tsm_catalog_open,
};

int tsm_store_init(const char *dir, const struct tsm_store_init_options *opts)
{
	return tsm_store_init_db(dir, opts, &catalog_db);
}

int tsm_store_open(const char *dir, struct tsm_store **store_ret)
{
	return tsm_store_open_db(dir, &catalog_db, store_ret);
}
