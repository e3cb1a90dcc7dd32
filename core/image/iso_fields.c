/* Encoders the ISO 9660, Joliet and Rock Ridge writers share: UTF-8
 * decoding, unique names within a directory, ECMA-119 dates and character
 * fields, Joliet's UCS-2 characters.  Below all three, so each of them
 * depends on this file and none on another's helpers. */
#include "iso_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "encode.h"
#include "tsmedia/log.h"

/* One code point of UTF-8 (U+FFFD for a malformed sequence, which skips
 * one byte). */
uint32_t iso_utf8_next(const char **s)
{
	const uint8_t *p = (const uint8_t *)*s;
	uint32_t c = p[0];
	int n = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;

	if (n < 0) {
		(*s)++;
		return 0xFFFD;
	}
	c &= n == 0 ? 0x7F : n == 1 ? 0x1F : n == 2 ? 0x0F : 0x07;
	for (int i = 1; i <= n; i++) {
		if ((p[i] & 0xC0) != 0x80) {
			(*s)++;
			return 0xFFFD;
		}
		c = c << 6 | (p[i] & 0x3F);
	}
	*s += n + 1;
	return c;
}

/* ---- names ---------------------------------------------------------- */

/* ---- unique names --------------------------------------------------- */

struct name_set {
	uint8_t **keys; /* length-prefixed copies */
	size_t cap;
};

static uint64_t name_hash(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* Adds @name unless present: 1 added, 0 present, -ENOMEM. */
static int name_set_add(struct name_set *s, const uint8_t *name, size_t len)
{
	size_t i = (size_t)name_hash(name, len) & (s->cap - 1);

	for (; s->keys[i]; i = (i + 1) & (s->cap - 1))
		if (s->keys[i][0] == len && memcmp(s->keys[i] + 1, name, len) == 0)
			return 0;
	if (!(s->keys[i] = malloc(len + 1)))
		return -ENOMEM;
	s->keys[i][0] = (uint8_t)len;
	memcpy(s->keys[i] + 1, name, len);
	return 1;
}

int iso_names_unique(struct iso_node **kids, size_t n, const struct iso_name_ops *ops)
{
	struct name_set set = { 0 };
	uint8_t buf[256];
	unsigned next = 1;
	bool *clash;
	int rc = 0;

	set.cap = 16;
	while (set.cap < 2 * n + 16)
		set.cap *= 2;
	set.keys = calloc(set.cap, sizeof(*set.keys));
	clash = calloc(n ? n : 1, sizeof(*clash));
	if (!set.keys || !clash) {
		rc = -ENOMEM;
		goto out_free_set;
	}
	for (size_t i = 0; i < n && rc >= 0; i++) {
		size_t len = ops->make(kids[i], 0, buf);

		rc = name_set_add(&set, buf, len);
		if (rc > 0)
			ops->store(kids[i], buf, len);
		else if (rc == 0)
			clash[i] = true;
	}
	for (size_t i = 0; i < n && rc >= 0; i++) {
		if (!clash[i])
			continue;
		/* The suffix only grows within a directory: n clashes cost O(n). */
		do {
			size_t len = ops->make(kids[i], next++, buf);

			rc = name_set_add(&set, buf, len);
			if (rc > 0)
				ops->store(kids[i], buf, len);
		} while (rc == 0);
	}
	rc = rc < 0 ? rc : 0;
out_free_set:
	if (set.keys)
		for (size_t i = 0; i < set.cap; i++)
			free(set.keys[i]);
	free(set.keys);
	free(clash);
	return rc;
}

/* ---- dates and strings ---------------------------------------------- */

static void split_time(int64_t ns, struct tm *tm, int *centis)
{
	int64_t s = ns / 1000000000, r = ns % 1000000000;
	time_t t;

	if (r < 0) {
		r += 1000000000;
		s--;
	}
	t = (time_t)s;
	if (!gmtime_r(&t, tm))
		memset(tm, 0, sizeof(*tm));
	*centis = (int)(r / 10000000);
}

/* ECMA-119 8.4.26.1: "YYYYMMDDHHMMSScc" in digits, then the offset from
 * GMT in 15-minute units (0: times are UTC). */
void iso_set_date_8_4_26_1(uint8_t *p, int64_t ns)
{
	struct tm tm;
	char buf[80];
	int cs, year;

	split_time(ns, &tm, &cs);
	year = tm.tm_year + 1900;
	if (year < 1 || year > 9999) {
		memset(p, '0', 16);
		p[16] = 0;
		return;
	}
	snprintf(buf, sizeof(buf), "%04d%02d%02d%02d%02d%02d%02d", year, tm.tm_mon + 1,
		 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, cs);
	memcpy(p, buf, 16);
	p[16] = 0;
}

/* ECMA-119 9.1.5: years since 1900, month, day, hour, minute, second, GMT
 * offset; each one byte. */
void iso_set_date_9_1_5(uint8_t *p, int64_t ns)
{
	struct tm tm;
	int cs;

	split_time(ns, &tm, &cs);
	if (tm.tm_year < 0 || tm.tm_year > 255) {
		memset(p, 0, 7);
		return;
	}
	p[0] = (uint8_t)tm.tm_year;
	p[1] = (uint8_t)(tm.tm_mon + 1);
	p[2] = (uint8_t)tm.tm_mday;
	p[3] = (uint8_t)tm.tm_hour;
	p[4] = (uint8_t)tm.tm_min;
	p[5] = (uint8_t)tm.tm_sec;
	p[6] = 0;
}

/* ECMA-119 7.4.1 (a-characters) and 7.4.2 (d-characters), padded with
 * spaces (7.4.3.2). */
void iso_set_achars(uint8_t *p, size_t n, const char *s, bool dchars)
{
	static const char a_extra[] = " !\"%&'()*+,-./:;<=>?_";
	size_t i = 0;

	while (s && *s && i < n) {
		uint32_t c = iso_utf8_next(&s);

		if (c >= 'a' && c <= 'z')
			c -= 'a' - 'A';
		if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
		      (!dchars && c < 0x80 && c && strchr(a_extra, (int)c))))
			c = '_';
		p[i++] = (uint8_t)c;
	}
	memset(p + i, ' ', n - i);
}

/* ---- Joliet characters (Joliet Specification, 1995) ------------------ */

uint16_t joliet_char(uint32_t c)
{
	if (c > 0xFFFF || (c >= 0xD800 && c <= 0xDFFF) || c < 0x20 || c == '*' || c == '/' ||
	    c == ':' || c == ';' || c == '?' || c == '\\')
		return '_';
	return (uint16_t)c;
}

void joliet_set_chars(uint8_t *p, size_t n, const char *s)
{
	size_t i = 0;

	while (s && *s && i + 2 <= n) {
		be16_set(p + i, joliet_char(iso_utf8_next(&s)));
		i += 2;
	}
	for (; i + 2 <= n; i += 2)
		be16_set(p + i, ' ');
	if (i < n)
		p[i] = 0;
}
