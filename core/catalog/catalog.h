/* The sqlite catalog: schema, opening, and small query helpers.
 *
 * Tables (schema version 7; catalog.c has the steps from 1):
 *   meta(key, value)                 site_code, compression, next_content_number
 *   packs(id, created, verified)
 *   chunks(id, hash, pack, offset, stored_size, size, codec)
 *   blobs(id, sha256, sha1, size)
 *   blob_chunks(blob, seq, chunk)    a blob's chunks in order
 *   content(id, kind, name, created, removed)
 *   content_versions(id, content, version, label, source, created, removed,
 *                    files, bytes)
 *   tree_entries(version, path, mode, mtime_ns, attributes, size, blob, link_target)
 *   content_boot(version, seq, platform, emulation, load_size, boot_info_table,
 *                path, blob, size)   El Torito entries of an imported image
 *   content_meta(version, key, value)  volume_id, hybrid_mbr, hybrid_gpt
 *   media(name, type, created, removed)
 *   media_versions(id, media, version, created, removed)
 *   media_options(version, key, value)   a media version's settings
 *   media_content(version, seq, content, live) the content IDs it holds, in
 *                    order; live 0 while the version is its media's current one
 *                    (a foreign key keeps that content from being removed)
 *   media_files(version, path, blob)     files rendered at definition time
 *   media_refs(version, ts, ts_version, ts_live, site)  the task sequence and
 *                    site of a live media's current version (foreign keys)
 *   media_snapshots(id, media, number, media_version, created)  a numbered
 *                    snapshot: versions/NAME/NUMBER on the mount (v6)
 *   media_snapshot_content(snapshot, seq, content_version)  what it resolved to
 *   media_snapshot_numbers(media, last)  the last number given, never reused
 *   applications, app_deployment_types, app_contents, app_content_files,
 *   app_dependencies, app_supersedes, app_content_bindings  (v7; catalog/app.c)
 *
 * The connection belongs to its store handle (one thread at a time). */
#ifndef TSMEDIA_CATALOG_H
#define TSMEDIA_CATALOG_H

#include <sqlite3.h>
#include <stddef.h>
#include <stdint.h>
#include "store/meta.h"
#include "util/db.h"

/* 'TSM1' in sqlite's application_id: tells our catalog from any sqlite file. */
#define TSM_CATALOG_APPLICATION_ID 0x54534d31
#define TSM_CATALOG_SCHEMA_VERSION 7

int tsm_catalog_create(const char *path, const char *site_code, const char *compression);
/* Opens and checks it is a tsmedia catalog of a version we understand. */
int tsm_catalog_open(const char *path, sqlite3 **db_ret);

/* A media version's settings as media_options rows, one per field
 * (catalog/media_options.c). */
struct tsm_media_def;
int tsm_media_options_load(sqlite3 *db, int64_t version, struct tsm_media_def *d);

#endif
