/* Policy.xml of stand-alone and capture media (see cmpolicy.h).
 *
 * Sources, cited beside the code that relies on them:
 *  [PT]  MWR-CyberSec/PXEThief, pxethief.py (process_full_media, process_task_sequence_xml):
 *        decrypts Policy.xml like Variables.dat and reads the <value> of the elements whose
 *        name attribute is PKG_Name, ADV_AdvertisementID and TS_Sequence (XPath, anywhere in
 *        the document), taking the first of each; a TS_Sequence value starting "<sequence" is the plain sequence ("the
 *        case when processing TS from full media").
 *  [PU]  evildaemond/pxethiefup, pxethiefup.py: Policy.xml of stand-alone media opens with
 *        the media password or, without one, with _SMSMediaGuid; the i-th TS_Sequence is
 *        paired with the i-th PKG_Name and ADV_AdvertisementID; a policy body is
 *        <Policy><PolicyRule><PolicyAction><instance class="..."> with
 *        <property name="..."><value>...</value></property>.
 *  [CC]  sccmclictr (Configuration Manager client automation library), CCM_TaskSequence and
 *        CCM_SoftwareDistribution: the property names PKG_PackageID, PKG_Name,
 *        PKG_SourceVersion, ADV_AdvertisementID, PRG_ProgramName, TS_BootImageID,
 *        TS_Sequence.
 *  [WMI] Microsoft, CIMTYPE_ENUMERATION: CIM_STRING = 8 (a property's type attribute).
 *  [APP] Microsoft Learn, "SMS_Application Server WMI Class" and "SMS_DeploymentType Server
 *        WMI Class" (configmgr/develop/reference/apps): the property names ModelName,
 *        LocalizedDisplayName, SoftwareVersion, Manufacturer; AppModelName, Technology,
 *        PriorityInLatestApp, ContentId, NumberOfDependedDTs.
 * What is not public: the exact root and attributes of a stand-alone media's Policy.xml and
 * which further properties its client reads, nor how it describes applications; this
 * writes one Policy whose rule holds the task sequence instance first, then one instance
 * per package, then one SMS_Application instance per application and one
 * SMS_DeploymentType instance per deployment type the media carries ([APP]), with
 * ContentPath (ours) saying where its content lies on the media. */
#include "media/cmpolicy.h"
#include "media/cmxml.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>
#include <openssl/crypto.h>

#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

/* The sequence as TS_Sequence carries it: the document from "<sequence" on, an XML
 * declaration and leading white space dropped ([PT] compares the value's first 9 characters
 * with "<sequence"). */
static const char *sequence_start(const char *xml)
{
	const char *p = xml;

	if (strncmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (strncmp(p, "<?xml", 5) == 0) {
		const char *end = strstr(p, "?>");

		if (!end)
			return NULL;
		for (p = end + 2; *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'; p++)
			;
	}
	return strncmp(p, "<sequence", 9) == 0 && (p[9] == ' ' || p[9] == '>' || p[9] == '/' ||
						   p[9] == '\t' || p[9] == '\r' || p[9] == '\n')
		       ? p
		       : NULL;
}

static int add_prop(xmlDocPtr doc, xmlNodePtr inst, const char *name, const char *value)
{
	xmlNodePtr prop, val, text;
	int rc;

	if (!value)
		return 0;
	if ((rc = tsm_cm_xml_check_text(value, _("its value"), _("policy property"), name)) < 0)
		return rc;
	/* <property name="..." type="8"><value>...</value></property> ([PU], [WMI]). */
	if (!(prop = xmlNewChild(inst, NULL, BAD_CAST "property", NULL)) ||
	    !xmlNewProp(prop, BAD_CAST "name", BAD_CAST name) ||
	    !xmlNewProp(prop, BAD_CAST "type", BAD_CAST "8") ||
	    !(val = xmlNewChild(prop, NULL, BAD_CAST "value", NULL)) ||
	    !(text = tsm_cm_xml_value(doc, value)) || !xmlAddChild(val, text))
		return -ENOMEM;
	return 0;
}

static xmlNodePtr new_instance(xmlNodePtr action, const char *class_name)
{
	xmlNodePtr inst = xmlNewChild(action, NULL, BAD_CAST "instance", NULL);

	if (inst && !xmlNewProp(inst, BAD_CAST "class", BAD_CAST class_name))
		return NULL;
	return inst;
}

int tsm_cm_policy_build(const struct tsm_cm_media_policy *in, char **xml_ret, size_t *len_ret)
{
	const char *start = in->sequence_xml ? sequence_start(in->sequence_xml) : NULL;
	char *sequence = NULL;
	xmlDocPtr doc = NULL;
	xmlNodePtr root, rule, action, inst;
	char source[64];
	int rc = -ENOMEM;

	if (!in->adv_id || !in->ts_id || !in->ts_name) {
		tsm_error("media policy: the task sequence's ID, name and advertisement ID are needed");
		return -EINVAL;
	}
	if (!start || !strrchr(start, '>')) {
		tsm_error("media policy: task sequence %s is not a <sequence> document", in->ts_id);
		return -EINVAL;
	}
	/* ... up to its last '>', trailing white space dropped (as PXEThief cuts it). */
	if (!(sequence = strndup(start, (size_t)(strrchr(start, '>') - start) + 1)))
		return -ENOMEM;
	if (!(doc = xmlNewDoc(BAD_CAST "1.0")) ||
	    !(root = xmlNewDocNode(doc, NULL, BAD_CAST "Policy", NULL)))
		goto out_free_doc;
	xmlDocSetRootElement(doc, root);
	snprintf(source, sizeof(source), "SMS:%s", in->site_code ? in->site_code : "");
	if (!xmlNewProp(root, BAD_CAST "PolicyID", BAD_CAST in->adv_id) ||
	    !xmlNewProp(root, BAD_CAST "PolicyVersion", BAD_CAST "1.00") ||
	    !xmlNewProp(root, BAD_CAST "PolicyType", BAD_CAST "Machine") ||
	    (in->site_code && !xmlNewProp(root, BAD_CAST "PolicySource", BAD_CAST source)) ||
	    !(rule = xmlNewChild(root, NULL, BAD_CAST "PolicyRule", NULL)) ||
	    !xmlNewProp(rule, BAD_CAST "PolicyRuleID", BAD_CAST in->ts_id) ||
	    !(action = xmlNewChild(rule, NULL, BAD_CAST "PolicyAction", NULL)) ||
	    !xmlNewProp(action, BAD_CAST "PolicyActionType", BAD_CAST "WMI-XML"))
		goto out_free_doc;
	/* The task sequence first: [PT] takes the first PKG_Name, [PU] pairs the i-th. */
	if (!(inst = new_instance(action, "CCM_TaskSequence")))
		goto out_free_doc;
	if ((rc = add_prop(doc, inst, "ADV_AdvertisementID", in->adv_id)) < 0 ||
	    (rc = add_prop(doc, inst, "PKG_PackageID", in->ts_id)) < 0 ||
	    (rc = add_prop(doc, inst, "PKG_Name", in->ts_name)) < 0 ||
	    (rc = add_prop(doc, inst, "PKG_SourceVersion", in->ts_version)) < 0 ||
	    (rc = add_prop(doc, inst, "PRG_ProgramName", "*")) < 0 ||
	    (rc = add_prop(doc, inst, "TS_BootImageID", in->boot_image_id)) < 0 ||
	    (rc = add_prop(doc, inst, "TS_Sequence", sequence)) < 0)
		goto out_free_doc;
	free(sequence);
	sequence = NULL;
	for (size_t i = 0; i < in->npackages; i++) {
		const struct tsm_cm_policy_package *p = &in->packages[i];

		rc = -ENOMEM;
		if (!(inst = new_instance(action, "CCM_SoftwareDistribution")))
			goto out_free_doc;
		if ((rc = add_prop(doc, inst, "PKG_PackageID", p->id)) < 0 ||
		    (rc = add_prop(doc, inst, "PKG_Name", p->name ? p->name : p->id)) < 0 ||
		    (rc = add_prop(doc, inst, "PKG_SourceVersion", p->version)) < 0)
			goto out_free_doc;
	}
	for (size_t i = 0; i < in->napps; i++) {
		const struct tsm_cm_policy_app *a = &in->apps[i];

		rc = -ENOMEM;
		if (!(inst = new_instance(action, "SMS_Application")))
			goto out_free_doc;
		if ((rc = add_prop(doc, inst, "ModelName", a->model_name)) < 0 ||
		    (rc = add_prop(doc, inst, "LocalizedDisplayName", a->title)) < 0 ||
		    (rc = add_prop(doc, inst, "SoftwareVersion", a->software_version)) < 0 ||
		    (rc = add_prop(doc, inst, "Manufacturer", a->publisher)) < 0)
			goto out_free_doc;
	}
	for (size_t i = 0; i < in->ndts; i++) {
		const struct tsm_cm_policy_dt *t = &in->dts[i];
		char prio[16], deps[16];

		snprintf(prio, sizeof(prio), "%u", t->priority);
		snprintf(deps, sizeof(deps), "%u", t->depended);
		rc = -ENOMEM;
		if (!(inst = new_instance(action, "SMS_DeploymentType")))
			goto out_free_doc;
		if ((rc = add_prop(doc, inst, "ModelName", t->model_name)) < 0 ||
		    (rc = add_prop(doc, inst, "AppModelName", t->app_model_name)) < 0 ||
		    (rc = add_prop(doc, inst, "LocalizedDisplayName", t->title)) < 0 ||
		    (rc = add_prop(doc, inst, "Technology", t->technology)) < 0 ||
		    (rc = add_prop(doc, inst, "PriorityInLatestApp", prio)) < 0 ||
		    (rc = add_prop(doc, inst, "ContentId", t->content_id)) < 0 ||
		    (rc = add_prop(doc, inst, "ContentPath", t->content_path)) < 0 ||
		    (rc = add_prop(doc, inst, "NumberOfDependedDTs", deps)) < 0)
			goto out_free_doc;
	}
	rc = tsm_cm_xml_dump(doc, xml_ret, len_ret);
out_free_doc:
	free(sequence);
	xmlFreeDoc(doc);
	return rc;
}

int tsm_cm_policy_seal(const struct tsm_cm_media_policy *in, const char *password,
		       enum tsm_cm_cipher cipher, uint8_t **out_ret, size_t *out_len_ret)
{
	char *xml = NULL;
	size_t len = 0;
	int rc;

	if ((rc = tsm_cm_policy_build(in, &xml, &len)) < 0)
		return rc;
	rc = tsm_cm_seal(password, cipher, xml, out_ret, out_len_ret);
	tsm_cm_free_secret(xml, len);
	return rc;
}

static void instance_clear(struct tsm_cm_instance *inst)
{
	for (size_t i = 0; i < inst->nprops; i++) {
		free(inst->props[i].name);
		if (inst->props[i].value)
			tsm_cm_free_secret(inst->props[i].value, strlen(inst->props[i].value));
	}
	free(inst->props);
	free(inst->class_name);
}

void tsm_cm_policy_doc_clear(struct tsm_cm_policy_doc *doc)
{
	for (size_t i = 0; i < doc->n; i++)
		instance_clear(&doc->inst[i]);
	free(doc->inst);
	memset(doc, 0, sizeof(*doc));
}

/* A property's value: its <value> child's text, or its own text without one. */
static xmlChar *prop_value(xmlNodePtr prop)
{
	for (xmlNodePtr c = prop->children; c; c = c->next)
		if (c->type == XML_ELEMENT_NODE && xmlStrcmp(c->name, BAD_CAST "value") == 0)
			return xmlNodeGetContent(c);
	return xmlNodeGetContent(prop);
}

static int read_instance(xmlNodePtr node, xmlChar *class_name, struct tsm_cm_instance *inst)
{
	memset(inst, 0, sizeof(*inst));
	if (!(inst->class_name = strdup((const char *)class_name)))
		return -ENOMEM;
	for (xmlNodePtr c = node->children; c; c = c->next) {
		xmlChar *name, *value;
		void *p;

		if (c->type != XML_ELEMENT_NODE || xmlStrcmp(c->name, BAD_CAST "property") != 0 ||
		    !(name = xmlGetProp(c, BAD_CAST "name")))
			continue;
		value = prop_value(c);
		p = reallocarray(inst->props, inst->nprops + 1, sizeof(*inst->props));
		if (p) {
			inst->props = p;
			inst->props[inst->nprops].name = strdup((const char *)name);
			inst->props[inst->nprops].value = strdup(value ? (const char *)value : "");
			inst->nprops++; /* instance_clear() frees what strdup gave */
		}
		if (value)
			OPENSSL_cleanse(value, (size_t)xmlStrlen(value));
		xmlFree(value);
		xmlFree(name);
		if (!p || !inst->props[inst->nprops - 1].name || !inst->props[inst->nprops - 1].value)
			return -ENOMEM;
	}
	return 0;
}

/* Every <instance class="..."> in document order, at any depth ([PT] searches the whole document). */
static int walk(xmlNodePtr node, struct tsm_cm_policy_doc *doc)
{
	for (xmlNodePtr n = node; n; n = n->next) {
		xmlChar *class_name;
		int rc;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		if (xmlStrcmp(n->name, BAD_CAST "instance") == 0 &&
		    (class_name = xmlGetProp(n, BAD_CAST "class"))) {
			void *p = reallocarray(doc->inst, doc->n + 1, sizeof(*doc->inst));

			if (!p) {
				xmlFree(class_name);
				return -ENOMEM;
			}
			doc->inst = p;
			rc = read_instance(n, class_name, &doc->inst[doc->n]);
			xmlFree(class_name);
			doc->n++;
			if (rc < 0)
				return rc;
			continue;
		}
		if ((rc = walk(n->children, doc)) < 0)
			return rc;
	}
	return 0;
}

int tsm_cm_policy_from_xml(const char *xml, size_t len, const char *what,
			   struct tsm_cm_policy_doc *doc_ret)
{
	struct tsm_cm_policy_doc doc = { 0 };
	xmlDocPtr xdoc;
	int rc;

	if ((rc = tsm_cm_xml_parse(xml, len, what, _("media policy"), &xdoc)) < 0)
		return rc;
	rc = walk(xmlDocGetRootElement(xdoc), &doc);
	xmlFreeDoc(xdoc);
	if (rc == 0 && doc.n == 0) {
		tsm_error("%s: no policy <instance class=\"...\"> in the media policy", what);
		rc = -EINVAL;
	}
	if (rc < 0) {
		tsm_cm_policy_doc_clear(&doc);
		return rc;
	}
	*doc_ret = doc;
	return 0;
}

int tsm_cm_policy_open(const uint8_t *data, size_t len, const char *password, const char *what,
		       struct tsm_cm_policy_doc *doc_ret, enum tsm_cm_cipher *cipher_ret)
{
	char *text = NULL;
	size_t text_len = 0;
	int rc;

	if ((rc = tsm_cm_open(password, data, len, what, &text, &text_len, cipher_ret)) < 0)
		return rc;
	rc = tsm_cm_policy_from_xml(text, text_len, what, doc_ret);
	tsm_cm_free_secret(text, text_len);
	return rc;
}

const struct tsm_cm_instance *tsm_cm_policy_find(const struct tsm_cm_policy_doc *doc,
						 const char *class_name)
{
	for (size_t i = 0; i < doc->n; i++)
		if (strcmp(doc->inst[i].class_name, class_name) == 0)
			return &doc->inst[i];
	return NULL;
}

const char *tsm_cm_instance_get(const struct tsm_cm_instance *inst, const char *name)
{
	for (size_t i = 0; i < inst->nprops; i++)
		if (strcmp(inst->props[i].name, name) == 0)
			return inst->props[i].value;
	return NULL;
}
