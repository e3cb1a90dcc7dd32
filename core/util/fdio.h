/* Whole reads and writes on descriptors, retried across EINTR and short
 * transfers.  Any thread. */
#ifndef TSMEDIA_UTIL_FDIO_H
#define TSMEDIA_UTIL_FDIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* @len bytes at @off of a file; -EIO when the file ends first. */
int tsm_pread_full(int fd, void *buf, size_t len, uint64_t off);

/* @len bytes from a stream (pipe, socket); -EPIPE when it ends first. */
int tsm_fd_read_full(int fd, void *buf, size_t len);

/* @len bytes to a stream; with @no_sigpipe (sockets only) a reader that is
 * gone is -EPIPE, not SIGPIPE. */
int tsm_fd_write_full(int fd, const void *buf, size_t len, bool no_sigpipe);

#endif
