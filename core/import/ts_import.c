/* `ts import`: a task sequence document read and checked (import/ts_xml.c)
 * before the store is touched, then recorded as a new version. */
#include "tsmedia/ts.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/rows.h"
#include "import/source.h"
#include "import/ts_xml.h"
#include "store/store_internal.h"
#include "tsmedia/content.h"
#include "tsmedia/log.h"

static const char *const dialect_names[] = {
	[TSM_TS_DIALECT_SEQUENCE] = "sequence",
	[TSM_TS_DIALECT_MDT] = "mdt",
	[TSM_TS_DIALECT_OBJECT] = "console-export",
};

int tsm_ts_import(struct tsm_store *store, const char *name, const char *id, const char *boot_image,
		  const char *path, char id_ret[9])
{
	char ts_id[TSM_CONTENT_ID_LEN + 1] = "", boot[TSM_CONTENT_ID_LEN + 1] = "";
	struct tsm_content_row content;
	struct tsm_ts_doc doc;
	struct tsm_ts_rows rows;
	char *source = NULL;
	int64_t version;
	int rc;

	/* Options first: a typo costs no parse. */
	if (id && tsm_content_id_normalize(id, ts_id) < 0) {
		tsm_error("invalid task sequence ID '%s': %s", id, TSM_TS_ID_RULE);
		return -EINVAL;
	}
	if (boot_image && tsm_content_id_normalize(boot_image, boot) < 0) {
		tsm_error("invalid boot image ID '%s': %s", boot_image, TSM_TS_ID_RULE);
		return -EINVAL;
	}
	/* Everything is read and checked before the store is touched. */
	if ((rc = tsm_ts_xml_parse_file(path, &doc)) < 0)
		return rc;
	if (!name)
		name = doc.object_name;
	if (!name || !*name) {
		tsm_error("%s names no task sequence: give it a name (--name)", path);
		rc = -EINVAL;
		goto out_doc;
	}
	if (strlen(name) > 255 || !tsm_utf8_valid(name)) {
		tsm_error("invalid task sequence name '%s': 1 to 255 characters of UTF-8", name);
		rc = -EINVAL;
		goto out_doc;
	}
	if (!id && doc.object_id[0])
		memcpy(ts_id, doc.object_id, sizeof(ts_id));
	if (!boot_image && doc.object_boot_image[0])
		memcpy(boot, doc.object_boot_image, sizeof(boot));
	if (!(source = realpath(path, NULL)) && !(source = strdup(path))) {
		rc = -ENOMEM;
		goto out_doc;
	}
	rows = (struct tsm_ts_rows){
		.dialect = dialect_names[doc.dialect],
		.sequence_xml = doc.sequence_xml, .sequence_len = doc.sequence_len,
		.steps = doc.steps, .nsteps = doc.nsteps,
		.groups = doc.groups, .ngroups = doc.ngroups,
		.ref_packages = doc.ref_packages, .nref_packages = doc.nref_packages,
		.ref_applications = doc.ref_applications,
		.nref_applications = doc.nref_applications,
	};

	if ((rc = tsm_store_write_begin(store)) < 0)
		goto out_doc;
	if (!ts_id[0] && (rc = tsm_ts_id_allocate(store, ts_id)) < 0)
		goto out_abort;
	if ((rc = tsm_content_row_find(store, ts_id, &content)) < 0)
		goto out_abort;
	if (content.exists) {
		tsm_error("%s: ID %s is taken by content in %s; a task sequence needs an ID of its"
			  " own (--id)", path, ts_id, store->dir);
		rc = -EEXIST;
		goto out_abort;
	}
	if ((rc = tsm_ts_max_version(store, ts_id, &version)) < 0)
		goto out_abort;
	version++;
	if ((rc = tsm_ts_rows_write(store, ts_id, version, name, boot[0] ? boot : NULL, source,
				    &rows)) < 0)
		goto out_abort;
	if ((rc = tsm_store_write_commit(store)) < 0)
		goto out_doc;
	memcpy(id_ret, ts_id, TSM_CONTENT_ID_LEN + 1);
	goto out_doc;

out_abort:
	tsm_store_write_abort(store);
out_doc:
	free(source);
	tsm_ts_doc_clear(&doc);
	return rc;
}
