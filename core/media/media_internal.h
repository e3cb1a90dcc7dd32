/* Media internals shared by core/media: options in the catalog, rendered
 * files, rules, encryption. */
#ifndef TSMEDIA_MEDIA_INTERNAL_H
#define TSMEDIA_MEDIA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "tsmedia/media.h"

struct tsm_store;

/* Checks a definition against its type's rules; every problem is an error
 * naming it.  Renders nothing, changes nothing. */
int tsm_media_check_rules(struct tsm_store *store, const struct tsm_media_def *d);

/* Renders the definition-time files (TsmBootstrap.ini, Variables.dat,
 * Policy.xml) into the store as blobs, recorded for @version.  Inside the
 * write session of the save. */
int tsm_media_render(struct tsm_store *store, int64_t version, int64_t prev_version,
		     struct tsm_media_def *d);

/* The bytes of rendered file @path of media version row @version (NUL after them; malloc'ed);
 * -ENOENT when the version has none. */
int tsm_media_file_bytes(struct tsm_store *store, int64_t version, const char *path,
			 uint8_t **data_ret, size_t *len_ret);

/* Lays out one volume of @d's form (ISO, or FAT disk image for USB). */
struct tsm_tree;
struct tsm_image;
struct tsm_volume_set;
struct tsm_media_snapshot;
int tsm_media_layout_volume(struct tsm_store *store, const struct tsm_media_def *d,
			    struct tsm_tree *tree, struct tsm_image **image_ret);
/* Records in @v the boot entries a volume of @d with @tree has. */
struct tsm_volume;
int tsm_volume_note_boot(struct tsm_volume *v, const struct tsm_media_def *d,
			 struct tsm_tree *tree);
int tsm_media_volume_file_name(const struct tsm_media_def *d, size_t index, size_t n,
			       char **name_ret);
/* Capture, bootable and stand-alone media: trees, rendered files, the
 * manifest, spanning. */
int tsm_media_compose_ts(struct tsm_store *store, const struct tsm_media_snapshot *snap,
			 struct tsm_volume_set **set_ret);
/* Prestaged media: one WIM (NAME.wim) holding all of it. */
int tsm_media_compose_prestaged(struct tsm_store *store, const struct tsm_media_snapshot *snap,
				struct tsm_volume_set **set_ret);

/* Whether boot image @boot_id can boot media @d (of type name @type):
 * a boot entry for CD/DVD media, efi/boot/boot<arch>.efi for USB media of a
 * Windows PE boot image, no BIOS entry for an arm64 one.  Each problem is
 * an error naming the media and what is missing; returns their count (or a
 * negative errno).  Warns when a Windows PE boot image lacks the
 * Configuration Manager client. */
int tsm_boot_image_check(struct tsm_store *store, const struct tsm_media_def *d, const char *type,
			 const char *boot_id);
/* A fact of a boot image's version (boot.arch, boot.client...), or NULL. */
char *tsm_boot_image_meta(struct tsm_store *store, const char *id, int64_t version,
			  const char *key);

/* tsm_wim_layout() with the blobs' SHA-1s looked up in @store's catalog. */
struct tsm_wim_options;
int tsm_media_wim_layout(struct tsm_store *store, struct tsm_wim_options *o,
			 struct tsm_image ***parts_ret, size_t *nparts_ret);

/* A random GUID in registry format ({XXXXXXXX-...}), malloc'ed. */
int tsm_media_new_guid(char **guid_ret);

/* The applications stand-alone and prestaged media carry (media/apps.c). */
struct tsm_app;
struct tsm_media_app_dt {
	const struct tsm_app *app;  /* into tsm_media_apps.apps */
	size_t app_index, dt_index; /* the deployment type: app->dts[dt_index] */
};
struct tsm_media_apps {
	struct tsm_app *apps;          /* each application loaded once */
	size_t napps;
	struct tsm_media_app_dt *dts;  /* the deployment types carried, in order */
	size_t ndts;
	char **contents;               /* their store content IDs, each once */
	size_t ncontents;
};
/* What @d's task sequence and --application name, with their dependencies when
 * @d->include_dependencies.  Each problem (an application, a deployment type or
 * a content the store lacks; a dependency cycle) is an error naming the media;
 * -EINVAL with their count in *@problems_ret when there are any. */
int tsm_media_apps_resolve(struct tsm_store *store, const struct tsm_media_def *d,
			   struct tsm_media_apps *out, int *problems_ret);
void tsm_media_apps_clear(struct tsm_media_apps *a);
/* For the rules: the count of problems (reported), 0 when none. */
int tsm_media_apps_check(struct tsm_store *store, const struct tsm_media_def *d);

#define TSMEDIA_VERSION_STRING "0.1.0"

#endif
