/* One version of a media, and streaming its volumes out and back in. */
#include "media_io.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <unistd.h>

#include "cli.h"
#include "tsmedia/image.h"
#include "tsmedia/log.h"
#include "tsmedia/media.h"
#include "tsmedia/progress.h"
#include "tsmedia/store.h"

/* 4 MiB pieces: large sequential writes, a multiple of every block size. */
#define IO_SIZE (4u << 20)
#define IO_ALIGN 4096u
/* Pieces of one IO_SIZE request: ranges of packs merge, so a request of
 * large files' chunks is a handful; small files make more. */
#define MAX_PIECES 256

int media_sel_open(struct cli *cli, const char *name, int64_t number, struct media_sel *sel)
{
	int rc;

	memset(sel, 0, sizeof(*sel));
	if ((rc = cli_open_store(cli, &sel->store)) < 0)
		return rc;
	rc = number > 0 ? tsm_media_snapshot_take_number(sel->store, name, number, true, &sel->snap)
			: tsm_media_snapshot_take(sel->store, name, true, &sel->snap);
	if (rc == 0)
		rc = tsm_media_layout(sel->store, sel->snap, &sel->set);
	if (rc < 0)
		media_sel_close(sel);
	return rc;
}

void media_sel_close(struct media_sel *sel)
{
	tsm_volume_set_free(sel->set);
	tsm_media_snapshot_free(sel->snap);
	tsm_store_close(sel->store);
	memset(sel, 0, sizeof(*sel));
}

void media_sel_dir(const struct media_sel *sel, char *buf, size_t size)
{
	if (sel->snap->number > 0)
		snprintf(buf, size, "versions/%s/%" PRId64, sel->snap->info.def.name,
			 sel->snap->number);
	else if (size)
		buf[0] = '\0';
}

int media_parse_version(const char *cmd, const char *text, int64_t *number_ret)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno || end == text || *end || v < 1)
		return cli_usage_error(cmd, "--version wants a version number (1 or more, as"
				       " versions/NAME/N names it), not '%s'", text);
	*number_ret = v;
	return 0;
}

static uint8_t *aligned_buffer(void)
{
	void *p = NULL;

	return posix_memalign(&p, IO_ALIGN, IO_SIZE) == 0 ? p : NULL;
}

/* How file ranges of the store's packs reach the output: copy_file_range(2)
 * (one copy in the kernel, or shared extents where the file system can),
 * sendfile(2) where that is refused (another file system, a pipe), or a
 * read and a write where both are. */
enum range_mode { RANGE_COPY, RANGE_SENDFILE, RANGE_READ_WRITE };

struct piece_writer {
	int fd;
	enum range_mode mode;
	uint8_t *bounce; /* RANGE_READ_WRITE's buffer, made when first needed */
};

/* Errors that say "not this way" rather than "this failed" (copy_file_range(2),
 * sendfile(2): EXDEV across file systems before 5.19's rules allow it,
 * EINVAL for a pipe or an O_APPEND output, EOPNOTSUPP/ENOSYS where the
 * call is missing). */
static bool range_refused(int err)
{
	return err == EXDEV || err == EINVAL || err == EOPNOTSUPP || err == ENOSYS || err == EBADF;
}

/* @len bytes at @pos of pack file @in to the output's current position. */
static int write_file_range(struct piece_writer *w, int in, uint64_t pos, size_t len)
{
	while (len) {
		ssize_t n;

		if (w->mode == RANGE_COPY) {
			loff_t in_off = (loff_t)pos;

			n = copy_file_range(in, &in_off, w->fd, NULL, len, 0);
		} else if (w->mode == RANGE_SENDFILE) {
			off_t in_off = (off_t)pos;

			n = sendfile(w->fd, in, &in_off, len);
		} else {
			size_t want = len < IO_SIZE ? len : IO_SIZE;
			int rc;

			if (!w->bounce && !(w->bounce = malloc(IO_SIZE)))
				return -ENOMEM;
			n = pread(in, w->bounce, want, (off_t)pos);
			if (n > 0 && (rc = cli_write_all(w->fd, w->bounce, (size_t)n)) < 0) {
				errno = -rc;
				n = -1;
			}
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && w->mode != RANGE_READ_WRITE && range_refused(errno)) {
			w->mode++;
			continue;
		}
		if (n < 0)
			return -errno;
		if (n == 0) /* the pack ends before the chunk the map said is there */
			return -EIO;
		pos += (uint64_t)n;
		len -= (size_t)n;
	}
	return 0;
}

/* Without a copy through this process where it can: every piece of the
 * image is a checked chunk's range of a pack file (tsm_image_map: only
 * chunks whose SHA-256 this process has checked in that very pack file are
 * handed out as ranges; the rest is read and checked into memory), while
 * the store's verify-ahead threads check the chunks that come next. */
static int image_write_mapped(struct tsm_store *store, struct tsm_image *image, int fd,
			      const char *what, struct tsm_progress *progress)
{
	struct tsm_piece pieces[MAX_PIECES];
	struct piece_writer w = { .fd = fd, .mode = RANGE_COPY };
	struct tsm_blob_source *source = NULL;
	uint64_t off = 0, size = tsm_image_size(image);
	uint8_t *scratch = malloc(IO_SIZE);
	int rc = scratch ? tsm_store_blob_source_new(store, &source) : -ENOMEM;

	while (rc == 0 && off < size) {
		size_t n = 0;
		ssize_t got = tsm_image_map_stepped(image, source, off, IO_SIZE, scratch, pieces,
						    MAX_PIECES, &n);

		if (got <= 0) {
			rc = got < 0 ? (int)got : -EIO;
			tsm_error("%s: reading the media at offset %" PRIu64 " failed", what, off);
			break;
		}
		for (size_t i = 0; rc == 0 && i < n; i++) {
			rc = pieces[i].mem ? cli_write_all(fd, pieces[i].mem, pieces[i].len)
					   : write_file_range(&w, pieces[i].fd, pieces[i].pos,
							      pieces[i].len);
			if (rc < 0)
				tsm_error("writing %s at offset %" PRIu64 ": %s", what, off,
					  strerror(-rc));
			off += pieces[i].len;
		}
		/* The pack descriptors in the pieces have been read from. */
		tsm_store_reads_done(store);
		tsm_progress_add(progress, (uint64_t)got);
	}
	tsm_store_blob_source_free(source);
	free(w.bounce);
	free(scratch);
	return rc;
}

int media_image_write(struct tsm_store *store, struct tsm_image *image, int fd, const char *what,
		      struct tsm_progress *progress, bool direct, unsigned block_size,
		      uint8_t sha256[TSM_SHA256_LEN])
{
	struct tsm_blob_source *source = NULL;
	struct tsm_file_hasher *hasher = NULL;
	uint64_t off = 0, size = tsm_image_size(image);
	uint8_t *buf, sha1_unused[TSM_SHA1_LEN];
	int rc;

	/* Bytes that must pass through memory (hashed, or O_DIRECT blocks)
	 * are read into a buffer; everything else goes as pieces. */
	if (!direct && !sha256)
		return image_write_mapped(store, image, fd, what, progress);
	buf = aligned_buffer();
	rc = buf ? tsm_store_blob_source_new(store, &source) : -ENOMEM;
	if (rc == 0 && sha256)
		rc = tsm_file_hasher_new(&hasher);
	if (block_size == 0 || IO_SIZE % block_size)
		block_size = 512;
	while (rc == 0 && off < size) {
		ssize_t n = tsm_image_pread(image, source, buf, IO_SIZE, off);
		size_t whole;

		if (n <= 0) {
			rc = n < 0 ? (int)n : -EIO;
			tsm_error("%s: reading the media at offset %" PRIu64 " failed", what, off);
			break;
		}
		if (hasher && (rc = tsm_file_hasher_update_sha256(hasher, buf, (size_t)n)) < 0)
			break;
		/* O_DIRECT takes whole blocks: a tail shorter than one goes
		 * through the page cache (the fsync that follows flushes it). */
		whole = direct ? (size_t)n - (size_t)n % block_size : (size_t)n;
		if (whole && (rc = cli_write_all(fd, buf, whole)) < 0) {
			tsm_error("writing %s at offset %" PRIu64 ": %s", what, off, strerror(-rc));
			break;
		}
		if (whole < (size_t)n) {
			int flags = fcntl(fd, F_GETFL);

			if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_DIRECT) < 0 ||
			    (rc = cli_write_all(fd, buf + whole, (size_t)n - whole)) < 0) {
				rc = rc < 0 ? rc : -errno;
				tsm_error("writing %s at offset %" PRIu64 ": %s", what, off + whole,
					  strerror(-rc));
				break;
			}
		}
		off += (uint64_t)n;
		tsm_progress_add(progress, (uint64_t)n);
	}
	if (rc == 0 && hasher)
		rc = tsm_file_hasher_final(hasher, sha256, sha1_unused);
	tsm_file_hasher_free(hasher);
	tsm_store_blob_source_free(source);
	free(buf);
	return rc;
}

int media_image_verify(struct tsm_store *store, struct tsm_image *image, int fd, const char *what,
		       struct tsm_progress *progress, uint8_t sha256[TSM_SHA256_LEN])
{
	struct tsm_blob_source *source = NULL;
	struct tsm_file_hasher *hasher = NULL;
	uint64_t off = 0, size = tsm_image_size(image), first_diff = UINT64_MAX;
	uint8_t *got = aligned_buffer(), *want = malloc(IO_SIZE), sha1_unused[TSM_SHA1_LEN];
	int rc = got && want ? tsm_store_blob_source_new(store, &source) : -ENOMEM;

	if (rc == 0)
		rc = tsm_file_hasher_new(&hasher);
	while (rc == 0 && off < size) {
		size_t len = size - off < IO_SIZE ? (size_t)(size - off) : IO_SIZE;
		/* Whole aligned blocks for O_DIRECT; only @len of them count. */
		size_t ask = (len + IO_ALIGN - 1) / IO_ALIGN * IO_ALIGN;
		size_t have = 0;
		ssize_t n = tsm_image_pread(image, source, want, len, off);

		if (n != (ssize_t)len) {
			rc = n < 0 ? (int)n : -EIO;
			tsm_error("%s: reading the media at offset %" PRIu64 " failed", what, off);
			break;
		}
		while (have < len) {
			ssize_t r = pread(fd, got + have, ask - have, (off_t)(off + have));

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				rc = r < 0 ? -errno : -EIO;
				if (r < 0)
					tsm_error("reading %s back at offset %" PRIu64 ": %s", what,
						  off + have, strerror(-rc));
				else
					tsm_error("reading %s back: it ends at %" PRIu64 " bytes, the"
						  " media has %" PRIu64, what, off + have, size);
				break;
			}
			have += (size_t)r;
		}
		if (rc < 0)
			break;
		if ((rc = tsm_file_hasher_update_sha256(hasher, got, len)) < 0)
			break;
		if (first_diff == UINT64_MAX && memcmp(got, want, len) != 0)
			for (size_t i = 0; i < len && first_diff == UINT64_MAX; i++)
				if (got[i] != want[i])
					first_diff = off + i;
		off += len;
		tsm_progress_add(progress, len);
	}
	if (rc == 0)
		rc = tsm_file_hasher_final(hasher, sha256, sha1_unused);
	if (rc == 0 && first_diff != UINT64_MAX) {
		tsm_error("%s differs from the media from byte %" PRIu64 " on", what, first_diff);
		rc = -EBADMSG;
	}
	tsm_file_hasher_free(hasher);
	tsm_store_blob_source_free(source);
	free(got);
	free(want);
	return rc;
}

bool media_confirm(const char *question, const char *answer)
{
	char line[64];
	size_t len;

	if (!isatty(STDIN_FILENO)) {
		tsm_error("standard input is not a terminal, so there is nobody to ask: give --yes"
			  " to go on without asking");
		return false;
	}
	fprintf(stderr, "%s ", question);
	fflush(stderr);
	if (!fgets(line, sizeof(line), stdin))
		return false;
	len = strcspn(line, "\r\n");
	line[len] = '\0';
	return strcmp(line, answer) == 0;
}

int media_test_hook(const char *dev)
{
	const char *cmd = getenv("TSMEDIA_TEST_BEFORE_VERIFY");
	int status;

	if (!cmd || !*cmd)
		return 0;
	if (setenv("TSMEDIA_DEVICE", dev, 1) < 0)
		return -errno;
	status = system(cmd);
	if (status != 0) {
		tsm_error("TSMEDIA_TEST_BEFORE_VERIFY failed (status %d)", status);
		return -EIO;
	}
	return 0;
}
