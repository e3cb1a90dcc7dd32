#!/usr/bin/env bash
# The boot paths of tsmedia mkiso, judged by QEMU: isolinux from -cdrom under
# SeaBIOS (El Torito no-emulation + boot info table), a GRUB EFI image from
# -cdrom under OVMF (El Torito platform 0xEF), and the hybrid MBR/GPT image
# as a raw disk under both.  Each boot must print its banner on the serial
# port.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

ISOLINUX_BIN=/usr/lib/ISOLINUX/isolinux.bin
ISOHDPFX=/usr/lib/ISOLINUX/isohdpfx.bin
LDLINUX=/usr/lib/syslinux/modules/bios/ldlinux.c32
OVMF=/usr/share/ovmf/OVMF.fd
for t in qemu-system-x86_64 grub-mkstandalone mkfs.fat mmd mcopy; do
	command -v "$t" >/dev/null ||
		skip "$t is not installed (Debian: qemu-system-x86 grub-common grub-efi-amd64-bin dosfstools mtools)"
done
for f in "$ISOLINUX_BIN" "$ISOHDPFX" "$LDLINUX" "$OVMF"; do
	[[ -f $f ]] || skip "$f is missing (Debian: isolinux syslinux-common ovmf)"
done
[[ -d /usr/lib/grub/x86_64-efi ]] || skip "GRUB's x86_64-efi modules are missing (Debian: grub-efi-amd64-bin)"

# TCG: this machine's /dev/kvm fails on isolinux's real-mode code
# ("KVM internal error ... emulation failure"); TSM_QEMU_ACCEL=kvm to try it.
ACCEL=${TSM_QEMU_ACCEL:-tcg}

STORE=$WORK/store
init_store "$STORE"

# ------------------------------------------------------------------ the tree
SRC=$WORK/src
mkdir -p "$SRC/isolinux" "$SRC/EFI/BOOT" "$SRC/docs"
cp "$ISOLINUX_BIN" "$LDLINUX" "$SRC/isolinux/"
# isolinux 6.04 does not copy SAY or DISPLAY text to the serial port, but it
# does print "Loading NAME..." for the DEFAULT it boots: the name comes from
# a second file it must read through our ISO 9660 tree.
cat >"$SRC/isolinux/isolinux.cfg" <<'EOF'
SERIAL 0 115200
PROMPT 0
TIMEOUT 10
INCLUDE tsmedia.cfg
EOF
echo "DEFAULT TSMEDIA-ISOLINUX-OK" >"$SRC/isolinux/tsmedia.cfg"
echo "a file next to the boot files" >"$SRC/docs/readme.txt"

cat >"$WORK/grub.cfg" <<'EOF'
insmod serial
serial --unit=0 --speed=115200
terminal_input serial
terminal_output serial
echo TSMEDIA-GRUB-OK
sleep 1
halt
EOF
grub-mkstandalone -O x86_64-efi -o "$WORK/BOOTX64.EFI" \
	--install-modules="serial terminal echo halt sleep normal configfile memdisk tar" \
	--locales= --fonts= --themes= "boot/grub/grub.cfg=$WORK/grub.cfg" ||
	fail "grub-mkstandalone failed"
mkfs.fat -C "$SRC/efi.img" 4096 >/dev/null
mmd -i "$SRC/efi.img" ::/EFI ::/EFI/BOOT
mcopy -i "$SRC/efi.img" "$WORK/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
# The loose copy on the ISO is what a USB stick's firmware would not need,
# but Windows-style media carry it too.
cp "$WORK/BOOTX64.EFI" "$SRC/EFI/BOOT/BOOTX64.EFI"

ID=$(add_content "$STORE" --kind boot-image --name bootable "$SRC")

mkiso() {
	tsm "$STORE" mkiso "$@" >"$WORK/.mkiso.out" 2>"$WORK/.mkiso.err" || {
		cat "$WORK/.mkiso.err" >&2
		fail "tsmedia mkiso $* failed"
	}
}

# boot NAME BANNER QEMU-ARGS...: the banner on the serial port within
# BOOT_TIMEOUT seconds, on a q35 machine with no default devices.
boot() {
	local name=$1 banner=$2
	shift 2
	expect_boot "$name" "$banner" -machine q35,accel="$ACCEL" -m 512 -nodefaults "$@"
}

# ------------------------------------------------------------------ CD boots
check "El Torito BIOS (isolinux, boot info table) boots from -cdrom under SeaBIOS"
mkiso -o "$WORK/bios.iso" -V TSMBOOT --bios-boot isolinux/isolinux.bin --boot-load-size 4 \
	--boot-info-table "$ID"
xorriso -indev "$WORK/bios.iso" -report_el_torito plain >"$WORK/eltorito.bios" 2>&1 ||
	fail "xorriso cannot read the El Torito catalog: $(tail -5 "$WORK/eltorito.bios")"
grep -E 'SORRY|FAILURE|FATAL' "$WORK/eltorito.bios" && fail "xorriso complained about the BIOS image"
grep -q "BIOS.*y.*none.*0x0000.*0x00.*4" "$WORK/eltorito.bios" ||
	fail "xorriso does not report a bootable no-emulation BIOS entry loading 4 sectors: $(cat "$WORK/eltorito.bios")"
boot bios-cdrom "Loading TSMEDIA-ISOLINUX-OK" -cdrom "$WORK/bios.iso" -boot d

check "El Torito UEFI (platform 0xEF, FAT image) boots from -cdrom under OVMF"
mkiso -o "$WORK/uefi.iso" -V TSMBOOT --uefi-boot efi.img "$ID"
xorriso -indev "$WORK/uefi.iso" -report_el_torito plain >"$WORK/eltorito.uefi" 2>&1 ||
	fail "xorriso cannot read the El Torito catalog"
grep -q "UEFI" "$WORK/eltorito.uefi" || fail "xorriso reports no UEFI entry: $(cat "$WORK/eltorito.uefi")"
boot uefi-cdrom TSMEDIA-GRUB-OK -bios "$OVMF" -cdrom "$WORK/uefi.iso"

# ------------------------------------------------------------------ hybrid
check "hybrid image (isohdpfx MBR + GPT): both El Torito entries, MBR and GPT as xorriso sees them"
mkiso -o "$WORK/hybrid.iso" -V TSMBOOT --bios-boot isolinux/isolinux.bin --boot-info-table \
	--uefi-boot efi.img --hybrid-mbr "$ISOHDPFX" --hybrid-gpt "$ID"
xorriso -indev "$WORK/hybrid.iso" -report_el_torito plain -report_system_area plain \
	>"$WORK/hybrid.report" 2>&1 || fail "xorriso cannot read the hybrid image"
grep -E 'SORRY|FAILURE|FATAL' "$WORK/hybrid.report" && fail "xorriso complained about the hybrid image"
grep -q "GPT" "$WORK/hybrid.report" || fail "xorriso sees no GPT: $(cat "$WORK/hybrid.report")"
grep -q "UEFI" "$WORK/hybrid.report" || fail "xorriso sees no UEFI boot entry"
check "the hybrid image boots as a disk under SeaBIOS (MBR code -> isolinux)"
boot hybrid-disk-bios "Loading TSMEDIA-ISOLINUX-OK" -drive "file=$WORK/hybrid.iso,format=raw,if=ide,media=disk,snapshot=on"
check "the hybrid image boots as a disk under OVMF (GPT EFI System partition)"
boot hybrid-disk-uefi TSMEDIA-GRUB-OK -bios "$OVMF" \
	-drive "file=$WORK/hybrid.iso,format=raw,if=ide,media=disk,snapshot=on"
check "the hybrid image still boots from -cdrom under both"
boot hybrid-cdrom-bios "Loading TSMEDIA-ISOLINUX-OK" -cdrom "$WORK/hybrid.iso" -boot d
boot hybrid-cdrom-uefi TSMEDIA-GRUB-OK -bios "$OVMF" -cdrom "$WORK/hybrid.iso"

pass
