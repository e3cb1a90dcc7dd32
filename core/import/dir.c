/* Scanning an import source.  Nothing here writes; the store is touched
 * only once the whole source is known to be importable. */
#include "import/source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "import/session.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

static int tree_push(struct tsm_source_tree *t, struct tsm_source_entry *e)
{
	if (t->n == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 64;
		void *p = realloc(t->entries, cap * sizeof(*t->entries));

		if (!p)
			return -ENOMEM;
		t->entries = p;
		t->cap = cap;
	}
	t->entries[t->n++] = *e;
	return 0;
}

static const char *special_kind(mode_t mode)
{
	if (S_ISFIFO(mode))
		return _("a FIFO");
	if (S_ISSOCK(mode))
		return _("a socket");
	if (S_ISCHR(mode))
		return _("a character device");
	if (S_ISBLK(mode))
		return _("a block device");
	return _("not a regular file");
}

/* Lexically resolves @target against the directory of @rel_path; false
 * when it climbs above the root or is absolute. */
static bool link_stays_inside_lexically(const char *rel_path, const char *target)
{
	int depth = 0;
	const char *p;

	if (target[0] == '/')
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

/* And on the real filesystem, through any other links on the way. */
static bool link_stays_inside(const char *root, const char *path, const char *rel_path,
			      const char *target)
{
	char *real;
	bool inside;
	size_t n = strlen(root);

	if (!link_stays_inside_lexically(rel_path, target))
		return false;
	real = realpath(path, NULL);
	if (!real)
		return true; /* dangling: the lexical check is all there is */
	inside = strncmp(real, root, n) == 0 && (real[n] == '/' || real[n] == '\0');
	free(real);
	return inside;
}

static int scan_entry(struct tsm_source_tree *t, const char *path, const char *rel_path,
		      const char *name);

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int scan_dir(struct tsm_source_tree *t, const char *path, const char *rel_path)
{
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dir = opendir(path);
	int rc = 0;

	if (!dir) {
		rc = -errno;
		tsm_error("cannot read directory %s: %s", path, strerror(-rc));
		return rc;
	}
	errno = 0;
	while ((de = readdir(dir))) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (n == cap) {
			void *p = realloc(names, (cap = cap ? 2 * cap : 32) * sizeof(*names));

			if (!p) {
				rc = -ENOMEM;
				break;
			}
			names = p;
		}
		if (!(names[n] = strdup(de->d_name))) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	if (rc == 0 && errno) {
		rc = -errno;
		tsm_error("cannot read directory %s: %s", path, strerror(-rc));
	}
	closedir(dir);
	/* An empty directory has no array: qsort wants one even for 0 items (C11 7.22.5). */
	if (rc == 0 && n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && rc == 0; i++) {
		char *child_path = NULL, *child_rel = NULL;

		if (asprintf(&child_path, "%s/%s", path, names[i]) < 0 ||
		    asprintf(&child_rel, "%s%s%s", rel_path, *rel_path ? "/" : "", names[i]) < 0) {
			free(child_path);
			rc = -ENOMEM;
			break;
		}
		rc = scan_entry(t, child_path, child_rel, names[i]);
		free(child_path);
		free(child_rel);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

static int scan_entry(struct tsm_source_tree *t, const char *path, const char *rel_path,
		      const char *name)
{
	struct tsm_source_entry e = { 0 };
	int rc;

	if (!tsm_utf8_valid(name)) {
		tsm_error("%s: the name is not valid UTF-8", path);
		return -EILSEQ;
	}
	if (lstat(path, &e.st) < 0) {
		rc = -errno;
		tsm_error("cannot read %s: %s", path, strerror(-rc));
		return rc;
	}
	if (S_ISLNK(e.st.st_mode)) {
		char target[PATH_MAX];
		ssize_t len = readlink(path, target, sizeof(target) - 1);

		if (len < 0) {
			rc = -errno;
			tsm_error("cannot read symlink %s: %s", path, strerror(-rc));
			return rc;
		}
		target[len] = '\0';
		if (!link_stays_inside(t->root, path, rel_path, target)) {
			tsm_error("%s: symlink to '%s' points outside the source %s", path, target,
				  t->root);
			return -EXDEV;
		}
		if (!(e.link_target = strdup(target)))
			return -ENOMEM;
	} else if (S_ISREG(e.st.st_mode)) {
		int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

		if (fd < 0) {
			rc = -errno;
			tsm_error("cannot read %s: %s", path, strerror(-rc));
			return rc;
		}
		close(fd);
		t->file_bytes += (uint64_t)e.st.st_size;
		t->files++;
	} else if (S_ISDIR(e.st.st_mode)) {
		t->dirs++;
	} else {
		tsm_error("%s is %s: only files, directories and symlinks can be imported", path,
			  special_kind(e.st.st_mode));
		return -EINVAL;
	}
	e.path = strdup(path);
	e.rel_path = strdup(rel_path);
	if (!e.path || !e.rel_path || (rc = tree_push(t, &e)) < 0) {
		free(e.path);
		free(e.rel_path);
		free(e.link_target);
		return -ENOMEM;
	}
	if (S_ISDIR(e.st.st_mode))
		return scan_dir(t, path, rel_path);
	return 0;
}

int tsm_source_scan(const char *source, struct tsm_source_tree *t)
{
	struct stat st;
	int rc;

	memset(t, 0, sizeof(*t));
	if (stat(source, &st) < 0) {
		rc = -errno;
		tsm_error("cannot read source %s: %s", source, strerror(-rc));
		return rc;
	}
	if (!(t->root = realpath(source, NULL))) {
		rc = -errno;
		tsm_error("cannot resolve source %s: %s", source, strerror(-rc));
		return rc;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = scan_dir(t, t->root, "");
	} else if (S_ISREG(st.st_mode)) {
		const char *base = strrchr(t->root, '/');

		rc = scan_entry(t, t->root, base ? base + 1 : t->root, base ? base + 1 : t->root);
	} else {
		tsm_error("source %s is %s: give a directory or a file", source,
			  special_kind(st.st_mode));
		rc = -EINVAL;
	}
	if (rc < 0)
		tsm_source_tree_free(t);
	return rc;
}

void tsm_source_tree_free(struct tsm_source_tree *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->entries[i].rel_path);
		free(t->entries[i].path);
		free(t->entries[i].link_target);
	}
	free(t->entries);
	free(t->root);
	memset(t, 0, sizeof(*t));
}

/* ---- importing a scanned directory ---------------------------------- */

static int import_source_entry(struct tsm_import *imp, const struct tsm_source_entry *e)
{
	int64_t mtime = tsm_timespec_ns(&e->st.st_mtim);
	int fd, rc;

	if (S_ISDIR(e->st.st_mode))
		return tsm_import_add_dir(imp, e->rel_path, e->st.st_mode, mtime,
					  tsm_windows_attributes(&e->st));
	if (S_ISLNK(e->st.st_mode))
		return tsm_import_add_symlink(imp, e->rel_path, e->link_target, mtime);
	fd = open(e->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = -errno;
		tsm_error("cannot read %s: %s", e->path, strerror(-rc));
		return rc;
	}
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	rc = tsm_import_add_file_fd(imp, e->rel_path, e->st.st_mode, mtime,
				    tsm_windows_attributes(&e->st), fd, e->path);
	close(fd);
	return rc;
}

int tsm_import_directory(struct tsm_store *store, const struct tsm_content_add_options *o,
			 struct tsm_content_add_result *res)
{
	struct tsm_source_tree tree;
	struct tsm_import *imp;
	int rc;

	/* The whole source is checked before the store is touched. */
	if ((rc = tsm_source_scan(o->source, &tree)) < 0)
		return rc;
	rc = tsm_import_begin(store, o, tree.root, tree.file_bytes, &imp);
	for (size_t i = 0; rc == 0 && i < tree.n; i++) {
		rc = import_source_entry(imp, &tree.entries[i]);
		if (rc < 0)
			tsm_import_abort(imp);
	}
	if (rc == 0)
		rc = tsm_import_finish(imp, res);
	tsm_source_tree_free(&tree);
	return rc;
}
