/* JSON with limits: cJSON parsing guarded by a size cap and a nesting check done before cJSON recurses,
 * plus small accessors. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>

#include "common/common.h"

/* Scans brackets outside strings, so input nested past max_depth never reaches cJSON's recursion. */
static bool depth_ok(const char *s, size_t len, int max_depth)
{
	int depth = 0;
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		switch (c) {
		case '"':
			in_string = true;
			break;
		case '[':
		case '{':
			if (++depth > max_depth)
				return false;
			break;
		case ']':
		case '}':
			depth--;
			break;
		default:
			break;
		}
	}
	return true;
}

cJSON *pve_json_parse(const char *s, size_t len, size_t max_len, int max_depth, pve_error **err)
{
	if (len > max_len) {
		pve_error_set(err, E2BIG, "JSON text too long (%zu bytes, at most %zu)", len,
			      max_len);
		return NULL;
	}
	const char *nul = memchr(s, '\0', len);
	if (nul) {
		pve_error_set(err, EINVAL, "invalid JSON at offset %zu", (size_t)(nul - s));
		return NULL;
	}
	if (!depth_ok(s, len, max_depth)) {
		pve_error_set(err, EINVAL, "JSON nested too deeply (more than %d levels)",
			      max_depth);
		return NULL;
	}
	const char *end = NULL;
	cJSON *v = cJSON_ParseWithLengthOpts(s, len, &end, false);
	if (!v) {
		size_t off = end && end >= s && end <= s + len ? (size_t)(end - s) : 0;
		pve_error_set(err, EINVAL, "invalid JSON at offset %zu", off);
		return NULL;
	}
	/* cJSON stops after the first value; anything but whitespace after it is an error. */
	size_t off = (size_t)(end - s);
	while (off < len && s[off] && strchr(" \t\r\n", s[off]))
		off++;
	if (off < len) {
		cJSON_Delete(v);
		pve_error_set(err, EINVAL, "invalid JSON at offset %zu", off);
		return NULL;
	}
	return v;
}

char *pve_json_print(const cJSON *v)
{
	char *s = cJSON_PrintUnformatted(v);
	if (!s)
		abort();
	/* cJSON allocates with malloc by default, so callers can free() it. */
	return s;
}

void pve_json_free(cJSON *v)
{
	cJSON_Delete(v);
}

const char *pve_json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

bool pve_json_int(const cJSON *obj, const char *key, long long *ret)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble;
		/* 2^63 is exact as a double; everything below it converts without overflow. */
		if (!isfinite(d) || d != floor(d) || d < -9223372036854775808.0 ||
		    d >= 9223372036854775808.0)
			return false;
		*ret = (long long)d;
		return true;
	}
	if (cJSON_IsString(v))
		return pve_parse_int(v->valuestring, LLONG_MIN, LLONG_MAX, ret) == 0;
	return false;
}
