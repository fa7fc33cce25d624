/* A container's config: the file (<root>/etc/pve/nodes/<node>/lxc/<vmid>.conf: the main section, raw
 * lxc.* lines kept as they are, [pve:pending] with its delete line, one section per snapshot), its keys
 * checked against the parameters of PUT .../config, GET .../config and .../pending, and PUT with
 * Proxmox's rules: every change goes to [pve:pending] first; a stopped container gets it applied at once,
 * a running one the keys that need nothing from the running container and the limits its cgroup takes
 * (memory, swap, cpulimit, cpuunits: hotplug_limits), the rest at its next start. */
#include <cjson/cJSON.h>
#include <limits.h>

#include "api/api.h"
#include "daemon/core/guest.h"
#include "daemon/lxc/lxc-internal.h"

/* ---- the schema ------------------------------------------------------------------------------------ */

/* Parameters of PUT .../config that steer the call and are no config keys. */
static const char *const api_only[] = { "node", "vmid", "delete", "revert", "digest", NULL };

/* Keys Proxmox writes for itself (snapshots), never a parameter. */
static const char internal_keys[] =
	"{\"parent\":{\"type\":\"string\",\"format\":\"pve-configid\",\"optional\":1,\"maxLength\":40},"
	"\"snaptime\":{\"type\":\"integer\",\"minimum\":0,\"optional\":1},"
	"\"snapstate\":{\"type\":\"string\",\"enum\":[\"prepare\",\"delete\"],\"optional\":1}}";

static bool in_list(const char *key, const char *const *list)
{
	for (; *list; list++)
		if (streq(key, *list))
			return true;
	return false;
}

static cJSON *schema_from(const cJSON *parameters)
{
	const cJSON *props = cJSON_GetObjectItemCaseSensitive(parameters, "properties");
	if (!props)
		return NULL;
	cJSON *o = cJSON_Parse(internal_keys);
	const cJSON *p;
	cJSON_ArrayForEach (p, props)
		if (!in_list(p->string, api_only))
			cJSON_AddItemToObject(o, p->string, cJSON_Duplicate(p, true));
	return o;
}

/* In a task worker (no route table): the PUT route's object, found in the embedded data and parsed
 * alone, as daemon/qemu does for its create route. */
static cJSON *schema_from_embedded(void)
{
	static const char key[] =
		"{\"path\": \"/nodes/{node}/lxc/{vmid}/config\", \"method\": \"PUT\"";
	const char *at = memmem(pve_routes_json, pve_routes_json_len, key, strlen(key));
	if (!at)
		return NULL;
	const char *end = NULL;
	cJSON *route = cJSON_ParseWithLengthOpts(
		at, pve_routes_json_len - (size_t)(at - pve_routes_json), &end, false);
	cJSON *s = route ? schema_from(cJSON_GetObjectItemCaseSensitive(route, "parameters")) :
			   NULL;
	cJSON_Delete(route);
	return s;
}

const cJSON *ct_schema(pved *d)
{
	if (!d->lxc)
		d->lxc = xcalloc(1, sizeof(*d->lxc));
	if (d->lxc->props)
		return d->lxc->props;
	if (d->routes) {
		for (size_t i = 0; i < pve_routes_count(d->routes); i++) {
			const pve_route *r = pve_routes_get(d->routes, i);
			if (streq(r->path, "/nodes/{node}/lxc/{vmid}/config") &&
			    streq(r->method, "PUT")) {
				d->lxc->props = schema_from(r->parameters);
			}
		}
	} else {
		d->lxc->props = schema_from_embedded();
	}
	if (!d->lxc->props)
		abort(); /* the route data is compiled in */
	return d->lxc->props;
}

const cJSON *ct_schema_key(pved *d, const char *key)
{
	return pve_schema_property(ct_schema(d), key);
}

static const char *prop_type(const cJSON *prop)
{
	const char *t = pve_json_str(prop, "type");
	return t ? t : "string";
}

int ct_check_value(pved *d, const char *key, const char *value, cJSON **ret_typed, pve_error **err)
{
	const cJSON *prop = ct_schema_key(d, key);
	if (!prop)
		return pve_error_set_param(err, EINVAL, key, "unknown setting '%s'", key);
	cJSON *v = cJSON_CreateString(value);
	_cleanup_free_ char *msg = NULL;
	if (pve_schema_check_value(prop, v, &msg) < 0) {
		cJSON_Delete(v);
		return pve_error_set_param(err, EINVAL, key, "%s", msg ? msg : "invalid value");
	}
	if (ret_typed)
		*ret_typed = v;
	else
		cJSON_Delete(v);
	return 0;
}

/* ---- the file -------------------------------------------------------------------------------------- */

int ct_conf_load(pved *d, long long vmid, pve_config **ret,
		 char ret_digest[PVE_STORE_DIGEST_LEN + 1], pve_error **err)
{
	_cleanup_free_ char *path = ct_conf_path(d, vmid), *text = NULL;
	size_t len = 0;
	int r = pve_store_read(d->store, path, &text, &len, ret_digest, NULL);
	if (r == -ENOENT)
		return pve_error_set(err, ENOENT, "Configuration file '%s' does not exist", path);
	if (r < 0)
		return pve_error_set(err, -r, "unable to read '%s': %s", path, strerror(-r));
	pve_error *e = NULL;
	r = pve_config_parse(text, len, ret, &e);
	if (r < 0) {
		r = pve_error_set(err, EIO, "%s: %s", path, e->message);
		pve_error_free(e);
	}
	return r;
}

int ct_conf_write(pved *d, long long vmid, const pve_config *c, const char *expected_digest,
		  pve_error **err)
{
	_cleanup_free_ char *path = ct_conf_path(d, vmid);
	_cleanup_free_ char *text = pve_config_print(c);
	int r = pve_store_write(d->store, path, text, strlen(text), expected_digest, err);
	if (r == -ESTALE && err && *err)
		(*err)->code = EINVAL;
	return r;
}

int ct_conf_check_lock(const pve_config *c, pve_error **err)
{
	const char *lock = pve_config_get(c, NULL, "lock");
	if (lock)
		return pve_error_set(err, EBUSY, "CT is locked (%s)", lock);
	return 0;
}

bool ct_conf_bool(const pve_config *c, const char *section, const char *key, bool def)
{
	const char *v = pve_config_get(c, section, key);
	if (!v)
		return def;
	return streq(v, "1") || streq(v, "on") || streq(v, "yes") || streq(v, "true");
}

long long ct_conf_int(const pve_config *c, const char *section, const char *key, long long def)
{
	const char *v = pve_config_get(c, section, key);
	long long n;
	if (!v || pve_parse_int(v, LLONG_MIN, LLONG_MAX, &n) < 0)
		return def;
	return n;
}

char *ct_lock_path(const pved *d, long long vmid)
{
	_cleanup_free_ char *rel = xasprintf("run/lock/lxc/pve-config-%lld.lock", vmid);
	return pved_path(d, rel);
}

int ct_lock_wait(pved *d, long long vmid, int *ret_fd, pve_error **err)
{
	_cleanup_free_ char *path = ct_lock_path(d, vmid);
	return pved_guest_lock_wait(path, CT_LOCK_TIMEOUT_MS, ret_fd, err);
}

/* ---- mount points and volumes ------------------------------------------------------------------------ */

static bool family(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(key, prefix, n) == 0 && key[n] >= '0' && key[n] <= '9';
}

static bool mp_key(const char *key)
{
	return streq(key, "rootfs") || family(key, "mp") || family(key, "unused");
}

char *ct_mp_volume(const char *value)
{
	const char *v = startswith(value, "volume=") ? value + 7 : value;
	/* the volume is the first item unless given by name later */
	if (strchr(v, '=') && strchr(v, '=') < v + strcspn(v, ",")) {
		const char *at = strstr(value, ",volume=");
		if (!at)
			return NULL;
		v = at + 8;
	}
	return xstrndup(v, strcspn(v, ","));
}

uint64_t ct_mp_size(const char *value)
{
	const char *at = strstr(value, ",size=");
	if (!at)
		at = startswith(value, "size=") ? value - 1 : NULL;
	if (!at)
		return 0;
	_cleanup_free_ char *s = xstrndup(at + 6, strcspn(at + 6, ","));
	uint64_t n = 0;
	return pve_parse_size(s, &n) == 0 ? n : 0;
}

bool ct_volume_is_storage(const char *vol)
{
	return vol && vol[0] != '/' && strchr(vol, ':') != NULL;
}

bool ct_alloc_request(const char *vol)
{
	const char *colon = vol ? strchr(vol, ':') : NULL;
	if (!colon || colon == vol || memchr(vol, '/', (size_t)(colon - vol)))
		return false;
	uint64_t n;
	_cleanup_free_ char *size = xasprintf("%sG", colon + 1);
	return colon[1] && strspn(colon + 1, "0123456789.") == strlen(colon + 1) &&
	       pve_parse_size(size, &n) == 0;
}

char **ct_conf_volumes(const pve_config *c, long long vmid)
{
	(void)vmid;
	char **v = strv_new();
	_cleanup_strv_free_ char **sections = pve_config_sections(c);
	for (ssize_t si = -1; si < (ssize_t)strv_length(sections); si++) {
		const char *sec = si < 0 ? NULL : sections[si];
		_cleanup_strv_free_ char **keys = pve_config_keys(c, sec);
		for (char **k = keys; *k; k++) {
			if (!mp_key(*k))
				continue;
			_cleanup_free_ char *vol = ct_mp_volume(pve_config_get(c, sec, *k));
			if (!ct_volume_is_storage(vol) || strv_contains(v, vol))
				continue;
			strv_push(&v, TAKE_PTR(vol));
		}
	}
	return v;
}

int ct_storage_cfg(pved *d, pve_sectioncfg **ret, pve_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r = pve_store_read(d->store, "storage.cfg", &text, &len, NULL, NULL);
	if (r == -ENOENT) {
		text = xstrdup("");
		len = 0;
	} else if (r < 0) {
		return pve_error_set(err, -r, "unable to read storage.cfg: %s", strerror(-r));
	}
	return pve_storage_cfg_parse(text, len, ret, err);
}

int ct_volume_storage(pved *d, const pve_sectioncfg *scfg, const char *volid, pve_storage *ret_st,
		      char **ret_volname, pve_error **err)
{
	_cleanup_free_ char *sid = NULL, *volname = NULL;
	int r = pve_storage_volid_split(volid, &sid, &volname, err);
	if (r < 0)
		return r;
	r = pve_storage_get(scfg, sid, ret_st, err);
	if (r < 0)
		return r;
	if (ret_st->disabled || !pve_storage_on_node(ret_st, d->node))
		return pve_error_set(err, EINVAL, "storage '%s' is not available on node '%s'", sid,
				     d->node);
	*ret_volname = TAKE_PTR(volname);
	return 0;
}

void ct_volumes_free(pved *d, const pve_sectioncfg *scfg, char **volids, bool warn)
{
	for (char **v = volids; v && *v; v++) {
		pve_storage st;
		_cleanup_free_ char *volname = NULL;
		pve_error *err = NULL;
		int r = ct_volume_storage(d, scfg, *v, &st, &volname, &err);
		if (r >= 0)
			r = pve_storage_activate(&st, &err);
		if (r >= 0)
			r = pve_storage_free_image(&st, volname, &err);
		if (r < 0 && warn)
			pved_task_warn("can't free volume '%s': %s", *v, err->message);
		else if (r >= 0 && warn)
			printf("freed volume '%s'\n", *v);
		pve_error_free(err);
	}
}

/* ---- pending changes ------------------------------------------------------------------------------- */

static char **pending_deletes(const pve_config *c)
{
	const char *del = pve_config_get(c, CT_SECTION_PENDING, "delete");
	return pve_split_list(del ? del : "");
}

static void pending_deletes_set(pve_config *c, char **dels)
{
	if (!dels || !dels[0]) {
		pve_config_delete(c, CT_SECTION_PENDING, "delete");
		return;
	}
	_cleanup_free_ char *s = pve_strv_join(dels, ",");
	pve_config_set(c, CT_SECTION_PENDING, "delete", s);
}

static void pending_delete_remove(pve_config *c, const char *key)
{
	_cleanup_strv_free_ char **dels = pending_deletes(c);
	_cleanup_free_ char *forced = xasprintf("!%s", key);
	bool a = strv_remove(dels, key), b = strv_remove(dels, forced);
	if (a || b)
		pending_deletes_set(c, dels);
}

static void pending_delete_add(pve_config *c, const char *key, bool force)
{
	pending_delete_remove(c, key);
	_cleanup_strv_free_ char **dels = pending_deletes(c);
	strv_push(&dels, force ? xasprintf("!%s", key) : xstrdup(key));
	pending_deletes_set(c, dels);
}

static void pending_drop_if_empty(pve_config *c)
{
	_cleanup_strv_free_ char **keys = pve_config_keys(c, CT_SECTION_PENDING);
	_cleanup_free_ char *desc = pve_config_get_description(c, CT_SECTION_PENDING);
	if (pve_config_has_section(c, CT_SECTION_PENDING) && !keys[0] && !desc)
		pve_config_delete_section(c, CT_SECTION_PENDING);
}

/* The first unusedN free in the main section. */
static char *next_unused(const pve_config *c)
{
	for (int i = 0; i < LXC_MAX_UNUSED; i++) {
		char key[16];
		snprintf(key, sizeof(key), "unused%d", i);
		if (!pve_config_get(c, NULL, key))
			return xstrdup(key);
	}
	return NULL;
}

bool ct_volume_referenced(const pve_config *c, const char *vol, const char *except_key,
			  bool with_main)
{
	_cleanup_strv_free_ char **sections = pve_config_sections(c);
	for (ssize_t si = with_main ? -1 : 0; si < (ssize_t)strv_length(sections); si++) {
		const char *sec = si < 0 ? NULL : sections[si];
		if (sec && streq(sec, CT_SECTION_PENDING))
			continue;
		_cleanup_strv_free_ char **keys = pve_config_keys(c, sec);
		for (char **k = keys; *k; k++) {
			if (!mp_key(*k) || (!sec && except_key && streq(*k, except_key)))
				continue;
			_cleanup_free_ char *v = ct_mp_volume(pve_config_get(c, sec, *k));
			if (v && streq(v, vol))
				return true;
		}
	}
	return false;
}

/* Removes key from the main section as Proxmox's vmconfig_apply_pending does: a mount point's volume
 * becomes unusedN, an unusedN's volume (or a forced deletion's) is to be freed. */
static void delete_key(pve_config *c, const char *key, bool force, char ***destroy)
{
	const char *old = pve_config_get(c, NULL, key);
	if (old && (family(key, "mp") || family(key, "unused"))) {
		_cleanup_free_ char *vol = ct_mp_volume(old);
		/* used by another key or by a snapshot: removing key leaves it alone */
		if (ct_volume_is_storage(vol) && !ct_volume_referenced(c, vol, key, true)) {
			if (family(key, "unused") || force) {
				if (destroy)
					strv_push(destroy, TAKE_PTR(vol));
			} else {
				_cleanup_free_ char *u = next_unused(c);
				if (u)
					pve_config_set(c, NULL, u, vol);
			}
		}
	}
	if (streq(key, "description"))
		pve_config_set_description(c, NULL, NULL);
	else
		pve_config_delete(c, NULL, key);
}

void ct_apply_pending(pve_config *c, char ***ret_destroy)
{
	if (!pve_config_has_section(c, CT_SECTION_PENDING))
		return;
	_cleanup_strv_free_ char **dels = pending_deletes(c);
	for (char **k = dels; *k; k++) {
		bool force = (*k)[0] == '!';
		delete_key(c, *k + (force ? 1 : 0), force, ret_destroy);
	}
	_cleanup_strv_free_ char **keys = pve_config_keys(c, CT_SECTION_PENDING);
	for (char **k = keys; *k; k++) {
		if (streq(*k, "delete"))
			continue;
		pve_config_set(c, NULL, *k, pve_config_get(c, CT_SECTION_PENDING, *k));
	}
	_cleanup_free_ char *desc = pve_config_get_description(c, CT_SECTION_PENDING);
	if (desc)
		pve_config_set_description(c, NULL, desc);
	pve_config_delete_section(c, CT_SECTION_PENDING);
}

/* ---- the answers ------------------------------------------------------------------------------------- */

/* A value as Proxmox's API shows it: booleans and integers as numbers. */
static cJSON *typed_value(pved *d, const char *key, const char *value)
{
	const cJSON *prop = ct_schema_key(d, key);
	const char *t = prop ? prop_type(prop) : "string";
	if (streq(t, "boolean") || streq(t, "integer") || streq(t, "number")) {
		cJSON *v = cJSON_CreateString(value);
		if (pve_schema_check_value(prop, v, NULL) == 0)
			return v;
		cJSON_Delete(v);
	}
	return cJSON_CreateString(value);
}

/* The section's keys as GET .../config answers them; pending: with [pve:pending] applied. */
static cJSON *config_json(pved *d, const pve_config *conf, const char *section, bool pending)
{
	_cleanup_config_ pve_config *copy = NULL;
	if (pending && pve_config_has_section(conf, CT_SECTION_PENDING)) {
		_cleanup_free_ char *text = pve_config_print(conf);
		if (pve_config_parse(text, strlen(text), &copy, NULL) == 0) {
			ct_apply_pending(copy, NULL);
			conf = copy;
		}
	}
	cJSON *o = cJSON_CreateObject();
	cJSON *raw = NULL;
	_cleanup_strv_free_ char **keys = pve_config_keys(conf, section);
	for (char **k = keys; *k; k++) {
		if (startswith(*k, "lxc.")) {
			if (!raw)
				raw = cJSON_CreateArray();
			_cleanup_strv_free_ char **all = pve_config_get_all(conf, section, *k);
			for (char **v = all; *v; v++) {
				cJSON *pair = cJSON_CreateArray();
				cJSON_AddItemToArray(pair, cJSON_CreateString(*k));
				cJSON_AddItemToArray(pair, cJSON_CreateString(*v));
				cJSON_AddItemToArray(raw, pair);
			}
			continue;
		}
		/* Proxmox drops keys it does not know on read */
		if (!ct_schema_key(d, *k) || streq(*k, "snapstate"))
			continue;
		cJSON_AddItemToObject(o, *k, typed_value(d, *k, pve_config_get(conf, section, *k)));
	}
	if (raw)
		cJSON_AddItemToObject(o, "lxc", raw);
	_cleanup_free_ char *desc = pve_config_get_description(conf, section);
	if (desc)
		cJSON_AddStringToObject(o, "description", desc);
	return o;
}

static void h_config_get(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	const char *snap = pved_call_str(c, "snapshot");
	bool current = pved_call_int(c, "current", 0) != 0;
	pve_error *err = NULL;
	if (snap && current) {
		pve_error_set_param(&err, EINVAL, "snapshot",
				    "cannot use 'snapshot' parameter with 'current'");
		return pved_call_fail(c, err);
	}
	_cleanup_config_ pve_config *conf = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	if (ct_conf_load(d, vmid, &conf, digest, &err) < 0)
		return pved_call_fail(c, err);
	if (snap && (streq(snap, CT_SECTION_PENDING) || !pve_config_has_section(conf, snap))) {
		pve_error_set(&err, EINVAL, "snapshot '%s' does not exist", snap);
		return pved_call_fail(c, err);
	}
	cJSON *o = config_json(d, conf, snap, !snap && !current);
	cJSON_AddStringToObject(o, "digest", digest);
	pved_call_reply(c, o);
}

/* GET .../pending: Proxmox's config_with_pending_array. */
static void h_pending(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	if (ct_conf_load(d, vmid, &conf, digest, &err) < 0)
		return pved_call_fail(c, err);
	cJSON *a = cJSON_CreateArray();
	_cleanup_strv_free_ char **dels = pending_deletes(conf);
	_cleanup_strv_free_ char **keys = pve_config_keys(conf, NULL);
	_cleanup_strv_free_ char **pkeys = pve_config_keys(conf, CT_SECTION_PENDING);
	_cleanup_strv_free_ char **all = strv_new();
	for (char **k = keys; *k; k++)
		if (!startswith(*k, "lxc.") && ct_schema_key(d, *k))
			strv_push(&all, xstrdup(*k));
	for (char **k = pkeys; *k; k++)
		if (!streq(*k, "delete") && !strv_contains(all, *k) && ct_schema_key(d, *k))
			strv_push(&all, xstrdup(*k));
	for (char **k = dels; *k; k++) {
		const char *key = *k + ((*k)[0] == '!');
		if (!strv_contains(all, key))
			strv_push(&all, xstrdup(key));
	}
	for (char **k = all; *k; k++) {
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "key", *k);
		const char *v = pve_config_get(conf, NULL, *k);
		const char *p = pve_config_get(conf, CT_SECTION_PENDING, *k);
		if (v)
			cJSON_AddItemToObject(e, "value", typed_value(d, *k, v));
		if (p)
			cJSON_AddItemToObject(e, "pending", typed_value(d, *k, p));
		_cleanup_free_ char *forced = xasprintf("!%s", *k);
		if (strv_contains(dels, forced))
			cJSON_AddNumberToObject(e, "delete", 2);
		else if (strv_contains(dels, *k))
			cJSON_AddNumberToObject(e, "delete", 1);
		cJSON_AddItemToArray(a, e);
	}
	_cleanup_free_ char *desc = pve_config_get_description(conf, NULL);
	_cleanup_free_ char *pdesc = pve_config_get_description(conf, CT_SECTION_PENDING);
	if (desc || pdesc) {
		cJSON *e = cJSON_CreateObject();
		cJSON_AddStringToObject(e, "key", "description");
		if (desc)
			cJSON_AddStringToObject(e, "value", desc);
		if (pdesc)
			cJSON_AddStringToObject(e, "pending", pdesc);
		cJSON_AddItemToArray(a, e);
	}
	cJSON *e = cJSON_CreateObject();
	cJSON_AddStringToObject(e, "key", "digest");
	cJSON_AddStringToObject(e, "value", digest);
	cJSON_AddItemToArray(a, e);
	pved_call_reply(c, a);
}

/* ---- PUT: in pved, the per-CT lock on a timer, the edit through pved_cfgedit ---------------------- */

/* The privilege a key needs on /vms/<vmid>, as Proxmox's check_ct_modify_config_perm; NULL: root only. */
static const char *key_privilege(const char *key)
{
	static const char *const cpu[] = { "cores", "cpulimit", "cpuunits", NULL };
	static const char *const memory[] = { "memory", "swap", NULL };
	static const char *const network[] = { "hostname", "nameserver", "searchdomain", NULL };
	static const char *const root_only[] = { "hookscript", "lock", "debug", NULL };
	if (streq(key, "rootfs") || family(key, "mp") || family(key, "unused"))
		return "VM.Config.Disk";
	if (in_list(key, cpu))
		return "VM.Config.CPU";
	if (in_list(key, memory))
		return "VM.Config.Memory";
	if (in_list(key, network) || family(key, "net"))
		return "VM.Config.Network";
	if (family(key, "dev") || startswith(key, "lxc.") || in_list(key, root_only))
		return NULL;
	return "VM.Config.Options";
}

static int check_keys_perm(pved_call *c, long long vmid, char **keys, pve_error **err)
{
	if (streq(c->authid, "root@pam"))
		return 0;
	char path[64];
	snprintf(path, sizeof(path), "/vms/%lld", vmid);
	for (char **k = keys; k && *k; k++) {
		const char *key = *k + ((*k)[0] == '!');
		const char *priv = key_privilege(key);
		if (!priv)
			return pve_error_set(err, EACCES, "only root can set '%s' config", key);
		if (!pved_call_permitted(c, path, priv))
			return pve_error_set(err, EACCES, "Permission check failed (%s, %s)", path,
					     priv);
	}
	return 0;
}

/* Keys a running container takes at once: nothing in it depends on them. */
static bool fast_key(const char *key)
{
	static const char *const fast[] = { "description", "onboot",   "protection", "startup",
					    "tags",	   "template", "lock",	     "hookscript",
					    "cmode",	   "console",  NULL };
	return in_list(key, fast) || family(key, "unused");
}

typedef struct ct_update {
	cJSON *set; /* key -> string */
	char **delete, **revert;
	bool force, running;
	char **destroy; /* volumes to free once written */
	bool changed;
} ct_update;

static void update_clear(ct_update *u)
{
	cJSON_Delete(u->set);
	strv_free(u->delete);
	strv_free(u->revert);
	strv_free(u->destroy);
	*u = (ct_update){ 0 };
}

static int update_apply(pve_config *c, ct_update *u, pve_error **err)
{
	(void)err;
	for (char **k = u->revert; *k; k++) {
		if (streq(*k, "description"))
			pve_config_set_description(c, CT_SECTION_PENDING, NULL);
		else
			pve_config_delete(c, CT_SECTION_PENDING, *k);
		pending_delete_remove(c, *k);
		u->changed = true;
	}
	for (char **k = u->delete; *k; k++) {
		if (pve_config_get(c, NULL, *k) == NULL && !streq(*k, "description") &&
		    !pve_config_get(c, CT_SECTION_PENDING, *k))
			continue;
		pve_config_delete(c, CT_SECTION_PENDING, *k);
		pending_delete_add(c, *k, u->force);
		u->changed = true;
	}
	const cJSON *p;
	cJSON_ArrayForEach (p, u->set) {
		pending_delete_remove(c, p->string);
		if (streq(p->string, "description"))
			pve_config_set_description(c, CT_SECTION_PENDING, p->valuestring);
		else
			pve_config_set(c, CT_SECTION_PENDING, p->string, p->valuestring);
		u->changed = true;
	}
	if (!u->running) {
		ct_apply_pending(c, &u->destroy);
	} else {
		/* what a running container takes at once leaves [pve:pending] */
		_cleanup_strv_free_ char **dels = pending_deletes(c);
		for (char **k = dels; *k; k++) {
			bool force = (*k)[0] == '!';
			const char *key = *k + force;
			if (!fast_key(key))
				continue;
			delete_key(c, key, force, &u->destroy);
			pending_delete_remove(c, key);
		}
		_cleanup_strv_free_ char **keys = pve_config_keys(c, CT_SECTION_PENDING);
		for (char **k = keys; *k; k++)
			if (fast_key(*k) && !streq(*k, "delete")) {
				pve_config_set(c, NULL, *k,
					       pve_config_get(c, CT_SECTION_PENDING, *k));
				pve_config_delete(c, CT_SECTION_PENDING, *k);
			}
		_cleanup_free_ char *desc = pve_config_get_description(c, CT_SECTION_PENDING);
		if (desc) {
			pve_config_set_description(c, NULL, desc);
			pve_config_set_description(c, CT_SECTION_PENDING, NULL);
		}
		pending_drop_if_empty(c);
	}
	return 0;
}

/* The parameters that are config keys, as strings (as they go into the file). */
static cJSON *config_params(pved *d, const cJSON *params)
{
	cJSON *o = cJSON_CreateObject();
	const cJSON *p;
	cJSON_ArrayForEach (p, params) {
		if (!ct_schema_key(d, p->string) && !streq(p->string, "description"))
			continue;
		if (cJSON_IsString(p)) {
			cJSON_AddStringToObject(o, p->string, p->valuestring);
		} else if (cJSON_IsNumber(p)) {
			_cleanup_free_ char *t =
				p->valuedouble == (double)(long long)p->valuedouble ?
					xasprintf("%lld", (long long)p->valuedouble) :
					xasprintf("%.17g", p->valuedouble);
			cJSON_AddStringToObject(o, p->string, t);
		}
	}
	return o;
}

/* Proxmox's checks before it locks: conflicts, unknown keys, read-only ones, privileges. */
static int update_precheck(pved_call *c, ct_update *u, pve_error **err)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	u->set = config_params(d, c->params);
	const char *del = pved_call_str(c, "delete"), *rev = pved_call_str(c, "revert");
	u->delete = pve_split_list(del ? del : "");
	u->revert = pve_split_list(rev ? rev : "");
	for (char **k = u->revert; *k; k++) {
		if (!ct_schema_key(d, *k) && !streq(*k, "description"))
			return pve_error_set_param(err, EINVAL, "revert", "unknown option '%s'",
						   *k);
		if (cJSON_HasObjectItem(u->set, *k))
			return pve_error_set_param(
				err, EINVAL, "revert",
				"you can't use '-%s' and '-revert %s' at the same time", *k, *k);
	}
	for (char **k = u->delete; *k; k++) {
		if (cJSON_HasObjectItem(u->set, *k))
			return pve_error_set_param(
				err, EINVAL, "delete",
				"you can't use '-%s' and '-delete %s' at the same time", *k, *k);
		if (strv_contains(u->revert, *k))
			return pve_error_set_param(
				err, EINVAL, "revert",
				"you can't use '-delete %s' and '-revert %s' at the same time", *k,
				*k);
		if (!ct_schema_key(d, *k) && !streq(*k, "description"))
			return pve_error_set_param(err, EINVAL, "delete", "unknown option '%s'",
						   *k);
		if (streq(*k, "rootfs"))
			return pve_error_set_param(err, EINVAL, "delete",
						   "You can't delete the rootfs!");
	}
	if (!cJSON_GetArraySize(u->set) && !u->delete[0] && !u->revert[0])
		return pve_error_set(err, EINVAL, "no options specified");
	/* Proxmox: the id map and the mode of a container are set once, at its creation */
	if (cJSON_HasObjectItem(u->set, "unprivileged") || strv_contains(u->delete, "unprivileged"))
		return pve_error_set_param(err, EINVAL, "unprivileged",
					   "unable to modify read-only option: 'unprivileged'");
	const cJSON *p;
	cJSON_ArrayForEach (p, u->set) {
		_cleanup_free_ char *vol = ct_mp_volume(p->valuestring);
		if (!(streq(p->string, "rootfs") || family(p->string, "mp")) ||
		    !ct_alloc_request(vol))
			continue;
		if (streq(p->string, "rootfs"))
			return pve_error_set_param(err, EINVAL, "rootfs",
						   "a new rootfs volume is not made by a config "
						   "change: use resize or move_volume");
		/* a new mount point's volume, allocated by the edit's check: its storage here */
		_cleanup_free_ char *sid = xstrndup(vol, strcspn(vol, ":"));
		_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
		pve_storage st;
		pve_error *e = NULL;
		if (ct_storage_cfg(d, &scfg, err) < 0)
			return -EIO;
		if (pve_storage_get(scfg, sid, &st, &e) < 0 || st.disabled ||
		    !pve_storage_on_node(&st, d->node)) {
			pve_error_free(e);
			return pve_error_set_param(err, EINVAL, p->string,
						   "storage '%s' does not exist", sid);
		}
		if (!(st.content & PVE_CONTENT_ROOTDIR))
			return pve_error_set_param(
				err, EINVAL, p->string,
				"storage '%s' does not support container directories", sid);
		if (pved_guest_check_space(c, sid, err) < 0)
			return -EACCES;
	}
	_cleanup_strv_free_ char **keys = strv_new();
	cJSON_ArrayForEach (p, u->set)
		strv_push(&keys, xstrdup(p->string));
	int r = check_keys_perm(c, vmid, u->delete, err);
	if (r >= 0)
		r = check_keys_perm(c, vmid, keys, err);
	return r;
}

typedef struct put_job {
	pved_call *c;
	pved *d;
	long long vmid;
	int lock_fd;
	pved_cfgfile file;
	char *path, *lockname, *digest;
	ct_update u;
	char **made; /* volumes the check allocated, freed if the write fails */
	cJSON *hotplug_errors; /* keys a running container could not take, answered after the write */
} put_job;

static int file_parse(const char *text, size_t len, void **ret, pve_error **err)
{
	if (len == 0)
		return pve_error_set(err, ENOENT, "the config file does not exist");
	return pve_config_parse(text, len, (pve_config **)ret, err);
}

static void put_job_free(put_job *j)
{
	if (j->lock_fd >= 0)
		close(j->lock_fd);
	free(j->path);
	free(j->lockname);
	free(j->digest);
	update_clear(&j->u);
	strv_free(j->made);
	cJSON_Delete(j->hotplug_errors);
	free(j);
}

static int put_change(pved *d, void *cfg, void *ud, pve_error **err)
{
	put_job *j = ud;
	int r = ct_conf_check_lock(cfg, err);
	if (r < 0)
		return r;
	j->u.running = ct_running(d, j->vmid, NULL);
	r = update_apply(cfg, &j->u, err);
	if (r < 0)
		return r;
	return j->u.changed ? 0 : PVED_CFGEDIT_KEEP;
}

/* ---- limits of a running container ------------------------------------------------------------------
 * Proxmox's vmconfig_hotplug_pending for what the container's cgroup holds: memory and swap (together:
 * memory.max, and memory.swap.max while memory is limited, as the start sets them), cpulimit (cpu.max)
 * and cpuunits (cpu.weight), each pending set or deletion written into the cgroup and then taken out
 * of [pve:pending]; a key the cgroup does not take stays pending, its error kept for the answer. */

/* A key's value after the pending change: the pending one, none if it is to be deleted, else the
 * main section's. */
static const char *value_after(const pve_config *c, char **dels, const char *key)
{
	const char *v = pve_config_get(c, CT_SECTION_PENDING, key);
	if (v)
		return v;
	for (char **k = dels; *k; k++)
		if (streq(*k + ((*k)[0] == '!'), key))
			return NULL;
	return pve_config_get(c, NULL, key);
}

static bool is_pending(const pve_config *c, char **dels, const char *key)
{
	if (pve_config_get(c, CT_SECTION_PENDING, key))
		return true;
	for (char **k = dels; *k; k++)
		if (streq(*k + ((*k)[0] == '!'), key))
			return true;
	return false;
}

/* key's pending set or deletion leaves [pve:pending] for the main section. */
static void take_pending(pve_config *c, const char *key)
{
	const char *v = pve_config_get(c, CT_SECTION_PENDING, key);
	if (v) {
		pve_config_set(c, NULL, key, v);
		pve_config_delete(c, CT_SECTION_PENDING, key);
	} else {
		delete_key(c, key, false, NULL);
	}
	pending_delete_remove(c, key);
}

static void hotplug_error(put_job *j, const char *key, const pve_error *e)
{
	if (!j->hotplug_errors)
		j->hotplug_errors = cJSON_CreateObject();
	_cleanup_free_ char *m = xasprintf("unable to hotplug %s: %s", key, e->message);
	cJSON_AddStringToObject(j->hotplug_errors, key, m);
}

/* Writes the files into the running container's cgroup; keys then leave [pve:pending], or each gets
 * the error. A cgroup without the controller takes no limit, but needs none lifted: values that lift
 * the limit are no error there. */
static void hotplug_set(put_job *j, pve_config *c, const char *const *keys,
			const lxc_limit_file *files, size_t n)
{
	_cleanup_free_ char *run = ct_run_dir(j->d);
	_cleanup_error_ pve_error *e = NULL;
	bool unlimited = true;
	for (size_t i = 0; i < n; i++)
		unlimited &= lxc_limit_is_default(&files[i]);
	for (size_t i = 0; i < n && !e; i++)
		(void)lxc_cgroup_set(run, j->vmid, files[i].file, files[i].value, &e);
	if (e && unlimited && e->code == ENOTSUP) {
		pve_error_free(e);
		e = NULL;
	}
	for (size_t i = 0; keys[i]; i++) {
		if (e)
			hotplug_error(j, keys[i], e);
		else
			take_pending(c, keys[i]);
	}
}

static void hotplug_limits(put_job *j, pve_config *c)
{
	_cleanup_strv_free_ char **dels = pending_deletes(c);
	/* the limits as they will be, rendered as a start renders them, unset ones lifted */
	lxc_spec s = { 0 };
	ct_limits_spec(&s, value_after(c, dels, "memory"), value_after(c, dels, "swap"),
		       value_after(c, dels, "cpulimit"), value_after(c, dels, "cpuunits"));
	static const struct {
		unsigned which;
		const char *keys[3];
	} groups[] = {
		/* memory and swap together, as the start sets memory.swap.max only with memory.max */
		{ LXC_LIMIT_MEMORY, { "memory", "swap", NULL } },
		{ LXC_LIMIT_CPU_MAX, { "cpulimit", NULL } },
		{ LXC_LIMIT_CPU_WEIGHT, { "cpuunits", NULL } },
	};
	for (size_t g = 0; g < ELEMENTSOF(groups); g++) {
		const char *keys[3] = { 0 };
		size_t n = 0;
		for (size_t k = 0; groups[g].keys[k]; k++)
			if (is_pending(c, dels, groups[g].keys[k]))
				keys[n++] = groups[g].keys[k];
		if (!n)
			continue;
		lxc_limit_file files[4];
		size_t nf = lxc_limit_files(&s, groups[g].which, true, files);
		hotplug_set(j, c, keys, files, nf);
	}
	pending_drop_if_empty(c);
}

/* On the guest queue, the lock held: the volumes new mount points ask for (main or pending), and a
 * running container's new limits. */
static int put_check(void *cfg, void *ud, pve_error **err)
{
	put_job *j = ud;
	pve_config *c = cfg;
	if (j->u.running)
		hotplug_limits(j, c);
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	int r = ct_storage_cfg(j->d, &scfg, err);
	if (r < 0)
		return r;
	/* an unused base image a linked clone still uses stays in the config (Proxmox's vdisk_free) */
	r = pved_guest_check_bases_unused(j->d, scfg, j->u.destroy, false, NULL, err);
	if (r < 0)
		return r;
	bool unpriv = ct_conf_bool(c, NULL, "unprivileged", false);
	j->made = strv_new();
	const char *sections[] = { NULL, CT_SECTION_PENDING };
	for (size_t i = 0; i < ELEMENTSOF(sections) && r >= 0; i++) {
		_cleanup_strv_free_ char **keys = pve_config_keys(c, sections[i]);
		for (char **k = keys; *k && r >= 0; k++) {
			if (!family(*k, "mp"))
				continue;
			const char *v = pve_config_get(c, sections[i], *k);
			_cleanup_free_ char *vol = ct_mp_volume(v), *value = NULL, *volid = NULL;
			if (!ct_alloc_request(vol))
				continue;
			r = ct_alloc_mp(j->d, scfg, j->vmid, *k, v, unpriv, &value, &volid, err);
			if (r >= 0) {
				pve_config_set(c, sections[i], *k, value);
				strv_push(&j->made, TAKE_PTR(volid));
			}
		}
	}
	if (r < 0) {
		ct_volumes_free(j->d, scfg, j->made, false);
		strv_free(j->made);
		j->made = NULL;
	}
	return r;
}

static void destroy_work(void *arg)
{
	put_job *j = arg;
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	if (ct_storage_cfg(j->d, &scfg, NULL) == 0)
		ct_volumes_free(j->d, scfg, j->u.destroy, false);
}

static void destroy_done(void *arg)
{
	put_job_free(arg);
}

static void put_done(pved *d, void *ud, int r, pve_error *err)
{
	put_job *j = ud;
	close(j->lock_fd);
	j->lock_fd = -1;
	ct_refresh(d, j->vmid);
	if (r < 0 && j->made && j->made[0]) {
		/* the config was not written: what the check allocated goes */
		_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
		if (ct_storage_cfg(d, &scfg, NULL) == 0)
			ct_volumes_free(d, scfg, j->made, false);
	}
	if (r < 0)
		pved_call_fail(j->c, err);
	else if (j->hotplug_errors)
		/* written, with what the running container did not take kept pending: Proxmox's
		 * raise_param_exc after the write */
		pved_call_fail_errors(j->c, TAKE_PTR(j->hotplug_errors));
	else
		pved_call_reply(j->c, NULL);
	if (r >= 0 && j->u.destroy && j->u.destroy[0] &&
	    pved_run_blocking(d, PVED_QUEUE_GUEST, destroy_work, destroy_done, j, NULL) == 0)
		return;
	put_job_free(j);
}

static void put_locked(pved *d, int fd, pve_error *err, void *ud)
{
	put_job *j = ud;
	if (fd < 0) {
		pved_call_fail(j->c, err);
		put_job_free(j);
		return;
	}
	j->lock_fd = fd;
	j->file = (pved_cfgfile){ .path = j->path,
				  .lock = j->lockname,
				  .parse = file_parse,
				  .print = pved_cfgfile_config_print,
				  .free = pved_cfgfile_config_free };
	pved_cfgedit e = { .file = &j->file,
			   .digest = j->digest,
			   .change = put_change,
			   .check = put_check,
			   .queue = PVED_QUEUE_GUEST,
			   .done = put_done };
	pved_cfgedit_run(d, &e, j);
}

static void h_config_put(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	_cleanup_free_ char *path = ct_conf_path(d, vmid);
	if (!pve_store_exists(d->store, path)) {
		pve_error_set(&err, ENOENT, "Configuration file '%s' does not exist", path);
		return pved_call_fail(c, err);
	}
	put_job *j = xcalloc(1, sizeof(*j));
	j->c = c;
	j->d = d;
	j->vmid = vmid;
	j->lock_fd = -1;
	if (update_precheck(c, &j->u, &err) < 0) {
		put_job_free(j);
		return pved_call_fail(c, err);
	}
	j->path = TAKE_PTR(path);
	j->lockname = xasprintf("lxc-%lld", vmid);
	const char *digest = pved_call_str(c, "digest");
	j->digest = digest ? xstrdup(digest) : NULL;
	_cleanup_free_ char *lock = ct_lock_path(d, vmid);
	pved_guest_lock_async(d, lock, CT_LOCK_TIMEOUT_MS, put_locked, j);
}

const pved_handler pved_handlers_lxc_config[] = {
	{ "lxc_config_get", h_config_get },
	{ "lxc_config_put", h_config_put },
	{ "lxc_pending", h_pending },
	{ NULL, NULL },
};
