/* Policy.xml of stand-alone and capture media (core/media/cmpolicy.c): the task sequence
 * instance first, one instance per package, properties read by name; hostile policies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "media/cmpolicy.h"
#include "test_cm_log.h"

#define SEQ "<sequence version=\"3.10\"><step type=\"SMS_TaskSequence_RunCommandLineAction\"" \
	    " name=\"Echo ]]> here\"><action>cmd /c echo &amp;</action></step></sequence>"

static const struct tsm_cm_policy_package packages[] = {
	{ "PS100012", "Windows 11 23H2", "3" },
	{ "PS100013", "Drivers <Dell> & Co", NULL },
};

static struct tsm_cm_media_policy policy(const char *sequence)
{
	return (struct tsm_cm_media_policy){
		.site_code = "PS1",
		.adv_id = "PS120000",
		.ts_id = "PS100020",
		.ts_name = "Deploy Windows 11",
		.ts_version = "2",
		.boot_image_id = "PS100004",
		.sequence_xml = sequence,
		.packages = packages,
		.npackages = 2,
	};
}

static void test_round_trip(void **state)
{
	struct tsm_cm_media_policy in = policy(SEQ);
	struct tsm_cm_policy_doc doc = { 0 };
	const struct tsm_cm_instance *ts;
	enum tsm_cm_cipher cipher;
	uint8_t *file = NULL;
	size_t len = 0;
	(void)state;

	/* Without a media password the policy is encrypted under the media GUID. */
	assert_int_equal(tsm_cm_policy_seal(&in, "8AE6B618-77EC-46CB-B1B5-88F693E0B1C2",
					    TSM_CM_AES128, &file, &len), 0);
	assert_int_equal(tsm_cm_policy_open(file, len, "8AE6B618-77EC-46CB-B1B5-88F693E0B1C2",
					    "SMS/data/Policy.xml", &doc, &cipher), 0);
	assert_int_equal(cipher, TSM_CM_AES128);
	assert_int_equal(doc.n, 3);
	assert_string_equal(doc.inst[0].class_name, "CCM_TaskSequence");
	ts = tsm_cm_policy_find(&doc, "CCM_TaskSequence");
	assert_ptr_equal(ts, &doc.inst[0]);
	assert_string_equal(tsm_cm_instance_get(ts, "PKG_Name"), "Deploy Windows 11");
	assert_string_equal(tsm_cm_instance_get(ts, "PKG_PackageID"), "PS100020");
	assert_string_equal(tsm_cm_instance_get(ts, "ADV_AdvertisementID"), "PS120000");
	assert_string_equal(tsm_cm_instance_get(ts, "TS_BootImageID"), "PS100004");
	assert_string_equal(tsm_cm_instance_get(ts, "TS_Sequence"), SEQ);
	assert_string_equal(doc.inst[1].class_name, "CCM_SoftwareDistribution");
	assert_string_equal(tsm_cm_instance_get(&doc.inst[1], "PKG_PackageID"), "PS100012");
	assert_string_equal(tsm_cm_instance_get(&doc.inst[1], "PKG_SourceVersion"), "3");
	assert_string_equal(tsm_cm_instance_get(&doc.inst[2], "PKG_Name"), "Drivers <Dell> & Co");
	assert_null(tsm_cm_instance_get(&doc.inst[2], "PKG_SourceVersion"));
	tsm_cm_policy_doc_clear(&doc);
	assert_int_equal(tsm_cm_policy_open(file, len, "8AE6B618-77EC-46CB-B1B5-88F693E0B1C3",
					    "SMS/data/Policy.xml", &doc, NULL), -EACCES);
	free(file);
}

static void test_document_shape(void **state)
{
	struct tsm_cm_media_policy in = policy("\xef\xbb\xbf\r\n<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n" SEQ);
	char *xml = NULL, *seq;
	size_t len = 0;
	(void)state;

	assert_int_equal(tsm_cm_policy_build(&in, &xml, &len), 0);
	assert_true(strncmp(xml, "<?xml version=\"1.0\"?><Policy PolicyID=\"PS120000\"", 48) == 0);
	assert_non_null(strstr(xml, "<PolicyAction PolicyActionType=\"WMI-XML\"><instance class="
				    "\"CCM_TaskSequence\"><property name=\"ADV_AdvertisementID\" "
				    "type=\"8\"><value><![CDATA[PS120000]]></value></property>"));
	/* TS_Sequence starts with "<sequence" (PXEThief's test for a plain sequence); it holds
	 * "]]>" so it goes as escaped text. */
	seq = strstr(xml, "<property name=\"TS_Sequence\" type=\"8\"><value>");
	assert_non_null(seq);
	seq += strlen("<property name=\"TS_Sequence\" type=\"8\"><value>");
	assert_true(strncmp(seq, "&lt;sequence version=", 20) == 0);
	free(xml);
}

static void test_refused(void **state)
{
	struct tsm_cm_media_policy in = policy("<sequenceX/>");
	char *xml = NULL;
	size_t len = 0;
	(void)state;

	assert_int_equal(tsm_cm_policy_build(&in, &xml, &len), -EINVAL);
	assert_message("task sequence PS100020 is not a <sequence> document");
	in = policy("<?xml version=\"1.0\" <sequence/>");
	assert_int_equal(tsm_cm_policy_build(&in, &xml, &len), -EINVAL);
	in = policy("<sequence ");
	assert_int_equal(tsm_cm_policy_build(&in, &xml, &len), -EINVAL);
	in = policy(SEQ);
	in.adv_id = NULL;
	assert_int_equal(tsm_cm_policy_build(&in, &xml, &len), -EINVAL);
	assert_message("advertisement ID are needed");
	in = policy(SEQ);
	in.ts_name = "bell\a";
	assert_int_equal(tsm_cm_policy_build(&in, &xml, &len), -EINVAL);
	assert_message("policy property PKG_Name: its value holds control character");
	assert_null(xml);
}

static int parse(const char *xml, struct tsm_cm_policy_doc *doc)
{
	messages[0] = '\0';
	return tsm_cm_policy_from_xml(xml, strlen(xml), "Policy.xml", doc);
}

static void test_foreign_and_hostile(void **state)
{
	struct tsm_cm_policy_doc doc = { 0 };
	(void)state;

	/* Another writer's shape: instances deeper, a property without <value>. */
	assert_int_equal(parse("<Policies><Policy><PolicyRule><PolicyAction><instance class=\"A\">"
			       "<property name=\"p\"><value>1</value></property><property name=\"q\">"
			       "2</property></instance></PolicyAction></PolicyRule></Policy>"
			       "<instance class=\"B\"/></Policies>", &doc), 0);
	assert_int_equal(doc.n, 2);
	assert_string_equal(tsm_cm_instance_get(&doc.inst[0], "p"), "1");
	assert_string_equal(tsm_cm_instance_get(&doc.inst[0], "q"), "2");
	assert_null(tsm_cm_policy_find(&doc, "C"));
	assert_int_equal(doc.inst[1].nprops, 0);
	tsm_cm_policy_doc_clear(&doc);

	assert_int_equal(parse("<Policy><PolicyRule/></Policy>", &doc), -EINVAL);
	assert_message("Policy.xml: no policy <instance class=\"...\"> in the media policy");
	assert_int_equal(parse("<Policy><instance class=\"A\">", &doc), -EINVAL);
	assert_message("Policy.xml: the media policy: not well-formed XML");
	assert_int_equal(parse("<!DOCTYPE p [<!ENTITY a \"x\">]><Policy><instance class=\"A\">"
			       "<property name=\"p\">&a;</property></instance></Policy>", &doc),
			 -EINVAL);
	assert_message("has a <!DOCTYPE>");
	assert_int_equal(doc.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_round_trip, setup),
		cmocka_unit_test_setup(test_document_shape, setup),
		cmocka_unit_test_setup(test_refused, setup),
		cmocka_unit_test_setup(test_foreign_and_hostile, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
