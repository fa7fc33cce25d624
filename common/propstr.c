/* Property strings (`virtio=BC:24:11:2C:69:EC,bridge=vmbr0`): parsing into typed objects against a format,
 * printing back in Proxmox's order, and the type text of a format. */
#include <math.h>

#include "common/schema-internal.h"

#define PROPSTR_MAX_LEN (64 * 1024)

const cJSON *propstr_format_props(const cJSON *format)
{
	const cJSON *type = cJSON_GetObjectItemCaseSensitive(format, "type");
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(format, "properties");
	/* A property's schema is an object, so a string "type" marks a wrapping object schema. */
	if (cJSON_IsString(type) && streq(type->valuestring, "object") && cJSON_IsObject(props))
		return props;
	return format;
}

static bool truthy(const cJSON *schema, const char *key)
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

static const char *default_key(const cJSON *props)
{
	const cJSON *p;
	cJSON_ArrayForEach (p, props)
		if (truthy(p, "default_key"))
			return p->string;
	return NULL;
}

static void put(cJSON *obj, const char *key, const char *value)
{
	if (!cJSON_AddStringToObject(obj, key, value))
		abort();
}

int propstr_parse_internal(const char *s, const cJSON *format, const char *path, cJSON **ret_obj,
			   char **ret_msg, cJSON **ret_errors, char **ret_key)
{
	if (!cJSON_IsObject(format)) {
		*ret_msg = xstrdup("unexpected format value");
		return -EINVAL;
	}
	if (strlen(s) > PROPSTR_MAX_LEN) {
		*ret_msg =
			xasprintf("property string too long (at most %d bytes)", PROPSTR_MAX_LEN);
		return -EINVAL;
	}
	const cJSON *props = propstr_format_props(format);
	cJSON *res = cJSON_CreateObject();
	if (!res)
		abort();
	const char *dk = NULL;
	const char *p = s;
	for (;;) {
		size_t n = strcspn(p, ",");
		_cleanup_free_ char *part = xstrndup(p, n);
		bool last = p[n] == '\0';
		p += n + (last ? 0 : 1);
		if (strspn(part, " \t\r\n\v\f") == n)
			goto next;
		char *eq = strchr(part, '=');
		if (eq && eq > part && eq[1]) {
			*eq = '\0';
			const char *k = part, *v = eq + 1;
			if (cJSON_GetObjectItemCaseSensitive(res, k)) {
				*ret_msg = xasprintf(
					"duplicate key in comma-separated list property: %s", k);
				*ret_key = xstrdup(k);
				goto fail;
			}
			const cJSON *schema = cJSON_GetObjectItemCaseSensitive(props, k);
			const char *alias = pve_json_str(schema, "alias");
			if (alias) {
				const char *ka = pve_json_str(schema, "keyAlias");
				if (ka) {
					if (cJSON_GetObjectItemCaseSensitive(res, ka)) {
						*ret_msg = xasprintf(
							"key alias '%s' is already defined", ka);
						*ret_key = xstrdup(ka);
						goto fail;
					}
					put(res, ka, k);
				}
				k = alias;
				schema = cJSON_GetObjectItemCaseSensitive(props, k);
				if (cJSON_GetObjectItemCaseSensitive(res, k)) {
					*ret_msg = xasprintf(
						"duplicate key in comma-separated list property: %s",
						k);
					*ret_key = xstrdup(k);
					goto fail;
				}
			}
			if (!cJSON_IsObject(schema)) {
				*ret_msg = xasprintf(
					"invalid key in comma-separated list property: %s", k);
				*ret_key = xstrdup(k);
				goto fail;
			}
			put(res, k, v);
		} else if (!eq) {
			if (dk) {
				*ret_msg = xasprintf(
					"duplicate key in comma-separated list property: %s", dk);
				*ret_key = xstrdup(dk);
				goto fail;
			}
			dk = default_key(props);
			if (!dk) {
				*ret_msg = xstrdup(
					"value without key, but schema does not define a default key");
				goto fail;
			}
			if (cJSON_GetObjectItemCaseSensitive(res, dk)) {
				*ret_msg = xasprintf(
					"duplicate key in comma-separated list property: %s", dk);
				*ret_key = xstrdup(dk);
				goto fail;
			}
			put(res, dk, part);
		} else {
			*ret_msg = xstrdup("missing key in comma-separated list property");
			goto fail;
		}
next:
		if (last)
			break;
	}

	cJSON *errors = cJSON_CreateObject();
	if (!errors)
		abort();
	schema_check_object(props, res, NULL, true, path, errors);
	if (cJSON_GetArraySize(errors) > 0) {
		const char *k = errors->child->string;
		size_t pl = path && *path ? strlen(path) + 1 : 0;
		*ret_key = xstrdup(strlen(k) > pl ? k + pl : k);
		*ret_errors = errors;
		cJSON_Delete(res);
		return -EINVAL;
	}
	cJSON_Delete(errors);
	*ret_obj = res;
	return 0;
fail:
	cJSON_Delete(res);
	return -EINVAL;
}

int pve_propstr_parse(const char *s, const cJSON *format, cJSON **ret_obj, pve_error **err)
{
	_cleanup_free_ char *msg = NULL, *key = NULL;
	cJSON *errors = NULL, *obj = NULL;
	if (propstr_parse_internal(s, format, NULL, &obj, &msg, &errors, &key) == 0) {
		*ret_obj = obj;
		return 0;
	}
	if (msg)
		return pve_error_set_param(err, EINVAL, key, "%s", msg);
	pve_buf b = { 0 };
	const cJSON *e;
	cJSON_ArrayForEach (e, errors) {
		if (b.len)
			pve_buf_puts(&b, "; ");
		pve_buf_printf(&b, "%s: %s", e->string, e->valuestring);
	}
	cJSON_Delete(errors);
	int r = pve_error_set_param(err, EINVAL, key, "%s", b.data ? b.data : "format error");
	pve_buf_free(&b);
	return r;
}

static int strcmp_p(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A value as it appears in the string: NULL for what cannot be written (lists, objects, commas). */
static char *value_text(const cJSON *v, const cJSON *phash)
{
	const char *format = pve_json_str(phash, "format");
	char *t;
	if (cJSON_IsString(v))
		t = xstrdup(v->valuestring);
	else if (cJSON_IsBool(v))
		t = xstrdup(cJSON_IsTrue(v) ? "1" : "0");
	else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) &&
		 fabs(v->valuedouble) < 9007199254740992.0)
		t = xasprintf("%.0f", v->valuedouble);
	else if (cJSON_IsNumber(v))
		t = xasprintf("%.17g", v->valuedouble);
	else
		return NULL;
	if (format && streq(format, "disk-size")) {
		uint64_t bytes;
		if (pve_parse_size(t, &bytes) == 0) {
			free(t);
			t = pve_format_size(bytes);
		}
	}
	if (strchr(t, ',')) {
		free(t);
		return NULL;
	}
	return t;
}

char *pve_propstr_print(const cJSON *obj, const cJSON *format)
{
	if (!cJSON_IsObject(obj) || !cJSON_IsObject(format))
		return NULL;
	const cJSON *props = propstr_format_props(format);
	const char *dk = default_key(props);
	size_t n = (size_t)cJSON_GetArraySize(obj);
	_cleanup_strv_free_ char **keys = xcalloc(n + 1, sizeof(char *));
	_cleanup_free_ bool *done = xcalloc(n + 1, sizeof(bool));
	size_t k = 0;
	const cJSON *e;
	cJSON_ArrayForEach (e, obj)
		if (e->string)
			keys[k++] = xstrdup(e->string);
	qsort(keys, k, sizeof(char *), strcmp_p);

	pve_buf b = { 0 };
	bool ok = true;
	/* Three passes as Proxmox: the default key, then required keys, then the rest. */
	for (int pass = 0; pass < 3 && ok; pass++) {
		for (size_t i = 0; i < k && ok; i++) {
			if (done[i])
				continue;
			const char *key = keys[i];
			const cJSON *phash = cJSON_GetObjectItemCaseSensitive(props, key);
			if (pass == 0 && !streq_ptr(key, dk))
				continue;
			if (pass == 1 && (!phash || pve_schema_is_optional(phash)))
				continue;
			done[i] = true;
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
			if (cJSON_IsNull(v))
				continue;
			/* A keyAlias pair prints as `model=macaddr`, e.g. virtio=BC:24:11:.. */
			const cJSON *pp;
			const char *combine = NULL;
			cJSON_ArrayForEach (pp, props) {
				const char *ka = pve_json_str(pp, "keyAlias");
				if (ka && streq(ka, key))
					combine = pve_json_str(pp, "alias");
			}
			const cJSON *cv = combine ? cJSON_GetObjectItemCaseSensitive(obj, combine) :
						    NULL;
			if (cv && !cJSON_IsNull(cv)) {
				_cleanup_free_ char *a = value_text(v, phash);
				_cleanup_free_ char *c = value_text(
					cv, cJSON_GetObjectItemCaseSensitive(props, combine));
				if (!a || !c) {
					ok = false;
					break;
				}
				if (b.len)
					pve_buf_puts(&b, ",");
				pve_buf_printf(&b, "%s=%s", a, c);
				for (size_t j = 0; j < k; j++)
					if (streq(keys[j], combine))
						done[j] = true;
				continue;
			}
			const char *alias = pve_json_str(phash, "alias");
			if (alias)
				phash = cJSON_GetObjectItemCaseSensitive(props, alias);
			if (!cJSON_IsObject(phash)) {
				ok = false;
				break;
			}
			_cleanup_free_ char *t = value_text(v, phash);
			if (!t) {
				ok = false;
				break;
			}
			if (b.len)
				pve_buf_puts(&b, ",");
			/* A bare value must not read back as key=value or as an empty item. */
			if (pass == 0 && !strchr(t, '=') && strspn(t, " \t\r\n\v\f") < strlen(t))
				pve_buf_puts(&b, t);
			else
				pve_buf_printf(&b, "%s=%s", key, t);
		}
	}
	if (!ok) {
		pve_buf_free(&b);
		return NULL;
	}
	return pve_buf_steal(&b);
}

char *propstr_typetext(const cJSON *format, bool list_enums)
{
	const cJSON *props = propstr_format_props(format);
	const char *dk = default_key(props);
	size_t n = (size_t)cJSON_GetArraySize(props), k = 0;
	_cleanup_strv_free_ char **keys = xcalloc(n + 1, sizeof(char *));
	_cleanup_free_ bool *done = xcalloc(n + 1, sizeof(bool));
	const cJSON *p;
	cJSON_ArrayForEach (p, props)
		if (p->string)
			keys[k++] = xstrdup(p->string);
	qsort(keys, k, sizeof(char *), strcmp_p);

	pve_buf b = { 0 };
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < k; i++) {
			const cJSON *ph = cJSON_GetObjectItemCaseSensitive(props, keys[i]);
			if (done[i] || (pass == 0 && !streq_ptr(keys[i], dk)) ||
			    (pass == 1 && pve_schema_is_optional(ph)))
				continue;
			done[i] = true;
			if (pve_json_str(ph, "alias"))
				continue;
			_cleanup_free_ char *tt = NULL;
			const char *fd = pve_json_str(ph, "format_description");
			const char *t = pve_json_str(ph, "typetext");
			const cJSON *en = cJSON_GetObjectItemCaseSensitive(ph, "enum");
			const char *type = pve_json_str(ph, "type");
			if (fd) {
				tt = xasprintf("<%s>", fd);
			} else if (t) {
				tt = xstrdup(t);
			} else if (cJSON_IsArray(en)) {
				if (list_enums || cJSON_GetArraySize(en) <= 3) {
					pve_buf eb = { 0 };
					const cJSON *e;
					cJSON_ArrayForEach (e, en)
						if (cJSON_IsString(e))
							pve_buf_printf(&eb, "%s%s",
								       eb.len ? "|" : "",
								       e->valuestring);
					tt = xasprintf("<%s>", eb.data ? eb.data : "");
					pve_buf_free(&eb);
				} else {
					tt = xstrdup("<enum>");
				}
			} else if (streq_ptr(type, "boolean")) {
				tt = xstrdup("<1|0>");
			} else if (streq_ptr(type, "integer")) {
				tt = xstrdup("<integer>");
			} else if (streq_ptr(type, "number")) {
				tt = xstrdup("<number>");
			} else {
				tt = xstrdup("<string>");
			}
			_cleanup_free_ char *opt = streq_ptr(keys[i], dk) ?
							   xasprintf("[%s=]%s", keys[i], tt) :
							   xasprintf("%s=%s", keys[i], tt);
			bool optional = pve_schema_is_optional(ph);
			if (b.len)
				pve_buf_printf(&b, optional ? " [,%s]" : " ,%s", opt);
			else
				pve_buf_printf(&b, optional ? "[%s]" : "%s", opt);
		}
	}
	return pve_buf_steal(&b);
}
