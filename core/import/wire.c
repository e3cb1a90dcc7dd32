/* The result stream of a reader in a child process; see wire.h. */
#include "import/wire.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "import/source.h"

#define WIRE_NONE UINT64_MAX

int tsm_wire_out_open(struct tsm_wire_out *w, int fd, const char magic[8])
{
	int dfd = dup(fd), rc;

	if (dfd < 0 || !(w->f = fdopen(dfd, "w"))) {
		rc = -errno;
		if (dfd >= 0)
			close(dfd);
		return rc;
	}
	tsm_wire_put_raw(w, magic, 8);
	return 0;
}

void tsm_wire_put_raw(struct tsm_wire_out *w, const void *p, size_t len)
{
	if (len)
		fwrite(p, 1, len, w->f);
}

void tsm_wire_put_u64(struct tsm_wire_out *w, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	tsm_wire_put_raw(w, b, sizeof(b));
}

void tsm_wire_put_bytes(struct tsm_wire_out *w, const void *p, size_t len)
{
	tsm_wire_put_u64(w, p ? (uint64_t)len : WIRE_NONE);
	if (p)
		tsm_wire_put_raw(w, p, len);
}

void tsm_wire_put_str(struct tsm_wire_out *w, const char *s)
{
	tsm_wire_put_bytes(w, s, s ? strlen(s) : 0);
}

int tsm_wire_out_close(struct tsm_wire_out *w, const char magic[8])
{
	int rc;

	tsm_wire_put_raw(w, magic, 8);
	rc = ferror(w->f) ? -EIO : 0;
	if (fclose(w->f) != 0 && rc == 0)
		rc = -errno;
	w->f = NULL;
	return rc;
}

struct tsm_wire_in {
	int fd;
	uint64_t total, max_total;
	int rc;
	size_t pos, len;
	uint8_t buf[65536];
};

void tsm_wire_fail(struct tsm_wire_in *w, int rc)
{
	if (!w->rc)
		w->rc = rc;
}

int tsm_wire_rc(const struct tsm_wire_in *w)
{
	return w->rc;
}

void tsm_wire_get_raw(struct tsm_wire_in *w, void *out, size_t n)
{
	uint8_t *o = out;

	if (!w->rc && n > w->max_total - w->total)
		w->rc = -EPROTO;
	if (w->rc) {
		memset(out, 0, n);
		return;
	}
	w->total += n;
	while (n) {
		size_t k;

		if (w->pos == w->len) {
			ssize_t got = read(w->fd, w->buf, sizeof(w->buf));

			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				w->rc = got < 0 ? -errno : -EPIPE;
				memset(o, 0, n);
				return;
			}
			w->pos = 0;
			w->len = (size_t)got;
		}
		k = w->len - w->pos < n ? w->len - w->pos : n;
		memcpy(o, w->buf + w->pos, k);
		w->pos += k;
		o += k;
		n -= k;
	}
}

uint64_t tsm_wire_get_u64(struct tsm_wire_in *w)
{
	uint8_t b[8];
	uint64_t v = 0;

	tsm_wire_get_raw(w, b, sizeof(b));
	for (int i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

uint64_t tsm_wire_get_count(struct tsm_wire_in *w, uint64_t max)
{
	uint64_t v = tsm_wire_get_u64(w);

	if (v > max)
		tsm_wire_fail(w, -EPROTO);
	return w->rc ? 0 : v;
}

uint8_t *tsm_wire_get_bytes(struct tsm_wire_in *w, size_t max, size_t *len_ret)
{
	uint64_t len = tsm_wire_get_u64(w);
	uint8_t *p;

	*len_ret = 0;
	if (w->rc || len == WIRE_NONE)
		return NULL;
	if (len > max) {
		w->rc = -EPROTO;
		return NULL;
	}
	if (!(p = malloc((size_t)len + 1))) {
		w->rc = -ENOMEM;
		return NULL;
	}
	tsm_wire_get_raw(w, p, (size_t)len);
	p[len] = 0;
	*len_ret = (size_t)len;
	return p;
}

char *tsm_wire_get_str(struct tsm_wire_in *w, size_t max)
{
	size_t len;
	char *s = (char *)tsm_wire_get_bytes(w, max, &len);

	if (s && !w->rc && (strlen(s) != len || !tsm_utf8_valid(s)))
		w->rc = -EPROTO;
	return s;
}

int tsm_wire_in_open(int fd, uint64_t max_total, const char magic[8],
		     struct tsm_wire_in **w_ret)
{
	struct tsm_wire_in *w = calloc(1, sizeof(*w));
	uint8_t got[8];

	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->max_total = max_total;
	tsm_wire_get_raw(w, got, sizeof(got));
	if (!w->rc && memcmp(got, magic, 8) != 0)
		w->rc = -EPROTO;
	*w_ret = w;
	return 0;
}

int tsm_wire_in_end(struct tsm_wire_in *w, const char magic[8])
{
	uint8_t got[8];
	int rc;

	tsm_wire_get_raw(w, got, sizeof(got));
	if (!w->rc && (memcmp(got, magic, 8) != 0 || w->pos != w->len))
		w->rc = -EPROTO;
	rc = w->rc;
	free(w);
	return rc;
}

bool tsm_wire_path_ok(const char *path)
{
	const char *p = path;

	if (!*path || !tsm_utf8_valid(path))
		return false;
	for (;;) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len == 0 || (len == 1 && p[0] == '.') || (len == 2 && p[0] == '.' && p[1] == '.'))
			return false;
		if (!end)
			return true;
		p = end + 1;
	}
}
