#!/usr/bin/env bash
# A boot image's boot files are read through the WIM's own bytes (issue 14):
# content add --kind boot-image stores the WIM once, and each boot file
# (bootmgr, etfsboot.com, efisys.bin, the BCD stores, boot.sdi, fonts...)
# is a blob read out of the stored WIM blob: a byte range of an
# uncompressed resource, or its XPRESS, LZX or LZMS chunks decompressed on
# read.  For each compression: the store grows by no more than the WIM,
# stats and content show say which files take no space of their own, and
# the files read back (content cat) and on the mount (the ISO's extents,
# extracted by xorriso from ISO 9660 and by 7-Zip from the UDF 1.02 tree,
# which udfinfo reads) are what wimlib-imagex extracts.  A damaged chunk of
# the WIM is an I/O error for the boot file on the mount and in content
# cat, and verify names the boot file.  gc keeps the WIM while another
# content's file shares a boot file's bytes.  A solid WIM's boot files, and
# those in chunks larger than the reader takes, are stored apart.  A boot
# image damaged in any file is refused.  A schema version 7 catalog is
# upgraded to 8.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

fs_require
for t in nasm wimlib-imagex grub-mkstandalone mkfs.fat mcopy xorriso sqlite3 udfinfo 7z; do
	command -v "$t" >/dev/null ||
		skip "$t is not installed (Debian: nasm wimtools grub-efi-amd64-bin grub-common dosfstools mtools xorriso sqlite3 udftools p7zip-full)"
done
root=$(cd "$(dirname "$0")/../.." && pwd)

# Media path -> path in the WIM (tools/make-winpe-demo.sh's tree).
declare -A FROM=(
	[bootmgr]=Windows/Boot/PCAT/bootmgr
	[bootmgr.efi]=Windows/Boot/EFI/bootmgr.efi
	[boot/bcd]=Windows/Boot/DVD/PCAT/BCD
	[boot/boot.sdi]=Windows/Boot/DVD/PCAT/boot.sdi
	[boot/etfsboot.com]=Windows/Boot/DVD/PCAT/etfsboot.com
	[boot/fonts/segmono_boot.ttf]=Windows/Boot/Fonts/segmono_boot.ttf
	[boot/fonts/wgl4_boot.ttf]=Windows/Boot/Fonts/wgl4_boot.ttf
	[efi/boot/bootx64.efi]=Windows/Boot/EFI/bootmgfw.efi
	[efi/microsoft/boot/bcd]=Windows/Boot/DVD/EFI/BCD
	[efi/microsoft/boot/efisys.bin]=Windows/Boot/DVD/EFI/en-US/efisys.bin
	[efi/microsoft/boot/efisys_noprompt.bin]=Windows/Boot/DVD/EFI/en-US/efisys_noprompt.bin
	[efi/microsoft/boot/fonts/segmono_boot.ttf]=Windows/Boot/Fonts/segmono_boot.ttf
	[efi/microsoft/boot/fonts/wgl4_boot.ttf]=Windows/Boot/Fonts/wgl4_boot.ttf
)

# show_check STORE ID WANT: every boot file of content ID is in_wim
# sources/boot.wim (WANT=in) or none is (WANT=apart).
show_check() {
	show_json "$1" "$2" "$WORK/show.json"
	python3 - "$WORK/show.json" "$3" "${!FROM[@]}" <<-'EOF' || fail "content show of $2: see above"
	import json, sys
	d = json.load(open(sys.argv[1]))
	want, paths = sys.argv[2], sys.argv[3:]
	files = {f['path']: f for f in d['files'] if f['type'] == 'file'}
	for p in paths:
	    got = files[p].get('in_wim')
	    if (want == 'in') != (got == 'sources/boot.wim'):
	        sys.exit(f"{p}: in_wim is {got!r}, expected {'sources/boot.wim' if want == 'in' else None}")
	assert 'in_wim' not in files['sources/boot.wim'], files['sources/boot.wim']
	EOF
}

# bytes_check STORE ID REF TAG: content cat of each boot file is the file
# wimlib-imagex extracted to REF.
bytes_check() {
	local p
	for p in "${!FROM[@]}"; do
		tsm "$1" content cat "$2" "$p" >"$WORK/cat.out" 2>"$WORK/cat.err" ||
			fail "$4: content cat $p: $(cat "$WORK/cat.err")"
		cmp -s "$WORK/cat.out" "$3/${FROM[$p]}" || fail "$4: content cat $p differs from wimlib-imagex extract"
	done
}

# iso_check ISO REF TAG: each boot file xorriso extracts from ISO (on the
# mount) is the one wimlib-imagex extracted.
iso_check() {
	local p args=()
	rm -rf "$WORK/x"
	mkdir -p "$WORK/x"
	for p in "${!FROM[@]}"; do
		args+=(-extract "/$p" "$WORK/x/$p")
	done
	xorriso -osirrox on -indev "$1" "${args[@]}" 2>"$WORK/xorriso.err" >/dev/null ||
		fail "$3: xorriso cannot extract the boot files: $(tail -5 "$WORK/xorriso.err")"
	for p in "${!FROM[@]}"; do
		cmp -s "$WORK/x/$p" "$2/${FROM[$p]}" || fail "$3: /$p on the mounted ISO differs from wimlib-imagex extract"
	done
}

# udf_check ISO REF TAG: the ISO's UDF is 1.02, as oscdimg -udfver102
# writes Windows media (udfinfo), and each boot file 7-Zip reads from the
# UDF tree is the one wimlib-imagex extracted.
udf_check() {
	local p
	udfinfo "$1" >"$WORK/udfinfo.out" 2>&1 || fail "$3: udfinfo cannot read the UDF: $(cat "$WORK/udfinfo.out")"
	grep -qx 'udfrev=1.02' "$WORK/udfinfo.out" || fail "$3: the UDF is not revision 1.02: $(grep udfrev "$WORK/udfinfo.out")"
	rm -rf "$WORK/u"
	7z x -tudf -o"$WORK/u" "$1" "${!FROM[@]}" >"$WORK/7z.out" 2>&1 ||
		fail "$3: 7z cannot extract the boot files from the UDF: $(tail -5 "$WORK/7z.out")"
	for p in "${!FROM[@]}"; do
		cmp -s "$WORK/u/$p" "$2/${FROM[$p]}" || fail "$3: /$p in the UDF differs from wimlib-imagex extract"
	done
}

M=$WORK/mnt
for c in none xpress lzx lzms; do
	check "$c: the boot files are read out of the stored WIM; the store grows by no more than the WIM"
	"$root/tools/make-winpe-demo.sh" "$WORK/$c.wim" --compress "$c"
	rm -rf "$WORK/ref-$c"
	mkdir -p "$WORK/ref-$c/Windows"
	wimlib-imagex extract "$WORK/$c.wim" 1 /Windows/Boot --dest-dir="$WORK/ref-$c/Windows" \
		--no-acls >/dev/null || fail "wimlib-imagex extract of $c.wim"
	S=$WORK/store-$c
	init_store "$S" --compression none
	before=$(stat_get "$S" stored_bytes)
	BOOT=$(add_content "$S" --kind boot-image --name "WinPE $c" "$WORK/$c.wim")
	wim=$(stat -c %s "$WORK/$c.wim")
	grew=$(($(stat_get "$S" stored_bytes) - before))
	note "$c.wim: $wim bytes; the store's chunks grew by $grew bytes"
	assert_le "$grew" "$wim" "$c: stored bytes added by the boot image (the WIM is $wim bytes)"
	distinct=$(for p in "${!FROM[@]}"; do sha "$WORK/ref-$c/${FROM[$p]}"; done | sort -u | wc -l)
	assert_eq "$(stat_get "$S" wim_resource_blobs)" "$distinct" "$c: blobs read out of the WIM"
	assert_eq "$(sqlite3 "$S/catalog.db" "SELECT count(*) FROM blob_chunks b JOIN blob_wim_resources w ON w.blob = b.blob")" 0 \
		"$c: chunks of blobs read out of the WIM"
	show_check "$S" "$BOOT" in
	tsm "$S" content show "$BOOT" >"$WORK/show.txt"
	grep -q "efi/boot/bootx64.efi  (read out of sources/boot.wim: no space of its own)" "$WORK/show.txt" ||
		fail "$c: content show does not say where bootx64.efi is read from: $(cat "$WORK/show.txt")"
	tsm "$S" stats >"$WORK/stats.txt"
	grep -Eq "^in stored WIMs: $distinct blobs, [0-9]+ bytes \(no chunks of their own\)$" "$WORK/stats.txt" ||
		fail "$c: stats: $(cat "$WORK/stats.txt")"
	bytes_check "$S" "$BOOT" "$WORK/ref-$c" "$c"
	verify_ok "$S"

	check "$c: on the mount, the boot files in the ISO (ISO 9660 and UDF 1.02) are wimlib-imagex's"
	tsm "$S" media create --type capture --name cap --boot-image "$BOOT" >/dev/null 2>"$WORK/create.err" ||
		fail "$c: media create: $(cat "$WORK/create.err")"
	fs_start "$S" "$M"
	iso_check "$M/cap.iso" "$WORK/ref-$c" "$c"
	udf_check "$M/cap.iso" "$WORK/ref-$c" "$c"
	assert_eq "$(xorriso -osirrox on -indev "$M/cap.iso" -extract /sources/boot.wim "$WORK/x/boot.wim" >/dev/null 2>&1 &&
		sha "$WORK/x/boot.wim")" "$(sha "$WORK/$c.wim")" "$c: sources/boot.wim on the mounted ISO"
	fs_stop "$M"
done

check "a boot image damaged in a file that is no boot file is refused, the store unchanged"
# winpe-standin.dll is random bytes: stored as they are, so flipping two of
# them is damage only its SHA-1 shows.
cp "$WORK/lzx.wim" "$WORK/dll.wim"
read -r dll_off < <(wimlib-imagex info "$WORK/dll.wim" --blobs 2>/dev/null |
	awk '/^Uncompressed size += 300000 bytes/ { f = 1 } f && /^Offset in WIM/ { print $5; exit }')
[[ -n ${dll_off:-} ]] || fail "could not find winpe-standin.dll's resource"
printf '\x00\x01' | dd of="$WORK/dll.wim" bs=1 seek=$((dll_off + 1000)) conv=notrunc status=none
S=$WORK/store-lzx
before=$(catalog_digest "$S")
packs=$(pack_bytes "$S")
expect_fail_with "dll.wim: .*SHA-1" -- tsm "$S" content add --kind boot-image --name damaged "$WORK/dll.wim"
assert_eq "$(catalog_digest "$S")" "$before" "the catalog after a refused damaged boot image"
assert_eq "$(pack_bytes "$S")" "$packs" "the packs after a refused damaged boot image"

check "a damaged chunk of the stored WIM is an I/O error for the boot file in it, and verify names it"
S=$WORK/store-lzx
BOOT=$(tsm "$S" content list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
# bootmgfw.efi's resource, and the WIM blob's chunk that holds its middle:
# one byte of it flipped in the pack (the store keeps chunks raw here).
read -r pack off < <(sqlite3 -separator ' ' "$S/catalog.db" "
	WITH r AS (SELECT w.wim, w.offset + w.stored_size / 2 AS at FROM blob_wim_resources w
	           JOIN blobs b ON b.id = w.blob JOIN tree_entries t ON t.blob = b.id
	           WHERE t.path = 'efi/boot/bootx64.efi'),
	     c AS (SELECT k.pack, k.offset, k.size,
	           sum(k.size) OVER (ORDER BY bc.seq) - k.size AS start
	           FROM blob_chunks bc JOIN chunks k ON k.id = bc.chunk, r WHERE bc.blob = r.wim)
	SELECT c.pack, c.offset + (r.at - c.start) FROM c, r WHERE r.at >= c.start AND r.at < c.start + c.size")
[[ -n ${off:-} ]] || fail "could not find the WIM chunk that holds bootx64.efi"
packfile=$(printf '%s/packs/pack-%08d.pack' "$S" "$pack")
[[ -f $packfile ]] || packfile=$(ls "$S"/packs/*.pack | head -1)
python3 - "$packfile" "$off" <<'EOF'
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(int(sys.argv[2]))
    b = f.read(1)
    f.seek(int(sys.argv[2]))
    f.write(bytes([b[0] ^ 0xff]))
EOF
expect_fail_with "checksum|damaged|I/O" -- tsm "$S" content cat "$BOOT" efi/boot/bootx64.efi
tsm "$S" content cat "$BOOT" bootmgr | cmp -s - "$WORK/ref-lzx/Windows/Boot/PCAT/bootmgr" ||
	fail "bootmgr (in undamaged chunks) no longer reads"
fs_start "$S" "$M"
lba=$(xorriso -indev "$M/cap.iso" -find /efi/boot/bootx64.efi -exec report_lba 2>/dev/null |
	awk -F, '/File data lba/ { gsub(/ /, "", $2); print $2; exit }')
[[ -n $lba ]] || fail "xorriso gives no extent for /efi/boot/bootx64.efi"
size=$(stat -c %s "$WORK/ref-lzx/Windows/Boot/EFI/bootmgfw.efi")
# A read that fails part-way returns what came before: read on to the error.
python3 - "$M/cap.iso" "$lba" "$size" <<'EOF' || fail "reading the damaged boot file on the mount did not fail with EIO"
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
off = int(sys.argv[2]) * 2048
end = off + int(sys.argv[3])
while off < end:
    try:
        got = os.pread(fd, min(65536, end - off), off)
    except OSError as e:
        sys.exit(0 if e.errno == errno.EIO else f"errno {e.errno}")
    if not got:
        break
    off += len(got)
sys.exit("read the damaged bytes without an error")
EOF
fs_stop "$M"
tsm "$S" verify >"$WORK/verify.out" 2>"$WORK/verify.err" && fail "verify passed a damaged store"
grep -q "affects content $BOOT version 1: efi/boot/bootx64.efi" "$WORK/verify.err" ||
	fail "verify does not name the boot file: $(cat "$WORK/verify.err")"

check "gc keeps the WIM while another content's file has a boot file's bytes, then removes both"
S=$WORK/store-xpress
BOOT=$(tsm "$S" content list --json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])')
tsm "$S" media rm cap >/dev/null
mkdir -p "$WORK/same"
cp "$WORK/ref-xpress/Windows/Boot/EFI/bootmgfw.efi" "$WORK/same/copy.efi"
PKG=$(add_content "$S" --kind package --name same "$WORK/same")
assert_eq "$(stat_get "$S" wim_resource_blobs)" "$distinct" "blobs read out of the WIM after a package shares one"
tsm "$S" content rm "$BOOT" >/dev/null
tsm "$S" gc >/dev/null 2>"$WORK/gc.err" || fail "gc: $(cat "$WORK/gc.err")"
assert_eq "$(stat_get "$S" wim_resource_blobs)" 1 "blobs read out of the WIM once the boot image is gone"
tsm "$S" content cat "$PKG" copy.efi | cmp -s - "$WORK/same/copy.efi" ||
	fail "the package's file no longer reads once the boot image is gone"
verify_ok "$S"
tsm "$S" content rm "$PKG" >/dev/null
tsm "$S" gc >/dev/null 2>"$WORK/gc.err" || fail "gc: $(cat "$WORK/gc.err")"
assert_eq "$(stat_get "$S" wim_resource_blobs)" 0 "blobs read out of the WIM after both are gone"
assert_eq "$(stat_get "$S" blobs)" 0 "blobs after both are gone"
verify_ok "$S"

check "a solid WIM's boot files are stored apart, and read back right"
wimlib-imagex export "$WORK/lzx.wim" 1 "$WORK/solid.wim" --solid --boot >/dev/null
S=$WORK/store-solid
init_store "$S"
BOOT=$(add_content "$S" --kind boot-image --name "WinPE solid" "$WORK/solid.wim")
assert_eq "$(stat_get "$S" wim_resource_blobs)" 0 "blobs read out of a solid WIM"
show_check "$S" "$BOOT" apart
bytes_check "$S" "$BOOT" "$WORK/ref-lzx" solid

check "an LZMS WIM with 4 MiB chunks (more than the reader takes): its compressed boot files are stored apart, and read back right"
wimlib-imagex export "$WORK/lzx.wim" 1 "$WORK/lzms4m.wim" --compress=LZMS --chunk-size=4194304 --boot >/dev/null
BOOT=$(add_content "$S" --kind boot-image --name "WinPE LZMS 4M" "$WORK/lzms4m.wim")
bytes_check "$S" "$BOOT" "$WORK/ref-lzx" lzms-4m
verify_ok "$S"

check "a schema version 7 catalog is upgraded to 8 (blob_wim_resources)"
S=$WORK/store-v7
init_store "$S"
mkdir -p "$WORK/v7"
randfile "$WORK/v7/a.bin" 100000
V7=$(add_content "$S" --kind package --name v7 "$WORK/v7")
# Version 7 is today's schema without blob_wim_resources.
sqlite3 "$S/catalog.db" 'DROP TABLE blob_wim_resources; PRAGMA user_version=7' ||
	fail "could not make a version 7 catalog"
tsm "$S" content list >/dev/null 2>"$WORK/open7.err" || fail "content list on a version 7 store: $(cat "$WORK/open7.err")"
grep -q "upgraded from schema version 7 to 8" "$WORK/open7.err" ||
	fail "the upgrade from 7 was not reported: $(cat "$WORK/open7.err")"
assert_eq "$(sqlite3 "$S/catalog.db" 'PRAGMA user_version')" 8 "schema version after the upgrade from 7"
assert_eq "$(sqlite3 "$S/catalog.db" "SELECT count(*) FROM sqlite_master WHERE name = 'blob_wim_resources'")" 1 \
	"blob_wim_resources after the upgrade"
tsm "$S" content cat "$V7" a.bin | cmp -s - "$WORK/v7/a.bin" || fail "a.bin after the upgrade from 7"
verify_ok "$S"

pass
