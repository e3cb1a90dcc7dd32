/* Importing an ISO image: tree from libudf or libiso9660, El Torito here.
 *
 * The scan reads every directory, checks every name, size and extent
 * against the image and records the tree with each file's data extents
 * (byte ranges of the image; for UDF read from the file entry's allocation
 * descriptors here, as libudf gives only the first).  The scan runs in a
 * child process (see "the reader in its own process" below) and nothing is
 * written.  Only then does the import session begin, and it reads file
 * data straight from the image by the recorded extents: the tree is never
 * read twice, so an image changed after the scan yields other bytes or a
 * read error, never a read past what was checked. */
#include "import/iso.h"
#include "import/iso_dirs.h"

#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cdio/bytesex.h>
#include <cdio/iso9660.h>
#include <cdio/logging.h>
#include <cdio/udf.h>
#include <cdio/version.h>

#include "import/session.h"
#include "import/source.h"
#include "import/wire.h"
#include "tsmedia/content.h"
#include "tsmedia/log.h"
#include "util/fdio.h"
#include "util/sandbox.h"

#define ISO_SECTOR 2048u
#define MAX_DEPTH 64
#define MAX_ENTRIES 1000000
#define VRS_FIRST 16 /* ECMA-119 6.2.1: the system area is sectors 0-15 */

/* Windows file attributes (the session adds "directory" itself). */
#define ATTR_READONLY 0x1
#define ATTR_ARCHIVE 0x20

/* ---- little helpers ------------------------------------------------- */

static uint32_t attributes(uint32_t mode)
{
	return mode & 0200 ? 0 : ATTR_READONLY;
}

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const uint8_t *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

bool tsm_iso_file_detect(int fd)
{
	static const char *const ids[] = { "CD001", "BEA01", "NSR02", "NSR03" };
	uint8_t id[5];

	if (tsm_pread_full(fd, id, sizeof(id), VRS_FIRST * ISO_SECTOR + 1) < 0)
		return false;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
		if (memcmp(id, ids[i], 5) == 0)
			return true;
	return false;
}

/* Set by libcdio's log handler on an error or failed assertion. */
static bool cdio_trouble;

/* ---- the scanned tree ----------------------------------------------- */

struct extent {
	uint64_t off, len; /* bytes in the image */
};

struct node {
	char *path;       /* relative, '/'-separated */
	char *lib_path;   /* ISO 9660 directories: the path libiso9660 resolves */
	enum tsm_entry_type type;
	uint32_t mode;
	int64_t mtime_ns;
	uint64_t size;
	uint64_t lba;     /* files with data: the first sector of their data */
	struct extent *ext; /* ISO 9660 files: data extents, in order */
	size_t next;
	char *target;     /* symlinks */
};

struct iso_reader {
	const char *file;  /* o->source, for messages */
	int fd;
	uint64_t image_size;
	iso9660_t *iso;
	iso9660_t *iso_rr; /* Joliet chosen: the Rock Ridge tree, to fall back on */
	udf_t *udf;
	bool use_udf;
	bool has_udf;      /* its volume recognition sequence names UDF */
	bool rock_ridge;   /* names come from Rock Ridge */
	const char *names; /* "UDF", "Joliet", "Rock Ridge", "ISO 9660" */
	struct node *nodes;
	size_t n, cap;
	uint64_t *visited; /* directory extents seen (loop check), sorted */
	size_t nvisited, capvisited;
	uint64_t file_bytes;
	/* OSTA CS0 names (compression IDs 8 and 16) to UTF-8 */
	iconv_t cs0_8, cs0_16;
};

static void node_clear(struct node *n)
{
	free(n->path);
	free(n->lib_path);
	free(n->ext);
	free(n->target);
}

static int node_push(struct iso_reader *r, struct node *n)
{
	if (r->n >= MAX_ENTRIES) {
		tsm_error("%s: more than %d entries in the image", r->file, MAX_ENTRIES);
		return -EFBIG;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 256;
		void *p = realloc(r->nodes, cap * sizeof(*r->nodes));

		if (!p)
			return -ENOMEM;
		r->nodes = p;
		r->cap = cap;
	}
	r->nodes[r->n++] = *n;
	return 0;
}

/* Marks the directory whose data starts at byte @off visited; -ELOOP when
 * it already was: a directory that contains itself or an ancestor (or is
 * listed twice), which a walk would follow for ever. */
static int visit_dir(struct iso_reader *r, uint64_t off, const char *path)
{
	size_t lo = 0, hi = r->nvisited;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (r->visited[mid] < off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < r->nvisited && r->visited[lo] == off) {
		tsm_error("%s: directory '%s' loops: its extent (byte %llu) is a directory"
			  " already visited", r->file, *path ? path : "/",
			  (unsigned long long)off);
		return -ELOOP;
	}
	if (r->nvisited == r->capvisited) {
		size_t cap = r->capvisited ? 2 * r->capvisited : 64;
		void *p = realloc(r->visited, cap * sizeof(*r->visited));

		if (!p)
			return -ENOMEM;
		r->visited = p;
		r->capvisited = cap;
	}
	memmove(&r->visited[lo + 1], &r->visited[lo], (r->nvisited - lo) * sizeof(*r->visited));
	r->visited[lo] = off;
	r->nvisited++;
	return 0;
}

/* The byte range [off, off + len) must lie inside the image. */
static int check_extent(struct iso_reader *r, const char *what, const char *path, uint64_t off,
			uint64_t len)
{
	if (len > r->image_size) {
		tsm_error("%s: %s '%s' claims %llu bytes, more than the whole image (%llu bytes)",
			  r->file, what, path, (unsigned long long)len,
			  (unsigned long long)r->image_size);
		return -EFBIG;
	}
	if (off > r->image_size || len > r->image_size - off) {
		tsm_error("%s: %s '%s' has its extent (bytes %llu-%llu) past the end of the image"
			  " (%llu bytes; truncated?)", r->file, what, path, (unsigned long long)off,
			  (unsigned long long)(off + len), (unsigned long long)r->image_size);
		return -EIO;
	}
	return 0;
}

static int check_name(struct iso_reader *r, const char *dir, const char *name)
{
	const char *why = NULL;

	if (!*name)
		why = "an empty name";
	else if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		why = "a name that is '.' or '..'";
	else if (strchr(name, '/'))
		why = "a name with '/'";
	else if (strlen(name) > 255)
		why = "a name longer than 255 bytes";
	else if (!tsm_utf8_valid(name))
		why = "a name that is not valid UTF-8";
	if (!why)
		return 0;
	tsm_error("%s: directory '%s' has an entry with %s ('%s')", r->file, *dir ? dir : "/",
		  why, name);
	return -EINVAL;
}

static char *join(const char *dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s%s%s", dir, *dir ? "/" : "", name) < 0)
		return NULL;
	return p;
}

/* Lexically, like the directory importer: a link may not leave the tree. */
static bool link_stays_inside(const char *rel_path, const char *target)
{
	int depth = 0;
	const char *p;

	if (target[0] == '/' || !*target)
		return false;
	for (p = rel_path; *p; p++)
		if (*p == '/')
			depth++;
	for (p = target; *p;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return false;
		} else if (len && !(len == 1 && p[0] == '.')) {
			depth++;
		}
		p += len;
		while (*p == '/')
			p++;
	}
	return true;
}

static int dup_check(struct iso_reader *r, const char *dir, char **names, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (strcmp(names[i - 1], names[i]) == 0) {
			tsm_error("%s: directory '%s' lists '%s' twice", r->file, *dir ? dir : "/",
				  names[i]);
			return -EEXIST;
		}
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- ISO 9660 (libiso9660) ------------------------------------------ */

struct iso_child {
	iso9660_stat_t *st;  /* the first record */
	char *name;          /* what the tree calls it */
	struct extent *ext;  /* multi-extent files: one per record */
	size_t next;
	uint64_t size;
};

/* libiso9660 before 2.1.1 copies a Joliet name's UTF-8 into room for its
 * UCS-2 bytes, cutting names whose UTF-8 is longer (most non-Latin ones).
 * A name @s came through whole iff its UTF-8 length is at most twice its
 * UTF-16 length, which is what the room was. */
static bool joliet_name_cut(const char *s)
{
	size_t bytes = 0, units = 0;

	if (libcdio_version_num >= 20101)
		return false;
	for (const uint8_t *p = (const uint8_t *)s; *p; p++) {
		bytes++;
		if ((*p & 0xc0) != 0x80)
			units += *p >= 0xf0 ? 2 : 1;
	}
	return bytes > 2 * units;
}

static int iso_child_cmp(const void *a, const void *b)
{
	return strcmp(((const struct iso_child *)a)->name, ((const struct iso_child *)b)->name);
}

/* Joliet and plain ISO 9660 names carry a ";1" version; a plain name with
 * no extension ends in '.' (ECMA-119 7.5.1). */
static char *iso_clean_name(const iso9660_stat_t *st, bool plain)
{
	char *name = strdup(st->filename);
	char *semi;

	if (!name || st->rr.b3_rock == yep)
		return name;
	semi = strrchr(name, ';');
	if (semi && semi[1] && strspn(semi + 1, "0123456789") == strlen(semi + 1))
		*semi = '\0';
	if (plain) {
		size_t len = strlen(name);

		if (len > 1 && name[len - 1] == '.')
			name[len - 1] = '\0';
	}
	return name;
}

static int64_t iso_mtime_ns(const iso9660_stat_t *st)
{
	struct tm tm = st->tm;
	time_t t = mktime(&tm); /* libiso9660 gives local time */

	return t == (time_t)-1 ? 0 : (int64_t)t * 1000000000;
}

static int iso_check_dir_stat(struct iso_reader *r, const iso9660_stat_t *st, const char *path)
{
	if (st->size == 0) {
		tsm_error("%s: directory '%s' has an empty extent", r->file, *path ? path : "/");
		return -EINVAL;
	}
	return check_extent(r, "directory", *path ? path : "/", (uint64_t)st->lsn * ISO_SECTOR,
			    (uint64_t)st->secsize * ISO_SECTOR);
}

static int iso_walk(struct iso_reader *r, const char *lib_path, const char *path, int depth);

static void iso_children_free(struct iso_child *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].name);
		free(c[i].ext);
	}
	free(c);
}

/* Reads directory @lib_path into @kids (records of multi-extent files
 * merged), checked and sorted by name. */
static int iso_read_children(struct iso_reader *r, CdioISO9660FileList_t *list, const char *path,
			     struct iso_child **kids_ret, size_t *n_ret)
{
	struct iso_child *kids = NULL;
	size_t n = 0, cap = 0, index = 0;
	CdioListNode_t *ln;
	char **names = NULL;
	int rc = 0;

	_CDIO_LIST_FOREACH (ln, list) {
		iso9660_stat_t *st = _cdio_list_node_data(ln);
		struct iso_child *prev = n ? &kids[n - 1] : NULL;
		char *name;

		/* ECMA-119 6.8.2.2: the first two records are "." and "..". */
		if (index++ < 2 && st->type == _STAT_DIR &&
		    (strcmp(st->filename, ".") == 0 || strcmp(st->filename, "..") == 0))
			continue;
		if (!r->rock_ridge && r->names[0] == 'J' && joliet_name_cut(st->filename)) {
			if (!r->iso_rr)
				tsm_error("%s: directory '%s' has a Joliet name that libcdio %s cuts"
					  " short ('%s'), and no Rock Ridge names to use instead",
					  r->file, *path ? path : "/", CDIO_VERSION, st->filename);
			rc = -ENAMETOOLONG;
			break;
		}
		if (!(name = iso_clean_name(st, !r->rock_ridge && r->names[0] == 'I'))) {
			rc = -ENOMEM;
			break;
		}
		if ((rc = check_name(r, path, name)) < 0) {
			free(name);
			break;
		}
		/* ECMA-119 6.5.1: a file of several extents is several records
		 * with one name, in order (libiso9660 2.1 lists each). */
		if (prev && st->type == _STAT_FILE && prev->st->type == _STAT_FILE &&
		    strcmp(prev->name, name) == 0 && prev->ext &&
		    prev->ext[prev->next - 1].len % ISO_SECTOR == 0) {
			void *p = realloc(prev->ext, (prev->next + 1) * sizeof(*prev->ext));

			free(name);
			if (!p) {
				rc = -ENOMEM;
				break;
			}
			prev->ext = p;
			prev->ext[prev->next++] = (struct extent){ (uint64_t)st->lsn * ISO_SECTOR,
								   st->size };
			prev->size += st->size;
			continue;
		}
		if (n == cap) {
			void *p = realloc(kids, (cap = cap ? 2 * cap : 32) * sizeof(*kids));

			if (!p) {
				free(name);
				rc = -ENOMEM;
				break;
			}
			kids = p;
		}
		kids[n] = (struct iso_child){ .st = st, .name = name, .size = st->size };
		if (st->type == _STAT_FILE) {
			if (!(kids[n].ext = malloc(sizeof(*kids[n].ext)))) {
				free(name);
				rc = -ENOMEM;
				break;
			}
			kids[n].ext[0] = (struct extent){ (uint64_t)st->lsn * ISO_SECTOR, st->size };
			kids[n].next = 1;
		}
		n++;
	}
	if (rc == 0 && n) {
		qsort(kids, n, sizeof(*kids), iso_child_cmp);
		if (!(names = malloc(n * sizeof(*names)))) {
			rc = -ENOMEM;
		} else {
			for (size_t i = 0; i < n; i++)
				names[i] = kids[i].name;
			rc = dup_check(r, path, names, n);
			free(names);
		}
	}
	if (rc < 0) {
		iso_children_free(kids, n);
		return rc;
	}
	*kids_ret = kids;
	*n_ret = n;
	return 0;
}

static int iso_add_child(struct iso_reader *r, struct iso_child *k, const char *lib_path,
			 const char *path, int depth)
{
	const iso9660_stat_t *st = k->st;
	struct node nd = { 0 };
	int rc;

	if (!(nd.path = join(path, k->name)))
		return -ENOMEM;
	nd.mtime_ns = iso_mtime_ns(st);
	if (st->type == _STAT_DIR) {
		nd.type = TSM_ENTRY_DIR;
		nd.mode = r->rock_ridge && st->rr.b3_rock == yep ? st->rr.st_mode & 07777 : 0555;
		if ((rc = iso_check_dir_stat(r, st, nd.path)) < 0 ||
		    (rc = visit_dir(r, (uint64_t)st->lsn * ISO_SECTOR, nd.path)) < 0)
			goto out_free;
		if (asprintf(&nd.lib_path, "%s/%s", lib_path, st->filename) < 0) {
			rc = -ENOMEM;
			goto out_free;
		}
		if ((rc = node_push(r, &nd)) < 0)
			goto out_free;
		/* The strings stay where they are while r->nodes grows. */
		return iso_walk(r, nd.lib_path, nd.path, depth + 1);
	}
	if (r->rock_ridge && st->rr.b3_rock == yep && S_ISLNK(st->rr.st_mode)) {
		nd.type = TSM_ENTRY_SYMLINK;
		nd.mode = 0777;
		if (!st->rr.psz_symlink || st->rr.i_symlink <= 0 ||
		    strnlen(st->rr.psz_symlink, (size_t)st->rr.i_symlink + 1) >
			    (size_t)st->rr.i_symlink ||
		    !tsm_utf8_valid(st->rr.psz_symlink)) {
			tsm_error("%s: symlink '%s' has no valid target", r->file, nd.path);
			rc = -EINVAL;
			goto out_free;
		}
		if (!link_stays_inside(nd.path, st->rr.psz_symlink)) {
			tsm_error("%s: symlink '%s' to '%s' points outside the image", r->file,
				  nd.path, st->rr.psz_symlink);
			rc = -EXDEV;
			goto out_free;
		}
		if (!(nd.target = strdup(st->rr.psz_symlink))) {
			rc = -ENOMEM;
			goto out_free;
		}
		if ((rc = node_push(r, &nd)) < 0)
			goto out_free;
		return 0;
	}
	nd.type = TSM_ENTRY_FILE;
	nd.mode = r->rock_ridge && st->rr.b3_rock == yep ? st->rr.st_mode & 07777 : 0444;
	nd.size = k->size;
	if (nd.size > r->image_size) {
		rc = check_extent(r, "file", nd.path, 0, nd.size);
		goto out_free;
	}
	for (size_t i = 0; i < k->next; i++)
		if (k->ext[i].len && (rc = check_extent(r, "file", nd.path, k->ext[i].off,
							k->ext[i].len)) < 0)
			goto out_free;
	nd.lba = k->next && nd.size ? k->ext[0].off / ISO_SECTOR : 0;
	nd.ext = k->ext;
	nd.next = k->next;
	k->ext = NULL;
	r->file_bytes += nd.size;
	if ((rc = node_push(r, &nd)) < 0)
		goto out_free;
	return 0;
out_free:
	node_clear(&nd);
	return rc;
}

static int iso_walk(struct iso_reader *r, const char *lib_path, const char *path, int depth)
{
	CdioISO9660FileList_t *list;
	struct iso_child *kids = NULL;
	size_t n = 0;
	int rc = 0;

	if (depth > MAX_DEPTH) {
		tsm_error("%s: directory '%s' is nested deeper than %d levels", r->file, path,
			  MAX_DEPTH);
		return -ELOOP;
	}
	cdio_trouble = false;
	if (!(list = iso9660_ifs_readdir(r->iso, *lib_path ? lib_path : "/")) || cdio_trouble) {
		if (list)
			iso9660_filelist_free(list);
		tsm_error("%s: cannot read directory '%s' (damaged or truncated image)", r->file,
			  *path ? path : "/");
		return -EIO;
	}
	rc = iso_read_children(r, list, path, &kids, &n);
	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = iso_add_child(r, &kids[i], lib_path, path, depth);
	iso_children_free(kids, n);
	iso9660_filelist_free(list);
	return rc;
}

static int iso_scan(struct iso_reader *r)
{
	iso9660_stat_t *root = iso9660_ifs_stat(r->iso, "/");
	int rc;

	if (!root) {
		tsm_error("%s: cannot read the root directory", r->file);
		return -EIO;
	}
	if ((rc = iso_check_dir_stat(r, root, "")) == 0 &&
	    (rc = visit_dir(r, (uint64_t)root->lsn * ISO_SECTOR, "")) == 0)
		rc = iso_walk(r, "", "", 1);
	iso9660_stat_free(root);
	return rc;
}

/* ---- UDF (libudf) --------------------------------------------------- */

/* libudf walks the directories; everything it cannot bound, and every
 * file's allocation, is read and checked here in the one pass over the
 * tree.  The import then reads exactly the extents recorded here (as for
 * ISO 9660), so an image that changes after the scan gives other bytes or
 * a read error, never a read outside what was checked. */

/* ECMA-167 4/14.9: a File Entry is 176 bytes, then L_EA bytes of extended
 * attributes, then L_AD bytes of allocation descriptors (or the data). */
#define UDF_FE_HEAD 176u
_Static_assert(offsetof(udf_file_entry_t, u) == UDF_FE_HEAD, "File Entry layout");

static int udf_check_entry(struct iso_reader *r, const udf_dirent_t *d, const char *path)
{
	const udf_file_entry_t *fe = &d->fe;
	uint32_t ea = uint32_from_le(fe->i_extended_attr), ad = uint32_from_le(fe->i_alloc_descs);
	uint16_t tag = uint16_from_le(fe->tag.id);

	/* libudf 2.1 reads whatever block the identifier points at as a
	 * File Entry (tag 261, 4/14.9); an Extended File Entry (266, UDF 2.x)
	 * has another layout it would misread. */
	if (tag != TAGID_FILE_ENTRY) {
		tsm_error("%s: '%s' has no UDF File Entry (descriptor tag %u%s)", r->file, path,
			  tag, tag == TAGID_EFE ? ": an Extended File Entry of UDF 2.x, which"
						  " libudf cannot read" : "");
		return -EINVAL;
	}
	if (ea > sizeof(fe->u) || ad > sizeof(fe->u) - ea) {
		tsm_error("%s: '%s' has a damaged UDF file entry (allocation descriptors out of"
			  " bounds)", r->file, path);
		return -EINVAL;
	}
	return 0;
}

/* The data extents of file @d (@nd->size bytes) as byte ranges of the
 * image, each inside it.  Allocation descriptors (ECMA-167 4/14.14.1-2):
 * short_ad is LE32 length, LE32 block; long_ad is LE32 length, LE32 block,
 * LE16 partition, 6 bytes for the implementation.  A length's top two bits
 * are the extent's type (4/14.14.1.1: 0 recorded; 1 and 2 not recorded; 3
 * the next extent of descriptors); a length of 0 ends the list (4/12.1).
 * With data in the ICB (icbtag flags 3) the bytes are the descriptors'
 * place in the entry itself, which lies at the block the identifier's
 * ICB names. */
static int udf_file_extents(struct iso_reader *r, const udf_dirent_t *d, struct node *nd)
{
	const udf_file_entry_t *fe = &d->fe;
	uint32_t ea = uint32_from_le(fe->i_extended_attr), ad = uint32_from_le(fe->i_alloc_descs);
	const uint8_t *p = fe->u.ext_attr + ea;
	unsigned kind = uint16_from_le(fe->icb_tag.flags) & ICBTAG_FLAG_AD_MASK;
	size_t step = kind == ICBTAG_FLAG_AD_SHORT ? 8 : 16, n = 0;
	uint64_t left = nd->size;
	const char *why = NULL;
	struct extent *ext;

	if (uint16_from_le(fe->icb_tag.strat_type) != ICBTAG_STRATEGY_TYPE_4) {
		tsm_error("%s: '%s' uses UDF ICB strategy %u (only 4 is supported)", r->file,
			  nd->path, uint16_from_le(fe->icb_tag.strat_type));
		return -EOPNOTSUPP;
	}
	if (kind == ICBTAG_FLAG_AD_IN_ICB) {
		uint64_t fe_off = ((uint64_t)d->i_part_start + uint32_from_le(d->fid->icb.loc.lba)) *
				  ISO_SECTOR;
		int rc;

		if (nd->size > ad) {
			tsm_error("%s: '%s' claims %llu bytes but holds %u in its UDF entry", r->file,
				  nd->path, (unsigned long long)nd->size, ad);
			return -EINVAL;
		}
		if (!nd->size)
			return 0;
		if (!(nd->ext = malloc(sizeof(*nd->ext))))
			return -ENOMEM;
		nd->ext[0] = (struct extent){ fe_off + UDF_FE_HEAD + ea, nd->size };
		nd->next = 1;
		if ((rc = check_extent(r, "file", nd->path, nd->ext[0].off, nd->ext[0].len)) < 0)
			return rc;
		nd->lba = fe_off / ISO_SECTOR;
		return 0;
	}
	if (kind != ICBTAG_FLAG_AD_SHORT && kind != ICBTAG_FLAG_AD_LONG) {
		tsm_error("%s: '%s' uses UDF %s allocation descriptors, which UDF does not allow"
			  " (UDF 1.02 2.3.10: short or long only)", r->file, nd->path,
			  kind == ICBTAG_FLAG_AD_EXTENDED ? "extended" : "unknown");
		return -EOPNOTSUPP;
	}
	/* At most 1872 / 8 descriptors fit in the entry. */
	if (!(ext = calloc(ad / step + 1, sizeof(*ext))))
		return -ENOMEM;
	nd->ext = ext;
	for (size_t off = 0; left && off + step <= ad; off += step) {
		uint32_t raw = le32(p + off), len = raw & UDF_LENGTH_MASK;
		uint64_t block = le32(p + off + 4);
		int rc;

		if (len == 0)
			break;
		if (raw >> 30 == 3) {
			why = "continue in another extent of descriptors, which is not supported";
			break;
		}
		if (raw >> 30 != 0) {
			why = "have an extent that is not recorded, which is not supported";
			break;
		}
		if (kind == ICBTAG_FLAG_AD_LONG && le16(p + off + 8) !=
						       uint16_from_le(d->fid->icb.loc.partitionReferenceNum)) {
			why = "name another partition than the entry's";
			break;
		}
		if (len > left)
			len = (uint32_t)left;
		ext[n] = (struct extent){ ((uint64_t)d->i_part_start + block) * ISO_SECTOR, len };
		if ((rc = check_extent(r, "file", nd->path, ext[n].off, ext[n].len)) < 0)
			return rc;
		left -= len;
		n++;
	}
	nd->next = n;
	if (!why && left)
		why = "cover fewer bytes than the file's size";
	if (why) {
		tsm_error("%s: '%s': its UDF allocation descriptors %s", r->file, nd->path, why);
		return -EINVAL;
	}
	nd->lba = n ? ext[0].off / ISO_SECTOR : 0;
	return 0;
}

/* OSTA CS0 (OSTA UDF 1.02 2.1.1, ECMA-167 1/7.2.12): the first byte is a
 * compression ID; 8: each following byte is a code point (U+0000-U+00FF,
 * so ISO-8859-1); 16: each following pair is a big-endian UTF-16 unit.
 * A File Identifier (4/14.4.8) is @len such bytes.  libudf 2.1 hands the
 * bytes of ID 8 over as they are, not as UTF-8: names are decoded here,
 * with iconv.  A name with U+0000 in it is refused. */
static int udf_decode_name(struct iso_reader *r, const udf_fileid_desc_t *fid, const char *dir,
			   char **name_ret)
{
	const uint8_t *p = fid->u.imp_use.data + uint16_from_le(fid->u.i_imp_use);
	size_t len = fid->i_file_id, in_left, out_left, out_size;
	iconv_t cd;
	char *in, *out, *o;
	const char *why = NULL;

	*name_ret = NULL;
	if (len < 2)
		why = "an empty name";
	else if (p[0] != 8 && p[0] != 16)
		why = "a name in an unknown OSTA compression (not 8 or 16)";
	else if (p[0] == 16 && (len - 1) % 2)
		why = "a 16-bit name of an odd number of bytes";
	if (why) {
		tsm_error("%s: UDF directory '%s' has an entry with %s", r->file, *dir ? dir : "/",
			  why);
		return -EINVAL;
	}
	cd = p[0] == 8 ? r->cs0_8 : r->cs0_16;
	/* UTF-8 takes at most 2 bytes per Latin-1 byte, 3 per UTF-16 unit. */
	out_size = 3 * (len - 1) + 1;
	if (!(out = malloc(out_size)))
		return -ENOMEM;
	in = (char *)(uintptr_t)(p + 1);
	in_left = len - 1;
	o = out;
	out_left = out_size - 1;
	iconv(cd, NULL, NULL, NULL, NULL);
	if (iconv(cd, &in, &in_left, &o, &out_left) == (size_t)-1 || in_left) {
		tsm_error("%s: UDF directory '%s' has an entry whose name is not valid %s", r->file,
			  *dir ? dir : "/", p[0] == 8 ? "Latin-1" : "UTF-16");
		free(out);
		return -EINVAL;
	}
	*o = '\0';
	if (strlen(out) != (size_t)(o - out)) {
		tsm_error("%s: directory '%s' has an entry with a NUL in its name ('%s')", r->file,
			  *dir ? dir : "/", out);
		free(out);
		return -EINVAL;
	}
	*name_ret = out;
	return 0;
}

static int udf_walk(struct iso_reader *r, udf_dirent_t *dir, const char *path, int depth);

/* One entry udf_readdir() returned, named @name. */
static int udf_entry(struct iso_reader *r, udf_dirent_t *d, const char *dir, const char *name,
		     int depth)
{
	struct node nd = { 0 };
	time_t mtime = udf_get_modification_time(d);
	mode_t mode = udf_get_posix_filemode(d);
	int rc;

	if ((rc = check_name(r, dir, name)) < 0)
		return rc;
	if (!(nd.path = join(dir, name)))
		return -ENOMEM;
	if ((rc = udf_check_entry(r, d, nd.path)) < 0)
		goto out_free;
	nd.mtime_ns = (int64_t)mtime * 1000000000;
	if (udf_is_dir(d)) {
		udf_dirent_t *sub = udf_opendir(d);

		if (!sub) {
			tsm_error("%s: cannot read UDF directory '%s' (damaged image?)", r->file,
				  nd.path);
			rc = -EIO;
			goto out_free;
		}
		nd.type = TSM_ENTRY_DIR;
		nd.mode = (mode & 07777) ? mode & 07777 : 0555;
		if ((rc = node_push(r, &nd)) < 0) {
			udf_dirent_free(sub);
			goto out_free;
		}
		/* The string stays where it is while r->nodes grows. */
		return udf_walk(r, sub, nd.path, depth + 1);
	}
	if (S_ISLNK(mode)) {
		tsm_error("%s: '%s' is a UDF symbolic link, which is not supported", r->file,
			  nd.path);
		rc = -EOPNOTSUPP;
		goto out_free;
	}
	nd.type = TSM_ENTRY_FILE;
	nd.mode = (mode & 07777) ? mode & 07777 : 0444;
	nd.size = udf_get_file_length(d);
	if ((rc = check_extent(r, "file", nd.path, 0, nd.size)) < 0 ||
	    (rc = udf_file_extents(r, d, &nd)) < 0)
		goto out_free;
	r->file_bytes += nd.size;
	if ((rc = node_push(r, &nd)) < 0)
		goto out_free;
	return 0;
out_free:
	node_clear(&nd);
	return rc;
}

static int udf_walk(struct iso_reader *r, udf_dirent_t *dir, const char *path, int depth)
{
	uint64_t blocks, loc;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (depth > MAX_DEPTH) {
		tsm_error("%s: directory '%s' is nested deeper than %d levels", r->file, path,
			  MAX_DEPTH);
		udf_dirent_free(dir);
		return -ELOOP;
	}
	/* What udf_readdir() will read: i_loc..i_loc_end of the partition,
	 * walked for dir_left bytes. */
	loc = (uint64_t)dir->i_part_start + dir->i_loc;
	blocks = dir->i_loc_end >= dir->i_loc ? (uint64_t)dir->i_loc_end - dir->i_loc + 1 : 0;
	if (!blocks || dir->dir_left > blocks * ISO_SECTOR || blocks > r->image_size / ISO_SECTOR) {
		tsm_error("%s: UDF directory '%s' has a damaged extent (%llu bytes in %llu"
			  " blocks)", r->file, *path ? path : "/",
			  (unsigned long long)dir->dir_left, (unsigned long long)blocks);
		udf_dirent_free(dir);
		return -EINVAL;
	}
	if ((rc = check_extent(r, "directory", *path ? path : "/", loc * ISO_SECTOR,
			       blocks * ISO_SECTOR)) < 0 ||
	    (rc = visit_dir(r, loc * ISO_SECTOR, path)) < 0) {
		udf_dirent_free(dir);
		return rc;
	}
	while ((dir = udf_readdir(dir))) {
		const udf_fileid_desc_t *fid = dir->fid;
		char *name;

		if (!fid || (const uint8_t *)fid < dir->sector ||
		    (const uint8_t *)fid + sizeof(*fid) > dir->sector + blocks * ISO_SECTOR ||
		    (const uint8_t *)fid->u.imp_use.data + uint16_from_le(fid->u.i_imp_use) +
				    fid->i_file_id > dir->sector + blocks * ISO_SECTOR) {
			tsm_error("%s: UDF directory '%s' is damaged (an identifier past its"
				  " extent)", r->file, *path ? path : "/");
			rc = -EINVAL;
			break;
		}
		if (dir->b_parent || (fid->file_characteristics & UDF_FILE_DELETED))
			continue;
		if (n == cap) {
			void *p = realloc(names, (cap = cap ? 2 * cap : 32) * sizeof(*names));

			if (!p) {
				rc = -ENOMEM;
				break;
			}
			names = p;
		}
		if ((rc = udf_decode_name(r, fid, path, &name)) < 0)
			break;
		names[n++] = name;
		if ((rc = udf_entry(r, dir, path, name, depth)) < 0)
			break;
	}
	if (dir)
		udf_dirent_free(dir);
	if (rc == 0 && n) {
		qsort(names, n, sizeof(*names), str_cmp);
		rc = dup_check(r, path, names, n);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int udf_scan(struct iso_reader *r)
{
	udf_dirent_t *root = udf_get_root(r->udf, true, 0);

	if (!root) {
		tsm_error("%s: cannot read the UDF root directory", r->file);
		return -EIO;
	}
	return udf_walk(r, root, "", 1);
}

/* An ISO with NSR02/NSR03 in its volume recognition sequence has UDF
 * (ECMA-167 2/9.1, 3/9.1). */
static bool image_has_udf(struct iso_reader *r)
{
	for (unsigned s = VRS_FIRST; s < VRS_FIRST + 32; s++) {
		uint8_t id[5];

		if (tsm_pread_full(r->fd, id, sizeof(id), (uint64_t)s * ISO_SECTOR + 1) < 0)
			return false;
		if (memcmp(id, "NSR02", 5) == 0 || memcmp(id, "NSR03", 5) == 0)
			return true;
		if (memcmp(id, "CD001", 5) && memcmp(id, "BEA01", 5) && memcmp(id, "TEA01", 5) &&
		    memcmp(id, "BOOT2", 5) && memcmp(id, "CDW02", 5))
			return false;
	}
	return false;
}

/* ---- El Torito 1.0 -------------------------------------------------- */

struct boot {
	struct tsm_boot_entry e;
	uint32_t rba;
	uint16_t count;
};

/* El Torito 1.0 2.0: the Boot Record Volume Descriptor is sector 17. */
static int eltorito_read(struct iso_reader *r, struct boot **boots_ret, size_t *n_ret)
{
	static const char spec[] = "EL TORITO SPECIFICATION";
	uint8_t brvd[ISO_SECTOR], *cat = NULL;
	struct boot *boots = NULL;
	size_t n = 0, cat_len;
	uint32_t lba;
	uint16_t sum = 0;
	uint8_t platform;
	int rc = 0;

	*boots_ret = NULL;
	*n_ret = 0;
	if (tsm_pread_full(r->fd, brvd, sizeof(brvd), 17 * ISO_SECTOR) < 0)
		return 0;
	/* 0: type 0; 1-5: "CD001"; 6: version 1; 7-38: system id;
	 * 0x47: LE32 sector of the boot catalog. */
	if (brvd[0] != 0 || memcmp(brvd + 1, "CD001", 5) != 0 ||
	    memcmp(brvd + 7, spec, sizeof(spec) - 1) != 0)
		return 0;
	lba = le32(brvd + 0x47);
	if ((uint64_t)lba * ISO_SECTOR >= r->image_size) {
		tsm_error("%s: the El Torito boot catalog (sector %u) is past the end of the image"
			  " (truncated?)", r->file, lba);
		return -EIO;
	}
	/* The catalog: read up to 4 sectors, as far as the image goes. */
	cat_len = 4 * ISO_SECTOR;
	if (r->image_size - (uint64_t)lba * ISO_SECTOR < cat_len)
		cat_len = (size_t)(r->image_size - (uint64_t)lba * ISO_SECTOR) / 32 * 32;
	if (!(cat = malloc(cat_len)))
		return -ENOMEM;
	if ((rc = tsm_pread_full(r->fd, cat, cat_len, (uint64_t)lba * ISO_SECTOR)) < 0)
		goto bad;
	/* 2.1 validation entry: header id 1, platform, id string, checksum,
	 * key 55 AA; the 16-bit words sum to 0. */
	for (size_t i = 0; cat_len >= 64 && i < 32; i += 2)
		sum = (uint16_t)(sum + le16(cat + i));
	if (cat_len < 64 || cat[0] != 1 || cat[0x1e] != 0x55 || cat[0x1f] != 0xaa || sum != 0) {
		tsm_error("%s: the El Torito boot catalog (sector %u) has a bad validation entry",
			  r->file, lba);
		rc = -EINVAL;
		goto out;
	}
	platform = cat[1];
	/* 2.2 initial/default entry, then 2.3 section headers (0x90 more
	 * follow, 0x91 last) each with its 2.4 section entries; 0x44 is a
	 * section entry extension. */
	for (size_t off = 32, left_in_section = 1; off + 32 <= cat_len; off += 32) {
		const uint8_t *e = cat + off;

		if (off > 32 && left_in_section == 0) {
			if (e[0] != 0x90 && e[0] != 0x91)
				break;
			platform = e[1];
			left_in_section = le16(e + 2);
			if (e[0] == 0x91 && left_in_section == 0)
				break;
			continue;
		}
		if (e[0] == 0x44 && off > 32)
			continue;
		left_in_section--;
		if (e[0] == 0x88) {
			void *p = realloc(boots, (n + 1) * sizeof(*boots));

			if (!p) {
				rc = -ENOMEM;
				goto out;
			}
			boots = p;
			boots[n] = (struct boot){ .rba = le32(e + 8), .count = le16(e + 6) };
			boots[n].e.platform = platform;
			boots[n].e.emulation = e[1] & 0x0f;
			boots[n].e.load_size = le16(e + 6);
			n++;
			if (n > 64)
				break;
		}
	}
	*boots_ret = boots;
	*n_ret = n;
	boots = NULL;
	goto out;
bad:
	tsm_error("%s: cannot read the El Torito boot catalog: %s", r->file, strerror(-rc));
out:
	free(boots);
	free(cat);
	return rc;
}

/* How many bytes a hidden boot image at sector @rba holds. */
static uint64_t boot_hidden_size(struct iso_reader *r, const struct boot *b)
{
	uint64_t off = (uint64_t)b->rba * ISO_SECTOR, sectors512 = (uint64_t)b->rba * 4, size = 0;
	uint8_t buf[512];

	if (b->count > 1 || b->e.platform != TSM_BOOT_PLATFORM_UEFI) {
		size = (uint64_t)(b->count ? b->count : 1) * 512;
		goto clamp;
	}
	/* The MBR partition that starts there (4 entries of 16 bytes at 446:
	 * type at 4, LE32 first sector at 8, LE32 sectors at 12). */
	if (tsm_pread_full(r->fd, buf, sizeof(buf), 0) == 0 && buf[510] == 0x55 && buf[511] == 0xaa)
		for (int i = 0; i < 4 && !size; i++) {
			const uint8_t *p = buf + 446 + 16 * i;

			if (p[4] && le32(p + 8) == sectors512 && le32(p + 12))
				size = (uint64_t)le32(p + 12) * 512;
		}
	/* Or the GPT partition (UEFI 2.x 5.3: header at LBA 1, entries at
	 * LE64 72, count LE32 80, entry size LE32 84; first LBA at 32, last
	 * at 40 of each entry). */
	if (!size && tsm_pread_full(r->fd, buf, sizeof(buf), 512) == 0 &&
	    memcmp(buf, "EFI PART", 8) == 0) {
		uint64_t ents = le64(buf + 72);
		uint32_t count = le32(buf + 80), esize = le32(buf + 84);

		if (esize >= 128 && esize <= 4096 && count <= 1024 && ents < r->image_size / 512)
			for (uint32_t i = 0; i < count && !size; i++) {
				uint8_t ent[128];

				if (tsm_pread_full(r->fd, ent, sizeof(ent), ents * 512 + (uint64_t)i * esize) < 0)
					break;
				if (le64(ent + 32) == sectors512 && le64(ent + 40) >= le64(ent + 32))
					size = (le64(ent + 40) - le64(ent + 32) + 1) * 512;
			}
	}
	/* Or the FAT file system's own size (BPB: LE16 bytes per sector at 11,
	 * LE16 total sectors at 19, else LE32 at 32). */
	if (!size && tsm_pread_full(r->fd, buf, sizeof(buf), off) == 0 && buf[510] == 0x55 &&
	    buf[511] == 0xaa) {
		uint16_t bps = le16(buf + 11);
		uint32_t total = le16(buf + 19) ? le16(buf + 19) : le32(buf + 32);

		if (bps >= 512 && bps <= 4096 && (bps & (bps - 1)) == 0)
			size = (uint64_t)bps * total;
	}
	if (!size)
		size = (uint64_t)(b->count ? b->count : 1) * 512;
clamp:
	if (off >= r->image_size)
		return 0;
	if (size > r->image_size - off)
		size = r->image_size - off;
	return size;
}

struct range_stream {
	struct iso_reader *r;
	const struct extent *ext;
	size_t n, i;
	uint64_t pos;
	const char *path;
};

static ssize_t range_read(void *ctx, void *out, size_t want)
{
	struct range_stream *s = ctx;

	while (s->i < s->n && s->pos == s->ext[s->i].len) {
		s->i++;
		s->pos = 0;
	}
	if (s->i == s->n)
		return 0;
	if (want > s->ext[s->i].len - s->pos)
		want = (size_t)(s->ext[s->i].len - s->pos);
	if (want > (1u << 20))
		want = 1u << 20;
	for (;;) {
		ssize_t got = pread(s->r->fd, out, want, (off_t)(s->ext[s->i].off + s->pos));

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			int err = got < 0 ? errno : EIO;

			tsm_error("%s: cannot read '%s': %s", s->r->file, s->path,
				  got < 0 ? strerror(err) : "the image ends early (truncated?)");
			return -err;
		}
		s->pos += (uint64_t)got;
		return got;
	}
}

/* Fills in each boot entry: the tree's file at its load RBA, else a
 * hidden blob (only in the import pass, @imp set). */
static int boot_resolve(struct iso_reader *r, struct boot *b, struct tsm_import *imp)
{
	const struct node *file = NULL;
	uint8_t head[16];

	for (size_t i = 0; i < r->n; i++)
		if (r->nodes[i].type == TSM_ENTRY_FILE && r->nodes[i].size &&
		    r->nodes[i].lba == b->rba) {
			file = &r->nodes[i];
			break;
		}
	if (file) {
		b->e.path = file->path;
		b->e.size = file->size;
		/* isolinux's boot info table: bytes 8-15 of the file hold the
		 * PVD's sector (16) and the file's own. */
		b->e.boot_info_table = file->size >= 64 &&
				       tsm_pread_full(r->fd, head, sizeof(head),
						  (uint64_t)b->rba * ISO_SECTOR) == 0 &&
				       le32(head + 8) == 16 && le32(head + 12) == b->rba;
		return 0;
	}
	b->e.path = NULL;
	b->e.size = boot_hidden_size(r, b);
	if (!b->e.size) {
		tsm_error("%s: El Torito boot image at sector %u is past the end of the image"
			  " (truncated?)", r->file, b->rba);
		return -EIO;
	}
	if (imp) {
		struct extent ext = { (uint64_t)b->rba * ISO_SECTOR, b->e.size };
		struct range_stream s = { .r = r, .ext = &ext, .n = 1, .path = "boot image" };
		uint64_t got;
		int rc = tsm_import_add_hidden_blob(imp, range_read, &s, "boot image", &b->e.blob_id,
						    &got);

		if (rc < 0)
			return rc;
		if (got != b->e.size) {
			tsm_error("%s: the boot image at sector %u ended early", r->file, b->rba);
			return -EIO;
		}
	}
	return 0;
}

/* ---- image facts ---------------------------------------------------- */

static int record_meta(struct iso_reader *r, struct tsm_import *imp, const char *label)
{
	uint8_t head[1024];
	int rc;

	if (*label && tsm_utf8_valid(label) &&
	    (rc = tsm_import_set_meta(imp, "volume_id", label, strlen(label))) < 0)
		return rc;
	if (tsm_pread_full(r->fd, head, sizeof(head), 0) < 0)
		return 0;
	if (head[510] == 0x55 && head[511] == 0xaa) {
		bool code = false;

		for (size_t i = 0; i < 432 && !code; i++)
			code = head[i] != 0;
		if (code && (rc = tsm_import_set_meta(imp, "hybrid_mbr", head, 432)) < 0)
			return rc;
	}
	if (memcmp(head + 512, "EFI PART", 8) == 0 &&
	    (rc = tsm_import_set_meta(imp, "hybrid_gpt", "1", 1)) < 0)
		return rc;
	return 0;
}

/* ---- opening -------------------------------------------------------- */

/* libcdio's messages go to the debug log; an error or a failed assertion
 * (which would abort) marks the image damaged instead. */
static void quiet_cdio(cdio_log_level_t level, const char message[])
{
	tsm_debug("libcdio: %s", message);
	if (level >= CDIO_LOG_ERROR)
		cdio_trouble = true;
}

/* Which names the ISO 9660 tree gives: Joliet, else Rock Ridge, else plain.
 * With Joliet chosen, the Rock Ridge tree is kept open in case libiso9660
 * cuts Joliet names (see joliet_name_cut()). */
static int iso_open(struct iso_reader *r)
{
	iso9660_pvd_t pvd;
	iso9660_t *plain, *joliet;
	bool rr = false;
	int space, rc;

	if (!(plain = iso9660_open_ext(r->file, ISO_EXTENSION_ALL & ~ISO_EXTENSION_JOLIET))) {
		if (r->has_udf)
			tsm_error("%s: neither its UDF nor its ISO 9660 volume can be read (damaged or"
				  " truncated?%s)", r->file,
				  r->image_size <= 256 * ISO_SECTOR ? " it ends before UDF's anchor at"
								       " sector 256" : "");
		else
			tsm_error("%s: not a readable ISO 9660 image (damaged or truncated?)",
				  r->file);
		return -EINVAL;
	}
	if (iso9660_ifs_read_pvd(plain, &pvd)) {
		space = iso9660_get_pvd_space_size(&pvd);
		if (space > 0 && (uint64_t)space * ISO_SECTOR > r->image_size) {
			tsm_error("%s: the image is truncated: its volume is %llu bytes, the file"
				  " %llu", r->file, (unsigned long long)space * ISO_SECTOR,
				  (unsigned long long)r->image_size);
			iso9660_close(plain);
			return -EIO;
		}
	}
	/* Opening read only the volume descriptors; libiso9660 trusts the
	 * directory records it parses next: check them first. */
	if ((rc = tsm_iso_dirs_check(r->fd, r->file, r->image_size)) < 0) {
		iso9660_close(plain);
		return rc;
	}
	/* Rock Ridge: the root's "." record carries it (RRIP 4.1, SUSP SP). */
	{
		iso9660_stat_t *root = iso9660_ifs_stat(plain, "/");
		rc = root ? iso_check_dir_stat(r, root, "") : -EIO;
		if (root)
			iso9660_stat_free(root);
		if (rc < 0) {
			if (rc == -EIO && !root)
				tsm_error("%s: cannot read the root directory", r->file);
			iso9660_close(plain);
			return rc;
		}
		root = iso9660_ifs_stat(plain, "/.");
		if (root) {
			rr = root->rr.b3_rock == yep;
			iso9660_stat_free(root);
		}
	}
	joliet = iso9660_open_ext(r->file, ISO_EXTENSION_ALL);
	if (joliet && !iso9660_ifs_get_joliet_level(joliet)) {
		iso9660_close(joliet);
		joliet = NULL;
	}
	if (joliet) {
		if (rr)
			r->iso_rr = plain;
		else
			iso9660_close(plain);
		r->iso = joliet;
		r->names = "Joliet";
		return 0;
	}
	r->iso = plain;
	r->rock_ridge = rr;
	r->names = rr ? "Rock Ridge" : "ISO 9660";
	return 0;
}

static void reader_free(struct iso_reader *r)
{
	for (size_t i = 0; i < r->n; i++)
		node_clear(&r->nodes[i]);
	free(r->nodes);
	free(r->visited);
	if (r->iso)
		iso9660_close(r->iso);
	if (r->iso_rr)
		iso9660_close(r->iso_rr);
	if (r->udf)
		udf_close(r->udf);
	if (r->cs0_8 != (iconv_t)-1)
		iconv_close(r->cs0_8);
	if (r->cs0_16 != (iconv_t)-1)
		iconv_close(r->cs0_16);
	if (r->fd >= 0)
		close(r->fd);
}

static int import_nodes(struct iso_reader *r, struct tsm_import *imp)
{
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < r->n; i++) {
		const struct node *nd = &r->nodes[i];

		if (nd->type == TSM_ENTRY_DIR) {
			rc = tsm_import_add_dir(imp, nd->path, nd->mode, nd->mtime_ns,
						attributes(nd->mode));
		} else if (nd->type == TSM_ENTRY_SYMLINK) {
			rc = tsm_import_add_symlink(imp, nd->path, nd->target, nd->mtime_ns);
		} else {
			struct range_stream s = { .r = r, .ext = nd->ext, .n = nd->next,
						  .path = nd->path };

			rc = tsm_import_add_file_stream(imp, nd->path, nd->mode, nd->mtime_ns,
							ATTR_ARCHIVE | attributes(nd->mode), range_read,
							&s, nd->path);
		}
	}
	return rc;
}

/* ---- the reader in its own process ------------------------------------ */

/* libiso9660 and libudf parse the image's directories in a child process
 * under limits (util/sandbox.h): whatever a hostile image makes libcdio
 * do, it cannot take the importer, the store or the machine with it.  The
 * reader sends the tree it checked, with each file's extents; the importer
 * checks it again as it arrives (receive_tree()) and reads the file data
 * itself, by those extents, from the descriptor it opened.
 *
 * Limits: libcdio holds one directory's listing at a time and the tree
 * (at most MAX_ENTRIES nodes, some hundred bytes each): 2 GiB is far
 * above that.  CPU: a hang guard; a scan reads directories only. */
#define READER_MEMORY (2ull << 30)
#define READER_CPU 300u
#define WIRE_MAGIC "TSMISO1"
#define WIRE_END "TSMISOE"
#define WIRE_MAX (1ull << 30)
#define WIRE_STR_MAX (1u << 20)
#define MAX_EXTENTS 65536u

static const char *const name_kinds[] = { "UDF", "Joliet", "Rock Ridge", "ISO 9660" };

/* In the reader: the tree, by libudf or libiso9660. */
static int reader_scan(struct iso_reader *r)
{
	int rc;

	r->has_udf = image_has_udf(r);
	if (r->has_udf && (r->udf = udf_open(r->file))) {
		udf_dirent_t *root = udf_get_root(r->udf, true, 0);

		if (root) {
			udf_dirent_free(root);
			r->use_udf = true;
			r->names = "UDF";
		} else {
			udf_close(r->udf);
			r->udf = NULL;
		}
	}
	if (r->use_udf) {
		uint8_t pvd[ISO_SECTOR];

		/* A bridge image's ISO 9660 side gives the volume's size. */
		if (tsm_pread_full(r->fd, pvd, sizeof(pvd), VRS_FIRST * ISO_SECTOR) == 0 &&
		    pvd[0] == 1 && memcmp(pvd + 1, "CD001", 5) == 0 &&
		    (uint64_t)le32(pvd + 80) * ISO_SECTOR > r->image_size) {
			tsm_error("%s: the image is truncated: its volume is %llu bytes, the file %llu",
				  r->file, (unsigned long long)le32(pvd + 80) * ISO_SECTOR,
				  (unsigned long long)r->image_size);
			return -EIO;
		}
		if ((r->cs0_8 = iconv_open("UTF-8", "ISO-8859-1")) == (iconv_t)-1 ||
		    (r->cs0_16 = iconv_open("UTF-8", "UTF-16BE")) == (iconv_t)-1) {
			rc = -errno;
			tsm_error("%s: cannot decode UDF names: iconv: %s", r->file, strerror(-rc));
			return rc;
		}
		return udf_scan(r);
	}
	if ((rc = iso_open(r)) < 0)
		return rc;
	rc = iso_scan(r);
	if (rc == -ENAMETOOLONG && r->iso_rr) {
		/* Joliet names cut short: Rock Ridge names instead. */
		for (size_t i = 0; i < r->n; i++)
			node_clear(&r->nodes[i]);
		r->n = r->nvisited = 0;
		r->file_bytes = 0;
		iso9660_close(r->iso);
		r->iso = r->iso_rr;
		r->iso_rr = NULL;
		r->rock_ridge = true;
		r->names = "Rock Ridge";
		rc = iso_scan(r);
	}
	return rc;
}

/* In the reader: the volume label, when it is UTF-8. */
static void reader_label(struct iso_reader *r, char *label, size_t size)
{
	*label = '\0';
	if (r->use_udf) {
		udf_get_volume_id(r->udf, label, (unsigned)size);
	} else if (r->iso) {
		char *id = NULL;

		if (iso9660_ifs_get_volume_id(r->iso, &id) && id)
			snprintf(label, size, "%s", id);
		free(id);
	}
	label[size - 1] = '\0';
	for (size_t len = strlen(label); len && label[len - 1] == ' '; len--)
		label[len - 1] = '\0';
	/* libudf 2.1 decodes a 16-bit CS0 label to UTF-8 but hands an 8-bit
	 * one over as its bytes, which are Latin-1 (OSTA UDF 2.1.1): a label
	 * that is not UTF-8 came that way. */
	if (r->use_udf && !tsm_utf8_valid(label) && r->cs0_8 != (iconv_t)-1) {
		char in[256], *ip = in, *op = label;
		size_t in_left = strlen(label), out_left = size - 1;

		if (in_left < sizeof(in)) {
			memcpy(in, label, in_left + 1);
			iconv(r->cs0_8, NULL, NULL, NULL, NULL);
			if (iconv(r->cs0_8, &ip, &in_left, &op, &out_left) == (size_t)-1)
				op = label;
			*op = '\0';
		}
	}
	if (!tsm_utf8_valid(label))
		*label = '\0';
}

struct reader_job {
	struct iso_reader *r;
	dev_t dev;
	ino_t ino;
};

/* The child.  It ends with _exit(): nothing is freed. */
static int reader_main(void *arg, int fd)
{
	const struct reader_job *job = arg;
	struct iso_reader *r = job->r;
	struct tsm_wire_out w;
	char label[256];
	struct stat st;
	size_t kind = 0;
	int rc;

	/* The sandbox closed the importer's descriptor: the same file again. */
	if ((r->fd = open(r->file, O_RDONLY | O_CLOEXEC)) < 0 || fstat(r->fd, &st) < 0) {
		rc = -errno;
		tsm_error("cannot read %s: %s", r->file, strerror(-rc));
		return rc;
	}
	if (st.st_dev != job->dev || st.st_ino != job->ino) {
		tsm_error("%s: the image was replaced while it was being read", r->file);
		return -EIO;
	}
	cdio_log_set_handler(quiet_cdio);
	if ((rc = reader_scan(r)) < 0)
		return rc;
	reader_label(r, label, sizeof(label));
	while (kind < 3 && strcmp(name_kinds[kind], r->names) != 0)
		kind++;
	if ((rc = tsm_wire_out_open(&w, fd, WIRE_MAGIC)) < 0)
		return rc;
	tsm_wire_put_u64(&w, kind);
	tsm_wire_put_str(&w, label);
	tsm_wire_put_u64(&w, r->n);
	for (size_t i = 0; i < r->n; i++) {
		const struct node *nd = &r->nodes[i];

		tsm_wire_put_str(&w, nd->path);
		tsm_wire_put_u64(&w, (uint64_t)nd->type);
		tsm_wire_put_u64(&w, nd->mode);
		tsm_wire_put_u64(&w, (uint64_t)nd->mtime_ns);
		tsm_wire_put_u64(&w, nd->size);
		tsm_wire_put_u64(&w, nd->next);
		for (size_t k = 0; k < nd->next; k++) {
			tsm_wire_put_u64(&w, nd->ext[k].off);
			tsm_wire_put_u64(&w, nd->ext[k].len);
		}
		tsm_wire_put_str(&w, nd->target);
	}
	return tsm_wire_out_close(&w, WIRE_END);
}

/* In the importer: one node of the reader's tree, checked again. */
static int receive_node(struct iso_reader *r, struct tsm_wire_in *w)
{
	struct node nd = { 0 };
	uint64_t sum = 0, next;
	int rc = -EPROTO;

	nd.path = tsm_wire_get_str(w, WIRE_STR_MAX);
	nd.type = (enum tsm_entry_type)tsm_wire_get_count(w, TSM_ENTRY_SYMLINK);
	nd.mode = (uint32_t)tsm_wire_get_count(w, 07777);
	nd.mtime_ns = (int64_t)tsm_wire_get_u64(w);
	nd.size = tsm_wire_get_count(w, nd.type == TSM_ENTRY_FILE ? r->image_size : 0);
	next = tsm_wire_get_count(w, nd.type == TSM_ENTRY_FILE ? MAX_EXTENTS : 0);
	if (next && !tsm_wire_rc(w) && !(nd.ext = calloc((size_t)next, sizeof(*nd.ext))))
		tsm_wire_fail(w, -ENOMEM);
	for (uint64_t k = 0; !tsm_wire_rc(w) && k < next; k++) {
		nd.ext[k].off = tsm_wire_get_u64(w);
		nd.ext[k].len = tsm_wire_get_u64(w);
		nd.next++;
		if (tsm_wire_rc(w))
			break;
		if (check_extent(r, "file", nd.path ? nd.path : "?", nd.ext[k].off, nd.ext[k].len) < 0 ||
		    __builtin_add_overflow(sum, nd.ext[k].len, &sum))
			tsm_wire_fail(w, -EPROTO);
	}
	nd.target = tsm_wire_get_str(w, WIRE_STR_MAX);
	if (tsm_wire_rc(w))
		goto out_free;
	if (!nd.path || !tsm_wire_path_ok(nd.path) || sum != nd.size ||
	    (nd.type == TSM_ENTRY_SYMLINK) != (nd.target != NULL) ||
	    (nd.target && !link_stays_inside(nd.path, nd.target)) ||
	    __builtin_add_overflow(r->file_bytes, nd.size, &r->file_bytes))
		goto out_fail;
	/* Boot entries find their file by its first sector. */
	nd.lba = nd.next && nd.size ? nd.ext[0].off / ISO_SECTOR : 0;
	if ((rc = node_push(r, &nd)) < 0)
		goto out_free;
	return 0;
out_fail:
	tsm_wire_fail(w, -EPROTO);
out_free:
	node_clear(&nd);
	return rc;
}

/* In the importer: the reader's tree. */
static int receive_tree(struct iso_reader *r, int fd, char *label, size_t size)
{
	struct tsm_wire_in *w;
	uint64_t kind, count;
	char *l;
	int rc;

	if ((rc = tsm_wire_in_open(fd, WIRE_MAX, WIRE_MAGIC, &w)) < 0)
		return rc;
	kind = tsm_wire_get_count(w, 3);
	r->names = name_kinds[kind];
	r->use_udf = kind == 0;
	l = tsm_wire_get_str(w, size - 1);
	snprintf(label, size, "%s", l ? l : "");
	free(l);
	count = tsm_wire_get_count(w, MAX_ENTRIES);
	for (uint64_t i = 0; !tsm_wire_rc(w) && i < count; i++)
		receive_node(r, w);
	return tsm_wire_in_end(w, WIRE_END);
}

int tsm_import_iso(struct tsm_store *store, const struct tsm_content_add_options *o,
		   struct tsm_content_add_result *res)
{
	struct iso_reader r = { .file = o->source, .fd = -1, .cs0_8 = (iconv_t)-1,
				.cs0_16 = (iconv_t)-1 };
	struct tsm_sandbox_limits lim = { READER_MEMORY, READER_CPU };
	struct reader_job job = { .r = &r };
	struct tsm_sandbox *sb;
	struct boot *boots = NULL;
	struct tsm_import *imp;
	size_t nboots = 0;
	char *real = NULL, label[256] = "";
	struct stat st;
	int rc, crc;

	if ((r.fd = open(o->source, O_RDONLY | O_CLOEXEC)) < 0 || fstat(r.fd, &st) < 0) {
		rc = -errno;
		tsm_error("cannot read %s: %s", o->source, strerror(-rc));
		goto out;
	}
	r.image_size = (uint64_t)st.st_size;
	if (r.image_size < (VRS_FIRST + 2) * ISO_SECTOR) {
		tsm_error("%s: the image is truncated: %llu bytes is too short for an ISO",
			  r.file, (unsigned long long)r.image_size);
		rc = -EIO;
		goto out;
	}
	/* The whole tree is read and checked before the store is touched. */
	job.dev = st.st_dev;
	job.ino = st.st_ino;
	if ((rc = tsm_sandbox_start(o->source, "ISO reader", &lim, reader_main, &job, &sb)) < 0)
		goto out;
	rc = receive_tree(&r, tsm_sandbox_fd(sb), label, sizeof(label));
	crc = tsm_sandbox_finish(sb, rc < 0 && rc != -EPIPE);
	if (crc < 0) {
		rc = crc; /* the reader said why */
		goto out;
	}
	if (rc < 0) {
		tsm_error("%s: the ISO reader %s", r.file, rc == -EPIPE ? "ended without a result"
			  : rc == -EPROTO ? "sent a malformed result" : strerror(-rc));
		goto out;
	}
	if ((rc = eltorito_read(&r, &boots, &nboots)) < 0)
		goto out;
	for (size_t i = 0; i < nboots; i++)
		if ((rc = boot_resolve(&r, &boots[i], NULL)) < 0)
			goto out;
	tsm_debug("%s: %zu entries from %s names, %zu boot entries", r.file, r.n, r.names,
		  nboots);

	real = realpath(o->source, NULL);
	if ((rc = tsm_import_begin(store, o, real ? real : o->source, r.file_bytes, &imp)) < 0)
		goto out;
	/* From what the scan checked: its extents, not the image's tree read
	 * again (which may have changed since). */
	rc = import_nodes(&r, imp);
	for (size_t i = 0; rc == 0 && i < nboots; i++)
		if ((rc = boot_resolve(&r, &boots[i], imp)) == 0)
			rc = tsm_import_add_boot(imp, &boots[i].e);
	if (rc == 0)
		rc = record_meta(&r, imp, label);
	if (rc < 0)
		tsm_import_abort(imp);
	else
		rc = tsm_import_finish(imp, res);
out:
	free(real);
	free(boots);
	reader_free(&r);
	return rc;
}
