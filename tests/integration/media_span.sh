#!/usr/bin/env bash
# Stand-alone media spanning a set of 650 MB CDs (issue 5, "Spanning"): about
# 1.6 GB of packages that a task sequence references make NAME.1.iso ...
# NAME.N.iso (N >= 3); no volume exceeds 681,984,000 bytes; only the first
# carries the boot files and SMS/data; every file is on exactly one volume,
# the packages follow the order in which the task sequence's steps use them;
# the first volume's manifest covers every file of every volume (judged by
# extracting every volume with 7z); `media inspect NAME.1.iso` finds the
# siblings and passes.  A single file larger than a volume is an error that
# names it, and the catalog is unchanged.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

for t in xorriso 7z truncate; do
	command -v "$t" >/dev/null || skip "$t is not installed (Debian: xorriso p7zip-full coreutils)"
done
VOL=681984000 # 650 MB: 333,000 sectors of 2048 bytes
need=$((6 * 1024 * 1024 * 1024))
avail=$(df -B1 --output=avail "$WORK" | tail -1)
((avail > need)) || skip "the test needs about 6 GiB free under ${TMPDIR:-/tmp}, there are $avail bytes"

MiB=$((1024 * 1024))
DEFERRED=()
S=$WORK/store
init_store "$S" --site-code PS1 --compression none
mkdir -p "$WORK/boot/boot"
randfile "$WORK/boot/boot/etfsboot.com" 4096 # the BIOS loader of a Windows PE boot image
randfile "$WORK/boot/sources.wim" $((3 * MiB))
BOOT=$(add_content "$S" --kind boot-image --name "boot image" "$WORK/boot")

# sparse_file PATH BYTES: mostly a hole, with a random first 64 KiB so each differs.
sparse_file() {
	truncate -s "$2" "$1"
	randfile "$WORK/.head" 65536
	dd if="$WORK/.head" of="$1" conv=notrunc status=none
}
# Four packages of about 380 MiB each: random data, sparse files, small files.
# The steps use them in the order C, A, D, B (the referenceList is sorted).
ORDER=(PS100A0C PS100A0A PS100A0D PS100A0B)
n=0
for id in "${ORDER[@]}"; do
	n=$((n + 1))
	d=$WORK/src/$id
	mkdir -p "$d/data" "$d/sub"
	randfile "$d/data/random.bin" $((90 * MiB + n * 4096))
	sparse_file "$d/data/zeros1.bin" $((150 * MiB + n))
	sparse_file "$d/data/zeros2.bin" $((140 * MiB + 3 * n))
	printf '@echo off\r\nrem package %s\r\nsetup.exe /quiet\r\n' "$id" >"$d/install.cmd"
	for k in 1 2 3 4 5; do
		randfile "$d/sub/small-$k.txt" $((k * 1000 + n))
	done
	assert_eq "$(add_content "$S" --kind package --name "package $id" --id "$id" "$d")" "$id" "content add --id $id"
done

cat >"$WORK/span.xml" <<'EOF'
<sequence version="3.10">
  <referenceList>
    <reference package="PS100A0A" />
    <reference package="PS100A0B" />
    <reference package="PS100A0C" />
    <reference package="PS100A0D" />
  </referenceList>
  <group name="Install" description="">
    <step type="SMS_TaskSequence_RunCommandLineAction" name="Install C" description="" runIn="WinPEandFullOS" successCodeList="0 3010" retryCount="0" runFromNet="false">
      <action>smsswd.exe /run:PS100A0C install.cmd</action>
      <defaultVarList>
        <variable name="CommandLine" property="CommandLine" hidden="true">install.cmd</variable>
        <variable name="PackageID" property="PackageID" hidden="true">PS100A0C</variable>
      </defaultVarList>
    </step>
    <step type="SMS_TaskSequence_RunCommandLineAction" name="Install A" description="" runIn="WinPEandFullOS" successCodeList="0 3010" retryCount="0" runFromNet="false">
      <action>smsswd.exe /run:PS100A0A install.cmd</action>
      <defaultVarList>
        <variable name="CommandLine" property="CommandLine" hidden="true">install.cmd</variable>
        <variable name="PackageID" property="PackageID" hidden="true">PS100A0A</variable>
      </defaultVarList>
    </step>
    <step type="SMS_TaskSequence_RunCommandLineAction" name="Install D" description="" runIn="WinPEandFullOS" successCodeList="0 3010" retryCount="0" runFromNet="false">
      <action>smsswd.exe /run:PS100A0D install.cmd</action>
      <defaultVarList>
        <variable name="CommandLine" property="CommandLine" hidden="true">install.cmd</variable>
        <variable name="PackageID" property="PackageID" hidden="true">PS100A0D</variable>
      </defaultVarList>
    </step>
    <step type="SMS_TaskSequence_RunCommandLineAction" name="Install B" description="" runIn="WinPEandFullOS" successCodeList="0 3010" retryCount="0" runFromNet="false">
      <action>smsswd.exe /run:PS100A0B install.cmd</action>
      <defaultVarList>
        <variable name="CommandLine" property="CommandLine" hidden="true">install.cmd</variable>
        <variable name="PackageID" property="PackageID" hidden="true">PS100A0B</variable>
      </defaultVarList>
    </step>
  </group>
</sequence>
EOF
TS=$(tsm "$S" ts import --name "Spanning" --boot-image "$BOOT" "$WORK/span.xml")

check "ts show --json finds the four packages, in the order the steps use them, all in the store"
tsm "$S" ts show "$TS" --json >"$WORK/ts.json"
python3 - "$WORK/ts.json" "${ORDER[@]}" <<'EOF' || fail "ts show of the spanning task sequence"
import json, sys
d = json.load(open(sys.argv[1]))
got = [p['id'] for p in d['packages']]
if got != sys.argv[2:]:
    sys.exit(f'packages {got}, expected {sys.argv[2:]} (the order the steps use them)')
if not all(p['in_store'] for p in d['packages']) or d['missing']:
    sys.exit(f"not all packages found in the store: {d['packages']} missing {d['missing']}")
if d['standalone_blockers']:
    sys.exit(f"blockers: {d['standalone_blockers']}")
EOF

# Strong enough for the media password check (issue 13).
printf 'span password: larch quartz fennel\n' >"$WORK/pw"
check "a stand-alone media of about 1.6 GB on 650 MB CDs spans at least three volumes"
tsm "$S" media create --type standalone --name span --task-sequence "$TS" --size 650mb \
	--media cd-dvd --password-file "$WORK/pw" >/dev/null 2>"$WORK/create.err" ||
	fail "media create of the spanning media failed: $(cat "$WORK/create.err")"
tsm "$S" media show span --json >"$WORK/show.json"
NVOL=$(python3 - "$WORK/show.json" "$VOL" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
vols = d['volumes']
names = [v['file'] for v in vols]
want = [f'span.{i}.iso' for i in range(1, len(vols) + 1)]
if names != want:
    sys.exit(f'volume files {names}, expected {want}')
if len(vols) < 3:
    sys.exit(f'{len(vols)} volumes for about 1.6 GB on 650 MB CDs')
for v in vols:
    if v['size'] > int(sys.argv[2]):
        sys.exit(f"{v['file']} is {v['size']} bytes, more than a 650 MB CD holds")
print(len(vols))
EOF
) || fail "media show --json of the spanning media: $(cat "$WORK/show.json")"
note "$NVOL volumes"

check "each volume exported is at most $VOL bytes; only volume 1 boots"
mkdir -p "$WORK/vols"
for v in $(seq "$NVOL"); do
	img=$WORK/vols/span.$v.iso
	tsm "$S" media export span --volume "$v" -o "$img" 2>"$WORK/export.err" ||
		fail "media export span --volume $v: $(cat "$WORK/export.err")"
	size=$(stat -c %s "$img")
	assert_le "$size" "$VOL" "span.$v.iso's size"
	assert_eq "$size" "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["volumes"][int(sys.argv[2])-1]["size"])' "$WORK/show.json" "$v")" \
		"exported size of volume $v against media show"
	out=$(xorriso -abort_on NEVER -indev "$img" -report_el_torito plain 2>&1) || fail "xorriso cannot read span.$v.iso: $out"
	if grep -Eq 'SORRY|FAILURE|FATAL' <<<"$out"; then fail "xorriso complains about span.$v.iso: $out"; fi
	if ((v == 1)); then
		grep -Eq 'El Torito boot img : +1 +BIOS +y' <<<"$out" || fail "volume 1 has no BIOS boot entry: $out"
	elif grep -q 'El Torito boot img' <<<"$out"; then
		fail "volume $v has El Torito boot entries: $out"
	fi
done
expect_fail_with "has $NVOL volume\(s\), not $((NVOL + 1))" -- \
	tsm "$S" media export span --volume $((NVOL + 1)) -o "$WORK/none.iso"

check "7z extracts every volume: each file on exactly one volume, packages in order, volume 1's manifest covers all"
for v in $(seq "$NVOL"); do
	7z x -y -o"$WORK/x/$v" "$WORK/vols/span.$v.iso" >"$WORK/7z.$v.log" 2>&1 ||
		fail "7z x span.$v.iso: $(tail -5 "$WORK/7z.$v.log")"
done
python3 - "$WORK/x" "$NVOL" "$WORK/src" "${ORDER[@]}" <<'EOF' || fail "the extracted volumes"
import hashlib, os, sys

def sha(p):
    h = hashlib.sha256()
    with open(p, 'rb') as f:
        for b in iter(lambda: f.read(1 << 20), b''):
            h.update(b)
    return h.hexdigest()

xroot, nvol, src, order = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
# Lines are per (path, volume): a file every volume has (MediaLabel.txt,
# TSMVolume.txt) has a line for each volume.
man = {}
text = open(os.path.join(xroot, '1', 'SMS/data/Manifest.txt'), 'rb').read().decode()
for ln in text.split('\r\n'):
    if not ln or ln.startswith('#'):
        continue
    h, size, vol, path = ln.split(' ', 3)
    if (path, int(vol)) in man:
        sys.exit(f'the manifest lists {path} on volume {vol} twice')
    man[(path, int(vol))] = (h, int(size))
on = {}  # path -> [volumes]
uncovered = []
for v in range(1, nvol + 1):
    root = os.path.join(xroot, str(v))
    for dp, dns, fns in os.walk(root):
        for n in fns:
            rel = os.path.relpath(os.path.join(dp, n), root)
            if rel.startswith('[BOOT]'):
                continue
            on.setdefault(rel, []).append(v)
            p = os.path.join(root, rel)
            if rel == 'TSMVolume.txt':
                if not open(p, 'rb').read().startswith(f'Volume {v} of {nvol}\r\n'.encode()):
                    sys.exit(f'volume {v}: TSMVolume.txt says {open(p, "rb").read()[:40]!r}')
            if rel == 'SMS/data/Manifest.txt':
                continue
            if (rel, v) not in man:
                # Checked last, so that everything else is judged first.
                uncovered.append(f'{rel} (volume {v})')
                continue
            h, size = man[(rel, v)]
            if os.path.getsize(p) != size:
                sys.exit(f'{rel}: {os.path.getsize(p)} bytes on volume {v}, manifest {size}')
            if h != '-' and sha(p) != h:
                sys.exit(f'{rel}: SHA-256 on volume {v} differs from the manifest')
for (path, mv), (h, size) in man.items():
    if mv not in on.get(path, []):
        sys.exit(f'{path}: the manifest says volume {mv}, it is on {on.get(path)}')
for path, vols in on.items():
    if path in ('MediaLabel.txt', 'TSMVolume.txt'):
        if vols != list(range(1, nvol + 1)):
            sys.exit(f'{path} is on volumes {vols}, not on every volume')
    elif len(vols) != 1:
        sys.exit(f'{path} is on volumes {vols}: not exactly one')
    elif vols[0] != 1 and not path.startswith('SMS/PKG/'):
        sys.exit(f'{path} is on volume {vols[0]}: only packages go past volume 1')
if on.get('SMS/data/Manifest.txt') != [1] or on.get('SMS/data/TsmBootstrap.ini') != [1]:
    sys.exit('SMS/data is not (only) on volume 1')
if on.get('boot/etfsboot.com') != [1]:
    sys.exit(f"the boot files are on {on.get('boot/etfsboot.com')}, not volume 1 only")
# Packages in the order of use: each starts where the previous ends or later.
last = 1
spans = []
for pid in order:
    vols = sorted({on[p][0] for p in on if p.startswith(f'SMS/PKG/{pid}/')})
    if not vols:
        sys.exit(f'package {pid} is on no volume')
    if vols[0] < last or vols != list(range(vols[0], vols[-1] + 1)):
        sys.exit(f'package {pid} is on volumes {vols}, after a package on volume {last}: not in the order of use')
    last = vols[-1]
    spans.append(f'{pid}: {vols}')
    # every source file with its bytes
    sroot = os.path.join(src, pid)
    for dp, dns, fns in os.walk(sroot):
        for n in fns:
            rel = os.path.relpath(os.path.join(dp, n), sroot)
            mp = f'SMS/PKG/{pid}/{rel}'
            if mp not in on:
                sys.exit(f'{mp} is on no volume')
            if sha(os.path.join(xroot, str(on[mp][0]), mp)) != sha(os.path.join(dp, n)):
                sys.exit(f'{mp} differs from its source')
if last != nvol:
    sys.exit(f'the last package ends on volume {last} of {nvol}')
print(f'  ... {len(man)} manifest lines; packages by volume: ' + '; '.join(spans))
if uncovered:
    open(sys.argv[1] + '.uncovered', 'w').write(', '.join(uncovered))
EOF
if [[ -f $WORK/x.uncovered ]]; then
	# Not fatal at once: the checks below still run, and the test fails at the end.
	DEFERRED+=("volume 1's manifest does not cover every file of the set; not in it: $(cat "$WORK/x.uncovered")")
	echo "FAIL (deferred): ${DEFERRED[-1]}" >&2
fi

# judge_span DIR PASSWORD-ARGS...: the judge (../shared/judges/cmmedia.py, a reader nobody here
# wrote) reads DIR/SMS/data as Configuration Manager's client would: Variables.dat says
# stand-alone media, Policy.xml's TS_Sequence is the imported sequence (issue 13).
JUDGE=$(dirname "$0")/../../../shared/judges/cmmedia.py
judge_span() {
	local d=$1/SMS/data alg=$2
	shift 2
	/usr/bin/python3 "$JUDGE" vars "$d/Variables.dat" "$@" >"$WORK/span-vars.json" ||
		fail "the judge cannot read $d/Variables.dat"
	/usr/bin/python3 - "$WORK/span-vars.json" "$alg" <<-'EOF' || fail "the judge's variables of $d"
	import json, sys
	v = json.load(open(sys.argv[1]))
	assert v["alg"] == sys.argv[2], v["alg"]
	assert v["vars"]["_SMSTSStandAloneMedia"] == "true" and v["vars"]["_SMSTSMediaType"] == "FullMedia", v["vars"]
	EOF
	[[ ${1:-} == --password-file ]] || set -- --media-guid "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["vars"]["_SMSMediaGuid"])' "$WORK/span-vars.json")"
	/usr/bin/python3 "$JUDGE" policy "$d/Policy.xml" "$@" >"$WORK/span-policy.json" ||
		fail "the judge cannot read $d/Policy.xml"
	/usr/bin/python3 - "$WORK/span-policy.json" "$WORK/span.xml" <<-'EOF' || fail "the judge's policy of $d"
	import json, sys, xml.etree.ElementTree as ET
	ts = json.load(open(sys.argv[1]))[0]
	assert ts["class"] == "CCM_TaskSequence", ts["class"]
	got = ET.canonicalize(ts["properties"]["TS_Sequence"], strip_text=True)
	want = ET.canonicalize(open(sys.argv[2], encoding="utf-8").read(), strip_text=True)
	assert got == want, "TS_Sequence is not the imported sequence"
	EOF
}
if [[ -f $JUDGE ]] && /usr/bin/python3 -c 'import cryptography' 2>/dev/null; then
	check "the judge reads volume 1's Variables.dat and Policy.xml (password, AES-256)"
	judge_span "$WORK/x/1" 0x6610 --password-file "$WORK/pw"
	if [[ -x ${TSMEDIAFS:-} && -e /dev/fuse ]] && command -v fusermount3 >/dev/null; then
		check "the same set without a password, AES-128: the judge reads volume 1 on the mount"
		tsm "$S" media create --type standalone --name span-open --task-sequence "$TS" --size 650mb \
			--media cd-dvd --no-password --media-cipher aes128 >/dev/null 2>"$WORK/create.err" ||
			fail "media create span-open: $(cat "$WORK/create.err")"
		fs_start "$S" "$WORK/mnt"
		xorriso -osirrox on -indev "$WORK/mnt/span-open.1.iso" -extract /SMS/data "$WORK/open/SMS/data" \
			>/dev/null 2>&1 || fail "xorriso cannot extract SMS/data from span-open.1.iso on the mount"
		[[ -f $WORK/mnt/span-open.$NVOL.iso ]] || fail "span-open does not span $NVOL volumes: $(ls "$WORK/mnt")"
		fs_stop "$WORK/mnt"
		judge_span "$WORK/open" 0x660e
	else
		skip_part "the mount (tsmediafs, /dev/fuse, fusermount3) for the set without a password"
	fi
else
	skip_part "the judge ($JUDGE) or python3-cryptography"
fi
rm -rf "$WORK/x"

check "media inspect span.1.iso finds its siblings and checks every file"
tsm "$S" media inspect "$WORK/vols/span.1.iso" --password-file "$WORK/pw" >"$WORK/inspect.out" 2>"$WORK/inspect.err" ||
	fail "media inspect span.1.iso: $(tail -c 1500 "$WORK/inspect.out") $(cat "$WORK/inspect.err")"
grep -q "^Volumes: *$NVOL\$" "$WORK/inspect.out" || fail "inspect did not find $NVOL volumes: $(head -3 "$WORK/inspect.out")"
grep -Eq -- '--- manifest: ([0-9]+) files, ([0-9]+) match .*, 0 differ, 0 missing' "$WORK/inspect.out" ||
	fail "inspect: $(grep -- '--- manifest' "$WORK/inspect.out")"
check "media inspect of a set with its last volume missing fails, naming the volume"
mkdir -p "$WORK/partial"
for v in $(seq $((NVOL - 1))); do ln -s "$WORK/vols/span.$v.iso" "$WORK/partial/span.$v.iso"; done
rc=0
tsm "$S" media inspect "$WORK/partial/span.1.iso" --password-file "$WORK/pw" >"$WORK/partial.out" 2>&1 || rc=$?
((rc == 1)) || fail "inspect of an incomplete set exited $rc: $(tail -c 600 "$WORK/partial.out")"
grep -q "is on volume $NVOL, which is not here" "$WORK/partial.out" || fail "inspect does not name the missing volume: $(tail -c 600 "$WORK/partial.out")"
rm -rf "$WORK/vols" "$WORK/partial"

check "a single file larger than a volume is an error naming it; the catalog is unchanged"
mkdir -p "$WORK/src/PS100A0E"
truncate -s 700M "$WORK/src/PS100A0E/huge.bin"
echo small >"$WORK/src/PS100A0E/small.txt"
assert_eq "$(add_content "$S" --kind package --name huge --id PS100A0E "$WORK/src/PS100A0E")" PS100A0E "content add of the huge package"
d0=$(catalog_digest "$S")
expect_fail_with "SMS/PKG/PS100A0E/huge.bin is 734003200 bytes, more than a whole volume holds" -- \
	tsm "$S" media create --type standalone --name huge --task-sequence "$TS" --package PS100A0E \
	--size 650mb --no-password
assert_eq "$(catalog_digest "$S")" "$d0" "catalog changed by the refused media"
expect_fail_with "huge.bin is 734003200 bytes, more than a whole volume holds" -- \
	tsm "$S" media edit span --package PS100A0E --password-file "$WORK/pw"
assert_eq "$(catalog_digest "$S")" "$d0" "catalog changed by the refused edit"
check "USB and unlimited never span"
tsm "$S" media create --type standalone --name big --task-sequence "$TS" --package PS100A0E \
	--size unlimited --no-password >/dev/null 2>"$WORK/big.err" || fail "unlimited media with a 700 MB file: $(cat "$WORK/big.err")"
assert_eq "$(tsm "$S" media show big --json | "${PYHELP[@]}" get - volumes.0.file)" big.iso "unlimited media is one volume"
tsm "$S" media create --type standalone --name stick --task-sequence "$TS" --media usb --size 650mb \
	--no-password >/dev/null 2>"$WORK/usb.err" || fail "USB media of 1.6 GB with --size 650mb: $(cat "$WORK/usb.err")"
tsm "$S" media show stick --json >"$WORK/usb.json"
assert_eq "$("${PYHELP[@]}" get "$WORK/usb.json" volumes.0.file) $("${PYHELP[@]}" get "$WORK/usb.json" volumes.1.file 2>/dev/null || echo none)" \
	"stick.img none" "USB media is one image"
((${#DEFERRED[@]} == 0)) || fail "$(printf '%s; ' "${DEFERRED[@]}")"
pass
