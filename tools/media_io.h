/* What media export, write and burn share: one version of a media, pinned
 * and laid out, and streaming its volumes through the one reader. */
#ifndef TSMEDIA_TOOLS_MEDIA_IO_H
#define TSMEDIA_TOOLS_MEDIA_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsmedia/hash.h"

struct cli;
struct tsm_store;
struct tsm_image;
struct tsm_progress;
struct tsm_media_snapshot;
struct tsm_volume_set;

/* One version of a media: every volume of it comes from the same
 * snapshot, pinned until media_sel_close (gc during a long write loses
 * nothing, and a change to the media meanwhile does not mix in). */
struct media_sel {
	struct tsm_store *store;
	struct tsm_media_snapshot *snap;
	struct tsm_volume_set *set;
};

/* Media @name's newest version, or its numbered version @number (> 0). */
int media_sel_open(struct cli *cli, const char *name, int64_t number, struct media_sel *sel);
void media_sel_close(struct media_sel *sel);
/* "versions/NAME/N" for the selected version ("" when it has no number yet). */
void media_sel_dir(const struct media_sel *sel, char *buf, size_t size);

/* Parses a --version argument: a number of 1 or more. */
int media_parse_version(const char *cmd, const char *text, int64_t *number_ret);

/* Streams @image to @fd from offset 0, @what naming the destination in
 * messages; feeds @sha256 (may be NULL).  With @direct the writes come from
 * a buffer aligned for O_DIRECT, in whole @block_size blocks; a last piece
 * shorter than a block is written with O_DIRECT cleared. */
int media_image_write(struct tsm_store *store, struct tsm_image *image, int fd, const char *what,
		      struct tsm_progress *progress, bool direct, unsigned block_size,
		      uint8_t sha256[TSM_SHA256_LEN]);

/* Reads @fd from offset 0 for the image's size and compares it with
 * @image's bytes; SHA-256 of what was read into @sha256.  0 when they are
 * equal; -EBADMSG (reported with the first offset that differs, @sha256
 * filled) when they differ; another negative errno (reported) when it
 * cannot be read. */
int media_image_verify(struct tsm_store *store, struct tsm_image *image, int fd, const char *what,
		       struct tsm_progress *progress, uint8_t sha256[TSM_SHA256_LEN]);

/* Asks @question on the terminal; true when the answer is @answer
 * ("yes", or "" for just Enter).  False (and says why) when standard input
 * is not a terminal. */
bool media_confirm(const char *question, const char *answer);

/* Tests only: runs $TSMEDIA_TEST_BEFORE_VERIFY, when set, with
 * $TSMEDIA_DEVICE = @dev, between a write and its read back (a second
 * writer that damages the device, which the read back must then catch). */
int media_test_hook(const char *dev);

#endif
