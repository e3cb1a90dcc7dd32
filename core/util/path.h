/* Checks on names and paths from input.  Any thread. */
#ifndef TSMEDIA_UTIL_PATH_H
#define TSMEDIA_UTIL_PATH_H

#include <stdbool.h>

/* True when @s is well-formed UTF-8 with no overlong forms or surrogates. */
bool tsm_utf8_valid(const char *s);

#endif
