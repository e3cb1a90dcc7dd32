/* Layer: catalog (core/catalog/app.c); tsm_app_import is import's (core/import/app_import.c). */
/* Configuration Manager applications: an application (its authoring scope and
 * logical name, revision, title), its deployment types in priority order
 * (technology, install command, the content each uses), the dependencies of
 * each deployment type (groups of deployment types of other applications)
 * and what each supersedes, as the application's SDMPackageXML (the
 * AppMgmtDigest) models them.
 *
 * An application's ID is "ScopeId_<GUID>/Application_<guid>", as task
 * sequences name it; a deployment type's "ScopeId_<GUID>/DeploymentType_<guid>";
 * a content's "Content_<guid>".  Importing an application again replaces it.
 * The files of a content are a content item of the store (kind application)
 * bound to its Content_ ID: `content add --kind application --id Content_...`.
 *
 * Ownership: every struct returned here is owned by the caller and freed with
 * tsm_app_clear() / tsm_app_list_free().  Functions taking a store use its
 * handle (one thread at a time). */
#ifndef TSMEDIA_APP_H
#define TSMEDIA_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsmedia/content.h"

struct tsm_store;

/* "Content_" and a GUID. */
#define TSM_APP_CONTENT_ID_LEN (8 + 36)

struct tsm_app_file {
	char *name;            /* a file name, no directory */
	uint64_t size;
};

struct tsm_app_content {
	char *id;              /* Content_<guid> */
	int64_t version;       /* the digest's content Version */
	struct tsm_app_file *files;
	size_t nfiles;
	/* Filled by tsm_app_get(): the store's content item bound to @id, or "". */
	char store_id[TSM_CONTENT_ID_LEN + 1];
};

/* One deployment type a dependency group names. */
struct tsm_app_dep {
	char *app;             /* ScopeId_.../Application_... */
	char *dt;              /* ScopeId_.../DeploymentType_... */
	char *desired_state;   /* the digest's DesiredState ("Required"), as given */
};

/* A dependency group: the deployment type needs one of @deps ("Or"). */
struct tsm_app_dep_group {
	char *name;            /* the group's display name, may be "" */
	char *op;              /* the group's operator ("Or", "And") */
	struct tsm_app_dep *deps;
	size_t ndeps;
};

struct tsm_app_supersede {
	char *app, *dt;        /* the superseded application's deployment type */
	char *desired_state;   /* the digest's DesiredState, as given */
};

struct tsm_app_dt {
	char *id;              /* ScopeId_.../DeploymentType_... */
	int64_t revision;
	char *title;
	char *technology;      /* "MSI", "Script", ... */
	char *install_command; /* may be "" */
	struct tsm_app_content *contents;
	size_t ncontents;
	struct tsm_app_dep_group *groups;
	size_t ngroups;
	struct tsm_app_supersede *supersedes;
	size_t nsupersedes;
};

struct tsm_app {
	char *id;              /* ScopeId_.../Application_... */
	int64_t revision;      /* the digest's Version */
	char *title;
	char *publisher;       /* may be "" */
	char *software_version; /* may be "" */
	char *source;          /* the file it came from */
	int64_t created;
	struct tsm_app_dt *dts; /* in priority order */
	size_t ndts;
	/* Filled by tsm_app_get(): applications whose deployment types supersede
	 * this one's, and those whose deployment types depend on it. */
	char **superseded_by;
	size_t nsuperseded_by;
	char **needed_by;
	size_t nneeded_by;
};

struct tsm_app_import_options {
	const char *path;        /* object.xml of SMS_Application, or a bare digest */
	const char *content_dir; /* or NULL: a folder per Content_ ID, each imported */
	bool progress;
};

/* Reads and checks the application (dependencies on itself and cycles
 * through the store's applications refused), imports the contents of
 * @content_dir, then records the application.  @id_ret: its ID. */
int tsm_app_import(struct tsm_store *store, const struct tsm_app_import_options *o,
		   char **id_ret);
/* @id: an application ID (case of its hex digits ignored). */
int tsm_app_get(struct tsm_store *store, const char *id, struct tsm_app *app_ret);
/* Every application, by ID, with deployment types (contents without files). */
int tsm_app_list(struct tsm_store *store, struct tsm_app **list_ret, size_t *n_ret);
/* Refused (naming them) while another application's deployment types depend on it. */
int tsm_app_rm(struct tsm_store *store, const char *id);
/* Whether the store holds application @id (no message). */
bool tsm_app_exists(struct tsm_store *store, const char *id);
void tsm_app_clear(struct tsm_app *app);
void tsm_app_list_free(struct tsm_app *list, size_t n);

/* "ScopeId_<GUID>/<@kind>_<guid>" (@kind "Application" or "DeploymentType"),
 * hex digits in the case task sequences write them (scope upper, logical
 * lower) into @out (at least 100 bytes); -EINVAL when @s is not one. */
int tsm_app_id_normalize(const char *s, const char *kind, char *out);
/* "Content_<guid>", the GUID lower-cased into @out (TSM_APP_CONTENT_ID_LEN + 1). */
int tsm_app_content_id_normalize(const char *s, char out[TSM_APP_CONTENT_ID_LEN + 1]);

/* The Content_ ID a store content item is bound to, into @out, or -ENOENT. */
int tsm_app_content_of(struct tsm_store *store, const char *store_id,
		       char out[TSM_APP_CONTENT_ID_LEN + 1]);

#endif
