/* A media definition's fields as media_options rows: one table of field
 * descriptors drives saving, loading and freeing. */
#include "catalog/rows.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog/catalog.h"
#include "store/store_internal.h"
#include "tsmedia/log.h"
#include "tsmedia/media_def.h"

enum field_kind { F_STR, F_UINT, F_BOOL, F_INT64, F_BYTES, F_LIST, F_ENUM };

struct field {
	const char *key;
	enum field_kind kind;
	size_t offset;      /* of the value (F_LIST: the array) */
	size_t aux_offset;  /* F_BYTES, F_LIST: of the length / count */
};

#define OFF(f) offsetof(struct tsm_media_def, f)

static const struct field fields[] = {
	{ "label", F_STR, OFF(label), 0 },
	{ "publisher", F_STR, OFF(publisher), 0 },
	{ "bios_boot", F_STR, OFF(bios_boot), 0 },
	{ "boot_load_size", F_UINT, OFF(boot_load_size), 0 },
	{ "boot_info_table", F_BOOL, OFF(boot_info_table), 0 },
	{ "uefi_boot", F_STR, OFF(uefi_boot), 0 },
	{ "hybrid_mbr", F_BYTES, OFF(hybrid_mbr), OFF(hybrid_mbr_len) },
	{ "hybrid_gpt", F_BOOL, OFF(hybrid_gpt), 0 },
	{ "joliet", F_BOOL, OFF(joliet), 0 },
	{ "rock_ridge", F_BOOL, OFF(rock_ridge), 0 },
	{ "udf", F_BOOL, OFF(udf), 0 },
	{ "form", F_ENUM, OFF(form), 0 },
	{ "partition_table", F_ENUM, OFF(partition_table), 0 },
	{ "usb_bios_mbr", F_STR, OFF(usb_bios_mbr), 0 },
	{ "usb_bios_core", F_STR, OFF(usb_bios_core), 0 },
	{ "volume_size", F_INT64, OFF(volume_size), 0 },
	{ "autorun", F_BOOL, OFF(autorun), 0 },
	{ "boot_image", F_STR, OFF(boot_image), 0 },
	{ "task_sequence", F_STR, OFF(task_sequence), 0 },
	{ "os_image", F_STR, OFF(os_image), 0 },
	{ "os_image_index", F_UINT, OFF(os_image_index), 0 },
	{ "extra_content", F_LIST, OFF(extra_content), OFF(nextra_content) },
	{ "include_dependencies", F_BOOL, OFF(include_dependencies), 0 },
	{ "applications", F_LIST, OFF(applications), OFF(napplications) },
	{ "unattended", F_BOOL, OFF(unattended), 0 },
	{ "unknown_computers", F_BOOL, OFF(unknown_computers), 0 },
	{ "mode", F_ENUM, OFF(mode), 0 },
	{ "site", F_STR, OFF(site), 0 },
	{ "management_points", F_LIST, OFF(management_points), OFF(nmanagement_points) },
	{ "user_device_affinity", F_ENUM, OFF(user_device_affinity), 0 },
	{ "variables", F_LIST, OFF(variables), OFF(nvariables) },
	{ "prestart_command", F_STR, OFF(prestart_command), 0 },
	{ "prestart_files", F_STR, OFF(prestart_files), 0 },
	{ "valid_from", F_INT64, OFF(valid_from), 0 },
	{ "valid_until", F_INT64, OFF(valid_until), 0 },
	{ "allowed_steps", F_LIST, OFF(allowed_steps), OFF(nallowed_steps) },
	{ "created_by", F_STR, OFF(created_by), 0 },
	{ "version_text", F_STR, OFF(version_text), 0 },
	{ "comment", F_STR, OFF(comment), 0 },
	{ "media_guid", F_STR, OFF(media_guid), 0 },
	{ "cipher", F_ENUM, OFF(cipher), 0 },
	{ "password_protected", F_BOOL, OFF(password_protected), 0 },
	{ "cert_summary", F_STR, OFF(cert_summary), 0 },
	{ "cert_is_pki", F_BOOL, OFF(cert_is_pki), 0 },
	{ "cert_subject", F_STR, OFF(cert_subject), 0 },
	{ "cert_issuer", F_STR, OFF(cert_issuer), 0 },
	{ "cert_sha1", F_STR, OFF(cert_sha1), 0 },
	{ "cert_not_before", F_INT64, OFF(cert_not_before), 0 },
	{ "cert_not_after", F_INT64, OFF(cert_not_after), 0 },
	{ "weak_password", F_BOOL, OFF(weak_password), 0 },
	{ "render_key", F_STR, OFF(render_key), 0 },
};

#define FIELD(d, f, type) (*(type *)((char *)(d) + (f)->offset))
#define AUX(d, f, type) (*(type *)((char *)(d) + (f)->aux_offset))

/* Lists are stored as their items joined by newlines (items hold none). */
static char *list_join(char **items, size_t n)
{
	size_t len = 1;
	char *out, *p;

	for (size_t i = 0; i < n; i++)
		len += strlen(items[i]) + 1;
	if (!(out = malloc(len)))
		return NULL;
	p = out;
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", i ? "\n" : "", items[i]);
	*p = '\0';
	return out;
}

static int list_split(const char *text, char ***items_ret, size_t *n_ret)
{
	char **items = NULL;
	size_t n = 0;

	while (text && *text) {
		size_t len = strcspn(text, "\n");
		void *p = realloc(items, (n + 1) * sizeof(*items));

		if (!p || !(items = p, items[n] = strndup(text, len))) {
			for (size_t i = 0; i < n; i++)
				free(items[i]);
			free(items);
			return -ENOMEM;
		}
		n++;
		text += len + (text[len] == '\n');
	}
	*items_ret = items;
	*n_ret = n;
	return 0;
}

static int put(sqlite3_stmt *stmt, int64_t version, const char *key, const void *value,
	       int len, bool text)
{
	sqlite3_reset(stmt);
	sqlite3_bind_int64(stmt, 1, version);
	sqlite3_bind_text(stmt, 2, key, -1, SQLITE_STATIC);
	if (text)
		sqlite3_bind_text(stmt, 3, value, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_blob(stmt, 3, value, len, SQLITE_TRANSIENT);
	return sqlite3_step(stmt) == SQLITE_DONE ? 0 : -EIO;
}

int tsm_media_options_save(struct tsm_store *store, int64_t version, const struct tsm_media_def *d)
{
	sqlite3 *db = store->db;
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(db, "INSERT INTO media_options(version, key, value)"
				     " VALUES(?, ?, ?)", &stmt)) < 0)
		return rc;
	for (size_t i = 0; rc == 0 && i < sizeof(fields) / sizeof(fields[0]); i++) {
		const struct field *f = &fields[i];
		char num[32];

		switch (f->kind) {
		case F_STR:
			if (FIELD(d, f, char *))
				rc = put(stmt, version, f->key, FIELD(d, f, char *), 0, true);
			break;
		case F_UINT:
			snprintf(num, sizeof(num), "%u", FIELD(d, f, unsigned));
			rc = put(stmt, version, f->key, num, 0, true);
			break;
		case F_BOOL:
			rc = put(stmt, version, f->key, FIELD(d, f, bool) ? "1" : "0", 0, true);
			break;
		case F_ENUM:
			snprintf(num, sizeof(num), "%d", FIELD(d, f, int));
			rc = put(stmt, version, f->key, num, 0, true);
			break;
		case F_INT64:
			snprintf(num, sizeof(num), "%lld", (long long)FIELD(d, f, int64_t));
			rc = put(stmt, version, f->key, num, 0, true);
			break;
		case F_BYTES:
			if (FIELD(d, f, uint8_t *))
				rc = put(stmt, version, f->key, FIELD(d, f, uint8_t *),
					 (int)AUX(d, f, size_t), false);
			break;
		case F_LIST:
			if (AUX(d, f, size_t)) {
				char *joined = list_join(FIELD(d, f, char **), AUX(d, f, size_t));

				rc = joined ? put(stmt, version, f->key, joined, 0, true) : -ENOMEM;
				free(joined);
			}
			break;
		}
		if (rc == -EIO)
			rc = tsm_db_error(db, "recording media options");
	}
	sqlite3_finalize(stmt);
	return rc;
}

static int apply(struct tsm_media_def *d, const struct field *f, sqlite3_stmt *stmt)
{
	const char *text = (const char *)sqlite3_column_text(stmt, 1);
	int len = sqlite3_column_bytes(stmt, 1);

	switch (f->kind) {
	case F_STR:
		free(FIELD(d, f, char *));
		FIELD(d, f, char *) = text ? strdup(text) : NULL;
		return !text || FIELD(d, f, char *) ? 0 : -ENOMEM;
	case F_UINT:
		FIELD(d, f, unsigned) = text ? (unsigned)strtoul(text, NULL, 10) : 0;
		return 0;
	case F_BOOL:
		FIELD(d, f, bool) = text && text[0] == '1';
		return 0;
	case F_ENUM:
		FIELD(d, f, int) = text ? atoi(text) : 0;
		return 0;
	case F_INT64:
		FIELD(d, f, int64_t) = text ? strtoll(text, NULL, 10) : 0;
		return 0;
	case F_BYTES:
		free(FIELD(d, f, uint8_t *));
		FIELD(d, f, uint8_t *) = NULL;
		AUX(d, f, size_t) = 0;
		if (len > 0) {
			if (!(FIELD(d, f, uint8_t *) = malloc((size_t)len)))
				return -ENOMEM;
			memcpy(FIELD(d, f, uint8_t *), sqlite3_column_blob(stmt, 1), (size_t)len);
			AUX(d, f, size_t) = (size_t)len;
		}
		return 0;
	case F_LIST:
		return list_split(text, &FIELD(d, f, char **), &AUX(d, f, size_t));
	}
	return 0;
}

int tsm_media_options_load(sqlite3 *db, int64_t version, struct tsm_media_def *d)
{
	sqlite3_stmt *stmt;
	int rc;

	if ((rc = tsm_db_prepare(db, "SELECT key, value FROM media_options WHERE version = ?",
				 &stmt)) < 0)
		return rc;
	sqlite3_bind_int64(stmt, 1, version);
	while (rc == 0 && sqlite3_step(stmt) == SQLITE_ROW) {
		const char *key = (const char *)sqlite3_column_text(stmt, 0);

		for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
			if (strcmp(fields[i].key, key) == 0)
				rc = apply(d, &fields[i], stmt);
	}
	sqlite3_finalize(stmt);
	return rc;
}

static void free_list(char **items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(items[i]);
	free(items);
}

void tsm_media_def_clear(struct tsm_media_def *d)
{
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const struct field *f = &fields[i];

		if (f->kind == F_STR || f->kind == F_BYTES)
			free(FIELD(d, f, void *));
		else if (f->kind == F_LIST)
			free_list(FIELD(d, f, char **), AUX(d, f, size_t));
	}
	free_list(d->content, d->ncontent);
	free(d->extra_slots);
	free(d->name);
	memset(d, 0, sizeof(*d));
}
