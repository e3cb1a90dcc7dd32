#!/usr/bin/env bash
# BIOS boot from a USB stick image: the boot image brings GRUB's MBR code
# (boot.img) and the core it loads from the sectors before the partition
# (core.img), made here with grub-mkimage as grub-install would; the stick
# boots under SeaBIOS as a USB disk and as an IDE disk, and fsck.fat and
# sfdisk are content with it.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

for t in grub-mkimage qemu-system-x86_64 fsck.fat sfdisk; do
	command -v "$t" >/dev/null || skip "$t is not installed"
done
[[ -f /usr/lib/grub/i386-pc/boot.img ]] || skip "GRUB's i386-pc images are not installed (grub-pc-bin)"

src=$WORK/boot
mkdir -p "$src/boot/grub/i386-pc"
cat >"$WORK/early.cfg" <<'CFG'
serial --unit=0 --speed=115200
terminal_output serial
echo "tsmedia-demo: booted under BIOS by GRUB from a stick"
echo "tsmedia-demo: powering off"
halt
CFG
grub-mkimage -O i386-pc -o "$src/boot/grub/i386-pc/core.img" -c "$WORK/early.cfg" \
	-p '(hd0,msdos1)/boot/grub' biosdisk part_msdos fat serial echo halt terminal
# boot.img as grub-install sets it for a hard disk: core at LBA 1, the BIOS
# drive, no floppy probe (GRUB_BOOT_MACHINE_DRIVE_CHECK becomes two NOPs).
python3 - /usr/lib/grub/i386-pc/boot.img "$src/boot/grub/i386-pc/boot.img" <<'PY'
import struct, sys
d = bytearray(open(sys.argv[1], 'rb').read())
d[0x5c:0x64] = struct.pack('<Q', 1)
d[0x64] = 0xff
d[0x66:0x68] = b'\x90\x90'
open(sys.argv[2], 'wb').write(d)
PY
echo "boot files for tsmedia's BIOS stick test" >"$src/README.txt"

store=$WORK/store
init_store "$store"
id=$(add_content "$store" --kind boot-image --name "grub stick" "$src")
tsm "$store" media create --type data --name stick --media usb --content "$id" \
	--usb-bios-mbr boot/grub/i386-pc/boot.img --usb-bios-core boot/grub/i386-pc/core.img >/dev/null
tsm "$store" media export stick -o "$WORK/stick.img"

check "the partition table: one active FAT32 partition at 1 MiB"
sfdisk -d "$WORK/stick.img" >"$WORK/sfdisk.txt"
grep -Eq 'start= *2048, .*type=c, bootable' "$WORK/sfdisk.txt" ||
	fail "unexpected partition table: $(cat "$WORK/sfdisk.txt")"
dd if="$WORK/stick.img" of="$WORK/part.img" bs=1M skip=1 status=none
fsck.fat -n "$WORK/part.img" >"$WORK/fsck.log" 2>&1 || fail "fsck.fat: $(tail -5 "$WORK/fsck.log")"
cmp -s <(dd if="$WORK/stick.img" bs=512 skip=1 count=$(( ($(stat -c %s "$src/boot/grub/i386-pc/core.img") + 511) / 512 )) status=none | head -c "$(stat -c %s "$src/boot/grub/i386-pc/core.img")") \
	"$src/boot/grub/i386-pc/core.img" || fail "core.img is not at LBA 1"

n=0
boots() { # QEMU-ARGS...
	n=$((n + 1))
	expect_boot "seabios-$n" "booted under BIOS by GRUB from a stick" -m 256 "$@"
}
check "SeaBIOS boots the stick as a USB disk and as an IDE disk"
boots -drive "if=none,id=stick,file=$WORK/stick.img,format=raw" -device qemu-xhci -device usb-storage,drive=stick
boots -drive "file=$WORK/stick.img,format=raw,if=ide"

check "boot code that does not fit before the partition is refused, the catalog unchanged"
head -c $((2 << 20)) /dev/zero >"$src/boot/big.img"
id2=$(add_content "$store" --kind boot-image --name "too big" "$src")
before=$(catalog_digest "$store")
expect_fail_with "big.img' is 2097152 bytes: it must fit" -- tsm "$store" media create --type data --name bad --media usb \
	--content "$id2" --usb-bios-mbr boot/grub/i386-pc/boot.img --usb-bios-core boot/big.img
assert_eq "$(catalog_digest "$store")" "$before" "catalog after the refused media"
pass
