/* Joliet (Microsoft, "Joliet Specification", 1995): a supplementary volume
 * descriptor (ECMA-119 8.5) whose names are UCS-2 big-endian (ECMA-119
 * 7.2.2 byte order), escape sequence %/E (UCS-2 level 3).
 *
 * Names keep their case and up to 64 characters; longer ones are shortened
 * keeping the extension, characters Joliet forbids (controls, * / : ; ? \)
 * and characters beyond the BMP (UCS-2 has no surrogates) become '_', and
 * clashes get a numbered suffix.  Symbolic links are left out: Joliet cannot
 * express them (Rock Ridge and UDF can). */
#include "iso_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encode.h"
#include "tsmedia/log.h"

size_t joliet_map_name(const char *name, bool dir, unsigned suffix, uint8_t *out)
{
	uint16_t u[1024], res[JOLIET_MAX_NAME];
	size_t n = 0, r = 0, dot = 0, el = 0, sl = 0, bl;
	char sfx[16] = "";

	while (*name && n < sizeof(u) / sizeof(u[0]))
		u[n++] = joliet_char(iso_utf8_next(&name));
	if (suffix)
		sl = (size_t)snprintf(sfx, sizeof(sfx), "_%u", suffix);
	if (!dir)
		for (size_t i = n; i-- > 1;)
			if (u[i] == '.') {
				dot = i;
				break;
			}
	/* An extension of up to 16 characters (dot included) survives
	 * shortening; a longer one is shortened with the rest. */
	if (dot && n - dot <= 16)
		el = n - dot;
	bl = n - el;
	if (bl + el + sl > JOLIET_MAX_NAME)
		bl = JOLIET_MAX_NAME - el - sl;
	memcpy(res, u, bl * sizeof(*u));
	r = bl;
	for (size_t i = 0; i < sl; i++)
		res[r++] = (uint16_t)sfx[i];
	memcpy(res + r, u + n - el, el * sizeof(*u));
	r += el;
	for (size_t i = 0; i < r; i++)
		be16_set(out + 2 * i, res[i]);
	r *= 2;
	if (!dir) {
		be16_set(out + r, ';');
		be16_set(out + r + 2, '1');
		r += 4;
	}
	return r;
}

static size_t jol_make(const struct iso_node *n, unsigned suffix, uint8_t *out)
{
	return joliet_map_name(n->t->name, n->dir, suffix, out);
}

static void jol_store(struct iso_node *n, const uint8_t *name, size_t len)
{
	memcpy(n->jol_name, name, len);
	n->jol_len = (uint8_t)len;
}

/* Joliet leaves the order to ECMA-119 9.3: code units compared in order. */
static int jol_kid_cmp(const void *a, const void *b)
{
	const struct iso_node *x = *(struct iso_node *const *)a, *y = *(struct iso_node *const *)b;
	size_t xl = x->jol_len, yl = y->jol_len;
	int c;

	/* Compare without the ";1" version. */
	if (!x->dir)
		xl -= 4;
	if (!y->dir)
		yl -= 4;
	c = memcmp(x->jol_name, y->jol_name, xl < yl ? xl : yl);
	return c ? c : xl < yl ? -1 : xl > yl;
}

int joliet_prepare(struct iso_ctx *ctx)
{
	static const struct iso_name_ops ops = { jol_make, jol_store };
	size_t head = 0;
	int rc;

	for (size_t i = 0; i < ctx->nnodes; i++) {
		struct iso_node *d = &ctx->nodes[i];

		if (!d->dir)
			continue;
		if (!(d->jol_kids = calloc(d->nkids ? d->nkids : 1, sizeof(*d->jol_kids))))
			return -ENOMEM;
		d->njol_kids = 0;
		for (size_t k = 0; k < d->nkids; k++)
			if (!d->kids[k]->symlink)
				d->jol_kids[d->njol_kids++] = d->kids[k];
		if ((rc = iso_names_unique(d->jol_kids, d->njol_kids, &ops)) < 0)
			return rc;
		qsort(d->jol_kids, d->njol_kids, sizeof(*d->jol_kids), jol_kid_cmp);
	}
	if (!(ctx->jdirs = calloc(ctx->nnodes, sizeof(*ctx->jdirs))))
		return -ENOMEM;
	ctx->jdirs[ctx->njdirs++] = &ctx->nodes[0];
	while (head < ctx->njdirs) {
		struct iso_node *d = ctx->jdirs[head++];

		if (ctx->njdirs > 65535) {
			tsm_error("Joliet: more than 65535 directories do not fit a path table");
			return -E2BIG;
		}
		d->jpt_num = (uint16_t)head;
		for (size_t k = 0; k < d->njol_kids; k++)
			if (d->jol_kids[k]->dir)
				ctx->jdirs[ctx->njdirs++] = d->jol_kids[k];
	}
	ctx->jpt_size = 0;
	for (size_t i = 0; i < ctx->njdirs; i++) {
		size_t idl = i == 0 ? 1 : ctx->jdirs[i]->jol_len;

		ctx->jpt_size += (uint32_t)(8 + idl + (idl & 1));
	}
	return 0;
}
