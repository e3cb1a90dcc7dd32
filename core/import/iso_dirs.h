/* Checking an ISO 9660 image's directory records, Rock Ridge continuation
 * areas and relocations before libisofs reads them. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Walks the directory trees of the primary volume descriptor and of every
 * Joliet supplementary one in the image open on @fd (@image_size bytes;
 * @file names it in messages) and checks each directory record against
 * ECMA-119 9.1.  0, or -EINVAL/-EIO/-ENOMEM after a message. */
int tsm_iso_dirs_check(int fd, const char *file, uint64_t image_size);
/* The same; *@ended_ret (when not NULL) says whether a terminator (type 255)
 * ended the descriptor set within the image's whole sectors. */
int tsm_iso_dirs_check_ended(int fd, const char *file, uint64_t image_size, bool *ended_ret);
