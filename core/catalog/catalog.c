#include "catalog/catalog.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tsmedia/log.h"

static const char schema_v1[] =
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
	"CREATE TABLE packs(id INTEGER PRIMARY KEY, created INTEGER NOT NULL);"
	"CREATE TABLE chunks(id INTEGER PRIMARY KEY AUTOINCREMENT, hash BLOB NOT NULL UNIQUE,"
	"  pack INTEGER NOT NULL REFERENCES packs(id), offset INTEGER NOT NULL,"
	"  stored_size INTEGER NOT NULL, size INTEGER NOT NULL, codec INTEGER NOT NULL);"
	"CREATE INDEX chunks_by_pack ON chunks(pack);"
	"CREATE TABLE blobs(id INTEGER PRIMARY KEY, sha256 BLOB NOT NULL UNIQUE,"
	"  sha1 BLOB NOT NULL, size INTEGER NOT NULL);"
	"CREATE TABLE blob_chunks(blob INTEGER NOT NULL REFERENCES blobs(id),"
	"  seq INTEGER NOT NULL, chunk INTEGER NOT NULL REFERENCES chunks(id),"
	"  PRIMARY KEY(blob, seq)) WITHOUT ROWID;"
	"CREATE INDEX blob_chunks_by_chunk ON blob_chunks(chunk);"
	"CREATE TABLE content(id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL,"
	"  created INTEGER NOT NULL, removed INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE content_versions(id INTEGER PRIMARY KEY,"
	"  content TEXT NOT NULL REFERENCES content(id), version INTEGER NOT NULL,"
	"  label TEXT, source TEXT NOT NULL, created INTEGER NOT NULL,"
	"  removed INTEGER NOT NULL DEFAULT 0, files INTEGER NOT NULL, bytes INTEGER NOT NULL,"
	"  UNIQUE(content, version));"
	"CREATE TABLE tree_entries(version INTEGER NOT NULL REFERENCES content_versions(id),"
	"  path TEXT NOT NULL, mode INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
	"  attributes INTEGER NOT NULL, size INTEGER NOT NULL, blob INTEGER REFERENCES blobs(id),"
	"  link_target TEXT, PRIMARY KEY(version, path)) WITHOUT ROWID;"
	"CREATE INDEX tree_entries_by_blob ON tree_entries(blob);"
	"CREATE TABLE content_boot(version INTEGER NOT NULL REFERENCES content_versions(id),"
	"  seq INTEGER NOT NULL, platform INTEGER NOT NULL, emulation INTEGER NOT NULL,"
	"  load_size INTEGER NOT NULL, boot_info_table INTEGER NOT NULL, path TEXT,"
	"  blob INTEGER REFERENCES blobs(id), size INTEGER NOT NULL,"
	"  PRIMARY KEY(version, seq)) WITHOUT ROWID;"
	"CREATE TABLE content_meta(version INTEGER NOT NULL REFERENCES content_versions(id),"
	"  key TEXT NOT NULL, value BLOB, PRIMARY KEY(version, key)) WITHOUT ROWID;"
	"CREATE TABLE media(name TEXT PRIMARY KEY, type TEXT NOT NULL, created INTEGER NOT NULL,"
	"  removed INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE media_versions(id INTEGER PRIMARY KEY,"
	"  media TEXT NOT NULL REFERENCES media(name), version INTEGER NOT NULL,"
	"  created INTEGER NOT NULL, removed INTEGER NOT NULL DEFAULT 0, UNIQUE(media, version));"
	"CREATE TABLE media_options(version INTEGER NOT NULL REFERENCES media_versions(id),"
	"  key TEXT NOT NULL, value BLOB, PRIMARY KEY(version, key)) WITHOUT ROWID;"
	"CREATE TABLE media_content(version INTEGER NOT NULL REFERENCES media_versions(id),"
	"  seq INTEGER NOT NULL, content TEXT NOT NULL, PRIMARY KEY(version, seq)) WITHOUT ROWID;"
	"CREATE INDEX media_content_by_content ON media_content(content);"
	/* Task sequences (catalog/ts.c): one row per imported version with the
	 * sequence document as exported; its groups and steps in document order
	 * (kind group|step, depth = enclosing groups); the package and application
	 * IDs each step uses (step_seq NULL: named only by the referenceList). */
	"CREATE TABLE task_sequences(id TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,"
	"  boot_image TEXT, source TEXT NOT NULL, created INTEGER NOT NULL,"
	"  removed INTEGER NOT NULL DEFAULT 0, dialect TEXT NOT NULL, sequence_xml BLOB NOT NULL,"
	"  PRIMARY KEY(id, version)) WITHOUT ROWID;"
	"CREATE TABLE ts_steps(ts TEXT NOT NULL, version INTEGER NOT NULL, seq INTEGER NOT NULL,"
	"  kind TEXT NOT NULL, depth INTEGER NOT NULL, name TEXT NOT NULL, type TEXT,"
	"  group_path TEXT NOT NULL, disabled INTEGER NOT NULL, continue_on_error INTEGER NOT NULL,"
	"  dynamic_install INTEGER NOT NULL, description TEXT NOT NULL, condition TEXT,"
	"  PRIMARY KEY(ts, version, seq),"
	"  FOREIGN KEY(ts, version) REFERENCES task_sequences(id, version)) WITHOUT ROWID;"
	"CREATE TABLE ts_packages(ts TEXT NOT NULL, version INTEGER NOT NULL, seq INTEGER NOT NULL,"
	"  kind TEXT NOT NULL, package TEXT NOT NULL, step_seq INTEGER,"
	"  PRIMARY KEY(ts, version, seq),"
	"  FOREIGN KEY(ts, version) REFERENCES task_sequences(id, version)) WITHOUT ROWID;"
	"CREATE INDEX ts_packages_by_package ON ts_packages(package);"
	/* Sites (media/site.c): management points in order, trusted root CA
	 * certificates (public; PEM) by their SHA-256. */
	"CREATE TABLE sites(code TEXT PRIMARY KEY, type TEXT NOT NULL,"
	"  parent TEXT REFERENCES sites(code), created INTEGER NOT NULL);"
	"CREATE TABLE site_mps(site TEXT NOT NULL REFERENCES sites(code), seq INTEGER NOT NULL,"
	"  url TEXT NOT NULL, PRIMARY KEY(site, seq)) WITHOUT ROWID;"
	"CREATE TABLE site_root_cas(site TEXT NOT NULL REFERENCES sites(code),"
	"  sha256 TEXT NOT NULL, pem TEXT NOT NULL, UNIQUE(site, sha256));"
	"CREATE TABLE media_files(version INTEGER NOT NULL REFERENCES media_versions(id),"
	"  path TEXT NOT NULL, blob INTEGER NOT NULL REFERENCES blobs(id),"
	"  PRIMARY KEY(version, path)) WITHOUT ROWID;"
	/* Windows metadata of entries imported from WIMs (import/wim.c):
	 * security descriptors shared store-wide, per-entry facts (times in
	 * FILETIME units, 100 ns since 1601, so none is lost), named data
	 * streams.  Path "" (or "N" for image N of a multi-image import) is an
	 * image's root directory. */
	"CREATE TABLE win_security(id INTEGER PRIMARY KEY, sha256 BLOB NOT NULL UNIQUE,"
	"  data BLOB NOT NULL);"
	"CREATE TABLE win_meta(version INTEGER NOT NULL REFERENCES content_versions(id),"
	"  path TEXT NOT NULL, security INTEGER REFERENCES win_security(id), short_name TEXT,"
	"  attributes INTEGER NOT NULL, creation_ft INTEGER NOT NULL, access_ft INTEGER NOT NULL,"
	"  write_ft INTEGER NOT NULL, reparse_tag INTEGER, reparse BLOB, hardlink_group INTEGER,"
	"  unix_uid INTEGER, unix_gid INTEGER, unix_mode INTEGER, unix_rdev INTEGER,"
	"  object_id BLOB, PRIMARY KEY(version, path)) WITHOUT ROWID;"
	"CREATE INDEX win_meta_by_security ON win_meta(security);"
	"CREATE TABLE win_streams(version INTEGER NOT NULL REFERENCES content_versions(id),"
	"  path TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL,"
	"  blob INTEGER REFERENCES blobs(id), size INTEGER NOT NULL,"
	"  PRIMARY KEY(version, path, name)) WITHOUT ROWID;"
	"CREATE INDEX win_streams_by_blob ON win_streams(blob);";

static int catalog_configure(sqlite3 *db)
{
	int rc;

	sqlite3_busy_timeout(db, 60000);
	/* WAL: readers never block the writer; FULL: a commit is durable. */
	rc = tsm_db_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
			     " PRAGMA foreign_keys=ON;");
	return rc;
}

/* ---- schema versions ------------------------------------------------
 *
 * A store made by any earlier tsmedia opens: PRAGMA user_version says which
 * steps it has had, and tsm_catalog_open() applies the missing ones in one
 * transaction.  A new catalog is made at version 1 and goes through the same
 * steps, so a new store and a migrated one have the same schema.  Each step
 * runs with foreign key enforcement off (sqlite's procedure for table
 * changes ALTER TABLE cannot make: create the new table, copy, drop, rename;
 * https://www.sqlite.org/lang_altertable.html#otheralter) and is followed by
 * a foreign_key_check.  To add a step: append it to catalog_steps and bump
 * TSM_CATALOG_SCHEMA_VERSION. */

/* v2: ids that name content are never reused.  Without AUTOINCREMENT sqlite
 * hands out max(id) + 1, so after gc removed the newest blob, content version
 * or media version, the next one got its id: a mount's caches (blob readers
 * by blob id, served snapshots by version ids) then served the removed
 * item's bytes and listing for the new one.  AUTOINCREMENT keeps the largest
 * id ever used in sqlite_sequence; the copy seeds it with today's largest.
 * packs.verified: when `verify` last found every chunk of the pack good
 * (seconds since the epoch; 0: never), for `verify --since`. */
static const char schema_v2[] =
	"CREATE TABLE new_blobs(id INTEGER PRIMARY KEY AUTOINCREMENT, sha256 BLOB NOT NULL UNIQUE,"
	"  sha1 BLOB NOT NULL, size INTEGER NOT NULL);"
	"INSERT INTO new_blobs(id, sha256, sha1, size) SELECT id, sha256, sha1, size FROM blobs;"
	"DROP TABLE blobs;"
	"ALTER TABLE new_blobs RENAME TO blobs;"
	"CREATE TABLE new_content_versions(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  content TEXT NOT NULL REFERENCES content(id), version INTEGER NOT NULL,"
	"  label TEXT, source TEXT NOT NULL, created INTEGER NOT NULL,"
	"  removed INTEGER NOT NULL DEFAULT 0, files INTEGER NOT NULL, bytes INTEGER NOT NULL,"
	"  UNIQUE(content, version));"
	"INSERT INTO new_content_versions(id, content, version, label, source, created, removed,"
	"  files, bytes) SELECT id, content, version, label, source, created, removed, files, bytes"
	"  FROM content_versions;"
	"DROP TABLE content_versions;"
	"ALTER TABLE new_content_versions RENAME TO content_versions;"
	"CREATE TABLE new_media_versions(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  media TEXT NOT NULL REFERENCES media(name), version INTEGER NOT NULL,"
	"  created INTEGER NOT NULL, removed INTEGER NOT NULL DEFAULT 0, UNIQUE(media, version));"
	"INSERT INTO new_media_versions(id, media, version, created, removed)"
	"  SELECT id, media, version, created, removed FROM media_versions;"
	"DROP TABLE media_versions;"
	"ALTER TABLE new_media_versions RENAME TO media_versions;"
	"ALTER TABLE packs ADD COLUMN verified INTEGER NOT NULL DEFAULT 0;";

/* v3: "a media uses this content, so it cannot be removed" is a foreign
 * key.  Content is removed by marking it (removed = 1; gc deletes it once
 * nothing pins it), so the key a media holds is (content, live) against
 * the content's (id, removed): live is 0 on the rows of the current
 * version of a live media, NULL on every other row (sqlite checks no key
 * with a NULL in it).  Marking used content removed would change the
 * parent key those rows hold: ON UPDATE RESTRICT refuses it at once, in the
 * remover's transaction.  The triggers keep live true to its meaning when a
 * newer version supersedes a media's rows or the media is removed.  Rows
 * of live media that name content removed before this check existed keep
 * live NULL: that media cannot be opened either way.
 * The task sequence and the site a media version is made for are held
 * the same way in media_refs, a row only while the version is its live
 * media's current one: a task sequence is removed by marking every version
 * (ts_live against removed, as for content), a site by deleting its row. */
static const char schema_v3[] =
	"CREATE UNIQUE INDEX content_by_removed ON content(id, removed);"
	"CREATE TABLE new_media_content(version INTEGER NOT NULL REFERENCES media_versions(id),"
	"  seq INTEGER NOT NULL, content TEXT NOT NULL,"
	"  live INTEGER DEFAULT 0 CHECK (live = 0),"
	"  PRIMARY KEY(version, seq),"
	"  FOREIGN KEY(content, live) REFERENCES content(id, removed)"
	"    ON UPDATE RESTRICT ON DELETE RESTRICT) WITHOUT ROWID;"
	"INSERT INTO new_media_content(version, seq, content, live)"
	"  SELECT c.version, c.seq, c.content,"
	"    CASE WHEN EXISTS (SELECT 1 FROM media_versions v JOIN media m ON m.name = v.media"
	"      WHERE v.id = c.version AND v.removed = 0 AND m.removed = 0"
	"      AND v.version = (SELECT max(w.version) FROM media_versions w"
	"        WHERE w.media = v.media AND w.removed = 0))"
	"    AND EXISTS (SELECT 1 FROM content k WHERE k.id = c.content AND k.removed = 0)"
	"    THEN 0 END"
	"  FROM media_content c;"
	"DROP TABLE media_content;"
	"ALTER TABLE new_media_content RENAME TO media_content;"
	"CREATE INDEX media_content_by_content ON media_content(content);"
	"CREATE UNIQUE INDEX task_sequences_by_removed ON task_sequences(id, version, removed);"
	"CREATE TABLE media_refs(version INTEGER PRIMARY KEY"
	"    REFERENCES media_versions(id) ON DELETE CASCADE,"
	"  ts TEXT, ts_version INTEGER, ts_live INTEGER NOT NULL DEFAULT 0 CHECK (ts_live = 0),"
	"  site TEXT REFERENCES sites(code) ON UPDATE RESTRICT ON DELETE RESTRICT,"
	"  FOREIGN KEY(ts, ts_version, ts_live) REFERENCES task_sequences(id, version, removed)"
	"    ON UPDATE RESTRICT ON DELETE RESTRICT);"
	"CREATE INDEX media_refs_by_ts ON media_refs(ts, ts_version, ts_live);"
	"CREATE INDEX media_refs_by_site ON media_refs(site);"
	"INSERT INTO media_refs(version, ts, ts_version, site)"
	"  SELECT v.id, t.value, (SELECT max(x.version) FROM task_sequences x"
	"      WHERE x.id = t.value AND x.removed = 0),"
	"    (SELECT code FROM sites WHERE code = s.value)"
	"  FROM media_versions v JOIN media m ON m.name = v.media"
	"  LEFT JOIN media_options t ON t.version = v.id AND t.key = 'task_sequence'"
	"  LEFT JOIN media_options s ON s.version = v.id AND s.key = 'site'"
	"  WHERE v.removed = 0 AND m.removed = 0 AND v.version = (SELECT max(w.version)"
	"      FROM media_versions w WHERE w.media = v.media AND w.removed = 0)"
	"    AND (t.value IS NOT NULL OR s.value IS NOT NULL);"
	"CREATE TRIGGER media_superseded AFTER INSERT ON media_versions BEGIN"
	"  UPDATE media_content SET live = NULL WHERE live = 0 AND version IN"
	"    (SELECT id FROM media_versions WHERE media = NEW.media AND id <> NEW.id);"
	"  DELETE FROM media_refs WHERE version IN"
	"    (SELECT id FROM media_versions WHERE media = NEW.media AND id <> NEW.id);"
	"END;"
	"CREATE TRIGGER media_removed AFTER UPDATE OF removed ON media_versions"
	"  WHEN NEW.removed <> 0 BEGIN"
	"  UPDATE media_content SET live = NULL WHERE version = NEW.id AND live = 0;"
	"  DELETE FROM media_refs WHERE version = NEW.id;"
	"END;";

/* v4: task_sequences becomes a rowid table.  As WITHOUT ROWID its primary
 * key's b-tree held whole records, sequence_xml included, and every foreign
 * key check from a ts_steps or ts_packages insert copied the parent record:
 * importing a sequence cost references x document size (40,000 references:
 * 11 s).  With a rowid, PRIMARY KEY(id, version) is a separate index of
 * (id, version, rowid) and the checks read only that.  The index that v3's
 * keys use is rebuilt with the table. */
static const char schema_v4[] =
	"CREATE TABLE new_task_sequences(id TEXT NOT NULL, version INTEGER NOT NULL,"
	"  name TEXT NOT NULL, boot_image TEXT, source TEXT NOT NULL, created INTEGER NOT NULL,"
	"  removed INTEGER NOT NULL DEFAULT 0, dialect TEXT NOT NULL, sequence_xml BLOB NOT NULL,"
	"  PRIMARY KEY(id, version));"
	"INSERT INTO new_task_sequences(id, version, name, boot_image, source, created, removed,"
	"  dialect, sequence_xml) SELECT id, version, name, boot_image, source, created, removed,"
	"  dialect, sequence_xml FROM task_sequences;"
	"DROP TABLE task_sequences;"
	"ALTER TABLE new_task_sequences RENAME TO task_sequences;"
	"CREATE UNIQUE INDEX task_sequences_by_removed ON task_sequences(id, version, removed);";

/* v5: what only a site knows and its bootable and prestaged media carry in their
 * variables (site add/edit --http-port ...; names in catalog/site.c). */
static const char schema_v5[] =
	"CREATE TABLE IF NOT EXISTS site_values(site TEXT NOT NULL REFERENCES sites(code),"
	"  name TEXT NOT NULL,"
	"  value TEXT NOT NULL, PRIMARY KEY(site, name)) WITHOUT ROWID;";

/* v6: media snapshots get numbers, so a version of a media can be named
 * (versions/NAME/N/ on the mount) and stays what it was.  A snapshot is a
 * media version with each content ID resolved to one content version; a
 * writer that changes what a live media resolves to records the new one
 * (catalog/media_snapshots.c).  Numbers count per media name and are never
 * reused: media_snapshot_numbers keeps the last one given even after gc has
 * deleted the snapshots, or the media itself.  The keys keep gc from
 * deleting a version a recorded snapshot names (gc deletes the snapshot
 * first, by its rules).  Existing media start at their current snapshot,
 * number 1. */
static const char schema_v6[] =
	"CREATE TABLE media_snapshots(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  media TEXT NOT NULL, number INTEGER NOT NULL,"
	"  media_version INTEGER NOT NULL REFERENCES media_versions(id),"
	"  created INTEGER NOT NULL, UNIQUE(media, number));"
	"CREATE INDEX media_snapshots_by_version ON media_snapshots(media_version);"
	"CREATE TABLE media_snapshot_content("
	"  snapshot INTEGER NOT NULL REFERENCES media_snapshots(id), seq INTEGER NOT NULL,"
	"  content_version INTEGER NOT NULL REFERENCES content_versions(id),"
	"  PRIMARY KEY(snapshot, seq)) WITHOUT ROWID;"
	"CREATE INDEX media_snapshot_content_by_version ON media_snapshot_content(content_version);"
	"CREATE TABLE media_snapshot_numbers(media TEXT PRIMARY KEY, last INTEGER NOT NULL);"
	"INSERT INTO media_snapshots(media, number, media_version, created)"
	"  SELECT m.name, 1, v.id, v.created FROM media m JOIN media_versions v ON v.media = m.name"
	"  WHERE m.removed = 0 AND v.removed = 0 AND v.version ="
	"    (SELECT max(w.version) FROM media_versions w WHERE w.media = m.name AND w.removed = 0)"
	"  AND NOT EXISTS (SELECT 1 FROM media_content c WHERE c.version = v.id AND NOT EXISTS"
	"    (SELECT 1 FROM content_versions k WHERE k.content = c.content AND k.removed = 0));"
	"INSERT INTO media_snapshot_content(snapshot, seq, content_version)"
	"  SELECT s.id, c.seq, (SELECT k.id FROM content_versions k"
	"    WHERE k.content = c.content AND k.removed = 0 ORDER BY k.version DESC LIMIT 1)"
	"  FROM media_snapshots s JOIN media_content c ON c.version = s.media_version;"
	"INSERT INTO media_snapshot_numbers(media, last) SELECT media, 1 FROM media_snapshots;";

/* v7: Configuration Manager applications (catalog/app.c), as an application's
 * SDMPackageXML models them: the application, its deployment types in
 * priority order, the contents each uses with their files, each deployment
 * type's dependency groups and what it supersedes.  Deployment type IDs are
 * store-wide (a re-import of an application deletes its rows first: the keys
 * cascade).  app_content_bindings ties a content's Content_ ID to the store's
 * content item that holds its files (content add --id Content_...); gc deleting
 * that item deletes the binding (the next content add binds a new one).  IF NOT
 * EXISTS, as v5: the step only adds tables. */
static const char schema_v7[] =
	"CREATE TABLE IF NOT EXISTS applications(id TEXT PRIMARY KEY, revision INTEGER NOT NULL,"
	"  title TEXT NOT NULL, publisher TEXT NOT NULL, software_version TEXT NOT NULL,"
	"  source TEXT NOT NULL, created INTEGER NOT NULL);"
	"CREATE TABLE IF NOT EXISTS app_deployment_types(app TEXT NOT NULL"
	"    REFERENCES applications(id) ON DELETE CASCADE,"
	"  priority INTEGER NOT NULL, id TEXT NOT NULL UNIQUE, revision INTEGER NOT NULL,"
	"  title TEXT NOT NULL, technology TEXT NOT NULL, install_command TEXT NOT NULL,"
	"  PRIMARY KEY(app, priority)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS app_contents(dt TEXT NOT NULL"
	"    REFERENCES app_deployment_types(id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL, content TEXT NOT NULL, version INTEGER NOT NULL,"
	"  PRIMARY KEY(dt, seq)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS app_contents_by_content ON app_contents(content);"
	"CREATE TABLE IF NOT EXISTS app_content_files(dt TEXT NOT NULL, content_seq INTEGER NOT NULL,"
	"  seq INTEGER NOT NULL, name TEXT NOT NULL, size INTEGER NOT NULL,"
	"  PRIMARY KEY(dt, content_seq, seq),"
	"  FOREIGN KEY(dt, content_seq) REFERENCES app_contents(dt, seq) ON DELETE CASCADE)"
	"  WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS app_dependencies(dt TEXT NOT NULL"
	"    REFERENCES app_deployment_types(id) ON DELETE CASCADE,"
	"  grp INTEGER NOT NULL, seq INTEGER NOT NULL, group_name TEXT NOT NULL,"
	"  operator TEXT NOT NULL, dep_app TEXT NOT NULL, dep_dt TEXT NOT NULL,"
	"  desired_state TEXT NOT NULL, PRIMARY KEY(dt, grp, seq)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS app_dependencies_by_app ON app_dependencies(dep_app);"
	"CREATE TABLE IF NOT EXISTS app_supersedes(dt TEXT NOT NULL"
	"    REFERENCES app_deployment_types(id) ON DELETE CASCADE,"
	"  seq INTEGER NOT NULL, old_app TEXT NOT NULL, old_dt TEXT NOT NULL,"
	"  desired_state TEXT NOT NULL, PRIMARY KEY(dt, seq)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS app_supersedes_by_app ON app_supersedes(old_app);"
	"CREATE TABLE IF NOT EXISTS app_content_bindings(content_uid TEXT PRIMARY KEY,"
	"  content TEXT NOT NULL UNIQUE REFERENCES content(id) ON DELETE CASCADE);";

struct catalog_step {
	const char *what;
	const char *sql;
};

/* catalog_steps[i] takes a catalog from version i + 1 to i + 2. */
static const struct catalog_step catalog_steps[] = {
	{ "content ids are never reused; packs record their last verify", schema_v2 },
	{ "content, task sequences and sites a media uses cannot be removed (foreign keys)",
	  schema_v3 },
	{ "task sequences are a rowid table, so foreign key checks do not copy documents",
	  schema_v4 },
	{ "sites keep the values their media carry", schema_v5 },
	{ "media snapshots are numbered and kept by gc's rules (versions/NAME/N)", schema_v6 },
	{ "applications, their deployment types, contents and dependencies", schema_v7 },
};

_Static_assert(sizeof(catalog_steps) / sizeof(catalog_steps[0]) + 1 ==
		       TSM_CATALOG_SCHEMA_VERSION,
	       "a migration step per schema version");

/* Applies the steps after @from inside the caller's write transaction,
 * with foreign key enforcement off.  Sets user_version. */
static int catalog_apply_steps(sqlite3 *db, const char *path, int64_t from)
{
	char sql[64];
	sqlite3_stmt *stmt;
	int rc;

	for (int64_t v = from; v < TSM_CATALOG_SCHEMA_VERSION; v++) {
		if (sqlite3_exec(db, catalog_steps[v - 1].sql, NULL, NULL, NULL) != SQLITE_OK) {
			tsm_error("%s: upgrading the catalog from schema version %lld (%s): %s", path,
				  (long long)v, catalog_steps[v - 1].what, sqlite3_errmsg(db));
			return -EIO;
		}
	}
	/* The copies must keep every reference intact. */
	if ((rc = tsm_db_prepare(db, "PRAGMA foreign_key_check", &stmt)) < 0)
		return rc;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW)
		tsm_error("%s: after the upgrade, table %s has a row (%lld) whose reference to %s"
			  " is broken", path, sqlite3_column_text(stmt, 0),
			  (long long)sqlite3_column_int64(stmt, 1), sqlite3_column_text(stmt, 2));
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return rc == SQLITE_ROW ? -EIO : tsm_db_error(db, "checking references");
	snprintf(sql, sizeof(sql), "PRAGMA user_version=%d", TSM_CATALOG_SCHEMA_VERSION);
	return tsm_db_exec(db, sql);
}

/* Brings an older catalog up to this tsmedia's schema, once: the version is
 * read again inside the write transaction, so concurrent openers (a mount's
 * threads) upgrade it one time between them. */
static int catalog_migrate(sqlite3 *db, const char *path)
{
	int64_t version = 0;
	int rc;

	/* Only outside a transaction does this take effect. */
	if ((rc = tsm_db_exec(db, "PRAGMA foreign_keys=OFF")) < 0)
		return rc;
	if ((rc = tsm_db_exec(db, "BEGIN IMMEDIATE")) < 0)
		return rc;
	if ((rc = tsm_db_int64(db, "PRAGMA user_version", &version)) < 0)
		goto out_rollback;
	if (version >= TSM_CATALOG_SCHEMA_VERSION) {
		rc = tsm_db_exec(db, "COMMIT");
		return rc;
	}
	if (version < 1) {
		tsm_error("%s: catalog schema version %lld is not one tsmedia wrote", path,
			  (long long)version);
		rc = -EPROTO;
		goto out_rollback;
	}
	if ((rc = catalog_apply_steps(db, path, version)) < 0)
		goto out_rollback;
	if ((rc = tsm_db_exec(db, "COMMIT")) < 0)
		goto out_rollback;
	tsm_info("%s: catalog upgraded from schema version %lld to %d", path, (long long)version,
		 TSM_CATALOG_SCHEMA_VERSION);
	return 0;

out_rollback:
	sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

int tsm_catalog_create(const char *path, const char *site_code, const char *compression)
{
	sqlite3 *db = NULL;
	char sql[128];
	int rc;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL) !=
	    SQLITE_OK) {
		rc = tsm_db_error(db, path);
		sqlite3_close(db);
		return rc;
	}
	rc = catalog_configure(db);
	if (rc < 0)
		goto out_close;
	/* Version 1, then the same steps an old store takes. */
	if ((rc = tsm_db_exec(db, "PRAGMA foreign_keys=OFF")) < 0)
		goto out_close;
	rc = tsm_db_exec(db, "BEGIN IMMEDIATE");
	if (rc < 0)
		goto out_close;
	snprintf(sql, sizeof(sql), "PRAGMA application_id=%d; PRAGMA user_version=1;",
		 TSM_CATALOG_APPLICATION_ID);
	if ((rc = tsm_db_exec(db, schema_v1)) < 0 || (rc = tsm_db_exec(db, sql)) < 0 ||
	    (rc = tsm_meta_set(db, "site_code", site_code)) < 0 ||
	    (rc = tsm_meta_set(db, "compression", compression)) < 0 ||
	    (rc = tsm_meta_set(db, "next_content_number", "1")) < 0 ||
	    (rc = tsm_meta_set(db, "next_pack_id", "1")) < 0 ||
	    (rc = catalog_apply_steps(db, path, 1)) < 0) {
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
		goto out_close;
	}
	rc = tsm_db_exec(db, "COMMIT");
out_close:
	sqlite3_close(db);
	return rc;
}

int tsm_catalog_open(const char *path, sqlite3 **db_ret)
{
	sqlite3 *db = NULL;
	int64_t app_id = 0, version = 0;
	int rc;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		rc = tsm_db_error(db, path);
		sqlite3_close(db);
		return rc;
	}
	sqlite3_extended_result_codes(db, 0);
	/* Before the first read: another process may be mid-commit. */
	sqlite3_busy_timeout(db, 60000);
	/* A file that is not sqlite fails here, before anything is written. */
	if (tsm_db_int64(db, "PRAGMA application_id", &app_id) < 0 ||
	    app_id != TSM_CATALOG_APPLICATION_ID) {
		tsm_error("%s is not a tsmedia catalog", path);
		sqlite3_close(db);
		return -EINVAL;
	}
	if ((rc = tsm_db_int64(db, "PRAGMA user_version", &version)) < 0) {
		sqlite3_close(db);
		return rc;
	}
	if (version > TSM_CATALOG_SCHEMA_VERSION) {
		tsm_error("%s: catalog schema version %lld, this tsmedia reads up to version %d"
			  " (a newer tsmedia wrote it)", path, (long long)version,
			  TSM_CATALOG_SCHEMA_VERSION);
		sqlite3_close(db);
		return -EPROTO;
	}
	if (version < TSM_CATALOG_SCHEMA_VERSION && (rc = catalog_migrate(db, path)) < 0) {
		sqlite3_close(db);
		return rc;
	}
	rc = catalog_configure(db);
	if (rc < 0) {
		sqlite3_close(db);
		return rc;
	}
	*db_ret = db;
	return 0;
}
