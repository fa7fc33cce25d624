/* JSON with limits: cJSON parsing guarded by a size cap, a strict scan done before cJSON runs (nesting
 * depth, UTF-8, NUL), a check for trailing data, plus small accessors. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>

#include "common/common.h"

size_t pve_utf8_valid_prefix(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < len) {
		unsigned char c = s[i];
		if (c < 0x80) {
			i++;
			continue;
		}
		/* RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF. */
		size_t n;
		unsigned char lo = 0x80, hi = 0xbf;
		if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		} else {
			return i;
		}
		if (len - i < n || s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k < n; k++)
			if (s[i + k] < 0x80 || s[i + k] > 0xbf)
				return i;
		i += n;
	}
	return len;
}

bool pve_utf8_valid(const char *s, size_t len)
{
	return pve_utf8_valid_prefix(s, len) == len;
}

/* What the scan found wrong, and where. */
typedef struct scan_fault {
	int code; /* 0: nothing */
	const char *what;
	size_t offset;
	const char *member; /* the top-level member it is in (not NUL-terminated), or NULL */
	size_t member_len;
} scan_fault;

/* One pass before cJSON sees the text: brackets outside strings (so input nested past max_depth never
 * reaches cJSON's recursion), UTF-8 everywhere (RFC 8259 8.1: cJSON passes any byte through), and no
 * NUL, raw or as \u0000, which would cut a C string short where the caller cannot see it. It also keeps
 * the name of the top-level object member it is in, so a fault can name the parameter. */
static void scan(const char *s, size_t len, int max_depth, scan_fault *f)
{
	int depth = 0;
	bool in_string = false, top_object = false, expect_key = false, in_key = false;
	size_t key_start = 0;
	const char *member = NULL;
	size_t member_len = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\0') {
			*f = (scan_fault){ EINVAL, "invalid JSON", i, NULL, 0 };
			return;
		}
		if (c >= 0x80) {
			size_t ok = pve_utf8_valid_prefix(s + i, len - i);
			if (ok == 0) {
				*f = (scan_fault){ EINVAL, "invalid UTF-8", i,
						   in_key ? NULL : member, member_len };
				return;
			}
			i += ok - 1;
			continue;
		}
		if (in_string) {
			if (c == '\\') {
				if (len - i >= 6 && memcmp(s + i + 1, "u0000", 5) == 0) {
					*f = (scan_fault){ EINVAL, "NUL character", i,
							   in_key ? NULL : member, member_len };
					return;
				}
				i++;
			} else if (c == '"') {
				in_string = false;
				if (in_key) {
					in_key = false;
					member = s + key_start;
					member_len = i - key_start;
				}
			}
			continue;
		}
		switch (c) {
		case '"':
			in_string = true;
			if (depth == 1 && top_object && expect_key) {
				in_key = true;
				expect_key = false;
				key_start = i + 1;
			}
			break;
		case '[':
		case '{':
			if (depth == 0 && c == '{')
				top_object = expect_key = true;
			if (++depth > max_depth) {
				*f = (scan_fault){ EINVAL, "nested", i, NULL, 0 };
				return;
			}
			break;
		case ']':
		case '}':
			depth--;
			break;
		case ',':
			if (depth == 1 && top_object) {
				expect_key = true;
				member = NULL;
			}
			break;
		default:
			break;
		}
	}
}

/* A member name fit to be quoted as a parameter: plain printable ASCII, no escapes. */
static bool plain_name(const char *s, size_t len)
{
	if (len == 0 || len > 128)
		return false;
	for (size_t i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e || s[i] == '\\' || s[i] == '"')
			return false;
	return true;
}

cJSON *pve_json_parse_ex(const char *s, size_t len, size_t max_len, int max_depth, unsigned flags,
			 pve_error **err)
{
	if (len > max_len) {
		pve_error_set(err, E2BIG, "JSON text too long (%zu bytes, at most %zu)", len,
			      max_len);
		return NULL;
	}
	scan_fault f = { 0 };
	scan(s, len, max_depth, &f);
	if (f.code) {
		if (streq(f.what, "nested"))
			pve_error_set(err, EINVAL, "JSON nested too deeply (more than %d levels)",
				      max_depth);
		else if (streq(f.what, "invalid JSON"))
			pve_error_set(err, EINVAL, "invalid JSON at offset %zu", f.offset);
		else if ((flags & PVE_JSON_NAME_MEMBER) && f.member &&
			 plain_name(f.member, f.member_len)) {
			_cleanup_free_ char *name = xstrndup(f.member, f.member_len);
			pve_error_set_param(err, EINVAL, name, "%s in the value",
					    streq(f.what, "NUL character") ?
						    "NUL character (\\u0000)" :
						    "invalid UTF-8");
		} else {
			pve_error_set(err, EINVAL, "%s in JSON text at offset %zu",
				      streq(f.what, "NUL character") ? "NUL character (\\u0000)" :
								       f.what,
				      f.offset);
		}
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

cJSON *pve_json_parse(const char *s, size_t len, size_t max_len, int max_depth, pve_error **err)
{
	return pve_json_parse_ex(s, len, max_len, max_depth, 0, err);
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
