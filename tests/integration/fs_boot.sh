#!/usr/bin/env bash
# Booting straight from the mount: QEMU with SeaBIOS and with OVMF boots the
# mounted ISO as a CD; `dd` of the mounted file to a disk image boots as a
# disk under both.  The boot image is made from Debian's own loaders by
# tools/make-boot-demo.sh and prints a banner on the serial port.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[[ -e /dev/fuse ]] || skip "/dev/fuse is missing"
for t in fusermount3 qemu-system-x86_64 grub-mkstandalone mkfs.fat mcopy; do
	command -v "$t" >/dev/null || skip "$t is not installed"
done
[[ -f /usr/lib/ISOLINUX/isolinux.bin && -f /usr/share/ovmf/OVMF.fd ]] ||
	skip "isolinux or OVMF is not installed"
TSMEDIAFS=${TSMEDIAFS:-$(dirname "$TSMEDIA")/../fs/tsmediafs}
root=$(cd "$(dirname "$0")/../.." && pwd)

store=$WORK/store
mnt=$WORK/mnt
mkdir -p "$mnt"
init_store "$store"
"$root/tools/make-boot-demo.sh" "$WORK/boot"
id=$(add_content "$store" --kind boot-image --name "boot demo" "$WORK/boot")
tsm "$store" media create --type data --name boot --content "$id" \
	--bios-boot isolinux/isolinux.bin --boot-load-size 4 --boot-info-table \
	--uefi-boot efi/boot.img --hybrid-mbr /usr/lib/ISOLINUX/isohdpfx.bin --hybrid-gpt >/dev/null
"$TSMEDIAFS" --store "$store" "$mnt" -f 2>>"$WORK/daemon.log" &
daemon=$!
at_exit 'fusermount3 -u "$mnt"; kill $daemon'
for _ in $(seq 100); do mountpoint -q "$mnt" && break; sleep 0.1; done
[[ -f $mnt/boot.iso ]] || fail "boot.iso is not on the mount"

# boots FIRMWARE BANNER QEMU-ARGS...: the serial console shows BANNER.
n=0
boots() {
	local firmware=$1 banner=$2
	shift 2
	local fw=()
	[[ $firmware == ovmf ]] && fw=(-bios /usr/share/ovmf/OVMF.fd)
	n=$((n + 1))
	expect_boot "$firmware-$n" "$banner" -m 256 "${fw[@]}" "$@"
}

bios="booted under BIOS by isolinux"
uefi="booted under UEFI by GRUB"
check "the mounted ISO boots as a CD under SeaBIOS and OVMF"
boots seabios "$bios" -cdrom "$mnt/boot.iso"
boots ovmf "$uefi" -cdrom "$mnt/boot.iso"

check "dd of the mounted file to a disk image boots as a disk under both"
dd if="$mnt/boot.iso" of="$WORK/disk.img" bs=4M status=none
boots seabios "$bios" -drive "file=$WORK/disk.img,format=raw,if=ide"
boots ovmf "$uefi" -drive "file=$WORK/disk.img,format=raw,if=ide"
pass
