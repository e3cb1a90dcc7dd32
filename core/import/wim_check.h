/* Checking a WIM's structure against the size of its file before wimlib
 * opens it.  wimlib trusts the sizes and counts it reads (an image count
 * becomes a calloc, a blob table's or XML resource's size a malloc, a
 * compressed resource's size the size of its chunk table), so a WIM of a
 * few KB can make it allocate gigabytes.  This reads the header and the
 * blob table itself, with overflow-checked arithmetic, and refuses with a
 * message naming the file and the field before anything else reads it.
 *
 * Sources: Microsoft, "Windows Imaging File Format (WIM)", October 2007
 * (WIMHEADER_V1_PACKED, RESHDR_DISK_SHORT, the lookup table); wimlib's
 * include/wimlib/header.h, resource.h and src/blob_table.c (versions
 * 0x10d00 and 0xe00, solid resources, accepted chunk sizes), which is what
 * reads the file afterwards. */
#ifndef TSMEDIA_IMPORT_WIM_CHECK_H
#define TSMEDIA_IMPORT_WIM_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/wim_resource.h"

/* The XML data of a real WIM is a few KB per image; this leaves room for
 * thousands of images and keeps libxml2's tree (several times the text)
 * small. */
#define TSM_WIM_XML_MAX (16u << 20)
/* One image's metadata resource (security data and dentry tree), as wimlib
 * reads it into memory whole: a Windows install image's is tens of MB. */
#define TSM_WIM_METADATA_MAX (512ull << 20)
/* Largest chunk of a solid resource: wimlib and DISM write at most 64 MiB
 * (wimlib-imagex --solid-chunk-size), and wimlib allocates buffers of it. */
#define TSM_WIM_SOLID_CHUNK_MAX (64u << 20)

/* What the check learnt (for the importer's limits). */
struct tsm_wim_facts {
	uint32_t version;
	uint16_t part_number, total_parts;
	uint32_t image_count;
	uint64_t file_size;
	uint64_t metadata_bytes; /* sum of the metadata resources' sizes */
	uint64_t data_bytes;     /* sum of the other blobs' uncompressed sizes */
};

/* Checks WIM file @path (named so in messages).  0, or a negative errno
 * after reporting what is wrong. */
int tsm_wim_check_file(const char *path, struct tsm_wim_facts *facts_ret);

/* Where the blob of SHA-1 @sha1s[i] lies in WIM @fd (named @path), as
 * its blob table says: @found_ret[i] is true and @desc_ret[i] filled for
 * each one held in a resource of its own in this file (a solid resource,
 * another part or a pipable WIM lay them out otherwise, and chunks larger
 * than TSM_WIM_RES_CHUNK_MAX are more than the reader takes: not found).  The
 * file has passed tsm_wim_check_file(); the descriptors are checked again
 * where they are used (tsm_wim_res_check()). */
int tsm_wim_find_resources(const char *path, int fd, const uint8_t (*sha1s)[20], size_t n,
			   bool *found_ret, struct tsm_wim_res_desc *desc_ret);

#endif
