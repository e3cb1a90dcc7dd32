#!/usr/bin/env bash
# Applications (issue 17): `app import` of digests written to the published shape
# (appgen.py): two deployment types in priority order with their contents
# (--content checked against the file list and imported), a bare digest and a
# console export's object.xml; a dependency chain of three and a diamond; a cycle
# refused with the catalog unchanged; supersedence shown on both sides; `content add
# --id Content_...` binding; a task sequence naming applications in its
# referenceList and an Install Application step shows which the store holds; hostile
# digests (entity expansion, an external entity, a dependency on itself, 10,000
# deployment types, file names with path separators) refused with clear messages and
# nothing changed; `app rm`; and a schema version 6 store upgraded to the current one (8).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

. "$(dirname "$0")/lib_apps.sh"
S=$WORK/store
init_store "$S" --site-code PS1
import() { # import DIR FILE [ARGS...]: app import, must succeed; prints the ID
	local dir=$1 file=$2 out
	shift 2
	out=$(tsm "$S" app import "$@" "$WORK/$dir/$file" 2>"$WORK/import.err") ||
		fail "app import $file: $(cat "$WORK/import.err")"
	printf '%s\n' "$out"
}
jget() { "${PYHELP[@]}" get "$1" "$2"; }

check "a schema version 6 store opens: upgraded to 8 once, with the application tables"
tsm "$S" content list >/dev/null
sqlite3 "$S/catalog.db" 'DROP TABLE app_content_bindings; DROP TABLE app_supersedes;
	DROP TABLE app_dependencies; DROP TABLE app_content_files; DROP TABLE app_contents;
	DROP TABLE app_deployment_types; DROP TABLE applications; DROP TABLE blob_wim_resources;
	PRAGMA user_version=6' ||
	fail "could not make a version 6 catalog"
tsm "$S" app list >/dev/null 2>"$WORK/open6.err" || fail "app list on a version 6 store: $(cat "$WORK/open6.err")"
grep -q "upgraded from schema version 6 to 8" "$WORK/open6.err" || fail "the upgrade was not reported: $(cat "$WORK/open6.err")"
assert_eq "$(sqlite3 "$S/catalog.db" 'PRAGMA user_version')" 8
assert_eq "$(sqlite3 "$S/catalog.db" "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND (name LIKE 'app%' OR name = 'applications')")" 7
assert_eq "$(sqlite3 "$S/catalog.db" 'PRAGMA foreign_key_check')" "" "references after the upgrade"

check "two deployment types in priority order, their contents checked and imported (--content)"
gen two "[{\"file\": \"two.xml\", \"guid\": \"$(guid a 1)\", \"title\": \"Seven Zip\", \"version\": \"23.01\", \"publisher\": \"Igor\", \"dts\": [
	{\"guid\": \"$(guid d 1)\", \"title\": \"Seven Zip x64 MSI\", \"tech\": \"MSI\", \"command\": \"msiexec /i 7z-x64.msi /qn\", \"contents\": [{\"guid\": \"$(guid c 1)\", \"files\": [[\"7z-x64.msi\", 150000], [\"install.cmd\", 33]]}]},
	{\"guid\": \"$(guid d 2)\", \"title\": \"Seven Zip x86 script\", \"tech\": \"Script\", \"command\": \"install.cmd x86\", \"contents\": [{\"guid\": \"$(guid c 2)\", \"version\": 3, \"files\": [[\"7z-x86.exe\", 120000]]}]}]},
	{\"file\": \"obj.xml\", \"object\": true, \"guid\": \"$(guid a 2)\", \"title\": \"Notepad & <Co>\", \"dts\": [
	{\"guid\": \"$(guid d 3)\", \"title\": \"Notepad\", \"contents\": [{\"guid\": \"$(guid c 3)\", \"files\": [[\"np.exe\", 5000]]}]}]}]"
A1=$(import two two.xml --content "$WORK/two/content")
assert_eq "$A1" "$(app 1)" "the ID app import prints"
tsm "$S" app show "$A1" --json >"$WORK/a1.json" || fail "app show --json"
assert_eq "$(jget "$WORK/a1.json" title)" "Seven Zip"
assert_eq "$(jget "$WORK/a1.json" software_version)" "23.01"
assert_eq "$(jget "$WORK/a1.json" deployment_types.0.id)" "$(dt 1)" "priority 1"
assert_eq "$(jget "$WORK/a1.json" deployment_types.0.technology)" MSI
assert_eq "$(jget "$WORK/a1.json" deployment_types.0.install_command)" "msiexec /i 7z-x64.msi /qn"
assert_eq "$(jget "$WORK/a1.json" deployment_types.1.id)" "$(dt 2)" "priority 2"
assert_eq "$(jget "$WORK/a1.json" deployment_types.1.priority)" 2
assert_eq "$(jget "$WORK/a1.json" deployment_types.1.contents.0.version)" 3
assert_eq "$(jget "$WORK/a1.json" deployment_types.0.contents.0.files.0.size)" 150000
C1=$(jget "$WORK/a1.json" deployment_types.0.contents.0.store_content)
C2=$(jget "$WORK/a1.json" deployment_types.1.contents.0.store_content)
assert_match "$C1" "$ID_RE" "content 1 bound to a store item"
assert_match "$C2" "$ID_RE" "content 2 bound to a store item"
tsm "$S" content cat "$C1" 7z-x64.msi | cmp - "$WORK/two/content/$(cid 1)/7z-x64.msi" ||
	fail "content $C1 does not give back 7z-x64.msi"
tsm "$S" app show "$A1" >"$WORK/a1.txt"
grep -q "1. Seven Zip x64 MSI  <MSI>" "$WORK/a1.txt" || fail "app show: $(cat "$WORK/a1.txt")"
grep -q "content $(cid 2) (version 3): 1 files, 120000 bytes; in the store as $C2" "$WORK/a1.txt" ||
	fail "app show does not say where content 2 is: $(cat "$WORK/a1.txt")"

check "a console export's object.xml (SDMPackageXML); its content added later with content add --id Content_..."
A2=$(import two obj.xml)
assert_eq "$A2" "$(app 2)"
tsm "$S" app show "$A2" --json >"$WORK/a2.json"
assert_eq "$(jget "$WORK/a2.json" title)" "Notepad & <Co>"
assert_eq "$(jget "$WORK/a2.json" deployment_types.0.contents.0.store_content)" None "no content before content add"
tsm "$S" app show "$A2" | grep -q "MISSING from the store" || fail "app show does not say the content is missing"
C3=$(add_content "$S" --kind application --name notepad --id "$(cid 3)" "$WORK/two/content/$(cid 3)")
tsm "$S" app show "$A2" --json >"$WORK/a2.json"
assert_eq "$(jget "$WORK/a2.json" deployment_types.0.contents.0.store_content)" "$C3"
# Again under the same Content_ ID: a new version of the same item.
C3b=$(add_content "$S" --kind application --name notepad --id "$(cid 3 | tr a-f A-F | sed 's/^CONTENT/Content/')" "$WORK/two/content/$(cid 3)")
assert_eq "$C3b" "$C3" "the same Content_ ID (any case) is the same item"
expect_fail_with "content $(cid 3) is an application's content: --kind application" -- \
	tsm "$S" content add --kind package --name x --id "$(cid 3)" "$WORK/two/content/$(cid 3)"
tsm "$S" app list >"$WORK/list.txt"
grep -q "$(app 1) .* 2  Seven Zip" "$WORK/list.txt" || fail "app list: $(cat "$WORK/list.txt")"

check "--content refuses a folder whose files do not match the list; nothing changes"
d=$(catalog_digest "$S")
printf 'x' >>"$WORK/two/content/$(cid 2)/7z-x86.exe"
expect_fail_with "content $(cid 2) lists 7z-x86.exe at 120000 bytes; .* is 120001 bytes" -- \
	tsm "$S" app import --content "$WORK/two/content" "$WORK/two/two.xml"
rm "$WORK/two/content/$(cid 1)/install.cmd"
expect_fail_with "content $(cid 1) lists install.cmd, which .* does not hold as a file" -- \
	tsm "$S" app import --content "$WORK/two/content" "$WORK/two/two.xml"
assert_eq "$(catalog_digest "$S")" "$d" "a refused import changed the catalog"

check "a dependency chain of three and a diamond"
# Chain: 10 -> 11 -> 12.  Diamond: 20 -> (21 | 22 in two groups) -> 23.
gen deps "[$(simple 12 Twelve), $(simple 11 Eleven 12:12), $(simple 10 Ten 11:11),
	$(simple 23 Base), $(simple 21 Left 23:23), $(simple 22 Right 23:23), $(simple 20 Top 21:21 22:22)]"
for n in 10 20; do
	# Before what it depends on: imported, the dependency shown missing.
	import deps "a$n.xml" >/dev/null
done
tsm "$S" app show "$(app 10)" >"$WORK/a10.txt"
grep -q "$(app 11) $(dt 11)  (DesiredState Required)  MISSING from the store" "$WORK/a10.txt" ||
	fail "app show does not name the missing dependency: $(cat "$WORK/a10.txt")"
for n in 12 11 23 21 22; do
	import deps "a$n.xml" --content "$WORK/deps/content" >/dev/null
done
for n in 10 20; do
	import deps "a$n.xml" --content "$WORK/deps/content" >/dev/null
done
tsm "$S" app show "$(app 20)" --json >"$WORK/a20.json"
assert_eq "$(jget "$WORK/a20.json" deployment_types.0.dependency_groups.0.deployment_types.0.deployment_type)" "$(dt 21)"
assert_eq "$(jget "$WORK/a20.json" deployment_types.0.dependency_groups.1.deployment_types.0.deployment_type)" "$(dt 22)"
assert_eq "$(jget "$WORK/a20.json" deployment_types.0.dependency_groups.0.deployment_types.0.desired_state)" Required
tsm "$S" app show "$(app 23)" --json >"$WORK/a23.json"
assert_eq "$(jget "$WORK/a23.json" needed_by)" "[\"$(app 21)\", \"$(app 22)\"]" "who depends on the diamond's base"
tsm "$S" app show "$(app 10)" >"$WORK/a10-after.txt" || fail "app show of application 10 failed"
if grep -q "MISSING" "$WORK/a10-after.txt"; then fail "app 10 still shows a missing dependency"; fi

check "a dependency cycle is refused, naming it; nothing changes"
gen cyc "[$(simple 30 Thirty 31:31), $(simple 31 ThirtyOne 32:32), $(simple 32 ThirtyTwo 30:30)]"
import cyc a30.xml >/dev/null
import cyc a31.xml >/dev/null
d=$(catalog_digest "$S")
expect_fail_with "a dependency cycle: $(re_escape "$(dt 32)") -> $(re_escape "$(dt 30)") -> $(re_escape "$(dt 31)") -> $(re_escape "$(dt 32)"): refused" -- \
	tsm "$S" app import "$WORK/cyc/a32.xml"
assert_eq "$(catalog_digest "$S")" "$d" "the refused cycle changed the catalog"
expect_fail_with "application $(re_escape "$(app 31)") is a dependency of $(re_escape "$(app 30)"): remove those first" -- \
	tsm "$S" app rm "$(app 31)"
assert_eq "$(catalog_digest "$S")" "$d"

check "supersedence is recorded and shown on both applications"
gen sup "[$(simple 40 Old), {\"file\": \"new.xml\", \"guid\": \"$(guid a 41)\", \"title\": \"New\", \"dts\": [{\"guid\": \"$(guid d 41)\", \"title\": \"New install\", \"contents\": [], \"supersedes\": [[\"$(guid a 40)\", \"$(guid d 40)\", \"Prohibited\"]]}]}]"
import sup a40.xml >/dev/null
import sup new.xml >/dev/null
tsm "$S" app show "$(app 41)" >"$WORK/a41.txt"
grep -q "supersedes $(app 40) $(dt 40)  (DesiredState Prohibited)" "$WORK/a41.txt" || fail "app show: $(cat "$WORK/a41.txt")"
tsm "$S" app show "$(app 40)" >"$WORK/a40.txt"
grep -A1 "^Superseded by:" "$WORK/a40.txt" | grep -q "$(app 41)" || fail "app show of the old one: $(cat "$WORK/a40.txt")"
tsm "$S" app show "$(app 41)" --json >"$WORK/a41.json"
assert_eq "$(jget "$WORK/a41.json" deployment_types.0.supersedes.0.deployment_type)" "$(dt 40)"

check "a task sequence naming applications (referenceList, an Install Application step of two) shows which the store holds"
cat >"$WORK/ts.xml" <<X
<sequence version="3.10"><referenceList><reference package="$(app 10)"/><reference package="$(app 1)"/></referenceList>
<group name="Apps">$(install_step 10 99)</group></sequence>
X
TS=$(tsm "$S" ts import --name "apps" "$WORK/ts.xml" 2>"$WORK/ts.err") || fail "ts import: $(cat "$WORK/ts.err")"
grep -q "warning: task sequence $TS: 1 of its 3 applications are not in the store" "$WORK/ts.err" ||
	fail "ts import does not say an application is missing: $(cat "$WORK/ts.err")"
tsm "$S" ts show "$TS" --json >"$WORK/ts.json"
assert_eq "$(jget "$WORK/ts.json" applications.0.id)" "$(app 10)"
assert_eq "$(jget "$WORK/ts.json" applications.0.in_store)" true
assert_eq "$(jget "$WORK/ts.json" applications.0.title)" Ten
assert_eq "$(jget "$WORK/ts.json" applications.1.id)" "$(app 99)"
assert_eq "$(jget "$WORK/ts.json" applications.1.in_store)" false
tsm "$S" ts show "$TS" >"$WORK/ts.txt"
grep -q "$(app 10)  in the store: 'Ten'" "$WORK/ts.txt" || fail "ts show: $(cat "$WORK/ts.txt")"
grep -q "$(app 99)  MISSING from the store" "$WORK/ts.txt" || fail "ts show: $(cat "$WORK/ts.txt")"

check "hostile digests are refused with clear messages; nothing changes"
d=$(catalog_digest "$S")
cat >"$WORK/laughs.xml" <<'X'
<?xml version="1.0"?>
<!DOCTYPE AppMgmtDigest [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;"><!ENTITY e "&d;&d;&d;&d;&d;&d;&d;&d;&d;&d;"><!ENTITY f "&e;&e;&e;&e;&e;&e;&e;&e;&e;&e;"><!ENTITY g "&f;&f;&f;&f;&f;&f;&f;&f;&f;&f;"><!ENTITY h "&g;&g;&g;&g;&g;&g;&g;&g;&g;&g;">]>
<AppMgmtDigest><Application AuthoringScopeId="ScopeId_0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9" LogicalName="Application_a0000050-0000-4000-8000-000000000050" Version="1"><Title>&h;</Title></Application></AppMgmtDigest>
X
expect_fail_with "laughs.xml: has a <!DOCTYPE> \(line 2\), which none of the formats tsmedia reads has: refused" -- \
	tsm "$S" app import "$WORK/laughs.xml"
printf 'secret' >"$WORK/secret.txt"
cat >"$WORK/xxe.xml" <<X
<?xml version="1.0"?>
<!DOCTYPE AppMgmtDigest [<!ENTITY x SYSTEM "file://$WORK/secret.txt">]>
<AppMgmtDigest><Application AuthoringScopeId="$SCOPE" LogicalName="Application_$(guid a 51)" Version="1"><Title>&x;</Title></Application></AppMgmtDigest>
X
expect_fail_with "xxe.xml: has a <!DOCTYPE> .*refused" -- tsm "$S" app import "$WORK/xxe.xml"
# The same inside an export: the inner document is refused the same way.
{ printf '<INSTANCE CLASSNAME="SMS_Application"><PROPERTY NAME="SDMPackageXML"><VALUE>'
  sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' "$WORK/xxe.xml"; printf '</VALUE></PROPERTY></INSTANCE>'; } >"$WORK/xxe-object.xml"
expect_fail_with "xxe-object.xml: SDMPackageXML: has a <!DOCTYPE>" -- tsm "$S" app import "$WORK/xxe-object.xml"
gen self "[$(simple 52 Selfish 52:52)]"
expect_fail_with "application $(re_escape "$(app 52)") depends on itself \(dependency group 'group 52', deployment type $(re_escape "$(dt 52)")\): refused" -- \
	tsm "$S" app import "$WORK/self/a52.xml"
python3 - "$WORK/many.xml" "$SCOPE" <<'PY'
import sys
out, scope = sys.argv[1:]
dts = "".join('<DeploymentType AuthoringScopeId="%s" LogicalName="DeploymentType_%08x-0000-4000-8000-000000000000" Version="1"/>' % (scope, i) for i in range(10000))
open(out, "w").write('<AppMgmtDigest><Application AuthoringScopeId="%s" LogicalName="Application_a0000053-0000-4000-8000-000000000053" Version="1"><Title>Many</Title><DeploymentTypes>%s</DeploymentTypes></Application></AppMgmtDigest>' % (scope, dts))
PY
expect_fail_with "many.xml: application .* has more than 64 deployment types: refused" -- tsm "$S" app import "$WORK/many.xml"
for name in '..\\..\\Windows\\evil.exe' '../../etc/passwd' 'sub/file.txt' 'C:evil.exe' '..'; do
	gen bad "[{\"file\": \"bad.xml\", \"guid\": \"$(guid a 54)\", \"title\": \"Bad\", \"dts\": [{\"guid\": \"$(guid d 54)\", \"title\": \"Bad\", \"contents\": [{\"guid\": \"$(guid c 54)\", \"files\": [[\"$name\", 10]]}]}]}]"
	expect_fail_with "bad.xml: content $(cid 54) lists a file named '$(re_escape "$(printf '%s' "$name" | sed 's/\\\\/\\/g')")', which is not a plain file name \(a path separator, a drive, '.' or '..'\): refused" -- \
		tsm "$S" app import "$WORK/bad/bad.xml"
done
printf '<AppMgmtDigest><Application AuthoringScopeId="%s" LogicalName="../../x" Version="1"/></AppMgmtDigest>' "$SCOPE" >"$WORK/badid.xml"
expect_fail_with "badid.xml: <Application> \(line 1\) names '$(re_escape "$SCOPE")/../../x', not ScopeId_<GUID>/Application_<GUID>" -- \
	tsm "$S" app import "$WORK/badid.xml"
printf '<sequence/>' >"$WORK/notapp.xml"
expect_fail_with "notapp.xml: not an application: the root element is <sequence>" -- tsm "$S" app import "$WORK/notapp.xml"
assert_eq "$(catalog_digest "$S")" "$d" "a refused digest changed the catalog"

check "a deployment type another application holds is refused before --content adds anything"
# Application 55 lists application 10's deployment type, with a content of its own.
gen thief "[{\"file\": \"thief.xml\", \"guid\": \"$(guid a 55)\", \"title\": \"Thief\", \"dts\": [{\"guid\": \"$(guid d 10)\", \"title\": \"Ten again\", \"contents\": [{\"guid\": \"$(guid c 55)\", \"files\": [[\"thief.bin\", 4000]]}]}]}]"
refused_unchanged "$S" "app import --content of a deployment type application 10 holds" \
	"deployment type $(re_escape "$(dt 10)") belongs to application $(re_escape "$(app 10)") already" -- \
	tsm "$S" app import --content "$WORK/thief/content" "$WORK/thief/thief.xml"

check "app rm removes an application; its contents stay until content rm"
tsm "$S" app rm "$(app 2)" >/dev/null || fail "app rm"
expect_fail_with "no application $(re_escape "$(app 2)")" -- tsm "$S" app show "$(app 2)"
tsm "$S" content show "$C3" >/dev/null || fail "the removed application's content went too"
tsm "$S" app rm "$(app 1)" --json >"$WORK/rm.json"
assert_eq "$(jget "$WORK/rm.json" removed)" true

check "a bound content removed and collected: the application shows it missing; content add binds it again"
tsm "$S" content rm "$C1" >/dev/null || fail "content rm $C1"
tsm "$S" gc >/dev/null 2>"$WORK/gc.err" || fail "gc with a bound content removed: $(cat "$WORK/gc.err")"
import two two.xml >/dev/null
tsm "$S" app show "$(app 1)" --json >"$WORK/a1.json"
assert_eq "$(jget "$WORK/a1.json" deployment_types.0.contents.0.store_content)" None "content 1 after gc"
assert_eq "$(jget "$WORK/a1.json" deployment_types.1.contents.0.store_content)" "$C2" "content 2 stays bound"
C1b=$(add_content "$S" --kind application --name again --id "$(cid 1)" "$WORK/two/content/$(cid 2)")
tsm "$S" app show "$(app 1)" --json >"$WORK/a1.json"
assert_eq "$(jget "$WORK/a1.json" deployment_types.0.contents.0.store_content)" "$C1b" "content 1 bound again"
verify_ok "$S"

pass
