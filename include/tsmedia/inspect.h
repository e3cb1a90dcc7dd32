/* Layer: media (core/media/inspect.c). */
/* The client's view of task sequence media: what a booting computer (or a
 * prestaged one checking its local copy) reads and checks. */
#ifndef TSMEDIA_INSPECT_H
#define TSMEDIA_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tsm_inspect_result {
	char *bootstrap;  /* TSMBootstrap.ini */
	char *variables;  /* Variables.dat, decrypted */
	char *policy;     /* Policy.xml, decrypted, or NULL */
	bool encrypted;
	unsigned volumes;
	size_t files_listed, files_ok, files_bad, files_missing;
	size_t files_unchecked; /* listed without a hash: patched when laid out */
	uint64_t bytes_ok;
	char **problems;  /* one line per file that failed */
	size_t nproblems;
};

/* @paths: the volumes in order (ISO files, or directories of files).  A
 * protected media without @password, or with a wrong one, is an error
 * (-EACCES); files failing the manifest are results, not errors. */
int tsm_media_inspect(const char *const *paths, size_t n, const char *password,
		      struct tsm_inspect_result *result_ret);
void tsm_inspect_result_clear(struct tsm_inspect_result *result);

#endif
