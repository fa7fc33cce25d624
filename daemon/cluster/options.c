/* GET and PUT /cluster/options: the datacenter's options, datacenter.cfg (`key: value` lines, `#` lines
 * for its description), as Proxmox's get_options and set_options. The PUT route's parameters are the
 * file's schema: a value with an object format (next-id, migration, webauthn, ...) is answered as an
 * object and written back as the canonical property string. */
#include <cjson/cJSON.h>

#include "daemon/cluster/cluster-internal.h"

const pved_cfgfile pved_datacenter_file = { .path = "datacenter.cfg",
					    .lock = "file-datacenter_cfg",
					    .parse = pved_cfgfile_config_parse,
					    .print = pved_cfgfile_config_print,
					    .free = pved_cfgfile_config_free };

/* The file's keys and their schemas: the PUT route's parameters (without delete). */
static const cJSON *dc_props(pved *d)
{
	const pve_route *r = pve_routes_match(d->routes, "PUT", "/cluster/options", NULL, NULL);
	return r ? cJSON_GetObjectItemCaseSensitive(r->parameters, "properties") : NULL;
}

/* A value as Proxmox's parser gives it: an object for a property string, a number for an integer,
 * number or boolean; else (or when it does not parse: the file was edited by hand) the text. */
static cJSON *dc_value(const cJSON *prop, const char *text)
{
	const cJSON *format = cJSON_GetObjectItemCaseSensitive(prop, "format");
	if (cJSON_IsObject(format)) {
		cJSON *obj = NULL;
		if (pve_propstr_parse(text, format, &obj, NULL) == 0)
			return obj;
		return cJSON_CreateString(text);
	}
	cJSON *v = cJSON_CreateString(text);
	if (prop && pve_schema_check_value(prop, v, NULL) < 0) {
		cJSON_Delete(v);
		return cJSON_CreateString(text);
	}
	return v;
}

int pved_datacenter_read(pved *d, cJSON **ret, pve_error **err)
{
	_cleanup_(pved_cfgfile_config_freep) void *cfg = NULL;
	int r = pved_cfgfile_read(d, &pved_datacenter_file, &cfg, NULL, err);
	if (r < 0)
		return r;
	const cJSON *props = dc_props(d);
	cJSON *o = cJSON_CreateObject();
	_cleanup_strv_free_ char **keys = pve_config_keys(cfg, NULL);
	for (char **k = keys; k && *k; k++)
		cJSON_AddItemToObject(o, *k,
				      dc_value(cJSON_GetObjectItemCaseSensitive(props, *k),
					       pve_config_get(cfg, NULL, *k)));
	_cleanup_free_ char *desc = pve_config_get_description(cfg, NULL);
	if (desc)
		cJSON_AddStringToObject(o, "description", desc);
	*ret = o;
	return 0;
}

/* Adds the tags of s (Proxmox's list: ';', ',' or blanks between them) to the set. */
static void add_tags(cJSON *set, const char *s)
{
	if (!s)
		return;
	_cleanup_strv_free_ char **tags = pve_split_list(s);
	for (char **t = tags; t && *t; t++)
		if (**t && !cJSON_HasObjectItem(set, *t))
			cJSON_AddTrueToObject(set, *t);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Proxmox's get_allowed_tags: the tags a user may put on a guest. user-tag-access's user-allow says
 * which: free and existing take every tag on a guest the user sees, list (and those two) the
 * user-allow-list, none nothing of these; registered-tags only with Sys.Modify on /. */
static cJSON *allowed_tags(pved_call *c, const cJSON *dc)
{
	cJSON *set = cJSON_CreateObject();
	const cJSON *access = cJSON_GetObjectItemCaseSensitive(dc, "user-tag-access");
	const char *allow =
		cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(access, "user-allow"));
	allow = allow ? allow : "free";
	if (streq(allow, "free") || streq(allow, "existing")) {
		pve_buf b = { 0 };
		for (const pved_area *const *a = c->d->areas; *a; a++)
			if ((*a)->resources)
				(*a)->resources(c, "vm", &b);
		_cleanup_free_ char *text = xasprintf("[%s]", b.data ? b.data : "");
		pve_buf_free(&b);
		cJSON *guests = cJSON_Parse(text);
		const cJSON *g;
		cJSON_ArrayForEach (g, guests) {
			add_tags(set,
				 cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(g, "tags")));
		}
		cJSON_Delete(guests);
	}
	if (!streq(allow, "none"))
		add_tags(set, cJSON_GetStringValue(
				      cJSON_GetObjectItemCaseSensitive(access, "user-allow-list")));
	if (pved_call_permitted(c, "/", "Sys.Modify"))
		add_tags(set, cJSON_GetStringValue(
				      cJSON_GetObjectItemCaseSensitive(dc, "registered-tags")));
	size_t n = (size_t)cJSON_GetArraySize(set), i = 0;
	const char **names = xcalloc(n + 1, sizeof(*names));
	const cJSON *t;
	cJSON_ArrayForEach (t, set) {
		names[i++] = t->string;
	}
	qsort(names, n, sizeof(*names), cmp_names);
	cJSON *list = cJSON_CreateArray();
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(list, cJSON_CreateString(names[i]));
	free(names);
	cJSON_Delete(set);
	return list;
}

static void h_options_get(pved_call *c)
{
	pve_error *err = NULL;
	cJSON *dc = NULL;
	if (pved_datacenter_read(c->d, &dc, &err) < 0)
		return pved_call_fail(c, err);
	cJSON *res = dc;
	/* Without Sys.Audit on /: what the interface needs to show guests. */
	if (!pved_call_permitted(c, "/", "Sys.Audit")) {
		res = cJSON_CreateObject();
		static const char *const open_keys[] = { "console", "tag-style" };
		for (size_t i = 0; i < ELEMENTSOF(open_keys); i++) {
			cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(dc, open_keys[i]);
			if (v)
				cJSON_AddItemToObject(res, open_keys[i], v);
		}
	}
	cJSON_AddItemToObject(res, "allowed-tags", allowed_tags(c, dc));
	if (res != dc)
		cJSON_Delete(dc);
	pved_call_reply(c, res);
}

typedef struct {
	pved_call *c;
	const cJSON *props;
} set_job;

/* The value as the file keeps it: a property string printed canonically, a boolean as 0 or 1, a
 * number as given. */
static char *file_value(const cJSON *prop, const cJSON *v)
{
	const cJSON *format = cJSON_GetObjectItemCaseSensitive(prop, "format");
	if (cJSON_IsString(v) && cJSON_IsObject(format)) {
		cJSON *obj = NULL;
		if (pve_propstr_parse(v->valuestring, format, &obj, NULL) == 0) {
			char *s = pve_propstr_print(obj, format);
			cJSON_Delete(obj);
			if (s)
				return s;
		}
	}
	if (cJSON_IsString(v))
		return xstrdup(v->valuestring);
	if (cJSON_IsNumber(v)) {
		double x = v->valuedouble;
		return x == (double)(long long)x ? xasprintf("%lld", (long long)x) :
						   xasprintf("%g", x);
	}
	return xstrdup(cJSON_IsTrue(v) ? "1" : "0");
}

static int set_change(pved *d, void *cfg, void *ud, pve_error **err)
{
	(void)d;
	set_job *j = ud;
	const cJSON *p;
	cJSON_ArrayForEach (p, j->c->params) {
		if (streq(p->string, "delete"))
			continue;
		if (streq(p->string, "description")) {
			pve_config_set_description(cfg, NULL, p->valuestring);
			continue;
		}
		_cleanup_free_ char *v =
			file_value(cJSON_GetObjectItemCaseSensitive(j->props, p->string), p);
		if (pve_config_set(cfg, NULL, p->string, v) < 0)
			return pve_error_set_param(err, EINVAL, p->string, "value not allowed");
	}
	/* As Proxmox: the deletes after the settings, a key that is not there is no error. */
	const char *delete = pved_call_str(j->c, "delete");
	_cleanup_strv_free_ char **del = pve_split_list(delete ? delete : "");
	for (char **k = del; k && *k; k++) {
		if (streq(*k, "description"))
			pve_config_set_description(cfg, NULL, NULL);
		else
			pve_config_delete(cfg, NULL, *k);
	}
	return 0;
}

static void set_done(pved *d, void *ud, int r, pve_error *err)
{
	(void)d;
	set_job *j = ud;
	pved_call *c = j->c;
	free(j);
	if (r < 0)
		return pved_call_fail(c, err);
	pve_error_free(err);
	pved_call_reply(c, NULL);
}

static void h_options_set(pved_call *c)
{
	/* delete names keys of the file: anything else is refused, naming it. */
	const char *delete = pved_call_str(c, "delete");
	_cleanup_strv_free_ char **del = pve_split_list(delete ? delete : "");
	const cJSON *props = dc_props(c->d);
	for (char **k = del; k && *k; k++) {
		if (!cJSON_HasObjectItem(props, *k) || streq(*k, "delete")) {
			pve_error *err = NULL;
			pve_error_set_param(&err, EINVAL, "delete", "unknown setting '%s'", *k);
			return pved_call_fail(c, err);
		}
	}
	set_job *j = xcalloc(1, sizeof(*j));
	*j = (set_job){ .c = c, .props = props };
	pved_cfgedit e = { .file = &pved_datacenter_file, .change = set_change, .done = set_done };
	pved_cfgedit_run(c->d, &e, j);
}

const pved_handler pved_cluster_options_handlers[] = {
	{ "cluster_options_get", h_options_get },
	{ "cluster_options_set", h_options_set },
	{ NULL, NULL },
};
