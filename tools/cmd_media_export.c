/* tsmedia media export: one version of a media, every volume of it or one. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include "cli.h"
#include "media_cmds.h"
#include "media_io.h"
#include "tsmedia/i18n.h"
#include "tsmedia/image.h"
#include "tsmedia/log.h"
#include "tsmedia/media.h"
#include "tsmedia/progress.h"

static const char export_help[] = N_(
	"Usage: tsmedia [--store DIR] media export NAME -o FILE|DIR [--volume N] [--version N]\n"
	"\n"
	"Writes a media's bytes out: the same bytes the mount serves.  Every volume\n"
	"comes from one version of the media, even while it changes: -o DIR (an\n"
	"existing directory, or a path ending in /) writes all of them there under\n"
	"their names (NAME.1.iso ... NAME.N.iso), a consistent set; -o FILE writes\n"
	"one volume (the first unless --volume N; - for standard output).\n"
	"\n"
	"  --version N   the media's version N, as the mount serves it under\n"
	"                versions/NAME/N/ (default: the newest)\n");

/* Writes volume @v of @sel to @path (created, or truncated). */
static int export_volume(struct cli *cli, struct media_sel *sel, size_t v, const char *path)
{
	struct tsm_progress progress;
	struct tsm_image *image = sel->set->volumes[v].image;
	int fd = strcmp(path, "-") == 0 ? STDOUT_FILENO
					: open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int rc;

	if (fd < 0) {
		rc = -errno;
		tsm_error("cannot create %s: %s", path, strerror(-rc));
		return rc;
	}
	tsm_progress_start(&progress, _("exporting"), tsm_image_size(image), cli->progress);
	rc = media_image_write(sel->store, image, fd, path, &progress, false, 0, NULL);
	tsm_progress_finish(&progress);
	if (fd != STDOUT_FILENO && close(fd) < 0 && rc == 0) {
		rc = -errno;
		tsm_error("writing %s: %s", path, strerror(-rc));
	}
	if (rc < 0 && fd != STDOUT_FILENO)
		unlink(path);
	return rc;
}

/* Every volume into @dir: written under temporary names, renamed when all
 * are complete, so the directory never holds half a set. */
static int export_set(struct cli *cli, struct media_sel *sel, const char *dir)
{
	size_t n = sel->set->n, done = 0;
	char **tmp = calloc(n, sizeof(*tmp)), **final = calloc(n, sizeof(*final));
	int rc = tmp && final ? 0 : -ENOMEM;

	if (rc == 0 && mkdir(dir, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		tsm_error("cannot create the directory %s: %s", dir, strerror(-rc));
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (asprintf(&final[i], "%s/%s", dir, sel->set->volumes[i].file_name) < 0 ||
		    asprintf(&tmp[i], "%s/.%s.part", dir, sel->set->volumes[i].file_name) < 0) {
			rc = -ENOMEM;
			break;
		}
		if ((rc = export_volume(cli, sel, i, tmp[i])) == 0)
			done = i + 1;
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		if (rename(tmp[i], final[i]) < 0) {
			rc = -errno;
			tsm_error("cannot rename %s to %s: %s", tmp[i], final[i], strerror(-rc));
		}
	}
	for (size_t i = 0; i < n && tmp && final; i++) {
		if (rc < 0 && i < done)
			unlink(tmp[i]);
		free(tmp[i]);
		free(final[i]);
	}
	free(tmp);
	free(final);
	if (rc == 0 && !cli->quiet) {
		char vdir[128];

		media_sel_dir(sel, vdir, sizeof(vdir));
		printf(_("exported %zu volume(s) of media %s version %lld%s%s%s to %s\n"), n,
		       sel->snap->info.def.name, (long long)sel->snap->info.version,
		       vdir[0] ? " (" : "", vdir, vdir[0] ? ")" : "", dir);
	}
	return rc;
}

int media_export(struct cli *cli, int argc, char **argv)
{
	static const struct option options[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "volume", required_argument, NULL, 'n' },
		{ "version", required_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct media_sel sel;
	const char *out = NULL;
	unsigned long volume = 0;
	int64_t number = 0;
	struct stat st;
	size_t outlen;
	bool to_dir;
	char *end;
	int c, rc;

	while ((c = getopt_long(argc, argv, "o:h", options, NULL)) != -1) {
		switch (c) {
		case 'o': out = optarg; break;
		case 'n':
			errno = 0;
			volume = strtoul(optarg, &end, 10);
			if (errno || end == optarg || *end || optarg[0] == '-' || volume < 1)
				return cli_usage_error("media export ", "--volume wants a volume"
						       " number (1 or more), not '%s'", optarg);
			break;
		case 'v':
			if (media_parse_version("media export ", optarg, &number) != 0)
				return EXIT_USAGE;
			break;
		case 'h': fputs(_(export_help), stdout); return 0;
		default: return cli_bad_option("media export ", argv);
		}
	}
	if (argc - optind != 1 || !out)
		return cli_usage_error("media export ", "expected a media NAME and -o FILE|DIR");
	outlen = strlen(out);
	to_dir = outlen > 0 && (out[outlen - 1] == '/' || (stat(out, &st) == 0 && S_ISDIR(st.st_mode)));
	if (to_dir && volume)
		return cli_usage_error("media export ", "-o %s is a directory, which takes every"
				       " volume: give -o FILE with --volume", out);
	if (media_sel_open(cli, argv[optind], number, &sel) < 0)
		return 1;
	if (to_dir) {
		rc = export_set(cli, &sel, out);
	} else if ((volume ? volume : 1) > sel.set->n) {
		tsm_error("media '%s' has %zu volume(s), not %lu", argv[optind], sel.set->n, volume);
		rc = -EINVAL;
	} else {
		rc = export_volume(cli, &sel, (volume ? volume : 1) - 1, out);
	}
	media_sel_close(&sel);
	return rc < 0 ? 1 : 0;
}

void media_show_versions(const struct tsm_media_snapshot *snap, const struct tsm_volume_set *set,
			 const int64_t *kept, size_t nkept)
{
	if (snap->number > 0) {
		fputs(_("Paths:     (this version, never changing, on the mount)\n"), stdout);
		for (size_t i = 0; i < set->n; i++)
			printf("  versions/%s/%lld/%s\n", snap->info.def.name, (long long)snap->number,
			       set->volumes[i].file_name);
	}
	fputs(_("Versions:  "), stdout);
	for (size_t i = 0; i < nkept; i++)
		printf("%s%lld", i ? " " : "", (long long)kept[i]);
	printf(_("%s (versions/%s/N/; gc --keep-versions decides how many stay)\n"),
	       nkept ? "" : _("none recorded"), snap->info.def.name);
}

void media_show_versions_json(struct json_object *doc, const struct tsm_media_snapshot *snap,
			      const struct tsm_volume_set *set, const int64_t *kept, size_t nkept)
{
	struct json_object *paths = json_object_new_array(), *versions = json_object_new_array();
	char path[512];

	json_object_object_add(doc, "version_number", json_object_new_int64(snap->number));
	for (size_t i = 0; snap->number > 0 && i < set->n; i++) {
		snprintf(path, sizeof(path), "versions/%s/%lld/%s", snap->info.def.name,
			 (long long)snap->number, set->volumes[i].file_name);
		json_object_array_add(paths, json_object_new_string(path));
	}
	json_object_object_add(doc, "paths", paths);
	for (size_t i = 0; i < nkept; i++)
		json_object_array_add(versions, json_object_new_int64(kept[i]));
	json_object_object_add(doc, "versions_kept", versions);
}
