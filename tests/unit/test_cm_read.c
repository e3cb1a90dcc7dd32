/* Reading a media's SMS/data files as the client does (core/media/cmread.c): the bootstrap
 * decides the keys, the policy opens with the password or the GUID, secrets are masked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media/cmread.h"
#include "test_cm_log.h"

#define GUID "8AE6B618-77EC-46CB-B1B5-88F693E0B1C2"
#define SEQ "<sequence version=\"3.10\"><step name=\"Join\" type=\"SMS_TaskSequence_JoinDomainWorkgroupAction\">" \
	    "<defaultVarList><variable name=\"OSDJoinAccount\" property=\"DomainUsername\">CONTOSO\\join</variable>" \
	    "<variable name=\"OSDJoinPassword\" property=\"DomainPassword\">Sup3r!Secret</variable>" \
	    "</defaultVarList><action DomainPassword=\"Sup3r!Secret\">osdjoin.exe</action></step></sequence>"

struct files {
	char *boot;
	size_t boot_len;
	uint8_t *vars, *policy;
	size_t vars_len, policy_len;
};

static void make(struct files *f, const char *password)
{
	static const char *const extra[] = { "OSDComputerName=PC01", "OSDLocalAdminPassword=P@ss" };
	struct tsm_cm_bootstrap b = { .media_type = "FullMedia", .password_required = password };
	struct tsm_cm_media_vars in = { .media_guid = GUID, .media_type = "FullMedia",
					.standalone = true, .extra = extra, .nextra = 2 };
	struct tsm_cm_media_policy pol = { .adv_id = "PS120000", .ts_id = "PS100020",
					   .ts_name = "Deploy", .sequence_xml = SEQ };
	struct tsm_cm_vars vars = { 0 };

	assert_int_equal(tsm_cm_bootstrap_render(&b, &f->boot, &f->boot_len), 0);
	assert_int_equal(tsm_cm_vars_build(&in, &vars), 0);
	assert_int_equal(tsm_cm_vars_seal(&vars, password, TSM_CM_AES256, &f->vars, &f->vars_len), 0);
	tsm_cm_vars_clear(&vars);
	assert_int_equal(tsm_cm_policy_seal(&pol, password ? password : GUID, TSM_CM_AES128,
					    &f->policy, &f->policy_len), 0);
}

static void files_free(struct files *f)
{
	free(f->boot);
	free(f->vars);
	free(f->policy);
}

static int open_files(const struct files *f, const char *password, struct tsm_cm_media_view *v)
{
	messages[0] = '\0';
	return tsm_cm_media_open(f->boot, f->boot_len, f->vars, f->vars_len, f->policy,
				 f->policy_len, password, "sa.iso", v);
}

static void test_no_password(void **state)
{
	struct files f = { 0 };
	struct tsm_cm_media_view v;
	const struct tsm_cm_instance *ts;
	(void)state;

	make(&f, NULL);
	assert_int_equal(open_files(&f, NULL, &v), 0);
	assert_string_equal(v.bootstrap.media_type, "FullMedia");
	assert_false(v.bootstrap.password_required);
	assert_string_equal(tsm_cm_vars_get(&v.vars, "OSDComputerName"), "PC01");
	assert_int_equal(v.vars_cipher, TSM_CM_AES256);
	assert_true(v.has_policy);
	assert_int_equal(v.policy_cipher, TSM_CM_AES128);
	ts = tsm_cm_policy_find(&v.policy, "CCM_TaskSequence");
	assert_non_null(ts);
	assert_string_equal(tsm_cm_instance_get(ts, "TS_Sequence"), SEQ);
	assert_false(v.has_cert);
	tsm_cm_media_view_clear(&v);
	/* A password for a media without one: read anyway, with a warning. */
	assert_int_equal(open_files(&f, "unneeded", &v), 0);
	assert_message("sa.iso: the media has no password (PasswordRequired=false)");
	tsm_cm_media_view_clear(&v);
	files_free(&f);
}

static void test_password(void **state)
{
	struct files f = { 0 };
	struct tsm_cm_media_view v;
	(void)state;

	make(&f, "pineapple dishwasher orbit galaxy");
	assert_int_equal(open_files(&f, NULL, &v), -EACCES);
	assert_message("sa.iso: the media is protected by a password");
	assert_int_equal(open_files(&f, "pineapple dishwasher orbit galaxies", &v), -EACCES);
	assert_message("sa.iso: SMS/data/Variables.dat: the password does not open it");
	assert_int_equal(open_files(&f, "pineapple dishwasher orbit galaxy", &v), 0);
	assert_true(v.bootstrap.password_required);
	assert_string_equal(tsm_cm_vars_get(&v.vars, "_SMSTSStandAloneMedia"), "true");
	tsm_cm_media_view_clear(&v);
	/* A tampered bootstrap cannot make the fixed key open protected files. */
	f.boot[strstr(f.boot, "true") - f.boot] = 'f';
	memcpy(strstr(f.boot, "frue"), "false\r\nX=", 9);
	assert_int_equal(open_files(&f, NULL, &v), -EACCES);
	assert_message("Variables.dat: the password does not open it");
	files_free(&f);
}

static void test_secrets(void **state)
{
	char *masked = NULL;
	(void)state;

	assert_true(tsm_cm_is_secret_name("_SMSTSMediaPFX"));
	assert_true(tsm_cm_is_secret_name("OSDJoinPassword"));
	assert_true(tsm_cm_is_secret_name("OSDLocalAdminPassword"));
	assert_true(tsm_cm_is_secret_name("DomainPassword"));
	assert_false(tsm_cm_is_secret_name("OSDJoinAccount"));
	assert_false(tsm_cm_is_secret_name("_SMSMediaGuid"));
	assert_int_equal(tsm_cm_mask_sequence(SEQ, &masked), 0);
	assert_null(strstr(masked, "Sup3r!Secret"));
	assert_non_null(strstr(masked, "CONTOSO\\join"));
	assert_non_null(strstr(masked, "name=\"OSDJoinPassword\" property=\"DomainPassword\">********<"));
	assert_non_null(strstr(masked, "DomainPassword=\"********\""));
	free(masked);
	assert_int_equal(tsm_cm_mask_sequence("<sequence>", &masked), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_no_password, setup),
		cmocka_unit_test_setup(test_password, setup),
		cmocka_unit_test_setup(test_secrets, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
