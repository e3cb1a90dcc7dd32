/* SMS/data/Policy.xml of stand-alone and capture media: Configuration Manager policy instances
 * (the task sequence, the packages and the applications it uses) in the container of cmcrypt.h, encrypted under
 * the media password or, without one, under the media's _SMSMediaGuid.
 *
 * Written and read with libxml2; readers find instances by class and properties by name, as
 * the tools that read Configuration Manager's policy do (sources in cmpolicy.c). */
#ifndef TSMEDIA_MEDIA_CMPOLICY_H
#define TSMEDIA_MEDIA_CMPOLICY_H

#include <stddef.h>
#include <stdint.h>

#include "media/cmcrypt.h"

struct tsm_cm_policy_package {
	const char *id;      /* PKG_PackageID: PS100012 */
	const char *name;    /* PKG_Name */
	const char *version; /* PKG_SourceVersion, or NULL */
};

/* An application the media carries, and each of its deployment types carried
 * (property names of the SMS_Application and SMS_DeploymentType classes, cmpolicy.c). */
struct tsm_cm_policy_app {
	const char *model_name;       /* ModelName: ScopeId_.../Application_... */
	const char *title;            /* LocalizedDisplayName */
	const char *software_version; /* SoftwareVersion, or NULL */
	const char *publisher;        /* Manufacturer, or NULL */
};
struct tsm_cm_policy_dt {
	const char *model_name;     /* ModelName: ScopeId_.../DeploymentType_... */
	const char *app_model_name; /* AppModelName */
	const char *title;          /* LocalizedDisplayName */
	const char *technology;     /* Technology */
	unsigned priority;          /* PriorityInLatestApp, 1 first */
	const char *content_id;     /* ContentId: Content_<GUID>, or NULL */
	const char *content_path;   /* where it lies on the media (SMS\PKG\Content_<GUID>) */
	unsigned depended;          /* NumberOfDependedDTs: the types it depends on */
};

struct tsm_cm_media_policy {
	const char *site_code;     /* PolicySource "SMS:<site>", or NULL */
	const char *adv_id;        /* ADV_AdvertisementID (required) */
	const char *ts_id;         /* PKG_PackageID of the task sequence (required) */
	const char *ts_name;       /* PKG_Name (required) */
	const char *ts_version;    /* PKG_SourceVersion, or NULL */
	const char *boot_image_id; /* TS_BootImageID, or NULL */
	const char *sequence_xml;  /* TS_Sequence: the <sequence> document (required) */
	const struct tsm_cm_policy_package *packages;
	size_t npackages;
	const struct tsm_cm_policy_app *apps;
	size_t napps;
	const struct tsm_cm_policy_dt *dts;
	size_t ndts;
};

/* The policy document as UTF-8 XML.  -EINVAL (logged) when a required field is missing or the
 * sequence is not a <sequence> document. */
int tsm_cm_policy_build(const struct tsm_cm_media_policy *in, char **xml_ret, size_t *len_ret);
/* The whole Policy.xml, encrypted under @password (the media password, or the media GUID). */
int tsm_cm_policy_seal(const struct tsm_cm_media_policy *in, const char *password,
		       enum tsm_cm_cipher cipher, uint8_t **out_ret, size_t *out_len_ret);

/* A policy as read: its instances in document order. */
struct tsm_cm_prop {
	char *name, *value;
};
struct tsm_cm_instance {
	char *class_name;
	struct tsm_cm_prop *props;
	size_t nprops;
};
struct tsm_cm_policy_doc {
	struct tsm_cm_instance *inst;
	size_t n;
};

/* Reads policy XML; -EINVAL (logged, naming @what) when it is not well-formed or holds no
 * instance. */
int tsm_cm_policy_from_xml(const char *xml, size_t len, const char *what,
			   struct tsm_cm_policy_doc *doc_ret);
/* Opens a Policy.xml read from @what with @password (errors as tsm_cm_open()). */
int tsm_cm_policy_open(const uint8_t *data, size_t len, const char *password, const char *what,
		       struct tsm_cm_policy_doc *doc_ret, enum tsm_cm_cipher *cipher_ret);
/* The first instance of @class_name, or NULL; a property's value, or NULL. */
const struct tsm_cm_instance *tsm_cm_policy_find(const struct tsm_cm_policy_doc *doc,
						 const char *class_name);
const char *tsm_cm_instance_get(const struct tsm_cm_instance *inst, const char *name);
void tsm_cm_policy_doc_clear(struct tsm_cm_policy_doc *doc);

#endif
