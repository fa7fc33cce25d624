/* The cluster area: /cluster and the next free VMID (its other files: options, status, resources). */
#include <cjson/cJSON.h>

#include "daemon/cluster/cluster-internal.h"

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
	/* The range is datacenter.cfg's next-id, upper exclusive, [100, 1000000) by default (below the
	 * schema's largest id, as Proxmox). */
	long long lower = VMID_MIN, upper = 1000 * 1000;
	cJSON *dc = NULL;
	if (pved_datacenter_read(c->d, &dc, &err) < 0)
		return pved_call_fail(c, err);
	const cJSON *range = cJSON_GetObjectItemCaseSensitive(dc, "next-id");
	const cJSON *lo = cJSON_GetObjectItemCaseSensitive(range, "lower");
	const cJSON *hi = cJSON_GetObjectItemCaseSensitive(range, "upper");
	if (cJSON_IsNumber(lo))
		lower = (long long)lo->valuedouble;
	if (cJSON_IsNumber(hi))
		upper = (long long)hi->valuedouble;
	cJSON_Delete(dc);
	/* Proxmox answers with the id as a string, and clients rely on what it does. */
	for (long long vmid = lower; vmid < upper && vmid <= VMID_MAX; vmid++) {
		if (!vmid_used(c->d, vmid, nodes)) {
			_cleanup_free_ char *s = xasprintf("%lld", vmid);
			return pved_call_reply(c, cJSON_CreateString(s));
		}
	}
	pve_error_set(&err, ENOSPC, "unable to get any free VMID in range [%lld, %lld]", lower,
		      upper);
	pved_call_fail(c, err);
}

static const pved_handler handlers[] = {
	{ "cluster_nextid", h_cluster_nextid },
	{ NULL, NULL },
};

const pved_area pved_area_cluster = {
	.name = "cluster",
	.handlers =
		(const pved_handler *const[]){
			handlers, pved_cluster_log_handlers, pved_cluster_options_handlers,
			pved_cluster_status_handlers, pved_cluster_config_handlers,
			pved_cluster_membership_handlers, pved_cluster_resources_handlers,
			pved_cluster_bulk_handlers, NULL },
	.tasks = (const pved_task_kind *const[]){ pved_cluster_tasks, pved_cluster_bulk_tasks,
						  NULL },
	.config_changed = pved_cluster_config_changed,
	.task_ended = pved_cluster_task_ended,
	.init = pved_cluster_publish_start,
	.stop = pved_cluster_publish_stop,
};
