/* Layer: import — reading an application's AppMgmtDigest (libxml2) into a struct tsm_app. */
/* Two shapes are read:
 *   - a console export's object.xml: a CIM <INSTANCE CLASSNAME="SMS_Application">
 *     whose SDMPackageXML property holds the digest as text;
 *   - a bare digest, <AppMgmtDigest> (what SMS_Application.SDMPackageXML holds).
 * The input is hostile: no network, no document type (so no entity is ever
 * defined or expanded, no DTD or external entity loaded: util/xml.h), libxml2's
 * default size and depth limits, and the counts below.  Pure: no store. */
#ifndef TSMEDIA_IMPORT_APP_XML_H
#define TSMEDIA_IMPORT_APP_XML_H

#include <stddef.h>

#include "tsmedia/app.h"

/* Inputs larger than this are refused before parsing: a digest with its
 * detection rules and icon is tens of kilobytes; an export escapes it once. */
#define TSM_APP_XML_MAX_BYTES (8u << 20)
/* Deployment types of one application: the console lists them in priority
 * order and real applications have a handful. */
#define TSM_APP_MAX_DTS 64
/* Contents of one deployment type (install and uninstall content). */
#define TSM_APP_MAX_CONTENTS 16
/* Files listed over all contents of an application. */
#define TSM_APP_MAX_FILES 100000
/* Dependency groups, deployment types in one group, superseded deployment
 * types, of one deployment type. */
#define TSM_APP_MAX_GROUPS 64
#define TSM_APP_MAX_GROUP_DTS 64
#define TSM_APP_MAX_SUPERSEDES 64
/* Longest text kept (titles, publisher, version); install commands are
 * Windows command lines (8191 characters). */
#define TSM_APP_MAX_TEXT 1024
#define TSM_APP_MAX_COMMAND 8191

/* Parses @path into @app (its source set to @path).  Errors name @path and
 * what is wrong; nothing is returned on error. */
int tsm_app_xml_parse_file(const char *path, struct tsm_app *app);
/* Parses @len bytes at @buf; @what names them in messages. */
int tsm_app_xml_parse_memory(const char *what, const char *buf, size_t len, struct tsm_app *app);

#endif
