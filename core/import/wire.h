/* The stream a reader in a child process (util/sandbox.h) sends its
 * checked result on, and the importer reads it from: integers as LE64,
 * strings and byte strings as their LE64 length (all ones for none) and
 * their bytes, framed by 8-byte magics.  The importer reads it as it reads
 * any input: every count, length and string checked, at most a set number
 * of bytes in all.  Errors stick: after the first, reads give zeros and
 * NULLs, and tsm_wire_in_end() returns the error (-EPIPE: the stream ended;
 * -EPROTO: malformed).  One thread per stream. */
#ifndef TSMEDIA_IMPORT_WIRE_H
#define TSMEDIA_IMPORT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct tsm_wire_out {
	FILE *f;
};

/* Writes go through a buffer on a duplicate of @fd; close flushes. */
int tsm_wire_out_open(struct tsm_wire_out *w, int fd, const char magic[8]);
void tsm_wire_put_raw(struct tsm_wire_out *w, const void *p, size_t len);
void tsm_wire_put_u64(struct tsm_wire_out *w, uint64_t v);
void tsm_wire_put_bytes(struct tsm_wire_out *w, const void *p, size_t len); /* p NULL: none */
void tsm_wire_put_str(struct tsm_wire_out *w, const char *s);               /* NULL: none */
int tsm_wire_out_close(struct tsm_wire_out *w, const char magic[8]);

struct tsm_wire_in;

/* Reads from @fd (left open), at most @max_total bytes; -EPROTO unless the
 * stream starts with @magic. */
int tsm_wire_in_open(int fd, uint64_t max_total, const char magic[8],
		     struct tsm_wire_in **w_ret);
void tsm_wire_get_raw(struct tsm_wire_in *w, void *out, size_t len);
uint64_t tsm_wire_get_u64(struct tsm_wire_in *w);
/* A value at most @max. */
uint64_t tsm_wire_get_count(struct tsm_wire_in *w, uint64_t max);
/* Malloc'd, NUL-terminated; NULL for none (or after an error). */
uint8_t *tsm_wire_get_bytes(struct tsm_wire_in *w, size_t max, size_t *len_ret);
/* UTF-8 with no NUL inside; NULL for none. */
char *tsm_wire_get_str(struct tsm_wire_in *w, size_t max);
/* Marks the stream malformed (@rc: a negative errno) unless it already
 * failed. */
void tsm_wire_fail(struct tsm_wire_in *w, int rc);
int tsm_wire_rc(const struct tsm_wire_in *w);
/* Checks @magic and that nothing more came; frees @w; the first error. */
int tsm_wire_in_end(struct tsm_wire_in *w, const char magic[8]);

/* A tree path as importers record it: relative, '/'-separated, UTF-8,
 * no empty, "." or ".." component. */
bool tsm_wire_path_ok(const char *path);

#endif
