/* Windows PE boot images (a Configuration Manager boot.wim): which files
 * inside the WIM boot it, and where media made from it put them.
 *
 * The WIM stays whole (it is sources/boot.wim on every media); its boot
 * files are read out of it once, at import, into the content version's
 * tree at the paths the ADK's MakeWinPEMedia and Configuration Manager use
 * on media.  The sources of every path are cited in winpe.c.  Pure
 * functions of the WIM's entry list: no wimlib, no store. */
#ifndef TSMEDIA_IMPORT_WINPE_H
#define TSMEDIA_IMPORT_WINPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where media made from a WinPE boot image keep the files El Torito names. */
#define TSM_WINPE_ETFSBOOT "boot/etfsboot.com"
#define TSM_WINPE_EFISYS "efi/microsoft/boot/efisys.bin"
#define TSM_WINPE_BOOT_WIM "sources/boot.wim"
/* oscdimg's BIOS entry loads etfsboot.com whole: 8 virtual sectors (4 KiB);
 * its UEFI entry says 1 sector, which UEFI reads as "the image runs to the
 * end of the disc" (UEFI 2.x 13.3.2.1; Microsoft's media as re-mastered
 * in public: "-b boot/etfsboot.com -boot-load-size 8 ... -e
 * efi/microsoft/boot/efisys.bin -boot-load-size 1", the entries "mirror the
 * original catalog"). */
#define TSM_WINPE_ETFSBOOT_LOAD_SIZE 8
#define TSM_WINPE_EFISYS_LOAD_SIZE 1

/* One boot file: entry @entry of the WIM's list goes to @media_path. */
struct tsm_winpe_file {
	size_t entry;
	char *media_path;
};

struct tsm_winpe_plan {
	const char *arch;          /* "x86", "x64", "arm64" (static) */
	size_t uefi_entry;         /* the entry of Windows/Boot/EFI/bootmgfw.efi; (size_t)-1: none */
	struct tsm_winpe_file *files; /* sorted by media_path */
	size_t nfiles;
	bool bios;                 /* bootmgr, boot/bcd, boot/boot.sdi, etfsboot.com */
	bool uefi;                 /* efi/boot/boot<arch>.efi, efi/microsoft/boot/bcd, boot.sdi */
	bool uefi_cd;              /* and efisys.bin for the CD's El Torito entry */
	char *client;              /* sms/bin/<arch>/TsmBootstrap.exe as found, or NULL */
};

/* The plan for the image whose entry paths (relative, '/'-separated, as in
 * the WIM; directories too) are @paths[0..n), with WINDOWS/ARCH @arch_prop
 * (the image's XML value, NULL when absent).  Refused, with a message
 * naming @file: an architecture tsmedia cannot make media for, and an image
 * that holds neither a complete BIOS nor a complete UEFI set of boot files
 * (the message names each missing file). */
int tsm_winpe_plan(const char *file, int image, const char *const *paths, const bool *is_dir,
		   size_t n, const char *arch_prop, struct tsm_winpe_plan *plan_ret);
void tsm_winpe_plan_clear(struct tsm_winpe_plan *plan);

/* How much of the UEFI boot manager tsm_winpe_check_machine() reads. */
#define TSM_WINPE_HEAD 4096

/* Whether the @len first bytes of @path (the UEFI boot manager) are a PE
 * program for @arch: its COFF header's Machine.  Refused with a message
 * naming @file and @path otherwise. */
int tsm_winpe_check_machine(const char *file, const char *path, const uint8_t *head, size_t len,
			    const char *arch);

/* The removable-media boot file name of @arch ("bootx64.efi"...), or NULL. */
const char *tsm_winpe_efi_name(const char *arch);

#endif
