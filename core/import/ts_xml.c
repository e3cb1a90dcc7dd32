/* Task sequence XML: the step tree, its references and the sequence text.
 * Where package IDs live is documented in SOURCES.md next to the fixtures:
 * <referenceList>, command-line switches of the step actions, and a set of
 * named step variables. */
#include "import/ts_xml.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "tsmedia/log.h"
#include "util/fdio.h"
#include "util/strset.h"
#include "util/xml.h"

/* Longest condition summary kept; longer ones end in "...". */
#define COND_MAX 2048

/* ---- small helpers -------------------------------------------------- */

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static bool is_site_char(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool is_upper_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F');
}

bool tsm_ts_package_id_valid(const char *s, size_t len)
{
	if (len != 8)
		return false;
	for (size_t i = 0; i < 8; i++)
		if (!(i < 3 ? is_site_char((unsigned char)s[i]) : is_upper_hex((unsigned char)s[i])))
			return false;
	return true;
}

static bool guid_valid(const char *s)
{
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
			return false;
	}
	return true;
}

#define APP_SCOPE "ScopeId_"
#define APP_MID "/Application_"
#define APP_ID_LEN (8 + 36 + 13 + 36)

bool tsm_ts_application_id_valid(const char *s, size_t len)
{
	return len == APP_ID_LEN && strncmp(s, APP_SCOPE, 8) == 0 && guid_valid(s + 8) &&
	       strncmp(s + 44, APP_MID, 13) == 0 && guid_valid(s + 57);
}

static bool is_word_char(unsigned char c)
{
	return isalnum(c) || c == '_' || c == '-';
}

static bool xml_is(const xmlNode *n, const char *name)
{
	return n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

static char *prop_dup(xmlNode *n, const char *name)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	char *s;

	if (!v)
		return NULL;
	s = strdup((const char *)v);
	xmlFree(v);
	return s;
}

static bool prop_true(xmlNode *n, const char *name)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	bool t = v && strcasecmp((const char *)v, "true") == 0;

	xmlFree(v);
	return t;
}

static char *content_dup(xmlNode *n)
{
	xmlChar *v = xmlNodeGetContent(n);
	char *s = strdup(v ? (const char *)v : "");

	xmlFree(v);
	return s;
}

/* ---- condition summaries -------------------------------------------- */

struct sbuf {
	char *p;
	size_t len;
	bool oom, full;
};

static void sb_add(struct sbuf *sb, const char *s)
{
	if (!*s || sb->oom || sb->full)
		return;
	if (!sb->p && !(sb->p = malloc(COND_MAX))) {
		sb->oom = true;
		return;
	}
	for (; *s; s++) {
		if (sb->len + 4 >= COND_MAX) {
			memcpy(sb->p + sb->len, "...", 3);
			sb->len += 3;
			sb->full = true;
			break;
		}
		/* One line: newlines and tabs of WMI queries become spaces. */
		sb->p[sb->len++] = (unsigned char)*s < 0x20 ? ' ' : *s;
	}
	sb->p[sb->len] = '\0';
}

/* The <variable name="...">value</variable> children of @expr. */
static char *expr_var(xmlNode *expr, const char *name)
{
	for (xmlNode *v = expr->children; v; v = v->next) {
		if (!xml_is(v, "variable"))
			continue;
		xmlChar *n = xmlGetProp(v, (const xmlChar *)"name");
		bool match = n && strcmp((const char *)n, name) == 0;

		xmlFree(n);
		if (match)
			return content_dup(v);
	}
	return NULL;
}

static void sb_var(struct sbuf *sb, xmlNode *expr, const char *name, const char *before)
{
	char *v = expr_var(expr, name);

	if (v && *v) {
		sb_add(sb, before);
		sb_add(sb, v);
	}
	free(v);
}

static void cond_expression(struct sbuf *sb, xmlNode *expr)
{
	char *type = prop_dup(expr, "type");
	const char *t = type ? type : "";

	if (strncmp(t, "SMS_TaskSequence_", 17) == 0)
		t += 17;
	if (strcmp(t, "VariableConditionExpression") == 0) {
		sb_var(sb, expr, "Variable", "");
		sb_var(sb, expr, "Operator", " ");
		sb_var(sb, expr, "Value", " ");
	} else if (strcmp(t, "WMIConditionExpression") == 0) {
		sb_add(sb, "WMI");
		sb_var(sb, expr, "Namespace", " ");
		sb_var(sb, expr, "Query", ": ");
	} else if (strcmp(t, "FolderConditionExpression") == 0 ||
		   strcmp(t, "FileConditionExpression") == 0) {
		sb_add(sb, t[1] == 'o' ? "folder" : "file");
		sb_var(sb, expr, "Path", " ");
		sb_add(sb, " exists");
		sb_var(sb, expr, "Version", ", version ");
		sb_var(sb, expr, "DateTime", ", date ");
	} else if (strcmp(t, "RegistryConditionExpression") == 0) {
		sb_add(sb, "registry");
		sb_var(sb, expr, "KeyPath", " ");
		sb_var(sb, expr, "Value", " value ");
		sb_var(sb, expr, "Operator", " ");
		sb_var(sb, expr, "Data", " ");
	} else {
		/* Other types (software, OS version...): name=value pairs. */
		bool first = true;

		sb_add(sb, *t ? t : "expression");
		sb_add(sb, "(");
		for (xmlNode *v = expr->children; v; v = v->next) {
			if (!xml_is(v, "variable"))
				continue;
			char *n = prop_dup(v, "name"), *val = content_dup(v);

			sb_add(sb, first ? "" : ", ");
			sb_add(sb, n ? n : "?");
			sb_add(sb, "=");
			sb_add(sb, val ? val : "");
			free(n);
			free(val);
			first = false;
		}
		sb_add(sb, ")");
	}
	free(type);
}

static void cond_node(struct sbuf *sb, xmlNode *n, int depth);

/* Children of a <condition> or <operator>, joined with @op. */
static void cond_list(struct sbuf *sb, xmlNode *parent, const char *op, int depth)
{
	bool first = true;

	for (xmlNode *c = parent->children; c; c = c->next) {
		if (!xml_is(c, "expression") && !xml_is(c, "operator"))
			continue;
		if (!first)
			sb_add(sb, op);
		cond_node(sb, c, depth + 1);
		first = false;
	}
}

static void cond_node(struct sbuf *sb, xmlNode *n, int depth)
{
	if (depth > TSM_TS_XML_MAX_DEPTH) {
		sb_add(sb, "...");
		return;
	}
	if (xml_is(n, "expression")) {
		cond_expression(sb, n);
		return;
	}
	char *type = prop_dup(n, "type");
	const char *t = type ? type : "and";

	if (strcmp(t, "not") == 0) {
		sb_add(sb, "not (");
		cond_list(sb, n, " and ", depth);
	} else {
		sb_add(sb, "(");
		cond_list(sb, n, strcmp(t, "or") == 0 ? " or " : " and ", depth);
	}
	sb_add(sb, ")");
	free(type);
}

/* Several bare <expression>s under <condition> mean AND. */
static char *condition_summary(xmlNode *cond, bool *oom)
{
	struct sbuf sb = { 0 };

	cond_list(&sb, cond, " and ", 0);
	if (sb.oom) {
		free(sb.p);
		*oom = true;
		return NULL;
	}
	if (!sb.p)
		return strdup("");
	/* Kept at its length, not COND_MAX: 100,000 short conditions would
	 * otherwise hold 200 MB. */
	char *fit = realloc(sb.p, sb.len + 1);

	return fit ? fit : sb.p;
}

/* ---- package IDs and applications in steps --------------------------- */

/* Variables whose value is a package ID (or a list of them). */
static const char *const id_variables[] = {
	"ImagePackageID", "InstallPackageID", "ConfigFilePackage",
	"OSDApplyDriverDriverPackageID", "OSDUpgradeInstallPackageID", "OSDUpgradeDriverPackageID",
	"OSDDownloadDownloadPackages", "_SMSClientPackageID", "_OSDMigrateUsmtPackageID",
	"_OSDMigrateUsmtRestorePackageID", "SysprepPackageID", "BDDPackageID", "PackageID",
	"OSDSubTasksequencePackageID",
};

static bool id_variable(const char *name)
{
	for (size_t i = 0; i < sizeof(id_variables) / sizeof(id_variables[0]); i++)
		if (strcasecmp(name, id_variables[i]) == 0)
			return true;
	/* OSDPackage<n>PackageId (Download Package Content's package list). */
	if (strncasecmp(name, "OSDPackage", 10) == 0 && isdigit((unsigned char)name[10])) {
		const char *p = name + 10;

		while (isdigit((unsigned char)*p))
			p++;
		return strcasecmp(p, "PackageId") == 0;
	}
	return false;
}

/* Switches of step command lines followed by a package ID. */
static const char *const id_switches[] = { "/image:", "/install:", "/config:", "/data:", "/run:" };

static int scan_action(struct tsm_strset *packages, const char *text)
{
	for (size_t k = 0; k < sizeof(id_switches) / sizeof(id_switches[0]); k++) {
		size_t sl = strlen(id_switches[k]);

		for (const char *p = text; *p; p++) {
			if (strncasecmp(p, id_switches[k], sl) != 0)
				continue;
			if (p > text && !isspace((unsigned char)p[-1]) && p[-1] != '"')
				continue;
			const char *v = p + sl;
			size_t len = 0;

			while (len < 9 && v[len] && is_word_char((unsigned char)v[len]))
				len++;
			if (tsm_ts_package_id_valid(v, len)) {
				int rc = tsm_strset_add(packages, v, len);

				if (rc < 0)
					return rc;
			}
		}
	}
	return 0;
}

static int scan_id_list(struct tsm_strset *packages, const char *value, const char *what,
			const char *step, const char *var)
{
	const char *p = value;

	while (*p) {
		size_t len;

		while (*p && (isspace((unsigned char)*p) || *p == ',' || *p == ';'))
			p++;
		len = strcspn(p, " \t\r\n,;");
		if (!len)
			break;
		if (tsm_ts_package_id_valid(p, len)) {
			int rc = tsm_strset_add(packages, p, len);

			if (rc < 0)
				return rc;
		} else if (!memchr(p, '%', len)) {
			/* %VAR% is set at run time; anything else is noted, not trusted. */
			tsm_debug("%s: step '%s': %s value '%.*s' is not a package ID", what,
				  step, var, (int)len, p);
		}
		p += len;
	}
	return 0;
}

static int scan_applications(struct tsm_strset *applications, const char *text)
{
	for (const char *p = text; (p = strstr(p, APP_SCOPE)); p++) {
		if (p > text && is_word_char((unsigned char)p[-1]))
			continue;
		if (strnlen(p, APP_ID_LEN + 1) >= APP_ID_LEN && tsm_ts_application_id_valid(p, APP_ID_LEN) &&
		    !is_word_char((unsigned char)p[APP_ID_LEN])) {
			int rc = tsm_strset_add(applications, p, APP_ID_LEN);

			if (rc < 0)
				return rc;
			p += APP_ID_LEN - 1;
		}
	}
	return 0;
}

static bool install_type(const char *type)
{
	return type && (strcmp(type, "SMS_TaskSequence_InstallApplicationAction") == 0 ||
			strcmp(type, "SMS_TaskSequence_InstallSoftwareAction") == 0);
}

/* "/basevar:NAME" with a name: the list is read from variables at run time. */
static bool action_dynamic(const char *text)
{
	const char *p = strcasestr(text, "/basevar:");

	return p && p[9] && !isspace((unsigned char)p[9]);
}

/* ---- the walk --------------------------------------------------------- */

struct walk {
	const char *what;
	struct tsm_ts_doc *doc;
	size_t nodes;
	size_t path_bytes;              /* of every group path copied so far */
	size_t steps_cap, groups_cap;   /* doc->steps, doc->groups grow by doubling */
	struct tsm_strset ref_packages; /* the referenceList, until the walk ends */
	struct tsm_strset ref_applications;
};

/* Room for one more of the @n elements of @size at *@v (@cap of them). */
static int grow(void **v, size_t n, size_t *cap, size_t size)
{
	size_t want = *cap ? 2 * *cap : 16;
	void *p;

	if (n < *cap)
		return 0;
	if (want > SIZE_MAX / size || !(p = realloc(*v, want * size)))
		return -ENOMEM;
	*v = p;
	*cap = want;
	return 0;
}

static char *path_join(const char *path, const char *name)
{
	size_t a = strlen(path), b = strlen(name);
	char *s = malloc(a + b + 2);

	if (!s)
		return NULL;
	memcpy(s, path, a);
	if (a)
		s[a++] = '/';
	memcpy(s + a, name, b + 1);
	return s;
}

static int node_count(struct walk *w)
{
	if (++w->nodes > TSM_TS_XML_MAX_NODES) {
		tsm_error("%s: more than %d groups and steps: refused", w->what, TSM_TS_XML_MAX_NODES);
		return -E2BIG;
	}
	return 0;
}

/* Each step and group keeps a copy of its group path: 60 nested groups
 * with long names over a thousand steps (3.6 MB of XML) took 3.7 GB. */
static int path_take(struct walk *w, size_t bytes)
{
	if (bytes > TSM_TS_XML_MAX_PATH_BYTES - w->path_bytes) {
		tsm_error("%s: the group paths of its steps and groups add up to more than %u MiB:"
			  " refused", w->what, TSM_TS_XML_MAX_PATH_BYTES >> 20);
		return -E2BIG;
	}
	w->path_bytes += bytes;
	return 0;
}

static int step_variables(struct walk *w, struct tsm_ts_step *s, xmlNode *list,
			  struct tsm_strset *packages, struct tsm_strset *applications)
{
	int rc = 0;

	for (xmlNode *v = list->children; v && rc == 0; v = v->next) {
		if (!xml_is(v, "variable"))
			continue;
		char *name = prop_dup(v, "name"), *value = content_dup(v);

		if (!value) {
			free(name);
			return -ENOMEM;
		}
		if (name && id_variable(name))
			rc = scan_id_list(packages, value, w->what, s->name, name);
		if (rc == 0)
			rc = scan_applications(applications, value);
		if (name && strcasecmp(name, "BaseVariableName") == 0 && *value && install_type(s->type))
			s->dynamic_install = true;
		free(name);
		free(value);
	}
	return rc;
}

static int walk_step(struct walk *w, xmlNode *n, long group, const char *path, bool disabled)
{
	struct tsm_ts_doc *doc = w->doc;
	struct tsm_strset packages = { 0 }, applications = { 0 };
	struct tsm_ts_step *s;
	bool oom = false;
	int rc = 0;

	if (grow((void **)&doc->steps, doc->nsteps, &w->steps_cap, sizeof(*doc->steps)) < 0)
		return -ENOMEM;
	s = &doc->steps[doc->nsteps++];
	memset(s, 0, sizeof(*s));
	s->group = group;
	s->name = prop_dup(n, "name");
	s->type = prop_dup(n, "type");
	if (s->type && !*s->type) {
		free(s->type);
		s->type = NULL;
	}
	s->description = prop_dup(n, "description");
	if ((rc = path_take(w, strlen(path) + 1)) < 0)
		return rc;
	s->group_path = strdup(path);
	if ((!s->name && !(s->name = strdup(""))) || (!s->description && !(s->description = strdup(""))) ||
	    !s->group_path)
		return -ENOMEM;
	s->disabled = disabled || prop_true(n, "disable");
	s->continue_on_error = prop_true(n, "continueOnError");
	/* ConfigMgr writes condition, action, defaultVarList; MDT may put
	 * defaultVarList first.  Order does not matter here. */
	for (xmlNode *c = n->children; c && rc == 0; c = c->next) {
		if (xml_is(c, "condition")) {
			doc->nconditions++;
			if (!s->condition)
				s->condition = condition_summary(c, &oom);
			if (oom) {
				rc = -ENOMEM;
				break;
			}
		} else if (xml_is(c, "action")) {
			char *text = content_dup(c);

			if (!text) {
				rc = -ENOMEM;
				break;
			}
			if ((rc = scan_action(&packages, text)) == 0)
				rc = scan_applications(&applications, text);
			if (install_type(s->type) && action_dynamic(text))
				s->dynamic_install = true;
			free(text);
		} else if (xml_is(c, "defaultVarList")) {
			rc = step_variables(w, s, c, &packages, &applications);
		}
	}
	if (rc == 0) {
		tsm_strset_take(&packages, &s->packages, &s->npackages);
		tsm_strset_take(&applications, &s->applications, &s->napplications);
	}
	tsm_strset_clear(&packages);
	tsm_strset_clear(&applications);
	return rc;
}

static int walk_children(struct walk *w, xmlNode *parent, long group, const char *path, int depth,
			 bool disabled);

static int walk_group(struct walk *w, xmlNode *n, long parent, const char *path, int depth,
		      bool disabled)
{
	struct tsm_ts_doc *doc = w->doc;
	struct tsm_ts_group *g;
	long index = (long)doc->ngroups;
	bool oom = false, gdisabled;
	char *gpath;
	int rc;

	if (depth >= TSM_TS_XML_MAX_DEPTH) {
		tsm_error("%s: groups nested deeper than %d: refused", w->what, TSM_TS_XML_MAX_DEPTH);
		return -E2BIG;
	}
	if (grow((void **)&doc->groups, doc->ngroups, &w->groups_cap, sizeof(*doc->groups)) < 0)
		return -ENOMEM;
	g = &doc->groups[doc->ngroups++];
	memset(g, 0, sizeof(*g));
	g->name = prop_dup(n, "name");
	g->description = prop_dup(n, "description");
	if ((!g->name && !(g->name = strdup(""))) || (!g->description && !(g->description = strdup(""))))
		return -ENOMEM;
	if ((rc = path_take(w, strlen(path) + strlen(g->name) + 2)) < 0)
		return rc;
	if (!(g->path = path_join(path, g->name)))
		return -ENOMEM;
	g->depth = depth;
	g->parent = parent;
	g->disabled = gdisabled = disabled || prop_true(n, "disable");
	g->continue_on_error = prop_true(n, "continueOnError");
	g->first_step = doc->nsteps;
	if (depth + 1 > doc->max_depth)
		doc->max_depth = depth + 1;
	for (xmlNode *c = n->children; c; c = c->next) {
		if (!xml_is(c, "condition"))
			continue;
		doc->nconditions++;
		if (!g->condition)
			g->condition = condition_summary(c, &oom);
		if (oom)
			return -ENOMEM;
	}
	/* @g moves when groups grow: keep what the walk needs. */
	if (!(gpath = strdup(g->path)))
		return -ENOMEM;
	rc = walk_children(w, n, index, gpath, depth + 1, gdisabled);
	free(gpath);
	return rc;
}

static int walk_children(struct walk *w, xmlNode *parent, long group, const char *path, int depth,
			 bool disabled)
{
	int rc = 0;

	for (xmlNode *c = parent->children; c && rc == 0; c = c->next) {
		if (xml_is(c, "group")) {
			if ((rc = node_count(w)) == 0)
				rc = walk_group(w, c, group, path, depth, disabled);
		} else if (xml_is(c, "step") || xml_is(c, "subtasksequence")) {
			if ((rc = node_count(w)) == 0)
				rc = walk_step(w, c, group, path, disabled);
		}
	}
	return rc;
}

static int read_reference_list(struct walk *w, xmlNode *list)
{
	for (xmlNode *r = list->children; r; r = r->next) {
		if (!xml_is(r, "reference"))
			continue;
		char *pkg = prop_dup(r, "package");
		size_t len = pkg ? strlen(pkg) : 0;
		int rc;

		if (!pkg || !len) {
			free(pkg);
			continue;
		}
		if (tsm_ts_application_id_valid(pkg, len)) {
			rc = tsm_strset_add(&w->ref_applications, pkg, len);
		} else if (tsm_ts_package_id_valid(pkg, len)) {
			rc = tsm_strset_add(&w->ref_packages, pkg, len);
		} else {
			tsm_error("%s: referenceList entry '%s' (line %ld) is neither a package ID (a site"
				  " code of three letters or digits and five hex digits) nor an application"
				  " (ScopeId_.../Application_...)", w->what, pkg, xmlGetLineNo(r));
			rc = -EINVAL;
		}
		free(pkg);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- documents -------------------------------------------------------- */

static int xml_read(const char *what, const char *buf, size_t len, const char *encoding,
		    xmlDoc **doc_ret)
{
	*doc_ret = NULL;
	if (len > TSM_TS_XML_MAX_BYTES) {
		tsm_error("%s: %zu bytes, more than a task sequence may have (%u MiB): refused", what,
			  len, TSM_TS_XML_MAX_BYTES >> 20);
		return -EFBIG;
	}
	if (len == 0) {
		tsm_error("%s: empty, not a task sequence", what);
		return -EINVAL;
	}
	/* Bounded, a <!DOCTYPE> refused (exports never carry one: it could
	 * only define entities to expand). */
	return tsm_xml_read(what, buf, len, encoding, doc_ret);
}

static bool utf8_declared(const xmlDoc *doc)
{
	const char *e = (const char *)doc->encoding;

	return !e || strcasecmp(e, "UTF-8") == 0 || strcasecmp(e, "UTF8") == 0 ||
	       strcasecmp(e, "US-ASCII") == 0 || strcasecmp(e, "ASCII") == 0;
}

/* The sequence text: the bytes as given when they are UTF-8 (a BOM
 * dropped), else libxml2's UTF-8 serialization of the document. */
static int sequence_text(const char *what, xmlDoc *doc, const char *buf, size_t len,
			 struct tsm_ts_doc *out)
{
	bool utf16 = len >= 2 && (((unsigned char)buf[0] == 0xff && (unsigned char)buf[1] == 0xfe) ||
				  ((unsigned char)buf[0] == 0xfe && (unsigned char)buf[1] == 0xff));

	if (!utf16 && utf8_declared(doc)) {
		if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0) {
			buf += 3;
			len -= 3;
		}
		if (memchr(buf, '\0', len)) {
			tsm_error("%s: holds a NUL byte", what);
			return -EINVAL;
		}
		if (!(out->sequence_xml = strndup(buf, len)))
			return -ENOMEM;
		out->sequence_len = len;
		return 0;
	}
	struct tsm_xml_messages m;
	xmlChar *mem = NULL;
	int size = 0;

	tsm_xml_messages_push(&m, what);
	xmlDocDumpMemoryEnc(doc, &mem, &size, "UTF-8");
	tsm_xml_messages_pop(&m);
	if (!mem)
		return -ENOMEM;
	out->sequence_xml = strndup((const char *)mem, (size_t)size);
	out->sequence_len = (size_t)size;
	xmlFree(mem);
	return out->sequence_xml ? 0 : -ENOMEM;
}

static int parse_sequence(const char *what, xmlDoc *xdoc, struct tsm_ts_doc *doc)
{
	xmlNode *root = xmlDocGetRootElement(xdoc);
	struct walk w = { .what = what, .doc = doc };
	int rc;

	if (!root || !xml_is(root, "sequence")) {
		tsm_error("%s: not a task sequence: the root element is <%s>, expected <sequence>", what,
			  root ? (const char *)root->name : "");
		return -EINVAL;
	}
	doc->sequence_version = prop_dup(root, "version");
	if (doc->dialect != TSM_TS_DIALECT_OBJECT) {
		char *name = prop_dup(root, "name");

		/* MDT templates: version 3.00 and a name. */
		if (name || (doc->sequence_version && strcmp(doc->sequence_version, "3.00") == 0))
			doc->dialect = TSM_TS_DIALECT_MDT;
		if (name && *name && !doc->object_name)
			doc->object_name = name;
		else
			free(name);
	}
	for (xmlNode *c = root->children; c; c = c->next)
		if (xml_is(c, "referenceList") && (rc = read_reference_list(&w, c)) < 0)
			goto out_sets;
	if ((rc = walk_children(&w, root, -1, "", 0, false)) == 0) {
		tsm_strset_take(&w.ref_packages, &doc->ref_packages, &doc->nref_packages);
		tsm_strset_take(&w.ref_applications, &doc->ref_applications, &doc->nref_applications);
	}
out_sets:
	tsm_strset_clear(&w.ref_packages);
	tsm_strset_clear(&w.ref_applications);
	return rc;
}

/* XML turns CR LF into LF: compares raw bytes with a parsed value. */
static bool same_after_newline_normalization(const char *raw, size_t rlen, const char *val,
					     size_t vlen)
{
	size_t i = 0, j = 0;

	while (i < rlen && j < vlen) {
		char c = raw[i++];

		if (c == '\r') {
			if (i < rlen && raw[i] == '\n')
				i++;
			c = '\n';
		}
		if (c != val[j++])
			return false;
	}
	return i == rlen && j == vlen;
}

/* The bytes of the CDATA section of the file that holds @val, if any: the
 * Sequence exactly as exported (CR LF kept). */
static bool raw_cdata_find(const char *raw, size_t rlen, const char *val, size_t vlen,
			   const char **start_ret, size_t *len_ret)
{
	const char *end = raw + rlen, *p = raw;

	while ((p = memmem(p, (size_t)(end - p), "<![CDATA[", 9))) {
		const char *s = p + 9, *e = memmem(s, (size_t)(end - s), "]]>", 3);

		if (!e)
			break;
		if (same_after_newline_normalization(s, (size_t)(e - s), val, vlen)) {
			*start_ret = s;
			*len_ret = (size_t)(e - s);
			return true;
		}
		p = e + 3;
	}
	return false;
}

static int object_id_prop(const char *what, const char *prop, const char *value, char out[9])
{
	size_t len = strlen(value);

	if (!len)
		return 0;
	if (!tsm_ts_package_id_valid(value, len)) {
		tsm_error("%s: %s '%s' is not a package ID (a site code of three letters or digits"
			  " and five hex digits)", what, prop, value);
		return -EINVAL;
	}
	memcpy(out, value, 9);
	return 0;
}

static int parse_object(const char *what, xmlDoc *xdoc, const char *raw, size_t rlen,
			bool raw_utf8, struct tsm_ts_doc *doc)
{
	xmlNode *root = xmlDocGetRootElement(xdoc), *seq = NULL;
	char *cls = prop_dup(root, "CLASSNAME"), *inner_what = NULL, *text = NULL;
	const char *start;
	size_t len;
	xmlDoc *inner = NULL;
	int rc = 0;

	if (!cls || strcmp(cls, "SMS_TaskSequencePackage") != 0) {
		tsm_error("%s: not a task sequence: a CIM instance of class '%s', expected"
			  " SMS_TaskSequencePackage", what, cls ? cls : "");
		free(cls);
		return -EINVAL;
	}
	free(cls);
	doc->dialect = TSM_TS_DIALECT_OBJECT;
	for (xmlNode *p = root->children; p && rc == 0; p = p->next) {
		if (!xml_is(p, "PROPERTY"))
			continue;
		xmlNode *v = p->children;
		char *name = prop_dup(p, "NAME"), *value;

		while (v && !xml_is(v, "VALUE"))
			v = v->next;
		if (!name || !v) {
			free(name);
			continue;
		}
		if (strcmp(name, "Sequence") == 0) {
			seq = v;
		} else if (strcmp(name, "PackageID") == 0 || strcmp(name, "BootImageID") == 0 ||
			   strcmp(name, "Name") == 0) {
			if (!(value = content_dup(v))) {
				rc = -ENOMEM;
			} else if (name[0] == 'N') {
				free(doc->object_name);
				doc->object_name = value;
				value = NULL;
			} else {
				rc = object_id_prop(what, name, value,
						    name[0] == 'P' ? doc->object_id : doc->object_boot_image);
			}
			free(value);
		}
		free(name);
	}
	if (rc < 0)
		return rc;
	if (!seq) {
		tsm_error("%s: the SMS_TaskSequencePackage has no Sequence property: not a task"
			  " sequence export", what);
		return -EINVAL;
	}
	if (!(text = content_dup(seq)))
		return -ENOMEM;
	len = strlen(text);
	if (asprintf(&inner_what, "%s: Sequence property", what) < 0) {
		free(text);
		return -ENOMEM;
	}
	if (!len) {
		tsm_error("%s is empty", inner_what);
		rc = -EINVAL;
		goto out_free;
	}
	/* Keep the exported bytes when the file holds them as they are. */
	if (raw_utf8 && raw_cdata_find(raw, rlen, text, len, &start, &len)) {
		char *exact = strndup(start, len);

		if (!exact) {
			rc = -ENOMEM;
			goto out_free;
		}
		free(text);
		text = exact;
	}
	/* The property's text is UTF-8 whatever it declares. */
	if ((rc = xml_read(inner_what, text, len, "UTF-8", &inner)) < 0)
		goto out_free;
	if ((rc = parse_sequence(inner_what, inner, doc)) < 0)
		goto out_free;
	doc->sequence_xml = text;
	doc->sequence_len = len;
	text = NULL;
out_free:
	xmlFreeDoc(inner);
	free(inner_what);
	free(text);
	return rc;
}

int tsm_ts_xml_parse_memory(const char *what, const char *buf, size_t len,
			    struct tsm_ts_doc *doc_ret)
{
	struct tsm_ts_doc *doc = doc_ret;
	xmlDoc *xdoc;
	xmlNode *root;
	int rc;

	memset(doc, 0, sizeof(*doc));
	if ((rc = xml_read(what, buf, len, NULL, &xdoc)) < 0)
		return rc;
	root = xmlDocGetRootElement(xdoc);
	if (root && xml_is(root, "INSTANCE")) {
		rc = parse_object(what, xdoc, buf, len, utf8_declared(xdoc), doc);
	} else if (root && xml_is(root, "sequence")) {
		doc->dialect = TSM_TS_DIALECT_SEQUENCE;
		if ((rc = parse_sequence(what, xdoc, doc)) == 0)
			rc = sequence_text(what, xdoc, buf, len, doc);
	} else {
		tsm_error("%s: not a task sequence: the root element is <%s>, expected <sequence> or"
			  " a console export's <INSTANCE CLASSNAME=\"SMS_TaskSequencePackage\">", what,
			  root ? (const char *)root->name : "");
		rc = -EINVAL;
	}
	xmlFreeDoc(xdoc);
	if (rc < 0)
		tsm_ts_doc_clear(doc);
	return rc;
}

int tsm_ts_xml_parse_file(const char *path, struct tsm_ts_doc *doc_ret)
{
	char *buf = NULL;
	size_t len = 0;
	int rc;

	memset(doc_ret, 0, sizeof(*doc_ret));
	if ((rc = tsm_file_read_whole(path, TSM_TS_XML_MAX_BYTES, &buf, &len)) == -EFBIG)
		tsm_error("%s: %lld bytes, more than a task sequence may have (%u MiB): refused", path,
			  (long long)len, TSM_TS_XML_MAX_BYTES >> 20);
	if (rc < 0)
		return rc;
	rc = tsm_ts_xml_parse_memory(path, buf, len, doc_ret);
	free(buf);
	return rc;
}

void tsm_ts_doc_clear(struct tsm_ts_doc *doc)
{
	free(doc->object_name);
	free(doc->sequence_xml);
	free(doc->sequence_version);
	for (size_t i = 0; i < doc->nsteps; i++)
		tsm_ts_step_clear(&doc->steps[i]);
	free(doc->steps);
	for (size_t i = 0; i < doc->ngroups; i++)
		tsm_ts_group_clear(&doc->groups[i]);
	free(doc->groups);
	strv_free(doc->ref_packages, doc->nref_packages);
	strv_free(doc->ref_applications, doc->nref_applications);
	memset(doc, 0, sizeof(*doc));
}
