/* In-memory file trees for the format writers. */
#include "tsmedia/tree.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsmedia/hash.h"
#include "tsmedia/image.h"
#include "tsmedia/log.h"

static struct tsm_tree_node *node_new(const char *name, size_t len, enum tsm_entry_type type)
{
	struct tsm_tree_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	if (!(n->name = strndup(name, len))) {
		free(n);
		return NULL;
	}
	n->type = type;
	n->mode = type == TSM_ENTRY_DIR ? 0755 : 0644;
	n->attributes = type == TSM_ENTRY_DIR ? 0x10 : 0x20;
	return n;
}

static void node_free(struct tsm_tree_node *n)
{
	for (size_t i = 0; i < n->nchildren; i++)
		node_free(n->children[i]);
	free(n->children);
	free(n->name);
	free(n->data);
	free(n->link_target);
	tsm_image_unref(n->image);
	free(n);
}

int tsm_tree_new(struct tsm_tree **tree_ret)
{
	struct tsm_tree *t = calloc(1, sizeof(*t));

	if (!t || !(t->root = node_new("", 0, TSM_ENTRY_DIR))) {
		free(t);
		return -ENOMEM;
	}
	*tree_ret = t;
	return 0;
}

void tsm_tree_free(struct tsm_tree *tree)
{
	if (!tree)
		return;
	node_free(tree->root);
	free(tree);
}

/* Index of @name among @dir's children, or where it would go (negative:
 * -(pos + 1)). */
static long child_find(const struct tsm_tree_node *dir, const char *name, size_t len)
{
	size_t lo = 0, hi = dir->nchildren;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *c = dir->children[mid]->name;
		int cmp = strncmp(c, name, len);

		if (cmp == 0)
			cmp = c[len] ? 1 : 0;
		if (cmp == 0)
			return (long)mid;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

static int child_insert(struct tsm_tree_node *dir, size_t pos, struct tsm_tree_node *child)
{
	if (dir->nchildren == dir->cap_children) {
		size_t cap = dir->cap_children ? 2 * dir->cap_children : 8;
		void *p = realloc(dir->children, cap * sizeof(*dir->children));

		if (!p)
			return -ENOMEM;
		dir->children = p;
		dir->cap_children = cap;
	}
	memmove(&dir->children[pos + 1], &dir->children[pos],
		(dir->nchildren - pos) * sizeof(*dir->children));
	dir->children[pos] = child;
	dir->nchildren++;
	child->parent = dir;
	return 0;
}

struct tsm_tree_node *tsm_tree_lookup(struct tsm_tree *tree, const char *path)
{
	struct tsm_tree_node *n = tree->root;

	while (*path == '/')
		path++;
	while (*path) {
		size_t len = strcspn(path, "/");
		long i;

		if (n->type != TSM_ENTRY_DIR || (i = child_find(n, path, len)) < 0)
			return NULL;
		n = n->children[i];
		path += len;
		while (*path == '/')
			path++;
	}
	return n;
}

static bool component_ok(const char *c, size_t len)
{
	return len > 0 && !(len == 1 && c[0] == '.') && !(len == 2 && c[0] == '.' && c[1] == '.');
}

/* The node for @path, made (as a directory for parents, @type for the
 * last component) when missing. */
static int tree_make(struct tsm_tree *tree, const char *path, enum tsm_entry_type type,
		     struct tsm_tree_node **node_ret, bool *created_ret)
{
	struct tsm_tree_node *n = tree->root;

	*created_ret = false;
	while (*path == '/')
		path++;
	if (!*path) {
		*node_ret = n;
		return type == TSM_ENTRY_DIR ? 0 : -EEXIST;
	}
	while (*path) {
		size_t len = strcspn(path, "/");
		bool last = path[len + strspn(path + len, "/")] == '\0';
		enum tsm_entry_type t = last ? type : TSM_ENTRY_DIR;
		long i;

		if (!component_ok(path, len)) {
			tsm_error("invalid path component '%.*s'", (int)len, path);
			return -EINVAL;
		}
		if (n->type != TSM_ENTRY_DIR)
			return -ENOTDIR;
		i = child_find(n, path, len);
		if (i >= 0) {
			n = n->children[i];
		} else {
			struct tsm_tree_node *c = node_new(path, len, t);
			int rc;

			if (!c)
				return -ENOMEM;
			c->mtime_ns = tree->default_mtime_ns;
			if ((rc = child_insert(n, (size_t)(-i - 1), c)) < 0) {
				node_free(c);
				return rc;
			}
			n = c;
			if (last)
				*created_ret = true;
		}
		path += len;
		path += strspn(path, "/");
	}
	*node_ret = n;
	return 0;
}

int tsm_tree_add(struct tsm_tree *tree, const char *path, const struct tsm_tree_entry *e,
		 struct tsm_tree_node **node_ret)
{
	struct tsm_tree_node *n;
	bool created;
	int rc = tree_make(tree, path, e->type, &n, &created);

	if (rc == -EEXIST || (rc == 0 && !created && (n->type != TSM_ENTRY_DIR ||
						      e->type != TSM_ENTRY_DIR))) {
		tsm_error("'%s' is in the tree twice", path);
		return -EEXIST;
	}
	if (rc < 0)
		return rc;
	n->mode = e->mode;
	n->mtime_ns = e->mtime_ns;
	n->attributes = e->attributes;
	if (e->type == TSM_ENTRY_FILE) {
		n->size = e->size;
		n->blob_id = e->size ? e->blob_id : 0;
		memcpy(n->sha256, e->sha256, sizeof(n->sha256));
		n->has_sha256 = e->blob_id > 0 || e->size == 0;
		if (e->size == 0)
			tsm_sha256("", 0, n->sha256);
	}
	if (e->type == TSM_ENTRY_SYMLINK && e->link_target &&
	    !(n->link_target = strdup(e->link_target)))
		return -ENOMEM;
	if (node_ret)
		*node_ret = n;
	return 0;
}

static int tree_add_file(struct tsm_tree *tree, const char *path, int64_t mtime_ns,
			 struct tsm_tree_node **node_ret)
{
	struct tsm_tree_entry e = { .type = TSM_ENTRY_FILE, .mode = 0644, .mtime_ns = mtime_ns,
				    .attributes = 0x20 };

	return tsm_tree_add(tree, path, &e, node_ret);
}

int tsm_tree_add_data(struct tsm_tree *tree, const char *path, const void *data, size_t len,
		      int64_t mtime_ns, struct tsm_tree_node **node_ret)
{
	struct tsm_tree_node *n;
	int rc = tree_add_file(tree, path, mtime_ns, &n);

	if (rc < 0)
		return rc;
	if (len) {
		if (!(n->data = malloc(len)))
			return -ENOMEM;
		memcpy(n->data, data, len);
	}
	n->size = len;
	n->has_sha256 = tsm_sha256(data, len, n->sha256) == 0;
	if (node_ret)
		*node_ret = n;
	return 0;
}

int tsm_tree_add_image(struct tsm_tree *tree, const char *path, struct tsm_image *image,
		       int64_t mtime_ns, struct tsm_tree_node **node_ret)
{
	struct tsm_tree_node *n;
	int rc = tree_add_file(tree, path, mtime_ns, &n);

	if (rc < 0)
		return rc;
	n->image = tsm_image_ref(image);
	n->size = tsm_image_size(image);
	if (node_ret)
		*node_ret = n;
	return 0;
}

static int walk_node(struct tsm_tree_node *n, int (*fn)(struct tsm_tree_node *, void *),
		     void *arg)
{
	int rc = fn(n, arg);

	for (size_t i = 0; rc == 0 && i < n->nchildren; i++)
		rc = walk_node(n->children[i], fn, arg);
	return rc;
}

int tsm_tree_walk(struct tsm_tree *tree, int (*fn)(struct tsm_tree_node *, void *), void *arg)
{
	return walk_node(tree->root, fn, arg);
}

char *tsm_tree_node_path(const struct tsm_tree_node *node)
{
	size_t len = 0;
	char *path, *p;

	for (const struct tsm_tree_node *n = node; n->parent; n = n->parent)
		len += strlen(n->name) + (n->parent->parent ? 1 : 0);
	if (!(path = malloc(len + 1)))
		return NULL;
	p = path + len;
	*p = '\0';
	for (const struct tsm_tree_node *n = node; n->parent; n = n->parent) {
		size_t l = strlen(n->name);

		p -= l;
		memcpy(p, n->name, l);
		if (n->parent->parent)
			*--p = '/';
	}
	return path;
}
