/* Importing an ISO image: the tree from libudf (UDF) or libisofs (ISO 9660,
 * Rock Ridge, Joliet), El Torito and the system area from libisofs.
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
#include "import/iso_sysarea.h"

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
#include <cdio/logging.h>
#include <cdio/udf.h>
#include <libisofs/libisofs.h>

#include "import/session.h"
#include "import/source.h"
#include "import/wire.h"
#include "import/zisofs.h"
#include "tsmedia/content.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"
#include "util/fdio.h"
#include "util/sandbox.h"

#define ISO_SECTOR 2048u
#define MAX_DEPTH 64
#define MAX_ENTRIES 1000000
#define VRS_FIRST 16 /* ECMA-119 6.2.1: the system area is sectors 0-15 */
#define MAX_BOOTS 64
#define MAX_EXTENTS 65536u

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

/* ---- the scanned tree ----------------------------------------------- */

struct extent {
	uint64_t off, len; /* bytes in the image */
};

struct node {
	char *path;       /* relative, '/'-separated */
	enum tsm_entry_type type;
	uint32_t mode;
	int64_t mtime_ns;
	uint64_t size;
	uint64_t lba;     /* files with data: the first sector of their data */
	struct extent *ext; /* ISO 9660 files: data extents, in order */
	size_t next;
	char *target;     /* symlinks */
	uint8_t zisofs_log2; /* zisofs (Rock Ridge ZF): log2 of its block size; 0: stored plain */
	uint64_t stored;  /* zisofs: the bytes its extents hold (size is the uncompressed size) */
};

struct boot {
	struct tsm_boot_entry e;
	uint32_t rba;
	uint16_t count;
	uint16_t load_segment; /* El Torito 2.2 bytes 2-3; 0: 0x7C0 */
	uint8_t system_type;   /* 2.2 byte 4: the boot image's partition type */
	bool bootable;         /* 2.2 byte 0: 0x88 */
	bool grub2_boot_info;  /* GRUB 2's boot info patch (xorriso --grub2-boot-info) */
	uint32_t blocks;       /* a hidden image's 2048-byte blocks as libisofs found them; 0: unknown */
};

struct iso_reader {
	const char *file;  /* o->source, for messages */
	int fd;
	uint64_t image_size;
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
	unsigned past_end;      /* libisofs asked for blocks past the end */
	uint32_t past_end_lba;
	struct boot boots[MAX_BOOTS];
	size_t nboots;
	char *catalog_path;     /* the El Torito catalog's path in the tree, or NULL */
	int max_dir_depth;      /* levels of the deepest directory (the root is 1) */
	uint32_t cat_lba;       /* its sector and bytes */
	uint64_t cat_size;
	char *system_area;      /* libisofs' summary of the system area, or NULL */
	uint64_t partition_offset; /* xorriso -partition_offset: blocks of 512 bytes */
	uint8_t *sa;            /* the system area's bytes, when it is carried over */
	char *sa_map;           /* and how its fields follow a layout (iso_sysarea.h) */
	char isofs_label[256];
	/* OSTA CS0 names (compression IDs 8 and 16) to UTF-8 */
	iconv_t cs0_8, cs0_16;
};

static void node_clear(struct node *n)
{
	free(n->path);
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
		why = _("an empty name");
	else if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		why = _("a name that is '.' or '..'");
	else if (strchr(name, '/'))
		why = _("a name with '/'");
	else if (strlen(name) > 255)
		why = _("a name longer than 255 bytes");
	else if (!tsm_utf8_valid(name))
		why = _("a name that is not valid UTF-8");
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

/* ---- ISO 9660, Rock Ridge, Joliet, El Torito (libisofs) ---------------- */

/* libisofs (the reader under xorriso) reads the whole ISO 9660 side: Rock
 * Ridge (RRIP 1.12, IEEE P1282) over SUSP (IEEE P1281) with its
 * continuation areas (CE), relocated directories (CL/PL/RE, RRIP 4.1.5),
 * symbolic links (SL), modes (PX) and times (TF); Joliet; multi-extent
 * files (ECMA-119 6.5.1); zisofs (ZF, whose files it marks with a
 * decompression filter); the El Torito catalog; the system area.  Names:
 * Rock Ridge, else Joliet, else ISO 9660 without ";1" (ECMA-119 7.5.1).
 * It reads blocks through isofs_read_block(), which refuses any block
 * outside the image. */

static int isofs_src_open(IsoDataSource *src)
{
	(void)src;
	return ISO_SUCCESS;
}

static void isofs_src_free(IsoDataSource *src)
{
	(void)src;
}

static int isofs_read_block(IsoDataSource *src, uint32_t lba, uint8_t *buf)
{
	struct iso_reader *r = src->data;
	uint64_t off = (uint64_t)lba * ISO_SECTOR;
	size_t len = ISO_SECTOR;

	if (off >= r->image_size) {
		if (!r->past_end++)
			r->past_end_lba = lba;
		return ISO_DATA_SOURCE_FAILURE;
	}
	/* A last sector cut short reads as zeros after its end. */
	if (r->image_size - off < len) {
		len = (size_t)(r->image_size - off);
		memset(buf + len, 0, ISO_SECTOR - len);
	}
	return tsm_pread_full(r->fd, buf, len, off) < 0 ? ISO_DATA_SOURCE_FAILURE : ISO_SUCCESS;
}

/* Why libisofs failed: its own messages (queued, never printed), and a
 * block it asked for past the end of the image. */
static void isofs_report(struct iso_reader *r, int ret, const char *doing)
{
	char text[ISO_MSGS_MESSAGE_LEN], sev[80], first[ISO_MSGS_MESSAGE_LEN] = "";
	int code, imgid;

	while (iso_obtain_msgs("ALL", &code, &imgid, text, sev) == 1) {
		tsm_debug("libisofs: %s: %s", sev, text);
		if (!*first && (strcmp(sev, "SORRY") == 0 || strcmp(sev, "FAILURE") == 0 ||
				strcmp(sev, "MISHAP") == 0 || strcmp(sev, "FATAL") == 0))
			snprintf(first, sizeof(first), "%s", text);
	}
	if (r->past_end)
		tsm_error("%s: %s: it points at sector %u, past the end of the image (%llu sectors;"
			  " truncated or damaged)", r->file, doing, r->past_end_lba,
			  (unsigned long long)(r->image_size / ISO_SECTOR));
	else
		tsm_error("%s: %s: %s", r->file, doing, *first ? first : iso_error_to_msg(ret));
}

static int isofs_file(struct iso_reader *r, IsoFile *f, struct node *nd)
{
	struct iso_file_section *sec = NULL;
	IsoStream *st = iso_file_get_stream(f);
	uint8_t algo[2] = { 0 }, algo_num = 0;
	int count = 0, type = 0, log2 = 0, rc;
	uint64_t stored = 0;

	nd->type = TSM_ENTRY_FILE;
	nd->size = (uint64_t)iso_file_get_size(f);
	if (iso_file_get_old_image_sections(f, &count, &sec, 0) < 0 || count < 0 ||
	    (unsigned)count > MAX_EXTENTS) {
		tsm_error("%s: file '%s' has no usable data extents", r->file, nd->path);
		free(sec);
		return -EINVAL;
	}
	if (count && !(nd->ext = calloc((size_t)count, sizeof(*nd->ext)))) {
		free(sec);
		return -ENOMEM;
	}
	for (int i = 0; i < count; i++) {
		nd->ext[i] = (struct extent){ (uint64_t)sec[i].block * ISO_SECTOR, sec[i].size };
		nd->next++;
		if ((rc = check_extent(r, "file", nd->path, nd->ext[i].off, nd->ext[i].len)) < 0) {
			free(sec);
			return rc;
		}
		stored += sec[i].size; /* 2^16 sections of < 2^32 bytes: no overflow */
	}
	free(sec);
	/* A Rock Ridge ZF entry: libisofs put a zisofs decompression filter
	 * ("osiz", type -1) on the image's stream and reports its size. */
	if (iso_stream_get_zisofs_par(st, &type, algo, &algo_num, &log2, 0) == 1 && type == -1) {
		if (algo_num != 0) {
			tsm_error("%s: file '%s' is compressed with zisofs version 2 ('%c%c'), which"
				  " tsmedia does not read", r->file, nd->path, algo[0], algo[1]);
			return -EOPNOTSUPP;
		}
		nd->zisofs_log2 = (uint8_t)log2;
		nd->stored = stored;
		if (nd->size > UINT32_MAX) {
			tsm_error("%s: file '%s' claims %llu bytes, more than zisofs can hold",
				  r->file, nd->path, (unsigned long long)nd->size);
			return -EINVAL;
		}
	} else if (stored != nd->size) {
		tsm_error("%s: file '%s' is %llu bytes but its extents hold %llu", r->file,
			  nd->path, (unsigned long long)nd->size, (unsigned long long)stored);
		return -EINVAL;
	}
	nd->lba = nd->next && stored ? nd->ext[0].off / ISO_SECTOR : 0;
	if (__builtin_add_overflow(r->file_bytes, nd->size, &r->file_bytes))
		return -EOVERFLOW;
	return 0;
}

static int isofs_walk(struct iso_reader *r, IsoDir *dir, const char *path, int depth)
{
	IsoDirIter *it;
	IsoNode *n;
	int rc = 0;

	if (depth > MAX_DEPTH) {
		tsm_error("%s: directory '%s' is nested deeper than %d levels (a relocation"
			  " loop?)", r->file, path, MAX_DEPTH);
		return -ELOOP;
	}
	if (iso_dir_get_children(dir, &it) != 1)
		return -ENOMEM;
	while (rc == 0 && iso_dir_iter_next(it, &n) == 1) {
		const char *name = iso_node_get_name(n);
		struct node nd = { 0 };
		time_t mtime = iso_node_get_mtime(n);
		int64_t ns;

		if ((rc = check_name(r, path, name)) < 0)
			break;
		if (!(nd.path = join(path, name))) {
			rc = -ENOMEM;
			break;
		}
		nd.mtime_ns = __builtin_mul_overflow((int64_t)mtime, 1000000000, &ns) ? 0 : ns;
		nd.mode = iso_node_get_permissions(n) & 07777;
		switch (iso_node_get_type(n)) {
		case LIBISO_DIR:
			nd.type = TSM_ENTRY_DIR;
			if (depth + 1 > r->max_dir_depth)
				r->max_dir_depth = depth + 1;
			if ((rc = node_push(r, &nd)) < 0)
				break;
			/* The path stays where it is while r->nodes grows. */
			rc = isofs_walk(r, (IsoDir *)n, r->nodes[r->n - 1].path, depth + 1);
			continue;
		case LIBISO_FILE:
			if ((rc = isofs_file(r, (IsoFile *)n, &nd)) == 0)
				rc = node_push(r, &nd);
			break;
		case LIBISO_SYMLINK: {
			/* A link's target is a string the image holds, kept as it
			 * is, even when it leaves the tree (RRIP 4.1.3). */
			const char *dest = iso_symlink_get_dest((IsoSymlink *)n);

			nd.type = TSM_ENTRY_SYMLINK;
			nd.mode = 0777;
			if (!dest || !*dest || strlen(dest) > PATH_MAX || !tsm_utf8_valid(dest)) {
				tsm_error("%s: symlink '%s' has no valid target", r->file, nd.path);
				rc = -EINVAL;
			} else if (!(nd.target = strdup(dest))) {
				rc = -ENOMEM;
			} else {
				rc = node_push(r, &nd);
			}
			break;
		}
		case LIBISO_BOOT:
			/* The El Torito catalog is a file of the tree, as every
			 * reader extracts it; its path is recorded too, so that
			 * re-emission writes its new catalog there. */
			free(r->catalog_path);
			if (!(r->catalog_path = strdup(nd.path))) {
				rc = -ENOMEM;
				break;
			}
			nd.type = TSM_ENTRY_FILE;
			nd.size = r->cat_size;
			if (nd.size && !(nd.ext = malloc(sizeof(*nd.ext)))) {
				rc = -ENOMEM;
				break;
			}
			if (nd.size) {
				nd.ext[0] = (struct extent){ (uint64_t)r->cat_lba * ISO_SECTOR, nd.size };
				nd.next = 1;
				nd.lba = r->cat_lba;
			}
			if ((rc = check_extent(r, _("boot catalog"), nd.path, (uint64_t)r->cat_lba *
					       ISO_SECTOR, nd.size)) == 0 &&
			    !__builtin_add_overflow(r->file_bytes, nd.size, &r->file_bytes))
				rc = node_push(r, &nd);
			break;
		default:
			tsm_error("%s: '%s' is a device file, FIFO or socket, which tsmedia does not"
				  " import", r->file, nd.path);
			rc = -EOPNOTSUPP;
			break;
		}
		if (rc < 0)
			node_clear(&nd); /* on success node_push() took the pointers */
	}
	iso_dir_iter_free(it);
	return rc;
}

/* Boot entries as libisofs reports them: the lines xorriso prints for
 * -report_el_torito plain ("El Torito boot img :   1  BIOS  y  fd1.4
 * 0x0000  0x00      1          33"), from the catalog El Torito 1.0
 * 2.1-2.5 describes: platform, bootable, media type (emulation), load
 * segment, system type, sector count, load RBA. */
static int isofs_boot_line(struct iso_reader *r, const char *line)
{
	static const char *const emuls[] = { "none", "fd1.2", "fd1.4", "fd2.8", "hd" };
	char pltf[16], boot[4], emul[16];
	unsigned num, seg, sys, size, lba, platform;
	struct boot *b;
	size_t e;

	if (sscanf(line, "El Torito boot img : %u %15s %3s %15s %x %x %u %u", &num, pltf, boot,
		   emul, &seg, &sys, &size, &lba) != 8)
		goto bad;
	if (strcmp(pltf, "BIOS") == 0)
		platform = 0;
	else if (strcmp(pltf, "PPC") == 0)
		platform = 1;
	else if (strcmp(pltf, "Mac") == 0)
		platform = 2;
	else if (strcmp(pltf, "UEFI") == 0)
		platform = 0xef;
	else if (sscanf(pltf, "0x%x", &platform) != 1 || platform > 0xff)
		goto bad;
	for (e = 0; e < sizeof(emuls) / sizeof(emuls[0]) && strcmp(emul, emuls[e]); e++)
		;
	if (e == sizeof(emuls) / sizeof(emuls[0]) || seg > 0xffff || sys > 0xff || size > 0xffff)
		goto bad;
	if (r->nboots >= MAX_BOOTS) {
		tsm_error("%s: the El Torito catalog lists more than %d boot images", r->file,
			  MAX_BOOTS);
		return -EFBIG;
	}
	b = &r->boots[r->nboots++];
	*b = (struct boot){ .rba = lba, .count = (uint16_t)size, .load_segment = (uint16_t)seg,
			    .system_type = (uint8_t)sys, .bootable = boot[0] == 'y' };
	b->e.platform = (uint8_t)platform;
	b->e.emulation = (uint8_t)e; /* El Torito 2.2 byte 1: 0 none ... 4 hard disk */
	b->e.load_size = (uint16_t)size;
	return 0;
bad:
	tsm_error("%s: libisofs reported a boot entry this version of tsmedia cannot read ('%s')",
		  r->file, line);
	return -EPROTO;
}

static int isofs_boot(struct iso_reader *r, IsoImage *img)
{
	char **lines = NULL;
	int count = 0, rc = 0;

	if (iso_image_report_el_torito(img, &lines, &count, 0) < 0)
		return -ENOMEM;
	for (int i = 0; rc == 0 && i < count; i++) {
		unsigned num, blks;
		int off = 0;

		if (strncmp(lines[i], "El Torito boot img :", 20) == 0) {
			rc = isofs_boot_line(r, lines[i]);
		} else if (sscanf(lines[i], "El Torito img opts : %u %n", &num, &off) == 1 && off &&
			   num >= 1 && num <= r->nboots) {
			r->boots[num - 1].e.boot_info_table = strstr(lines[i] + off, "boot-info-table");
			r->boots[num - 1].grub2_boot_info = strstr(lines[i] + off, "grub2-boot-info");
		} else if (sscanf(lines[i], "El Torito img blks : %u %u", &num, &blks) == 2 &&
			   num >= 1 && num <= r->nboots) {
			/* A hidden image's size as libisofs found it (its
			 * partition or file system), in 2048-byte blocks. */
			r->boots[num - 1].blocks = blks;
		}
	}
	iso_image_report_el_torito(img, &lines, &count, 1 << 15);
	return rc;
}

/* The system area's kind as libisofs names it ("System area summary: MBR
 * isohybrid cyl-align-on", "MBR protective-msdos-label grub2-mbr ..."). */
static int isofs_system_area(struct iso_reader *r, IsoImage *img)
{
	char **lines = NULL;
	int count = 0;

	if (iso_image_report_system_area(img, &lines, &count, 0) < 0)
		return -ENOMEM;
	for (int i = 0; i < count; i++) {
		unsigned long long off;

		if (sscanf(lines[i], "Partition offset : %llu", &off) == 1)
			r->partition_offset = off;
		if (strncmp(lines[i], "System area summary:", 20) == 0) {
			const char *s = lines[i] + 20;

			while (*s == ' ')
				s++;
			free(r->system_area);
			if (!(r->system_area = strdup(s)))
				break;
		}
	}
	iso_image_report_system_area(img, &lines, &count, 1 << 15);
	return 0;
}

/* ECMA-119 6.8.2.1 allows 8 levels of directories; mkisofs and its kin
 * move deeper ones into a directory at the root ("rr_moved", ".rr_moved")
 * and Rock Ridge puts them back (RRIP 4.1.5: CL, PL, RE), leaving that
 * directory empty.  It is not part of the tree the image holds: when the
 * Rock Ridge tree is deeper than 8 levels and that directory is empty, it
 * is dropped (as bsdtar does). */
static int drop_relocation_dir(struct iso_reader *r)
{
	if (strcmp(r->names, "Rock Ridge") != 0 || r->max_dir_depth <= 8)
		return 0;
	for (size_t i = 0; i < r->n; i++) {
		const char *p = r->nodes[i].path;
		size_t len = strlen(p);
		bool empty = true;

		if (r->nodes[i].type != TSM_ENTRY_DIR ||
		    (strcmp(p, "rr_moved") != 0 && strcmp(p, ".rr_moved") != 0))
			continue;
		for (size_t k = 0; k < r->n && empty; k++)
			empty = !(strncmp(r->nodes[k].path, p, len) == 0 && r->nodes[k].path[len] == '/');
		if (!empty)
			return 0;
		tsm_debug("%s: dropping the emptied relocation directory '%s'", r->file, p);
		node_clear(&r->nodes[i]);
		memmove(&r->nodes[i], &r->nodes[i + 1], (r->n - i - 1) * sizeof(*r->nodes));
		r->n--;
		return 0;
	}
	return 0;
}

static int isofs_scan(struct iso_reader *r, bool tree)
{
	IsoDataSource src = { .version = 0, .refcount = 1, .open = isofs_src_open,
			      .close = isofs_src_open, .read_block = isofs_read_block,
			      .free_data = isofs_src_free, .data = r };
	IsoReadImageFeatures *features = NULL;
	IsoReadOpts *opts = NULL;
	IsoImage *img = NULL;
	int ret, rc;

	if ((ret = iso_init()) < 0) {
		tsm_error("%s: cannot start libisofs: %s", r->file, iso_error_to_msg(ret));
		return -EIO;
	}
	/* Messages are queued for isofs_report(), never printed; any problem
	 * of "SORRY" or worse stops the import: a damaged image is refused,
	 * not read in part. */
	iso_set_msgs_severities("ALL", "NEVER", "tsmedia");
	iso_set_abort_severity("SORRY");
	if (iso_image_new("import", &img) < 0 || iso_read_opts_new(&opts, 0) < 0) {
		rc = -ENOMEM;
		goto out;
	}
	iso_read_opts_set_no_iso1999(opts, 1);
	iso_read_opts_set_no_aaip(opts, 1);
	iso_read_opts_set_no_md5(opts, 1);
	iso_read_opts_set_new_inos(opts, 1);
	/* The reports below read the system area and the image's blocks
	 * (libisofs 1.5.4 crashes reporting a hidden boot image without). */
	iso_read_opts_load_system_area(opts, 1);
	iso_read_opts_keep_import_src(opts, 1);
	if ((ret = iso_image_import(img, &src, opts, &features)) < 0) {
		isofs_report(r, ret, "not a readable ISO 9660 image");
		rc = r->past_end ? -EIO : -EINVAL;
		goto out;
	}
	if (features && iso_read_image_features_has_rockridge(features) &&
	    iso_read_image_features_rr_loaded(features))
		r->names = "Rock Ridge";
	else if (features && iso_read_image_features_has_joliet(features))
		r->names = "Joliet";
	else
		r->names = "ISO 9660";
	{
		IsoBoot *cat = NULL;
		char *content = NULL;
		off_t size = 0;

		/* libisofs 1.5.4 crashes in iso_image_get_bootcat() on an image
		 * without El Torito: ask only when there is a catalog. */
		if (features && iso_read_image_features_has_eltorito(features) &&
		    iso_image_get_bootcat(img, &cat, &r->cat_lba, &content, &size) == 1) {
			/* El Torito 2.0: the catalog is at most a few sectors. */
			r->cat_size = size > 0 && size <= 64 * ISO_SECTOR ? (uint64_t)size : ISO_SECTOR;
			if (!tree && cat) {
				/* UDF gives the tree; the catalog's path is from here. */
				char *p = iso_tree_get_node_path((IsoNode *)cat);

				if (p && p[0] == '/' && tsm_wire_path_ok(p + 1))
					r->catalog_path = strdup(p + 1);
				free(p);
			}
		}
		free(content);
	}
	if (tree && ((rc = isofs_walk(r, iso_image_get_root(img), "", 1)) < 0 ||
		     (rc = drop_relocation_dir(r)) < 0))
		goto out;
	if ((rc = isofs_boot(r, img)) < 0 || (rc = isofs_system_area(r, img)) < 0)
		goto out;
	snprintf(r->isofs_label, sizeof(r->isofs_label), "%s",
		 iso_image_get_volume_id(img) ? iso_image_get_volume_id(img) : "");
	rc = 0;
out:
	if (features)
		iso_read_image_features_destroy(features);
	if (opts)
		iso_read_opts_free(opts);
	if (img)
		iso_image_unref(img);
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
			  tag, tag == TAGID_EFE ? _(": an Extended File Entry of UDF 2.x, which"
						    " libudf cannot read") : "");
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
			why = _("continue in another extent of descriptors, which is not supported");
			break;
		}
		if (raw >> 30 != 0) {
			why = _("have an extent that is not recorded, which is not supported");
			break;
		}
		if (kind == ICBTAG_FLAG_AD_LONG && le16(p + off + 8) !=
						       uint16_from_le(d->fid->icb.loc.partitionReferenceNum)) {
			why = _("name another partition than the entry's");
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
		why = _("cover fewer bytes than the file's size");
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
		why = _("an empty name");
	else if (p[0] != 8 && p[0] != 16)
		why = _("a name in an unknown OSTA compression (not 8 or 16)");
	else if (p[0] == 16 && (len - 1) % 2)
		why = _("a 16-bit name of an odd number of bytes");
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

/* How many bytes a hidden boot image at sector @rba holds. */
static uint64_t boot_hidden_size(struct iso_reader *r, const struct boot *b)
{
	uint64_t off = (uint64_t)b->rba * ISO_SECTOR, sectors512 = (uint64_t)b->rba * 4, size = 0;
	uint8_t buf[512];

	/* El Torito 2.2 byte 1: an emulated floppy is a whole 1.2, 1.44 or
	 * 2.88 MB disk; an emulated hard disk is as large as the partitions
	 * of its own MBR reach (4 entries of 16 bytes at 446: LE32 first
	 * sector at 8, LE32 sectors at 12). */
	if (b->blocks) {
		size = (uint64_t)b->blocks * ISO_SECTOR;
		goto clamp;
	}
	switch (b->e.emulation) {
	case 1:
		size = 1228800;
		goto clamp;
	case 2:
		size = 1474560;
		goto clamp;
	case 3:
		size = 2949120;
		goto clamp;
	case 4:
		if (tsm_pread_full(r->fd, buf, sizeof(buf), off) == 0 && buf[510] == 0x55 &&
		    buf[511] == 0xaa)
			for (int i = 0; i < 4; i++) {
				const uint8_t *p = buf + 446 + 16 * i;
				uint64_t end = ((uint64_t)le32(p + 8) + le32(p + 12)) * 512;

				if (p[4] && end > size)
					size = end;
			}
		if (!size)
			size = 512;
		goto clamp;
	default:
		break;
	}
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
				  got < 0 ? strerror(err) : _("the image ends early (truncated?)"));
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
		b->e.boot_info_table = b->e.boot_info_table ||
				       (file->size >= 64 &&
				       tsm_pread_full(r->fd, head, sizeof(head),
						  (uint64_t)b->rba * ISO_SECTOR) == 0 &&
				       le32(head + 8) == 16 && le32(head + 12) == b->rba);
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

/* What the catalog's boot rows do not hold, one line per entry in their
 * order: "load_segment=0x07c0 system_type=0x06 bootable=1 grub2_boot_info=0". */
static int record_boot_fields(struct iso_reader *r, struct tsm_import *imp)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (!r->nboots)
		return 0;
	if (!(f = open_memstream(&text, &len)))
		return -ENOMEM;
	for (size_t i = 0; i < r->nboots; i++)
		fprintf(f, "load_segment=0x%04x system_type=0x%02x bootable=%d grub2_boot_info=%d\n",
			r->boots[i].load_segment, r->boots[i].system_type, r->boots[i].bootable,
			r->boots[i].grub2_boot_info);
	if (fclose(f) != 0) {
		free(text);
		return -ENOMEM;
	}
	rc = tsm_import_set_meta(imp, "eltorito", text, len);
	free(text);
	return rc;
}

/* The system area's bytes as a blob (images made alike share it) and its
 * map, for the ISO writer to carry it over (content meta
 * "system_area.blob", the blob's id, and "system_area.map"). */
static int record_system_area(struct iso_reader *r, struct tsm_import *imp)
{
	struct tsm_import_mem m = { r->sa, TSM_ISO_SYSTEM_AREA };
	char id[32];
	int64_t blob;
	uint64_t size;
	int rc;

	if (!r->sa_map)
		return 0;
	if ((rc = tsm_import_add_hidden_blob(imp, tsm_import_mem_read, &m, "system area", &blob,
					      &size)) < 0)
		return rc;
	snprintf(id, sizeof(id), "%lld", (long long)blob);
	if ((rc = tsm_import_set_meta(imp, "system_area.blob", id, strlen(id))) < 0)
		return rc;
	return tsm_import_set_meta(imp, "system_area.map", r->sa_map, strlen(r->sa_map));
}

/* Reads the system area (ECMA-119 6.2.1: sectors 0-15) and describes how
 * it follows a new layout (iso_sysarea.h): its fields may point at the
 * first boot image of each platform and at the files of the tree (one
 * extent each, stored as they are).  What cannot follow is refused, an
 * HFS+ file system (grub-mkrescue's default, for Macs) too. */
static int system_area_read(struct iso_reader *r)
{
	struct tsm_sa_anchor *anchors;
	size_t n = 0;
	char *why = NULL;
	int rc;

	if (r->partition_offset) {
		tsm_error("%s: its ISO 9660 volume starts %llu blocks into a partition (xorriso"
			  " -partition_offset), which tsmedia does not carry over", r->file,
			  (unsigned long long)r->partition_offset);
		return -EINVAL;
	}
	if (!(r->sa = malloc(TSM_ISO_SYSTEM_AREA)))
		return -ENOMEM;
	if (tsm_pread_full(r->fd, r->sa, TSM_ISO_SYSTEM_AREA, 0) < 0) {
		tsm_error("%s: cannot read its system area (the image ends early)", r->file);
		return -EIO;
	}
	if (!(anchors = calloc(r->n + 2, sizeof(*anchors))))
		return -ENOMEM;
	for (int platform = 0; platform < 2; platform++)
		for (size_t i = 0; i < r->nboots; i++) {
			const struct boot *b = &r->boots[i];

			if (b->e.platform != (platform ? TSM_BOOT_PLATFORM_UEFI : TSM_BOOT_PLATFORM_BIOS))
				continue;
			anchors[n++] = (struct tsm_sa_anchor){ platform ? "uefi" : "bios", NULL,
							       (uint64_t)b->rba * ISO_SECTOR,
							       b->e.size };
			break;
		}
	for (size_t i = 0; i < r->n; i++) {
		const struct node *nd = &r->nodes[i];

		if (nd->type == TSM_ENTRY_FILE && nd->next == 1 && !nd->zisofs_log2 && nd->size &&
		    !strchr(nd->path, '\n'))
			anchors[n++] = (struct tsm_sa_anchor){ "file", nd->path, nd->ext[0].off,
							       nd->size };
	}
	rc = tsm_iso_sysarea_describe(r->sa, r->image_size, r->system_area, anchors, n,
				      &r->sa_map, &why);
	free(anchors);
	switch (rc) {
	case TSM_SA_EMPTY:
	case TSM_SA_MAPPED:
		rc = 0;
		break;
	case TSM_SA_HFSPLUS:
		/* Its extents point at this image's layout, and tsmedia writes no
		 * HFS+: re-emitted, the image would lose what Macs boot from.  An
		 * import reproduces the ISO or refuses it (issue 15). */
		tsm_error("%s: its system area cannot be carried over: it holds an HFS+ file"
			  " system for Macs (%s), which tsmedia does not write; keep the image as"
			  " it is with --as-file, or make it without HFS+ (grub-mkrescue ..."
			  " -- -hfsplus off)", r->file, why);
		rc = -EINVAL;
		break;
	case TSM_SA_REFUSED:
		tsm_error("%s: its system area cannot be carried over: %s", r->file, why);
		rc = -EINVAL;
		break;
	default:
		break;
	}
	free(why);
	return rc;
}

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
	if (r->catalog_path &&
	    (rc = tsm_import_set_meta(imp, "boot_catalog", r->catalog_path,
				      strlen(r->catalog_path))) < 0)
		return rc;
	if (r->system_area &&
	    (rc = tsm_import_set_meta(imp, "system_area", r->system_area,
				      strlen(r->system_area))) < 0)
		return rc;
	if ((rc = record_system_area(r, imp)) < 0)
		return rc;
	return record_boot_fields(r, imp);
}

/* ---- opening -------------------------------------------------------- */

/* libudf's messages go to the debug log (its default handler prints them,
 * and aborts on an assertion); the UDF walk checks what it reads itself. */
static void quiet_cdio(cdio_log_level_t level, const char message[])
{
	tsm_debug("libcdio (level %d): %s", (int)level, message);
}

static void reader_free(struct iso_reader *r)
{
	for (size_t i = 0; i < r->n; i++)
		node_clear(&r->nodes[i]);
	free(r->nodes);
	free(r->visited);
	free(r->catalog_path);
	free(r->system_area);
	free(r->sa);
	free(r->sa_map);
	if (r->udf)
		udf_close(r->udf);
	if (r->cs0_8 != (iconv_t)-1)
		iconv_close(r->cs0_8);
	if (r->cs0_16 != (iconv_t)-1)
		iconv_close(r->cs0_16);
	if (r->fd >= 0)
		close(r->fd);
}

/* A zisofs file's stored bytes: @len at @off of its extents, in order. */
struct zisofs_src {
	struct iso_reader *r;
	const struct node *nd;
};

static int zisofs_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	const struct zisofs_src *z = ctx;
	const struct node *nd = z->nd;
	uint8_t *out = buf;

	for (size_t i = 0; i < nd->next && len; i++) {
		uint64_t n;

		if (off >= nd->ext[i].len) {
			off -= nd->ext[i].len;
			continue;
		}
		n = nd->ext[i].len - off < len ? nd->ext[i].len - off : len;
		if (tsm_pread_full(z->r->fd, out, (size_t)n, nd->ext[i].off + off) < 0) {
			tsm_error("%s: cannot read '%s': the image ends early (truncated?)",
				  z->r->file, nd->path);
			return -EIO;
		}
		out += n;
		len -= (size_t)n;
		off = 0;
	}
	if (len) {
		tsm_error("%s: '%s': damaged zisofs data: a block lies past its stored bytes",
			  z->r->file, nd->path);
		return -EINVAL;
	}
	return 0;
}

static ssize_t zisofs_stream(void *ctx, void *out, size_t want)
{
	return tsm_zisofs_read(ctx, out, want);
}

static int import_zisofs(struct iso_reader *r, struct tsm_import *imp, const struct node *nd)
{
	struct zisofs_src src = { r, nd };
	struct tsm_zisofs *z;
	char *what;
	int rc;

	if (asprintf(&what, "%s: '%s'", r->file, nd->path) < 0)
		return -ENOMEM;
	if ((rc = tsm_zisofs_open(what, zisofs_pread, &src, nd->stored, nd->size, nd->zisofs_log2,
				  &z)) == 0) {
		rc = tsm_import_add_file_stream(imp, nd->path, nd->mode, nd->mtime_ns,
						ATTR_ARCHIVE | attributes(nd->mode), zisofs_stream, z,
						nd->path);
		tsm_zisofs_free(z);
	}
	free(what);
	return rc;
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
		} else if (nd->zisofs_log2) {
			rc = import_zisofs(r, imp, nd);
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
#define WIRE_MAGIC "TSMISO2"
#define WIRE_END "TSMISOE"
#define WIRE_MAX (1ull << 30)
#define WIRE_STR_MAX (1u << 20)

static const char *const name_kinds[] = { "UDF", "Joliet", "Rock Ridge", "ISO 9660" };

/* The primary volume descriptor's volume space size (ECMA-119 8.4.8, LE32
 * at byte 80) against the file: an image cut short is refused as that. */
static int check_truncated(struct iso_reader *r)
{
	uint8_t pvd[ISO_SECTOR];

	if (tsm_pread_full(r->fd, pvd, sizeof(pvd), VRS_FIRST * ISO_SECTOR) == 0 &&
	    pvd[0] == 1 && memcmp(pvd + 1, "CD001", 5) == 0 &&
	    (uint64_t)le32(pvd + 80) * ISO_SECTOR > r->image_size) {
		tsm_error("%s: the image is truncated: its volume is %llu bytes, the file %llu",
			  r->file, (unsigned long long)le32(pvd + 80) * ISO_SECTOR,
			  (unsigned long long)r->image_size);
		return -EIO;
	}
	return 0;
}

/* El Torito 1.0 2.0: a Boot Record Volume Descriptor at sector 17 whose
 * boot system identifier (byte 7) is "EL TORITO SPECIFICATION". */
static bool has_eltorito(struct iso_reader *r)
{
	static const char spec[] = "EL TORITO SPECIFICATION";
	uint8_t brvd[64];

	return tsm_pread_full(r->fd, brvd, sizeof(brvd), 17 * ISO_SECTOR) == 0 && brvd[0] == 0 &&
	       memcmp(brvd + 1, "CD001", 5) == 0 && memcmp(brvd + 7, spec, sizeof(spec) - 1) == 0;
}

/* El Torito 1.0 2.0: the boot record's LE32 at byte 0x47 is the catalog's
 * sector; a catalog past the end of the image is named as that. */
static int check_catalog(struct iso_reader *r)
{
	uint8_t lba[4];

	if (!has_eltorito(r) || tsm_pread_full(r->fd, lba, sizeof(lba), 17 * ISO_SECTOR + 0x47) < 0)
		return 0;
	if (((uint64_t)le32(lba) + 1) * ISO_SECTOR > r->image_size) {
		tsm_error("%s: the El Torito boot catalog (sector %u) is past the end of the image"
			  " (%llu sectors; truncated or damaged)", r->file, le32(lba),
			  (unsigned long long)(r->image_size / ISO_SECTOR));
		return -EIO;
	}
	return 0;
}

/* In the reader: the tree, by libudf or libisofs; El Torito and the system
 * area by libisofs. */
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
	if ((rc = check_truncated(r)) < 0)
		return rc;
	if (r->use_udf) {
		if ((r->cs0_8 = iconv_open("UTF-8", "ISO-8859-1")) == (iconv_t)-1 ||
		    (r->cs0_16 = iconv_open("UTF-8", "UTF-16BE")) == (iconv_t)-1) {
			rc = -errno;
			tsm_error("%s: cannot decode UDF names: iconv: %s", r->file, strerror(-rc));
			return rc;
		}
		if ((rc = udf_scan(r)) < 0 || !has_eltorito(r))
			return rc;
		if ((rc = check_catalog(r)) < 0)
			return rc;
		/* The boot entries come from the ISO 9660 side. */
		if ((rc = tsm_iso_dirs_check(r->fd, r->file, r->image_size)) < 0)
			return rc;
		return isofs_scan(r, false);
	}
	/* libisofs trusts the directory records' sizes and extents as much as
	 * libiso9660 did: each is checked first (loops, records past their
	 * sector or the image). */
	if ((rc = check_catalog(r)) < 0)
		return rc;
	if ((rc = tsm_iso_dirs_check(r->fd, r->file, r->image_size)) < 0) {
		if (r->has_udf)
			tsm_error("%s: its UDF volume cannot be read either (damaged or truncated?%s)",
				  r->file, r->image_size <= 256 * ISO_SECTOR ?
				  _(" it ends before UDF's anchor at sector 256") : "");
		return rc;
	}
	return isofs_scan(r, true);
}

/* In the reader: the volume label, when it is UTF-8. */
static void reader_label(struct iso_reader *r, char *label, size_t size)
{
	*label = '\0';
	if (r->use_udf) {
		udf_get_volume_id(r->udf, label, (unsigned)size);
	} else {
		snprintf(label, size, "%s", r->isofs_label);
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

static int reader_run(const struct reader_job *job, struct iso_reader *r, int fd);

/* The child (a process; in a fuzz build perhaps a thread, see sandbox.c):
 * it reads into a copy of the importer's reader, which holds nothing of
 * the heap yet, and frees what it made. */
static int reader_main(void *arg, int fd)
{
	const struct reader_job *job = arg;
	struct iso_reader r = *job->r;
	int rc;

	r.fd = -1;
	rc = reader_run(job, &r, fd);
	reader_free(&r);
	return rc;
}

static int reader_run(const struct reader_job *job, struct iso_reader *r, int fd)
{
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
		tsm_wire_put_u64(&w, nd->zisofs_log2);
		tsm_wire_put_u64(&w, nd->size);
		tsm_wire_put_u64(&w, nd->next);
		for (size_t k = 0; k < nd->next; k++) {
			tsm_wire_put_u64(&w, nd->ext[k].off);
			tsm_wire_put_u64(&w, nd->ext[k].len);
		}
		tsm_wire_put_str(&w, nd->target);
	}
	tsm_wire_put_u64(&w, r->nboots);
	for (size_t i = 0; i < r->nboots; i++) {
		const struct boot *b = &r->boots[i];

		tsm_wire_put_u64(&w, b->e.platform);
		tsm_wire_put_u64(&w, b->e.emulation);
		tsm_wire_put_u64(&w, b->e.load_size);
		tsm_wire_put_u64(&w, b->load_segment);
		tsm_wire_put_u64(&w, b->system_type);
		tsm_wire_put_u64(&w, b->bootable);
		tsm_wire_put_u64(&w, b->e.boot_info_table);
		tsm_wire_put_u64(&w, b->grub2_boot_info);
		tsm_wire_put_u64(&w, b->rba);
		tsm_wire_put_u64(&w, b->blocks);
	}
	tsm_wire_put_str(&w, r->catalog_path);
	tsm_wire_put_str(&w, r->system_area);
	tsm_wire_put_u64(&w, r->partition_offset);
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
	nd.zisofs_log2 = (uint8_t)tsm_wire_get_count(w, nd.type == TSM_ENTRY_FILE ? 17 : 0);
	if (nd.zisofs_log2 && nd.zisofs_log2 < 15)
		tsm_wire_fail(w, -EPROTO);
	/* zisofs: the uncompressed size, at most 32 bits (its header's field). */
	nd.size = tsm_wire_get_count(w, nd.type != TSM_ENTRY_FILE ? 0 : nd.zisofs_log2 ? UINT32_MAX
										  : r->image_size);
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
	nd.stored = sum;
	if (!nd.path || !tsm_wire_path_ok(nd.path) || (!nd.zisofs_log2 && sum != nd.size) ||
	    (nd.type == TSM_ENTRY_SYMLINK) != (nd.target != NULL) ||
	    (nd.target && (!*nd.target || strlen(nd.target) > PATH_MAX)) ||
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
	r->nboots = (size_t)tsm_wire_get_count(w, MAX_BOOTS);
	for (size_t i = 0; !tsm_wire_rc(w) && i < r->nboots; i++) {
		struct boot *b = &r->boots[i];

		*b = (struct boot){ 0 };
		b->e.platform = (uint8_t)tsm_wire_get_count(w, 0xff);
		b->e.emulation = (uint8_t)tsm_wire_get_count(w, 4);
		b->e.load_size = (uint16_t)tsm_wire_get_count(w, 0xffff);
		b->count = b->e.load_size;
		b->load_segment = (uint16_t)tsm_wire_get_count(w, 0xffff);
		b->system_type = (uint8_t)tsm_wire_get_count(w, 0xff);
		b->bootable = tsm_wire_get_count(w, 1);
		b->e.boot_info_table = tsm_wire_get_count(w, 1);
		b->grub2_boot_info = tsm_wire_get_count(w, 1);
		b->rba = (uint32_t)tsm_wire_get_count(w, UINT32_MAX);
		b->blocks = (uint32_t)tsm_wire_get_count(w, r->image_size / ISO_SECTOR);
	}
	r->catalog_path = tsm_wire_get_str(w, WIRE_STR_MAX);
	if (r->catalog_path && !tsm_wire_path_ok(r->catalog_path))
		tsm_wire_fail(w, -EPROTO);
	r->system_area = tsm_wire_get_str(w, 4096);
	r->partition_offset = tsm_wire_get_count(w, UINT32_MAX);
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
	if ((rc = tsm_sandbox_start(o->source, _("ISO reader"), &lim, reader_main, &job, &sb)) < 0)
		goto out;
	rc = receive_tree(&r, tsm_sandbox_fd(sb), label, sizeof(label));
	crc = tsm_sandbox_finish(sb, rc < 0 && rc != -EPIPE);
	if (crc < 0) {
		rc = crc; /* the reader said why */
		goto out;
	}
	if (rc < 0) {
		tsm_error("%s: the ISO reader %s", r.file, rc == -EPIPE ? _("ended without a result")
			  : rc == -EPROTO ? _("sent a malformed result") : strerror(-rc));
		goto out;
	}
	boots = r.boots;
	nboots = r.nboots;
	for (size_t i = 0; i < nboots; i++)
		if ((rc = boot_resolve(&r, &boots[i], NULL)) < 0)
			goto out;
	tsm_debug("%s: %zu entries from %s names, %zu boot entries", r.file, r.n, r.names,
		  nboots);
	if ((rc = system_area_read(&r)) < 0)
		goto out;

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
	reader_free(&r);
	return rc;
}
