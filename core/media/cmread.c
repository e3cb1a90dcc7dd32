/* Configuration Manager media files, read as its client reads them (see cmread.h).
 *
 * Sources: evildaemond/pxethiefup, pxethiefup.py: TsmBootstrap.ini's PasswordRequired=false
 * means the default key ({BAC6E688-...}) for Variables.dat, and a stand-alone media's
 * Policy.xml then opens with _SMSMediaGuid; PXEThief (pxethief.py) names the credential
 * fields a task sequence carries: OSDJoinPassword, OSDLocalAdminPassword,
 * OSDCaptureAccountPassword, and properties such as DomainPassword, AdminPassword,
 * CapturePassword (analyse_task_sequence_for_potential_creds). */
#include "media/cmread.h"
#include "media/cmxml.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>

#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

void tsm_cm_media_view_clear(struct tsm_cm_media_view *view)
{
	tsm_cm_vars_clear(&view->vars);
	tsm_cm_policy_doc_clear(&view->policy);
	memset(view, 0, sizeof(*view));
}

int tsm_cm_media_open(const char *bootstrap, size_t bootstrap_len, const uint8_t *vars,
		      size_t vars_len, const uint8_t *policy, size_t policy_len,
		      const char *password, const char *where, struct tsm_cm_media_view *view_ret)
{
	struct tsm_cm_media_view v = { 0 };
	char what[512];
	const char *key, *guid, *pfx;
	int rc;

	snprintf(what, sizeof(what), "%s: SMS/data/TsmBootstrap.ini", where);
	if ((rc = tsm_cm_bootstrap_parse(bootstrap, bootstrap_len, what, &v.bootstrap)) < 0)
		return rc;
	if (v.bootstrap.password_required && !password) {
		tsm_error("%s: the media is protected by a password (TsmBootstrap.ini says"
			  " PasswordRequired=true): give it with --password-file", where);
		return -EACCES;
	}
	if (!v.bootstrap.password_required && password)
		tsm_warn("%s: the media has no password (PasswordRequired=false); the one given is"
			 " not needed", where);
	key = v.bootstrap.password_required ? password : NULL;
	snprintf(what, sizeof(what), "%s: SMS/data/Variables.dat", where);
	if ((rc = tsm_cm_vars_open(vars, vars_len, key, what, &v.vars, &v.vars_cipher)) < 0)
		goto out_fail;
	guid = tsm_cm_vars_get(&v.vars, "_SMSMediaGuid");
	pfx = tsm_cm_vars_get(&v.vars, "_SMSTSMediaPFX");
	if (pfx && *pfx) {
		if (!guid) {
			tsm_error("%s: a media certificate but no _SMSMediaGuid to open it", what);
			rc = -EINVAL;
			goto out_fail;
		}
		if ((rc = tsm_cm_pfx_describe(pfx, guid, what, &v.cert)) < 0)
			goto out_fail;
		v.has_cert = true;
	}
	if (policy) {
		/* Without a media password the policy's key is the media GUID ([pxethiefup]). */
		if (!key && !guid) {
			tsm_error("%s: a Policy.xml but no _SMSMediaGuid to open it with", what);
			rc = -EINVAL;
			goto out_fail;
		}
		snprintf(what, sizeof(what), "%s: SMS/data/Policy.xml", where);
		if ((rc = tsm_cm_policy_open(policy, policy_len, key ? key : guid, what, &v.policy,
					     &v.policy_cipher)) < 0)
			goto out_fail;
		v.has_policy = true;
	}
	*view_ret = v;
	return 0;
out_fail:
	tsm_cm_media_view_clear(&v);
	return rc;
}

bool tsm_cm_is_secret_name(const char *name)
{
	static const char *const words[] = { "password", "passwd", "pwd", "secret",
					     "credential", "token" };

	if (strcasecmp(name, "_SMSTSMediaPFX") == 0)
		return true;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasestr(name, words[i]))
			return true;
	return false;
}

#define MASK "********"

/* Element <x name="...password...">value</x> or attribute ...Password="value". */
static void mask_node(xmlNodePtr n)
{
	for (; n; n = n->next) {
		xmlChar *name;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		for (xmlAttrPtr a = n->properties; a; a = a->next)
			if (tsm_cm_is_secret_name((const char *)a->name))
				xmlSetProp(n, a->name, BAD_CAST MASK);
		name = xmlGetProp(n, BAD_CAST "name");
		if ((name && tsm_cm_is_secret_name((const char *)name)) ||
		    (n->children && !n->children->next && n->children->type == XML_TEXT_NODE &&
		     tsm_cm_is_secret_name((const char *)n->name))) {
			xmlNodeSetContent(n, BAD_CAST MASK);
			xmlFree(name);
			continue;
		}
		xmlFree(name);
		mask_node(n->children);
	}
}

int tsm_cm_mask_sequence(const char *sequence, char **masked_ret)
{
	xmlDocPtr doc;
	size_t len;
	int rc;

	if ((rc = tsm_cm_xml_parse(sequence, strlen(sequence), "TS_Sequence", _("task sequence"),
				   &doc)) < 0)
		return rc;
	mask_node(xmlDocGetRootElement(doc));
	rc = tsm_cm_xml_dump(doc, masked_ret, &len);
	xmlFreeDoc(doc);
	return rc;
}
