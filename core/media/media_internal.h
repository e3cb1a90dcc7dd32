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

/* Renders the definition-time files (TSMBootstrap.ini, Variables.dat,
 * Policy.xml) into the store as blobs, recorded for @version.  Inside the
 * write session of the save. */
int tsm_media_render(struct tsm_store *store, int64_t version, struct tsm_media_def *d);

/* Lays out one volume of @d's form (ISO, or FAT disk image for USB). */
struct tsm_tree;
struct tsm_image;
struct tsm_volume_set;
struct tsm_media_snapshot;
int tsm_media_layout_volume(struct tsm_store *store, const struct tsm_media_def *d,
			    struct tsm_tree *tree, struct tsm_image **image_ret);
int tsm_media_volume_file_name(const struct tsm_media_def *d, size_t index, size_t n,
			       char **name_ret);
/* Capture, bootable and stand-alone media: trees, rendered files, the
 * manifest, spanning. */
int tsm_media_compose_ts(struct tsm_store *store, const struct tsm_media_snapshot *snap,
			 struct tsm_volume_set **set_ret);
/* Prestaged media: one WIM (NAME.wim) holding all of it. */
int tsm_media_compose_prestaged(struct tsm_store *store, const struct tsm_media_snapshot *snap,
				struct tsm_volume_set **set_ret);

/* tsm_wim_layout() with the blobs' SHA-1s looked up in @store's catalog. */
struct tsm_wim_options;
int tsm_media_wim_layout(struct tsm_store *store, struct tsm_wim_options *o,
			 struct tsm_image ***parts_ret, size_t *nparts_ret);

/* A random GUID in registry format ({XXXXXXXX-...}), malloc'ed. */
int tsm_media_new_guid(char **guid_ret);

#define TSMEDIA_VERSION_STRING "0.1.0"

/* AES-256-GCM under a key from PBKDF2-HMAC-SHA256(password, random salt):
 * "TSMENC1\0" | iterations (u32 LE) | salt[16] | nonce[12] | ciphertext | tag[16]. */
#define TSM_ENC_MAGIC "TSMENC1"
#define TSM_ENC_ITERATIONS 600000u
int tsm_media_encrypt(const char *password, const uint8_t *plain, size_t len, uint8_t **out_ret,
		      size_t *out_len_ret);
/* -EACCES on a wrong password (the tag does not verify), -EINVAL when not ours,
 * -E2BIG when its header asks for more iterations than tsmedia writes. */
int tsm_media_decrypt(const char *password, const uint8_t *in, size_t len, uint8_t **plain_ret,
		      size_t *plain_len_ret);
bool tsm_media_is_encrypted(const uint8_t *data, size_t len);

#endif
