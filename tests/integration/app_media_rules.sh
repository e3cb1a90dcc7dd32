#!/usr/bin/env bash
# Applications (issue 17) meet the media rules (issue 16), through the CLI, without
# building an ISO: --application takes an application ID and a content ID of kind
# application, and refuses a package; `media show` (text and JSON) lists the
# applications a media was given; `media edit` of stand-alone media with applications
# keeps them; media types that carry no applications refuse --application and
# --include-dependencies; an application a media names cannot be removed.  Every refusal
# names the problem and leaves the catalog as it was (lib.sh refused_unchanged).
set -euo pipefail
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_apps.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3

S=$WORK/store
init_store "$S" --site-code PS1
"$root/tools/make-boot-demo.sh" "$WORK/boot" >"$WORK/boot.log" 2>&1 ||
	skip "tools/make-boot-demo.sh cannot make the demo boot image here: $(tail -3 "$WORK/boot.log")"
BOOT=$(add_content "$S" --kind boot-image --name "boot demo" "$WORK/boot")
BOOTOPTS=(--bios-boot isolinux/isolinux.bin --boot-load-size 4 --boot-info-table --uefi-boot efi/boot.img)
printf 'pineapple dishwasher orbit galaxy\n' >"$WORK/pw"

# 10 depends on 11; 30 is named by --application only.
gen apps "[$(simple 11 Eleven), $(simple 10 Ten 11:11), $(simple 30 Extra)]"
for n in 11 10 30; do
	tsm "$S" app import --content "$WORK/apps/content" "$WORK/apps/a$n.xml" >/dev/null 2>"$WORK/imp.err" ||
		fail "app import a$n.xml: $(cat "$WORK/imp.err")"
done
mkdir -p "$WORK/pkg"
printf 'a package\n' >"$WORK/pkg/readme.txt"
PKG=$(add_content "$S" --kind package --name "a package" "$WORK/pkg")
printf '<sequence version="3.10"><group name="Apps">%s</group></sequence>' "$(install_step 10)" >"$WORK/ts.xml"
TS=$(tsm "$S" ts import --name ts --boot-image "$BOOT" "$WORK/ts.xml" 2>/dev/null) || fail "ts import"
# The store content item holding application 30's Content_ (content list names it).
APPC=$(tsm "$S" content list --json | $PY -c '
import json, sys
print(" ".join(c["id"] for c in json.load(sys.stdin) if c["kind"] == "application" and "Extra" in c["name"]))')
[[ $APPC =~ $ID_RE ]] || fail "application 30's content is not one store item: '$APPC'"

# json_field NAME KEY: media show NAME --json's KEY, as JSON.
json_field() {
	tsm "$S" media show "$1" --json | $PY -c 'import json, sys; print(json.dumps(json.load(sys.stdin).get(sys.argv[1], "MISSING")))' "$2" ||
		fail "media show $1 --json"
}

check "--application takes an application ID and a content ID of kind application"
tsm "$S" media create --type standalone --name sa --task-sequence "$TS" "${BOOTOPTS[@]}" \
	--password-file "$WORK/pw" --application "$(app 30)" >/dev/null 2>"$WORK/c.err" ||
	fail "media create sa: $(cat "$WORK/c.err")"
tsm "$S" media create --type standalone --name sa-content --task-sequence "$TS" "${BOOTOPTS[@]}" \
	--password-file "$WORK/pw" --application "$APPC" >/dev/null 2>"$WORK/c.err" ||
	fail "media create sa-content: $(cat "$WORK/c.err")"
assert_eq "$(json_field sa-content extra_content)" "[\"$APPC\"]" "sa-content: --application CONTENT is more content"
refused_unchanged "$S" "a package as --application" "--application $PKG is a package" -- \
	tsm "$S" media create --type standalone --name sa-pkg --task-sequence "$TS" "${BOOTOPTS[@]}" \
	--password-file "$WORK/pw" --application "$PKG"

check "media show lists the applications --application gave (text and JSON)"
assert_eq "$(json_field sa applications)" "[\"$(app 30)\"]" "media show sa --json: applications"
tsm "$S" media show sa >"$WORK/show.txt" || fail "media show sa"
grep -Eq "^Applications: +$(re_escape "$(app 30)")\$" "$WORK/show.txt" ||
	fail "media show sa does not list application 30: $(cat "$WORK/show.txt")"

check "media edit of stand-alone media with applications changes only what it is given"
# content_ids NAME: the store items media NAME carries, in order.
content_ids() {
	tsm "$S" media show "$1" --json | $PY -c 'import json, sys; print(" ".join(c["id"] for c in json.load(sys.stdin)["content_versions"]))' ||
		fail "media show $1 --json"
}
tsm "$S" media create --type standalone --name sa-deps --task-sequence "$TS" "${BOOTOPTS[@]}" \
	--password-file "$WORK/pw" --include-dependencies >/dev/null 2>"$WORK/c.err" ||
	fail "media create sa-deps: $(cat "$WORK/c.err")"
before_sa=$(content_ids sa) before_deps=$(content_ids sa-deps)
# sa carries 10 (its task sequence) and 30; sa-deps 10 and 11, which 10 depends on.
assert_eq "$(wc -w <<<"$before_sa")" 3 "sa: the boot image and the contents of applications 10 and 30"
assert_eq "$(wc -w <<<"$before_deps")" 3 "sa-deps: the boot image and the contents of applications 10 and 11"
assert_ne "$before_sa" "$before_deps" "sa and sa-deps carry different applications"
tsm "$S" media edit sa --label RELABELED >/dev/null 2>"$WORK/e.err" || fail "media edit sa --label: $(cat "$WORK/e.err")"
tsm "$S" media edit sa-deps --label RELABELED >/dev/null 2>"$WORK/e.err" ||
	fail "media edit sa-deps --label: $(cat "$WORK/e.err")"
assert_eq "$(json_field sa label)" '"RELABELED"' "sa: the new label"
assert_eq "$(json_field sa applications)" "[\"$(app 30)\"]" "sa: --application kept by a label edit"
assert_eq "$(content_ids sa)" "$before_sa" "sa: the contents kept by a label edit"
assert_eq "$(json_field sa-deps include_dependencies)" true "sa-deps: --include-dependencies kept by a label edit"
assert_eq "$(content_ids sa-deps)" "$before_deps" "sa-deps: the contents kept by a label edit"

check "media that carry no applications refuse --application and --include-dependencies"
refused_unchanged "$S" "bootable --include-dependencies" "bootable media carries no task sequence" -- \
	tsm "$S" media create --type bootable --name bm --boot-image "$BOOT" "${BOOTOPTS[@]}" --site PS1 \
	--self-signed-certificate --no-password --include-dependencies
refused_unchanged "$S" "data --application APP" "data media .*--application" -- \
	tsm "$S" media create --type data --name dm --content "$PKG" --application "$(app 30)"
refused_unchanged "$S" "data --include-dependencies" "data media .*--include-dependencies" -- \
	tsm "$S" media create --type data --name dm --content "$PKG" --include-dependencies
refused_unchanged "$S" "data --task-sequence --package" "data media .*--task-sequence" -- \
	tsm "$S" media create --type data --name dm --content "$PKG" --task-sequence "$TS" --package "$PKG"
tsm "$S" media create --type data --name dm --content "$PKG" >/dev/null 2>"$WORK/c.err" ||
	fail "plain data media: $(cat "$WORK/c.err")"
refused_unchanged "$S" "data edit --application APP" "data media .*--application" -- \
	tsm "$S" media edit dm --application "$(app 30)"

check "an application a media names with --application cannot be removed until the media is"
refused_unchanged "$S" "app rm of an application media sa names" \
	"application $(re_escape "$(app 30)") is named by media sa" -- tsm "$S" app rm "$(app 30)"
tsm "$S" media rm sa >/dev/null 2>"$WORK/rm.err" || fail "media rm sa: $(cat "$WORK/rm.err")"
tsm "$S" app rm "$(app 30)" >/dev/null 2>"$WORK/rm.err" || fail "app rm once no media names it: $(cat "$WORK/rm.err")"
tsm "$S" app show "$(app 30)" >/dev/null 2>&1 && fail "application 30 is still there after app rm"

pass
