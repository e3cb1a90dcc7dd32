/* Windows PE boot images: which files of the WIM go where on media
 * (core/import/winpe.c), against the paths of a real WinPE image. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "import/winpe.h"

/* An x64 WinPE image as the ADK ships it (mixed case as Windows writes it). */
static const char *const pe[] = {
	"Windows",
	"Windows/Boot",
	"Windows/Boot/PCAT/bootmgr",
	"Windows/Boot/PCAT/memtest.exe",
	"Windows/Boot/EFI/bootmgfw.efi",
	"Windows/Boot/EFI/bootmgr.efi",
	"Windows/Boot/DVD/PCAT/BCD",
	"Windows/Boot/DVD/PCAT/boot.sdi",
	"Windows/Boot/DVD/PCAT/etfsboot.com",
	"Windows/Boot/DVD/EFI/BCD",
	"Windows/Boot/DVD/EFI/boot.sdi",
	"Windows/Boot/DVD/EFI/en-US/efisys.bin",
	"Windows/Boot/DVD/EFI/en-US/efisys_noprompt.bin",
	"Windows/Boot/Fonts/segmono_boot.ttf",
	"Windows/System32/winload.efi",
	"sms/bin/x64/TsmBootstrap.exe",
};
#define NPE (sizeof(pe) / sizeof(pe[0]))

static bool dirs[64];

static const char *media_of(const struct tsm_winpe_plan *p, const char *wim_path,
			    const char *const *paths, size_t n)
{
	for (size_t i = 0; i < p->nfiles; i++)
		if (p->files[i].entry < n && strcmp(paths[p->files[i].entry], wim_path) == 0)
			return p->files[i].media_path;
	return NULL;
}

static bool has_media_path(const struct tsm_winpe_plan *p, const char *media)
{
	for (size_t i = 0; i < p->nfiles; i++)
		if (strcmp(p->files[i].media_path, media) == 0)
			return true;
	return false;
}

static void test_x64_layout(void **state)
{
	struct tsm_winpe_plan p;

	(void)state;
	dirs[0] = dirs[1] = true;
	assert_int_equal(tsm_winpe_plan("pe.wim", 1, pe, dirs, NPE, "9", &p), 0);
	assert_string_equal(p.arch, "x64");
	assert_true(p.bios);
	assert_true(p.uefi);
	assert_true(p.uefi_cd);
	assert_string_equal(p.client, "sms/bin/x64/TsmBootstrap.exe");
	assert_string_equal(media_of(&p, "Windows/Boot/PCAT/bootmgr", pe, NPE), "bootmgr");
	assert_string_equal(media_of(&p, "Windows/Boot/EFI/bootmgfw.efi", pe, NPE),
			    "efi/boot/bootx64.efi");
	assert_string_equal(media_of(&p, "Windows/Boot/DVD/PCAT/etfsboot.com", pe, NPE),
			    TSM_WINPE_ETFSBOOT);
	assert_string_equal(media_of(&p, "Windows/Boot/DVD/EFI/en-US/efisys.bin", pe, NPE),
			    TSM_WINPE_EFISYS);
	/* boot.sdi from PCAT (the first source), once. */
	assert_string_equal(media_of(&p, "Windows/Boot/DVD/PCAT/boot.sdi", pe, NPE), "boot/boot.sdi");
	assert_null(media_of(&p, "Windows/Boot/DVD/EFI/boot.sdi", pe, NPE));
	/* A font goes to both font folders. */
	assert_true(has_media_path(&p, "boot/fonts/segmono_boot.ttf"));
	assert_true(has_media_path(&p, "efi/microsoft/boot/fonts/segmono_boot.ttf"));
	/* Nothing that is not a boot file. */
	assert_null(media_of(&p, "Windows/Boot/PCAT/memtest.exe", pe, NPE));
	assert_null(media_of(&p, "Windows/System32/winload.efi", pe, NPE));
	assert_int_equal(p.nfiles, 11);
	for (size_t i = 1; i < p.nfiles; i++) /* sorted for the import */
		assert_true(strcmp(p.files[i - 1].media_path, p.files[i].media_path) < 0);
	tsm_winpe_plan_clear(&p);
}

static void test_case_and_arch(void **state)
{
	static const char *const lower[] = {
		"windows/boot/efi/bootmgfw.efi", "WINDOWS/BOOT/DVD/EFI/BCD",
		"windows/boot/dvd/efi/boot.sdi", "windows/boot/dvd/efi/en-us/efisys.bin",
		"Windows/Boot/PCAT/bootmgr", "Windows/Boot/DVD/PCAT/BCD",
		"Windows/Boot/DVD/PCAT/etfsboot.com",
	};
	struct tsm_winpe_plan p;

	(void)state;
	memset(dirs, 0, sizeof(dirs));
	/* arm64: UEFI only (no BIOS entry even with PCAT files), bootaa64.efi. */
	assert_int_equal(tsm_winpe_plan("a.wim", 1, lower, dirs, 7, "12", &p), 0);
	assert_string_equal(p.arch, "arm64");
	assert_false(p.bios);
	assert_true(p.uefi);
	assert_true(p.uefi_cd);
	assert_null(p.client);
	assert_true(has_media_path(&p, "efi/boot/bootaa64.efi"));
	assert_true(has_media_path(&p, "boot/boot.sdi"));
	tsm_winpe_plan_clear(&p);
	assert_int_equal(tsm_winpe_plan("a.wim", 1, lower, dirs, 7, "0", &p), 0);
	assert_true(has_media_path(&p, "efi/boot/bootia32.efi"));
	assert_true(p.bios); /* x86: boot.sdi came from the EFI folder */
	tsm_winpe_plan_clear(&p);
	assert_string_equal(tsm_winpe_efi_name("x64"), "bootx64.efi");
	assert_null(tsm_winpe_efi_name("ia64"));
	assert_null(tsm_winpe_efi_name(NULL));
}

static void test_refused(void **state)
{
	static const char *const only_fonts[] = { "Windows/Boot/Fonts/a.ttf", "Windows/Boot/PCAT/bootmgr" };
	struct tsm_winpe_plan p;

	(void)state;
	memset(dirs, 0, sizeof(dirs));
	assert_int_equal(tsm_winpe_plan("x.wim", 1, pe, dirs, NPE, "6", &p), -ENOTSUP);
	assert_int_equal(tsm_winpe_plan("x.wim", 1, pe, dirs, NPE, "5", &p), -ENOTSUP);
	assert_int_equal(tsm_winpe_plan("x.wim", 1, pe, dirs, NPE, "77", &p), -ENOTSUP);
	assert_int_equal(tsm_winpe_plan("x.wim", 1, pe, dirs, NPE, NULL, &p), -ENOTSUP);
	assert_int_equal(tsm_winpe_plan("x.wim", 1, only_fonts, dirs, 2, "9", &p), -ENOENT);
	/* A directory named like a boot file is not one. */
	dirs[8] = true; /* Windows/Boot/DVD/PCAT/etfsboot.com */
	dirs[4] = true; /* Windows/Boot/EFI/bootmgfw.efi */
	assert_int_equal(tsm_winpe_plan("x.wim", 1, pe, dirs, NPE, "9", &p), -ENOENT);
}

/* A PE header: "MZ", 0x3c -> @at, "PE\0\0", Machine @machine. */
static size_t make_pe(uint8_t *buf, size_t len, uint32_t at, uint16_t machine)
{
	memset(buf, 0, len);
	buf[0] = 'M';
	buf[1] = 'Z';
	buf[0x3c] = (uint8_t)at;
	buf[0x3d] = (uint8_t)(at >> 8);
	buf[0x3e] = (uint8_t)(at >> 16);
	buf[0x3f] = (uint8_t)(at >> 24);
	if ((uint64_t)at + 6 <= len) {
		memcpy(buf + at, "PE\0\0", 4);
		buf[at + 4] = (uint8_t)machine;
		buf[at + 5] = (uint8_t)(machine >> 8);
	}
	return len;
}

static void test_machine(void **state)
{
	uint8_t b[TSM_WINPE_HEAD];
	size_t n;

	(void)state;
	n = make_pe(b, sizeof(b), 0x80, 0x8664);
	assert_int_equal(tsm_winpe_check_machine("f", "p", b, n, "x64"), 0);
	assert_int_equal(tsm_winpe_check_machine("f", "p", b, n, "arm64"), -EINVAL);
	n = make_pe(b, sizeof(b), 0xf8, 0xaa64);
	assert_int_equal(tsm_winpe_check_machine("f", "p", b, n, "arm64"), 0);
	assert_int_equal(tsm_winpe_check_machine("f", "p", b, n, "x64"), -EINVAL);
	n = make_pe(b, sizeof(b), 0x80, 0x014c);
	assert_int_equal(tsm_winpe_check_machine("f", "p", b, n, "x86"), 0);
	n = make_pe(b, sizeof(b), 0x80, 0x01c4); /* ARMNT */
	assert_int_equal(tsm_winpe_check_machine("f", "p", b, n, "x64"), -EINVAL);
	/* The signature past what was read, at its very end, or no MZ. */
	n = make_pe(b, 256, 0x1000, 0x8664);
	assert_int_equal(tsm_winpe_check_machine("f", "p", b, n, "x64"), -EINVAL);
	n = make_pe(b, 256, 250, 0x8664);
	assert_int_equal(tsm_winpe_check_machine("f", "p", b, n, "x64"), 0);
	n = make_pe(b, 256, 251, 0x8664);
	assert_int_equal(tsm_winpe_check_machine("f", "p", b, n, "x64"), -EINVAL);
	n = make_pe(b, 256, 0xffffffffu, 0x8664);
	assert_int_equal(tsm_winpe_check_machine("f", "p", b, n, "x64"), -EINVAL);
	b[0] = 'X';
	assert_int_equal(tsm_winpe_check_machine("f", "p", b, 256, "x64"), -EINVAL);
	assert_int_equal(tsm_winpe_check_machine("f", "p", b, 10, "x64"), -EINVAL);
	assert_int_equal(tsm_winpe_check_machine("f", "p", NULL, 0, "x64"), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_x64_layout),
		cmocka_unit_test(test_case_and_arch),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_machine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
