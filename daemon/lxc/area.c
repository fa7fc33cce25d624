/* The lxc area: /nodes/{node}/lxc. Its state is the table of this node's containers (cts.c) and the
 * config keys' schema; the containers themselves run without pved (lxc/'s runtime) and are found again
 * from their run files. */
#include <event2/event.h>
#include <sys/inotify.h>
#include <sys/stat.h>

#include "access/access.h"
#include "daemon/core/guest.h"
#include "daemon/lxc/lxc-internal.h"

static const pved_handler *const handlers[] = {
	pved_handlers_lxc_config, pved_handlers_lxc_create,  pved_handlers_lxc_destroy,
	pved_handlers_lxc_power,  pved_handlers_lxc_exec,    pved_handlers_lxc_snapshot,
	pved_handlers_lxc_disk,	  pved_handlers_lxc_console, NULL,
};

static const pved_task_kind *const tasks[] = {
	pved_tasks_lxc_create, pved_tasks_lxc_destroy,
	pved_tasks_lxc_power,  pved_tasks_lxc_snapshot,
	pved_tasks_lxc_disk,   pved_tasks_lxc_console,
	pved_tasks_lxc_exec,   NULL,
};

/* ---- mounts of containers that ended ----------------------------------------------------------------
 * A container that ends without a stop task (its init exited, it was killed) leaves its volumes
 * mounted: when its pid file goes (the monitor removes it), a job on the guest queue takes them down,
 * under the per-CT lock and only if it still does not run (a start may have come meanwhile). At
 * pved's start the same happens for every container that is not running. */

typedef struct unmount_job {
	pved *d;
	long long *vmids;
	size_t n;
} unmount_job;

static void unmount_work(void *arg)
{
	unmount_job *j = arg;
	for (size_t i = 0; i < j->n; i++) {
		int fd = -1;
		if (ct_lock_wait(j->d, j->vmids[i], &fd, NULL) < 0)
			continue;
		if (!ct_running(j->d, j->vmids[i], NULL))
			ct_unmount_all(j->d, j->vmids[i]);
		close(fd);
	}
}

static void unmount_done(void *arg)
{
	unmount_job *j = arg;
	free(j->vmids);
	free(j);
}

static void unmount_later(pved *d, long long *vmids, size_t n)
{
	unmount_job *j = xcalloc(1, sizeof(*j));
	j->d = d;
	j->vmids = vmids;
	j->n = n;
	if (!n || pved_run_blocking(d, PVED_QUEUE_GUEST, unmount_work, unmount_done, j, NULL) < 0)
		unmount_done(j);
}

static void run_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	pved *d = arg;
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			long long vmid;
			size_t len = ev->len ? strlen(ev->name) : 0;
			if (len < 5 || !endswith(ev->name, ".pid"))
				continue;
			_cleanup_free_ char *num = xstrndup(ev->name, len - 4);
			if (pve_parse_int(num, PVE_VMID_MIN, PVE_VMID_MAX, &vmid) < 0)
				continue;
			if (ev->mask & IN_MOVED_TO) {
				ct_disk_started(d, vmid);
				continue;
			}
			long long *one = xcalloc(1, sizeof(*one));
			one[0] = vmid;
			unmount_later(d, one, 1);
		}
	}
}

static void watch_start(pved *d)
{
	struct pved_lxc_state *q = d->lxc;
	q->run_watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (q->run_watch < 0 ||
	    inotify_add_watch(q->run_watch, q->run_dir, IN_DELETE | IN_MOVED_TO) < 0) {
		log_warning("no watch on %s (%m): an ended container's volumes stay mounted until "
			    "its next start or destroy",
			    q->run_dir);
		return;
	}
	q->run_watch_ev = event_new(d->base, q->run_watch, EV_READ | EV_PERSIST, run_watch_cb, d);
	event_add(q->run_watch_ev, NULL);
	/* what ended while pved was away */
	long long *vmids = xcalloc(q->n + 1, sizeof(*vmids));
	size_t k = 0;
	for (size_t i = 0; i < q->n; i++)
		if (!ct_running(d, q->cts[i]->vmid, NULL))
			vmids[k++] = q->cts[i]->vmid;
	unmount_later(d, vmids, k);
}

/* ---- pools, from user.cfg (for /cluster/resources) ---- */

typedef struct ct_pool {
	long long vmid;
	char *pool;
} ct_pool;

static void pools_free(struct pved_lxc_state *q)
{
	for (size_t i = 0; i < q->n_pools; i++)
		free(q->pools[i].pool);
	free(q->pools);
	q->pools = NULL;
	q->n_pools = 0;
}

static int pool_cmp(const void *a, const void *b)
{
	const ct_pool *x = a, *y = b;
	return (x->vmid > y->vmid) - (x->vmid < y->vmid);
}

static void pools_load(pved *d)
{
	struct pved_lxc_state *q = d->lxc;
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	pools_free(q);
	_cleanup_usercfg_ pve_usercfg *u = NULL;
	if (pve_store_read(d->store, "user.cfg", &text, &len, NULL, NULL) < 0 ||
	    pve_usercfg_parse(text, len, &u, NULL) < 0)
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

static const char *pool_of(const struct pved_lxc_state *q, long long vmid)
{
	ct_pool key = { .vmid = vmid };
	const ct_pool *p =
		q->n_pools ? bsearch(&key, q->pools, q->n_pools, sizeof(*q->pools), pool_cmp) :
			     NULL;
	return p ? p->pool : NULL;
}

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
	pools_load(d);
	q->run_watch = -1;
	if (d->base)
		watch_start(d);
	return 0;
}

static void lxc_area_stop(pved *d)
{
	struct pved_lxc_state *q = d->lxc;
	if (!q)
		return;
	if (q->run_watch_ev)
		event_free(q->run_watch_ev);
	if (q->run_watch >= 0)
		close(q->run_watch);
	ct_disk_free(d);
	ct_free_all(d);
	pools_free(q);
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
		ct_refresh(d, vmid);
}

/* GET /cluster/resources: the containers the caller may audit. */
static void lxc_resources(pved_call *c, const char *type, pve_buf *out)
{
	pved *d = c->d;
	if (!d->lxc || (type && !streq(type, "vm")))
		return;
	pved_guest_audit audit;
	pved_guest_audit_init(&audit, c);
	for (size_t i = 0; i < d->lxc->n; i++) {
		ct_entry *ct = d->lxc->cts[i];
		if (!pved_guest_audit_may(&audit, ct->vmid))
			continue;
		if (out->len)
			pve_buf_puts(out, ",");
		const char *text = ct_resource_json(d, ct);
		const char *pool = pool_of(d->lxc, ct->vmid);
		_cleanup_free_ char *pacl = pool ? xasprintf("/pool/%s", pool) : NULL;
		if (!pool || !pved_call_permitted(c, pacl, "Pool.Audit")) {
			pve_buf_puts(out, text);
			continue;
		}
		/* the entry with its pool: a pool id needs no JSON escapes */
		pve_buf_append(out, text, strlen(text) - 1);
		pve_buf_printf(out, ",\"pool\":\"%s\"}", pool);
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
