/* What a store on object storage reads from its bucket: the catalog
 * pointer (catalog/CURRENT), a frontend's lease, a ListObjectsV2 answer,
 * and s3:// locations.  Each has the shape tsmedia writes (or Amazon's API
 * reference shows, for the listing) and is refused otherwise. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/remote.h"
#include "store/s3.h"
#include "store/store_internal.h"
#include "tsmedia/log.h"
#include "tsmedia/store.h"

#define HEX64 "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"

static int current(const char *text, struct tsm_remote_current *cur)
{
	return tsm_remote_current_parse(text, strlen(text), cur);
}

static void test_current(void **state)
{
	struct tsm_remote_current cur;

	(void)state;
	assert_int_equal(current("tsmedia-catalog 1\ngeneration 12\nsha256 " HEX64 "\nsize 4096\n",
				 &cur), 0);
	assert_int_equal(cur.generation, 12);
	assert_int_equal(cur.size, 4096);
	assert_int_equal(cur.sha256[0], 0x9f);
	assert_int_equal(cur.sha256[31], 0x08);
	/* Refused: another version, generation 0 or negative, a short or
	 * upper-case hash, a missing line, trailing text, no final newline. */
	const char *bad[] = {
		"tsmedia-catalog 2\ngeneration 12\nsha256 " HEX64 "\nsize 4096\n",
		"tsmedia-catalog 1\ngeneration 0\nsha256 " HEX64 "\nsize 4096\n",
		"tsmedia-catalog 1\ngeneration -3\nsha256 " HEX64 "\nsize 4096\n",
		"tsmedia-catalog 1\ngeneration 12\nsha256 9f86d0\nsize 4096\n",
		"tsmedia-catalog 1\ngeneration 12\nsha256 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08\nsize 4096\n",
		"tsmedia-catalog 1\ngeneration 12\nsize 4096\n",
		"tsmedia-catalog 1\ngeneration 12\nsha256 " HEX64 "\nsize 4096\nmore\n",
		"tsmedia-catalog 1\ngeneration 12\nsha256 " HEX64 "\nsize 4096",
		"tsmedia-catalog 1\ngeneration 12\nsha256 " HEX64 "\nsize 99999999999999999\n",
		"",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(current(bad[i], &cur), -EINVAL);
}

static void test_lease(void **state)
{
	const char *text = "tsmedia-lease 1\nfrontend dp-01.example\ngeneration 7\nrenewed 100\n"
			   "expires 160\ncache-bytes 5\ncache-limit 10\nmedia-version 3\n"
			   "content-version 12\ncontent-version 14\n";
	struct tsm_remote_lease lease;
	struct tsm_pinned pinned = { 0 };

	(void)state;
	assert_int_equal(tsm_remote_lease_parse(text, strlen(text), &lease, &pinned), 0);
	assert_string_equal(lease.frontend, "dp-01.example");
	assert_int_equal(lease.generation, 7);
	assert_int_equal(lease.renewed, 100);
	assert_int_equal(lease.expires, 160);
	assert_int_equal(lease.cache_bytes, 5);
	assert_int_equal(lease.cache_limit, 10);
	assert_int_equal(pinned.nmedia, 1);
	assert_int_equal(pinned.media_versions[0], 3);
	assert_int_equal(pinned.ncontent, 2);
	assert_int_equal(pinned.content_versions[1], 14);
	tsm_pinned_clear(&pinned);

	const char *bad[] = {
		"tsmedia-lease 2\nfrontend a\nexpires 5\n",
		"tsmedia-lease 1\nfrontend a/b\nexpires 5\n",      /* not an id */
		"tsmedia-lease 1\nfrontend a\n",                   /* no expiry */
		"tsmedia-lease 1\nexpires 5\n",                    /* no frontend */
		"tsmedia-lease 1\nfrontend a\nexpires 5\nmedia-version 0\n",
		"tsmedia-lease 1\nfrontend a\nexpires 5\ncontent-version 3x\n",
		"tsmedia-lease 1\nfrontend a\nexpires 5\nsomething else\n",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(tsm_remote_lease_parse(bad[i], strlen(bad[i]), &lease, &pinned),
				 -EINVAL);
		tsm_pinned_clear(&pinned);
	}
}

struct seen {
	char keys[4][64];
	uint64_t sizes[4];
	int64_t mtimes[4];
	int n;
};

static int collect(void *ctx, const char *key, uint64_t size, int64_t mtime)
{
	struct seen *s = ctx;

	if (s->n == 4)
		return -E2BIG;
	snprintf(s->keys[s->n], sizeof(s->keys[0]), "%s", key);
	s->sizes[s->n] = size;
	s->mtimes[s->n++] = mtime;
	return 0;
}

static void test_list(void **state)
{
	/* The shape of the example in
	 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html */
	const char *xml =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Name>b</Name><Prefix>site1/packs/</Prefix><KeyCount>2</KeyCount>"
		"<IsTruncated>true</IsTruncated><NextContinuationToken>tok/en=</NextContinuationToken>"
		"<Contents><Key>site1/packs/pack-00000001.pack</Key>"
		"<LastModified>2026-12-02T13:00:00.000Z</LastModified><Size>1048576</Size></Contents>"
		"<Contents><Key>site1/packs/pack-00000002.pack</Key><Size>7</Size></Contents>"
		"</ListBucketResult>";
	struct seen s = { 0 };
	bool truncated;
	char *token;

	(void)state;
	assert_int_equal(tsm_s3_list_parse(xml, strlen(xml), strlen("site1/"), collect, &s,
					   &truncated, &token), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.keys[0], "packs/pack-00000001.pack");
	assert_int_equal(s.sizes[0], 1048576);
	assert_int_equal(s.mtimes[0], 1796216400); /* 2026-12-02T13:00:00Z */
	assert_string_equal(s.keys[1], "packs/pack-00000002.pack");
	assert_true(truncated);
	assert_string_equal(token, "tok/en=");
	free(token);

	const char *bad[] = {
		"<Error><Code>AccessDenied</Code></Error>",
		"<ListBucketResult><Contents><Size>3</Size></Contents></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key><Size>-3</Size></Contents></ListBucketResult>",
		"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
		"<ListBucketResult><Contents><Key>k</Key>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&s, 0, sizeof(s));
		assert_int_equal(tsm_s3_list_parse(bad[i], strlen(bad[i]), 0, collect, &s, &truncated,
						   &token), -EIO);
		assert_null(token);
	}
}

static void test_url(void **state)
{
	char *bucket, *prefix;

	(void)state;
	assert_int_equal(tsm_s3_parse_url("s3://my-bucket.1/site1/dp", &bucket, &prefix), 0);
	assert_string_equal(bucket, "my-bucket.1");
	assert_string_equal(prefix, "site1/dp/");
	free(bucket);
	free(prefix);
	assert_int_equal(tsm_s3_parse_url("s3://abc", &bucket, &prefix), 0);
	assert_string_equal(prefix, "");
	free(bucket);
	free(prefix);
	const char *bad[] = { "http://abc/x", "s3://ab", "s3://ABC", "s3://abc//x", "s3://abc/x?y",
			      "s3://abc/../x", "s3://abc/a/./b", "s3://abc/a/.." };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(tsm_s3_parse_url(bad[i], &bucket, &prefix), -EINVAL);
}

/* A listing that names a key outside the prefix asked for is refused, as
 * a whole (no key of it is passed on). */
static void test_list_prefix(void **state)
{
	const char *xml =
		"<ListBucketResult>"
		"<Contents><Key>site1/packs/pack-00000001.pack</Key><Size>1</Size></Contents>"
		"<Contents><Key>site2/packs/pack-00000002.pack</Key><Size>2</Size></Contents>"
		"</ListBucketResult>";
	const char *outside = "<ListBucketResult><Contents><Key>site1/leases/x</Key><Size>1</Size>"
			      "</Contents></ListBucketResult>";
	struct seen s = { 0 };
	bool truncated;
	char *token;

	(void)state;
	assert_int_equal(tsm_s3_list_parse_prefix(xml, strlen(xml), "site1/packs/", strlen("site1/"),
						  collect, &s, &truncated, &token),
			 -EIO);
	assert_int_equal(s.n, 1); /* the first, under the prefix, was seen before */
	memset(&s, 0, sizeof(s));
	assert_int_equal(tsm_s3_list_parse_prefix(outside, strlen(outside), "site1/packs/",
						  strlen("site1/"), collect, &s, &truncated, &token),
			 -EIO);
	assert_int_equal(s.n, 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(tsm_s3_list_parse_prefix(xml, strlen(xml), "site", 0, collect, &s,
						  &truncated, &token),
			 0);
	assert_int_equal(s.n, 2);
	assert_false(truncated);
}

struct upl {
	char keys[4][64], ids[4][64];
	int64_t when[4];
	int n;
};

static int upload_seen(void *ctx, const char *key, const char *id, int64_t initiated)
{
	struct upl *u = ctx;

	if (u->n == 4)
		return -E2BIG;
	snprintf(u->keys[u->n], sizeof(u->keys[0]), "%s", key);
	snprintf(u->ids[u->n], sizeof(u->ids[0]), "%s", id);
	u->when[u->n++] = initiated;
	return 0;
}

static void test_uploads(void **state)
{
	/* The shape of the example in
	 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html */
	const char *xml =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListMultipartUploadsResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Bucket>b</Bucket><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>"
		"<NextKeyMarker>site1/packs/pack-00000002.pack</NextKeyMarker>"
		"<NextUploadIdMarker>2~xyz</NextUploadIdMarker><MaxUploads>2</MaxUploads>"
		"<IsTruncated>true</IsTruncated>"
		"<Upload><Key>site1/packs/pack-00000001.pack</Key><UploadId>2~abc</UploadId>"
		"<Initiated>2026-12-02T13:00:00.000Z</Initiated></Upload>"
		"<Upload><Key>site1/packs/pack-00000002.pack</Key><UploadId>2~xyz</UploadId>"
		"<Initiated>2026-12-02T13:00:01.000Z</Initiated></Upload>"
		"</ListMultipartUploadsResult>";
	struct upl u = { 0 };
	bool truncated;
	char *km, *im;

	(void)state;
	assert_int_equal(tsm_s3_uploads_parse(xml, strlen(xml), "site1/", strlen("site1/"),
					      upload_seen, &u, &truncated, &km, &im),
			 0);
	assert_int_equal(u.n, 2);
	assert_string_equal(u.keys[0], "packs/pack-00000001.pack");
	assert_string_equal(u.ids[0], "2~abc");
	assert_int_equal(u.when[0], 1796216400);
	assert_int_equal(u.when[1], 1796216401);
	assert_true(truncated);
	assert_string_equal(km, "site1/packs/pack-00000002.pack");
	assert_string_equal(im, "2~xyz");
	free(km);
	free(im);

	const char *bad[] = {
		"<ListBucketResult></ListBucketResult>",
		"<ListMultipartUploadsResult><Upload><Key>site1/k</Key></Upload>"
		"</ListMultipartUploadsResult>",
		"<ListMultipartUploadsResult><Upload><Key>other/k</Key><UploadId>1</UploadId>"
		"</Upload></ListMultipartUploadsResult>",
		"<ListMultipartUploadsResult><IsTruncated>true</IsTruncated>"
		"</ListMultipartUploadsResult>",
		"<ListMultipartUploadsResult><Upload>",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&u, 0, sizeof(u));
		assert_int_equal(tsm_s3_uploads_parse(bad[i], strlen(bad[i]), "site1/", 6,
						      upload_seen, &u, &truncated, &km, &im),
				 -EIO);
		assert_int_equal(u.n, 0);
		assert_null(km);
		assert_null(im);
	}
}

/* A service's words on their way to a log line: no control character,
 * no byte beyond ASCII, and a backslash escaped so that "\x1b" in the
 * text cannot pass for an escaped one. */
static void test_escape(void **state)
{
	const char in[] = "<Code>Bad\nline\x1b[31m\\x\x7f\xc3\xa9</Code>";
	char out[128], small[7];

	(void)state;
	tsm_s3_escape(in, sizeof(in) - 1, out, sizeof(out));
	assert_string_equal(out, "<Code>Bad\\x0aline\\x1b[31m\\x5cx\\x7f\\xc3\\xa9</Code>");
	for (const char *p = out; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
	/* Cut at a whole character, never in the middle of an escape: six
	 * characters fit, "abc\x0a" would be seven. */
	tsm_s3_escape("abc\ndef", 7, small, sizeof(small));
	assert_string_equal(small, "abc");
	tsm_s3_escape("abcdefghij", 10, small, sizeof(small));
	assert_string_equal(small, "abcdef");
}

/* A key this store would never make (a listed key with "." or ".."
 * segments, which libcurl folds away: "packs/pack-1.pack/../../../b/k"
 * would reach another bucket; a character the URL would need escaped) is
 * refused before any request.  The endpoint is a closed port: a request
 * that went out fails with -EIO, a refused key with -EINVAL. */
static void test_key_refused(void **state)
{
	struct tsm_s3_config cfg = { .url = "s3://bucket/site1", .endpoint = "http://127.0.0.1:9",
				     .timeout = 5 };
	const char *bad[] = {
		"packs/pack-00000001.pack/../../../other-bucket/k",
		"packs/../catalog/CURRENT",
		"leases/..",
		"leases/.",
		"./leases/x",
		"packs//pack-00000001.pack",
		"packs/pack 1.pack",
		"packs/pack?x=1",
		"packs/pack#1",
		"packs/pack%2e%2e",
		"",
	};
	struct tsm_s3 *s3;

	(void)state;
	setenv("AWS_ACCESS_KEY_ID", "unit", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "unit-secret", 1);
	unsetenv("TSMEDIA_S3_CREDENTIALS");
	assert_int_equal(tsm_s3_new(&cfg, &s3), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("%s\n", bad[i]);
		assert_int_equal(tsm_s3_delete(s3, bad[i]), -EINVAL);
	}
	/* Keys it makes go out (and fail: nothing listens). */
	assert_int_equal(tsm_s3_delete(s3, "packs/pack-00000001.pack"), -EIO);
	assert_int_equal(tsm_s3_delete(s3, "leases/dp-01.example_2"), -EIO);
	tsm_s3_free(s3);
}

/* A frontend id names its lease, leases/ID: "." and ".." would name the
 * folder or the store's prefix itself (a dot segment), so they are refused
 * with the other invalid ids, before the object store is asked anything
 * (the endpoint is a closed port: asked, it gives -EIO). */
static void test_frontend_id_dots(void **state)
{
	char dir[] = "/tmp/tsm-unit-fe-XXXXXX", cache[64], *store_dir = NULL;
	const char *ids[] = { ".", "..", "a/b", "" };

	(void)state;
	setenv("AWS_ACCESS_KEY_ID", "unit", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "unit-secret", 1);
	unsetenv("TSMEDIA_S3_CREDENTIALS");
	assert_non_null(mkdtemp(dir));
	snprintf(cache, sizeof(cache), "%s/cache", dir);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct tsm_frontend_options o = { .url = "s3://bucket/site1",
						  .endpoint = "http://127.0.0.1:9",
						  .cache_dir = cache, .id = ids[i], .timeout = 5 };

		print_message("'%s'\n", ids[i]);
		assert_int_equal(tsm_frontend_setup(&o, &store_dir), -EINVAL);
		assert_null(store_dir);
	}
	/* A valid id goes on to ask the object store. */
	struct tsm_frontend_options ok = { .url = "s3://bucket/site1",
					   .endpoint = "http://127.0.0.1:9", .cache_dir = cache,
					   .id = "dp-01..x", .timeout = 5 };

	assert_int_equal(tsm_frontend_setup(&ok, &store_dir), -EIO);
	assert_null(store_dir);
	char cmd[96];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* A region goes into the signature's scope ("aws:amz:REGION:s3", where a
 * ':' would shift the fields), and an endpoint with a user name and
 * password in it would carry a secret on the command line and into the
 * catalog (remote_endpoint, which is published): both refused. */
static void test_config_refused(void **state)
{
	const char *regions[] = { "x:y", "eu west", "a\nb", "r/1" };
	const char *endpoints[] = { "http://key:secret@127.0.0.1:9", "https://user@host",
				    "http://host name", "http://host\r\nX: y" };
	struct tsm_s3 *s3 = NULL;

	(void)state;
	setenv("AWS_ACCESS_KEY_ID", "unit", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "unit-secret", 1);
	unsetenv("TSMEDIA_S3_CREDENTIALS");
	for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
		struct tsm_s3_config cfg = { .url = "s3://bucket/site1",
					     .endpoint = "http://127.0.0.1:9", .region = regions[i] };

		print_message("region '%s'\n", regions[i]);
		assert_int_equal(tsm_s3_new(&cfg, &s3), -EINVAL);
	}
	for (size_t i = 0; i < sizeof(endpoints) / sizeof(endpoints[0]); i++) {
		struct tsm_s3_config cfg = { .url = "s3://bucket/site1", .endpoint = endpoints[i] };

		print_message("endpoint '%s'\n", endpoints[i]);
		assert_int_equal(tsm_s3_new(&cfg, &s3), -EINVAL);
	}
	/* What the services name their regions, and endpoints with a port or
	 * a path. */
	const char *fine_regions[] = { "us-east-1", "default", "eu-central-1", "zone_group.2" };

	for (size_t i = 0; i < sizeof(fine_regions) / sizeof(fine_regions[0]); i++) {
		struct tsm_s3_config cfg = { .url = "s3://bucket/site1",
					     .endpoint = "https://s3.example.com:8443/rgw/",
					     .region = fine_regions[i] };

		assert_int_equal(tsm_s3_new(&cfg, &s3), 0);
		tsm_s3_free(s3);
	}
}

/* catalog/WRITER as tsm_remote_claim writes it, and what is refused: no
 * format line, no store id or one that is not 32 hex digits, a line
 * without its newline, a NUL; the host and the directory reach log lines
 * escaped. */
static void test_writer(void **state)
{
	struct tsm_remote_writer w;
	const char *good = "tsmedia-writer 1\nstore 27d4ce3008348c670dbcab99e438601b\n"
			   "host site\x1b[2J\ndir /var/lib/tsmedia\nsince 1764680000\nlater x\n";
	const char *bad[] = {
		"",
		"store 27d4ce3008348c670dbcab99e438601b\n",
		"tsmedia-writer 2\nstore 27d4ce3008348c670dbcab99e438601b\n",
		"tsmedia-writer 1\nhost h\n",
		"tsmedia-writer 1\nstore 27D4CE3008348C670DBCAB99E438601B\n",
		"tsmedia-writer 1\nstore 27d4ce3008348c670dbcab99e438601\n",
		"tsmedia-writer 1\nstore 27d4ce3008348c670dbcab99e438601b0\n",
		"tsmedia-writer 1\nstore 27d4ce3008348c670dbcab99e438601b",
		"tsmedia-writer 1\nnospace\nstore 27d4ce3008348c670dbcab99e438601b\n",
	};

	(void)state;
	assert_int_equal(tsm_remote_writer_parse(good, strlen(good), &w), 0);
	assert_string_equal(w.store, "27d4ce3008348c670dbcab99e438601b");
	assert_string_equal(w.host, "site\\x1b[2J");
	assert_string_equal(w.dir, "/var/lib/tsmedia");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		print_message("%zu\n", i);
		assert_int_equal(tsm_remote_writer_parse(bad[i], strlen(bad[i]), &w), -EIO);
	}
	const char nul[] = "tsmedia-writer 1\nstore 27d4ce3008348c670dbcab99e438601b\nhost a\0b\n";

	assert_int_equal(tsm_remote_writer_parse(nul, sizeof(nul) - 1, &w), -EIO);
}

/* What tsm_remote_claim writes is what its store reads back at its next
 * claim, whatever its directory is called: a newline in the name (a line
 * of its own in the file) or a name near PATH_MAX (cut short of its
 * newline in a file of TSM_REMOTE_WRITER_MAX bytes) would make its own
 * claim one "tsmedia does not make", and lock the store out of its
 * prefix. */
static void test_writer_text(void **state)
{
	static const char id[] = "27d4ce3008348c670dbcab99e438601b";
	char text[TSM_REMOTE_WRITER_MAX], dir[4096];
	struct tsm_remote_writer w;

	(void)state;
	tsm_remote_writer_text(id, "site", "/var/lib/tsmedia", 1764680000, text, sizeof(text));
	assert_int_equal(tsm_remote_writer_parse(text, strlen(text), &w), 0);
	assert_string_equal(w.store, id);
	assert_string_equal(w.host, "site");
	assert_string_equal(w.dir, "/var/lib/tsmedia");

	tsm_remote_writer_text(id, "site", "/srv/media\nstores/a", 1764680000, text,
			       sizeof(text));
	assert_int_equal(tsm_remote_writer_parse(text, strlen(text), &w), 0);
	assert_string_equal(w.store, id);
	assert_string_equal(w.dir, "/srv/media?stores/a");

	dir[0] = '/';
	memset(dir + 1, 'd', sizeof(dir) - 2);
	dir[sizeof(dir) - 1] = 0;
	tsm_remote_writer_text(id, "site", dir, 1764680000, text, sizeof(text));
	assert_int_equal(tsm_remote_writer_parse(text, strlen(text), &w), 0);
	assert_string_equal(w.store, id);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_current),
		cmocka_unit_test(test_lease),
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_url),
		cmocka_unit_test(test_list_prefix),
		cmocka_unit_test(test_uploads),
		cmocka_unit_test(test_escape),
		cmocka_unit_test(test_key_refused),
		cmocka_unit_test(test_frontend_id_dots),
		cmocka_unit_test(test_config_refused),
		cmocka_unit_test(test_writer),
		cmocka_unit_test(test_writer_text),
	};

	tsm_log_set_level(TSM_LOG_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
