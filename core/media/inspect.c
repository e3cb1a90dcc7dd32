/* Reading media the way a booting client does: TSMBootstrap.ini, the
 * variables and policy (decrypted with the password when protected), and
 * every file checked against the manifest, on whichever volume it is.
 * ISO volumes are read with libiso9660; a directory (a USB stick, a copy)
 * is read as files. */
#include "tsmedia/inspect.h"

#include <cdio/iso9660.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "media/media_internal.h"
#include "tsmedia/hash.h"
#include "tsmedia/log.h"

struct volume {
	const char *path;
	iso9660_t *iso; /* NULL: a directory */
};

static int volume_open(struct volume *v, const char *path)
{
	struct stat st;

	v->path = path;
	v->iso = NULL;
	if (stat(path, &st) < 0) {
		tsm_error("cannot read %s: %s", path, strerror(errno));
		return -errno;
	}
	if (S_ISDIR(st.st_mode))
		return 0;
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

/* Streams a file of the volume to @fn; -ENOENT when it is not there. */
static int volume_read(struct volume *v, const char *path,
		       int (*fn)(void *arg, const uint8_t *data, size_t len), void *arg,
		       uint64_t *size_ret)
{
	uint8_t *buf = malloc(1u << 20);
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	if (!v->iso) {
		char *full;
		int fd;
		ssize_t n;

		if (asprintf(&full, "%s/%s", v->path, path) < 0) {
			free(buf);
			return -ENOMEM;
		}
		fd = open(full, O_RDONLY | O_CLOEXEC);
		free(full);
		if (fd < 0) {
			free(buf);
			return -ENOENT;
		}
		*size_ret = 0;
		while (rc == 0 && (n = read(fd, buf, 1u << 20)) > 0) {
			rc = fn(arg, buf, (size_t)n);
			*size_ret += (uint64_t)n;
		}
		close(fd);
		free(buf);
		return rc;
	}
	iso9660_stat_t *st = iso_stat_file(v->iso, path);

	if (!st || st->type != _STAT_FILE) {
		iso9660_stat_free(st);
		free(buf);
		return -ENOENT;
	}
	*size_ret = st->size;
	for (uint64_t off = 0; rc == 0 && off < st->size;) {
		size_t want = st->size - off < (1u << 20) ? (size_t)(st->size - off) : (1u << 20);
		size_t blocks = (want + ISO_BLOCKSIZE - 1) / ISO_BLOCKSIZE;

		if (iso9660_iso_seek_read(v->iso, buf, st->lsn + (lsn_t)(off / ISO_BLOCKSIZE),
					  (long)blocks) != (long)(blocks * ISO_BLOCKSIZE)) {
			tsm_error("%s: cannot read %s", v->path, path);
			rc = -EIO;
			break;
		}
		rc = fn(arg, buf, want);
		off += want;
	}
	iso9660_stat_free(st);
	free(buf);
	return rc;
}

struct grow {
	uint8_t *p;
	size_t len;
};

static int grow_add(void *arg, const uint8_t *data, size_t len)
{
	struct grow *g = arg;
	uint8_t *p = realloc(g->p, g->len + len + 1);

	if (!p)
		return -ENOMEM;
	memcpy(p + g->len, data, len);
	g->p = p;
	g->len += len;
	g->p[g->len] = 0;
	return 0;
}

static int read_small(struct volume *v, const char *path, uint8_t **data_ret, size_t *len_ret)
{
	struct grow g = { 0 };
	uint64_t size;
	int rc = volume_read(v, path, grow_add, &g, &size);

	if (rc < 0) {
		free(g.p);
		return rc;
	}
	if (!g.p && !(g.p = calloc(1, 1)))
		return -ENOMEM;
	*data_ret = g.p;
	*len_ret = g.len;
	return 0;
}

static int hash_add(void *arg, const uint8_t *data, size_t len)
{
	return tsm_file_hasher_update_sha256(arg, data, len);
}

static void problem(struct tsm_inspect_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void problem(struct tsm_inspect_result *r, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	void *p;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg && (p = realloc(r->problems, (r->nproblems + 1) * sizeof(*r->problems)))) {
		r->problems = p;
		r->problems[r->nproblems++] = msg;
	} else {
		free(msg);
	}
}

/* A protected file: decrypted with the password, or the reason why not. */
static int read_protected(struct volume *v, const char *path, const char *password,
			  struct tsm_inspect_result *r, char **text_ret)
{
	uint8_t *data, *plain;
	size_t len, plain_len;
	int rc = read_small(v, path, &data, &len);

	if (rc < 0)
		return rc;
	if (!tsm_media_is_encrypted(data, len)) {
		*text_ret = (char *)data;
		return 0;
	}
	r->encrypted = true;
	if (!password) {
		free(data);
		tsm_error("%s: %s is protected by the media password: give --password-file", v->path,
			  path);
		return -EACCES;
	}
	rc = tsm_media_decrypt(password, data, len, &plain, &plain_len);
	free(data);
	if (rc == -EACCES) {
		tsm_error("%s: wrong media password (%s does not decrypt)", v->path, path);
		return rc;
	}
	if (rc < 0) {
		tsm_error("%s: %s is damaged", v->path, path);
		return rc;
	}
	*text_ret = (char *)plain;
	return 0;
}

/* Checks one manifest line "SHA256 SIZE VOLUME PATH" against the volumes. */
static void check_line(struct volume *vols, size_t nvols, const char *line,
		       struct tsm_inspect_result *r)
{
	char want[65], path[4096], got_hex[65];
	unsigned long long size;
	unsigned vol;
	uint8_t sha256[32], sha1[20];
	struct tsm_file_hasher *h;
	uint64_t got_size = 0;
	int rc;

	if (sscanf(line, "%64s %llu %u %4095[^\r\n]", want, &size, &vol, path) != 4) {
		problem(r, "manifest line not understood: %.80s", line);
		r->files_bad++;
		return;
	}
	if (strcmp(want, "-") == 0) {
		r->files_unchecked++; /* patched by the image writer (boot info table) */
		return;
	}
	if (vol < 1 || vol > nvols) {
		problem(r, "%s is on volume %u, which is not here", path, vol);
		r->files_missing++;
		return;
	}
	if (tsm_file_hasher_new(&h) < 0)
		return;
	rc = volume_read(&vols[vol - 1], path, hash_add, h, &got_size);
	tsm_file_hasher_final(h, sha256, sha1);
	tsm_file_hasher_free(h);
	tsm_hex_encode(sha256, 32, got_hex);
	if (rc == -ENOENT) {
		problem(r, "%s: missing from volume %u", path, vol);
		r->files_missing++;
	} else if (rc < 0 || got_size != size || strcmp(got_hex, want) != 0) {
		problem(r, "%s: does not match the manifest (volume %u)", path, vol);
		r->files_bad++;
	} else {
		r->files_ok++;
		r->bytes_ok += got_size;
	}
}

int tsm_media_inspect(const char *const *paths, size_t n, const char *password,
		      struct tsm_inspect_result *r)
{
	struct volume *vols = calloc(n, sizeof(*vols));
	uint8_t *boot = NULL, *manifest = NULL;
	size_t len, opened = 0;
	int rc = 0;

	memset(r, 0, sizeof(*r));
	if (!vols)
		return -ENOMEM;
	for (; opened < n && rc == 0; opened++)
		rc = volume_open(&vols[opened], paths[opened]);
	if (rc < 0)
		goto out;
	r->volumes = (unsigned)n;
	if ((rc = read_small(&vols[0], "SMS/data/TSMBootstrap.ini", &boot, &len)) < 0) {
		tsm_error("%s: no SMS/data/TSMBootstrap.ini: not task sequence media (or not its"
			  " first volume)", paths[0]);
		goto out;
	}
	r->bootstrap = (char *)boot;
	boot = NULL;
	if ((rc = read_protected(&vols[0], "SMS/data/Variables.dat", password, r,
				 &r->variables)) < 0)
		goto out;
	rc = read_protected(&vols[0], "SMS/data/Policy.xml", password, r, &r->policy);
	if (rc == -ENOENT)
		rc = 0; /* bootable and prestaged media carry no policy */
	if (rc < 0)
		goto out;
	if ((rc = read_small(&vols[0], "SMS/data/Manifest.txt", &manifest, &len)) < 0) {
		tsm_error("%s: no SMS/data/Manifest.txt", paths[0]);
		goto out;
	}
	char *save = NULL;

	for (char *line = strtok_r((char *)manifest, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' || line[0] == '\r' || !line[0])
			continue;
		r->files_listed++;
		check_line(vols, n, line, r);
	}
out:
	for (size_t i = 0; i < opened; i++)
		volume_close(&vols[i]);
	free(vols);
	free(boot);
	free(manifest);
	if (rc < 0)
		tsm_inspect_result_clear(r);
	return rc;
}

void tsm_inspect_result_clear(struct tsm_inspect_result *r)
{
	free(r->bootstrap);
	free(r->variables);
	free(r->policy);
	for (size_t i = 0; i < r->nproblems; i++)
		free(r->problems[i]);
	free(r->problems);
	memset(r, 0, sizeof(*r));
}
