/* tsmedia content add | list | show | rm | cat */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "json.h"
#include "tsmedia/content.h"
#include "tsmedia/log.h"
#include "tsmedia/store.h"

static const char content_help[] =
	"Usage: tsmedia [--store DIR] content COMMAND [ARGS]\n"
	"\n"
	"  add --kind KIND --name NAME [--version V] [--id ID] SOURCE\n"
	"                  import a directory or a file; prints the content ID\n"
	"  list [--json]   every content item\n"
	"  show ID [--json]\n"
	"                  an item, its versions and the files of the newest one\n"
	"  rm ID [--json]  remove an item (its data goes at the next gc)\n"
	"  cat ID PATH     a file's bytes, read back through the store\n"
	"\n"
	"KIND: boot-image, os-image, package, application, driver-package, prestart.\n"
	"IDs are a site code and five hex digits, like Configuration Manager's\n"
	"package IDs: TSM00001, PS100012.\n";

static const char add_help[] =
	"Usage: tsmedia [--store DIR] content add --kind KIND --name NAME\n"
	"                                         [--version V] [--id ID] [--as-file] SOURCE\n"
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
	"                  nothing references it\n"
	"  --as-file       SOURCE is an ISO image to keep as one file, not to take apart\n"
	"\n"
	"An ISO image as SOURCE is taken apart: its file tree (from UDF when it has\n"
	"one, else Joliet or Rock Ridge names) and its El Torito boot entries are\n"
	"imported, so media made from it boot as it did.\n"
	"\n"
	"SOURCE may hold files, directories and symlinks that stay inside it; FIFOs,\n"
	"sockets, devices and names that are not UTF-8 are refused, and nothing is\n"
	"changed when anything in SOURCE cannot be imported.\n";

static int content_add(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "kind", required_argument, NULL, 'k' },
		{ "name", required_argument, NULL, 'n' },
		{ "version", required_argument, NULL, 'v' },
		{ "id", required_argument, NULL, 'i' },
		{ "as-file", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tsm_content_add_options o = { .kind = TSM_KIND_COUNT, .progress = cli->progress };
	struct tsm_content_add_result res;
	struct tsm_store *store;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (tsm_content_kind_parse(optarg, &o.kind) < 0)
				return cli_usage_error("content add ",
						       "invalid --kind '%s': boot-image, os-image, package,"
						       " application, driver-package or prestart", optarg);
			break;
		case 'n': o.name = optarg; break;
		case 'v': o.version_label = optarg; break;
		case 'i': o.id = optarg; break;
		case 'f': o.as_file = true; break;
		case 'h': fputs(add_help, stdout); return 0;
		default: return cli_bad_option("content add ", argv);
		}
	}
	if (o.kind == TSM_KIND_COUNT)
		return cli_usage_error("content add ", "--kind is required");
	if (!o.name)
		return cli_usage_error("content add ", "--name is required");
	if (optind + 1 != argc)
		return cli_usage_error("content add ", optind >= argc ? "no SOURCE given"
								      : "one SOURCE only");
	o.source = argv[optind];
	if (cli_open_store(cli, &store) < 0)
		return 1;
	rc = tsm_content_add(store, &o, &res);
	tsm_store_close(store);
	if (rc < 0) {
		tsm_error("nothing was imported from %s", o.source);
		return 1;
	}
	printf("%s\n", res.id);
	fflush(stdout);
	if (!cli->quiet)
		fprintf(stderr, "%s version %lld: %llu files, %llu directories, %llu bytes\n", res.id,
			(long long)res.version, (unsigned long long)res.files,
			(unsigned long long)res.dirs, (unsigned long long)res.bytes);
	return 0;
}

static void json_version(struct json *j, const struct tsm_content_version *v)
{
	json_begin_object(j);
	json_key(j, "version"); json_int(j, v->version);
	json_key(j, "label"); json_string(j, v->label);
	json_key(j, "source"); json_string(j, v->source);
	json_key(j, "created"); json_int(j, v->created);
	json_key(j, "files"); json_uint(j, v->files);
	json_key(j, "bytes"); json_uint(j, v->bytes);
	json_key(j, "removed"); json_bool(j, v->removed);
	json_end_object(j);
}

static const struct tsm_content_version *current_version(const struct tsm_content_item *item)
{
	for (size_t i = item->nversions; i-- > 0;)
		if (!item->versions[i].removed)
			return &item->versions[i];
	return item->nversions ? &item->versions[item->nversions - 1] : NULL;
}

static void json_item_head(struct json *j, const struct tsm_content_item *item)
{
	const struct tsm_content_version *cur = current_version(item);

	json_key(j, "id"); json_string(j, item->id);
	json_key(j, "kind"); json_string(j, tsm_content_kind_name(item->kind));
	json_key(j, "name"); json_string(j, item->name);
	json_key(j, "created"); json_int(j, item->created);
	json_key(j, "version"); json_int(j, cur ? cur->version : 0);
	json_key(j, "label"); json_string(j, cur ? cur->label : NULL);
	json_key(j, "file_count"); json_uint(j, cur ? cur->files : 0);
	json_key(j, "bytes"); json_uint(j, cur ? cur->bytes : 0);
	json_key(j, "versions");
	json_begin_array(j);
	for (size_t i = 0; i < item->nversions; i++)
		json_version(j, &item->versions[i]);
	json_end_array(j);
}

static int parse_json_flag(int argc, char **argv, const char *help, const char *cmd,
			   int nargs, bool *as_json)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	*as_json = false;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'j': *as_json = true; break;
		case 'h': fputs(help, stdout); return 0;
		default: return cli_bad_option(cmd, argv);
		}
	}
	if (argc - optind != nargs)
		return cli_usage_error(cmd, nargs ? "expected a content ID" : "unexpected argument");
	return -1; /* go on */
}

static const char list_help[] =
	"Usage: tsmedia [--store DIR] content list [--json]\n\n"
	"Lists every content item: ID, kind, current version, files, bytes, name.\n";

static int content_list(struct cli *cli, int argc, char **argv)
{
	struct tsm_content_item *items;
	struct tsm_store *store;
	bool as_json;
	size_t n;
	int rc = parse_json_flag(argc, argv, list_help, "content list ", 0, &as_json);

	if (rc >= 0)
		return rc;
	if (cli_open_store(cli, &store) < 0)
		return 1;
	rc = tsm_content_list(store, &items, &n);
	tsm_store_close(store);
	if (rc < 0)
		return 1;
	if (as_json) {
		struct json j;

		json_init(&j, stdout);
		json_begin_array(&j);
		for (size_t i = 0; i < n; i++) {
			json_begin_object(&j);
			json_item_head(&j, &items[i]);
			json_end_object(&j);
		}
		json_end_array(&j);
		json_finish(&j);
	} else {
		printf("%-8s  %-14s  %7s  %8s  %14s  %s\n", "ID", "KIND", "VERSION", "FILES", "BYTES",
		       "NAME");
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
	return 0;
}

static const char *entry_type_name(enum tsm_entry_type t)
{
	return t == TSM_ENTRY_DIR ? "dir" : t == TSM_ENTRY_SYMLINK ? "symlink" : "file";
}

static void json_entries(struct json *j, const struct tsm_tree_entry *e, size_t n)
{
	json_begin_array(j);
	for (size_t i = 0; i < n; i++) {
		char hex[TSM_SHA256_HEX_LEN + 1];

		json_begin_object(j);
		json_key(j, "path"); json_string(j, e[i].path);
		json_key(j, "type"); json_string(j, entry_type_name(e[i].type));
		json_key(j, "mode"); json_uint(j, e[i].mode);
		json_key(j, "mtime"); json_int(j, e[i].mtime_ns / 1000000000);
		json_key(j, "mtime_ns"); json_int(j, e[i].mtime_ns);
		json_key(j, "attributes"); json_uint(j, e[i].attributes);
		json_key(j, "size"); json_uint(j, e[i].size);
		if (e[i].type == TSM_ENTRY_FILE) {
			tsm_hex_encode(e[i].sha256, TSM_SHA256_LEN, hex);
			json_key(j, "sha256"); json_string(j, hex);
		}
		if (e[i].type == TSM_ENTRY_SYMLINK) {
			json_key(j, "target"); json_string(j, e[i].link_target);
		}
		json_end_object(j);
	}
	json_end_array(j);
}

static void print_item_text(const struct tsm_content_item *item, const struct tsm_tree_entry *e,
			    size_t n)
{
	printf("ID:        %s\nKind:      %s\nName:      %s\n", item->id,
	       tsm_content_kind_name(item->kind), item->name);
	printf("Versions:\n");
	for (size_t i = 0; i < item->nversions; i++) {
		const struct tsm_content_version *v = &item->versions[i];
		char when[32];
		time_t t = (time_t)v->created;

		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", gmtime(&t));
		printf("  %lld%s%s%s  %s UTC  %llu files, %llu bytes  from %s%s\n",
		       (long long)v->version, v->label ? " (" : "", v->label ? v->label : "",
		       v->label ? ")" : "", when, (unsigned long long)v->files,
		       (unsigned long long)v->bytes, v->source, v->removed ? "  [removed]" : "");
	}
	printf("Files of the current version:\n");
	for (size_t i = 0; i < n; i++) {
		if (e[i].type == TSM_ENTRY_DIR)
			printf("  %-7s %14s  %s/\n", "dir", "", e[i].path);
		else if (e[i].type == TSM_ENTRY_SYMLINK)
			printf("  %-7s %14s  %s -> %s\n", "symlink", "", e[i].path, e[i].link_target);
		else
			printf("  %-7s %14llu  %s\n", "file", (unsigned long long)e[i].size, e[i].path);
	}
}

static const char show_help[] =
	"Usage: tsmedia [--store DIR] content show ID [--json]\n\n"
	"Shows an item: its kind, name, versions, and the files of its current\n"
	"version with their sizes (and, with --json, SHA-256, modes and times).\n";

static int content_show(struct cli *cli, int argc, char **argv)
{
	struct tsm_content_item item;
	struct tsm_tree_entry *entries = NULL;
	struct tsm_boot_entry *boots = NULL;
	struct tsm_store *store;
	size_t n = 0, nboots = 0;
	bool as_json;
	int rc = parse_json_flag(argc, argv, show_help, "content show ", 1, &as_json);

	if (rc >= 0)
		return rc;
	if (cli_open_store(cli, &store) < 0)
		return 1;
	rc = tsm_content_get(store, argv[optind], &item);
	if (rc == 0 && (rc = tsm_content_tree(store, argv[optind], 0, &entries, &n)) < 0)
		tsm_content_item_clear(&item);
	if (rc == 0 && as_json &&
	    (rc = tsm_content_boot_entries(store, argv[optind], 0, &boots, &nboots)) < 0) {
		tsm_tree_entries_free(entries, n);
		tsm_content_item_clear(&item);
	}
	tsm_store_close(store);
	if (rc < 0)
		return 1;
	if (as_json) {
		struct json j;

		json_init(&j, stdout);
		json_begin_object(&j);
		json_item_head(&j, &item);
		json_key(&j, "files"); json_entries(&j, entries, n);
		json_key(&j, "boot");
		json_begin_array(&j);
		for (size_t i = 0; i < nboots; i++) {
			const struct tsm_boot_entry *b = &boots[i];

			json_begin_object(&j);
			json_key(&j, "platform");
			json_string(&j, b->platform == TSM_BOOT_PLATFORM_UEFI   ? "uefi"
					: b->platform == TSM_BOOT_PLATFORM_BIOS ? "bios"
										: "other");
			json_key(&j, "platform_id"); json_uint(&j, b->platform);
			json_key(&j, "emulation"); json_uint(&j, b->emulation);
			json_key(&j, "load_size"); json_uint(&j, b->load_size);
			json_key(&j, "boot_info_table"); json_bool(&j, b->boot_info_table);
			json_key(&j, "path"); json_string(&j, b->path);
			json_key(&j, "hidden"); json_bool(&j, b->path == NULL);
			json_key(&j, "size"); json_uint(&j, b->size);
			json_end_object(&j);
		}
		json_end_array(&j);
		json_end_object(&j);
		json_finish(&j);
	} else {
		print_item_text(&item, entries, n);
	}
	tsm_boot_entries_free(boots, nboots);
	tsm_tree_entries_free(entries, n);
	tsm_content_item_clear(&item);
	return 0;
}

static const char rm_help[] =
	"Usage: tsmedia [--store DIR] content rm ID [--json]\n\n"
	"Removes a content item.  Its data stays until 'tsmedia gc' finds nothing\n"
	"referencing it (a reader that has it open keeps it until it closes).\n";

static int content_rm(struct cli *cli, int argc, char **argv)
{
	struct tsm_store *store;
	bool as_json;
	int rc = parse_json_flag(argc, argv, rm_help, "content rm ", 1, &as_json);
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
	if (as_json) {
		struct json j;

		json_init(&j, stdout);
		json_begin_object(&j);
		json_key(&j, "id"); json_string(&j, id);
		json_key(&j, "removed"); json_bool(&j, true);
		json_end_object(&j);
		json_finish(&j);
	} else if (!cli->quiet) {
		printf("removed %s (run 'tsmedia gc' to reclaim its space)\n", id);
	}
	return 0;
}

static const char cat_help[] =
	"Usage: tsmedia [--store DIR] content cat ID PATH\n\n"
	"Writes the bytes of file PATH (relative to the content's root) of the current\n"
	"version of ID to standard output, read back through the store.  Every chunk\n"
	"is checked before it is written: damage is an error, never wrong bytes.\n";

static int content_cat(struct cli *cli, int argc, char **argv)
{
	struct tsm_store *store;
	int rc;

	if (cli_wants_help(argc, argv)) {
		fputs(cat_help, stdout);
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

int cmd_content(struct cli *cli, int argc, char **argv)
{
	const char *sub;

	if (argc < 2) {
		fputs(content_help, stderr);
		return EXIT_USAGE;
	}
	sub = argv[1];
	argc--;
	argv++;
	optind = 0;
	if (strcmp(sub, "add") == 0)
		return content_add(cli, argc, argv);
	if (strcmp(sub, "list") == 0)
		return content_list(cli, argc, argv);
	if (strcmp(sub, "show") == 0)
		return content_show(cli, argc, argv);
	if (strcmp(sub, "rm") == 0)
		return content_rm(cli, argc, argv);
	if (strcmp(sub, "cat") == 0)
		return content_cat(cli, argc, argv);
	if (strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0 || strcmp(sub, "help") == 0) {
		fputs(content_help, stdout);
		return 0;
	}
	return cli_usage_error("content ", "unknown content command '%s'", sub);
}
