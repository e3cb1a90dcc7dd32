/* The media subcommands that live in their own files (cmd_media_*.c),
 * dispatched from cmd_media.c. */
#ifndef TSMEDIA_TOOLS_MEDIA_CMDS_H
#define TSMEDIA_TOOLS_MEDIA_CMDS_H

#include <stddef.h>
#include <stdint.h>

struct cli;
struct json_object;
struct tsm_media_snapshot;
struct tsm_volume_set;

int media_export(struct cli *cli, int argc, char **argv);
int media_write(struct cli *cli, int argc, char **argv);
int media_burn(struct cli *cli, int argc, char **argv);

/* media show: where @snap is on the mount (versions/NAME/N/...) and the
 * version numbers the store keeps (@kept, ascending); the _json one adds
 * them to object @doc. */
void media_show_versions(const struct tsm_media_snapshot *snap, const struct tsm_volume_set *set,
			 const int64_t *kept, size_t nkept);
void media_show_versions_json(struct json_object *doc, const struct tsm_media_snapshot *snap,
			      const struct tsm_volume_set *set, const int64_t *kept, size_t nkept);

#endif
