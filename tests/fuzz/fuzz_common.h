/* What the libFuzzer harnesses share: a private scratch directory on tmpfs,
 * the input written there as a file (the importers read paths), a throwaway
 * store, and tsmedia's messages kept quiet (TSM_FUZZ_VERBOSE=1 shows them).
 * One process, one thread, one scratch directory: -jobs/-workers each get
 * their own. */
#ifndef TSMEDIA_FUZZ_COMMON_H
#define TSMEDIA_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

struct tsm_store;
struct tsm_content_add_options;
struct tsm_content_add_result;

/* The harnesses' fixed password (PKCS#12 files and protected media in the
 * seed corpus use it; make-corpus.sh writes the same). */
#define FUZZ_PASSWORD "fuzzpw"

/* Once per process: quiet logging, the scratch directory (removed at exit). */
void fuzz_init(const char *harness);
/* With TSM_FUZZ_EXPECT_VALID=1 (check.sh sets it for the seeds), aborts
 * naming @what unless @ok: a seed the parser refuses would leave the harness
 * fuzzing its error path alone, or hide a harness that no longer reaches the
 * parser. */
void fuzz_expect_valid(int ok, const char *what);
/* "<scratch>/<name>", valid until the fourth call after (of fuzz_path or
 * fuzz_write_file). */
const char *fuzz_path(const char *name);
/* Writes @data to "<scratch>/<name>" (replacing it); returns its path. */
const char *fuzz_write_file(const char *name, const uint8_t *data, size_t size);
/* Removes "<scratch>/<name>" and everything under it. */
void fuzz_remove(const char *name);

/* A store in "<scratch>/store" that no earlier input touched.  Reused while
 * inputs leave it unchanged (what every failed import must do, checked by
 * fuzz_store_check_unchanged); fuzz_store_discard() after an input that
 * changed it makes the next call build a fresh one. */
struct tsm_store *fuzz_store(void);
void fuzz_store_discard(void);
/* Aborts (a finding) when the store differs from what fuzz_store() gave:
 * "any error leaves the store unchanged" (core/import/iso.h, wim.h). */
void fuzz_store_check_unchanged(const char *what);

/* One input through an importer of images (tsm_import_iso, tsm_import_wim):
 * written to "<scratch>/<file_name>" and imported into the throwaway store
 * as @kind; a failure must leave the store unchanged, a success discards it
 * (and fuzz_expect_valid is told which it was).
 * @what names the import in the harness's own messages. */
typedef int (*fuzz_import_fn)(struct tsm_store *store, const struct tsm_content_add_options *o,
			      struct tsm_content_add_result *res);
void fuzz_import(fuzz_import_fn import, int kind, const char *what, const char *file_name,
		 const uint8_t *data, size_t size);
/* The same; after a successful import, @after(store, the new content's
 * ID) runs before the store is discarded (it aborts on a finding). */
void fuzz_import_then(fuzz_import_fn import, int kind, const char *what, const char *file_name,
		      const uint8_t *data, size_t size,
		      void (*after)(struct tsm_store *store, const char *id));

#endif
