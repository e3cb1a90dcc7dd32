/* Variables.dat's <MediaVarList> (core/media/cmvars.c): the document Configuration Manager's
 * client reads, written and read back, the variables a media is built from, and hostile
 * documents.  The encrypted round trip goes through cmcrypt; the judge reads our files in
 * tests/integration/cm_files.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/cmvars.h"
#include "test_cm_log.h"

#define GUID "8AE6B618-77EC-46CB-B1B5-88F693E0B1C2"

static void test_document_shape(void **state)
{
	struct tsm_cm_vars vars = { 0 };
	char *xml = NULL;
	size_t len = 0;
	(void)state;

	assert_int_equal(tsm_cm_vars_add(&vars, "_SMSMediaGuid", GUID), 0);
	assert_int_equal(tsm_cm_vars_add(&vars, "_SMSTSSiteCode", "PS1"), 0);
	assert_int_equal(tsm_cm_vars_add(&vars, "_SMSTSSiteCode", "XYZ"), -EEXIST);
	assert_int_equal(tsm_cm_vars_to_xml(&vars, &xml, &len), 0);
	assert_string_equal(xml, "<?xml version=\"1.0\"?><MediaVarList Version=\"4.00.5345.0000\">"
				 "<var name=\"_SMSMediaGuid\"><![CDATA[" GUID "]]></var>"
				 "<var name=\"_SMSTSSiteCode\"><![CDATA[PS1]]></var></MediaVarList>");
	assert_int_equal(len, strlen(xml));
	free(xml);
	tsm_cm_vars_clear(&vars);
	assert_int_equal(vars.n, 0);
}

static void test_values_round_trip(void **state)
{
	static const char *const values[] = {
		"a]]>b", "<&'\">", "caf\xc3\xa9 \xed\x95\x9c \xf0\x9f\x98\x80", "", "line\r\nbreak\ttab",
		"  spaces  ",
	};
	struct tsm_cm_vars vars = { 0 }, back = { 0 };
	uint8_t *file = NULL;
	size_t len = 0;
	char name[16];
	(void)state;

	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		snprintf(name, sizeof(name), "V%zu", i);
		assert_int_equal(tsm_cm_vars_add(&vars, name, values[i]), 0);
	}
	for (int c = 0; c < 2; c++) {
		enum tsm_cm_cipher cipher = c ? TSM_CM_AES128 : TSM_CM_AES256, got;
		const char *pw = c ? "a password" : NULL;

		assert_int_equal(tsm_cm_vars_seal(&vars, pw, cipher, &file, &len), 0);
		assert_int_equal(tsm_cm_vars_open(file, len, pw, "Variables.dat", &back, &got), 0);
		assert_int_equal(got, cipher);
		assert_int_equal(back.n, vars.n);
		for (size_t i = 0; i < vars.n; i++) {
			assert_string_equal(back.v[i].name, vars.v[i].name);
			assert_string_equal(back.v[i].value, vars.v[i].value);
		}
		tsm_cm_vars_clear(&back);
		/* No password opens with the fixed key, a password only with itself. */
		assert_int_equal(tsm_cm_vars_open(file, len, pw ? NULL : "x", "v", &back, NULL),
				 -EACCES);
		free(file);
	}
	tsm_cm_vars_clear(&vars);
}

static void test_bad_values(void **state)
{
	struct tsm_cm_vars vars = { 0 };
	(void)state;

	assert_int_equal(tsm_cm_vars_add(&vars, "A", "bell\a"), -EINVAL);
	assert_message("media variable A: its value holds control character 0x7");
	assert_int_equal(tsm_cm_vars_add(&vars, "B", "\xc3("), -EINVAL);
	assert_message("media variable B: its value is not UTF-8 text");
	assert_int_equal(tsm_cm_vars_add(&vars, "", "x"), -EINVAL);
	assert_int_equal(vars.n, 0);
}

static int parse(const char *xml, struct tsm_cm_vars *vars)
{
	messages[0] = '\0';
	return tsm_cm_vars_from_xml(xml, strlen(xml), "SMS/data/Variables.dat", vars);
}

static void test_hostile_documents(void **state)
{
	struct tsm_cm_vars vars = { 0 };
	(void)state;

	assert_int_equal(parse("<MediaVarList><var name=\"a\">1</var>", &vars), -EINVAL);
	assert_message("SMS/data/Variables.dat: the media variables: not well-formed XML");
	assert_int_equal(parse("<VarList/>", &vars), -EINVAL);
	assert_message("root element <VarList>, want <MediaVarList>");
	assert_int_equal(parse("<MediaVarList><v name=\"a\">1</v></MediaVarList>", &vars), -EINVAL);
	assert_message("<v> in <MediaVarList>, want <var name=\"...\">");
	assert_int_equal(parse("<MediaVarList><var>1</var></MediaVarList>", &vars), -EINVAL);
	assert_int_equal(parse("<MediaVarList><var name=\"a\">1</var><var name=\"a\">2</var>"
			       "</MediaVarList>", &vars), -EINVAL);
	assert_message("variable a is there twice");
	/* Entity expansion ("billion laughs") never starts: no document type at all. */
	assert_int_equal(parse("<!DOCTYPE m [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;\">]>"
			       "<MediaVarList><var name=\"x\">&b;</var></MediaVarList>", &vars),
			 -EINVAL);
	assert_message("has a <!DOCTYPE>");
	assert_int_equal(parse("<!DOCTYPE m SYSTEM \"http://example.invalid/x.dtd\">"
			       "<MediaVarList/>", &vars), -EINVAL);
	assert_int_equal(vars.n, 0);
	/* What a foreign writer may do and the client accepts: an encoding declaration, white
	 * space, comments, escaped text instead of CDATA. */
	assert_int_equal(parse("<?xml version=\"1.0\" encoding=\"utf-16\"?>\r\n<MediaVarList "
			       "Version=\"4.00.5345.0000\">\r\n <!-- c -->\r\n <var name=\"a\">x&amp;y"
			       "</var>\r\n</MediaVarList>", &vars), 0);
	assert_int_equal(vars.n, 1);
	assert_string_equal(tsm_cm_vars_get(&vars, "a"), "x&y");
	tsm_cm_vars_clear(&vars);
}

static void test_media_variables(void **state)
{
	static const uint8_t pfx[] = { 0x30, 0x82, 0x0a, 0xff };
	static const char *const mps[] = { "http://mp1.contoso.com", "https://mp2.contoso.com" };
	static const char *const extra[] = { "OSDComputerName=PC-01", "Empty=" };
	struct tsm_cm_media_vars in = {
		.media_guid = GUID,
		.pfx = pfx,
		.pfx_len = sizeof(pfx),
		.media_type = "BootMedia",
		.launch_mode = "CD",
		.site_code = "PS1",
		.location_mps = mps,
		.nlocation_mps = 2,
		.http_port = "80",
		.https_port = "443",
		.iis_ssl_state = "448",
		.x64_unknown_guid = "a1b2c3d4-0000-4000-8000-000000000064",
		.assign_users_mode = "Auto",
		.support_unknown = true,
		.extra = extra,
		.nextra = 2,
	};
	struct tsm_cm_vars vars = { 0 };
	(void)state;

	assert_int_equal(tsm_cm_vars_build(&in, &vars), 0);
	assert_string_equal(vars.v[0].name, "_SMSMediaGuid");
	assert_string_equal(tsm_cm_vars_get(&vars, "_SMSMediaGuid"), GUID);
	assert_string_equal(tsm_cm_vars_get(&vars, "_SMSTSMediaPFX"), "30820AFF");
	assert_string_equal(tsm_cm_vars_get(&vars, "SMSTSLocationMPs"),
			    "http://mp1.contoso.com*https://mp2.contoso.com");
	assert_null(tsm_cm_vars_get(&vars, "SMSTSMP"));
	assert_string_equal(tsm_cm_vars_get(&vars, "_SMSTSSiteCode"), "PS1");
	assert_string_equal(tsm_cm_vars_get(&vars, "_SMSTSIISSSLState"), "448");
	assert_string_equal(tsm_cm_vars_get(&vars, "_SMSTSLaunchMode"), "CD");
	assert_string_equal(tsm_cm_vars_get(&vars, "_SMSTSSupportUnknownMachines"), "true");
	assert_string_equal(tsm_cm_vars_get(&vars, "OSDComputerName"), "PC-01");
	assert_string_equal(tsm_cm_vars_get(&vars, "Empty"), "");
	assert_null(tsm_cm_vars_get(&vars, "_SMSTSStandAloneMedia"));
	/* Names Configuration Manager does not use are not written. */
	assert_null(tsm_cm_vars_get(&vars, "_SMSTSMediaPFXPassword"));
	assert_null(tsm_cm_vars_get(&vars, "_SMSTSMediaMode"));
	tsm_cm_vars_clear(&vars);

	/* Site-based and stand-alone. */
	in.location_mps = NULL;
	in.nlocation_mps = 0;
	in.mp = "http://mp1.contoso.com";
	in.standalone = true;
	assert_int_equal(tsm_cm_vars_build(&in, &vars), 0);
	assert_string_equal(tsm_cm_vars_get(&vars, "SMSTSMP"), "http://mp1.contoso.com");
	assert_null(tsm_cm_vars_get(&vars, "SMSTSLocationMPs"));
	assert_string_equal(tsm_cm_vars_get(&vars, "_SMSTSStandAloneMedia"), "true");
	tsm_cm_vars_clear(&vars);
}

static void test_media_variables_refused(void **state)
{
	static const char *const reserved[] = { "_SMSTSMediaPFX=0000" };
	static const char *const twice[] = { "A=1", "A=2" };
	static const char *const no_eq[] = { "JUSTANAME" };
	struct tsm_cm_media_vars in = { .media_guid = "{" GUID "}" };
	struct tsm_cm_vars vars = { 0 };
	(void)state;

	assert_int_equal(tsm_cm_vars_build(&in, &vars), -EINVAL);
	assert_message("want 8-4-4-4-12 hex digits without braces");
	in.media_guid = GUID;
	in.extra = reserved;
	in.nextra = 1;
	assert_int_equal(tsm_cm_vars_build(&in, &vars), -EEXIST);
	assert_message("media variable _SMSTSMediaPFX: Configuration Manager sets that name");
	in.extra = twice;
	in.nextra = 2;
	assert_int_equal(tsm_cm_vars_build(&in, &vars), -EEXIST);
	assert_message("media variable A is given twice");
	in.extra = no_eq;
	in.nextra = 1;
	assert_int_equal(tsm_cm_vars_build(&in, &vars), -EINVAL);
	assert_message("want NAME=VALUE");
	assert_int_equal(vars.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_document_shape, setup),
		cmocka_unit_test_setup(test_values_round_trip, setup),
		cmocka_unit_test_setup(test_bad_values, setup),
		cmocka_unit_test_setup(test_hostile_documents, setup),
		cmocka_unit_test_setup(test_media_variables, setup),
		cmocka_unit_test_setup(test_media_variables_refused, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
