/* Windows PE boot images: the boot files inside a boot.wim and where media
 * put them.
 *
 * Inside the WIM (Windows keeps its boot environment under %windir%\Boot):
 *   Windows\Boot\PCAT\bootmgr                BIOS boot manager
 *   Windows\Boot\EFI\bootmgfw.efi            UEFI boot manager (firmware's entry)
 *   Windows\Boot\EFI\bootmgr.efi             UEFI boot manager (chained)
 *   Windows\Boot\DVD\PCAT\BCD, boot.sdi, etfsboot.com
 *   Windows\Boot\DVD\EFI\BCD, boot.sdi, en-US\efisys.bin, en-US\efisys_noprompt.bin
 *   Windows\Boot\Fonts\*.ttf
 * (Microsoft Learn, "Removable Package: Microsoft-Windows-BootEnvironment-Dvd",
 * Windows IoT Enterprise docs: the file list of the DVD boot environment,
 * %windir%\boot\dvd\pcat\{bcd,boot.sdi,etfsboot.com} and
 * %windir%\boot\dvd\efi\{bcd,en-us\efisys.bin,en-us\efisys_noprompt.bin}.)
 *
 * On media (the ADK's Media folder that MakeWinPEMedia copies, and Windows
 * setup media; learn.microsoft.com "WinPE: Create bootable media" and
 * oofhours.com "Booting your own Windows PE image", 2021: \bootmgr,
 * \bootmgr.efi, \Boot\BCD, \Boot\boot.sdi, \Boot\Fonts, \EFI\Boot\bootx64.efi,
 * \EFI\Microsoft\Boot\BCD, \EFI\Microsoft\Boot\Fonts, \sources\boot.wim, the
 * BCD's ramdisk pointing at [boot]\sources\boot.wim and \boot\boot.sdi):
 *   bootmgr, bootmgr.efi, boot/bcd, boot/boot.sdi, boot/fonts/,
 *   efi/boot/boot<arch>.efi, efi/microsoft/boot/bcd, efi/microsoft/boot/fonts/,
 *   sources/boot.wim
 * and, as on Windows setup media (oscdimg -bootdata:2#p0,e,bboot\etfsboot.com
 * #pEF,e,befi\microsoft\boot\efisys.bin), the El Torito images at
 * boot/etfsboot.com and efi/microsoft/boot/efisys.bin (with
 * efisys_noprompt.bin beside it).
 *
 * The firmware's removable-media file name per architecture: UEFI 2.x
 * section 3.5.1.1 (BOOTIA32.EFI, BOOTX64.EFI, BOOTAA64.EFI).  WINDOWS/ARCH in
 * the WIM's XML holds a PROCESSOR_ARCHITECTURE_* value (Microsoft Learn,
 * SYSTEM_INFO: 0 x86, 5 ARM, 6 IA64, 9 x64, 12 ARM64).  The Configuration
 * Manager client's entry point in a boot image: sms\bin\<x64|i386|arm64>\
 * TsmBootstrap.exe (issue 14; not confirmed from a public source). */
#include "import/winpe.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

struct arch {
	const char *prop;     /* WINDOWS/ARCH */
	const char *name;
	const char *efi_name; /* efi/boot/<this> */
	const char *sms_dir;  /* sms/bin/<this>/TsmBootstrap.exe */
	uint16_t machine;     /* PE COFF header Machine */
};

/* Machine values: Microsoft Learn, "PE Format", Machine Types
 * (IMAGE_FILE_MACHINE_I386 0x14c, _AMD64 0x8664, _ARM64 0xaa64). */
static const struct arch arches[] = {
	{ "0", "x86", "bootia32.efi", "i386", 0x014c },
	{ "9", "x64", "bootx64.efi", "x64", 0x8664 },
	{ "12", "arm64", "bootaa64.efi", "arm64", 0xaa64 },
};

static const char *const arch_unsupported[][2] = {
	{ "5", "ARM (32-bit)" },
	{ "6", "Itanium (IA64)" },
};

enum need { BIOS = 1, UEFI = 2, UEFI_CD = 4 };

/* WIM path -> media path; "%s" is the architecture's EFI file name.  The
 * first source found for a media path wins (boot.sdi: PCAT's, else EFI's). */
static const struct {
	const char *wim;
	const char *media;
	unsigned needed_by;
} files[] = {
	{ "Windows/Boot/PCAT/bootmgr", "bootmgr", BIOS },
	{ "Windows/Boot/EFI/bootmgr.efi", "bootmgr.efi", 0 },
	{ "Windows/Boot/DVD/PCAT/BCD", "boot/bcd", BIOS },
	{ "Windows/Boot/DVD/PCAT/boot.sdi", "boot/boot.sdi", BIOS | UEFI },
	{ "Windows/Boot/DVD/EFI/boot.sdi", "boot/boot.sdi", BIOS | UEFI },
	{ "Windows/Boot/DVD/PCAT/etfsboot.com", TSM_WINPE_ETFSBOOT, BIOS },
	{ "Windows/Boot/EFI/bootmgfw.efi", "efi/boot/%s", UEFI },
	{ "Windows/Boot/DVD/EFI/BCD", "efi/microsoft/boot/bcd", UEFI },
	{ "Windows/Boot/DVD/EFI/en-US/efisys.bin", TSM_WINPE_EFISYS, UEFI_CD },
	{ "Windows/Boot/DVD/EFI/en-US/efisys_noprompt.bin", "efi/microsoft/boot/efisys_noprompt.bin",
	  0 },
};

#define FONTS_DIR "Windows/Boot/Fonts/"

/* @tmpl with its "%s" (at most one) replaced by @efi_name; malloc'ed. */
static char *media_path(const char *tmpl, const char *efi_name)
{
	const char *at = strstr(tmpl, "%s");
	char *out;

	if (!at)
		return strdup(tmpl);
	if (asprintf(&out, "%.*s%s%s", (int)(at - tmpl), tmpl, efi_name, at + 2) < 0)
		return NULL;
	return out;
}

const char *tsm_winpe_efi_name(const char *arch)
{
	for (size_t i = 0; arch && i < sizeof(arches) / sizeof(arches[0]); i++)
		if (strcmp(arches[i].name, arch) == 0)
			return arches[i].efi_name;
	return NULL;
}

/* PE Format (Microsoft Learn): "MZ" at 0; at 0x3c the 32-bit offset of the
 * signature "PE\0\0", which the COFF header follows, Machine its first
 * 16 bits.  Three fields: all this reads of the program. */
int tsm_winpe_check_machine(const char *file, const char *path, const uint8_t *head, size_t len,
			    const char *arch)
{
	uint32_t pe;
	uint16_t machine;
	const char *is = NULL;
	char program[96];

	if (!head || len < 0x40 || head[0] != 'M' || head[1] != 'Z') {
		tsm_error("%s: %s is not a UEFI program (no MZ header)", file, path);
		return -EINVAL;
	}
	pe = (uint32_t)head[0x3c] | (uint32_t)head[0x3d] << 8 | (uint32_t)head[0x3e] << 16 |
	     (uint32_t)head[0x3f] << 24;
	if (pe > len - 6 || memcmp(head + pe, "PE\0\0", 4) != 0) {
		tsm_error("%s: %s is not a UEFI program (no PE signature in its first %zu bytes)",
			  file, path, len);
		return -EINVAL;
	}
	machine = (uint16_t)(head[pe + 4] | head[pe + 5] << 8);
	for (size_t i = 0; i < sizeof(arches) / sizeof(arches[0]); i++) {
		if (arches[i].machine != machine)
			continue;
		if (strcmp(arches[i].name, arch) == 0)
			return 0;
		is = arches[i].name;
	}
	if (is)
		snprintf(program, sizeof(program), _("an %s program"), is);
	else
		snprintf(program, sizeof(program), "%s", _("a program for another machine"));
	tsm_error("%s: the image says %s, but its UEFI boot manager %s is %s (PE machine"
		  " 0x%04x): a boot image of another architecture", file, arch, path, program,
		  machine);
	return -EINVAL;
}

void tsm_winpe_plan_clear(struct tsm_winpe_plan *p)
{
	for (size_t i = 0; i < p->nfiles; i++)
		free(p->files[i].media_path);
	free(p->files);
	free(p->client);
	memset(p, 0, sizeof(*p));
}

static int plan_add(struct tsm_winpe_plan *p, size_t entry, char *media_path)
{
	void *q;

	if (!media_path)
		return -ENOMEM;
	for (size_t i = 0; i < p->nfiles; i++)
		if (strcmp(p->files[i].media_path, media_path) == 0) {
			free(media_path); /* an earlier source won */
			return 0;
		}
	if (!(q = realloc(p->files, (p->nfiles + 1) * sizeof(*p->files)))) {
		free(media_path);
		return -ENOMEM;
	}
	p->files = q;
	p->files[p->nfiles++] = (struct tsm_winpe_file){ .entry = entry, .media_path = media_path };
	return 0;
}

static bool planned(const struct tsm_winpe_plan *p, const char *media_path)
{
	for (size_t i = 0; i < p->nfiles; i++)
		if (strcmp(p->files[i].media_path, media_path) == 0)
			return true;
	return false;
}

static int by_media_path(const void *a, const void *b)
{
	return strcmp(((const struct tsm_winpe_file *)a)->media_path,
		      ((const struct tsm_winpe_file *)b)->media_path);
}

/* Appends "  PATH" to @buf for each file of @set the plan lacks; whether
 * the set is complete. */
static bool set_complete(const struct tsm_winpe_plan *p, unsigned set, const char *efi_name,
			 char *buf, size_t len)
{
	bool ok = true;

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		char *media;
		bool have;

		if (!(files[i].needed_by & set) || (i > 0 && strcmp(files[i].media, files[i - 1].media) == 0))
			continue; /* the second source of boot.sdi is named with the first */
		if (!(media = media_path(files[i].media, efi_name)))
			return false;
		have = planned(p, media);
		free(media);
		if (have)
			continue;
		ok = false;
		if (buf) {
			size_t used = strlen(buf);

			snprintf(buf + used, len - used, "%s%s", used ? ", " : "", files[i].wim);
		}
	}
	return ok;
}

int tsm_winpe_plan(const char *file, int image, const char *const *paths, const bool *is_dir,
		   size_t n, const char *arch_prop, struct tsm_winpe_plan *plan_ret)
{
	struct tsm_winpe_plan p = { 0 };
	const struct arch *arch = NULL;
	char client[64];
	int rc = 0;

	for (size_t i = 0; arch_prop && i < sizeof(arches) / sizeof(arches[0]); i++)
		if (strcmp(arches[i].prop, arch_prop) == 0)
			arch = &arches[i];
	if (!arch) {
		const char *what = NULL;

		for (size_t i = 0; arch_prop && i < sizeof(arch_unsupported) / sizeof(arch_unsupported[0]); i++)
			if (strcmp(arch_unsupported[i][0], arch_prop) == 0)
				what = arch_unsupported[i][1];
		if (!arch_prop)
			tsm_error("%s: image %d says no architecture (no WINDOWS/ARCH in the WIM's XML):"
				  " a Windows PE boot image names x86, x64 or arm64", file, image);
		else
			tsm_error("%s: image %d is a boot image for %s (WINDOWS/ARCH %.16s): tsmedia makes"
				  " boot media for x86, x64 and arm64 only", file, image,
				  what ? what : _("an unknown architecture"), arch_prop);
		return -ENOTSUP;
	}
	p.arch = arch->name;
	p.uefi_entry = (size_t)-1;
	snprintf(client, sizeof(client), "sms/bin/%s/TsmBootstrap.exe", arch->sms_dir);
	for (size_t k = 0; rc == 0 && k < sizeof(files) / sizeof(files[0]); k++) {
		for (size_t i = 0; rc == 0 && i < n; i++) {
			/* Windows paths are case-insensitive. */
			if (is_dir[i] || strcasecmp(paths[i], files[k].wim) != 0)
				continue;
			if (files[k].needed_by & UEFI && strstr(files[k].media, "%s"))
				p.uefi_entry = i;
			rc = plan_add(&p, i, media_path(files[k].media, arch->efi_name));
			break;
		}
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		const char *name = paths[i] + strlen(FONTS_DIR);
		char *a = NULL, *b = NULL;

		if (!is_dir[i] && strncasecmp(paths[i], FONTS_DIR, strlen(FONTS_DIR)) == 0 &&
		    *name && !strchr(name, '/')) {
			if (asprintf(&a, "boot/fonts/%s", name) < 0)
				a = NULL;
			if ((rc = plan_add(&p, i, a)) == 0) {
				if (asprintf(&b, "efi/microsoft/boot/fonts/%s", name) < 0)
					b = NULL;
				rc = plan_add(&p, i, b);
			}
		}
		if (rc == 0 && !is_dir[i] && !p.client && strcasecmp(paths[i], client) == 0 &&
		    !(p.client = strdup(paths[i])))
			rc = -ENOMEM;
	}
	if (rc < 0) {
		tsm_winpe_plan_clear(&p);
		return rc;
	}
	/* BIOS firmware runs x86 code (El Torito 1.0: platform 0, 80x86): an
	 * arm64 image gets no BIOS entry whatever files it holds. */
	p.bios = strcmp(arch->name, "arm64") != 0 && set_complete(&p, BIOS, arch->efi_name, NULL, 0);
	p.uefi = set_complete(&p, UEFI, arch->efi_name, NULL, 0);
	p.uefi_cd = p.uefi && set_complete(&p, UEFI_CD, arch->efi_name, NULL, 0);
	if (!p.bios && !p.uefi) {
		char bios[1024] = "", uefi[1024] = "";

		set_complete(&p, BIOS, arch->efi_name, bios, sizeof(bios));
		set_complete(&p, UEFI, arch->efi_name, uefi, sizeof(uefi));
		tsm_error("%s: image %d holds no Windows PE boot files (missing for BIOS boot: %s;"
			  " missing for UEFI boot: %s)", file, image, bios, uefi);
		tsm_winpe_plan_clear(&p);
		return -ENOENT;
	}
	qsort(p.files, p.nfiles, sizeof(*p.files), by_media_path);
	*plan_ret = p;
	return 0;
}
