/* A list of distinct strings in the order they were first added, with a
 * balanced tree (glibc's tsearch) to find them: n additions cost
 * O(n log n), whatever the input repeats.  Not thread-safe; the owner frees
 * it with tsm_strset_clear() or hands the list over with tsm_strset_take(). */
#ifndef TSMEDIA_UTIL_STRSET_H
#define TSMEDIA_UTIL_STRSET_H

#include <stdbool.h>
#include <stddef.h>

struct tsm_strset {
	char **v;      /* the strings, in order of first addition */
	size_t n;
	size_t cap;
	void *tree;    /* tsearch() root over v's strings */
};

/* Adds a copy of the @len bytes at @s unless an equal string is in; 0 or
 * -ENOMEM. */
int tsm_strset_add(struct tsm_strset *set, const char *s, size_t len);
bool tsm_strset_has(const struct tsm_strset *set, const char *s);
/* Hands over the list (NULL when empty; the caller frees each string and
 * the array) and empties @set. */
void tsm_strset_take(struct tsm_strset *set, char ***v_ret, size_t *n_ret);
void tsm_strset_clear(struct tsm_strset *set);

#endif
