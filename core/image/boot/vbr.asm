; tsmedia's FAT32 volume boot code (bytes 90-509 of the partition's boot
; sector, after the BPB): loads the Windows boot manager, BOOTMGR, to
; 2000:0000 and runs it with DL the BIOS drive number and this boot sector,
; BPB and all, left at 0000:7C00: what the boot sector "bootsect /nt60"
; writes does for the boot manager.  The same contract as GRUB's "ntldr"
; command ("Load NTLDR or BootMGR", grub-core/loader/i386/pc/ntldr.c): the
; file whole at 2000:0000, CS:IP 2000:0000, DS = ES = SS = 0, SP 7C00, EDX
; the BIOS drive number, the partition's boot sector at 0000:7C00 with its
; BPB's hidden sectors and drive number right.  The image writer lays BOOTMGR out as
; one run of sectors and writes where it starts (relative to the volume)
; and how many sectors it has into the two fields at 500 and 504.  Reads:
; INT 13h AH=42h (EDD, "Extended Read"), 64 sectors at a time.
; Built with: nasm -f bin -o vbr.bin vbr.asm
bits 16
org 0x7c5a

start:
	cli
	xor ax, ax
	mov ss, ax
	mov sp, 0x7c00
	mov ds, ax
	mov es, ax
	sti
	cld
	mov [0x7c40], dl        ; BS_DrvNum: the drive this volume is on
	mov eax, [0x7c1c]       ; BPB_HiddSec: the volume's first sector
	add eax, [file_lba]
	mov [dap.lba], eax
	mov cx, [file_sectors]
	jcxz fail
next:
	mov bx, 64
	cmp cx, bx
	jae have
	mov bx, cx
have:
	mov [dap.count], bx
	mov si, dap
	mov ah, 0x42
	mov dl, [0x7c40]
	push cx
	push bx
	int 0x13
	pop bx
	pop cx
	jc fail
	movzx eax, bx
	add [dap.lba], eax
	shl bx, 5               ; sectors of 512 bytes in 16-byte paragraphs
	add [dap.segment], bx
	mov ax, [dap.count]
	sub cx, ax
	jnz next
	xor edx, edx
	mov dl, [0x7c40]
	jmp 0x2000:0x0000

%include "give_up.inc"

dap:
	db 16, 0
.count:	dw 0
	dw 0            ; buffer offset
.segment: dw 0x2000
.lba:	dd 0, 0

msg: db "tsmedia: BOOTMGR cannot be read from this volume", 13, 10, 0

	times (500 - 90) - ($ - $$) db 0
file_lba: dd 0          ; 500: BOOTMGR's first sector, relative to the volume
file_sectors: dw 0      ; 504: its length in sectors
	times (510 - 90) - ($ - $$) db 0
