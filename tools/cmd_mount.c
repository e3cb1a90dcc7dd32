/* tsmedia mount: runs tsmediafs, the FUSE daemon, on the same store. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tsmedia/i18n.h"
#include "tsmedia/log.h"

static const char mount_help[] = N_(
	"Usage: tsmedia [--store DIR] mount MOUNTPOINT [-f] [-o OPTION[,OPTION...]]\n"
	"\n"
	"Serves every media of the store as a live file under MOUNTPOINT: NAME.iso\n"
	"(NAME.1.iso ... NAME.N.iso for a set), assembled on read.  Runs tsmediafs;\n"
	"see 'tsmediafs --help' for its options (-f stays in the foreground,\n"
	"-o allow_other lets other users read the media).  Unmount with\n"
	"'fusermount3 -u MOUNTPOINT'.\n");

/* tsmediafs next to this program in the build tree, else on $PATH. */
static const char *daemon_path(char *buf, size_t n)
{
	char self[PATH_MAX];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (len > 0) {
		self[len] = '\0';
		snprintf(buf, n, "%s/../fs/tsmediafs", dirname(self));
		if (access(buf, X_OK) == 0)
			return buf;
		snprintf(buf, n, "%s/tsmediafs", dirname(self));
		if (access(buf, X_OK) == 0)
			return buf;
	}
	return "tsmediafs";
}

int cmd_mount(struct cli *cli, int argc, char **argv)
{
	char path[PATH_MAX + 32], *store_dir;
	char **args;
	int n = 0;

	if (cli_wants_help(argc, argv)) {
		fputs(_(mount_help), stdout);
		return 0;
	}
	if (argc < 2)
		return cli_usage_error("mount ", "expected a MOUNTPOINT");
	if (!(store_dir = cli_store_dir(cli)))
		return 1;
	if (!(args = calloc((size_t)argc + 4, sizeof(*args))))
		return 1;
	args[n++] = "tsmediafs";
	args[n++] = "--store";
	args[n++] = store_dir;
	for (int i = 1; i < argc; i++)
		args[n++] = argv[i];
	execvp(daemon_path(path, sizeof(path)), args);
	tsm_error("cannot run tsmediafs: %s", strerror(errno));
	free(args);
	free(store_dir);
	return 1;
}
