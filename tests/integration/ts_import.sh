#!/usr/bin/env bash
# Task sequences: every real export in ../shared/fixtures/task-sequences
# imports through the CLI; `ts show --json` lists its steps and packages and
# says which packages the store holds; a re-import under the same ID makes
# version 2; bad input fails with a message naming the file and leaves the
# catalog exactly as it was.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FIX=${TSMEDIA_SHARED_DIR:-$TESTS_DIR/../../../shared}/fixtures/task-sequences
[[ -d $FIX ]] || skip "task sequence fixtures not found at $FIX (set TSMEDIA_SHARED_DIR to the directory holding fixtures/)"
F1=$FIX/console-object_win10-ipu_drfiles_PS10000E.xml
F2=$FIX/console-object_hpia-drivers_utf8-emdash_garytown_MEM00169.xml
F3=$FIX/console-object_kb5025885-remediation_no-reflist_garytown_2CM00010.xml
F4=$FIX/sequence_win10-build-capture_cmhub.xml
F5=$FIX/sequence_ipu-citrix-vda_no-reflist_utf8-acute_cmhub.xml
F6=$FIX/mdt-template_autopilot-existing-devices_drfiles.xml
for f in "$F1" "$F2" "$F3" "$F4" "$F5" "$F6"; do
	[[ -f $f ]] || skip "fixture missing: $f"
done

STORE=$WORK/store
init_store "$STORE"

# ts_import ARGS...: `ts import ARGS`, must succeed and print one ID.
ts_import() {
	local out rc=0
	out=$(tsm "$STORE" ts import "$@" 2>"$WORK/.imp.err") || rc=$?
	((rc == 0)) || { cat "$WORK/.imp.err" >&2; fail "ts import $* exited $rc"; }
	[[ $out =~ $ID_RE ]] || fail "ts import $* did not print one ID; stdout: '$out'"
	printf '%s\n' "$out"
}

# jq-like checks on a JSON file: jcheck FILE PYTHON-EXPRESSION MESSAGE
# (the expression sees the document as d; it must be true).
jcheck() {
	python3 - "$1" "$2" <<'EOF' || fail "$3"
import json, sys
d = json.load(open(sys.argv[1], encoding='utf-8'))
ok = eval(sys.argv[2])
if not ok:
    print(f"check failed: {sys.argv[2]}", file=sys.stderr)
    sys.exit(1)
EOF
}

show_json_ts() { tsm "$STORE" ts show "$1" --json >"$2" || fail "ts show $1 --json failed"; }

# ------------------------------------------------------------------ import
check "console exports import under their PackageID and Name"
ID1=$(ts_import "$F1")
assert_eq "$ID1" PS10000E "file 1 ID"
ID2=$(ts_import "$F2")
assert_eq "$ID2" MEM00169 "file 2 ID"
ID3=$(ts_import "$F3")
assert_eq "$ID3" 2CM00010 "file 3 ID (site code starting with a digit)"

check "bare sequences and the MDT template import (new IDs)"
ID4=$(ts_import --name "Build and Capture" "$F4")
ID5=$(ts_import --name "IPU Citrix VDA" "$F5")
ID6=$(ts_import "$F6")
for id in "$ID4" "$ID5" "$ID6"; do
	[[ $id =~ ^TSM ]] || fail "an allocated ID should carry the store's site code: $id"
done
assert_ne "$ID4" "$ID5" "allocated IDs differ"

# ------------------------------------------------------------------ show
# expect_show ID NSTEPS NGROUPS DISABLED 'PKG PKG...' NAME
expect_show() {
	local id=$1 nsteps=$2 ngroups=$3 ndis=$4 pkgs=$5 name=$6
	show_json_ts "$id" "$WORK/$id.json"
	jcheck "$WORK/$id.json" "d['id'] == '$id' and d['version'] == 1" "$id: id/version"
	jcheck "$WORK/$id.json" "len(d['steps']) == $nsteps" "$id: expected $nsteps steps"
	jcheck "$WORK/$id.json" "len(d['groups']) == $ngroups" "$id: expected $ngroups groups"
	jcheck "$WORK/$id.json" "sum(s['disabled'] for s in d['steps']) == $ndis" "$id: expected $ndis disabled steps"
	jcheck "$WORK/$id.json" "[p['id'] for p in d['packages']] == '$pkgs'.split()" \
		"$id: packages should be [$pkgs]"
	jcheck "$WORK/$id.json" "d['name'] == '''$name'''" "$id: name should be '$name'"
}
check "ts show --json lists steps, groups and packages of each fixture"
expect_show "$ID1" 9 5 0 "PS10005C PS100241 PS10024D" "Windows 10 Enterprise x64 v1607 Upgrade"
expect_show "$ID2" 18 4 1 "MEM000FB MEM00141 MEM0016A" "Run HP Image Assistant - Updating Drivers..."
expect_show "$ID3" 41 11 3 "" "KB5025885: Windows Boot Manager Remediation"
expect_show "$ID4" 13 2 0 "SCB00026 SCB00021 SCB00003" "Build and Capture"
expect_show "$ID5" 24 13 0 "" "IPU Citrix VDA"
expect_show "$ID6" 24 7 0 "" "Windows AutoPilot for Existing Devices"

check "per-step packages and the steps that use each package"
jcheck "$WORK/$ID4.json" "[s for s in d['steps'] if s['name'] == 'Apply Operating System'][0]['packages'] == ['SCB00026', 'SCB00021']" \
	"Apply Operating System should use SCB00026 and SCB00021"
jcheck "$WORK/$ID4.json" "d['packages'][2]['used_by'] == ['Build the Reference Machine/Setup Windows and Configuration Manager']" \
	"SCB00003 is used by the Setup Windows and ConfigMgr step"
jcheck "$WORK/$ID1.json" "d['packages'][0]['used_by'] == ['Prepare for Upgrade/Upgrade Assessment', 'Upgrade the Operating System/Upgrade Operating System']" \
	"PS10005C is used by both upgrade steps"
jcheck "$WORK/$ID6.json" "sum(s['type'] is None for s in d['steps']) == 9" "MDT: 9 untyped steps"
jcheck "$WORK/$ID5.json" "any('3\u00b4s' in g['description'] for g in d['groups'])" \
	"U+00B4 should survive in a group description"

check "the sequence document is stored as exported (bytes, CR LF, UTF-8)"
got=$(sqlite3 "$STORE/catalog.db" "SELECT hex(sequence_xml) FROM task_sequences WHERE id = '$ID4'")
want=$(od -An -v -tx1 "$F4" | tr -d ' \n' | tr a-f A-F)
assert_eq "$got" "$want" "file 4's sequence bytes"
got=$(sqlite3 "$STORE/catalog.db" "SELECT hex(sequence_xml) FROM task_sequences WHERE id = '$ID6'")
want=$(od -An -v -tx1 "$F6" | tr -d ' \n' | tr a-f A-F)
assert_eq "$got" "$want" "the MDT template's bytes"
assert_eq "$(sqlite3 "$STORE/catalog.db" "SELECT instr(sequence_xml, X'E28094') > 0 FROM task_sequences WHERE id = 'MEM00169'")" 1 \
	"the em dash (E2 80 94) should be in file 2's stored sequence"
assert_eq "$(sqlite3 "$STORE/catalog.db" "SELECT hex(substr(sequence_xml, -13)) FROM task_sequences WHERE id = 'PS10000E'")" \
	"$(printf '</sequence>\r\n' | od -An -v -tx1 | tr -d ' \n' | tr a-f A-F)" \
	"the Sequence property keeps its CR LF"

check "the store's content: what is there and what is missing"
mkdir -p "$WORK/pkg"
printf 'setup\n' >"$WORK/pkg/setup.cmd"
add_content "$STORE" --kind os-image --name "Windows 10 1607 upgrade" --id PS10005C "$WORK/pkg" >/dev/null
show_json_ts "$ID1" "$WORK/$ID1.json"
jcheck "$WORK/$ID1.json" "[p['in_store'] for p in d['packages']] == [True, False, False]" \
	"only PS10005C should be in the store"
jcheck "$WORK/$ID1.json" "d['missing'] == ['PS100241', 'PS10024D']" "missing packages"
jcheck "$WORK/$ID1.json" "d['packages'][0]['content_name'] == 'Windows 10 1607 upgrade'" "content name"
tsm "$STORE" ts show "$ID1" >"$WORK/show1.txt" || fail "ts show $ID1 failed"
grep -q "PS100241  MISSING from the store" "$WORK/show1.txt" || fail "text show should mark PS100241 missing"
grep -q "PS10005C  in the store" "$WORK/show1.txt" || fail "text show should find PS10005C"
grep -Eq '^      Dell Latitude E7270  <SMS_TaskSequence_DownloadPackageContentAction>' "$WORK/show1.txt" ||
	fail "text show should indent steps by group"
tsm "$STORE" ts show "$ID2" >"$WORK/show2.txt"
grep -Eq '^  High Impact Additional Notifications .*\(disabled\)' "$WORK/show2.txt" ||
	fail "text show should mark the disabled step"

check "steps stand-alone media cannot run"
jcheck "$WORK/$ID2.json" "len(d['standalone_blockers']) == 3 and all('DownloadPackageContentAction' in b for b in d['standalone_blockers'])" \
	"file 2: three Download Package Content steps"
jcheck "$WORK/$ID4.json" "d['standalone_blockers'] == ['Build the Reference Machine/Apply Device Drivers (SMS_TaskSequence_AutoApplyAction)']" \
	"file 4: the Auto Apply Drivers step"

# ------------------------------------------------------------------ versions
check "a re-import under the same ID makes version 2"
assert_eq "$(ts_import --id "$ID4" --name "Build and Capture v2" --boot-image ps100004 "$F4")" "$ID4" "re-import ID"
show_json_ts "$ID4" "$WORK/$ID4.v2.json"
jcheck "$WORK/$ID4.v2.json" "d['version'] == 2 and d['name'] == 'Build and Capture v2' and d['boot_image'] == 'PS100004'" \
	"version 2 with its name and boot image"
jcheck "$WORK/$ID4.v2.json" "d['boot_image_in_store'] is False" "the boot image is not in the store"
assert_eq "$(ts_import "$F1")" PS10000E "re-import of an export"
show_json_ts PS10000E "$WORK/PS10000E.v2.json"
jcheck "$WORK/PS10000E.v2.json" "d['version'] == 2 and len(d['steps']) == 9" "PS10000E version 2"
assert_eq "$(sqlite3 "$STORE/catalog.db" "SELECT count(*) FROM task_sequences WHERE id = 'PS10000E'")" 2 \
	"both versions are kept"

check "ts list"
tsm "$STORE" ts list --json >"$WORK/list.json" || fail "ts list --json failed"
jcheck "$WORK/list.json" "sorted(t['id'] for t in d) == sorted('$ID1 $ID2 $ID3 $ID4 $ID5 $ID6'.split())" "listed IDs"
tsm "$STORE" ts list | grep -q "^MEM00169 " || fail "text list should show MEM00169"

check "ts rm"
tsm "$STORE" ts rm "$ID5" >/dev/null || fail "ts rm $ID5 failed"
expect_fail_with "no task sequence $ID5" -- tsm "$STORE" ts show "$ID5"
tsm "$STORE" ts list --json >"$WORK/list.json"
jcheck "$WORK/list.json" "'$ID5' not in [t['id'] for t in d]" "removed TS is not listed"
assert_eq "$(ts_import --id "$ID5" --name again "$F5")" "$ID5" "re-import after rm"
show_json_ts "$ID5" "$WORK/$ID5.json"
jcheck "$WORK/$ID5.json" "d['version'] == 2" "re-import after rm is version 2"

check "--help everywhere"
for sub in "" import list show rm; do
	# shellcheck disable=SC2086
	tsm "$STORE" ts $sub --help >"$WORK/help.txt" || fail "ts $sub --help failed"
	grep -q "Usage: tsmedia" "$WORK/help.txt" || fail "ts $sub --help prints no usage"
done

# ------------------------------------------------------------------ bad input
# bad_case DESCRIPTION REGEX -- CMD...: fails, stderr matches, catalog unchanged.
bad_case() {
	local desc=$1 re=$2 d0
	shift 2
	check "$desc"
	d0=$(catalog_digest "$STORE")
	expect_fail_with "$re" "$@"
	assert_eq "$(catalog_digest "$STORE")" "$d0" "catalog changed by a failed command ($desc)"
}

head -c 3000 /dev/urandom >"$WORK/random_7c1e.xml"
bad_case "a file of random bytes" "random_7c1e\.xml: nothing was imported: not well-formed XML" -- \
	tsm "$STORE" ts import --name x "$WORK/random_7c1e.xml"
printf 'Task sequence:\n  step 1: apply\n' >"$WORK/text_2b9d.xml"
bad_case "a text file" "text_2b9d\.xml: nothing was imported: not well-formed XML" -- \
	tsm "$STORE" ts import --name x "$WORK/text_2b9d.xml"
printf '<?xml version="1.0"?>\n<unattend xmlns="urn:schemas-microsoft-com:unattend"/>\n' >"$WORK/unattend_4a0f.xml"
bad_case "XML that is not a task sequence" "unattend_4a0f\.xml: nothing was imported: not a task sequence: the root element is <unattend>" -- \
	tsm "$STORE" ts import --name x "$WORK/unattend_4a0f.xml"
head -c 20000 "$F1" >"$WORK/truncated_91d3.xml"
bad_case "a truncated console export" "truncated_91d3\.xml: nothing was imported: not well-formed XML" -- \
	tsm "$STORE" ts import "$WORK/truncated_91d3.xml"
head -c 6000 "$F4" >"$WORK/truncated_5e2a.xml"
bad_case "a truncated sequence" "truncated_5e2a\.xml: nothing was imported: not well-formed XML" -- \
	tsm "$STORE" ts import --name x "$WORK/truncated_5e2a.xml"
python3 - "$F1" "$WORK/badseq_0d4c.xml" <<'EOF'
import sys
raw = open(sys.argv[1], 'rb').read()
cut = raw.replace(b'</sequence>\r\n]]>', b'</group>\r\n]]>', 1)
assert cut != raw
open(sys.argv[2], 'wb').write(cut)
EOF
bad_case "a Sequence property that does not parse" "badseq_0d4c\.xml: nothing was imported: Sequence property: not well-formed XML" -- \
	tsm "$STORE" ts import "$WORK/badseq_0d4c.xml"
sed 's/<VALUE>PS10000E<\/VALUE>/<VALUE>PS1-0000E<\/VALUE>/' "$F1" >"$WORK/badid_6f2e.xml"
bad_case "an export with an invalid PackageID" "badid_6f2e\.xml: nothing was imported: PackageID 'PS1-0000E' is not a package ID" -- \
	tsm "$STORE" ts import "$WORK/badid_6f2e.xml"
printf '<?xml version="1.0"?>\n<!DOCTYPE sequence [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<sequence><step name="&x;"/></sequence>\n' >"$WORK/xxe_3c3c.xml"
bad_case "an external entity" "xxe_3c3c\.xml" -- tsm "$STORE" ts import --name x "$WORK/xxe_3c3c.xml"
bad_case "a missing file" "does-not-exist-8e1f\.xml: nothing was imported: No such file" -- \
	tsm "$STORE" ts import --name x "$WORK/does-not-exist-8e1f.xml"
bad_case "a directory" "$(re_escape "$WORK"): nothing was imported: not a regular file" -- tsm "$STORE" ts import --name x "$WORK"
bad_case "an invalid --id" "invalid task sequence ID 'PS1-BAD'" -- \
	tsm "$STORE" ts import --id PS1-BAD --name x "$F4"
bad_case "an invalid --boot-image" "invalid boot image ID 'boot'" -- \
	tsm "$STORE" ts import --boot-image boot --name x "$F4"
bad_case "an ID that content has" "ID PS10005C is taken by content" -- \
	tsm "$STORE" ts import --id PS10005C --name x "$F4"
bad_case "a bare sequence without --name" "names no task sequence: give it a name" -- \
	tsm "$STORE" ts import "$F4"
bad_case "show of an unknown ID" "no task sequence ABC00001" -- tsm "$STORE" ts show ABC00001
bad_case "rm of an unknown ID" "no task sequence ABC00001" -- tsm "$STORE" ts rm ABC00001
bad_case "no FILE" "no FILE.xml given" -- tsm "$STORE" ts import --name x

pass
