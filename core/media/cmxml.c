/* XML of Configuration Manager's media files (see cmxml.h). */
#include "media/cmxml.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "media/cmcrypt.h"
#include "util/xml.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

int tsm_cm_xml_check_text(const char *s, const char *what, const char *kind, const char *name)
{
	if (!xmlCheckUTF8((const xmlChar *)s)) {
		tsm_error("%s %s: %s is not UTF-8 text", kind, name, what);
		return -EINVAL;
	}
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		/* XML 1.0 section 2.2: no control characters but tab, CR and LF. */
		if (*p < 0x20 && *p != '\t' && *p != '\n' && *p != '\r') {
			tsm_error("%s %s: %s holds control character %#x, which XML cannot carry",
				  kind, name, what, *p);
			return -EINVAL;
		}
	}
	return 0;
}

xmlNodePtr tsm_cm_xml_value(xmlDocPtr doc, const char *value)
{
	/* CDATA, as Configuration Manager's and MDT's files hold values (FriendsOfMDT/PSD,
	 * Save-PSDVariables).  A value holding "]]>" (which would end the section) or a CR
	 * (which XML readers turn into LF, XML 1.0 section 2.11) goes as escaped text (CR as
	 * &#13;), which every XML reader reads the same. */
	if (strstr(value, "]]>") || strchr(value, '\r'))
		return xmlNewText(BAD_CAST value);
	return xmlNewCDataBlock(doc, BAD_CAST value, (int)strlen(value));
}

int tsm_cm_xml_dump(xmlDocPtr doc, char **xml_ret, size_t *len_ret)
{
	/* The declaration names no encoding: the bytes on the media are UTF-16LE, this text is
	 * UTF-8 until cmcrypt converts it (PSD writes the same declaration; the published known
	 * answer's plaintext starts "<?xml ve"). */
	static const char decl[] = "<?xml version=\"1.0\"?>";
	xmlBufferPtr buf = xmlBufferCreate();
	const xmlChar *content;
	size_t len, body;
	char *out;
	int rc = -ENOMEM;

	if (!buf)
		return -ENOMEM;
	if (xmlNodeDump(buf, doc, xmlDocGetRootElement(doc), 0, 0) < 0)
		goto out_free_buf;
	content = xmlBufferContent(buf);
	body = (size_t)xmlBufferLength(buf);
	len = sizeof(decl) - 1 + body;
	if (!(out = malloc(len + 1)))
		goto out_free_buf;
	memcpy(out, decl, sizeof(decl) - 1);
	memcpy(out + sizeof(decl) - 1, content, body);
	out[len] = '\0';
	*xml_ret = out;
	*len_ret = len;
	rc = 0;
out_free_buf:
	content = xmlBufferContent(buf);
	if (content) /* it may hold the media certificate's key */
		OPENSSL_cleanse((void *)(uintptr_t)content, (size_t)xmlBufferLength(buf));
	xmlBufferFree(buf);
	return rc;
}

int tsm_cm_xml_parse(const char *xml, size_t len, const char *what, const char *kind,
		     xmlDocPtr *doc_ret)
{
	char label[512];

	if (len > TSM_CM_MAX_FILE) {
		tsm_error("%s: %zu bytes of %s, over the %u-byte limit", what, len, kind,
			  TSM_CM_MAX_FILE);
		return -EFBIG;
	}
	/* Hostile input: the project's bounded libxml2 reader (util/xml.h: no network, no
	 * document type, no entity, limits on tags, attributes and nodes).  The text is UTF-8
	 * whatever its declaration says (cmcrypt converted it). */
	snprintf(label, sizeof(label), _("%s: the %s"), what, kind);
	return tsm_xml_read(label, xml, len, "UTF-8", doc_ret);
}
