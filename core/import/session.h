/* An import session: one new content version built entry by entry, from a
 * directory walk or from an image being taken apart (ISO, WIM).  It holds
 * the store's write session: finish commits everything (packs fsynced
 * first), abort leaves the store as it was.  One thread. */
#ifndef TSMEDIA_IMPORT_SESSION_H
#define TSMEDIA_IMPORT_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tsmedia/content.h"

struct tsm_store;
struct tsm_import;

/* Sequential reads of a file's bytes: bytes read, 0 at the end, or a
 * negative errno (reported by the callee). */
typedef ssize_t (*tsm_import_read_fn)(void *ctx, void *buf, size_t len);

/* Name, version label and ID well-formed (reported when not). */
int tsm_import_check_options(const struct tsm_content_add_options *o);

/* Begins: checks the options, resolves the ID (new item, or new version of
 * an existing one) and records the version.  @source names where it came
 * from; @total_bytes sizes the progress display (0: unknown). */
int tsm_import_begin(struct tsm_store *store, const struct tsm_content_add_options *o,
		     const char *source, uint64_t total_bytes, struct tsm_import **imp_ret);

/* Paths are relative, '/'-separated, UTF-8; parents before children. */
int tsm_import_add_dir(struct tsm_import *imp, const char *path, uint32_t mode,
		       int64_t mtime_ns, uint32_t attributes);
int tsm_import_add_symlink(struct tsm_import *imp, const char *path, const char *target,
			   int64_t mtime_ns);
int tsm_import_add_file_fd(struct tsm_import *imp, const char *path, uint32_t mode,
			   int64_t mtime_ns, uint32_t attributes, int fd, const char *what);
int tsm_import_add_file_stream(struct tsm_import *imp, const char *path, uint32_t mode,
			       int64_t mtime_ns, uint32_t attributes, tsm_import_read_fn read,
			       void *ctx, const char *what);

/* A tsm_import_read_fn over bytes in memory: ctx is a struct
 * tsm_import_mem, consumed as it is read. */
struct tsm_import_mem {
	const uint8_t *p;
	size_t left;
};
ssize_t tsm_import_mem_read(void *ctx, void *buf, size_t len);

/* A boot image that is no file of the tree (an EFI image held only as an
 * appended partition): stored as a blob; returns its id for the entry. */
int tsm_import_add_hidden_blob(struct tsm_import *imp, tsm_import_read_fn read, void *ctx,
			       const char *what, int64_t *blob_id_ret, uint64_t *size_ret);
int tsm_import_add_boot(struct tsm_import *imp, const struct tsm_boot_entry *entry);
/* Per-version facts an image brings (volume_id, hybrid_mbr, hybrid_gpt). */
int tsm_import_set_meta(struct tsm_import *imp, const char *key, const void *value, size_t len);

/* ---- images whose data arrive apart from their tree (WIM) ------------- */

/* Stores one blob read from @read.  With @sha1, the blob's SHA-1 must be
 * that (else -EBADMSG, reported naming @what). */
int tsm_import_add_blob(struct tsm_import *imp, tsm_import_read_fn read, void *ctx,
			const char *what, const uint8_t *sha1, int64_t *blob_id_ret,
			uint64_t *size_ret);
/* The same for @len bytes in memory, stored now. */
int tsm_import_add_bytes(struct tsm_import *imp, const void *data, size_t len, const char *what,
			 const uint8_t *sha1, int64_t *blob_id_ret);
/* The same for @len bytes in memory (copied) with SHA-1 @sha1: stored
 * now, or, with workers, queued with other small ones and hashed and
 * compressed many at once (store/blob_writer.c).  *@blob_id_ret (which
 * must stay valid) is set once the blob is stored and its SHA-1 checked,
 * at the latest by tsm_import_flush(); an error found then (a SHA-1
 * mismatch) fails the call that stored it. */
int tsm_import_queue_blob(struct tsm_import *imp, const void *data, size_t len,
			  const char *what, const uint8_t *sha1, int64_t *blob_id_ret);
/* Everything queued stored (and recorded). */
int tsm_import_flush(struct tsm_import *imp);
/* tsm_import_add_file_fd() that gives the file's blob id. */
int tsm_import_add_file_fd_blob(struct tsm_import *imp, const char *path, uint32_t mode,
				int64_t mtime_ns, uint32_t attributes, int fd, const char *what,
				int64_t *blob_id_ret);
/* A blob whose bytes are resource @d of blob @wim_blob, a WIM stored in
 * this session (store/wim_resource.h): no second copy of them.  The caller
 * read the resource and checked it (@sha256, @sha1 of its bytes). */
struct tsm_wim_res_desc;
int tsm_import_add_wim_resource(struct tsm_import *imp, int64_t wim_blob,
				const struct tsm_wim_res_desc *d, const uint8_t *sha256,
				const uint8_t *sha1, const char *what, int64_t *blob_id_ret);
/* A file whose bytes are blob @blob_id, stored already (0: empty file). */
int tsm_import_add_file_blob(struct tsm_import *imp, const char *path, uint32_t mode,
			     int64_t mtime_ns, uint32_t attributes, int64_t blob_id, uint64_t size);
/* Windows metadata of entry @m->path ("" the root), and its named data
 * streams (@m->streams); security descriptors are shared store-wide. */
struct tsm_win_meta;
int tsm_import_add_win_meta(struct tsm_import *imp, const struct tsm_win_meta *m);

int tsm_import_finish(struct tsm_import *imp, struct tsm_content_add_result *res);
void tsm_import_abort(struct tsm_import *imp);

/* From a timespec to the catalog's nanoseconds. */
struct timespec;
struct stat;
int64_t tsm_timespec_ns(const struct timespec *ts);
/* Windows attributes for a POSIX file: directory, archive, read-only. */
uint32_t tsm_windows_attributes(const struct stat *st);

#endif
