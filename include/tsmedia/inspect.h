/* Layer: media (core/media/inspect.c). */
/* The client's view of task sequence media: what a booting computer (or a
 * prestaged one checking its local copy) reads and checks. */
#ifndef TSMEDIA_INSPECT_H
#define TSMEDIA_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A media variable as read; a secret's value is "********" unless asked for. */
struct tsm_inspect_var {
	char *name, *value;
	bool secret;
};

struct tsm_inspect_result {
	/* SMS/data/TsmBootstrap.ini */
	char media_type[32];
	bool password_required, unattended;
	/* SMS/data/Variables.dat */
	const char *cipher;            /* "aes256" or "aes128" */
	struct tsm_inspect_var *vars;
	size_t nvars;
	/* SMS/data/Policy.xml (capture and stand-alone media) */
	bool has_policy;
	const char *policy_cipher;
	char *ts_id, *ts_name, *adv_id, *boot_image_id;
	char *sequence;                /* TS_Sequence; credentials masked unless asked for */
	char **packages;               /* the package instances' IDs, in order */
	size_t npackages;
	/* _SMSTSMediaPFX, opened with the GUID's first 31 characters */
	bool has_cert, cert_has_key;
	char cert_subject[256], cert_issuer[256], cert_sha1[41];
	int64_t cert_not_before, cert_not_after;
	/* SMS/data/Manifest.txt (media tsmedia made; others have none) */
	bool has_manifest;
	unsigned volumes;
	size_t files_listed, files_ok, files_bad, files_missing;
	size_t files_unchecked; /* listed without a hash: patched when laid out */
	uint64_t bytes_ok;
	char **problems;  /* one line per file that failed (English: --json) */
	char **problems_text; /* the same lines in the locale's language */
	size_t nproblems;
};

/* @paths: the volumes in order (ISO files, or directories of files).  The media may be
 * anyone's Configuration Manager media.  A protected media without @password, or with a wrong
 * one, is an error (-EACCES); files failing the manifest are results, not errors.  Secrets
 * (the media certificate, password variables, task sequence credentials) are masked unless
 * @show_secrets. */
int tsm_media_inspect(const char *const *paths, size_t n, const char *password,
		      bool show_secrets, struct tsm_inspect_result *result_ret);
/* The Configuration Manager part of @r from the SMS/data files' bytes (@policy NULL when the
 * media has none); @where names the media in messages. */
int tsm_inspect_sms_data(const char *bootstrap, size_t bootstrap_len, const uint8_t *vars,
			 size_t vars_len, const uint8_t *policy, size_t policy_len,
			 const char *password, bool show_secrets, const char *where,
			 struct tsm_inspect_result *r);
/* Media @name of @store read from the store itself (any form: USB images and prestaged WIMs
 * too): its SMS/data files as the client would read them; no manifest check. */
struct tsm_store;
int tsm_media_inspect_stored(struct tsm_store *store, const char *name, const char *password,
			     bool show_secrets, struct tsm_inspect_result *result_ret);
/* A WIM file (a prestaged media): SMS/data of its first image, read with wimlib; no manifest
 * check. */
int tsm_media_inspect_wim(const char *path, const char *password, bool show_secrets,
			  struct tsm_inspect_result *result_ret);
void tsm_inspect_result_clear(struct tsm_inspect_result *result);

#endif
