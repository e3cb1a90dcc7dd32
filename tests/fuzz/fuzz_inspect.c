/* libFuzzer harness: `media inspect` (core/media/inspect.c), what a booting
 * client reads from a media.  The first byte of the input chooses:
 *   0x01  the rest is an encrypted file in Configuration Manager's container
 *         (Variables.dat, Policy.xml): opened with the harness's password
 *         (core/media/cmcrypt.c; fuzz_cmdata reads what is inside);
 *   0x02  the rest is SMS/data/Manifest.txt of a directory volume (a USB
 *         stick's copy) holding a TsmBootstrap.ini and a Variables.dat under
 *         the fixed key; a file beside the volume is a decoy: a manifest
 *         line that reaches it must never count as a matching file of the
 *         volume;
 *   else  the whole input is an ISO volume (byte 0 lies in the system area,
 *         which ISO 9660 leaves alone; ECMA-119 6.2.1), inspected with the
 *         harness's password (which a media without one does not need). */
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "media/cmcrypt.h"
#include "tsmedia/inspect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* make-corpus.sh writes seeds naming these files with their SHA-256 and
 * size: keep the texts the same in both places.  Variables.dat is
 * VARIABLES_TEXT sealed under the fixed key with AES-256 (no salt, a zero IV:
 * the same bytes from any writer; make-corpus.sh has the judge write them). */
#define DECOY_TEXT "a file beside the volume\n"
#define BOOTSTRAP_TEXT "[MediaInfo]\r\nMediaType=FullMedia\r\nPasswordRequired=false\r\n" \
	"Unattended=false\r\n"
#define VARIABLES_TEXT "<MediaVarList Version=\"4.00.5345.0000\"><var name=\"_SMSTSMediaType\">" \
	"<![CDATA[FullMedia]]></var></MediaVarList>"

static char volume_real[PATH_MAX];

static void directory_volume_init(void)
{
	static bool done;
	uint8_t *vars;
	size_t vars_len;

	if (done)
		return;
	if (mkdir(fuzz_path("vol"), 0700) < 0 || mkdir(fuzz_path("vol/SMS"), 0700) < 0 ||
	    mkdir(fuzz_path("vol/SMS/data"), 0700) < 0 ||
	    !realpath(fuzz_path("vol"), volume_real))
		abort();
	fuzz_write_file("decoy.txt", (const uint8_t *)DECOY_TEXT, strlen(DECOY_TEXT));
	fuzz_write_file("vol/SMS/data/TsmBootstrap.ini", (const uint8_t *)BOOTSTRAP_TEXT,
			strlen(BOOTSTRAP_TEXT));
	if (tsm_cm_seal(TSM_CM_NO_PASSWORD, TSM_CM_AES256, VARIABLES_TEXT, &vars, &vars_len) < 0)
		abort();
	fuzz_write_file("vol/SMS/data/Variables.dat", vars, vars_len);
	free(vars);
	done = true;
}

/* Manifest lines ("SHA256 SIZE VOLUME PATH", as inspect reads them) whose
 * path lies inside the volume: no more than these can match. */
static size_t lines_inside(const uint8_t *manifest, size_t len)
{
	char *text = strndup((const char *)manifest, len), *save = NULL;
	size_t inside = 0;

	if (!text)
		abort();
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char want[65], path[4096], real[PATH_MAX];
		unsigned long long file_size;
		unsigned vol;
		size_t n = strlen(volume_real);

		if (sscanf(line, "%64s %llu %u %4095[^\r\n]", want, &file_size, &vol, path) != 4)
			continue;
		char *full;

		if (asprintf(&full, "%s/%s", volume_real, path) < 0)
			abort();
		if (realpath(full, real) && strncmp(real, volume_real, n) == 0 && real[n] == '/')
			inside++;
		free(full);
	}
	free(text);
	return inside;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsm_inspect_result r;
	const char *path;
	int rc;

	fuzz_init("inspect");
	if (size && data[0] == 0x01) {
		size_t text_len;
		char *text;

		rc = tsm_cm_open(FUZZ_PASSWORD, data + 1, size - 1, "fuzz: encrypted file", &text,
				 &text_len, NULL);
		fuzz_expect_valid(rc == 0, "the opening of an encrypted file");
		if (rc == 0)
			tsm_cm_free_secret(text, text_len);
		return 0;
	}
	if (size && data[0] == 0x02) {
		directory_volume_init();
		fuzz_write_file("vol/SMS/data/Manifest.txt", data + 1, size - 1);
		path = fuzz_path("vol");
		rc = tsm_media_inspect(&path, 1, NULL, false, &r);

		fuzz_expect_valid(rc == 0, "inspect of a directory volume");
		if (rc == 0) {
			size_t inside = lines_inside(data + 1, size - 1);

			if (r.files_ok > inside) {
				fprintf(stderr, "fuzz: inspect counted %zu files as matching, but only %zu"
					" manifest lines name files inside the volume: it read a file"
					" outside it\n", r.files_ok, inside);
				abort();
			}
			tsm_inspect_result_clear(&r);
		}
		return 0;
	}
	path = fuzz_write_file("input.iso", data, size);
	rc = tsm_media_inspect(&path, 1, FUZZ_PASSWORD, false, &r);
	fuzz_expect_valid(rc == 0, "inspect of an ISO volume");
	if (rc == 0)
		tsm_inspect_result_clear(&r);
	fuzz_remove("input.iso");
	return 0;
}
