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
#include <pthread.h>
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
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

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
	return 0;
bad:
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

int tsm_s3_new(const struct tsm_s3_config *config, struct tsm_s3 **s3_ret)
{
	char key[CRED_MAX], secret[CRED_MAX], token[CRED_MAX];
	struct tsm_s3 *s3;
	size_t elen;
	int rc;

	if (strncmp(config->endpoint, "http://", 7) != 0 &&
	    strncmp(config->endpoint, "https://", 8) != 0) {
		tsm_error("invalid object storage endpoint '%s': http://HOST[:PORT] or "
			  "https://HOST[:PORT]",
			  config->endpoint);
		return -EINVAL;
	}
	pthread_once(&curl_once, curl_init_once);
	if (!(s3 = calloc(1, sizeof(*s3))))
		return -ENOMEM;
	if ((rc = tsm_s3_parse_url(config->url, &s3->bucket, &s3->prefix)) < 0)
		goto out_free;
	if ((rc = creds_get(key, secret, token)) < 0)
		goto out_free;
	rc = -ENOMEM;
	elen = strlen(config->endpoint);
	while (elen && config->endpoint[elen - 1] == '/')
		elen--;
	if (!(s3->endpoint = strndup(config->endpoint, elen)) ||
	    asprintf(&s3->location, "s3://%s/%s", s3->bucket, s3->prefix) < 0 ||
	    asprintf(&s3->sigv4, "aws:amz:%s:s3", config->region && *config->region
							    ? config->region : "us-east-1") < 0 ||
	    asprintf(&s3->userpwd, "%s:%s", key, secret) < 0 ||
	    (token[0] && asprintf(&s3->token, "x-amz-security-token: %s", token) < 0))
		goto out_wipe;
	if (!(s3->curl = curl_easy_init()))
		goto out_wipe;
	s3->timeout = config->timeout ? config->timeout : 30;
	OPENSSL_cleanse(secret, sizeof(secret));
	*s3_ret = s3;
	return 0;
out_wipe:
	OPENSSL_cleanse(secret, sizeof(secret));
out_free:
	tsm_s3_free(s3);
	return rc;
}

void tsm_s3_free(struct tsm_s3 *s3)
{
	if (!s3)
		return;
	if (s3->curl)
		curl_easy_cleanup(s3->curl);
	if (s3->userpwd)
		OPENSSL_cleanse(s3->userpwd, strlen(s3->userpwd));
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
	int fd;             /* ... or a file from offset 0 */
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
			r = pread(src->fd, out, n, (off_t)src->pos);
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
	char etag[80];
	int64_t mtime;
};

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
		while (*p && *p != '"' && *p != '\r' && *p != '\n' && i + 1 < sizeof(h->etag))
			h->etag[i++] = *p++;
		h->etag[i] = 0;
	} else if (strncasecmp(buf, "last-modified:", 14) == 0) {
		/* An RFC 9110 HTTP-date, which curl parses. */
		h->mtime = (int64_t)curl_getdate(buf + 14, NULL);
	}
	return n;
}

struct request {
	const char *method; /* GET PUT HEAD DELETE */
	const char *key;    /* relative to the prefix; NULL: the bucket */
	const char *query;  /* NULL or "list-type=2&..." */
	const char *range;  /* NULL or "FIRST-LAST" */
	struct source *body;
	const char *payload_sha256; /* hex; NULL: of no bytes */
	const char *content_md5;    /* base64, or NULL */
	struct sink *sink;
	struct head *head;
	long status;
};

/* libcurl's receive buffer for responses with a body. */
#define RECV_BUFFER (512L * 1024)

/* Keys we make are [A-Za-z0-9._/-]: nothing needs escaping in the URL. */
static int s3_perform(struct tsm_s3 *s3, struct request *rq)
{
	struct curl_slist *hdrs = NULL, *h;
	char *url = NULL, *sha_hdr = NULL, *md5_hdr = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURL *c = s3->curl;
	CURLcode cc;
	int rc = -ENOMEM;

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

		/* S3 explains a refusal in an XML body; its Code is enough. */
		if (rq->sink && rq->sink->fd < 0 && rq->sink->buf && rq->sink->len) {
			rq->sink->buf[rq->sink->len < rq->sink->cap ? rq->sink->len
								    : rq->sink->cap - 1] = 0;
			body = (const char *)rq->sink->buf;
			const char *code = strstr(body, "<Code>");

			if (code)
				body = code;
		}
		tsm_error("%s %s%s: HTTP status %ld %.120s", rq->method, s3->location,
			  rq->key ? rq->key : "", rq->status, body);
		rc = rq->status == 403 ? -EACCES : -EIO;
		goto out;
	}
	rc = 0;
out:
	curl_slist_free_all(hdrs);
	free(url);
	free(sha_hdr);
	free(md5_hdr);
	return rc;
}

/* ---- objects ------------------------------------------------------------- */

static int digest_source(struct source *src, char sha_hex[TSM_SHA256_HEX_LEN + 1],
			 char md5_b64[32], char md5_hex[33])
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
			ssize_t r = pread(src->fd, buf, n, (off_t)off);

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
	rc = 0;
out:
	EVP_MD_CTX_free(sha);
	EVP_MD_CTX_free(md5);
	return rc;
}

static int s3_put(struct tsm_s3 *s3, const char *key, struct source *src)
{
	char sha_hex[TSM_SHA256_HEX_LEN + 1], md5_b64[32], md5_hex[33];
	struct head head = { 0 };
	uint8_t errbody[512];
	struct sink sink = { .buf = errbody, .cap = sizeof(errbody), .fd = -1 };
	struct request rq = { .method = "PUT", .key = key, .body = src, .sink = &sink };
	int rc;

	if ((rc = digest_source(src, sha_hex, md5_b64, md5_hex)) < 0) {
		tsm_error("cannot read what to upload as %s%s: %s", s3->location, key,
			  strerror(-rc));
		return rc;
	}
	rq.payload_sha256 = sha_hex;
	rq.content_md5 = md5_b64;
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

int tsm_s3_get_range(struct tsm_s3 *s3, const char *key, uint64_t offset, size_t len, void *buf)
{
	struct sink sink = { .buf = buf, .cap = len, .fd = -1 };
	struct request rq = { .method = "GET", .key = key, .sink = &sink };
	char range[64];
	int rc;

	if (!len)
		return 0;
	snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)offset,
		 (unsigned long long)(offset + len - 1));
	rq.range = range;
	if ((rc = s3_perform(s3, &rq)) < 0)
		return rc;
	/* 206 with exactly the range; a 200 would be the whole object. */
	if (rq.status != 206 || sink.len != len) {
		tsm_error("GET %s%s bytes %s: %zu bytes (HTTP status %ld), expected %zu",
			  s3->location, key, range, sink.len, rq.status, len);
		return -EIO;
	}
	return 0;
}

int tsm_s3_get_range_pieces(struct tsm_s3 *s3, const char *key, uint64_t offset, uint64_t len,
			    tsm_s3_piece_fn fn, void *ctx)
{
	struct sink sink = { .cap = len, .fd = -1, .piece = fn, .piece_ctx = ctx, .curl = s3->curl };
	struct request rq = { .method = "GET", .key = key, .sink = &sink };
	char range[64];
	int rc;

	if (!len)
		return 0;
	snprintf(range, sizeof(range), "%llu-%llu", (unsigned long long)offset,
		 (unsigned long long)(offset + len - 1));
	rq.range = range;
	if ((rc = s3_perform(s3, &rq)) < 0)
		return rc;
	if (rq.status != 206 || sink.len != len) {
		tsm_error("GET %s%s bytes %s: %zu bytes (HTTP status %ld), expected %zu",
			  s3->location, key, range, sink.len, rq.status, (size_t)len);
		return -EIO;
	}
	return 0;
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

int tsm_s3_head_etag(struct tsm_s3 *s3, const char *key, uint64_t *size_ret, char *etag,
		     size_t etag_len)
{
	struct head head = { 0 };
	struct request rq = { .method = "HEAD", .key = key, .head = &head };
	int rc = s3_perform(s3, &rq);

	if (rc < 0)
		return rc;
	*size_ret = head.length;
	snprintf(etag, etag_len, "%s", head.etag);
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
	char key[1024], size[32], date[64], trunc[16], token[1024];
	xmlDoc *doc;
	xmlNode *root;
	int rc = 0;

	*truncated_ret = false;
	*token_ret = NULL;
	if (len > LIST_PAGE_MAX || len > INT32_MAX)
		return -EIO;
	/* No network, no entities, no DTD: a listing is plain elements. */
	doc = xmlReadMemory(xml, (int)len, "list.xml", NULL,
			    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if (!doc)
		return -EIO;
	root = xmlDocGetRootElement(doc);
	if (!root || strcmp((const char *)root->name, "ListBucketResult") != 0) {
		rc = -EIO;
		goto out;
	}
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

int tsm_s3_list(struct tsm_s3 *s3, const char *prefix, tsm_s3_list_fn fn, void *ctx)
{
	char full[1024], esc[3200], etoken[3200], *token = NULL, *query = NULL;
	size_t plen = strlen(s3->prefix);
	int rc;

	snprintf(full, sizeof(full), "%s%s", s3->prefix, prefix);
	if ((rc = query_escape(full, esc, sizeof(esc))) < 0)
		return rc;
	for (;;) {
		struct sink sink = { .grow = true, .fd = -1, .max = LIST_PAGE_MAX };
		struct request rq = { .method = "GET", .sink = &sink };
		bool truncated;

		if (token && (rc = query_escape(token, etoken, sizeof(etoken))) < 0)
			break;
		/* Query parameters in alphabetical order, as SigV4's canonical
		 * query string has them. */
		if (asprintf(&query, "%s%s%slist-type=2&prefix=%s", token ? "continuation-token=" : "",
			     token ? etoken : "", token ? "&" : "", esc) < 0) {
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
			rc = tsm_s3_list_parse((const char *)sink.buf, sink.len, plen, fn, ctx,
					       &truncated, &token);
		if (rc == -EIO && rq.status >= 200 && rq.status <= 299)
			tsm_error("GET %s?%s: not a listing of objects", s3->location, query);
		free(sink.buf);
		free(query);
		query = NULL;
		if (rc < 0 || !truncated)
			break;
	}
	free(token);
	return rc;
}
