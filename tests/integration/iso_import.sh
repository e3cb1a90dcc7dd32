#!/usr/bin/env bash
# content add of an ISO: the tree (UDF, Joliet / Rock Ridge, plain names),
# El Torito boot entries (visible files and a hidden appended EFI
# partition), image facts, --as-file, and hostile images that must fail with
# a clear message and leave the store unchanged.  The ISOs are made by tools
# nobody here wrote (xorriso, genisoimage, mkfs.fat + mtools).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

for t in xorriso genisoimage mkfs.fat mmd mcopy; do
	command -v "$t" >/dev/null || skip "$t is not installed (Debian: xorriso, genisoimage, dosfstools, mtools)"
done
ISOLINUX_BIN=/usr/lib/ISOLINUX/isolinux.bin
LDLINUX=/usr/lib/syslinux/modules/bios/ldlinux.c32
[[ -f $ISOLINUX_BIN && -f $LDLINUX ]] || skip "isolinux is not installed (Debian: isolinux, syslinux-common)"

STORE=$WORK/store
init_store "$STORE"

# sql QUERY: on a copy of the catalog (reading never changes the store).
sql() {
	local tmp
	tmp=$(mktemp -d "$WORK/.sql.XXXXXX")
	cp "$STORE/catalog.db" "$tmp/catalog.db"
	[[ -f $STORE/catalog.db-wal ]] && cp "$STORE/catalog.db-wal" "$tmp/catalog.db-wal"
	sqlite3 "$tmp/catalog.db" "$1"
	rm -rf "$tmp"
}

# check_tree ID MANIFEST: show --json lists exactly the tree; every file cats back.
check_tree() {
	show_json "$STORE" "$1" "$WORK/show-$1.json"
	"${PYHELP[@]}" check-show "$WORK/show-$1.json" "$2" >/dev/null ||
		fail "content show $1 --json does not list exactly the tree of the image"
	cat_check "$STORE" "$1" "$2" >/dev/null
}

# boot_json ID: the "boot" array of show --json, one compact line per entry.
boot_lines() {
	python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
if "boot" not in d:
    sys.exit("show --json has no \"boot\" array")
for b in d["boot"]:
    print("%s emu=%d load=%d bit=%s path=%s hidden=%s size=%d" % (b["platform"], b["emulation"],
          b["load_size"], str(b["boot_info_table"]).lower(), b["path"], str(b["hidden"]).lower(), b["size"]))
' "$WORK/show-$1.json"
}

# ------------------------------------------------------------------ the tree
SRC=$WORK/src
mkdir -p "$SRC/한국어 폴더/하위" "$SRC/empty dir" "$SRC/Case" "$SRC/a/b/c/d/e/f/g/h/i/j/k"
printf 'annyeong\n' >"$SRC/한국어 폴더/안녕하세요.txt"
printf 'deep\n' >"$SRC/한국어 폴더/하위/파일.bin"
printf 'upper\n' >"$SRC/Case/README.TXT"
printf 'lower\n' >"$SRC/Case/readme.txt"
printf 'mixed\n' >"$SRC/Case/ReadMe.txt"
printf 'eleven levels down\n' >"$SRC/a/b/c/d/e/f/g/h/i/j/k/deep.txt"
: >"$SRC/empty.txt"
randfile "$SRC/big.bin" $((6 * 1024 * 1024 + 123))
randfile "$SRC/a/b/mid.dat" 70000
manifest "$SRC" "$WORK/src.json" >/dev/null

# ------------------------------------------------------------------ Joliet + Rock Ridge
check "xorriso -J -R image: tree and bytes"
xorriso -as mkisofs -quiet -J -R -V TSM_JR -o "$WORK/jr.iso" "$SRC" 2>"$WORK/xorriso.err" ||
	fail "xorriso failed: $(cat "$WORK/xorriso.err")"
ID_JR=$(add_content "$STORE" --kind boot-image --name jr "$WORK/jr.iso")
check_tree "$ID_JR" "$WORK/src.json"
assert_eq "$(sql "SELECT value FROM content_meta m JOIN content_versions v ON v.id = m.version WHERE v.content = '$ID_JR' AND key = 'volume_id'")" "TSM_JR" "volume_id of the -J -R image"
assert_eq "$(boot_lines "$ID_JR")" "" "a non-bootable image has no boot entries"

# ------------------------------------------------------------------ plain ISO 9660 names
check "xorriso image with neither Joliet nor Rock Ridge: ISO 9660 names"
PLAIN=$WORK/plain
mkdir -p "$PLAIN/DIR1"
printf 'one\n' >"$PLAIN/DIR1/FILE1.TXT"
randfile "$PLAIN/DATA.BIN" 5000
: >"$PLAIN/EMPTY"
manifest "$PLAIN" "$WORK/plain.json" >/dev/null
xorriso -as mkisofs -quiet -V PLAIN -o "$WORK/plain.iso" "$PLAIN" 2>"$WORK/xorriso.err" ||
	fail "xorriso failed: $(cat "$WORK/xorriso.err")"
ID_PLAIN=$(add_content "$STORE" --kind package --name plain "$WORK/plain.iso")
check_tree "$ID_PLAIN" "$WORK/plain.json"

# ------------------------------------------------------------------ Joliet names
check "genisoimage -J image (no Rock Ridge): Joliet names, not the 8.3 ISO 9660 ones"
JOL=$WORK/joliet
mkdir -p "$JOL/Sub Dir" "$JOL/empty"
printf 'a\n' >"$JOL/Mixed Case Name.txt"
printf 'b\n' >"$JOL/Sub Dir/lower.markdown"
randfile "$JOL/archive.v1.tar.gz" 12345
manifest "$JOL" "$WORK/joliet.json" >/dev/null
genisoimage -quiet -J -input-charset utf-8 -V JOLIET -o "$WORK/joliet.iso" "$JOL" 2>"$WORK/xorriso.err" ||
	fail "genisoimage failed: $(cat "$WORK/xorriso.err")"
ID_JOL=$(add_content "$STORE" --kind package --name joliet "$WORK/joliet.iso")
check_tree "$ID_JOL" "$WORK/joliet.json"

# ------------------------------------------------------------------ bootable: BIOS + visible EFI image
make_efi_img() {
	local img=$1
	rm -f "$img"
	mkfs.fat -C -n EFIBOOT "$img" 2880 >/dev/null
	randfile "$WORK/BOOTX64.EFI" 300000
	MTOOLS_SKIP_CHECK=1 mmd -i "$img" ::/EFI ::/EFI/BOOT
	MTOOLS_SKIP_CHECK=1 mcopy -i "$img" "$WORK/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
}
BOOTSRC=$WORK/bootsrc
cp -a "$SRC" "$BOOTSRC"
mkdir -p "$BOOTSRC/isolinux"
cp "$ISOLINUX_BIN" "$LDLINUX" "$BOOTSRC/isolinux/"
printf 'DEFAULT linux\n' >"$BOOTSRC/isolinux/isolinux.cfg"
make_efi_img "$BOOTSRC/efi.img"
EFI_SIZE=$(stat -c %s "$BOOTSRC/efi.img")

# The judge of the tree: what xorriso itself extracts (the image holds
# boot.cat, and isolinux.bin with its boot info table patched in).
extract() {
	rm -rf "$2"
	xorriso -osirrox on -indev "$1" -extract / "$2" >/dev/null 2>"$WORK/osirrox.err" ||
		fail "xorriso could not extract $1: $(cat "$WORK/osirrox.err")"
	chmod -R u+w "$2"
}

check "BIOS isolinux (boot info table) + UEFI efi.img as a visible file"
xorriso -as mkisofs -quiet -J -R -V TSM_BOOT \
	-b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
	-eltorito-alt-boot -e efi.img -no-emul-boot \
	-o "$WORK/boot.iso" "$BOOTSRC" 2>"$WORK/xorriso.err" || fail "xorriso failed: $(cat "$WORK/xorriso.err")"
extract "$WORK/boot.iso" "$WORK/boot.x"
manifest "$WORK/boot.x" "$WORK/boot.json" >/dev/null
# xorriso's extraction must itself be the source plus boot.cat.
diff -r -q -x boot.cat -x isolinux.bin "$BOOTSRC" "$WORK/boot.x" >/dev/null ||
	fail "xorriso's own extraction differs from the source tree"
[[ -f $WORK/boot.x/isolinux/boot.cat ]] || fail "xorriso made no isolinux/boot.cat"
ID_BOOT=$(add_content "$STORE" --kind boot-image --name boot "$WORK/boot.iso")
check_tree "$ID_BOOT" "$WORK/boot.json"
assert_eq "$(boot_lines "$ID_BOOT")" "bios emu=0 load=4 bit=true path=isolinux/isolinux.bin hidden=false size=$(stat -c %s "$ISOLINUX_BIN")
uefi emu=0 load=$(python3 -c "
import struct, sys
d = open(sys.argv[1], 'rb').read()
cat = struct.unpack_from('<I', d, 17 * 2048 + 0x47)[0] * 2048
print(struct.unpack_from('<H', d, cat + 96 + 6)[0])" "$WORK/boot.iso") bit=false path=efi.img hidden=false size=$EFI_SIZE" \
	"boot entries of the BIOS + visible EFI image"

# ------------------------------------------------------------------ bootable: hidden appended EFI partition
check "UEFI boot image only as an appended partition (hidden blob), hybrid MBR + GPT"
HIDSRC=$WORK/hidsrc
cp -a "$BOOTSRC" "$HIDSRC"
mv "$HIDSRC/efi.img" "$WORK/efi.img"
xorriso -as mkisofs -quiet -J -R -V TSM_HID \
	-isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
	-b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
	-append_partition 2 0xef "$WORK/efi.img" \
	-eltorito-alt-boot -e --interval:appended_partition_2:all:: -no-emul-boot -isohybrid-gpt-basdat \
	-o "$WORK/hid.iso" "$HIDSRC" 2>"$WORK/xorriso.err" || fail "xorriso failed: $(cat "$WORK/xorriso.err")"
extract "$WORK/hid.iso" "$WORK/hid.x"
[[ -e $WORK/hid.x/efi.img ]] && fail "efi.img should not be a file of the hidden-partition image"
manifest "$WORK/hid.x" "$WORK/hid.json" >/dev/null
ID_HID=$(add_content "$STORE" --kind boot-image --name hidden "$WORK/hid.iso")
check_tree "$ID_HID" "$WORK/hid.json"
HLINES=$(boot_lines "$ID_HID")
assert_match "$(sed -n 1p <<<"$HLINES")" "^bios emu=0 load=4 bit=true path=isolinux/isolinux.bin hidden=false " "BIOS entry of the hidden-partition image"
assert_match "$(sed -n 2p <<<"$HLINES")" "^uefi emu=0 load=[0-9]+ bit=false path=None hidden=true size=$EFI_SIZE\$" "UEFI entry of the hidden-partition image"
GOT=$(sql "SELECT lower(hex(b.sha256)) FROM content_boot cb JOIN blobs b ON b.id = cb.blob JOIN content_versions v ON v.id = cb.version WHERE v.content = '$ID_HID' AND cb.platform = 239")
assert_eq "$GOT" "$(sha "$WORK/efi.img")" "the hidden EFI boot image's bytes"
MBR=$(sql "SELECT lower(hex(value)) FROM content_meta m JOIN content_versions v ON v.id = m.version WHERE v.content = '$ID_HID' AND key = 'hybrid_mbr'")
assert_eq "$MBR" "$(head -c 432 "$WORK/hid.iso" | xxd -p | tr -d '\n')" "hybrid_mbr is the image's first 432 bytes"
assert_eq "$(sql "SELECT value FROM content_meta m JOIN content_versions v ON v.id = m.version WHERE v.content = '$ID_HID' AND key = 'hybrid_gpt'")" "1" "hybrid_gpt"

# ------------------------------------------------------------------ UDF bridge
check "genisoimage -udf bridge: the tree comes from UDF (the ISO 9660 side has 8.3 names)"
# -D: genisoimage otherwise leaves out directories deeper than 8, from UDF too.
genisoimage -quiet -udf -D -input-charset utf-8 -V TSM_UDF -o "$WORK/udf.iso" "$SRC" 2>"$WORK/geniso.err" ||
	fail "genisoimage failed: $(cat "$WORK/geniso.err")"
ID_UDF=$(add_content "$STORE" --kind os-image --name udf "$WORK/udf.iso")
check_tree "$ID_UDF" "$WORK/src.json"

check "UDF-only image (the bridge image with its ISO 9660 descriptors replaced by BEA01/NSR02/TEA01)"
# No tool here writes a UDF-only image without mounting; genisoimage's UDF
# structures are kept and only the volume recognition sequence is rewritten,
# as on UDF-only Windows media.
python3 - "$WORK/udf.iso" "$WORK/udfonly.iso" <<'EOF'
import sys
d = bytearray(open(sys.argv[1], 'rb').read())
S = 2048
s = 16
ids = []
while True:
    ident = bytes(d[s * S + 1:s * S + 6])
    if ident not in (b'CD001', b'BEA01', b'NSR02', b'NSR03', b'TEA01'):
        break
    ids.append(ident)
    s += 1
assert b'NSR02' in ids or b'NSR03' in ids, ids
nsr = b'NSR03' if b'NSR03' in ids else b'NSR02'
for i in range(16, s):
    d[i * S:(i + 1) * S] = bytes(S)
for i, ident in enumerate((b'BEA01', nsr, b'TEA01')):
    d[(16 + i) * S:(16 + i) * S + 7] = bytes([0]) + ident + bytes([1])
open(sys.argv[2], 'wb').write(d)
EOF
if command -v udfinfo >/dev/null; then
	udfinfo "$WORK/udfonly.iso" >/dev/null 2>&1 || fail "udfinfo does not accept the UDF-only image"
fi
ID_UDFO=$(add_content "$STORE" --kind os-image --name udfonly "$WORK/udfonly.iso")
check_tree "$ID_UDFO" "$WORK/src.json"

# ------------------------------------------------------------------ UDF names (OSTA CS0)
check "UDF names beyond ASCII, as tsmedia mkiso and genisoimage -udf write them: Korean (16-bit CS0) and Latin-1 (8-bit CS0)"
# OSTA UDF 1.02 2.1.1: a name whose characters are all below U+0100 is
# written with compression ID 8 (one byte each), any other with 16.
NAMES=$WORK/names
mkdir -p "$NAMES/한국어 폴더/하위" "$NAMES/café" "$NAMES/mixed é 한"
printf 'annyeong\n' >"$NAMES/한국어 폴더/안녕하세요.txt"
randfile "$NAMES/한국어 폴더/하위/파일.bin" 70000
printf 'latin\n' >"$NAMES/café/naïve façade.txt"
printf 'both\n' >"$NAMES/mixed é 한/ÀÉÎõü 데이터.txt"
randfile "$NAMES/plain.bin" 5000
manifest "$NAMES" "$WORK/names.json" >/dev/null
tsm "$STORE" -q mkiso --udf -o "$WORK/names-mkiso.iso" "$NAMES" >/dev/null 2>"$WORK/mkiso.err" ||
	fail "tsmedia mkiso failed: $(cat "$WORK/mkiso.err")"
genisoimage -quiet -udf -D -input-charset utf-8 -o "$WORK/names-geniso.iso" "$NAMES" 2>"$WORK/geniso.err" ||
	fail "genisoimage failed: $(cat "$WORK/geniso.err")"
for img in names-mkiso names-geniso; do
	# The names must come from UDF: the image's UDF side is the tree.
	if command -v udfinfo >/dev/null; then
		udfinfo "$WORK/$img.iso" >/dev/null 2>&1 || fail "udfinfo does not accept $img.iso"
	fi
	ID_N=$(add_content "$STORE" --kind package --name "$img" "$WORK/$img.iso")
	check_tree "$ID_N" "$WORK/names.json"
	note "$img.iso: every name and SHA-256 as in the source"
done

# ------------------------------------------------------------------ --as-file
check "--as-file keeps the ISO as one file"
ID_AS=$(add_content "$STORE" --kind boot-image --name whole --as-file "$WORK/jr.iso")
manifest "$WORK/jr.iso" "$WORK/asfile.json" >/dev/null
check_tree "$ID_AS" "$WORK/asfile.json"

# ------------------------------------------------------------------ hostile images
check "hostile images fail with a message naming the problem and change nothing"
HSRC=$WORK/hsrc
mkdir -p "$HSRC/sub"
randfile "$HSRC/file.bin" 100000
printf 'x\n' >"$HSRC/sub/inner.txt"
xorriso -as mkisofs -quiet -R -o "$WORK/h.iso" "$HSRC" 2>/dev/null || fail "xorriso failed"

# hostile MODE OUT: patch one directory record of the root directory.
hostile() {
	python3 - "$WORK/h.iso" "$2" "$1" <<'EOF'
import struct, sys
src, out, mode = sys.argv[1:4]
d = bytearray(open(src, 'rb').read())
S = 2048
pvd = 16 * S
assert d[pvd:pvd + 6] == b'\x01CD001'
root = pvd + 156                      # ECMA-119 8.4.18: root directory record
root_lba = struct.unpack_from('<I', d, root + 2)[0]
root_len = struct.unpack_from('<I', d, root + 10)[0]
def set733(off, v):                   # ECMA-119 7.3.3: both-endian 32-bit
    struct.pack_into('<I', d, off, v)
    struct.pack_into('>I', d, off + 4, v)
off, end = root_lba * S, root_lba * S + root_len
done = False
while off < end and not done:
    n = d[off]
    if n == 0:
        off = (off // S + 1) * S
        continue
    name_len = d[off + 32]
    name = bytes(d[off + 33:off + 33 + name_len])
    is_dir = d[off + 25] & 2
    if name not in (b'\x00', b'\x01'):
        if mode == 'extent' and not is_dir:
            set733(off + 2, len(d) // S + 1000)
            done = True
        elif mode == 'size' and not is_dir:
            set733(off + 10, len(d) * 4)
            done = True
        elif mode == 'loop' and is_dir:
            set733(off + 2, root_lba)
            set733(off + 10, root_len)
            done = True
    off += n
assert done, mode
open(out, 'wb').write(d)
EOF
}
head -c $(($(stat -c %s "$WORK/h.iso") / 2)) "$WORK/h.iso" >"$WORK/trunc.iso"
head -c 40000 "$WORK/h.iso" >"$WORK/trunc-vd.iso"
hostile extent "$WORK/extent.iso"
hostile size "$WORK/size.iso"
hostile loop "$WORK/loop.iso"
# Too deep: 70 nested directories.
DEEP=$WORK/deepsrc
p=$DEEP
for _ in $(seq 70); do p=$p/d; done
mkdir -p "$p"
printf 'bottom\n' >"$p/f"
xorriso -as mkisofs -quiet -R -o "$WORK/deep.iso" "$DEEP" 2>/dev/null || fail "xorriso failed (deep)"

DIGEST=$(catalog_digest "$STORE")
PACKS=$(pack_bytes "$STORE")
hostile_case() {
	local re=$1 iso=$2
	expect_fail_with "$re" -- tsm "$STORE" content add --kind boot-image --name bad "$iso"
	grep -q -F "$iso" "$LAST_STDERR" || fail "the message does not name the file $iso: $(cat "$LAST_STDERR")"
	assert_eq "$(catalog_digest "$STORE")" "$DIGEST" "catalog changed by a failed import of $iso"
	assert_eq "$(pack_bytes "$STORE")" "$PACKS" "packs changed by a failed import of $iso"
}
hostile_case 'truncated' "$WORK/trunc.iso"
hostile_case 'truncated' "$WORK/trunc-vd.iso"
hostile_case 'past the end of the image' "$WORK/extent.iso"
hostile_case 'more than the whole image' "$WORK/size.iso"
hostile_case 'loops' "$WORK/loop.iso"
hostile_case 'deeper than 64' "$WORK/deep.iso"

# A root directory record that runs past its sector, its identifier with
# it (ECMA-119 6.8.1.1, 9.1): libiso9660 2.1.0 would read past its buffer,
# so the reader refuses it before libiso9660 parses directories.  In the
# primary tree, and in the Joliet tree (which is the one read when present).
# Sixty names make the root two sectors, so a record ends near the first's end.
PSRC=$WORK/psrc
mkdir -p "$PSRC"
for i in $(seq 60); do printf '%s\n' "$i" >"$PSRC/file$i.txt"; done
xorriso -as mkisofs -quiet -o "$WORK/p.iso" "$PSRC" 2>/dev/null || fail "xorriso failed (plain)"
xorriso -as mkisofs -quiet -J -o "$WORK/pj.iso" "$PSRC" 2>/dev/null || fail "xorriso failed (Joliet)"
past_sector() {
	python3 - "$1" "$2" "$3" <<'EOF'
import struct, sys
src, out, vd_type = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = bytearray(open(src, 'rb').read())
S = 2048
vd = next(s * S for s in range(16, 32) if d[s * S] == vd_type and d[s * S + 1:s * S + 6] == b'CD001')
root = vd + 156                       # ECMA-119 8.4.18 / 8.5: the root directory record
lba, size = struct.unpack_from('<I', d, root + 2)[0], struct.unpack_from('<I', d, root + 10)[0]
assert size > S, 'the root must be more than one sector'
off, last = lba * S, None
while off < lba * S + S and d[off]:   # the records of the root's first sector
    last, off = off, off + d[off]
slack = lba * S + S - last            # from the last record to the sector's end
assert slack + 16 <= 255, slack
d[last] = slack + 16                  # LEN_DR: 16 bytes past the sector
d[last + 32] = slack + 16 - 33        # LEN_FI: the identifier runs past too
open(out, 'wb').write(d)
EOF
}
past_sector "$WORK/p.iso" "$WORK/past.iso" 1 || fail "cannot patch p.iso"
past_sector "$WORK/pj.iso" "$WORK/past-joliet.iso" 2 || fail "cannot patch pj.iso"
hostile_case 'not a usable ISO 9660 image: a directory record at sector [0-9]+ runs past its sector \(ECMA-119 9.1\), in the primary tree' "$WORK/past.iso"
hostile_case 'a directory record at sector [0-9]+ runs past its sector \(ECMA-119 9.1\), in the Joliet tree' "$WORK/past-joliet.iso"
# The unpatched images are valid and import.
tsm "$STORE" content add --kind package --name plain60 "$WORK/p.iso" >/dev/null || fail "p.iso was refused"
tsm "$STORE" content add --kind package --name joliet60 "$WORK/pj.iso" >/dev/null || fail "pj.iso was refused"

verify_ok "$STORE"
pass
