#!/usr/bin/env bash
# Task sequence media of each type that exists today (issue 5): capture,
# bootable and stand-alone, made from the boot demo tree, packages under the
# IDs a real task sequence references, and real task sequence fixtures.  Each
# is exported and judged by tools nobody here wrote (xorriso, isoinfo, 7z),
# every extracted file against the media's own manifest, and what is on each
# media against the issue's "What is on each media".  `media inspect` decrypts
# with the right password and refuses a wrong or missing one.  SMS/data is in Configuration
# Manager's formats (issue 13), read by ../shared/judges/cmmedia.py.  The stand-alone
# ISO boots from the mount under SeaBIOS, and a content update is on the
# mounted file at its next open (an open handle keeps its bytes).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FIX=$(dirname "$0")/../../../shared/fixtures/task-sequences
F4=$FIX/sequence_win10-build-capture_cmhub.xml
F6=$FIX/mdt-template_autopilot-existing-devices_drfiles.xml
for f in "$F4" "$F6"; do
	[[ -f $f ]] || skip "task sequence fixture missing: $f (../shared/fixtures/task-sequences beside the project)"
done
for t in xorriso isoinfo 7z grub-mkstandalone mkfs.fat mcopy; do
	command -v "$t" >/dev/null ||
		skip "$t is not installed (Debian: xorriso genisoimage p7zip-full grub-common grub-efi-amd64-bin dosfstools mtools)"
done
[[ -f /usr/lib/ISOLINUX/isolinux.bin ]] || skip "isolinux is not installed"
root=$(cd "$(dirname "$0")/../.." && pwd)
TSMEDIAFS=${TSMEDIAFS:-$(dirname "$TSMEDIA")/../fs/tsmediafs}

S=$WORK/store
init_store "$S" --site-code PS1
# The boot demo (isolinux for BIOS, GRUB in a FAT image for UEFI) as the boot image.
"$root/tools/make-boot-demo.sh" "$WORK/boot"
BOOT=$(add_content "$S" --kind boot-image --name "boot demo" "$WORK/boot")
BOOTOPTS=(--bios-boot isolinux/isolinux.bin --boot-load-size 4 --boot-info-table --uefi-boot efi/boot.img)

# Packages under the IDs fixture 4 references (OS install, unattend config, client).
PKGS=(SCB00026 SCB00021 SCB00003)
for id in "${PKGS[@]}"; do
	d=$WORK/src/$id
	mkdir -p "$d/sub dir"
	echo "package $id" >"$d/readme.txt"
	randfile "$d/sub dir/data.bin" $((200 * 1024 + ${#id}))
	randfile "$d/setup.exe" 70000
	got=$(add_content "$S" --kind package --name "pkg $id" --id "$id" "$d")
	assert_eq "$got" "$id" "content add --id $id"
done

check "ts import of the real fixtures with --boot-image"
TS4=$(tsm "$S" ts import --name "Build and Capture" --boot-image "$BOOT" "$F4")
TS6=$(tsm "$S" ts import --boot-image "$BOOT" "$F6")
tsm "$S" ts show "$TS4" --json >"$WORK/ts4.json"
python3 - "$WORK/ts4.json" "$BOOT" <<'EOF' || fail "ts show of fixture 4"
import json, sys
d = json.load(open(sys.argv[1]))
assert d['boot_image'] == sys.argv[2], d['boot_image']
assert sorted(p['id'] for p in d['packages']) == ['SCB00003', 'SCB00021', 'SCB00026'], d['packages']
assert all(p['in_store'] for p in d['packages']), d['packages']
assert d['missing'] == [], d['missing']
EOF
tsm "$S" ts show "$TS6" --json >"$WORK/ts6.json"
assert_eq "$("${PYHELP[@]}" get "$WORK/ts6.json" standalone_blockers)" "[]" "the MDT template has no stand-alone blockers"

# ------------------------------------------------------------------ PKI: a site
# With the values only the site knows, which bootable media carry (issue 13).
tsm "$S" site add --code PS1 --type primary --mp http://mp1.contoso.com --mp http://mp2.contoso.com \
	--http-port 80 --https-port 443 --iis-ssl-state 448 --signing-certificate 3082ABCD \
	--x64-unknown-guid a1b2c3d4-0000-4000-8000-000000000064 \
	--x86-unknown-guid a1b2c3d4-0000-4000-8000-000000000086 >/dev/null
printf 'Media pass phrase 1\n' >"$WORK/pw"
JUDGE=$(dirname "$0")/../../../shared/judges/cmmedia.py
[[ -f $JUDGE ]] || skip "judge missing: $JUDGE (../shared/judges beside the project)"
/usr/bin/python3 -c 'import cryptography' 2>/dev/null || skip "python3-cryptography is not installed"
cmjudge() { /usr/bin/python3 "$JUDGE" "$@" 2>"$WORK/cmjudge.err"; }
printf 'not the pass phrase\n' >"$WORK/wrong"

# ------------------------------------------------------------------ create
# create NAME ARGS...: media create must succeed; its stderr is kept in $WORK/NAME.create.err.
create() {
	local name=$1 rc=0
	shift
	tsm "$S" media create --name "$name" "$@" >"$WORK/$name.create.out" 2>"$WORK/$name.create.err" || rc=$?
	((rc == 0)) || fail "media create --name $name $* exited $rc: $(cat "$WORK/$name.create.err")"
}
check "create capture, bootable (site, management points, self-signed certificate) and stand-alone media"
create cap --type capture --boot-image "$BOOT" "${BOOTOPTS[@]}" --label CAPTURE
create boot --type bootable --boot-image "$BOOT" "${BOOTOPTS[@]}" --site PS1 \
	--management-point http://mp1.contoso.com --management-point http://mp2.contoso.com \
	--self-signed-certificate --certificate-valid-from 2025-01-01 --certificate-valid-until 2035-01-01 \
	--no-password --variable OSDComputerName=PC01 --unknown-computers
create sa --type standalone --task-sequence "$TS6" "${BOOTOPTS[@]}" --password-file "$WORK/pw" \
	--package SCB00026 --package SCB00021 --package SCB00003 \
	--variable OSDComputerName=PC01 --variable 'Note=a & b <c>' --label STANDALONE \
	--unattended --valid-from 2025-01-01 --valid-until 2035-06-30T12:00:00Z

check "bootable media without a password warns at create; protected media does not"
grep -q "media 'boot' has no password: anyone holding it can read its variables" "$WORK/boot.create.err" ||
	fail "no warning for bootable media without a password: $(cat "$WORK/boot.create.err")"
grep -q "certificate's private key" "$WORK/boot.create.err" ||
	fail "the warning does not say the certificate's key is readable: $(cat "$WORK/boot.create.err")"
if grep -q 'no password' "$WORK/sa.create.err"; then fail "a protected media warned: $(cat "$WORK/sa.create.err")"; fi

# ------------------------------------------------------------------ judge
cat >"$WORK/judge.py" <<'EOF'
"""judge.py DIR [--pkg ID=SRC ...]: the extracted media against its manifest."""
import hashlib, os, sys

def sha(p):
    h = hashlib.sha256()
    with open(p, 'rb') as f:
        for b in iter(lambda: f.read(1 << 20), b''):
            h.update(b)
    return h.hexdigest()

root = sys.argv[1]
lines = {}
with open(os.path.join(root, 'SMS/data/Manifest.txt'), 'rb') as f:
    text = f.read().decode('utf-8')
if '\r\n' not in text:
    sys.exit('Manifest.txt lines do not end with CRLF')
for ln in text.split('\r\n'):
    if not ln or ln.startswith('#'):
        continue
    h, size, vol, path = ln.split(' ', 3)
    if path in lines:
        sys.exit(f'manifest lists {path} twice')
    lines[path] = (h, int(size), int(vol))
files = {}
for dp, dns, fns in os.walk(root):
    for n in fns:
        p = os.path.join(dp, n)
        files[os.path.relpath(p, root)] = p
# 7z may show El Torito images as [BOOT]/...: not files of the tree.
files = {k: v for k, v in files.items() if not k.startswith('[BOOT]')}
checked = unchecked = 0
for rel, p in sorted(files.items()):
    if rel == 'SMS/data/Manifest.txt':
        continue
    if rel not in lines:
        sys.exit(f'{rel} is on the media but not in its manifest')
    h, size, vol = lines[rel]
    if vol != 1:
        sys.exit(f'{rel}: manifest says volume {vol} of a one-volume media')
    if os.path.getsize(p) != size:
        sys.exit(f'{rel}: {os.path.getsize(p)} bytes extracted, manifest says {size}')
    if h == '-':
        unchecked += 1
        continue
    if sha(p) != h:
        sys.exit(f'{rel}: extracted SHA-256 {sha(p)} differs from the manifest {h}')
    checked += 1
missing = sorted(set(lines) - set(files))
if missing:
    sys.exit(f'in the manifest but not extracted: {missing[:10]}')
# Packages: every source file under SMS/PKG/<ID>/ with its bytes.
for arg in sys.argv[2:]:
    pid, src = arg.split('=', 1)
    for dp, dns, fns in os.walk(src):
        for n in fns:
            rel = os.path.relpath(os.path.join(dp, n), src)
            on = os.path.join(root, 'SMS/PKG', pid, rel)
            if not os.path.isfile(on):
                sys.exit(f'package {pid}: {rel} is not on the media')
            if sha(on) != sha(os.path.join(dp, n)):
                sys.exit(f'package {pid}: {rel} differs from its source')
print(f'  ... 7z: {checked} files match the manifest, {unchecked} patched (boot info table), '
      f'{len(lines)} manifest lines')
EOF

# judge NAME: export, xorriso, isoinfo, 7z extraction against the manifest.
judge() {
	local name=$1 img=$WORK/$1.iso x=$WORK/x-$1 out
	shift
	tsm "$S" media export "$name" -o "$img" >/dev/null 2>"$WORK/.export.err" ||
		fail "media export $name: $(cat "$WORK/.export.err")"
	out=$(xorriso -abort_on NEVER -indev "$img" -report_el_torito plain 2>&1) ||
		fail "xorriso cannot read $name.iso: $out"
	if grep -Eq 'SORRY|FAILURE|FATAL' <<<"$out"; then fail "xorriso complains about $name.iso: $out"; fi
	grep -Eq 'El Torito boot img : +1 +BIOS +y' <<<"$out" || fail "$name.iso: no BIOS El Torito entry: $out"
	grep -Eq 'El Torito boot img : +2 +UEFI +y' <<<"$out" || fail "$name.iso: no UEFI El Torito entry: $out"
	grep -Eq 'El Torito img path : +1 +/isolinux/isolinux.bin' <<<"$out" || fail "$name.iso: BIOS boot path: $out"
	isoinfo -d -i "$img" >"$WORK/$name.isoinfo-d" || fail "isoinfo -d $name.iso"
	grep -q 'Rock Ridge signatures' "$WORK/$name.isoinfo-d" || fail "$name.iso: isoinfo finds no Rock Ridge"
	grep -q 'Joliet' "$WORK/$name.isoinfo-d" || fail "$name.iso: isoinfo finds no Joliet"
	grep -q 'El Torito VD' "$WORK/$name.isoinfo-d" || fail "$name.iso: isoinfo finds no El Torito"
	isoinfo -l -R -i "$img" >"$WORK/$name.isoinfo-l" || fail "isoinfo -l -R $name.iso"
	for f in TsmBootstrap.ini Variables.dat Manifest.txt; do
		grep -Eq " $f *\$" "$WORK/$name.isoinfo-l" || fail "$name.iso: isoinfo -l -R does not list $f"
	done
	grep -q 'Directory listing of /SMS/data/' "$WORK/$name.isoinfo-l" ||
		fail "$name.iso: no SMS/data directory (Rock Ridge)"
	rm -rf "$x"
	7z x -y -o"$x" "$img" >"$WORK/$name.7z.log" 2>&1 || fail "7z x $name.iso: $(tail -5 "$WORK/$name.7z.log")"
	python3 "$WORK/judge.py" "$x" "$@" || fail "$name.iso: extracted files against the manifest"
}
ini() { tr -d '\r' <"$WORK/x-$1/SMS/data/TsmBootstrap.ini" | grep -E "^$2=" | cut -d= -f2-; }
# Configuration Manager's container: magic 0xECED0000 (little-endian) first.
magic() { od -An -tx1 -N4 "$1" | tr -d ' \n'; }
# var JSON NAME: a variable the judge read.
var() { "${PYHELP[@]}" get "$1" "vars.$2"; }

check "capture media: ISO judged; TsmBootstrap.ini, Variables.dat and Policy.xml (the judge reads them), no packages"
judge cap
X=$WORK/x-cap
assert_eq "$(ini cap MediaType)" CaptureMedia "capture MediaType"
assert_eq "$(ini cap PasswordRequired)" false "capture PasswordRequired"
assert_eq "$(tr -d '\r' <"$X/MediaLabel.txt")" label=CAPTURE "capture MediaLabel.txt"
grep -q '^Volume id: CAPTURE' "$WORK/cap.isoinfo-d" || fail "capture volume id: $(grep 'Volume id' "$WORK/cap.isoinfo-d")"
[[ -f $X/SMS/data/Policy.xml ]] || fail "capture media has no Policy.xml"
cmjudge vars "$X/SMS/data/Variables.dat" >"$WORK/cap.vars" || fail "capture Variables.dat: $(cat "$WORK/cmjudge.err")"
assert_eq "$(var "$WORK/cap.vars" _SMSTSMediaType)" CaptureMedia "capture _SMSTSMediaType"
cmjudge policy "$X/SMS/data/Policy.xml" --media-guid "$(var "$WORK/cap.vars" _SMSMediaGuid)" >"$WORK/cap.policy" ||
	fail "capture Policy.xml: $(cat "$WORK/cmjudge.err")"
grep -q 'CaptureSystemImageAction' "$WORK/cap.policy" || fail "capture Policy.xml holds no capture task sequence"
[[ ! -e $X/SMS/PKG ]] || fail "capture media carries packages: $(ls "$X/SMS/PKG")"
[[ ! -e $X/autorun.inf ]] || fail "capture media has autorun.inf without --autorun"

check "bootable media: ISO judged; no policy, no packages, variables readable with site, MPs and certificate"
judge boot
X=$WORK/x-boot
assert_eq "$(ini boot MediaType)" BootMedia "bootable MediaType"
assert_eq "$(ini boot PasswordRequired)" false "bootable PasswordRequired"
assert_eq "$(tr -d '\r' <"$X/MediaLabel.txt")" label=boot "bootable MediaLabel.txt (default: the name)"
[[ ! -e $X/SMS/data/Policy.xml ]] || fail "bootable media carries a Policy.xml"
[[ ! -e $X/SMS/PKG ]] || fail "bootable media carries packages: $(ls "$X/SMS/PKG")"
[[ ! -e $X/autorun.inf ]] || fail "bootable media has autorun.inf without --autorun"
# Without a password: Configuration Manager's container under its fixed key, which the judge knows.
assert_eq "$(magic "$X/SMS/data/Variables.dat")" 0000edec "bootable Variables.dat is Configuration Manager's container"
V=$WORK/boot.vars
cmjudge vars "$X/SMS/data/Variables.dat" >"$V" || fail "bootable Variables.dat: $(cat "$WORK/cmjudge.err")"
assert_eq "$(var "$V" SMSTSLocationMPs)" 'http://mp1.contoso.com*http://mp2.contoso.com' "bootable management points, in order"
assert_eq "$(var "$V" _SMSTSSiteCode)" PS1 "bootable site code"
assert_eq "$(var "$V" OSDComputerName)" PC01 "bootable OSDComputerName"
assert_eq "$(var "$V" _SMSTSSupportUnknownMachines)" true "bootable unknown computers"
assert_eq "{$(var "$V" _SMSMediaGuid)}" "$(tsm "$S" media show boot --json | "${PYHELP[@]}" get - media_guid)" "bootable media GUID"
# The certificate in the variables: a PKCS#12 in hex whose password is the GUID's first 31
# characters; the judge opens it.
cmjudge pfx "$X/SMS/data/Variables.dat" >"$WORK/boot.pfx" || fail "the media certificate: $(cat "$WORK/cmjudge.err")"
grep -q '"not_after": "2035-01-01T00:00:00' "$WORK/boot.pfx" || fail "media certificate expiry: $(cat "$WORK/boot.pfx")"

check "stand-alone media: ISO judged; encrypted variables and policy, every package under SMS/PKG, no autorun.inf"
judge sa SCB00026="$WORK/src/SCB00026" SCB00021="$WORK/src/SCB00021" SCB00003="$WORK/src/SCB00003"
X=$WORK/x-sa
assert_eq "$(ini sa MediaType)" FullMedia "stand-alone MediaType"
assert_eq "$(ini sa PasswordRequired)" true "stand-alone PasswordRequired"
assert_eq "$(tr -d '\r' <"$X/MediaLabel.txt")" label=STANDALONE "stand-alone MediaLabel.txt"
assert_eq "$(magic "$X/SMS/data/Variables.dat")" 0000edec "stand-alone Variables.dat is Configuration Manager's container"
assert_eq "$(magic "$X/SMS/data/Policy.xml")" 0000edec "stand-alone Policy.xml is Configuration Manager's container"
if grep -aq 'PC01' "$X/SMS/data/Variables.dat"; then fail "a variable's value is readable in the encrypted Variables.dat"; fi
if grep -aqr 'Media pass phrase' "$X"/SMS/data "$S"/catalog.db* "$S"/packs; then fail "the password is on the media or in the catalog"; fi
assert_eq "$(ls "$X/SMS/PKG" | sort | tr '\n' ' ')" "SCB00003 SCB00021 SCB00026 " "stand-alone packages"
# --autorun was dropped (issue 16): what Configuration Manager writes in autorun.inf is not published.
[[ ! -e $X/autorun.inf ]] || fail "stand-alone media has an autorun.inf: $(cat "$X/autorun.inf")"
assert_eq "$(ini sa Unattended)" true "stand-alone Unattended"
grep -q '^Volume id: STANDALONE' "$WORK/sa.isoinfo-d" || fail "stand-alone volume id: $(grep 'Volume id' "$WORK/sa.isoinfo-d")"
GUID=$(tsm "$S" media show sa --json | "${PYHELP[@]}" get - media_guid)
assert_match "$GUID" '^\{[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}\}$' "media GUID"

# The encryption judged by another implementation (../shared/judges/cmmedia.py): the
# variables and the policy open with the password, neither with a wrong one nor with the
# fixed key or the GUID that open media without a password.
check "Variables.dat and Policy.xml: the judge reads them with the password, not without"
cmjudge vars "$X/SMS/data/Variables.dat" --password-file "$WORK/pw" >"$WORK/sa.vars" ||
	fail "stand-alone Variables.dat: $(cat "$WORK/cmjudge.err")"
if cmjudge vars "$X/SMS/data/Variables.dat" --password-file "$WORK/wrong" >/dev/null; then fail "Variables.dat opens with a wrong password"; fi
if cmjudge vars "$X/SMS/data/Variables.dat" >/dev/null; then fail "Variables.dat opens with the fixed key"; fi
if cmjudge policy "$X/SMS/data/Policy.xml" --media-guid "${GUID:1:36}" >/dev/null; then fail "Policy.xml opens with the GUID"; fi
cmjudge policy "$X/SMS/data/Policy.xml" --password-file "$WORK/pw" >"$WORK/sa.policy" ||
	fail "stand-alone Policy.xml: $(cat "$WORK/cmjudge.err")"
/usr/bin/python3 - "$WORK/sa.vars" "$WORK/sa.policy" "$TS6" "${GUID:1:36}" <<'EOF' || fail "the stand-alone media's variables and policy"
import json, sys
v = json.load(open(sys.argv[1]))["vars"]
p = json.load(open(sys.argv[2]))
ts, guid = sys.argv[3], sys.argv[4]
for k, want in (("OSDComputerName", "PC01"), ("_SMSMediaGuid", guid), ("_SMSTSMediaType", "FullMedia"),
                ("_SMSTSStandAloneMedia", "true"), ("Note", "a & b <c>"),
                ("_SMSTSMediaValidFrom", "2025-01-01T00:00:00Z"),
                ("_SMSTSMediaValidUntil", "2035-06-30T12:00:00Z")):
    assert v.get(k) == want, f"Variables.dat: {k} is {v.get(k)!r}, want {want!r}"
t = p[0]["properties"]
assert p[0]["class"] == "CCM_TaskSequence" and t["PKG_PackageID"] == ts, p[0]
assert "Windows AutoPilot for Existing Devices" in t["TS_Sequence"], "the task sequence document is not in the policy"
assert [i["properties"]["PKG_PackageID"] for i in p[1:]] == ["SCB00026", "SCB00021", "SCB00003"], p[1:]
print("  ... the judge read the variables and the policy as expected")
EOF

# ------------------------------------------------------------------ inspect
# inspect_ok OUT ARGS...: media inspect must exit 0.
inspect_ok() {
	local out=$1 rc=0
	shift
	tsm "$S" media inspect "$@" >"$out" 2>"$out.err" || rc=$?
	((rc == 0)) || fail "media inspect $* exited $rc: $(tail -c 1500 "$out") $(cat "$out.err")"
}
check "media inspect: stand-alone with the right password shows the variables and policy"
inspect_ok "$WORK/sa.inspect" "$WORK/sa.iso" --password-file "$WORK/pw"
grep -q 'Media:     FullMedia, protected by a password' "$WORK/sa.inspect" || fail "inspect does not say the media is protected"
grep -q 'OSDComputerName=PC01' "$WORK/sa.inspect" || fail "inspect does not show OSDComputerName"
grep -q 'Note=a & b <c>' "$WORK/sa.inspect" || fail "inspect: a variable with markup"
grep -q -- '--- SMS/data/Policy.xml' "$WORK/sa.inspect" || fail "inspect shows no policy"
grep -Eq -- '--- manifest: ([0-9]+) files, ([0-9]+) match .*, 0 differ, 0 missing' "$WORK/sa.inspect" ||
	fail "inspect manifest line: $(grep -- '--- manifest' "$WORK/sa.inspect")"
inspect_ok "$WORK/sa.inspect2" sa --password-file "$WORK/pw"
grep -q 'OSDComputerName=PC01' "$WORK/sa.inspect2" || fail "inspect by NAME does not show OSDComputerName"

check "media inspect of a copy (a directory, as on a USB stick): passes, then finds a changed and a missing file"
inspect_ok "$WORK/dir.inspect" "$WORK/x-sa" --password-file "$WORK/pw"
grep -Eq -- '--- manifest: .* 0 differ, 0 missing' "$WORK/dir.inspect" || fail "inspect of the copy: $(grep -- '--- manifest' "$WORK/dir.inspect")"
cp -r "$WORK/x-sa" "$WORK/x-sa-bad"
printf 'X' | dd of="$WORK/x-sa-bad/SMS/PKG/SCB00026/sub dir/data.bin" bs=1 seek=1000 conv=notrunc status=none
rm "$WORK/x-sa-bad/SMS/PKG/SCB00003/setup.exe"
rc=0
tsm "$S" media inspect "$WORK/x-sa-bad" --password-file "$WORK/pw" >"$WORK/bad.inspect" 2>&1 || rc=$?
assert_eq "$rc" 1 "inspect of a damaged copy exits 1"
grep -q 'SMS/PKG/SCB00026/sub dir/data.bin: does not match the manifest' "$WORK/bad.inspect" ||
	fail "inspect does not name the changed file: $(cat "$WORK/bad.inspect")"
grep -q 'SMS/PKG/SCB00003/setup.exe: missing' "$WORK/bad.inspect" ||
	fail "inspect does not name the missing file: $(cat "$WORK/bad.inspect")"
grep -Eq -- '--- manifest: .* 1 differ, 1 missing' "$WORK/bad.inspect" || fail "inspect counts: $(grep -- '--- manifest' "$WORK/bad.inspect")"
rm -rf "$WORK/x-sa-bad"

check "media inspect: a wrong password and a missing one are clear errors"
d0=$(catalog_digest "$S")
expect_fail_with "SMS/data/Variables.dat: the password does not open it" -- tsm "$S" media inspect "$WORK/sa.iso" --password-file "$WORK/wrong"
if grep -q 'PC01' "$LAST_STDOUT" "$LAST_STDERR"; then fail "a wrong password showed a variable"; fi
expect_fail_with "the media is protected by a password .*: give it with --password-file" -- tsm "$S" media inspect "$WORK/sa.iso"
expect_fail_with "the media is protected by a password" -- tsm "$S" media inspect sa
assert_eq "$(catalog_digest "$S")" "$d0" "media inspect changed the catalog"

check "media inspect: bootable media shows its management points without a password; capture passes"
inspect_ok "$WORK/boot.inspect" "$WORK/boot.iso"
grep -q 'Media:     BootMedia, no password' "$WORK/boot.inspect" || fail "bootable inspect says protected"
grep -q 'SMSTSLocationMPs=http://mp1.contoso.com\*http://mp2.contoso.com' "$WORK/boot.inspect" ||
	fail "inspect of bootable media does not show the management points"
grep -q 'OSDComputerName=PC01' "$WORK/boot.inspect" || fail "inspect of bootable media: OSDComputerName"
inspect_ok "$WORK/cap.inspect" cap
grep -q 'Media:     CaptureMedia' "$WORK/cap.inspect" || fail "inspect of capture media: MediaType"

check "media show says how packages on media are (not) protected"
tsm "$S" media show sa >"$WORK/sa.show"
grep -q 'packages on the media are not encrypted' "$WORK/sa.show" || fail "media show: $(cat "$WORK/sa.show")"
grep -q 'Password: *yes' "$WORK/sa.show" || fail "media show does not say the stand-alone media is protected"

# ------------------------------------------------------------------ the mount
if [[ ! -e /dev/fuse ]] || ! command -v fusermount3 >/dev/null || [[ ! -x $TSMEDIAFS ]]; then
	skip_part "the mount (boot from it, content update at the next open): /dev/fuse, fusermount3 or tsmediafs missing"
	pass
fi
mnt=$WORK/mnt
mkdir -p "$mnt"
"$TSMEDIAFS" --store "$S" "$mnt" -f 2>>"$WORK/daemon.log" &
daemon=$!
at_exit 'exec 3<&-; fusermount3 -u "$mnt"; kill $daemon'
for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
mountpoint -q "$mnt" || fail "tsmediafs did not mount: $(cat "$WORK/daemon.log")"
for m in cap boot sa; do
	[[ -f $mnt/$m.iso ]] || fail "$m.iso is not on the mount: $(ls "$mnt")"
done
check "the mounted files are the exported bytes"
for m in cap boot sa; do
	assert_eq "$(sha "$mnt/$m.iso")" "$(sha "$WORK/$m.iso")" "$m.iso on the mount against its export"
done

if command -v qemu-system-x86_64 >/dev/null; then
	check "the stand-alone ISO boots from the mount under SeaBIOS"
	expect_boot sa-cdrom "booted under BIOS by isolinux" -m 256 -cdrom "$mnt/sa.iso"
else
	skip_part "booting the stand-alone ISO: qemu-system-x86_64 is not installed"
fi

check "a content update (content add --id SCB00021) is on the mounted stand-alone media at the next open"
manifest_line() { # ISO PATH: the manifest line for PATH
	local d
	d=$(mktemp -d "$WORK/.m.XXXXXX")
	7z x -y -o"$d" "$1" SMS/data/Manifest.txt >/dev/null 2>&1 || fail "7z cannot extract the manifest of $1"
	tr -d '\r' <"$d/SMS/data/Manifest.txt" | grep -E " $2\$" || true
	rm -rf "$d"
}
old_line=$(manifest_line "$mnt/sa.iso" SMS/PKG/SCB00021/setup.exe)
[[ -n $old_line ]] || fail "no manifest line for SMS/PKG/SCB00021/setup.exe"
assert_eq "${old_line%% *}" "$(sha "$WORK/src/SCB00021/setup.exe")" "the manifest's hash of setup.exe"
exec 3<"$mnt/sa.iso" # an open handle: it keeps the version it opened
randfile "$WORK/src/SCB00021/setup.exe" 90000
echo "added in version 2" >"$WORK/src/SCB00021/new.txt"
assert_eq "$(add_content "$S" --kind package --name "pkg SCB00021" --id SCB00021 "$WORK/src/SCB00021")" SCB00021 "content add --id"
# The daemon polls the catalog (every 200 ms) and then invalidates the kernel's
# cached entry: an open right after the command may still see the old version.
want_line="$(sha "$WORK/src/SCB00021/setup.exe") 90000 1 SMS/PKG/SCB00021/setup.exe"
for i in $(seq 50); do
	new_line=$(manifest_line "$mnt/sa.iso" SMS/PKG/SCB00021/setup.exe)
	[[ $new_line == "$want_line" ]] && break
	sleep 0.1
done
note "the update was on the mount after $(((i - 1) * 100)) ms (at open $i)"
assert_eq "$new_line" "$want_line" "the manifest line of the updated file at the next open (5 s)"
[[ -n $(manifest_line "$mnt/sa.iso" SMS/PKG/SCB00021/new.txt) ]] || fail "the new file is not in the manifest"
assert_eq "$(manifest_line "$mnt/sa.iso" SMS/PKG/SCB00026/setup.exe | cut -d' ' -f1)" \
	"$(sha "$WORK/src/SCB00026/setup.exe")" "an unchanged package's line"
inspect_ok "$WORK/mnt.inspect" "$mnt/sa.iso" --password-file "$WORK/pw"
grep -Eq -- '--- manifest: .* 0 differ, 0 missing' "$WORK/mnt.inspect" || fail "inspect of the mounted file: $(cat "$WORK/mnt.inspect")"
rm -rf "$WORK/x-new"
cat "$mnt/sa.iso" >"$WORK/sa-v2.iso"
7z x -y -o"$WORK/x-new" "$WORK/sa-v2.iso" >/dev/null 2>&1 || fail "7z x of the updated media"
python3 "$WORK/judge.py" "$WORK/x-new" SCB00021="$WORK/src/SCB00021" SCB00026="$WORK/src/SCB00026" ||
	fail "the updated media against its manifest and sources"
assert_eq "$(sha256sum <&3 | cut -d" " -f1)" "$(sha "$WORK/sa.iso")" "the handle opened before the update reads the old bytes"
exec 3<&-

check "a boot image update is on every media that uses it (capture, bootable, stand-alone) at the next open"
echo "boot image version 2" >"$WORK/boot/isolinux/version.txt"
assert_eq "$(add_content "$S" --kind boot-image --name "boot demo" --id "$BOOT" "$WORK/boot")" "$BOOT" "content add --id $BOOT"
want_line="$(sha "$WORK/boot/isolinux/version.txt") 21 1 isolinux/version.txt"
for m in cap boot sa; do
	for i in $(seq 50); do
		new_line=$(manifest_line "$mnt/$m.iso" isolinux/version.txt)
		[[ $new_line == "$want_line" ]] && break
		sleep 0.1
	done
	assert_eq "$new_line" "$want_line" "$m.iso: the new boot image file in the manifest at the next open (5 s)"
	pw=()
	[[ $m == sa ]] && pw=(--password-file "$WORK/pw")
	inspect_ok "$WORK/$m.inspect3" "$mnt/$m.iso" "${pw[@]}"
done
pass
