/* Reading hostile XML with libxml2 (2.9.14 on Debian 12): libxml2's messages
 * go through tsmedia's log (with what the input is and the line), never to
 * standard error by themselves; the parse is bounded in time and memory.
 *
 * libxml2 2.9.14 builds a start tag's attribute list by walking it once per
 * attribute (xmlNewNsPropEatName) and checks duplicate attributes pairwise,
 * so one tag with n attributes costs n^2: 100,000 attributes (1 MB) took
 * six minutes.  The input is therefore fed in chunks (push parser) and a
 * start tag that grows past TSM_XML_MAX_TAG_BYTES is refused before it is
 * parsed (checked between chunks of 16 KiB: none longer than the two
 * together is parsed); the SAX callbacks refuse a tag with more than
 * TSM_XML_MAX_ATTRIBUTES before its attributes become nodes, a document
 * type before its internal subset is read (so no entity is ever defined),
 * and a document with more than TSM_XML_MAX_NODES nodes (its tree's memory).
 *
 * Thread-safety: libxml2 keeps its error handlers per thread; each call
 * installs ours for the time it runs and puts the previous ones back. */
#ifndef TSMEDIA_UTIL_XML_H
#define TSMEDIA_UTIL_XML_H

#include <stddef.h>

#include <libxml/tree.h>

/* Longest start tag: task sequence tags hold a name, a type and a
 * description, a few hundred bytes; at this size the pairwise check costs
 * milliseconds. */
#define TSM_XML_MAX_TAG_BYTES (64u << 10)
/* Most attributes (namespace declarations included) on one element:
 * ConfigMgr and MDT write fewer than ten. */
#define TSM_XML_MAX_ATTRIBUTES 256
/* Most elements, attributes, comments, processing instructions and CDATA
 * sections in one document: a tree of this many nodes stays near 150 MB. */
#define TSM_XML_MAX_NODES 500000

/* Parses the @len bytes at @buf.  @encoding NULL: as the document declares
 * (or UTF-8/UTF-16 by its first bytes); else that encoding whatever it
 * declares.  A <!DOCTYPE> is refused.  On error: a message naming @what and
 * the line, and -EINVAL (not well-formed, a document type), -E2BIG (a limit
 * above) or -ENOMEM. */
int tsm_xml_read(const char *what, const char *buf, size_t len, const char *encoding,
		 xmlDoc **doc_ret);

/* For work on a tree outside tsm_xml_read() (serializing it): while pushed,
 * this thread's libxml2 messages go to the log (debug level) with @what. */
struct tsm_xml_messages {
	const char *what;
	void *saved_structured;
	void *saved_structured_ctx;
	void *saved_generic;
	void *saved_generic_ctx;
	void *read; /* the tsm_xml_read() in progress, or NULL */
};
void tsm_xml_messages_push(struct tsm_xml_messages *m, const char *what);
void tsm_xml_messages_pop(struct tsm_xml_messages *m);

#endif
