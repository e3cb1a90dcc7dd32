/* tsmedia capture: a directory (or an NTFS volume) into the store as an OS
 * image, the server side of capture media.
 *
 * wimlib captures SOURCE into an uncompressed WIM written to a temporary
 * file inside the store directory (same file system, no compression work);
 * that WIM is imported like any other (every blob SHA-1-checked) and
 * removed, whatever happens. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <wimlib.h>

#include "cli.h"
#include "tsmedia/i18n.h"
#include "tsmedia/content.h"
#include "tsmedia/log.h"
#include "tsmedia/store.h"

static const char capture_help[] = N_(
	"Usage: tsmedia [--store DIR] capture --name NAME [--kind KIND] [--id ID]\n"
	"                                     [--version V] [--description TEXT]\n"
	"                                     [--unix-data] [--ntfs] SOURCE\n"
	"\n"
	"Captures SOURCE into the store as one WIM image (as a capture task sequence\n"
	"would send it) and prints the content ID.  SOURCE is a directory, or with\n"
	"--ntfs an unmounted NTFS volume (a block device or a volume image), read\n"
	"with wimlib's NTFS-3G support so that security descriptors, named data\n"
	"streams, short names and reparse points are kept.\n"
	"\n"
	"  --name NAME         the content item's name, and the image's\n"
	"  --kind KIND         os-image (default) or boot-image\n"
	"  --id ID             a new version of (or a new item with) this ID\n"
	"  --version V         a version label\n"
	"  --description TEXT  the image's description\n"
	"  --unix-data         keep UNIX owners, groups and modes (wimlib's extension)\n"
	"  --ntfs              SOURCE is an NTFS volume\n"
	"\n"
	"The capture is written uncompressed to a temporary WIM in the store\n"
	"directory, imported, and removed.\n");

enum { OPT_DESCRIPTION = 256, OPT_UNIX_DATA, OPT_NTFS };

int cmd_capture(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "kind", required_argument, NULL, 'k' },
		{ "id", required_argument, NULL, 'i' },
		{ "version", required_argument, NULL, 'v' },
		{ "description", required_argument, NULL, OPT_DESCRIPTION },
		{ "unix-data", no_argument, NULL, OPT_UNIX_DATA },
		{ "ntfs", no_argument, NULL, OPT_NTFS },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tsm_content_add_options o = { .kind = TSM_KIND_OS_IMAGE, .progress = cli->progress };
	struct tsm_content_add_result res;
	const char *description = NULL, *source;
	struct tsm_store *store;
	WIMStruct *wim = NULL;
	int add_flags = 0, c, rc, fd = -1, ret = 1;
	char *tmp = NULL, *base;
	struct stat st;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'n': o.name = optarg; break;
		case 'k':
			if (tsm_content_kind_parse(optarg, &o.kind) < 0 ||
			    (o.kind != TSM_KIND_OS_IMAGE && o.kind != TSM_KIND_BOOT_IMAGE))
				return cli_usage_error("capture ", "invalid --kind '%s': os-image or"
						       " boot-image", optarg);
			break;
		case 'i': o.id = optarg; break;
		case 'v': o.version_label = optarg; break;
		case OPT_DESCRIPTION: description = optarg; break;
		case OPT_UNIX_DATA: add_flags |= WIMLIB_ADD_FLAG_UNIX_DATA; break;
		case OPT_NTFS: add_flags |= WIMLIB_ADD_FLAG_NTFS; break;
		case 'h': fputs(_(capture_help), stdout); return 0;
		default: return cli_bad_option("capture ", argv);
		}
	}
	if (!o.name)
		return cli_usage_error("capture ", "--name is required");
	if (optind + 1 != argc)
		return cli_usage_error("capture ", optind >= argc ? "no SOURCE given"
								  : N_("one SOURCE only"));
	source = argv[optind];
	if (stat(source, &st) < 0) {
		tsm_error("cannot capture %s: %s", source, strerror(errno));
		return 1;
	}
	if (!(add_flags & WIMLIB_ADD_FLAG_NTFS) && !S_ISDIR(st.st_mode)) {
		tsm_error("%s is not a directory (an NTFS volume needs --ntfs)", source);
		return 1;
	}
	if (cli_open_store(cli, &store) < 0)
		return 1;
	base = strrchr(source, '/') && strrchr(source, '/')[1] ? strrchr(source, '/') + 1 : (char *)source;
	if (asprintf(&tmp, "%s/capture-%.40s-XXXXXX", tsm_store_dir(store), base) < 0) {
		tmp = NULL;
		goto out;
	}
	for (char *p = tmp + strlen(tsm_store_dir(store)) + 1; *p; p++)
		if (*p == '/' || *p == ' ')
			*p = '_';
	if ((fd = mkstemp(tmp)) < 0) {
		tsm_error("cannot create a temporary file in %s: %s", tsm_store_dir(store),
			  strerror(errno));
		free(tmp);
		tmp = NULL;
		goto out;
	}
	wimlib_set_print_errors(true);
	if ((rc = wimlib_create_new_wim(WIMLIB_COMPRESSION_TYPE_NONE, &wim)) != 0 ||
	    (rc = wimlib_add_image(wim, source, o.name, NULL, add_flags)) != 0 ||
	    (description && (rc = wimlib_set_image_property(wim, 1, "DESCRIPTION", description)) != 0) ||
	    (rc = wimlib_write_to_fd(wim, fd, WIMLIB_ALL_IMAGES, 0, 0)) != 0) {
		tsm_error("cannot capture %s: %s%s", source, wimlib_get_error_string(rc),
			  rc == WIMLIB_ERR_UNSUPPORTED && (add_flags & WIMLIB_ADD_FLAG_NTFS)
				  ? _(" (this wimlib has no NTFS-3G support)") : "");
		goto out;
	}
	wimlib_set_print_errors(false);
	o.source = tmp;
	cli_import_begin();
	if (cli_import_end(source, tsm_content_add(store, &o, &res)) < 0)
		goto out;
	printf("%s\n", res.id);
	fflush(stdout);
	if (!cli->quiet)
		fprintf(stderr, _("%s version %lld: captured %s: %llu files, %llu directories, %llu"
			" bytes\n"), res.id, (long long)res.version, source,
			(unsigned long long)res.files, (unsigned long long)res.dirs,
			(unsigned long long)res.bytes);
	ret = 0;
out:
	wimlib_set_print_errors(false);
	if (wim)
		wimlib_free(wim);
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	tsm_store_close(store);
	return ret;
}
