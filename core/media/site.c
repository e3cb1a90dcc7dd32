/* Sites, their management points and trusted root CAs: the rules a site
 * follows (hierarchy, usable management point URLs, root CAs that parse)
 * and its add/edit/rm; the rows are core/catalog/site.c's. */
#include "tsmedia/site.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/http.h>

#include "catalog/rows.h"
#include "media/cert.h"
#include "store/store_internal.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"
#include "tsmedia/media.h"
#include "util/strv.h"

/* ---- management point URLs ------------------------------------------- */

static bool host_label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

/* A DNS name, an IPv4 address or a bracketed IPv6 address. */
static const char *host_problem(const char *host)
{
	size_t len = strlen(host);
	bool numeric = true;

	if (len == 0)
		return _("it names no host");
	if (host[0] == '[') {
		char inner[64];
		unsigned char addr[16];

		if (host[len - 1] != ']' || len - 2 >= sizeof(inner))
			return _("an IPv6 address must be enclosed in [ ]");
		memcpy(inner, host + 1, len - 2);
		inner[len - 2] = '\0';
		return inet_pton(AF_INET6, inner, addr) == 1 ? NULL : _("not a valid IPv6 address");
	}
	if (len > 253)
		return _("the host name is longer than 253 characters");
	for (const char *label = host; *label;) {
		const char *end = strchr(label, '.');
		size_t n = end ? (size_t)(end - label) : strlen(label);

		if (n == 0 || n > 63)
			return _("the host name has an empty or over-long label");
		if (label[0] == '-' || label[n - 1] == '-')
			return _("a host name label starts or ends with '-'");
		for (size_t i = 0; i < n; i++) {
			if (!host_label_char(label[i]))
				return _("the host name holds a character other than letters,"
					 " digits, '-' and '.'");
			if (label[i] < '0' || label[i] > '9')
				numeric = false;
		}
		if (!end)
			break;
		label = end + 1;
		if (!*label)
			return _("the host name ends with '.'");
	}
	if (numeric) {
		unsigned char addr[4];

		if (inet_pton(AF_INET, host, addr) != 1)
			return _("not a valid IPv4 address");
	}
	return NULL;
}

/* The explicit port after the host, if any, must be 1-65535.  @authority
 * is what lies between "//" and the path. */
static const char *port_problem(const char *authority, size_t len)
{
	const char *colon = NULL;
	unsigned long port = 0;

	if (len && authority[0] == '[') {
		const char *close = memchr(authority, ']', len);

		if (close && close + 1 < authority + len && close[1] == ':')
			colon = close + 1;
	} else {
		colon = memchr(authority, ':', len);
	}
	if (!colon)
		return NULL;
	colon++;
	if (colon == authority + len)
		return _("the port after ':' is missing");
	for (const char *p = colon; p < authority + len; p++) {
		if (*p < '0' || *p > '9' || p - colon >= 5)
			return _("the port is not a number from 1 to 65535");
		port = port * 10 + (unsigned long)(*p - '0');
	}
	return port >= 1 && port <= 65535 ? NULL : _("the port is not a number from 1 to 65535");
}

int tsm_mp_check(const char *url)
{
	char *scheme = NULL, *user = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL,
	     *frag = NULL;
	const char *why = NULL, *authority;
	int port_num = 0;

	if (!url || !*url) {
		tsm_error("management point URL is empty");
		return -EINVAL;
	}
	for (const unsigned char *p = (const unsigned char *)url; *p && !why; p++) {
		if (*p == ' ' || *p == '\t')
			why = _("it holds a space");
		else if (*p < 0x20 || *p >= 0x7f)
			why = _("it holds a control or non-ASCII character (percent-encode it)");
		else if (strchr("\"<>\\^`{|}", *p))
			why = _("it holds a character URLs do not allow unencoded");
		else if (*p == '%' && !(isxdigit(p[1]) && isxdigit(p[2])))
			/* xgettext:no-c-format */
			why = _("a '%' is not followed by two hex digits");
	}
	if (why)
		goto out_bad;
	if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
		why = _("it must start with http:// or https://");
		goto out_bad;
	}
	authority = strstr(url, "//") + 2;
	if (!OSSL_parse_url(url, &scheme, &user, &host, &port, &port_num, &path, &query, &frag)) {
		why = _("it is not a well-formed URL (host and port)");
		goto out_bad;
	}
	if (user && *user)
		why = _("a user name or password does not belong in a management point URL");
	else if ((why = host_problem(host)) != NULL)
		;
	else if ((why = port_problem(authority, strcspn(authority, "/?#"))) != NULL)
		;
	else if ((query && *query) || (frag && *frag))
		why = _("a management point URL takes no query (?) or fragment (#)");
out_bad:
	OPENSSL_free(scheme);
	OPENSSL_free(user);
	OPENSSL_free(host);
	OPENSSL_free(port);
	OPENSSL_free(path);
	OPENSSL_free(query);
	OPENSSL_free(frag);
	if (why) {
		tsm_error("invalid management point URL '%s': %s", url, why);
		return -EINVAL;
	}
	return 0;
}

bool tsm_mp_is_https(const char *url)
{
	return url && strncasecmp(url, "https://", 8) == 0;
}

/* ---- memory ---------------------------------------------------------- */

/* ---- checking and writing -------------------------------------------- */

/* Checks @site (code already normalized) against the rules and the
 * catalog; fills the SHA-256 of each root CA into @sha256s. */
static int site_check_locked(struct tsm_store *store, const struct tsm_site *site,
			     char (*sha256s)[65])
{
	int rc;

	if (site->type == TSM_SITE_CAS) {
		if (site->parent[0]) {
			tsm_error("site %s: a central administration site has no parent (got %s)",
				  site->code, site->parent);
			return -EINVAL;
		}
		if (site->nmps) {
			tsm_error("site %s: a central administration site has no management points;"
				  " give them to its primary sites", site->code);
			return -EINVAL;
		}
	} else if (site->parent[0]) {
		struct tsm_site parent;

		if (strcmp(site->parent, site->code) == 0) {
			tsm_error("site %s cannot be its own parent", site->code);
			return -EINVAL;
		}
		rc = tsm_site_row_get(store, site->parent, &parent, true);
		if (rc == -ENOENT) {
			tsm_error("site %s: parent site %s does not exist (add the central"
				  " administration site first)", site->code, site->parent);
			return -ENOENT;
		}
		if (rc < 0)
			return rc;
		rc = parent.type == TSM_SITE_CAS ? 0 : -EINVAL;
		tsm_site_clear(&parent);
		if (rc < 0) {
			tsm_error("site %s: parent site %s is a primary site; a primary site's parent"
				  " must be a central administration site", site->code, site->parent);
			return rc;
		}
	}
	for (size_t i = 0; i < site->nmps; i++) {
		if ((rc = tsm_mp_check(site->mps[i])) < 0) {
			tsm_error("site %s: management point %zu is not usable", site->code, i + 1);
			return rc;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcasecmp(site->mps[i], site->mps[j]) == 0) {
				tsm_error("site %s: management point %s is given twice", site->code,
					  site->mps[i]);
				return -EINVAL;
			}
		}
	}
	for (size_t i = 0; i < site->nroot_cas; i++) {
		char what[64];

		snprintf(what, sizeof(what), "site %s: root CA %zu", site->code, i + 1);
		if ((rc = tsm_root_ca_check_pem(site->root_cas[i], what, sha256s[i])) < 0)
			return rc;
		for (size_t j = 0; j < i; j++) {
			if (strcmp(sha256s[i], sha256s[j]) == 0) {
				tsm_error("site %s: root CA %s is given twice", site->code, sha256s[i]);
				return -EINVAL;
			}
		}
	}
	for (int i = 0; i < TSM_SITE_VALUE_COUNT; i++)
		if (site->values[i] && (rc = tsm_site_value_check(i, site->values[i], site->code)) < 0)
			return rc;
	return 0;
}

int tsm_site_add(struct tsm_store *store, const struct tsm_site *in)
{
	struct tsm_site site = *in, existing;
	char (*sha256s)[65];
	int rc;

	if ((rc = tsm_site_code_normalize(in->code, site.code)) < 0)
		return rc;
	if (in->type != TSM_SITE_PRIMARY && in->type != TSM_SITE_CAS) {
		tsm_error("site %s: unknown site type %d", site.code, (int)in->type);
		return -EINVAL;
	}
	if (in->parent[0] && (rc = tsm_site_code_normalize(in->parent, site.parent)) < 0) {
		tsm_error("site %s: its parent's code is not valid", site.code);
		return rc;
	}
	if (!(sha256s = calloc(in->nroot_cas + 1, sizeof(*sha256s))))
		return -ENOMEM;
	if ((rc = tsm_store_write_begin(store)) < 0)
		goto out_free;
	rc = tsm_site_row_get(store, site.code, &existing, true);
	if (rc == 0) {
		tsm_site_clear(&existing);
		tsm_error("site %s already exists in %s", site.code, store->dir);
		rc = -EEXIST;
		goto out_abort;
	}
	if (rc != -ENOENT || (rc = site_check_locked(store, &site, sha256s)) < 0)
		goto out_abort;
	if ((rc = tsm_site_row_insert(store, &site, sha256s)) < 0)
		goto out_abort;
	rc = tsm_store_write_commit(store);
	goto out_free;

out_abort:
	tsm_store_write_abort(store);
out_free:
	free(sha256s);
	return rc;
}

/* Removes @url (exactly, or ignoring case) from @site's list. */
static bool strv_remove(char **v, size_t *n, const char *s)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcasecmp(v[i], s) == 0) {
			free(v[i]);
			memmove(&v[i], &v[i + 1], (*n - i - 1) * sizeof(*v));
			(*n)--;
			return true;
		}
	}
	return false;
}

static int site_apply_edit(struct tsm_site *site, const struct tsm_site_edit *e)
{
	int rc;

	for (size_t i = 0; i < e->nrm_mps; i++) {
		if (!strv_remove(site->mps, &site->nmps, e->rm_mps[i])) {
			tsm_error("site %s has no management point %s", site->code, e->rm_mps[i]);
			return -ENOENT;
		}
	}
	for (size_t i = 0; i < e->nrm_root_cas; i++) {
		char want[65];
		bool found = false;

		if (tsm_thumbprint_normalize(e->rm_root_cas[i], 32, want) < 0) {
			tsm_error("'%s' is not a SHA-256 thumbprint (64 hex digits)", e->rm_root_cas[i]);
			return -EINVAL;
		}
		for (size_t j = 0; j < site->nroot_cas && !found; j++) {
			char have[65], what[64];

			snprintf(what, sizeof(what), "site %s: root CA %zu", site->code, j + 1);
			if (tsm_root_ca_check_pem(site->root_cas[j], what, have) == 0 &&
			    strcmp(have, want) == 0) {
				free(site->root_cas[j]);
				memmove(&site->root_cas[j], &site->root_cas[j + 1],
					(site->nroot_cas - j - 1) * sizeof(*site->root_cas));
				site->nroot_cas--;
				found = true;
			}
		}
		if (!found) {
			tsm_error("site %s has no root CA with SHA-256 %s", site->code, want);
			return -ENOENT;
		}
	}
	for (size_t i = 0; i < e->nadd_mps; i++) {
		for (size_t j = 0; j < site->nmps; j++) {
			if (strcasecmp(site->mps[j], e->add_mps[i]) == 0) {
				tsm_error("site %s already has management point %s", site->code,
					  e->add_mps[i]);
				return -EEXIST;
			}
		}
		if ((rc = tsm_strv_push(&site->mps, &site->nmps, e->add_mps[i])) < 0)
			return rc;
	}
	for (size_t i = 0; i < e->nadd_root_cas; i++)
		if ((rc = tsm_strv_push(&site->root_cas, &site->nroot_cas, e->add_root_cas[i])) < 0)
			return rc;
	for (int i = 0; i < TSM_SITE_VALUE_COUNT; i++) {
		if (!e->set_values[i])
			continue;
		if (!*e->set_values[i] && !site->values[i]) {
			tsm_error("site %s has no --%s to remove", site->code, tsm_site_value_name(i));
			return -ENOENT;
		}
		free(site->values[i]);
		site->values[i] = NULL;
		if (*e->set_values[i] && !(site->values[i] = strdup(e->set_values[i])))
			return -ENOMEM;
	}
	return 0;
}

int tsm_site_edit(struct tsm_store *store, const char *code, const struct tsm_site_edit *edit)
{
	struct tsm_site site;
	char norm[4], (*sha256s)[65] = NULL;
	int rc;

	if ((rc = tsm_site_code_normalize(code, norm)) < 0)
		return rc;
	if ((rc = tsm_store_write_begin(store)) < 0)
		return rc;
	if ((rc = tsm_site_row_get(store, norm, &site, false)) < 0)
		goto out_abort;
	if ((rc = site_apply_edit(&site, edit)) < 0)
		goto out_clear;
	if (!(sha256s = calloc(site.nroot_cas + 1, sizeof(*sha256s)))) {
		rc = -ENOMEM;
		goto out_clear;
	}
	if ((rc = site_check_locked(store, &site, sha256s)) < 0 ||
	    (rc = tsm_site_rows_delete_lists(store, site.code)) < 0 ||
	    (rc = tsm_site_rows_write_lists(store, &site, sha256s)) < 0)
		goto out_clear;
	free(sha256s);
	tsm_site_clear(&site);
	return tsm_store_write_commit(store);

out_clear:
	free(sha256s);
	tsm_site_clear(&site);
out_abort:
	tsm_store_write_abort(store);
	return rc;
}

int tsm_site_rm(struct tsm_store *store, const char *code)
{
	char norm[4], children[256] = "";
	size_t nchildren = 0;
	struct tsm_site site;
	int rc;

	if ((rc = tsm_site_code_normalize(code, norm)) < 0)
		return rc;
	if ((rc = tsm_store_write_begin(store)) < 0)
		return rc;
	if ((rc = tsm_site_row_get(store, norm, &site, false)) < 0)
		goto out_abort;
	tsm_site_clear(&site);
	if ((rc = tsm_site_row_children(store, norm, children, sizeof(children), &nchildren)) < 0)
		goto out_abort;
	if (nchildren) {
		tsm_error("site %s is the parent of primary site%s %s: remove %s first", norm,
			  nchildren > 1 ? "s" : "", children, nchildren > 1 ? "them" : "it");
		rc = -EBUSY;
		goto out_abort;
	}
	if ((rc = tsm_site_row_delete(store, norm)) < 0)
		goto out_abort;
	return tsm_store_write_commit(store);

out_abort:
	tsm_store_write_abort(store);
	return rc;
}

/* ---- trust ----------------------------------------------------------- */

int tsm_site_untrusting_primaries(struct tsm_store *store, const char *code, char ***codes_ret,
				  size_t *n_ret)
{
	struct tsm_site site;
	char norm[4], **codes = NULL;
	const char *top;
	size_t n = 0;
	int rc;

	if ((rc = tsm_site_code_normalize(code, norm)) < 0)
		return rc;
	if ((rc = tsm_store_read_begin(store)) < 0)
		return rc;
	if ((rc = tsm_site_row_get(store, norm, &site, false)) < 0)
		goto out_end;
	/* The top of the hierarchy: the CAS, or a stand-alone primary itself. */
	top = site.type == TSM_SITE_CAS ? site.code : site.parent[0] ? site.parent : site.code;
	rc = tsm_site_rows_untrusting(store, top, site.code, &codes, &n);
	tsm_site_clear(&site);
out_end:
	tsm_store_read_end(store);
	if (rc < 0) {
		tsm_site_codes_free(codes);
		return rc;
	}
	*codes_ret = codes;
	*n_ret = n;
	return 0;
}
