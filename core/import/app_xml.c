/* An application's AppMgmtDigest, read with libxml2 (see app_xml.h).
 *
 * Sources for the digest's shape (element and attribute names; the schema
 * itself is Configuration Manager's "Application Management" SDM schema,
 * namespace http://schemas.microsoft.com/SystemCenterConfigurationManager/2009/AppMgmtDigest):
 *  [APP] Microsoft Learn, "SMS_Application Server WMI Class": SDMPackageXML holds the
 *        application's serialized digest; ModelName is "ScopeId_<GUID>/Application_<GUID>".
 *        https://learn.microsoft.com/mem/configmgr/develop/reference/apps/sms_application-server-wmi-class
 *  [DT]  Microsoft Learn, "SMS_DeploymentType Server WMI Class": a deployment type's
 *        ModelName "ScopeId_<GUID>/DeploymentType_<GUID>", its ContentId, Technology and
 *        PriorityInLatestApp.
 *        https://learn.microsoft.com/mem/configmgr/develop/reference/apps/sms_deploymenttype-server-wmi-class
 *  [SDK] Microsoft Learn, "How to Create an Application with the Script Deployment Type"
 *        (configmgr/develop/apps): Application, DeploymentType, Installer, Contents/Content
 *        (ContentId, Version) with File (Name, Size) and Location, as the SDK's serializer
 *        writes them.
 *  [EX]  Digests as published in public scripts that read SDMPackageXML: the Application
 *        element's DeploymentTypes list in priority order, each DeploymentType element with
 *        Title, Technology, Installer/Contents/Content, Installer/CustomData/
 *        InstallCommandLine, Dependencies and Supersedes, each a list of DeploymentTypeRule
 *        (Rules namespace, .../2009/06/14/Rules) whose Annotation/DisplayName Text names a
 *        dependency group, whose DeploymentTypeExpression holds an Operator and Operands of
 *        DeploymentTypeIntentExpression (with a DesiredState, kept as given: the SDK's
 *        DeploymentTypeDesiredState, Required for a dependency), each naming a
 *        DeploymentTypeApplicationReference and a DeploymentTypeReference by
 *        AuthoringScopeId and LogicalName.
 * Namespaces are not checked: element names are. */
#include "import/app_xml.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/tree.h>

#include "tsmedia/log.h"
#include "util/fdio.h"
#include "util/path.h"
#include "util/strset.h"
#include "util/xml.h"

#define ID_MAX 100

struct parse {
	const char *what;
	struct tsm_app *app;
	size_t files; /* over the whole application */
};

static bool is(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

static xmlNode *child(xmlNode *n, const char *name)
{
	for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
		if (is(c, name))
			return c;
	return NULL;
}

static char *attr(xmlNode *n, const char *name)
{
	xmlChar *v = n ? xmlGetProp(n, (const xmlChar *)name) : NULL;
	char *s = v ? strdup((const char *)v) : NULL;

	xmlFree(v);
	return s;
}

static char *text(xmlNode *n)
{
	xmlChar *v = n ? xmlNodeGetContent(n) : NULL;
	char *s = strdup(v ? (const char *)v : "");

	xmlFree(v);
	return s;
}

/* Text for display: UTF-8 (libxml2 gives it), no control characters but
 * tab, at most @max bytes; leading and trailing white space dropped.  @field
 * names it as the digest does (element and attribute names). */
static int clean_text(const struct parse *p, const char *field, char **s, size_t max)
{
	char *t = *s, *end;
	size_t len;

	if (!t)
		return -ENOMEM;
	while (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n')
		t++;
	len = strlen(t);
	end = t + len;
	while (end > t && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r' || end[-1] == '\n'))
		end--;
	*end = '\0';
	len = (size_t)(end - t);
	if (len > max) {
		tsm_error("%s: the %s is %zu bytes, more than %zu: refused", p->what, field, len, max);
		return -E2BIG;
	}
	for (const char *c = t; *c; c++) {
		if ((unsigned char)*c < 0x20 && *c != '\t') {
			tsm_error("%s: the %s holds a control character: refused", p->what, field);
			return -EINVAL;
		}
	}
	memmove(*s, t, len + 1);
	return 0;
}

/* A decimal number 0..@max, nothing else. */
static int number(const struct parse *p, const char *field, const char *s, uint64_t max,
		  uint64_t *out)
{
	uint64_t v = 0;

	if (!s || !*s)
		goto bad;
	for (const char *c = s; *c; c++) {
		if (*c < '0' || *c > '9' || v > (max - (uint64_t)(*c - '0')) / 10)
			goto bad;
		v = v * 10 + (uint64_t)(*c - '0');
	}
	*out = v;
	return 0;
bad:
	tsm_error("%s: the %s '%s' is not a number from 0 to %llu", p->what, field, s ? s : "",
		  (unsigned long long)max);
	return -EINVAL;
}

/* "<AuthoringScopeId>/<LogicalName>" of element @n, normalized ([APP], [DT]). */
static int model_name(const struct parse *p, xmlNode *n, const char *kind, char out[ID_MAX])
{
	char *scope = attr(n, "AuthoringScopeId"), *logical = attr(n, "LogicalName"), *id = NULL;
	int rc = 0;

	if (!scope || !logical || asprintf(&id, "%s/%s", scope, logical) < 0) {
		id = NULL;
		tsm_error("%s: <%s> (line %ld) has no AuthoringScopeId and LogicalName", p->what,
			  (const char *)n->name, xmlGetLineNo(n));
		rc = -EINVAL;
	} else if (tsm_app_id_normalize(id, kind, out) < 0) {
		tsm_error("%s: <%s> (line %ld) names '%.120s', not ScopeId_<GUID>/%s_<GUID>", p->what,
			  (const char *)n->name, xmlGetLineNo(n), id, kind);
		rc = -EINVAL;
	}
	free(scope);
	free(logical);
	free(id);
	return rc;
}

static int revision(const struct parse *p, xmlNode *n, int64_t *out)
{
	char *v = attr(n, "Version");
	uint64_t r = 0;
	int rc = v ? number(p, "Version", v, INT32_MAX, &r) : 0;

	free(v);
	*out = (int64_t)r;
	return rc;
}

/* ---- contents ----------------------------------------------------------- */

/* A file of a content is a name in one folder: anything that could leave
 * it (a path separator, "." or "..") is refused. */
static int file_name_check(const struct parse *p, const char *content, const char *name)
{
	size_t len = strlen(name);

	if (!len || len > 255 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strchr(name, '/') || strchr(name, '\\') || strchr(name, ':')) {
		tsm_error("%s: content %s lists a file named '%.255s', which is not a plain file name"
			  " (a path separator, a drive, '.' or '..'): refused", p->what, content, name);
		return -EINVAL;
	}
	for (const char *c = name; *c; c++) {
		if ((unsigned char)*c < 0x20) {
			tsm_error("%s: content %s lists a file name with a control character: refused",
				  p->what, content);
			return -EINVAL;
		}
	}
	return 0;
}

/* @name not yet among @seen (the content's names folded to ASCII lower case:
 * Windows file names ignore case), then added: a set, so a content of many
 * files costs O(n log n), not a comparison with every earlier name. */
static int file_name_once(const struct parse *p, const char *content, struct tsm_strset *seen,
			  const char *name)
{
	size_t len = strlen(name);
	char *lower = malloc(len + 1);
	int rc = 0;

	if (!lower)
		return -ENOMEM;
	for (size_t i = 0; i <= len; i++)
		lower[i] = (char)tolower((unsigned char)name[i]);
	if (tsm_strset_has(seen, lower)) {
		tsm_error("%s: content %s lists file '%s' twice: refused", p->what, content, name);
		rc = -EINVAL;
	} else {
		rc = tsm_strset_add(seen, lower, len);
	}
	free(lower);
	return rc;
}

static int read_content(struct parse *p, xmlNode *n, struct tsm_app_content *c)
{
	char uid[TSM_APP_CONTENT_ID_LEN + 1];
	char *cid = attr(n, "ContentId"), *ver = attr(n, "Version");
	struct tsm_strset seen = { 0 };
	size_t cap = c->nfiles; /* grown by doubling: up to 100,000 files */
	uint64_t v = 0;
	int rc;

	if (!cid || tsm_app_content_id_normalize(cid, uid) < 0) {
		tsm_error("%s: <Content> (line %ld) has ContentId '%.120s', not Content_<GUID>",
			  p->what, xmlGetLineNo(n), cid ? cid : "");
		free(cid);
		free(ver);
		return -EINVAL;
	}
	free(cid);
	rc = ver ? number(p, "Content Version", ver, INT32_MAX, &v) : 0;
	free(ver);
	if (rc < 0)
		return rc;
	if (!(c->id = strdup(uid)))
		return -ENOMEM;
	c->version = (int64_t)v;
	for (xmlNode *f = n->children; f && rc == 0; f = f->next) {
		char *name, *size;
		void *q = NULL;

		if (!is(f, "File"))
			continue;
		if (++p->files > TSM_APP_MAX_FILES) {
			tsm_error("%s: more than %d content files: refused", p->what, TSM_APP_MAX_FILES);
			rc = -E2BIG;
			break;
		}
		name = attr(f, "Name");
		size = attr(f, "Size");
		rc = name ? file_name_check(p, uid, name) : -EINVAL;
		if (!name)
			tsm_error("%s: a <File> of content %s (line %ld) has no Name", p->what, uid,
				  xmlGetLineNo(f));
		if (rc == 0 && size)
			rc = number(p, "File Size", size, INT64_MAX, &v);
		else
			v = 0;
		if (rc == 0)
			rc = file_name_once(p, uid, &seen, name);
		free(size);
		if (rc == 0 && c->nfiles == cap) {
			size_t want = cap ? 2 * cap : 16;

			if (!(q = reallocarray(c->files, want, sizeof(*c->files))))
				rc = -ENOMEM;
			else {
				c->files = q;
				cap = want;
			}
		}
		if (rc < 0) {
			free(name);
			break;
		}
		c->files[c->nfiles].name = name;
		c->files[c->nfiles++].size = v;
	}
	tsm_strset_clear(&seen);
	return rc;
}

/* ---- rules: dependencies and supersedence -------------------------------- */

/* One DeploymentTypeIntentExpression: the application and deployment type it names. */
static int read_intent(struct parse *p, xmlNode *n, char app[ID_MAX], char dt[ID_MAX],
		       char **state)
{
	xmlNode *a = child(n, "DeploymentTypeApplicationReference");
	xmlNode *d = child(n, "DeploymentTypeReference");
	int rc;

	if (!a || !d) {
		tsm_error("%s: <DeploymentTypeIntentExpression> (line %ld) does not name an application"
			  " and a deployment type", p->what, xmlGetLineNo(n));
		return -EINVAL;
	}
	if ((rc = model_name(p, a, "Application", app)) < 0 ||
	    (rc = model_name(p, d, "DeploymentType", dt)) < 0)
		return rc;
	*state = attr(n, "DesiredState");
	if (!*state && !(*state = strdup("")))
		return -ENOMEM;
	return clean_text(p, "DesiredState", state, 64);
}

/* The intent expressions of a DeploymentTypeRule: directly under it, or
 * under its DeploymentTypeExpression's Operands ([EX]). */
typedef int (*intent_fn)(struct parse *p, void *arg, xmlNode *intent);

static int rule_intents(struct parse *p, xmlNode *rule, intent_fn fn, void *arg)
{
	int rc = 0;

	for (xmlNode *c = rule->children; c && rc == 0; c = c->next) {
		if (is(c, "DeploymentTypeIntentExpression")) {
			rc = fn(p, arg, c);
		} else if (is(c, "DeploymentTypeExpression")) {
			xmlNode *ops = child(c, "Operands");

			for (xmlNode *o = ops ? ops->children : NULL; o && rc == 0; o = o->next)
				if (is(o, "DeploymentTypeIntentExpression"))
					rc = fn(p, arg, o);
		}
	}
	return rc;
}

static int add_dep(struct parse *p, void *arg, xmlNode *n)
{
	struct tsm_app_dep_group *g = arg;
	char app[ID_MAX], dt[ID_MAX];
	char *state = NULL;
	void *q;
	int rc;

	if (g->ndeps >= TSM_APP_MAX_GROUP_DTS) {
		tsm_error("%s: dependency group '%s' names more than %d deployment types: refused",
			  p->what, g->name, TSM_APP_MAX_GROUP_DTS);
		return -E2BIG;
	}
	if ((rc = read_intent(p, n, app, dt, &state)) < 0) {
		free(state);
		return rc;
	}
	if (strcmp(app, p->app->id) == 0) {
		tsm_error("%s: application %s depends on itself (dependency group '%s', deployment type"
			  " %s): refused", p->what, app, g->name, dt);
		free(state);
		return -ELOOP;
	}
	if (!(q = reallocarray(g->deps, g->ndeps + 1, sizeof(*g->deps)))) {
		free(state);
		return -ENOMEM;
	}
	g->deps = q;
	g->deps[g->ndeps].app = strdup(app);
	g->deps[g->ndeps].dt = strdup(dt);
	g->deps[g->ndeps].desired_state = state;
	g->ndeps++;
	return g->deps[g->ndeps - 1].app && g->deps[g->ndeps - 1].dt ? 0 : -ENOMEM;
}

static int read_dependencies(struct parse *p, xmlNode *deps, struct tsm_app_dt *dt)
{
	int rc = 0;

	for (xmlNode *r = deps->children; r && rc == 0; r = r->next) {
		struct tsm_app_dep_group *g;
		xmlNode *expr = child(r, "DeploymentTypeExpression");
		void *q;

		if (!is(r, "DeploymentTypeRule"))
			continue;
		if (dt->ngroups >= TSM_APP_MAX_GROUPS) {
			tsm_error("%s: deployment type %s has more than %d dependency groups: refused",
				  p->what, dt->id, TSM_APP_MAX_GROUPS);
			return -E2BIG;
		}
		if (!(q = reallocarray(dt->groups, dt->ngroups + 1, sizeof(*dt->groups))))
			return -ENOMEM;
		dt->groups = q;
		g = &dt->groups[dt->ngroups++];
		memset(g, 0, sizeof(*g));
		g->name = attr(child(child(r, "Annotation"), "DisplayName"), "Text");
		if (!g->name && !(g->name = strdup("")))
			return -ENOMEM;
		g->op = expr ? text(child(expr, "Operator")) : strdup("Or");
		if ((rc = clean_text(p, "DeploymentTypeRule DisplayName", &g->name, TSM_APP_MAX_TEXT)) < 0 ||
		    (rc = clean_text(p, "DeploymentTypeRule Operator", &g->op, 64)) < 0)
			return rc;
		if ((rc = rule_intents(p, r, add_dep, g)) < 0)
			return rc;
		if (!g->ndeps) {
			tsm_error("%s: dependency group '%s' of deployment type %s names no deployment type",
				  p->what, g->name, dt->id);
			return -EINVAL;
		}
	}
	return rc;
}

static int add_supersede(struct parse *p, void *arg, xmlNode *n)
{
	struct tsm_app_dt *dt = arg;
	struct tsm_app_supersede *s;
	char app[ID_MAX], old[ID_MAX];
	char *state = NULL;
	void *q;
	int rc;

	if (dt->nsupersedes >= TSM_APP_MAX_SUPERSEDES) {
		tsm_error("%s: deployment type %s supersedes more than %d deployment types: refused",
			  p->what, dt->id, TSM_APP_MAX_SUPERSEDES);
		return -E2BIG;
	}
	if ((rc = read_intent(p, n, app, old, &state)) < 0) {
		free(state);
		return rc;
	}
	if (strcmp(app, p->app->id) == 0) {
		tsm_error("%s: application %s supersedes itself (deployment type %s): refused", p->what,
			  app, old);
		free(state);
		return -ELOOP;
	}
	if (!(q = reallocarray(dt->supersedes, dt->nsupersedes + 1, sizeof(*dt->supersedes)))) {
		free(state);
		return -ENOMEM;
	}
	dt->supersedes = q;
	s = &dt->supersedes[dt->nsupersedes++];
	s->app = strdup(app);
	s->dt = strdup(old);
	s->desired_state = state;
	return s->app && s->dt ? 0 : -ENOMEM;
}

/* ---- deployment types ---------------------------------------------------- */

/* Installer/CustomData/InstallCommandLine, else the InstallAction's
 * InstallCommandLine argument ([SDK]). */
static char *install_command(xmlNode *installer)
{
	xmlNode *cmd = child(child(installer, "CustomData"), "InstallCommandLine");
	xmlNode *args = child(child(installer, "InstallAction"), "Args");

	if (cmd)
		return text(cmd);
	for (xmlNode *a = args ? args->children : NULL; a; a = a->next) {
		char *name = is(a, "Arg") ? attr(a, "Name") : NULL;
		bool match = name && strcmp(name, "InstallCommandLine") == 0;

		free(name);
		if (match)
			return text(a);
	}
	return strdup("");
}

static int read_dt(struct parse *p, xmlNode *n, struct tsm_app_dt *dt)
{
	xmlNode *installer = child(n, "Installer"), *contents = child(installer, "Contents");
	xmlNode *deps = child(n, "Dependencies"), *sup = child(n, "Supersedes");
	int rc;

	dt->title = text(child(n, "Title"));
	dt->technology = child(n, "Technology") ? text(child(n, "Technology"))
						: attr(installer, "Technology");
	if (!dt->technology && !(dt->technology = strdup("")))
		return -ENOMEM;
	dt->install_command = install_command(installer);
	if ((rc = revision(p, n, &dt->revision)) < 0 ||
	    (rc = clean_text(p, "DeploymentType Title", &dt->title, TSM_APP_MAX_TEXT)) < 0 ||
	    (rc = clean_text(p, "DeploymentType Technology", &dt->technology, 64)) < 0 ||
	    (rc = clean_text(p, "InstallCommandLine", &dt->install_command, TSM_APP_MAX_COMMAND)) < 0)
		return rc;
	for (xmlNode *c = contents ? contents->children : NULL; c; c = c->next) {
		void *q;

		if (!is(c, "Content"))
			continue;
		if (dt->ncontents >= TSM_APP_MAX_CONTENTS) {
			tsm_error("%s: deployment type %s has more than %d contents: refused", p->what,
				  dt->id, TSM_APP_MAX_CONTENTS);
			return -E2BIG;
		}
		if (!(q = reallocarray(dt->contents, dt->ncontents + 1, sizeof(*dt->contents))))
			return -ENOMEM;
		dt->contents = q;
		memset(&dt->contents[dt->ncontents], 0, sizeof(*dt->contents));
		if ((rc = read_content(p, c, &dt->contents[dt->ncontents++])) < 0)
			return rc;
	}
	if (deps && (rc = read_dependencies(p, deps, dt)) < 0)
		return rc;
	for (xmlNode *r = sup ? sup->children : NULL; r && rc == 0; r = r->next)
		if (is(r, "DeploymentTypeRule"))
			rc = rule_intents(p, r, add_supersede, dt);
	return rc;
}

/* ---- the digest ----------------------------------------------------------- */

static int read_digest(struct parse *p, xmlNode *root)
{
	struct tsm_app *app = p->app;
	xmlNode *a = NULL, *list;
	char id[ID_MAX];
	size_t nfound = 0;
	int rc;

	for (xmlNode *c = root->children; c; c = c->next) {
		if (!is(c, "Application"))
			continue;
		if (a) {
			tsm_error("%s: the digest holds more than one <Application>", p->what);
			return -EINVAL;
		}
		a = c;
	}
	if (!a) {
		tsm_error("%s: the digest holds no <Application>", p->what);
		return -EINVAL;
	}
	if ((rc = model_name(p, a, "Application", id)) < 0 || (rc = revision(p, a, &app->revision)) < 0)
		return rc;
	if (!(app->id = strdup(id)))
		return -ENOMEM;
	app->title = text(child(a, "Title"));
	if (app->title && !*app->title) {
		free(app->title);
		app->title = text(child(child(child(a, "DisplayInfo"), "Info"), "Title"));
	}
	app->publisher = text(child(a, "Publisher"));
	app->software_version = text(child(a, "SoftwareVersion"));
	if ((rc = clean_text(p, "Application Title", &app->title, TSM_APP_MAX_TEXT)) < 0 ||
	    (rc = clean_text(p, "Application Publisher", &app->publisher, TSM_APP_MAX_TEXT)) < 0 ||
	    (rc = clean_text(p, "Application SoftwareVersion", &app->software_version, TSM_APP_MAX_TEXT)) < 0)
		return rc;
	if (!*app->title) {
		tsm_error("%s: application %s has no title", p->what, app->id);
		return -EINVAL;
	}
	/* The Application's list: the deployment types in priority order. */
	list = child(a, "DeploymentTypes");
	for (xmlNode *c = list ? list->children : NULL; c; c = c->next) {
		void *q;

		if (!is(c, "DeploymentType"))
			continue;
		if (app->ndts >= TSM_APP_MAX_DTS) {
			tsm_error("%s: application %s has more than %d deployment types: refused", p->what,
				  app->id, TSM_APP_MAX_DTS);
			return -E2BIG;
		}
		if ((rc = model_name(p, c, "DeploymentType", id)) < 0)
			return rc;
		for (size_t k = 0; k < app->ndts; k++) {
			if (strcmp(app->dts[k].id, id) == 0) {
				tsm_error("%s: deployment type %s is listed twice", p->what, id);
				return -EINVAL;
			}
		}
		if (!(q = reallocarray(app->dts, app->ndts + 1, sizeof(*app->dts))))
			return -ENOMEM;
		app->dts = q;
		memset(&app->dts[app->ndts], 0, sizeof(*app->dts));
		if (!(app->dts[app->ndts++].id = strdup(id)))
			return -ENOMEM;
	}
	/* Each listed deployment type's own element, beside the Application. */
	for (xmlNode *c = root->children; c; c = c->next) {
		struct tsm_app_dt *dt = NULL;

		if (!is(c, "DeploymentType"))
			continue;
		if (++nfound > TSM_APP_MAX_DTS) {
			tsm_error("%s: more than %d deployment types: refused", p->what, TSM_APP_MAX_DTS);
			return -E2BIG;
		}
		if ((rc = model_name(p, c, "DeploymentType", id)) < 0)
			return rc;
		for (size_t k = 0; k < app->ndts && !dt; k++)
			if (strcmp(app->dts[k].id, id) == 0)
				dt = &app->dts[k];
		if (!dt) {
			tsm_error("%s: deployment type %s (line %ld) is not in the application's list",
				  p->what, id, xmlGetLineNo(c));
			return -EINVAL;
		}
		if (dt->title) {
			tsm_error("%s: deployment type %s is described twice", p->what, id);
			return -EINVAL;
		}
		if ((rc = read_dt(p, c, dt)) < 0)
			return rc;
	}
	for (size_t k = 0; k < app->ndts; k++) {
		if (!app->dts[k].title) {
			tsm_error("%s: deployment type %s is listed but not described", p->what,
				  app->dts[k].id);
			return -EINVAL;
		}
	}
	return 0;
}

/* object.xml of SMS_Application: the SDMPackageXML property's text. */
static int read_object(struct parse *p, xmlNode *root, char **digest_ret)
{
	char *cls = attr(root, "CLASSNAME");
	bool ok = cls && strcmp(cls, "SMS_Application") == 0;

	free(cls);
	if (!ok) {
		tsm_error("%s: a CIM instance of another class than SMS_Application: not an application",
			  p->what);
		return -EINVAL;
	}
	for (xmlNode *c = root->children; c; c = c->next) {
		char *name = is(c, "PROPERTY") ? attr(c, "NAME") : NULL;
		bool match = name && strcmp(name, "SDMPackageXML") == 0;

		free(name);
		if (match && child(c, "VALUE"))
			return (*digest_ret = text(child(c, "VALUE"))) ? 0 : -ENOMEM;
	}
	tsm_error("%s: the SMS_Application has no SDMPackageXML property: not an application export",
		  p->what);
	return -EINVAL;
}

static int parse_doc(struct parse *p, const char *buf, size_t len, const char *encoding,
		     bool inner)
{
	xmlDoc *doc = NULL;
	xmlNode *root;
	char *digest = NULL, *inner_what = NULL;
	int rc;

	if (len > TSM_APP_XML_MAX_BYTES) {
		tsm_error("%s: %zu bytes, more than an application may have (%u MiB): refused", p->what,
			  len, TSM_APP_XML_MAX_BYTES >> 20);
		return -EFBIG;
	}
	if (len == 0) {
		tsm_error("%s: empty, not an application", p->what);
		return -EINVAL;
	}
	/* The digest declares encoding="utf-16" ([SDK]: the serializer writes it into a
	 * string), also when saved as UTF-8 bytes: bytes with no UTF-16 BOM and no NUL
	 * in the first four are read as UTF-8 whatever that declaration says. */
	if (!encoding && len >= 4 && !memchr(buf, '\0', 4) &&
	    !((unsigned char)buf[0] == 0xff && (unsigned char)buf[1] == 0xfe) &&
	    !((unsigned char)buf[0] == 0xfe && (unsigned char)buf[1] == 0xff) &&
	    (memmem(buf, len < 200 ? len : 200, "encoding=\"utf-16\"", 16) ||
	     memmem(buf, len < 200 ? len : 200, "encoding=\"UTF-16\"", 16)))
		encoding = "UTF-8";
	/* Bounded; a <!DOCTYPE> refused before its subset is read (util/xml.h). */
	if ((rc = tsm_xml_read(p->what, buf, len, encoding, &doc)) < 0)
		return rc;
	root = xmlDocGetRootElement(doc);
	if (is(root, "AppMgmtDigest")) {
		rc = read_digest(p, root);
	} else if (!inner && is(root, "INSTANCE")) {
		const char *outer = p->what;

		if ((rc = read_object(p, root, &digest)) == 0 &&
		    asprintf(&inner_what, "%s: SDMPackageXML", outer) < 0) {
			inner_what = NULL;
			rc = -ENOMEM;
		}
		if (rc == 0) {
			p->what = inner_what;
			/* The property's text is UTF-8 whatever it declares. */
			rc = parse_doc(p, digest, strlen(digest), "UTF-8", true);
			p->what = outer;
		}
	} else {
		if (inner)
			tsm_error("%s: not an application: the root element is <%s>, expected"
				  " <AppMgmtDigest>", p->what, root ? (const char *)root->name : "");
		else
			tsm_error("%s: not an application: the root element is <%s>, expected"
				  " <AppMgmtDigest> or a console export's <INSTANCE"
				  " CLASSNAME=\"SMS_Application\">", p->what,
				  root ? (const char *)root->name : "");
		rc = -EINVAL;
	}
	free(inner_what);
	free(digest);
	xmlFreeDoc(doc);
	return rc;
}

int tsm_app_xml_parse_memory(const char *what, const char *buf, size_t len, struct tsm_app *app)
{
	struct parse p = { .what = what, .app = app };
	int rc;

	memset(app, 0, sizeof(*app));
	if ((rc = parse_doc(&p, buf, len, NULL, false)) == 0 && !(app->source = strdup(what)))
		rc = -ENOMEM;
	if (rc < 0)
		tsm_app_clear(app);
	return rc;
}

int tsm_app_xml_parse_file(const char *path, struct tsm_app *app)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	memset(app, 0, sizeof(*app));
	if ((rc = tsm_file_read_whole(path, TSM_APP_XML_MAX_BYTES, &buf, &len)) == -EFBIG)
		tsm_error("%s: %zu bytes, more than an application may have (%u MiB): refused", path,
			  len, TSM_APP_XML_MAX_BYTES >> 20);
	if (rc < 0)
		return rc;
	rc = tsm_app_xml_parse_memory(path, buf, len, app);
	free(buf);
	return rc;
}
