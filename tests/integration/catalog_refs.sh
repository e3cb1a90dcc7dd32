#!/usr/bin/env bash
# A store made at catalog schema version 2 (the previous tsmedia's, before
# content a media uses was a foreign key; store_migrate takes a version 1
# store through every step) opens, is upgraded once in one transaction, passes verify,
# and then refuses to remove content a media uses, naming the media, while
# content only an older version of a media used can go.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

command -v sqlite3 >/dev/null || skip "sqlite3 (the command-line shell) is not installed"

STORE=$WORK/store
init_store "$STORE" --compression none
for x in a b c; do
	mkdir -p "$WORK/$x"
	randfile "$WORK/$x/$x.bin" 200000
	printf '%s only\n' "$x" >"$WORK/$x/$x.txt"
done
manifest "$WORK/a" "$WORK/a.json" >/dev/null
A=$(add_content "$STORE" --kind package --name A "$WORK/a")
B=$(add_content "$STORE" --kind package --name B "$WORK/b")
C=$(add_content "$STORE" --kind package --name C "$WORK/c")
media() { tsm "$STORE" media "$@" >/dev/null 2>"$WORK/media.err" || fail "media $*: $(cat "$WORK/media.err")"; }
media create --type data --name m1 --content "$A"
media create --type data --name m2 --content "$A,$B"
media create --type data --name m3 --content "$C"
media edit m3 --content "$B"
media create --type data --name gone --content "$C"
media rm gone
printf '<sequence version="3.10"><step type="SMS_TaskSequence_RunCommandLineAction" name="Hello"><action>cmd /c echo</action></step></sequence>\n' >"$WORK/seq.xml"
TS=$(tsm "$STORE" -q ts import --name T "$WORK/seq.xml") || fail "ts import failed"
tsm "$STORE" site add --code PS9 --type primary >/dev/null || fail "site add PS9 failed"

check "the catalog taken back to schema version 2 (media_content as versions 1 and 2 made it)"
# Version 2's media_content and its index; no media_refs, triggers or
# indexes behind the keys; user_version 2: what the previous tsmedia wrote.
sqlite3 "$STORE/catalog.db" <<-'SQL' || fail "could not make a version 2 catalog"
	PRAGMA foreign_keys=OFF;
	BEGIN;
	DROP TABLE media_snapshot_content;
	DROP TABLE media_snapshots;
	DROP TABLE media_snapshot_numbers;
	DROP TRIGGER media_superseded;
	DROP TRIGGER media_removed;
	DROP TABLE media_refs;
	DROP INDEX task_sequences_by_removed;
	DROP TABLE site_values;
	CREATE TABLE old_media_content(version INTEGER NOT NULL REFERENCES media_versions(id),  seq INTEGER NOT NULL, content TEXT NOT NULL, PRIMARY KEY(version, seq)) WITHOUT ROWID;
	INSERT INTO old_media_content SELECT version, seq, content FROM media_content;
	DROP TABLE media_content;
	ALTER TABLE old_media_content RENAME TO media_content;
	CREATE INDEX media_content_by_content ON media_content(content);
	DROP INDEX content_by_removed;
	PRAGMA user_version=2;
	COMMIT;
SQL
# m1 as a version 2 catalog holds a media made for a task sequence and a
# site: their IDs among its options (data media have none of their own).
sqlite3 "$STORE/catalog.db" "INSERT INTO media_options(version, key, value) SELECT id, 'task_sequence', '$TS' FROM media_versions WHERE media = 'm1'; INSERT INTO media_options(version, key, value) SELECT id, 'site', 'PS9' FROM media_versions WHERE media = 'm1'" ||
	fail "could not give m1 a task sequence and a site"
assert_eq "$(sqlite3 "$STORE/catalog.db" 'PRAGMA user_version')" 2
assert_eq "$(sqlite3 "$STORE/catalog.db" "SELECT count(*) FROM pragma_foreign_key_list('media_content') WHERE \"table\" = 'content'")" 0
assert_eq "$(sqlite3 "$STORE/catalog.db" "SELECT count(*) FROM sqlite_master WHERE name = 'media_refs' OR type = 'trigger'")" 0
rows_before=$(sqlite3 "$STORE/catalog.db" 'SELECT version, seq, content FROM media_content ORDER BY 1, 2' | sha256sum)

check "the first open upgrades it to version 7: rows kept, references intact, the foreign key there"
tsm "$STORE" content list >/dev/null 2>"$WORK/open.err" || fail "content list on a version 2 store: $(cat "$WORK/open.err")"
grep -q "upgraded from schema version 2 to 7" "$WORK/open.err" || fail "the upgrade was not reported: $(cat "$WORK/open.err")"
assert_eq "$(sqlite3 "$STORE/catalog.db" 'PRAGMA user_version')" 7
assert_eq "$(sqlite3 "$STORE/catalog.db" "SELECT count(*) FROM sqlite_master WHERE name = 'site_values'")" 1
assert_eq "$(sqlite3 "$STORE/catalog.db" 'SELECT version, seq, content FROM media_content ORDER BY 1, 2' | sha256sum)" "$rows_before"
assert_eq "$(sqlite3 "$STORE/catalog.db" 'PRAGMA foreign_key_check' | wc -l)" 0
assert_eq "$(sqlite3 "$STORE/catalog.db" "SELECT group_concat(\"from\" || '>' || \"to\" || ' ' || on_update || ' ' || on_delete, ', ') FROM (SELECT * FROM pragma_foreign_key_list('media_content') WHERE \"table\" = 'content' ORDER BY seq)")" "content>id RESTRICT RESTRICT, live>removed RESTRICT RESTRICT"
# Only the current versions of live media hold the key: m1, m2, m3's second.
assert_eq "$(sqlite3 "$STORE/catalog.db" "SELECT group_concat(v.media || ':' || c.content, ' ') FROM (SELECT * FROM media_content WHERE live = 0 ORDER BY version, seq) c JOIN media_versions v ON v.id = c.version")" "m1:$A m2:$A m2:$B m3:$B"
assert_eq "$(sqlite3 "$STORE/catalog.db" "SELECT count(*) FROM sqlite_master WHERE name = 'media_refs'")" 1
verify_ok "$STORE"
tsm "$STORE" media list >"$WORK/media.list" || fail "media list after the upgrade failed"
for m in m1 m2 m3; do grep -qw "$m" "$WORK/media.list" || fail "media $m is not listed after the upgrade"; done
cat_check "$STORE" "$A" "$WORK/a.json"

check "a second open does not upgrade again"
digest=$(catalog_digest "$STORE")
tsm "$STORE" content list >/dev/null || fail "content list failed"
assert_eq "$(catalog_digest "$STORE")" "$digest"

check "content a media uses cannot be removed: the error names the media, nothing changes"
digest=$(catalog_digest "$STORE")
expect_fail_with "content $A is used by media m1, m2: remove it from them first" -- tsm "$STORE" content rm "$A"
assert_eq "$(catalog_digest "$STORE")" "$digest"
expect_fail_with "content $B is used by media m2, m3: remove" -- tsm "$STORE" content rm "$B"
assert_eq "$(catalog_digest "$STORE")" "$digest"

check "the task sequence and the site media m1 is made for cannot be removed either"
expect_fail_with "task sequence $TS is used by media m1: remove or edit them first" -- tsm "$STORE" ts rm "$TS"
expect_fail_with "site PS9 is used by media m1: remove or edit them first" -- tsm "$STORE" site rm PS9
assert_eq "$(catalog_digest "$STORE")" "$digest"

check "content only an older version or a removed media used can go"
tsm "$STORE" content rm "$C" >/dev/null 2>"$WORK/rm.err" || fail "content rm $C (used only by m3 version 1 and removed media 'gone'): $(cat "$WORK/rm.err")"

check "removing or editing the media frees the content, in the same catalog"
media rm m2
expect_fail_with "content $B is used by media m3: remove" -- tsm "$STORE" content rm "$B"
media edit m3 --content "$A"
tsm "$STORE" content rm "$B" >/dev/null 2>"$WORK/rm.err" || fail "content rm $B after m2 was removed and m3 edited: $(cat "$WORK/rm.err")"
expect_fail_with "content $A is used by media m1, m3" -- tsm "$STORE" content rm "$A"
media rm m1
tsm "$STORE" ts rm "$TS" >/dev/null 2>"$WORK/rm.err" || fail "ts rm after m1 was removed: $(cat "$WORK/rm.err")"
tsm "$STORE" site rm PS9 >/dev/null 2>"$WORK/rm.err" || fail "site rm after m1 was removed: $(cat "$WORK/rm.err")"
verify_ok "$STORE"
tsm "$STORE" gc >/dev/null 2>"$WORK/gc.err" || fail "gc failed: $(cat "$WORK/gc.err")"
verify_ok "$STORE"
cat_check "$STORE" "$A" "$WORK/a.json"

check "a catalog from a newer tsmedia (schema version 8) is refused, unchanged"
sqlite3 "$STORE/catalog.db" 'PRAGMA user_version=8' || fail "could not set user_version"
digest=$(catalog_digest "$STORE")
expect_fail_with "catalog schema version 8, this tsmedia reads up to version 7" -- tsm "$STORE" content list
assert_eq "$(catalog_digest "$STORE")" "$digest"

pass
