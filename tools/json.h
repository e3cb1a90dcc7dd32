/* A small JSON writer for --json output: objects, arrays, strings escaped
 * per RFC 8259, numbers.  Commas are placed by tracking nesting. */
#ifndef TSMEDIA_TOOLS_JSON_H
#define TSMEDIA_TOOLS_JSON_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct json {
	FILE *out;
	int depth;
	bool need_comma[64];
	bool after_key;
};

void json_init(struct json *j, FILE *out);
void json_begin_object(struct json *j);
void json_end_object(struct json *j);
void json_begin_array(struct json *j);
void json_end_array(struct json *j);
void json_key(struct json *j, const char *key);
void json_string(struct json *j, const char *s); /* NULL writes null */
void json_uint(struct json *j, uint64_t v);
void json_int(struct json *j, int64_t v);
void json_double(struct json *j, double v);
void json_bool(struct json *j, bool v);
/* Ends the document with a newline. */
void json_finish(struct json *j);

#endif
