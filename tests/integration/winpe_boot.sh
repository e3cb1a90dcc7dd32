#!/usr/bin/env bash
# Boot images as Configuration Manager has them (issue 14): a WinPE-shaped
# boot.wim (tools/make-winpe-demo.sh: files at Windows PE's real paths, a
# nasm etfsboot.com and a GRUB efisys.bin that print banners) becomes
# capture, bootable and stand-alone media that boot from the mount under
# SeaBIOS and OVMF as a CD, and under OVMF as a USB disk.  xorriso reports
# the El Torito entries oscdimg -bootdata:2#p0,e,b<etfsboot>#pEF,e,b<efisys>
# writes; sources/boot.wim is the imported WIM byte for byte and
# wimlib-imagex verify accepts it.  A WIM without boot files, boot images of
# architectures tsmedia cannot boot, and a BIOS entry for an arm64 image are
# refused with the store and catalog unchanged.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

FIX=$(dirname "$0")/../../../shared/fixtures/task-sequences
F6=$FIX/mdt-template_autopilot-existing-devices_drfiles.xml
[[ -f $F6 ]] || skip "task sequence fixture missing: $F6 (../shared/fixtures/task-sequences beside the project)"
fs_require
for t in nasm wimlib-imagex qemu-system-x86_64 grub-mkstandalone mkfs.fat mcopy xorriso; do
	command -v "$t" >/dev/null ||
		skip "$t is not installed (Debian: nasm wimtools qemu-system-x86 grub-efi-amd64-bin grub-common dosfstools mtools xorriso)"
done
[[ -f /usr/share/ovmf/OVMF.fd ]] || skip "OVMF is not installed (Debian: ovmf)"
root=$(cd "$(dirname "$0")/../.." && pwd)
OVMF=/usr/share/ovmf/OVMF.fd
BIOS_BANNER="tsmedia-winpe: etfsboot.com started by the BIOS"
CD_UEFI_BANNER="tsmedia-winpe: efisys.bin started by UEFI"
USB_UEFI_BANNER="tsmedia-winpe: bootx64.efi started by UEFI"

S=$WORK/store
init_store "$S" --site-code PS1
"$root/tools/make-winpe-demo.sh" "$WORK/boot.wim"
WIMSHA=$(sha "$WORK/boot.wim")

# ------------------------------------------------------------------ refusals
# refused NAME REGEX -- CMD...: CMD fails with REGEX; the store is unchanged.
refused() {
	local what=$1 re=$2 before packs
	shift 2
	check "refused: $what"
	before=$(catalog_digest "$S")
	packs=$(pack_bytes "$S")
	expect_fail_with "$re" "$@"
	assert_eq "$(catalog_digest "$S")" "$before" "the catalog after a refused $what"
	assert_eq "$(pack_bytes "$S")" "$packs" "the packs after a refused $what"
}
"$root/tools/make-winpe-demo.sh" "$WORK/noboot.wim" --no-boot-files
refused "WIM without boot files" \
	"noboot.wim: nothing was imported: image 1 holds no Windows PE boot files \(missing for BIOS boot: Windows/Boot/PCAT/bootmgr, .*Windows/Boot/DVD/PCAT/etfsboot.com; missing for UEFI boot: .*Windows/Boot/EFI/bootmgfw.efi" -- \
	tsm "$S" content add --kind boot-image --name noboot "$WORK/noboot.wim"
"$root/tools/make-winpe-demo.sh" "$WORK/ia64.wim" --arch 6
refused "boot image for Itanium" \
	"ia64.wim: nothing was imported: image 1 is a boot image for Itanium \(IA64\) \(WINDOWS/ARCH 6\): tsmedia makes boot media for x86, x64 and arm64 only" -- \
	tsm "$S" content add --kind boot-image --name ia64 "$WORK/ia64.wim"
"$root/tools/make-winpe-demo.sh" "$WORK/arm32.wim" --arch 5
refused "boot image for 32-bit ARM" "is a boot image for ARM \(32-bit\) \(WINDOWS/ARCH 5\)" -- \
	tsm "$S" content add --kind boot-image --name arm "$WORK/arm32.wim"

"$root/tools/make-winpe-demo.sh" "$WORK/mixed.wim" --efi-machine 0xaa64
refused "x64 boot image whose UEFI boot manager is an arm64 program" \
	"mixed.wim: nothing was imported: the image says x64, but its UEFI boot manager Windows/Boot/EFI/bootmgfw.efi is an arm64 program \(PE machine 0xaa64\): a boot image of another architecture" -- \
	tsm "$S" content add --kind boot-image --name mixed "$WORK/mixed.wim"

# ------------------------------------------------------------------ import
check "content add --kind boot-image keeps the WIM and reads its boot files to the media's paths"
BOOT=$(add_content "$S" --kind boot-image --name "WinPE x64" "$WORK/boot.wim")
show_json "$S" "$BOOT" "$WORK/boot.json"
python3 - "$WORK/boot.json" "$WIMSHA" <<'EOF' || fail "content show of the boot image"
import json, sys
d = json.load(open(sys.argv[1]))
files = {f['path']: f for f in d['files'] if f['type'] == 'file'}
want = ['bootmgr', 'bootmgr.efi', 'boot/bcd', 'boot/boot.sdi', 'boot/etfsboot.com',
        'boot/fonts/segmono_boot.ttf', 'boot/fonts/wgl4_boot.ttf', 'efi/boot/bootx64.efi',
        'efi/microsoft/boot/bcd', 'efi/microsoft/boot/efisys.bin',
        'efi/microsoft/boot/efisys_noprompt.bin', 'efi/microsoft/boot/fonts/segmono_boot.ttf',
        'efi/microsoft/boot/fonts/wgl4_boot.ttf', 'sources/boot.wim']
assert sorted(files) == sorted(want), sorted(files)
assert files['sources/boot.wim']['sha256'] == sys.argv[2], files['sources/boot.wim']
assert d['architecture'] == 'x64', d['architecture']
assert d['client'] == 'sms/bin/x64/TsmBootstrap.exe', d['client']
boot = sorted((b['platform'], b['emulation'], b['load_size'], b['path']) for b in d['boot'])
assert boot == [('bios', 0, 8, 'boot/etfsboot.com'), ('uefi', 0, 1, 'efi/microsoft/boot/efisys.bin')], boot
EOF
tsm "$S" content show "$BOOT" >"$WORK/boot.txt"
grep -q '^Architecture: x64$' "$WORK/boot.txt" || fail "content show does not say the architecture: $(cat "$WORK/boot.txt")"
# The boot files are the WIM's own bytes, read out by wimlib.
mkdir -p "$WORK/ref"
wimlib-imagex extract "$WORK/boot.wim" 1 /Windows/Boot --dest-dir="$WORK/ref" --no-acls >/dev/null
for pair in "bootmgr:PCAT/bootmgr" "boot/etfsboot.com:DVD/PCAT/etfsboot.com" \
	"efi/boot/bootx64.efi:EFI/bootmgfw.efi" "efi/microsoft/boot/efisys.bin:DVD/EFI/en-US/efisys.bin"; do
	tsm "$S" content cat "$BOOT" "${pair%%:*}" >"$WORK/got"
	cmp -s "$WORK/got" "$WORK/ref/Boot/${pair#*:}" || fail "${pair%%:*} is not Windows/Boot/${pair#*:} of the WIM"
done
verify_ok "$S"

check "a WIM of several images: --index names the one it boots"
cp "$WORK/boot.wim" "$WORK/multi.wim"
mkdir -p "$WORK/second/Windows"
echo second >"$WORK/second/Windows/readme.txt"
wimlib-imagex append "$WORK/second" "$WORK/multi.wim" "Second image" >/dev/null
refused "several images without --index" \
	"multi.wim holds 2 images: name the boot image with --index N \(the WIM boots image 1\)" -- \
	tsm "$S" content add --kind boot-image --name multi "$WORK/multi.wim"
refused "--index of an image the WIM does not boot" \
	"multi.wim: nothing was imported: image 2 is not the image the WIM boots \(its boot index is 1\)" -- \
	tsm "$S" content add --kind boot-image --name multi --index 2 "$WORK/multi.wim"
MULTI=$(add_content "$S" --kind boot-image --name multi --index 1 "$WORK/multi.wim")
tsm "$S" content cat "$MULTI" sources/boot.wim >"$WORK/multi-got.wim"
assert_eq "$(sha "$WORK/multi-got.wim")" "$(sha "$WORK/multi.wim")" "sources/boot.wim of a two-image WIM"
tsm "$S" content cat "$MULTI" boot/etfsboot.com | cmp -s - "$WORK/ref/Boot/DVD/PCAT/etfsboot.com" ||
	fail "the boot files of --index 1 are not image 1's"

check "a WIM without the Configuration Manager client: media create warns"
"$root/tools/make-winpe-demo.sh" "$WORK/noclient.wim" --no-client
NOCLIENT=$(add_content "$S" --kind boot-image --name "WinPE without client" "$WORK/noclient.wim")
tsm "$S" media create --type capture --name nocl --boot-image "$NOCLIENT" >/dev/null 2>"$WORK/nocl.err" ||
	fail "capture media from a boot image without the client: $(cat "$WORK/nocl.err")"
grep -q "boot image $NOCLIENT has no Configuration Manager client (sms/bin/.../TsmBootstrap.exe): the media will start Windows PE but no task sequence" "$WORK/nocl.err" ||
	fail "no warning about the missing client: $(cat "$WORK/nocl.err")"
tsm "$S" media rm nocl >/dev/null

check "an arm64 boot image: UEFI only; a BIOS entry is refused"
"$root/tools/make-winpe-demo.sh" "$WORK/arm64.wim" --arch 12
ARM=$(add_content "$S" --kind boot-image --name "WinPE arm64" "$WORK/arm64.wim")
show_json "$S" "$ARM" "$WORK/arm.json"
python3 - "$WORK/arm.json" <<'EOF' || fail "content show of the arm64 boot image"
import json, sys
d = json.load(open(sys.argv[1]))
paths = {f['path'] for f in d['files']}
assert d['architecture'] == 'arm64', d['architecture']
assert 'efi/boot/bootaa64.efi' in paths and 'efi/boot/bootx64.efi' not in paths, sorted(paths)
assert [b['platform'] for b in d['boot']] == ['uefi'], d['boot']
EOF
refused "BIOS boot entry for an arm64 boot image" \
	"media 'armbios' \(capture\): boot image $ARM is arm64: a BIOS boot entry \(x86 firmware\) cannot start it" -- \
	tsm "$S" media create --type capture --name armbios --boot-image "$ARM" --bios-boot boot/etfsboot.com

check "a boot image without boot entries refuses capture media, naming what is missing"
mkdir -p "$WORK/plain/sources"
echo "not a boot image" >"$WORK/plain/readme.txt"
PLAIN=$(add_content "$S" --kind boot-image --name plain "$WORK/plain")
refused "capture media from a boot image with no boot entry" \
	"media 'plaincap' \(capture\): boot image $PLAIN has no BIOS or UEFI boot entry: it holds neither boot/etfsboot.com \(BIOS\) nor efi/microsoft/boot/efisys.bin \(UEFI\)" -- \
	tsm "$S" media create --type capture --name plaincap --boot-image "$PLAIN"

# ------------------------------------------------------------------ media
tsm "$S" site add --code PS1 --type primary --mp http://mp1.contoso.com \
	--http-port 80 --https-port 443 --iis-ssl-state 0 --signing-certificate 3082ABCD >/dev/null
TS=$(tsm "$S" ts import --boot-image "$BOOT" "$F6")
create() {
	local name=$1 rc=0
	shift
	tsm "$S" media create --name "$name" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
	((rc == 0)) || fail "media create --name $name $* exited $rc: $(cat "$WORK/$name.err")"
	if grep -Eq "no Configuration Manager client|CD boot code|will not boot" "$WORK/$name.err"; then
		fail "media $name warned about what its boot image has: $(cat "$WORK/$name.err")"
	fi
}
BOOTABLE=(--type bootable --boot-image "$BOOT" --site PS1 --management-point http://mp1.contoso.com
	--self-signed-certificate --certificate-valid-from 2025-01-01 --certificate-valid-until 2035-01-01
	--no-password)
check "capture, bootable and stand-alone media, as CD/DVD and as USB"
for form in cd-dvd usb; do
	sfx=${form%%-*}
	create "cap-$sfx" --type capture --boot-image "$BOOT" --media "$form"
	create "boot-$sfx" "${BOOTABLE[@]}" --media "$form"
	create "sa-$sfx" --type standalone --task-sequence "$TS" --no-password --media "$form"
done

check "media show prints each volume's boot entries and the architecture"
tsm "$S" media show cap-cd >"$WORK/show.txt"
grep -q '^Architecture: x64' "$WORK/show.txt" || fail "media show: no architecture: $(cat "$WORK/show.txt")"
grep -Eq 'cap-cd.iso +El Torito BIOS \(platform 0x00\), no emulation, load size 8: boot/etfsboot.com' "$WORK/show.txt" ||
	fail "media show: no BIOS entry: $(cat "$WORK/show.txt")"
grep -Eq 'cap-cd.iso +El Torito UEFI \(platform 0xEF\), no emulation, load size 1 \(to the image.s end\): efi/microsoft/boot/efisys.bin' "$WORK/show.txt" ||
	fail "media show: no UEFI entry: $(cat "$WORK/show.txt")"
tsm "$S" media show cap-usb >"$WORK/show-usb.txt"
grep -Eq 'cap-usb.img +UEFI from the FAT partition: efi/boot/bootx64.efi' "$WORK/show-usb.txt" ||
	fail "media show of USB media: $(cat "$WORK/show-usb.txt")"

check "prestaged media carry the boot image as the other media do: sources/boot.wim and the boot files"
mkdir -p "$WORK/os/Windows/System32"
randfile "$WORK/os/Windows/System32/ntoskrnl.exe" 300000
wimlib-imagex capture "$WORK/os" "$WORK/os.wim" "Windows" >/dev/null
OS=$(add_content "$S" --kind os-image --name os "$WORK/os.wim")
create pre --type prestaged --boot-image "$BOOT" --os-image "$OS" --site PS1 \
	--management-point http://mp1.contoso.com --no-password

M=$WORK/mnt
fs_start "$S" "$M"
rm -rf "$WORK/pre"
wimlib-imagex extract "$M/pre.wim" 1 /sources/boot.wim /boot/etfsboot.com /bootmgr --dest-dir="$WORK/pre" \
	--no-acls >/dev/null || fail "wimlib-imagex cannot extract the boot image from the prestaged WIM"
assert_eq "$(sha "$WORK/pre/boot.wim")" "$WIMSHA" "sources/boot.wim in the prestaged WIM"
cmp -s "$WORK/pre/etfsboot.com" "$WORK/ref/Boot/DVD/PCAT/etfsboot.com" || fail "prestaged: boot/etfsboot.com"
cmp -s "$WORK/pre/bootmgr" "$WORK/ref/Boot/PCAT/bootmgr" || fail "prestaged: bootmgr"
for kind in cap boot sa; do
	iso=$M/$kind-cd.iso
	[[ -f $iso ]] || fail "$kind-cd.iso is not on the mount"
	check "$kind-cd.iso: El Torito as oscdimg writes it; sources/boot.wim is the WIM"
	xorriso -indev "$iso" -report_el_torito plain 2>/dev/null >"$WORK/$kind.eltorito"
	grep -Eq '^El Torito boot img :   1  BIOS  y   none  0x0000  0x00      8 ' "$WORK/$kind.eltorito" ||
		fail "$kind: no BIOS no-emulation entry loading 8 sectors: $(cat "$WORK/$kind.eltorito")"
	# oscdimg's 0xEF entry says 1 sector: UEFI reads the FAT image to its own end.
	grep -Eq "^El Torito boot img :   2  UEFI  y   none  0x0000  0x00      1 " "$WORK/$kind.eltorito" ||
		fail "$kind: no UEFI (0xEF) no-emulation entry of 1 sector: $(cat "$WORK/$kind.eltorito")"
	grep -q '^El Torito img path :   1  /boot/etfsboot.com$' "$WORK/$kind.eltorito" ||
		fail "$kind: the BIOS entry is not boot/etfsboot.com: $(cat "$WORK/$kind.eltorito")"
	grep -q '^El Torito img path :   2  /efi/microsoft/boot/efisys.bin$' "$WORK/$kind.eltorito" ||
		fail "$kind: the UEFI entry is not efi/microsoft/boot/efisys.bin: $(cat "$WORK/$kind.eltorito")"
	rm -rf "$WORK/x"
	mkdir -p "$WORK/x"
	xorriso -osirrox on -indev "$iso" -extract /sources/boot.wim "$WORK/x/boot.wim" \
		-extract /bootmgr "$WORK/x/bootmgr" -extract /boot/bcd "$WORK/x/bcd" \
		-extract /efi/microsoft/boot/bcd "$WORK/x/efibcd" 2>/dev/null
	assert_eq "$(sha "$WORK/x/boot.wim")" "$WIMSHA" "$kind: sources/boot.wim's SHA-256"
	wimlib-imagex verify "$WORK/x/boot.wim" >/dev/null || fail "$kind: wimlib-imagex verify refuses sources/boot.wim"
	cmp -s "$WORK/x/bootmgr" "$WORK/ref/Boot/PCAT/bootmgr" || fail "$kind: bootmgr"
	cmp -s "$WORK/x/bcd" "$WORK/ref/Boot/DVD/PCAT/BCD" || fail "$kind: boot/bcd"
	cmp -s "$WORK/x/efibcd" "$WORK/ref/Boot/DVD/EFI/BCD" || fail "$kind: efi/microsoft/boot/bcd"

	usb=$M/$kind-usb.img
	check "$kind-usb.img: sources/boot.wim and efi/boot/bootx64.efi on the FAT partition"
	off=$(python3 - "$usb" <<'EOF'
import struct, sys
with open(sys.argv[1], 'rb') as f:
    mbr = f.read(512)
# MBR partition entry 1 at 446: its first LBA at offset 8 (little-endian).
print(struct.unpack_from('<I', mbr, 446 + 8)[0] * 512)
EOF
	)
	MTOOLS_SKIP_CHECK=1 mcopy -n -i "$usb@@$off" ::/sources/boot.wim "$WORK/x/usb-boot.wim"
	assert_eq "$(sha "$WORK/x/usb-boot.wim")" "$WIMSHA" "$kind-usb: sources/boot.wim's SHA-256"
	MTOOLS_SKIP_CHECK=1 mcopy -n -i "$usb@@$off" ::/efi/boot/bootx64.efi "$WORK/x/usb-bootx64.efi"
	cmp -s "$WORK/x/usb-bootx64.efi" "$WORK/ref/Boot/EFI/bootmgfw.efi" ||
		fail "$kind-usb: efi/boot/bootx64.efi is not the WIM's Windows/Boot/EFI/bootmgfw.efi"
done

check "every media boots from the mount: SeaBIOS and OVMF as a CD, OVMF as a USB disk"
for kind in cap boot sa; do
	expect_boot "$kind-cd-seabios" "$BIOS_BANNER" -m 256 -cdrom "$M/$kind-cd.iso"
	expect_boot "$kind-cd-ovmf" "$CD_UEFI_BANNER" -m 256 -bios "$OVMF" -cdrom "$M/$kind-cd.iso"
	expect_boot "$kind-usb-ovmf" "$USB_UEFI_BANNER" -m 256 -bios "$OVMF" \
		-drive "file=$M/$kind-usb.img,format=raw,if=virtio,readonly=on"
done
fs_stop "$M"
verify_ok "$S"
pass
