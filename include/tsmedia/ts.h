/* Layer: catalog (core/catalog/ts.c); tsm_ts_import is import's (core/import/ts_import.c). */
/* Task sequences imported from Configuration Manager (or MDT templates):
 * the step tree, the content each step needs, and the sequence document
 * itself, kept byte for byte for the media's Policy.xml.
 *
 * A task sequence has an ID like content (a site code and five hex digits;
 * a console export brings its PackageID).  Importing again under the same ID
 * adds a version; the newest version not removed is current.
 *
 * Ownership: every struct returned here is owned by the caller and freed
 * with tsm_ts_info_clear() / tsm_ts_list_free().  Functions taking a store
 * use its handle (one thread at a time). */
#ifndef TSMEDIA_TS_H
#define TSMEDIA_TS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tsm_store;

struct tsm_ts_step {
	char *name;
	char *type;        /* e.g. "SMS_TaskSequence_ApplyOperatingSystemAction"; NULL when the XML has none */
	char *group_path;  /* "Install/Setup" ("" at top level) */
	bool disabled;     /* itself or an enclosing group */
	char **packages;   /* package IDs this step uses */
	size_t npackages;
	/* Beyond the brief's fields: */
	char **applications;    /* "ScopeId_.../Application_..." this step installs */
	size_t napplications;
	char *description;      /* may be "" */
	char *condition;        /* a one-line summary of <condition>, or NULL */
	bool continue_on_error;
	bool dynamic_install;   /* installs a list named by a base variable at run time */
	long group;             /* index into tsm_ts_info.groups, -1 at top level */
};

/* A <group>, in document order.  Its steps are those whose group_path starts
 * with its path; first_step says where it opens among the steps, so the tree
 * can be printed in order (empty groups included). */
struct tsm_ts_group {
	char *name;
	char *path;             /* its group_path joined with its name */
	char *description;
	char *condition;        /* or NULL */
	int depth;              /* 0 at top level */
	bool disabled;          /* itself or an enclosing group */
	bool continue_on_error;
	long parent;            /* index into groups, -1 at top level */
	size_t first_step;      /* steps before it opens (nsteps when none follow) */
};

struct tsm_ts_info {
	char id[9];                /* like content IDs */
	char *name;
	char *boot_image;          /* content ID or NULL */
	char *source;              /* the file it came from */
	int64_t created;
	int64_t version;           /* a re-import under the same ID makes version 2, ... */
	struct tsm_ts_step *steps;
	size_t nsteps;
	char **packages;           /* every package ID enabled steps need, first use first */
	size_t npackages;
	char **applications;       /* application IDs */
	size_t napplications;
	char *sequence_xml;        /* the <sequence> document text, UTF-8 */
	/* Beyond the brief's fields: */
	size_t sequence_len;       /* bytes of sequence_xml (also NUL-terminated) */
	struct tsm_ts_group *groups;
	size_t ngroups;
	char **disabled_packages;  /* used only by disabled steps: not needed on media */
	size_t ndisabled_packages;
	char **disabled_applications;
	size_t ndisabled_applications;
};

/* Reads @path (a bare <sequence>, an MDT template or a console export's
 * object.xml).  @name NULL: the Name of object.xml or the MDT template's
 * name.  @id NULL: object.xml's PackageID, else a new ID.  @boot_image NULL:
 * object.xml's BootImageID (if any).  On any error nothing is changed and
 * the message names the file and the problem. */
int tsm_ts_import(struct tsm_store *store, const char *name, const char *id, const char *boot_image,
		  const char *path, char id_ret[9]);
/* The current version of @id, with its steps and XML. */
int tsm_ts_get(struct tsm_store *store, const char *id, struct tsm_ts_info *info_ret);
/* Every task sequence not removed, by ID: current versions, without steps,
 * groups and XML (those are NULL/0); packages and applications are filled. */
int tsm_ts_list(struct tsm_store *store, struct tsm_ts_info **list_ret, size_t *n_ret);
/* Marks every version removed. */
int tsm_ts_rm(struct tsm_store *store, const char *id);
void tsm_ts_info_clear(struct tsm_ts_info *info);
void tsm_ts_list_free(struct tsm_ts_info *list, size_t n);

/* Steps stand-alone media cannot run (they need a site: AutoApplyDrivers, DownloadPackageContent,
 * InstallSoftwareUpdates, RequestStateStore/ReleaseStateStore, ...): names of enabled such steps,
 * malloc'ed array of malloc'ed "group/step (type)" strings.  Dynamic application and package
 * installs (a base variable) are named too.  *names_ret is NULL when there are none. */
int tsm_ts_standalone_blockers(const struct tsm_ts_info *info, char ***names_ret, size_t *n_ret);
/* The blockers that keep stand-alone media from being made: those whose condition, and every
 * enclosing group's, can be true there (a condition "_SMSTSMediaType notEquals FullMedia", or
 * equals another media type, keeps a step off stand-alone media, so it does not run there). */
int tsm_ts_standalone_refused(const struct tsm_ts_info *info, char ***names_ret, size_t *n_ret);
/* The lines of either list, chosen by @flags: TSM_TS_BLOCKERS_REFUSED gives
 * tsm_ts_standalone_refused's, else tsm_ts_standalone_blockers's; with
 * TSM_TS_BLOCKERS_LOCALIZED the words around the step's path and type are in the
 * locale's language (text output; --json and --allow-step matching keep the
 * English lines).  The same steps in the same order either way. */
#define TSM_TS_BLOCKERS_REFUSED 1u
#define TSM_TS_BLOCKERS_LOCALIZED 2u
int tsm_ts_blocker_lines(const struct tsm_ts_info *info, unsigned flags, char ***names_ret,
			 size_t *n_ret);

/* Fills @info's packages, applications, disabled_packages and
 * disabled_applications from its steps and the referenceList: packages in
 * order of first use by an enabled step, then referenceList entries no step
 * names; IDs only disabled steps use go to the disabled_* lists. */
int tsm_ts_summarize(struct tsm_ts_info *info, char *const *ref_packages, size_t nref_packages,
		     char *const *ref_applications, size_t nref_applications);

void tsm_ts_step_clear(struct tsm_ts_step *step);
void tsm_ts_group_clear(struct tsm_ts_group *group);

/* Frees an array of malloc'ed strings (as standalone_blockers returns). */
void tsm_ts_strings_free(char **strings, size_t n);

#endif
