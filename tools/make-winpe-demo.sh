#!/usr/bin/env bash
# Makes a WinPE-shaped boot image, OUT.wim: a WIM whose files sit at Windows
# PE's real paths (Windows\Boot\...), with stand-ins that boot:
#   Windows/Boot/DVD/PCAT/etfsboot.com  a few lines of nasm: loaded by a BIOS
#       as a no-emulation El Torito image, it prints a banner on COM1 and halts
#   Windows/Boot/PCAT/bootmgr  nasm too: started from a disk by a boot sector
#       that loads it to 2000:0000, it checks DL, the FAT32 boot sector at
#       0000:7C00 and its own last bytes, prints a banner on COM1 and halts
#   Windows/Boot/DVD/EFI/en-US/efisys.bin  a FAT image holding a GRUB EFI
#       application (EFI/BOOT/BOOTX64.EFI) that prints a banner and halts
#   Windows/Boot/EFI/bootmgfw.efi  a GRUB EFI application with its own banner
#       (what UEFI starts from a USB stick's efi/boot/bootx64.efi)
# and placeholders for the rest (the BCD stores, boot.sdi, fonts,
# the Configuration Manager client).  The image is LZX-compressed, marked
# bootable (boot index 1) and says WINDOWS/ARCH 9 (x64), as a real boot.wim.
#
#   tools/make-winpe-demo.sh OUT.wim [--arch N] [--efi-machine HEX] [--no-client] [--no-boot-files]
#                                    [--compress none|xpress|lzx|lzms]
#
# --arch N sets WINDOWS/ARCH (0 x86, 9 x64, 12 arm64...); for an architecture
# other than x64, bootmgfw.efi is a stand-in that only has the PE header of
# a program for that machine (it does not boot).  --efi-machine HEX gives it
# that PE machine instead (0xaa64 arm64, 0x14c x86, 0x8664 x64).
# --compress gives the WIM another compression than LZX (wimlib-imagex
# capture --compress).
#
# Banners: "tsmedia-winpe: etfsboot.com started by the BIOS",
# "tsmedia-winpe: bootmgr started by the volume boot record",
# "tsmedia-winpe: efisys.bin started by UEFI",
# "tsmedia-winpe: bootx64.efi started by UEFI".
# Needs: nasm wimtools grub-efi-amd64-bin grub-common mtools dosfstools.
set -euo pipefail
out=${1:?usage: make-winpe-demo.sh OUT.wim [--arch N] [--no-client] [--no-boot-files] [--compress TYPE]}
shift
arch=9 client=1 bootfiles=1 machine= compress=LZX
while (($#)); do
	case $1 in
	--arch) arch=$2; shift 2 ;;
	--efi-machine) machine=$2; shift 2 ;;
	--no-client) client=0; shift ;;
	--no-boot-files) bootfiles=0; shift ;;
	--compress) compress=$2; shift 2 ;;
	*) echo "make-winpe-demo.sh: unknown option $1" >&2; exit 2 ;;
	esac
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
t=$work/tree
B=$t/Windows/Boot
mkdir -p "$t/Windows/System32" "$t/sources"
echo "wpeinit" >"$t/Windows/System32/startnet.cmd"
head -c 300000 /dev/urandom >"$t/Windows/System32/winpe-standin.dll"
if ((client)); then
	mkdir -p "$t/sms/bin/x64"
	printf 'MZ tsmedia stand-in for TsmBootstrap.exe\n' >"$t/sms/bin/x64/TsmBootstrap.exe"
fi

if ((bootfiles)); then
	mkdir -p "$B/PCAT" "$B/EFI" "$B/DVD/PCAT" "$B/DVD/EFI/en-US" "$B/Fonts"
	printf 'tsmedia stand-in for bootmgr.efi\n' >"$B/EFI/bootmgr.efi"
	printf 'tsmedia stand-in for the BIOS BCD store\n' >"$B/DVD/PCAT/BCD"
	printf 'tsmedia stand-in for the UEFI BCD store\n' >"$B/DVD/EFI/BCD"
	head -c 65536 /dev/urandom >"$B/DVD/PCAT/boot.sdi"
	cp "$B/DVD/PCAT/boot.sdi" "$B/DVD/EFI/boot.sdi"
	printf 'tsmedia stand-in font\n' >"$B/Fonts/segmono_boot.ttf"
	printf 'tsmedia stand-in font 2\n' >"$B/Fonts/wgl4_boot.ttf"

	# Both stand-ins end in this: the NUL-terminated text at DS:SI out
	# of COM1 through the UART's registers (THR 0x3F8, LSR 0x3FD bit 5:
	# ready to send), then halt.
	cat >"$work/com1.inc" <<-'ASM'
	say:
		lodsb
		test al, al
		jz done
		mov ah, al
	wait_tx:
		mov dx, 0x3fd
		in al, dx
		test al, 0x20
		jz wait_tx
		mov al, ah
		mov dx, 0x3f8
		out dx, al
		jmp say
	done:
		hlt
		jmp done
	ASM

	# etfsboot.com: loaded at 0x7C00 (segment 0 or 0x7C0: the code finds its
	# own address), writes to COM1 through the UART's registers, halts.
	cat >"$work/etfsboot.asm" <<-'ASM'
	bits 16
	org 0
	start:
		cli
		call here
	here:
		pop si
		add si, msg - here
		push cs
		pop ds
	%include "com1.inc"
	msg: db 13, 10, "tsmedia-winpe: etfsboot.com started by the BIOS", 13, 10, 0
	times 4096 - ($ - $$) db 0
	ASM
	nasm -f bin -i "$work/" -o "$B/DVD/PCAT/etfsboot.com" "$work/etfsboot.asm"

	# bootmgr: what a disk's boot sector starts under BIOS (the USB image's
	# own boot code loads it whole to 2000:0000).  It checks what the boot
	# manager is given: DL a hard disk, the volume's FAT32 boot sector still
	# at 0000:7C00, and its own last bytes (100 KiB in) loaded, then prints
	# its banner on COM1 and halts.
	cat >"$work/bootmgr.asm" <<-'ASM'
	bits 16
	org 0
	size equ 102400
	start:
		cli
		mov ax, cs
		mov ds, ax
		mov si, bad
		cmp dl, 0x80
		jb say
		xor ax, ax
		mov es, ax
		cmp word [es:0x7dfe], 0xaa55
		jne say
		cmp dword [es:0x7c52], 'FAT3'
		jne say
		mov ax, cs
		add ax, (size - 16) / 16
		mov es, ax
		cmp dword [es:(size - 4) % 16], 'TSMB'
		jne say
		mov si, msg
	%include "com1.inc"
	msg: db 13, 10, "tsmedia-winpe: bootmgr started by the volume boot record", 13, 10, 0
	bad: db 13, 10, "tsmedia-winpe: bootmgr started without its drive, boot sector or all of itself", 13, 10, 0
	times size - 4 - ($ - $$) db 0
	db "TSMB"
	ASM
	nasm -f bin -i "$work/" -o "$B/PCAT/bootmgr" "$work/bootmgr.asm"

	grub_efi() { # OUT BANNER
		cat >"$work/grub.cfg" <<-CFG
		serial --unit=0 --speed=115200
		terminal_output serial console
		echo "$2"
		halt
		CFG
		grub-mkstandalone -O x86_64-efi -o "$1" --modules="serial halt echo" \
			--locales= --fonts= --themes= "boot/grub/grub.cfg=$work/grub.cfg"
	}
	grub_efi "$work/efisys.efi" "tsmedia-winpe: efisys.bin started by UEFI"
	case $arch in
	0) machine=${machine:-0x14c} ;;
	12) machine=${machine:-0xaa64} ;;
	esac
	if [[ -n $machine ]]; then
		# PE Format: "MZ", the signature's offset at 0x3c, "PE\0\0", Machine.
		python3 - "$B/EFI/bootmgfw.efi" "$machine" <<-'PY'
		import struct, sys
		head = bytearray(512)
		head[0:2] = b'MZ'
		struct.pack_into('<I', head, 0x3c, 0x80)
		head[0x80:0x84] = b'PE\0\0'
		struct.pack_into('<H', head, 0x84, int(sys.argv[2], 16))
		open(sys.argv[1], 'wb').write(bytes(head) + b'tsmedia stand-in: not a working program\n')
		PY
	else
		grub_efi "$B/EFI/bootmgfw.efi" "tsmedia-winpe: bootx64.efi started by UEFI"
	fi
	size_kib=$(( ($(stat -c %s "$work/efisys.efi") / 1024 + 512) / 256 * 256 + 256 ))
	mkfs.fat -C -n EFISYS "$B/DVD/EFI/en-US/efisys.bin" "$size_kib" >/dev/null
	MTOOLS_SKIP_CHECK=1 mmd -i "$B/DVD/EFI/en-US/efisys.bin" ::/EFI ::/EFI/BOOT
	MTOOLS_SKIP_CHECK=1 mcopy -i "$B/DVD/EFI/en-US/efisys.bin" "$work/efisys.efi" ::/EFI/BOOT/BOOTX64.EFI
	cp "$B/DVD/EFI/en-US/efisys.bin" "$B/DVD/EFI/en-US/efisys_noprompt.bin"
fi

rm -f "$out"
wimlib-imagex capture "$t" "$out" "Microsoft Windows PE (x64)" "tsmedia WinPE stand-in" \
	--boot --compress="$compress" --quiet >/dev/null
wimlib-imagex info "$out" 1 --image-property "WINDOWS/ARCH=$arch" >/dev/null
