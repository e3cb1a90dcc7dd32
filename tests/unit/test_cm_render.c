/* A media's SMS/data files from its definition (core/media/cmrender.c), read back with
 * cmread as the client would: each media type, with and without a password, both ciphers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "media/cmread.h"
#include "media/cmrender.h"
#include "test_cm_log.h"

static char *mps[] = { "http://mp1.contoso.com", "https://mp2.contoso.com" };
static char *variables[] = { "OSDComputerName=PC01" };

static const struct tsm_cm_site_values site = {
	.http_port = "80", .https_port = "443", .iis_ssl_state = "448",
	.site_signing_certificate = "3082ABCD", .x64_unknown_guid = "a1b2c3d4-0000-4000-8000-000000000064",
	.x86_unknown_guid = "a1b2c3d4-0000-4000-8000-000000000086",
};

static struct tsm_media_def def(enum tsm_media_type type)
{
	return (struct tsm_media_def){
		.name = "m1", .type = type, .site = "PS1", .boot_image = "PS100004",
		.management_points = mps, .nmanagement_points = 2, .mode = TSM_MODE_DYNAMIC,
		.variables = variables, .nvariables = 1, .unknown_computers = true,
		.media_guid = "{8ae6b618-77ec-46cb-b1b5-88f693e0b1c2}",
	};
}

static int render_and_read(const struct tsm_cm_render_in *in, const char *password,
			   struct tsm_cm_media_view *v)
{
	struct tsm_cm_rendered r;
	int rc;

	if ((rc = tsm_cm_render(in, &r)) < 0)
		return rc;
	rc = tsm_cm_media_open(r.bootstrap, r.bootstrap_len, r.variables, r.variables_len,
			       r.policy, r.policy_len, password, "m1", v);
	assert_int_equal(r.policy != NULL, in->def->type == TSM_MEDIA_STANDALONE ||
						    in->def->type == TSM_MEDIA_CAPTURE);
	tsm_cm_rendered_clear(&r);
	return rc;
}

static void test_guid(void **state)
{
	char g[37];
	(void)state;

	assert_int_equal(tsm_cm_media_guid("{8ae6b618-77ec-46cb-b1b5-88f693e0b1c2}", g), 0);
	assert_string_equal(g, "8AE6B618-77EC-46CB-B1B5-88F693E0B1C2");
	assert_int_equal(tsm_cm_media_guid("8AE6B618-77EC-46CB-B1B5-88F693E0B1C2", g), 0);
	assert_int_equal(tsm_cm_media_guid("{8ae6b618}", g), -EINVAL);
}

static void test_bootable(void **state)
{
	struct tsm_media_def d = def(TSM_MEDIA_BOOTABLE);
	struct tsm_cm_render_in in = { .def = &d, .site = &site, .cipher = TSM_CM_AES128 };
	struct tsm_cm_media_view v;
	(void)state;

	assert_int_equal(render_and_read(&in, NULL, &v), 0);
	assert_string_equal(v.bootstrap.media_type, "BootMedia");
	assert_int_equal(v.vars_cipher, TSM_CM_AES128);
	assert_string_equal(tsm_cm_vars_get(&v.vars, "_SMSMediaGuid"),
			    "8AE6B618-77EC-46CB-B1B5-88F693E0B1C2");
	assert_string_equal(tsm_cm_vars_get(&v.vars, "SMSTSLocationMPs"),
			    "http://mp1.contoso.com*https://mp2.contoso.com");
	assert_null(tsm_cm_vars_get(&v.vars, "SMSTSMP"));
	assert_string_equal(tsm_cm_vars_get(&v.vars, "_SMSTSHTTPPort"), "80");
	assert_string_equal(tsm_cm_vars_get(&v.vars, "_SMSTSIISSSLState"), "448");
	assert_string_equal(tsm_cm_vars_get(&v.vars, "_SMSTSSiteSigningCertificate"), "3082ABCD");
	assert_string_equal(tsm_cm_vars_get(&v.vars, "_SMSTSx86UnknownMachineGUID"),
			    site.x86_unknown_guid);
	assert_string_equal(tsm_cm_vars_get(&v.vars, "_SMSTSBootMediaPackageID"), "PS100004");
	assert_string_equal(tsm_cm_vars_get(&v.vars, "_SMSTSLaunchMode"), "DVD");
	assert_string_equal(tsm_cm_vars_get(&v.vars, "OSDComputerName"), "PC01");
	assert_null(tsm_cm_vars_get(&v.vars, "_SMSTSStandAloneMedia"));
	tsm_cm_media_view_clear(&v);

	/* Site-based, on USB, with a password. */
	d.mode = TSM_MODE_SITE_BASED;
	d.form = TSM_MEDIA_USB;
	in.password = "pineapple dishwasher orbit galaxy";
	in.cipher = TSM_CM_AES256;
	assert_int_equal(render_and_read(&in, in.password, &v), 0);
	assert_true(v.bootstrap.password_required);
	assert_string_equal(tsm_cm_vars_get(&v.vars, "SMSTSMP"), "http://mp1.contoso.com");
	assert_null(tsm_cm_vars_get(&v.vars, "SMSTSLocationMPs"));
	assert_string_equal(tsm_cm_vars_get(&v.vars, "_SMSTSLaunchMode"), "UFD+FORMAT");
	tsm_cm_media_view_clear(&v);
}

static void test_site_lacks(void **state)
{
	struct tsm_media_def d = def(TSM_MEDIA_PRESTAGED);
	struct tsm_cm_site_values partial = { .http_port = "80", .iis_ssl_state = "0" };
	struct tsm_cm_render_in in = { .def = &d, .site = &partial };
	struct tsm_cm_rendered r;
	(void)state;

	assert_int_equal(tsm_cm_render(&in, &r), -EINVAL);
	assert_message("media m1: site PS1 lacks what prestaged media carry");
	assert_message("--https-port");
	assert_message("--signing-certificate");
	assert_message("--x64-unknown-guid");
	assert_message("--x86-unknown-guid");
	if (strstr(messages, "--http-port\n") || strstr(messages, "--iis-ssl-state"))
		fail_msg("a value the site has is named as missing: %s", messages);
	/* Without unknown-computer support the GUIDs are not needed. */
	messages[0] = '\0';
	d.unknown_computers = false;
	in.site = NULL;
	assert_int_equal(tsm_cm_render(&in, &r), -EINVAL);
	assert_null(strstr(messages, "unknown-guid"));
}

static void test_standalone(void **state)
{
	static const struct tsm_cm_policy_package pkgs[] = { { "PS100012", "Windows 11", "2" } };
	struct tsm_ts_info ts = { .id = "PS100020", .name = "Deploy", .version = 3,
				  .sequence_xml = "<sequence version=\"3.10\"/>" };
	struct tsm_media_def d = def(TSM_MEDIA_STANDALONE);
	struct tsm_cm_render_in in = { .def = &d, .ts = &ts, .packages = pkgs, .npackages = 1 };
	struct tsm_cm_media_view v;
	const struct tsm_cm_instance *t;
	(void)state;

	d.nmanagement_points = 0;
	d.valid_until = 1893456000; /* 2030-01-01 */
	assert_int_equal(render_and_read(&in, NULL, &v), 0);
	assert_string_equal(v.bootstrap.media_type, "FullMedia");
	assert_false(v.bootstrap.password_required);
	assert_string_equal(tsm_cm_vars_get(&v.vars, "_SMSTSStandAloneMedia"), "true");
	assert_null(tsm_cm_vars_get(&v.vars, "_SMSTSHTTPPort"));
	assert_null(tsm_cm_vars_get(&v.vars, "_SMSTSBootMediaPackageID"));
	assert_string_equal(tsm_cm_vars_get(&v.vars, "_SMSTSMediaValidUntil"), "2030-01-01T00:00:00Z");
	t = tsm_cm_policy_find(&v.policy, "CCM_TaskSequence");
	assert_non_null(t);
	assert_string_equal(tsm_cm_instance_get(t, "PKG_PackageID"), "PS100020");
	assert_string_equal(tsm_cm_instance_get(t, "ADV_AdvertisementID"), "PS120020");
	assert_string_equal(tsm_cm_instance_get(t, "PKG_SourceVersion"), "3");
	assert_string_equal(tsm_cm_instance_get(t, "TS_Sequence"), "<sequence version=\"3.10\"/>");
	assert_string_equal(tsm_cm_instance_get(&v.policy.inst[1], "PKG_PackageID"), "PS100012");
	tsm_cm_media_view_clear(&v);
}

static void test_capture(void **state)
{
	struct tsm_media_def d = def(TSM_MEDIA_CAPTURE);
	struct tsm_cm_render_in in = { .def = &d };
	struct tsm_cm_media_view v;
	(void)state;

	d.nvariables = 0;
	d.unknown_computers = false;
	assert_int_equal(render_and_read(&in, NULL, &v), 0);
	assert_string_equal(v.bootstrap.media_type, "CaptureMedia");
	assert_non_null(strstr(tsm_cm_instance_get(tsm_cm_policy_find(&v.policy, "CCM_TaskSequence"),
						   "TS_Sequence"), "CaptureSystemImageAction"));
	tsm_cm_media_view_clear(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_guid, setup),
		cmocka_unit_test_setup(test_bootable, setup),
		cmocka_unit_test_setup(test_site_lacks, setup),
		cmocka_unit_test_setup(test_standalone, setup),
		cmocka_unit_test_setup(test_capture, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
