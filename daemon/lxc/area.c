/* The lxc area: /nodes/{node}/lxc. Its state is the table of this node's containers (cts.c) and the
 * config keys' schema; the containers themselves run without pved (lxc/'s runtime) and are found again
 * from their run files. */
#include <sys/stat.h>

#include "daemon/lxc/lxc-internal.h"

static const pved_handler *const handlers[] = {
	pved_handlers_lxc_config, pved_handlers_lxc_create,  pved_handlers_lxc_destroy,
	pved_handlers_lxc_power,  pved_handlers_lxc_exec,    pved_handlers_lxc_snapshot,
	pved_handlers_lxc_disk,	  pved_handlers_lxc_console, NULL,
};

static const pved_task_kind *const tasks[] = {
	pved_tasks_lxc_create,
	pved_tasks_lxc_destroy,
	pved_tasks_lxc_power,
	pved_tasks_lxc_snapshot,
	pved_tasks_lxc_disk,
	pved_tasks_lxc_console,
	NULL,
};

static int lxc_area_init(pved *d, pve_error **err)
{
	(void)err;
	struct pved_lxc_state *q = d->lxc ? d->lxc : xcalloc(1, sizeof(*q));
	d->lxc = q;
	q->conf_dir = xasprintf("nodes/%s/lxc", d->node);
	q->run_dir = ct_run_dir(d);
	(void)mkdir(q->run_dir, 0755);
	(void)pve_store_mkdir(d->store, q->conf_dir, NULL);
	ct_schema(d);
	ct_load_all(d);
	return 0;
}

static void lxc_area_stop(pved *d)
{
	struct pved_lxc_state *q = d->lxc;
	if (!q)
		return;
	ct_free_all(d);
	cJSON_Delete(q->props);
	free(q->conf_dir);
	free(q->run_dir);
	free(q);
	d->lxc = NULL;
}

static void lxc_config_changed(pved *d, const char *path)
{
	struct pved_lxc_state *q = d->lxc;
	if (!q)
		return;
	if (!*path) {
		ct_load_all(d);
		return;
	}
	size_t n = strlen(q->conf_dir);
	if (strncmp(path, q->conf_dir, n) != 0 || path[n] != '/')
		return;
	const char *name = path + n + 1;
	size_t len = strlen(name);
	if (len < 6 || !endswith(name, ".conf"))
		return;
	_cleanup_free_ char *num = xstrndup(name, len - 5);
	long long vmid;
	if (num[0] != '0' && pve_parse_int(num, PVE_VMID_MIN, PVE_VMID_MAX, &vmid) == 0)
		ct_refresh(d, vmid);
}

/* GET /cluster/resources: the containers the caller may audit. */
static void lxc_resources(pved_call *c, const char *type, pve_buf *out)
{
	pved *d = c->d;
	if (!d->lxc || (type && !streq(type, "vm")))
		return;
	ct_audit audit;
	ct_audit_init(&audit, c);
	for (size_t i = 0; i < d->lxc->n; i++) {
		ct_entry *ct = d->lxc->cts[i];
		if (!ct_audit_may(&audit, ct->vmid))
			continue;
		if (out->len)
			pve_buf_puts(out, ",");
		pve_buf_puts(out, ct_resource_json(d, ct));
	}
}

const pved_area pved_area_lxc = {
	.name = "lxc",
	.handlers = handlers,
	.tasks = tasks,
	.init = lxc_area_init,
	.stop = lxc_area_stop,
	.config_changed = lxc_config_changed,
	.resources = lxc_resources,
};
