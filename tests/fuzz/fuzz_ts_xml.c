/* libFuzzer harness: task sequence XML (core/import/ts_xml.c, libxml2
 * underneath): the three dialects, then what `ts import` and `ts show`
 * derive from a parsed document (the package and application lists, the
 * steps stand-alone media cannot run, and those their conditions do not keep
 * off stand-alone media).  Pure: no files, no store. */
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "import/ts_xml.h"
#include "tsmedia/ts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tsm_ts_doc doc;
	struct tsm_ts_info info = { 0 };
	char **blockers = NULL;
	size_t nblockers = 0;

	fuzz_init("ts_xml");
	if (tsm_ts_xml_parse_memory("fuzz input", (const char *)data, size, &doc) < 0) {
		fuzz_expect_valid(0, "the task sequence parser");
		return 0;
	}
	/* The document's steps and groups, borrowed for the summary. */
	info.steps = doc.steps;
	info.nsteps = doc.nsteps;
	info.groups = doc.groups;
	info.ngroups = doc.ngroups;
	if (tsm_ts_summarize(&info, doc.ref_packages, doc.nref_packages, doc.ref_applications,
			     doc.nref_applications) == 0 &&
	    tsm_ts_standalone_blockers(&info, &blockers, &nblockers) == 0) {
		tsm_ts_strings_free(blockers, nblockers);
		if (tsm_ts_standalone_refused(&info, &blockers, &nblockers) == 0)
			tsm_ts_strings_free(blockers, nblockers);
	}
	tsm_ts_strings_free(info.packages, info.npackages);
	tsm_ts_strings_free(info.applications, info.napplications);
	tsm_ts_strings_free(info.disabled_packages, info.ndisabled_packages);
	tsm_ts_strings_free(info.disabled_applications, info.ndisabled_applications);
	tsm_ts_doc_clear(&doc);
	return 0;
}
