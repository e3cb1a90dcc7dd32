#include "store/store_internal.h"

#include <dirent.h>
#include <stddef.h>
#include <unistd.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "util/db.h"

static int pack_dir_bytes(struct tsm_store *store, uint64_t *bytes_ret, uint64_t *count_ret)
{
	int fd = openat(store->dir_fd, "packs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	DIR *dir;

	*bytes_ret = *count_ret = 0;
	if (fd < 0 || !(dir = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while ((de = readdir(dir))) {
		struct stat st;

		if (strncmp(de->d_name, "pack-", 5) != 0)
			continue;
		if (fstatat(fd, de->d_name, &st, 0) == 0) {
			*bytes_ret += (uint64_t)st.st_size;
			(*count_ret)++;
		}
	}
	closedir(dir);
	return 0;
}

int tsm_store_stats(struct tsm_store *store, struct tsm_store_stats *s)
{
	static const struct {
		const char *sql;
		size_t field;
	} queries[] = {
		{ "SELECT coalesce(sum(t.size), 0) FROM tree_entries t JOIN content_versions v"
		  " ON v.id = t.version WHERE v.removed = 0",
		  offsetof(struct tsm_store_stats, logical_bytes) },
		{ "SELECT coalesce(sum(size), 0) FROM blobs", offsetof(struct tsm_store_stats, unique_bytes) },
		{ "SELECT coalesce(sum(stored_size), 0) FROM chunks",
		  offsetof(struct tsm_store_stats, stored_bytes) },
		{ "SELECT count(*) FROM chunks", offsetof(struct tsm_store_stats, chunks) },
		{ "SELECT count(*) FROM blobs", offsetof(struct tsm_store_stats, blobs) },
		{ "SELECT count(*) FROM content WHERE removed = 0",
		  offsetof(struct tsm_store_stats, content_items) },
		{ "SELECT count(*) FROM content_versions WHERE removed = 0",
		  offsetof(struct tsm_store_stats, content_versions) },
		{ "SELECT count(*) FROM blob_wim_resources",
		  offsetof(struct tsm_store_stats, wim_resource_blobs) },
		{ "SELECT coalesce(sum(b.size), 0) FROM blob_wim_resources w JOIN blobs b"
		  " ON b.id = w.blob", offsetof(struct tsm_store_stats, wim_resource_bytes) },
	};
	uint64_t pack_files;
	int rc;

	memset(s, 0, sizeof(*s));
	if ((rc = tsm_store_read_begin(store)) < 0)
		return rc;
	for (size_t i = 0; i < sizeof(queries) / sizeof(queries[0]); i++) {
		int64_t v;

		if ((rc = tsm_db_int64(store->db, queries[i].sql, &v)) < 0)
			break;
		*(uint64_t *)((char *)s + queries[i].field) = (uint64_t)v;
	}
	tsm_store_read_end(store);
	if (rc < 0)
		return rc;
	pack_dir_bytes(store, &s->pack_bytes, &pack_files);
	s->packs = pack_files;
	return 0;
}
