/* tsm_iso_layout(): which sector holds what, and the order the parts run in.
 *
 *   0-15      system area (ECMA-119 6.2.1): hybrid MBR/GPT, else zero
 *   16...     volume descriptors: PVD (8.4), El Torito boot record, Joliet
 *             SVD (8.5), terminator (8.3), then UDF's BEA01 NSR02 TEA01
 *   32-47     UDF main volume descriptor sequence, 48-63 reserve, 64-65
 *             LVID + TD, 256 anchor (ECMA-167 3/8.4.2.1)
 *   free low  boot catalog, path tables, directories (each followed by its
 *             Rock Ridge continuation areas): the gaps below 256 when UDF
 *             leaves them, else from 23 on
 *   257...    (UDF) the partition: file set descriptor, file entries, FIDs
 *             then every file's data, the EFI image last (its ESP must not
 *             overlap the ISO data partition of the GPT)
 *   tail      UDF's second anchor; the backup GPT
 *
 * Every namespace points at the same data sectors. */
#include "tsmedia/iso.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iso_internal.h"
#include "tsmedia/hash.h"
#include "tsmedia/log.h"

#define SYSTEM_AREA_SECTORS 16u
#define UDF_LOW_GAP1_END 32u   /* main VDS starts here */
#define UDF_LOW_GAP2_START 66u /* after LVID + TD */
#define UDF_AVDP_SECTOR 256u
#define UDF_TAIL_GAP 256u      /* N - 256 anchor */

static uint32_t sectors_of(uint64_t bytes) { return (uint32_t)((bytes + ISO_SECTOR - 1) / ISO_SECTOR); }

/* ---- nodes ---------------------------------------------------------- */

struct collect {
	struct iso_ctx *ctx;
	size_t n;
	int rc;
};

static int count_node(struct tsm_tree_node *t, void *arg)
{
	(void)t;
	((struct collect *)arg)->n++;
	return 0;
}

static int add_node(struct tsm_tree_node *t, void *arg)
{
	struct collect *c = arg;
	struct iso_node *n = &c->ctx->nodes[c->ctx->nnodes];

	n->t = t;
	n->serial = (uint32_t)++c->ctx->nnodes;
	n->dir = t->type == TSM_ENTRY_DIR;
	n->symlink = t->type == TSM_ENTRY_SYMLINK;
	n->parent = t->parent ? t->parent->writer_data : n;
	t->writer_data = n;
	if (t->type == TSM_ENTRY_FILE) {
		n->size = t->size;
		if (n->size && t->blob_id <= 0 && !t->image && !t->data) {
			char *path = tsm_tree_node_path(t);

			tsm_error("'%s' has %llu bytes but no blob, image or data", path ? path : "?",
				  (unsigned long long)t->size);
			free(path);
			return -EINVAL;
		}
	}
	if (n->dir)
		n->parent->nsubdirs += n != n->parent;
	return 0;
}

static int nodes_collect(struct iso_ctx *ctx)
{
	struct collect c = { .ctx = ctx };
	int rc;

	tsm_tree_walk(ctx->tree, count_node, &c);
	if (!(ctx->nodes = calloc(c.n, sizeof(*ctx->nodes))))
		return -ENOMEM;
	if ((rc = tsm_tree_walk(ctx->tree, add_node, &c)) < 0)
		return rc;
	for (size_t i = 0; i < ctx->nnodes; i++) {
		struct iso_node *n = &ctx->nodes[i];

		if (!n->dir)
			continue;
		if (!(n->kids = calloc(n->t->nchildren ? n->t->nchildren : 1, sizeof(*n->kids))))
			return -ENOMEM;
		/* A hidden node (a boot image only a boot entry names) is laid
		 * out but listed by no directory. */
		for (size_t k = 0; k < n->t->nchildren; k++)
			if (!n->t->children[k]->hidden)
				n->kids[n->nkids++] = n->t->children[k]->writer_data;
	}
	return 0;
}

static void ctx_free(struct iso_ctx *ctx)
{
	for (size_t i = 0; i < ctx->nnodes; i++) {
		free(ctx->nodes[i].kids);
		free(ctx->nodes[i].iso_kids);
		free(ctx->nodes[i].jol_kids);
		ctx->nodes[i].t->writer_data = NULL;
	}
	free(ctx->nodes);
	free(ctx->dirs);
	free(ctx->jdirs);
	free(ctx->susp);
	sysarea_free(ctx);
}

/* ---- sector allocation ---------------------------------------------- */

struct alloc {
	bool udf;
	uint32_t low, high;
};

/* Metadata outside UDF's partition: the first gap that holds it whole. */
static uint32_t alloc_meta(struct alloc *a, uint32_t n)
{
	uint32_t at;

	if (!n)
		return 0;
	if (!a->udf) {
		at = a->high;
		a->high += n;
		return at;
	}
	if (a->low < UDF_LOW_GAP1_END && a->low + n <= UDF_LOW_GAP1_END) {
		at = a->low;
		a->low += n;
		return at;
	}
	if (a->low < UDF_LOW_GAP2_START)
		a->low = UDF_LOW_GAP2_START;
	if (a->low + n <= UDF_AVDP_SECTOR) {
		at = a->low;
		a->low += n;
		return at;
	}
	at = a->high;
	a->high += n;
	return at;
}

static int alloc_high(struct iso_ctx *ctx, struct alloc *a, uint64_t bytes, uint32_t *lba_ret)
{
	uint64_t n = (bytes + ISO_SECTOR - 1) / ISO_SECTOR;

	if (a->high + n > 0xFFFFFFF0u - UDF_TAIL_GAP - HYBRID_GPT_TAIL_SECTORS) {
		(void)ctx;
		tsm_error("ISO layout: the image would exceed 2^32 sectors (8 TiB)");
		return -EFBIG;
	}
	*lba_ret = a->high;
	a->high += (uint32_t)n;
	return 0;
}

static int layout_sectors(struct iso_ctx *ctx)
{
	const struct tsm_iso_options *o = ctx->opts;
	bool udf = o->udf, boot = ctx->bios_boot || ctx->uefi_boot;
	uint32_t lba = SYSTEM_AREA_SECTORS, off;
	struct alloc a = { .udf = udf };
	int rc;

	ctx->pvd_lba = lba++;
	if (boot)
		ctx->br_lba = lba++;
	if (o->joliet)
		ctx->svd_lba = lba++;
	ctx->term_lba = lba++;
	if (udf) {
		ctx->vrs_lba = lba;
		lba += 3;
	}
	ctx->ndesc = lba - SYSTEM_AREA_SECTORS;
	a.low = lba;
	a.high = udf ? UDF_AVDP_SECTOR + 1 : lba;

	if (boot)
		ctx->catalog_lba = alloc_meta(&a, 1);
	ctx->lpt_lba = alloc_meta(&a, sectors_of(ctx->pt_size));
	ctx->mpt_lba = alloc_meta(&a, sectors_of(ctx->pt_size));
	if (o->joliet) {
		ctx->jlpt_lba = alloc_meta(&a, sectors_of(ctx->jpt_size));
		ctx->jmpt_lba = alloc_meta(&a, sectors_of(ctx->jpt_size));
	}
	ctx->dirs_lba = alloc_meta(&a, ctx->dirs_sectors);
	off = ctx->dirs_lba;
	for (size_t i = 0; i < ctx->ndirs; i++) {
		ctx->dirs[i]->dir_lba = off;
		off += ctx->dirs[i]->dir_size / ISO_SECTOR;
		ctx->dirs[i]->ce_lba = off;
		off += ctx->dirs[i]->ce_sectors;
	}
	if (o->joliet) {
		ctx->jdirs_lba = alloc_meta(&a, ctx->jdirs_sectors);
		off = ctx->jdirs_lba;
		for (size_t i = 0; i < ctx->njdirs; i++) {
			ctx->jdirs[i]->jdir_lba = off;
			off += ctx->jdirs[i]->jdir_size / ISO_SECTOR;
		}
	}

	if (udf) {
		ctx->udf_part_start = a.high;
		ctx->udf_fsd_lba = a.high;
		a.high += 2;
		ctx->udf_fe_lba = a.high;
		for (size_t i = 0; i < ctx->nnodes; i++)
			ctx->nodes[i].udf_fe = ctx->udf_fe_lba - ctx->udf_part_start + (uint32_t)i;
		a.high += (uint32_t)ctx->nnodes;
		ctx->udf_fid_lba = a.high;
		a.high += ctx->udf_fid_blocks;
	}
	for (size_t i = 0; i < ctx->nnodes; i++) {
		struct iso_node *n = &ctx->nodes[i];

		if (n == ctx->catalog_node) {
			n->data_lba = ctx->catalog_lba;
			continue;
		}
		if (!n->dir && !n->symlink && n->size && n != ctx->uefi_boot &&
		    (rc = alloc_high(ctx, &a, n->size, &n->data_lba)) < 0)
			return rc;
	}
	if (ctx->uefi_boot && (rc = alloc_high(ctx, &a, ctx->uefi_boot->size,
					       &ctx->uefi_boot->data_lba)) < 0)
		return rc;
	ctx->data_end = a.high;
	ctx->total_sectors = a.high;
	if (udf) {
		ctx->udf_part_len = a.high - ctx->udf_part_start;
		/* ECMA-167 3/8.4.2.1: a second anchor at N (the last sector), or
		 * at N - 256 when the backup GPT owns the last sectors. */
		ctx->udf_avdp2_lba = a.high;
		ctx->total_sectors = a.high + 1 + (o->hybrid_gpt && !ctx->sa ? UDF_TAIL_GAP : 0);
		if (!ctx->sa && !o->hybrid_gpt && o->hybrid_mbr && o->hybrid_cyl_align) {
			/* Whole cylinders (below); the anchor stays the last sector. */
			ctx->total_sectors = (ctx->total_sectors + 511) / 512 * 512;
			ctx->udf_avdp2_lba = ctx->total_sectors - 1;
		}
		if (ctx->sa && sysarea_tail_sectors(ctx)) {
			/* The backup GPT after UDF's anchor at N - 256, then whole
			 * cylinders when the original had them. */
			ctx->total_sectors = a.high + 1 + UDF_TAIL_GAP;
			if (o->hybrid_cyl_align)
				ctx->total_sectors = (ctx->total_sectors + 511) / 512 * 512;
			ctx->udf_avdp2_lba = ctx->total_sectors - 1 - UDF_TAIL_GAP;
		} else if (ctx->sa && o->hybrid_cyl_align) {
			ctx->total_sectors = (ctx->total_sectors + 511) / 512 * 512;
			ctx->udf_avdp2_lba = ctx->total_sectors - 1;
		}
	} else if (ctx->sa) {
		/* An imported system area: the room its tables need at the end
		 * (the backup GPT), then whole cylinders when the original had. */
		ctx->total_sectors += sysarea_tail_sectors(ctx);
		if (o->hybrid_cyl_align)
			ctx->total_sectors = (ctx->total_sectors + 511) / 512 * 512;
	} else if (o->hybrid_gpt) {
		ctx->total_sectors += HYBRID_GPT_TAIL_SECTORS;
	} else if (o->hybrid_mbr && o->hybrid_cyl_align) {
		/* 64 x 32 x 512 bytes = 512 ISO sectors a cylinder. */
		ctx->total_sectors = (ctx->total_sectors + 511) / 512 * 512;
	}
	return 0;
}

/* ---- writing -------------------------------------------------------- */

int iso_emit_file_range(struct iso_ctx *ctx, struct iso_node *n, uint64_t off, uint64_t len)
{
	uint64_t at = (uint64_t)n->data_lba * ISO_SECTOR + off;
	struct tsm_tree_node *t = n->t;

	if (!len)
		return 0;
	if (t->data) {
		uint8_t *m = tsm_image_builder_meta(ctx->b, at, (size_t)len);

		if (!m)
			return -ENOMEM;
		memcpy(m, t->data + off, (size_t)len);
		return 0;
	}
	if (t->image)
		return tsm_image_builder_image(ctx->b, at, len, t->image, off);
	return tsm_image_builder_blob(ctx->b, at, len, t->blob_id, off);
}

static int write_descriptors(struct iso_ctx *ctx)
{
	uint8_t *p = tsm_image_builder_meta(ctx->b, (uint64_t)ctx->pvd_lba * ISO_SECTOR,
					    (size_t)ctx->ndesc * ISO_SECTOR);

	if (!p)
		return -ENOMEM;
#define AT(lba) (p + (size_t)((lba) - ctx->pvd_lba) * ISO_SECTOR)
	iso9660_write_vd(ctx, AT(ctx->pvd_lba), false);
	if (ctx->br_lba)
		eltorito_write_br(ctx, AT(ctx->br_lba));
	if (ctx->svd_lba)
		iso9660_write_vd(ctx, AT(ctx->svd_lba), true);
	iso9660_write_terminator(AT(ctx->term_lba));
	if (ctx->vrs_lba)
		udf_write_vrs(AT(ctx->vrs_lba));
#undef AT
	return 0;
}

static int write_dirs(struct iso_ctx *ctx, bool joliet)
{
	uint32_t lba = joliet ? ctx->jdirs_lba : ctx->dirs_lba;
	uint32_t nsec = joliet ? ctx->jdirs_sectors : ctx->dirs_sectors;
	struct iso_node **dirs = joliet ? ctx->jdirs : ctx->dirs;
	size_t ndirs = joliet ? ctx->njdirs : ctx->ndirs;
	uint8_t *p = tsm_image_builder_meta(ctx->b, (uint64_t)lba * ISO_SECTOR,
					    (size_t)nsec * ISO_SECTOR);

	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < ndirs; i++) {
		struct iso_node *d = dirs[i];
		uint32_t lba_d = joliet ? d->jdir_lba : d->dir_lba;

		ctx->ce_cursor = 0;
		ctx->ce_lba = d->ce_lba;
		ctx->ce_buf = !joliet && d->ce_sectors ? p + (size_t)(d->ce_lba - lba) * ISO_SECTOR
						       : NULL;
		iso9660_dir_bytes(ctx, d, joliet, p + (size_t)(lba_d - lba) * ISO_SECTOR);
	}
	ctx->ce_buf = NULL;
	return 0;
}

static int write_file_data(struct iso_ctx *ctx)
{
	int rc;

	for (size_t i = 0; i < ctx->nnodes; i++) {
		struct iso_node *n = &ctx->nodes[i];

		if (n->dir || n->symlink || !n->size || n == ctx->catalog_node)
			continue; /* the catalog is written as META at its sector */
		if (n == ctx->bios_boot && (ctx->opts->boot_info_table || ctx->opts->grub2_boot_info))
			rc = eltorito_emit_boot_file(ctx, n);
		else
			rc = iso_emit_file_range(ctx, n, 0, n->size);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int volume_hash(struct iso_ctx *ctx)
{
	char buf[128];
	int len = snprintf(buf, sizeof(buf), "%s\n%llu",
			   ctx->opts->volume_id ? ctx->opts->volume_id : "CDROM",
			   (unsigned long long)ctx->total_sectors * ISO_SECTOR);

	return tsm_sha256(buf, (size_t)len < sizeof(buf) ? (size_t)len : sizeof(buf) - 1,
			  ctx->volume_hash);
}

static int layout(struct iso_ctx *ctx, struct tsm_image **image_ret)
{
	const struct tsm_iso_options *o = ctx->opts;
	const char *vol = o->volume_id && *o->volume_id ? o->volume_id : "CDROM";
	size_t vlen;
	int rc;

	iso_set_achars((uint8_t *)ctx->volume_id, 32, vol, true);
	for (vlen = 32; vlen > 0 && ctx->volume_id[vlen - 1] == ' '; vlen--)
		;
	ctx->volume_id[vlen] = '\0';

	if ((rc = nodes_collect(ctx)) < 0)
		return rc;
	if (ctx->nodes[0].t != ctx->tree->root || !ctx->nodes[0].dir)
		return -EINVAL;
	if ((o->rock_ridge && (rc = rr_prepare(ctx)) < 0) || (rc = iso9660_prepare(ctx)) < 0 ||
	    (o->joliet && (rc = joliet_prepare(ctx)) < 0) || (o->udf && (rc = udf_prepare(ctx)) < 0) ||
	    (rc = eltorito_prepare(ctx)) < 0)
		return rc;
	if ((rc = sysarea_prepare(ctx)) < 0)
		return rc;
	if (!ctx->sa && o->hybrid_gpt && !ctx->uefi_boot)
		tsm_warn("hybrid GPT without a UEFI boot image: only the ISO data partition");

	/* Sizes: directories (with their Rock Ridge entries and the
	 * continuation areas those need) do not depend on where things go. */
	for (size_t i = 0; i < ctx->ndirs; i++) {
		struct iso_node *d = ctx->dirs[i];

		ctx->ce_cursor = 0;
		d->dir_size = iso9660_dir_bytes(ctx, d, false, NULL);
		d->ce_sectors = sectors_of(ctx->ce_cursor);
		ctx->dirs_sectors += d->dir_size / ISO_SECTOR + d->ce_sectors;
	}
	for (size_t i = 0; i < ctx->njdirs; i++) {
		ctx->jdirs[i]->jdir_size = iso9660_dir_bytes(ctx, ctx->jdirs[i], true, NULL);
		ctx->jdirs_sectors += ctx->jdirs[i]->jdir_size / ISO_SECTOR;
	}
	if ((rc = layout_sectors(ctx)) < 0 || (rc = volume_hash(ctx)) < 0)
		return rc;

	if ((rc = tsm_image_builder_new(&ctx->b)) < 0)
		return rc;
	if ((rc = write_descriptors(ctx)) < 0 || (rc = iso9660_write_path_tables(ctx, false)) < 0 ||
	    (o->joliet && (rc = iso9660_write_path_tables(ctx, true)) < 0) ||
	    (rc = write_dirs(ctx, false)) < 0 || (o->joliet && (rc = write_dirs(ctx, true)) < 0) ||
	    ((ctx->bios_boot || ctx->uefi_boot) && (rc = eltorito_write_catalog(ctx)) < 0) ||
	    (o->udf && (rc = udf_write(ctx)) < 0) ||
	    (rc = ctx->sa ? sysarea_write(ctx) : hybrid_write(ctx)) < 0 ||
	    (rc = write_file_data(ctx)) < 0) {
		tsm_image_builder_free(ctx->b);
		ctx->b = NULL;
		return rc;
	}
	rc = tsm_image_builder_finish(ctx->b, (uint64_t)ctx->total_sectors * ISO_SECTOR, image_ret);
	ctx->b = NULL;
	return rc;
}

int tsm_iso_layout(struct tsm_tree *tree, const struct tsm_iso_options *opts,
		   struct tsm_image **image_ret)
{
	struct iso_ctx ctx = { .opts = opts, .tree = tree };
	int rc = layout(&ctx, image_ret);

	if (rc == -ENOMEM)
		tsm_error("ISO layout: out of memory");
	ctx_free(&ctx);
	return rc;
}
