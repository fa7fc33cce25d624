/* The cluster area: /cluster, its running tasks and the next free VMID. */
#include "daemon/core/tasks-internal.h"

#define VMID_MIN 100
#define VMID_MAX 999999999

/* Every guest id in use on any node: nodes/NODE/{qemu-server,lxc}/VMID.conf. */
static bool vmid_used(pved *d, long long vmid, char **nodes)
{
	for (char **n = nodes; n && *n; n++) {
		_cleanup_free_ char *qm = xasprintf("nodes/%s/qemu-server/%lld.conf", *n, vmid);
		_cleanup_free_ char *ct = xasprintf("nodes/%s/lxc/%lld.conf", *n, vmid);
		if (pve_store_exists(d->store, qm) || pve_store_exists(d->store, ct))
			return true;
	}
	return false;
}

static void h_cluster_nextid(pved_call *c)
{
	_cleanup_strv_free_ char **nodes = NULL;
	if (pve_store_list(c->d->store, "nodes", &nodes, NULL) < 0)
		nodes = NULL;
	pve_error *err = NULL;
	if (pved_call_has(c, "vmid")) {
		long long vmid = pved_call_int(c, "vmid", 0);
		if (vmid_used(c->d, vmid, nodes)) {
			pve_error_set_param(&err, EINVAL, "vmid", "VM %lld already exists", vmid);
			return pved_call_fail(c, err);
		}
		_cleanup_free_ char *s = xasprintf("%lld", vmid);
		return pved_call_reply(c, cJSON_CreateString(s));
	}
	/* Proxmox answers with the id as a string, and clients rely on what it does. */
	for (long long vmid = VMID_MIN; vmid <= VMID_MAX; vmid++) {
		if (!vmid_used(c->d, vmid, nodes)) {
			_cleanup_free_ char *s = xasprintf("%lld", vmid);
			return pved_call_reply(c, cJSON_CreateString(s));
		}
	}
	pve_error_set(&err, ENOSPC, "unable to get any free VMID");
	pved_call_fail(c, err);
}

/* ---- GET /cluster/tasks: the running tasks (of this node until clustering) ---- */

static void h_cluster_tasks(pved_call *c)
{
	pved *d = c->d;
	pved_tasks_refresh(d);
	_cleanup_free_ char *node_path = xasprintf("/nodes/%s", d->node);
	bool auditor = pved_call_permitted(c, node_path, "Sys.Audit");
	size_t n = pved_tasks_count(d), m = 0;
	const pved_task **sel = xcalloc(n + 1, sizeof(*sel));
	for (size_t i = 0; i < n; i++) {
		const pved_task *t = pved_tasks_nth(d, i);
		if (!pved_task_is_active(d, t))
			continue;
		if (!auditor && !pved_task_owned_by(c->authid, t->upid.user))
			continue;
		sel[m++] = t;
	}
	qsort(sel, m, sizeof(*sel), pved_task_cmp_newest);
	cJSON *list = cJSON_CreateArray();
	for (size_t i = 0; i < m; i++)
		cJSON_AddItemToArray(list, pved_task_to_json(sel[i]));
	free(sel);
	pved_call_reply(c, list);
}

static const pved_handler handlers[] = {
	{ "cluster_tasks", h_cluster_tasks },
	{ "cluster_nextid", h_cluster_nextid },
	{ NULL, NULL },
};

const pved_area pved_area_cluster = {
	.name = "cluster",
	.handlers = (const pved_handler *const[]){ handlers, NULL },
};
