#!/usr/bin/env bash
# Every --json output of tsmedia:
#   - is one JSON document (RFC 8259, read by python3's json in strict mode)
#     ending in a newline;
#   - is in the compact form python3 writes the same data in (no spaces,
#     keys in the order written, non-ASCII as UTF-8, "/" not escaped,
#     control characters escaped): the form the scripts reading it rely on,
#     and the form the hand-written writer it replaced had;
#   - carries names with quotes, backslashes, control characters and
#     non-ASCII exactly (content, file, task sequence and site names);
#   - with TSMEDIA_JSON_REFERENCE=/path/to/another/tsmedia, is byte for byte
#     what that binary writes for the same store (an older build: the output
#     must not change).
# The commands with --json are found in the help texts; each must be
# covered here.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

REF=${TSMEDIA_JSON_REFERENCE:-}
[[ -z $REF || -x $REF ]] || fail "TSMEDIA_JSON_REFERENCE=$REF is not an executable"

S=$WORK/store
init_store "$S" --site-code PS1
NAME=$(printf 'Pkg "q" \\ \t\x01\x1f\x7f é 😀 </tag> /x')
FILE_Q=$(printf 'q"uo\\te é 😀.txt')
FILE_C=$(printf 'tab\tctl\x01x')
mkdir -p "$WORK/src/sub"
printf x >"$WORK/src/sub/$FILE_Q"
printf y >"$WORK/src/$FILE_C"
randfile "$WORK/src/big.bin" $((300 << 10))
ID=$(add_content "$S" --kind package --name "$NAME" "$WORK/src")
mkdir -p "$WORK/boot/boot"
echo boot >"$WORK/boot/boot.txt"
# A BIOS boot file where Windows PE has one, so capture media can be made.
head -c 2048 /dev/zero >"$WORK/boot/boot/etfsboot.com"
BOOT=$(add_content "$S" --kind boot-image --name "Boot é" "$WORK/boot")
GONE=$(add_content "$S" --kind package --name "to remove" "$WORK/boot")
tsm "$S" media create --type data --name data1 --content "$ID" >/dev/null 2>&1
tsm "$S" media create --type capture --name cap --boot-image "$BOOT" >/dev/null
TS_NAME=$(printf 'TS "x" é\x02')
cat >"$WORK/ts.xml" <<EOF2
<sequence version="3.00"><step type="SMS_TaskSequence_RunCommandLineAction" name="Run &quot;it&quot; é"><action>cmd /c echo</action><defaultVarList><variable name="PackageID" property="PackageID">$ID</variable></defaultVarList></step></sequence>
EOF2
TS=$(tsm "$S" ts import --name "$TS_NAME" --boot-image "$BOOT" "$WORK/ts.xml" 2>/dev/null)
TS_GONE=$(tsm "$S" ts import --name "gone" "$WORK/ts.xml" 2>/dev/null)
pki_init "$WORK/pki"
openssl req -x509 -config "$WORK/pki/openssl.cnf" -extensions v3_ca -newkey rsa:2048 -nodes \
	-keyout "$WORK/pki/ca.key" -out "$WORK/pki/ca.pem" -subj "/CN=Root é \"q\"" -days 30 >/dev/null 2>&1
tsm "$S" site add --code PS1 --type primary --root-ca "$WORK/pki/ca.pem" --mp 'http://mp.example/sms%20x' >/dev/null
echo 'pass word' >"$WORK/pw"
tsm "$S" cert create --out "$WORK/c.p12" --password-file "$WORK/pw" --subject 'Media "é"' \
	--valid-from 2026-01-01 --valid-until 2030-01-01 >/dev/null
APP=ScopeId_0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9/Application_11111111-2222-3333-4444-555555555555
DT=ScopeId_0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9/DeploymentType_11111111-2222-3333-4444-666666666666
cat >"$WORK/app.xml" <<EOF2
<AppMgmtDigest><Application AuthoringScopeId="${APP%%/*}" LogicalName="${APP#*/}" Version="2"><DeploymentTypes><DeploymentType AuthoringScopeId="${DT%%/*}" LogicalName="${DT#*/}" Version="1"/></DeploymentTypes><Title>App &quot;q&quot; \ é 😀</Title></Application><DeploymentType AuthoringScopeId="${DT%%/*}" LogicalName="${DT#*/}" Version="1"><Title>DT é</Title><Technology>MSI</Technology><Installer><Contents><Content ContentId="Content_11111111-2222-3333-4444-777777777777" Version="1"><File Name="q&quot;é.msi" Size="10"/></Content></Contents><CustomData><InstallCommandLine>msiexec /i "q&quot;é.msi"</InstallCommandLine></CustomData></Installer></DeploymentType></AppMgmtDigest>
EOF2
tsm "$S" app import "$WORK/app.xml" >/dev/null 2>&1

# The commands under test, as "NAME|ARGS": a NAME that changes the store
# runs on a copy of it (its own for the reference binary too).
CASES=(
	"stats|stats --json"
	"content list|content list --json"
	"content show|content show $ID --json"
	"content show boot|content show $BOOT --json"
	"content rm|content rm $GONE --json"
	"media list|media list --json"
	"media show|media show data1 --json"
	"media show cap|media show cap --json"
	"media inspect|media inspect cap --json"
	"ts list|ts list --json"
	"ts show|ts show $TS --json"
	"ts rm|ts rm $TS_GONE --json"
	"app list|app list --json"
	"app show|app show $APP --json"
	"app rm|app rm $APP --json"
	"site list|site list --json"
	"site show|site show PS1 --json"
	"site rm|site rm PS1 --json"
	"cert check|cert check $WORK/c.p12 --password-file $WORK/pw --json"
	"cert create|cert create --out @OUT@ --password-file $WORK/pw --subject S --valid-from 2026-01-01 --valid-until 2030-01-01 --json"
)
MUTATING="|content rm|ts rm|app rm|site rm|cert create|"

check "every command with --json in the help texts is covered"
# Each command's own usage (its help up to the first blank line) says
# [--json]: the top-level commands, and every subcommand of a group.
"$TSMEDIA" --help | sed -n '/^Commands:/,/^$/p' | awk '/^  [a-z]/ { print $1 }' >"$WORK/groups"
: >"$WORK/with-json"
while read -r g; do
	subs=$("$TSMEDIA" "$g" --help 2>/dev/null | sed -n '1,/^$/p' | grep -q 'COMMAND' &&
		"$TSMEDIA" "$g" --help | sed -nE 's/^  ([a-z]+)( .*|$)/\1/p' || true)
	if [[ -z $subs ]]; then
		"$TSMEDIA" "$g" --help 2>/dev/null | sed -n '1,/^$/p' | grep -q -- --json && echo "$g" >>"$WORK/with-json"
		continue
	fi
	for sub in $subs; do
		"$TSMEDIA" "$g" "$sub" --help 2>/dev/null | sed -n '1,/^$/p' | grep -q -- --json &&
			echo "$g $sub" >>"$WORK/with-json"
	done
done <"$WORK/groups"
sort -u -o "$WORK/with-json" "$WORK/with-json"
(($(wc -l <"$WORK/with-json") >= 10)) || fail "found only $(wc -l <"$WORK/with-json") commands with --json: $(cat "$WORK/with-json")"
while read -r c; do
	covered=0
	for k in "${CASES[@]}"; do
		[[ ${k%%|*} == "$c" || ${k%%|*} == "$c "* ]] && covered=1
	done
	((covered)) || fail "'tsmedia $c' has --json but this test does not cover it"
done <"$WORK/with-json"
note "commands with --json: $(tr '\n' ',' <"$WORK/with-json")"

# canonical FILE: FILE is one JSON document in python's compact form.
canonical() {
	python3 - "$1" <<'PY'
import json, re, sys
raw = open(sys.argv[1], "rb").read()
if not raw.endswith(b"\n") or raw.count(b"\n") != 1:
    sys.exit("not one line ending in a newline")
text = raw[:-1].decode("utf-8")
# Numbers with a fraction keep their text: "%.4f" is part of the format.
class Raw(str):
    pass
doc = json.loads(text, parse_float=lambda s: Raw("\0" + s + "\0"))
again = json.dumps(doc, separators=(",", ":"), ensure_ascii=False)
again = re.sub('"\\\\u0000([^"]*)\\\\u0000"', r"\1", again)
if again != text:
    for i, (a, b) in enumerate(zip(again, text)):
        if a != b:
            break
    else:
        i = min(len(again), len(text))
    sys.exit(f"not in compact form at character {i}: ...{text[max(0, i - 40):i + 40]!r}... "
             f"(compact: ...{again[max(0, i - 40):i + 40]!r}...)")
PY
}

check "each --json output is one compact JSON document$([[ -n $REF ]] && echo ", the same bytes as $REF")"
n=0
for k in "${CASES[@]}"; do
	what=${k%%|*}
	args=${k#*|}
	store=$S
	if [[ $MUTATING == *"|$what|"* ]]; then
		rm -rf "$WORK/copy" "$WORK/copy-ref" "$WORK"/out*.p12
		cp -a "$S" "$WORK/copy"
		cp -a "$S" "$WORK/copy-ref"
		store=$WORK/copy
	fi
	out=$WORK/out.$n.json
	# shellcheck disable=SC2086
	tsm "$store" ${args//@OUT@/$WORK/out-new.p12} >"$out" 2>"$WORK/err" ||
		fail "tsmedia $args failed: $(cat "$WORK/err")"
	canonical "$out" || fail "tsmedia $args: $(canonical "$out" 2>&1 | tail -n 1)"
	if [[ -n $REF ]]; then
		[[ $store == "$S" ]] || store=$WORK/copy-ref
		# shellcheck disable=SC2086
		timeout 300 "$REF" --store "$store" ${args//@OUT@/$WORK/out-ref.p12} >"$out.ref" 2>"$WORK/err" ||
			fail "$REF $args failed: $(cat "$WORK/err")"
		if [[ $what == "cert create" ]]; then
			# A new key and serial each time: compare the keys and the fixed fields.
			python3 -c 'import json, sys; a, b = (json.load(open(f)) for f in sys.argv[1:])
assert sorted(a) == sorted(b), (sorted(a), sorted(b))
for k in ("subject", "issuer", "not_before", "not_after", "self_signed"):
    assert a.get(k) == b.get(k), k' "$out" "$out.ref" || fail "cert create --json differs from $REF in its keys or fixed fields"
		else
			cmp -s "$out" "$out.ref" || fail "tsmedia $args: the output differs from $REF's:
  new: $(head -c 400 "$out")
  ref: $(head -c 400 "$out.ref")"
		fi
	fi
	note "$what: $(wc -c <"$out") bytes"
	n=$((n + 1))
done

check "names with quotes, backslashes, control characters and non-ASCII come back exactly"
tsm "$S" content show "$ID" --json >"$WORK/show.json"
tsm "$S" ts list --json >"$WORK/ts.json"
python3 - "$WORK/show.json" "$WORK/ts.json" "$NAME" "$FILE_Q" "$FILE_C" "$TS_NAME" <<'PY' || fail "a name did not come back exactly"
import json, sys
show = json.load(open(sys.argv[1], encoding="utf-8"))
ts = json.load(open(sys.argv[2], encoding="utf-8"))
name, fq, fc, tsname = sys.argv[3:7]
assert show["name"] == name, (show["name"], name)
paths = {f["path"] for f in show["files"]}
assert "sub/" + fq in paths, paths
assert fc in paths, paths
assert tsname in [t["name"] for t in ts], ts
raw = open(sys.argv[1], "rb").read()
# Control characters are escaped, never raw bytes in the document.
assert not any(b < 0x20 for b in raw[:-1]), "a raw control character in the output"
assert b"\\u0001" in raw and b"\\t" in raw and b'\\"' in raw and b"\\\\" in raw
assert "é 😀".encode() in raw
PY
note "content, file and task sequence names round-trip"

check "backspace and form feed are escaped as \\b and \\f"
# (The hand-written writer before json-c wrote \u0008 and \u000c: the only
# bytes that changed, and only for names holding these characters.)
BF=$(printf 'bs\bff\f')
ID_BF=$(add_content "$S" --kind package --name "$BF" "$WORK/boot")
tsm "$S" content show "$ID_BF" --json >"$WORK/bf.json"
canonical "$WORK/bf.json" || fail "content show with \\b in a name: $(canonical "$WORK/bf.json" 2>&1 | tail -n 1)"
grep -qF '"name":"bs\bff\f"' "$WORK/bf.json" || fail "the name is not written as bs\\bff\\f: $(head -c 300 "$WORK/bf.json")"

pass
