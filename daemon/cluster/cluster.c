/* The cluster area: /cluster, its running tasks, the next free VMID and its resources. */
#include <cjson/cJSON.h>

#include "daemon/cluster/cluster-internal.h"
#include "daemon/core/tasks-internal.h"
#include "storage/storage.h"

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

/* ---- GET /cluster/resources -----------------------------------------------------------------------------
 * Guests and the node come from their areas' memory (the resources hook); storages from storage.cfg, with
 * their figures asked on the storage queue, as they may wait on a tool or a server. A standalone node is
 * a cluster of one. */

typedef struct storage_fig {
	char *id;
	bool ok;
	pve_storage_status st;
} storage_fig;

typedef struct resources_job {
	pved_call *c;
	char *type;
	pve_sectioncfg *cfg;
	storage_fig *figs;
	size_t n;
} resources_job;

static void resources_job_free(resources_job *j)
{
	for (size_t i = 0; i < j->n; i++)
		free(j->figs[i].id);
	free(j->figs);
	pve_sectioncfg_free(j->cfg);
	free(j->type);
	free(j);
}

static void storage_work(void *arg)
{
	resources_job *j = arg;
	for (size_t i = 0; i < j->n; i++) {
		pve_storage st;
		if (pve_storage_get(j->cfg, j->figs[i].id, &st, NULL) == 0)
			j->figs[i].ok = pve_storage_get_status(&st, &j->figs[i].st, NULL) == 0 &&
					j->figs[i].st.active;
	}
}

static void resources_answer(resources_job *j)
{
	pved_call *c = j->c;
	pved *d = c->d;
	pve_buf b = { 0 };
	for (const pved_area *const *a = d->areas; *a; a++)
		if ((*a)->resources)
			(*a)->resources(c, j->type, &b);
	for (size_t i = 0; i < j->n; i++) {
		pve_storage st;
		if (pve_storage_get(j->cfg, j->figs[i].id, &st, NULL) < 0)
			continue;
		cJSON *o = cJSON_CreateObject();
		_cleanup_free_ char *id = xasprintf("storage/%s/%s", d->node, st.id);
		_cleanup_free_ char *content = pve_storage_content_print(st.content);
		cJSON_AddStringToObject(o, "id", id);
		cJSON_AddStringToObject(o, "storage", st.id);
		cJSON_AddStringToObject(o, "node", d->node);
		cJSON_AddStringToObject(o, "type", "storage");
		cJSON_AddStringToObject(o, "plugintype", st.type);
		cJSON_AddStringToObject(o, "status", j->figs[i].ok ? "available" : "unknown");
		cJSON_AddNumberToObject(o, "shared", st.shared ? 1 : 0);
		cJSON_AddStringToObject(o, "content", content);
		if (j->figs[i].ok) {
			cJSON_AddNumberToObject(o, "maxdisk", (double)j->figs[i].st.total);
			cJSON_AddNumberToObject(o, "disk", (double)j->figs[i].st.used);
		}
		_cleanup_free_ char *t = pve_json_print(o);
		cJSON_Delete(o);
		if (b.len)
			pve_buf_puts(&b, ",");
		pve_buf_puts(&b, t);
	}
	_cleanup_free_ char *text = xasprintf("[%s]", b.data ? b.data : "");
	pve_buf_free(&b);
	pved_call_reply_json(c, text, strlen(text));
	resources_job_free(j);
}

static void storage_done(void *arg)
{
	resources_answer(arg);
}

static void h_cluster_resources(pved_call *c)
{
	pved *d = c->d;
	const char *type = pved_call_str(c, "type");
	resources_job *j = xcalloc(1, sizeof(*j));
	j->c = c;
	j->type = type ? xstrdup(type) : NULL;
	if (type && !streq(type, "storage"))
		return resources_answer(j);
	/* the storages of this node the caller may audit */
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	if (pve_store_read(d->store, "storage.cfg", &text, &len, NULL, NULL) < 0 ||
	    pve_storage_cfg_parse(text, len, &j->cfg, NULL) < 0 || !j->cfg)
		return resources_answer(j);
	size_t n = pve_sectioncfg_count(j->cfg);
	j->figs = xcalloc(n + 1, sizeof(*j->figs));
	for (size_t i = 0; i < n; i++) {
		pve_storage st;
		const char *sid = pve_section_id(pve_sectioncfg_nth(j->cfg, i));
		_cleanup_free_ char *acl = xasprintf("/storage/%s", sid);
		if (pve_storage_get(j->cfg, sid, &st, NULL) < 0 || st.disabled ||
		    !pve_storage_on_node(&st, d->node) ||
		    !pved_call_permitted(c, acl, "Datastore.Audit"))
			continue;
		j->figs[j->n++].id = xstrdup(sid);
	}
	if (!j->n ||
	    pved_run_blocking(d, PVED_QUEUE_STORAGE, storage_work, storage_done, j, NULL) < 0)
		return resources_answer(j);
}

static const pved_handler handlers[] = {
	{ "cluster_resources", h_cluster_resources },
	{ "cluster_tasks", h_cluster_tasks },
	{ "cluster_nextid", h_cluster_nextid },
	{ NULL, NULL },
};

const pved_area pved_area_cluster = {
	.name = "cluster",
	.handlers =
		(const pved_handler *const[]){
			handlers, pved_cluster_log_handlers, pved_cluster_options_handlers,
			pved_cluster_status_handlers, pved_cluster_config_handlers,
			pved_cluster_membership_handlers, pved_cluster_bulk_handlers, NULL },
	.tasks = (const pved_task_kind *const[]){ pved_cluster_tasks, pved_cluster_bulk_tasks,
						  NULL },
	.config_changed = pved_cluster_config_changed,
	.task_ended = pved_cluster_task_ended,
};
