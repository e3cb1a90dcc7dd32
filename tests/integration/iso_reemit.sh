#!/usr/bin/env bash
# An ISO made by another tool (xorriso: isolinux for BIOS, the EFI image held
# only as an appended partition, hybrid MBR/GPT), imported as content and
# re-emitted by `tsmedia mkiso` and as a data media, boots as the original
# did: BIOS and UEFI, from a CD and as a disk.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

for t in xorriso qemu-system-x86_64 grub-mkstandalone mkfs.fat mcopy; do
	command -v "$t" >/dev/null || skip "$t is not installed"
done
[[ -f /usr/lib/ISOLINUX/isohdpfx.bin && -f /usr/share/ovmf/OVMF.fd ]] ||
	skip "isolinux or OVMF is not installed"
root=$(cd "$(dirname "$0")/../.." && pwd)

"$root/tools/make-boot-demo.sh" "$WORK/boot"
mv "$WORK/boot/efi/boot.img" "$WORK/efi.img"
rmdir "$WORK/boot/efi"
xorriso -as mkisofs -quiet -o "$WORK/orig.iso" -J -R -V ORIGINAL \
	-b isolinux/isolinux.bin -c isolinux/boot.cat -no-emul-boot -boot-load-size 4 \
	-boot-info-table -isohybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin \
	-append_partition 2 0xef "$WORK/efi.img" \
	-eltorito-alt-boot -e --interval:appended_partition_2:all:: -no-emul-boot \
	-isohybrid-gpt-basdat "$WORK/boot"

n=0
boots() { # FIRMWARE BANNER QEMU-ARGS...
	local firmware=$1 banner=$2 fw=()
	shift 2
	[[ $firmware == ovmf ]] && fw=(-bios /usr/share/ovmf/OVMF.fd)
	n=$((n + 1))
	expect_boot "$firmware-$n" "$banner" -m 256 "${fw[@]}" "$@"
}
bios="booted under BIOS by isolinux"
uefi="booted under UEFI by GRUB"
check_boots() { # IMAGE
	boots seabios "$bios" -cdrom "$1"
	boots ovmf "$uefi" -cdrom "$1"
	cp "$1" "$WORK/disk.img"
	boots seabios "$bios" -drive "file=$WORK/disk.img,format=raw,if=ide"
	boots ovmf "$uefi" -drive "file=$WORK/disk.img,format=raw,if=ide"
}

check "the original boots (the judge of the judges)"
check_boots "$WORK/orig.iso"

store=$WORK/store
init_store "$store"
id=$(add_content "$store" --kind boot-image --name original "$WORK/orig.iso")
show=$(tsm "$store" content show "$id" --json)
printf '%s' "$show" | grep -q '"hidden":true' || fail "the appended EFI image was not kept as a hidden boot image: $show"

check "mkiso of the imported content boots the same ways"
tsm "$store" mkiso -o "$WORK/re.iso" "$id" 2>/dev/null
xorriso -indev "$WORK/re.iso" -report_el_torito plain 2>&1 | grep -qiE "SORRY|FAILURE" &&
	fail "xorriso complains about the re-emitted image"
check_boots "$WORK/re.iso"

check "a data media of it boots the same ways"
tsm "$store" media create --type data --name again --content "$id" >/dev/null
tsm "$store" media export again -o "$WORK/again.iso"
check_boots "$WORK/again.iso"
pass
