/* Importing a WIM with wimlib.
 *
 * Before anything of wimlib runs, the header and blob table are checked
 * against the file (import/wim_check.c).  wimlib then runs in a child
 * process under memory and CPU limits (util/sandbox.h, "the reader"):
 *
 * Scan (in the reader): wimlib opens the WIM (and the other parts of a
 * split set, each checked first), lists its blobs (each checked against
 * the size of the file it lies in) and walks every image's tree
 * (wimlib_iterate_dir_tree): names, depth, counts, streams and Windows
 * metadata are checked.  The result goes to the importer, which checks it
 * again as it reads it (receive_scan()).  Nothing is written yet.
 *
 * Data, in the common case (an OS image whose blobs each lie in a
 * resource of their own in one file): the importer reads the resources
 * itself, where the blob table places them, decompressing their chunks
 * with wimlib's decompression API on the workers (direct_plan(),
 * import_direct()); the reader only makes the export, without writing it,
 * so what wimlib refuses to export is refused as before.
 *
 * Data, otherwise: wimlib has no call that hands a blob's bytes to its
 * caller, and extracting to a directory would lose named streams and
 * reparse data on Linux.  So, once the importer holds the store, the
 * reader exports the images into a new, uncompressed WIMStruct and wimlib
 * writes it as a pipable WIM to the importer (wimlib_write_to_fd with
 * WIMLIB_WRITE_FLAG_PIPABLE): every blob comes exactly once, decompressed
 * and SHA-1-checked by wimlib, framed by a 40-byte header (struct
 * pwm_blob_hdr in wimlib's resource.h: magic, size, SHA-1, flags).  Each
 * blob goes into the store as it arrives and its SHA-1 is checked again by
 * our own hasher.  Only then are the entries recorded, naming the blobs by
 * id. */
#include "import/wim.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wimlib.h>

#include "import/session.h"
#include "import/source.h"
#include "import/wim_check.h"
#include "import/winpe.h"
#include "import/wire.h"
#include "tsmedia/content.h"
#include "tsmedia/hash.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"
#include "tsmedia/winmeta.h"
#include "util/fdio.h"
#include "util/sandbox.h"
#include "util/workqueue.h"

#define MAX_DEPTH 256
#define MAX_ENTRIES 4000000
#define MAX_NAME_BYTES 1024
#define MAX_REPARSE 16384        /* MAXIMUM_REPARSE_DATA_BUFFER_SIZE */
#define MAX_BLOB_SIZE (1ull << 50)
#define MAX_PARTS 999

/* wimlib's pipable WIM framing (wimlib include/wimlib/resource.h). */
#define PWM_HEADER_SIZE 208
#define PWM_BLOB_MAGIC 0x2b9b9ba2443db9d8ull
#define PWM_BLOB_HDR_SIZE 40
#define RESHDR_FLAG_METADATA 0x02
#define RESHDR_FLAG_COMPRESSED 0x04

/* FILETIME of the UNIX epoch: 100 ns intervals from 1601 to 1970. */
#define FILETIME_UNIX_EPOCH 116444736000000000ll

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

bool tsm_wim_file_detect(int fd)
{
	uint8_t magic[8];

	if (pread(fd, magic, sizeof(magic), 0) != (ssize_t)sizeof(magic))
		return false;
	return memcmp(magic, "MSWIM\0\0\0", 8) == 0 || memcmp(magic, "WLPWM\0\0\0", 8) == 0;
}

/* ---- wimlib's messages ---------------------------------------------- */

/* wimlib prints to one FILE; in the reader (a process of its own, for
 * this one WIM) it is a memory stream whose lines become our messages (or,
 * for warnings, reasons to refuse). */
struct wimlib_log {
	FILE *f;
	char *buf;
	size_t len;
	size_t seen; /* bytes already looked at */
};

static int wimlib_log_begin(struct wimlib_log *l)
{
	memset(l, 0, sizeof(*l));
	if (!(l->f = open_memstream(&l->buf, &l->len)))
		return -ENOMEM;
	wimlib_set_print_errors(true);
	wimlib_set_error_file(l->f);
	return 0;
}

static void wimlib_log_end(struct wimlib_log *l)
{
	/* Setting the file turns printing on: off again after it. */
	wimlib_set_error_file(stderr);
	wimlib_set_print_errors(false);
	fclose(l->f);
	free(l->buf);
}

/* The new lines since the last call, as one string (static storage). */
static const char *wimlib_log_new(struct wimlib_log *l)
{
	static char out[2048];
	size_t n;

	fflush(l->f);
	n = l->len - l->seen;
	if (n >= sizeof(out))
		n = sizeof(out) - 1;
	memcpy(out, l->buf + l->seen, n);
	out[n] = '\0';
	l->seen = l->len;
	for (char *p = out; *p; p++)
		if (*p == '\n' && p[1])
			*p = ' ';
	n = strlen(out);
	while (n && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	return out;
}

/* Reports wimlib error @code while doing @what. */
static int wim_fail(struct wimlib_log *l, const char *file, const char *what, int code)
{
	const char *said = wimlib_log_new(l);

	/* @what: a phrase of the catalogue (po/meson.build: wim_fail:3). */
	tsm_error("%s: %s: %s%s%s%s", file, _(what), wimlib_get_error_string(code),
		  code == WIMLIB_ERR_UNEXPECTED_END_OF_FILE || code == WIMLIB_ERR_READ
			  ? _(" (truncated?)") : "",
		  *said ? " -- wimlib: " : "", said);
	switch (code) {
	case WIMLIB_ERR_NOMEM: return -ENOMEM;
	case WIMLIB_ERR_OPEN: return -ENOENT;
	case WIMLIB_ERR_INVALID_RESOURCE_HASH: return -EBADMSG;
	default: return -EINVAL;
	}
}

/* ---- what the scan keeps --------------------------------------------- */

/* One distinct blob the images need, by SHA-1. */
struct want {
	uint8_t sha1[TSM_SHA1_LEN];
	uint64_t size;
	bool store;        /* file data or a named stream: into the store */
	bool keep;         /* reparse data: kept in memory, then in win_meta */
	bool got;
	int64_t blob_id;
	uint8_t *data;
	char *where;       /* a path using it, for messages */
	uint8_t *head;     /* its first TSM_WINPE_HEAD bytes as they pass, when wanted */
	size_t head_len;
	bool derive;       /* a boot file read out of the stored WIM's bytes */
	struct tsm_wim_res_desc res; /* where (derive) */
};

struct entry {
	char *path;
	bool dir;
	uint32_t mode;
	uint64_t size;
	size_t data;       /* 1 + index into wants; 0: empty */
	size_t reparse;    /* the same for the reparse data */
	size_t *stream_wants;
	size_t security;   /* 1 + index into secs; 0: none */
	struct tsm_win_meta m;
};

struct secdesc {
	uint8_t *data;
	size_t len;
	uint64_t hash;
};

struct part {
	char *path;
	WIMStruct *wim;
	uint64_t size;
	unsigned number;
};

struct wim_reader {
	const char *file;
	struct wimlib_log log;
	WIMStruct *wim;
	struct wimlib_wim_info info;
	struct part *parts;   /* index: part number - 1 */
	unsigned nparts;
	int first, last;      /* images to import */
	bool indexed;         /* several images: "N/" prefixes */
	int cur_image;        /* during the walk */
	struct entry *entries;
	size_t n, cap;
	struct want *wants;
	size_t nwants, capwants;
	size_t *want_table;   /* open addressing: 1 + index; 0 empty */
	size_t table_size;
	struct secdesc *secs;
	size_t nsecs, capsecs;
	size_t *sec_table;
	size_t sec_table_size;
	uint64_t store_bytes;
	unsigned boot_index;
	char **props;         /* IMAGE_PROPS strings (or NULL) per image */
	size_t nprops;
	int rc;
};

static uint64_t sha1_key(const uint8_t *sha1)
{
	uint64_t k;

	memcpy(&k, sha1, sizeof(k));
	return k;
}

static int table_grow(size_t **table, size_t *size, size_t need, const void *items,
		      size_t item_size, uint64_t (*key)(const void *))
{
	size_t nsize = *size ? *size : 1024, *t;

	while (nsize < 2 * need)
		nsize *= 2;
	if (nsize == *size)
		return 0;
	if (!(t = calloc(nsize, sizeof(*t))))
		return -ENOMEM;
	for (size_t i = 0; i < need - 1; i++) {
		size_t h = (size_t)key((const uint8_t *)items + i * item_size) & (nsize - 1);

		while (t[h])
			h = (h + 1) & (nsize - 1);
		t[h] = i + 1;
	}
	free(*table);
	*table = t;
	*size = nsize;
	return 0;
}

static uint64_t want_key(const void *w) { return sha1_key(((const struct want *)w)->sha1); }
static uint64_t sec_key(const void *s) { return ((const struct secdesc *)s)->hash; }

static struct want *want_find(struct wim_reader *r, const uint8_t *sha1)
{
	size_t h;

	if (!r->table_size)
		return NULL;
	for (h = (size_t)sha1_key(sha1) & (r->table_size - 1); r->want_table[h];
	     h = (h + 1) & (r->table_size - 1))
		if (memcmp(r->wants[r->want_table[h] - 1].sha1, sha1, TSM_SHA1_LEN) == 0)
			return &r->wants[r->want_table[h] - 1];
	return NULL;
}

/* 1 + the index of blob @sha1 in r->wants, added if new. */
static int want_add(struct wim_reader *r, const uint8_t *sha1, uint64_t size, bool keep,
		    const char *path, size_t *index_ret)
{
	struct want *w = want_find(r, sha1);
	size_t h;
	int rc;

	if (w) {
		if (w->size != size) {
			tsm_error("%s: '%s' and '%s' name one blob with two sizes", r->file, w->where,
				  path);
			return -EINVAL;
		}
	} else {
		if (r->nwants == r->capwants) {
			size_t cap = r->capwants ? 2 * r->capwants : 1024;
			void *p = realloc(r->wants, cap * sizeof(*r->wants));

			if (!p)
				return -ENOMEM;
			r->wants = p;
			r->capwants = cap;
		}
		w = &r->wants[r->nwants++];
		memset(w, 0, sizeof(*w));
		memcpy(w->sha1, sha1, TSM_SHA1_LEN);
		w->size = size;
		if (!(w->where = strdup(path)))
			return -ENOMEM;
		if ((rc = table_grow(&r->want_table, &r->table_size, r->nwants + 1, r->wants,
				     sizeof(*r->wants), want_key)) < 0)
			return rc;
		for (h = (size_t)sha1_key(sha1) & (r->table_size - 1); r->want_table[h];
		     h = (h + 1) & (r->table_size - 1))
			;
		r->want_table[h] = r->nwants;
	}
	if (keep)
		w->keep = true;
	else if (!w->store) {
		w->store = true;
		r->store_bytes += size;
	}
	*index_ret = (size_t)(w - r->wants) + 1;
	return 0;
}

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* 1 + the index of security descriptor @data in r->secs, added if new. */
static int sec_add(struct wim_reader *r, const uint8_t *data, size_t len, size_t *index_ret)
{
	uint64_t hash = fnv1a(data, len);
	size_t h;
	int rc;

	if (r->sec_table_size)
		for (h = (size_t)hash & (r->sec_table_size - 1); r->sec_table[h];
		     h = (h + 1) & (r->sec_table_size - 1)) {
			struct secdesc *s = &r->secs[r->sec_table[h] - 1];

			if (s->hash == hash && s->len == len && memcmp(s->data, data, len) == 0) {
				*index_ret = r->sec_table[h];
				return 0;
			}
		}
	if (r->nsecs == r->capsecs) {
		size_t cap = r->capsecs ? 2 * r->capsecs : 64;
		void *p = realloc(r->secs, cap * sizeof(*r->secs));

		if (!p)
			return -ENOMEM;
		r->secs = p;
		r->capsecs = cap;
	}
	if (!(r->secs[r->nsecs].data = malloc(len ? len : 1)))
		return -ENOMEM;
	memcpy(r->secs[r->nsecs].data, data, len);
	r->secs[r->nsecs].len = len;
	r->secs[r->nsecs].hash = hash;
	r->nsecs++;
	if ((rc = table_grow(&r->sec_table, &r->sec_table_size, r->nsecs + 1, r->secs,
			     sizeof(*r->secs), sec_key)) < 0)
		return rc;
	for (h = (size_t)hash & (r->sec_table_size - 1); r->sec_table[h];
	     h = (h + 1) & (r->sec_table_size - 1))
		;
	r->sec_table[h] = r->nsecs;
	*index_ret = r->nsecs;
	return 0;
}

/* ---- the scan -------------------------------------------------------- */

/* FILETIMEs above INT64_MAX are no Windows time: FileTimeToSystemTime()
 * refuses them ("the value must be less than 0x8000000000000000",
 * Microsoft's documentation), the catalog keeps times as signed 64-bit
 * integers, and year 30828 is where they end.  Such times are clamped. */
#define FILETIME_MAX ((uint64_t)INT64_MAX)

/* wimlib gives a FILETIME back as seconds since 1970 (tv_sec, plus
 * @high as its upper 32 bits where time_t has 32) and nanoseconds
 * (src/timestamp.c: sec = ft / 10^7 - 11644473600).  Undone in unsigned
 * arithmetic, which cannot overflow for any FILETIME a WIM holds. */
static uint64_t filetime(const struct wimlib_timespec *ts, int32_t high)
{
	int64_t sec = (int64_t)((uint64_t)(uint32_t)high << 32 | (uint32_t)ts->tv_sec);
	uint64_t ticks, ft;

	if (sizeof(ts->tv_sec) == 8)
		sec = (int64_t)ts->tv_sec;
	if (sec < -(int64_t)(FILETIME_UNIX_EPOCH / 10000000))
		return 0;
	ticks = (uint64_t)(sec + FILETIME_UNIX_EPOCH / 10000000);
	if (ticks > FILETIME_MAX / 10000000)
		return FILETIME_MAX;
	ft = ticks * 10000000 + (uint64_t)(ts->tv_nsec / 100);
	return ft > FILETIME_MAX ? FILETIME_MAX : ft;
}

static int64_t filetime_ns(uint64_t ft)
{
	int64_t t;

	if (ft > FILETIME_MAX)
		ft = FILETIME_MAX;
	t = (int64_t)ft - FILETIME_UNIX_EPOCH;
	if (t > INT64_MAX / 100)
		return INT64_MAX;
	if (t < INT64_MIN / 100)
		return INT64_MIN;
	return t * 100;
}

static int check_name(struct wim_reader *r, const struct wimlib_dir_entry *d)
{
	const char *name = d->filename, *why = NULL;

	if (!name || !*name)
		why = _("an empty name");
	else if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		why = _("a name that is '.' or '..'");
	else if (strchr(name, '/'))
		why = _("a name with '/'");
	else if (strlen(name) > MAX_NAME_BYTES)
		why = _("a name longer than 1024 bytes");
	else if (!tsm_utf8_valid(name))
		why = _("a name that is not valid UTF-8");
	if (!why)
		return 0;
	tsm_error("%s: image %d: '%s' has %s", r->file, r->cur_image, d->full_path, why);
	return -EINVAL;
}

/* A stream's blob must be present and of a believable size. */
static int check_stream(struct wim_reader *r, const char *path,
			const struct wimlib_resource_entry *res)
{
	if (res->uncompressed_size == 0)
		return 0;
	if (res->is_missing) {
		char hex[2 * TSM_SHA1_LEN + 1];

		tsm_hex_encode(res->sha1_hash, TSM_SHA1_LEN, hex);
		tsm_error("%s: the data of '%s' (blob %s) are not in the WIM%s", r->file, path, hex,
			  r->info.total_parts > 1 ? _(" nor in any part of the split set") : "");
		return -ENOENT;
	}
	if (res->uncompressed_size > MAX_BLOB_SIZE) {
		tsm_error("%s: '%s' claims %llu bytes: more than any file can hold", r->file, path,
			  (unsigned long long)res->uncompressed_size);
		return -EFBIG;
	}
	return 0;
}

static char *entry_path(struct wim_reader *r, const char *full_path)
{
	char *p;

	while (*full_path == '/')
		full_path++;
	if (!r->indexed)
		return strdup(full_path);
	if (asprintf(&p, "%d%s%s", r->cur_image - r->first + 1, *full_path ? "/" : "", full_path) < 0)
		return NULL;
	return p;
}

static int scan_dentry(const struct wimlib_dir_entry *d, void *arg)
{
	struct wim_reader *r = arg;
	struct entry *e;
	int rc;

	if (r->n >= MAX_ENTRIES) {
		tsm_error("%s: more than %d entries", r->file, MAX_ENTRIES);
		return r->rc = -EFBIG;
	}
	if (d->depth > MAX_DEPTH) {
		tsm_error("%s: image %d: '%s' is deeper than %d directories", r->file, r->cur_image,
			  d->full_path, MAX_DEPTH);
		return r->rc = -ELOOP;
	}
	if (d->depth > 0 && (rc = check_name(r, d)) < 0)
		return r->rc = rc;
	if (!tsm_utf8_valid(d->full_path) || (d->dos_name && !tsm_utf8_valid(d->dos_name))) {
		tsm_error("%s: image %d: a name that is not valid UTF-8", r->file, r->cur_image);
		return r->rc = -EINVAL;
	}
	if (d->attributes & WIMLIB_FILE_ATTRIBUTE_ENCRYPTED) {
		tsm_error("%s: image %d: '%s' is encrypted (EFS): its raw data cannot be served",
			  r->file, r->cur_image, d->full_path);
		return r->rc = -ENOTSUP;
	}
	if (d->depth == 0 && !(d->attributes & WIMLIB_FILE_ATTRIBUTE_DIRECTORY)) {
		tsm_error("%s: image %d: the root is not a directory", r->file, r->cur_image);
		return r->rc = -EINVAL;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 1024;
		void *p = realloc(r->entries, cap * sizeof(*r->entries));

		if (!p)
			return r->rc = -ENOMEM;
		r->entries = p;
		r->cap = cap;
	}
	e = &r->entries[r->n++];
	memset(e, 0, sizeof(*e));
	if (!(e->path = entry_path(r, d->full_path)))
		return r->rc = -ENOMEM;
	e->m.path = e->path;
	e->dir = (d->attributes & WIMLIB_FILE_ATTRIBUTE_DIRECTORY) != 0;
	e->m.attributes = d->attributes;
	e->m.creation_ft = filetime(&d->creation_time, d->creation_time_high);
	e->m.write_ft = filetime(&d->last_write_time, d->last_write_time_high);
	e->m.access_ft = filetime(&d->last_access_time, d->last_access_time_high);
	if (d->dos_name && *d->dos_name && !(e->m.short_name = strdup(d->dos_name)))
		return r->rc = -ENOMEM;
	if (d->num_links > 1 && !e->dir)
		e->m.hardlink_group = d->hard_link_group_id;
	if (d->unix_mode) {
		e->m.has_unix = true;
		e->m.unix_uid = d->unix_uid;
		e->m.unix_gid = d->unix_gid;
		e->m.unix_mode = d->unix_mode;
		e->m.unix_rdev = d->unix_rdev;
	}
	{
		static const uint8_t zero[sizeof(d->object_id)];

		if (memcmp(&d->object_id, zero, sizeof(zero)) != 0) {
			e->m.has_object_id = true;
			memcpy(e->m.object_id, &d->object_id,
			       sizeof(e->m.object_id) < sizeof(zero) ? sizeof(e->m.object_id)
								     : sizeof(zero));
		}
	}
	e->mode = e->m.has_unix ? e->m.unix_mode & 07777
		: e->dir ? 0755 : (d->attributes & WIMLIB_FILE_ATTRIBUTE_READONLY) ? 0444 : 0644;
	if (d->security_descriptor &&
	    (rc = sec_add(r, (const uint8_t *)d->security_descriptor, d->security_descriptor_size,
			  &e->security)) < 0)
		return r->rc = rc;
	/* Stream 0: the reparse data of a reparse point, else the file data. */
	if ((rc = check_stream(r, d->full_path, &d->streams[0].resource)) < 0)
		return r->rc = rc;
	if (d->attributes & WIMLIB_FILE_ATTRIBUTE_REPARSE_POINT) {
		e->m.reparse_tag = d->reparse_tag;
		if (d->streams[0].resource.uncompressed_size > MAX_REPARSE) {
			tsm_error("%s: image %d: '%s' has %llu bytes of reparse data (at most %d)",
				  r->file, r->cur_image, d->full_path,
				  (unsigned long long)d->streams[0].resource.uncompressed_size,
				  MAX_REPARSE);
			return r->rc = -EFBIG;
		}
		if (d->streams[0].resource.uncompressed_size &&
		    (rc = want_add(r, d->streams[0].resource.sha1_hash,
				   d->streams[0].resource.uncompressed_size, true, d->full_path,
				   &e->reparse)) < 0)
			return r->rc = rc;
	} else if (!e->dir && d->streams[0].resource.uncompressed_size) {
		e->size = d->streams[0].resource.uncompressed_size;
		if ((rc = want_add(r, d->streams[0].resource.sha1_hash, e->size, false, d->full_path,
				   &e->data)) < 0)
			return r->rc = rc;
	}
	if (d->num_named_streams) {
		if (!(e->m.streams = calloc(d->num_named_streams, sizeof(*e->m.streams))) ||
		    !(e->stream_wants = calloc(d->num_named_streams, sizeof(*e->stream_wants))))
			return r->rc = -ENOMEM;
		for (uint32_t i = 0; i < d->num_named_streams; i++) {
			const struct wimlib_stream_entry *s = &d->streams[i + 1];
			struct tsm_win_stream *ws = &e->m.streams[e->m.nstreams++];

			if (!s->stream_name || !*s->stream_name || !tsm_utf8_valid(s->stream_name) ||
			    strlen(s->stream_name) > MAX_NAME_BYTES) {
				tsm_error("%s: image %d: '%s' has a data stream with a bad name",
					  r->file, r->cur_image, d->full_path);
				return r->rc = -EINVAL;
			}
			if (!(ws->name = strdup(s->stream_name)))
				return r->rc = -ENOMEM;
			ws->size = s->resource.uncompressed_size;
			if ((rc = check_stream(r, d->full_path, &s->resource)) < 0 ||
			    (ws->size && (rc = want_add(r, s->resource.sha1_hash, ws->size, false,
							d->full_path, &e->stream_wants[i])) < 0))
				return r->rc = rc;
		}
	}
	return 0;
}

struct blob_check {
	struct wim_reader *r;
	int rc;
};

/* Every blob must lie inside the file of its part, and a compressed one
 * cannot expand past what its chunk table allows (4 bytes per chunk). */
static int check_blob(const struct wimlib_resource_entry *b, void *arg)
{
	struct blob_check *c = arg;
	struct wim_reader *r = c->r;
	uint64_t part_size, chunk = r->info.chunk_size ? r->info.chunk_size : 32768;
	char hex[2 * TSM_SHA1_LEN + 1];
	const char *why = NULL;

	if (b->is_missing || b->part_number < 1 || b->part_number > r->nparts)
		return 0; /* reported when an image uses it */
	part_size = r->parts[b->part_number - 1].size;
	if (b->uncompressed_size > MAX_BLOB_SIZE)
		why = _("more than any file can hold");
	else if (!b->packed && (b->offset > part_size || b->compressed_size > part_size - b->offset))
		why = _("past the end of the file (truncated?)");
	else if (!b->packed && !b->is_compressed && b->compressed_size != b->uncompressed_size)
		why = _("a size that is not the size of its uncompressed resource");
	else if (!b->packed && b->is_compressed &&
		 b->uncompressed_size / chunk > b->compressed_size / 4 + 1)
		why = _("far more bytes than its compressed resource can hold");
	else if (b->packed && (b->raw_resource_offset_in_wim > part_size ||
			       b->raw_resource_compressed_size > part_size - b->raw_resource_offset_in_wim))
		why = _("a solid resource past the end of the file (truncated?)");
	else if (b->packed && (b->offset > b->raw_resource_uncompressed_size ||
			       b->uncompressed_size > b->raw_resource_uncompressed_size - b->offset))
		why = _("bytes outside its solid resource");
	if (!why)
		return 0;
	tsm_hex_encode(b->sha1_hash, TSM_SHA1_LEN, hex);
	tsm_error("%s: %s %s of %llu bytes has %s", r->file,
		  b->is_metadata ? _("metadata") : _("blob"), hex,
		  (unsigned long long)b->uncompressed_size, why);
	c->rc = -EINVAL;
	return 1;
}

/* The other parts of a split set: NAME*.swm beside the first, as
 * wimlib-imagex finds them. */
static int open_parts(struct wim_reader *r)
{
	struct stat st;
	int rc;

	r->nparts = r->info.total_parts;
	if (!(r->parts = calloc(r->nparts, sizeof(*r->parts))))
		return -ENOMEM;
	if (stat(r->file, &st) < 0)
		return -errno;
	r->parts[0] = (struct part){ .wim = NULL, .size = (uint64_t)st.st_size, .number = 1 };
	if (r->info.part_number != 1) {
		tsm_error("%s: part %u of a split WIM: give the first part (.swm)", r->file,
			  r->info.part_number);
		return -EINVAL;
	}
	if (r->nparts > 1) {
		const char *dot = strrchr(r->file, '.'), *slash = strrchr(r->file, '/');
		size_t base = dot && (!slash || dot > slash) ? (size_t)(dot - r->file) : strlen(r->file);
		char *pattern;
		glob_t g;
		WIMStruct **wims;
		unsigned nrefs = 0;

		if (r->nparts > MAX_PARTS) {
			tsm_error("%s: a split set of %u parts", r->file, r->nparts);
			return -EINVAL;
		}
		if (asprintf(&pattern, "%.*s*%s", (int)base, r->file, r->file + base) < 0)
			return -ENOMEM;
		rc = glob(pattern, 0, NULL, &g);
		free(pattern);
		if (rc != 0 && rc != GLOB_NOMATCH)
			return -ENOMEM;
		for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) {
			WIMStruct *w;
			struct wimlib_wim_info info;
			int wrc;

			if (strcmp(g.gl_pathv[i], r->file) == 0 || stat(g.gl_pathv[i], &st) < 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			/* Every file wimlib opens is checked first. */
			if ((rc = tsm_wim_check_file(g.gl_pathv[i], NULL)) < 0)
				break;
			if ((wrc = wimlib_open_wim(g.gl_pathv[i], 0, &w)) != 0) {
				rc = wim_fail(&r->log, g.gl_pathv[i], "cannot open this part", wrc);
				break;
			}
			wimlib_get_wim_info(w, &info);
			if (memcmp(info.guid, r->info.guid, sizeof(info.guid)) != 0 ||
			    info.total_parts != r->nparts || info.part_number < 2 ||
			    info.part_number > r->nparts) {
				wimlib_free(w);
				continue; /* another set's file */
			}
			if (r->parts[info.part_number - 1].wim) {
				tsm_error("%s: part %u of the split set is there twice (%s, %s)", r->file,
					  info.part_number, r->parts[info.part_number - 1].path,
					  g.gl_pathv[i]);
				wimlib_free(w);
				rc = -EEXIST;
				break;
			}
			r->parts[info.part_number - 1] = (struct part){
				.path = strdup(g.gl_pathv[i]), .wim = w, .size = (uint64_t)st.st_size,
				.number = info.part_number };
		}
		globfree(&g);
		if (rc < 0)
			return rc;
		for (unsigned i = 1; i < r->nparts; i++)
			if (!r->parts[i].wim) {
				tsm_error("%s: part %u of the %u-part split set is missing (looked for"
					  " %.*s*%s beside it)", r->file, i + 1, r->nparts, (int)base,
					  r->file, r->file + base);
				return -ENOENT;
			}
		if (!(wims = calloc(r->nparts, sizeof(*wims))))
			return -ENOMEM;
		for (unsigned i = 1; i < r->nparts; i++)
			wims[nrefs++] = r->parts[i].wim;
		rc = wimlib_reference_resources(r->wim, wims, nrefs, 0);
		free(wims);
		if (rc)
			return wim_fail(&r->log, r->file, "cannot use the other parts", rc);
	}
	return 0;
}

static int scan(struct wim_reader *r, int index)
{
	struct blob_check bc = { .r = r };
	int rc;

	if ((rc = tsm_wim_check_file(r->file, NULL)) < 0)
		return rc;
	if ((rc = wimlib_open_wim(r->file, 0, &r->wim)) != 0)
		return wim_fail(&r->log, r->file, "cannot open the WIM", rc);
	wimlib_get_wim_info(r->wim, &r->info);
	if ((rc = open_parts(r)) < 0)
		return rc;
	if (r->info.image_count == 0) {
		tsm_error("%s: the WIM holds no image", r->file);
		return -EINVAL;
	}
	if (index < 0 || (unsigned)index > r->info.image_count) {
		tsm_error("%s: there is no image %d: the WIM holds %u image%s", r->file, index,
			  r->info.image_count, r->info.image_count == 1 ? "" : "s");
		return -EINVAL;
	}
	r->first = index ? index : 1;
	r->last = index ? index : (int)r->info.image_count;
	r->indexed = r->last > r->first;
	if ((rc = wimlib_iterate_lookup_table(r->wim, 0, check_blob, &bc)) != 0 && !bc.rc)
		return wim_fail(&r->log, r->file, "cannot list the blobs", rc);
	if (bc.rc)
		return bc.rc;
	for (r->cur_image = r->first; r->cur_image <= r->last; r->cur_image++) {
		const char *said;

		rc = wimlib_iterate_dir_tree(r->wim, r->cur_image, "/",
					     WIMLIB_ITERATE_DIR_TREE_FLAG_RECURSIVE, scan_dentry, r);
		if (r->rc)
			return r->rc;
		if (rc) {
			char what[128];

			snprintf(what, sizeof(what), _("cannot read image %d%s"), r->cur_image,
				 rc == WIMLIB_ERR_INVALID_METADATA_RESOURCE
					 ? _(" (a cyclic, too deep or damaged directory tree)") : "");
			return wim_fail(&r->log, r->file, what, rc);
		}
		/* wimlib drops entries it cannot accept ('.', '..', unnamed,
		 * duplicates, children of files) with a warning: the WIM says
		 * something else than what would be imported. */
		said = wimlib_log_new(&r->log);
		if (strstr(said, "Ignoring") || strstr(said, "WARNING")) {
			tsm_error("%s: image %d has entries wimlib refuses (names that are '.' or"
				  " '..', duplicates, or other damage): %s", r->file, r->cur_image,
				  said);
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- the data -------------------------------------------------------- */

struct pipe_in {
	int fd;
	uint64_t left; /* of the current blob */
	bool eof;
	struct want *peek; /* the current blob's head is kept in peek->head */
};

static ssize_t pipe_read_some(struct pipe_in *p, void *buf, size_t len)
{
	for (;;) {
		ssize_t n = read(p->fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			p->eof = true;
		return n;
	}
}

/* Exactly @len bytes; -EPIPE when the stream ends first. */
static int pipe_read_full(struct pipe_in *p, void *buf, size_t len)
{
	uint8_t *b = buf;

	while (len) {
		ssize_t n = pipe_read_some(p, b, len);

		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EPIPE;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static int pipe_skip(struct pipe_in *p, uint64_t len)
{
	uint8_t buf[65536];

	while (len) {
		size_t want = len < sizeof(buf) ? (size_t)len : sizeof(buf);
		int rc = pipe_read_full(p, buf, want);

		if (rc < 0)
			return rc;
		len -= want;
	}
	return 0;
}

/* tsm_import_read_fn over the current blob's bytes. */
static ssize_t blob_read(void *ctx, void *buf, size_t len)
{
	struct pipe_in *p = ctx;
	ssize_t n;

	if (!p->left)
		return 0;
	if (len > p->left)
		len = (size_t)p->left;
	n = pipe_read_some(p, buf, len);
	if (n == 0) {
		tsm_error("wimlib's data stream ended inside a blob");
		return -EIO;
	}
	if (n > 0 && p->peek && p->peek->head_len < TSM_WINPE_HEAD) {
		size_t k = TSM_WINPE_HEAD - p->peek->head_len;

		if (k > (size_t)n)
			k = (size_t)n;
		memcpy(p->peek->head + p->peek->head_len, buf, k);
		p->peek->head_len += k;
	}
	if (n > 0)
		p->left -= (uint64_t)n;
	return n;
}

/* "FILE: 'PATH' (blob SHA1)": blob @w in messages. */
static void blob_what(const struct wim_reader *r, const struct want *w, char *what, size_t size)
{
	char hex[2 * TSM_SHA1_LEN + 1];

	tsm_hex_encode(w->sha1, TSM_SHA1_LEN, hex);
	snprintf(what, size, "%s: '%s' (blob %s)", r->file, w->where, hex);
}

/* Blob @w, w->size bytes read from @read (the pipe or the WIM's file),
 * into the store or (reparse data) into memory. */
static int take_blob(struct tsm_import *imp, tsm_import_read_fn read, void *ctx,
		     struct want *w, const char *what)
{
	uint64_t size = 0;
	int rc;

	if (w->keep) {
		struct tsm_file_hasher *h;
		uint8_t sha256[TSM_SHA256_LEN], sha1[TSM_SHA1_LEN];

		if (!(w->data = malloc(w->size)))
			return -ENOMEM;
		while (size < w->size) {
			ssize_t n = read(ctx, w->data + size, (size_t)(w->size - size));

			if (n < 0)
				return (int)n;
			if (n == 0)
				break;
			size += (uint64_t)n;
		}
		if (size != w->size)
			goto out_short;
		if ((rc = tsm_file_hasher_new(&h)) < 0)
			return rc;
		rc = tsm_file_hasher_update(h, w->data, (size_t)w->size);
		if (rc == 0)
			rc = tsm_file_hasher_final(h, sha256, sha1);
		tsm_file_hasher_free(h);
		if (rc < 0)
			return rc;
		if (memcmp(sha1, w->sha1, TSM_SHA1_LEN) != 0) {
			tsm_error("%s: SHA-1 mismatch", what);
			return -EBADMSG;
		}
		if (w->store && (rc = tsm_import_add_bytes(imp, w->data, (size_t)w->size, what,
							    w->sha1, &w->blob_id)) < 0)
			return rc;
	} else {
		if ((rc = tsm_import_add_blob(imp, read, ctx, what, w->sha1, &w->blob_id,
					      &size)) < 0)
			return rc;
		if (size != w->size)
			goto out_short;
	}
	w->got = true;
	return 0;

out_short:
	tsm_error("%s: %llu bytes, not the %llu the WIM says", what, (unsigned long long)size,
		  (unsigned long long)w->size);
	return -EIO;
}

/* Reads the pipable WIM wimlib writes and stores the blobs it brings. */
static int take_blobs(struct wim_reader *r, struct tsm_import *imp, int fd)
{
	struct pipe_in in = { .fd = fd };
	uint8_t hdr[PWM_HEADER_SIZE], bh[PWM_BLOB_HDR_SIZE];
	char what[2 * TSM_SHA1_LEN + 256];
	size_t need = 0, got = 0;
	int rc;

	for (size_t i = 0; i < r->nwants; i++)
		need += r->wants[i].store || r->wants[i].keep;
	if ((rc = pipe_read_full(&in, hdr, sizeof(hdr))) < 0)
		return rc;
	if (memcmp(hdr, "WLPWM\0\0\0", 8) != 0) {
		tsm_error("%s: wimlib's data stream does not start as a pipable WIM", r->file);
		return -EIO;
	}
	while (got < need) {
		uint64_t size;
		uint32_t flags;
		struct want *w;

		if ((rc = pipe_read_full(&in, bh, sizeof(bh))) < 0)
			return rc;
		if (le64(bh) != PWM_BLOB_MAGIC)
			break;
		size = le64(bh + 8);
		flags = le32(bh + 36);
		w = want_find(r, bh + 16);
		if (flags & RESHDR_FLAG_COMPRESSED) {
			tsm_error("%s: wimlib sent a compressed blob in an uncompressed WIM", r->file);
			return -EIO;
		}
		if (!w || w->got || (!w->store && !w->keep) || (flags & RESHDR_FLAG_METADATA)) {
			if ((rc = pipe_skip(&in, size)) < 0)
				return rc;
			continue;
		}
		if (size != w->size) {
			tsm_error("%s: '%s': the blob is %llu bytes, the image says %llu", r->file,
				  w->where, (unsigned long long)size, (unsigned long long)w->size);
			return -EIO;
		}
		in.peek = w->head ? w : NULL;
		in.left = w->size;
		blob_what(r, w, what, sizeof(what));
		if ((rc = take_blob(imp, blob_read, &in, w, what)) < 0)
			return rc;
		got++;
	}
	if (got < need)
		for (size_t i = 0; i < r->nwants; i++)
			if (!r->wants[i].got) {
				char hex[2 * TSM_SHA1_LEN + 1];

				tsm_hex_encode(r->wants[i].sha1, TSM_SHA1_LEN, hex);
				tsm_error("%s: the data of '%s' (blob %s) never came out of the WIM",
					  r->file, r->wants[i].where, hex);
				return -EIO;
			}
	return 0;
}

/* In the WIM reader (the child): wimlib exports the images into an
 * uncompressed WIMStruct (*@out_ret), which refuses what it cannot carry. */
static int export_images(struct wim_reader *r, WIMStruct **out_ret)
{
	WIMStruct *out = NULL;
	int wrc;

	if ((wrc = wimlib_create_new_wim(WIMLIB_COMPRESSION_TYPE_NONE, &out)) != 0)
		return wim_fail(&r->log, r->file, "cannot prepare the export", wrc);
	for (int i = r->first; i <= r->last; i++)
		if ((wrc = wimlib_export_image(r->wim, i, out, NULL, NULL,
					       WIMLIB_EXPORT_FLAG_NO_NAMES |
						       WIMLIB_EXPORT_FLAG_NO_DESCRIPTIONS)) != 0) {
			wimlib_free(out);
			return wim_fail(&r->log, r->file, "cannot export an image", wrc);
		}
	*out_ret = out;
	return 0;
}

/* ... and, when the importer wants the data, writes it as a pipable WIM
 * to @fd. */
static int write_data(struct wim_reader *r, int fd, bool write)
{
	WIMStruct *out = NULL;
	int rc, wrc;

	if ((rc = export_images(r, &out)) < 0)
		return rc;
	wrc = write ? wimlib_write_to_fd(out, fd, WIMLIB_ALL_IMAGES, WIMLIB_WRITE_FLAG_PIPABLE, 1)
		    : 0;
	wimlib_free(out);
	if (wrc)
		return wim_fail(&r->log, r->file, "cannot read the file data", wrc);
	return 0;
}

/* In the importer: the blobs from the reader's stream on @fd, then the
 * rest of the stream read and dropped, so the reader finishes. */
static int import_data(struct wim_reader *r, struct tsm_import *imp, int fd)
{
	struct pipe_in drain = { .fd = fd };
	int rc = take_blobs(r, imp, fd);

	while (rc == 0 && !drain.eof) {
		uint8_t buf[65536];
		ssize_t n = pipe_read_some(&drain, buf, sizeof(buf));

		if (n < 0)
			rc = (int)n;
	}
	return rc;
}

/* The WIM's file, for store/wim_resource.h. */
struct fd_in {
	const char *file;
	int fd;
};

/* tsm_wim_res_pread_fn over the WIM file. */
static int fd_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct fd_in *in = ctx;
	int rc = tsm_pread_full(in->fd, buf, len, off);

	if (rc < 0)
		tsm_error("%s: %s", in->file, strerror(-rc));
	return rc;
}

/* ---- the data, read by the importer itself ------------------------------ */

/* When every blob to import lies in a resource of its own in the WIM's
 * file (no split set, no solid resource, not a pipable WIM: the common
 * case, install.wim and boot.wim as DISM and wimlib write them), the
 * importer reads them itself instead of taking wimlib's stream: in the
 * order the resources lie in the file (one sequential pass), their chunks
 * decompressed many at once on the workers straight into the store's
 * buffers (store/wim_resource.h), then cut, hashed and compressed by the
 * store's pipeline (store/blob_writer.c).  Every blob's SHA-1 is checked
 * against the one the image names it by, as for the stream; the reader
 * (wimlib, in its process) has checked the metadata it scanned, and
 * tsm_wim_find_resources() read the blob table itself.  Which blobs come
 * first depends on the file alone, so the store's bytes are the same on
 * one thread as on many. */
struct direct_blob {
	struct want *w;
	struct tsm_wim_res_desc d;
};

static int direct_cmp(const void *a, const void *b)
{
	const struct direct_blob *x = a, *y = b;

	if (x->d.offset != y->d.offset)
		return x->d.offset < y->d.offset ? -1 : 1;
	return x->w < y->w ? -1 : x->w > y->w;
}

/* The blobs to read in the order they lie in @fd, or *@plan_ret NULL when
 * some cannot be read in place (then wimlib's stream brings them all). */
static int direct_plan(struct wim_reader *r, int fd, const struct tsm_wim_facts *facts,
		       struct direct_blob **plan_ret, size_t *n_ret)
{
	struct direct_blob *plan = NULL;
	uint8_t (*sha1s)[TSM_SHA1_LEN] = NULL;
	struct tsm_wim_res_desc *descs = NULL;
	bool *found = NULL;
	size_t n = 0;
	int rc = 0;

	*plan_ret = NULL;
	*n_ret = 0;
	if (facts->total_parts != 1)
		return 0;
	for (size_t i = 0; i < r->nwants; i++)
		n += r->wants[i].store || r->wants[i].keep;
	if (!(plan = calloc(n + 1, sizeof(*plan))) || !(sha1s = calloc(n + 1, sizeof(*sha1s))) ||
	    !(descs = calloc(n + 1, sizeof(*descs))) || !(found = calloc(n + 1, sizeof(*found)))) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0, k = 0; i < r->nwants; i++)
		if (r->wants[i].store || r->wants[i].keep) {
			plan[k].w = &r->wants[i];
			memcpy(sha1s[k++], r->wants[i].sha1, TSM_SHA1_LEN);
		}
	if ((rc = tsm_wim_find_resources(r->file, fd, (const uint8_t(*)[20])sha1s, n, found,
					 descs)) < 0)
		goto out;
	for (size_t k = 0; k < n; k++) {
		if (!found[k] || descs[k].size != plan[k].w->size) {
			tsm_debug("%s: '%s' is not in a resource of its own: wimlib reads the data",
				  r->file, plan[k].w->where);
			goto out;
		}
		plan[k].d = descs[k];
	}
	qsort(plan, n, sizeof(*plan), direct_cmp);
	*plan_ret = plan;
	*n_ret = n;
	plan = NULL;
out:
	free(plan);
	free(sha1s);
	free(descs);
	free(found);
	return rc;
}

/* Small blobs (most of an install image's) are read many at once: a run
 * of them that lie one after the other, each decompressed whole by one
 * worker, then queued with the store's small files (hashed and compressed
 * many at once).  A larger blob is read alone, its chunks decompressed on
 * the workers (tsm_wim_res_stream). */
#define DIRECT_SMALL (1u << 20)
#define DIRECT_RUN_BYTES (8u << 20)
#define DIRECT_RUN_BLOBS 1024

struct direct_job {
	const struct fd_in *in;
	uint64_t file_size;
	const struct direct_blob *b;
	uint8_t *out;
	char what[2 * TSM_SHA1_LEN + 256];
	int rc;
};

static void direct_job_run(void *arg, unsigned worker)
{
	struct direct_job *job = arg;
	struct tsm_wim_res *res = NULL;
	ssize_t n;

	(void)worker;
	if ((job->rc = tsm_wim_res_open(job->what, &job->b->d, job->file_size, fd_pread,
					(void *)job->in, &res)) < 0)
		return;
	n = tsm_wim_res_pread(res, job->out, (size_t)job->b->d.size, 0);
	job->rc = n < 0 ? (int)n : (uint64_t)n != job->b->d.size ? -EIO : 0;
	tsm_wim_res_free(res);
}

/* Blobs @plan[0 .. n), small, one after the other. */
static int direct_run(struct wim_reader *r, struct tsm_import *imp, struct tsm_workqueue *wq,
		      const struct fd_in *in, uint64_t file_size, const struct direct_blob *plan,
		      size_t n, uint8_t *buf, struct direct_job *jobs)
{
	uint64_t off = 0;
	int rc = 0;

	for (size_t k = 0; k < n; k++) {
		jobs[k] = (struct direct_job){ .in = in, .file_size = file_size, .b = &plan[k],
					       .out = buf + off };
		blob_what(r, plan[k].w, jobs[k].what, sizeof(jobs[k].what));
		off += plan[k].d.size;
		if (wq && k + 1 < n && tsm_workqueue_submit(wq, direct_job_run, &jobs[k]) == 0)
			continue;
		direct_job_run(&jobs[k], 0);
	}
	if (wq)
		tsm_workqueue_wait(wq);
	for (size_t k = 0; rc == 0 && k < n; k++) {
		struct want *w = plan[k].w;

		if ((rc = jobs[k].rc) == 0 &&
		    (rc = tsm_import_queue_blob(imp, jobs[k].out, (size_t)w->size, jobs[k].what,
						w->sha1, &w->blob_id)) == 0)
			w->got = true;
	}
	return rc;
}

static int import_direct(struct wim_reader *r, struct tsm_import *imp, int fd, uint64_t file_size,
			 const struct direct_blob *plan, size_t n)
{
	struct fd_in in = { r->file, fd };
	struct tsm_wim_res_stream *stream = NULL;
	struct tsm_workqueue *wq = NULL;
	struct direct_job *jobs = NULL;
	char what[2 * TSM_SHA1_LEN + 256];
	uint8_t *buf = NULL;
	unsigned nthreads = tsm_cpu_count(64);
	int rc;

	tsm_debug("%s: %zu blobs read from the WIM's resources, in file order", r->file, n);
	if (!(buf = malloc(DIRECT_RUN_BYTES)) || !(jobs = calloc(DIRECT_RUN_BLOBS, sizeof(*jobs)))) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = tsm_wim_res_stream_new(&stream)) < 0 ||
	    (nthreads > 1 && (rc = tsm_workqueue_new(nthreads, &wq)) < 0))
		goto out;
	for (size_t k = 0; rc == 0 && k < n;) {
		size_t m = 0;
		uint64_t bytes = 0;

		while (k + m < n && m < DIRECT_RUN_BLOBS && !plan[k + m].w->keep &&
		       plan[k + m].d.size <= DIRECT_SMALL &&
		       bytes + plan[k + m].d.size <= DIRECT_RUN_BYTES)
			bytes += plan[k + m++].d.size;
		if (m) {
			rc = direct_run(r, imp, wq, &in, file_size, plan + k, m, buf, jobs);
			k += m;
			continue;
		}
		blob_what(r, plan[k].w, what, sizeof(what));
		if ((rc = tsm_wim_res_stream_open(stream, what, &plan[k].d, file_size, fd_pread,
						  &in)) == 0)
			rc = take_blob(imp, tsm_wim_res_stream_read, stream, plan[k].w, what);
		k++;
	}
	if (rc == 0)
		rc = tsm_import_flush(imp);
out:
	tsm_workqueue_free(wq);
	tsm_wim_res_stream_free(stream);
	free(jobs);
	free(buf);
	return rc;
}

/* ---- recording ------------------------------------------------------- */

static char *utf16le_to_utf8(const uint8_t *p, size_t n)
{
	char *out = malloc(n * 2 + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i + 1 < n; i += 2) {
		uint32_t c = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8;

		if (c >= 0xd800 && c < 0xdc00 && i + 3 < n) {
			uint32_t lo = (uint32_t)p[i + 2] | (uint32_t)p[i + 3] << 8;

			if (lo >= 0xdc00 && lo < 0xe000) {
				c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
				i += 2;
			}
		}
		if (c == 0xfeff)
			continue;
		if (c < 0x80) {
			*o++ = (char)c;
		} else if (c < 0x800) {
			*o++ = (char)(0xc0 | c >> 6);
			*o++ = (char)(0x80 | (c & 0x3f));
		} else if (c < 0x10000) {
			*o++ = (char)(0xe0 | c >> 12);
			*o++ = (char)(0x80 | ((c >> 6) & 0x3f));
			*o++ = (char)(0x80 | (c & 0x3f));
		} else {
			*o++ = (char)(0xf0 | c >> 18);
			*o++ = (char)(0x80 | ((c >> 12) & 0x3f));
			*o++ = (char)(0x80 | ((c >> 6) & 0x3f));
			*o++ = (char)(0x80 | (c & 0x3f));
		}
	}
	*o = '\0';
	return out;
}

/* The <WINDOWS> element of image @index in the WIM's XML, or NULL. */
static char *windows_element(const char *xml, int index)
{
	char tag[48];
	const char *img, *end, *w, *we;
	char *out;

	snprintf(tag, sizeof(tag), "<IMAGE INDEX=\"%d\"", index);
	if (!(img = strstr(xml, tag)) || !(end = strstr(img, "</IMAGE>")))
		return NULL;
	if (!(w = strstr(img, "<WINDOWS>")) || w > end || !(we = strstr(w, "</WINDOWS>")) ||
	    we > end)
		return NULL;
	we += strlen("</WINDOWS>");
	if (!(out = malloc((size_t)(we - w) + 1)))
		return NULL;
	memcpy(out, w, (size_t)(we - w));
	out[we - w] = '\0';
	return out;
}

static int set_meta_str(struct tsm_import *imp, const char *key, const char *value)
{
	if (!value || !*value || !tsm_utf8_valid(value))
		return 0;
	return tsm_import_set_meta(imp, key, value, strlen(value));
}

/* What is kept of each image: wimlib's properties, then the <WINDOWS>
 * element of its XML. */
#define IMAGE_PROPS 7
#define IMAGE_PROP_ARCH 6
static const char *const image_props[IMAGE_PROPS][2] = {
	{ "NAME", "name" },
	{ "DESCRIPTION", "description" },
	{ "DISPLAYNAME", "display_name" },
	{ "DISPLAYDESCRIPTION", "display_description" },
	{ "FLAGS", "flags" },
	{ NULL, "windows" },
	{ "WINDOWS/ARCH", "arch" },
};

/* In the reader: r->props from wimlib. */
static int collect_images(struct wim_reader *r)
{
	size_t count = (size_t)(r->last - r->first + 1);
	void *raw = NULL;
	size_t raw_len = 0;
	char *xml = NULL;

	if (!(r->props = calloc(count * IMAGE_PROPS, sizeof(*r->props))))
		return -ENOMEM;
	r->nprops = count * IMAGE_PROPS;
	if (wimlib_get_xml_data(r->wim, &raw, &raw_len) == 0 && raw_len <= TSM_WIM_XML_MAX)
		xml = utf16le_to_utf8(raw, raw_len);
	free(raw);
	for (size_t k = 0; k < count; k++) {
		int i = r->first + (int)k;

		for (size_t p = 0; p < IMAGE_PROPS; p++) {
			const char *v = image_props[p][0]
						? wimlib_get_image_property(r->wim, i, image_props[p][0])
						: NULL;
			char **slot = &r->props[k * IMAGE_PROPS + p];

			if (!image_props[p][0])
				*slot = xml ? windows_element(xml, i) : NULL;
			else if (v && !(*slot = strdup(v))) {
				free(xml);
				return -ENOMEM;
			}
		}
	}
	free(xml);
	return 0;
}

/* In the importer: the images' facts as content_meta ("wim.*"). */
static int record_images(struct wim_reader *r, struct tsm_import *imp)
{
	char key[64], value[32];
	int rc, count = r->last - r->first + 1, boot = 0;

	if (r->boot_index >= (unsigned)r->first && r->boot_index <= (unsigned)r->last)
		boot = (int)r->boot_index - r->first + 1;
	snprintf(value, sizeof(value), "%d", count);
	if ((rc = set_meta_str(imp, "wim.images", value)) < 0 ||
	    (rc = set_meta_str(imp, "wim.layout", r->indexed ? "indexed" : "root")) < 0)
		return rc;
	snprintf(value, sizeof(value), "%d", boot);
	if ((rc = set_meta_str(imp, "wim.boot_index", value)) < 0)
		return rc;
	for (int k = 0; rc == 0 && k < count; k++) {
		for (size_t p = 0; rc == 0 && p < IMAGE_PROPS; p++) {
			snprintf(key, sizeof(key), "wim.image.%d.%s", k + 1, image_props[p][1]);
			rc = set_meta_str(imp, key, r->props[(size_t)k * IMAGE_PROPS + p]);
		}
		snprintf(key, sizeof(key), "wim.image.%d.source_index", k + 1);
		snprintf(value, sizeof(value), "%d", r->first + k);
		if (rc == 0)
			rc = set_meta_str(imp, key, value);
	}
	return rc;
}

/* ---- the reader's result, from child to parent ------------------------ */

/* The scan goes from the reader to the importer as a wire stream
 * (import/wire.h), at most WIRE_MAX bytes. */
#define WIRE_MAGIC "TSMWIM1"
#define WIRE_END "TSMWIME"
#define WIRE_MAX (1ull << 30)
#define WIRE_STR_MAX (1u << 20)

static int send_scan(struct wim_reader *r, int fd)
{
	struct tsm_wire_out w;
	int rc;

	if ((rc = tsm_wire_out_open(&w, fd, WIRE_MAGIC)) < 0)
		return rc;
	tsm_wire_put_u64(&w, (uint64_t)r->first);
	tsm_wire_put_u64(&w, (uint64_t)r->last);
	tsm_wire_put_u64(&w, r->indexed);
	tsm_wire_put_u64(&w, r->info.boot_index);
	tsm_wire_put_u64(&w, r->nwants);
	for (size_t i = 0; i < r->nwants; i++) {
		const struct want *x = &r->wants[i];

		tsm_wire_put_raw(&w, x->sha1, TSM_SHA1_LEN);
		tsm_wire_put_u64(&w, x->size);
		tsm_wire_put_u64(&w, x->store);
		tsm_wire_put_u64(&w, x->keep);
		tsm_wire_put_str(&w, x->where);
	}
	tsm_wire_put_u64(&w, r->nsecs);
	for (size_t i = 0; i < r->nsecs; i++)
		tsm_wire_put_bytes(&w, r->secs[i].data, r->secs[i].len);
	tsm_wire_put_u64(&w, r->n);
	for (size_t i = 0; i < r->n; i++) {
		const struct entry *e = &r->entries[i];
		const struct tsm_win_meta *m = &e->m;

		tsm_wire_put_str(&w, e->path);
		tsm_wire_put_u64(&w, e->dir);
		tsm_wire_put_u64(&w, e->mode);
		tsm_wire_put_u64(&w, e->size);
		tsm_wire_put_u64(&w, e->data);
		tsm_wire_put_u64(&w, e->reparse);
		tsm_wire_put_u64(&w, e->security);
		tsm_wire_put_u64(&w, m->attributes);
		tsm_wire_put_str(&w, m->short_name);
		tsm_wire_put_u64(&w, m->creation_ft);
		tsm_wire_put_u64(&w, m->access_ft);
		tsm_wire_put_u64(&w, m->write_ft);
		tsm_wire_put_u64(&w, m->reparse_tag);
		tsm_wire_put_u64(&w, m->hardlink_group);
		tsm_wire_put_u64(&w, m->has_unix);
		tsm_wire_put_u64(&w, m->unix_uid);
		tsm_wire_put_u64(&w, m->unix_gid);
		tsm_wire_put_u64(&w, m->unix_mode);
		tsm_wire_put_u64(&w, m->unix_rdev);
		tsm_wire_put_u64(&w, m->has_object_id);
		tsm_wire_put_raw(&w, m->object_id, sizeof(m->object_id));
		tsm_wire_put_u64(&w, m->nstreams);
		for (size_t k = 0; k < m->nstreams; k++) {
			tsm_wire_put_str(&w, m->streams[k].name);
			tsm_wire_put_u64(&w, m->streams[k].size);
			tsm_wire_put_u64(&w, e->stream_wants[k]);
		}
	}
	tsm_wire_put_u64(&w, r->nprops);
	for (size_t i = 0; i < r->nprops; i++)
		tsm_wire_put_str(&w, r->props[i]);
	return tsm_wire_out_close(&w, WIRE_END);
}

static void receive_wants(struct wim_reader *r, struct tsm_wire_in *w)
{
	uint64_t count = tsm_wire_get_count(w, 4ull * MAX_ENTRIES);
	int rc;

	for (uint64_t i = 0; !tsm_wire_rc(w) && i < count; i++) {
		uint8_t sha1[TSM_SHA1_LEN];
		uint64_t size, store, keep;
		char *where;
		size_t idx = 0;

		tsm_wire_get_raw(w, sha1, sizeof(sha1));
		size = tsm_wire_get_count(w, MAX_BLOB_SIZE);
		store = tsm_wire_get_count(w, 1);
		keep = tsm_wire_get_count(w, 1);
		where = tsm_wire_get_str(w, WIRE_STR_MAX);
		/* Kept blobs are read into memory: reparse data only. */
		if (!where || (!store && !keep) || (keep && size > MAX_REPARSE))
			tsm_wire_fail(w, -EPROTO);
		if (!tsm_wire_rc(w) && keep && (rc = want_add(r, sha1, size, true, where, &idx)) < 0)
			tsm_wire_fail(w, rc);
		if (!tsm_wire_rc(w) && store && (rc = want_add(r, sha1, size, false, where, &idx)) < 0)
			tsm_wire_fail(w, rc);
		/* Distinct blobs, in the reader's order. */
		if (idx != i + 1)
			tsm_wire_fail(w, -EPROTO);
		free(where);
	}
}

static void receive_secs(struct wim_reader *r, struct tsm_wire_in *w)
{
	uint64_t count = tsm_wire_get_count(w, MAX_ENTRIES);
	int rc;

	for (uint64_t i = 0; !tsm_wire_rc(w) && i < count; i++) {
		size_t len, idx = 0;
		uint8_t *sd = tsm_wire_get_bytes(w, WIRE_STR_MAX, &len);

		if (!sd)
			tsm_wire_fail(w, -EPROTO);
		else if ((rc = sec_add(r, sd, len, &idx)) < 0)
			tsm_wire_fail(w, rc);
		if (idx != i + 1)
			tsm_wire_fail(w, -EPROTO);
		free(sd);
	}
}

static void receive_entry(struct wim_reader *r, struct tsm_wire_in *w, struct entry *e)
{
	struct tsm_win_meta *m = &e->m;
	uint64_t nstreams;

	e->path = tsm_wire_get_str(w, WIRE_STR_MAX);
	m->path = e->path;
	e->dir = tsm_wire_get_count(w, 1);
	e->mode = (uint32_t)tsm_wire_get_count(w, 07777);
	e->size = tsm_wire_get_count(w, MAX_BLOB_SIZE);
	e->data = (size_t)tsm_wire_get_count(w, r->nwants);
	e->reparse = (size_t)tsm_wire_get_count(w, r->nwants);
	e->security = (size_t)tsm_wire_get_count(w, r->nsecs);
	m->attributes = (uint32_t)tsm_wire_get_count(w, UINT32_MAX);
	m->short_name = tsm_wire_get_str(w, MAX_NAME_BYTES);
	m->creation_ft = tsm_wire_get_count(w, FILETIME_MAX);
	m->access_ft = tsm_wire_get_count(w, FILETIME_MAX);
	m->write_ft = tsm_wire_get_count(w, FILETIME_MAX);
	m->reparse_tag = (uint32_t)tsm_wire_get_count(w, UINT32_MAX);
	m->hardlink_group = tsm_wire_get_u64(w);
	m->has_unix = tsm_wire_get_count(w, 1);
	m->unix_uid = (uint32_t)tsm_wire_get_count(w, UINT32_MAX);
	m->unix_gid = (uint32_t)tsm_wire_get_count(w, UINT32_MAX);
	m->unix_mode = (uint32_t)tsm_wire_get_count(w, UINT32_MAX);
	m->unix_rdev = (uint32_t)tsm_wire_get_count(w, UINT32_MAX);
	m->has_object_id = tsm_wire_get_count(w, 1);
	tsm_wire_get_raw(w, m->object_id, sizeof(m->object_id));
	nstreams = tsm_wire_get_count(w, 65535);
	if (tsm_wire_rc(w))
		return;
	/* "" is the root of a one-image WIM; the rest stays inside. */
	if (!e->path || (*e->path && !tsm_wire_path_ok(e->path)) ||
	    (e->data && e->size != r->wants[e->data - 1].size) ||
	    (e->reparse && !r->wants[e->reparse - 1].keep)) {
		tsm_wire_fail(w, -EPROTO);
		return;
	}
	if (nstreams && (!(m->streams = calloc((size_t)nstreams, sizeof(*m->streams))) ||
			 !(e->stream_wants = calloc((size_t)nstreams, sizeof(*e->stream_wants))))) {
		tsm_wire_fail(w, -ENOMEM);
		return;
	}
	for (uint64_t k = 0; !tsm_wire_rc(w) && k < nstreams; k++) {
		struct tsm_win_stream *ws = &m->streams[m->nstreams++];

		ws->name = tsm_wire_get_str(w, MAX_NAME_BYTES);
		ws->size = tsm_wire_get_count(w, MAX_BLOB_SIZE);
		e->stream_wants[k] = (size_t)tsm_wire_get_count(w, r->nwants);
		if (!ws->name || (ws->size && !e->stream_wants[k]))
			tsm_wire_fail(w, -EPROTO);
	}
}

/* The reader's scan, checked as it arrives. */
static int receive_scan(struct wim_reader *r, int fd)
{
	struct tsm_wire_in *w;
	uint64_t count, nprops;
	int rc;

	if ((rc = tsm_wire_in_open(fd, WIRE_MAX, WIRE_MAGIC, &w)) < 0)
		return rc;
	r->first = (int)tsm_wire_get_count(w, INT32_MAX);
	r->last = (int)tsm_wire_get_count(w, INT32_MAX);
	r->indexed = tsm_wire_get_count(w, 1);
	r->boot_index = (unsigned)tsm_wire_get_count(w, UINT32_MAX);
	if (!tsm_wire_rc(w) && (r->first < 1 || r->last < r->first))
		tsm_wire_fail(w, -EPROTO);
	receive_wants(r, w);
	receive_secs(r, w);
	count = tsm_wire_get_count(w, MAX_ENTRIES);
	if (!tsm_wire_rc(w) && count &&
	    !(r->entries = calloc((size_t)count, sizeof(*r->entries))))
		tsm_wire_fail(w, -ENOMEM);
	for (uint64_t i = 0; !tsm_wire_rc(w) && i < count; i++)
		receive_entry(r, w, &r->entries[r->n++]);
	nprops = (uint64_t)IMAGE_PROPS * (uint64_t)(r->last - r->first + 1);
	if (tsm_wire_get_count(w, nprops) != nprops)
		tsm_wire_fail(w, -EPROTO);
	if (!tsm_wire_rc(w) && !(r->props = calloc((size_t)nprops, sizeof(*r->props))))
		tsm_wire_fail(w, -ENOMEM);
	if (!tsm_wire_rc(w))
		r->nprops = (size_t)nprops;
	for (size_t i = 0; !tsm_wire_rc(w) && i < r->nprops; i++)
		r->props[i] = tsm_wire_get_str(w, TSM_WIM_XML_MAX);
	return tsm_wire_in_end(w, WIRE_END);
}

static int record_entries(struct wim_reader *r, struct tsm_import *imp)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < r->n; i++) {
		struct entry *e = &r->entries[i];
		int64_t mtime = filetime_ns(e->m.write_ft);

		if (e->security) {
			e->m.security = r->secs[e->security - 1].data;
			e->m.security_len = r->secs[e->security - 1].len;
		}
		if (e->reparse) {
			e->m.reparse = r->wants[e->reparse - 1].data;
			e->m.reparse_len = (size_t)r->wants[e->reparse - 1].size;
		}
		for (size_t s = 0; s < e->m.nstreams; s++)
			if (e->stream_wants[s])
				e->m.streams[s].blob_id = r->wants[e->stream_wants[s] - 1].blob_id;
		if (*e->path) {
			if (e->dir)
				rc = tsm_import_add_dir(imp, e->path, e->mode, mtime, e->m.attributes);
			else
				rc = tsm_import_add_file_blob(imp, e->path, e->mode, mtime,
							      e->m.attributes,
							      e->data ? r->wants[e->data - 1].blob_id : 0,
							      e->size);
		}
		if (rc == 0)
			rc = tsm_import_add_win_meta(imp, &e->m);
	}
	return rc;
}

/* ---- a Windows PE boot image (--kind boot-image) ---------------------- */

/* A boot image is the WIM itself (sources/boot.wim on the media, byte for
 * byte) plus its boot files at the paths media need (import/winpe.h).  A
 * boot file is a blob read through the WIM's own bytes: its resource, as
 * the WIM's blob table places it, inside the stored WIM blob
 * (store/wim_resource.h), so its bytes are not stored twice.  Only a boot
 * file the WIM keeps otherwise (a solid resource) is stored apart, as
 * wimlib hands it over. */
static int boot_select(struct wim_reader *r, const struct tsm_wim_facts *facts,
		       struct tsm_winpe_plan *plan, int fd)
{
	uint8_t (*sha1s)[TSM_SHA1_LEN];
	struct tsm_wim_res_desc *descs;
	struct want **ws;
	bool *found;
	size_t k = 0;
	const char **paths;
	bool *dirs;
	int rc;

	if (facts->total_parts > 1) {
		tsm_error("%s: a split WIM cannot be a boot image: the boot manager starts"
			  " sources/boot.wim, one file (join the parts with wimlib-imagex"
			  " export first)", r->file);
		return -EINVAL;
	}
	if (r->last > r->first) {
		tsm_error("%s holds %d images: name the boot image with --index N (the WIM boots"
			  " image %u)", r->file, r->last - r->first + 1, r->boot_index);
		return -EINVAL;
	}
	/* The boot manager starts the image the WIM header's boot index names
	 * (Microsoft, "Windows Imaging File Format (WIM)", the header's
	 * dwBootIndex; wimlib-imagex info --boot), and the media carry the WIM
	 * unchanged: another image cannot be the one that boots. */
	if (r->boot_index && r->boot_index != (unsigned)r->first) {
		tsm_error("%s: image %d is not the image the WIM boots (its boot index is %u):"
			  " the boot manager would start image %u from sources/boot.wim", r->file,
			  r->first, r->boot_index, r->boot_index);
		return -EINVAL;
	}
	if (!(paths = calloc(r->n + 1, sizeof(*paths))) || !(dirs = calloc(r->n + 1, sizeof(*dirs)))) {
		free(paths);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->n; i++) {
		paths[i] = r->entries[i].path;
		dirs[i] = r->entries[i].dir;
	}
	rc = tsm_winpe_plan(r->file, r->first, paths, dirs, r->n, r->props[IMAGE_PROP_ARCH], plan);
	free(paths);
	free(dirs);
	if (rc < 0)
		return rc;
	if (!r->boot_index)
		tsm_warn("%s: the WIM's header names no image to boot (boot index 0); the boot"
			 " manager may refuse it (wimlib-imagex info FILE %d --boot marks it)",
			 r->file, r->first);
	r->store_bytes = facts->file_size;
	for (size_t i = 0; i < r->nwants; i++)
		r->wants[i].store = r->wants[i].keep = false;
	sha1s = calloc(plan->nfiles + 1, sizeof(*sha1s));
	descs = calloc(plan->nfiles + 1, sizeof(*descs));
	ws = calloc(plan->nfiles + 1, sizeof(*ws));
	found = calloc(plan->nfiles + 1, sizeof(*found));
	if (!sha1s || !descs || !ws || !found) {
		rc = -ENOMEM;
		goto out_free;
	}
	for (size_t i = 0; i < plan->nfiles; i++) {
		const struct entry *e = &r->entries[plan->files[i].entry];
		size_t j = 0;

		while (e->data && j < k && ws[j] != &r->wants[e->data - 1])
			j++;
		if (e->data && j == k) {
			ws[k] = &r->wants[e->data - 1];
			memcpy(sha1s[k++], ws[j]->sha1, TSM_SHA1_LEN);
		}
	}
	if ((rc = tsm_wim_find_resources(r->file, fd, (const uint8_t(*)[20])sha1s, k, found,
					 descs)) < 0)
		goto out_free;
	for (size_t j = 0; j < k; j++) {
		if (found[j] && descs[j].size == ws[j]->size) {
			ws[j]->derive = true;
			ws[j]->res = descs[j];
			continue;
		}
		tsm_debug("%s: '%s' is not in a resource of its own: stored apart", r->file,
			  ws[j]->where);
		ws[j]->store = true;
		r->store_bytes += ws[j]->size;
	}
out_free:
	free(sha1s);
	free(descs);
	free(ws);
	free(found);
	if (rc < 0)
		return rc;
	/* The UEFI boot manager's machine type is checked as it is stored. */
	if (plan->uefi_entry < r->n && r->entries[plan->uefi_entry].data) {
		struct want *w = &r->wants[r->entries[plan->uefi_entry].data - 1];

		if (!(w->head = malloc(TSM_WINPE_HEAD)))
			return -ENOMEM;
	}
	return 0;
}

/* Boot file @w read out of the WIM's bytes as the store will read it
 * (store/wim_resource.h), hashed and checked against the SHA-1 the WIM
 * names it by, then recorded as a blob inside blob @wim_blob. */
static int derive_blob(struct wim_reader *r, struct tsm_import *imp, int fd, uint64_t file_size,
		       int64_t wim_blob, struct want *w)
{
	struct fd_in in = { r->file, fd };
	char what[2 * TSM_SHA1_LEN + 256], hex[2 * TSM_SHA1_LEN + 1], got_hex[2 * TSM_SHA1_LEN + 1];
	uint8_t sha256[TSM_SHA256_LEN], sha1[TSM_SHA1_LEN], *buf;
	struct tsm_file_hasher *h = NULL;
	struct tsm_wim_res *res = NULL;
	uint64_t off = 0;
	int rc;

	tsm_hex_encode(w->sha1, TSM_SHA1_LEN, hex);
	snprintf(what, sizeof(what), "%s: '%s' (blob %s)", r->file, w->where, hex);
	if (!(buf = malloc(1u << 20)))
		return -ENOMEM;
	if ((rc = tsm_wim_res_open(what, &w->res, file_size, fd_pread, &in, &res)) < 0 ||
	    (rc = tsm_file_hasher_new(&h)) < 0)
		goto out;
	while (off < w->res.size) {
		ssize_t n = tsm_wim_res_pread(res, buf, 1u << 20, off);

		if (n <= 0) {
			rc = n < 0 ? (int)n : -EIO;
			goto out;
		}
		if (w->head && w->head_len < TSM_WINPE_HEAD) {
			size_t c = TSM_WINPE_HEAD - w->head_len < (size_t)n ? TSM_WINPE_HEAD - w->head_len
									     : (size_t)n;

			memcpy(w->head + w->head_len, buf, c);
			w->head_len += c;
		}
		if ((rc = tsm_file_hasher_update(h, buf, (size_t)n)) < 0)
			goto out;
		off += (uint64_t)n;
	}
	if ((rc = tsm_file_hasher_final(h, sha256, sha1)) < 0)
		goto out;
	if (memcmp(sha1, w->sha1, TSM_SHA1_LEN) != 0) {
		tsm_hex_encode(sha1, TSM_SHA1_LEN, got_hex);
		tsm_error("%s: SHA-1 mismatch: the image says %s, the data hash to %s", what, hex,
			  got_hex);
		rc = -EBADMSG;
		goto out;
	}
	if ((rc = tsm_import_add_wim_resource(imp, wim_blob, &w->res, sha256, sha1, what,
					      &w->blob_id)) == 0)
		w->got = true;
out:
	tsm_file_hasher_free(h);
	tsm_wim_res_free(res);
	free(buf);
	return rc;
}

static int boot_record(struct wim_reader *r, struct tsm_import *imp,
		       const struct tsm_winpe_plan *plan, int fd, const struct stat *st)
{
	static const char *const dirs[] = { "boot", "boot/fonts", "efi", "efi/boot", "efi/microsoft",
					    "efi/microsoft/boot", "efi/microsoft/boot/fonts",
					    "sources" };
	int64_t mtime = tsm_timespec_ns(&st->st_mtim);
	char what[PATH_MAX + 32], index[16];
	struct stat now, named;
	int64_t wim_blob = 0;
	int rc = 0;

	for (size_t d = 0; rc == 0 && d < sizeof(dirs) / sizeof(dirs[0]); d++) {
		size_t len = strlen(dirs[d]);
		bool used = strcmp(dirs[d], "sources") == 0;

		for (size_t i = 0; !used && i < plan->nfiles; i++)
			used = strncmp(plan->files[i].media_path, dirs[d], len) == 0 &&
			       plan->files[i].media_path[len] == '/';
		if (used)
			rc = tsm_import_add_dir(imp, dirs[d], 0755, mtime, 0);
	}
	snprintf(what, sizeof(what), "%s (as %s)", r->file, TSM_WINPE_BOOT_WIM);
	/* The WIM first: the boot files are read out of its blob. */
	if (rc == 0)
		rc = tsm_import_add_file_fd_blob(imp, TSM_WINPE_BOOT_WIM, 0444, mtime, 0x21, fd, what,
						 &wim_blob);
	for (size_t i = 0; rc == 0 && i < plan->nfiles; i++) {
		const struct entry *e = &r->entries[plan->files[i].entry];
		struct want *w = e->data ? &r->wants[e->data - 1] : NULL;

		if (w && w->derive && !w->got)
			rc = derive_blob(r, imp, fd, (uint64_t)st->st_size, wim_blob, w);
	}
	if (rc == 0 && plan->uefi_entry < r->n) {
		const struct entry *e = &r->entries[plan->uefi_entry];
		const struct want *w = e->data ? &r->wants[e->data - 1] : NULL;

		if ((rc = tsm_winpe_check_machine(r->file, e->path, w ? w->head : NULL,
						  w ? w->head_len : 0, plan->arch)) < 0)
			return rc;
	}
	for (size_t i = 0; rc == 0 && i < plan->nfiles; i++) {
		const struct entry *e = &r->entries[plan->files[i].entry];

		rc = tsm_import_add_file_blob(imp, plan->files[i].media_path, 0444,
					      filetime_ns(e->m.write_ft), 0x21,
					      e->data ? r->wants[e->data - 1].blob_id : 0, e->size);
	}
	/* What the reader scanned (by name) is what was stored (from @fd): the
	 * name still leads to this file, which did not change meanwhile. */
	if (rc == 0 && (fstat(fd, &now) < 0 || stat(r->file, &named) < 0 ||
			named.st_dev != now.st_dev || named.st_ino != now.st_ino ||
			now.st_size != st->st_size || now.st_mtim.tv_sec != st->st_mtim.tv_sec ||
			now.st_mtim.tv_nsec != st->st_mtim.tv_nsec)) {
		tsm_error("%s changed while it was imported", r->file);
		rc = -EAGAIN;
	}
	/* El Torito as oscdimg -bootdata:2#p0,e,b<etfsboot.com>#pEF,e,b<efisys.bin>
	 * writes it (Microsoft Learn, "Oscdimg Command-Line Options"): platform
	 * 0 no emulation, then platform 0xEF no emulation. */
	if (rc == 0 && plan->bios) {
		struct tsm_boot_entry e = { .platform = TSM_BOOT_PLATFORM_BIOS,
					    .load_size = TSM_WINPE_ETFSBOOT_LOAD_SIZE,
					    .path = (char *)TSM_WINPE_ETFSBOOT };

		rc = tsm_import_add_boot(imp, &e);
	}
	if (rc == 0 && plan->uefi_cd) {
		struct tsm_boot_entry e = { .platform = TSM_BOOT_PLATFORM_UEFI,
					    .load_size = TSM_WINPE_EFISYS_LOAD_SIZE,
					    .path = (char *)TSM_WINPE_EFISYS };

		rc = tsm_import_add_boot(imp, &e);
	}
	snprintf(index, sizeof(index), "%d", r->first);
	if (rc == 0)
		rc = set_meta_str(imp, "boot.arch", plan->arch);
	if (rc == 0)
		rc = set_meta_str(imp, "boot.wim_index", index);
	if (rc == 0 && plan->client)
		rc = set_meta_str(imp, "boot.client", plan->client);
	if (rc == 0)
		rc = set_meta_str(imp, "boot.firmware", plan->bios && plan->uefi ? "bios,uefi"
							 : plan->bios ? "bios" : "uefi");
	return rc;
}

static void reader_free(struct wim_reader *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct entry *e = &r->entries[i];

		free(e->path);
		free(e->m.short_name);
		for (size_t s = 0; s < e->m.nstreams; s++)
			free(e->m.streams[s].name);
		free(e->m.streams);
		free(e->stream_wants);
	}
	free(r->entries);
	for (size_t i = 0; i < r->nwants; i++) {
		free(r->wants[i].data);
		free(r->wants[i].where);
		free(r->wants[i].head);
	}
	free(r->wants);
	free(r->want_table);
	for (size_t i = 0; i < r->nsecs; i++)
		free(r->secs[i].data);
	free(r->secs);
	free(r->sec_table);
	for (unsigned i = 0; r->parts && i < r->nparts; i++) {
		free(r->parts[i].path);
		if (r->parts[i].wim)
			wimlib_free(r->parts[i].wim);
	}
	free(r->parts);
	for (size_t i = 0; i < r->nprops; i++)
		free(r->props[i]);
	free(r->props);
	if (r->wim)
		wimlib_free(r->wim);
}

static pthread_once_t wimlib_once = PTHREAD_ONCE_INIT;

static void wimlib_init_once(void)
{
	wimlib_global_init(0);
}

/* ---- the reader in its own process ------------------------------------- */

/* wimlib runs in a child process under limits (util/sandbox.h): whatever
 * a hostile WIM makes it do, it cannot take the importer, the store or the
 * machine with it.  The child opens and scans the WIM, sends the checked
 * result, waits for the importer's go (the importer takes the store's lock
 * in between), then writes the data as a pipable WIM on the same socket.
 *
 * Memory: wimlib holds the tree of every image it exports at once, a few
 * times its metadata resources' size (inodes, dentries, names); 2 GiB
 * plus 4 times that, at most 8 GiB.  CPU: a hang guard, far above what
 * decompressing the data takes (1 s per MiB of file, 1 s per 16 MiB of
 * data, plus a minute), at most 4 hours. */
#define READER_MEMORY_BASE (2ull << 30)
#define READER_MEMORY_MAX (8ull << 30)
#define READER_CPU_BASE 60u
#define READER_CPU_MAX (4u * 3600u)

static void reader_limits(const struct tsm_wim_facts *f, struct tsm_sandbox_limits *lim)
{
	uint64_t mem = READER_MEMORY_BASE + 4 * f->metadata_bytes;
	uint64_t cpu = READER_CPU_BASE + (uint64_t)f->total_parts * (f->file_size >> 20) +
		       ((f->data_bytes >> 24) + (f->metadata_bytes >> 24));

	mem = (mem + (1ull << 30) - 1) & ~((1ull << 30) - 1);
	lim->memory = mem < READER_MEMORY_MAX ? mem : READER_MEMORY_MAX;
	lim->cpu_seconds = cpu < READER_CPU_MAX ? (unsigned)cpu : READER_CPU_MAX;
}

struct reader_job {
	const char *file;
	int index;
};

static int reader_run(struct wim_reader *r, int index, int fd)
{
	char go = 0;
	int rc;

	if ((rc = scan(r, index)) < 0 || (rc = collect_images(r)) < 0 ||
	    (rc = send_scan(r, fd)) < 0)
		return rc;
	/* The importer wants the data ('G'), reads it itself ('S': the export
	 * is still made, so that what it refuses is refused the same way) or
	 * gives up (the socket closes). */
	if (tsm_fd_read_full(fd, &go, 1) < 0 || (go != 'G' && go != 'S'))
		return 0;
	return write_data(r, fd, go == 'G');
}

/* The child (a process; in a fuzz build perhaps a thread, see sandbox.c):
 * it frees what it made, and gives wimlib's messages back to stderr. */
static int reader_main(void *arg, int fd)
{
	const struct reader_job *job = arg;
	struct wim_reader r = { .file = job->file };
	int rc;

	pthread_once(&wimlib_once, wimlib_init_once);
	if ((rc = wimlib_log_begin(&r.log)) < 0)
		return rc;
	rc = reader_run(&r, job->index, fd);
	reader_free(&r);
	wimlib_log_end(&r.log);
	return rc;
}

int tsm_import_wim(struct tsm_store *store, const struct tsm_content_add_options *o,
		   struct tsm_content_add_result *res)
{
	struct wim_reader r = { .file = o->source };
	struct reader_job job = { .file = o->source, .index = o->wim_index };
	struct tsm_wim_facts facts;
	struct tsm_sandbox_limits lim;
	struct tsm_sandbox *sb;
	struct tsm_import *imp = NULL;
	struct tsm_winpe_plan plan = { 0 };
	struct direct_blob *direct = NULL;
	size_t ndirect = 0;
	bool boot = o->kind == TSM_KIND_BOOT_IMAGE;
	struct stat st;
	char *real = NULL;
	int rc, crc, fd = -1;

	/* Checked here, where nothing of wimlib runs, then again by the
	 * reader right before wimlib opens the file. */
	if ((rc = tsm_wim_check_file(o->source, &facts)) < 0)
		return rc;
	/* A boot image keeps the WIM's bytes: the file as it is now; an OS
	 * image's blobs are read from it (import_direct()). */
	if ((fd = open(o->source, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		tsm_error("%s: %s", o->source, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	reader_limits(&facts, &lim);
	if ((rc = tsm_sandbox_start(o->source, _("WIM reader"), &lim, reader_main, &job, &sb)) < 0) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if ((rc = receive_scan(&r, tsm_sandbox_fd(sb))) < 0) {
		crc = tsm_sandbox_finish(sb, rc != -EPIPE);
		if (crc < 0)
			rc = crc; /* the reader said why */
		else
			tsm_error("%s: the WIM reader %s", r.file, rc == -EPIPE
				  ? _("ended without a result") : _("sent a malformed result"));
		goto out;
	}
	if (boot && (rc = boot_select(&r, &facts, &plan, fd)) < 0) {
		tsm_sandbox_finish(sb, true);
		goto out;
	}
	if (!boot && (rc = direct_plan(&r, fd, &facts, &direct, &ndirect)) < 0) {
		tsm_sandbox_finish(sb, true);
		goto out;
	}
	tsm_debug("%s: %zu entries in %d image(s), %zu distinct blobs, %llu bytes to store",
		  r.file, r.n, r.last - r.first + 1, r.nwants, (unsigned long long)r.store_bytes);
	real = realpath(o->source, NULL);
	if ((rc = tsm_import_begin(store, o, real ? real : o->source, r.store_bytes, &imp)) < 0) {
		tsm_sandbox_finish(sb, true);
		goto out;
	}
	if (direct) {
		/* The reader is done ('S'); the importer reads the blobs. */
		rc = tsm_sandbox_send(sb, "S", 1);
		crc = tsm_sandbox_finish(sb, rc < 0);
		if (crc < 0)
			rc = crc;
		if (rc == 0)
			rc = import_direct(&r, imp, fd, (uint64_t)st.st_size, direct, ndirect);
	} else {
		/* Even when nothing of it is stored (a boot image whose boot
		 * files are read out of the WIM's bytes), the reader writes
		 * every blob: wimlib checks each one's SHA-1 as it reads it, so
		 * a WIM damaged anywhere is refused. */
		if ((rc = tsm_sandbox_send(sb, "G", 1)) == 0)
			rc = import_data(&r, imp, tsm_sandbox_fd(sb));
		crc = tsm_sandbox_finish(sb, rc < 0);
		if (crc < 0) {
			rc = crc; /* the reader's failure explains the data's end */
		} else if (rc == -EPIPE) {
			tsm_error("%s: the WIM reader's data ended early", r.file);
			rc = -EIO;
		}
	}
	if (rc == 0 && boot)
		rc = boot_record(&r, imp, &plan, fd, &st);
	else if (rc == 0)
		rc = record_entries(&r, imp);
	if (rc == 0)
		rc = record_images(&r, imp);
	if (rc < 0)
		tsm_import_abort(imp);
	else
		rc = tsm_import_finish(imp, res);
out:
	if (fd >= 0)
		close(fd);
	tsm_winpe_plan_clear(&plan);
	free(direct);
	free(real);
	reader_free(&r);
	return rc;
}
