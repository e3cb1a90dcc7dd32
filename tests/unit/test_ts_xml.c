/* Task sequence XML: the six real exports of ../shared/fixtures/task-sequences
 * (facts from its SOURCES.md) and hostile input.  The fixtures are read in
 * place ($TSMEDIA_SHARED_DIR, set by meson); when they are absent the fixture
 * tests skip loudly and the program exits 77. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "import/ts_xml.h"
#include "tsmedia/log.h"
#include "tsmedia/ts.h"

static char fixture_dir[4096];
static bool have_fixtures;

#define F1 "console-object_win10-ipu_drfiles_PS10000E.xml"
#define F2 "console-object_hpia-drivers_utf8-emdash_garytown_MEM00169.xml"
#define F3 "console-object_kb5025885-remediation_no-reflist_garytown_2CM00010.xml"
#define F4 "sequence_win10-build-capture_cmhub.xml"
#define F5 "sequence_ipu-citrix-vda_no-reflist_utf8-acute_cmhub.xml"
#define F6 "mdt-template_autopilot-existing-devices_drfiles.xml"

static void fixture_path(const char *name, char *out, size_t n)
{
	snprintf(out, n, "%s/%s", fixture_dir, name);
}

#define NEED_FIXTURES()                                                                     \
	do {                                                                                \
		if (!have_fixtures) {                                                       \
			print_message("SKIP: task sequence fixtures not found in '%s'\n",   \
				      fixture_dir);                                         \
			skip();                                                             \
		}                                                                           \
	} while (0)

static void parse_fixture(const char *name, struct tsm_ts_doc *doc)
{
	char path[4200];

	fixture_path(name, path, sizeof(path));
	assert_int_equal(tsm_ts_xml_parse_file(path, doc), 0);
}

static char *read_all(const char *name, size_t *len_ret)
{
	char path[4200];
	FILE *f;
	char *buf;
	long len;

	fixture_path(name, path, sizeof(path));
	f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	len = ftell(f);
	rewind(f);
	buf = malloc((size_t)len + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)len, f), (size_t)len);
	buf[len] = '\0';
	fclose(f);
	*len_ret = (size_t)len;
	return buf;
}

static const struct tsm_ts_step *find_step(const struct tsm_ts_doc *doc, const char *name)
{
	for (size_t i = 0; i < doc->nsteps; i++)
		if (strcmp(doc->steps[i].name, name) == 0)
			return &doc->steps[i];
	fail_msg("no step named '%s'", name);
	return NULL;
}

static bool step_has(const struct tsm_ts_step *s, const char *id)
{
	for (size_t i = 0; i < s->npackages; i++)
		if (strcmp(s->packages[i], id) == 0)
			return true;
	return false;
}

static size_t count_disabled(const struct tsm_ts_doc *doc)
{
	size_t n = 0;

	for (size_t i = 0; i < doc->nsteps; i++)
		n += doc->steps[i].disabled;
	return n;
}

static size_t count_top_level(const struct tsm_ts_doc *doc)
{
	size_t n = 0;

	for (size_t i = 0; i < doc->nsteps; i++)
		n += doc->steps[i].group_path[0] == '\0' && doc->steps[i].group == -1;
	return n;
}

static size_t count_conditions_with(const struct tsm_ts_doc *doc, const char *needle)
{
	size_t n = 0;

	for (size_t i = 0; i < doc->nsteps; i++)
		n += doc->steps[i].condition && strstr(doc->steps[i].condition, needle);
	for (size_t i = 0; i < doc->ngroups; i++)
		n += doc->groups[i].condition && strstr(doc->groups[i].condition, needle);
	return n;
}

static size_t occurrences(const char *hay, size_t len, const char *needle)
{
	size_t n = 0, nl = strlen(needle);

	for (const char *p = hay; (p = memmem(p, len - (size_t)(p - hay), needle, nl)); p += nl)
		n++;
	return n;
}

/* The info view of a parsed doc (steps and groups borrowed) with its summary. */
static void summarize(struct tsm_ts_doc *doc, struct tsm_ts_info *info)
{
	memset(info, 0, sizeof(*info));
	info->steps = doc->steps;
	info->nsteps = doc->nsteps;
	info->groups = doc->groups;
	info->ngroups = doc->ngroups;
	assert_int_equal(tsm_ts_summarize(info, doc->ref_packages, doc->nref_packages,
					  doc->ref_applications, doc->nref_applications), 0);
}

static void summary_free(struct tsm_ts_info *info)
{
	info->steps = NULL;
	info->nsteps = 0;
	info->groups = NULL;
	info->ngroups = 0;
	tsm_ts_info_clear(info);
}

static void assert_strv(char *const *v, size_t n, const char *const *want, size_t nwant)
{
	assert_int_equal(n, nwant);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(v[i], want[i]);
}

/* ---- file 1 ------------------------------------------------------------ */

static void test_file1_console_export(void **state)
{
	static const char *const refs[] = { "PS10005C", "PS100241", "PS10024D" };
	struct tsm_ts_doc doc;
	struct tsm_ts_info info;
	const struct tsm_ts_step *s;

	(void)state;
	NEED_FIXTURES();
	parse_fixture(F1, &doc);
	assert_int_equal(doc.dialect, TSM_TS_DIALECT_OBJECT);
	assert_string_equal(doc.object_id, "PS10000E");
	assert_string_equal(doc.object_name, "Windows 10 Enterprise x64 v1607 Upgrade");
	assert_string_equal(doc.object_boot_image, "");
	assert_string_equal(doc.sequence_version, "3.10");
	assert_strv(doc.ref_packages, doc.nref_packages, refs, 3);
	assert_int_equal(doc.ngroups, 5);
	assert_int_equal(doc.max_depth, 2);
	assert_int_equal(doc.nsteps, 9);
	assert_int_equal(doc.nconditions, 6);
	/* The upgrade package comes through a variable, not the command line. */
	s = find_step(&doc, "Upgrade Operating System");
	assert_string_equal(s->type, "SMS_TaskSequence_UpgradeOperatingSystemAction");
	assert_true(step_has(s, "PS10005C"));
	assert_int_equal(s->npackages, 1);
	s = find_step(&doc, "Dell Latitude E7270");
	assert_string_equal(s->type, "SMS_TaskSequence_DownloadPackageContentAction");
	assert_string_equal(s->group_path, "Upgrade the Operating System/Download Drivers");
	assert_true(step_has(s, "PS100241"));
	assert_int_equal(s->npackages, 1);
	assert_true(step_has(find_step(&doc, "HP EliteBook 8560w"), "PS10024D"));
	assert_non_null(strstr(s->condition, "WMI"));
	assert_non_null(strstr(s->condition, "Latitude E7270"));
	assert_true(find_step(&doc, "Upgrade Assessment")->continue_on_error);
	/* Install Applications with /basevar: dynamic, so no application is named. */
	s = find_step(&doc, "Install Applications");
	assert_true(s->dynamic_install);
	assert_int_equal(s->napplications, 0);
	/* The Sequence property's bytes as exported, CR LF at the end included. */
	assert_true(strncmp(doc.sequence_xml, "<sequence version=\"3.10\">", 25) == 0);
	assert_true(doc.sequence_len > 20);
	assert_memory_equal(doc.sequence_xml + doc.sequence_len - 13, "</sequence>\r\n", 13);
	assert_int_equal(strlen(doc.sequence_xml), doc.sequence_len);
	/* Condition kinds: Variable, WMI and Folder. */
	assert_int_equal(count_conditions_with(&doc, "_SMSTSSetupRollback equals"), 2);
	assert_int_equal(count_conditions_with(&doc, "folder "), 1);

	summarize(&doc, &info);
	assert_strv(info.packages, info.npackages, refs, 3);
	assert_int_equal(info.napplications, 0);
	assert_int_equal(info.ndisabled_packages, 0);
	summary_free(&info);
	tsm_ts_doc_clear(&doc);
}

/* ---- file 2 ------------------------------------------------------------ */

static void test_file2_emdash_stale_count(void **state)
{
	static const char *const refs[] = { "MEM000FB", "MEM00141", "MEM0016A" };
	struct tsm_ts_doc doc;
	struct tsm_ts_info info;
	char **blockers;
	size_t nblockers, dl = 0;

	(void)state;
	NEED_FIXTURES();
	parse_fixture(F2, &doc);
	assert_int_equal(doc.dialect, TSM_TS_DIALECT_OBJECT);
	assert_string_equal(doc.object_id, "MEM00169");
	assert_string_equal(doc.object_name, "Run HP Image Assistant - Updating Drivers...");
	/* ReferencesCount says 0; the referenceList has 3 entries and wins. */
	assert_strv(doc.ref_packages, doc.nref_packages, refs, 3);
	assert_int_equal(doc.ngroups, 4);
	assert_int_equal(doc.max_depth, 2);
	assert_int_equal(doc.nsteps, 18);
	assert_int_equal(doc.nconditions, 8);
	assert_int_equal(count_disabled(&doc), 1);
	assert_int_equal(count_top_level(&doc), 11);
	assert_true(count_conditions_with(&doc, " and ") >= 1);
	for (size_t i = 0; i < doc.nsteps; i++) {
		const struct tsm_ts_step *s = &doc.steps[i];

		if (s->type && strcmp(s->type, "SMS_TaskSequence_DownloadPackageContentAction") == 0) {
			assert_int_equal(s->npackages, 1);
			assert_string_equal(s->packages[0], refs[dl]);
			dl++;
		}
	}
	assert_int_equal(dl, 3);
	/* The em dash (U+2014) survives as its UTF-8 bytes, once. */
	assert_int_equal(occurrences(doc.sequence_xml, doc.sequence_len, "\xe2\x80\x94"), 1);
	assert_int_equal(occurrences(doc.sequence_xml, doc.sequence_len, "Install failed \xe2\x80\x94 One"),
			 1);

	summarize(&doc, &info);
	assert_strv(info.packages, info.npackages, refs, 3);
	/* Stand-alone media: the three Download Package Content steps, nothing else. */
	assert_int_equal(tsm_ts_standalone_blockers(&info, &blockers, &nblockers), 0);
	assert_int_equal(nblockers, 3);
	assert_string_equal(blockers[0],
			    "Download HPIA from DP (SMS_TaskSequence_DownloadPackageContentAction)");
	assert_string_equal(blockers[1],
			    "Download Tools (SMS_TaskSequence_DownloadPackageContentAction)");
	assert_string_equal(blockers[2], "Use Pre-Configured Reference Files/Download HPIA Ref Files"
					 " (SMS_TaskSequence_DownloadPackageContentAction)");
	tsm_ts_strings_free(blockers, nblockers);
	summary_free(&info);
	tsm_ts_doc_clear(&doc);
}

/* ---- file 3 ------------------------------------------------------------ */

static void test_file3_no_reflist(void **state)
{
	struct tsm_ts_doc doc;
	struct tsm_ts_info info;
	char **blockers;
	size_t nblockers;

	(void)state;
	NEED_FIXTURES();
	parse_fixture(F3, &doc);
	assert_int_equal(doc.dialect, TSM_TS_DIALECT_OBJECT);
	assert_string_equal(doc.object_id, "2CM00010"); /* a site code starting with a digit */
	assert_string_equal(doc.object_name, "KB5025885: Windows Boot Manager Remediation");
	assert_int_equal(doc.nref_packages, 0);
	assert_int_equal(doc.nref_applications, 0);
	assert_int_equal(doc.ngroups, 11);
	assert_int_equal(doc.max_depth, 3);
	assert_int_equal(doc.nsteps, 41);
	assert_int_equal(count_disabled(&doc), 3);
	assert_int_equal(doc.nconditions, 17);
	/* The registry expression, with its notExists operator. */
	assert_int_equal(count_conditions_with(&doc, "registry "), 1);
	assert_true(count_conditions_with(&doc, "notExists") >= 1);
	assert_true(count_conditions_with(&doc, " or ") >= 1);
	/* Escaped markup inside the sequence stays as it was written. */
	assert_non_null(memmem(doc.sequence_xml, doc.sequence_len, "&amp;", 5));
	assert_non_null(memmem(doc.sequence_xml, doc.sequence_len, "&lt;", 4));
	assert_non_null(memmem(doc.sequence_xml, doc.sequence_len, "&gt;", 4));
	/* A disabled step. */
	assert_true(find_step(&doc, "Enable TSDebugMode")->disabled);

	summarize(&doc, &info);
	assert_int_equal(info.npackages, 0);
	assert_int_equal(tsm_ts_standalone_blockers(&info, &blockers, &nblockers), 0);
	assert_int_equal(nblockers, 0);
	assert_null(blockers);
	summary_free(&info);
	tsm_ts_doc_clear(&doc);
}

/* ---- file 4 ------------------------------------------------------------ */

static void test_file4_build_capture(void **state)
{
	static const char *const refs[] = { "SCB00021", "SCB00026", "SCB00003" };
	static const char *const need[] = { "SCB00026", "SCB00021", "SCB00003" };
	struct tsm_ts_doc doc;
	struct tsm_ts_info info;
	const struct tsm_ts_step *s;
	char **blockers;
	size_t nblockers, len;
	char *raw;

	(void)state;
	NEED_FIXTURES();
	parse_fixture(F4, &doc);
	assert_int_equal(doc.dialect, TSM_TS_DIALECT_SEQUENCE);
	assert_string_equal(doc.object_id, "");
	assert_null(doc.object_name);
	assert_strv(doc.ref_packages, doc.nref_packages, refs, 3);
	assert_int_equal(doc.ngroups, 2);
	assert_int_equal(doc.nsteps, 13);
	assert_int_equal(doc.nconditions, 4);
	/* /install:SCB00026,... "/config:SCB00021,...", and the same IDs in variables. */
	s = find_step(&doc, "Apply Operating System");
	assert_string_equal(s->type, "SMS_TaskSequence_ApplyOperatingSystemAction");
	assert_int_equal(s->npackages, 2);
	assert_true(step_has(s, "SCB00026"));
	assert_true(step_has(s, "SCB00021"));
	/* The client package through _SMSClientPackageID. */
	s = find_step(&doc, "Setup Windows and Configuration Manager");
	assert_int_equal(s->npackages, 1);
	assert_string_equal(s->packages[0], "SCB00003");
	/* Four sibling expressions: an implicit AND. */
	s = find_step(&doc, "Partition Disk 0");
	assert_non_null(s->condition);
	assert_int_equal(occurrences(s->condition, strlen(s->condition), " and "), 3);
	assert_non_null(strstr(s->condition, "_SMSTSClientCache notExists"));
	/* <operator type="or"> around one expression. */
	assert_string_equal(find_step(&doc, "Prepare the drive")->condition, "(_SMSTSInWinPE equals True)");
	/* Kept byte for byte (CR LF, no final newline). */
	raw = read_all(F4, &len);
	assert_int_equal(doc.sequence_len, len);
	assert_memory_equal(doc.sequence_xml, raw, len);
	free(raw);

	summarize(&doc, &info);
	assert_strv(info.packages, info.npackages, need, 3);
	assert_int_equal(tsm_ts_standalone_blockers(&info, &blockers, &nblockers), 0);
	assert_int_equal(nblockers, 1);
	assert_string_equal(blockers[0], "Build the Reference Machine/Apply Device Drivers"
					 " (SMS_TaskSequence_AutoApplyAction)");
	tsm_ts_strings_free(blockers, nblockers);
	summary_free(&info);
	tsm_ts_doc_clear(&doc);
}

/* ---- file 5 ------------------------------------------------------------ */

static void test_file5_acute_no_reflist(void **state)
{
	struct tsm_ts_doc doc;
	struct tsm_ts_info info;
	size_t installs = 0, upgrades = 0, acute = 0;

	(void)state;
	NEED_FIXTURES();
	parse_fixture(F5, &doc);
	assert_int_equal(doc.dialect, TSM_TS_DIALECT_SEQUENCE);
	assert_int_equal(doc.nref_packages, 0);
	assert_int_equal(doc.ngroups, 13);
	assert_int_equal(doc.max_depth, 3);
	assert_int_equal(doc.nsteps, 24);
	assert_int_equal(doc.nconditions, 12);
	assert_int_equal(count_top_level(&doc), 1);
	assert_true(count_conditions_with(&doc, " or ") >= 1);
	for (size_t i = 0; i < doc.nsteps; i++) {
		const struct tsm_ts_step *s = &doc.steps[i];

		assert_int_equal(s->npackages, 0);
		assert_int_equal(s->napplications, 0);
		installs += s->type && strcmp(s->type, "SMS_TaskSequence_InstallApplicationAction") == 0;
		upgrades += s->type && strcmp(s->type, "SMS_TaskSequence_UpgradeOperatingSystemAction") == 0;
	}
	assert_int_equal(installs, 2);
	assert_int_equal(upgrades, 1);
	/* U+00B4 in a group's description, decoded from the attribute intact. */
	for (size_t i = 0; i < doc.ngroups; i++)
		acute += strstr(doc.groups[i].description, "4 exit 3\xc2\xb4s, but") != NULL;
	assert_int_equal(acute, 1);
	assert_int_equal(occurrences(doc.sequence_xml, doc.sequence_len, "\xc2\xb4"), 1);

	summarize(&doc, &info);
	assert_int_equal(info.npackages, 0);
	assert_int_equal(info.napplications, 0);
	summary_free(&info);
	tsm_ts_doc_clear(&doc);
}

/* ---- file 6 ------------------------------------------------------------ */

static void test_file6_mdt_template(void **state)
{
	struct tsm_ts_doc doc;
	size_t untyped = 0, bdd = 0, len;
	char *raw;

	(void)state;
	NEED_FIXTURES();
	parse_fixture(F6, &doc);
	assert_int_equal(doc.dialect, TSM_TS_DIALECT_MDT);
	assert_string_equal(doc.sequence_version, "3.00");
	assert_string_equal(doc.object_name, "Windows AutoPilot for Existing Devices");
	assert_int_equal(doc.nref_packages, 0);
	assert_int_equal(doc.ngroups, 7);
	assert_int_equal(doc.max_depth, 2);
	assert_int_equal(doc.nsteps, 24);
	assert_int_equal(doc.nconditions, 8);
	assert_int_equal(count_disabled(&doc), 0); /* disable="false" throughout */
	for (size_t i = 0; i < doc.nsteps; i++) {
		untyped += doc.steps[i].type == NULL;
		bdd += doc.steps[i].type && strncmp(doc.steps[i].type, "BDD_", 4) == 0;
		assert_int_equal(doc.steps[i].npackages, 0); /* content is named by GUID */
	}
	assert_int_equal(untyped, 9);
	assert_true(bdd >= 1);
	assert_null(find_step(&doc, "Next Phase")->type);
	/* The Validation group's <operator type="or"> around one expression. */
	assert_string_equal(doc.groups[1].name, "Validation");
	assert_string_equal(doc.groups[1].condition, "(PHASE equals VALIDATION)");
	raw = read_all(F6, &len);
	assert_int_equal(doc.sequence_len, len);
	assert_memory_equal(doc.sequence_xml, raw, len);
	assert_true(strncmp(doc.sequence_xml, "<?xml version=\"1.0\"?>", 21) == 0);
	free(raw);
	tsm_ts_doc_clear(&doc);
}

/* ---- hostile input ------------------------------------------------------ */

static int parse_str(const char *xml)
{
	struct tsm_ts_doc doc;
	int rc = tsm_ts_xml_parse_memory("test.xml", xml, strlen(xml), &doc);

	if (rc == 0)
		tsm_ts_doc_clear(&doc);
	return rc;
}

static void test_not_xml(void **state)
{
	(void)state;
	assert_int_equal(parse_str("this is not XML at all\n"), -EINVAL);
	assert_int_equal(parse_str(""), -EINVAL);
	assert_int_equal(parse_str("<sequence><group name='a'></sequence>"), -EINVAL);
	assert_int_equal(parse_str("\x89PNG\r\n\x1a\n\x00\x00"), -EINVAL);
}

static void test_not_a_task_sequence(void **state)
{
	(void)state;
	assert_int_equal(parse_str("<html><body/></html>"), -EINVAL);
	assert_int_equal(parse_str("<INSTANCE CLASSNAME=\"SMS_Package\"><PROPERTY NAME=\"Sequence\">"
				   "<VALUE>&lt;sequence/&gt;</VALUE></PROPERTY></INSTANCE>"), -EINVAL);
	/* A task sequence package without its Sequence. */
	assert_int_equal(parse_str("<INSTANCE CLASSNAME=\"SMS_TaskSequencePackage\">"
				   "<PROPERTY NAME=\"PackageID\"><VALUE>PS100001</VALUE></PROPERTY>"
				   "</INSTANCE>"), -EINVAL);
	/* A Sequence property that does not parse, or is no sequence. */
	assert_int_equal(parse_str("<INSTANCE CLASSNAME=\"SMS_TaskSequencePackage\">"
				   "<PROPERTY NAME=\"Sequence\"><VALUE><![CDATA[<sequence><step>]]>"
				   "</VALUE></PROPERTY></INSTANCE>"), -EINVAL);
	assert_int_equal(parse_str("<INSTANCE CLASSNAME=\"SMS_TaskSequencePackage\">"
				   "<PROPERTY NAME=\"Sequence\"><VALUE><![CDATA[<policy/>]]>"
				   "</VALUE></PROPERTY></INSTANCE>"), -EINVAL);
	assert_int_equal(parse_str("<INSTANCE CLASSNAME=\"SMS_TaskSequencePackage\">"
				   "<PROPERTY NAME=\"Sequence\"><VALUE></VALUE></PROPERTY></INSTANCE>"),
			 -EINVAL);
}

static void test_bad_ids(void **state)
{
	(void)state;
	assert_int_equal(parse_str("<sequence><referenceList><reference package=\"../../etc\"/>"
				   "</referenceList></sequence>"), -EINVAL);
	assert_int_equal(parse_str("<sequence><referenceList><reference package=\"PS1000012\"/>"
				   "</referenceList></sequence>"), -EINVAL);
	assert_int_equal(parse_str("<INSTANCE CLASSNAME=\"SMS_TaskSequencePackage\">"
				   "<PROPERTY NAME=\"PackageID\"><VALUE>PS1'; DROP</VALUE></PROPERTY>"
				   "<PROPERTY NAME=\"Sequence\"><VALUE>&lt;sequence/&gt;</VALUE></PROPERTY>"
				   "</INSTANCE>"), -EINVAL);
	assert_int_equal(parse_str("<INSTANCE CLASSNAME=\"SMS_TaskSequencePackage\">"
				   "<PROPERTY NAME=\"BootImageID\"><VALUE>nope</VALUE></PROPERTY>"
				   "<PROPERTY NAME=\"Sequence\"><VALUE>&lt;sequence/&gt;</VALUE></PROPERTY>"
				   "</INSTANCE>"), -EINVAL);
}

static void test_entities_refused(void **state)
{
	(void)state;
	/* Billion laughs: refused for its DTD, nothing expanded. */
	assert_int_equal(parse_str("<?xml version=\"1.0\"?><!DOCTYPE sequence ["
				   "<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;\">"
				   "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
				   "<sequence><step name=\"&c;\"/></sequence>"), -EINVAL);
	/* An external entity (a local file) is never read. */
	assert_int_equal(parse_str("<?xml version=\"1.0\"?><!DOCTYPE sequence ["
				   "<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
				   "<sequence><step name=\"&x;\"/></sequence>"), -EINVAL);
	/* And inside a Sequence property. */
	assert_int_equal(parse_str("<INSTANCE CLASSNAME=\"SMS_TaskSequencePackage\">"
				   "<PROPERTY NAME=\"Sequence\"><VALUE><![CDATA[<!DOCTYPE sequence ["
				   "<!ENTITY x SYSTEM \"file:///etc/passwd\">]><sequence>&x;</sequence>]]>"
				   "</VALUE></PROPERTY></INSTANCE>"), -EINVAL);
}

static void test_depth_capped(void **state)
{
	size_t cap = 80 * 40 + 64;
	char *xml = malloc(cap);
	size_t len = 0;
	struct tsm_ts_doc doc;

	(void)state;
	assert_non_null(xml);
	len += (size_t)snprintf(xml + len, cap - len, "<sequence>");
	for (int i = 0; i < TSM_TS_XML_MAX_DEPTH + 5; i++)
		len += (size_t)snprintf(xml + len, cap - len, "<group name=\"g%d\">", i);
	for (int i = 0; i < TSM_TS_XML_MAX_DEPTH + 5; i++)
		len += (size_t)snprintf(xml + len, cap - len, "</group>");
	len += (size_t)snprintf(xml + len, cap - len, "</sequence>");
	assert_int_equal(tsm_ts_xml_parse_memory("deep.xml", xml, len, &doc), -E2BIG);
	free(xml);
}

static void test_truncated_fixture(void **state)
{
	const char *files[] = { F1, F2, F4, F6 };
	struct tsm_ts_doc doc;

	(void)state;
	NEED_FIXTURES();
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t len;
		char *raw = read_all(files[i], &len);

		assert_int_equal(tsm_ts_xml_parse_memory(files[i], raw, len / 2, &doc), -EINVAL);
		assert_int_equal(tsm_ts_xml_parse_memory(files[i], raw, len - 3, &doc), -EINVAL);
		free(raw);
	}
}

static void test_small_dialect_bits(void **state)
{
	static const char xml[] =
		"<sequence version=\"3.10\">"
		"<referenceList><reference package=\"ABC00001\"/>"
		"<reference package=\"ScopeId_11111111-2222-3333-4444-555555555555/"
		"Application_aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee\"/></referenceList>"
		"<group name=\"Off\" disable=\"true\">"
		"<step type=\"SMS_TaskSequence_ApplyOperatingSystemAction\" name=\"Apply\">"
		"<action>OSDApplyOS.exe /image:ABC00002,1</action></step></group>"
		"<step type=\"SMS_TaskSequence_InstallApplicationAction\" name=\"Apps\">"
		"<action>smsappinstall.exe /app:ScopeId_11111111-2222-3333-4444-555555555555/"
		"Application_aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee /basevar: /continueOnError:False"
		"</action></step>"
		"<step type=\"SMS_TaskSequence_RunCommandLineAction\" name=\"Run\">"
		"<action>smsswd.exe /run:ABC00003 setup.exe</action>"
		"<defaultVarList><variable name=\"OSDDownloadDownloadPackages\">ABC00004,ABC00005"
		"</variable><variable name=\"PackageID\">%SomeVar%</variable></defaultVarList></step>"
		"</sequence>";
	static const char *const need[] = { "ABC00003", "ABC00004", "ABC00005", "ABC00001" };
	struct tsm_ts_doc doc;
	struct tsm_ts_info info;
	char **blockers;
	size_t nblockers;

	(void)state;
	assert_int_equal(tsm_ts_xml_parse_memory("bits.xml", xml, sizeof(xml) - 1, &doc), 0);
	assert_int_equal(doc.nsteps, 3);
	assert_true(doc.steps[0].disabled); /* inherited from its group */
	assert_string_equal(doc.steps[0].packages[0], "ABC00002");
	assert_int_equal(doc.steps[1].napplications, 1);
	assert_false(doc.steps[1].dynamic_install); /* /basevar: with no name */
	assert_int_equal(doc.nref_applications, 1);
	summarize(&doc, &info);
	/* Enabled steps' packages first, then the referenceList's; ABC00002 is
	 * used only by a disabled step. */
	assert_strv(info.packages, info.npackages, need, 4);
	assert_int_equal(info.ndisabled_packages, 1);
	assert_string_equal(info.disabled_packages[0], "ABC00002");
	assert_int_equal(info.napplications, 1);
	assert_int_equal(tsm_ts_standalone_blockers(&info, &blockers, &nblockers), 0);
	assert_int_equal(nblockers, 0);
	summary_free(&info);
	tsm_ts_doc_clear(&doc);
}

/* ---- many references, hostile shapes ------------------------------------- */

/* A growing text buffer for generated documents. */
struct gen {
	char *p;
	size_t len, cap;
};

static void gen_add(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void gen_add(struct gen *g, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(g->p ? g->p + g->len : NULL, g->p ? g->cap - g->len : 0, fmt, ap);
		va_end(ap);
		assert_true(n >= 0);
		if (g->p && g->len + (size_t)n < g->cap)
			break;
		g->cap = (g->cap + (size_t)n + 1) * 2;
		g->p = realloc(g->p, g->cap);
		assert_non_null(g->p);
	}
	g->len += (size_t)n;
}

/* 40,000 package IDs, each named twice in a step and in the referenceList:
 * each list keeps the first of each, in order, and what the summary needs
 * is the step's order then the list's. */
static void test_many_references_dedup_in_order(void **state)
{
	enum { N = 40000 };
	struct gen g = { 0 };
	struct tsm_ts_doc doc;
	struct tsm_ts_info info;
	char id[9];

	(void)state;
	gen_add(&g, "<sequence version=\"3.10\"><referenceList>");
	for (int pass = 0; pass < 2; pass++)
		for (int i = N - 1; i >= 0; i--)
			gen_add(&g, "<reference package=\"P%07X\"/>", i);
	gen_add(&g, "</referenceList><step name=\"s\" type=\"x\"><action>");
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < N / 2; i++)
			gen_add(&g, "/image:P%07X ", 2 * i);
	gen_add(&g, "</action></step></sequence>");
	assert_int_equal(tsm_ts_xml_parse_memory("many.xml", g.p, g.len, &doc), 0);
	assert_int_equal(doc.nref_packages, N);
	for (int i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "P%07X", N - 1 - i);
		assert_string_equal(doc.ref_packages[i], id);
	}
	assert_int_equal(doc.nsteps, 1);
	assert_int_equal(doc.steps[0].npackages, N / 2);
	for (int i = 0; i < N / 2; i++) {
		snprintf(id, sizeof(id), "P%07X", 2 * i);
		assert_string_equal(doc.steps[0].packages[i], id);
	}
	summarize(&doc, &info);
	assert_int_equal(info.npackages, N);
	/* The step's (even) IDs first, then the list's odd ones, high to low. */
	assert_string_equal(info.packages[0], "P0000000");
	assert_string_equal(info.packages[N / 2 - 1], "P0009C3E");
	assert_string_equal(info.packages[N / 2], "P0009C3F");
	assert_string_equal(info.packages[N - 1], "P0000001");
	summary_free(&info);
	tsm_ts_doc_clear(&doc);
	free(g.p);
}

/* libxml2 says nothing on standard error by itself: its error about the
 * bytes reaches the user as tsmedia's one message, with the line. */
static char captured[4096];

static void capture(enum tsm_log_level level, const char *msg)
{
	size_t len = strlen(captured);

	(void)level;
	snprintf(captured + len, sizeof(captured) - len, "%s\n", msg);
}

static void test_bad_encoding_quiet(void **state)
{
	static const char *const docs[] = {
		/* Shift_JIS lead byte without its trail byte. */
		"<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>\n<sequence version=\"3.10\">"
		"<step name=\"\x81\"/></sequence>\n",
		/* Latin-1 bytes in a document that says UTF-8. */
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<sequence><step name=\"caf\xe9\"/>"
		"</sequence>\n",
	};
	char path[] = "/tmp/tsm-test-stderr.XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	struct stat st;

	(void)state;
	assert_true(fd >= 0 && saved >= 0);
	for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
		captured[0] = '\0';
		tsm_log_set_sink(capture);
		fflush(stderr);
		assert_true(dup2(fd, STDERR_FILENO) >= 0);
		assert_int_equal(parse_str(docs[i]), -EINVAL);
		fflush(stderr);
		assert_true(dup2(saved, STDERR_FILENO) >= 0);
		tsm_log_set_sink(NULL);
		assert_true(fstat(fd, &st) == 0);
		if (st.st_size != 0)
			fail_msg("libxml2 wrote %lld bytes to stderr for document %zu",
				 (long long)st.st_size, i);
		if (!strstr(captured, i == 0 ? "test.xml: not well-formed XML (at or after line 1): "
					       "input conversion failed"
					     : "test.xml: not well-formed XML (line 2): Input is not "
					       "proper UTF-8"))
			fail_msg("expected tsmedia's message; got: %s", captured);
	}
	close(saved);
	close(fd);
	unlink(path);
}

/* libxml2 2.9.14 builds and checks a tag's attributes pairwise: tags with
 * too many attributes, or too long to hold few, and documents with too many
 * nodes are refused before that work. */
/* Stand-alone media honour the conditions that keep a step off them (issue 16): a step or an
 * enclosing group whose condition is _SMSTSMediaType notEquals FullMedia, or equals another
 * media type, does not run there; any other condition may be true there. */
static void test_standalone_conditions(void **state)
{
#define AUTO "<step type=\"SMS_TaskSequence_AutoApplyAction\" name=\"%s\"><condition>%s</condition></step>"
#define VAR(op, v) "<expression type=\"SMS_TaskSequence_VariableConditionExpression\">" \
	"<variable name=\"Operator\">" op "</variable><variable name=\"Value\">" v "</variable>" \
	"<variable name=\"Variable\">_SMSTSMediaType</variable></expression>"
	char xml[8192];
	struct tsm_ts_doc doc;
	struct tsm_ts_info info;
	char **all, **refused;
	size_t nall, nrefused;
	int n;

	(void)state;
	n = snprintf(xml, sizeof(xml),
		     "<sequence version=\"3.10\">" AUTO AUTO AUTO AUTO
		     "<group name=\"Not standalone\"><condition>" VAR("equals", "BootMedia")
		     "</condition>" AUTO "</group>"
		     "<step type=\"SMS_TaskSequence_AutoApplyAction\" name=\"no condition\"/>"
		     "</sequence>",
		     "not full", VAR("notEquals", "FullMedia"),
		     "only full", VAR("equals", "FullMedia"),
		     "either", "<operator type=\"or\">" VAR("notEquals", "FullMedia")
			       VAR("equals", "FullMedia") "</operator>",
		     "oem and more", VAR("equals", "OEMMedia")
			       "<expression type=\"SMS_TaskSequence_VariableConditionExpression\">"
			       "<variable name=\"Operator\">exists</variable>"
			       "<variable name=\"Variable\">X</variable></expression>",
		     "in group", "");
	assert_true(n > 0 && (size_t)n < sizeof(xml));
	assert_int_equal(tsm_ts_xml_parse_memory("cond.xml", xml, (size_t)n, &doc), 0);
	summarize(&doc, &info);
	assert_int_equal(tsm_ts_standalone_blockers(&info, &all, &nall), 0);
	assert_int_equal(nall, 6); /* every site-bound step, whatever its condition */
	assert_int_equal(tsm_ts_standalone_refused(&info, &refused, &nrefused), 0);
	assert_int_equal(nrefused, 3);
	assert_string_equal(refused[0], "only full (SMS_TaskSequence_AutoApplyAction)");
	assert_string_equal(refused[1], "either (SMS_TaskSequence_AutoApplyAction)");
	assert_string_equal(refused[2], "no condition (SMS_TaskSequence_AutoApplyAction)");
	tsm_ts_strings_free(all, nall);
	tsm_ts_strings_free(refused, nrefused);
	summary_free(&info);
	tsm_ts_doc_clear(&doc);
#undef AUTO
#undef VAR
}

static void test_xml_shapes_refused(void **state)
{
	struct gen g = { 0 };

	(void)state;
	gen_add(&g, "<sequence><step name=\"s\"");
	for (int i = 0; i < 257; i++)
		gen_add(&g, " a%d=\"\"", i);
	gen_add(&g, "/></sequence>");
	assert_int_equal(parse_str(g.p), -E2BIG);
	g.len = 0;
	gen_add(&g, "<sequence><step name=\"s\" description=\"");
	for (int i = 0; i < 90000; i++)
		gen_add(&g, "x");
	gen_add(&g, "\"/></sequence>");
	assert_int_equal(parse_str(g.p), -E2BIG);
	g.len = 0;
	gen_add(&g, "<sequence>");
	for (int i = 0; i < 500001; i++)
		gen_add(&g, "<!---->");
	gen_add(&g, "</sequence>");
	assert_int_equal(parse_str(g.p), -E2BIG);
	/* 60 nested groups with 60,000-byte names over a thousand steps: each
	 * step would keep its own 3.6 MB group path. */
	g.len = 0;
	gen_add(&g, "<sequence>");
	for (int i = 0; i < 60; i++) {
		gen_add(&g, "<group name=\"%d", i);
		for (int k = 0; k < 60000; k++)
			gen_add(&g, "x");
		gen_add(&g, "\">");
	}
	for (int i = 0; i < 1000; i++)
		gen_add(&g, "<step name=\"s\" type=\"x\"/>");
	for (int i = 0; i < 60; i++)
		gen_add(&g, "</group>");
	gen_add(&g, "</sequence>");
	assert_int_equal(parse_str(g.p), -E2BIG);
	/* 256 attributes, and a 60 KiB description: still read. */
	g.len = 0;
	gen_add(&g, "<sequence><step name=\"s\" description=\"");
	for (int i = 0; i < 60000; i++)
		gen_add(&g, "x");
	gen_add(&g, "\"");
	for (int i = 0; i < 254; i++)
		gen_add(&g, " a%d=\"\"", i);
	gen_add(&g, "/></sequence>");
	assert_int_equal(parse_str(g.p), 0);
	free(g.p);
}

int main(void)
{
	const char *shared = getenv("TSMEDIA_SHARED_DIR");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file1_console_export),
		cmocka_unit_test(test_file2_emdash_stale_count),
		cmocka_unit_test(test_file3_no_reflist),
		cmocka_unit_test(test_file4_build_capture),
		cmocka_unit_test(test_file5_acute_no_reflist),
		cmocka_unit_test(test_file6_mdt_template),
		cmocka_unit_test(test_truncated_fixture),
		cmocka_unit_test(test_not_xml),
		cmocka_unit_test(test_not_a_task_sequence),
		cmocka_unit_test(test_bad_ids),
		cmocka_unit_test(test_entities_refused),
		cmocka_unit_test(test_depth_capped),
		cmocka_unit_test(test_small_dialect_bits),
		cmocka_unit_test(test_many_references_dedup_in_order),
		cmocka_unit_test(test_bad_encoding_quiet),
		cmocka_unit_test(test_xml_shapes_refused),
		cmocka_unit_test(test_standalone_conditions),
	};
	struct stat st;
	int failed;

	snprintf(fixture_dir, sizeof(fixture_dir), "%s/fixtures/task-sequences",
		 shared ? shared : "../shared");
	have_fixtures = stat(fixture_dir, &st) == 0 && S_ISDIR(st.st_mode);
	if (!have_fixtures) {
		fprintf(stderr, "\n######################################################################\n"
				"SKIP: task sequence fixtures not found in '%s'\n"
				"(set TSMEDIA_SHARED_DIR to the directory holding fixtures/)\n"
				"######################################################################\n",
			fixture_dir);
	}
	/* The hostile-input tests print their errors: they are the messages users see. */
	tsm_log_set_level(getenv("TSM_TEST_VERBOSE") ? TSM_LOG_DEBUG : TSM_LOG_ERROR);
	failed = cmocka_run_group_tests(tests, NULL, NULL);
	return failed ? failed : have_fixtures ? 0 : 77;
}
