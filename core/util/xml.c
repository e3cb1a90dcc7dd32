#include "util/xml.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/parserInternals.h>
#include <libxml/SAX2.h>
#include <libxml/xmlerror.h>

#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

/* Fed to the push parser at a time: a start tag is checked against
 * TSM_XML_MAX_TAG_BYTES between chunks, so none larger than the two
 * together is ever parsed. */
#define CHUNK (16u << 10)

struct xml_read {
	const char *what;
	xmlParserCtxt *ctxt;
	size_t nodes;
	int nerrors;
	int first_line;
	bool first_near;  /* its line is where parsing stood, not the error's */
	char first[256];  /* libxml2's first error */
	int refused;      /* ours: -EINVAL, -E2BIG, already reported */
};

static void one_line(char *dst, size_t n, const char *msg)
{
	snprintf(dst, n, "%s", msg && *msg ? msg : _("unknown error"));
	dst[strcspn(dst, "\r\n")] = '\0';
}

/* libxml2's structured error channel (xmlStructuredErrorFunc). */
static void structured_error(void *arg, xmlError *e)
{
	struct tsm_xml_messages *m = arg;
	struct xml_read *r = m->read;
	int line = e->line;
	bool near = false;
	char msg[256];

	/* Encoding errors carry no position: a chunk is converted before it
	 * is parsed, so the error lies at or after the parser's line. */
	if (!line && r && r->ctxt && r->ctxt->input) {
		line = r->ctxt->input->line;
		near = true;
	}
	one_line(msg, sizeof(msg), e->message);
	tsm_debug("%s: %sline %d: libxml2: %s", m->what, near ? "at or after " : "", line, msg);
	if (r && e->level >= XML_ERR_ERROR && r->nerrors++ == 0) {
		memcpy(r->first, msg, sizeof(r->first));
		r->first_line = line;
		r->first_near = near;
	}
}

/* libxml2's printf-like channel (xmlGenericErrorFunc), for the few places
 * that bypass the structured one. */
__attribute__((format(printf, 2, 3))) static void generic_error(void *arg, const char *fmt, ...)
{
	struct tsm_xml_messages *m = arg;
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	msg[strcspn(msg, "\r\n")] = '\0';
	if (msg[0])
		tsm_debug("%s: libxml2: %s", m->what, msg);
}

void tsm_xml_messages_push(struct tsm_xml_messages *m, const char *what)
{
	xmlInitParser();
	m->what = what;
	m->read = NULL;
	m->saved_structured = (void *)xmlStructuredError;
	m->saved_structured_ctx = xmlStructuredErrorContext;
	m->saved_generic = (void *)xmlGenericError;
	m->saved_generic_ctx = xmlGenericErrorContext;
	xmlSetStructuredErrorFunc(m, structured_error);
	xmlSetGenericErrorFunc(m, generic_error);
}

void tsm_xml_messages_pop(struct tsm_xml_messages *m)
{
	xmlSetStructuredErrorFunc(m->saved_structured_ctx,
				  (xmlStructuredErrorFunc)m->saved_structured);
	xmlSetGenericErrorFunc(m->saved_generic_ctx, (xmlGenericErrorFunc)m->saved_generic);
}

/* ---- SAX callbacks: checks, then libxml2's own tree builder ------------ */

static struct xml_read *read_of(void *ctx)
{
	return ((xmlParserCtxt *)ctx)->_private;
}

static void refuse(struct xml_read *r, int rc)
{
	r->refused = rc;
	xmlStopParser(r->ctxt);
}

static bool nodes_add(struct xml_read *r, size_t n)
{
	if (r->refused)
		return false;
	r->nodes += n;
	if (r->nodes > TSM_XML_MAX_NODES) {
		tsm_error("%s: more than %d XML nodes (line %d): refused", r->what, TSM_XML_MAX_NODES,
			  xmlSAX2GetLineNumber(r->ctxt));
		refuse(r, -E2BIG);
		return false;
	}
	return true;
}

static void start_element(void *ctx, const xmlChar *localname, const xmlChar *prefix,
			  const xmlChar *uri, int nb_namespaces, const xmlChar **namespaces,
			  int nb_attributes, int nb_defaulted, const xmlChar **attributes)
{
	struct xml_read *r = read_of(ctx);

	if (nb_attributes + nb_namespaces > TSM_XML_MAX_ATTRIBUTES) {
		tsm_error("%s: <%s> (line %d) has %d attributes, more than %d: refused", r->what,
			  (const char *)localname, xmlSAX2GetLineNumber(r->ctxt),
			  nb_attributes + nb_namespaces, TSM_XML_MAX_ATTRIBUTES);
		refuse(r, -E2BIG);
		return;
	}
	if (nodes_add(r, 1 + (size_t)nb_attributes + (size_t)nb_namespaces))
		xmlSAX2StartElementNs(ctx, localname, prefix, uri, nb_namespaces, namespaces,
				      nb_attributes, nb_defaulted, attributes);
}

/* Refused as soon as it opens: an internal subset could only define
 * entities (billion laughs) or name files to read. */
static void internal_subset(void *ctx, const xmlChar *name, const xmlChar *external_id,
			    const xmlChar *system_id)
{
	struct xml_read *r = read_of(ctx);

	(void)name;
	(void)external_id;
	(void)system_id;
	tsm_error("%s: has a <!DOCTYPE> (line %d), which none of the formats tsmedia reads has:"
		  " refused", r->what, xmlSAX2GetLineNumber(r->ctxt));
	refuse(r, -EINVAL);
}

static void comment(void *ctx, const xmlChar *value)
{
	if (nodes_add(read_of(ctx), 1))
		xmlSAX2Comment(ctx, value);
}

static void processing_instruction(void *ctx, const xmlChar *target, const xmlChar *data)
{
	if (nodes_add(read_of(ctx), 1))
		xmlSAX2ProcessingInstruction(ctx, target, data);
}

static void cdata_block(void *ctx, const xmlChar *value, int len)
{
	if (nodes_add(read_of(ctx), 1))
		xmlSAX2CDataBlock(ctx, value, len);
}

static void reference(void *ctx, const xmlChar *name)
{
	if (nodes_add(read_of(ctx), 1))
		xmlSAX2Reference(ctx, name);
}

/* ---- the parse ------------------------------------------------------------ */

static bool tag_too_long(struct xml_read *r)
{
	xmlParserInput *in = r->ctxt->input;

	/* The push parser waits for a whole start tag before parsing it. */
	return r->ctxt->instate == XML_PARSER_START_TAG && in && in->cur && in->end &&
	       in->end - in->cur > (ptrdiff_t)TSM_XML_MAX_TAG_BYTES;
}

int tsm_xml_read(const char *what, const char *buf, size_t len, const char *encoding,
		 xmlDoc **doc_ret)
{
	struct tsm_xml_messages m;
	struct xml_read r = { .what = what };
	xmlSAXHandler sax;
	size_t off;
	int rc = 0;

	*doc_ret = NULL;
	if (len > (size_t)INT_MAX) {
		tsm_error("%s: %zu bytes, too large for XML", what, len);
		return -EFBIG;
	}
	tsm_xml_messages_push(&m, what);
	m.read = &r;
	memset(&sax, 0, sizeof(sax));
	xmlSAXVersion(&sax, 2);
	sax.startElementNs = start_element;
	sax.internalSubset = internal_subset;
	sax.comment = comment;
	sax.processingInstruction = processing_instruction;
	sax.cdataBlock = cdata_block;
	sax.reference = reference;
	/* The first four bytes tell UTF-16 from UTF-8 (XML 1.0 appendix F). */
	off = len < 4 ? len : 4;
	r.ctxt = xmlCreatePushParserCtxt(&sax, NULL, buf, (int)off, what);
	if (!r.ctxt) {
		rc = -ENOMEM;
		goto out_pop;
	}
	if (encoding && xmlCtxtResetPush(r.ctxt, buf, (int)off, what, encoding) < 0) {
		rc = -ENOMEM;
		goto out_free;
	}
	r.ctxt->_private = &r;
	/* No NOENT (entities stay unexpanded), no DTDLOAD, no HUGE: libxml2's
	 * default limits on text size and nesting depth hold. */
	xmlCtxtUseOptions(r.ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	do {
		size_t n = len - off < CHUNK ? len - off : CHUNK;

		xmlParseChunk(r.ctxt, buf + off, (int)n, off + n == len);
		off += n;
		if (!r.refused && tag_too_long(&r)) {
			tsm_error("%s: a start tag at line %d is longer than %u bytes: refused", what,
				  r.ctxt->input->line, TSM_XML_MAX_TAG_BYTES);
			refuse(&r, -E2BIG);
		}
	} while (off < len && !r.refused && !r.ctxt->disableSAX);
	if (r.refused) {
		rc = r.refused;
	} else if (!r.ctxt->wellFormed || !r.ctxt->myDoc) {
		if (!r.nerrors) {
			xmlError *e = xmlCtxtGetLastError(r.ctxt);

			one_line(r.first, sizeof(r.first), e ? e->message : NULL);
			r.first_line = e ? e->line : 0;
		}
		tsm_error("%s: not well-formed XML (%sline %d): %s", what,
			  r.first_near ? _("at or after ") : "", r.first_line, r.first);
		rc = -EINVAL;
	} else {
		*doc_ret = r.ctxt->myDoc;
		r.ctxt->myDoc = NULL;
	}
out_free:
	xmlFreeDoc(r.ctxt->myDoc);
	r.ctxt->myDoc = NULL;
	xmlFreeParserCtxt(r.ctxt);
out_pop:
	tsm_xml_messages_pop(&m);
	return rc;
}
