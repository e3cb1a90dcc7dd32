#!/usr/bin/env bash
# Assembles tsmedia's own BIOS boot code for USB images (core/image/boot/
# mbr.asm and vbr.asm) and writes the bytes as C arrays to
# core/image/bios_boot_code.h, which the FAT writer includes.  The
# header is committed; tests/integration/winpe_usb_bios.sh runs this again
# and checks that the header holds what the sources assemble to.
#
#   tools/gen-bios-boot.sh [OUT.h]     (needs nasm)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
src=$root/core/image/boot
out=${1:-$root/core/image/bios_boot_code.h}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nasm -f bin -i "$src/" -o "$tmp/mbr.bin" "$src/mbr.asm"
nasm -f bin -i "$src/" -o "$tmp/vbr.bin" "$src/vbr.asm"
array() { # NAME FILE
	/usr/bin/python3 - "$1" "$2" <<-'PY'
	import sys
	data = open(sys.argv[2], 'rb').read()
	print(f"static const uint8_t {sys.argv[1]}[{len(data)}] = {{")
	for i in range(0, len(data), 12):
	    print("\t" + " ".join(f"0x{b:02x}," for b in data[i:i + 12]))
	print("};")
	PY
}
{
	printf '/* Layer: image (core/image/): tsmedia'"'"'s BIOS boot code for USB images,\n'
	printf ' * assembled from boot/mbr.asm and boot/vbr.asm by\n'
	printf ' * tools/gen-bios-boot.sh (nasm).  Generated: edit the .asm sources. */\n'
	printf '#ifndef TSMEDIA_IMAGE_BIOS_BOOT_CODE_H\n#define TSMEDIA_IMAGE_BIOS_BOOT_CODE_H\n\n'
	printf '#include <stdint.h>\n\n'
	printf '/* MBR bytes 0-439 (mbr.asm). */\n'
	array bios_mbr_code "$tmp/mbr.bin"
	printf '\n/* FAT32 boot sector bytes 90-509 (vbr.asm); the fields at sector offsets\n'
	printf ' * 500 (LE32) and 504 (LE16) say where BOOTMGR lies. */\n'
	array bios_vbr_code "$tmp/vbr.bin"
	printf '#define BIOS_VBR_FILE_LBA 500\n#define BIOS_VBR_FILE_SECTORS 504\n'
	printf '\n#endif\n'
} >"$out"
