/* Reading task sequence XML (libxml2) into memory: the three dialects of
 * tests/../shared/fixtures/task-sequences/SOURCES.md:
 *   - a bare <sequence> document (ConfigMgr 3.10, what $ts.Sequence holds),
 *   - an MDT template (<sequence version="3.00" name=...>; steps may lack a type),
 *   - a console export's object.xml: a CIM <INSTANCE CLASSNAME="SMS_TaskSequencePackage">
 *     whose Sequence property holds the sequence document as text.
 * The input is hostile: no network, no DTD (so no entity expansion), libxml2's
 * default size and depth limits (no XML_PARSE_HUGE), and a cap on group nesting.
 * Pure: no store, no catalog. */
#ifndef TSMEDIA_IMPORT_TS_XML_H
#define TSMEDIA_IMPORT_TS_XML_H

#include <stdbool.h>
#include <stddef.h>

#include "tsmedia/ts.h"

/* Inputs larger than this are refused before parsing.  Configuration
 * Manager (2010 and later) refuses to import or save a task sequence over
 * 2 MB and its clients fail on policy over 32 MB ("Reduce the size of task
 * sequence policy", Microsoft Learn); 16 MiB leaves room for an export's
 * escaping while the copies a parse makes stay well under 256 MB. */
#define TSM_TS_XML_MAX_BYTES (16u << 20)
/* Deepest group nesting accepted (real exports stay under 10). */
#define TSM_TS_XML_MAX_DEPTH 64
/* Most groups + steps accepted. */
#define TSM_TS_XML_MAX_NODES 100000
/* Most bytes of group paths ("Install/Setup") kept over all steps and groups,
 * each of which holds its own copy: real sequences need well under 1 MiB. */
#define TSM_TS_XML_MAX_PATH_BYTES (16u << 20)

enum tsm_ts_dialect {
	TSM_TS_DIALECT_SEQUENCE, /* a bare <sequence> */
	TSM_TS_DIALECT_MDT,      /* an MDT template */
	TSM_TS_DIALECT_OBJECT,   /* a console export's object.xml */
};

struct tsm_ts_doc {
	enum tsm_ts_dialect dialect;
	char *object_name;         /* object.xml Name or the MDT template's name, or NULL */
	char object_id[9];         /* object.xml PackageID, or "" */
	char object_boot_image[9]; /* object.xml BootImageID, or "" */
	char *sequence_xml;        /* the <sequence> document text, UTF-8, NUL-terminated */
	size_t sequence_len;
	char *sequence_version;    /* the version attribute ("3.10", "3.00") or NULL */
	struct tsm_ts_step *steps; /* in document order */
	size_t nsteps;
	struct tsm_ts_group *groups; /* in document order */
	size_t ngroups;
	char **ref_packages;       /* <referenceList> package IDs, in order */
	size_t nref_packages;
	char **ref_applications;   /* <referenceList> application IDs, in order */
	size_t nref_applications;
	size_t nconditions;        /* <condition> elements */
	int max_depth;             /* deepest group nesting: 1 when groups sit only at the top */
};

/* Parses @path.  Errors are reported with @path and what is wrong. */
int tsm_ts_xml_parse_file(const char *path, struct tsm_ts_doc *doc_ret);
/* Parses @len bytes at @buf; @what names them in messages. */
int tsm_ts_xml_parse_memory(const char *what, const char *buf, size_t len,
			    struct tsm_ts_doc *doc_ret);
void tsm_ts_doc_clear(struct tsm_ts_doc *doc);

/* Package IDs as steps write them: three of [A-Z0-9] and five of [0-9A-F]. */
bool tsm_ts_package_id_valid(const char *s, size_t len);
/* "ScopeId_<GUID>/Application_<guid>". */
bool tsm_ts_application_id_valid(const char *s, size_t len);

#endif
