/* tsmedia media write: a USB media onto a stick, checked before a byte is
 * written and verified by reading it back.
 *
 * The device is looked at through udev (model, serial, whether it is a
 * whole disk, removable or read-only: the kernel's sysfs attributes, see
 * Documentation/ABI/stable/sysfs-block in the Linux sources) and libmount
 * (what of it is mounted or a swap).  The kernel refuses an O_EXCL open of
 * a block device that is mounted or held (open(2), "O_EXCL ... block
 * device"), which catches what was mounted after the check. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libmount/libmount.h>
#include <libudev.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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

static const char write_help[] = N_(
	"Usage: tsmedia [--store DIR] media write NAME --device DEV [--yes] [--force-fixed-disk]\n"
	"                                         [--version N]\n"
	"\n"
	"Writes a USB media (NAME.img) to the whole disk DEV (e.g. /dev/sdb), then reads\n"
	"it back and compares every byte and the SHA-256 with the media.  Refused,\n"
	"with nothing written: a device that is mounted (or a partition of it, or a\n"
	"swap), a partition rather than a disk, a read-only device, one smaller than\n"
	"the image, and one the kernel does not call removable (most USB sticks are;\n"
	"a USB hard disk may not be) unless --force-fixed-disk.  Shows the device's\n"
	"model, size and serial and asks before writing when standard input is a\n"
	"terminal; --yes writes without asking (scripts).  Exit status 0 when the\n"
	"device reads back the media exactly, 1 otherwise.\n"
	"\n"
	"  --device DEV        the whole disk to overwrite\n"
	"  --yes               do not ask\n"
	"  --force-fixed-disk  write to a disk the kernel does not call removable\n"
	"  --version N         the media's version N (versions/NAME/N/; default: newest)\n");

/* What we know of a block device. */
struct device_info {
	dev_t devno;
	bool is_partition, removable, read_only;
	uint64_t size;
	unsigned block_size;
	char model[256], serial[128], bus[32];
	dev_t *parts; /* its partitions */
	size_t nparts;
};

static void copy_trimmed(char *dst, size_t size, const char *src)
{
	size_t len;

	if (!src)
		return;
	while (*src == ' ')
		src++;
	len = strlen(src);
	while (len && (src[len - 1] == ' ' || src[len - 1] == '\n'))
		len--;
	snprintf(dst, size, "%.*s", (int)len, src);
}

static bool attr_is_1(struct udev_device *d, const char *name)
{
	const char *v = udev_device_get_sysattr_value(d, name);

	return v && v[0] == '1';
}

static int device_info_get(const char *dev, int fd, struct device_info *info)
{
	struct udev *udev = udev_new();
	struct udev_device *d = NULL;
	struct udev_enumerate *e = NULL;
	struct udev_list_entry *entry;
	struct stat st;
	int bs = 0;
	int rc = 0;

	memset(info, 0, sizeof(*info));
	if (fstat(fd, &st) < 0 || !S_ISBLK(st.st_mode)) {
		tsm_error("%s is not a block device (a disk such as /dev/sdb)", dev);
		rc = -ENOTBLK;
		goto out_unref;
	}
	info->devno = st.st_rdev;
	if (ioctl(fd, BLKGETSIZE64, &info->size) < 0 || ioctl(fd, BLKSSZGET, &bs) < 0) {
		rc = -errno;
		tsm_error("%s: cannot read its size: %s", dev, strerror(-rc));
		goto out_unref;
	}
	info->block_size = bs > 0 ? (unsigned)bs : 512;
	if (!udev || !(d = udev_device_new_from_devnum(udev, 'b', st.st_rdev))) {
		tsm_error("%s: the device is not in sysfs (udev)", dev);
		rc = -ENODEV;
		goto out_unref;
	}
	info->is_partition = udev_device_get_devtype(d) &&
			     strcmp(udev_device_get_devtype(d), "partition") == 0;
	info->removable = attr_is_1(d, "removable");
	info->read_only = attr_is_1(d, "ro");
	/* udev's names where udevd has run; else sysfs's (SCSI vendor and
	 * model, a loop device's backing file). */
	copy_trimmed(info->model, sizeof(info->model), udev_device_get_property_value(d, "ID_MODEL"));
	if (!info->model[0]) {
		char vendor[64] = "", model[128] = "";

		copy_trimmed(vendor, sizeof(vendor), udev_device_get_sysattr_value(d, "device/vendor"));
		copy_trimmed(model, sizeof(model), udev_device_get_sysattr_value(d, "device/model"));
		if (vendor[0] || model[0])
			snprintf(info->model, sizeof(info->model), "%s%s%s", vendor,
				 vendor[0] && model[0] ? " " : "", model);
		else if (udev_device_get_sysattr_value(d, "loop/backing_file"))
			snprintf(info->model, sizeof(info->model), _("loop device on %.200s"),
				 udev_device_get_sysattr_value(d, "loop/backing_file"));
	}
	copy_trimmed(info->serial, sizeof(info->serial),
		     udev_device_get_property_value(d, "ID_SERIAL_SHORT"));
	if (!info->serial[0])
		copy_trimmed(info->serial, sizeof(info->serial),
			     udev_device_get_sysattr_value(d, "device/serial"));
	copy_trimmed(info->bus, sizeof(info->bus), udev_device_get_property_value(d, "ID_BUS"));
	/* Its partitions: any of them mounted makes the disk busy. */
	if (!(e = udev_enumerate_new(udev)) || udev_enumerate_add_match_parent(e, d) < 0 ||
	    udev_enumerate_add_match_subsystem(e, "block") < 0 || udev_enumerate_scan_devices(e) < 0) {
		tsm_error("%s: cannot list its partitions", dev);
		rc = -EIO;
		goto out_unref;
	}
	udev_list_entry_foreach(entry, udev_enumerate_get_list_entry(e)) {
		struct udev_device *p = udev_device_new_from_syspath(udev, udev_list_entry_get_name(entry));
		void *q;

		if (!p)
			continue;
		if (udev_device_get_devnum(p) != st.st_rdev) {
			q = realloc(info->parts, (info->nparts + 1) * sizeof(*info->parts));
			if (!q) {
				udev_device_unref(p);
				rc = -ENOMEM;
				break;
			}
			info->parts = q;
			info->parts[info->nparts++] = udev_device_get_devnum(p);
		}
		udev_device_unref(p);
	}
out_unref:
	udev_enumerate_unref(e);
	udev_device_unref(d);
	udev_unref(udev);
	return rc;
}

static bool device_owns(const struct device_info *info, dev_t devno)
{
	if (devno == info->devno)
		return true;
	for (size_t i = 0; i < info->nparts; i++)
		if (info->parts[i] == devno)
			return true;
	return false;
}

/* Every mount and swap of the device or its partitions, named; -EBUSY
 * when there is one. */
static int device_check_unused(const char *dev, const struct device_info *info)
{
	struct libmnt_table *mounts = mnt_new_table_from_file("/proc/self/mountinfo");
	struct libmnt_table *swaps = mnt_new_table();
	struct libmnt_iter *it = mnt_new_iter(MNT_ITER_FORWARD);
	struct libmnt_fs *fs;
	int rc = 0;

	if (!mounts || !swaps || !it) {
		tsm_error("cannot read the mount table (/proc/self/mountinfo)");
		rc = -EIO;
		goto out_free;
	}
	while (mnt_table_next_fs(mounts, it, &fs) == 0) {
		if (device_owns(info, mnt_fs_get_devno(fs))) {
			tsm_error("%s is mounted: %s on %s; unmount it first (nothing was written)",
				  dev, mnt_fs_get_source(fs) ? mnt_fs_get_source(fs) : _("a partition"),
				  mnt_fs_get_target(fs));
			rc = -EBUSY;
		}
	}
	/* /proc/swaps: absent without swap support, which is no error. */
	if (mnt_table_parse_swaps(swaps, NULL) == 0) {
		mnt_reset_iter(it, MNT_ITER_FORWARD);
		while (mnt_table_next_fs(swaps, it, &fs) == 0) {
			struct stat st;
			const char *src = mnt_fs_get_source(fs);

			if (src && stat(src, &st) == 0 && S_ISBLK(st.st_mode) &&
			    device_owns(info, st.st_rdev)) {
				tsm_error("%s is in use as swap (%s); swapoff it first (nothing was"
					  " written)", dev, src);
				rc = -EBUSY;
			}
		}
	}
out_free:
	mnt_free_iter(it);
	mnt_unref_table(swaps);
	mnt_unref_table(mounts);
	return rc;
}

struct write_opts {
	const char *device;
	bool yes, force_fixed;
	int64_t number;
};

static int write_checked(struct cli *cli, struct media_sel *sel, const struct write_opts *o)
{
	struct tsm_image *image = sel->set->volumes[0].image;
	const char *file = sel->set->volumes[0].file_name;
	uint64_t size = tsm_image_size(image);
	uint8_t wrote[TSM_SHA256_LEN], read_back[TSM_SHA256_LEN];
	char hex_w[TSM_SHA256_HEX_LEN + 1], hex_r[TSM_SHA256_HEX_LEN + 1], vdir[160];
	struct tsm_progress progress;
	struct device_info info = { 0 };
	int fd, rc;

	/* A first look, read-only and shared: nothing is claimed yet. */
	if ((fd = open(o->device, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		rc = -errno;
		tsm_error("cannot open %s: %s", o->device, strerror(-rc));
		return rc;
	}
	rc = device_info_get(o->device, fd, &info);
	close(fd);
	if (rc < 0)
		goto out_free;
	if (info.is_partition) {
		tsm_error("%s is a partition: give the whole disk (the image holds its own"
			  " partition table); nothing was written", o->device);
		rc = -EINVAL;
	} else if (info.read_only) {
		tsm_error("%s is read-only (a write-protect switch?); nothing was written", o->device);
		rc = -EROFS;
	} else if ((rc = device_check_unused(o->device, &info)) < 0) {
		/* named above */
	} else if (!info.removable && !o->force_fixed) {
		tsm_error("%s (%s) is not a removable disk: refusing to overwrite what may be a"
			  " system disk; give --force-fixed-disk if it really is the stick"
			  " (nothing was written)", o->device,
			  info.model[0] ? info.model : _("model unknown"));
		rc = -EPERM;
	} else if (info.size < size) {
		tsm_error("%s holds %" PRIu64 " bytes, %s needs %" PRIu64 "; nothing was written",
			  o->device, info.size, file, size);
		rc = -ENOSPC;
	}
	if (rc < 0)
		goto out_free;
	media_sel_dir(sel, vdir, sizeof(vdir));
	if (!cli->quiet || !o->yes) {
		FILE *out = o->yes ? stdout : stderr;

		/* TRANSLATORS: media write; keep the values of the lines aligned. */
		fprintf(out, _("Media:     %s version %lld%s%s%s: %s, %llu bytes\n"),
			sel->snap->info.def.name, (long long)sel->snap->info.version,
			vdir[0] ? " (" : "", vdir, vdir[0] ? ")" : "", file, (unsigned long long)size);
		fprintf(out, _("Device:    %s\n"), o->device);
		fprintf(out, _("Model:     %s%s%s%s\n"), info.model[0] ? info.model : _("unknown"),
			info.bus[0] ? " (" : "", info.bus, info.bus[0] ? ")" : "");
		fprintf(out, _("Size:      %llu bytes (%.1f GB)\n"), (unsigned long long)info.size,
			info.size / 1e9);
		fprintf(out, _("Serial:    %s\n"), info.serial[0] ? info.serial : _("unknown"));
		fprintf(out, _("Removable: %s\n"),
			info.removable ? _("yes") : _("no (--force-fixed-disk)"));
	}
	if (!o->yes) {
		char question[512];

		/* TRANSLATORS: the answer stays "yes", whatever the language. */
		snprintf(question, sizeof(question), _("Everything on %s will be lost.  Type yes to"
						       " write:"), o->device);
		if (!media_confirm(question, "yes")) {
			tsm_error("not confirmed: nothing was written to %s", o->device);
			rc = -ECANCELED;
			goto out_free;
		}
	}
	/* Claimed for ourselves: the kernel refuses if anything mounted or
	 * opened it exclusively since the check. */
	if ((fd = open(o->device, O_WRONLY | O_EXCL | O_DIRECT | O_CLOEXEC)) < 0) {
		rc = -errno;
		tsm_error("cannot open %s for writing: %s%s; nothing was written", o->device,
			  strerror(-rc),
			  rc == -EBUSY ? _(" (mounted or in use by another program)") : "");
		goto out_free;
	}
	tsm_progress_start(&progress, _("writing"), size, cli->progress);
	rc = media_image_write(sel->store, image, fd, o->device, &progress, true, info.block_size,
			       wrote);
	tsm_progress_finish(&progress);
	if (rc == 0 && fsync(fd) < 0) {
		rc = -errno;
		tsm_error("flushing %s: %s", o->device, strerror(-rc));
	}
	if (close(fd) < 0 && rc == 0) {
		rc = -errno;
		tsm_error("closing %s: %s", o->device, strerror(-rc));
	}
	if (rc < 0 || (rc = media_test_hook(o->device)) < 0)
		goto out_free;
	/* Read back past every cache: what the device holds now. */
	if ((fd = open(o->device, O_RDONLY | O_DIRECT | O_CLOEXEC)) < 0) {
		rc = -errno;
		tsm_error("cannot open %s to verify it: %s", o->device, strerror(-rc));
		goto out_free;
	}
	tsm_progress_start(&progress, _("verifying"), size, cli->progress);
	rc = media_image_verify(sel->store, image, fd, o->device, &progress, read_back);
	tsm_progress_finish(&progress);
	close(fd);
	tsm_hex_encode(wrote, TSM_SHA256_LEN, hex_w);
	if (rc == 0 || rc == -EBADMSG) {
		tsm_hex_encode(read_back, TSM_SHA256_LEN, hex_r);
		if (rc == 0 && memcmp(wrote, read_back, TSM_SHA256_LEN) != 0)
			rc = -EBADMSG;
		if (rc < 0)
			tsm_error("verify failed: %s reads back SHA-256 %s, the media is %s", o->device,
				  hex_r, hex_w);
	}
	if (rc == 0 && !cli->quiet)
		printf(_("wrote %s (%" PRIu64 " bytes) to %s and read it back: SHA-256 %s matches\n"),
		       file, size, o->device, hex_w);
out_free:
	free(info.parts);
	return rc;
}

int media_write(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "yes", no_argument, NULL, 'y' },
		{ "force-fixed-disk", no_argument, NULL, 'F' },
		{ "version", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct write_opts o = { 0 };
	struct media_sel sel;
	const char *file;
	size_t len;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'd': o.device = optarg; break;
		case 'y': o.yes = true; break;
		case 'F': o.force_fixed = true; break;
		case 'v':
			if (media_parse_version("media write ", optarg, &o.number) != 0)
				return EXIT_USAGE;
			break;
		case 'h': fputs(_(write_help), stdout); return 0;
		default: return cli_bad_option("media write ", argv);
		}
	}
	if (argc - optind != 1 || !o.device)
		return cli_usage_error("media write ", "expected a media NAME and --device DEV");
	if (media_sel_open(cli, argv[optind], o.number, &sel) < 0)
		return 1;
	file = sel.set->volumes[0].file_name;
	len = strlen(file);
	if (sel.snap->info.def.form != TSM_MEDIA_USB || sel.set->n != 1 || len < 4 ||
	    strcmp(file + len - 4, ".img") != 0) {
		tsm_error("media '%s' is not a USB media (it is %s%s): 'media write' writes USB"
			  " disk images (--media usb); burn CD/DVD media with 'tsmedia media burn"
			  " %s'", argv[optind], file, sel.set->n > 1 ? _(", a set") : "", argv[optind]);
		rc = -EINVAL;
	} else {
		rc = write_checked(cli, &sel, &o);
	}
	media_sel_close(&sel);
	return rc < 0 ? 1 : 0;
}
