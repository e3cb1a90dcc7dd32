#include "util/strset.h"

#include <errno.h>
#include <search.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int compare(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void node_keep(void *s)
{
	(void)s; /* the strings belong to the list */
}

int tsm_strset_add(struct tsm_strset *set, const char *s, size_t len)
{
	char *copy = strndup(s, len);

	if (!copy)
		return -ENOMEM;
	if (tfind(copy, &set->tree, compare)) {
		free(copy);
		return 0;
	}
	if (set->n == set->cap) {
		size_t cap = set->cap ? 2 * set->cap : 8;
		void *p = cap > set->cap && cap <= SIZE_MAX / sizeof(*set->v)
				  ? realloc(set->v, cap * sizeof(*set->v))
				  : NULL;

		if (!p) {
			free(copy);
			return -ENOMEM;
		}
		set->v = p;
		set->cap = cap;
	}
	if (!tsearch(copy, &set->tree, compare)) {
		free(copy);
		return -ENOMEM;
	}
	set->v[set->n++] = copy;
	return 0;
}

bool tsm_strset_has(const struct tsm_strset *set, const char *s)
{
	return tfind(s, &set->tree, compare) != NULL;
}

void tsm_strset_take(struct tsm_strset *set, char ***v_ret, size_t *n_ret)
{
	tdestroy(set->tree, node_keep);
	if (!set->n) {
		free(set->v);
		set->v = NULL;
	}
	*v_ret = set->v;
	*n_ret = set->n;
	memset(set, 0, sizeof(*set));
}

void tsm_strset_clear(struct tsm_strset *set)
{
	tdestroy(set->tree, node_keep);
	for (size_t i = 0; i < set->n; i++)
		free(set->v[i]);
	free(set->v);
	memset(set, 0, sizeof(*set));
}
