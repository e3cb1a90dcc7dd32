/* Importing an ISO image as content: its file tree (from UDF when it has
 * UDF, else Joliet, Rock Ridge or plain ISO 9660 names), its El Torito boot
 * entries (boot images no directory names become hidden blobs) and facts
 * about the image (volume label, hybrid MBR, GPT, the system area's kind,
 * the catalog's path).  The image is read with libisofs (ISO 9660, Rock
 * Ridge, Joliet, El Torito) and libcdio's libudf, in a child process under
 * memory and CPU limits (util/sandbox.h); zisofs files are decompressed
 * here (import/zisofs.h).  The image is hostile: the whole tree is checked before the
 * store is touched (in the child, then again as it arrives), file data are
 * read by the extents that were checked, and any error leaves the store
 * unchanged.  One thread; forks the reader before the import session
 * starts its threads. */
#ifndef TSMEDIA_IMPORT_ISO_H
#define TSMEDIA_IMPORT_ISO_H

#include <stdbool.h>

struct tsm_store;
struct tsm_content_add_options;
struct tsm_content_add_result;

/* True when the file open at @fd looks like an ISO 9660 or UDF image:
 * "CD001", "BEA01", "NSR02" or "NSR03" at byte 32769 (ECMA-119 8.1,
 * ECMA-167 2/9.1).  The file offset is not moved. */
bool tsm_iso_file_detect(int fd);

/* Imports the image @o->source as one new content version. */
int tsm_import_iso(struct tsm_store *store, const struct tsm_content_add_options *o,
		   struct tsm_content_add_result *res);

#endif
