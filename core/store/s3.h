/* Layer: store — a small S3 client (libcurl with its own SigV4 signing). */
/* Objects of one bucket (and key prefix) on any S3-compatible service:
 * AWS S3, MinIO, Ceph's RADOS Gateway.  Requests are path-style
 * (ENDPOINT/BUCKET/KEY) and signed by libcurl (CURLOPT_AWS_SIGV4,
 * "aws:amz:REGION:s3"); nothing here signs or speaks HTTP by hand.
 *
 * Ownership and threads: a tsm_s3 is made by tsm_s3_new() and freed by
 * tsm_s3_free(); it holds one curl handle (its connections are reused) and
 * is used by one thread at a time, like the store handle that owns it.
 *
 * Errors: 0 or a negative errno: -ENOENT for a missing object (404), -EIO
 * for everything else (connection refused, timeout, 5xx, a short body),
 * each logged with the method, the object's key and the reason. */
#ifndef TSMEDIA_S3_H
#define TSMEDIA_S3_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tsm_s3_config {
	const char *url;      /* s3://BUCKET[/PREFIX] */
	const char *endpoint; /* http(s)://HOST[:PORT] */
	const char *region;   /* NULL: "us-east-1" */
	/* Seconds a request may take without progress before it fails
	 * (0: 30). */
	unsigned timeout;
};

struct tsm_s3;

/* Reads the credentials from the environment (AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, optional AWS_SESSION_TOKEN) or, when
 * $TSMEDIA_S3_CREDENTIALS names one, from that file (mode 0600 or
 * stricter, owned by the caller: anything else is refused). */
int tsm_s3_new(const struct tsm_s3_config *config, struct tsm_s3 **s3_ret);
void tsm_s3_free(struct tsm_s3 *s3);
/* "s3://BUCKET/PREFIX": for messages. */
const char *tsm_s3_location(const struct tsm_s3 *s3);
/* From now on, a request of @s3 (one under way included) ends within about
 * a second of *@stop becoming true, with -ECANCELED (not logged as an
 * error); a request started after it fails at once.  @stop (NULL: none)
 * belongs to the caller and outlives @s3's requests; another thread may
 * set it at any time (an unmount stopping a thread stalled on a request). */
void tsm_s3_set_stop(struct tsm_s3 *s3, const atomic_bool *stop);
/* Each request from now on takes at most @ms milliseconds in all (0: no
 * limit but the stall timeout of the configuration). */
void tsm_s3_set_deadline(struct tsm_s3 *s3, unsigned ms);

/* Splits s3://BUCKET[/PREFIX]; -EINVAL (logged) when it is not one. */
int tsm_s3_parse_url(const char *url, char **bucket_ret, char **prefix_ret);

/* Uploads @len bytes of @fd from offset 0 as @key and checks that the
 * service stored exactly them: the request carries the payload's SHA-256
 * (x-amz-content-sha256, signed) and MD5 (Content-MD5), which the service
 * checks before it stores the object, and a HEAD afterwards must give the
 * same size and, for a single-part upload, the MD5 as its ETag.  Larger
 * than a part (64 MiB), it goes up as a multipart upload: every part with
 * its Content-MD5 and SHA-256, the completed object's size and ETag
 * checked, the upload aborted on any failure. */
int tsm_s3_put_fd(struct tsm_s3 *s3, const char *key, int fd, uint64_t len);
int tsm_s3_put_buf(struct tsm_s3 *s3, const char *key, const void *buf, size_t len);
/* The same as one PUT that only creates: -EEXIST (not logged) when @key is
 * there already, whoever made it (If-None-Match: *; of two at once, one
 * gets -EEXIST). */
int tsm_s3_create_buf(struct tsm_s3 *s3, const char *key, const void *buf, size_t len);
/* Exactly @len bytes of @key from @offset (a ranged GET). */
int tsm_s3_get_range(struct tsm_s3 *s3, const char *key, uint64_t offset, size_t len,
		     void *buf);
/* Exactly @len bytes of @key from @offset (one ranged GET), handed to @fn
 * piece by piece as they arrive, with no buffer of the whole range: @fn
 * returns 0 to go on, or a negative errno that stops the transfer and is
 * returned (without a message: @fn says what was wrong).  A transfer that
 * ends short is -EIO; what @fn got by then stays valid. */
typedef int (*tsm_s3_piece_fn)(void *ctx, const uint8_t *data, size_t len);
int tsm_s3_get_range_pieces(struct tsm_s3 *s3, const char *key, uint64_t offset, uint64_t len,
			    tsm_s3_piece_fn fn, void *ctx);
/* The whole object into @fd (from its current position); at most @max
 * bytes, else -EFBIG. */
int tsm_s3_get_fd(struct tsm_s3 *s3, const char *key, int fd, uint64_t max, uint64_t *len_ret);
/* A small object into a malloc'ed NUL-terminated buffer (at most @max). */
int tsm_s3_get_small(struct tsm_s3 *s3, const char *key, size_t max, char **buf_ret,
		     size_t *len_ret);
int tsm_s3_delete(struct tsm_s3 *s3, const char *key);
/* Size and age of @key. */
int tsm_s3_head(struct tsm_s3 *s3, const char *key, uint64_t *size_ret, int64_t *mtime_ret);
/* Every key under @prefix (relative to the store's prefix), in order:
 * @fn gets the key (relative), its size and its mtime; a negative return
 * stops the listing with that value.  ListObjectsV2, parsed with libxml2. */
typedef int (*tsm_s3_list_fn)(void *ctx, const char *key, uint64_t size, int64_t mtime);
int tsm_s3_list(struct tsm_s3 *s3, const char *prefix, tsm_s3_list_fn fn, void *ctx);
/* Creates the bucket when it does not exist (the tests' fresh gateway). */
int tsm_s3_bucket_ensure(struct tsm_s3 *s3);

/* Whether @key holds exactly the @len bytes of @fd: the same size, and
 * an ETag equal to the MD5 of those bytes (uploaded whole) or to the ETag
 * of their parts (uploaded in parts, of the size the object records).
 * Fills @want (at least 48 bytes: the ETag expected) and @got (the
 * object's, escaped) and @size_ret; -ENOENT when there is no such object. */
int tsm_s3_object_same(struct tsm_s3 *s3, const char *key, int fd, uint64_t len, bool *same_ret,
		       char *want, char *got, size_t got_len, uint64_t *size_ret);

/* Incomplete multipart uploads under @prefix (ListMultipartUploads):
 * @fn gets the key (relative), the upload id and when it was started. */
typedef int (*tsm_s3_upload_fn)(void *ctx, const char *key, const char *upload_id,
				int64_t initiated);
int tsm_s3_uploads_list(struct tsm_s3 *s3, const char *prefix, tsm_s3_upload_fn fn, void *ctx);
/* AbortMultipartUpload; 0 when it is already gone. */
int tsm_s3_upload_abort(struct tsm_s3 *s3, const char *key, const char *upload_id);
/* Parses one page of a ListMultipartUploads answer (for the fuzz harness
 * too): every key must start with @want; @fn gets it without its first
 * @prefix_len bytes. */
int tsm_s3_uploads_parse(const char *xml, size_t len, const char *want, size_t prefix_len,
			 tsm_s3_upload_fn fn, void *ctx, bool *truncated_ret, char **key_marker_ret,
			 char **id_marker_ret);

/* Whether @key is one this store could make: [A-Za-z0-9._-] segments,
 * none empty, "." or ".." (requests refuse any other: a listed key goes
 * into the URL as it is). */
bool tsm_s3_key_safe(const char *key);

/* Copies @len bytes of @in into @out (of @n bytes, NUL-terminated), each
 * control character, backslash or byte beyond ASCII written as \xNN: for
 * a service's words on their way to a log line. */
void tsm_s3_escape(const char *in, size_t len, char *out, size_t n);

/* Parses one page of a ListObjectsV2 response (for the fuzz harness too):
 * calls @fn for each <Contents>; sets @truncated_ret and the continuation
 * token (malloc'ed, or NULL).  -EIO when it is not such a document. */
int tsm_s3_list_parse(const char *xml, size_t len, size_t prefix_len, tsm_s3_list_fn fn,
		      void *ctx, bool *truncated_ret, char **token_ret);
/* The same, refusing (-EIO, logged) a key that does not start with @want
 * (the store's prefix and the one asked for). */
int tsm_s3_list_parse_prefix(const char *xml, size_t len, const char *want, size_t prefix_len,
			     tsm_s3_list_fn fn, void *ctx, bool *truncated_ret, char **token_ret);

#endif
