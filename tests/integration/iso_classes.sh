#!/usr/bin/env bash
# content add of ISOs of each class the tools in the wild write, judged by
# bsdtar -x and xorriso -osirrox (SHA-256, mode, symlink target) and by
# xorriso -report_el_torito plain; re-emission (mkiso ID, and a data media
# exported by the reader the mount serves) of the bootable classes, booted
# under SeaBIOS and OVMF as the originals; hostile images
# of the kinds Rock Ridge, zisofs and El Torito allow, refused in under a
# second with a message naming the problem and an unchanged store.
#
#   genisoimage -R without -D on a tree deeper than 8 levels (Rock Ridge
#   relocation, RRIP 4.1.5 CL/PL/RE), names of 200+ bytes (continuation
#   areas, SUSP 5.1 CE), absolute and relative symlinks (RRIP 4.1.3 SL),
#   hard links, modes (RRIP 4.1.1 PX); xorriso -zisofs and mkzftree +
#   genisoimage -z (RRIP ZF); a file over 4 GiB (ECMA-119 6.5.1
#   multi-extent; TSM_ISO_BIG=0 skips it); floppy 1.44 / 2.88 MB and hard
#   disk emulation (El Torito 1.0 2.2); isohybrid and GRUB's grub2-mbr
#   system areas; a hidden EFI image (an appended partition).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

for t in xorriso genisoimage isoinfo mkzftree bsdtar python3 qemu-system-x86_64; do
	command -v "$t" >/dev/null || skip "$t is not installed (Debian: xorriso, genisoimage, libarchive-tools, python3, qemu-system-x86)"
done

STORE=$WORK/store
init_store "$STORE"
ACCEL=${TSM_QEMU_ACCEL:-tcg}

# judge NAME ISO ID: the tree of content ID equals what bsdtar -x and
# xorriso -osirrox extract from ISO (paths, types, SHA-256, file modes,
# symlink targets).
judge() {
	local name=$1 iso=$2 id=$3 dir
	show_json "$STORE" "$id" "$WORK/$name.show.json"
	dir=$WORK/$name.bsdtar
	rm -rf "$dir" && mkdir -p "$dir"
	bsdtar -xpf "$iso" -C "$dir" 2>"$WORK/bsdtar.err" || fail "bsdtar cannot extract $iso: $(cat "$WORK/bsdtar.err")"
	manifest "$dir" "$WORK/$name.bsdtar.json" >/dev/null
	"${PYHELP[@]}" check-show --check-mode "$WORK/$name.show.json" "$WORK/$name.bsdtar.json" >/dev/null ||
		fail "$name: content show $id --json differs from what bsdtar extracts"
	dir=$WORK/$name.osirrox
	rm -rf "$dir"
	xorriso -no_rc -osirrox on -indev "$iso" -extract / "$dir" >/dev/null 2>"$WORK/osirrox.err" ||
		fail "xorriso cannot extract $iso: $(tail -3 "$WORK/osirrox.err")"
	# xorriso keeps the relocation directory after it put its directories
	# back (RRIP 4.1.5) when it is left empty; bsdtar and tsmedia drop it.
	for d in rr_moved .rr_moved; do
		[[ -d $dir/$d ]] && rmdir "$dir/$d" 2>/dev/null && note "$name: xorriso's emptied $d/ left out"
	done
	manifest "$dir" "$WORK/$name.osirrox.json" >/dev/null
	"${PYHELP[@]}" check-show --check-mode "$WORK/$name.show.json" "$WORK/$name.osirrox.json" >/dev/null ||
		fail "$name: content show $id --json differs from what xorriso -osirrox extracts"
	cat_check "$STORE" "$id" "$WORK/$name.bsdtar.json" >/dev/null
}

# reemit OUT ID: mkiso of content ID (its boot entries and system area).
reemit() {
	tsm "$STORE" -q mkiso -o "$1" "$2" >/dev/null 2>"$WORK/mkiso.err" ||
		fail "mkiso $2 failed: $(cat "$WORK/mkiso.err")"
}

# report_boot ISO: xorriso's boot image lines without the LBA (which is
# where a writer puts things), and the image and catalog paths.
report_boot() {
	xorriso -no_rc -indev "$1" -report_el_torito plain 2>/dev/null |
		sed -n -e 's/^\(El Torito boot img :.*\) [0-9][0-9]*$/\1/p' -e '/^El Torito \(img path\|cat path\|img opts\)/p' |
		tr -s ' ' | sed 's/ *$//'
}

# show_boot ID: the same lines made from content show --json.
show_boot() {
	show_json "$STORE" "$1" "$WORK/boot.$1.json"
	python3 - "$WORK/boot.$1.json" <<'EOF' | tr -s ' '
import json, sys
d = json.load(open(sys.argv[1]))
pl = {0: 'BIOS', 1: 'PPC', 2: 'Mac', 0xef: 'UEFI'}
emul = ['none', 'fd1.2', 'fd1.4', 'fd2.8', 'hd']
for i, b in enumerate(d['boot'], 1):
    print('El Torito boot img : %d %s %s %s 0x%04x 0x%02x %d' % (i, pl.get(b['platform_id'], '0x%02x' % b['platform_id']),
          'y' if b['bootable'] else 'n', emul[b['emulation']], b['load_segment'], b['system_type'], b['load_size']))
if d.get('boot_catalog'):
    print('El Torito cat path : /' + d['boot_catalog'])
for i, b in enumerate(d['boot'], 1):
    if b['path']:
        print('El Torito img path : %d /%s' % (i, b['path']))
EOF
}

# ------------------------------------------------------------------ Rock Ridge in full
SRC=$WORK/src
p=$SRC
for i in $(seq 12); do p=$p/level$i; done
mkdir -p "$p"
printf 'twelve levels down\n' >"$p/bottom.txt"
randfile "$SRC/level1/level2/level3/level4/level5/level6/level7/level8/level9/nine.bin" 70000
printf 'mid\n' >"$SRC/level1/level2/mid.txt"
LONG=$(printf 'n%.0s' $(seq 210))
printf 'one\n' >"$SRC/${LONG}_one.txt"
printf 'two\n' >"$SRC/${LONG}_two.txt"
mkdir -p "$SRC/${LONG:0:220}_dir"
printf 'in a long-named directory\n' >"$SRC/${LONG:0:220}_dir/${LONG:0:230}.dat"
ln -s /tmp "$SRC/absolute"
ln -s level1/level2/mid.txt "$SRC/relative"
ln -s ../../../outside "$SRC/level1/up"
randfile "$SRC/linked" 5000
ln "$SRC/linked" "$SRC/hardlink"
printf 'x\n' >"$SRC/exec.sh"
chmod 0751 "$SRC/exec.sh"
chmod 0600 "$SRC/linked"
chmod 0700 "$SRC/level1"

check "genisoimage -R without -D, tree 12 levels deep: Rock Ridge relocation resolved, no rr_moved"
genisoimage -quiet -R -input-charset utf-8 -o "$WORK/geniso.iso" "$SRC" 2>"$WORK/geniso.err" ||
	fail "genisoimage failed: $(cat "$WORK/geniso.err")"
# The image really relocates: a RR_MOVED directory at its ISO 9660 root.
isoinfo -i "$WORK/geniso.iso" -l >"$WORK/isoinfo.txt" 2>/dev/null || fail "isoinfo cannot list geniso.iso"
grep -q '^Directory listing of /RR_MOVED/' "$WORK/isoinfo.txt" ||
	fail "genisoimage wrote no rr_moved directory: the test does not test relocation"
ID_G=$(add_content "$STORE" --kind package --name geniso "$WORK/geniso.iso")
judge geniso "$WORK/geniso.iso" "$ID_G"
grep -q rr_moved "$WORK/geniso.show.json" && fail "rr_moved is in the imported tree"
note "deep tree, 200+ byte names, symlinks, hard links and modes as both judges extract them"

check "content show names symlinks that leave the tree, and keeps them"
tsm "$STORE" content show "$ID_G" >"$WORK/show.txt"
assert_match "$(grep -F 'absolute -> /tmp' "$WORK/show.txt")" "outside this content" "the absolute link is marked"
assert_match "$(grep -F 'level1/up -> ../../../outside' "$WORK/show.txt")" "outside this content" "the link climbing out is marked"
grep -F 'relative -> level1/level2/mid.txt' "$WORK/show.txt" | grep -q outside && fail "a link inside the tree is marked outside"

check "xorriso -R (Rock Ridge, Joliet) of the same tree"
xorriso -as mkisofs -quiet -R -J -joliet-long -o "$WORK/xorriso.iso" "$SRC" 2>"$WORK/xorriso.err" ||
	fail "xorriso failed: $(cat "$WORK/xorriso.err")"
ID_X=$(add_content "$STORE" --kind package --name xorriso "$WORK/xorriso.iso")
judge xorriso "$WORK/xorriso.iso" "$ID_X"

# ------------------------------------------------------------------ zisofs
ZSRC=$WORK/zsrc
mkdir -p "$ZSRC/sub"
seq 1 300000 >"$ZSRC/numbers.txt"
head -c 200000 /dev/zero >"$ZSRC/sub/zeros.bin"
randfile "$ZSRC/random.bin" 150000
printf 'tiny\n' >"$ZSRC/sub/tiny.txt"

check "xorriso -zisofs: files decompressed on import"
xorriso -no_rc -outdev "$WORK/zisofs.iso" -blank as_needed -map "$ZSRC" / \
	-find / -type f -exec set_filter --zisofs -- >/dev/null 2>"$WORK/xorriso.err" ||
	fail "xorriso -zisofs failed: $(tail -3 "$WORK/xorriso.err")"
ID_Z=$(add_content "$STORE" --kind package --name zisofs "$WORK/zisofs.iso")
judge zisofs "$WORK/zisofs.iso" "$ID_Z"
manifest "$ZSRC" "$WORK/zsrc.json" >/dev/null
cat_check "$STORE" "$ID_Z" "$WORK/zsrc.json" >/dev/null

check "mkzftree + genisoimage -z: files decompressed on import"
mkzftree "$ZSRC" "$WORK/zftree" || fail "mkzftree failed"
[[ $(stat -c %s "$WORK/zftree/numbers.txt") -lt $(stat -c %s "$ZSRC/numbers.txt") ]] ||
	fail "mkzftree did not compress numbers.txt"
genisoimage -quiet -R -z -o "$WORK/mkzftree.iso" "$WORK/zftree" 2>"$WORK/geniso.err" ||
	fail "genisoimage -z failed: $(cat "$WORK/geniso.err")"
ID_ZF=$(add_content "$STORE" --kind package --name mkzftree "$WORK/mkzftree.iso")
judge mkzftree "$WORK/mkzftree.iso" "$ID_ZF"
cat_check "$STORE" "$ID_ZF" "$WORK/zsrc.json" >/dev/null

# ------------------------------------------------------------------ multi-extent
if [[ ${TSM_ISO_BIG:-1} != 0 ]] && (($(df -Pk "$WORK" | awk 'NR == 2 { print $4 }') > 10 * 1024 * 1024)); then
	check "a file over 4 GiB (ECMA-119 6.5.1: several extents of one name)"
	BIG=$WORK/big
	mkdir -p "$BIG"
	truncate -s $((4 * 1024 * 1024 * 1024 + 4096)) "$BIG/huge.bin"
	printf 'the end' | dd of="$BIG/huge.bin" bs=1 seek=$((4 * 1024 * 1024 * 1024 + 100)) conv=notrunc 2>/dev/null
	printf 'small\n' >"$BIG/small.txt"
	xorriso -as mkisofs -quiet -R -iso-level 3 -o "$WORK/big.iso" "$BIG" 2>"$WORK/xorriso.err" ||
		fail "xorriso failed: $(cat "$WORK/xorriso.err")"
	ID_BIG=$(add_content "$STORE" --kind os-image --name big "$WORK/big.iso")
	want=$(bsdtar -xOf "$WORK/big.iso" huge.bin | sha256sum | cut -d' ' -f1)
	assert_eq "$want" "$(sha "$BIG/huge.bin")" "bsdtar's huge.bin is the source"
	got=$(tsm "$STORE" content cat "$ID_BIG" huge.bin | sha256sum | cut -d' ' -f1)
	assert_eq "$got" "$want" "huge.bin read back from the store"
	show_json "$STORE" "$ID_BIG" "$WORK/big.show.json"
	assert_eq "$(python3 -c 'import json,sys; print([f["size"] for f in json.load(open(sys.argv[1]))["files"] if f["path"] == "huge.bin"][0])' "$WORK/big.show.json")" \
		"$(stat -c %s "$BIG/huge.bin")" "huge.bin's size"
	rm -f "$WORK/big.iso" "$BIG/huge.bin"
else
	note "SKIPPED the 4 GiB multi-extent file (TSM_ISO_BIG=0 or less than 10 GiB free)"
fi

# ------------------------------------------------------------------ El Torito emulation
# A boot sector that writes a banner to COM1 (port 0x3F8) and halts, but
# only when the BIOS booted it as the drive it was made for (DL: 0x00 the
# first floppy, 0x80 the first hard disk, as El Torito 1.0 emulation
# assigns them; a no-emulation boot passes the CD's own number):
#   cmp dl, DRIVE; jne h; call next; next: pop si; push cs; pop ds;
#   add si, msg-next; mov dx, 0x3f8; l: lodsb; test al, al; jz h;
#   out dx, al; jmp l; h: hlt; jmp h
bootsector() { # OUT BYTES BANNER [PARTITION-TYPE]
	python3 - "$@" <<'EOF'
import struct, sys
out, size, banner = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
drive = 0x80 if len(sys.argv) > 4 else 0x00
code = bytes([0x80, 0xFA, drive, 0x75, 20, 0xE8, 0, 0, 0x5E, 0x0E, 0x1F, 0x83, 0xC6, 20,
              0xBA, 0xF8, 0x03, 0xAC, 0x84, 0xC0, 0x74, 0x03, 0xEE, 0xEB, 0xF8, 0xF4, 0xEB,
              0xFD]) + banner + b'\r\n\0'
d = bytearray(size)
d[:len(code)] = code
if len(sys.argv) > 4:   # an MBR: one partition from sector 1 to the end
    e = 446
    d[e:e + 16] = struct.pack('<B3sB3sII', 0x80, b'\0\2\0', int(sys.argv[4], 16), b'\xfe\xff\xff', 1, size // 512 - 1)
d[510:512] = b'\x55\xaa'
open(out, 'wb').write(d)
EOF
}

boot_class() { # NAME DESCRIPTION GENISOIMAGE-ARGS...
	local name=$1 desc=$2 id
	shift 2
	check "$desc: imported entry as xorriso reports it, re-emitted with the same entry, boots under SeaBIOS as the original"
	genisoimage -quiet -R -J -c boot.catalog "$@" -o "$WORK/$name.iso" "$WORK/$name.src" 2>"$WORK/geniso.err" ||
		fail "genisoimage failed: $(cat "$WORK/geniso.err")"
	id=$(add_content "$STORE" --kind boot-image --name "$name" "$WORK/$name.iso")
	judge "$name" "$WORK/$name.iso" "$id"
	report_boot "$WORK/$name.iso" >"$WORK/$name.report"
	grep -q "boot img" "$WORK/$name.report" || fail "xorriso reports no boot image in $name.iso"
	show_boot "$id" >"$WORK/$name.show"
	assert_eq "$(sort "$WORK/$name.show")" "$(grep -v 'img opts' "$WORK/$name.report" | sort)" "$name: boot entries as xorriso reports them"
	tsm "$STORE" content show "$id" | grep -q "^Boot entry: El Torito" || fail "content show $id prints no boot entries"
	reemit "$WORK/$name.re.iso" "$id"
	report_boot "$WORK/$name.re.iso" >"$WORK/$name.re.report"
	assert_eq "$(cat "$WORK/$name.re.report")" "$(cat "$WORK/$name.report")" "$name: xorriso's report of the re-emitted image (but the LBAs)"
	# A data media of the item: the reader the mount serves, through export.
	tsm "$STORE" media create --type data --name "media-$name" --content "$id" >/dev/null ||
		fail "media create of $id failed"
	tsm "$STORE" media export "media-$name" -o "$WORK/$name.media.iso" >/dev/null ||
		fail "media export media-$name failed"
	assert_eq "$(report_boot "$WORK/$name.media.iso")" "$(cat "$WORK/$name.report")" "$name: xorriso's report of the data media (but the LBAs)"
	for f in "$name" "$name.re" "$name.media"; do
		expect_boot "$f" "TSM-$name-OK" -machine q35,accel="$ACCEL" -m 64 -nodefaults -cdrom "$WORK/$f.iso" -boot d
	done
}

mkdir -p "$WORK/fd144.src" "$WORK/fd288.src" "$WORK/hd.src"
for d in fd144 fd288 hd; do printf 'readme\n' >"$WORK/$d.src/readme.txt"; done
bootsector "$WORK/fd144.src/floppy.img" 1474560 TSM-fd144-OK
bootsector "$WORK/fd288.src/floppy.img" 2949120 TSM-fd288-OK
bootsector "$WORK/hd.src/disk.img" $((2 * 1024 * 1024)) TSM-hd-OK 06
boot_class fd144 "floppy emulation, 1.44 MB" -b floppy.img
boot_class fd288 "floppy emulation, 2.88 MB" -b floppy.img
boot_class hd "hard disk emulation" -hard-disk-boot -b disk.img
assert_match "$(cat "$WORK/hd.report")" "hd 0x0000 0x06" "genisoimage's hard disk entry carries the partition type"

# ------------------------------------------------------------------ system areas
if [[ -f /usr/lib/ISOLINUX/isohdpfx.bin && -f /usr/lib/ISOLINUX/isolinux.bin ]]; then
	check "isohybrid MBR (xorriso -isohybrid-mbr): re-emitted with the same system area and boot entries; boots as CD and disk (SeaBIOS) as the original"
	mkdir -p "$WORK/ih.src/isolinux"
	cp /usr/lib/ISOLINUX/isolinux.bin /usr/lib/syslinux/modules/bios/ldlinux.c32 "$WORK/ih.src/isolinux/"
	printf 'PROMPT 0\nTIMEOUT 600\n' >"$WORK/ih.src/isolinux/isolinux.cfg"
	xorriso -as mkisofs -quiet -R -J -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
		-b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 -boot-info-table \
		-o "$WORK/ih.iso" "$WORK/ih.src" 2>"$WORK/xorriso.err" || fail "xorriso failed: $(cat "$WORK/xorriso.err")"
	ID_IH=$(add_content "$STORE" --kind boot-image --name ih "$WORK/ih.iso")
	judge ih "$WORK/ih.iso" "$ID_IH"
	reemit "$WORK/ih.re.iso" "$ID_IH"
	assert_eq "$(report_boot "$WORK/ih.re.iso")" "$(report_boot "$WORK/ih.iso")" "isohybrid: El Torito report of the re-emitted image (but the LBAs)"
	sa_all() { # the report but the image's size and its partition's length
		xorriso -no_rc -indev "$1" -report_system_area plain 2>/dev/null | grep -v '^ISO image size' |
			sed -E 's/^(MBR partition +: +[0-9]+ +0x[0-9a-f]+ +0x[0-9a-f]+ +[0-9]+) +[0-9]+$/\1/'
	}
	assert_eq "$(sa_all "$WORK/ih.re.iso")" "$(sa_all "$WORK/ih.iso")" "isohybrid: -report_system_area of the re-emitted image (but sizes)"
	for f in ih ih.re; do
		expect_boot "$f-cd" "ISOLINUX" -machine q35,accel="$ACCEL" -m 256 -nodefaults -cdrom "$WORK/$f.iso" -boot d
		expect_boot "$f-disk" "ISOLINUX" -machine q35,accel="$ACCEL" -m 256 -nodefaults \
			-drive "file=$WORK/$f.iso,format=raw,if=ide" -snapshot -boot c
	done
fi

if command -v grub-mkrescue >/dev/null && [[ -d /usr/lib/grub/i386-pc ]]; then
	check "grub-mkrescue image: grub2-mbr system area and boot entries as xorriso reports them"
	mkdir -p "$WORK/grub.src"
	printf 'grub\n' >"$WORK/grub.src/hello.txt"
	# Without HFS+: tsmedia writes none, and refuses an image that holds
	# one (grub-mkrescue's default; iso_system_area tests the refusal).
	grub-mkrescue -o "$WORK/grub.iso" "$WORK/grub.src" -- -hfsplus off >/dev/null 2>"$WORK/grub.err" ||
		fail "grub-mkrescue failed: $(tail -3 "$WORK/grub.err")"
	ID_GRUB=$(add_content "$STORE" --kind boot-image --name grub "$WORK/grub.iso")
	judge grub "$WORK/grub.iso" "$ID_GRUB"
	report_boot "$WORK/grub.iso" >"$WORK/grub.report"
	show_boot "$ID_GRUB" >"$WORK/grub.show"
	assert_eq "$(sort "$WORK/grub.show")" "$(grep -v 'img opts' "$WORK/grub.report" | sort)" "grub: boot entries as xorriso reports them"
	want=$(xorriso -no_rc -indev "$WORK/grub.iso" -report_system_area plain 2>/dev/null | sed -n 's/^System area summary: *//p')
	assert_match "$want" "grub2-mbr" "xorriso calls grub-mkrescue's system area grub2-mbr"
	assert_eq "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["system_area"])' "$WORK/grub.show.json")" "$want" "system area kind"
	check "grub-mkrescue image re-emitted: same boot entries (grub2-boot-info too), a grub2-mbr system area; boots as CD and disk (SeaBIOS) and CD (OVMF) as the original"
	reemit "$WORK/grub.re.iso" "$ID_GRUB"
	report_boot "$WORK/grub.re.iso" >"$WORK/grub.re.report"
	assert_eq "$(cat "$WORK/grub.re.report")" "$(cat "$WORK/grub.report")" "grub: xorriso's El Torito report of the re-emitted image (but the LBAs)"
	sa() { xorriso -no_rc -indev "$1" -report_system_area plain 2>/dev/null | sed -n 's/^System area \(options\|summary\): *//p'; }
	assert_eq "$(sa "$WORK/grub.re.iso")" "$(sa "$WORK/grub.iso")" "grub: system area options and kind of the re-emitted image"
	for f in grub grub.re; do
		expect_boot "$f-cd" "GNU GRUB" -machine q35,accel="$ACCEL" -m 256 -nodefaults -cdrom "$WORK/$f.iso" -boot d
		expect_boot "$f-disk" "GNU GRUB" -machine q35,accel="$ACCEL" -m 256 -nodefaults \
			-drive "file=$WORK/$f.iso,format=raw,if=ide" -snapshot -boot c
		if [[ -f /usr/share/ovmf/OVMF.fd ]]; then
			expect_boot "$f-uefi-cd" "GNU GRUB" -machine q35,accel="$ACCEL" -m 256 -nodefaults \
				-bios /usr/share/ovmf/OVMF.fd -cdrom "$WORK/$f.iso"
		fi
	done
	if [[ -f /usr/share/ovmf/OVMF.fd ]]; then
		check "a hidden EFI image (an appended partition only the El Torito entry names): kept hidden on re-emission, boots under OVMF as the original"
		H=$WORK/hidefi.src
		cp -a "$WORK/grub.osirrox" "$H"
		chmod -R u+w "$H"
		mv "$H/efi.img" "$WORK/hidefi.efi.img"
		rm -f "$H/boot.catalog"
		xorriso -as mkisofs -quiet -R -J -append_partition 2 0xef "$WORK/hidefi.efi.img" \
			-e --interval:appended_partition_2:all:: -no-emul-boot \
			-o "$WORK/hidefi.iso" "$H" 2>"$WORK/xorriso.err" || fail "xorriso failed: $(cat "$WORK/xorriso.err")"
		ID_HE=$(add_content "$STORE" --kind boot-image --name hidefi "$WORK/hidefi.iso")
		judge hidefi "$WORK/hidefi.iso" "$ID_HE"
		reemit "$WORK/hidefi.re.iso" "$ID_HE"
		assert_eq "$(report_boot "$WORK/hidefi.re.iso")" "$(report_boot "$WORK/hidefi.iso")" "hidden EFI: El Torito report of the re-emitted image (no img path: still hidden)"
		report_boot "$WORK/hidefi.iso" | grep -q "img path" && fail "the original's EFI image is not hidden: the test does not test that"
		for f in hidefi hidefi.re; do
			expect_boot "$f-uefi-cd" "GNU GRUB" -machine q35,accel="$ACCEL" -m 256 -nodefaults \
				-bios /usr/share/ovmf/OVMF.fd -cdrom "$WORK/$f.iso"
		done
	fi
else
	note "SKIPPED grub-mkrescue (grub-pc-bin missing)"
fi

# ------------------------------------------------------------------ hostile
check "hostile images: refused in under a second, naming the problem; the store unchanged"
craft() { # MODE SRC OUT
	python3 - "$@" <<'EOF'
import struct, sys
mode, src, out = sys.argv[1:4]
d = bytearray(open(src, 'rb').read())
S = 2048
def set733(off, v):          # ECMA-119 7.3.3: both-endian 32-bit
    struct.pack_into('<I', d, off, v); struct.pack_into('>I', d, off + 4, v)
def records(lba, size):
    off, end = lba * S, lba * S + size
    while off < end:
        if d[off] == 0:
            off = (off // S + 1) * S; continue
        yield off
        off += d[off]
def walk(lba, size, seen):   # the primary tree, breadth first enough
    if lba in seen: return
    seen.add(lba)
    for i, off in enumerate(records(lba, size)):
        yield off
        if i >= 2 and d[off + 25] & 2:
            yield from walk(struct.unpack_from('<I', d, off + 2)[0], struct.unpack_from('<I', d, off + 10)[0], seen)
def entries(off):            # SUSP 4: entries of a record's System Use field
    n, fl = d[off], d[off + 32]
    p = off + 33 + fl + (0 if fl % 2 else 1)
    while p + 4 <= off + n and d[p + 2] >= 4:
        yield bytes(d[p:p + 2]), p
        p += d[p + 2]
root = 16 * S + 156
rl, rs = struct.unpack_from('<I', d, root + 2)[0], struct.unpack_from('<I', d, root + 10)[0]
def patch():
    if mode == 'catalog-past-end':  # El Torito 1.0 2.0: catalog sector at 0x47 of the boot record
        struct.pack_into('<I', d, 17 * S + 0x47, len(d) // S + 50)
        return True
    for off in walk(rl, rs, set()):
        for sig, p in entries(off):
            if mode == 'ce-outside' and sig == b'CE':    # SUSP 5.1: block at 4
                set733(p + 4, len(d) // S + 100); return True
            if mode == 'ce-self' and sig == b'CE':       # ... offset at 12, length at 20
                set733(p + 4, off // S); set733(p + 12, off % S); set733(p + 20, d[off]); return True
            if mode == 'reloc-loop' and sig == b'CL':    # RRIP 4.1.5.1: block at 4
                set733(p + 4, rl); return True
            if mode == 'zisofs-overflow' and sig == b'ZF':
                lba = struct.unpack_from('<I', d, off + 2)[0]
                struct.pack_into('<I', d, lba * S + 8, 0xffffffff)   # header: uncompressed size
                struct.pack_into('<I', d, lba * S + 16, 0xfffffff0)  # first block pointer
                return True
    return False
assert patch(), mode
open(out, 'wb').write(d)
EOF
}
craft ce-outside "$WORK/geniso.iso" "$WORK/h-ce-outside.iso"
craft ce-self "$WORK/geniso.iso" "$WORK/h-ce-self.iso"
craft reloc-loop "$WORK/geniso.iso" "$WORK/h-reloc-loop.iso"
craft zisofs-overflow "$WORK/zisofs.iso" "$WORK/h-zisofs.iso"
craft catalog-past-end "$WORK/fd144.iso" "$WORK/h-catalog.iso"
DIGEST=$(catalog_digest "$STORE")
PACKS=$(pack_bytes "$STORE")
hostile_case() { # REGEX ISO
	local t0 ms
	t0=$(date +%s%N)
	expect_fail_with "$1" -- tsm "$STORE" content add --kind package --name bad "$2"
	ms=$((($(date +%s%N) - t0) / 1000000))
	note "$(basename "$2"): refused in $ms ms"
	((ms < 1000)) || fail "$(basename "$2") took $ms ms to refuse (more than a second)"
	grep -q -F "$2" "$LAST_STDERR" || fail "the message does not name the file $2: $(cat "$LAST_STDERR")"
	assert_eq "$(catalog_digest "$STORE")" "$DIGEST" "catalog changed by a failed import of $2"
	assert_eq "$(pack_bytes "$STORE")" "$PACKS" "packs changed by a failed import of $2"
}
hostile_case 'continuation area \(SUSP CE\) outside the image' "$WORK/h-ce-outside.iso"
hostile_case 'continuation area \(SUSP CE\) that points at the record itself' "$WORK/h-ce-self.iso"
hostile_case 'Rock Ridge relocation loop' "$WORK/h-reloc-loop.iso"
hostile_case "damaged zisofs data" "$WORK/h-zisofs.iso"
hostile_case 'El Torito boot catalog \(sector [0-9]+\) is past the end of the image' "$WORK/h-catalog.iso"

verify_ok "$STORE"
pass
