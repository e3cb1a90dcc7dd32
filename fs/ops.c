/* The FUSE operations: a read-only root directory of media files, and
 * versions/NAME/N/ beside them. */
#include "fs.h"
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tsmedia/image.h"
#include "tsmedia/log.h"
#include "tsmedia/media.h"
#include "tsmedia/store.h"

/* A name is looked up again at every open, so an open right after a
 * change sees it (the lookup checks the catalog, cheaply); an inode's
 * attributes never change, so they may be cached. */
#define ENTRY_TIMEOUT 0.0
#define ATTR_TIMEOUT 1.0

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static void root_attr(struct fs *fs, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = FUSE_ROOT_ID;
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = 2;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_mtime = st->st_ctime = st->st_atime = fs->dir_mtime;
}

static void node_attr(struct fs *fs, const struct fs_node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	if (n->is_dir) {
		st->st_ino = n->ino;
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
		st->st_uid = fs->uid;
		st->st_gid = fs->gid;
		/* versions/NAME/N/ never changes; the others change with the
		 * listing. */
		st->st_mtime = st->st_ctime = st->st_atime = n->snap ? n->mtime : fs->dir_mtime;
		return;
	}
	st->st_ino = n->ino;
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = (off_t)n->size;
	st->st_blocks = (blkcnt_t)((n->size + 511) / 512);
	st->st_blksize = 1 << 20;
	st->st_mtime = st->st_ctime = st->st_atime = n->mtime;
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* 1 MiB requests: fewer round trips for sequential readers. */
	conn->max_write = 1u << 20;
	conn->max_read = 1u << 20; /* as the max_read mount option says */
	conn->max_readahead = 1u << 20;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
	conn->want &= ~(unsigned)FUSE_CAP_AUTO_INVAL_DATA; /* an inode's bytes never change */
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e = { .attr_timeout = ATTR_TIMEOUT, .entry_timeout = ENTRY_TIMEOUT };
	struct fs_node *n;

	fs_refresh(fs);
	pthread_mutex_lock(&fs->lock);
	n = fs_node_by_name(fs, parent, name);
	if (n) {
		n->nlookup++;
		e.ino = n->ino;
		node_attr(fs, n, &e.attr);
	}
	pthread_mutex_unlock(&fs->lock);
	if (!n) {
		/* A negative entry, short-lived: media appear at any time. */
		e.ino = 0;
		e.entry_timeout = 0.2;
		fuse_reply_entry(req, &e);
		return;
	}
	fuse_reply_entry(req, &e);
}

static void forget_one(struct fs *fs, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs_node *n = fs_node_by_ino(fs, ino);

	if (!n)
		return;
	n->nlookup = nlookup > n->nlookup ? 0 : n->nlookup - nlookup;
	fs_node_maybe_free(fs, n);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct fs *fs = fs_of(req);

	pthread_mutex_lock(&fs->lock);
	forget_one(fs, ino, nlookup);
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs *fs = fs_of(req);

	pthread_mutex_lock(&fs->lock);
	for (size_t i = 0; i < count; i++)
		forget_one(fs, forgets[i].ino, forgets[i].nlookup);
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct stat st;
	struct fs_node *n;

	(void)fi;
	if (ino == FUSE_ROOT_ID) {
		fs_refresh(fs);
		pthread_mutex_lock(&fs->lock);
		root_attr(fs, &st);
		pthread_mutex_unlock(&fs->lock);
		fuse_reply_attr(req, &st, ATTR_TIMEOUT);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	n = fs_node_by_ino(fs, ino);
	if (n)
		node_attr(fs, n, &st);
	pthread_mutex_unlock(&fs->lock);
	if (!n)
		fuse_reply_err(req, ENOENT);
	else
		fuse_reply_attr(req, &st, ATTR_TIMEOUT);
}

struct dirbuf {
	char *p;
	size_t size;
};

static int dirbuf_add(fuse_req_t req, struct dirbuf *b, const char *name, fuse_ino_t ino,
		      mode_t mode)
{
	struct stat st = { .st_ino = ino, .st_mode = mode };
	size_t old = b->size;
	size_t need = fuse_add_direntry(req, NULL, 0, name, NULL, 0);
	char *p = realloc(b->p, old + need);

	if (!p)
		return -ENOMEM;
	b->p = p;
	b->size += need;
	fuse_add_direntry(req, b->p + old, need, name, &st, (off_t)b->size);
	return 0;
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_node *d = NULL;
	fuse_ino_t up = FUSE_ROOT_ID;
	struct dirbuf *b;

	if (!(b = calloc(1, sizeof(*b)))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fs_refresh(fs);
	/* The listing is taken once per opendir: one consistent view. */
	pthread_mutex_lock(&fs->lock);
	if (ino != FUSE_ROOT_ID) {
		d = fs_node_by_ino(fs, ino);
		up = d ? d->parent : up;
	}
	int rc = ino != FUSE_ROOT_ID && !d ? -ENOENT : d && !d->is_dir ? -ENOTDIR : 0;
	if (rc == 0)
		rc = dirbuf_add(req, b, ".", ino, S_IFDIR);
	if (rc == 0)
		rc = dirbuf_add(req, b, "..", up, S_IFDIR);
	for (struct fs_node *n = fs->nodes; n && rc == 0; n = n->next)
		if (n->current && n->parent == ino)
			rc = dirbuf_add(req, b, n->file_name, n->ino, n->is_dir ? S_IFDIR : S_IFREG);
	pthread_mutex_unlock(&fs->lock);
	if (rc < 0) {
		free(b->p);
		free(b);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)b;
	fuse_reply_open(req, fi);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct dirbuf *b = (struct dirbuf *)(uintptr_t)fi->fh;

	(void)ino;
	if ((size_t)off >= b->size)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, b->p + off, b->size - (size_t)off < size ? b->size - (size_t)off : size);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirbuf *b = (struct dirbuf *)(uintptr_t)fi->fh;

	(void)ino;
	free(b->p);
	free(b);
	fuse_reply_err(req, 0);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_thread *t = fs_thread_get(fs);
	struct fs_handle *h;
	struct fs_node *n;
	int rc;

	if (ino == FUSE_ROOT_ID) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (!t || !(h = calloc(1, sizeof(*h)))) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	n = fs_node_by_ino(fs, ino);
	if (n && n->is_dir) {
		pthread_mutex_unlock(&fs->lock);
		free(h);
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (n) {
		n->nopen++; /* keeps the node (and its snapshot) while we pin */
		n->snap->refs++;
	}
	pthread_mutex_unlock(&fs->lock);
	if (!n) {
		free(h);
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* The handle holds its snapshot in the store until release. */
	rc = tsm_media_snapshot_pin(t->store, n->snap->snap, &h->pin);
	pthread_mutex_lock(&fs->lock);
	n->snap->refs--;
	if (rc < 0) {
		n->nopen--;
		fs_node_maybe_free(fs, n);
	}
	pthread_mutex_unlock(&fs->lock);
	if (rc < 0) {
		free(h);
		fuse_reply_err(req, rc == -ESTALE ? ESTALE : EIO);
		return;
	}
	h->node = n;
	fs_metrics_opened(n->stats);
	fi->fh = (uint64_t)(uintptr_t)h;
	if (fs->direct_io) {
		/* Straight to the daemon, at the reader's request size.  Private
		 * read-only mmaps still work; each inode is one snapshot, so the
		 * snapshot holds either way. */
		fi->direct_io = 1;
	} else {
		fi->keep_cache = 1; /* an inode is one snapshot: its bytes never change */
	}
	fuse_reply_open(req, fi);
}

/* Replies with pieces: file ranges of checked raw chunks go from the pack
 * to the kernel without a copy here (splice) when the reply fits a pipe;
 * the rest comes from memory. */
#define MAX_PIECES 64

/* libfuse splices a reply only when its pipe holds, by its own estimate, a
 * page per buffer plus two and the reply's bytes (fuse_send_data_iov in
 * libfuse's lib/fuse_lowlevel.c); otherwise it copies the reply into a
 * buffer it allocates for that one reply (fuse_send_data_iov_fallback): a
 * fresh 1 MiB mapping, faulted in page by page, for every request.  A pipe
 * grows past /proc/sys/fs/pipe-max-size (1 MiB by default) only with
 * CAP_SYS_RESOURCE (pipe(7), "/proc/sys/fs/pipe-max-size"), so without it
 * a 1 MiB reply is read into the thread's own buffer and written from
 * there. */
static bool reply_fits_pipe(const struct fs *fs, size_t npieces, size_t len)
{
	const size_t page = 4096, out_header = 16; /* struct fuse_out_header, fuse_kernel.h */

	return page * (npieces + 2) + out_header + len <= fs->pipe_max;
}

void fs_probe_pipe(struct fs *fs)
{
	int p[2];
	int size = 2 << 20; /* room for a 1 MiB reply in any number of pieces */

	fs->pipe_max = 0;
	if (pipe2(p, O_CLOEXEC) < 0)
		return;
	/* The largest size a pipe takes here, at most @size. */
	while (size >= 4096 && fcntl(p[0], F_SETPIPE_SZ, size) < 0)
		size /= 2;
	if (size >= 4096) {
		int got = fcntl(p[0], F_GETPIPE_SZ);

		fs->pipe_max = got > 0 ? (size_t)got : 0;
	}
	close(p[0]);
	close(p[1]);
}

/* File ranges of a reply mapped into memory (pieces_read), unmapped once
 * the reply is written. */
struct reply_maps {
	void *p[MAX_PIECES];
	size_t len[MAX_PIECES];
	size_t n;
};

static void reply_maps_drop(struct reply_maps *m)
{
	for (size_t i = 0; i < m->n; i++)
		munmap(m->p[i], m->len[i]);
	m->n = 0;
}

/* A file range of a reply, mapped (MAP_SHARED, read-only: its page cache
 * pages themselves), or NULL.  The reply's write copies from those pages
 * into the kernel's request: one copy instead of a read into @buf and a
 * write from there (a reply too large for a pipe cannot be spliced).
 * Only inside the file as it is now; only the kernel reads the mapping
 * (through writev), so a file cut short meanwhile makes that write fail
 * (the copy faults, and fuse_dev_do_write in Linux's fs/fuse/dev.c ends
 * the request with EIO), never a signal here. */
static const void *piece_map(const struct tsm_piece *p, struct reply_maps *m)
{
	long page = sysconf(_SC_PAGESIZE);
	off_t base = (off_t)(p->pos & ~((uint64_t)page - 1));
	size_t span = (size_t)(p->pos - (uint64_t)base) + p->len;
	struct stat st;
	void *at;

	if (page <= 0 || m->n == MAX_PIECES || fstat(p->fd, &st) < 0 ||
	    (uint64_t)st.st_size < p->pos + p->len)
		return NULL;
	at = mmap(NULL, span, PROT_READ, MAP_SHARED, p->fd, base);
	if (at == MAP_FAILED)
		return NULL;
	m->p[m->n] = at;
	m->len[m->n++] = span;
	return (const uint8_t *)at + (p->pos - (uint64_t)base);
}

/* The pieces of a reply as iovecs: every file range mapped (piece_map) or
 * read into @buf at its place in the reply (a range was checked when it
 * was mapped; reading it now is what the splice would have done). */
static int pieces_read(const struct tsm_piece *pieces, size_t n, uint8_t *buf,
		       struct iovec *iov, struct reply_maps *maps)
{
	size_t at = 0;

	for (size_t i = 0; i < n; i++) {
		const void *mapped;

		iov[i].iov_len = pieces[i].len;
		if (pieces[i].mem) {
			iov[i].iov_base = (void *)pieces[i].mem;
		} else if ((mapped = piece_map(&pieces[i], maps))) {
			iov[i].iov_base = (void *)mapped;
		} else {
			for (size_t done = 0; done < pieces[i].len;) {
				ssize_t r = pread(pieces[i].fd, buf + at + done, pieces[i].len - done,
						  (off_t)(pieces[i].pos + done));

				if (r < 0 && errno == EINTR)
					continue;
				if (r <= 0)
					return r < 0 ? -errno : -ENODATA; /* the pack is shorter now */
				done += (size_t)r;
			}
			iov[i].iov_base = buf + at;
		}
		at += pieces[i].len;
	}
	return 0;
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;
	struct fs_thread *t = fs_thread_get(fs);
	struct tsm_piece pieces[MAX_PIECES];
	struct iovec iov[MAX_PIECES];
	struct reply_maps maps = { .n = 0 };
	struct fuse_bufvec *bv;
	size_t n = 0;
	ssize_t got;
	int rc;
	/* The clock is read only when someone scrapes the latency.  The
	 * counters are taken now: once the reply is out, the handle may be
	 * released (and freed) by another thread. */
	uint64_t start = fs->metrics ? fs_metrics_now_ns() : 0;
	struct fs_file_stats *stats = h->node->stats;

	(void)ino;
	if (!t) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (size > t->bufsize) {
		uint8_t *p = realloc(t->buf, size);

		if (!p) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		t->buf = p;
		t->bufsize = size;
	}
	got = tsm_image_map(h->node->image, t->source, (uint64_t)off, size, t->buf, pieces,
			    MAX_PIECES, &n);
	if (got >= 0 && (uint64_t)got < size && (uint64_t)off + (uint64_t)got < h->node->size) {
		/* Out of pieces: a short reply would read as the end of the
		 * file, so copy the whole request instead. */
		got = tsm_image_pread(h->node->image, t->source, t->buf, size, (uint64_t)off);
		if (got >= 0) {
			fuse_reply_buf(req, (const char *)t->buf, (size_t)got);
			tsm_store_reads_done(t->store);
			fs_metrics_read_done(fs->metrics, stats, start, got);
			return;
		}
	}
	if (got >= 0 && !reply_fits_pipe(fs, n, (size_t)got) &&
	    (rc = pieces_read(pieces, n, t->buf, iov, &maps)) < 0)
		got = rc;
	if (got < 0) {
		tsm_error("%s: read of %zu bytes at offset %lld failed: %s", h->node->file_name, size,
			  (long long)off, strerror((int)-got));
		fuse_reply_err(req, EIO);
		reply_maps_drop(&maps);
		tsm_store_reads_done(t->store);
		fs_metrics_read_done(fs->metrics, stats, start, -EIO);
		return;
	}
	if (!reply_fits_pipe(fs, n, (size_t)got)) {
		fuse_reply_iov(req, iov, (int)n);
		reply_maps_drop(&maps);
	} else {
		bv = t->bufv;
		bv->count = n;
		bv->idx = 0;
		bv->off = 0;
		for (size_t i = 0; i < n; i++) {
			struct fuse_buf *b = &bv->buf[i];

			memset(b, 0, sizeof(*b));
			b->size = pieces[i].len;
			if (pieces[i].mem) {
				b->mem = (void *)pieces[i].mem;
			} else {
				b->flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
				b->fd = pieces[i].fd;
				b->pos = (off_t)pieces[i].pos;
			}
		}
		fuse_reply_data(req, bv, FUSE_BUF_SPLICE_MOVE);
	}
	/* The pack descriptors in the reply have been read from. */
	tsm_store_reads_done(t->store);
	fs_metrics_read_done(fs->metrics, stats, start, got);
}

static void op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_handle *h = (struct fs_handle *)(uintptr_t)fi->fh;

	(void)ino;
	tsm_pin_release(h->pin);
	pthread_mutex_lock(&fs->lock);
	h->node->nopen--;
	fs_node_maybe_free(fs, h->node);
	pthread_mutex_unlock(&fs->lock);
	free(h);
	fuse_reply_err(req, 0);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st = { .f_bsize = 2048, .f_frsize = 2048, .f_namemax = 255 };
	struct fs *fs = fs_of(req);

	(void)ino;
	pthread_mutex_lock(&fs->lock);
	/* The media at the root: versions/ would count them again. */
	for (struct fs_node *n = fs->nodes; n; n = n->next)
		if (n->current && !n->is_dir && n->parent == FUSE_ROOT_ID) {
			st.f_blocks += (n->size + 2047) / 2048;
			st.f_files++;
		}
	pthread_mutex_unlock(&fs->lock);
	fuse_reply_statfs(req, &st);
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.open = op_open,
	.read = op_read,
	.release = op_release,
	.statfs = op_statfs,
};
