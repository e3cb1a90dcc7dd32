/* Whole reads and writes on descriptors; see fdio.h. */
#include "util/fdio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsmedia/log.h"

/* @len bytes at @off: pread(2) into @rbuf, or pwrite(2) from @wbuf. */
static int positioned_full(int fd, uint8_t *rbuf, const uint8_t *wbuf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = rbuf ? pread(fd, rbuf + done, len - done, (off_t)(off + done))
				 : pwrite(fd, wbuf + done, len - done, (off_t)(off + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += (size_t)n;
	}
	return 0;
}

int tsm_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
	return positioned_full(fd, buf, NULL, len, off);
}

int tsm_pwrite_full(int fd, const void *buf, size_t len, uint64_t off)
{
	return positioned_full(fd, NULL, buf, len, off);
}

int tsm_fd_read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int tsm_fd_write_full(int fd, const void *buf, size_t len, bool no_sigpipe)
{
	const uint8_t *p = buf;

	while (len) {
		ssize_t n = no_sigpipe ? send(fd, p, len, MSG_NOSIGNAL) : write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int tsm_file_read_whole(const char *path, size_t max, char **buf_ret, size_t *len_ret)
{
	struct stat st;
	size_t got = 0;
	char *buf;
	int fd, rc;

	/* O_NONBLOCK: a FIFO must not hang the caller. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		rc = -errno;
		tsm_error("%s: %s", path, strerror(errno));
		return rc;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		tsm_error("%s: not a regular file", path);
		close(fd);
		return -EINVAL;
	}
	if ((uint64_t)st.st_size > max) {
		*len_ret = (size_t)st.st_size;
		close(fd);
		return -EFBIG;
	}
	if (!(buf = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return -ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			tsm_error("%s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return rc;
		}
		if (n == 0)
			break; /* shrank meanwhile: what is there */
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	*buf_ret = buf;
	*len_ret = got;
	return 0;
}
