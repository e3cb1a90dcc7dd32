/* Variables.dat: Configuration Manager's media variables (see cmvars.h).
 *
 * Sources, cited beside the code that relies on them:
 *  [PSD] FriendsOfMDT/PSD, Save-PSDVariables: <?xml version="1.0" ?><MediaVarList
 *        Version="4.00.5345.0000"> with one <var name="NAME"> per variable, its value in a
 *        CDATA section (the same document MDT's ZTIUtility.vbs keeps in Variables.dat).
 *  [PT]  MWR-CyberSec/PXEThief, pxethief.py: reads var[@name="_SMSMediaGuid"],
 *        "_SMSTSMediaPFX" (hex, binascii.unhexlify), "_SMSTSSiteCode", "SMSTSMP" and
 *        "SMSTSLocationMPs"; the PFX password is the first 31 characters of _SMSMediaGuid.
 *  [PU]  evildaemond/pxethiefup, pxethiefup.py: "_SMSTSStandAloneMedia" is "true" on
 *        stand-alone media, which carries no management point.
 *  [MM]  Misconfiguration-Manager, ELEVATE-5: a prestaged media's _SMSMediaGuid is an
 *        upper-case GUID without braces (PFX password "8AE6B618-77EC-46CB-B1B5-88F693E").
 *  [PXE] Microsoft, "Understand PXE boot in Configuration Manager" (KB 4468601): the client
 *        sets SMSTSMP, _SMSMediaGuid, _SMSTSBootMediaPackageID, _SMSTSHTTPPort,
 *        _SMSTSHTTPSPort, _SMSTSIISSSLState, _SMSTSLaunchMode, _SMSTSMediaPFX,
 *        _SMSTSPublicRootKey, _SMSTSRootCACerts, _SMSTSSiteCode,
 *        _SMSTSSiteSigningCertificate, _SMSTSUseFirstCert, _SMSTSx64UnknownMachineGUID and
 *        _SMSTSx86UnknownMachineGUID from the media variables.
 *  [TSV] Microsoft, "Task sequence variables": _SMSTSLaunchMode is SMS, UFD, UFD+FORMAT, CD,
 *        DVD, PXE or HD; _SMSTSMediaType names the media (BootMedia, FullMedia, PXE, OEMMedia);
 *        SMSTSAssignUsersMode is Auto, Pending or Disabled. */
#include "media/cmvars.h"
#include "media/cmxml.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>
#include <openssl/crypto.h>

#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

/* [PSD]: the MediaVarList version Configuration Manager's and MDT's files carry. */
#define MEDIA_VAR_LIST_VERSION "4.00.5345.0000"

int tsm_cm_vars_add(struct tsm_cm_vars *vars, const char *name, const char *value)
{
	char *n, *v;
	int rc;

	if (!name || !*name) {
		tsm_error("a media variable needs a name");
		return -EINVAL;
	}
	if ((rc = tsm_cm_xml_check_text(name, _("its name"), _("media variable"), "")) < 0 ||
	    (rc = tsm_cm_xml_check_text(value, _("its value"), _("media variable"), name)) < 0)
		return rc;
	if (tsm_cm_vars_get(vars, name))
		return -EEXIST;
	if (vars->n == vars->cap) {
		size_t cap = vars->cap ? 2 * vars->cap : 32;
		void *p = reallocarray(vars->v, cap, sizeof(*vars->v));

		if (!p)
			return -ENOMEM;
		vars->v = p;
		vars->cap = cap;
	}
	n = strdup(name);
	v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return -ENOMEM;
	}
	vars->v[vars->n].name = n;
	vars->v[vars->n].value = v;
	vars->n++;
	return 0;
}

const char *tsm_cm_vars_get(const struct tsm_cm_vars *vars, const char *name)
{
	for (size_t i = 0; i < vars->n; i++)
		if (strcmp(vars->v[i].name, name) == 0)
			return vars->v[i].value;
	return NULL;
}

void tsm_cm_vars_clear(struct tsm_cm_vars *vars)
{
	for (size_t i = 0; i < vars->n; i++) {
		free(vars->v[i].name);
		tsm_cm_free_secret(vars->v[i].value, strlen(vars->v[i].value));
	}
	free(vars->v);
	memset(vars, 0, sizeof(*vars));
}

int tsm_cm_vars_to_xml(const struct tsm_cm_vars *vars, char **xml_ret, size_t *len_ret)
{
	xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNodePtr root = doc ? xmlNewDocNode(doc, NULL, BAD_CAST "MediaVarList", NULL) : NULL;
	int rc = -ENOMEM;

	if (!root)
		goto out_free_doc;
	xmlDocSetRootElement(doc, root);
	if (!xmlNewProp(root, BAD_CAST "Version", BAD_CAST MEDIA_VAR_LIST_VERSION))
		goto out_free_doc;
	for (size_t i = 0; i < vars->n; i++) {
		xmlNodePtr var = xmlNewChild(root, NULL, BAD_CAST "var", NULL), value;

		if (!var || !xmlNewProp(var, BAD_CAST "name", BAD_CAST vars->v[i].name))
			goto out_free_doc;
		/* <var name="NAME"><![CDATA[value]]></var> ([PSD]). */
		value = tsm_cm_xml_value(doc, vars->v[i].value);
		if (!value || !xmlAddChild(var, value))
			goto out_free_doc;
	}
	rc = tsm_cm_xml_dump(doc, xml_ret, len_ret);
out_free_doc:
	xmlFreeDoc(doc);
	return rc;
}

int tsm_cm_vars_from_xml(const char *xml, size_t len, const char *what,
			 struct tsm_cm_vars *vars_ret)
{
	struct tsm_cm_vars vars = { 0 };
	xmlDocPtr doc;
	xmlNodePtr root;
	int rc;

	if ((rc = tsm_cm_xml_parse(xml, len, what, _("media variables"), &doc)) < 0)
		return rc;
	root = xmlDocGetRootElement(doc);
	if (!root || xmlStrcmp(root->name, BAD_CAST "MediaVarList") != 0) {
		tsm_error("%s: root element <%s>, want <MediaVarList>", what,
			  root ? (const char *)root->name : "");
		rc = -EINVAL;
		goto out_free_doc;
	}
	for (xmlNodePtr n = root->children; n && rc == 0; n = n->next) {
		xmlChar *name, *value;

		if (n->type != XML_ELEMENT_NODE)
			continue;
		name = xmlGetProp(n, BAD_CAST "name");
		if (xmlStrcmp(n->name, BAD_CAST "var") != 0 || !name) {
			tsm_error("%s: <%s> in <MediaVarList>, want <var name=\"...\">", what,
				  (const char *)n->name);
			xmlFree(name);
			rc = -EINVAL;
			break;
		}
		value = xmlNodeGetContent(n);
		rc = tsm_cm_vars_add(&vars, (const char *)name, value ? (const char *)value : "");
		if (rc == -EEXIST) {
			tsm_error("%s: variable %s is there twice", what, (const char *)name);
			rc = -EINVAL;
		} else if (rc < 0 && rc != -ENOMEM) {
			tsm_error("%s: variable %s cannot be read", what, (const char *)name);
		}
		if (value)
			OPENSSL_cleanse(value, (size_t)xmlStrlen(value));
		xmlFree(value);
		xmlFree(name);
	}
out_free_doc:
	xmlFreeDoc(doc);
	if (rc < 0) {
		tsm_cm_vars_clear(&vars);
		return rc;
	}
	*vars_ret = vars;
	return 0;
}

int tsm_cm_vars_seal(const struct tsm_cm_vars *vars, const char *password,
		     enum tsm_cm_cipher cipher, uint8_t **out_ret, size_t *out_len_ret)
{
	char *xml = NULL;
	size_t len = 0;
	int rc;

	if ((rc = tsm_cm_vars_to_xml(vars, &xml, &len)) < 0)
		return rc;
	/* Without a media password Configuration Manager uses a fixed one ([CV] in cmcrypt.c;
	 * PXEThief's and ELEVATE-5's "default MECM media variables password"). */
	rc = tsm_cm_seal(password ? password : TSM_CM_NO_PASSWORD, cipher, xml, out_ret,
			 out_len_ret);
	tsm_cm_free_secret(xml, len);
	return rc;
}

int tsm_cm_vars_open(const uint8_t *data, size_t len, const char *password, const char *what,
		     struct tsm_cm_vars *vars_ret, enum tsm_cm_cipher *cipher_ret)
{
	char *text = NULL;
	size_t text_len = 0;
	int rc;

	if ((rc = tsm_cm_open(password ? password : TSM_CM_NO_PASSWORD, data, len, what, &text,
			      &text_len, cipher_ret)) < 0)
		return rc;
	rc = tsm_cm_vars_from_xml(text, text_len, what, vars_ret);
	tsm_cm_free_secret(text, text_len);
	return rc;
}

/* 8-4-4-4-12 hex digits, no braces ([MM]). */
static bool guid_without_braces(const char *s)
{
	static const int group[] = { 8, 4, 4, 4, 12 };
	const char *p = s;

	for (size_t g = 0; g < 5; g++) {
		for (int i = 0; i < group[g]; i++, p++)
			if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
			      (*p >= 'A' && *p <= 'F')))
				return false;
		if (g < 4 && *p++ != '-')
			return false;
	}
	return *p == '\0';
}

/* Names Configuration Manager sets itself; a media variable may not override them. */
static bool is_reserved(const char *name)
{
	return strncasecmp(name, "_SMS", 4) == 0 || strcasecmp(name, "SMSTSMP") == 0 ||
	       strcasecmp(name, "SMSTSLocationMPs") == 0 ||
	       strcasecmp(name, "SMSTSAssignUsersMode") == 0;
}

static int add_opt(struct tsm_cm_vars *vars, const char *name, const char *value)
{
	return value ? tsm_cm_vars_add(vars, name, value) : 0;
}

static int add_pfx(struct tsm_cm_vars *vars, const uint8_t *pfx, size_t len)
{
	size_t cap, hex_len = 0;
	char *hex;
	int rc;

	if (__builtin_mul_overflow(len, 2, &cap) || __builtin_add_overflow(cap, 1, &cap))
		return -EFBIG;
	if (!(hex = malloc(cap)))
		return -ENOMEM;
	/* The PKCS#12 in hex ([PT]: binascii.unhexlify of the value). */
	if (!OPENSSL_buf2hexstr_ex(hex, cap, &hex_len, pfx, len, '\0')) {
		free(hex);
		return -EIO;
	}
	rc = tsm_cm_vars_add(vars, "_SMSTSMediaPFX", hex);
	tsm_cm_free_secret(hex, cap);
	return rc;
}

int tsm_cm_vars_build(const struct tsm_cm_media_vars *in, struct tsm_cm_vars *vars_ret)
{
	struct tsm_cm_vars vars = { 0 };
	char *mps = NULL;
	int rc = 0;

	if (!in->media_guid || !guid_without_braces(in->media_guid)) {
		tsm_error("media GUID '%s': want 8-4-4-4-12 hex digits without braces",
			  in->media_guid ? in->media_guid : "");
		return -EINVAL;
	}
	if (in->nlocation_mps) {
		size_t total = 1;

		for (size_t i = 0; i < in->nlocation_mps; i++)
			total += strlen(in->location_mps[i]) + 1;
		if (!(mps = calloc(1, total)))
			return -ENOMEM;
		/* Dynamic media: the management points '*'-separated (the list; PXEThief
		 * [PT] takes SMSTSLocationMPs whole as "partial media"). */
		for (size_t i = 0; i < in->nlocation_mps; i++) {
			if (i)
				strcat(mps, "*");
			strcat(mps, in->location_mps[i]);
		}
	}
	/* The names below are the client's ([PXE], [PT], [PU], [TSV]). */
	if ((rc = tsm_cm_vars_add(&vars, "_SMSMediaGuid", in->media_guid)) < 0 ||
	    (in->pfx && (rc = add_pfx(&vars, in->pfx, in->pfx_len)) < 0) ||
	    (rc = add_opt(&vars, "_SMSTSMediaType", in->media_type)) < 0 ||
	    (rc = add_opt(&vars, "_SMSTSLaunchMode", in->launch_mode)) < 0 ||
	    (rc = add_opt(&vars, "_SMSTSStandAloneMedia", in->standalone ? "true" : NULL)) < 0 ||
	    (rc = add_opt(&vars, "_SMSTSSiteCode", in->site_code)) < 0 ||
	    (rc = add_opt(&vars, "SMSTSMP", in->mp)) < 0 ||
	    (rc = add_opt(&vars, "SMSTSLocationMPs", mps)) < 0 ||
	    (rc = add_opt(&vars, "_SMSTSHTTPPort", in->http_port)) < 0 ||
	    (rc = add_opt(&vars, "_SMSTSHTTPSPort", in->https_port)) < 0 ||
	    (rc = add_opt(&vars, "_SMSTSIISSSLState", in->iis_ssl_state)) < 0 ||
	    (rc = add_opt(&vars, "_SMSTSRootCACerts", in->root_ca_certs)) < 0 ||
	    (rc = add_opt(&vars, "_SMSTSSiteSigningCertificate", in->site_signing_certificate)) < 0 ||
	    (rc = add_opt(&vars, "_SMSTSPublicRootKey", in->public_root_key)) < 0 ||
	    (rc = add_opt(&vars, "_SMSTSUseFirstCert", in->use_first_cert)) < 0 ||
	    (rc = add_opt(&vars, "_SMSTSx64UnknownMachineGUID", in->x64_unknown_guid)) < 0 ||
	    (rc = add_opt(&vars, "_SMSTSx86UnknownMachineGUID", in->x86_unknown_guid)) < 0 ||
	    (rc = add_opt(&vars, "_SMSTSBootMediaPackageID", in->boot_media_package_id)) < 0 ||
	    (rc = add_opt(&vars, "SMSTSAssignUsersMode", in->assign_users_mode)) < 0 ||
	    (rc = add_opt(&vars, "_SMSTSSupportUnknownMachines",
			  in->support_unknown ? "true" : NULL)) < 0 ||
	    (rc = add_opt(&vars, "_SMSTSPreStartCommand", in->prestart_command)) < 0 ||
	    (rc = add_opt(&vars, "_SMSTSPreStartPackageID", in->prestart_package)) < 0)
		goto out_fail;
	for (size_t i = 0; i < in->nextra; i++) {
		const char *eq = strchr(in->extra[i], '=');
		char *name = eq ? strndup(in->extra[i], (size_t)(eq - in->extra[i])) : NULL;

		if (!name) {
			tsm_error("media variable '%s': want NAME=VALUE", in->extra[i]);
			rc = eq ? -ENOMEM : -EINVAL;
			goto out_fail;
		}
		if (is_reserved(name)) {
			tsm_error("media variable %s: Configuration Manager sets that name itself",
				  name);
			free(name);
			rc = -EEXIST;
			goto out_fail;
		}
		rc = tsm_cm_vars_add(&vars, name, eq + 1);
		if (rc == -EEXIST)
			tsm_error("media variable %s is given twice", name);
		free(name);
		if (rc < 0)
			goto out_fail;
	}
	free(mps);
	*vars_ret = vars;
	return 0;
out_fail:
	free(mps);
	tsm_cm_vars_clear(&vars);
	return rc;
}
