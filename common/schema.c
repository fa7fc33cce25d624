/* The schema validator: Proxmox's JSON-schema dialect for API parameters, with its type conversions and
 * its error messages, word for word. */
#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <regex.h>

#include "common/schema-internal.h"

static bool flag(const cJSON *schema, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(schema, key);
	if (cJSON_IsTrue(v))
		return true;
	if (cJSON_IsNumber(v))
		return v->valuedouble != 0;
	if (cJSON_IsString(v))
		return *v->valuestring && !streq(v->valuestring, "0");
	return false;
}

static const char *str_attr(const cJSON *schema, const char *key)
{
	return pve_json_str(schema, key);
}

static bool num_attr(const cJSON *schema, const char *key, double *ret)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(schema, key);
	if (cJSON_IsNumber(v)) {
		*ret = v->valuedouble;
		return true;
	}
	if (cJSON_IsString(v))
		return pve_parse_double(v->valuestring, ret) == 0;
	return false;
}

bool pve_schema_is_optional(const cJSON *prop_schema)
{
	return flag(prop_schema, "optional") ||
	       cJSON_GetObjectItemCaseSensitive(prop_schema, "default") != NULL;
}

const cJSON *pve_schema_property(const cJSON *props, const char *name)
{
	size_t len = strlen(name), d = len;
	if (!name[0] || strchr(name, '['))
		return NULL;
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(props, name);
	if (p)
		return p;
	while (d > 0 && isdigit((unsigned char)name[d - 1]))
		d--;
	/* A family's index has at most 4 digits and no leading zero: "net01" is not net1. */
	if (d == 0 || d == len || len - d > 4 || (name[d] == '0' && len - d > 1))
		return NULL;
	char family[256];
	if (d + 4 > sizeof(family))
		return NULL;
	snprintf(family, sizeof(family), "%.*s[n]", (int)d, name);
	p = cJSON_GetObjectItemCaseSensitive(props, family);
	double count;
	if (!p || !num_attr(p, "count", &count) || atoi(name + d) >= count)
		return NULL;
	return p;
}

char *schema_number_str(double d)
{
	if (d == floor(d) && fabs(d) < 1e15)
		return xasprintf("%.0f", d);
	return xasprintf("%.15g", d);
}

void schema_add_error(cJSON *errors, const char *path, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	_cleanup_free_ char *msg = xvasprintf(fmt, ap);
	va_end(ap);
	if (!path || !*path)
		path = "_root";
	cJSON *old = cJSON_GetObjectItemCaseSensitive(errors, path);
	if (old && cJSON_IsString(old)) {
		_cleanup_free_ char *joined = xasprintf("%s\n%s", old->valuestring, msg);
		cJSON_ReplaceItemInObjectCaseSensitive(errors, path, cJSON_CreateString(joined));
		return;
	}
	if (!cJSON_AddStringToObject(errors, path, msg))
		abort();
}

static char *join_path(const char *path, const char *key)
{
	return path && *path ? xasprintf("%s.%s", path, key) : xstrdup(key);
}

/* ---- in-place conversions ---- */

static void drop_string(cJSON *v)
{
	if (cJSON_IsString(v) && !(v->type & cJSON_IsReference) && !(v->type & cJSON_StringIsConst))
		free(v->valuestring);
	v->valuestring = NULL;
}

static void set_number(cJSON *v, double d)
{
	drop_string(v);
	v->type = cJSON_Number;
	cJSON_SetNumberHelper(v, d);
}

static void set_string(cJSON *v, const char *s)
{
	char *copy = xstrdup(s);
	drop_string(v);
	v->type = cJSON_String;
	v->valuestring = copy;
}

static char *number_text(double d)
{
	if (d == floor(d) && fabs(d) < 9007199254740992.0)
		return xasprintf("%.0f", d);
	return xasprintf("%.17g", d);
}

/* Perl's is_integer: ^[+-]?\d+$ */
static bool is_integer_text(const char *s)
{
	if (*s == '+' || *s == '-')
		s++;
	return *s && strspn(s, "0123456789") == strlen(s);
}

static const char *perl_ref_name(const cJSON *v)
{
	if (cJSON_IsArray(v))
		return "ARRAY";
	if (cJSON_IsObject(v))
		return "HASH";
	if (cJSON_IsBool(v))
		return "JSON::PP::Boolean";
	return "SCALAR";
}

static size_t utf8_length(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

/* 1 on a match, 0 on none, -EINVAL if the pattern cannot be compiled. */
static int pattern_match(const char *pattern, const char *value)
{
	return schema_regex_match(pattern, false, value);
}

/* ---- the checks ---- */

static void check_format(const cJSON *format, const char *text, const char *path, cJSON *errors,
			 bool *failed)
{
	if (cJSON_IsObject(format)) {
		_cleanup_free_ char *msg = NULL, *key = NULL;
		cJSON *perr = NULL, *obj = NULL;
		if (propstr_parse_internal(text, format, path, &obj, &msg, &perr, &key) == 0) {
			cJSON_Delete(obj);
			return;
		}
		*failed = true;
		if (msg) {
			schema_add_error(errors, path, "invalid format - %s", msg);
		} else {
			pve_buf b = { 0 };
			pve_buf_puts(&b, "format error");
			const cJSON *e;
			cJSON_ArrayForEach (e, perr)
				pve_buf_printf(&b, "\n%s: %s", e->string, e->valuestring);
			schema_add_error(errors, path, "invalid format - %s", b.data);
			pve_buf_free(&b);
		}
		cJSON_Delete(perr);
		return;
	}
	if (!cJSON_IsString(format) || streq(format->valuestring, "regex"))
		return;
	_cleanup_free_ char *msg = NULL;
	int r = pve_format_check(format->valuestring, text, &msg);
	/* A format we do not know is not checked here: the handler parses the value itself. */
	if (r == -EINVAL) {
		*failed = true;
		schema_add_error(errors, path, "invalid format - %s", msg ? msg : "invalid value");
	}
}

/* Type check and conversion; false (with an error added) if the value does not have the type. */
static bool check_type(const cJSON *schema, cJSON *value, const char *path, cJSON *errors)
{
	const char *type = str_attr(schema, "type");
	if (!type || streq(type, "any"))
		return true;

	if (cJSON_IsString(value)) {
		double max = PVE_SCHEMA_MAX_STRING, ml;
		if (num_attr(schema, "maxLength", &ml) && ml > max)
			max = ml;
		if (strlen(value->valuestring) > max) {
			_cleanup_free_ char *n = schema_number_str(
				num_attr(schema, "maxLength", &ml) ? ml : PVE_SCHEMA_MAX_STRING);
			schema_add_error(errors, path, "value may only be %s characters long", n);
			return false;
		}
	}

	if (streq(type, "null")) {
		if (!cJSON_IsNull(value)) {
			schema_add_error(errors, path,
					 "type check ('null') failed - value is not null");
			return false;
		}
		return true;
	}
	if (streq(type, "array")) {
		if (cJSON_IsArray(value))
			return true;
		if (cJSON_IsString(value)) {
			/* A form or query string carries one item as a plain string. */
			cJSON *item = cJSON_CreateString(value->valuestring);
			if (!item)
				abort();
			drop_string(value);
			value->type = cJSON_Array;
			value->child = NULL;
			cJSON_AddItemToArray(value, item);
			return true;
		}
		schema_add_error(errors, path, "type check ('array') failed");
		return false;
	}
	if (streq(type, "object")) {
		if (cJSON_IsObject(value))
			return true;
		schema_add_error(errors, path, "type check ('object') failed");
		return false;
	}
	if (cJSON_IsArray(value) || cJSON_IsObject(value) ||
	    (cJSON_IsBool(value) && !streq(type, "boolean"))) {
		schema_add_error(errors, path, "type check ('%s') failed - got %s", type,
				 perl_ref_name(value));
		return false;
	}
	if (streq(type, "string")) {
		if (cJSON_IsNumber(value)) {
			_cleanup_free_ char *t = number_text(value->valuedouble);
			set_string(value, t);
		}
		return true;
	}
	if (streq(type, "boolean")) {
		if (cJSON_IsBool(value)) {
			set_number(value, cJSON_IsTrue(value) ? 1 : 0);
			return true;
		}
		if (cJSON_IsNumber(value)) {
			if (value->valuedouble == 0 || value->valuedouble == 1)
				return true;
			_cleanup_free_ char *t = number_text(value->valuedouble);
			schema_add_error(errors, path, "type check ('boolean') failed - got '%s'",
					 t);
			return false;
		}
		bool b;
		if (pve_parse_bool(value->valuestring, &b) < 0) {
			schema_add_error(errors, path, "type check ('boolean') failed - got '%s'",
					 value->valuestring);
			return false;
		}
		set_number(value, b ? 1 : 0);
		return true;
	}
	if (streq(type, "integer")) {
		if (cJSON_IsNumber(value)) {
			double d = value->valuedouble;
			if (d != floor(d) || fabs(d) > 9007199254740992.0) {
				_cleanup_free_ char *t = number_text(d);
				schema_add_error(errors, path,
						 "type check ('integer') failed - got '%s'", t);
				return false;
			}
			return true;
		}
		long long n;
		if (!is_integer_text(value->valuestring) ||
		    pve_parse_int(value->valuestring, -9007199254740992LL, 9007199254740992LL, &n) <
			    0) {
			schema_add_error(errors, path, "type check ('integer') failed - got '%s'",
					 value->valuestring);
			return false;
		}
		set_number(value, (double)n);
		return true;
	}
	if (streq(type, "number")) {
		if (cJSON_IsNumber(value))
			return true;
		double d;
		if (pve_parse_double(value->valuestring, &d) < 0) {
			schema_add_error(errors, path, "type check ('number') failed - got '%s'",
					 value->valuestring);
			return false;
		}
		set_number(value, d);
		return true;
	}
	/* Types we do not know are not checked, as in Proxmox. */
	return true;
}

static void check_scalar(const cJSON *schema, cJSON *value, const char *path, cJSON *errors)
{
	_cleanup_free_ char *text = NULL;
	if (cJSON_IsString(value))
		text = xstrdup(value->valuestring);
	else if (cJSON_IsNumber(value))
		text = number_text(value->valuedouble);
	else if (cJSON_IsBool(value))
		text = xstrdup(cJSON_IsTrue(value) ? "1" : "0");
	else
		return;

	const cJSON *format = cJSON_GetObjectItemCaseSensitive(schema, "format");
	if (format) {
		bool failed = false;
		check_format(format, text, path, errors, &failed);
		if (failed)
			return;
	}
	const char *pattern = str_attr(schema, "pattern");
	if (pattern) {
		int r = pattern_match(pattern, text);
		if (r < 0) {
			schema_add_error(errors, path, "invalid regex pattern in schema");
			return;
		}
		if (r == 0) {
			schema_add_error(errors, path, "value does not match the regex pattern");
			return;
		}
	}
	double lim;
	if (num_attr(schema, "maxLength", &lim) && utf8_length(text) > lim) {
		_cleanup_free_ char *n = schema_number_str(lim);
		schema_add_error(errors, path, "value may only be %s characters long", n);
		return;
	}
	if (num_attr(schema, "minLength", &lim) && utf8_length(text) < lim) {
		_cleanup_free_ char *n = schema_number_str(lim);
		schema_add_error(errors, path, "value must be at least %s characters long", n);
		return;
	}
	double d;
	bool is_num = cJSON_IsNumber(value) || pve_parse_double(text, &d) == 0;
	if (cJSON_IsNumber(value))
		d = value->valuedouble;
	if (is_num) {
		if (num_attr(schema, "maximum", &lim) && d > lim) {
			_cleanup_free_ char *n = schema_number_str(lim);
			schema_add_error(errors, path, "value must have a maximum value of %s", n);
			return;
		}
		if (num_attr(schema, "minimum", &lim) && d < lim) {
			_cleanup_free_ char *n = schema_number_str(lim);
			schema_add_error(errors, path, "value must have a minimum value of %s", n);
			return;
		}
	}
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(schema, "enum");
	if (cJSON_IsArray(en)) {
		pve_buf all = { 0 };
		bool found = false;
		const cJSON *e;
		cJSON_ArrayForEach (e, en) {
			_cleanup_free_ char *et = NULL;
			if (cJSON_IsString(e))
				et = xstrdup(e->valuestring);
			else if (cJSON_IsNumber(e))
				et = number_text(e->valuedouble);
			else
				continue;
			if (streq(et, text))
				found = true;
			if (all.len)
				pve_buf_puts(&all, ", ");
			pve_buf_puts(&all, et);
		}
		if (!found)
			schema_add_error(errors, path,
					 "value '%s' does not have a value in the enumeration '%s'",
					 text, all.data ? all.data : "");
		pve_buf_free(&all);
	}
}

void schema_check_prop(const cJSON *schema, cJSON *value, const char *path, cJSON *errors)
{
	if (!cJSON_IsObject(schema)) {
		schema_add_error(errors, path, "Invalid schema definition.");
		return;
	}
	const char *type = str_attr(schema, "type");
	if (!value || (cJSON_IsNull(value) && !streq_ptr(type, "null"))) {
		if (!pve_schema_is_optional(schema) && !str_attr(schema, "alias"))
			schema_add_error(errors, path,
					 "property is missing and it is not optional");
		return;
	}
	if (!check_type(schema, value, path, errors))
		return;

	if (cJSON_IsArray(value)) {
		const cJSON *items = cJSON_GetObjectItemCaseSensitive(schema, "items");
		if (!cJSON_IsObject(items))
			return;
		size_t i = 0;
		cJSON *el;
		cJSON_ArrayForEach (el, value) {
			_cleanup_free_ char *p = xasprintf("%s[%zu]", path ? path : "", i++);
			schema_check_prop(items, el, p, errors);
		}
		return;
	}
	if (cJSON_IsObject(value)) {
		const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
		const cJSON *add = cJSON_GetObjectItemCaseSensitive(schema, "additionalProperties");
		if (props || add) {
			/* Inside values Proxmox forbids unknown keys only when it says so. */
			bool forbid = add && !cJSON_IsObject(add) &&
				      !flag(schema, "additionalProperties");
			schema_check_object(props, value, add, forbid, path, errors);
		}
		return;
	}
	check_scalar(schema, value, path, errors);
}

void schema_check_object(const cJSON *props, cJSON *obj, const cJSON *additional,
			 bool forbid_unknown, const char *path, cJSON *errors)
{
	if (!cJSON_IsObject(obj)) {
		schema_add_error(errors, path, "an object is required");
		return;
	}
	const cJSON *ps;
	cJSON_ArrayForEach (ps, props) {
		/* A family ("net[n]") is checked below, with the members present. */
		if (ps->string && strchr(ps->string, '['))
			continue;
		cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, ps->string);
		_cleanup_free_ char *p = join_path(path, ps->string);
		if (v && cJSON_IsNull(v) && !streq_ptr(str_attr(ps, "type"), "null")) {
			/* A JSON null is an absent parameter. */
			cJSON_DeleteItemFromObjectCaseSensitive(obj, ps->string);
			v = NULL;
		}
		schema_check_prop(ps, v, p, errors);
	}
	cJSON *v, *next;
	for (v = obj->child; v; v = next) {
		next = v->next;
		if (!v->string)
			continue;
		_cleanup_free_ char *p = join_path(path, v->string);
		const cJSON *sub = pve_schema_property(props, v->string);
		if (sub && sub->string && strchr(sub->string, '[')) {
			if (cJSON_IsNull(v)) /* a JSON null is an absent parameter */
				cJSON_Delete(cJSON_DetachItemViaPointer(obj, v));
			else
				schema_check_prop(sub, v, p, errors);
			continue;
		}
		if (sub) {
			const char *req = str_attr(sub, "requires");
			if (req && !cJSON_GetObjectItemCaseSensitive(obj, req)) {
				_cleanup_free_ char *rp = join_path(path, req);
				schema_add_error(errors, rp,
						 "missing property - '%s' requires this property",
						 p);
			}
			continue;
		}
		if (cJSON_IsObject(additional)) {
			schema_check_prop(additional, v, p, errors);
			continue;
		}
		if (forbid_unknown)
			schema_add_error(
				errors, p,
				"property is not defined in schema and the schema does not "
				"allow additional properties");
	}
}

int pve_schema_validate_params(const cJSON *schema, cJSON *params, cJSON **ret_errors)
{
	cJSON *errors = cJSON_CreateObject();
	if (!errors)
		abort();
	if (!cJSON_IsObject(params)) {
		schema_add_error(errors, NULL, "an object is required");
		goto fail;
	}
	size_t n = 0;
	const cJSON *a, *b;
	cJSON_ArrayForEach (a, params) {
		if (++n > PVE_SCHEMA_MAX_PARAMS) {
			schema_add_error(errors, NULL, "too many parameters (at most %d)",
					 PVE_SCHEMA_MAX_PARAMS);
			if (ret_errors)
				*ret_errors = errors;
			else
				cJSON_Delete(errors);
			return -E2BIG;
		}
	}
	cJSON_ArrayForEach (a, params)
		for (b = a->next; b; b = b->next)
			if (a->string && b->string && streq(a->string, b->string)) {
				schema_add_error(errors, a->string, "duplicate parameter");
				break;
			}
	if (cJSON_GetArraySize(errors) > 0)
		goto fail;

	const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
	const cJSON *add = cJSON_GetObjectItemCaseSensitive(schema, "additionalProperties");
	/* Parameter objects refuse unknown parameters unless the schema allows them. */
	bool forbid = !cJSON_IsObject(add) && !flag(schema, "additionalProperties");
	schema_check_object(props, params, add, forbid, NULL, errors);
	if (cJSON_GetArraySize(errors) > 0)
		goto fail;
	cJSON_Delete(errors);
	if (ret_errors)
		*ret_errors = NULL;
	return 0;
fail:
	if (ret_errors)
		*ret_errors = errors;
	else
		cJSON_Delete(errors);
	return -EINVAL;
}

int pve_schema_check_value(const cJSON *prop_schema, cJSON *value, char **ret_msg)
{
	cJSON *errors = cJSON_CreateObject();
	if (!errors)
		abort();
	schema_check_prop(prop_schema, value, NULL, errors);
	if (cJSON_GetArraySize(errors) == 0) {
		cJSON_Delete(errors);
		return 0;
	}
	if (ret_msg) {
		pve_buf b = { 0 };
		const cJSON *e;
		cJSON_ArrayForEach (e, errors) {
			if (b.len)
				pve_buf_puts(&b, "\n");
			if (streq(e->string, "_root"))
				pve_buf_puts(&b, e->valuestring);
			else
				pve_buf_printf(&b, "%s: %s", e->string, e->valuestring);
		}
		*ret_msg = pve_buf_steal(&b);
	}
	cJSON_Delete(errors);
	return -EINVAL;
}

static int strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

char *pve_schema_typetext(const cJSON *prop_schema)
{
	const char *type = str_attr(prop_schema, "type");
	if (!type)
		type = "string";
	const char *tt = str_attr(prop_schema, "typetext");
	if (tt)
		return xstrdup(tt);
	const char *fd = str_attr(prop_schema, "format_description");
	if (fd)
		return xasprintf("<%s>", fd);
	const cJSON *en = cJSON_GetObjectItemCaseSensitive(prop_schema, "enum");
	if (cJSON_IsArray(en)) {
		size_t n = (size_t)cJSON_GetArraySize(en), k = 0;
		_cleanup_strv_free_ char **v = xcalloc(n + 1, sizeof(char *));
		const cJSON *e;
		cJSON_ArrayForEach (e, en) {
			if (cJSON_IsString(e))
				v[k++] = xstrdup(e->valuestring);
			else if (cJSON_IsNumber(e))
				v[k++] = number_text(e->valuedouble);
		}
		qsort(v, k, sizeof(char *), strcmp_p);
		_cleanup_free_ char *j = pve_strv_join(v, " | ");
		return xasprintf("<%s>", j);
	}
	const char *pattern = str_attr(prop_schema, "pattern");
	if (pattern)
		return xstrdup(pattern);
	if (streq(type, "integer") || streq(type, "number")) {
		double min, max;
		bool hmin = num_attr(prop_schema, "minimum", &min);
		bool hmax = num_attr(prop_schema, "maximum", &max);
		_cleanup_free_ char *a = hmin ? schema_number_str(min) : NULL;
		_cleanup_free_ char *b = hmax ? schema_number_str(max) : NULL;
		if (hmin && hmax)
			return xasprintf("<%s> (%s - %s)", type, a, b);
		if (hmin)
			return xasprintf("<%s> (%s - N)", type, a);
		if (hmax)
			return xasprintf("<%s> (-N - %s)", type, b);
	} else if (streq(type, "string")) {
		const cJSON *format = cJSON_GetObjectItemCaseSensitive(prop_schema, "format");
		if (cJSON_IsObject(format))
			return propstr_typetext(format, false);
	}
	return xasprintf("<%s>", type);
}
