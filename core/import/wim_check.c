/* Checking a WIM's header and blob table before wimlib reads them.
 *
 * Layouts (Microsoft, "Windows Imaging File Format (WIM)", 2007; wimlib's
 * include/wimlib/header.h and resource.h):
 *
 * WIMHEADER_V1_PACKED, 208 bytes at offset 0 (a pipable WIM, magic
 * "WLPWM\0\0\0", has its real header in its last 208 bytes):
 *     0  ImageTag[8]        "MSWIM\0\0\0"
 *     8  cbSize             208
 *    12  dwVersion          0x10d00, or 0xe00 with solid resources
 *    16  dwFlags            0x2 compressed; 0x20000 XPRESS, 0x40000 LZX,
 *                           0x80000 LZMS, 0x200000 XPRESS (v2)
 *    20  dwCompressionSize  chunk size (0 when uncompressed)
 *    24  gWIMGuid[16]
 *    40  usPartNumber, 42 usTotalParts
 *    44  dwImageCount
 *    48  rhOffsetTable      the blob ("lookup") table
 *    72  rhXmlData
 *    96  rhBootMetadata
 *   120  dwBootIndex
 *   124  rhIntegrity
 *
 * RESHDR_DISK_SHORT, 24 bytes: a 56-bit size in the file, 8 bits of flags
 * (0x2 metadata, 0x4 compressed, 0x10 solid), LE64 offset, LE64 original
 * (uncompressed) size.
 *
 * A blob table entry, 50 bytes: RESHDR_DISK_SHORT, LE16 part number, LE32
 * reference count, SHA-1.  A compressed resource starts with a chunk
 * table: one entry (4 bytes, 8 when the resource is over 4 GiB) per chunk
 * but the first.  In a solid run (version 0xe00) an entry whose original
 * size is 0x100000000 describes a solid resource, which starts with a
 * 16-byte header (LE64 uncompressed size, LE32 chunk size, LE32 format:
 * 0 none, 1 XPRESS, 2 LZX, 3 LZMS) and a 4-byte entry per chunk; the other
 * entries of the run are blobs inside it. */
#include "import/wim_check.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsmedia/i18n.h"
#include "tsmedia/log.h"
#include "util/fdio.h"

#define HDR_SIZE 208
#define VERSION_DEFAULT 0x10d00u
#define VERSION_SOLID 0xe00u
#define HDR_FLAG_COMPRESSION 0x2u
#define HDR_FLAG_XPRESS 0x20000u
#define HDR_FLAG_LZX 0x40000u
#define HDR_FLAG_LZMS 0x80000u
#define HDR_FLAG_XPRESS2 0x200000u
#define RESHDR_METADATA 0x02u
#define RESHDR_COMPRESSED 0x04u
#define RESHDR_SOLID 0x10u
#define SOLID_MAGIC 0x100000000ull
#define ENTRY_SIZE 50
#define SOLID_HDR_SIZE 16
#define MAX_BLOB (1ull << 50)
#define MAX_PARTS 999

enum ctype { CT_NONE, CT_XPRESS, CT_LZX, CT_LZMS };

/* wimlib's src/wim.c wim_ctype_info: the chunk sizes each format takes. */
static const struct {
	const char *name;
	uint32_t min, max;
} ctypes[] = {
	[CT_NONE] = { "none", 0, 0 },
	[CT_XPRESS] = { "XPRESS", 4096, 65536 },
	[CT_LZX] = { "LZX", 32768, 2097152 },
	[CT_LZMS] = { "LZMS", 32768, 1073741824 },
};

struct reshdr {
	uint64_t size, offset, usize;
	uint8_t flags;
};

struct check {
	const char *file;
	int fd;
	uint64_t size;
	uint32_t version, chunk;
	enum ctype ctype;
	uint16_t part;
};

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

static void get_reshdr(const uint8_t *p, struct reshdr *r)
{
	r->size = le64(p) & 0x00ffffffffffffffull;
	r->flags = p[7];
	r->offset = le64(p + 8);
	r->usize = le64(p + 16);
}

static int refuse(const struct check *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(const struct check *c, int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), _(fmt), ap);
	va_end(ap);
	tsm_error("%s: not a usable WIM: %s", c->file, msg);
	return err;
}

static bool in_file(const struct check *c, uint64_t off, uint64_t len)
{
	return off <= c->size && len <= c->size - off;
}

static bool chunk_ok(enum ctype t, uint32_t chunk)
{
	if (t == CT_NONE)
		return chunk == 0;
	return (chunk & (chunk - 1)) == 0 && chunk >= ctypes[t].min && chunk <= ctypes[t].max;
}

/* A header resource (blob table, XML, boot metadata, integrity table). */
static int check_header_res(const struct check *c, const struct reshdr *r, const char *what,
			    bool may_compress)
{
	if (!r->size && !r->usize)
		return 0;
	if (!may_compress && (r->flags & RESHDR_COMPRESSED))
		return refuse(c, -EINVAL, "its %s is marked compressed, which the format never"
			      " does", what);
	if (!(r->flags & RESHDR_COMPRESSED) && r->size != r->usize)
		return refuse(c, -EINVAL, "its %s is %llu bytes in the file but claims %llu",
			      what, (unsigned long long)r->size, (unsigned long long)r->usize);
	if (!in_file(c, r->offset, r->size))
		return refuse(c, -EIO, "its %s (bytes %llu-%llu) is past the end of the file (%llu"
			      " bytes; truncated?)", what, (unsigned long long)r->offset,
			      (unsigned long long)r->offset + r->size,
			      (unsigned long long)c->size);
	return 0;
}

/* A compressed resource's chunk table must fit in it: one entry per chunk
 * but the first, so a resource cannot claim more chunks than that. */
static bool chunks_fit(uint64_t usize, uint64_t size, uint32_t chunk, unsigned entry_size,
		       uint64_t overhead)
{
	uint64_t nchunks;

	if (!chunk || size < overhead)
		return false;
	nchunks = usize / chunk + (usize % chunk != 0);
	return nchunks == 0 || nchunks - 1 <= (size - overhead) / entry_size;
}

static int check_solid_resource(const struct check *c, const struct reshdr *r, size_t index)
{
	uint8_t h[SOLID_HDR_SIZE];
	uint64_t usize;
	uint32_t chunk, format;
	int rc;

	if (!in_file(c, r->offset, r->size) || r->size < SOLID_HDR_SIZE)
		return refuse(c, -EIO, "solid resource %zu (bytes %llu-%llu) is past the end of the"
			      " file (%llu bytes; truncated?)", index,
			      (unsigned long long)r->offset, (unsigned long long)r->offset + r->size,
			      (unsigned long long)c->size);
	if ((rc = tsm_pread_full(c->fd, h, sizeof(h), r->offset)) < 0) {
		tsm_error("%s: cannot read solid resource %zu: %s", c->file, index, strerror(-rc));
		return rc;
	}
	usize = le64(h);
	chunk = le32(h + 8);
	format = le32(h + 12);
	if (format > CT_LZMS)
		return refuse(c, -EINVAL, "solid resource %zu names compression format %u", index,
			      format);
	if (format == CT_NONE) {
		if (usize > r->size - SOLID_HDR_SIZE)
			return refuse(c, -EINVAL, "uncompressed solid resource %zu claims %llu bytes in"
				      " %llu", index, (unsigned long long)usize,
				      (unsigned long long)r->size);
		return 0;
	}
	if (!chunk_ok((enum ctype)format, chunk) || chunk > TSM_WIM_SOLID_CHUNK_MAX)
		return refuse(c, -EINVAL, "solid resource %zu has chunk size %u (%s takes powers of"
			      " two from %u to %u here)", index, chunk, ctypes[format].name,
			      ctypes[format].min,
			      ctypes[format].max < TSM_WIM_SOLID_CHUNK_MAX ? ctypes[format].max
									 : TSM_WIM_SOLID_CHUNK_MAX);
	if (!chunks_fit(usize, r->size, chunk, 4, SOLID_HDR_SIZE))
		return refuse(c, -EINVAL, "solid resource %zu claims %llu bytes, more chunks than its"
			      " %llu bytes have room to list", index, (unsigned long long)usize,
			      (unsigned long long)r->size);
	return 0;
}

static int check_entry(const struct check *c, const uint8_t *e, size_t index,
		       struct tsm_wim_facts *f, uint32_t *metadata_count)
{
	static const uint8_t zero_hash[20];
	struct reshdr r;
	uint16_t part = le16(e + 24);
	uint32_t refcnt = le32(e + 26);
	uint64_t sum;

	get_reshdr(e, &r);
	/* wimlib ignores the solid flag in a version 0x10d00 WIM. */
	if (c->version == VERSION_DEFAULT)
		r.flags &= (uint8_t)~RESHDR_SOLID;
	if (r.flags & RESHDR_SOLID) {
		if (r.usize == SOLID_MAGIC)
			return check_solid_resource(c, &r, index);
		/* A blob inside the run: its size is the size field; wimlib
		 * checks that it lies inside the run's resources. */
		if (r.size > MAX_BLOB)
			return refuse(c, -EFBIG, "blob table entry %zu claims %llu bytes", index,
				      (unsigned long long)r.size);
		if (__builtin_add_overflow(f->data_bytes, r.size, &sum))
			return refuse(c, -EFBIG, "its blobs add up to more than 2^64 bytes");
		f->data_bytes = sum;
		return 0;
	}
	/* Entries wimlib skips: another part's, empty, hashless, and
	 * metadata nothing refers to (src/blob_table.c). */
	if (part != c->part || (!r.size && !r.usize) || memcmp(e + 30, zero_hash, 20) == 0 ||
	    ((r.flags & RESHDR_METADATA) && refcnt == 0))
		return 0;
	if (r.usize > MAX_BLOB)
		return refuse(c, -EFBIG, "blob table entry %zu claims %llu bytes", index,
			      (unsigned long long)r.usize);
	if (!in_file(c, r.offset, r.size))
		return refuse(c, -EIO, "blob table entry %zu (bytes %llu-%llu) is past the end of"
			      " the file (%llu bytes; truncated?)", index,
			      (unsigned long long)r.offset, (unsigned long long)r.offset + r.size,
			      (unsigned long long)c->size);
	if (!(r.flags & RESHDR_COMPRESSED)) {
		if (r.size != r.usize)
			return refuse(c, -EINVAL, "uncompressed blob table entry %zu is %llu bytes in"
				      " the file but claims %llu", index,
				      (unsigned long long)r.size, (unsigned long long)r.usize);
	} else if (c->ctype == CT_NONE) {
		return refuse(c, -EINVAL, "blob table entry %zu is compressed in a WIM whose header"
			      " names no compression", index);
	} else if (!chunks_fit(r.usize, r.size, c->chunk, r.usize > UINT32_MAX ? 8 : 4, 0)) {
		return refuse(c, -EINVAL, "blob table entry %zu claims %llu bytes: far more bytes"
			      " than its compressed resource can hold (%llu bytes, too few to list"
			      " that many chunks)", index, (unsigned long long)r.usize,
			      (unsigned long long)r.size);
	}
	if (r.flags & RESHDR_METADATA) {
		if (r.usize > TSM_WIM_METADATA_MAX)
			return refuse(c, -EFBIG, "the metadata of image %u claims %llu bytes (at most"
				      " %llu)", *metadata_count + 1, (unsigned long long)r.usize,
				      (unsigned long long)TSM_WIM_METADATA_MAX);
		(*metadata_count)++;
		f->metadata_bytes += r.usize; /* <= 2^32 * 512 MiB: no overflow */
		return 0;
	}
	if (__builtin_add_overflow(f->data_bytes, r.usize, &sum))
		return refuse(c, -EFBIG, "its blobs add up to more than 2^64 bytes");
	f->data_bytes = sum;
	return 0;
}

static int check_blob_table(const struct check *c, const struct reshdr *bt,
			    struct tsm_wim_facts *f)
{
	enum { BATCH = 1024 };
	uint8_t *buf;
	uint64_t n = bt->size / ENTRY_SIZE;
	uint32_t metadata_count = 0;
	int rc = 0;

	if (!(buf = malloc((size_t)BATCH * ENTRY_SIZE)))
		return -ENOMEM;
	for (uint64_t i = 0; rc == 0 && i < n; i += BATCH) {
		size_t k = n - i < BATCH ? (size_t)(n - i) : BATCH;

		if ((rc = tsm_pread_full(c->fd, buf, k * ENTRY_SIZE, bt->offset + i * ENTRY_SIZE)) < 0) {
			tsm_error("%s: cannot read the blob table: %s", c->file, strerror(-rc));
			break;
		}
		for (size_t j = 0; rc == 0 && j < k; j++)
			rc = check_entry(c, buf + j * ENTRY_SIZE, (size_t)(i + j), f, &metadata_count);
	}
	free(buf);
	if (rc == 0 && c->part == 1 && metadata_count != f->image_count)
		rc = refuse(c, -EINVAL, "its header says %u image%s, its blob table holds metadata"
			    " for %u", f->image_count, f->image_count == 1 ? "" : "s",
			    metadata_count);
	return rc;
}

static int check_header(struct check *c, const uint8_t *h, struct tsm_wim_facts *f)
{
	struct reshdr bt, xml, boot, integrity;
	uint32_t flags = le32(h + 16), boot_index = le32(h + 120);
	unsigned formats;
	int rc;

	if (le32(h + 8) != HDR_SIZE)
		return refuse(c, -EINVAL, "its header size is %u bytes, not %u", le32(h + 8),
			      HDR_SIZE);
	c->version = f->version = le32(h + 12);
	if (c->version != VERSION_DEFAULT && c->version != VERSION_SOLID)
		return refuse(c, -EINVAL, "unknown WIM version 0x%x (known: 0x10d00, 0xe00)",
			      c->version);
	c->part = f->part_number = le16(h + 40);
	f->total_parts = le16(h + 42);
	if (!f->total_parts || !f->part_number || f->part_number > f->total_parts ||
	    f->total_parts > MAX_PARTS)
		return refuse(c, -EINVAL, "its header says part %u of %u (at most %u parts)",
			      f->part_number, f->total_parts, MAX_PARTS);
	c->chunk = le32(h + 20);
	c->ctype = CT_NONE;
	if (flags & HDR_FLAG_COMPRESSION) {
		formats = !!(flags & (HDR_FLAG_XPRESS | HDR_FLAG_XPRESS2)) + !!(flags & HDR_FLAG_LZX) +
			  !!(flags & HDR_FLAG_LZMS);
		if (formats != 1)
			return refuse(c, -EINVAL, "its header flags (0x%x) name %s compression format",
				      flags, formats ? _("more than one") : _("no"));
		c->ctype = flags & HDR_FLAG_LZX ? CT_LZX : flags & HDR_FLAG_LZMS ? CT_LZMS
										  : CT_XPRESS;
	}
	if (!chunk_ok(c->ctype, c->chunk))
		return refuse(c, -EINVAL, "its chunk size is %u bytes (%s takes %s)", c->chunk,
			      ctypes[c->ctype].name,
			      c->ctype == CT_NONE ? "0" : c->ctype == CT_XPRESS
				      ? _("powers of two from 4096 to 65536")
				      : c->ctype == CT_LZX ? _("powers of two from 32768 to 2097152")
							   : _("powers of two from 32768 to 2^30"));
	f->image_count = le32(h + 44);
	get_reshdr(h + 48, &bt);
	get_reshdr(h + 72, &xml);
	get_reshdr(h + 96, &boot);
	get_reshdr(h + 124, &integrity);
	if (!bt.usize && !xml.usize)
		return refuse(c, -EINVAL, "it has neither a blob table nor XML data (a WIM whose"
			      " writing never finished?)");
	if ((rc = check_header_res(c, &bt, _("blob table"), false)) < 0 ||
	    (rc = check_header_res(c, &xml, _("XML data"), false)) < 0 ||
	    (rc = check_header_res(c, &boot, _("boot metadata"), true)) < 0 ||
	    (rc = check_header_res(c, &integrity, _("integrity table"), false)) < 0)
		return rc;
	if (bt.size % ENTRY_SIZE)
		return refuse(c, -EINVAL, "its blob table (%llu bytes) is not a whole number of"
			      " %d-byte entries", (unsigned long long)bt.size, ENTRY_SIZE);
	if (xml.size > TSM_WIM_XML_MAX || xml.size % 2)
		return refuse(c, -EINVAL, "its XML data is %llu bytes (UTF-16: an even number, at"
			      " most %u)", (unsigned long long)xml.size, TSM_WIM_XML_MAX);
	/* Each image has a metadata resource, listed in the blob table. */
	if (f->part_number == 1 && f->image_count > bt.size / ENTRY_SIZE)
		return refuse(c, -EINVAL, "its header says %u images, more than its blob table (%llu"
			      " entries) can list", f->image_count,
			      (unsigned long long)(bt.size / ENTRY_SIZE));
	if (boot_index > f->image_count)
		return refuse(c, -EINVAL, "its boot index is %u, but it has %u image%s", boot_index,
			      f->image_count, f->image_count == 1 ? "" : "s");
	return check_blob_table(c, &bt, f);
}

int tsm_wim_check_file(const char *path, struct tsm_wim_facts *facts_ret)
{
	struct check c = { .file = path, .fd = -1 };
	struct tsm_wim_facts f = { 0 };
	uint8_t h[HDR_SIZE];
	uint64_t hdr_off = 0;
	struct stat st;
	int rc;

	if ((c.fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(c.fd, &st) < 0) {
		rc = -errno;
		tsm_error("cannot read %s: %s", path, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = refuse(&c, -EINVAL, "it is not a regular file");
		goto out;
	}
	c.size = f.file_size = (uint64_t)st.st_size;
	if (c.size < HDR_SIZE) {
		rc = refuse(&c, -EIO, "%llu bytes is too short for its %d-byte header (truncated?)",
			    (unsigned long long)c.size, HDR_SIZE);
		goto out;
	}
	if ((rc = tsm_pread_full(c.fd, h, sizeof(h), 0)) < 0) {
		tsm_error("%s: cannot read the WIM header: %s", path, strerror(-rc));
		goto out;
	}
	/* A pipable WIM (wimlib's "WLPWM") keeps its real header at the end. */
	if (memcmp(h, "WLPWM\0\0\0", 8) == 0) {
		hdr_off = c.size - HDR_SIZE;
		if ((rc = tsm_pread_full(c.fd, h, sizeof(h), hdr_off)) < 0) {
			tsm_error("%s: cannot read the WIM header: %s", path, strerror(-rc));
			goto out;
		}
	} else if (memcmp(h, "MSWIM\0\0\0", 8) != 0) {
		rc = refuse(&c, -EINVAL, "it does not start with \"MSWIM\"");
		goto out;
	}
	rc = check_header(&c, h, &f);
out:
	if (c.fd >= 0)
		close(c.fd);
	if (rc == 0 && facts_ret)
		*facts_ret = f;
	return rc;
}

/* Indices into the SHA-1s @ctx, by SHA-1 (qsort_r). */
static int sha1_order_cmp(const void *a, const void *b, void *ctx)
{
	const uint8_t (*sha1s)[20] = ctx;

	return memcmp(sha1s[*(const size_t *)a], sha1s[*(const size_t *)b], 20);
}

int tsm_wim_find_resources(const char *path, int fd, const uint8_t (*sha1s)[20], size_t n,
			   bool *found_ret, struct tsm_wim_res_desc *desc_ret)
{
	enum { BATCH = 1024 };
	struct check c = { .file = path, .fd = fd };
	struct reshdr bt;
	uint8_t h[HDR_SIZE], *buf;
	size_t *order;
	uint32_t flags;
	uint64_t count;
	int rc;

	for (size_t i = 0; i < n; i++)
		found_ret[i] = false;
	if ((rc = tsm_pread_full(fd, h, sizeof(h), 0)) < 0) {
		tsm_error("%s: cannot read the WIM header: %s", path, strerror(-rc));
		return rc;
	}
	/* A pipable WIM frames its resources otherwise (wimlib's resource.h,
	 * struct pwm_chunk_hdr): none is read in place. */
	if (memcmp(h, "MSWIM\0\0\0", 8) != 0)
		return 0;
	c.version = le32(h + 12);
	c.part = le16(h + 40);
	c.chunk = le32(h + 20);
	flags = le32(h + 16);
	c.ctype = !(flags & HDR_FLAG_COMPRESSION) ? CT_NONE : flags & HDR_FLAG_LZX ? CT_LZX
		  : flags & HDR_FLAG_LZMS ? CT_LZMS : CT_XPRESS;
	get_reshdr(h + 48, &bt);
	count = bt.size / ENTRY_SIZE;
	/* The sought SHA-1s in order: each entry looks them up (an install
	 * image has tens of thousands of blobs). */
	if (!(order = malloc((n + 1) * sizeof(*order))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	qsort_r(order, n, sizeof(*order), sha1_order_cmp, (void *)sha1s);
	if (!(buf = malloc((size_t)BATCH * ENTRY_SIZE))) {
		free(order);
		return -ENOMEM;
	}
	for (uint64_t i = 0; rc == 0 && i < count; i += BATCH) {
		size_t k = count - i < BATCH ? (size_t)(count - i) : BATCH;

		if ((rc = tsm_pread_full(fd, buf, k * ENTRY_SIZE, bt.offset + i * ENTRY_SIZE)) < 0) {
			tsm_error("%s: cannot read the blob table: %s", path, strerror(-rc));
			break;
		}
		for (size_t j = 0; j < k; j++) {
			const uint8_t *e = buf + j * ENTRY_SIZE;
			struct reshdr r;

			get_reshdr(e, &r);
			if (le16(e + 24) != c.part || (r.flags & RESHDR_METADATA) ||
			    (c.version == VERSION_SOLID && (r.flags & RESHDR_SOLID)))
				continue;
			size_t lo = 0, hi = n;

			/* The first of the sought SHA-1s (sorted) not below this one. */
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;

				if (memcmp(sha1s[order[mid]], e + 30, 20) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			for (; lo < n && memcmp(sha1s[order[lo]], e + 30, 20) == 0; lo++) {
				size_t w = order[lo];
				bool compressed = r.flags & RESHDR_COMPRESSED;

				if (found_ret[w])
					continue;
				/* Chunks larger than the reader takes: stored apart. */
				if (compressed && c.chunk > TSM_WIM_RES_CHUNK_MAX)
					continue;
				found_ret[w] = true;
				desc_ret[w] = (struct tsm_wim_res_desc){
					.offset = r.offset, .stored_size = r.size, .size = r.usize,
					.format = compressed ? (enum tsm_wim_format)c.ctype
							     : TSM_WIM_FORMAT_NONE,
					.chunk_size = compressed ? c.chunk : 0 };
			}
		}
	}
	free(buf);
	free(order);
	return rc;
}
