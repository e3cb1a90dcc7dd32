/* libFuzzer harness: an application's AppMgmtDigest (core/import/app_xml.c,
 * libxml2 underneath), bare or inside a console export's object.xml, then the
 * ID normalizers `app import` and media use on what it returned.  Pure: no
 * files, no store. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>

#include "fuzz_common.h"
#include "import/app_xml.h"
#include "tsmedia/app.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsm_app app;
	char id[128];

	fuzz_init("app_xml");
	if (tsm_app_xml_parse_memory("fuzz input", (const char *)data, size, &app) < 0) {
		fuzz_expect_valid(0, "the application parser");
		return 0;
	}
	/* What the parser returns is normalized already: normalizing again must
	 * give the same IDs. */
	if (tsm_app_id_normalize(app.id, "Application", id) < 0 || strcmp(id, app.id) != 0)
		__builtin_trap();
	for (size_t i = 0; i < app.ndts; i++) {
		const struct tsm_app_dt *dt = &app.dts[i];

		if (tsm_app_id_normalize(dt->id, "DeploymentType", id) < 0 || strcmp(id, dt->id) != 0)
			__builtin_trap();
		for (size_t k = 0; k < dt->ncontents; k++) {
			char uid[TSM_APP_CONTENT_ID_LEN + 1];

			if (tsm_app_content_id_normalize(dt->contents[k].id, uid) < 0)
				__builtin_trap();
		}
		for (size_t g = 0; g < dt->ngroups; g++)
			for (size_t k = 0; k < dt->groups[g].ndeps; k++)
				if (strcmp(dt->groups[g].deps[k].app, app.id) == 0)
					__builtin_trap(); /* a dependency on itself got through */
	}
	tsm_app_clear(&app);
	return 0;
}
