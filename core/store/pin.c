/* Reader pins: a file per pin in pins/, flock'ed by its owner for as long
 * as the pin lives.  gc reads the live ones and treats what they name as
 * referenced; a pin file nobody holds locked belongs to a dead process and
 * is removed. */
#include "store/store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsmedia/log.h"
#include "util/fdio.h"

struct tsm_pin {
	int dir_fd;
	int fd;
	char name[64];
};

static const char *const pin_kind_names[] = {
	[TSM_PIN_CONTENT_VERSION] = "content-version",
	[TSM_PIN_MEDIA_VERSION] = "media-version",
};

static int pin_format(const struct tsm_pin_ref *refs, size_t n, char **text_ret, size_t *len_ret)
{
	size_t cap = 64 * (n + 1), len = 0;
	char *text = malloc(cap);

	if (!text)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s %lld\n", pin_kind_names[refs[i].kind],
					(long long)refs[i].id);
	*text_ret = text;
	*len_ret = len;
	return 0;
}

int tsm_pin_create(struct tsm_store *store, const struct tsm_pin_ref *refs, size_t n,
		   struct tsm_pin **pin_ret)
{
	static unsigned counter;
	struct tsm_pin *pin = calloc(1, sizeof(*pin));
	char tmp[64], *text = NULL;
	size_t len = 0;
	int rc;

	if (!pin)
		return -ENOMEM;
	pin->fd = -1;
	pin->dir_fd = openat(store->dir_fd, "pins", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pin->dir_fd < 0) {
		rc = -errno;
		tsm_error("%s/pins: %s", store->dir, strerror(-rc));
		free(pin);
		return rc;
	}
	if ((rc = pin_format(refs, n, &text, &len)) < 0)
		goto out_free;
	unsigned k = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	snprintf(tmp, sizeof(tmp), "%d-%u.tmp", (int)getpid(), k);
	snprintf(pin->name, sizeof(pin->name), "%d-%u.pin", (int)getpid(), k);
	/* Locked before it has its final name, so gc never sees it unlocked. */
	pin->fd = openat(pin->dir_fd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (pin->fd < 0 || flock(pin->fd, LOCK_EX) < 0) {
		rc = -errno;
		tsm_error("%s/pins/%s: %s", store->dir, tmp, strerror(-rc));
		goto out_free;
	}
	if ((rc = tsm_fd_write_full(pin->fd, text, len, false)) < 0 ||
	    (rc = renameat(pin->dir_fd, tmp, pin->dir_fd, pin->name) < 0 ? -errno : 0) < 0) {
		tsm_error("%s/pins/%s: %s", store->dir, pin->name, strerror(-rc));
		unlinkat(pin->dir_fd, tmp, 0);
		goto out_free;
	}
	free(text);
	*pin_ret = pin;
	return 0;

out_free:
	free(text);
	if (pin->fd >= 0)
		close(pin->fd);
	close(pin->dir_fd);
	free(pin);
	return rc;
}

int tsm_pin_content_version(struct tsm_store *store, int64_t version_id,
			    struct tsm_pin **pin_ret)
{
	struct tsm_pin_ref ref = { TSM_PIN_CONTENT_VERSION, version_id };

	return tsm_pin_create(store, &ref, 1, pin_ret);
}

void tsm_pin_release(struct tsm_pin *pin)
{
	if (!pin)
		return;
	unlinkat(pin->dir_fd, pin->name, 0);
	close(pin->fd);
	close(pin->dir_fd);
	free(pin);
}

int tsm_pinned_push(int64_t **ids, size_t *n, size_t *cap, int64_t id)
{
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 16;
		void *p = realloc(*ids, c * sizeof(**ids));

		if (!p)
			return -ENOMEM;
		*ids = p;
		*cap = c;
	}
	(*ids)[(*n)++] = id;
	return 0;
}

/* A pin names each version on a line of about 30 bytes; a snapshot of the
 * largest media (thousands of items) stays far below this. */
#define PIN_FILE_MAX (16u << 20)

/* Reads one live pin whole; removes it when its owner is gone.  A live pin
 * that cannot be read or understood whole is an error: gc must stop rather
 * than remove a version it may name. */
static int pin_collect_one(int dir_fd, const char *name, struct tsm_pinned *p)
{
	struct stat st;
	char *buf = NULL;
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno; /* ENOENT: released meanwhile */
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		unlinkat(dir_fd, name, 0); /* its owner died */
		close(fd);
		return 0;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out_close;
	}
	if (st.st_size > PIN_FILE_MAX) {
		rc = -EFBIG;
		goto out_close;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		rc = -ENOMEM;
		goto out_close;
	}
	if ((rc = tsm_pread_full(fd, buf, (size_t)st.st_size, 0)) < 0)
		goto out_free;
	buf[st.st_size] = '\0';
	char *save = NULL;
	for (char *line = strtok_r(buf, "\n", &save); line && rc == 0;
	     line = strtok_r(NULL, "\n", &save)) {
		long long id;
		char end;

		if (sscanf(line, "content-version %lld%c", &id, &end) == 1)
			rc = tsm_pinned_push(&p->content_versions, &p->ncontent,
					     &p->cap_content, id);
		else if (sscanf(line, "media-version %lld%c", &id, &end) == 1)
			rc = tsm_pinned_push(&p->media_versions, &p->nmedia, &p->cap_media,
					     id);
		else
			rc = -EBADMSG;
	}
out_free:
	free(buf);
out_close:
	close(fd);
	return rc;
}

void tsm_pinned_clear(struct tsm_pinned *p)
{
	free(p->content_versions);
	free(p->media_versions);
	memset(p, 0, sizeof(*p));
}

int tsm_pins_collect(struct tsm_store *store, struct tsm_pinned *p)
{
	return tsm_pins_collect_at(store->dir_fd, store->dir, p);
}

int tsm_pins_collect_at(int store_dir_fd, const char *store_dir, struct tsm_pinned *p)
{
	struct dirent *de;
	DIR *dir;
	int dir_fd, rc = 0;

	memset(p, 0, sizeof(*p));
	dir_fd = openat(store_dir_fd, "pins", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0 || !(dir = fdopendir(dir_fd))) {
		rc = -errno;
		tsm_error("%s/pins: %s", store_dir, strerror(-rc));
		if (dir_fd >= 0)
			close(dir_fd);
		return rc;
	}
	while ((de = readdir(dir)) && rc == 0) {
		size_t len = strlen(de->d_name);

		if (len > 4 && strcmp(de->d_name + len - 4, ".pin") == 0) {
			rc = pin_collect_one(dir_fd, de->d_name, p);
			if (rc < 0)
				tsm_error("%s/pins/%s: cannot read this reader's pin whole (%s): "
					  "nothing is collected while a pin is unknown",
					  store_dir, de->d_name, strerror(-rc));
		}
		else if (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0) {
			int fd = openat(dir_fd, de->d_name, O_RDONLY | O_CLOEXEC);

			if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
				unlinkat(dir_fd, de->d_name, 0);
			if (fd >= 0)
				close(fd);
		}
	}
	closedir(dir);
	if (rc < 0)
		tsm_pinned_clear(p);
	return rc;
}
