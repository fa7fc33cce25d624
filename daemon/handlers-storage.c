/* The storage handlers: /storage (storage.cfg's definitions, cifs passwords in priv/storage/<id>.pw) and
 * /nodes/{node}/storage (status, content). */
#include "daemon/pved-internal.h"
#include "storage/storage.h"

#define STORAGE_CFG "storage.cfg"
#define STORAGE_LOCK "file-storage_cfg"
#define STORAGE_LOCK_TIMEOUT_MS 5000
#define PASSWORD_PREFIX "password="

/* storage.cfg as it is now: a missing file is an empty config. Sections are checked one by one where they
 * are used, so one bad section does not hide the others (Proxmox warns and goes on, too). */
static int load_cfg(pved *d, pve_sectioncfg **ret, char digest[PVE_STORE_DIGEST_LEN + 1],
		    pve_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	char dg[PVE_STORE_DIGEST_LEN + 1];
	int r = pve_store_read(d->store, STORAGE_CFG, &text, &len, dg, NULL);
	if (r == -ENOENT) {
		*ret = pve_sectioncfg_new();
		if (digest)
			digest[0] = '\0';
		return 0;
	}
	if (r < 0)
		return pve_error_set(err, -r, "unable to read storage.cfg: %s", strerror(-r));
	r = pve_sectioncfg_parse(text, len, ret, err);
	if (r < 0) {
		if (err && *err)
			pve_error_prefix(*err, "storage.cfg: ");
		return r;
	}
	if (digest)
		memcpy(digest, dg, sizeof(dg));
	return 0;
}

/* ---- cifs passwords: priv/storage/<id>.pw holds "password=SECRET\n", as Proxmox's CIFSPlugin writes it;
 * storage.cfg never holds one. The plugin finds it in the in-memory section. */

static char *password_file(const char *id)
{
	return xasprintf("priv/storage/%s.pw", id);
}

static void load_password(pved *d, pve_section *s)
{
	if (!s || !streq(pve_section_type(s), "cifs") || pve_section_get(s, "password"))
		return;
	_cleanup_free_ char *path = password_file(pve_section_id(s)), *text = NULL;
	size_t len = 0;
	if (pve_store_read(d->store, path, &text, &len, NULL, NULL) < 0)
		return;
	const char *pw = startswith(text, PASSWORD_PREFIX) ? text + strlen(PASSWORD_PREFIX) : text;
	_cleanup_free_ char *one = xstrndup(pw, strcspn(pw, "\r\n"));
	pve_section_set(s, "password", one);
	explicit_bzero(one, strlen(one));
	explicit_bzero(text, len);
}

static int save_password(pved *d, const char *id, const char *pw, pve_error **err)
{
	if (strpbrk(pw, "\r\n"))
		return pve_error_set_param(err, EINVAL, "password", "invalid password");
	_cleanup_free_ char *path = password_file(id);
	_cleanup_free_ char *text = xasprintf(PASSWORD_PREFIX "%s\n", pw);
	int r = pve_store_write(d->store, path, text, strlen(text), NULL, err);
	explicit_bzero(text, strlen(text));
	return r;
}

static int delete_password(pved *d, const char *id, pve_error **err)
{
	_cleanup_free_ char *path = password_file(id);
	pve_error *e = NULL;
	int r = pve_store_delete(d->store, path, &e);
	if (r == -ENOENT) {
		pve_error_free(e);
		return 0;
	}
	if (r < 0 && err)
		*err = e;
	else
		pve_error_free(e);
	return r;
}

/* The storage named by the call's `storage`, checked against its type. */
static int call_storage(pved_call *c, pve_sectioncfg *cfg, pve_storage *st, pve_error **err)
{
	const char *id = pved_call_str(c, "storage");
	int r = pve_storage_get(cfg, id, st, err);
	if (r < 0)
		return r;
	pve_error *e = NULL;
	if (pve_storage_check_section(st->section, &e) < 0) {
		r = pve_error_set(err, EINVAL, "storage '%s' has an invalid configuration: %s%s%s",
				  id, e->param ? e->param : "", e->param ? ": " : "", e->message);
		pve_error_free(e);
		return r;
	}
	return 0;
}

static bool may_see_storage(pved_call *c, const char *id)
{
	_cleanup_free_ char *path = xasprintf("/storage/%s", id);
	return pved_call_permitted(c, path, "Datastore.Audit") ||
	       pved_call_permitted(c, path, "Datastore.AllocateSpace");
}

/* A section as the API shows it: every property, booleans as 0/1 numbers. */
static cJSON *section_json(const pve_section *s)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "storage", pve_section_id(s));
	cJSON_AddStringToObject(o, "type", pve_section_type(s));
	for (size_t i = 0; i < pve_section_count(s); i++) {
		const char *k = pve_section_key(s, i), *v = pve_section_value(s, i);
		bool b;
		/* a hand-written storage.cfg may hold one: never shown */
		if (!k || cJSON_HasObjectItem(o, k) || streq(k, "password"))
			continue;
		if (pve_storage_option_is_bool(k) && pve_parse_bool(v, &b) == 0)
			cJSON_AddNumberToObject(o, k, b);
		else if (streq(k, "max-protected-backups"))
			cJSON_AddNumberToObject(o, k, strtod(v, NULL));
		else
			cJSON_AddStringToObject(o, k, v);
	}
	return o;
}

/* ---- /storage --------------------------------------------------------------------------------------------- */

static void h_storage_index(pved_call *c)
{
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	pve_error *err = NULL;
	if (load_cfg(c->d, &cfg, digest, &err) < 0)
		return pved_call_fail(c, err);
	const char *type = pved_call_str(c, "type");
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < pve_sectioncfg_count(cfg); i++) {
		const pve_section *s = pve_sectioncfg_nth(cfg, i);
		if (type && !streq(type, pve_section_type(s)))
			continue;
		if (!may_see_storage(c, pve_section_id(s)))
			continue;
		cJSON *o = section_json(s);
		cJSON_AddStringToObject(o, "digest", digest);
		cJSON_AddItemToArray(list, o);
	}
	pved_call_reply(c, list);
}

static void h_storage_read(pved_call *c)
{
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	pve_error *err = NULL;
	if (load_cfg(c->d, &cfg, digest, &err) < 0)
		return pved_call_fail(c, err);
	const char *id = pved_call_str(c, "storage");
	const pve_section *s = pve_sectioncfg_find(cfg, id);
	if (!s) {
		pve_error_set(&err, ENOENT, "storage '%s' does not exist", id);
		return pved_call_fail(c, err);
	}
	cJSON *o = section_json(s);
	cJSON_AddStringToObject(o, "digest", digest);
	pved_call_reply(c, o);
}

/* Parameters that are not storage.cfg properties. */
static bool is_call_param(const char *k)
{
	static const char *const names[] = { "storage", "type", "digest", "delete", "node" };
	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (streq(k, names[i]))
			return true;
	return false;
}

/* Copies the call's properties into the section: booleans as 1/0, content normalized. */
static int apply_params(pved_call *c, pve_section *s, pve_error **err)
{
	const cJSON *p;
	cJSON_ArrayForEach (p, c->params) {
		if (is_call_param(p->string))
			continue;
		_cleanup_free_ char *v = NULL;
		if (cJSON_IsNumber(p))
			v = xasprintf("%lld", (long long)p->valuedouble);
		else if (cJSON_IsString(p))
			v = xstrdup(p->valuestring);
		else
			continue;
		if (streq(p->string, "content")) {
			unsigned mask;
			if (pve_storage_content_parse(v, &mask, err) < 0)
				return -EINVAL;
			free(v);
			v = pve_storage_content_print(mask);
		}
		if (pve_section_set(s, p->string, v) < 0)
			return pve_error_set_param(err, EINVAL, p->string, "invalid value");
	}
	return 0;
}

/* Activates a storage this node uses, to find a wrong path or server before the definition is saved. */
static int try_activate(pved *d, pve_sectioncfg *cfg, const char *id, pve_error **err)
{
	pve_storage st;
	if (pve_storage_get(cfg, id, &st, err) < 0)
		return -EINVAL;
	if (st.disabled || !pve_storage_on_node(&st, d->node) || !st.plugin->activate)
		return 0;
	return pve_storage_activate(&st, err);
}

/* As Proxmox's check_config: a network file storage without a path is mounted at /mnt/pve/<id> (below
 * this node's root). */
static void default_path(pved *d, pve_section *s)
{
	const char *type = pve_section_type(s);
	if ((!streq(type, "nfs") && !streq(type, "cifs")) || pve_section_get(s, "path"))
		return;
	_cleanup_free_ char *rel = xasprintf("mnt/pve/%s", pve_section_id(s));
	_cleanup_free_ char *path = pved_path(d, rel);
	pve_section_set(s, "path", path);
}

/* After the storage was checked and activated: a password given moves to its file, one deleted goes.
 * One a hand-written storage.cfg held moves to the file, too (the section keeps none). */
static int store_password(pved_call *c, pve_section *s, bool deleted, pve_error **err)
{
	const char *pw = pved_call_str(c, "password");
	int r = 0;
	if (!pw && !deleted)
		pw = pve_section_get(s, "password");
	if (pw)
		r = save_password(c->d, pve_section_id(s), pw, err);
	else if (deleted)
		r = delete_password(c->d, pve_section_id(s), err);
	pve_section_delete(s, "password");
	return r;
}

static int write_cfg(pved *d, pve_sectioncfg *cfg, const char *expected, pve_error **err)
{
	_cleanup_free_ char *text = pve_sectioncfg_print(cfg);
	return pve_store_write(d->store, STORAGE_CFG, text, strlen(text),
			       expected && *expected ? expected : NULL, err);
}

static cJSON *storage_type_reply(const char *id, const char *type)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "storage", id);
	cJSON_AddStringToObject(o, "type", type);
	return o;
}

static void h_storage_create(pved_call *c)
{
	pve_error *err = NULL;
	pve_store_lock *lock = NULL;
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	const char *id = pved_call_str(c, "storage"), *type = pved_call_str(c, "type");
	pve_section *s = NULL;
	if (pve_store_lock_acquire(c->d->store, STORAGE_LOCK, STORAGE_LOCK_TIMEOUT_MS, &lock,
				   &err) < 0 ||
	    load_cfg(c->d, &cfg, digest, &err) < 0)
		goto fail;
	if (pve_sectioncfg_find(cfg, id)) {
		pve_error_set_param(&err, EEXIST, "storage", "storage ID '%s' already defined", id);
		goto fail;
	}
	if (pve_sectioncfg_add(cfg, type, id, &s, &err) < 0 || apply_params(c, s, &err) < 0)
		goto fail;
	default_path(c->d, s);
	if (pve_storage_check_section(s, &err) < 0 || try_activate(c->d, cfg, id, &err) < 0 ||
	    store_password(c, s, false, &err) < 0 || write_cfg(c->d, cfg, digest, &err) < 0)
		goto fail;
	pve_store_unlock(lock);
	return pved_call_reply(c, storage_type_reply(id, type));
fail:
	pve_store_unlock(lock);
	pved_call_fail(c, err);
}

static void h_storage_update(pved_call *c)
{
	pve_error *err = NULL;
	pve_store_lock *lock = NULL;
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	_cleanup_strv_free_ char **del = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	const char *id = pved_call_str(c, "storage"), *want = pved_call_str(c, "digest");
	if (pve_store_lock_acquire(c->d->store, STORAGE_LOCK, STORAGE_LOCK_TIMEOUT_MS, &lock,
				   &err) < 0 ||
	    load_cfg(c->d, &cfg, digest, &err) < 0)
		goto fail;
	if (want && !streq(want, digest)) {
		pve_error_set_param(
			&err, EINVAL, "digest",
			"detected modified configuration - file changed by other user? Try again.");
		goto fail;
	}
	pve_section *s = pve_sectioncfg_find(cfg, id);
	if (!s) {
		pve_error_set(&err, ENOENT, "storage '%s' does not exist", id);
		goto fail;
	}
	const pve_storage_plugin *pl = pve_storage_plugin_find(pve_section_type(s));
	del = pve_split_list(pved_call_str(c, "delete") ? pved_call_str(c, "delete") : "");
	for (char **k = del; *k; k++) {
		if (pved_call_has(c, *k)) {
			pve_error_set_param(&err, EINVAL, "delete",
					    "cannot set and delete property '%s' at the same time",
					    *k);
			goto fail;
		}
		for (const char *const *r = pl ? pl->required : NULL; r && *r; r++)
			if (streq(*r, *k)) {
				pve_error_set_param(&err, EINVAL, "delete",
						    "cannot delete required option '%s'", *k);
				goto fail;
			}
		pve_section_delete(s, *k);
	}
	bool pw_deleted = false;
	for (char **k = del; *k; k++)
		pw_deleted |= streq(*k, "password");
	if (apply_params(c, s, &err) < 0)
		goto fail;
	default_path(c->d, s);
	if (!pw_deleted)
		load_password(c->d, s);
	if (pve_storage_check_section(s, &err) < 0 || try_activate(c->d, cfg, id, &err) < 0 ||
	    store_password(c, s, pw_deleted, &err) < 0 || write_cfg(c->d, cfg, digest, &err) < 0)
		goto fail;
	pve_store_unlock(lock);
	return pved_call_reply(c, storage_type_reply(id, pve_section_type(s)));
fail:
	pve_store_unlock(lock);
	pved_call_fail(c, err);
}

static void h_storage_delete(pved_call *c)
{
	pve_error *err = NULL;
	pve_store_lock *lock = NULL;
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	const char *id = pved_call_str(c, "storage");
	if (pve_store_lock_acquire(c->d->store, STORAGE_LOCK, STORAGE_LOCK_TIMEOUT_MS, &lock,
				   &err) < 0 ||
	    load_cfg(c->d, &cfg, digest, &err) < 0)
		goto fail;
	if (!pve_sectioncfg_remove(cfg, id)) {
		pve_error_set(&err, ENOENT, "storage '%s' does not exist", id);
		goto fail;
	}
	if (write_cfg(c->d, cfg, digest, &err) < 0 || delete_password(c->d, id, &err) < 0)
		goto fail;
	pve_store_unlock(lock);
	return pved_call_reply(c, NULL);
fail:
	pve_store_unlock(lock);
	pved_call_fail(c, err);
}

/* ---- /nodes/{node}/storage ------------------------------------------------------------------------------ */

static void add_status(cJSON *o, const pve_storage *st)
{
	pve_storage_status ss = { 0 };
	bool ok = !st->disabled && pve_storage_get_status(st, &ss, NULL) == 0 && ss.active;
	_cleanup_free_ char *content = pve_storage_content_print(st->content);
	cJSON_AddStringToObject(o, "type", st->type);
	cJSON_AddStringToObject(o, "content", st->content ? content : "");
	cJSON_AddNumberToObject(o, "active", ok);
	cJSON_AddNumberToObject(o, "enabled", !st->disabled);
	cJSON_AddNumberToObject(o, "shared", st->shared);
	if (ok) {
		cJSON_AddNumberToObject(o, "total", (double)ss.total);
		cJSON_AddNumberToObject(o, "used", (double)ss.used);
		cJSON_AddNumberToObject(o, "avail", (double)ss.avail);
		cJSON_AddNumberToObject(o, "used_fraction",
					ss.total ? (double)ss.used / (double)ss.total : 0);
	}
}

static void h_node_storage_index(pved_call *c)
{
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	pve_error *err = NULL;
	if (load_cfg(c->d, &cfg, NULL, &err) < 0)
		return pved_call_fail(c, err);
	const char *only = pved_call_str(c, "storage"), *target = pved_call_str(c, "target");
	unsigned want = 0;
	if (pved_call_str(c, "content") &&
	    pve_storage_content_parse(pved_call_str(c, "content"), &want, &err) < 0)
		return pved_call_fail(c, err);
	bool enabled_only = pved_call_int(c, "enabled", 0);
	bool formats = pved_call_int(c, "format", 0);
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < pve_sectioncfg_count(cfg); i++) {
		const pve_section *s = pve_sectioncfg_nth(cfg, i);
		pve_storage st;
		if (pve_storage_check_section(s, NULL) < 0 ||
		    pve_storage_get(cfg, pve_section_id(s), &st, NULL) < 0)
			continue;
		if ((only && !streq(only, st.id)) || !pve_storage_on_node(&st, c->d->node) ||
		    (enabled_only && st.disabled) || (want && !(st.content & want)) ||
		    (target && !streq(target, c->d->node) && !st.shared) ||
		    !may_see_storage(c, st.id))
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "storage", st.id);
		add_status(o, &st);
		if (formats) {
			/* as Proxmox: [ {format: 1, ...}, default ] */
			cJSON *f = cJSON_AddArrayToObject(o, "format");
			cJSON *sup = cJSON_CreateObject();
			for (const char *const *p = st.plugin->formats; p && *p; p++)
				cJSON_AddNumberToObject(sup, *p, 1);
			cJSON_AddItemToArray(f, sup);
			const char *def = pve_section_get(s, "format");
			cJSON_AddItemToArray(
				f, cJSON_CreateString(def ? def : st.plugin->default_format));
		}
		cJSON_AddItemToArray(list, o);
	}
	pved_call_reply(c, list);
}

/* The storage of a /nodes/{node}/storage/{storage}/... call: defined, used on this node. */
static int node_storage(pved_call *c, pve_sectioncfg *cfg, pve_storage *st, pve_error **err)
{
	if (call_storage(c, cfg, st, err) < 0)
		return -EINVAL;
	if (!pve_storage_on_node(st, c->d->node))
		return pve_error_set(err, ENOENT, "storage '%s' is not available on node '%s'",
				     st->id, c->d->node);
	load_password(c->d, pve_sectioncfg_find(cfg, st->id));
	return 0;
}

static void h_node_storage_status(pved_call *c)
{
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	pve_storage st;
	pve_error *err = NULL;
	if (load_cfg(c->d, &cfg, NULL, &err) < 0 || node_storage(c, cfg, &st, &err) < 0)
		return pved_call_fail(c, err);
	cJSON *o = cJSON_CreateObject();
	add_status(o, &st);
	pved_call_reply(c, o);
}

/* An enabled, active storage for content calls. */
static int content_storage(pved_call *c, pve_sectioncfg *cfg, pve_storage *st, pve_error **err)
{
	if (node_storage(c, cfg, st, err) < 0)
		return -EINVAL;
	if (st->disabled)
		return pve_error_set_param(err, EINVAL, "storage", "storage '%s' is disabled",
					   st->id);
	return pve_storage_activate(st, err);
}

static void h_storage_content_index(pved_call *c)
{
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	pve_storage st;
	pve_error *err = NULL;
	if (load_cfg(c->d, &cfg, NULL, &err) < 0 || content_storage(c, cfg, &st, &err) < 0)
		return pved_call_fail(c, err);
	unsigned want = PVE_CONTENT_ALL;
	const char *ct = pved_call_str(c, "content");
	if (ct) {
		want = pve_storage_content_from_name(ct);
		if (!want) {
			pve_error_set_param(&err, EINVAL, "content", "invalid content type '%s'",
					    ct);
			return pved_call_fail(c, err);
		}
	}
	pve_volume_info *v = NULL;
	size_t n = 0;
	if (pve_storage_list_volumes(&st, pved_call_int(c, "vmid", 0), want, &v, &n, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *spath = xasprintf("/storage/%s", st.id);
	bool all = pved_call_permitted(c, spath, "Datastore.Allocate");
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++) {
		if (v[i].vmid && !all) {
			_cleanup_free_ char *vp = xasprintf("/vms/%lld", v[i].vmid);
			if (!pved_call_permitted(c, vp, "VM.Audit"))
				continue;
		}
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "volid", v[i].volid);
		cJSON_AddStringToObject(o, "format", v[i].format);
		cJSON_AddNumberToObject(o, "size", (double)v[i].size);
		cJSON_AddNumberToObject(o, "used", (double)v[i].used);
		cJSON_AddNumberToObject(o, "ctime", (double)v[i].ctime);
		if (v[i].vmid)
			cJSON_AddNumberToObject(o, "vmid", (double)v[i].vmid);
		cJSON_AddStringToObject(o, "content", pve_storage_content_name(v[i].content));
		if (v[i].parent)
			cJSON_AddStringToObject(o, "parent", v[i].parent);
		if (v[i].notes)
			cJSON_AddStringToObject(o, "notes", v[i].notes);
		if (v[i].content == PVE_CONTENT_BACKUP)
			cJSON_AddNumberToObject(o, "protected", v[i].protected_);
		cJSON_AddItemToArray(list, o);
	}
	pve_volume_infos_free(v, n);
	pved_call_reply(c, list);
}

/* Proxmox's size parameter: KiB, or with M or G. */
static int parse_kib_size(const char *s, uint64_t *ret)
{
	unsigned long long n;
	size_t len = strlen(s);
	unsigned shift = 10;
	if (len && (s[len - 1] == 'M' || s[len - 1] == 'G')) {
		shift = s[len - 1] == 'M' ? 20 : 30;
		len--;
	}
	_cleanup_free_ char *digits = xstrndup(s, len);
	if (pve_parse_uint(digits, UINT64_MAX >> 30, &n) < 0)
		return -EINVAL;
	*ret = (uint64_t)n << shift;
	return 0;
}

static void h_storage_content_create(pved_call *c)
{
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	pve_storage st;
	pve_error *err = NULL;
	if (load_cfg(c->d, &cfg, NULL, &err) < 0 || content_storage(c, cfg, &st, &err) < 0)
		return pved_call_fail(c, err);
	const char *name = pved_call_str(c, "filename"), *fmt = pved_call_str(c, "format");
	uint64_t size;
	if (parse_kib_size(pved_call_str(c, "size"), &size) < 0) {
		pve_error_set_param(&err, EINVAL, "size", "unable to parse size '%s'",
				    pved_call_str(c, "size"));
		return pved_call_fail(c, err);
	}
	const char *dot = strrchr(name, '.');
	if (dot && (streq(dot, ".raw") || streq(dot, ".qcow2") || streq(dot, ".vmdk"))) {
		if (fmt && !streq(fmt, dot + 1)) {
			pve_error_set_param(&err, EINVAL, "format",
					    "different storage formats (%s != %s)", fmt, dot + 1);
			return pved_call_fail(c, err);
		}
		fmt = dot + 1;
	}
	_cleanup_free_ char *volname = NULL;
	if (pve_storage_alloc_image(&st, pved_call_int(c, "vmid", 0), fmt, name, size, &volname,
				    &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *volid = xasprintf("%s:%s", st.id, volname);
	pved_call_reply(c, cJSON_CreateString(volid));
}

/* {volume}: a full volid (whose storage must be {storage}) or a volume name on {storage}. */
static int call_volume(pved_call *c, pve_sectioncfg *cfg, pve_storage *st, char **ret_volname,
		       pve_volname *ret_parsed, pve_error **err)
{
	const char *vol = pved_call_str(c, "volume"), *sid = pved_call_str(c, "storage");
	_cleanup_free_ char *vsid = NULL, *vname = NULL;
	if (strchr(vol, ':')) {
		if (pve_storage_volid_split(vol, &vsid, &vname, err) < 0) {
			if (err && *err && !(*err)->param)
				(*err)->param = xstrdup("volume");
			return -EINVAL;
		}
		if (sid && !streq(sid, vsid))
			return pve_error_set_param(err, EINVAL, "volume",
						   "volume '%s' is not on storage '%s'", vol, sid);
		cJSON_DeleteItemFromObjectCaseSensitive(c->params, "storage");
		cJSON_AddStringToObject(c->params, "storage", vsid);
	} else {
		vname = xstrdup(vol);
	}
	if (!pved_call_str(c, "storage"))
		return pve_error_set_param(err, EINVAL, "storage", "no storage given");
	if (node_storage(c, cfg, st, err) < 0)
		return -EINVAL;
	if (pve_storage_parse_volname(vname, ret_parsed, err) < 0) {
		if (err && *err && !(*err)->param)
			(*err)->param = xstrdup("volume");
		return -EINVAL;
	}
	*ret_volname = TAKE_PTR(vname);
	return 0;
}

static void h_storage_content_info(pved_call *c)
{
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	_cleanup_free_ char *volname = NULL, *path = NULL, *fmt = NULL, *notes = NULL, *prot = NULL;
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	pve_storage st;
	pve_error *err = NULL;
	uint64_t size = 0, used = 0;
	if (load_cfg(c->d, &cfg, NULL, &err) < 0 ||
	    call_volume(c, cfg, &st, &volname, &v, &err) < 0)
		return pved_call_fail(c, err);
	if (!may_see_storage(c, st.id)) {
		pve_error_set(&err, EACCES,
			      "Permission check failed (/storage/%s, Datastore.Audit)", st.id);
		return pved_call_fail(c, err);
	}
	if (pve_storage_path(&st, volname, NULL, &path, &err) < 0 ||
	    pve_storage_volume_size(&st, volname, &size, &used, &fmt, &err) < 0 ||
	    pve_storage_get_attribute(&st, volname, "notes", &notes, &err) < 0 ||
	    pve_storage_get_attribute(&st, volname, "protected", &prot, &err) < 0)
		return pved_call_fail(c, err);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "path", path);
	cJSON_AddNumberToObject(o, "size", (double)size);
	cJSON_AddNumberToObject(o, "used", (double)used);
	cJSON_AddStringToObject(o, "format", fmt);
	if (notes)
		cJSON_AddStringToObject(o, "notes", notes);
	if (prot)
		cJSON_AddNumberToObject(o, "protected", streq(prot, "1"));
	pved_call_reply(c, o);
}

static void h_storage_content_update(pved_call *c)
{
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	_cleanup_free_ char *volname = NULL;
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	pve_storage st;
	pve_error *err = NULL;
	if (load_cfg(c->d, &cfg, NULL, &err) < 0 ||
	    call_volume(c, cfg, &st, &volname, &v, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *spath = xasprintf("/storage/%s", st.id);
	if (!pved_call_permitted(c, spath, "Datastore.Allocate") &&
	    !pved_call_permitted(c, spath, "Datastore.AllocateSpace")) {
		pve_error_set(&err, EACCES, "Permission check failed (%s, Datastore.AllocateSpace)",
			      spath);
		return pved_call_fail(c, err);
	}
	if (pved_call_has(c, "notes") &&
	    pve_storage_set_attribute(&st, volname, "notes", pved_call_str(c, "notes"), &err) < 0)
		return pved_call_fail(c, err);
	if (pved_call_has(c, "protected") &&
	    pve_storage_set_attribute(&st, volname, "protected",
				      pved_call_int(c, "protected", 0) ? "1" : "0", &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, NULL);
}

typedef struct imgdel {
	char *storage, *volname;
} imgdel;

/* The task: storage.cfg is read again, as the definition may have changed since the call. */
static int imgdel_task(pved *d, void *userdata, pve_error **err)
{
	imgdel *t = userdata;
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	pve_storage st;
	if (load_cfg(d, &cfg, NULL, err) < 0 || pve_storage_get(cfg, t->storage, &st, err) < 0 ||
	    pve_storage_free_image(&st, t->volname, err) < 0)
		return -EIO;
	printf("Removed volume '%s:%s'\n", t->storage, t->volname);
	return 0;
}

static void h_storage_content_delete(pved_call *c)
{
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	_cleanup_free_ char *volname = NULL, *path = NULL, *prot = NULL;
	_cleanup_(pve_volname_clear) pve_volname v = { 0 };
	pve_storage st;
	pve_error *err = NULL;
	if (load_cfg(c->d, &cfg, NULL, &err) < 0 ||
	    call_volume(c, cfg, &st, &volname, &v, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *spath = xasprintf("/storage/%s", st.id);
	_cleanup_free_ char *vpath = xasprintf("/vms/%lld", v.vmid);
	bool ok = pved_call_permitted(c, spath, "Datastore.Allocate") ||
		  (v.vtype == PVE_CONTENT_BACKUP && v.vmid &&
		   pved_call_permitted(c, spath, "Datastore.AllocateSpace") &&
		   pved_call_permitted(c, vpath, "VM.Backup"));
	if (!ok) {
		pve_error_set(&err, EACCES, "Permission check failed (%s, Datastore.Allocate)",
			      spath);
		return pved_call_fail(c, err);
	}
	/* What the task would find out, said now: a missing or protected volume. */
	if (pve_storage_path(&st, volname, NULL, &path, &err) < 0)
		return pved_call_fail(c, err);
	if (access(path, F_OK) < 0) {
		pve_error_set(&err, ENOENT, "volume '%s:%s' does not exist", st.id, volname);
		return pved_call_fail(c, err);
	}
	if (pve_storage_get_attribute(&st, volname, "protected", &prot, &err) < 0)
		return pved_call_fail(c, err);
	if (prot && streq(prot, "1")) {
		pve_error_set_param(&err, EINVAL, "volume", "volume '%s:%s' is protected", st.id,
				    volname);
		return pved_call_fail(c, err);
	}
	_cleanup_free_ char *id = v.vmid ? xasprintf("%lld@%s", v.vmid, st.id) : xstrdup(st.id);
	imgdel t = { .storage = (char *)st.id, .volname = volname };
	_cleanup_free_ char *upid = NULL;
	if (pved_task_start(c->d, "imgdel", id, c->authid, imgdel_task, &t, &upid, &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

const pved_handler pved_handlers_storage[] = {
	{ "storage_index", h_storage_index },
	{ "storage_create", h_storage_create },
	{ "storage_read", h_storage_read },
	{ "storage_update", h_storage_update },
	{ "storage_delete", h_storage_delete },
	{ "node_storage_index", h_node_storage_index },
	{ "node_storage_status", h_node_storage_status },
	{ "storage_content_index", h_storage_content_index },
	{ "storage_content_create", h_storage_content_create },
	{ "storage_content_info", h_storage_content_info },
	{ "storage_content_update", h_storage_content_update },
	{ "storage_content_delete", h_storage_content_delete },
	{ NULL, NULL },
};
