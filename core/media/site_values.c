/* What only a site knows and its media carry (tsmedia/site.h, enum tsm_site_value): the media
 * variable each becomes and what a value must look like.
 *
 * Sources: Microsoft, "Understand PXE boot in Configuration Manager" (KB 4468601) lists the
 * variables a network-connected media sets (SMSTSMP, _SMSMediaGuid, _SMSTSBootMediaPackageID,
 * _SMSTSHTTPPort, _SMSTSHTTPSPort, _SMSTSIISSSLState, _SMSTSLaunchMode, _SMSTSMediaPFX,
 * _SMSTSPublicRootKey, _SMSTSRootCACerts, _SMSTSSiteCode, _SMSTSSiteSigningCertificate,
 * _SMSTSUseFirstCert, _SMSTSx64UnknownMachineGUID, _SMSTSx86UnknownMachineGUID); the same page
 * shows the site's ports ("IISPortsList ... 80", "ISSSLPortsList ... 443") and an
 * "IISSSLState ... 448" as numbers.  The encodings of the signing certificate, public root key
 * and root CA certificates are not published: they are taken as given (from the site, or from
 * a media it made) and only checked to be text a media variable can hold. */
#include "tsmedia/site.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "media/cmxml.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

static const char *const variables[TSM_SITE_VALUE_COUNT] = {
	[TSM_SITE_HTTP_PORT] = "_SMSTSHTTPPort",
	[TSM_SITE_HTTPS_PORT] = "_SMSTSHTTPSPort",
	[TSM_SITE_IIS_SSL_STATE] = "_SMSTSIISSSLState",
	[TSM_SITE_SIGNING_CERTIFICATE] = "_SMSTSSiteSigningCertificate",
	[TSM_SITE_PUBLIC_ROOT_KEY] = "_SMSTSPublicRootKey",
	[TSM_SITE_ROOT_CA_CERTS] = "_SMSTSRootCACerts",
	[TSM_SITE_USE_FIRST_CERT] = "_SMSTSUseFirstCert",
	[TSM_SITE_X64_UNKNOWN_GUID] = "_SMSTSx64UnknownMachineGUID",
	[TSM_SITE_X86_UNKNOWN_GUID] = "_SMSTSx86UnknownMachineGUID",
};

const char *tsm_site_value_variable(enum tsm_site_value v)
{
	return (unsigned)v < TSM_SITE_VALUE_COUNT ? variables[v] : NULL;
}

/* Decimal digits, at most @max. */
static bool number(const char *s, unsigned long max)
{
	char *end;
	unsigned long n;

	if (!*s || strspn(s, "0123456789") != strlen(s) || strlen(s) > 10)
		return false;
	n = strtoul(s, &end, 10);
	return *end == '\0' && n <= max;
}

static bool hex(const char *s)
{
	size_t n = strlen(s);

	return n && n % 2 == 0 && strspn(s, "0123456789abcdefABCDEF") == n;
}

/* 8-4-4-4-12 hex digits, braces allowed around them. */
static bool guid(const char *s)
{
	size_t n = strlen(s);

	if (n == 38 && s[0] == '{' && s[37] == '}')
		s++, n = 36;
	if (n != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;

		if (dash ? s[i] != '-' : !strchr("0123456789abcdefABCDEF", s[i]))
			return false;
	}
	return true;
}

int tsm_site_value_check(enum tsm_site_value v, const char *value, const char *code)
{
	const char *name = tsm_site_value_name(v), *want = NULL;

	if (!name)
		return -EINVAL;
	switch (v) {
	case TSM_SITE_HTTP_PORT:
	case TSM_SITE_HTTPS_PORT:
		if (!number(value, 65535) || strtoul(value, NULL, 10) == 0)
			want = _("a port number, 1 to 65535");
		break;
	case TSM_SITE_IIS_SSL_STATE:
		if (!number(value, 0xFFFFFFFFul))
			want = _("a number (the site's IISSSLState, e.g. 0 or 448)");
		break;
	case TSM_SITE_USE_FIRST_CERT:
		if (!number(value, 0xFFFFFFFFul) && strcasecmp(value, "true") != 0 &&
		    strcasecmp(value, "false") != 0)
			want = _("a number or true/false");
		break;
	case TSM_SITE_SIGNING_CERTIFICATE:
	case TSM_SITE_PUBLIC_ROOT_KEY:
		if (!hex(value))
			want = _("hex digits, as the site's media carry it");
		break;
	case TSM_SITE_X64_UNKNOWN_GUID:
	case TSM_SITE_X86_UNKNOWN_GUID:
		if (!guid(value))
			want = _("a GUID (8-4-4-4-12 hex digits)");
		break;
	default:
		if (!*value)
			want = _("some text");
	}
	if (want) {
		tsm_error("site %s: --%s '%.64s%s': want %s", code, name, value,
			  strlen(value) > 64 ? "..." : "", want);
		return -EINVAL;
	}
	return tsm_cm_xml_check_text(value, _("its value"), _("site value"), name);
}
