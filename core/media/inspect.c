/* Reading media the way a booting client does: TsmBootstrap.ini, the
 * variables and policy (decrypted with the password when protected), and
 * every file checked against the manifest, on whichever volume it is.
 * ISO volumes are read with libiso9660; a directory (a USB stick, a copy)
 * is read as files.  The media is hostile: sizes come from its directory
 * records, paths from its manifest. */
#include "tsmedia/inspect.h"

#include <cdio/iso9660.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "import/iso_dirs.h"
#include "media/media_internal.h"
#include "tsmedia/hash.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

#include <openssl/crypto.h>

/* Files of SMS/data read whole (TsmBootstrap.ini, Variables.dat,
 * Policy.xml): Configuration Manager's clients fail on task sequence policy
 * over 32 MB ("Reduce the size of task sequence policy", Microsoft Learn),
 * so none a client could use is larger. */
#define SMS_DATA_MAX (32u << 20)
/* Manifest.txt, read whole: a line is about 100 bytes plus the path, so
 * this is over 300,000 files. */
#define MANIFEST_MAX (64u << 20)
/* Files are hashed through a buffer of this size, whatever they claim. */
#define READ_CHUNK (1u << 20)

struct volume {
	const char *path;
	iso9660_t *iso; /* NULL: a directory */
	int dirfd;      /* the directory, when not an ISO */
};

/* The directory records of the ISO at @path (a file or a block device:
 * its size is where it ends), checked (import/iso_dirs.c). */
static int iso_dirs_check_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	uint64_t whole;
	bool ended;
	off_t end;
	int rc;

	if (fd < 0 || (end = lseek(fd, 0, SEEK_END)) < 0) {
		rc = -errno;
		tsm_error("cannot read %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	/* Only whole sectors are checked (ECMA-119 6.1.2: an image is made
	 * of 2048-byte sectors), but libiso9660 also takes a cut last sector
	 * for a whole one: its primary descriptor (sector 16) must be whole,
	 * and a descriptor set must end before a cut last sector. */
	whole = (uint64_t)end / 2048 * 2048;
	if (whole < 17 * 2048) {
		tsm_error("%s is not an ISO 9660 image or a directory", path);
		close(fd);
		return -EINVAL;
	}
	rc = tsm_iso_dirs_check_ended(fd, path, whole, &ended);
	if (rc == 0 && whole != (uint64_t)end && !ended) {
		tsm_error("%s: not a usable ISO 9660 image: its volume descriptors run into its"
			  " last sector, which is cut short (%lld bytes)", path, (long long)end);
		rc = -EINVAL;
	}
	close(fd);
	return rc;
}

static int volume_open(struct volume *v, const char *path)
{
	struct stat st;
	int rc;

	v->path = path;
	v->iso = NULL;
	v->dirfd = -1;
	if (stat(path, &st) < 0) {
		tsm_error("cannot read %s: %s", path, strerror(errno));
		return -errno;
	}
	if (S_ISDIR(st.st_mode)) {
		if ((v->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
			tsm_error("cannot read %s: %s", path, strerror(errno));
			return -errno;
		}
		return 0;
	}
	/* libiso9660 allocates a directory's whole recorded size and reads
	 * records without bounds: every directory is checked against the
	 * image first (the same check an import makes). */
	if ((rc = iso_dirs_check_file(path)) < 0)
		return rc;
	v->iso = iso9660_open_ext(path, ISO_EXTENSION_ALL);
	if (!v->iso) {
		tsm_error("%s is not an ISO 9660 image or a directory", path);
		return -EINVAL;
	}
	return 0;
}

static void volume_close(struct volume *v)
{
	if (v->iso)
		iso9660_close(v->iso);
	if (v->dirfd >= 0)
		close(v->dirfd);
}

/* A path the manifest gives names a file of the volume: relative,
 * '/'-separated, without empty, "." or ".." components, and without
 * backslashes (Windows reads "..\" as the parent). */
static bool volume_path_ok(const char *path)
{
	const char *p = path;

	if (strchr(path, '\\'))
		return false;
	for (;;) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!p[n])
			return true;
		p += n + 1;
	}
}

/* A file of the volume, open: its recorded size before any byte is read. */
struct vfile {
	struct volume *v;
	const char *path;
	int fd;                /* a directory's file */
	iso9660_stat_t *st;    /* an ISO's */
	uint64_t size;
};

/* A file under a directory volume, never outside it: the kernel refuses a
 * link that leaves the directory (RESOLVE_BENEATH, Linux 5.6). */
static int dir_open_beneath(int dirfd, const char *path)
{
	struct open_how how = {
		.flags = O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY,
		.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));

	/* Older kernels: the path was checked (volume_path_ok); links are not
	 * followed at all. */
	if (fd < 0 && errno == ENOSYS)
		fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY | O_NOFOLLOW);
	return (int)fd;
}

/* A file by its path: libiso9660 names Joliet files with their ";1". */
static iso9660_stat_t *iso_stat_file(iso9660_t *iso, const char *path)
{
	iso9660_stat_t *st = iso9660_ifs_stat_translate(iso, path);
	char *versioned;

	if (st)
		return st;
	if (asprintf(&versioned, "/%s;1", path) < 0)
		return NULL;
	st = iso9660_ifs_stat(iso, versioned);
	free(versioned);
	return st;
}

/* -ENOENT when the file is not there (or not a regular file), -EXDEV when
 * it is a link out of the volume. */
static int vfile_open(struct volume *v, const char *path, struct vfile *f)
{
	struct stat st;

	memset(f, 0, sizeof(*f));
	f->v = v;
	f->path = path;
	f->fd = -1;
	if (!volume_path_ok(path))
		return -EINVAL;
	if (v->iso) {
		f->st = iso_stat_file(v->iso, path);
		if (!f->st || f->st->type != _STAT_FILE) {
			iso9660_stat_free(f->st);
			f->st = NULL;
			return -ENOENT;
		}
		f->size = f->st->size;
		return 0;
	}
	if ((f->fd = dir_open_beneath(v->dirfd, path)) < 0)
		return errno == EXDEV || errno == ELOOP ? -EXDEV : -ENOENT;
	/* A FIFO or a device on a stick must not hang or feed us forever. */
	if (fstat(f->fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(f->fd);
		f->fd = -1;
		return -ENOENT;
	}
	f->size = (uint64_t)st.st_size;
	return 0;
}

static void vfile_close(struct vfile *f)
{
	if (f->fd >= 0)
		close(f->fd);
	iso9660_stat_free(f->st);
	f->fd = -1;
	f->st = NULL;
}

/* Streams the file to @fn, never more than its recorded size; *got_ret
 * says how much there was (less when a directory's file shrank). */
static int vfile_read(struct vfile *f, int (*fn)(void *arg, const uint8_t *data, size_t len),
		      void *arg, uint64_t *got_ret)
{
	uint8_t *buf = malloc(READ_CHUNK);
	uint64_t off = 0;
	int rc = 0;

	*got_ret = 0;
	if (!buf)
		return -ENOMEM;
	while (rc == 0 && off < f->size) {
		size_t want = f->size - off < READ_CHUNK ? (size_t)(f->size - off) : READ_CHUNK;

		if (f->fd >= 0) {
			ssize_t n = read(f->fd, buf, want);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				rc = -errno;
				tsm_error("%s: reading %s: %s", f->v->path, f->path, strerror(errno));
				break;
			}
			if (n == 0)
				break;
			want = (size_t)n;
		} else {
			size_t blocks = (want + ISO_BLOCKSIZE - 1) / ISO_BLOCKSIZE;

			if (iso9660_iso_seek_read(f->v->iso, buf,
						  f->st->lsn + (lsn_t)(off / ISO_BLOCKSIZE),
						  (long)blocks) != (long)(blocks * ISO_BLOCKSIZE)) {
				tsm_error("%s: cannot read %s", f->v->path, f->path);
				rc = -EIO;
				break;
			}
		}
		rc = fn(arg, buf, want);
		off += want;
	}
	free(buf);
	*got_ret = off;
	return rc;
}

struct whole {
	uint8_t *p;
	size_t len, cap;
};

static int whole_add(void *arg, const uint8_t *data, size_t len)
{
	struct whole *w = arg;

	if (len > w->cap - w->len)
		return -EFBIG; /* never: reads stop at the recorded size */
	memcpy(w->p + w->len, data, len);
	w->len += len;
	w->p[w->len] = 0;
	return 0;
}

/* A file of at most @max bytes, NUL-terminated; -EFBIG (reported) when its
 * recorded size is larger: nothing of it is read then. */
static int read_small(struct volume *v, const char *path, size_t max, uint8_t **data_ret,
		      size_t *len_ret)
{
	struct whole w = { 0 };
	struct vfile f;
	uint64_t got;
	int rc = vfile_open(v, path, &f);

	if (rc < 0)
		return rc;
	if (f.size > max) {
		tsm_error("%s: %s claims %llu bytes, more than the %zu MiB tsmedia reads of it:"
			  " refused", v->path, path, (unsigned long long)f.size, max >> 20);
		vfile_close(&f);
		return -EFBIG;
	}
	w.cap = (size_t)f.size;
	if (!(w.p = malloc(w.cap + 1))) {
		vfile_close(&f);
		return -ENOMEM;
	}
	w.p[0] = 0;
	rc = vfile_read(&f, whole_add, &w, &got);
	vfile_close(&f);
	if (rc < 0) {
		free(w.p);
		return rc;
	}
	*data_ret = w.p;
	*len_ret = w.len;
	return 0;
}

static int hash_add(void *arg, const uint8_t *data, size_t len)
{
	return tsm_file_hasher_update_sha256(arg, data, len);
}

static void problem(struct tsm_inspect_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Records a problem twice: in English (what --json carries, the same in
 * every locale) and translated (what the human output prints). */
static void problem(struct tsm_inspect_result *r, const char *fmt, ...)
{
	va_list ap, ap2;
	char *msg, *text;
	void *p, *q;

	va_start(ap, fmt);
	va_copy(ap2, ap);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	if (vasprintf(&text, _(fmt), ap2) < 0)
		text = NULL;
	va_end(ap2);
	va_end(ap);
	p = msg && text ? realloc(r->problems, (r->nproblems + 1) * sizeof(*r->problems)) : NULL;
	if (p)
		r->problems = p;
	q = p ? realloc(r->problems_text, (r->nproblems + 1) * sizeof(*r->problems_text)) : NULL;
	if (q) {
		r->problems_text = q;
		r->problems[r->nproblems] = msg;
		r->problems_text[r->nproblems++] = text;
	} else {
		free(msg);
		free(text);
	}
}

/* SMS/data/NAME under any of @names, or -ENOENT: ISO 9660 names may be in either case
 * (Configuration Manager writes TsmBootstrap.ini; earlier tsmedia TSMBootstrap.ini). */
static int read_sms_data(struct volume *v, const char *const *names, uint8_t **data_ret,
			 size_t *len_ret)
{
	int rc = -ENOENT;

	for (; *names && rc == -ENOENT; names++) {
		char path[64];

		snprintf(path, sizeof(path), "SMS/data/%s", *names);
		rc = read_small(v, path, SMS_DATA_MAX, data_ret, len_ret);
	}
	return rc;
}

/* Checks line @lineno of the manifest, "SHA256 SIZE VOLUME PATH", against
 * the volumes: a file that differs is a result; a path out of the volume is
 * an error (a hostile manifest). */
static int check_line(struct volume *vols, size_t nvols, const char *line, size_t lineno,
		      struct tsm_inspect_result *r)
{
	char want[65], path[4096], got_hex[65];
	unsigned long long size;
	unsigned vol;
	uint8_t sha256[32], sha1[20];
	struct tsm_file_hasher *h;
	struct vfile f;
	uint64_t got_size = 0;
	int rc;

	if (sscanf(line, "%64s %llu %u %4095[^\r\n]", want, &size, &vol, path) != 4) {
		problem(r, "manifest line not understood: %.80s", line);
		r->files_bad++;
		return 0;
	}
	if (!volume_path_ok(path)) {
		tsm_error("%s: SMS/data/Manifest.txt line %zu names '%s', a path that leaves the"
			  " volume (absolute, '..', '.', an empty name or a backslash): refused",
			  vols[0].path, lineno, path);
		return -EINVAL;
	}
	if (strcmp(want, "-") == 0) {
		r->files_unchecked++; /* patched by the image writer (boot info table) */
		return 0;
	}
	if (vol < 1 || vol > nvols) {
		problem(r, "%s is on volume %u, which is not here", path, vol);
		r->files_missing++;
		return 0;
	}
	rc = vfile_open(&vols[vol - 1], path, &f);
	if (rc == -ENOENT) {
		problem(r, "%s: missing from volume %u", path, vol);
		r->files_missing++;
		return 0;
	}
	if (rc == -EXDEV) {
		problem(r, "%s: a link out of volume %u, not a file of it", path, vol);
		r->files_bad++;
		return 0;
	}
	/* A size that differs needs no hash (nor the reading of what it claims). */
	if (rc < 0 || f.size != size) {
		vfile_close(&f);
		problem(r, "%s: does not match the manifest (volume %u)", path, vol);
		r->files_bad++;
		return 0;
	}
	if ((rc = tsm_file_hasher_new(&h)) < 0) {
		vfile_close(&f);
		return rc;
	}
	rc = vfile_read(&f, hash_add, h, &got_size);
	vfile_close(&f);
	tsm_file_hasher_final(h, sha256, sha1);
	tsm_file_hasher_free(h);
	tsm_hex_encode(sha256, 32, got_hex);
	if (rc < 0 || got_size != size || strcmp(got_hex, want) != 0) {
		problem(r, "%s: does not match the manifest (volume %u)", path, vol);
		r->files_bad++;
	} else {
		r->files_ok++;
		r->bytes_ok += got_size;
	}
	return rc == -ENOMEM ? rc : 0;
}

int tsm_media_inspect(const char *const *paths, size_t n, const char *password,
		      bool show_secrets, struct tsm_inspect_result *r)
{
	static const char *const bootstrap_names[] = { "TsmBootstrap.ini", "TSMBootstrap.ini",
						       "tsmbootstrap.ini", NULL };
	static const char *const vars_names[] = { "Variables.dat", "variables.dat", NULL };
	static const char *const policy_names[] = { "Policy.xml", "policy.xml", NULL };
	struct volume *vols = calloc(n, sizeof(*vols));
	uint8_t *boot = NULL, *vars = NULL, *policy = NULL, *manifest = NULL;
	size_t len, boot_len = 0, vars_len = 0, policy_len = 0, opened = 0, lineno = 0;
	char *save = NULL;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	if (!vols)
		return -ENOMEM;
	for (; opened < n && rc == 0; opened++)
		rc = volume_open(&vols[opened], paths[opened]);
	if (rc < 0)
		goto out;
	r->volumes = (unsigned)n;
	rc = read_sms_data(&vols[0], bootstrap_names, &boot, &boot_len);
	if (rc == -ENOENT)
		tsm_error("%s: no SMS/data/TsmBootstrap.ini: not task sequence media (or not its"
			  " first volume)", paths[0]);
	if (rc < 0)
		goto out;
	rc = read_sms_data(&vols[0], vars_names, &vars, &vars_len);
	if (rc == -ENOENT)
		tsm_error("%s: no SMS/data/Variables.dat", paths[0]);
	if (rc < 0)
		goto out;
	rc = read_sms_data(&vols[0], policy_names, &policy, &policy_len);
	if (rc < 0 && rc != -ENOENT) /* bootable and prestaged media carry no policy */
		goto out;
	if ((rc = tsm_inspect_sms_data((const char *)boot, boot_len, vars, vars_len, policy,
				       policy_len, password, show_secrets, paths[0], r)) < 0)
		goto out;
	/* Media tsmedia made list every file with its SHA-256; Configuration Manager's do not. */
	rc = read_small(&vols[0], "SMS/data/Manifest.txt", MANIFEST_MAX, &manifest, &len);
	if (rc == -ENOENT) {
		rc = 0;
		goto out;
	}
	if (rc < 0)
		goto out;
	r->has_manifest = true;
	/* Lines by hand (not strtok): their numbers are in the messages. */
	for (char *line = (char *)manifest; rc == 0 && line; line = save) {
		char *nl = strchr(line, '\n');

		save = nl ? nl + 1 : NULL;
		if (nl)
			*nl = '\0';
		lineno++;
		if (line[0] == '#' || line[0] == '\r' || !line[0])
			continue;
		r->files_listed++;
		rc = check_line(vols, n, line, lineno, r);
	}
out:
	for (size_t i = 0; i < opened; i++)
		volume_close(&vols[i]);
	free(vols);
	free(boot);
	free(vars);
	free(policy);
	free(manifest);
	if (rc < 0)
		tsm_inspect_result_clear(r);
	return rc;
}

void tsm_inspect_result_clear(struct tsm_inspect_result *r)
{
	for (size_t i = 0; i < r->nvars; i++) {
		free(r->vars[i].name);
		if (r->vars[i].value)
			OPENSSL_cleanse(r->vars[i].value, strlen(r->vars[i].value));
		free(r->vars[i].value);
	}
	free(r->vars);
	free(r->ts_id);
	free(r->ts_name);
	free(r->adv_id);
	free(r->boot_image_id);
	free(r->sequence);
	for (size_t i = 0; i < r->npackages; i++)
		free(r->packages[i]);
	free(r->packages);
	for (size_t i = 0; i < r->nproblems; i++) {
		free(r->problems[i]);
		free(r->problems_text[i]);
	}
	free(r->problems);
	free(r->problems_text);
	memset(r, 0, sizeof(*r));
}
