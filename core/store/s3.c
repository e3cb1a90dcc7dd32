/* A small S3 client over libcurl (see s3.h).
 *
 * S3 REST API (Amazon Simple Storage Service API Reference):
 *   PutObject   https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html
 *   GetObject   https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html
 *               (Range: bytes=FIRST-LAST, RFC 9110 section 14.1.2)
 *   HeadObject  https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
 *   DeleteObject https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html
 *   ListObjectsV2 https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html
 *   CreateBucket https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html
 *   CreateMultipartUpload
 *            https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateMultipartUpload.html
 *   UploadPart https://docs.aws.amazon.com/AmazonS3/latest/API/API_UploadPart.html
 *   CompleteMultipartUpload
 *            https://docs.aws.amazon.com/AmazonS3/latest/API/API_CompleteMultipartUpload.html
 *   AbortMultipartUpload
 *            https://docs.aws.amazon.com/AmazonS3/latest/API/API_AbortMultipartUpload.html
 *   ListMultipartUploads
 *            https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListMultipartUploads.html
 *   Multipart limits (parts of 5 MiB to 5 GiB but the last, at most 10,000
 *   parts): https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html
 * Signing: SigV4 by libcurl (CURLOPT_AWS_SIGV4,
 * https://curl.se/libcurl/c/CURLOPT_AWS_SIGV4.html).  S3 needs the
 * x-amz-content-sha256 header on every signed request
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/sig-v4-header-based-auth.html);
 * curl 7.88 does not add it for S3 itself but signs it when it is given,
 * and Ceph's radosgw refuses a request without it (SignatureDoesNotMatch).
 * Integrity on upload: Content-MD5 (RFC 1864, base64 of the MD5), which S3
 * checks and refuses with BadDigest; a single-part object's ETag is the hex
 * MD5 of its bytes.  Temporary credentials: x-amz-security-token
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_use-resources.html). */
#include "store/s3.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <openssl/evp.h>

#include "tsmedia/hash.h"
#include "tsmedia/log.h"

/* The SHA-256 of no bytes: the payload hash of GET, HEAD and DELETE. */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
/* A ListObjectsV2 page is at most 1000 keys; no answer we read is larger. */
#define LIST_PAGE_MAX (4u << 20)
/* Access key ids are 16-128 characters, secrets 40 (AWS); allow room. */
#define CRED_MAX 256

struct tsm_s3 {
	CURL *curl;
	char *endpoint; /* without a trailing slash */
	char *bucket;
	char *prefix;   /* "" or "PREFIX/" */
	char *location; /* s3://BUCKET/PREFIX, for messages */
	char *sigv4;    /* aws:amz:REGION:s3 */
	char *userpwd;  /* KEY:SECRET (never logged) */
	char *token;    /* x-amz-security-token header, or NULL */
	unsigned timeout;
	unsigned deadline_ms;      /* a whole request's limit (0: none) */
	const atomic_bool *stop;   /* set: requests end at once (tsm_s3_set_stop) */
};

/* libcurl keeps copies of what it is given and of what it derives from
 * it: the "KEY:SECRET" of CURLOPT_USERPWD (its option strings, the
 * connection's user and password), SigV4's signing key material, the
 * request's headers with the session token in its buffers, and frees
 * them unwiped (test_s3_client counted 76 such blocks in four requests,
 * freed within curl_easy_perform, curl_easy_reset, curl_easy_cleanup and
 * curl_slist_free_all).  Its memory functions can be replaced before it
 * is initialised (https://curl.se/libcurl/c/curl_global_init_mem.html):
 * every block it frees or moves is wiped first.  What this cannot reach:
 * the copies libcurl holds while a handle or a kept-alive connection
 * lives (it needs them for the next request) and what it leaves in its
 * stack frames. */
static void curl_free_wiped(void *p)
{
	if (!p)
		return;
	OPENSSL_cleanse(p, malloc_usable_size(p));
	free(p);
}

static void *curl_realloc_wiped(void *p, size_t n)
{
	size_t have;
	void *q;

	if (!p)
		return malloc(n);
	if (!n) {
		curl_free_wiped(p);
		return NULL;
	}
	/* Not realloc(): it would free the old block unwiped. */
	have = malloc_usable_size(p);
	if (!(q = malloc(n)))
		return NULL;
	memcpy(q, p, have < n ? have : n);
	curl_free_wiped(p);
	return q;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_result;
static void curl_init_once(void)
{
	curl_init_result = curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, curl_free_wiped,
						curl_realloc_wiped, strdup, calloc);
}

int tsm_s3_parse_url(const char *url, char **bucket_ret, char **prefix_ret)
{
	const char *b, *slash;
	size_t blen;

	if (strncmp(url, "s3://", 5) != 0)
		goto bad;
	b = url + 5;
	slash = strchr(b, '/');
	blen = slash ? (size_t)(slash - b) : strlen(b);
	/* Bucket names: 3-63 of a-z, 0-9, '.', '-'
	 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html). */
	if (blen < 3 || blen > 63)
		goto bad;
	for (size_t i = 0; i < blen; i++)
		if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '.' ||
		      b[i] == '-'))
			goto bad;
	if (slash) {
		const char *p = slash + 1;
		size_t plen = strlen(p);

		while (plen && p[plen - 1] == '/')
			plen--;
		for (size_t i = 0; i < plen; i++)
			if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
			      (p[i] >= '0' && p[i] <= '9') || strchr("._-/", p[i])))
				goto bad;
		if (plen && (strstr(p, "//") || p[0] == '/'))
			goto bad;
		/* No "." or ".." segment: a URL path would resolve it, out of
		 * the prefix or the bucket. */
		for (size_t i = 0; i < plen;) {
			size_t seg = strcspn(p + i, "/");

			if (seg > plen - i)
				seg = plen - i;
			if ((seg == 1 && p[i] == '.') || (seg == 2 && p[i] == '.' && p[i + 1] == '.'))
				goto bad;
			i += seg + 1;
		}
		*prefix_ret = plen ? malloc(plen + 2) : strdup("");
		if (*prefix_ret && plen) {
			memcpy(*prefix_ret, p, plen);
			(*prefix_ret)[plen] = '/';
			(*prefix_ret)[plen + 1] = 0;
		}
	} else {
		*prefix_ret = strdup("");
	}
	*bucket_ret = strndup(b, blen);
	if (!*bucket_ret || !*prefix_ret) {
		free(*bucket_ret);
		free(*prefix_ret);
		return -ENOMEM;
	}
	return 0;
bad:
	tsm_error("invalid object storage location '%s': s3://BUCKET[/PREFIX] (a bucket of 3 to 63 "
		  "characters a-z, 0-9, '.' or '-'; a prefix of letters, digits and ._-/)",
		  url);
	return -EINVAL;
}

/* One line "NAME=VALUE" of the credentials file, NAME one of the
 * environment's names. */
static int cred_file_read(const char *path, char *key, char *secret, char *token)
{
	char buf[4 * CRED_MAX], *line, *save = NULL;
	struct stat st;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		int err = errno;

		tsm_error("cannot open the credentials file %s: %s", path, strerror(err));
		return -err;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		tsm_error("the credentials file %s is not a regular file", path);
		return -EINVAL;
	}
	if ((st.st_mode & 077) || st.st_uid != geteuid()) {
		close(fd);
		tsm_error("refusing the credentials file %s: it must be yours and private (chmod 600 "
			  "%s), it is mode %03o",
			  path, path, (unsigned)(st.st_mode & 0777));
		return -EPERM;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0 || (size_t)n >= sizeof(buf) - 1) {
		OPENSSL_cleanse(buf, sizeof(buf));
		tsm_error("the credentials file %s is unreadable or larger than %zu bytes", path,
			  sizeof(buf) - 2);
		return -EINVAL;
	}
	buf[n] = 0;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '='), *dst = NULL;
		size_t len = strlen(line);

		if (len && line[len - 1] == '\r')
			line[--len] = 0;
		if (!len || line[0] == '#')
			continue;
		if (!eq)
			goto bad;
		*eq = 0;
		if (strcmp(line, "AWS_ACCESS_KEY_ID") == 0)
			dst = key;
		else if (strcmp(line, "AWS_SECRET_ACCESS_KEY") == 0)
			dst = secret;
		else if (strcmp(line, "AWS_SESSION_TOKEN") == 0)
			dst = token;
		else
			goto bad;
		if (strlen(eq + 1) >= CRED_MAX)
			goto bad;
		strcpy(dst, eq + 1);
	}
	OPENSSL_cleanse(buf, sizeof(buf));
	return 0;
bad:
	OPENSSL_cleanse(buf, sizeof(buf));
	tsm_error("the credentials file %s: each line must be AWS_ACCESS_KEY_ID=, "
		  "AWS_SECRET_ACCESS_KEY= or AWS_SESSION_TOKEN= and a value",
		  path);
	return -EINVAL;
}

static int creds_get(char *key, char *secret, char *token)
{
	const char *file = getenv("TSMEDIA_S3_CREDENTIALS");
	const char *k = getenv("AWS_ACCESS_KEY_ID"), *s = getenv("AWS_SECRET_ACCESS_KEY");
	const char *t = getenv("AWS_SESSION_TOKEN");
	int rc;

	key[0] = secret[0] = token[0] = 0;
	if (file && *file) {
		if ((rc = cred_file_read(file, key, secret, token)) < 0)
			return rc;
	} else if (k && s) {
		if (strlen(k) >= CRED_MAX || strlen(s) >= CRED_MAX || (t && strlen(t) >= CRED_MAX))
			goto missing;
		strcpy(key, k);
		strcpy(secret, s);
		if (t)
			strcpy(token, t);
	}
	if (!key[0] || !secret[0] || strchr(key, ':'))
		goto missing;
	return 0;
missing:
	tsm_error("no object storage credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, "
		  "or TSMEDIA_S3_CREDENTIALS to a private file that holds them");
	return -EACCES;
}

/* @a @sep @b in a buffer of exactly their size: not asprintf(), which
 * builds its result in a working buffer that it frees unwiped. */
static char *secret_join(const char *a, const char *sep, const char *b)
{
	size_t na = strlen(a), ns = strlen(sep), nb = strlen(b);
	char *out = malloc(na + ns + nb + 1);

	if (out) {
		memcpy(out, a, na);
		memcpy(out + na, sep, ns);
		memcpy(out + na + ns, b, nb + 1);
	}
	return out;
}

int tsm_s3_new(const struct tsm_s3_config *config, struct tsm_s3 **s3_ret)
{
	char key[CRED_MAX], secret[CRED_MAX], token[CRED_MAX];
	struct tsm_s3 *s3;
	size_t elen;
	int rc;

	const char *auth = strstr(config->endpoint, "://");
	size_t auth_len = auth ? strcspn(auth + 3, "/") : 0;
	bool printable = true;

	for (const char *p = config->endpoint; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			printable = false;
	if ((strncmp(config->endpoint, "http://", 7) != 0 &&
	     strncmp(config->endpoint, "https://", 8) != 0) ||
	    !printable) {
		char shown[4 * 128 + 1];

		tsm_s3_escape(config->endpoint, strnlen(config->endpoint, 128), shown,
			      sizeof(shown));
		tsm_error("invalid object storage endpoint '%s': http://HOST[:PORT] or "
			  "https://HOST[:PORT]",
			  shown);
		return -EINVAL;
	}
	/* USER:PASSWORD@ in the endpoint would be a secret on the command line
	 * and in the catalog (remote_endpoint is published with it): refused,
	 * and not repeated in the message. */
	if (memchr(auth + 3, '@', auth_len)) {
		tsm_error("invalid object storage endpoint: it names a user or password; "
			  "credentials come only from the environment or TSMEDIA_S3_CREDENTIALS");
		return -EINVAL;
	}
	/* The region is a field of the signature's scope, "aws:amz:REGION:s3"
	 * (https://curl.se/libcurl/c/CURLOPT_AWS_SIGV4.html): a ':' would
	 * shift the fields.  AWS names them with letters, digits and '-',
	 * Ceph's zonegroups are names like "default". */
	if (config->region) {
		size_t n = strlen(config->region);

		if (n == 0 || n > 63 ||
		    strspn(config->region, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
					   "0123456789._-") != n) {
			char shown[4 * 64 + 1];

			tsm_s3_escape(config->region, strnlen(config->region, 64), shown,
				      sizeof(shown));
			tsm_error("invalid object storage region '%s': up to 63 letters, digits, "
				  "'.', '_' or '-'",
				  shown);
			return -EINVAL;
		}
	}
	pthread_once(&curl_once, curl_init_once);
	/* Without it, libcurl would start itself with the plain memory
	 * functions at the first handle, and free credentials unwiped. */
	if (curl_init_result != CURLE_OK) {
		tsm_error("cannot start libcurl: %s", curl_easy_strerror(curl_init_result));
		return -EIO;
	}
	if (!(s3 = calloc(1, sizeof(*s3))))
		return -ENOMEM;
	if ((rc = tsm_s3_parse_url(config->url, &s3->bucket, &s3->prefix)) < 0)
		goto out_free;
	if ((rc = creds_get(key, secret, token)) < 0)
		goto out_wipe;
	rc = -ENOMEM;
	elen = strlen(config->endpoint);
	while (elen && config->endpoint[elen - 1] == '/')
		elen--;
	if (!(s3->endpoint = strndup(config->endpoint, elen)) ||
	    asprintf(&s3->location, "s3://%s/%s", s3->bucket, s3->prefix) < 0 ||
	    asprintf(&s3->sigv4, "aws:amz:%s:s3", config->region && *config->region
							    ? config->region : "us-east-1") < 0 ||
	    !(s3->userpwd = secret_join(key, ":", secret)) ||
	    (token[0] && !(s3->token = secret_join("x-amz-security-token", ": ", token))))
		goto out_wipe;
	if (!(s3->curl = curl_easy_init()))
		goto out_wipe;
	s3->timeout = config->timeout ? config->timeout : 30;
	rc = 0;
	*s3_ret = s3;
out_wipe:
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(token, sizeof(token));
	if (rc < 0)
		tsm_s3_free(s3);
	return rc;
out_free:
	tsm_s3_free(s3);
	return rc;
}

void tsm_s3_free(struct tsm_s3 *s3)
{
	if (!s3)
		return;
	/* The handle's copies of the credentials (its option strings) go
	 * before the handle: freed, and so wiped (curl_free_wiped). */
	if (s3->curl) {
		curl_easy_reset(s3->curl);
		curl_easy_cleanup(s3->curl);
	}
	/* Secrets are wiped, not only freed (DESIGN.md: secrets are used, not
	 * kept): the secret key and the session token. */
	if (s3->userpwd)
		OPENSSL_cleanse(s3->userpwd, strlen(s3->userpwd));
	if (s3->token)
		OPENSSL_cleanse(s3->token, strlen(s3->token));
	free(s3->userpwd);
	free(s3->token);
	free(s3->endpoint);
	free(s3->bucket);
	free(s3->prefix);
	free(s3->location);
	free(s3->sigv4);
	free(s3);
}

const char *tsm_s3_location(const struct tsm_s3 *s3) { return s3->location; }

void tsm_s3_set_stop(struct tsm_s3 *s3, const atomic_bool *stop) { s3->stop = stop; }

void tsm_s3_set_deadline(struct tsm_s3 *s3, unsigned ms) { s3->deadline_ms = ms; }

/* Called by libcurl often while bytes move and about once a second while
 * nothing does (https://curl.se/libcurl/c/CURLOPT_XFERINFOFUNCTION.html):
 * a non-zero return ends the transfer with CURLE_ABORTED_BY_CALLBACK. */
static int stop_check(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		      curl_off_t ulnow)
{
	const atomic_bool *stop = arg;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return atomic_load(stop) ? 1 : 0;
}

/* ---- one request --------------------------------------------------------- */

struct sink {
	uint8_t *buf;     /* a fixed buffer (ranged GET) ... */
	size_t cap, len;
	bool grow;        /* ... or a growing one up to cap */
	int fd;           /* ... or a file (-1: not) */
	uint64_t written;
	uint64_t max;
	bool overflow;
	int write_err;
	/* ... or pieces handed to a function as they arrive (a 206 answer's
	 * body only): its error stops the transfer and is the result. */
	tsm_s3_piece_fn piece;
	void *piece_ctx;
	CURL *curl;
	int piece_err;
};

static size_t sink_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct sink *s = arg;
	size_t n = size * nmemb;

	if (s->piece) {
		long status = 0;

		/* Only a 206 Partial Content's body is the range asked for (RFC
		 * 9110 section 15.3.7); returning less than @n makes libcurl stop
		 * the transfer with CURLE_WRITE_ERROR
		 * (https://curl.se/libcurl/c/CURLOPT_WRITEFUNCTION.html). */
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
		if (status != 206)
			return n; /* an error's body, or the whole object: not the range */
		if (s->len + n > s->cap) {
			s->overflow = true;
			return 0;
		}
		if ((s->piece_err = s->piece(s->piece_ctx, (const uint8_t *)data, n)) < 0)
			return 0;
		s->len += n;
		return n;
	}
	if (s->fd >= 0) {
		if (s->written + n > s->max) {
			s->overflow = true;
			return 0;
		}
		for (size_t off = 0; off < n;) {
			ssize_t w = write(s->fd, data + off, n - off);

			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				s->write_err = w < 0 ? errno : EIO;
				return 0;
			}
			off += (size_t)w;
		}
		s->written += n;
		return n;
	}
	if (s->len + n > s->cap) {
		if (!s->grow) {
			s->overflow = true;
			return 0;
		}
		size_t cap = s->len + n > 2 * s->cap ? s->len + n : 2 * s->cap;
		void *p;

		if (cap > s->max) {
			s->overflow = true;
			return 0;
		}
		if (!(p = realloc(s->buf, cap + 1))) {
			s->write_err = ENOMEM;
			return 0;
		}
		s->buf = p;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, data, n);
	s->len += n;
	return n;
}

struct source {
	const uint8_t *buf; /* a buffer ... */
	int fd;             /* ... or a file from offset @base */
	uint64_t base;
	uint64_t len, pos;
	int read_err;
};

static size_t source_read(char *out, size_t size, size_t nmemb, void *arg)
{
	struct source *src = arg;
	size_t n = size * nmemb;

	if (n > src->len - src->pos)
		n = (size_t)(src->len - src->pos);
	if (!n)
		return 0;
	if (src->buf) {
		memcpy(out, src->buf + src->pos, n);
	} else {
		ssize_t r;

		do
			r = pread(src->fd, out, n, (off_t)(src->base + src->pos));
		while (r < 0 && errno == EINTR);
		if (r <= 0) {
			src->read_err = r < 0 ? errno : EIO;
			return CURL_READFUNC_ABORT;
		}
		n = (size_t)r;
	}
	src->pos += n;
	return n;
}

struct head {
	uint64_t length;
	bool have_length;
	char etag[80]; /* control characters escaped (tsm_s3_escape) */
	int64_t mtime;
	uint64_t part_size; /* x-amz-meta-tsmedia-part-size, 0: none */
};

/* User metadata of a multipart object: the part size it was uploaded
 * with, so that its ETag can be computed again from a local file
 * (x-amz-meta-*, returned by HeadObject). */
#define PART_SIZE_HEADER "x-amz-meta-tsmedia-part-size"

void tsm_s3_escape(const char *in, size_t len, char *out, size_t n)
{
	size_t o = 0;

	if (!n)
		return;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)in[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
			if (o + 1 >= n)
				break;
			out[o++] = (char)ch;
		} else {
			if (o + 4 >= n)
				break;
			snprintf(out + o, 5, "\\x%02x", ch);
			o += 4;
		}
	}
	out[o] = 0;
}

static size_t header_cb(char *line, size_t size, size_t nmemb, void *arg)
{
	struct head *h = arg;
	size_t n = size * nmemb;
	char buf[128];

	if (!h || n >= sizeof(buf))
		return n;
	memcpy(buf, line, n);
	buf[n] = 0;
	if (strncasecmp(buf, "content-length:", 15) == 0) {
		h->length = strtoull(buf + 15, NULL, 10);
		h->have_length = true;
	} else if (strncasecmp(buf, "etag:", 5) == 0) {
		const char *p = buf + 5;
		size_t i = 0;

		while (*p == ' ' || *p == '"')
			p++;
		while (p[i] && p[i] != '"' && p[i] != '\r' && p[i] != '\n')
			i++;
		/* It reaches log lines: escaped as it is read. */
		tsm_s3_escape(p, i, h->etag, sizeof(h->etag));
	} else if (strncasecmp(buf, PART_SIZE_HEADER ":", strlen(PART_SIZE_HEADER) + 1) == 0) {
		h->part_size = strtoull(buf + strlen(PART_SIZE_HEADER) + 1, NULL, 10);
	} else if (strncasecmp(buf, "last-modified:", 14) == 0) {
		/* An RFC 9110 HTTP-date, which curl parses. */
		h->mtime = (int64_t)curl_getdate(buf + 14, NULL);
	}
	return n;
}

struct request {
	const char *method; /* GET PUT POST HEAD DELETE */
	const char *key;    /* relative to the prefix; NULL: the bucket */
	const char *query;  /* NULL or "list-type=2&..." */
	const char *range;  /* NULL or "FIRST-LAST" */
	struct source *body;
	const char *payload_sha256; /* hex; NULL: of no bytes */
	const char *content_md5;    /* base64, or NULL */
	const char *extra_header;   /* one more "Name: value", or NULL */
	bool create_only;           /* If-None-Match: *; 412 is -EEXIST, quietly */
	struct sink *sink;
	struct head *head;
	long status;
};

/* libcurl's receive buffer for responses with a body. */
#define RECV_BUFFER (512L * 1024)

/* Keys we make are [A-Za-z0-9._/-] in non-empty segments other than "."
 * and "..": nothing needs escaping in the URL, and libcurl's removal of
 * dot segments (RFC 3986 section 5.2.4, which it applies to every URL it
 * is given) changes none of them.  A key that is not so (a listed one: a
 * service's words) is refused before any request: "packs/x/../../../b/k"
 * would reach another bucket. */
bool tsm_s3_key_safe(const char *key)
{
	const char *seg = key;

	if (!*key)
		return false;
	for (const char *p = key;; p++) {
		if (*p == '/' || !*p) {
			size_t n = (size_t)(p - seg);

			if (n == 0 || (n == 1 && seg[0] == '.') ||
			    (n == 2 && seg[0] == '.' && seg[1] == '.'))
				return false;
			if (!*p)
				return true;
			seg = p + 1;
		} else if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			     (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-')) {
			return false;
		}
	}
}

static int s3_perform(struct tsm_s3 *s3, struct request *rq)
{
	struct curl_slist *hdrs = NULL, *h;
	char *url = NULL, *sha_hdr = NULL, *md5_hdr = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c = s3->curl;
	CURLcode cc;
	int rc = -ENOMEM;

	if (rq->key && !tsm_s3_key_safe(rq->key)) {
		char shown[4 * 64 + 1];

		tsm_s3_escape(rq->key, strnlen(rq->key, 64), shown, sizeof(shown));
		tsm_error("%s %s: the key '%s' is not one this store makes: not sent", rq->method,
			  s3->location, shown);
		return -EINVAL;
	}
	if (s3->stop && atomic_load(s3->stop))
		return -ECANCELED;
	curl_easy_reset(c);
	if (asprintf(&url, "%s/%s/%s%s%s%s", s3->endpoint, s3->bucket, rq->key ? s3->prefix : "",
		     rq->key ? rq->key : "", rq->query ? "?" : "", rq->query ? rq->query : "") < 0) {
		url = NULL;
		goto out;
	}
	if (asprintf(&sha_hdr, "x-amz-content-sha256: %s",
		     rq->payload_sha256 ? rq->payload_sha256 : EMPTY_SHA256) < 0) {
		sha_hdr = NULL;
		goto out;
	}
	if (!(h = curl_slist_append(hdrs, sha_hdr)))
		goto out;
	hdrs = h;
	if (rq->content_md5) {
		if (asprintf(&md5_hdr, "Content-MD5: %s", rq->content_md5) < 0) {
			md5_hdr = NULL;
			goto out;
		}
		if (!(h = curl_slist_append(hdrs, md5_hdr)))
			goto out;
		hdrs = h;
	}
	if (s3->token) {
		if (!(h = curl_slist_append(hdrs, s3->token)))
			goto out;
		hdrs = h;
	}
	if (rq->extra_header) {
		if (!(h = curl_slist_append(hdrs, rq->extra_header)))
			goto out;
		hdrs = h;
	}
	/* Conditional writes: "If-None-Match: *" stores the object only if
	 * no object has its key, else 412 Precondition Failed
	 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html,
	 * RFC 9110 section 13.1.2); radosgw honours it too. */
	if (rq->create_only) {
		if (!(h = curl_slist_append(hdrs, "If-None-Match: *")))
			goto out;
		hdrs = h;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, s3->sigv4);
	curl_easy_setopt(c, CURLOPT_USERPWD, s3->userpwd);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)s3->timeout);
	/* A stalled transfer fails instead of hanging a reader. */
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)s3->timeout);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	if (s3->deadline_ms)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)s3->deadline_ms);
	if (s3->stop) {
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, stop_check);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, (void *)s3->stop);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, rq->head);
	if (rq->range)
		curl_easy_setopt(c, CURLOPT_RANGE, rq->range);
	if (strcmp(rq->method, "PUT") == 0) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		/* No wait for "100 Continue" before the body (an "Expect:" header
		 * of our own to suppress it would be signed but never sent). */
		curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, source_read);
		curl_easy_setopt(c, CURLOPT_READDATA, rq->body);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)(rq->body ? rq->body->len : 0));
	} else if (strcmp(rq->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_EXPECT_100_TIMEOUT_MS, 0L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, source_read);
		curl_easy_setopt(c, CURLOPT_READDATA, rq->body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)(rq->body ? rq->body->len : 0));
	} else if (strcmp(rq->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(rq->method, "DELETE") == 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "DELETE");
	}
	if (rq->sink) {
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, rq->sink);
		/* Bodies of megabytes: receive them in large pieces rather than
		 * libcurl's default 16 KiB, fewer recv calls and callbacks
		 * (https://curl.se/libcurl/c/CURLOPT_BUFFERSIZE.html). */
		curl_easy_setopt(c, CURLOPT_BUFFERSIZE, RECV_BUFFER);
	}
	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &rq->status);
	if (cc == CURLE_ABORTED_BY_CALLBACK && s3->stop && atomic_load(s3->stop)) {
		tsm_debug("%s %s%s: stopped", rq->method, s3->location, rq->key ? rq->key : "");
		rc = -ECANCELED;
		goto out;
	}
	/* Create-only (If-None-Match: *) and the object is there. */
	if (rq->status == 412 && rq->create_only) {
		rc = -EEXIST;
		goto out;
	}
	/* The status first: an error's body may not fit a buffer sized for
	 * the object (a 404 for a small range), which is no reason to call it
	 * anything but a 404. */
	if (rq->status == 404) {
		rc = -ENOENT;
		goto out;
	}
	/* The receiving function stopped it, and said why. */
	if (rq->sink && rq->sink->piece_err < 0) {
		rc = rq->sink->piece_err;
		goto out;
	}
	if (cc != CURLE_OK && !(rq->sink && rq->sink->overflow) &&
	    (rq->status >= 200 && rq->status <= 299 ? true : rq->status == 0)) {
		tsm_error("%s %s%s: %s", rq->method, s3->location, rq->key ? rq->key : "",
			  errbuf[0] ? errbuf : curl_easy_strerror(cc));
		rc = -EIO;
		goto out;
	}
	if (rq->sink && rq->sink->overflow && rq->status >= 200 && rq->status <= 299) {
		tsm_error("%s %s%s: the answer is larger than expected", rq->method, s3->location,
			  rq->key ? rq->key : "");
		rc = -EFBIG;
		goto out;
	}
	if (rq->status < 200 || rq->status > 299) {
		const char *body = "";
		char shown[4 * 120 + 1] = "";

		/* S3 explains a refusal in an XML body; its Code is enough. */
		if (rq->sink && rq->sink->fd < 0 && rq->sink->buf && rq->sink->len) {
			rq->sink->buf[rq->sink->len < rq->sink->cap ? rq->sink->len
								    : rq->sink->cap - 1] = 0;
			body = (const char *)rq->sink->buf;
			const char *code = strstr(body, "<Code>");

			if (code)
				body = code;
			/* The service's words reach a log line: no control
			 * characters of theirs (a forged line, a terminal's
			 * escape sequence). */
			tsm_s3_escape(body, strnlen(body, 120), shown, sizeof(shown));
		}
		tsm_error("%s %s%s: HTTP status %ld %s", rq->method, s3->location,
			  rq->key ? rq->key : "", rq->status, shown);
		rc = rq->status == 403 ? -EACCES : -EIO;
		goto out;
	}
	rc = 0;
out:
	/* The handle lets go of the credentials between requests (its copies
	 * freed, and so wiped), and of the header list freed below. */
	curl_easy_reset(c);
	curl_slist_free_all(hdrs);
	free(url);
	free(sha_hdr);
	free(md5_hdr);
	return rc;
}

/* ---- objects ------------------------------------------------------------- */

static int digest_source(struct source *src, char sha_hex[TSM_SHA256_HEX_LEN + 1],
			 char md5_b64[32], char md5_hex[33], uint8_t md5_raw[16])
{
	EVP_MD_CTX *sha = EVP_MD_CTX_new(), *md5 = EVP_MD_CTX_new();
	uint8_t buf[1 << 16], d[EVP_MAX_MD_SIZE];
	unsigned dlen;
	int rc = -EIO;

	if (!sha || !md5 || !EVP_DigestInit_ex(sha, EVP_sha256(), NULL) ||
	    !EVP_DigestInit_ex(md5, EVP_md5(), NULL))
		goto out;
	for (uint64_t off = 0; off < src->len;) {
		size_t n = src->len - off < sizeof(buf) ? (size_t)(src->len - off) : sizeof(buf);
		const void *p = buf;

		if (src->buf) {
			p = src->buf + off;
		} else {
			ssize_t r = pread(src->fd, buf, n, (off_t)(src->base + off));

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				rc = r < 0 ? -errno : -EIO;
				goto out;
			}
			n = (size_t)r;
		}
		if (!EVP_DigestUpdate(sha, p, n) || !EVP_DigestUpdate(md5, p, n))
			goto out;
		off += n;
	}
	if (!EVP_DigestFinal_ex(sha, d, &dlen))
		goto out;
	tsm_hex_encode(d, dlen, sha_hex);
	if (!EVP_DigestFinal_ex(md5, d, &dlen))
		goto out;
	tsm_hex_encode(d, dlen, md5_hex);
	EVP_EncodeBlock((unsigned char *)md5_b64, d, (int)dlen);
	if (md5_raw)
		memcpy(md5_raw, d, 16);
	rc = 0;
out:
	EVP_MD_CTX_free(sha);
	EVP_MD_CTX_free(md5);
	return rc;
}

static int s3_put_single(struct tsm_s3 *s3, const char *key, struct source *src,
			 bool create_only)
{
	char sha_hex[TSM_SHA256_HEX_LEN + 1], md5_b64[32], md5_hex[33];
	struct head head = { 0 };
	uint8_t errbody[512];
	struct sink sink = { .buf = errbody, .cap = sizeof(errbody), .fd = -1 };
	struct request rq = { .method = "PUT", .key = key, .body = src, .sink = &sink };
	int rc;

	if ((rc = digest_source(src, sha_hex, md5_b64, md5_hex, NULL)) < 0) {
		tsm_error("cannot read what to upload as %s%s: %s", s3->location, key,
			  strerror(-rc));
		return rc;
	}
	rq.payload_sha256 = sha_hex;
	rq.content_md5 = md5_b64;
	rq.create_only = create_only;
	if ((rc = s3_perform(s3, &rq)) < 0)
		return rc;
	if (src->read_err) {
		tsm_error("cannot read what to upload as %s%s: %s", s3->location, key,
			  strerror(src->read_err));
		return -src->read_err;
	}
	/* The service checked both digests before storing; see that it did
	 * store this object, whole. */
	struct request hq = { .method = "HEAD", .key = key, .head = &head };

	if ((rc = s3_perform(s3, &hq)) < 0) {
		if (rc == -ENOENT)
			tsm_error("%s%s is missing right after its upload", s3->location, key);
		return rc == -ENOENT ? -EIO : rc;
	}
	if (!head.have_length || head.length != src->len ||
	    (strchr(head.etag, '-') == NULL && strcasecmp(head.etag, md5_hex) != 0)) {
		tsm_error("%s%s does not hold what was uploaded (%llu bytes, MD5 %s; the service "
			  "says %llu bytes, ETag %s)",
			  s3->location, key, (unsigned long long)src->len, md5_hex,
			  (unsigned long long)head.length, head.etag);
		return -EIO;
	}
	return 0;
}

static int query_escape(const char *in, char *out, size_t n);

/* ---- multipart uploads ------------------------------------------------------ */

/* Objects larger than a part go up in parts of PART_DEFAULT: a failed part
 * is sent again alone, and no single request carries a whole 1 GiB pack.
 * S3's limits: parts of 5 MiB to 5 GiB (the last may be smaller), at most
 * 10,000 of them (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html). */
#define PART_DEFAULT (64ull << 20)
#define PART_MIN (5ull << 20)
#define PART_MAX (5ull << 30)
#define PARTS_MAX 10000u
/* Tries of one part (a connection reset, a 5xx). */
#define PART_TRIES 3
/* An answer about an upload (its id, a completion) is small. */
#define MPU_ANSWER_MAX (64u << 10)

/* The part size: PART_DEFAULT, or TSMEDIA_S3_PART_SIZE (bytes; not
 * documented for users: the tests lower it to exercise multipart uploads
 * with small packs). */
static int part_size_get(uint64_t len, uint64_t *part_ret)
{
	const char *env = getenv("TSMEDIA_S3_PART_SIZE");
	uint64_t part = PART_DEFAULT;

	if (env && *env) {
		char *end;

		errno = 0;
		part = strtoull(env, &end, 10);
		if (errno || *end || env[0] < '0' || env[0] > '9' || part < PART_MIN ||
		    part > PART_MAX) {
			tsm_error("invalid TSMEDIA_S3_PART_SIZE '%s': a number of bytes from %llu to "
				  "%llu",
				  env, (unsigned long long)PART_MIN, (unsigned long long)PART_MAX);
			return -EINVAL;
		}
	}
	/* At most PARTS_MAX parts: larger parts for a larger object. */
	if (len / part >= PARTS_MAX)
		part = len / (PARTS_MAX - 1) + 1;
	*part_ret = part;
	return 0;
}

/* The ETag S3 and radosgw give an object completed from parts: the hex
 * MD5 of the parts' binary MD5s one after the other, "-", the number of
 * parts.  AWS calls ETags opaque (CompleteMultipartUpload's "ETag": "may
 * or may not be an MD5 digest of the object data"); the services this
 * store runs on compute it so, and an ETag of another shape is not
 * compared (etag_is_multipart). */
static void etag_of_parts(const uint8_t *md5s, size_t nparts, char out[48])
{
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned dlen = 0;
	char hex[33];

	EVP_Digest(md5s, nparts * 16, d, &dlen, EVP_md5(), NULL);
	tsm_hex_encode(d, 16, hex);
	snprintf(out, 48, "%s-%zu", hex, nparts);
}

/* "HEX32-N": the shape etag_of_parts gives. */
static bool etag_is_multipart(const char *etag)
{
	size_t i;

	for (i = 0; i < 32; i++)
		if (!((etag[i] >= '0' && etag[i] <= '9') || (etag[i] >= 'a' && etag[i] <= 'f') ||
		      (etag[i] >= 'A' && etag[i] <= 'F')))
			return false;
	if (etag[32] != '-' || !etag[33])
		return false;
	for (i = 33; etag[i]; i++)
		if (etag[i] < '0' || etag[i] > '9')
			return false;
	return true;
}

/* The text of the first element @name anywhere under @node. */
static bool xml_find_text(xmlNode *node, const char *name, char *buf, size_t n)
{
	for (xmlNode *c = node; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE)
			continue;
		if (strcmp((const char *)c->name, name) == 0) {
			xmlChar *t = xmlNodeGetContent(c);

			snprintf(buf, n, "%s", t ? (const char *)t : "");
			xmlFree(t);
			return true;
		}
		if (xml_find_text(c->children, name, buf, n))
			return true;
	}
	return false;
}

/* An XML answer of the service whose root element must be @root_name:
 * the document (to free with xmlFreeDoc) and its root, or NULL.  No
 * network, entities or DTD: S3's answers are plain elements. */
static xmlDoc *s3_xml_read(const char *xml, size_t len, const char *root_name,
			   xmlNode **root_ret)
{
	xmlDoc *doc;
	xmlNode *root;

	if (len > INT32_MAX)
		return NULL;
	doc = xmlReadMemory(xml, (int)len, "answer.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return NULL;
	root = xmlDocGetRootElement(doc);
	if (!root || strcmp((const char *)root->name, root_name) != 0) {
		xmlFreeDoc(doc);
		return NULL;
	}
	*root_ret = root;
	return doc;
}

/* Parses an answer whose root must be @root; copies the text of @field
 * (when not NULL) into @buf.  -EIO when it is anything else (an <Error>
 * document in a 200 answer: CompleteMultipartUpload sends one so). */
static int mpu_answer(const uint8_t *xml, size_t len, const char *root_name, const char *field,
		      char *buf, size_t n)
{
	xmlDoc *doc;
	xmlNode *root;
	int rc = -EIO;

	if (!len || len > MPU_ANSWER_MAX)
		return -EIO;
	if (!(doc = s3_xml_read((const char *)xml, len, root_name, &root)))
		return -EIO;
	if (!field || (xml_find_text(root->children, field, buf, n) && buf[0]))
		rc = 0;
	xmlFreeDoc(doc);
	return rc;
}

static void mpu_abort(struct tsm_s3 *s3, const char *key, const char *esc_id)
{
	char query[3300];
	struct request rq = { .method = "DELETE", .key = key, .query = query };

	snprintf(query, sizeof(query), "uploadId=%s", esc_id);
	if (s3_perform(s3, &rq) == 0)
		tsm_info("aborted the incomplete upload of %s%s", s3->location, key);
}

static int s3_put_multipart(struct tsm_s3 *s3, const char *key, struct source *src,
			    uint64_t part)
{
	size_t nparts = (size_t)((src->len + part - 1) / part);
	char upload_id[1024], esc_id[3200] = "", query[3400], meta[96], shown[4 * 64 + 1];
	char etag[48], *xml = NULL;
	uint8_t *md5s = NULL;
	struct sink sink = { .grow = true, .fd = -1, .max = MPU_ANSWER_MAX };
	struct source none = { .buf = (const uint8_t *)"", .fd = -1 };
	struct request rq = { .method = "POST", .key = key, .query = "uploads=", .body = &none,
			      .sink = &sink, .extra_header = meta };
	size_t xml_len = 0, xml_cap;
	struct head head = { 0 };
	int rc;

	/* 1. CreateMultipartUpload: POST KEY?uploads, the answer names the
	 * upload.  The part size is kept with the object (user metadata) so
	 * that verify and push can compute its ETag again. */
	snprintf(meta, sizeof(meta), PART_SIZE_HEADER ": %llu", (unsigned long long)part);
	if (!(sink.buf = malloc(4097)))
		return -ENOMEM;
	sink.cap = 4096;
	rc = s3_perform(s3, &rq);
	if (rc == 0 && mpu_answer(sink.buf, sink.len, "InitiateMultipartUploadResult", "UploadId",
				  upload_id, sizeof(upload_id)) < 0) {
		tsm_error("POST %s%s?uploads: the answer names no upload", s3->location, key);
		rc = -EIO;
	}
	free(sink.buf);
	if (rc < 0)
		return rc;
	if ((rc = query_escape(upload_id, esc_id, sizeof(esc_id))) < 0)
		goto out_abort;
	rc = -ENOMEM;
	xml_cap = 128 + nparts * 128;
	if (!(md5s = malloc(nparts * 16)) || !(xml = malloc(xml_cap)))
		goto out_abort;
	xml_len += (size_t)snprintf(xml, xml_cap, "<CompleteMultipartUpload>");

	/* 2. UploadPart: PUT KEY?partNumber=N&uploadId=ID, each part with its
	 * Content-MD5 and signed SHA-256, checked by the service before it
	 * keeps the part; its ETag must be the part's MD5. */
	for (size_t i = 0; i < nparts; i++) {
		uint64_t off = (uint64_t)i * part;
		struct source ps = { .buf = src->buf ? src->buf + off : NULL, .fd = src->fd,
				     .base = src->base + off,
				     .len = src->len - off < part ? src->len - off : part };
		char sha_hex[TSM_SHA256_HEX_LEN + 1], md5_b64[32], md5_hex[33];

		if (ps.buf)
			ps.base = 0;
		if ((rc = digest_source(&ps, sha_hex, md5_b64, md5_hex, md5s + 16 * i)) < 0) {
			tsm_error("cannot read what to upload as %s%s: %s", s3->location, key,
				  strerror(-rc));
			goto out_abort;
		}
		snprintf(query, sizeof(query), "partNumber=%zu&uploadId=%s", i + 1, esc_id);
		for (int t = 0; t < PART_TRIES; t++) {
			uint8_t errbody[512];
			struct sink es = { .buf = errbody, .cap = sizeof(errbody), .fd = -1 };
			struct head ph = { 0 };
			struct request pq = { .method = "PUT", .key = key, .query = query, .body = &ps,
					      .sink = &es, .head = &ph, .payload_sha256 = sha_hex,
					      .content_md5 = md5_b64 };

			ps.pos = 0;
			ps.read_err = 0;
			rc = s3_perform(s3, &pq);
			if (rc == 0 && ps.read_err) {
				tsm_error("cannot read what to upload as %s%s: %s", s3->location, key,
					  strerror(ps.read_err));
				rc = -ps.read_err;
				goto out_abort;
			}
			if (rc == 0 && strcasecmp(ph.etag, md5_hex) != 0) {
				tsm_error("%s%s part %zu: the service says ETag %s, the part's MD5 is %s",
					  s3->location, key, i + 1, ph.etag, md5_hex);
				rc = -EIO;
			}
			if (rc == 0 || rc == -EACCES)
				break;
			if (t + 1 < PART_TRIES)
				usleep(400000u << t);
		}
		if (rc < 0)
			goto out_abort;
		xml_len += (size_t)snprintf(xml + xml_len, xml_cap - xml_len,
					    "<Part><PartNumber>%zu</PartNumber><ETag>\"%s\"</ETag></Part>",
					    i + 1, md5_hex);
	}
	xml_len += (size_t)snprintf(xml + xml_len, xml_cap - xml_len, "</CompleteMultipartUpload>");

	/* 3. CompleteMultipartUpload: POST KEY?uploadId=ID with the parts'
	 * list.  A 200 answer may still be an <Error> document (the API
	 * reference says so): only a CompleteMultipartUploadResult counts. */
	{
		char sha_hex[TSM_SHA256_HEX_LEN + 1], md5_b64[32], md5_hex[33];
		struct source body = { .buf = (const uint8_t *)xml, .fd = -1, .len = xml_len };
		struct sink cs = { .grow = true, .fd = -1, .max = MPU_ANSWER_MAX };
		struct request cq = { .method = "POST", .key = key, .query = query, .body = &body,
				      .sink = &cs, .payload_sha256 = sha_hex,
				      .content_md5 = md5_b64,
				      .extra_header = "Content-Type: application/xml" };

		if ((rc = digest_source(&body, sha_hex, md5_b64, md5_hex, NULL)) < 0)
			goto out_abort;
		snprintf(query, sizeof(query), "uploadId=%s", esc_id);
		if (!(cs.buf = malloc(4097))) {
			rc = -ENOMEM;
			goto out_abort;
		}
		cs.cap = 4096;
		rc = s3_perform(s3, &cq);
		if (rc == 0 && mpu_answer(cs.buf, cs.len, "CompleteMultipartUploadResult", NULL, NULL,
					  0) < 0) {
			cs.buf[cs.len < cs.cap ? cs.len : cs.cap - 1] = 0;
			tsm_s3_escape((const char *)cs.buf, strnlen((const char *)cs.buf, 64), shown,
				      sizeof(shown));
			tsm_error("completing the upload of %s%s failed: %s", s3->location, key,
				  shown);
			rc = -EIO;
		}
		free(cs.buf);
		if (rc < 0)
			goto out_abort;
	}

	/* 4. The object as the service now holds it: its size, and its ETag
	 * against the parts' MD5s. */
	etag_of_parts(md5s, nparts, etag);
	struct request hq = { .method = "HEAD", .key = key, .head = &head };

	if ((rc = s3_perform(s3, &hq)) < 0) {
		if (rc == -ENOENT)
			tsm_error("%s%s is missing right after its upload", s3->location, key);
		rc = rc == -ENOENT ? -EIO : rc;
		goto out;
	}
	if (!head.have_length || head.length != src->len ||
	    (etag_is_multipart(head.etag) && strcasecmp(head.etag, etag) != 0)) {
		tsm_error("%s%s does not hold what was uploaded (%llu bytes, ETag %s; the service "
			  "says %llu bytes, ETag %s)",
			  s3->location, key, (unsigned long long)src->len, etag,
			  (unsigned long long)head.length, head.etag);
		rc = -EIO;
	}
	goto out;
out_abort:
	/* AbortMultipartUpload: DELETE KEY?uploadId=ID frees the parts; if
	 * that fails too, gc aborts the upload once it is stale. */
	if (esc_id[0])
		mpu_abort(s3, key, esc_id);
out:
	free(md5s);
	free(xml);
	return rc;
}

static int s3_put(struct tsm_s3 *s3, const char *key, struct source *src)
{
	uint64_t part;
	int rc;

	if ((rc = part_size_get(src->len, &part)) < 0)
		return rc;
	return src->len > part ? s3_put_multipart(s3, key, src, part)
			       : s3_put_single(s3, key, src, false);
}

/* The ETag @key should have if it holds the @len bytes of @fd, uploaded
 * whole (the MD5) or in parts of @part bytes. */
static int etag_of_fd(int fd, uint64_t len, uint64_t part, char out[48])
{
	size_t nparts = part ? (size_t)((len + part - 1) / part) : 1;
	uint8_t *md5s;
	int rc = 0;

	if (part && (part < PART_MIN || part > PART_MAX || nparts > PARTS_MAX || nparts < 2))
		return -EINVAL;
	if (!(md5s = malloc(nparts * 16)))
		return -ENOMEM;
	for (size_t i = 0; i < nparts && rc == 0; i++) {
		uint64_t off = part ? (uint64_t)i * part : 0;
		struct source ps = { .fd = fd, .base = off,
				     .len = part && len - off > part ? part : len - off };
		char sha_hex[TSM_SHA256_HEX_LEN + 1], md5_b64[32], md5_hex[33];

		rc = digest_source(&ps, sha_hex, md5_b64, md5_hex, md5s + 16 * i);
		if (rc == 0 && !part)
			snprintf(out, 48, "%s", md5_hex);
	}
	if (rc == 0 && part)
		etag_of_parts(md5s, nparts, out);
	free(md5s);
	return rc;
}

int tsm_s3_object_same(struct tsm_s3 *s3, const char *key, int fd, uint64_t len, bool *same_ret,
		       char *want, char *got, size_t got_len, uint64_t *size_ret)
{
	struct head head = { 0 };
	struct request rq = { .method = "HEAD", .key = key, .head = &head };
	int rc = s3_perform(s3, &rq);

	*same_ret = false;
	want[0] = 0;
	if (rc < 0)
		return rc;
	snprintf(got, got_len, "%s", head.etag);
	*size_ret = head.length;
	if (head.length != len)
		return 0;
	/* A multipart object names its part size (s3_put_multipart); one
	 * without it was not uploaded here whole and cannot be compared. */
	if (strchr(head.etag, '-') && !head.part_size)
		return 0;
	rc = etag_of_fd(fd, len, strchr(head.etag, '-') ? head.part_size : 0, want);
	if (rc == -EINVAL)
		return 0;
	if (rc < 0)
		return rc;
	*same_ret = strcasecmp(want, head.etag) == 0;
	return 0;
}

int tsm_s3_put_fd(struct tsm_s3 *s3, const char *key, int fd, uint64_t len)
{
	struct source src = { .fd = fd, .len = len };

	return s3_put(s3, key, &src);
}

int tsm_s3_put_buf(struct tsm_s3 *s3, const char *key, const void *buf, size_t len)
{
	struct source src = { .buf = buf, .fd = -1, .len = len };

	return s3_put(s3, key, &src);
}

int tsm_s3_create_buf(struct tsm_s3 *s3, const char *key, const void *buf, size_t len)
{
	struct source src = { .buf = buf, .fd = -1, .len = len };

	return s3_put_single(s3, key, &src, true);
}

/* A ranged GET of @len bytes at @offset into @sink: the answer must be 206
 * with exactly the range (a 200 would be the whole object). */
static int s3_get_range_into(struct tsm_s3 *s3, const char *key, uint64_t offset, uint64_t len,
			     struct sink *sink)
{
	struct request rq = { .method = "GET", .key = key, .sink = sink };
	char range[64];
	int rc;

	if (!len)
		return 0;
	snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)offset,
		 (unsigned long long)(offset + len - 1));
	rq.range = range;
	if ((rc = s3_perform(s3, &rq)) < 0)
		return rc;
	if (rq.status != 206 || sink->len != len) {
		tsm_error("GET %s%s bytes %s: %zu bytes (HTTP status %ld), expected %zu",
			  s3->location, key, range, sink->len, rq.status, (size_t)len);
		return -EIO;
	}
	return 0;
}

int tsm_s3_get_range(struct tsm_s3 *s3, const char *key, uint64_t offset, size_t len, void *buf)
{
	struct sink sink = { .buf = buf, .cap = len, .fd = -1 };

	return s3_get_range_into(s3, key, offset, len, &sink);
}

int tsm_s3_get_range_pieces(struct tsm_s3 *s3, const char *key, uint64_t offset, uint64_t len,
			    tsm_s3_piece_fn fn, void *ctx)
{
	struct sink sink = { .cap = len, .fd = -1, .piece = fn, .piece_ctx = ctx, .curl = s3->curl };

	return s3_get_range_into(s3, key, offset, len, &sink);
}

int tsm_s3_get_fd(struct tsm_s3 *s3, const char *key, int fd, uint64_t max, uint64_t *len_ret)
{
	uint8_t errbody[512];
	struct sink sink = { .fd = fd, .max = max };
	struct request rq = { .method = "GET", .key = key, .sink = &sink };
	int rc;

	(void)errbody;
	if ((rc = s3_perform(s3, &rq)) < 0)
		return rc;
	if (sink.write_err) {
		tsm_error("GET %s%s: cannot write it: %s", s3->location, key,
			  strerror(sink.write_err));
		return -sink.write_err;
	}
	*len_ret = sink.written;
	return 0;
}

int tsm_s3_get_small(struct tsm_s3 *s3, const char *key, size_t max, char **buf_ret,
		     size_t *len_ret)
{
	struct sink sink = { .grow = true, .fd = -1, .max = max };
	struct request rq = { .method = "GET", .key = key, .sink = &sink };
	int rc;

	sink.buf = malloc(1025);
	sink.cap = 1024;
	if (!sink.buf)
		return -ENOMEM;
	if ((rc = s3_perform(s3, &rq)) < 0 || (rc = -sink.write_err) < 0) {
		free(sink.buf);
		return rc;
	}
	sink.buf[sink.len] = 0;
	*buf_ret = (char *)sink.buf;
	*len_ret = sink.len;
	return 0;
}

int tsm_s3_delete(struct tsm_s3 *s3, const char *key)
{
	struct request rq = { .method = "DELETE", .key = key };
	int rc = s3_perform(s3, &rq);

	return rc == -ENOENT ? 0 : rc;
}

int tsm_s3_head(struct tsm_s3 *s3, const char *key, uint64_t *size_ret, int64_t *mtime_ret)
{
	struct head head = { 0 };
	struct request rq = { .method = "HEAD", .key = key, .head = &head };
	int rc = s3_perform(s3, &rq);

	if (rc < 0)
		return rc;
	if (size_ret)
		*size_ret = head.length;
	if (mtime_ret)
		*mtime_ret = head.mtime;
	return 0;
}

int tsm_s3_bucket_ensure(struct tsm_s3 *s3)
{
	struct head head = { 0 };
	struct request hq = { .method = "HEAD", .head = &head };
	struct source empty = { .buf = (const uint8_t *)"", .fd = -1 };
	uint8_t errbody[512];
	struct sink sink = { .buf = errbody, .cap = sizeof(errbody), .fd = -1 };
	struct request rq = { .method = "PUT", .body = &empty, .sink = &sink };
	int rc = s3_perform(s3, &hq);

	if (rc != -ENOENT)
		return rc;
	return s3_perform(s3, &rq);
}

/* ---- listing --------------------------------------------------------------- */

static const char *child_text(xmlNode *parent, const char *name, char *buf, size_t n)
{
	for (xmlNode *c = parent->children; c; c = c->next) {
		if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, name) != 0)
			continue;
		xmlChar *t = xmlNodeGetContent(c);

		snprintf(buf, n, "%s", t ? (const char *)t : "");
		xmlFree(t);
		return buf;
	}
	return NULL;
}

int tsm_s3_list_parse(const char *xml, size_t len, size_t prefix_len, tsm_s3_list_fn fn,
		      void *ctx, bool *truncated_ret, char **token_ret)
{
	return tsm_s3_list_parse_prefix(xml, len, "", prefix_len, fn, ctx, truncated_ret,
					token_ret);
}

int tsm_s3_list_parse_prefix(const char *xml, size_t len, const char *want, size_t prefix_len,
			     tsm_s3_list_fn fn, void *ctx, bool *truncated_ret, char **token_ret)
{
	size_t want_len = strlen(want);

	char key[1024], size[32], date[64], trunc[16], token[1024];
	xmlDoc *doc;
	xmlNode *root;
	int rc = 0;

	*truncated_ret = false;
	*token_ret = NULL;
	if (len > LIST_PAGE_MAX || !(doc = s3_xml_read(xml, len, "ListBucketResult", &root)))
		return -EIO;
	for (xmlNode *c = root->children; c && rc == 0; c = c->next) {
		char *end;
		unsigned long long sz;

		if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "Contents") != 0)
			continue;
		if (!child_text(c, "Key", key, sizeof(key)) ||
		    !child_text(c, "Size", size, sizeof(size)) || strlen(key) < prefix_len) {
			rc = -EIO;
			break;
		}
		/* Only keys under what was asked for: a listing that names
		 * others (a broken or hostile service) is not believed. */
		if (strncmp(key, want, want_len) != 0) {
			char shown[4 * 64 + 1];

			tsm_s3_escape(key, strnlen(key, 64), shown, sizeof(shown));
			tsm_error("a listing of %s names the key %s, which is not under it", want,
				  shown);
			rc = -EIO;
			break;
		}
		errno = 0;
		sz = strtoull(size, &end, 10);
		if (errno || size[0] < '0' || size[0] > '9' || *end) {
			rc = -EIO;
			break;
		}
		int64_t mtime = 0;

		if (child_text(c, "LastModified", date, sizeof(date))) {
			struct tm tm = { 0 };
			char *p = strptime(date, "%Y-%m-%dT%H:%M:%S", &tm);

			if (p)
				mtime = (int64_t)timegm(&tm);
		}
		rc = fn(ctx, key + prefix_len, sz, mtime);
	}
	if (rc == 0 && child_text(root, "IsTruncated", trunc, sizeof(trunc)) &&
	    strcmp(trunc, "true") == 0) {
		if (!child_text(root, "NextContinuationToken", token, sizeof(token)) || !token[0]) {
			rc = -EIO;
			goto out;
		}
		*truncated_ret = true;
		if (!(*token_ret = strdup(token)))
			rc = -ENOMEM;
	}
out:
	xmlFreeDoc(doc);
	return rc;
}

/* Percent-encodes @in into @out for a query value (RFC 3986 unreserved
 * characters stay). */
static int query_escape(const char *in, char *out, size_t n)
{
	size_t o = 0;

	for (; *in; in++) {
		unsigned char ch = (unsigned char)*in;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
		    strchr("-._~", ch)) {
			if (o + 1 >= n)
				return -E2BIG;
			out[o++] = (char)ch;
		} else {
			if (o + 3 >= n)
				return -E2BIG;
			snprintf(out + o, 4, "%%%02X", ch);
			o += 3;
		}
	}
	out[o] = 0;
	return 0;
}

/* Pages of one listing at most (of 1000 keys each: ten million objects);
 * a service that keeps answering "truncated" is not followed forever. */
#define LIST_PAGES_MAX 10000

/* The continuation tokens (or markers) one listing was given, by their
 * SHA-256: a token given again means the service leads back to a page it
 * gave already (A, B, A, ...), which it would do forever; ListObjectsV2
 * says only that a token continues where its page ended
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html,
 * NextContinuationToken), so a repeated one can only be a cycle.  An open
 * hash table, grown at half full. */
struct token_seen {
	struct token_slot {
		uint8_t hash[TSM_SHA256_LEN];
		unsigned page; /* 0: empty */
	} *slots;
	size_t cap, n;
};

static void token_seen_free(struct token_seen *t) { free(t->slots); }

static size_t token_slot_of(const uint8_t hash[TSM_SHA256_LEN], size_t cap)
{
	uint64_t v;

	memcpy(&v, hash, sizeof(v));
	return (size_t)v & (cap - 1);
}

/* 0 and the page that gave @token before in *@page_ret, or 0 when it is
 * new (and now remembered as page @page); -ENOMEM. */
static int token_seen_add(struct token_seen *t, const char *token, unsigned page,
			  unsigned *page_ret)
{
	uint8_t h[TSM_SHA256_LEN];
	size_t i;

	*page_ret = 0;
	if (t->n + 1 > t->cap / 2) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		struct token_slot *slots = calloc(cap, sizeof(*slots));

		if (!slots)
			return -ENOMEM;
		for (size_t k = 0; k < t->cap; k++) {
			if (!t->slots[k].page)
				continue;
			for (i = token_slot_of(t->slots[k].hash, cap); slots[i].page;
			     i = (i + 1) & (cap - 1))
				;
			slots[i] = t->slots[k];
		}
		free(t->slots);
		t->slots = slots;
		t->cap = cap;
	}
	tsm_sha256(token, strlen(token), h);
	for (i = token_slot_of(h, t->cap); t->slots[i].page; i = (i + 1) & (t->cap - 1))
		if (memcmp(t->slots[i].hash, h, sizeof(h)) == 0) {
			*page_ret = t->slots[i].page;
			return 0;
		}
	memcpy(t->slots[i].hash, h, sizeof(h));
	t->slots[i].page = page;
	t->n++;
	return 0;
}

/* "&max-keys=N" when TSMEDIA_S3_LIST_KEYS asks for pages of N (1-1000)
 * keys (not documented for users: the tests make a service page its
 * listings), else "" (the service's 1000). */
static void list_max_keys(char out[32])
{
	const char *env = getenv("TSMEDIA_S3_LIST_KEYS");
	char *end;
	long n;

	out[0] = 0;
	if (!env || !*env)
		return;
	n = strtol(env, &end, 10);
	if (!*end && n >= 1 && n <= 1000)
		snprintf(out, 32, "&max-keys=%ld", n);
}

int tsm_s3_list(struct tsm_s3 *s3, const char *prefix, tsm_s3_list_fn fn, void *ctx)
{
	char full[1024], esc[3200], etoken[3200], *token = NULL, *query = NULL;
	char max_keys[32];
	struct token_seen seen = { 0 };
	size_t plen = strlen(s3->prefix);
	unsigned pages = 0, before;
	int rc;

	snprintf(full, sizeof(full), "%s%s", s3->prefix, prefix);
	if ((rc = query_escape(full, esc, sizeof(esc))) < 0)
		return rc;
	list_max_keys(max_keys);
	for (;;) {
		if (++pages > LIST_PAGES_MAX) {
			tsm_error("listing %s%s: more than %d pages, stopped", s3->location, prefix,
				  LIST_PAGES_MAX);
			rc = -EIO;
			break;
		}
		struct sink sink = { .grow = true, .fd = -1, .max = LIST_PAGE_MAX };
		struct request rq = { .method = "GET", .sink = &sink };
		bool truncated;

		if (token && (rc = query_escape(token, etoken, sizeof(etoken))) < 0)
			break;
		/* Query parameters in alphabetical order, as SigV4's canonical
		 * query string has them. */
		if (asprintf(&query, "%s%s%slist-type=2%s&prefix=%s",
			     token ? "continuation-token=" : "", token ? etoken : "", token ? "&" : "",
			     max_keys, esc) < 0) {
			query = NULL;
			rc = -ENOMEM;
			break;
		}
		rq.query = query;
		free(token);
		token = NULL;
		if (!(sink.buf = malloc(4097))) {
			rc = -ENOMEM;
			break;
		}
		sink.cap = 4096;
		rc = s3_perform(s3, &rq);
		if (rc == 0)
			rc = tsm_s3_list_parse_prefix((const char *)sink.buf, sink.len, full, plen, fn,
						      ctx, &truncated, &token);
		if (rc == -EIO && rq.status >= 200 && rq.status <= 299)
			tsm_error("GET %s?%s: not a listing of objects", s3->location, query);
		free(sink.buf);
		free(query);
		query = NULL;
		if (rc < 0 || !truncated)
			break;
		/* A token given before (the same one again, or a cycle of
		 * them) would list the same pages again, forever. */
		if ((rc = token_seen_add(&seen, token, pages, &before)) < 0)
			break;
		if (before) {
			tsm_error("listing %s%s: page %u gave the continuation token page %u gave "
				  "(the service leads in a cycle): stopped",
				  s3->location, prefix, pages, before);
			rc = -EIO;
			break;
		}
	}
	free(token);
	token_seen_free(&seen);
	return rc;
}

/* ---- incomplete multipart uploads ---------------------------------------- */

int tsm_s3_uploads_parse(const char *xml, size_t len, const char *want, size_t prefix_len,
			 tsm_s3_upload_fn fn, void *ctx, bool *truncated_ret, char **key_marker_ret,
			 char **id_marker_ret)
{
	char key[1024], id[1024], date[64], trunc[16], km[1024], im[1024];
	size_t want_len = strlen(want);
	xmlDoc *doc;
	xmlNode *root;
	int rc = 0;

	*truncated_ret = false;
	*key_marker_ret = *id_marker_ret = NULL;
	if (len > LIST_PAGE_MAX ||
	    !(doc = s3_xml_read(xml, len, "ListMultipartUploadsResult", &root)))
		return -EIO;
	for (xmlNode *c = root->children; c && rc == 0; c = c->next) {
		int64_t initiated = 0;

		if (c->type != XML_ELEMENT_NODE || strcmp((const char *)c->name, "Upload") != 0)
			continue;
		if (!child_text(c, "Key", key, sizeof(key)) ||
		    !child_text(c, "UploadId", id, sizeof(id)) || !id[0] ||
		    strlen(key) < prefix_len || strncmp(key, want, want_len) != 0) {
			rc = -EIO;
			break;
		}
		if (child_text(c, "Initiated", date, sizeof(date))) {
			struct tm tm = { 0 };

			if (strptime(date, "%Y-%m-%dT%H:%M:%S", &tm))
				initiated = (int64_t)timegm(&tm);
		}
		rc = fn(ctx, key + prefix_len, id, initiated);
	}
	if (rc == 0 && child_text(root, "IsTruncated", trunc, sizeof(trunc)) &&
	    strcmp(trunc, "true") == 0) {
		if (!child_text(root, "NextKeyMarker", km, sizeof(km)) || !km[0] ||
		    !child_text(root, "NextUploadIdMarker", im, sizeof(im))) {
			rc = -EIO;
			goto out;
		}
		*truncated_ret = true;
		if (!(*key_marker_ret = strdup(km)) || !(*id_marker_ret = strdup(im))) {
			free(*key_marker_ret);
			*key_marker_ret = NULL;
			rc = -ENOMEM;
		}
	}
out:
	xmlFreeDoc(doc);
	return rc;
}

int tsm_s3_uploads_list(struct tsm_s3 *s3, const char *prefix, tsm_s3_upload_fn fn, void *ctx)
{
	char full[1024], esc[3200], ekm[3200], eim[3200], *km = NULL, *im = NULL;
	char *query = NULL;
	struct token_seen seen = { 0 };
	size_t plen = strlen(s3->prefix);
	unsigned pages = 0, before;
	int rc;

	snprintf(full, sizeof(full), "%s%s", s3->prefix, prefix);
	if ((rc = query_escape(full, esc, sizeof(esc))) < 0)
		return rc;
	for (;;) {
		struct sink sink = { .grow = true, .fd = -1, .max = LIST_PAGE_MAX };
		struct request rq = { .method = "GET", .sink = &sink };
		bool truncated;

		if (++pages > LIST_PAGES_MAX) {
			tsm_error("listing %s%s: more than %d pages, stopped", s3->location, prefix,
				  LIST_PAGES_MAX);
			rc = -EIO;
			break;
		}
		if (km && ((rc = query_escape(km, ekm, sizeof(ekm))) < 0 ||
			   (rc = query_escape(im, eim, sizeof(eim))) < 0))
			break;
		/* GET /BUCKET?uploads: the parameters in SigV4's canonical
		 * (alphabetical) order. */
		if (asprintf(&query, "%s%s%sprefix=%s%s%s&uploads=", km ? "key-marker=" : "",
			     km ? ekm : "", km ? "&" : "", esc, km ? "&upload-id-marker=" : "",
			     km ? eim : "") < 0) {
			query = NULL;
			rc = -ENOMEM;
			break;
		}
		rq.query = query;
		free(km);
		free(im);
		km = im = NULL;
		if (!(sink.buf = malloc(4097))) {
			rc = -ENOMEM;
			break;
		}
		sink.cap = 4096;
		rc = s3_perform(s3, &rq);
		if (rc == 0)
			rc = tsm_s3_uploads_parse((const char *)sink.buf, sink.len, full, plen, fn, ctx,
						  &truncated, &km, &im);
		if (rc == -EIO && rq.status >= 200 && rq.status <= 299)
			tsm_error("GET %s?%s: not a listing of multipart uploads", s3->location,
				  query);
		free(sink.buf);
		free(query);
		query = NULL;
		if (rc < 0 || !truncated)
			break;
		/* Markers given before would list the same pages again. */
		char *now = NULL;

		if (asprintf(&now, "%s\n%s", km, im) < 0) {
			rc = -ENOMEM;
			break;
		}
		rc = token_seen_add(&seen, now, pages, &before);
		free(now);
		if (rc < 0)
			break;
		if (before) {
			tsm_error("listing %s%s: page %u gave the continuation token page %u gave "
				  "(the service leads in a cycle): stopped",
				  s3->location, prefix, pages, before);
			rc = -EIO;
			break;
		}
	}
	free(km);
	free(im);
	token_seen_free(&seen);
	return rc;
}

int tsm_s3_upload_abort(struct tsm_s3 *s3, const char *key, const char *upload_id)
{
	char esc[3200], query[3300];
	struct request rq = { .method = "DELETE", .key = key, .query = query };
	int rc;

	if ((rc = query_escape(upload_id, esc, sizeof(esc))) < 0)
		return rc;
	snprintf(query, sizeof(query), "uploadId=%s", esc);
	rc = s3_perform(s3, &rq);
	return rc == -ENOENT ? 0 : rc;
}
