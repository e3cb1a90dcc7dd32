#!/usr/bin/env bash
# Makes the tree of a small bootable "boot image" in DIR, from Debian's own
# boot loaders: isolinux for BIOS and a GRUB EFI application in a FAT image
# for UEFI.  Either prints a banner on the first serial port and powers the
# machine off, so it doubles as a boot test.
#
#   tools/make-boot-demo.sh DIR
#
# Needs: isolinux syslinux-common grub-efi-amd64-bin grub-common mtools dosfstools.
# Media made from DIR: --bios-boot isolinux/isolinux.bin --boot-load-size 4
#   --boot-info-table --uefi-boot efi/boot.img
set -euo pipefail
dir=${1:?usage: make-boot-demo.sh DIR}
mkdir -p "$dir/isolinux" "$dir/efi"

cp /usr/lib/ISOLINUX/isolinux.bin "$dir/isolinux/"
for m in ldlinux.c32 libcom32.c32 libutil.c32 poweroff.c32; do
	cp "/usr/lib/syslinux/modules/bios/$m" "$dir/isolinux/"
done
cat >"$dir/isolinux/isolinux.cfg" <<'CFG'
SERIAL 0 115200
SAY tsmedia-demo: booted under BIOS by isolinux
SAY tsmedia-demo: powering off
DEFAULT off
PROMPT 0
TIMEOUT 1
LABEL off
  COM32 poweroff.c32
CFG

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/grub.cfg" <<'CFG'
serial --unit=0 --speed=115200
terminal_output serial console
echo "tsmedia-demo: booted under UEFI by GRUB"
echo "tsmedia-demo: powering off"
halt
CFG
grub-mkstandalone -O x86_64-efi -o "$work/BOOTX64.EFI" --modules="serial halt echo" \
	--locales= --fonts= --themes= "boot/grub/grub.cfg=$work/grub.cfg"
# A FAT image just large enough for the loader, as the UEFI El Torito entry wants.
size_kib=$(( ($(stat -c %s "$work/BOOTX64.EFI") / 1024 + 512) / 256 * 256 + 256 ))
rm -f "$dir/efi/boot.img"
mkfs.fat -C -n TSMEFI "$dir/efi/boot.img" "$size_kib" >/dev/null
MTOOLS_SKIP_CHECK=1 mmd -i "$dir/efi/boot.img" ::/EFI ::/EFI/BOOT
MTOOLS_SKIP_CHECK=1 mcopy -i "$dir/efi/boot.img" "$work/BOOTX64.EFI" ::/EFI/BOOT/BOOTX64.EFI
# Deterministic times, so the demo media is the same on every run.
find "$dir" -exec touch -h -d '2026-01-01 00:00:00 UTC' {} +
