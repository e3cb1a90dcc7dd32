/* libFuzzer harness: ISO import (core/import/iso.c, libisofs and libcdio's
 * libudf underneath, zisofs decompressed by core/import/zisofs.c).  The input is written to a file on tmpfs and
 * imported into a throwaway store, the way `tsmedia content add` does.  A
 * failed import must leave the store unchanged (checked); a successful one
 * changes it, so the next input gets a fresh store. */
#include <stdint.h>
#include <stddef.h>

#include "fuzz_common.h"
#include "import/iso.h"
#include "tsmedia/content.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_init("iso");
	fuzz_import(tsm_import_iso, TSM_KIND_BOOT_IMAGE, "ISO import", "input.iso", data, size);
	return 0;
}
