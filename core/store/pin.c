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
#include <unistd.h>

#include "tsmedia/log.h"

struct tsm_pin {
	int dir_fd;
	int fd;
	char name[64];
};

int tsm_pin_content_version(struct tsm_store *store, int64_t version_id,
			    struct tsm_pin **pin_ret)
{
	static unsigned counter;
	struct tsm_pin *pin = calloc(1, sizeof(*pin));
	char tmp[64], line[64];
	int n, rc;

	if (!pin)
		return -ENOMEM;
	pin->dir_fd = openat(store->dir_fd, "pins", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pin->dir_fd < 0) {
		rc = -errno;
		tsm_error("%s/pins: %s", store->dir, strerror(-rc));
		free(pin);
		return rc;
	}
	n = (int)__atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
	snprintf(tmp, sizeof(tmp), "%d-%d.tmp", (int)getpid(), n);
	snprintf(pin->name, sizeof(pin->name), "%d-%d.pin", (int)getpid(), n);
	/* Locked before it has its final name, so gc never sees it unlocked. */
	pin->fd = openat(pin->dir_fd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (pin->fd < 0 || flock(pin->fd, LOCK_EX) < 0) {
		rc = -errno;
		tsm_error("%s/pins/%s: %s", store->dir, tmp, strerror(-rc));
		goto out_free;
	}
	n = snprintf(line, sizeof(line), "content-version %lld\n", (long long)version_id);
	if (write(pin->fd, line, (size_t)n) != n || renameat(pin->dir_fd, tmp, pin->dir_fd,
							      pin->name) < 0) {
		rc = -errno;
		tsm_error("%s/pins/%s: %s", store->dir, pin->name, strerror(-rc));
		unlinkat(pin->dir_fd, tmp, 0);
		goto out_free;
	}
	*pin_ret = pin;
	return 0;

out_free:
	if (pin->fd >= 0)
		close(pin->fd);
	close(pin->dir_fd);
	free(pin);
	return rc;
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

static int ids_push(int64_t **ids, size_t *n, size_t *cap, int64_t id)
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

/* Reads one live pin; removes it when its owner is gone. */
static int pin_collect_one(int dir_fd, const char *name, int64_t **ids, size_t *n, size_t *cap)
{
	char buf[4096];
	ssize_t len;
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return 0; /* released meanwhile */
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		unlinkat(dir_fd, name, 0); /* its owner died */
		close(fd);
		return 0;
	}
	len = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (len <= 0)
		return 0;
	buf[len] = '\0';
	for (char *line = strtok(buf, "\n"); line && rc == 0; line = strtok(NULL, "\n")) {
		long long id;

		if (sscanf(line, "content-version %lld", &id) == 1)
			rc = ids_push(ids, n, cap, id);
	}
	return rc;
}

int tsm_pins_collect(struct tsm_store *store, int64_t **version_ids_ret, size_t *n_ret)
{
	int64_t *ids = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *dir;
	int dir_fd, rc = 0;

	dir_fd = openat(store->dir_fd, "pins", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0 || !(dir = fdopendir(dir_fd))) {
		rc = -errno;
		tsm_error("%s/pins: %s", store->dir, strerror(-rc));
		if (dir_fd >= 0)
			close(dir_fd);
		return rc;
	}
	while ((de = readdir(dir)) && rc == 0) {
		size_t len = strlen(de->d_name);

		if (len > 4 && strcmp(de->d_name + len - 4, ".pin") == 0)
			rc = pin_collect_one(dir_fd, de->d_name, &ids, &n, &cap);
		else if (len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0) {
			int fd = openat(dir_fd, de->d_name, O_RDONLY | O_CLOEXEC);

			if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0)
				unlinkat(dir_fd, de->d_name, 0);
			if (fd >= 0)
				close(fd);
		}
	}
	closedir(dir);
	if (rc < 0) {
		free(ids);
		return rc;
	}
	*version_ids_ret = ids;
	*n_ret = n;
	return 0;
}
