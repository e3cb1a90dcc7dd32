#!/usr/bin/env bash
# A store whose catalog is at schema version 1 (before content ids were kept
# from reuse) opens with today's tsmedia: it is upgraded once, in place, reads
# the same bytes, passes verify, and from then on never hands out an id again.
# A version 4 catalog (before site values and numbered snapshots) takes the
# steps to version 7.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

store=$WORK/store
init_store "$store" --compression zstd
mkdir -p "$WORK/a/sub" "$WORK/b"
randfile "$WORK/a/big.bin" $((3 << 20))
randfile "$WORK/a/sub/small.bin" 5000
randfile "$WORK/b/other.bin" 300000
ida=$(add_content "$store" --kind package --name A "$WORK/a")
tsm "$store" media create --type data --name m1 --content "$ida" >/dev/null
tsm "$store" media export m1 -o "$WORK/m1.before.iso"
tsm "$store" content list --json >"$WORK/list.before.json"

check "make the store's catalog a schema version 1 catalog (the old schema, same rows)"
# The schema tsmedia wrote as version 1, table for table.
cat >"$WORK/v1.sql" <<'SQL'
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE packs(id INTEGER PRIMARY KEY, created INTEGER NOT NULL);
CREATE TABLE chunks(id INTEGER PRIMARY KEY AUTOINCREMENT, hash BLOB NOT NULL UNIQUE, pack INTEGER NOT NULL REFERENCES packs(id), offset INTEGER NOT NULL, stored_size INTEGER NOT NULL, size INTEGER NOT NULL, codec INTEGER NOT NULL);
CREATE INDEX chunks_by_pack ON chunks(pack);
CREATE TABLE blobs(id INTEGER PRIMARY KEY, sha256 BLOB NOT NULL UNIQUE, sha1 BLOB NOT NULL, size INTEGER NOT NULL);
CREATE TABLE blob_chunks(blob INTEGER NOT NULL REFERENCES blobs(id), seq INTEGER NOT NULL, chunk INTEGER NOT NULL REFERENCES chunks(id), PRIMARY KEY(blob, seq)) WITHOUT ROWID;
CREATE INDEX blob_chunks_by_chunk ON blob_chunks(chunk);
CREATE TABLE content(id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL, removed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE content_versions(id INTEGER PRIMARY KEY, content TEXT NOT NULL REFERENCES content(id), version INTEGER NOT NULL, label TEXT, source TEXT NOT NULL, created INTEGER NOT NULL, removed INTEGER NOT NULL DEFAULT 0, files INTEGER NOT NULL, bytes INTEGER NOT NULL, UNIQUE(content, version));
CREATE TABLE tree_entries(version INTEGER NOT NULL REFERENCES content_versions(id), path TEXT NOT NULL, mode INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, attributes INTEGER NOT NULL, size INTEGER NOT NULL, blob INTEGER REFERENCES blobs(id), link_target TEXT, PRIMARY KEY(version, path)) WITHOUT ROWID;
CREATE INDEX tree_entries_by_blob ON tree_entries(blob);
CREATE TABLE content_boot(version INTEGER NOT NULL REFERENCES content_versions(id), seq INTEGER NOT NULL, platform INTEGER NOT NULL, emulation INTEGER NOT NULL, load_size INTEGER NOT NULL, boot_info_table INTEGER NOT NULL, path TEXT, blob INTEGER REFERENCES blobs(id), size INTEGER NOT NULL, PRIMARY KEY(version, seq)) WITHOUT ROWID;
CREATE TABLE content_meta(version INTEGER NOT NULL REFERENCES content_versions(id), key TEXT NOT NULL, value BLOB, PRIMARY KEY(version, key)) WITHOUT ROWID;
CREATE TABLE media(name TEXT PRIMARY KEY, type TEXT NOT NULL, created INTEGER NOT NULL, removed INTEGER NOT NULL DEFAULT 0);
CREATE TABLE media_versions(id INTEGER PRIMARY KEY, media TEXT NOT NULL REFERENCES media(name), version INTEGER NOT NULL, created INTEGER NOT NULL, removed INTEGER NOT NULL DEFAULT 0, UNIQUE(media, version));
CREATE TABLE media_options(version INTEGER NOT NULL REFERENCES media_versions(id), key TEXT NOT NULL, value BLOB, PRIMARY KEY(version, key)) WITHOUT ROWID;
CREATE TABLE media_content(version INTEGER NOT NULL REFERENCES media_versions(id), seq INTEGER NOT NULL, content TEXT NOT NULL, PRIMARY KEY(version, seq)) WITHOUT ROWID;
CREATE INDEX media_content_by_content ON media_content(content);
CREATE TABLE task_sequences(id TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL, boot_image TEXT, source TEXT NOT NULL, created INTEGER NOT NULL, removed INTEGER NOT NULL DEFAULT 0, dialect TEXT NOT NULL, sequence_xml BLOB NOT NULL, PRIMARY KEY(id, version)) WITHOUT ROWID;
CREATE TABLE ts_steps(ts TEXT NOT NULL, version INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, depth INTEGER NOT NULL, name TEXT NOT NULL, type TEXT, group_path TEXT NOT NULL, disabled INTEGER NOT NULL, continue_on_error INTEGER NOT NULL, dynamic_install INTEGER NOT NULL, description TEXT NOT NULL, condition TEXT, PRIMARY KEY(ts, version, seq), FOREIGN KEY(ts, version) REFERENCES task_sequences(id, version)) WITHOUT ROWID;
CREATE TABLE ts_packages(ts TEXT NOT NULL, version INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, package TEXT NOT NULL, step_seq INTEGER, PRIMARY KEY(ts, version, seq), FOREIGN KEY(ts, version) REFERENCES task_sequences(id, version)) WITHOUT ROWID;
CREATE INDEX ts_packages_by_package ON ts_packages(package);
CREATE TABLE sites(code TEXT PRIMARY KEY, type TEXT NOT NULL, parent TEXT REFERENCES sites(code), created INTEGER NOT NULL);
CREATE TABLE site_mps(site TEXT NOT NULL REFERENCES sites(code), seq INTEGER NOT NULL, url TEXT NOT NULL, PRIMARY KEY(site, seq)) WITHOUT ROWID;
CREATE TABLE site_root_cas(site TEXT NOT NULL REFERENCES sites(code), sha256 TEXT NOT NULL, pem TEXT NOT NULL, UNIQUE(site, sha256));
CREATE TABLE media_files(version INTEGER NOT NULL REFERENCES media_versions(id), path TEXT NOT NULL, blob INTEGER NOT NULL REFERENCES blobs(id), PRIMARY KEY(version, path)) WITHOUT ROWID;
CREATE TABLE win_security(id INTEGER PRIMARY KEY, sha256 BLOB NOT NULL UNIQUE, data BLOB NOT NULL);
CREATE TABLE win_meta(version INTEGER NOT NULL REFERENCES content_versions(id), path TEXT NOT NULL, security INTEGER REFERENCES win_security(id), short_name TEXT, attributes INTEGER NOT NULL, creation_ft INTEGER NOT NULL, access_ft INTEGER NOT NULL, write_ft INTEGER NOT NULL, reparse_tag INTEGER, reparse BLOB, hardlink_group INTEGER, unix_uid INTEGER, unix_gid INTEGER, unix_mode INTEGER, unix_rdev INTEGER, object_id BLOB, PRIMARY KEY(version, path)) WITHOUT ROWID;
CREATE INDEX win_meta_by_security ON win_meta(security);
CREATE TABLE win_streams(version INTEGER NOT NULL REFERENCES content_versions(id), path TEXT NOT NULL, name TEXT NOT NULL, seq INTEGER NOT NULL, blob INTEGER REFERENCES blobs(id), size INTEGER NOT NULL, PRIMARY KEY(version, path, name)) WITHOUT ROWID;
CREATE INDEX win_streams_by_blob ON win_streams(blob);
SQL
python3 - "$store/catalog.db" "$WORK/v1.sql" "$WORK/v1.db" <<'PY'
import sqlite3, sys
src, schema, out = sys.argv[1:]
db = sqlite3.connect(out)
db.executescript(open(schema).read())
db.execute("PRAGMA application_id=%d" % 0x54534d31)
db.execute("PRAGMA user_version=1")
db.execute("ATTACH DATABASE ? AS src", (src,))
tables = [r[0] for r in db.execute("SELECT name FROM main.sqlite_master WHERE type='table'"
                                   " AND name NOT LIKE 'sqlite_%'")]
for t in tables:
    cols = ",".join('"%s"' % r[1] for r in db.execute('PRAGMA main.table_info("%s")' % t))
    db.execute('INSERT INTO main."%s"(%s) SELECT %s FROM src."%s"' % (t, cols, cols, t))
db.execute("DELETE FROM main.sqlite_sequence")
db.execute("INSERT INTO main.sqlite_sequence SELECT * FROM src.sqlite_sequence WHERE name = 'chunks'")
db.commit()
db.execute("DETACH DATABASE src")
db.execute("PRAGMA journal_mode=WAL")
db.close()
PY
rm -f "$store/catalog.db" "$store/catalog.db-wal" "$store/catalog.db-shm"
mv "$WORK/v1.db" "$store/catalog.db"
q() { sqlite3 "$store/catalog.db" "$1"; }
assert_eq "$(q 'PRAGMA user_version')" 1 "the test catalog is version 1"
[[ $(q "SELECT sql FROM sqlite_master WHERE name = 'blobs'") != *AUTOINCREMENT* ]] ||
	fail "the version 1 blobs table has AUTOINCREMENT"
max_blob=$(q 'SELECT max(id) FROM blobs')
max_cv=$(q 'SELECT max(id) FROM content_versions')
max_mv=$(q 'SELECT max(id) FROM media_versions')
note "largest ids: blob $max_blob, content version $max_cv, media version $max_mv"

check "the first open upgrades it (and says so); verify passes"
tsm "$store" verify >"$WORK/verify.out" 2>"$WORK/verify.err" ||
	fail "verify of the upgraded store failed: $(head -c 1500 "$WORK/verify.err")"
grep -q "upgraded from schema version 1 to" "$WORK/verify.err" ||
	fail "the upgrade was not reported: $(cat "$WORK/verify.err")"
assert_eq "$(q 'PRAGMA user_version')" 7 "schema version after the upgrade"
# v5: the values only a site knows (site add --http-port ...).
assert_eq "$(q "SELECT count(*) FROM sqlite_master WHERE name = 'site_values'")" 1 \
	"site_values after the upgrade"
# v6: the live media's current snapshot is its number 1 (versions/NAME/1).
assert_eq "$(q "SELECT group_concat(media || '/' || number, ' ') FROM media_snapshots")" m1/1 \
	"numbered snapshots after the upgrade"
assert_eq "$(q 'SELECT count(*) FROM media_snapshot_content')" \
	"$(q 'SELECT count(*) FROM media_content c JOIN media_snapshots s ON s.media_version = c.version')" \
	"the snapshot names a content version per content ID"
# v4: foreign key checks against task_sequences must not copy documents.
[[ $(q "SELECT sql FROM sqlite_master WHERE name = 'task_sequences'") != *"WITHOUT ROWID"* ]] ||
	fail "task_sequences is still a WITHOUT ROWID table after the upgrade"
for t in blobs content_versions media_versions; do
	[[ $(q "SELECT sql FROM sqlite_master WHERE name = '$t'") == *AUTOINCREMENT* ]] ||
		fail "$t has no AUTOINCREMENT after the upgrade"
done
assert_eq "$(q "SELECT seq FROM sqlite_sequence WHERE name = 'blobs'")" "$max_blob" \
	"blob ids continue after the largest one"
assert_eq "$(q 'SELECT count(*) FROM pragma_table_info('"'packs'"') WHERE name = '"'verified'"'')" 1 \
	"packs.verified after the upgrade"
assert_eq "$(q 'PRAGMA foreign_key_check')" "" "references after the upgrade"
tsm "$store" verify >/dev/null 2>"$WORK/verify2.err" || fail "second verify failed"
grep -q "upgraded" "$WORK/verify2.err" && fail "the store was upgraded twice"

check "the upgraded store gives the same bytes and the same listing"
tsm "$store" media export m1 -o "$WORK/m1.after.iso"
cmp -s "$WORK/m1.before.iso" "$WORK/m1.after.iso" || fail "m1 exports differently after the upgrade"
tsm "$store" content list --json >"$WORK/list.after.json"
cmp -s "$WORK/list.before.json" "$WORK/list.after.json" || fail "content list changed by the upgrade"

check "after remove, gc and add, no id names two things"
tsm "$store" media rm m1 >/dev/null
tsm "$store" content rm "$ida" >/dev/null
tsm "$store" gc >/dev/null
idb=$(add_content "$store" --kind package --name B "$WORK/b")
tsm "$store" media create --type data --name m2 --content "$idb" >/dev/null
assert_eq "$(q 'SELECT count(*) FROM blobs WHERE id <= '"$max_blob")" 0 "a blob id was reused"
assert_eq "$(q 'SELECT count(*) FROM content_versions WHERE id <= '"$max_cv")" 0 \
	"a content version id was reused"
assert_eq "$(q 'SELECT count(*) FROM media_versions WHERE id <= '"$max_mv")" 0 \
	"a media version id was reused"
verify_ok "$store"

check "a version 4 catalog (before site values) upgrades to 7; its sites keep their rows and take values"
tsm "$store" site add --code PS7 --type primary --mp http://mp7.example >/dev/null ||
	fail "site add PS7 failed"
# Version 4 is today's schema without site_values and the snapshot tables:
# what tsmedia wrote before.
sqlite3 "$store/catalog.db" 'DROP TABLE site_values; DROP TABLE media_snapshot_content;
	DROP TABLE media_snapshots; DROP TABLE media_snapshot_numbers; PRAGMA user_version=4' ||
	fail "could not make a version 4 catalog"
sites_before=$(q 'SELECT * FROM sites ORDER BY code; SELECT * FROM site_mps ORDER BY site, seq' | sha256sum)
tsm "$store" site show PS7 >/dev/null 2>"$WORK/open4.err" ||
	fail "site show on a version 4 store: $(cat "$WORK/open4.err")"
grep -q "upgraded from schema version 4 to 7" "$WORK/open4.err" ||
	fail "the upgrade from 4 was not reported: $(cat "$WORK/open4.err")"
assert_eq "$(q 'PRAGMA user_version')" 7 "schema version after the upgrade from 4"
assert_eq "$(q "SELECT group_concat(media || '/' || number, ' ') FROM media_snapshots")" m2/1 \
	"numbered snapshots after the upgrade from 4"
assert_eq "$(q 'SELECT * FROM sites ORDER BY code; SELECT * FROM site_mps ORDER BY site, seq' | sha256sum)" \
	"$sites_before" "site rows changed by the upgrade from 4"
assert_eq "$(q 'PRAGMA foreign_key_check')" "" "references after the upgrade from 4"
tsm "$store" site edit PS7 --http-port 8080 >/dev/null 2>"$WORK/edit.err" ||
	fail "site edit --http-port on the upgraded store: $(cat "$WORK/edit.err")"
assert_eq "$(q "SELECT name || '=' || value FROM site_values WHERE site = 'PS7'")" "http-port=8080" \
	"the site value in the upgraded catalog"
verify_ok "$store"

check "a catalog from a newer tsmedia, or of no known version, is refused and left alone"
cp "$store/catalog.db" "$WORK/keep.db"
for v in 99 0; do
	sqlite3 "$store/catalog.db" "PRAGMA user_version=$v"
	before=$(catalog_digest "$store")
	expect_fail_with "schema version $v" -- tsm "$store" content list
	assert_eq "$(catalog_digest "$store")" "$before" "the refused catalog was changed"
done

pass
