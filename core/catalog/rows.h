/* Typed access to catalog rows for the layers above (import, media): no
 * sqlite types cross this header, and no SQL is written above it.  Each
 * function runs inside the caller's store session (read or write) unless
 * it says otherwise. */
#ifndef TSMEDIA_CATALOG_ROWS_H
#define TSMEDIA_CATALOG_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsmedia/content.h"
#include "tsmedia/hash.h"

struct tsm_store;

/* ---- blobs ----------------------------------------------------------- */

/* Looks blobs' SHA-1s up for a WIM layout with one prepared statement; its
 * read session begins at the first lookup and ends with the free. */
struct tsm_blob_sha1s;
int tsm_blob_sha1s_new(struct tsm_store *store, struct tsm_blob_sha1s **l_ret);
/* tsm_wim_options.blob_sha1: -ENOENT (reported) unless blob @blob_id is
 * there with @size bytes. */
int tsm_blob_sha1s_get(void *l, int64_t blob_id, uint64_t size, uint8_t sha1[TSM_SHA1_LEN]);
void tsm_blob_sha1s_free(struct tsm_blob_sha1s *l);
/* One blob's SHA-1 (-ENOENT, not reported, when there is no such blob). */
int tsm_blob_sha1(struct tsm_store *store, int64_t blob_id, uint8_t sha1[TSM_SHA1_LEN]);

/* ---- content versions being imported (catalog/content_write.c) ------- */

struct tsm_boot_entry;
struct tsm_win_meta;

/* The content row of @id: whether it exists (perhaps removed), its kind
 * and its highest version number. */
struct tsm_content_row {
	bool exists, removed;
	char kind[32];
	int64_t max_version;
};
int tsm_content_row_find(struct tsm_store *store, const char *id, struct tsm_content_row *row);
/* The next free "<site>NNNNN" from the store's counter (counter advanced). */
int tsm_content_id_allocate(struct tsm_store *store, char id[9]);
/* Creates the item, or revives/renames an existing one. */
int tsm_content_row_upsert(struct tsm_store *store, const char *id, const char *kind,
			   const char *name, bool exists);

/* One new version's rows, statements prepared once.  Begin records the
 * version (files and bytes 0 until finish); free releases the statements
 * and leaves the rows to the caller's commit or abort. */
struct tsm_version_rows;
int tsm_version_rows_begin(struct tsm_store *store, const char *id, int64_t version,
			   const char *label, const char *source, struct tsm_version_rows **vr_ret);
/* -EEXIST (reported) when @path is there already. */
int tsm_version_rows_add_entry(struct tsm_version_rows *vr, const char *path, uint32_t mode,
			       int64_t mtime_ns, uint32_t attributes, uint64_t size, int64_t blob,
			       const char *target);
int tsm_version_rows_add_boot(struct tsm_version_rows *vr, const struct tsm_boot_entry *e);
int tsm_version_rows_set_meta(struct tsm_version_rows *vr, const char *key, const void *value,
			      size_t len);
/* Entry @m->path's Windows metadata and named streams; security
 * descriptors are shared store-wide.  The caller has checked its strings. */
int tsm_version_rows_add_win_meta(struct tsm_version_rows *vr, const struct tsm_win_meta *m);
int tsm_version_rows_finish(struct tsm_version_rows *vr, uint64_t files, uint64_t bytes);
void tsm_version_rows_free(struct tsm_version_rows *vr);

/* ---- sites (catalog/site.c) ------------------------------------------ */

struct tsm_site;
/* Site @code (normalized) with its lists; -ENOENT, logged unless @quiet,
 * when there is none. */
int tsm_site_row_get(struct tsm_store *store, const char *code, struct tsm_site *site,
		     bool quiet);
/* The site row, its management points and its root CAs (@sha256s: each
 * root CA's SHA-256 in hex). */
int tsm_site_row_insert(struct tsm_store *store, const struct tsm_site *site,
			char (*sha256s)[65]);
/* Writes the management points, root CAs and values of @site (none exist yet). */
int tsm_site_rows_write_lists(struct tsm_store *store, const struct tsm_site *site,
			      char (*sha256s)[65]);
int tsm_site_rows_delete_lists(struct tsm_store *store, const char *code);
/* The codes of @code's child sites, ", "-separated into @list (cut at @size). */
int tsm_site_row_children(struct tsm_store *store, const char *code, char *list, size_t size,
			  size_t *n_ret);
/* The site row with its lists; -EBUSY (reported, naming them) when a media
 * is made for the site. */
int tsm_site_row_delete(struct tsm_store *store, const char *code);
/* The primary sites under @top (or @top itself) that trust none of
 * @code's root CAs: a NULL-terminated vector (tsm_site_codes_free). */
int tsm_site_rows_untrusting(struct tsm_store *store, const char *top, const char *code,
			     char ***codes_ret, size_t *n_ret);

/* ---- media definitions (catalog/media.c, catalog/media_options.c) ---- */

struct tsm_media_def;
struct tsm_media_info;
/* The current version of live media @name; -ENOENT (reported) when none. */
int tsm_media_row_get(struct tsm_store *store, const char *name, struct tsm_media_info *info);
/* A new version of @d (a new media unless @edit), checked against what
 * exists; its number and row id. */
int tsm_media_rows_insert_version(struct tsm_store *store, const struct tsm_media_def *d,
				  bool edit, int64_t *version_ret, int64_t *row_ret);
/* @d's content IDs, in order, for version row @row. */
int tsm_media_rows_insert_content(struct tsm_store *store, int64_t row,
				  const struct tsm_media_def *d);
int tsm_media_options_save(struct tsm_store *store, int64_t version,
			   const struct tsm_media_def *d);
/* Whether version row @id is still there (gc has not taken it). */
int tsm_media_version_row_exists(struct tsm_store *store, int64_t id, bool *alive_ret);
int tsm_content_version_row_exists(struct tsm_store *store, int64_t id, bool *alive_ret);

/* Media version row @version_id of media @name, current or not. */
int tsm_media_row_get_version(struct tsm_store *store, const char *name, int64_t version_id,
			      struct tsm_media_info *info);

/* ---- numbered snapshots (catalog/media_snapshots.c) ------------------ */

/* Records the snapshot of every live media whose media version or content
 * versions differ from its last recorded one, numbered after the last
 * number its name was given.  Inside the writer's transaction, after its
 * rows. */
int tsm_media_snapshots_record(struct tsm_store *store);
/* The numbers of live media @name's recorded snapshots, ascending. */
int tsm_media_snapshot_numbers_get(struct tsm_store *store, const char *name,
				   int64_t **numbers_ret, size_t *n_ret);
struct tsm_snapshot_row_content {
	char id[TSM_CONTENT_ID_LEN + 1];
	int64_t version;    /* its version number */
	int64_t version_id; /* its catalog row */
	int64_t created;
};
struct tsm_snapshot_row {
	int64_t number;
	int64_t media_version_id;
	struct tsm_snapshot_row_content *content; /* media_content order */
	size_t ncontent;
};
/* Snapshot @number of live media @name; -ENOENT (reported) when the store
 * does not keep it. */
int tsm_media_snapshot_row_get(struct tsm_store *store, const char *name, int64_t number,
			       struct tsm_snapshot_row *row);
void tsm_snapshot_row_clear(struct tsm_snapshot_row *row);

/* Files rendered at definition time and stored as blobs (media_files). */
struct tsm_media_file {
	char *path;
	int64_t blob_id;
	uint64_t size;
	uint8_t sha256[32];
};
int tsm_media_file_row_insert(struct tsm_store *store, int64_t version, const char *path,
			      int64_t blob);
int tsm_media_files_load(struct tsm_store *store, int64_t version,
			 struct tsm_media_file **files_ret, size_t *n_ret);
void tsm_media_files_free(struct tsm_media_file *files, size_t n);

/* ---- task sequences (catalog/ts.c) ------------------------------------ */

#define TSM_TS_ID_RULE "a site code of three letters or digits and five hex digits, e.g. PS100012"

struct tsm_ts_step;
struct tsm_ts_group;
/* A parsed task sequence as its rows: the document text, its groups and
 * steps in document order, the IDs its reference list names. */
struct tsm_ts_rows {
	const char *dialect;       /* "sequence", "mdt", "console-export" */
	const char *sequence_xml;
	size_t sequence_len;
	const struct tsm_ts_step *steps;
	size_t nsteps;
	const struct tsm_ts_group *groups;
	size_t ngroups;
	char *const *ref_packages;
	size_t nref_packages;
	char *const *ref_applications;
	size_t nref_applications;
};
/* The next "<site>NNNNN" free among content and task sequences (the
 * counter is shared with content, as Configuration Manager shares IDs). */
int tsm_ts_id_allocate(struct tsm_store *store, char id[9]);
/* Whether a live task sequence has ID @id (normalized). */
int tsm_ts_id_taken(struct tsm_store *store, const char *id, bool *taken_ret);
/* The highest version of task sequence @id (0: none). */
int tsm_ts_max_version(struct tsm_store *store, const char *id, int64_t *version_ret);
int tsm_ts_rows_write(struct tsm_store *store, const char *id, int64_t version,
		      const char *name, const char *boot_image, const char *source,
		      const struct tsm_ts_rows *rows);

/* ---- what uses what (catalog/media.c) ------------------------------ */

/* What a media version names besides content (media_refs). */
enum tsm_media_ref { TSM_MEDIA_REF_TS, TSM_MEDIA_REF_SITE };
/* The task sequence and site of @d, for version row @row: while it is its
 * media's current version, they cannot be removed. */
int tsm_media_rows_insert_refs(struct tsm_store *store, int64_t row,
			       const struct tsm_media_def *d);
/* The message for @what @value that a media's foreign key kept from being
 * removed, naming the media (read in the same transaction); -EBUSY. */
int tsm_media_used_error(struct tsm_store *store, const char *what, enum tsm_media_ref ref,
			 const char *value);

/* Names of media whose current version uses content @id (the rows whose
 * foreign key keeps it from being removed). */
int tsm_media_using_content(struct tsm_store *store, const char *id, char ***names_ret,
			    size_t *n_ret);

/* ---- applications (catalog/app.c) ------------------------------------ */

struct tsm_app;
/* Replaces application @app->id's rows (deployment types another
 * application holds are refused, naming it). */
int tsm_app_rows_replace(struct tsm_store *store, const struct tsm_app *app);
/* Application @id (normalized) into @app; -ENOENT, no message, when there is
 * none.  @full: content files, and who depends on or supersedes it. */
int tsm_app_load(struct tsm_store *store, const char *id, bool full, struct tsm_app *app);
/* A dependency: deployment type @from_dt of @from_app needs @to_dt of @to_app. */
struct tsm_app_edge {
	char *from_app, *from_dt, *to_app, *to_dt;
};
/* Every dependency of the store's deployment types but those of @exclude. */
int tsm_app_edges_load(struct tsm_store *store, const char *exclude, struct tsm_app_edge **e_ret,
		       size_t *n_ret);
void tsm_app_edges_free(struct tsm_app_edge *e, size_t n);
/* The store content item bound to Content_ ID @content_id (normalized);
 * -ENOENT, no message, when none is. */
int tsm_app_binding_find(struct tsm_store *store, const char *content_id,
			 char id_ret[TSM_CONTENT_ID_LEN + 1]);
int tsm_app_binding_insert(struct tsm_store *store, const char *content_id, const char *id);

#endif
