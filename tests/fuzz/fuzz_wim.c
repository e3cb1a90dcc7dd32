/* libFuzzer harness: WIM import (core/import/wim.c, wimlib underneath).
 * The input is written to a file on tmpfs and imported, every image, into
 * a throwaway store, the way `tsmedia content add` does.  A failed import
 * must leave the store unchanged (checked); a successful one changes it,
 * so the next input gets a fresh store. */
#include <stdint.h>
#include <stddef.h>

#include "fuzz_common.h"
#include "import/wim.h"
#include "tsmedia/content.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_init("wim");
	fuzz_import(tsm_import_wim, TSM_KIND_OS_IMAGE, "WIM import", "input.wim", data, size);
	return 0;
}
