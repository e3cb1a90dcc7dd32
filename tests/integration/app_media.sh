#!/usr/bin/env bash
# Stand-alone media of a task sequence that installs applications (issue 17): without
# --include-dependencies the media carry the named applications' contents; with it,
# also the contents of the deployment types they depend on (a chain of three, a
# diamond), each once, and an application only --application names.  Each ISO is read
# from the mount by 7z and every file compared with its source; the manifest names each
# file once; the policy, opened by ../shared/judges/cmmedia.py, describes the
# applications and deployment types on the media.  Prestaged media (the WIM listed by
# wimlib-imagex) carry them too, and a set spanning two CDs carries each file once.  A
# dependency the store lacks, or a content it lacks, refuses the media, naming it, and
# changes nothing.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_apps.sh"

JUDGE=$(dirname "$0")/../../../shared/judges/cmmedia.py
[[ -f $JUDGE ]] || skip "judge missing: $JUDGE (../shared/judges beside the project)"
PY=/usr/bin/python3
$PY -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is not installed"
command -v 7z >/dev/null || skip "7z is not installed (Debian: p7zip-full)"
command -v xorriso >/dev/null || skip "xorriso is not installed"
[[ -f /usr/lib/ISOLINUX/isolinux.bin ]] || skip "isolinux is not installed"
TSMEDIAFS=${TSMEDIAFS:-$(dirname "$TSMEDIA")/../fs/tsmediafs}
[[ -e /dev/fuse && -x $TSMEDIAFS ]] && command -v fusermount3 >/dev/null ||
	skip "the mount is needed (/dev/fuse, fusermount3, tsmediafs)"
root=$(cd "$(dirname "$0")/../.." && pwd)

S=$WORK/store
init_store "$S" --site-code PS1
"$root/tools/make-boot-demo.sh" "$WORK/boot" >/dev/null
BOOT=$(add_content "$S" --kind boot-image --name "boot demo" "$WORK/boot")
BOOTOPTS=(--bios-boot isolinux/isolinux.bin --boot-load-size 4 --boot-info-table --uefi-boot efi/boot.img)
printf 'pineapple dishwasher orbit galaxy\n' >"$WORK/pw"

# Chain 10 -> 11 -> 12; diamond 20 -> (21 | 22) -> 23; 30 named by --application only;
# 40 depends on 49, which is never imported; 50's content is never added.
gen apps "[$(simple 12 Twelve), $(simple 11 Eleven 12:12), $(simple 10 Ten 11:11),
	$(simple 23 Base), $(simple 21 Left 23:23), $(simple 22 Right 23:23), $(simple 20 Top 21:21 22:22),
	$(simple 30 Extra), $(simple 40 Needy 49:49), $(simple 50 Empty)]"
for n in 12 11 10 23 21 22 20 30 40; do
	tsm "$S" app import --content "$WORK/apps/content" "$WORK/apps/a$n.xml" >/dev/null 2>"$WORK/imp.err" ||
		fail "app import a$n.xml: $(cat "$WORK/imp.err")"
done
tsm "$S" app import "$WORK/apps/a50.xml" >/dev/null 2>"$WORK/imp.err" || fail "app import a50.xml: $(cat "$WORK/imp.err")"

# ts FILE APP...: a sequence whose Install Application step installs the applications.
ts() {
	local file=$1
	shift
	printf '<sequence version="3.10"><group name="Apps">%s</group></sequence>' "$(install_step "$@")" >"$WORK/$file"
	tsm "$S" ts import --name "$file" --boot-image "$BOOT" "$WORK/$file" 2>/dev/null || fail "ts import $file"
}
TS=$(ts apps.xml 10 20)

check "stand-alone media, without and with --include-dependencies (and --application)"
tsm "$S" media create --type standalone --name nodeps --task-sequence "$TS" "${BOOTOPTS[@]}" \
	--password-file "$WORK/pw" >/dev/null 2>"$WORK/c1.err" || fail "media create nodeps: $(cat "$WORK/c1.err")"
tsm "$S" media create --type standalone --name deps --task-sequence "$TS" "${BOOTOPTS[@]}" \
	--password-file "$WORK/pw" --include-dependencies --application "$(app 30)" >/dev/null 2>"$WORK/c2.err" ||
	fail "media create deps: $(cat "$WORK/c2.err")"

mnt=$WORK/mnt
mkdir -p "$mnt"
"$TSMEDIAFS" --store "$S" "$mnt" -f 2>>"$WORK/daemon.log" &
daemon=$!
at_exit 'fusermount3 -u "$mnt" 2>/dev/null; kill $daemon 2>/dev/null'
for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
mountpoint -q "$mnt" || fail "tsmediafs did not mount: $(cat "$WORK/daemon.log")"

# carries NAME N...: 7z takes the mounted NAME.iso apart; SMS/PKG holds exactly the
# contents of applications N..., each file as its source.
carries() {
	local name=$1 x=$WORK/x-$1 n want="" got
	shift
	[[ -f $mnt/$name.iso ]] || fail "$name.iso is not on the mount: $(ls "$mnt")"
	7z x -y -o"$x" "$mnt/$name.iso" >"$WORK/7z-$name.log" 2>&1 || fail "7z cannot extract $name.iso: $(tail -5 "$WORK/7z-$name.log")"
	for n in "$@"; do want+="$(cid "$n")"$'\n'; done
	got=$(find "$x/SMS/PKG" -mindepth 1 -maxdepth 1 -printf '%f\n' 2>/dev/null | sort)
	assert_eq "$got" "$(printf '%s' "$want" | sort)" "$name.iso: the contents under SMS/PKG"
	for n in "$@"; do
		(cd "$WORK/apps/content/$(cid "$n")" && sha256sum -- *) >"$WORK/src.sum"
		(cd "$x/SMS/PKG/$(cid "$n")" && sha256sum -- *) >"$WORK/iso.sum"
		diff -u "$WORK/src.sum" "$WORK/iso.sum" >"$WORK/sum.diff" ||
			fail "$name.iso: $(cid "$n") differs from its source: $(cat "$WORK/sum.diff")"
	done
	note "$name.iso: $# contents, every file as its source"
}
carries nodeps 10 20
carries deps 10 11 12 20 21 22 23 30

check "prestaged media carry the applications' contents too (wimlib-imagex lists the WIM)"
if command -v wimlib-imagex >/dev/null; then
	mkdir -p "$WORK/os"
	randfile "$WORK/os/install.wim" 100000
	OS=$(add_content "$S" --kind os-image --name "os image" "$WORK/os")
	tsm "$S" site add --code PS1 --type primary --mp http://mp1.contoso.com --http-port 80 --https-port 443 \
		--iis-ssl-state 0 --signing-certificate 308201A2300D06092A864886F70D01010B0500 >/dev/null ||
		fail "site add PS1"
	tsm "$S" media create --type prestaged --name pre --boot-image "$BOOT" --os-image "$OS" --task-sequence "$TS" \
		--site PS1 --self-signed-certificate --certificate-valid-from 2025-01-01 \
		--certificate-valid-until 2035-01-01 --management-point http://mp1.contoso.com \
		--password-file "$WORK/pw" --include-dependencies >/dev/null 2>"$WORK/c3.err" ||
		fail "media create pre: $(cat "$WORK/c3.err")"
	for _ in $(seq 100); do [[ -f $mnt/pre.wim ]] && break; sleep 0.1; done
	wimlib-imagex dir "$mnt/pre.wim" 1 >"$WORK/pre.list" 2>&1 || fail "wimlib-imagex dir pre.wim: $(head -5 "$WORK/pre.list")"
	got=$(sed -n 's|^/SMS/PKG/\(Content_[^/]*\)$|\1|p' "$WORK/pre.list" | sort | tr '\n' ' ')
	want=$(for n in 10 11 12 20 21 22 23; do cid "$n"; echo; done | sort | tr '\n' ' ')
	assert_eq "$got" "$want" "pre.wim: the contents under SMS/PKG"
else
	skip_part "wimlib-imagex is not installed (Debian: wimtools): prestaged media not judged"
fi

check "each content once: the manifest names each file of the diamond's base once"
tr -d '\r' <"$WORK/x-deps/SMS/data/Manifest.txt" >"$WORK/manifest"
assert_eq "$(grep -c " SMS/PKG/$(cid 23)/app23.bin$" "$WORK/manifest")" 1 "manifest lines of the shared dependency"
assert_eq "$(grep -c " SMS/PKG/Content_" "$WORK/manifest")" 16 "manifest lines of application files (8 contents, 2 files each)"

check "the policy, read by the judge, describes the applications and deployment types"
$PY "$JUDGE" policy "$WORK/x-deps/SMS/data/Policy.xml" --password-file "$WORK/pw" >"$WORK/policy.json" 2>"$WORK/judge.err" ||
	fail "judge policy: $(cat "$WORK/judge.err")"
$PY - "$WORK/policy.json" "$SCOPE" <<'PY' || fail "the policy does not describe the applications"
import json, sys
insts = json.load(open(sys.argv[1]))
scope = sys.argv[2]
g = lambda k, n: "%s%07x-0000-4000-8000-%012x" % (k, n, n)
apps = sorted(i["properties"]["ModelName"] for i in insts if i["class"] == "SMS_Application")
want = sorted("%s/Application_%s" % (scope, g("a", n)) for n in (10, 11, 12, 20, 21, 22, 23, 30))
assert apps == want, ("applications", apps, want)
dts = {i["properties"]["ModelName"]: i["properties"] for i in insts if i["class"] == "SMS_DeploymentType"}
assert len(dts) == 8, dts.keys()
top = dts["%s/DeploymentType_%s" % (scope, g("d", 20))]
assert top["AppModelName"] == "%s/Application_%s" % (scope, g("a", 20)), top
assert top["ContentId"] == "Content_" + g("c", 20), top
assert top["ContentPath"] == "SMS\\PKG\\Content_" + g("c", 20), top
assert top["NumberOfDependedDTs"] == "2" and top["PriorityInLatestApp"] == "1", top
assert [i["class"] for i in insts][0] == "CCM_TaskSequence"
PY

check "a dependency the store lacks refuses the media, naming it; nothing changes"
TS2=$(ts needy.xml 40)
d=$(catalog_digest "$S")
expect_fail_with "media 'needy' \(standalone\): deployment type .*DeploymentType_$(guid d 40) \('Needy install'\) depends on application $(re_escape "$(app 49)") \(deployment type .*DeploymentType_$(guid d 49)\), which is not in the store" -- \
	tsm "$S" media create --type standalone --name needy --task-sequence "$TS2" "${BOOTOPTS[@]}" \
	--password-file "$WORK/pw" --include-dependencies
assert_eq "$(catalog_digest "$S")" "$d" "a refused media changed the catalog"

check "a content the store lacks refuses the media, naming the application, the deployment type and the content"
TS3=$(ts empty.xml 50)
d=$(catalog_digest "$S")
expect_fail_with "application $(re_escape "$(app 50)") \('Empty'\), deployment type .*DeploymentType_$(guid d 50) \('Empty install'\): content $(cid 50) is not in the store \(tsmedia content add --kind application --id $(cid 50)\)" -- \
	tsm "$S" media create --type standalone --name empty --task-sequence "$TS3" "${BOOTOPTS[@]}" --password-file "$WORK/pw"
expect_fail_with "application $(re_escape "$(app 77)") \(--application\) is not in the store" -- \
	tsm "$S" media create --type standalone --name other --task-sequence "$TS" "${BOOTOPTS[@]}" \
	--password-file "$WORK/pw" --application "$(app 77)"
assert_eq "$(catalog_digest "$S")" "$d" "a refused media changed the catalog"

check "applications that ship the same installer store it once"
before=$(stat_get "$S" unique_bytes)
mkdir -p "$WORK/dup"
cp -r "$WORK/apps/content/$(cid 30)" "$WORK/dup/$(cid 60)"
printf '{"scope": "%s", "apps": [{"file": "a60.xml", "guid": "%s", "title": "Copy", "dts": [{"guid": "%s", "title": "Copy", "contents": [{"guid": "%s", "write": false, "files": [["app30.bin", %d], ["install.cmd", 20]]}]}]}]}' \
	"$SCOPE" "$(guid a 60)" "$(guid d 60)" "$(guid c 60)" $((70000 + 977 * 30)) >"$WORK/dup.json"
python3 "$TESTS_DIR/appgen.py" "$WORK/dup.json" "$WORK/dup" || fail "appgen dup"
tsm "$S" app import --content "$WORK/dup" "$WORK/dup/a60.xml" >/dev/null 2>"$WORK/imp.err" || fail "app import a60: $(cat "$WORK/imp.err")"
assert_eq "$(stat_get "$S" unique_bytes)" "$before" "unique bytes after an application with the same files"

check "a spanned set (650 MB CDs) carries each application's content once across its volumes"
MiB=$((1024 * 1024))
# big N MB DEP: application N, one content of a sparse N.bin of MB MiB, depending on DEP.
big() {
	printf '{"file": "a%d.xml", "guid": "%s", "title": "Big %d", "dts": [{"guid": "%s", "title": "Big %d", "contents": [{"guid": "%s", "write": false, "files": [["big%d.bin", %d]]}], "groups": [{"name": "g", "deps": [["%s", "%s", "Required"]]}]}]}' \
		"$1" "$(guid a "$1")" "$1" "$(guid d "$1")" "$1" "$(guid c "$1")" "$1" $(($2 * MiB)) "$(guid a "$3")" "$(guid d "$3")"
}
gen span "[$(simple 63 Shared), $(big 61 340 63), $(big 62 340 63)]"
for n in 61 62; do
	mkdir -p "$WORK/span/content/$(cid "$n")"
	truncate -s $((340 * MiB)) "$WORK/span/content/$(cid "$n")/big$n.bin"
	randfile "$WORK/.head" 65536
	dd if="$WORK/.head" of="$WORK/span/content/$(cid "$n")/big$n.bin" conv=notrunc status=none
done
for n in 63 61 62; do
	tsm "$S" app import --content "$WORK/span/content" "$WORK/span/a$n.xml" >/dev/null 2>"$WORK/imp.err" ||
		fail "app import a$n.xml: $(cat "$WORK/imp.err")"
done
TS4=$(ts span.xml 61 62)
tsm "$S" media create --type standalone --name span --task-sequence "$TS4" "${BOOTOPTS[@]}" --size 650mb \
	--password-file "$WORK/pw" --include-dependencies >/dev/null 2>"$WORK/c4.err" || fail "media create span: $(cat "$WORK/c4.err")"
for _ in $(seq 100); do [[ -f $mnt/span.2.iso ]] && break; sleep 0.1; done
[[ -f $mnt/span.1.iso && -f $mnt/span.2.iso && ! -e $mnt/span.3.iso ]] || fail "span is not a set of two volumes: $(ls "$mnt")"
: >"$WORK/span.files"
for v in 1 2; do
	7z l -slt "$mnt/span.$v.iso" >"$WORK/span.$v.list" 2>&1 || fail "7z cannot list span.$v.iso"
	sed -n 's/^Path = \(SMS\/PKG\/Content_.*\/.*\)/\1/p' "$WORK/span.$v.list" >>"$WORK/span.files"
done
assert_eq "$(sort "$WORK/span.files" | uniq -d)" "" "files on more than one volume"
assert_eq "$(sort "$WORK/span.files" | tr '\n' ' ')" \
	"SMS/PKG/$(cid 61)/big61.bin SMS/PKG/$(cid 62)/big62.bin SMS/PKG/$(cid 63)/app63.bin SMS/PKG/$(cid 63)/install.cmd " \
	"application files across the set"
note "span: $(wc -l <"$WORK/span.files") application files, each on one of 2 volumes"

pass
