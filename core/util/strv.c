/* Vectors of malloc'ed strings. */
#include "util/strv.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int tsm_strv_push(char ***v, size_t *n, const char *s)
{
	char **p = realloc(*v, (*n + 1) * sizeof(**v));

	if (!p)
		return -ENOMEM;
	*v = p;
	if (!(p[*n] = strdup(s)))
		return -ENOMEM;
	(*n)++;
	return 0;
}
