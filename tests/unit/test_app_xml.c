/* Application digests (core/import/app_xml.c): what a digest written to the
 * published shape gives, the IDs normalized as task sequences write them, the
 * same digest inside a console export's object.xml, and the refusals. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "import/app_xml.h"
#include "tsmedia/app.h"
#include "tsmedia/log.h"

#define SCOPE "ScopeId_0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
#define APP "Application_11111111-2222-3333-4444-55555555AAAA"
#define DT1 "DeploymentType_aaaaaaaa-0000-0000-0000-000000000001"
#define DT2 "DeploymentType_AAAAAAAA-0000-0000-0000-000000000002"

/* Scope in lower case and logical names in mixed case, as a hand-edited
 * digest might have them: normalized on the way in. */
static const char digest[] =
	"<?xml version=\"1.0\" encoding=\"utf-16\"?>"
	"<AppMgmtDigest xmlns=\"http://schemas.microsoft.com/SystemCenterConfigurationManager/2009/AppMgmtDigest\">"
	"<Application AuthoringScopeId=\"" SCOPE "\" LogicalName=\"" APP "\" Version=\"7\">"
	"<DeploymentTypes><DeploymentType AuthoringScopeId=\"" SCOPE "\" LogicalName=\"" DT2 "\" Version=\"1\"/>"
	"<DeploymentType AuthoringScopeId=\"" SCOPE "\" LogicalName=\"" DT1 "\" Version=\"1\"/></DeploymentTypes>"
	"<Title ResourceId=\"Res_1\">  Viewer &amp; Co </Title><Publisher>Contoso</Publisher>"
	"<SoftwareVersion>2.1</SoftwareVersion></Application>"
	"<DeploymentType AuthoringScopeId=\"" SCOPE "\" LogicalName=\"" DT1 "\" Version=\"4\">"
	"<Title>MSI</Title><Technology>MSI</Technology><Installer Technology=\"MSI\"><Contents>"
	"<Content ContentId=\"Content_CCCCCCCC-0000-0000-0000-000000000001\" Version=\"2\">"
	"<File Name=\"viewer.msi\" Size=\"123456789012\"/><File Name=\"setup.cmd\" Size=\"5\"/></Content>"
	"</Contents><InstallAction><Args><Arg Name=\"InstallCommandLine\" Type=\"String\">msiexec /i viewer.msi</Arg>"
	"</Args></InstallAction></Installer>"
	"<Dependencies><DeploymentTypeRule id=\"r\"><Annotation><DisplayName Text=\"Runtimes\"/></Annotation>"
	"<DeploymentTypeExpression><Operator>Or</Operator><Operands>"
	"<DeploymentTypeIntentExpression DesiredState=\"Required\">"
	"<DeploymentTypeApplicationReference AuthoringScopeId=\"" SCOPE "\" LogicalName=\"Application_99999999-0000-0000-0000-000000000001\"/>"
	"<DeploymentTypeReference AuthoringScopeId=\"" SCOPE "\" LogicalName=\"DeploymentType_99999999-0000-0000-0000-000000000001\"/>"
	"</DeploymentTypeIntentExpression><DeploymentTypeIntentExpression DesiredState=\"Present\">"
	"<DeploymentTypeApplicationReference AuthoringScopeId=\"" SCOPE "\" LogicalName=\"Application_99999999-0000-0000-0000-000000000002\"/>"
	"<DeploymentTypeReference AuthoringScopeId=\"" SCOPE "\" LogicalName=\"DeploymentType_99999999-0000-0000-0000-000000000002\"/>"
	"</DeploymentTypeIntentExpression></Operands></DeploymentTypeExpression></DeploymentTypeRule></Dependencies>"
	"</DeploymentType>"
	"<DeploymentType AuthoringScopeId=\"" SCOPE "\" LogicalName=\"" DT2 "\" Version=\"1\">"
	"<Title>Script</Title><Installer Technology=\"Script\"><CustomData><InstallCommandLine>run.cmd</InstallCommandLine>"
	"</CustomData></Installer><Supersedes><DeploymentTypeRule><DeploymentTypeIntentExpression DesiredState=\"Prohibited\">"
	"<DeploymentTypeApplicationReference AuthoringScopeId=\"" SCOPE "\" LogicalName=\"Application_88888888-0000-0000-0000-000000000001\"/>"
	"<DeploymentTypeReference AuthoringScopeId=\"" SCOPE "\" LogicalName=\"DeploymentType_88888888-0000-0000-0000-000000000001\"/>"
	"</DeploymentTypeIntentExpression></DeploymentTypeRule></Supersedes></DeploymentType></AppMgmtDigest>";

#define NSCOPE "ScopeId_0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9"

static void check_app(const struct tsm_app *a)
{
	assert_string_equal(a->id, NSCOPE "/Application_11111111-2222-3333-4444-55555555aaaa");
	assert_int_equal(a->revision, 7);
	assert_string_equal(a->title, "Viewer & Co");
	assert_string_equal(a->publisher, "Contoso");
	assert_string_equal(a->software_version, "2.1");
	assert_int_equal(a->ndts, 2);
	/* Priority order is the Application's list, not the elements' order. */
	assert_string_equal(a->dts[0].id, NSCOPE "/DeploymentType_aaaaaaaa-0000-0000-0000-000000000002");
	assert_string_equal(a->dts[0].technology, "Script");
	assert_string_equal(a->dts[0].install_command, "run.cmd");
	assert_int_equal(a->dts[0].nsupersedes, 1);
	assert_string_equal(a->dts[0].supersedes[0].desired_state, "Prohibited");
	assert_string_equal(a->dts[1].id, NSCOPE "/" DT1);
	assert_int_equal(a->dts[1].revision, 4);
	assert_string_equal(a->dts[1].install_command, "msiexec /i viewer.msi");
	assert_int_equal(a->dts[1].ncontents, 1);
	assert_string_equal(a->dts[1].contents[0].id, "Content_cccccccc-0000-0000-0000-000000000001");
	assert_int_equal(a->dts[1].contents[0].version, 2);
	assert_int_equal(a->dts[1].contents[0].nfiles, 2);
	assert_int_equal(a->dts[1].contents[0].files[0].size, 123456789012ull);
	assert_int_equal(a->dts[1].ngroups, 1);
	assert_string_equal(a->dts[1].groups[0].name, "Runtimes");
	assert_string_equal(a->dts[1].groups[0].op, "Or");
	assert_int_equal(a->dts[1].groups[0].ndeps, 2);
	assert_string_equal(a->dts[1].groups[0].deps[1].dt,
			    NSCOPE "/DeploymentType_99999999-0000-0000-0000-000000000002");
	assert_string_equal(a->dts[1].groups[0].deps[1].desired_state, "Present");
}

static void test_digest(void **state)
{
	struct tsm_app a;

	(void)state;
	assert_int_equal(tsm_app_xml_parse_memory("digest", digest, strlen(digest), &a), 0);
	check_app(&a);
	tsm_app_clear(&a);
}

/* The same inside object.xml: SDMPackageXML's text, escaped once. */
static void test_object(void **state)
{
	size_t cap = 3 * sizeof(digest) + 256, len = 0;
	char *xml = malloc(cap);
	struct tsm_app a;

	(void)state;
	assert_non_null(xml);
	len += (size_t)snprintf(xml, cap, "<INSTANCE CLASSNAME=\"SMS_Application\"><PROPERTY NAME=\"SDMPackageXML\""
					  " TYPE=\"string\"><VALUE>");
	for (const char *p = digest; *p; p++) {
		const char *e = *p == '<' ? "&lt;" : *p == '>' ? "&gt;" : *p == '&' ? "&amp;" : NULL;

		if (e)
			len += (size_t)snprintf(xml + len, cap - len, "%s", e);
		else
			xml[len++] = *p;
	}
	len += (size_t)snprintf(xml + len, cap - len, "</VALUE></PROPERTY></INSTANCE>");
	assert_true(len < cap);
	assert_int_equal(tsm_app_xml_parse_memory("object.xml", xml, len, &a), 0);
	check_app(&a);
	tsm_app_clear(&a);
	free(xml);
}

/* @needle replaced by @with in the digest: refused with @rc. */
static void refused(const char *needle, const char *with, int rc)
{
	const char *at = strstr(digest, needle);
	size_t cap = sizeof(digest) + strlen(with) + 1;
	char *xml = malloc(cap);
	struct tsm_app a;

	assert_non_null(at);
	assert_non_null(xml);
	snprintf(xml, cap, "%.*s%s%s", (int)(at - digest), digest, with, at + strlen(needle));
	assert_int_equal(tsm_app_xml_parse_memory("hostile", xml, strlen(xml), &a), rc);
	free(xml);
}

static void test_refused(void **state)
{
	(void)state;
	refused("viewer.msi\" Size", "..\\\\evil.exe\" Size", -EINVAL);
	refused("viewer.msi\" Size", "a/b\" Size", -EINVAL);
	refused("setup.cmd", "viewer.msi", -EINVAL); /* twice in one content */
	refused("Application_99999999-0000-0000-0000-000000000001", APP, -ELOOP);
	refused("Application_88888888-0000-0000-0000-000000000001", APP, -ELOOP);
	refused("Content_CCCCCCCC-0000-0000-0000-000000000001", "Content_../../x", -EINVAL);
	refused("Size=\"5\"", "Size=\"-5\"", -EINVAL);
	refused("Version=\"7\"", "Version=\"99999999999\"", -EINVAL);
	refused("<?xml version=\"1.0\" encoding=\"utf-16\"?>", "<!DOCTYPE x [<!ENTITY e \"e\">]>", -EINVAL);
	/* A listed deployment type never described, one described but not listed. */
	refused("<DeploymentType AuthoringScopeId=\"" SCOPE "\" LogicalName=\"" DT1 "\" Version=\"1\"/>",
		"", -EINVAL);
	refused("<Title>Script</Title>", "<Title>a\001b</Title>", -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_digest),
		cmocka_unit_test(test_object),
		cmocka_unit_test(test_refused),
	};

	tsm_log_set_level(TSM_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
