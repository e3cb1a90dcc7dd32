; tsmedia's MBR boot code (sector 0 of a USB image, bytes 0-439): loads the
; first sector of the active partition to 0000:7C00 and runs it, as the
; IBM PC's MBR contract has it: DL the BIOS drive number, DS:SI the
; partition's table entry.  The BIOS loaded this sector at 0000:7C00 with
; DL the drive; the code first moves itself to 0000:0600, out of the way.
; Reads use the BIOS's extended read (INT 13h AH=42h, LBA; the EDD
; specification, T13 D1572, "Extended Read"), as every BIOS that boots
; from USB has it.  Built with: nasm -f bin -o mbr.bin mbr.asm
bits 16
org 0x0600

start:
	cli
	xor ax, ax
	mov ss, ax
	mov sp, 0x7c00
	mov ds, ax
	mov es, ax
	sti
	cld
	mov si, 0x7c00
	mov di, 0x0600
	mov cx, 256
	rep movsw
	jmp 0:moved

moved:
	mov [drive], dl
	; The partition table: four 16-byte entries at 446, the active one's
	; first byte 0x80, its first LBA at +8.
	mov si, 0x0600 + 446
	mov cx, 4
find:
	test byte [si], 0x80
	jnz found
	add si, 16
	loop find
	jmp fail

found:
	mov eax, [si + 8]
	mov [dap.lba], eax
	push si
	mov si, dap
	mov ah, 0x42
	mov dl, [drive]
	int 0x13
	pop si
	jc fail
	cmp word [0x7dfe], 0xaa55
	jne fail
	mov dl, [drive]
	jmp 0:0x7c00

%include "give_up.inc"

drive: db 0
dap:
	db 16, 0
	dw 1            ; sectors
	dw 0x7c00, 0    ; buffer, offset:segment
.lba:	dd 0, 0

msg: db "tsmedia: the active partition cannot be read or is not bootable", 13, 10, 0

	times 440 - ($ - $$) db 0
