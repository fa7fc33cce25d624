/* The qemu area: /nodes/{node}/qemu. Its state is the table of this node's VMs (vms.c), the pools VMs
 * belong to (from user.cfg, for /cluster/resources), and the /dev/kvm probe's verdict, which is taken
 * once at start on the guest queue. */
#include <cjson/cJSON.h>
#include <sys/stat.h>

#include "access/access.h"
#include "daemon/core/guest.h"
#include "daemon/qemu/ops-internal.h"

static const pved_handler *const handlers[] = {
	pved_handlers_qemu_config,    pved_handlers_qemu_status,
	pved_handlers_qemu_create,    pved_handlers_qemu_agent,
	pved_handlers_qemu_cloudinit, pved_handlers_qemu_console,
	pved_handlers_qemu_snapshot,  pved_handlers_qemu_clone,
	pved_handlers_qemu_diskops,   NULL,
};

static const pved_task_kind *const tasks[] = { pved_tasks_qemu_config,	 pved_tasks_qemu_status,
					       pved_tasks_qemu_create,	 pved_tasks_qemu_console,
					       pved_tasks_qemu_snapshot, pved_tasks_qemu_clone,
					       pved_tasks_qemu_diskops,	 NULL };

/* ---- the probe ---- */

typedef struct probe_job {
	pved *d;
	kvm_probe_result r;
} probe_job;

static void probe_work(void *arg)
{
	probe_job *j = arg;
	kvm_probe("/dev/kvm", &j->r);
}

static void probe_done(void *arg)
{
	probe_job *j = arg;
	pved *d = j->d;
	if (d->qemu) {
		d->qemu->probe = j->r;
		d->qemu->probed = true;
		d->kvm_state = kvm_state_name(j->r.state);
		d->kvm_percent = j->r.percent;
		log_info("/dev/kvm: %s (%s)", d->kvm_state, j->r.detail);
	}
	free(j);
}

/* ---- pools, from user.cfg ---- */

typedef struct vm_pool {
	long long vmid;
	char *pool;
} vm_pool;

static void pools_free(struct pved_qemu_state *q)
{
	for (size_t i = 0; i < q->n_pools; i++)
		free(q->pools[i].pool);
	free(q->pools);
	q->pools = NULL;
	q->n_pools = 0;
}

static int pool_cmp(const void *a, const void *b)
{
	const vm_pool *x = a, *y = b;
	return (x->vmid > y->vmid) - (x->vmid < y->vmid);
}

static void pools_load(pved *d)
{
	struct pved_qemu_state *q = d->qemu;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	pools_free(q);
	if (pve_store_read(d->store, "user.cfg", &text, &len, NULL, NULL) < 0)
		return;
	_cleanup_usercfg_ pve_usercfg *u = NULL;
	if (pve_usercfg_parse(text, len, &u, NULL) < 0)
		return;
	size_t n = 0;
	for (size_t i = 0; i < u->n_pools; i++)
		n += strv_length(u->pools[i].vms);
	q->pools = xcalloc(n + 1, sizeof(*q->pools));
	for (size_t i = 0; i < u->n_pools; i++)
		for (char **v = u->pools[i].vms; v && *v; v++) {
			long long vmid;
			if (pve_parse_int(*v, PVE_VMID_MIN, PVE_VMID_MAX, &vmid) < 0)
				continue;
			q->pools[q->n_pools].vmid = vmid;
			q->pools[q->n_pools++].pool = xstrdup(u->pools[i].poolid);
		}
	qsort(q->pools, q->n_pools, sizeof(*q->pools), pool_cmp);
}

static const char *pool_of(const struct pved_qemu_state *q, long long vmid)
{
	vm_pool key = { .vmid = vmid };
	const vm_pool *p =
		q->n_pools ? bsearch(&key, q->pools, q->n_pools, sizeof(*q->pools), pool_cmp) :
			     NULL;
	return p ? p->pool : NULL;
}

/* ---- hooks ---- */

static int qemu_init(pved *d, pve_error **err)
{
	struct pved_qemu_state *q = d->qemu ? d->qemu : xcalloc(1, sizeof(*q));
	d->qemu = q;
	q->run_watch = -1;
	q->conf_dir = xasprintf("nodes/%s/qemu-server", d->node);
	q->run_dir = qemu_run_dir(d);
	(void)mkdir(q->run_dir, 0755);
	(void)pve_store_mkdir(d->store, q->conf_dir, NULL);
	qemu_schema(d);
	qemu_vms_load(d);
	pools_load(d);
	qemu_runtime_start(d);
	probe_job *j = xcalloc(1, sizeof(*j));
	j->d = d;
	if (pved_run_blocking(d, PVED_QUEUE_GUEST, probe_work, probe_done, j, err) < 0) {
		free(j);
		return -EAGAIN;
	}
	return 0;
}

static void qemu_stop(pved *d)
{
	struct pved_qemu_state *q = d->qemu;
	if (!q)
		return;
	qemu_runtime_stop(d);
	qemu_vms_free(d);
	pools_free(q);
	kvm_schema_free(q->schema);
	free(q->conf_dir);
	free(q->run_dir);
	free(q);
	d->qemu = NULL;
}

static void qemu_config_changed(pved *d, const char *path)
{
	struct pved_qemu_state *q = d->qemu;
	if (!q)
		return;
	if (!*path) {
		qemu_vms_load(d);
		pools_load(d);
		return;
	}
	if (streq(path, "user.cfg")) {
		pools_load(d);
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
		qemu_vm_refresh(d, vmid);
}

/* A task of a VM has ended: the table takes the run state the task left (a stopped QEMU is gone, a
 * started one runs) now, so the list agrees with the task from its end on, not after a retry. */
static void qemu_task_ended(pved *d, const char *type, const char *id)
{
	(void)type;
	long long vmid;
	if (id[0] == '0' || pve_parse_int(id, PVE_VMID_MIN, PVE_VMID_MAX, &vmid) < 0)
		return;
	qemu_vm *vm = qemu_vm_find(d, vmid);
	if (vm)
		qemu_vm_check_running(d, vm);
}

/* GET /cluster/resources: the VMs the caller may audit, from the table's printed entries. */
void qemu_resources(pved_call *c, const char *type, pve_buf *out)
{
	pved *d = c->d;
	if (!d->qemu || (type && !streq(type, "vm")))
		return;
	pved_guest_audit audit;
	pved_guest_audit_init(&audit, c);
	for (size_t i = 0; i < d->qemu->n; i++) {
		qemu_vm *vm = d->qemu->vms[i];
		if (!pved_guest_audit_may(&audit, vm->vmid))
			continue;
		const char *text = qemu_vm_resource_json(d, vm);
		if (out->len)
			pve_buf_puts(out, ",");
		const char *pool = pool_of(d->qemu, vm->vmid);
		_cleanup_free_ char *pacl = pool ? xasprintf("/pool/%s", pool) : NULL;
		if (!pool || !pved_call_permitted(c, pacl, "Pool.Audit")) {
			pve_buf_puts(out, text);
			continue;
		}
		/* the entry with its pool: the pool id's characters need no JSON escapes */
		pve_buf_append(out, text, strlen(text) - 1);
		pve_buf_printf(out, ",\"pool\":\"%s\"}", pool);
	}
}

const pved_area pved_area_qemu = {
	.name = "qemu",
	.handlers = handlers,
	.tasks = tasks,
	.init = qemu_init,
	.stop = qemu_stop,
	.config_changed = qemu_config_changed,
	.resources = qemu_resources,
	.task_ended = qemu_task_ended,
};
