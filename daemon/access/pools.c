/* The /pools handlers: resource pools in user.cfg (guests and storages as members), changed under the
 * user.cfg lock against its digest, as Proxmox's PVE::API2::Pool. */
#include <cjson/cJSON.h>

#include "daemon/access/access-internal.h"

static const char *const GUEST_KINDS[][2] = { { "qemu-server", "qemu" }, { "lxc", "lxc" } };

/* The node and type ("qemu", "lxc") of a guest, from nodes/<node>/{qemu-server,lxc}/<vmid>.conf. */
static bool guest_find(pved *d, const char *vmid, char **ret_node, const char **ret_type)
{
	_cleanup_strv_free_ char **nodes = NULL;
	if (pve_store_list(d->store, "nodes", &nodes, NULL) < 0)
		return false;
	for (char **n = nodes; *n; n++)
		for (size_t k = 0; k < ELEMENTSOF(GUEST_KINDS); k++) {
			_cleanup_free_ char *p =
				xasprintf("nodes/%s/%s/%s.conf", *n, GUEST_KINDS[k][0], vmid);
			if (pve_store_exists(d->store, p)) {
				if (ret_node)
					*ret_node = xstrdup(*n);
				if (ret_type)
					*ret_type = GUEST_KINDS[k][1];
				return true;
			}
		}
	return false;
}

static bool storage_exists(pved *d, const char *storeid)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	_cleanup_sectioncfg_ pve_sectioncfg *cfg = NULL;
	if (pve_store_read(d->store, "storage.cfg", &text, &len, NULL, NULL) < 0 ||
	    pve_sectioncfg_parse(text, len, &cfg, NULL) < 0)
		return false;
	return pve_sectioncfg_find(cfg, storeid) != NULL;
}

static cJSON *pool_members(pved *d, const pve_pool *p, const char *type)
{
	cJSON *list = cJSON_CreateArray();
	for (char **v = p->vms; v && *v; v++) {
		_cleanup_free_ char *node = NULL;
		const char *kind = NULL;
		/* A member whose guest is gone stays in the pool, as in Proxmox, but is not listed. */
		if (!guest_find(d, *v, &node, &kind) || (type && strcmp(type, kind) != 0))
			continue;
		cJSON *o = cJSON_CreateObject();
		_cleanup_free_ char *id = xasprintf("%s/%s", kind, *v);
		cJSON_AddStringToObject(o, "id", id);
		cJSON_AddStringToObject(o, "node", node);
		cJSON_AddStringToObject(o, "type", kind);
		cJSON_AddNumberToObject(o, "vmid", (double)strtoll(*v, NULL, 10));
		cJSON_AddItemToArray(list, o);
	}
	for (char **s = p->storage; s && *s && (!type || strcmp(type, "storage") == 0); s++) {
		cJSON *o = cJSON_CreateObject();
		_cleanup_free_ char *id = xasprintf("storage/%s/%s", d->node, *s);
		cJSON_AddStringToObject(o, "id", id);
		cJSON_AddStringToObject(o, "node", d->node);
		cJSON_AddStringToObject(o, "storage", *s);
		cJSON_AddStringToObject(o, "type", "storage");
		cJSON_AddItemToArray(list, o);
	}
	return list;
}

static bool audit_allowed(const pved_call *c, const char *poolid)
{
	_cleanup_free_ char *path = xasprintf("/pool/%s", poolid);
	return pved_call_permitted(c, path, "Pool.Audit");
}

static void h_pools_index(pved_call *c)
{
	pve_error *err = NULL;
	_cleanup_usercfg_ pve_usercfg *cfg = NULL;
	if (pved_usercfg_read(c->d, &cfg, NULL, &err) < 0)
		return pved_call_fail(c, err);
	const char *want = pved_call_str(c, "poolid");
	const char *type = pved_call_str(c, "type");
	if (want && (!pve_usercfg_find_pool(cfg, want) || !audit_allowed(c, want))) {
		bool exists = pve_usercfg_find_pool(cfg, want);
		if (exists)
			pve_error_set(&err, EACCES,
				      "Permission check failed (/pool/%s, Pool.Audit)", want);
		else
			pved_access_error_plain(&err, "pool '%s' does not exist", want);
		return pved_call_fail(c, err);
	}
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < cfg->n_pools; i++) {
		const pve_pool *p = &cfg->pools[i];
		if (want ? strcmp(want, p->poolid) != 0 : !audit_allowed(c, p->poolid))
			continue;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "poolid", p->poolid);
		if (p->comment)
			cJSON_AddStringToObject(o, "comment", p->comment);
		if (want)
			cJSON_AddItemToObject(o, "members", pool_members(c->d, p, type));
		cJSON_AddItemToArray(list, o);
	}
	pved_call_reply(c, list);
}

static void h_pools_read(pved_call *c)
{
	pve_error *err = NULL;
	_cleanup_usercfg_ pve_usercfg *cfg = NULL;
	if (pved_usercfg_read(c->d, &cfg, NULL, &err) < 0)
		return pved_call_fail(c, err);
	const char *poolid = pved_call_str(c, "poolid");
	const pve_pool *p = pve_usercfg_find_pool(cfg, poolid);
	if (!p)
		return pved_access_fail_plain(c, "pool '%s' does not exist", poolid);
	cJSON *o = cJSON_CreateObject();
	if (p->comment)
		cJSON_AddStringToObject(o, "comment", p->comment);
	cJSON_AddItemToObject(o, "members", pool_members(c->d, p, pved_call_str(c, "type")));
	pved_call_reply(c, o);
}

static int pool_create_change(pved_access_edit *e, void *cfgp, pve_error **err)
{
	pved_call *c = e->c;
	pve_usercfg *cfg = cfgp;
	const char *poolid = pved_call_str(c, "poolid");
	int r = 0;
	const char *slash = strrchr(poolid, '/');
	_cleanup_free_ char *parent = slash ? xstrndup(poolid, (size_t)(slash - poolid)) : NULL;
	if (pve_usercfg_find_pool(cfg, poolid))
		r = pved_access_error_plain(err, "pool '%s' already exists", poolid);
	else if (parent && !pve_usercfg_find_pool(cfg, parent))
		r = pved_access_error_plain(err, "parent '%s' of pool '%s' does not exist", parent,
					    poolid);
	else if (cfg->n_pools >= PVE_USERCFG_MAX_ENTRIES)
		r = pve_error_set(err, E2BIG, "too many pools");
	if (r >= 0) {
		cfg->pools = xrealloc(cfg->pools, (cfg->n_pools + 1) * sizeof(pve_pool));
		pve_pool *p = &cfg->pools[cfg->n_pools++];
		const char *comment = pved_call_str(c, "comment");
		*p = (pve_pool){ .poolid = xstrdup(poolid),
				 .comment = comment && *comment ? xstrdup(comment) : NULL,
				 .vms = xcalloc(1, sizeof(char *)),
				 .storage = xcalloc(1, sizeof(char *)) };
	}
	return r < 0 ? r : 0;
}

/* A change of user.cfg whose errors Proxmox prefixes with failed. */
static void pool_change(pved_call *c, pved_access_edit_fn change, const char *event,
			const char *failed)
{
	pved_access_edit *e = pved_access_edit_new(c, change, event);
	e->failed = failed;
	pved_access_edit_run(e, &pved_usercfg_file, pved_call_str(c, "digest"));
}

static void h_pools_create(pved_call *c)
{
	pool_change(c, pool_create_change, "pool create", "create pool failed");
}

static pve_pool *pool_of_vm(pve_usercfg *cfg, const char *vmid)
{
	for (size_t i = 0; i < cfg->n_pools; i++)
		for (char **v = cfg->pools[i].vms; v && *v; v++)
			if (strcmp(*v, vmid) == 0)
				return &cfg->pools[i];
	return NULL;
}

/* Proxmox's check_perm_modify for a member: Permissions.Modify, or the allocation privilege there. */
static bool member_modify_allowed(const pved_call *c, const char *path, const char *alloc)
{
	return strcmp(c->authid, "root@pam") == 0 ||
	       pved_call_permitted(c, path, "Permissions.Modify") ||
	       pved_call_permitted(c, path, alloc);
}

static int update_vms(pved_call *c, pve_usercfg *cfg, pve_pool *p, bool remove, pve_error **err)
{
	_cleanup_strv_free_ char **vms = pve_split_list(pved_call_str(c, "vms") ?: "");
	for (char **v = vms; *v; v++) {
		/* "0100" and "100" are the same guest. */
		_cleanup_free_ char *vmid = xasprintf("%lld", strtoll(*v, NULL, 10));
		_cleanup_free_ char *path = xasprintf("/vms/%s", vmid);
		if (!member_modify_allowed(c, path, "VM.Allocate"))
			return pve_error_set(err, EACCES,
					     "Permission check failed (%s, VM.Allocate)", path);
		if (remove) {
			if (!strv_remove(p->vms, vmid))
				return pved_access_error_plain(err, "VM %s is not a pool member",
							       vmid);
			continue;
		}
		/* Proxmox adds any number; a guest that is not there has no place in a pool. */
		if (!guest_find(c->d, vmid, NULL, NULL))
			return pved_access_error_plain(err, "VM %s does not exist", vmid);
		pve_pool *old = pool_of_vm(cfg, vmid);
		if (old == p)
			return pved_access_error_plain(err, "VM %s is already a pool member", vmid);
		if (old) {
			_cleanup_free_ char *old_path = xasprintf("/pool/%s", old->poolid);
			if (!pved_call_int(c, "allow-move", 0))
				return pved_access_error_plain(
					err,
					"VM %s belongs already to pool '%s' and 'allow-move' is not set",
					vmid, old->poolid);
			if (strcmp(c->authid, "root@pam") != 0 &&
			    !pved_call_permitted(c, old_path, "Pool.Allocate"))
				return pve_error_set(err, EACCES,
						     "Permission check failed (%s, Pool.Allocate)",
						     old_path);
			strv_remove(old->vms, vmid);
		}
		strv_push(&p->vms, xstrdup(vmid));
	}
	return 0;
}

static int update_storage(pved_call *c, pve_pool *p, bool remove, pve_error **err)
{
	_cleanup_strv_free_ char **ids = pve_split_list(pved_call_str(c, "storage") ?: "");
	for (char **s = ids; *s; s++) {
		_cleanup_free_ char *path = xasprintf("/storage/%s", *s);
		if (!member_modify_allowed(c, path, "Datastore.Allocate"))
			return pve_error_set(err, EACCES,
					     "Permission check failed (%s, Datastore.Allocate)",
					     path);
		if (remove) {
			if (!strv_remove(p->storage, *s))
				return pved_access_error_plain(
					err, "Storage '%s' is not a pool member", *s);
			continue;
		}
		for (char **m = p->storage; m && *m; m++)
			if (strcmp(*m, *s) == 0)
				return pved_access_error_plain(
					err, "Storage '%s' is already a pool member", *s);
		if (!storage_exists(c->d, *s))
			return pved_access_error_plain(err, "Storage '%s' does not exist", *s);
		strv_push(&p->storage, xstrdup(*s));
	}
	return 0;
}

static int pool_update_change(pved_access_edit *e, void *cfgp, pve_error **err)
{
	pved_call *c = e->c;
	pve_usercfg *cfg = cfgp;
	const char *poolid = pved_call_str(c, "poolid");
	pve_pool *p = pve_usercfg_find_pool(cfg, poolid);
	int r = 0;
	bool remove = pved_call_int(c, "delete", 0);
	if (!p) {
		r = pved_access_error_plain(err, "pool '%s' does not exist", poolid);
	} else {
		const char *comment = pved_call_str(c, "comment");
		if (comment) {
			free(p->comment);
			p->comment = *comment ? xstrdup(comment) : NULL;
		}
		r = update_vms(c, cfg, p, remove, err);
		if (r >= 0)
			r = update_storage(c, p, remove, err);
	}
	return r < 0 ? r : 0;
}

static void h_pools_update(pved_call *c)
{
	pool_change(c, pool_update_change, "pool update", "update pools failed");
}

static int pool_delete_change(pved_access_edit *e, void *cfgp, pve_error **err)
{
	pved_call *c = e->c;
	pve_usercfg *cfg = cfgp;
	const char *poolid = pved_call_str(c, "poolid");
	pve_pool *p = pve_usercfg_find_pool(cfg, poolid);
	int r = 0;
	_cleanup_free_ char *sub = xasprintf("%s/", poolid);
	if (!p)
		r = pved_access_error_plain(err, "pool '%s' does not exist", poolid);
	for (size_t i = 0; r >= 0 && i < cfg->n_pools; i++)
		if (startswith(cfg->pools[i].poolid, sub))
			r = pved_access_error_plain(err,
						    "pool '%s' is not empty (contains pool '%s')",
						    poolid, cfg->pools[i].poolid);
	/* Proxmox passes over destroyed guests and removed storages. */
	for (char **v = r >= 0 ? p->vms : NULL; v && *v && r >= 0; v++)
		if (guest_find(c->d, *v, NULL, NULL))
			r = pved_access_error_plain(err, "pool '%s' is not empty (contains VM %s)",
						    poolid, *v);
	for (char **st = r >= 0 ? p->storage : NULL; st && *st && r >= 0; st++)
		if (storage_exists(c->d, *st))
			r = pved_access_error_plain(
				err, "pool '%s' is not empty (contains storage '%s')", poolid, *st);
	if (r >= 0) {
		/* The pool's ACL entries go with it. */
		_cleanup_free_ char *path = xasprintf("/pool/%s", poolid);
		for (size_t i = 0; r >= 0 && i < cfg->n_acls;) {
			const pve_acl *a = &cfg->acls[i];
			if (strcmp(a->path, path) != 0) {
				i++;
				continue;
			}
			_cleanup_free_ char *ugid = xstrdup(a->ugid);
			size_t before = cfg->n_acls;
			r = pve_usercfg_set_acl(cfg, path, a->type, ugid, NULL, false, err);
			if (cfg->n_acls == before)
				i++;
		}
	}
	if (r >= 0) {
		p = pve_usercfg_find_pool(cfg, poolid);
		size_t idx = (size_t)(p - cfg->pools);
		free(p->poolid);
		free(p->comment);
		strv_free(p->vms);
		strv_free(p->storage);
		memmove(p, p + 1, (cfg->n_pools - idx - 1) * sizeof(*p));
		cfg->n_pools--;
	}
	return r < 0 ? r : 0;
}

static void h_pools_delete(pved_call *c)
{
	pool_change(c, pool_delete_change, "pool delete", "delete pool failed");
}

const pved_handler pved_handlers_pools[] = {
	{ "pools_index", h_pools_index },
	{ "pools_create", h_pools_create },
	{ "pools_update", h_pools_update },
	{ "pools_delete", h_pools_delete },
	{ "pools_read", h_pools_read },
	{ "pools_update_deprecated", h_pools_update },
	{ "pools_delete_deprecated", h_pools_delete },
	{ NULL, NULL },
};
