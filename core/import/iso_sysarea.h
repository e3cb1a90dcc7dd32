/* Layer: import (core/import/).  An imported ISO's system area (ECMA-119
 * 6.2.1: sectors 0-15, 32 KiB) read as the partition tables it holds, so
 * that it can be carried over whole to a re-emitted image.
 *
 * The system area is kept as its bytes plus a map saying how each field
 * that points into the image follows the new layout (core/image/sysarea.c
 * applies it): an MBR's partition starts and sizes (and their CHS), the
 * isohybrid / GRUB 2 MBR's boot file address at byte 432, a GPT's header
 * and entries (UEFI 2.x 5.3; CRCs and the backup GPT are made anew), an
 * Apple partition map's entries.  Each such field is the start or end of
 * a boot image or file of the image, the end of the image, or a place
 * inside the system area, plus a constant; a field that is none of these
 * cannot follow a new layout, and the image is refused naming it.
 *
 * The map is text, one fact a line:
 *   tsmedia-system-area 1
 *   tail BYTES                      bytes the tables need after the data
 *   anchor N bios|uefi|file PATH    what sN / eN (start / end) refer to
 *   pos OFF WIDTH le|be UNIT REF DELTA          field = REF + DELTA
 *   count OFF WIDTH le|be UNIT REF1 D1 REF2 D2  field = (REF2 + D2) - (REF1 + D1)
 *   chs OFF                         the MBR entry at OFF: CHS follow its LBAs
 *   gpt OFF                         the GPT header at OFF: CRCs, backup
 * REF is abs (0), img (the image's end), sN or eN; values are in UNIT-byte
 * blocks (ends rounded up).  Nothing here allocates but the map; the input
 * is hostile and read within its 32 KiB only. */
#ifndef TSMEDIA_IMPORT_ISO_SYSAREA_H
#define TSMEDIA_IMPORT_ISO_SYSAREA_H

#include <stddef.h>
#include <stdint.h>

#define TSM_ISO_SYSTEM_AREA 32768u

/* Something of the image a field may point at. */
struct tsm_sa_anchor {
	const char *kind; /* "bios", "uefi" (the first boot entry of that platform) or "file" */
	const char *path; /* "file": its path in the tree */
	uint64_t off, len; /* its bytes in the image */
};

enum tsm_sa_result {
	TSM_SA_EMPTY,   /* all zero: nothing to carry */
	TSM_SA_MAPPED,  /* *map_ret describes it */
	TSM_SA_HFSPLUS, /* it holds an HFS+ file system's partition: *why_ret says which */
	TSM_SA_REFUSED, /* it cannot follow a new layout: *why_ret says why */
};

/* Reads the system area @sa (TSM_ISO_SYSTEM_AREA bytes) of an image of
 * @image_size bytes whose boot images and files are @anchors; @summary is
 * libisofs' "System area summary" of it (NULL: none).  Sets *map_ret or
 * *why_ret (malloc'ed; the caller frees).  Returns a tsm_sa_result, or
 * -ENOMEM. */
int tsm_iso_sysarea_describe(const uint8_t *sa, uint64_t image_size, const char *summary,
			     const struct tsm_sa_anchor *anchors, size_t nanchors, char **map_ret,
			     char **why_ret);

#endif
