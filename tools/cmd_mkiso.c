/* tsmedia mkiso: lay a content item out as an ISO image and write it. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "media_io.h"
#include "tsmedia/i18n.h"
#include "tsmedia/content.h"
#include "tsmedia/image.h"
#include "tsmedia/iso.h"
#include "tsmedia/log.h"
#include "tsmedia/media.h"
#include "tsmedia/progress.h"
#include "tsmedia/store.h"
#include "tsmedia/tree.h"

static const char mkiso_help[] = N_(
	"Usage: tsmedia [--store DIR] mkiso -o OUT [OPTIONS] SOURCE\n"
	"\n"
	"Writes an ISO image of SOURCE: a content ID, or a directory (imported first as\n"
	"a package named after it; its new content ID is printed on standard error).\n"
	"The image holds ISO 9660 (level 3), Joliet, Rock Ridge and a UDF 1.02 bridge\n"
	"over the same file data, and is the same bytes every time for the same\n"
	"content and options.\n"
	"\n"
	"  -o, --output OUT        the image file ('-': standard output)\n"
	"  -V, --volume-id LABEL   volume label (default CDROM)\n"
	"      --publisher S       publisher identifier\n"
	"      --joliet, --no-joliet            Joliet names (default on)\n"
	"      --rock-ridge, --no-rock-ridge    Rock Ridge POSIX names and modes (default on)\n"
	"      --udf, --no-udf                  UDF 1.02 bridge (default on)\n"
	"      --bios-boot PATH    El Torito no-emulation BIOS boot file (path in SOURCE)\n"
	"      --boot-load-size N  512-byte sectors the BIOS loads (default 4)\n"
	"      --boot-info-table   patch the isolinux boot info table into the boot file\n"
	"      --uefi-boot PATH    FAT image for the UEFI El Torito entry (path in SOURCE)\n"
	"      --hybrid-mbr FILE   MBR boot code template (isohdpfx.bin): a USB-bootable\n"
	"                          image\n"
	"      --hybrid-gpt        a GPT too, with the UEFI image as EFI System partition\n");

enum {
	OPT_PUBLISHER = 256,
	OPT_JOLIET,
	OPT_NO_JOLIET,
	OPT_RR,
	OPT_NO_RR,
	OPT_UDF,
	OPT_NO_UDF,
	OPT_BIOS_BOOT,
	OPT_LOAD_SIZE,
	OPT_BOOT_INFO,
	OPT_UEFI_BOOT,
	OPT_HYBRID_MBR,
	OPT_HYBRID_GPT,
	OPT_LAYOUT_ONLY,
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int read_mbr_template(const char *path, uint8_t *buf, size_t *len_ret)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		tsm_error("cannot open hybrid MBR template '%s': %s", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, 513, f);
	fclose(f);
	if (n < 432 || n > 512) {
		tsm_error("hybrid MBR template '%s' is %zu%s bytes; expected 432 to 512 (isohdpfx.bin)",
			  path, n, n > 512 ? "+" : "");
		return -1;
	}
	*len_ret = n;
	return 0;
}

static int newest_mtime(struct tsm_tree_node *n, void *arg)
{
	int64_t *t = arg;

	if (n->mtime_ns > *t)
		*t = n->mtime_ns;
	return 0;
}

/* SOURCE as a content ID, importing a directory first. */
static int resolve_source(struct cli *cli, struct tsm_store *store, const char *source,
			  char id[TSM_CONTENT_ID_LEN + 1])
{
	struct stat st;

	if (stat(source, &st) == 0 && S_ISDIR(st.st_mode)) {
		char *copy = strdup(source), *name;
		struct tsm_content_add_options o = { .kind = TSM_KIND_PACKAGE, .source = source,
						     .progress = cli->progress };
		struct tsm_content_add_result res;
		size_t len;
		int rc;

		if (!copy)
			return -ENOMEM;
		for (len = strlen(copy); len > 1 && copy[len - 1] == '/'; len--)
			copy[len - 1] = '\0';
		name = strrchr(copy, '/') && strrchr(copy, '/')[1] ? strrchr(copy, '/') + 1 : copy;
		o.name = name;
		cli_import_begin();
		rc = cli_import_end(source, tsm_content_add(store, &o, &res));
		free(copy);
		if (rc < 0)
			return rc;
		memcpy(id, res.id, TSM_CONTENT_ID_LEN + 1);
		fprintf(stderr, "%s\n", res.id);
		if (!cli->quiet)
			fprintf(stderr, _("imported %s as %s version %lld: %llu files, %llu bytes\n"),
				source, res.id, (long long)res.version,
				(unsigned long long)res.files, (unsigned long long)res.bytes);
		return 0;
	}
	if (tsm_content_id_normalize(source, id) < 0) {
		tsm_error("SOURCE '%s' is neither a directory nor a content ID", source);
		return -EINVAL;
	}
	return 0;
}

/* The current version of @id pinned, its tree built. */
static int build_tree(struct tsm_store *store, const char *id, struct tsm_tree **tree_ret,
		      struct tsm_pin **pin_ret)
{
	struct tsm_content_item item;
	const struct tsm_content_version *cur = NULL;
	struct tsm_tree *tree;
	int64_t newest = 0;
	int rc;

	if ((rc = tsm_content_get(store, id, &item)) < 0)
		return rc;
	for (size_t i = item.nversions; i-- > 0 && !cur;)
		if (!item.versions[i].removed)
			cur = &item.versions[i];
	if (!cur) {
		tsm_error("content %s has no current version", id);
		tsm_content_item_clear(&item);
		return -ENOENT;
	}
	if ((rc = tsm_store_read_begin(store)) < 0)
		goto out_clear;
	rc = tsm_pin_content_version(store, cur->row_id, pin_ret);
	tsm_store_read_end(store);
	if (rc < 0)
		goto out_clear;
	if ((rc = tsm_tree_new(&tree)) < 0)
		goto out_unpin;
	if ((rc = tsm_tree_add_content(tree, store, id, cur->version, "")) < 0) {
		tsm_tree_free(tree);
		goto out_unpin;
	}
	tsm_tree_walk(tree, newest_mtime, &newest);
	tree->root->mtime_ns = newest;
	*tree_ret = tree;
	tsm_content_item_clear(&item);
	return 0;
out_unpin:
	tsm_pin_release(*pin_ret);
	*pin_ret = NULL;
out_clear:
	tsm_content_item_clear(&item);
	return rc;
}

static int write_image(struct cli *cli, struct tsm_store *store, struct tsm_image *image,
		       const char *out)
{
	struct tsm_progress progress;
	bool to_stdout = strcmp(out, "-") == 0;
	int fd, rc;

	fd = to_stdout ? STDOUT_FILENO : open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		tsm_error("cannot create %s: %s", out, strerror(errno));
		return rc;
	}
	tsm_progress_start(&progress, "mkiso", tsm_image_size(image), cli->progress);
	rc = media_image_write(store, image, fd, to_stdout ? _("standard output") : out, &progress,
			       false, 0, NULL);
	tsm_progress_finish(&progress);
	if (!to_stdout) {
		if (rc == 0 && fsync(fd) < 0 && errno != EINVAL) {
			rc = -errno;
			tsm_error("writing %s: %s", out, strerror(errno));
		}
		if (close(fd) < 0 && rc == 0) {
			rc = -errno;
			tsm_error("writing %s: %s", out, strerror(errno));
		}
		if (rc < 0) {
			struct stat st;

			if (stat(out, &st) == 0 && S_ISREG(st.st_mode))
				unlink(out);
		}
	}
	return rc;
}

int cmd_mkiso(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "volume-id", required_argument, NULL, 'V' },
		{ "publisher", required_argument, NULL, OPT_PUBLISHER },
		{ "joliet", no_argument, NULL, OPT_JOLIET },
		{ "no-joliet", no_argument, NULL, OPT_NO_JOLIET },
		{ "rock-ridge", no_argument, NULL, OPT_RR },
		{ "no-rock-ridge", no_argument, NULL, OPT_NO_RR },
		{ "udf", no_argument, NULL, OPT_UDF },
		{ "no-udf", no_argument, NULL, OPT_NO_UDF },
		{ "bios-boot", required_argument, NULL, OPT_BIOS_BOOT },
		{ "boot-load-size", required_argument, NULL, OPT_LOAD_SIZE },
		{ "boot-info-table", no_argument, NULL, OPT_BOOT_INFO },
		{ "uefi-boot", required_argument, NULL, OPT_UEFI_BOOT },
		{ "hybrid-mbr", required_argument, NULL, OPT_HYBRID_MBR },
		{ "hybrid-gpt", no_argument, NULL, OPT_HYBRID_GPT },
		{ "layout-only", no_argument, NULL, OPT_LAYOUT_ONLY }, /* hidden: benchmarks */
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tsm_iso_options o = { .joliet = true, .rock_ridge = true, .udf = true };
	const char *out = NULL, *mbr_path = NULL;
	char id[TSM_CONTENT_ID_LEN + 1];
	uint8_t mbr[513];
	bool layout_only = false;
	struct tsm_store *store;
	struct tsm_tree *tree = NULL;
	struct tsm_pin *pin = NULL;
	struct tsm_image *image = NULL;
	struct tsm_blob_source *src = NULL;
	struct tsm_boot_choice boot = { 0 };
	int c, rc, ret = 1;

	while ((c = getopt_long(argc, argv, "ho:V:", options, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'V': o.volume_id = optarg; break;
		case OPT_PUBLISHER: o.publisher = optarg; break;
		case OPT_JOLIET: o.joliet = true; break;
		case OPT_NO_JOLIET: o.joliet = false; break;
		case OPT_RR: o.rock_ridge = true; break;
		case OPT_NO_RR: o.rock_ridge = false; break;
		case OPT_UDF: o.udf = true; break;
		case OPT_NO_UDF: o.udf = false; break;
		case OPT_BIOS_BOOT: o.bios_boot = optarg; break;
		case OPT_LOAD_SIZE: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || !*optarg || v < 1 || v > 65535)
				return cli_usage_error("mkiso ", "invalid --boot-load-size '%s': 1 to"
						       " 65535 sectors of 512 bytes", optarg);
			o.bios_load_size = (unsigned)v;
			break;
		}
		case OPT_BOOT_INFO: o.boot_info_table = true; break;
		case OPT_UEFI_BOOT: o.uefi_boot = optarg; break;
		case OPT_HYBRID_MBR: mbr_path = optarg; break;
		case OPT_HYBRID_GPT: o.hybrid_gpt = true; break;
		case OPT_LAYOUT_ONLY: layout_only = true; break;
		case 'h': fputs(_(mkiso_help), stdout); return 0;
		default: return cli_bad_option("mkiso ", argv);
		}
	}
	if (!out && !layout_only)
		return cli_usage_error("mkiso ", "-o OUT is required");
	if (optind + 1 != argc)
		return cli_usage_error("mkiso ", optind >= argc ? "no SOURCE given"
								: N_("one SOURCE only"));
	if ((o.bios_load_size || o.boot_info_table) && !o.bios_boot)
		return cli_usage_error("mkiso ", "--boot-load-size and --boot-info-table need --bios-boot");
	if (o.volume_id && strlen(o.volume_id) > 32)
		return cli_usage_error("mkiso ", "volume label '%s' is longer than 32 characters",
				       o.volume_id);
	if (mbr_path) {
		if (read_mbr_template(mbr_path, mbr, &o.hybrid_mbr_len) < 0)
			return 1;
		o.hybrid_mbr = mbr;
	}
	if (cli_open_store(cli, &store) < 0)
		return 1;
	if (resolve_source(cli, store, argv[optind], id) < 0 ||
	    build_tree(store, id, &tree, &pin) < 0)
		goto out_close;
	o.volume_time_ns = tree->root->mtime_ns;
	/* A content ID from a bootable ISO brings its own boot entries. */
	if (!o.bios_boot && !o.uefi_boot &&
	    tsm_boot_choice_from_content(store, id, 0, tree, &boot) < 0)
		goto out_free_tree;
	if (!o.bios_boot && !o.uefi_boot) {
		o.bios_boot = boot.bios_boot;
		o.bios_load_size = boot.load_size;
		o.boot_info_table = boot.boot_info_table;
		o.bios_emulation = boot.emulation;
		o.bios_load_segment = boot.load_segment;
		o.bios_system_type = boot.system_type;
		o.boot_catalog = boot.boot_catalog;
		o.grub2_boot_info = boot.grub2_boot_info;
		o.grub2_mbr = boot.grub2_mbr;
		o.hybrid_cyl_align = boot.cyl_align;
		o.uefi_boot = boot.uefi_boot;
		/* The imported system area, unless --hybrid-mbr/--hybrid-gpt. */
		if (!o.hybrid_mbr && !o.hybrid_gpt && boot.system_area) {
			o.system_area = boot.system_area;
			o.system_area_map = boot.system_area_map;
		}
		if (!o.hybrid_mbr && boot.hybrid_mbr_len) {
			o.hybrid_mbr = boot.hybrid_mbr;
			o.hybrid_mbr_len = boot.hybrid_mbr_len;
		}
		o.hybrid_gpt |= boot.hybrid_gpt;
	}
	if (tsm_store_blob_source_new(store, &src) < 0)
		goto out_free_tree;
	o.boot_source = src; /* the boot info table's checksum reads the boot file */
	{
		double t0 = now_ms();
		size_t nsegs;

		rc = tsm_iso_layout(tree, &o, &image);
		if (rc < 0) {
			tsm_error("cannot lay out an ISO image of %s", id);
			goto out_free_tree;
		}
		if (layout_only) {
			tsm_image_segments(image, &nsegs);
			printf("layout: %.2f ms, %zu segments, %llu bytes\n", now_ms() - t0, nsegs,
			       (unsigned long long)tsm_image_size(image));
			ret = 0;
			goto out_unref;
		}
	}
	if (write_image(cli, store, image, out) == 0)
		ret = 0;
out_unref:
	tsm_image_unref(image);
out_free_tree:
	if (src)
		tsm_store_blob_source_free(src);
	tsm_tree_free(tree);
	tsm_pin_release(pin);
out_close:
	tsm_boot_choice_clear(&boot);
	tsm_store_close(store);
	return ret;
}
