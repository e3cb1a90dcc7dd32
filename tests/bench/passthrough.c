/* The peer for tests/bench/read: the smallest FUSE file server that can
 * serve one file — one regular file read with pread — with the mount
 * options and connection settings tsmediafs uses.  What tsmediafs costs
 * beyond this is the cost of assembling images on read. */
#define FUSE_USE_VERSION 314
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int backing_fd = -1;
static const char *file_name;
static struct stat backing_st;

static void pt_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	conn->max_write = 1u << 20;
	conn->max_read = 1u << 20;
	conn->max_readahead = 1u << 20;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE;
}

static void file_attr(struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = 2;
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_size = backing_st.st_size;
}

static void pt_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = { .ino = 2, .attr_timeout = 1.0, .entry_timeout = 1.0 };

	if (parent != FUSE_ROOT_ID || strcmp(name, file_name) != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	file_attr(&e.attr);
	fuse_reply_entry(req, &e);
}

static void pt_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (ino == FUSE_ROOT_ID) {
		memset(&st, 0, sizeof(st));
		st.st_ino = 1;
		st.st_mode = S_IFDIR | 0555;
		st.st_nlink = 2;
	} else {
		file_attr(&st);
	}
	fuse_reply_attr(req, &st, 1.0);
}

static int direct_io = 1;

static void pt_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	if (direct_io)
		fi->direct_io = 1; /* as tsmediafs by default */
	else
		fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void pt_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	static __thread char *buf;
	static __thread size_t cap;
	ssize_t n;

	(void)ino;
	(void)fi;
	if (size > cap) {
		free(buf);
		buf = malloc(size);
		cap = buf ? size : 0;
	}
	n = buf ? pread(backing_fd, buf, size, off) : -1;
	if (n < 0)
		fuse_reply_err(req, EIO);
	else
		fuse_reply_buf(req, buf, (size_t)n);
}

static const struct fuse_lowlevel_ops ops = {
	.init = pt_init,
	.lookup = pt_lookup,
	.getattr = pt_getattr,
	.open = pt_open,
	.read = pt_read,
};

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse_loop_config *config;
	struct fuse_session *se;
	int rc;

	if (argc == 4 && strcmp(argv[3], "page_cache") == 0)
		direct_io = 0;
	else if (argc != 3) {
		fprintf(stderr, "usage: %s FILE MOUNTPOINT [page_cache]  (serves FILE read-only,"
			" foreground)\n", argv[0]);
		return 2;
	}
	backing_fd = open(argv[1], O_RDONLY);
	if (backing_fd < 0 || fstat(backing_fd, &backing_st) < 0) {
		perror(argv[1]);
		return 1;
	}
	file_name = strrchr(argv[1], '/') ? strrchr(argv[1], '/') + 1 : argv[1];
	fuse_opt_add_arg(&args, argv[0]);
	fuse_opt_add_arg(&args, "-oro,default_permissions,fsname=passthrough,max_read=1048576");
	se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (!se || fuse_set_signal_handlers(se) != 0 || fuse_session_mount(se, argv[2]) != 0)
		return 1;
	config = fuse_loop_cfg_create();
	fuse_loop_cfg_set_max_threads(config, 10);
	rc = fuse_session_loop_mt(se, config);
	fuse_loop_cfg_destroy(config);
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	fuse_session_destroy(se);
	return rc ? 1 : 0;
}
