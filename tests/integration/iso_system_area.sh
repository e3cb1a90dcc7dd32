#!/usr/bin/env bash
# An imported ISO's whole system area (ECMA-119 6.2.1: sectors 0-15) is
# carried over: re-emitted (mkiso ID, and a data media exported by the
# reader the mount serves), xorriso's -report_system_area plain and
# -report_el_torito plain of the image equal the original's, field for
# field, but the start and size fields, which must point at the same things
# in the new layout (the EFI image's new sector, the image's new end).
# Judged by xorriso (its report, and its check of the backup GPT) and by
# sgdisk -v; the GPT hybrid made by grub-mkrescue boots as a disk under OVMF.
#
#   isohybrid MBR with an EFI partition (xorriso -isohybrid-mbr, -e)
#   GPT hybrid (-isohybrid-gpt-basdat), GPT + APM (-isohybrid-apm-hfsplus)
#   an appended EFI System partition only El Torito names (-append_partition)
#   grub-mkrescue without HFS+ (protective MBR, GPT, grub2-mbr); with HFS+
#   (its default) it is refused: tsmedia writes no HFS+
#
# Refused, naming the ISO and what its system area holds, the store
# unchanged: an appended partition that is no boot image, a GPT whose CRC is
# wrong, a partition offset.  "nothing was imported" names its cause.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

for t in xorriso mkfs.fat python3 sgdisk; do
	command -v "$t" >/dev/null || skip "$t is not installed (Debian: xorriso, dosfstools, python3, gdisk)"
done

STORE=$WORK/store
init_store "$STORE"
ACCEL=${TSM_QEMU_ACCEL:-tcg}

# sa_norm ISO: xorriso's report of the system area and the El Torito boot
# entries, each block number replaced by what it is: a number inside the
# system area stays, else "uefi"/"bios" (a boot image's first block, from
# the El Torito report), "uefi.end"/"bios.end" (its end, from its size in the
# image), "img-N" (N blocks before the image's end) or "raw:N" (none of
# these; never equal between layouts).  Sizes become the end they reach.
sa_norm() {
	local iso=$1
	xorriso -no_rc -indev "$iso" -report_system_area plain -report_el_torito plain \
		-find / -type f -exec report_lba -- 2>/dev/null >"$WORK/report.txt" || true
	python3 - "$iso" "$WORK/report.txt" <<'EOF'
import os, re, sys
iso, rep = sys.argv[1], open(sys.argv[2]).read().splitlines()
img = os.path.getsize(iso)
boot = {}   # platform -> (start byte, size bytes)
lbas = {}   # path -> (start byte, size bytes) from report_lba
for l in rep:
    m = re.match(r"Report layout: .*", l)
    m = re.match(r"File data lba:\s+\d+\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*'(.*)'$", l)
    if m:
        lbas.setdefault(m.group(4), (int(m.group(1)) * 2048, int(m.group(3))))
paths = {}
for l in rep:
    m = re.match(r"El Torito img path :\s+(\d+)\s+(\S.*)$", l)
    if m:
        paths[int(m.group(1))] = m.group(2).strip()
for l in rep:
    m = re.match(r"El Torito boot img :\s+(\d+)\s+(\S+)\s+\S+\s+\S+\s+\S+\s+\S+\s+(\d+)\s+(\d+)$", l)
    if m and m.group(2) not in boot:
        n, plat, ldsiz, lba = int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4))
        size = lbas.get(paths.get(n, ''), (0, ldsiz * 512))[1]
        boot[plat] = (lba * 2048, size)
def sym(v, unit, end=False):
    # a start is first taken for a boot image's start, an end for one's end
    b = v * unit
    if b <= 32768:
        return str(v)
    names = []
    for plat, (start, size) in sorted(boot.items()):
        names.append((start, plat.lower()))
        names.append((start + (size + unit - 1) // unit * unit, plat.lower() + ".end"))
    for at, name in sorted(names, key=lambda n: n[1].endswith(".end") != end):
        if b == at:
            return name
    if 0 <= img - b <= 2 << 20:
        return "img-%d" % ((img - b) // unit)
    return "raw:%d" % v
apm = 2048
out = []
for l in rep:
    if l.startswith("File data lba:") or l.startswith("Report layout:") or l.startswith("El Torito catalog"):
        continue
    f = l.split()
    if l.startswith("APM block size"):
        apm = int(f[-1])
    if l.startswith("ISO image size/512"):
        # The ISO 9660 volume's size (ECMA-119 8.4.8), not a field of the
        # system area: xorriso's ends before appended partitions, tsmedia's
        # volume holds the whole image (a hidden EFI image too).
        continue
    elif l.startswith("MBR partition      :"):
        s, n = int(f[-2]), int(f[-1])
        l = " ".join(f[:-2] + [sym(s, 512), sym(s + n, 512, True)])
    elif l.startswith("GPT lba range"):
        l = "GPT lba range : %s %s %s" % (sym(int(f[-3]), 512), sym(int(f[-2]) + 1, 512, True), sym(int(f[-1]) + 1, 512, True))
    elif l.startswith("GPT start and size") or l.startswith("APM start and size"):
        unit = 512 if l.startswith("GPT") else apm
        s, n = int(f[-2]), int(f[-1])
        l = " ".join(f[:-2] + [sym(s, unit), sym(s + n, unit, True)])
    elif l.startswith("El Torito boot img"):
        l = " ".join(f[:-1])
    out.append(re.sub(r"\s+", " ", l).strip())
print("\n".join(out))
EOF
}

sg_check() {
	# (sgdisk exits non-zero when it finds problems: the lines say which)
	{ sgdisk -v "$1" 2>&1 || true; } | grep -E "^Problem:|^Identified|^No problems found|CRC|ERROR|[Ii]nvalid backup|[Cc]orrupt" |
		sed -E 's/^(No problems found\.).*/\1/'
}

# judge NAME ORIG REEMITTED: the normalized reports agree; the re-emitted
# image's GPT (when it has one) passes sgdisk's checks as the original does
# and xorriso finds no problem with its backup GPT.
judge() {
	local name=$1 orig=$2 re=$3
	sa_norm "$orig" >"$WORK/$name.orig.norm"
	sa_norm "$re" >"$WORK/$name.re.norm"
	grep -q "raw:" "$WORK/$name.orig.norm" &&
		fail "$name: the original's report has a field the judge cannot name: $(grep raw: "$WORK/$name.orig.norm")"
	diff -u "$WORK/$name.orig.norm" "$WORK/$name.re.norm" >"$WORK/$name.diff" ||
		fail "$name: the re-emitted image's system area or El Torito report differs from the original's: $(cat "$WORK/$name.diff")"
	grep -q "GPT backup problems\|GPT CRC" "$WORK/$name.re.norm" &&
		fail "$name: xorriso finds problems with the re-emitted GPT: $(grep -i 'problem\|crc' "$WORK/$name.re.norm")"
	# gdisk's check of both GPT headers and arrays (CRCs, the backup where
	# the header says): what it finds must be what it finds in the original
	# (xorriso's hybrids overlap MBR partitions on purpose).
	if grep -q "^GPT " "$WORK/$name.re.norm"; then
		sg_check "$orig" | grep -q . || fail "$name: sgdisk -v says nothing of the original"
		assert_eq "$(sg_check "$re")" "$(sg_check "$orig")" "$name: sgdisk -v of the re-emitted image as of the original"
	fi
	note "$name: $(grep -c . "$WORK/$name.re.norm") report lines agree"
}

# reemit NAME ID: mkiso of ID, and a data media of it exported (the mount's
# reader); both judged against the original $WORK/NAME.iso.
reemit() {
	local name=$1 id=$2
	tsm "$STORE" -q mkiso -o "$WORK/$name.re.iso" "$id" >/dev/null 2>"$WORK/mkiso.err" ||
		fail "mkiso $id failed: $(cat "$WORK/mkiso.err")"
	judge "$name (mkiso)" "$WORK/$name.iso" "$WORK/$name.re.iso"
	tsm "$STORE" media create --type data --name "sa-$name" --content "$id" >/dev/null ||
		fail "media create of $id failed"
	tsm "$STORE" media export "sa-$name" -o "$WORK/$name.media.iso" >/dev/null ||
		fail "media export sa-$name failed"
	judge "$name (data media)" "$WORK/$name.iso" "$WORK/$name.media.iso"
}

# A tree with isolinux (BIOS) and a FAT EFI image.
SRC=$WORK/src
mkdir -p "$SRC/isolinux"
printf 'hello\n' >"$SRC/hello.txt"
head -c 300000 /dev/urandom >"$SRC/data.bin"
dd if=/dev/zero of="$SRC/efi.img" bs=1k count=2880 status=none
mkfs.fat -n EFI "$SRC/efi.img" >/dev/null
HAVE_ISOLINUX=0
if [[ -f /usr/lib/ISOLINUX/isohdpfx.bin && -f /usr/lib/ISOLINUX/isolinux.bin ]]; then
	HAVE_ISOLINUX=1
	cp /usr/lib/ISOLINUX/isolinux.bin "$SRC/isolinux/"
fi

mkxorriso() { # OUT ARGS...: xorriso -as mkisofs of $SRC
	local out=$1
	shift
	xorriso -as mkisofs -quiet -R -J "$@" -o "$out" "$SRC" 2>"$WORK/xorriso.err" ||
		fail "xorriso $* failed: $(cat "$WORK/xorriso.err")"
}

if ((HAVE_ISOLINUX)); then
	BIOS=(-isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin -b isolinux/isolinux.bin -c isolinux/boot.cat
	      -no-emul-boot -boot-load-size 4 -boot-info-table)
	UEFI=(-eltorito-alt-boot -e efi.img -no-emul-boot)

	check "isohybrid MBR with an EFI partition: re-emitted with the same system area, the partitions over the new sectors"
	mkxorriso "$WORK/mbr.iso" "${BIOS[@]}" "${UEFI[@]}"
	ID=$(add_content "$STORE" --kind boot-image --name mbr "$WORK/mbr.iso")
	reemit mbr "$ID"

	check "GPT hybrid (xorriso -isohybrid-gpt-basdat): MBR, GPT and backup GPT carried over"
	mkxorriso "$WORK/gpt.iso" "${BIOS[@]}" "${UEFI[@]}" -isohybrid-gpt-basdat
	ID=$(add_content "$STORE" --kind boot-image --name gpt "$WORK/gpt.iso")
	assert_match "$(sa_norm "$WORK/gpt.iso")" "GPT partition path : 2 /efi.img" "the original's GPT has a partition over the EFI image"
	reemit gpt "$ID"

	check "a capture media made with the GPT hybrid as its boot image carries its system area over too"
	tsm "$STORE" media create --type capture --name sa-cap --boot-image "$ID" >/dev/null 2>"$WORK/cap.err" ||
		fail "media create --type capture failed: $(cat "$WORK/cap.err")"
	tsm "$STORE" media export sa-cap -o "$WORK/gpt.cap.iso" >/dev/null || fail "media export sa-cap failed"
	judge "gpt (capture media)" "$WORK/gpt.iso" "$WORK/gpt.cap.iso"

	check "gc keeps the system area's blob while its content lives, and drops it after content rm"
	blob=$(sqlite3 "$STORE/catalog.db" "SELECT CAST(value AS INTEGER) FROM content_meta m JOIN content_versions v ON v.id = m.version WHERE v.content = '$ID' AND key = 'system_area.blob'")
	[[ $blob =~ ^[0-9]+$ ]] || fail "no system_area.blob recorded for $ID"
	assert_eq "$(sqlite3 "$STORE/catalog.db" "SELECT size FROM blobs WHERE id = $blob")" 32768 "the system area's blob is 32 KiB"
	assert_eq "$(head -c 32768 "$WORK/gpt.iso" | sha256sum | cut -d' ' -f1)" \
		"$(sqlite3 "$STORE/catalog.db" "SELECT lower(hex(sha256)) FROM blobs WHERE id = $blob")" "the blob holds the original's first 32 KiB"
	tsm "$STORE" -q gc >/dev/null || fail "gc failed"
	tsm "$STORE" -q mkiso -o "$WORK/gpt.gc.iso" "$ID" >/dev/null 2>"$WORK/mkiso.err" || fail "mkiso after gc: $(cat "$WORK/mkiso.err")"
	judge "gpt (after gc)" "$WORK/gpt.iso" "$WORK/gpt.gc.iso"
	verify_ok "$STORE"
	# Another image, made a second later (xorriso's GUIDs follow the clock).
	sleep 1.1
	mkxorriso "$WORK/gpt2.iso" "${BIOS[@]}" "${UEFI[@]}" -isohybrid-gpt-basdat
	ID2=$(add_content "$STORE" --kind boot-image --name gpt2 "$WORK/gpt2.iso")
	blob2=$(sqlite3 "$STORE/catalog.db" "SELECT CAST(value AS INTEGER) FROM content_meta m JOIN content_versions v ON v.id = m.version WHERE v.content = '$ID2' AND key = 'system_area.blob'")
	assert_ne "$blob2" "$blob" "another system area, another blob"
	tsm "$STORE" -q content rm "$ID2" >/dev/null || fail "content rm $ID2 failed"
	tsm "$STORE" -q gc >/dev/null || fail "gc failed"
	assert_eq "$(sqlite3 "$STORE/catalog.db" "SELECT count(*) FROM blobs WHERE id IN ($blob, $blob2)")" 1 "after content rm and gc: the removed item's system area is gone, the other's kept"
	assert_eq "$(sqlite3 "$STORE/catalog.db" "SELECT count(*) FROM blobs WHERE id = $blob")" 1 "the live item's system area is kept"

	check "GPT and Apple partition map (xorriso -isohybrid-apm-hfsplus): carried over"
	mkxorriso "$WORK/apm.iso" "${BIOS[@]}" "${UEFI[@]}" -isohybrid-gpt-basdat -isohybrid-apm-hfsplus
	ID=$(add_content "$STORE" --kind boot-image --name apm "$WORK/apm.iso")
	assert_match "$(sa_norm "$WORK/apm.iso")" "APM start and size : 1 uefi uefi.end" "the original's APM entry is the EFI image"
	reemit apm "$ID"
fi

check "an appended EFI System partition only El Torito names (hidden): it follows the hidden image"
cp "$SRC/efi.img" "$WORK/appended.efi.img"
mkxorriso "$WORK/app.iso" -append_partition 2 0xef "$WORK/appended.efi.img" -appended_part_as_gpt \
	-e --interval:appended_partition_2:all:: -no-emul-boot
ID=$(add_content "$STORE" --kind boot-image --name app "$WORK/app.iso")
reemit app "$ID"

if command -v grub-mkrescue >/dev/null && [[ -d /usr/lib/grub/i386-pc && -d /usr/lib/grub/x86_64-efi ]] &&
	command -v mformat >/dev/null; then
	check "grub-mkrescue without HFS+: protective MBR, GPT (gaps and the EFI partition), grub2-mbr carried over; boots as a disk under OVMF"
	mkdir -p "$WORK/grub.src"
	printf 'grub\n' >"$WORK/grub.src/hello.txt"
	grub-mkrescue -o "$WORK/grub.iso" "$WORK/grub.src" -- -hfsplus off >/dev/null 2>"$WORK/grub.err" ||
		fail "grub-mkrescue failed: $(tail -3 "$WORK/grub.err")"
	assert_match "$(sa_norm "$WORK/grub.iso")" "System area summary: MBR protective-msdos-label grub2-mbr cyl-align-off GPT" "grub-mkrescue's system area"
	ID=$(add_content "$STORE" --kind boot-image --name grub "$WORK/grub.iso")
	reemit grub "$ID"
	if [[ -f /usr/share/ovmf/OVMF.fd ]] && command -v qemu-system-x86_64 >/dev/null; then
		for f in grub grub.re; do
			expect_boot "$f-uefi-disk" "GNU GRUB" -machine q35,accel="$ACCEL" -m 256 -nodefaults \
				-bios /usr/share/ovmf/OVMF.fd -drive "file=$WORK/$f.iso,format=raw,if=ide" -snapshot
		done
	else
		note "SKIPPED the OVMF disk boot (ovmf or qemu-system-x86 missing)"
	fi

	check "grub-mkrescue with HFS+ (its default): refused, naming the HFS+ file system and what to do instead; catalog unchanged"
	grub-mkrescue -o "$WORK/grubhfs.iso" "$WORK/grub.src" >/dev/null 2>"$WORK/grub.err" ||
		fail "grub-mkrescue failed: $(tail -3 "$WORK/grub.err")"
	refused_unchanged "$STORE" "grub-mkrescue with HFS+" \
		"$(re_escape "$WORK/grubhfs.iso"): nothing was imported: .*HFS\+ file system for Macs.*--as-file" \
		tsm "$STORE" content add --kind boot-image --name grubhfs "$WORK/grubhfs.iso"
	check "... and kept whole with --as-file"
	ID_GRUBHFS=$(add_content "$STORE" --kind boot-image --name grubhfs --as-file "$WORK/grubhfs.iso")
	tsm "$STORE" content cat "$ID_GRUBHFS" grubhfs.iso 2>/dev/null | cmp - "$WORK/grubhfs.iso" ||
		fail "--as-file did not keep grub-mkrescue's image byte for byte"
else
	note "SKIPPED grub-mkrescue (grub-pc-bin, grub-efi-amd64-bin or mtools missing)"
fi

# ------------------------------------------------------------------ refusals
# refused NAME REGEX: content add of $WORK/NAME.iso fails with one line
# "...NAME.iso: nothing was imported: ...REGEX...", the catalog unchanged.
refused() {
	local name=$1 re=$2 before
	before=$(catalog_digest "$STORE")
	expect_fail_with "$(re_escape "$WORK/$name.iso"): nothing was imported: .*$re" -- \
		tsm "$STORE" content add --kind boot-image --name "$name" "$WORK/$name.iso"
	assert_eq "$(grep -c 'error:' "$LAST_STDERR")" 1 "$name: one error line"
	assert_eq "$(catalog_digest "$STORE")" "$before" "$name: the catalog is unchanged"
}

check "refused: an appended partition that is no boot image (its data would not be carried over)"
head -c 1048576 /dev/urandom >"$WORK/blob.part"
mkxorriso "$WORK/part3.iso" -append_partition 3 0x83 "$WORK/blob.part"
refused part3 "its system area cannot be carried over: MBR partition [13] \\(type 0x83\\) covers blocks"

check "refused: a GPT whose header CRC is wrong"
python3 - "$WORK/gpt.bad" <<'EOF'
import struct, sys, zlib
sa = bytearray(32768)
sa[510:512] = b"\x55\xaa"
sa[446:462] = bytes([0, 0, 2, 0, 0xee, 0xff, 0xff, 0xff]) + struct.pack("<II", 1, 0xffffffff)
h = bytearray(92)
h[0:8] = b"EFI PART"
struct.pack_into("<IIIIQQQQ16sQIII", h, 8, 0x10000, 92, 0x1234, 0, 1, 1000, 64, 900, b"\x11" * 16, 2, 128, 128, zlib.crc32(bytes(128 * 128)))
sa[512:604] = h
open(sys.argv[1], "wb").write(sa)
EOF
mkxorriso "$WORK/badgpt.iso" -G "$WORK/gpt.bad"
refused badgpt "its GPT header is damaged"

check "refused: an ISO volume inside a partition (xorriso -partition_offset)"
mkxorriso "$WORK/poff.iso" -partition_offset 16
refused poff "starts 16 blocks into a partition"

# ------------------------------------------------------------------ causes
check "\"nothing was imported\" names its cause in the same line"
head -c 40000 "$WORK/app.iso" >"$WORK/cut.iso"
expect_fail_with "cut.iso: nothing was imported: .*truncated" -- \
	tsm "$STORE" content add --kind package --name cut "$WORK/cut.iso"
assert_eq "$(grep -c 'error:' "$LAST_STDERR")" 1 "a truncated ISO: one error line"
assert_eq "$(grep -o 'cut\.iso' "$LAST_STDERR" | wc -l)" 1 "the error line names cut.iso once: $(cat "$LAST_STDERR")"
if command -v mkzftree >/dev/null && command -v genisoimage >/dev/null; then
	# zisofs data whose header says a block size zisofs does not have.
	mkdir -p "$WORK/z.src" "$WORK/z.tree"
	head -c 200000 /dev/zero >"$WORK/z.src/zeros.bin"
	mkzftree "$WORK/z.src" "$WORK/z.tree/t"
	genisoimage -quiet -R -z -o "$WORK/z.iso" "$WORK/z.tree" 2>/dev/null || fail "genisoimage -z failed"
	python3 - "$WORK/z.iso" <<'EOF'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
magic = bytes([0x37, 0xE4, 0x53, 0x96, 0xC9, 0xDB, 0xD6, 0x07])
i = d.find(magic)
assert i > 0, "no zisofs header"
d[i + 13] = 30  # log2 of the block size: 2^30
open(sys.argv[1], "wb").write(d)
EOF
	expect_fail_with "z.iso: nothing was imported: .*zisofs" -- \
		tsm "$STORE" content add --kind package --name z "$WORK/z.iso"
	assert_eq "$(grep -c 'error:' "$LAST_STDERR")" 1 "damaged zisofs: one error line"
fi
if command -v wimlib-imagex >/dev/null; then
	# A WIM with no images: one image captured, then deleted.
	mkdir -p "$WORK/w.src"
	printf 'w\n' >"$WORK/w.src/a.txt"
	wimlib-imagex capture "$WORK/w.src" "$WORK/none.wim" one >/dev/null
	wimlib-imagex delete "$WORK/none.wim" 1 >/dev/null
	expect_fail_with "none.wim: nothing was imported: .*(no images|image)" -- \
		tsm "$STORE" content add --kind os-image --name none "$WORK/none.wim"
	assert_eq "$(grep -c 'error:' "$LAST_STDERR")" 1 "a WIM with no images: one error line"
fi
check "a directory that holds a FIFO: the FIFO is the cause, in one line"
mkdir -p "$WORK/bad.src"
mkfifo "$WORK/bad.src/fifo1"
expect_fail_with "bad.src: nothing was imported: .*fifo1 is a FIFO" -- \
	tsm "$STORE" content add --kind package --name bad "$WORK/bad.src"
assert_eq "$(grep -c 'error:' "$LAST_STDERR")" 1 "a FIFO: one error line"

pass
