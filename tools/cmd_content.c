/* tsmedia content add | list | show | rm | cat */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "tsmedia/i18n.h"
#include "tsmedia/content.h"
#include "tsmedia/image.h"
#include "tsmedia/log.h"
#include "tsmedia/progress.h"
#include "tsmedia/store.h"
#include "tsmedia/media.h"
#include "tsmedia/wim.h"

static const char content_help[] = N_(
	"Usage: tsmedia [--store DIR] content COMMAND [ARGS]\n"
	"\n"
	"  add --kind KIND --name NAME [--version V] [--id ID] SOURCE\n"
	"                  import a directory or a file; prints the content ID\n"
	"  list [--json]   every content item\n"
	"  show ID [--json]\n"
	"                  an item, its versions and the files of the newest one\n"
	"  rm ID [--json]  remove an item (its data goes at the next gc)\n"
	"  cat ID PATH     a file's bytes, read back through the store\n"
	"  export ID -o FILE.wim [--split SIZE] [--index N]\n"
	"                  write an item out as a WIM (or a split .swm set)\n"
	"\n"
	"KIND: boot-image, os-image, package, application, driver-package, prestart.\n"
	"IDs are a site code and five hex digits, like Configuration Manager's\n"
	"package IDs: TSM00001, PS100012.\n");

static const char add_help[] = N_(
	"Usage: tsmedia [--store DIR] content add --kind KIND --name NAME\n"
	"                                         [--version V] [--id ID] [--as-file]\n"
	"                                         [--index N] SOURCE\n"
	"       tsmedia [--store DIR] content add --id EXISTING [--version V] SOURCE\n"
	"\n"
	"Imports SOURCE (a directory, or a single file) into the store and prints the\n"
	"content ID.  Files are cut into content-defined chunks; chunks the store\n"
	"already holds are not stored again.\n"
	"\n"
	"  --kind KIND     boot-image, os-image, package, application, driver-package\n"
	"                  or prestart\n"
	"  --name NAME     what the item is called\n"
	"  --version V     a version label of your own (e.g. 10.0.22631)\n"
	"  --id ID         the item's ID: a new ID creates the item under it (so it can\n"
	"                  carry the package ID a task sequence references); an existing\n"
	"                  ID gets a new version, and the old version stays until\n"
	"                  nothing references it; its kind and name are kept when\n"
	"                  --kind and --name are not given (another kind is an error).\n"
	"                  IDs are one namespace with task sequences'.  An application's\n"
	"                  content ID (Content_<GUID>, with --kind application) is bound\n"
	"                  to an item of its own, whose ID is printed\n"
	"  --as-file       SOURCE is an ISO or WIM image to keep as one file, not to take\n"
	"                  apart\n"
	"  --index N       SOURCE is a WIM: import only its image N (1 is the first)\n"
	"\n"
	"An ISO image as SOURCE is taken apart: its file tree (from UDF when it has\n"
	"one, else Joliet or Rock Ridge names) and its El Torito boot entries are\n"
	"imported, so media made from it boot as it did.\n"
	"\n"
	"A WIM as SOURCE (install.wim, boot.wim, a capture; any compression, solid or\n"
	"not; a split set given as its first .swm with the other parts beside it) is\n"
	"taken apart with wimlib, every blob checked against its SHA-1.  Without\n"
	"--index, every image goes into the one new version, as a Configuration\n"
	"Manager OS image package holds the whole install.wim and task sequences pick\n"
	"an index: a WIM of one image is the tree itself, a WIM of several holds\n"
	"image N under the directory N/.  Exported (content export -o X.wim), the\n"
	"version is that WIM again: the same images, names, descriptions and boot\n"
	"index.  With --index N only image N is imported, as the tree itself.\n"
	"Windows metadata (attributes, security descriptors, the three timestamps,\n"
	"short names, named data streams, reparse points, hard links) is kept.\n"
	"Images that share files share their blobs: a second edition costs only the\n"
	"files it does not share.\n"
	"\n"
	"SOURCE may hold files, directories and symlinks that stay inside it; FIFOs,\n"
	"sockets, devices and names that are not UTF-8 are refused, and nothing is\n"
	"changed when anything in SOURCE cannot be imported.\n");

static int content_add(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ "name", required_argument, NULL, 'n' },
		{ "version", required_argument, NULL, 'v' },
		{ "id", required_argument, NULL, 'i' },
		{ "as-file", no_argument, NULL, 'f' },
		{ "index", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tsm_content_add_options o = { .kind = TSM_KIND_COUNT, .progress = cli->progress };
	struct tsm_content_add_result res;
	struct tsm_content_item item = { 0 };
	struct tsm_store *store;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'k':
			/* Any case on the command line (--kind Package); the catalog's names are
			 * lower case. */
			for (char *p = optarg; *p; p++)
				*p = (char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
			if (tsm_content_kind_parse(optarg, &o.kind) < 0)
				return cli_usage_error("content add ",
						       "invalid --kind '%s': boot-image, os-image, package,"
						       " application, driver-package or prestart", optarg);
			break;
		case 'n': o.name = optarg; break;
		case 'v': o.version_label = optarg; break;
		case 'i': o.id = optarg; break;
		case 'f': o.as_file = true; break;
		case 'x': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || !*optarg || v < 1 || v > 65535)
				return cli_usage_error("content add ", "invalid --index '%s': an image"
						       " number, 1 for the first", optarg);
			o.wim_index = (int)v;
			break;
		}
		case 'h': fputs(_(add_help), stdout); return 0;
		default: return cli_bad_option("content add ", argv);
		}
	}
	if (o.kind == TSM_KIND_COUNT && !o.id)
		return cli_usage_error("content add ", "--kind is required (or --id of an existing"
				       " item, whose kind a new version keeps)");
	if (!o.name && !o.id)
		return cli_usage_error("content add ", "--name is required");
	if (optind + 1 != argc)
		return cli_usage_error("content add ", optind >= argc ? "no SOURCE given"
								      : N_("one SOURCE only"));
	o.source = argv[optind];
	if (cli_open_store(cli, &store) < 0)
		return 1;
	if (o.kind == TSM_KIND_COUNT || !o.name) {
		/* A new version of an existing item: its kind and name unless given. */
		if (!tsm_content_exists(store, o.id)) {
			tsm_store_close(store);
			return cli_usage_error("content add ", "%s is not an item of the store: a new"
					       " item needs --kind and --name", o.id);
		}
		if (tsm_content_get(store, o.id, &item) < 0) {
			tsm_store_close(store);
			return 1;
		}
		if (o.kind == TSM_KIND_COUNT)
			o.kind = item.kind;
		if (!o.name)
			o.name = item.name;
	}
	cli_import_begin();
	rc = cli_import_end(o.source, tsm_content_add(store, &o, &res));
	tsm_content_item_clear(&item);
	tsm_store_close(store);
	if (rc < 0)
		return 1;
	printf("%s\n", res.id);
	fflush(stdout);
	if (!cli->quiet)
		fprintf(stderr, _("%s version %lld: %llu files, %llu directories, %llu bytes\n"), res.id,
			(long long)res.version, (unsigned long long)res.files,
			(unsigned long long)res.dirs, (unsigned long long)res.bytes);
	return 0;
}

static struct json_object *json_version(const struct tsm_content_version *v)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "version", json_object_new_int64(v->version));
	json_object_object_add(o, "label", cli_json_string(v->label));
	json_object_object_add(o, "source", cli_json_string(v->source));
	json_object_object_add(o, "created", json_object_new_int64(v->created));
	json_object_object_add(o, "files", json_object_new_uint64(v->files));
	json_object_object_add(o, "bytes", json_object_new_uint64(v->bytes));
	json_object_object_add(o, "removed", json_object_new_boolean(v->removed));
	return o;
}

static const struct tsm_content_version *current_version(const struct tsm_content_item *item)
{
	for (size_t i = item->nversions; i-- > 0;)
		if (!item->versions[i].removed)
			return &item->versions[i];
	return item->nversions ? &item->versions[item->nversions - 1] : NULL;
}

/* The fields of an item that list and show share, in a new object. */
static struct json_object *json_item_head(const struct tsm_content_item *item)
{
	const struct tsm_content_version *cur = current_version(item);
	struct json_object *o = json_object_new_object(), *versions = json_object_new_array();

	json_object_object_add(o, "id", cli_json_string(item->id));
	json_object_object_add(o, "kind", cli_json_string(tsm_content_kind_name(item->kind)));
	json_object_object_add(o, "name", cli_json_string(item->name));
	json_object_object_add(o, "created", json_object_new_int64(item->created));
	json_object_object_add(o, "version", json_object_new_int64(cur ? cur->version : 0));
	json_object_object_add(o, "label", cli_json_string(cur ? cur->label : NULL));
	json_object_object_add(o, "file_count", json_object_new_uint64(cur ? cur->files : 0));
	json_object_object_add(o, "bytes", json_object_new_uint64(cur ? cur->bytes : 0));
	for (size_t i = 0; i < item->nversions; i++)
		json_object_array_add(versions, json_version(&item->versions[i]));
	json_object_object_add(o, "versions", versions);
	return o;
}

static const char list_help[] = N_(
	"Usage: tsmedia [--store DIR] content list [--json]\n\n"
	"Lists every content item: ID, kind, current version, files, bytes, name.\n");

static int content_list(struct cli *cli, int argc, char **argv)
{
	struct tsm_content_item *items;
	struct tsm_store *store;
	bool as_json;
	size_t n;
	int rc = cli_parse_json_args(argc, argv, list_help, "content list ", NULL, &as_json);

	if (rc >= 0)
		return rc;
	if (cli_open_store(cli, &store) < 0)
		return 1;
	rc = tsm_content_list(store, &items, &n);
	tsm_store_close(store);
	if (rc < 0)
		return 1;
	if (as_json) {
		struct json_object *a = json_object_new_array();

		for (size_t i = 0; i < n; i++)
			json_object_array_add(a, json_item_head(&items[i]));
		rc = cli_json_print(a);
	} else {
		/* TRANSLATORS: the header of content list, over columns of 8, 14,
		 * 7 (right), 8 (right) and 14 (right) characters and the name. */
		fputs(_("ID        KIND            VERSION     FILES           BYTES  NAME\n"), stdout);
		for (size_t i = 0; i < n; i++) {
			const struct tsm_content_version *cur = current_version(&items[i]);

			printf("%-8s  %-14s  %7lld  %8llu  %14llu  %s\n", items[i].id,
			       tsm_content_kind_name(items[i].kind),
			       cur ? (long long)cur->version : 0LL,
			       cur ? (unsigned long long)cur->files : 0ULL,
			       cur ? (unsigned long long)cur->bytes : 0ULL, items[i].name);
		}
	}
	tsm_content_items_free(items, n);
	return rc; /* 0, or 1 when the JSON could not be written */
}

static const char *entry_type_name(enum tsm_entry_type t)
{
	return t == TSM_ENTRY_DIR ? "dir" : t == TSM_ENTRY_SYMLINK ? "symlink" : "file";
}

/* The path of the file of @e[0..n) whose blob is @blob_id, or NULL. */
static const char *path_of_blob(const struct tsm_tree_entry *e, size_t n, int64_t blob_id)
{
	for (size_t i = 0; blob_id && i < n; i++)
		if (e[i].type == TSM_ENTRY_FILE && e[i].blob_id == blob_id)
			return e[i].path;
	return NULL;
}

static struct json_object *json_entries(const struct tsm_tree_entry *e, size_t n)
{
	struct json_object *a = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		struct json_object *o = json_object_new_object();
		char hex[TSM_SHA256_HEX_LEN + 1];

		json_object_object_add(o, "path", cli_json_string(e[i].path));
		json_object_object_add(o, "type", cli_json_string(entry_type_name(e[i].type)));
		json_object_object_add(o, "mode", json_object_new_uint64(e[i].mode));
		json_object_object_add(o, "mtime", json_object_new_int64(e[i].mtime_ns / 1000000000));
		json_object_object_add(o, "mtime_ns", json_object_new_int64(e[i].mtime_ns));
		json_object_object_add(o, "attributes", json_object_new_uint64(e[i].attributes));
		json_object_object_add(o, "size", json_object_new_uint64(e[i].size));
		if (e[i].type == TSM_ENTRY_FILE) {
			tsm_hex_encode(e[i].sha256, TSM_SHA256_LEN, hex);
			json_object_object_add(o, "sha256", json_object_new_string(hex));
			/* Read out of this WIM's bytes: no space of its own. */
			if (e[i].wim_blob_id)
				json_object_object_add(o, "in_wim", cli_json_string(
					path_of_blob(e, n, e[i].wim_blob_id)));
		}
		if (e[i].type == TSM_ENTRY_SYMLINK)
			json_object_object_add(o, "target", cli_json_string(e[i].link_target));
		json_object_array_add(a, o);
	}
	return a;
}

/* Lexically: an absolute target, or one that climbs above the root.
 * Images (Rock Ridge SL) may hold such links; they are kept as strings. */
static bool link_leaves_tree(const char *path, const char *target)
{
	int depth = 0;

	if (!target || target[0] == '/')
		return true;
	for (const char *p = path; *p; p++)
		depth += *p == '/';
	for (const char *p = target; *p;) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			if (--depth < 0)
				return true;
		} else if (len && !(len == 1 && p[0] == '.')) {
			depth++;
		}
		p += len;
		p += strspn(p, "/");
	}
	return false;
}

static void print_item_text(const struct tsm_content_item *item, const struct tsm_tree_entry *e,
			    size_t n)
{
	printf(_("ID:        %s\nKind:      %s\nName:      %s\n"), item->id,
	       tsm_content_kind_name(item->kind), item->name);
	fputs(_("Versions:\n"), stdout);
	for (size_t i = 0; i < item->nversions; i++) {
		const struct tsm_content_version *v = &item->versions[i];
		char when[32];
		time_t t = (time_t)v->created;

		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime(&t));
		printf(_("  %lld%s%s%s  %s UTC  %llu files, %llu bytes  from %s%s\n"),
		       (long long)v->version, v->label ? " (" : "", v->label ? v->label : "",
		       v->label ? ")" : "", when, (unsigned long long)v->files,
		       (unsigned long long)v->bytes, v->source, v->removed ? _("  [removed]") : "");
	}
	fputs(_("Files of the current version:\n"), stdout);
	for (size_t i = 0; i < n; i++) {
		if (e[i].type == TSM_ENTRY_DIR)
			/* TRANSLATORS: content show: the type of an entry; dir, symlink and
			 * file take the same width, so the columns stay aligned. */
			printf("  %-7s %14s  %s/\n", _("dir"), "", e[i].path);
		else if (e[i].type == TSM_ENTRY_SYMLINK)
			printf("  %-7s %14s  %s -> %s%s\n", _("symlink"), "", e[i].path, e[i].link_target,
			       link_leaves_tree(e[i].path, e[i].link_target) ?
			       _("  (outside this content: kept as the image stores it)") : "");
		else if (e[i].wim_blob_id)
			printf(_("  %-7s %14llu  %s  (read out of %s: no space of its own)\n"), _("file"),
			       (unsigned long long)e[i].size, e[i].path,
			       path_of_blob(e, n, e[i].wim_blob_id) ?: _("a stored WIM"));
		else
			printf("  %-7s %14llu  %s\n", _("file"), (unsigned long long)e[i].size,
			       e[i].path);
	}
}

/* A boot image's facts (a Windows PE WIM's): malloc'ed, or NULL. */
static char *meta_str(struct tsm_store *store, const char *id, const char *key)
{
	void *v = NULL;
	size_t len;

	return tsm_content_meta(store, id, 0, key, &v, &len) == 0 ? v : NULL;
}

/* What an ISO import recorded beside its boot rows (content meta written
 * by core/import/iso.c): per entry "load_segment=0x.. system_type=0x..
 * bootable=N ...", the catalog's path, libisofs' system area summary. */
struct boot_fact {
	unsigned load_segment, system_type;
	int bootable;
};

struct boot_facts {
	struct boot_fact f[64];
	size_t n;
	char *catalog, *system_area;
};

static void boot_facts_load(struct tsm_store *store, const char *id, struct boot_facts *bf)
{
	char *text = meta_str(store, id, "eltorito");

	for (char *line = text, *next; line && *line && bf->n < 64; line = next) {
		struct boot_fact *f = &bf->f[bf->n];

		next = line + strcspn(line, "\n");
		if (*next)
			*next++ = '\0';
		if (sscanf(line, "load_segment=%x system_type=%x bootable=%d", &f->load_segment,
			   &f->system_type, &f->bootable) == 3)
			bf->n++;
	}
	free(text);
	bf->catalog = meta_str(store, id, "boot_catalog");
	bf->system_area = meta_str(store, id, "system_area");
}

static void boot_facts_clear(struct boot_facts *bf)
{
	free(bf->catalog);
	free(bf->system_area);
}

/* El Torito 1.0 2.2 byte 1 (media type).  English (--json); _() where printed. */
static const char *emulation_name(unsigned e)
{
	static const char *const names[] = { N_("none"), N_("floppy 1.2 MB"), N_("floppy 1.44 MB"),
					     N_("floppy 2.88 MB"), N_("hard disk") };

	return e < 5 ? names[e] : N_("unknown");
}

static void print_boot_text(const struct tsm_boot_entry *b, size_t n, const char *arch,
			    const char *client, const struct boot_facts *bf)
{
	if (arch)
		printf(_("Architecture: %s\nClient:    %s\n"), arch,
		       client ? client : _("none: media start Windows PE but no task sequence"));
	for (size_t i = 0; i < n; i++) {
		char size[64];

		if (b[i].load_size)
			snprintf(size, sizeof(size), _("%u sectors"), b[i].load_size);
		else
			snprintf(size, sizeof(size), "%s", _("the whole image"));
		printf(_("Boot entry: El Torito %s (platform 0x%02X), %s, load size %s: %s\n"),
		       b[i].platform == TSM_BOOT_PLATFORM_UEFI ? "UEFI" : "BIOS", b[i].platform,
		       b[i].emulation ? _("emulation") : _("no emulation"), size,
		       b[i].path ? b[i].path : _("(an image no directory names)"));
		printf(_("  media type %s"), _(emulation_name(b[i].emulation)));
		if (i < bf->n)
			printf(_(", load segment 0x%04x, system type 0x%02x%s"), bf->f[i].load_segment,
			       bf->f[i].system_type, bf->f[i].bootable ? "" : _(", not bootable"));
		printf(_("%s, %llu bytes\n"), b[i].boot_info_table ? _(", boot info table") : "",
		       (unsigned long long)b[i].size);
	}
	if (n && bf->catalog)
		printf(_("Boot catalog: %s\n"), bf->catalog);
	if (bf->system_area)
		printf(_("System area: %s\n"), bf->system_area);
}

static const char show_help[] = N_(
	"Usage: tsmedia [--store DIR] content show ID [--json]\n\n"
	"Shows an item: its kind, name, versions, and the files of its current\n"
	"version with their sizes (and, with --json, SHA-256, modes and times).\n");

static int content_show(struct cli *cli, int argc, char **argv)
{
	struct tsm_content_item item;
	struct tsm_tree_entry *entries = NULL;
	struct tsm_boot_entry *boots = NULL;
	struct boot_facts facts = { 0 };
	struct tsm_store *store;
	size_t n = 0, nboots = 0;
	char *arch = NULL, *client = NULL;
	bool as_json;
	int rc = cli_parse_json_args(argc, argv, show_help, "content show ", N_("a content ID"), &as_json);

	if (rc >= 0)
		return rc;
	if (cli_open_store(cli, &store) < 0)
		return 1;
	rc = tsm_content_get(store, argv[optind], &item);
	if (rc == 0 && (rc = tsm_content_tree(store, argv[optind], 0, &entries, &n)) < 0)
		tsm_content_item_clear(&item);
	if (rc == 0 && (rc = tsm_content_boot_entries(store, argv[optind], 0, &boots, &nboots)) < 0) {
		tsm_tree_entries_free(entries, n);
		tsm_content_item_clear(&item);
	}
	if (rc == 0) {
		arch = meta_str(store, argv[optind], "boot.arch");
		client = meta_str(store, argv[optind], "boot.client");
		boot_facts_load(store, argv[optind], &facts);
	}
	tsm_store_close(store);
	if (rc < 0)
		return 1;
	if (as_json) {
		struct json_object *doc = json_item_head(&item), *boot = json_object_new_array();

		json_object_object_add(doc, "files", json_entries(entries, n));
		json_object_object_add(doc, "architecture", cli_json_string(arch)); /* NULL: null */
		json_object_object_add(doc, "client", cli_json_string(client));
		for (size_t i = 0; i < nboots; i++) {
			const struct tsm_boot_entry *b = &boots[i];
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "platform", json_object_new_string(
				b->platform == TSM_BOOT_PLATFORM_UEFI   ? "uefi"
				: b->platform == TSM_BOOT_PLATFORM_BIOS ? "bios"
									: "other"));
			json_object_object_add(o, "platform_id", json_object_new_uint64(b->platform));
			json_object_object_add(o, "emulation", json_object_new_uint64(b->emulation));
			json_object_object_add(o, "emulation_name",
					       cli_json_string(emulation_name(b->emulation)));
			json_object_object_add(o, "load_size", json_object_new_uint64(b->load_size));
			if (i < facts.n) {
				json_object_object_add(o, "load_segment",
						       json_object_new_uint64(facts.f[i].load_segment));
				json_object_object_add(o, "system_type",
						       json_object_new_uint64(facts.f[i].system_type));
				json_object_object_add(o, "bootable",
						       json_object_new_boolean(facts.f[i].bootable));
			}
			json_object_object_add(o, "boot_info_table",
					       json_object_new_boolean(b->boot_info_table));
			json_object_object_add(o, "path", cli_json_string(b->path));
			json_object_object_add(o, "hidden", json_object_new_boolean(b->path == NULL));
			json_object_object_add(o, "size", json_object_new_uint64(b->size));
			json_object_array_add(boot, o);
		}
		json_object_object_add(doc, "boot", boot);
		json_object_object_add(doc, "boot_catalog", cli_json_string(facts.catalog));
		json_object_object_add(doc, "system_area", cli_json_string(facts.system_area));
		rc = cli_json_print(doc);
	} else {
		print_item_text(&item, entries, n);
		print_boot_text(boots, nboots, arch, client, &facts);
	}
	free(arch);
	free(client);
	boot_facts_clear(&facts);
	tsm_boot_entries_free(boots, nboots);
	tsm_tree_entries_free(entries, n);
	tsm_content_item_clear(&item);
	return rc; /* 0, or 1 when the JSON could not be written */
}

static const char rm_help[] = N_(
	"Usage: tsmedia [--store DIR] content rm ID [--json]\n\n"
	"Removes a content item.  Its data stays until 'tsmedia gc' finds nothing\n"
	"referencing it (a reader that has it open keeps it until it closes).\n");

static int content_rm(struct cli *cli, int argc, char **argv)
{
	struct tsm_store *store;
	bool as_json;
	int rc = cli_parse_json_args(argc, argv, rm_help, "content rm ", N_("a content ID"), &as_json);
	char id[TSM_CONTENT_ID_LEN + 1];

	if (rc >= 0)
		return rc;
	if (cli_open_store(cli, &store) < 0)
		return 1;
	rc = tsm_content_rm(store, argv[optind]);
	tsm_store_close(store);
	if (rc < 0)
		return 1;
	tsm_content_id_normalize(argv[optind], id);
	if (as_json)
		return cli_json_print_removed("id", id);
	if (!cli->quiet) {
		printf(_("removed %s (run 'tsmedia gc' to reclaim its space)\n"), id);
	}
	return 0;
}

static const char cat_help[] = N_(
	"Usage: tsmedia [--store DIR] content cat ID PATH\n\n"
	"Writes the bytes of file PATH (relative to the content's root) of the current\n"
	"version of ID to standard output, read back through the store.  Every chunk\n"
	"is checked before it is written: damage is an error, never wrong bytes.\n");

static int content_cat(struct cli *cli, int argc, char **argv)
{
	struct tsm_store *store;
	int rc;

	if (cli_wants_help(argc, argv)) {
		fputs(_(cat_help), stdout);
		return 0;
	}
	if (argc != 3)
		return cli_usage_error("content cat ", "expected a content ID and a PATH");
	if (cli_open_store(cli, &store) < 0)
		return 1;
	rc = tsm_content_cat(store, argv[1], argv[2], STDOUT_FILENO);
	tsm_store_close(store);
	return rc < 0 ? 1 : 0;
}

static const char export_help[] = N_(
	"Usage: tsmedia [--store DIR] content export ID -o FILE.wim [--split SIZE]\n"
	"                                            [--index N]\n\n"
	"Writes the current version of ID as a WIM, read through the same extent map\n"
	"the mount serves: file data stored uncompressed (each file's bytes are its\n"
	"blob's), metadata, blob table and XML generated.  A version imported from a\n"
	"WIM gives back its images (names, descriptions, boot index) with their\n"
	"Windows metadata; any other content is one image named after the item.\n"
	"The same content gives the same bytes every time.\n\n"
	"  -o, --output FILE   the WIM (with --split: the first part, e.g. install.swm;\n"
	"                      the others are install2.swm, install3.swm ...)\n"
	"  --split SIZE        split into parts of at most SIZE bytes (suffixes K, M, G\n"
	"                      are powers of 1024; 'fat32' is 4 GiB - 1), as Windows\n"
	"                      Setup reads install.swm from FAT32 USB media\n"
	"  --index N           only image N\n");

static int parse_size(const char *s, uint64_t *size_ret)
{
	char *end;
	unsigned long long v;

	if (strcmp(s, "fat32") == 0) {
		*size_ret = TSM_WIM_FAT32_PART_MAX;
		return 0;
	}
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	default: break;
	}
	if (*end || v < 4096)
		return -EINVAL;
	*size_ret = v;
	return 0;
}

/* Part @k's file name: FILE for the first, BASE<k>.EXT after it. */
static char *part_name(const char *out, size_t k)
{
	const char *dot = strrchr(out, '.'), *slash = strrchr(out, '/');
	size_t base = dot && (!slash || dot > slash) ? (size_t)(dot - out) : strlen(out);
	char *name;

	if (k == 1)
		return strdup(out);
	if (asprintf(&name, "%.*s%zu%s", (int)base, out, k, out + base) < 0)
		return NULL;
	return name;
}

static int export_part(struct tsm_store *store, struct tsm_image *image, const char *path,
		       struct tsm_progress *progress)
{
	const size_t bufsize = 4u << 20;
	struct tsm_blob_source *src;
	uint64_t size = tsm_image_size(image), off = 0;
	uint8_t *buf = malloc(bufsize);
	int fd, rc = buf ? tsm_store_blob_source_new(store, &src) : -ENOMEM;

	if (rc < 0) {
		free(buf);
		return rc;
	}
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0) {
		rc = -errno;
		tsm_error("cannot create %s: %s", path, strerror(-rc));
		goto out;
	}
	while (off < size) {
		ssize_t n = tsm_image_pread(image, src, buf, bufsize, off);

		if (n <= 0) {
			rc = n < 0 ? (int)n : -EIO;
			tsm_error("%s: reading at offset %llu failed", path, (unsigned long long)off);
			break;
		}
		if ((rc = cli_write_all(fd, buf, (size_t)n)) < 0) {
			tsm_error("writing %s: %s", path, strerror(-rc));
			break;
		}
		off += (uint64_t)n;
		tsm_progress_add(progress, (uint64_t)n);
	}
	if (close(fd) < 0 && rc == 0) {
		rc = -errno;
		tsm_error("writing %s: %s", path, strerror(-rc));
	}
	if (rc < 0)
		unlink(path);
out:
	tsm_store_blob_source_free(src);
	free(buf);
	return rc;
}

static int content_export(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "split", required_argument, NULL, 's' },
		{ "index", required_argument, NULL, 'x' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tsm_wim_content_options wo = { 0 };
	struct tsm_content_item item;
	const struct tsm_content_version *cur;
	struct tsm_image **parts = NULL;
	struct tsm_progress progress;
	struct tsm_store *store;
	struct tsm_pin *pin = NULL;
	const char *out = NULL;
	size_t nparts = 0;
	uint64_t total = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, "o:h", options, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 's':
			if (parse_size(optarg, &wo.part_size) < 0)
				return cli_usage_error("content export ", "invalid --split '%s': bytes"
						       " (at least 4096), with K, M or G, or 'fat32'",
						       optarg);
			break;
		case 'x': {
			char *end;
			long v = strtol(optarg, &end, 10);

			if (*end || !*optarg || v < 1 || v > 65535)
				return cli_usage_error("content export ", "invalid --index '%s'", optarg);
			wo.index = (int)v;
			break;
		}
		case 'h': fputs(_(export_help), stdout); return 0;
		default: return cli_bad_option("content export ", argv);
		}
	}
	if (argc - optind != 1 || !out)
		return cli_usage_error("content export ", "expected a content ID and -o FILE.wim");
	if (cli_open_store(cli, &store) < 0)
		return 1;
	if ((rc = tsm_content_get(store, argv[optind], &item)) < 0)
		goto out_close;
	cur = current_version(&item);
	/* Pinned: gc during a long export loses nothing. */
	if (!cur || cur->removed) {
		tsm_error("content %s has no current version", item.id);
		rc = -ENOENT;
	} else if ((rc = tsm_store_read_begin(store)) == 0) {
		rc = tsm_pin_content_version(store, cur->row_id, &pin);
		tsm_store_read_end(store);
	}
	if (rc == 0 && (rc = tsm_wim_layout_content(store, item.id, cur->row_id, &wo, &parts,
						    &nparts)) < 0)
		tsm_error("cannot lay out content %s as a WIM", item.id);
	for (size_t i = 0; rc == 0 && i < nparts; i++)
		total += tsm_image_size(parts[i]);
	tsm_progress_start(&progress, _("export"), total, cli->progress);
	for (size_t i = 0; rc == 0 && i < nparts; i++) {
		char *name = part_name(out, i + 1);

		rc = name ? export_part(store, parts[i], name, &progress) : -ENOMEM;
		if (rc == 0 && !cli->quiet)
			fprintf(stderr, _("%s: %llu bytes%s\n"), name,
				(unsigned long long)tsm_image_size(parts[i]),
				nparts > 1 ? "" : "");
		free(name);
	}
	tsm_progress_finish(&progress);
	tsm_wim_parts_free(parts, nparts);
	tsm_pin_release(pin);
	tsm_content_item_clear(&item);
out_close:
	tsm_store_close(store);
	return rc < 0 ? 1 : 0;
}

int cmd_content(struct cli *cli, int argc, char **argv)
{
	static const struct cli_subcommand subs[] = {
		{ "add", content_add },
		{ "list", content_list },
		{ "show", content_show },
		{ "rm", content_rm },
		{ "cat", content_cat },
		{ "export", content_export },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, "content", content_help, subs);
}
