/* The XML that Configuration Manager's media files carry (Variables.dat, Policy.xml), written
 * and read with libxml2.  Shared by cmvars.c and cmpolicy.c. */
#ifndef TSMEDIA_MEDIA_CMXML_H
#define TSMEDIA_MEDIA_CMXML_H

#include <stddef.h>

#include <libxml/tree.h>

/* -EINVAL (logged as "@kind @name: @what is not ...") unless @s is UTF-8 that XML can carry. */
int tsm_cm_xml_check_text(const char *s, const char *what, const char *kind, const char *name);
/* A node holding @value: CDATA, or escaped text when CDATA cannot hold it. */
xmlNodePtr tsm_cm_xml_value(xmlDocPtr doc, const char *value);
/* "<?xml version="1.0"?>" and @doc's root element as UTF-8 text (malloc'ed, NUL-terminated);
 * libxml2's buffer is wiped (values may be secrets). */
int tsm_cm_xml_dump(xmlDocPtr doc, char **xml_ret, size_t *len_ret);
/* Parses hostile UTF-8 text with util/xml.h's bounded reader (no network, no document type,
 * limits); errors are logged as "@what: the @kind: ..." (-EINVAL, -E2BIG, -ENOMEM). */
int tsm_cm_xml_parse(const char *xml, size_t len, const char *what, const char *kind,
		     xmlDocPtr *doc_ret);

#endif
