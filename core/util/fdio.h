/* Whole reads and writes on descriptors, retried across EINTR and short
 * transfers; a small file read whole.  Any thread. */
#ifndef TSMEDIA_UTIL_FDIO_H
#define TSMEDIA_UTIL_FDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* @len bytes at @off of a file; -EIO when the file ends first. */
int tsm_pread_full(int fd, void *buf, size_t len, uint64_t off);

/* @len bytes written at @off of a file; -EIO when nothing more goes in. */
int tsm_pwrite_full(int fd, const void *buf, size_t len, uint64_t off);

/* @len bytes from a stream (pipe, socket); -EPIPE when it ends first. */
int tsm_fd_read_full(int fd, void *buf, size_t len);

/* @len bytes to a stream; with @no_sigpipe (sockets only) a reader that is
 * gone is -EPIPE, not SIGPIPE. */
int tsm_fd_write_full(int fd, const void *buf, size_t len, bool no_sigpipe);

/* Regular file @path read whole into a malloc'ed buffer (NUL after its
 * bytes), opened without blocking (a FIFO is refused, not waited on).  Errors
 * are reported naming @path, except -EFBIG (over @max bytes; its size in
 * *@len_ret), which the caller reports in its own terms. */
int tsm_file_read_whole(const char *path, size_t max, char **buf_ret, size_t *len_ret);

#endif
