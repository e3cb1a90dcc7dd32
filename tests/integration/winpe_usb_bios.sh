#!/usr/bin/env bash
# A Windows PE boot image's USB media boot under BIOS as a disk (issue 14):
# tsmedia's own MBR code (core/image/boot/mbr.asm) runs the active FAT32
# partition's boot sector, whose code (vbr.asm) loads bootmgr whole to
# 2000:0000 and runs it with DL the drive and the boot sector at 0000:7C00.
# The stand-in bootmgr (tools/make-winpe-demo.sh) prints its banner only
# when it was given all of that.  Capture and bootable USB media boot so
# from the mount under SeaBIOS; `media show` names the entry; a GPT stick
# gets no BIOS code (and says so when booted); the committed boot code is
# what its nasm sources assemble to.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

fs_require
for t in nasm wimlib-imagex qemu-system-x86_64 grub-mkstandalone mkfs.fat mcopy; do
	command -v "$t" >/dev/null ||
		skip "$t is not installed (Debian: nasm wimtools qemu-system-x86 grub-efi-amd64-bin grub-common dosfstools mtools)"
done
root=$(cd "$(dirname "$0")/../.." && pwd)
BANNER="tsmedia-winpe: bootmgr started by the volume boot record"

check "core/image/bios_boot_code.h is what mbr.asm and vbr.asm assemble to"
"$root/tools/gen-bios-boot.sh" "$WORK/bios_boot_code.h"
cmp -s "$WORK/bios_boot_code.h" "$root/core/image/bios_boot_code.h" ||
	fail "the committed boot code differs from its sources: run tools/gen-bios-boot.sh"

S=$WORK/store
init_store "$S" --site-code PS1
"$root/tools/make-winpe-demo.sh" "$WORK/boot.wim"
BOOT=$(add_content "$S" --kind boot-image --name "WinPE x64" "$WORK/boot.wim")
tsm "$S" site add --code PS1 --type primary --mp http://mp1.contoso.com \
	--http-port 80 --https-port 443 --iis-ssl-state 0 --signing-certificate 3082ABCD >/dev/null
create() {
	local name=$1
	shift
	tsm "$S" media create --name "$name" "$@" >/dev/null 2>"$WORK/$name.err" ||
		fail "media create --name $name $*: $(cat "$WORK/$name.err")"
}
create cap --type capture --boot-image "$BOOT" --media usb
create boot --type bootable --boot-image "$BOOT" --site PS1 --management-point http://mp1.contoso.com \
	--self-signed-certificate --certificate-valid-from 2025-01-01 --certificate-valid-until 2035-01-01 \
	--no-password --media usb
create gpt --type capture --boot-image "$BOOT" --media usb --partition-table gpt

check "media show names the BIOS entry of MBR sticks, and none on a GPT stick"
tsm "$S" media show cap >"$WORK/show.txt"
grep -Eq 'cap.img +BIOS from the MBR \(tsmedia.s MBR and boot sector code\): bootmgr' "$WORK/show.txt" ||
	fail "media show: no BIOS entry: $(cat "$WORK/show.txt")"
tsm "$S" media show gpt >"$WORK/show-gpt.txt"
grep -q 'BIOS from the MBR' "$WORK/show-gpt.txt" && fail "media show of a GPT stick names a BIOS entry"

M=$WORK/mnt
fs_start "$S" "$M"
check "the MBR's active partition is the FAT32 volume, whose boot sector holds where bootmgr lies"
python3 - "$M/cap.img" <<'EOF' || fail "the stick's MBR or boot sector"
import struct, sys
f = open(sys.argv[1], 'rb')
mbr = f.read(512)
assert mbr[510:512] == b'\x55\xaa'
e = mbr[446:462]
assert e[0] == 0x80 and e[4] == 0x0C, e.hex()
start = struct.unpack_from('<I', e, 8)[0]
f.seek(start * 512)
vbr = f.read(512)
assert vbr[82:90] == b'FAT32   ', vbr[82:90]
lba, n = struct.unpack_from('<IH', vbr, 500)
assert n == (102400 + 511) // 512, n
f.seek((start + lba) * 512)
data = f.read(n * 512)
assert data[102396:102400] == b'TSMB', 'bootmgr is not where the boot sector says'
EOF
MTOOLS_SKIP_CHECK=1 mdir -i "$M/cap.img@@1M" ::/ >/dev/null 2>&1 ||
	note "(mdir could not read the volume at 1 MiB: the offset check above is the judge)"

check "capture and bootable USB media boot bootmgr from the mount under SeaBIOS, as a disk"
for m in cap boot; do
	expect_boot "$m-usb-seabios" "$BANNER" -m 256 -drive "file=$M/$m.img,format=raw,if=virtio,readonly=on"
done
check "a GPT stick has no BIOS boot code, and says so"
expect_boot "gpt-usb-seabios" "This disk has no BIOS boot code" -m 256 \
	-drive "file=$M/gpt.img,format=raw,if=virtio,readonly=on"
banner_in_log "$WORK/boot.gpt-usb-seabios.serial" "$BANNER" && fail "the GPT stick started bootmgr"
fs_stop "$M"
verify_ok "$S"
pass
