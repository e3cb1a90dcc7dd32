/* tsmedia media create | edit | list | show | rm | export */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "media_cmds.h"
#include "media_io.h"
#include "tsmedia/app.h"
#include "tsmedia/i18n.h"
#include "tsmedia/image.h"
#include "tsmedia/log.h"
#include "tsmedia/media.h"
#include "tsmedia/inspect.h"
#include "tsmedia/progress.h"
#include "tsmedia/site.h"
#include "tsmedia/store.h"

static const char media_help[] = N_(
	"Usage: tsmedia [--store DIR] media COMMAND [ARGS]\n"
	"\n"
	"  create --type TYPE --name NAME [options]\n"
	"                  define a media (data, capture, bootable, prestaged, standalone);\n"
	"                  it appears on the mount as NAME.iso, NAME.img or NAME.wim\n"
	"  edit NAME [--content ID[,ID...]] [ISO options]\n"
	"                  a new version of a media (open readers keep theirs)\n"
	"  list [--json]   every media\n"
	"  show NAME [--json]\n"
	"                  a media's definition, its volume files and their sizes\n"
	"  rm NAME         remove a media\n"
	"  export NAME -o FILE|DIR [--volume N] [--version N]\n"
	"                  write a media's bytes out (the same bytes as the mount); to a\n"
	"                  DIR: every volume of one version\n"
	"  write NAME --device DEV [--yes] [--force-fixed-disk] [--version N]\n"
	"                  write a USB media to a stick, verified by reading it back\n"
	"  burn NAME [--device DEV ...] [--yes] [--version N]\n"
	"                  burn each volume of a CD/DVD media with xorriso, verified\n"
	"  inspect PATH|NAME [--password-file FILE]\n"
	"                  read task sequence media as a client does; check the manifest\n");

static const char create_help[] = N_(
	"Usage: tsmedia [--store DIR] media create --type data --name NAME --content ID[,ID...]\n"
	"                                          [ISO options]\n"
	"       tsmedia [--store DIR] media create --type capture|bootable|prestaged|standalone\n"
	"                                          --name NAME [task sequence media options]\n"
	"       tsmedia [--store DIR] media edit NAME [--content ID[,ID...]] [ISO options]\n"
	"\n"
	"Defines a media (create) or stores a new version of one (edit).  A data media\n"
	"is an ISO of the given content, their trees merged at the root.  The media\n"
	"follows its content: a new version of a content item is on the media at the\n"
	"next open, with no command on the media.\n"
	"\n"
	"  --type TYPE            data, capture, bootable, prestaged or standalone (any case;\n"
	"                         stand-alone is standalone)\n"
	"  --name NAME            1 to 64 of A-Z a-z 0-9 . _ -\n"
	"  --content ID[,ID...]   content items on the media (repeatable)\n"
	"ISO options:\n"
	"  -V, --label LABEL      volume label (default: the media name)\n"
	"  --publisher TEXT       publisher field\n"
	"  --bios-boot PATH       El Torito BIOS boot file (a path on the media)\n"
	"  --boot-load-size N     512-byte sectors the BIOS loads (default 4)\n"
	"  --boot-info-table      patch an isolinux boot info table into the boot file\n"
	"  --uefi-boot PATH       FAT image for the UEFI El Torito entry (a path on the media)\n"
	"  --hybrid-mbr FILE      MBR boot code for dd to a USB disk (e.g. isohdpfx.bin)\n"
	"  --hybrid-gpt           a GPT with the EFI image as a partition, for USB UEFI boot\n"
	"  --no-joliet, --no-rock-ridge, --no-udf\n"
	"                         leave out a directory tree (all three are on by default)\n"
	"Form:\n"
	"  --media cd-dvd|usb     an ISO (NAME.iso, default) or a FAT32 disk image for a USB\n"
	"                         drive (NAME.img: dd it to the stick)\n"
	"  --partition-table mbr|gpt\n"
	"                         the USB image's partition table (default mbr)\n"
	"  --usb-bios-mbr PATH [--usb-bios-core PATH]\n"
	"                         BIOS boot from the stick (MBR tables): a file of the media\n"
	"                         holding MBR boot code (GRUB's boot.img) and one it loads\n"
	"                         from the sectors before the partition (core.img)\n"
	"  --size 650mb|4.7gb|8.5gb|unlimited\n"
	"                         volume size (any case): stand-alone media over it spans a\n"
	"                         set (default 4.7gb); USB and unlimited never span; not for\n"
	"                         prestaged media (one WIM)\n"
	"\n"
	"Task sequence media (--type capture|bootable|prestaged|standalone):\n"
	"  --boot-image ID        the boot image (stand-alone: default the task sequence's)\n"
	"  --task-sequence ID     stand-alone, prestaged: the task sequence to carry\n"
	"  --os-image ID --os-image-index N   prestaged: the OS image (N from 1)\n"
	"  --application ID, --package ID, --driver-package ID   more content (repeatable),\n"
	"                         each of the kind its option names; an application\n"
	"                         (ScopeId_.../Application_...) with all its deployment\n"
	"                         types' contents\n"
	"  --include-dependencies the deployment types the applications depend on, and\n"
	"                         theirs, each once (a missing one or a cycle is refused)\n"
	"  --password-file FILE | --no-password\n"
	"                         protect the variables and policy with a password, in\n"
	"                         Configuration Manager's format (the password is never\n"
	"                         stored); one is required, capture media takes neither.\n"
	"                         Without one, anyone holding the media reads them\n"
	"  --media-cipher aes256|aes128\n"
	"                         AES-256 (default; Configuration Manager 2107 and later) or\n"
	"                         AES-128 for older sites\n"
	"  --allow-weak-password  keep a password one GPU would guess within a year (refused\n"
	"                         otherwise, with the estimate; see the README)\n"
	"  --unattended, --unknown-computers\n"
	"  --site CODE --mode dynamic|site-based --management-point URL (repeatable, ordered)\n"
	"                         bootable, prestaged: where the media finds its site; each\n"
	"                         management point one of a site's (site-based: of CODE's);\n"
	"                         --mp is the same option, as in site add\n"
	"  --certificate FILE.p12 --certificate-password-file FILE\n"
	"                         a PKI media certificate (needed for HTTPS management points):\n"
	"                         Client Authentication, issued by a root CA of the site\n"
	"  --self-signed-certificate [--certificate-valid-from DATE --certificate-valid-until DATE]\n"
	"                         the default of bootable and prestaged media: valid a year\n"
	"  --user-device-affinity auto|admin|deny   bootable, prestaged\n"
	"  --variable NAME=VALUE  a media variable (repeatable; not a name starting with '_')\n"
	"  --prestart-command CMD [--prestart-files ID]\n"
	"                         what CMD runs by a relative path must be in the files\n"
	"  --valid-from DATE --valid-until DATE   stand-alone: when the media may run\n"
	"  --allow-step NAME      stand-alone: keep a step that needs a site (repeatable)\n"
	"  --created-by TEXT (50) --version TEXT (32) --comment TEXT (127)   prestaged\n"
	"Values of --type, --size, --mode, --media, --media-cipher, --partition-table and\n"
	"--user-device-affinity are matched in any case.\n"
	"Every option a type has no use for is refused, with the rule that says so.\n");

enum { OPT_TYPE = 256, OPT_NAME, OPT_CONTENT, OPT_PUBLISHER, OPT_BIOS, OPT_LOAD, OPT_BIT,
       OPT_UEFI, OPT_MBR, OPT_GPT, OPT_NOJ, OPT_NORR, OPT_NOUDF, OPT_MEDIA, OPT_PTABLE,
       OPT_SIZE, OPT_BOOT_IMAGE, OPT_TS, OPT_OS_IMAGE, OPT_OS_INDEX, OPT_APP,
       OPT_PKG, OPT_DRV, OPT_DEPS, OPT_PASSWORD_FILE, OPT_NO_PASSWORD, OPT_UNATTENDED,
       OPT_UNKNOWN, OPT_MODE, OPT_SITE, OPT_MP, OPT_CERT, OPT_CERT_PW, OPT_SELF_SIGNED,
       OPT_CERT_FROM, OPT_CERT_UNTIL, OPT_UDA, OPT_VARIABLE, OPT_PRESTART_CMD,
       OPT_PRESTART_FILES, OPT_VALID_FROM, OPT_VALID_UNTIL, OPT_CREATED_BY, OPT_VERSION,
       OPT_COMMENT, OPT_USB_MBR, OPT_USB_CORE, OPT_CIPHER, OPT_ALLOW_WEAK, OPT_ALLOW_STEP,
       OPT_HELP };

/* Secrets read from files for this command only; freed at its end. */
struct secrets {
	char *password;
	char *cert_password;
};

static int list_push(char ***items, size_t *n, const char *value)
{
	void *p = realloc(*items, (*n + 1) * sizeof(**items));

	if (!p)
		return -ENOMEM;
	*items = p;
	return ((*items)[(*n)++] = strdup(value)) ? 0 : -ENOMEM;
}

static int parse_size(const char *s, uint64_t *bytes)
{
	/* Sizes of the discs they name, as the wizard means them; any case (4.7GB). */
	if (strcasecmp(s, "650mb") == 0)
		*bytes = 333000ull * 2048;
	else if (strcasecmp(s, "4.7gb") == 0)
		*bytes = 2295104ull * 2048;
	else if (strcasecmp(s, "8.5gb") == 0)
		*bytes = 4173824ull * 2048;
	else if (strcasecmp(s, "unlimited") == 0)
		*bytes = 0;
	else
		return -EINVAL;
	return 0;
}

/* --type in any case; stand-alone is standalone, as Configuration Manager spells it. */
static int parse_media_type(const char *value, enum tsm_media_type *type_ret)
{
	char lower[32];
	size_t n = strlen(value);

	if (n >= sizeof(lower))
		return -EINVAL;
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)(value[i] >= 'A' && value[i] <= 'Z' ? value[i] + 32 : value[i]);
	if (strcmp(lower, "stand-alone") == 0)
		snprintf(lower, sizeof(lower), "standalone");
	return tsm_media_type_parse(lower, type_ret);
}

/* A positive decimal number, all of @value. */
static int parse_positive(const char *value, unsigned *n_ret)
{
	char *end;
	unsigned long v;

	if (!*value || strspn(value, "0123456789") != strlen(value))
		return -EINVAL;
	errno = 0;
	v = strtoul(value, &end, 10);
	if (errno || *end || v == 0 || v > 0xffffffffu)
		return -EINVAL;
	*n_ret = (unsigned)v;
	return 0;
}

static int parse_content_id(const char *cmd, const char *value, char **slot)
{
	char id[TSM_CONTENT_ID_LEN + 1];

	if (tsm_content_id_normalize(value, id) < 0)
		return cli_usage_error(cmd, "invalid ID '%s'", value);
	free(*slot);
	*slot = strdup(id);
	return 0;
}

static int parse_date_option(const char *cmd, const char *opt, const char *value,
			     int64_t *slot)
{
	if (tsm_date_parse(value, slot) < 0)
		return cli_usage_error(cmd, "invalid %s '%s': YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ",
				       opt, value);
	return 0;
}

static int add_content_list(struct tsm_media_def *d, const char *list)
{
	char *copy = strdup(list), *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char id[TSM_CONTENT_ID_LEN + 1];
		void *p;

		if (tsm_content_id_normalize(tok, id) < 0) {
			free(copy);
			return cli_usage_error("media create ", "invalid content ID '%s'", tok);
		}
		if (!(p = realloc(d->content, (d->ncontent + 1) * sizeof(*d->content)))) {
			free(copy);
			return -ENOMEM;
		}
		d->content = p;
		d->content[d->ncontent++] = strdup(id);
	}
	free(copy);
	return 0;
}

static int read_mbr_template(struct tsm_media_def *d, const char *path)
{
	uint8_t buf[513];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0) {
		tsm_error("cannot read hybrid MBR template %s: %s", path, strerror(errno));
		return -1;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n < 432 || n > 512) {
		tsm_error("%s: an MBR template is 432 to 512 bytes of boot code, this is %zd", path, n);
		return -1;
	}
	free(d->hybrid_mbr);
	if (!(d->hybrid_mbr = malloc((size_t)n)))
		return -1;
	memcpy(d->hybrid_mbr, buf, (size_t)n);
	d->hybrid_mbr_len = (size_t)n;
	return 0;
}

/* Adds @value to a list an edit's option replaces: the first use of the option in a command
 * empties the list the version had (*@replaced says it was). */
static int list_push_replacing(char ***items, size_t *n, bool *replaced, const char *value)
{
	if (!*replaced) {
		for (size_t i = 0; i < *n; i++)
			free((*items)[i]);
		*n = 0;
		*replaced = true;
	}
	return list_push(items, n, value);
}

static int replace_str(char **slot, const char *value)
{
	free(*slot);
	*slot = strdup(value);
	return *slot ? 0 : -ENOMEM;
}

/* Applies the options of create/edit to @d; returns 0, or an exit code. */
static int parse_def_options(int argc, char **argv, struct tsm_media_def *d, bool edit,
			     bool *type_given, struct secrets *sec)
{
	static const struct option options[] = {
		{ "type", required_argument, NULL, OPT_TYPE },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "content", required_argument, NULL, OPT_CONTENT },
		{ "label", required_argument, NULL, 'V' },
		{ "publisher", required_argument, NULL, OPT_PUBLISHER },
		{ "bios-boot", required_argument, NULL, OPT_BIOS },
		{ "boot-load-size", required_argument, NULL, OPT_LOAD },
		{ "boot-info-table", no_argument, NULL, OPT_BIT },
		{ "uefi-boot", required_argument, NULL, OPT_UEFI },
		{ "hybrid-mbr", required_argument, NULL, OPT_MBR },
		{ "hybrid-gpt", no_argument, NULL, OPT_GPT },
		{ "no-joliet", no_argument, NULL, OPT_NOJ },
		{ "no-rock-ridge", no_argument, NULL, OPT_NORR },
		{ "no-udf", no_argument, NULL, OPT_NOUDF },
		{ "media", required_argument, NULL, OPT_MEDIA },
		{ "partition-table", required_argument, NULL, OPT_PTABLE },
		{ "size", required_argument, NULL, OPT_SIZE },
		{ "boot-image", required_argument, NULL, OPT_BOOT_IMAGE },
		{ "task-sequence", required_argument, NULL, OPT_TS },
		{ "os-image", required_argument, NULL, OPT_OS_IMAGE },
		{ "os-image-index", required_argument, NULL, OPT_OS_INDEX },
		{ "application", required_argument, NULL, OPT_APP },
		{ "package", required_argument, NULL, OPT_PKG },
		{ "driver-package", required_argument, NULL, OPT_DRV },
		{ "include-dependencies", no_argument, NULL, OPT_DEPS },
		{ "password-file", required_argument, NULL, OPT_PASSWORD_FILE },
		{ "no-password", no_argument, NULL, OPT_NO_PASSWORD },
		{ "media-cipher", required_argument, NULL, OPT_CIPHER },
		{ "allow-weak-password", no_argument, NULL, OPT_ALLOW_WEAK },
		{ "unattended", no_argument, NULL, OPT_UNATTENDED },
		{ "unknown-computers", no_argument, NULL, OPT_UNKNOWN },
		{ "mode", required_argument, NULL, OPT_MODE },
		{ "site", required_argument, NULL, OPT_SITE },
		{ "management-point", required_argument, NULL, OPT_MP },
		{ "mp", required_argument, NULL, OPT_MP }, /* site add's spelling */
		{ "certificate", required_argument, NULL, OPT_CERT },
		{ "certificate-password-file", required_argument, NULL, OPT_CERT_PW },
		{ "self-signed-certificate", no_argument, NULL, OPT_SELF_SIGNED },
		{ "certificate-valid-from", required_argument, NULL, OPT_CERT_FROM },
		{ "certificate-valid-until", required_argument, NULL, OPT_CERT_UNTIL },
		{ "user-device-affinity", required_argument, NULL, OPT_UDA },
		{ "variable", required_argument, NULL, OPT_VARIABLE },
		{ "prestart-command", required_argument, NULL, OPT_PRESTART_CMD },
		{ "prestart-files", required_argument, NULL, OPT_PRESTART_FILES },
		{ "valid-from", required_argument, NULL, OPT_VALID_FROM },
		{ "valid-until", required_argument, NULL, OPT_VALID_UNTIL },
		{ "created-by", required_argument, NULL, OPT_CREATED_BY },
		{ "version", required_argument, NULL, OPT_VERSION },
		{ "comment", required_argument, NULL, OPT_COMMENT },
		{ "allow-step", required_argument, NULL, OPT_ALLOW_STEP },
		{ "usb-bios-mbr", required_argument, NULL, OPT_USB_MBR },
		{ "usb-bios-core", required_argument, NULL, OPT_USB_CORE },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *cmd = edit ? "media edit " : "media create ";
	bool content_replaced = false, mps_replaced = false, vars_replaced = false;
	bool steps_replaced = false;
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "V:h", options, NULL)) != -1 && rc == 0) {
		switch (c) {
		case OPT_TYPE:
			if (parse_media_type(optarg, &d->type) < 0)
				return cli_usage_error(cmd, "invalid --type '%s': data, capture, bootable,"
						       " prestaged or standalone", optarg);
			*type_given = true;
			break;
		case OPT_NAME:
			if (edit)
				return cli_usage_error(cmd, "the name is the first argument of edit");
			rc = replace_str(&d->name, optarg);
			break;
		case OPT_CONTENT:
			if (!content_replaced) {
				for (size_t i = 0; i < d->ncontent; i++)
					free(d->content[i]);
				d->ncontent = 0;
				content_replaced = true;
			}
			rc = add_content_list(d, optarg);
			break;
		case 'V': rc = replace_str(&d->label, optarg); break;
		case OPT_PUBLISHER: rc = replace_str(&d->publisher, optarg); break;
		case OPT_BIOS: rc = replace_str(&d->bios_boot, optarg); break;
		case OPT_LOAD: {
			char *end;
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || v == 0 || v > 65535)
				return cli_usage_error(cmd, "invalid --boot-load-size '%s': 1 to 65535",
						       optarg);
			d->boot_load_size = (unsigned)v;
			break;
		}
		case OPT_BIT: d->boot_info_table = true; break;
		case OPT_UEFI: rc = replace_str(&d->uefi_boot, optarg); break;
		case OPT_MBR: if (read_mbr_template(d, optarg) < 0) return 1; break;
		case OPT_GPT: d->hybrid_gpt = true; break;
		case OPT_NOJ: d->joliet = false; break;
		case OPT_NORR: d->rock_ridge = false; break;
		case OPT_NOUDF: d->udf = false; break;
		case OPT_MEDIA:
			if (strcasecmp(optarg, "cd-dvd") == 0)
				d->form = TSM_MEDIA_CD_DVD;
			else if (strcasecmp(optarg, "usb") == 0)
				d->form = TSM_MEDIA_USB;
			else
				return cli_usage_error(cmd, "invalid --media '%s': cd-dvd or usb", optarg);
			break;
		case OPT_PTABLE:
			if (strcasecmp(optarg, "mbr") == 0)
				d->partition_table = TSM_PARTITION_MBR;
			else if (strcasecmp(optarg, "gpt") == 0)
				d->partition_table = TSM_PARTITION_GPT;
			else
				return cli_usage_error(cmd, "invalid --partition-table '%s': mbr or gpt",
						       optarg);
			break;
		case OPT_SIZE:
			if (parse_size(optarg, &d->volume_size) < 0)
				return cli_usage_error(cmd, "invalid --size '%s': 650mb, 4.7gb, 8.5gb or"
						       " unlimited", optarg);
			d->volume_size_given = true;
			break;
		case OPT_BOOT_IMAGE: rc = parse_content_id(cmd, optarg, &d->boot_image); break;
		case OPT_TS: rc = parse_content_id(cmd, optarg, &d->task_sequence); break;
		case OPT_OS_IMAGE: rc = parse_content_id(cmd, optarg, &d->os_image); break;
		case OPT_OS_INDEX:
			if (parse_positive(optarg, &d->os_image_index) < 0)
				return cli_usage_error(cmd, "invalid --os-image-index '%s': the image's"
						       " number in the WIM, from 1", optarg);
			break;
		case OPT_APP:
			if (strncasecmp(optarg, "ScopeId_", 8) == 0) {
				char app[128];

				if (tsm_app_id_normalize(optarg, "Application", app) < 0)
					return cli_usage_error(cmd, "invalid --application '%s':"
							       " ScopeId_<GUID>/Application_<GUID>",
							       optarg);
				rc = list_push(&d->applications, &d->napplications, app);
				break;
			}
			/* a content ID */
			__attribute__((fallthrough));
		case OPT_PKG:
		case OPT_DRV: {
			char *id = NULL;
			unsigned char *p = realloc(d->extra_slots, d->nextra_content + 1);

			if (!p)
				return 1;
			if (!d->extra_slots) /* an edit's kept items: their kinds were checked */
				memset(p, 0, d->nextra_content + 1);
			d->extra_slots = p;
			if ((rc = parse_content_id(cmd, optarg, &id)) == 0)
				rc = list_push(&d->extra_content, &d->nextra_content, id);
			if (rc == 0)
				d->extra_slots[d->nextra_content - 1] = (unsigned char)(1 +
					(c == OPT_APP ? TSM_KIND_APPLICATION
					 : c == OPT_PKG ? TSM_KIND_PACKAGE : TSM_KIND_DRIVER_PACKAGE));
			free(id);
			break;
		}
		case OPT_DEPS: d->include_dependencies = true; break;
		case OPT_PASSWORD_FILE:
			if (tsm_password_read(optarg, &sec->password) < 0)
				return 1;
			d->password = sec->password;
			break;
		case OPT_NO_PASSWORD: d->no_password = true; break;
		case OPT_CIPHER:
			if (strcasecmp(optarg, "aes256") == 0)
				d->cipher = TSM_MEDIA_AES256;
			else if (strcasecmp(optarg, "aes128") == 0)
				d->cipher = TSM_MEDIA_AES128;
			else
				return cli_usage_error(cmd, "invalid --media-cipher '%s': aes256 or aes128",
						       optarg);
			break;
		case OPT_ALLOW_WEAK: d->allow_weak_password = true; break;
		case OPT_UNATTENDED: d->unattended = true; break;
		case OPT_UNKNOWN: d->unknown_computers = true; break;
		case OPT_MODE:
			if (strcasecmp(optarg, "dynamic") == 0)
				d->mode = TSM_MODE_DYNAMIC;
			else if (strcasecmp(optarg, "site-based") == 0)
				d->mode = TSM_MODE_SITE_BASED;
			else
				return cli_usage_error(cmd, "invalid --mode '%s': dynamic or site-based",
						       optarg);
			break;
		case OPT_SITE: rc = replace_str(&d->site, optarg); break;
		case OPT_MP:
			rc = list_push_replacing(&d->management_points, &d->nmanagement_points,
						 &mps_replaced, optarg);
			break;
		case OPT_CERT: d->cert_pfx_path = optarg; break;
		case OPT_CERT_PW:
			if (tsm_password_read(optarg, &sec->cert_password) < 0)
				return 1;
			d->cert_password = sec->cert_password;
			break;
		case OPT_SELF_SIGNED: d->cert_self_signed = true; break;
		case OPT_CERT_FROM:
			rc = parse_date_option(cmd, "--certificate-valid-from", optarg, &d->cert_valid_from);
			break;
		case OPT_CERT_UNTIL:
			rc = parse_date_option(cmd, "--certificate-valid-until", optarg,
					       &d->cert_valid_until);
			break;
		case OPT_UDA:
			if (strcasecmp(optarg, "auto") == 0)
				d->user_device_affinity = TSM_UDA_AUTO;
			else if (strcasecmp(optarg, "admin") == 0)
				d->user_device_affinity = TSM_UDA_ADMIN;
			else if (strcasecmp(optarg, "deny") == 0)
				d->user_device_affinity = TSM_UDA_DENY;
			else
				return cli_usage_error(cmd, "invalid --user-device-affinity '%s': auto,"
						       " admin or deny", optarg);
			break;
		case OPT_VARIABLE:
			rc = list_push_replacing(&d->variables, &d->nvariables, &vars_replaced, optarg);
			break;
		case OPT_ALLOW_STEP:
			if (!*optarg || strpbrk(optarg, "\n\r"))
				return cli_usage_error(cmd, "invalid --allow-step '%s': a step's name, or"
						       " its path group/step", optarg);
			rc = list_push_replacing(&d->allowed_steps, &d->nallowed_steps, &steps_replaced,
						 optarg);
			break;
		case OPT_PRESTART_CMD: rc = replace_str(&d->prestart_command, optarg); break;
		case OPT_PRESTART_FILES: rc = parse_content_id(cmd, optarg, &d->prestart_files); break;
		case OPT_VALID_FROM:
			rc = parse_date_option(cmd, "--valid-from", optarg, &d->valid_from);
			break;
		case OPT_VALID_UNTIL:
			rc = parse_date_option(cmd, "--valid-until", optarg, &d->valid_until);
			break;
		case OPT_CREATED_BY: rc = replace_str(&d->created_by, optarg); break;
		case OPT_VERSION: rc = replace_str(&d->version_text, optarg); break;
		case OPT_COMMENT: rc = replace_str(&d->comment, optarg); break;
		case OPT_USB_MBR: rc = replace_str(&d->usb_bios_mbr, optarg); break;
		case OPT_USB_CORE: rc = replace_str(&d->usb_bios_core, optarg); break;
		case 'h': fputs(_(create_help), stdout); return -1;
		default: return cli_bad_option(cmd, argv);
		}
	}
	/* The wizard's Security page offers a self-signed certificate, selected by default, or an
	 * imported PKI one: bootable and prestaged media always carry one. */
	if (!edit && (d->type == TSM_MEDIA_BOOTABLE || d->type == TSM_MEDIA_PRESTAGED) &&
	    !d->cert_pfx_path && !d->cert_self_signed && !d->cert_valid_from && !d->cert_valid_until)
		d->cert_self_signed = d->cert_defaulted = true;
	if (d->cert_self_signed && !d->cert_valid_until) {
		/* A year from now unless told otherwise, as the wizard proposes. */
		if (!d->cert_valid_from)
			d->cert_valid_from = (int64_t)time(NULL);
		d->cert_valid_until = d->cert_valid_from + 365 * 86400;
	} else if (d->cert_self_signed && !d->cert_valid_from) {
		d->cert_valid_from = (int64_t)time(NULL);
	}
	return rc < 0 ? 1 : rc;
}

static int media_create(struct cli *cli, int argc, char **argv)
{
	struct tsm_media_def d = { .joliet = true, .rock_ridge = true, .udf = true,
				   .volume_size = 2295104ull * 2048 };
	struct secrets sec = { 0 };
	struct tsm_store *store;
	bool type_given = false;
	int64_t version;
	int rc = parse_def_options(argc, argv, &d, false, &type_given, &sec);

	if (rc != 0) {
		tsm_password_free(sec.password);
		tsm_password_free(sec.cert_password);
		tsm_media_def_clear(&d);
		return rc < 0 ? 0 : rc;
	}
	if (optind < argc) {
		rc = cli_usage_error("media create ", "unexpected argument '%s' (options take the"
				     " form --name VALUE)", argv[optind]);
		tsm_password_free(sec.password);
		tsm_password_free(sec.cert_password);
		tsm_media_def_clear(&d);
		return rc;
	}
	if (!type_given || !d.name) {
		tsm_password_free(sec.password);
		tsm_password_free(sec.cert_password);
		tsm_media_def_clear(&d);
		return cli_usage_error("media create ", !type_given ? "--type is required"
								   : N_("--name is required"));
	}
	if (cli_open_store(cli, &store) < 0) {
		tsm_password_free(sec.password);
		tsm_password_free(sec.cert_password);
		tsm_media_def_clear(&d);
		return 1;
	}
	rc = tsm_media_save(store, &d, false, &version);
	tsm_store_close(store);
	if (rc == 0 && !cli->quiet)
		printf(_("created media %s (%s, version %lld)\n"), d.name, tsm_media_type_name(d.type),
		       (long long)version);
	if (rc == 0 && d.cert_defaulted)
		tsm_info("media '%s': no certificate option: it carries a self-signed media certificate"
			 " (%s), the wizard's default; --certificate FILE.p12 imports a PKI one instead",
			 d.name, d.cert_summary ? d.cert_summary : "");
	else if (rc < 0)
		tsm_error("media '%s' was not created", d.name);
	tsm_password_free(sec.password);
	tsm_password_free(sec.cert_password);
	tsm_media_def_clear(&d);
	return rc < 0 ? 1 : 0;
}

static int media_edit(struct cli *cli, int argc, char **argv)
{
	struct tsm_media_info info;
	struct secrets sec = { 0 };
	struct tsm_store *store;
	bool type_given = false;
	int64_t version;
	int rc;

	if (cli_wants_help(argc, argv)) {
		fputs(_(create_help), stdout);
		return 0;
	}
	if (argc < 2 || argv[1][0] == '-')
		return cli_usage_error("media edit ", "expected a media NAME");
	if (cli_open_store(cli, &store) < 0)
		return 1;
	if (tsm_media_get(store, argv[1], &info) < 0) {
		tsm_store_close(store);
		return 1;
	}
	optind = 2;
	rc = parse_def_options(argc, argv, &info.def, true, &type_given, &sec);
	if (rc == 0 && type_given)
		rc = cli_usage_error("media edit ", "the type of a media does not change: remove it"
				     " and create it again");
	/* Neither password option: the protection stays as it is, and the rendered files carry
	 * over unless the change reaches them (render.c); else it is given again. */
	if (!info.def.password && !info.def.no_password)
		info.def.keep_protection = true;
	else
		info.def.password_protected = info.def.weak_password = false;
	if (rc == 0 && optind < argc)
		rc = cli_usage_error("media edit ", "unexpected argument '%s'", argv[optind]);
	if (rc == 0) {
		rc = tsm_media_save(store, &info.def, true, &version) < 0 ? 1 : 0;
		if (rc == 0 && !cli->quiet)
			printf(_("media %s is now version %lld\n"), info.def.name, (long long)version);
	}
	tsm_password_free(sec.password);
	tsm_password_free(sec.cert_password);
	tsm_media_info_clear(&info);
	tsm_store_close(store);
	return rc < 0 ? 0 : rc;
}

static const char *mode_name(const struct tsm_media_def *d)
{
	return d->mode == TSM_MODE_SITE_BASED ? "site-based" : "dynamic";
}

static const char *uda_name(enum tsm_uda uda)
{
	switch (uda) {
	case TSM_UDA_AUTO: return "auto";
	case TSM_UDA_ADMIN: return "admin";
	case TSM_UDA_DENY: return "deny";
	default: return NULL;
	}
}

/* The media variables, secret-looking values masked (as media inspect masks them). */
static char **variables_masked(const struct tsm_media_def *d)
{
	char **v = calloc(d->nvariables + 1, sizeof(*v));

	for (size_t i = 0; v && i < d->nvariables; i++) {
		if (!tsm_media_variable_secret(d->variables[i]))
			v[i] = strdup(d->variables[i]);
		else if (asprintf(&v[i], "%.*s=********", (int)strcspn(d->variables[i], "="),
				  d->variables[i]) < 0)
			v[i] = NULL;
	}
	return v;
}

static void strings_free(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

static struct json_object *json_date(int64_t t)
{
	char buf[32];

	if (!t)
		return NULL;
	tsm_date_format(t, buf);
	return json_object_new_string(buf);
}

/* A media definition, as list and show write it, in a new object. */
static struct json_object *json_def(const struct tsm_media_def *d)
{
	char **vars = variables_masked(d);
	struct json_object *cert = NULL;
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "name", cli_json_string(d->name));
	json_object_object_add(o, "type", cli_json_string(tsm_media_type_name(d->type)));
	json_object_object_add(o, "content", cli_json_strings(d->content, d->ncontent));
	json_object_object_add(o, "label", cli_json_string(d->label ? d->label : d->name));
	json_object_object_add(o, "publisher", cli_json_string(d->publisher));
	json_object_object_add(o, "bios_boot", cli_json_string(d->bios_boot));
	json_object_object_add(o, "boot_load_size", json_object_new_uint64(d->boot_load_size));
	json_object_object_add(o, "boot_info_table", json_object_new_boolean(d->boot_info_table));
	json_object_object_add(o, "uefi_boot", cli_json_string(d->uefi_boot));
	json_object_object_add(o, "hybrid_mbr", json_object_new_boolean(d->hybrid_mbr_len > 0));
	json_object_object_add(o, "hybrid_gpt", json_object_new_boolean(d->hybrid_gpt));
	json_object_object_add(o, "joliet", json_object_new_boolean(d->joliet));
	json_object_object_add(o, "rock_ridge", json_object_new_boolean(d->rock_ridge));
	json_object_object_add(o, "udf", json_object_new_boolean(d->udf));
	json_object_object_add(o, "media",
			       json_object_new_string(d->form == TSM_MEDIA_USB ? "usb" : "cd-dvd"));
	json_object_object_add(o, "size", json_object_new_uint64(d->volume_size));
	json_object_object_add(o, "boot_image", cli_json_string(d->boot_image));
	json_object_object_add(o, "task_sequence", cli_json_string(d->task_sequence));
	json_object_object_add(o, "os_image", cli_json_string(d->os_image));
	json_object_object_add(o, "site", cli_json_string(d->site));
	json_object_object_add(o, "mode", json_object_new_string(mode_name(d)));
	json_object_object_add(o, "management_points",
			       cli_json_strings(d->management_points, d->nmanagement_points));
	json_object_object_add(o, "variables", cli_json_strings(vars, vars ? d->nvariables : 0));
	strings_free(vars, d->nvariables);
	json_object_object_add(o, "media_guid", cli_json_string(d->media_guid));
	json_object_object_add(o, "password_protected",
			       json_object_new_boolean(d->password_protected));
	json_object_object_add(o, "media_cipher", cli_json_string(
		d->type == TSM_MEDIA_DATA ? NULL : d->cipher == TSM_MEDIA_AES128 ? "aes128" : "aes256"));
	json_object_object_add(o, "weak_password_allowed", json_object_new_boolean(d->weak_password));
	json_object_object_add(o, "exposed", cli_json_string(
		d->type != TSM_MEDIA_DATA && d->type != TSM_MEDIA_CAPTURE && !d->password_protected
			? tsm_media_exposure(d) : NULL));
	json_object_object_add(o, "certificate", cli_json_string(d->cert_summary));
	json_object_object_add(o, "partition_table", json_object_new_string(
		d->partition_table == TSM_PARTITION_GPT ? "gpt" : "mbr"));
	/* Every other setting, so each can be seen again (null or empty when unset). */
	json_object_object_add(o, "os_image_index", json_object_new_uint64(d->os_image_index));
	json_object_object_add(o, "extra_content",
			       cli_json_strings(d->extra_content, d->nextra_content));
	json_object_object_add(o, "applications",
			       cli_json_strings(d->applications, d->napplications));
	json_object_object_add(o, "include_dependencies",
			       json_object_new_boolean(d->include_dependencies));
	json_object_object_add(o, "unattended", json_object_new_boolean(d->unattended));
	json_object_object_add(o, "unknown_computers", json_object_new_boolean(d->unknown_computers));
	json_object_object_add(o, "user_device_affinity",
			       cli_json_string(uda_name(d->user_device_affinity)));
	json_object_object_add(o, "prestart_command", cli_json_string(d->prestart_command));
	json_object_object_add(o, "prestart_files", cli_json_string(d->prestart_files));
	json_object_object_add(o, "valid_from", json_date(d->valid_from));
	json_object_object_add(o, "valid_until", json_date(d->valid_until));
	json_object_object_add(o, "allowed_steps",
			       cli_json_strings(d->allowed_steps, d->nallowed_steps));
	json_object_object_add(o, "created_by", cli_json_string(d->created_by));
	json_object_object_add(o, "prestaged_version", cli_json_string(d->version_text));
	json_object_object_add(o, "comment", cli_json_string(d->comment));
	if (d->cert_summary) {
		cert = json_object_new_object();
		json_object_object_add(cert, "subject", cli_json_string(d->cert_subject));
		json_object_object_add(cert, "issuer", cli_json_string(d->cert_issuer));
		json_object_object_add(cert, "self_signed", json_object_new_boolean(!d->cert_is_pki));
		json_object_object_add(cert, "not_before", json_date(d->cert_not_before));
		json_object_object_add(cert, "not_after", json_date(d->cert_not_after));
		json_object_object_add(cert, "sha1", cli_json_string(d->cert_sha1));
	}
	json_object_object_add(o, "certificate_details", cert);
	return o;
}

static int media_list(struct cli *cli, int argc, char **argv)
{
	struct tsm_media_info *list;
	struct tsm_store *store;
	bool as_json;
	size_t n;
	int rc = cli_parse_json_args(argc, argv, media_help, "media list ", NULL, &as_json);

	if (rc >= 0)
		return rc;
	if (cli_open_store(cli, &store) < 0)
		return 1;
	rc = tsm_media_list(store, &list, &n);
	tsm_store_close(store);
	if (rc < 0)
		return 1;
	if (as_json) {
		struct json_object *a = json_object_new_array();

		for (size_t i = 0; i < n; i++) {
			struct json_object *o = json_def(&list[i].def);

			json_object_object_add(o, "version", json_object_new_int64(list[i].version));
			json_object_array_add(a, o);
		}
		rc = cli_json_print(a);
	} else {
		/* TRANSLATORS: the header of media list, over columns of 24, 10
		 * and 7 (right) characters and the content IDs. */
		fputs(_("NAME                      TYPE        VERSION  CONTENT\n"), stdout);
		for (size_t i = 0; i < n; i++) {
			printf("%-24s  %-10s  %7lld  ", list[i].def.name,
			       tsm_media_type_name(list[i].def.type), (long long)list[i].version);
			for (size_t k = 0; k < list[i].def.ncontent; k++)
				printf("%s%s", k ? "," : "", list[i].def.content[k]);
			printf("\n");
		}
	}
	tsm_media_list_free(list, n);
	return rc; /* 0, or 1 when the JSON could not be written */
}

/* The architecture of the media's boot image (a Windows PE WIM's), or NULL. */
static char *boot_arch(struct tsm_store *store, const struct tsm_media_snapshot *snap)
{
	const char *id = snap->info.def.boot_image;
	void *v = NULL;
	size_t len;

	for (size_t i = 0; id && i < snap->ncontent; i++)
		if (strcmp(snap->content[i].id, id) == 0 &&
		    tsm_content_meta(store, id, snap->content[i].version, "boot.arch", &v, &len) == 0)
			return v;
	return NULL;
}

static struct json_object *json_eltorito_entry(const char *platform, unsigned id,
					       unsigned load_size, const char *path)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "platform", json_object_new_string(platform));
	json_object_object_add(o, "platform_id", json_object_new_uint64(id));
	json_object_object_add(o, "emulation", json_object_new_string("none"));
	json_object_object_add(o, "load_size", json_object_new_uint64(load_size));
	json_object_object_add(o, "path", cli_json_string(path));
	return o;
}

/* The boot entries volume @v has, one line each. */
static void print_boot_entries(const struct tsm_volume *v)
{
	if (v->bios_boot)
		printf(_("  %-32s El Torito BIOS (platform 0x00), no emulation, load size %u: %s\n"),
		       v->file_name, v->bios_load_size, v->bios_boot);
	if (v->uefi_boot)
		printf(_("  %-32s El Torito UEFI (platform 0xEF), no emulation, load size %u%s: %s\n"),
		       v->file_name, v->uefi_load_size,
		       v->uefi_load_size > 1 ? "" : _(" (to the image's end)"), v->uefi_boot);
	if (v->usb_efi)
		printf(_("  %-32s UEFI from the FAT partition: %s\n"), v->file_name, v->usb_efi);
	if (v->usb_bios)
		printf(_("  %-32s BIOS from the MBR (tsmedia's MBR and boot sector code): %s\n"),
		       v->file_name, v->usb_bios);
	if (!v->bios_boot && !v->uefi_boot && !v->usb_efi && !v->usb_bios) {
		size_t n = strlen(v->file_name);

		printf("  %-32s %s\n", v->file_name,
		       n > 4 && strcmp(v->file_name + n - 4, ".wim") == 0
			       ? _("none: a WIM to apply to a disk, which boots from the files it holds")
			       : _("none: does not boot"));
	}
}

static const char show_help[] = N_(
	"Usage: tsmedia [--store DIR] media show NAME [--json]\n"
	"\n"
	"Shows a media's definition, every setting it was given (variables whose name\n"
	"looks secret are masked), its certificate (subject, issuer, dates, thumbprint),\n"
	"its boot entries, its volume files and their sizes, and its versions.\n");

static void print_list(const char *label, char *const *v, size_t n)
{
	if (!n)
		return;
	printf("%-10s ", label);
	for (size_t i = 0; i < n; i++)
		printf("%s%s", i ? ", " : "", v[i]);
	printf("\n");
}

/* Every setting of a task sequence media that is set, one line each. */
static void print_ts_settings(const struct tsm_media_def *d)
{
	char **vars = variables_masked(d);
	char when[32];

	if (d->cert_summary) {
		char from[32], until[32];

		tsm_date_format(d->cert_not_before, from);
		tsm_date_format(d->cert_not_after, until);
		if (d->cert_subject)
			printf(_("  subject %s, issuer %s, valid %s to %s, SHA-1 %s\n"), d->cert_subject,
			       d->cert_issuer ? d->cert_issuer : "-", from, until,
			       d->cert_sha1 ? d->cert_sha1 : "-");
	}
	printf(_("Cipher:    %s\n"), d->cipher == TSM_MEDIA_AES128 ? "aes128" : "aes256");
	if (d->boot_image)
		printf(_("Boot image: %s\n"), d->boot_image);
	if (d->task_sequence)
		printf(_("Task sequence: %s\n"), d->task_sequence);
	if (d->os_image)
		printf(_("OS image:  %s (index %u)\n"), d->os_image, d->os_image_index ? d->os_image_index : 1);
	print_list(_("More content:"), d->extra_content, d->nextra_content);
	print_list(_("Applications:"), d->applications, d->napplications);
	if (d->include_dependencies)
		fputs(_("Include dependencies: yes\n"), stdout);
	if (d->site)
		printf(_("Site:      %s, %s\n"), d->site, mode_name(d));
	print_list(_("Management points:"), d->management_points, d->nmanagement_points);
	if (vars)
		print_list(_("Variables:"), vars, d->nvariables);
	strings_free(vars, d->nvariables);
	if (d->type != TSM_MEDIA_CAPTURE)
		printf(_("Unattended: %s\n"), d->unattended ? _("yes") : _("no"));
	if (d->type == TSM_MEDIA_BOOTABLE || d->type == TSM_MEDIA_PRESTAGED)
		printf(_("Unknown computers: %s\n"), d->unknown_computers ? _("yes") : _("no"));
	if (uda_name(d->user_device_affinity))
		printf(_("User device affinity: %s\n"), uda_name(d->user_device_affinity));
	if (d->prestart_command)
		printf(_("Prestart:  %s%s%s\n"), d->prestart_command,
		       d->prestart_files ? _(", files ") : "", d->prestart_files ? d->prestart_files : "");
	if (d->valid_from) {
		tsm_date_format(d->valid_from, when);
		printf(_("Valid from: %s\n"), when);
	}
	if (d->valid_until) {
		tsm_date_format(d->valid_until, when);
		printf(_("Valid until: %s\n"), when);
	}
	print_list(_("Allowed steps:"), d->allowed_steps, d->nallowed_steps);
	if (d->created_by)
		printf(_("Created by: %s\n"), d->created_by);
	if (d->version_text)
		printf(_("Prestaged version: %s\n"), d->version_text);
	if (d->comment)
		printf(_("Comment:   %s\n"), d->comment);
}

static int media_show(struct cli *cli, int argc, char **argv)
{
	int64_t *kept = NULL;
	size_t nkept = 0;
	struct tsm_media_snapshot *snap;
	struct tsm_volume_set *set;
	struct tsm_store *store;
	char *arch = NULL;
	bool as_json;
	int rc = cli_parse_json_args(argc, argv, show_help, "media show ", N_("a media NAME"), &as_json);

	if (rc >= 0)
		return rc;
	if (cli_open_store(cli, &store) < 0)
		return 1;
	rc = tsm_media_snapshot_take(store, argv[optind], false, &snap);
	if (rc == 0 && (rc = tsm_media_layout(store, snap, &set)) < 0)
		tsm_media_snapshot_free(snap);
	if (rc == 0)
		arch = boot_arch(store, snap);
	if (rc == 0 && (rc = tsm_media_snapshot_numbers(store, argv[optind], &kept, &nkept)) < 0) {
		free(arch);
		tsm_volume_set_free(set);
		tsm_media_snapshot_free(snap);
	}
	tsm_store_close(store);
	if (rc < 0)
		return 1;
	if (as_json) {
		struct json_object *doc = json_def(&snap->info.def), *cv = json_object_new_array(),
				   *vols = json_object_new_array();

		json_object_object_add(doc, "architecture", cli_json_string(arch)); /* NULL: null */
		json_object_object_add(doc, "version", json_object_new_int64(snap->info.version));
		json_object_object_add(doc, "snapshot", cli_json_string(snap->key));
		for (size_t i = 0; i < snap->ncontent; i++) {
			struct json_object *o = json_object_new_object();

			json_object_object_add(o, "id", cli_json_string(snap->content[i].id));
			json_object_object_add(o, "version",
					       json_object_new_int64(snap->content[i].version));
			json_object_array_add(cv, o);
		}
		json_object_object_add(doc, "content_versions", cv);
		for (size_t i = 0; i < set->n; i++) {
			const struct tsm_volume *v = &set->volumes[i];
			struct json_object *o = json_object_new_object(), *boot = json_object_new_array();

			json_object_object_add(o, "file", cli_json_string(v->file_name));
			json_object_object_add(o, "size", json_object_new_uint64(tsm_image_size(v->image)));
			if (v->bios_boot)
				json_object_array_add(boot, json_eltorito_entry("bios", 0x00,
										v->bios_load_size,
										v->bios_boot));
			if (v->uefi_boot)
				json_object_array_add(boot, json_eltorito_entry("uefi", 0xEF,
										v->uefi_load_size,
										v->uefi_boot));
			if (v->usb_efi) {
				struct json_object *e = json_object_new_object();

				json_object_object_add(e, "platform", json_object_new_string("uefi-disk"));
				json_object_object_add(e, "path", cli_json_string(v->usb_efi));
				json_object_array_add(boot, e);
			}
			if (v->usb_bios) {
				struct json_object *e = json_object_new_object();

				json_object_object_add(e, "platform", json_object_new_string("bios-disk"));
				json_object_object_add(e, "path", cli_json_string(v->usb_bios));
				json_object_array_add(boot, e);
			}
			json_object_object_add(o, "boot", boot);
			json_object_array_add(vols, o);
		}
		json_object_object_add(doc, "volumes", vols);
		media_show_versions_json(doc, snap, set, kept, nkept);
		rc = cli_json_print(doc);
	} else {
		const struct tsm_media_def *d = &snap->info.def;

		/* TRANSLATORS: media show; keep the values of the lines aligned. */
		printf(_("Name:      %s\nType:      %s\nVersion:   %lld\nLabel:     %s\n"), d->name,
		       tsm_media_type_name(d->type), (long long)snap->info.version,
		       d->label ? d->label : d->name);
		fputs(_("Content:  "), stdout);
		for (size_t i = 0; i < snap->ncontent; i++)
			printf(_(" %s (version %lld)"), snap->content[i].id,
			       (long long)snap->content[i].version);
		printf("\n");
		if (arch)
			printf(_("Architecture: %s (the boot image's)\n"), arch);
		if (d->hybrid_mbr_len && d->hybrid_gpt)
			fputs(_("Boot entries (and a hybrid MBR and GPT):\n"), stdout);
		else if (d->hybrid_mbr_len)
			fputs(_("Boot entries (and a hybrid MBR):\n"), stdout);
		else if (d->hybrid_gpt)
			fputs(_("Boot entries (and a hybrid GPT):\n"), stdout);
		else
			fputs(_("Boot entries:\n"), stdout);
		for (size_t i = 0; i < set->n; i++)
			print_boot_entries(&set->volumes[i]);
		if (d->type != TSM_MEDIA_DATA) {
			printf(_("Media GUID: %s\n"), d->media_guid ? d->media_guid : "-");
			if (d->password_protected)
				printf(_("Password:  yes: variables and policy are encrypted (%s)%s\n"),
				       d->cipher == TSM_MEDIA_AES128 ? "AES-128" : "AES-256",
				       d->weak_password ? _("; the password is weak, kept because of"
							    " --allow-weak-password") : "");
			else if (d->type == TSM_MEDIA_CAPTURE)
				fputs(_("Password:  none (capture media)\n"), stdout);
			else
				printf(_("Password:  none: %s\n"), _(tsm_media_exposure(d)));
			if (d->cert_summary)
				printf(_("Certificate: %s\n"), d->cert_summary);
			print_ts_settings(d);
			if (d->type == TSM_MEDIA_BOOTABLE || d->type == TSM_MEDIA_PRESTAGED ||
			    d->type == TSM_MEDIA_STANDALONE)
				fputs(_("Note:      packages on the media are not encrypted (as in"
					" Configuration Manager); keep the media physically safe, or\n"
					"           deliver sensitive content from the network instead\n"),
				      stdout);
		}
		fputs(_("Volumes:\n"), stdout);
		for (size_t i = 0; i < set->n; i++)
			printf(_("  %-32s %15llu bytes\n"), set->volumes[i].file_name,
			       (unsigned long long)tsm_image_size(set->volumes[i].image));
		media_show_versions(snap, set, kept, nkept);
	}
	free(arch);
	free(kept);
	tsm_volume_set_free(set);
	tsm_media_snapshot_free(snap);
	return rc; /* 0, or 1 when the JSON could not be written */
}

static int media_rm(struct cli *cli, int argc, char **argv)
{
	struct tsm_store *store;
	bool as_json;
	int rc = cli_parse_json_args(argc, argv, media_help, "media rm ", N_("a media NAME"), &as_json);

	if (rc >= 0)
		return rc;
	if (cli_open_store(cli, &store) < 0)
		return 1;
	rc = tsm_media_rm(store, argv[optind]);
	tsm_store_close(store);
	if (rc < 0)
		return 1;
	if (as_json)
		printf("{\"name\":\"%s\",\"removed\":true}\n", argv[optind]); /* name is [A-Za-z0-9._-] */
	else if (!cli->quiet)
		printf(_("removed media %s\n"), argv[optind]);
	return 0;
}

/* Streams @image to @fd through the one reader. */
static int export_image(struct tsm_store *store, struct tsm_image *image, int fd,
			const char *what, struct tsm_progress *progress)
{
	return media_image_write(store, image, fd, what, progress, false, 0, NULL);
}

static const char inspect_help[] = N_(
	"Usage: tsmedia [--store DIR] media inspect PATH|NAME [--password-file FILE]\n"
	"                                            [--show-secrets] [--json]\n"
	"\n"
	"Reads Configuration Manager task sequence media, tsmedia's or anyone's, the way\n"
	"a booting client does: TsmBootstrap.ini, the variables (with the password, or\n"
	"the fixed key of media without one), the policy's task sequence and packages\n"
	"(with the password or the media GUID), the media certificate's subject and\n"
	"dates; and, on media tsmedia made, every file against the manifest on\n"
	"whichever volume it is.  Secrets (the certificate, password variables, the\n"
	"task sequence's credentials) are masked unless --show-secrets.  A wrong or\n"
	"missing password is an error.  PATH is an ISO (the first of a set:\n"
	"NAME.1.iso finds NAME.2.iso ... beside it) or a directory (a USB stick, a\n"
	"copy) or a prestaged WIM (SMS/data of its first image, no manifest); NAME\n"
	"is a media of the store, exported to $TMPDIR to be read (a USB\n"
	"image or a prestaged WIM: its SMS/data read from the store, no manifest).\n"
	"Exit status 0 when every file matches, 1 otherwise.\n");

/* The volumes of a set beside its first: NAME.1.iso, NAME.2.iso, ... */
static int inspect_volumes(const char *path, char ***paths_ret, size_t *n_ret)
{
	size_t len = strlen(path), n = 0;
	char **paths = NULL;

	if (len > 6 && strcmp(path + len - 6, ".1.iso") == 0) {
		for (unsigned v = 1;; v++) {
			char *p;
			struct stat st;

			if (asprintf(&p, "%.*s.%u.iso", (int)(len - 6), path, v) < 0)
				return -ENOMEM;
			if (stat(p, &st) < 0) {
				free(p);
				break;
			}
			list_push(&paths, &n, p);
			free(p);
		}
	} else {
		list_push(&paths, &n, path);
	}
	*paths_ret = paths;
	*n_ret = n;
	return 0;
}

/* A media of the store, written to temporary files for reading. */
static int inspect_export(struct cli *cli, const char *name, char *dir, char ***paths_ret,
			  size_t *n_ret)
{
	struct tsm_media_snapshot *snap;
	struct tsm_volume_set *set;
	struct tsm_store *store;
	int rc;

	if (cli_open_store(cli, &store) < 0)
		return -1;
	rc = tsm_media_snapshot_take(store, name, true, &snap);
	if (rc == 0 && (rc = tsm_media_layout(store, snap, &set)) < 0)
		tsm_media_snapshot_free(snap);
	if (rc < 0) {
		tsm_store_close(store);
		return rc;
	}
	*paths_ret = NULL;
	*n_ret = 0;
	for (size_t i = 0; rc == 0 && i < set->n; i++) {
		char *p;
		int fd;

		if (asprintf(&p, "%s/%s", dir, set->volumes[i].file_name) < 0) {
			rc = -ENOMEM;
			break;
		}
		fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		rc = fd < 0 ? -errno : export_image(store, set->volumes[i].image, fd, p, NULL);
		if (fd >= 0)
			close(fd);
		list_push(paths_ret, n_ret, p);
		free(p);
	}
	tsm_volume_set_free(set);
	tsm_media_snapshot_free(snap);
	tsm_store_close(store);
	return rc;
}

/* Returns 0, or 1 when the JSON could not be written. */
static int inspect_print_json(const struct tsm_inspect_result *r, bool ok)
{
	struct json_object *doc = json_object_new_object(), *vars = json_object_new_array();
	struct json_object *o;

	json_object_object_add(doc, "volumes", json_object_new_uint64(r->volumes));
	json_object_object_add(doc, "media_type", cli_json_string(r->media_type));
	json_object_object_add(doc, "password_required",
			       json_object_new_boolean(r->password_required));
	json_object_object_add(doc, "unattended", json_object_new_boolean(r->unattended));
	json_object_object_add(doc, "cipher", cli_json_string(r->cipher));
	for (size_t i = 0; i < r->nvars; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "name", cli_json_string(r->vars[i].name));
		json_object_object_add(o, "value", cli_json_string(r->vars[i].value));
		json_object_object_add(o, "secret", json_object_new_boolean(r->vars[i].secret));
		json_object_array_add(vars, o);
	}
	json_object_object_add(doc, "variables", vars);
	o = NULL; /* null when there is none */
	if (r->has_cert) {
		o = json_object_new_object();
		json_object_object_add(o, "subject", cli_json_string(r->cert_subject));
		json_object_object_add(o, "issuer", cli_json_string(r->cert_issuer));
		json_object_object_add(o, "not_before", json_object_new_int64(r->cert_not_before));
		json_object_object_add(o, "not_after", json_object_new_int64(r->cert_not_after));
		json_object_object_add(o, "sha1", cli_json_string(r->cert_sha1));
		json_object_object_add(o, "private_key", json_object_new_boolean(r->cert_has_key));
	}
	json_object_object_add(doc, "certificate", o);
	o = NULL;
	if (r->has_policy) {
		o = json_object_new_object();
		json_object_object_add(o, "cipher", cli_json_string(r->policy_cipher));
		json_object_object_add(o, "task_sequence", cli_json_string(r->ts_id));
		json_object_object_add(o, "name", cli_json_string(r->ts_name));
		json_object_object_add(o, "advertisement", cli_json_string(r->adv_id));
		json_object_object_add(o, "boot_image", cli_json_string(r->boot_image_id));
		json_object_object_add(o, "packages", cli_json_strings(r->packages, r->npackages));
		json_object_object_add(o, "sequence", cli_json_string(r->sequence));
	}
	json_object_object_add(doc, "policy", o);
	o = NULL;
	if (r->has_manifest) {
		o = json_object_new_object();
		json_object_object_add(o, "files", json_object_new_uint64(r->files_listed));
		json_object_object_add(o, "match", json_object_new_uint64(r->files_ok));
		json_object_object_add(o, "bytes", json_object_new_uint64(r->bytes_ok));
		json_object_object_add(o, "differ", json_object_new_uint64(r->files_bad));
		json_object_object_add(o, "missing", json_object_new_uint64(r->files_missing));
		json_object_object_add(o, "unchecked", json_object_new_uint64(r->files_unchecked));
		json_object_object_add(o, "problems", cli_json_strings(r->problems, r->nproblems));
	}
	json_object_object_add(doc, "manifest", o);
	json_object_object_add(doc, "ok", json_object_new_boolean(ok));
	return cli_json_print(doc);
}

static void inspect_print(const struct tsm_inspect_result *r)
{
	char from[32], until[32];

	/* TRANSLATORS: media inspect; keep the values of the lines aligned. */
	printf(_("Volumes:   %u\n"), r->volumes);
	printf(_("Media:     %s, %s%s\n"), r->media_type,
	       r->password_required ? _("protected by a password") : _("no password"),
	       r->unattended ? _(", unattended") : "");
	printf(_("--- SMS/data/Variables.dat: %zu variables (%s%s)\n"), r->nvars,
	       r->cipher, r->password_required ? "" : _(", Configuration Manager's fixed key"));
	for (size_t i = 0; i < r->nvars; i++)
		printf("  %s=%s\n", r->vars[i].name, r->vars[i].value);
	if (r->has_cert) {
		tsm_date_format(r->cert_not_before, from);
		tsm_date_format(r->cert_not_after, until);
		printf(_("--- media certificate: %s, issued by %s, valid %s to %s, SHA-1 %s, %s\n"),
		       r->cert_subject, r->cert_issuer, from, until, r->cert_sha1,
		       r->cert_has_key ? _("with its private key") : _("without a private key"));
	}
	if (r->has_policy) {
		printf(_("--- SMS/data/Policy.xml (%s): task sequence %s \"%s\", advertisement %s,"
			 " boot image %s\n"), r->policy_cipher, r->ts_id ? r->ts_id : "-",
		       r->ts_name ? r->ts_name : "", r->adv_id ? r->adv_id : "-",
		       r->boot_image_id ? r->boot_image_id : "-");
		fputs(_("  packages:"), stdout);
		for (size_t i = 0; i < r->npackages; i++)
			printf(" %s", r->packages[i]);
		printf("%s\n", r->npackages ? "" : _(" none"));
		if (r->sequence)
			printf(_("  sequence: %s\n"), r->sequence);
	}
	if (!r->has_manifest) {
		fputs(_("--- no SMS/data/Manifest.txt (media tsmedia did not make): files not checked\n"),
		      stdout);
		return;
	}
	printf(_("--- manifest: %zu files, %zu match (%llu bytes), %zu differ, %zu missing,"
		 " %zu patched when laid out (not checked)\n"), r->files_listed, r->files_ok,
	       (unsigned long long)r->bytes_ok, r->files_bad, r->files_missing, r->files_unchecked);
	/* The problems as the locale reads them (--json keeps the English ones). */
	for (size_t i = 0; i < r->nproblems; i++)
		printf("  %s\n", r->problems_text[i]);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n > m && strcasecmp(s + n - m, suffix) == 0;
}

/* Whether media @name is read from the store (USB images, prestaged WIMs) rather than
 * exported as ISO volumes. */
static int inspect_form(struct cli *cli, const char *name, bool *stored_ret)
{
	struct tsm_media_info info;
	struct tsm_store *store;
	int rc;

	if (cli_open_store(cli, &store) < 0)
		return -EIO;
	rc = tsm_media_get(store, name, &info);
	tsm_store_close(store);
	if (rc < 0)
		return rc;
	*stored_ret = info.def.form == TSM_MEDIA_USB || info.def.type == TSM_MEDIA_PRESTAGED;
	tsm_media_info_clear(&info);
	return 0;
}

static int media_inspect(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "password-file", required_argument, NULL, 'p' },
		{ "show-secrets", no_argument, NULL, 's' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct tsm_inspect_result r;
	char *password = NULL, **paths = NULL, tmpdir[4096] = "";
	bool show_secrets = false, as_json = false, stored = false;
	size_t n = 0;
	struct stat st;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (tsm_password_read(optarg, &password) < 0)
				return 1;
			break;
		case 's': show_secrets = true; break;
		case 'j': as_json = true; break;
		case 'h': fputs(_(inspect_help), stdout); return 0;
		default: return cli_bad_option("media inspect ", argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("media inspect ", "expected a PATH or a media NAME");
	if (stat(argv[optind], &st) == 0 && has_suffix(argv[optind], ".wim")) {
		stored = true; /* read here, not as volumes */
		rc = tsm_media_inspect_wim(argv[optind], password, show_secrets, &r);
	} else if (stat(argv[optind], &st) == 0 && has_suffix(argv[optind], ".img")) {
		tsm_error("%s: reading a USB disk image by its path is not supported; inspect the media"
			  " by its NAME, or a copy of the stick's files (a directory)", argv[optind]);
		rc = -ENOTSUP;
	} else if (stat(argv[optind], &st) == 0) {
		rc = inspect_volumes(argv[optind], &paths, &n);
	} else if ((rc = inspect_form(cli, argv[optind], &stored)) < 0) {
		/* reported */
	} else if (stored) {
		/* A USB image or a prestaged WIM: its SMS/data read from the store. */
		struct tsm_store *store;

		rc = cli_open_store(cli, &store) < 0 ? -EIO : 0;
		if (rc == 0) {
			rc = tsm_media_inspect_stored(store, argv[optind], password, show_secrets, &r);
			tsm_store_close(store);
		}
	} else {
		snprintf(tmpdir, sizeof(tmpdir), "%s/tsmedia-inspect.XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		rc = mkdtemp(tmpdir) ? inspect_export(cli, argv[optind], tmpdir, &paths, &n) : -errno;
	}
	if (rc == 0 && !stored)
		rc = tsm_media_inspect((const char *const *)paths, n, password, show_secrets, &r);
	if (rc == 0) {
		bool ok = !r.files_bad && !r.files_missing &&
			  r.files_ok + r.files_unchecked == r.files_listed;

		if (as_json && inspect_print_json(&r, ok))
			rc = -EIO;
		else if (!as_json)
			inspect_print(&r);
		if (!ok)
			rc = -EIO;
		tsm_inspect_result_clear(&r);
	}
	for (size_t i = 0; i < n; i++) {
		if (tmpdir[0])
			unlink(paths[i]);
		free(paths[i]);
	}
	free(paths);
	if (tmpdir[0])
		rmdir(tmpdir);
	tsm_password_free(password);
	return rc < 0 ? 1 : 0;
}

int cmd_media(struct cli *cli, int argc, char **argv)
{
	static const struct cli_subcommand subs[] = {
		{ "create", media_create },
		{ "edit", media_edit },
		{ "list", media_list },
		{ "show", media_show },
		{ "rm", media_rm },
		{ "export", media_export },
		{ "write", media_write },
		{ "burn", media_burn },
		{ "inspect", media_inspect },
		{ NULL, NULL },
	};

	return cli_dispatch(cli, argc, argv, "media", media_help, subs);
}
