/* Vectors of malloc'ed strings (a set with lookups is util/strset.h). */
#ifndef TSMEDIA_UTIL_STRV_H
#define TSMEDIA_UTIL_STRV_H

#include <stdbool.h>
#include <stddef.h>

/* Appends a copy of @s; 0 or -ENOMEM. */
int tsm_strv_push(char ***v, size_t *n, const char *s);

#endif
