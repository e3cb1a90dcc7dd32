/* tsmedia media burn: every volume of one version of a CD/DVD media onto
 * discs, by the real xorriso, each disc read back and compared.
 *
 * xorriso runs as a child in its cdrecord emulation ("xorriso -as
 * cdrecord", xorrecord(1)/xorriso(1) of the libburnia project): dev= names
 * the drive (a /dev/srN burner, or "stdio:FILE", a file standing in for a
 * disc), blank=as_needed blanks a rewritable disc when it must, -nopad
 * writes the image and nothing after it, tsize= gives the track's size,
 * and "-" reads the track from standard input, which we stream the volume
 * into. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libudev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "media_cmds.h"
#include "media_io.h"
#include "tsmedia/i18n.h"
#include "tsmedia/hash.h"
#include "tsmedia/image.h"
#include "tsmedia/log.h"
#include "tsmedia/media.h"
#include "tsmedia/progress.h"

static const char burn_help[] = N_(
	"Usage: tsmedia [--store DIR] media burn NAME [--device DEV ...] [--yes] [--version N]\n"
	"\n"
	"Burns every volume of one version of a CD/DVD media (NAME.iso, or the set\n"
	"NAME.1.iso ... NAME.N.iso) with xorriso, each on its own disc, and reads each\n"
	"disc back and compares it with the media (every byte, and the SHA-256).\n"
	"Between volumes it asks for the next blank disc (on a terminal; --yes does\n"
	"not ask).  Exit status 0 when every disc reads back the media exactly.\n"
	"\n"
	"  --device DEV   the burner (default: the first /dev/srN); stdio:FILE burns to\n"
	"                 a file instead, as xorriso does.  Given more than once, volume\n"
	"                 K goes to the K-th device (the last one takes the rest)\n"
	"  --yes          do not ask for discs (scripts, and burners loaded in advance)\n"
	"  --version N    the media's version N (versions/NAME/N/; default: newest)\n");

/* xorriso on $PATH, or NULL (reported). */
static char *find_xorriso(void)
{
	const char *path = getenv("PATH");
	char *copy = strdup(path ? path : "/usr/bin:/bin"), *save = NULL, *found = NULL;

	for (char *dir = copy ? strtok_r(copy, ":", &save) : NULL; dir && !found;
	     dir = strtok_r(NULL, ":", &save)) {
		char *p;

		if (asprintf(&p, "%s/xorriso", *dir ? dir : ".") < 0)
			break;
		if (access(p, X_OK) == 0)
			found = p;
		else
			free(p);
	}
	free(copy);
	if (!found)
		tsm_error("no burner: xorriso is not installed (Debian: apt-get install xorriso);"
			  " media burn writes discs with it.  Nothing was burned");
	return found;
}

/* The first CD/DVD drive the kernel knows (sr0, sr1, ...), or NULL. */
static char *find_burner(void)
{
	struct udev *udev = udev_new();
	struct udev_enumerate *e = udev ? udev_enumerate_new(udev) : NULL;
	struct udev_list_entry *entry;
	char *found = NULL;

	if (e && udev_enumerate_add_match_subsystem(e, "block") == 0 &&
	    udev_enumerate_add_match_sysname(e, "sr*") == 0 && udev_enumerate_scan_devices(e) == 0) {
		udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e)) {
			struct udev_device *d = udev_device_new_from_syspath(
				udev, udev_list_entry_get_name(entry));
			const char *node = d ? udev_device_get_devnode(d) : NULL;

			if (node && !found)
				found = strdup(node);
			udev_device_unref(d);
		}
	}
	udev_enumerate_unref(e);
	udev_unref(udev);
	return found;
}

/* Runs xorriso burning @size bytes from the pipe we fill with volume @v;
 * its messages go to @log. */
static int burn_volume(struct cli *cli, struct media_sel *sel, size_t v, const char *xorriso,
		       const char *dev, FILE *log, uint8_t sha256[TSM_SHA256_LEN])
{
	struct tsm_image *image = sel->set->volumes[v].image;
	uint64_t size = tsm_image_size(image);
	char devarg[4200], tsize[48], label[64];
	struct tsm_progress progress;
	int pipefd[2], status, rc;
	pid_t pid;

	snprintf(devarg, sizeof(devarg), "dev=%s", dev);
	snprintf(tsize, sizeof(tsize), "tsize=%" PRIu64, size);
	snprintf(label, sizeof(label), _("burning %zu/%zu"), v + 1, sel->set->n);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return -errno;
	fflush(log);
	if ((pid = fork()) < 0) {
		rc = -errno;
		close(pipefd[0]);
		close(pipefd[1]);
		return rc;
	}
	if (pid == 0) {
		if (dup2(pipefd[0], STDIN_FILENO) < 0 || dup2(fileno(log), STDOUT_FILENO) < 0 ||
		    dup2(fileno(log), STDERR_FILENO) < 0)
			_exit(127);
		execl(xorriso, "xorriso", "-as", "cdrecord", "-v", devarg, "blank=as_needed", "-nopad",
		      tsize, "-", (char *)NULL);
		_exit(127);
	}
	close(pipefd[0]);
	tsm_progress_start(&progress, label, size, cli->progress);
	rc = media_image_write(sel->store, image, pipefd[1], _("xorriso's input"), &progress, false, 0,
			       sha256);
	tsm_progress_finish(&progress);
	close(pipefd[1]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char tail[1024] = "";
		long end;

		fflush(log);
		end = ftell(log);
		if (end > 0 && fseek(log, end > 900 ? end - 900 : 0, SEEK_SET) == 0) {
			size_t n = fread(tail, 1, sizeof(tail) - 1, log);

			tail[n] = '\0';
			fseek(log, 0, SEEK_END);
		}
		tsm_error("xorriso failed to burn volume %zu (%s) to %s (%s %d); its last words:\n%s",
			  v + 1, sel->set->volumes[v].file_name, dev,
			  WIFEXITED(status) ? _("exit status") : _("signal"),
			  WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), tail);
		return -EIO;
	}
	return rc;
}

/* Reads the disc in @dev back and compares it with volume @v. */
static int verify_volume(struct cli *cli, struct media_sel *sel, size_t v, const char *dev,
			 const uint8_t wrote[TSM_SHA256_LEN])
{
	struct tsm_image *image = sel->set->volumes[v].image;
	const char *path = strncmp(dev, "stdio:", 6) == 0 ? dev + 6 : dev;
	char hex_w[TSM_SHA256_HEX_LEN + 1], hex_r[TSM_SHA256_HEX_LEN + 1];
	uint8_t got[TSM_SHA256_LEN];
	struct tsm_progress progress;
	int fd = open(path, O_RDONLY | O_CLOEXEC), rc;

	if (fd < 0) {
		rc = -errno;
		tsm_error("cannot open %s to verify volume %zu: %s", path, v + 1, strerror(-rc));
		return rc;
	}
	tsm_progress_start(&progress, _("verifying"), tsm_image_size(image), cli->progress);
	rc = media_image_verify(sel->store, image, fd, path, &progress, got);
	tsm_progress_finish(&progress);
	close(fd);
	if (rc < 0 && rc != -EBADMSG)
		return rc;
	tsm_hex_encode(wrote, TSM_SHA256_LEN, hex_w);
	tsm_hex_encode(got, TSM_SHA256_LEN, hex_r);
	if (rc == 0 && memcmp(wrote, got, TSM_SHA256_LEN) != 0)
		rc = -EBADMSG;
	if (rc < 0) {
		tsm_error("verify failed: the disc in %s reads back SHA-256 %s, volume %zu (%s) is %s",
			  dev, hex_r, v + 1, sel->set->volumes[v].file_name, hex_w);
		return rc;
	}
	if (!cli->quiet)
		printf(_("volume %zu of %zu (%s, %" PRIu64 " bytes) burned to %s and read back:"
		       " SHA-256 %s matches\n"), v + 1, sel->set->n, sel->set->volumes[v].file_name,
		       tsm_image_size(image), dev, hex_w);
	return 0;
}

static int burn_all(struct cli *cli, struct media_sel *sel, char **devices, size_t ndevices,
		    bool yes)
{
	char *xorriso = find_xorriso();
	FILE *log = NULL;
	int rc = 0;

	if (!xorriso)
		return -ENOENT;
	/* Every drive there before a disc is burned. */
	for (size_t i = 0; i < ndevices && rc == 0; i++) {
		struct stat st;

		if (strncmp(devices[i], "stdio:", 6) != 0 && stat(devices[i], &st) < 0) {
			rc = -errno;
			tsm_error("no burner at %s: %s; nothing was burned", devices[i], strerror(-rc));
		}
	}
	if (rc == 0 && !(log = tmpfile()))
		rc = -errno;
	for (size_t v = 0; rc == 0 && v < sel->set->n; v++) {
		size_t k = v < ndevices ? v : ndevices - 1;
		uint8_t wrote[TSM_SHA256_LEN];

		if (!yes) {
			char question[4400];

			snprintf(question, sizeof(question),
				 _("Put a blank disc for volume %zu of %zu (%s) into %s, then press"
				   " Enter:"), v + 1, sel->set->n,
				 sel->set->volumes[v].file_name, devices[k]);
			if (!media_confirm(question, "")) {
				tsm_error("not confirmed: volume %zu and after were not burned", v + 1);
				rc = -ECANCELED;
				break;
			}
		}
		if ((rc = burn_volume(cli, sel, v, xorriso, devices[k], log, wrote)) == 0 &&
		    (rc = media_test_hook(devices[k])) == 0)
			rc = verify_volume(cli, sel, v, devices[k], wrote);
	}
	if (log)
		fclose(log);
	free(xorriso);
	return rc;
}

int media_burn(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "yes", no_argument, NULL, 'y' },
		{ "version", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	char **devices = NULL;
	size_t ndevices = 0;
	struct media_sel sel;
	int64_t number = 0;
	bool yes = false;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'd': {
			void *p = realloc(devices, (ndevices + 1) * sizeof(*devices));

			if (!p) {
				free(devices);
				return 1;
			}
			devices = p;
			devices[ndevices++] = optarg;
			break;
		}
		case 'y': yes = true; break;
		case 'v':
			if (media_parse_version("media burn ", optarg, &number) != 0) {
				free(devices);
				return EXIT_USAGE;
			}
			break;
		case 'h': fputs(_(burn_help), stdout); free(devices); return 0;
		default: free(devices); return cli_bad_option("media burn ", argv);
		}
	}
	if (argc - optind != 1) {
		free(devices);
		return cli_usage_error("media burn ", "expected a media NAME");
	}
	if (media_sel_open(cli, argv[optind], number, &sel) < 0) {
		free(devices);
		return 1;
	}
	if (sel.snap->info.def.form != TSM_MEDIA_CD_DVD ||
	    !strstr(sel.set->volumes[0].file_name, ".iso")) {
		tsm_error("media '%s' is not a CD/DVD media (it is %s): 'media burn' burns ISO"
			  " volumes; write USB media with 'tsmedia media write %s --device DEV'",
			  argv[optind], sel.set->volumes[0].file_name, argv[optind]);
		rc = -EINVAL;
	}
	char *found = NULL;
	if (rc == 0 && ndevices == 0) {
		if ((found = find_burner())) {
			devices = malloc(sizeof(*devices));
			if (devices) {
				devices[0] = found;
				ndevices = 1;
			} else {
				rc = -ENOMEM;
			}
		} else {
			tsm_error("no burner: no CD/DVD drive (/dev/srN) on this machine; give"
				  " --device DEV (stdio:FILE burns to a file).  Nothing was burned");
			rc = -ENODEV;
		}
	}
	if (rc == 0)
		rc = burn_all(cli, &sel, devices, ndevices, yes);
	media_sel_close(&sel);
	free(found);
	free(devices);
	return rc < 0 ? 1 : 0;
}
