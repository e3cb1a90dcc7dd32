/* Layer: catalog (core/catalog/media.c, media_options.c). */
/* Media definitions as the catalog stores them: the fields of one version,
 * reading and listing the current versions, removing a media.  Saving one
 * (rules, rendering, a trial layout) is tsmedia/media.h's tsm_media_save.
 *
 * Ownership: the caller frees what these functions return with the
 * matching _free/_clear. */
#ifndef TSMEDIA_MEDIA_DEF_H
#define TSMEDIA_MEDIA_DEF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tsm_store;

enum tsm_media_type {
	TSM_MEDIA_DATA,       /* an ISO of the given content: a driver pack, a tool set */
	TSM_MEDIA_CAPTURE,    /* boots a reference computer and captures its OS */
	TSM_MEDIA_BOOTABLE,   /* a boot image; task sequence and content from the network */
	TSM_MEDIA_PRESTAGED,  /* one WIM: boot image, OS image, content, for a factory */
	TSM_MEDIA_STANDALONE, /* the task sequence and all its content, no network */
	TSM_MEDIA_TYPE_COUNT
};

enum tsm_media_mode { TSM_MODE_DYNAMIC, TSM_MODE_SITE_BASED };
/* How Variables.dat and Policy.xml are encrypted (--media-cipher): AES-256, as Configuration
 * Manager 2107 and later write them, or AES-128 for older sites. */
enum tsm_media_cipher { TSM_MEDIA_AES256, TSM_MEDIA_AES128 };
enum tsm_uda { TSM_UDA_NONE, TSM_UDA_AUTO, TSM_UDA_ADMIN, TSM_UDA_DENY };

/* What the media is written to: a CD/DVD (an ISO) or a USB drive (a FAT32
 * disk image, NAME.img, that dd writes to a stick). */
enum tsm_media_form {
	TSM_MEDIA_CD_DVD,
	TSM_MEDIA_USB,
};

/* USB disk image partitioning (--partition-table): MBR by default, for the
 * widest firmware support. */
enum tsm_partition_table {
	TSM_PARTITION_MBR,
	TSM_PARTITION_GPT,
};

const char *tsm_media_type_name(enum tsm_media_type type);
int tsm_media_type_parse(const char *name, enum tsm_media_type *type_ret);

struct tsm_media_def {
	char *name;
	enum tsm_media_type type;
	char **content; /* content IDs, in order; their trees merge at the root */
	size_t ncontent;
	char *label;     /* volume label */
	char *publisher;
	char *bios_boot; /* a path on the media: El Torito BIOS boot file */
	unsigned boot_load_size;
	bool boot_info_table;
	/* From an imported ISO's BIOS entry when it boots the media (not
	 * stored options): El Torito 2.2 media type, load segment, system type. */
	unsigned boot_emulation, boot_load_segment, boot_system_type;
	const char *boot_catalog; /* the catalog's path in that ISO */
	bool boot_grub2_info, boot_grub2_mbr; /* GRUB 2's patches in that ISO */
	bool boot_cyl_align;                  /* that ISO was padded to whole cylinders */
	char *uefi_boot; /* a path on the media: FAT image for UEFI */
	unsigned uefi_load_size; /* its entry's sector count, as the boot image's entry
				  * says (no option); 0: the image's */
	uint8_t *hybrid_mbr;
	size_t hybrid_mbr_len;
	bool hybrid_gpt;
	bool joliet, rock_ridge, udf;
	enum tsm_media_form form;               /* --media cd-dvd|usb */
	enum tsm_partition_table partition_table; /* USB: --partition-table mbr|gpt */
	char *usb_bios_mbr;     /* USB: a file of the tree: MBR boot code (e.g. GRUB's boot.img) */
	char *usb_bios_core;    /* USB: a file of the tree: what it loads from LBA 1 (core.img) */

	/* Task sequence media (capture, bootable, prestaged, stand-alone). */
	uint64_t volume_size;   /* bytes per volume; 0: unlimited */
	bool autorun;           /* versions made before --autorun was dropped: their autorun.inf */
	char *boot_image;       /* content ID */
	char *task_sequence;    /* task sequence ID */
	char *os_image;         /* prestaged: content ID */
	unsigned os_image_index;
	char **extra_content;   /* --application/--package/--driver-package IDs */
	size_t nextra_content;
	unsigned char *extra_slots; /* not stored: the kind each new extra_content was given as
				     * (enum tsm_content_kind + 1; 0: kept from the version edited) */
	char **applications;    /* --application ScopeId_.../Application_... (no step names them) */
	size_t napplications;
	bool include_dependencies; /* the applications' dependencies, transitively */
	bool unattended, unknown_computers;
	enum tsm_media_mode mode;
	char *site;
	char **management_points;
	size_t nmanagement_points;
	enum tsm_uda user_device_affinity;
	char **variables;       /* NAME=VALUE */
	size_t nvariables;
	char *prestart_command;
	char *prestart_files;   /* content ID */
	int64_t valid_from, valid_until; /* stand-alone; 0: unset */
	char **allowed_steps;   /* stand-alone: --allow-step, steps run although they need a site */
	size_t nallowed_steps;
	char *created_by, *version_text, *comment; /* prestaged */
	char *media_guid;       /* made at create, kept by edit */
	enum tsm_media_cipher cipher; /* task sequence media: --media-cipher */

	/* Set at create/edit, never stored: what the rendered files need. */
	const char *password;   /* NULL with no_password */
	bool no_password;
	const char *cert_pfx_path, *cert_password; /* --certificate FILE --certificate-password-file */
	bool cert_self_signed;
	int64_t cert_valid_from, cert_valid_until;
	bool allow_weak_password; /* --allow-weak-password */
	bool volume_size_given;   /* --size */
	bool cert_defaulted;      /* neither certificate option: the wizard's self-signed default */
	bool keep_protection;     /* edit: neither password option; the rendered files carry over */

	/* Stored: facts about the protection, for show and inspect. */
	bool password_protected;
	char *cert_summary;     /* subject, dates, thumbprint of the media certificate */
	char *cert_subject, *cert_issuer, *cert_sha1; /* the same, field by field (RFC 2253, hex) */
	int64_t cert_not_before, cert_not_after;
	bool cert_is_pki;       /* issued by a CA, not self-signed */
	bool weak_password;     /* a guessable password kept because of --allow-weak-password */
	char *render_key;       /* SHA-256 of what the SMS/data files were rendered from (render.c) */
};

void tsm_media_def_clear(struct tsm_media_def *def);

struct tsm_media_info {
	struct tsm_media_def def;
	int64_t version;    /* 1, 2, ... */
	int64_t version_id; /* catalog row */
	int64_t created;
};

int tsm_media_list(struct tsm_store *store, struct tsm_media_info **list_ret, size_t *n_ret);
int tsm_media_get(struct tsm_store *store, const char *name, struct tsm_media_info *info_ret);
void tsm_media_info_clear(struct tsm_media_info *info);
void tsm_media_list_free(struct tsm_media_info *list, size_t n);
int tsm_media_rm(struct tsm_store *store, const char *name);

#endif
