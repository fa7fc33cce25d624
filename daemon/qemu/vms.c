/* The table of this node's VMs: each config's summary, parsed once and refreshed through the store's change
 * watch; each running QEMU's state, kept by pved's own monitor connection (events, status), a watch on
 * the run directory (pid files appear and go), a sampler of /proc (CPU, memory, network) and a health
 * check that notices a monitor that stopped answering. The list and resource answers are printed from
 * here, entry by entry, and each entry's text is kept until something in it changes. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <sys/inotify.h>
#include <time.h>

#include "access/access.h"
#include "api/api.h"
#include "daemon/qemu/qemu-internal.h"

#define RETRY_FIRST_MS 50
#define RETRY_MAX_MS 10000
/* A QEMU whose pid file appeared but whose monitor does not take a connection: tried this long. */
#define ATTACH_GIVE_UP_MS 30000

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the schema ---------------------------------------------------------------------------------- */

static kvm_schema *schema_from_routes(const pve_routes *routes)
{
	for (size_t i = 0; i < pve_routes_count(routes); i++) {
		const pve_route *r = pve_routes_get(routes, i);
		if (streq(r->path, "/nodes/{node}/qemu") && streq(r->method, "POST"))
			return kvm_schema_new(
				cJSON_GetObjectItemCaseSensitive(r->parameters, "properties"));
	}
	return NULL;
}

/* In a task worker (no route table): the create route's object, found in the embedded route data by
 * its first members and parsed alone. Parsing the whole table costs a start about 6 ms; the one route
 * about one. NULL when the data is laid out otherwise (then the whole table is loaded). */
static kvm_schema *schema_from_embedded(void)
{
	static const char key[] = "{\"path\": \"/nodes/{node}/qemu\", \"method\": \"POST\"";
	const char *at = memmem(pve_routes_json, pve_routes_json_len, key, strlen(key));
	if (!at)
		return NULL;
	const char *end = NULL;
	cJSON *route = cJSON_ParseWithLengthOpts(
		at, pve_routes_json_len - (size_t)(at - pve_routes_json), &end, false);
	kvm_schema *s = NULL;
	if (route && streq_ptr(pve_json_str(route, "name"), "qemu_create"))
		s = kvm_schema_new(cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(route, "parameters"), "properties"));
	cJSON_Delete(route);
	return s;
}

const kvm_schema *qemu_schema(pved *d)
{
	if (!d->qemu)
		d->qemu = xcalloc(1, sizeof(*d->qemu));
	if (d->qemu->schema)
		return d->qemu->schema;
	if (d->routes) {
		d->qemu->schema = schema_from_routes(d->routes);
	} else {
		d->qemu->schema = schema_from_embedded();
		if (!d->qemu->schema) {
			pve_routes *routes = NULL;
			if (pve_routes_load(&routes, NULL) < 0)
				abort(); /* the embedded table loaded when pved started */
			d->qemu->schema = schema_from_routes(routes);
			pve_routes_free(routes);
		}
	}
	if (!d->qemu->schema)
		abort();
	return d->qemu->schema;
}

char *qemu_conf_path(const pved *d, long long vmid)
{
	return xasprintf("nodes/%s/qemu-server/%lld.conf", d->node, vmid);
}

char *qemu_run_dir(const pved *d)
{
	return pved_path(d, "run/qemu-server");
}

/* ---- the table --------------------------------------------------------------------------------------- */

static ssize_t find_index(const struct pved_qemu_state *q, long long vmid, bool *found)
{
	size_t lo = 0, hi = q->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (q->vms[mid]->vmid < vmid)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < q->n && q->vms[lo]->vmid == vmid;
	return (ssize_t)lo;
}

qemu_vm *qemu_vm_find(pved *d, long long vmid)
{
	if (!d->qemu)
		return NULL;
	bool found;
	ssize_t i = find_index(d->qemu, vmid, &found);
	return found ? d->qemu->vms[i] : NULL;
}

void qemu_vm_changed(qemu_vm *vm)
{
	free(vm->list_json);
	free(vm->res_json);
	vm->list_json = vm->res_json = NULL;
}

static void vm_free(qemu_vm *vm)
{
	if (!vm)
		return;
	kvm_qmp_free(vm->qmp);
	if (vm->retry)
		event_free(vm->retry);
	free(vm->name);
	free(vm->tags);
	free(vm->lock);
	free(vm->running_machine);
	free(vm->running_qemu);
	qemu_vm_changed(vm);
	free(vm);
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v ? xstrdup(v) : NULL;
}

/* The summary the list answers need, from the config's main section. */
static void vm_apply_config(pved *d, qemu_vm *vm, const pve_config *c)
{
	const kvm_schema *s = qemu_schema(d);
	set_str(&vm->name, pve_config_get(c, NULL, "name"));
	set_str(&vm->tags, pve_config_get(c, NULL, "tags"));
	set_str(&vm->lock, pve_config_get(c, NULL, "lock"));
	vm->template_ = kvm_config_bool(c, NULL, "template", false);
	int vcpus;
	int cpus = kvm_config_cpus(c, NULL, &vcpus);
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	if (online > 0 && cpus > online)
		cpus = (int)online;
	vm->cpus = pve_config_get(c, NULL, "vcpus") ? vcpus : cpus;
	vm->maxmem = kvm_config_memory_mib(c, NULL) * 1024 * 1024;
	const char *agent = pve_config_get(c, NULL, "agent");
	vm->agent = agent && (streq(agent, "1") || startswith(agent, "1,") ||
			      strstr(agent, "enabled=1") != NULL);
	vm->serial = false;
	for (int i = 0; i < KVM_MAX_SERIAL && !vm->serial; i++) {
		char key[16];
		snprintf(key, sizeof(key), "serial%d", i);
		vm->serial = pve_config_get(c, NULL, key) != NULL;
	}
	/* maxdisk: the boot disk's size, as Proxmox's bootdisk_size */
	vm->maxdisk = 0;
	_cleanup_strv_free_ char **order = kvm_config_boot_order(c, s);
	for (char **dev = order; *dev; dev++) {
		const char *v = pve_config_get(c, NULL, *dev);
		kvm_drive drv;
		if (!v || !kvm_drive_key(*dev, false, NULL, NULL) ||
		    kvm_drive_parse(s, *dev, v, &drv, NULL) < 0)
			continue;
		bool cd = drv.cdrom;
		uint64_t size = drv.size;
		kvm_drive_clear(&drv);
		if (!cd) {
			vm->maxdisk = size;
			break;
		}
	}
	qemu_vm_changed(vm);
}

static qemu_vm *vm_insert(pved *d, long long vmid)
{
	struct pved_qemu_state *q = d->qemu;
	bool found;
	ssize_t i = find_index(q, vmid, &found);
	if (found)
		return q->vms[i];
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 64;
		q->vms = xrealloc(q->vms, q->cap * sizeof(*q->vms));
	}
	memmove(&q->vms[i + 1], &q->vms[i], (q->n - (size_t)i) * sizeof(*q->vms));
	qemu_vm *vm = xcalloc(1, sizeof(*vm));
	vm->d = d;
	vm->vmid = vmid;
	snprintf(vm->qmpstatus, sizeof(vm->qmpstatus), "stopped");
	q->vms[i] = vm;
	q->n++;
	return vm;
}

static void vm_remove(pved *d, long long vmid)
{
	struct pved_qemu_state *q = d->qemu;
	bool found;
	ssize_t i = find_index(q, vmid, &found);
	if (!found)
		return;
	qemu_vm *vm = q->vms[i];
	memmove(&q->vms[i], &q->vms[i + 1], (q->n - (size_t)i - 1) * sizeof(*q->vms));
	q->n--;
	vm_free(vm);
}

static void vm_attach_soon(pved *d, qemu_vm *vm, int delay_ms);

void qemu_vm_refresh(pved *d, long long vmid)
{
	_cleanup_free_ char *path = qemu_conf_path(d, vmid), *text = NULL;
	size_t len = 0;
	if (pve_store_read(d->store, path, &text, &len, NULL, NULL) < 0) {
		vm_remove(d, vmid);
		return;
	}
	pve_config *c = NULL;
	_cleanup_error_ pve_error *err = NULL;
	bool fresh = !qemu_vm_find(d, vmid);
	qemu_vm *vm = vm_insert(d, vmid);
	if (kvm_config_parse(text, len, &c, &err) < 0) {
		/* listed still, as Proxmox lists a VM whose config it cannot fully read */
		log_warning("VM %lld: %s", vmid, err->message);
		qemu_vm_changed(vm);
	} else {
		vm_apply_config(d, vm, c);
		pve_config_free(c);
	}
	if (fresh && d->base)
		qemu_vm_check_running(d, vm);
}

static bool conf_name_vmid(const char *name, long long *ret)
{
	size_t n = strlen(name);
	if (n < 6 || !endswith(name, ".conf"))
		return false;
	_cleanup_free_ char *num = xstrndup(name, n - 5);
	return num[0] != '0' && pve_parse_int(num, PVE_VMID_MIN, PVE_VMID_MAX, ret) == 0;
}

void qemu_vms_load(pved *d)
{
	_cleanup_strv_free_ char **names = NULL;
	struct pved_qemu_state *q = d->qemu;
	/* forget VMs whose config went away, then read every config */
	for (size_t i = q->n; i-- > 0;) {
		_cleanup_free_ char *path = qemu_conf_path(d, q->vms[i]->vmid);
		if (!pve_store_exists(d->store, path))
			vm_remove(d, q->vms[i]->vmid);
	}
	if (pve_store_list(d->store, q->conf_dir, &names, NULL) < 0)
		return;
	for (char **p = names; *p; p++) {
		long long vmid;
		if (conf_name_vmid(*p, &vmid))
			qemu_vm_refresh(d, vmid);
	}
}

void qemu_vms_free(pved *d)
{
	struct pved_qemu_state *q = d->qemu;
	for (size_t i = 0; i < q->n; i++)
		vm_free(q->vms[i]);
	free(q->vms);
	q->vms = NULL;
	q->n = q->cap = 0;
}

/* ---- a running QEMU -------------------------------------------------------------------------------- */

bool qemu_vm_running(const qemu_vm *vm)
{
	return vm->proc.pid > 0;
}

static void vm_stopped(pved *d, qemu_vm *vm)
{
	if (!qemu_vm_running(vm))
		return;
	log_info("VM %lld: QEMU (pid %d) has ended", vm->vmid, (int)vm->proc.pid);
	kvm_qmp_free(vm->qmp);
	vm->qmp = NULL;
	vm->qmp_connecting = false;
	vm->proc = (kvm_proc){ 0 };
	vm->cpu = 0;
	vm->mem = vm->netin = vm->netout = 0;
	vm->cpu_ticks = 0;
	vm->sample_at = 0;
	vm->retries = 0;
	if (vm->retry)
		evtimer_del(vm->retry);
	snprintf(vm->qmpstatus, sizeof(vm->qmpstatus), "stopped");
	set_str(&vm->running_machine, NULL);
	set_str(&vm->running_qemu, NULL);
	/* an empty cgroup is QEMU's leftover; removing it never blocks */
	(void)kvm_cgroup_remove(d->root, vm->vmid);
	qemu_vm_changed(vm);
}

static void status_reply(void *ud, const cJSON *ret, const pve_error *err)
{
	qemu_vm *vm = ud;
	if (err || !pve_json_str(ret, "status"))
		return;
	snprintf(vm->qmpstatus, sizeof(vm->qmpstatus), "%s", pve_json_str(ret, "status"));
	qemu_vm_changed(vm);
}

static void version_reply(void *ud, const cJSON *ret, const pve_error *err)
{
	qemu_vm *vm = ud;
	if (err)
		return;
	const cJSON *q = cJSON_GetObjectItemCaseSensitive(ret, "qemu");
	long long ma, mi, mc;
	if (pve_json_int(q, "major", &ma) && pve_json_int(q, "minor", &mi) &&
	    pve_json_int(q, "micro", &mc)) {
		free(vm->running_qemu);
		vm->running_qemu = xasprintf("%lld.%lld.%lld", ma, mi, mc);
	}
}

/* qom-get /machine type: "pc-i440fx-10.0-machine" (QEMU's query-machines marks no current one). */
static void machine_reply(void *ud, const cJSON *ret, const pve_error *err)
{
	qemu_vm *vm = ud;
	if (err || !cJSON_IsString(ret))
		return;
	const char *t = ret->valuestring;
	size_t n = strlen(t);
	if (endswith(t, "-machine"))
		n -= strlen("-machine");
	free(vm->running_machine);
	vm->running_machine = xstrndup(t, n);
}

static void qmp_ready(void *ud)
{
	qemu_vm *vm = ud;
	vm->qmp_connecting = false;
	vm->retries = 0;
	kvm_qmp_command(vm->qmp, "query-status", NULL, QEMU_HEALTH_TIMEOUT_MS, status_reply, vm,
			NULL);
	kvm_qmp_command(vm->qmp, "query-version", NULL, QEMU_HEALTH_TIMEOUT_MS, version_reply, vm,
			NULL);
	cJSON *a = cJSON_CreateObject();
	cJSON_AddStringToObject(a, "path", "/machine");
	cJSON_AddStringToObject(a, "property", "type");
	kvm_qmp_command(vm->qmp, "qom-get", a, QEMU_HEALTH_TIMEOUT_MS, machine_reply, vm, NULL);
}

static void qmp_event(void *ud, const char *event, const cJSON *data, double ts)
{
	(void)data, (void)ts;
	qemu_vm *vm = ud;
	log_debug("VM %lld: QMP event %s", vm->vmid, event);
	/* The run state changes with these: ask for it rather than guess (a STOP may be a pause, a
	 * migration's end, an I/O error). */
	if (streq(event, "STOP") || streq(event, "RESUME") || streq(event, "SUSPEND") ||
	    streq(event, "WAKEUP") || streq(event, "RESET") || streq(event, "POWERDOWN")) {
		if (kvm_qmp_is_ready(vm->qmp))
			kvm_qmp_command(vm->qmp, "query-status", NULL, QEMU_HEALTH_TIMEOUT_MS,
					status_reply, vm, NULL);
	} else if (streq(event, "SHUTDOWN")) {
		snprintf(vm->qmpstatus, sizeof(vm->qmpstatus), "shutdown");
		qemu_vm_changed(vm);
	}
}

static void qmp_closed(void *ud, const pve_error *err);

static const kvm_qmp_callbacks qmp_callbacks = {
	.on_ready = qmp_ready,
	.on_event = qmp_event,
	.on_close = qmp_closed,
};

static void attach(pved *d, qemu_vm *vm)
{
	if (vm->qmp || !qemu_vm_running(vm))
		return;
	_cleanup_free_ char *sock = kvm_run_path(d->qemu->run_dir, vm->vmid, "pved.qmp");
	pve_error *err = NULL;
	int r = kvm_qmp_connect(d->base, sock, &qmp_callbacks, vm, &vm->qmp, &err);
	if (r < 0) {
		log_debug("VM %lld: %s", vm->vmid, err->message);
		pve_error_free(err);
		vm->qmp = NULL;
		vm_attach_soon(d, vm, 0);
		return;
	}
	vm->qmp_connecting = true;
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	qemu_vm *vm = arg;
	qemu_vm_check_running(vm->d, vm);
}

/* Tries again after a delay that grows; a QEMU that just appeared gets quick tries. */
static void vm_attach_soon(pved *d, qemu_vm *vm, int delay_ms)
{
	if (!delay_ms) {
		delay_ms = RETRY_FIRST_MS << (vm->retries < 8 ? vm->retries : 8);
		if (delay_ms > RETRY_MAX_MS)
			delay_ms = RETRY_MAX_MS;
	}
	vm->retries++;
	if (!vm->retry)
		vm->retry = evtimer_new(d->base, retry_cb, vm);
	struct timeval tv = { delay_ms / 1000, (delay_ms % 1000) * 1000 };
	evtimer_add(vm->retry, &tv);
}

static void qmp_closed(void *ud, const pve_error *err)
{
	qemu_vm *vm = ud;
	pved *d = vm->d;
	/* freed later: this runs inside the client's callback */
	kvm_qmp *old = vm->qmp;
	vm->qmp = NULL;
	vm->qmp_connecting = false;
	kvm_qmp_free(old);
	if (!kvm_proc_alive(&vm->proc)) {
		vm_stopped(d, vm);
		return;
	}
	if (err)
		log_warning("VM %lld: the QEMU monitor does not answer (%s): reconnecting",
			    vm->vmid, err->message);
	vm_attach_soon(d, vm, 0);
}

void qemu_vm_check_running(pved *d, qemu_vm *vm)
{
	if (qemu_vm_running(vm)) {
		if (!kvm_proc_alive(&vm->proc)) {
			vm_stopped(d, vm);
			return;
		}
		attach(d, vm);
		return;
	}
	kvm_proc p;
	if (kvm_proc_find(d->qemu->run_dir, vm->vmid, &p) != 1) {
		/* a pid file that just appeared is empty until QEMU writes its pid (and QEMU keeps it
		 * open, so no close is seen): look again shortly, for a while */
		if (mono_now() < vm->expect_until)
			vm_attach_soon(d, vm, 50);
		return;
	}
	vm->expect_until = 0;
	vm->proc = p;
	vm->retries = 0;
	snprintf(vm->qmpstatus, sizeof(vm->qmpstatus), "running");
	log_info("VM %lld: QEMU runs (pid %d)", vm->vmid, (int)p.pid);
	qemu_vm_changed(vm);
	attach(d, vm);
}

kvm_qmp *qemu_vm_qmp(pved *d, qemu_vm *vm)
{
	qemu_vm_check_running(d, vm);
	return qemu_vm_running(vm) ? vm->qmp : NULL;
}

/* ---- watching the run directory ---------------------------------------------------------------------- */

static void run_watch_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	pved *d = arg;
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			p += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				for (size_t i = 0; i < d->qemu->n; i++)
					qemu_vm_check_running(d, d->qemu->vms[i]);
				continue;
			}
			if (!ev->len)
				continue;
			size_t len = strlen(ev->name);
			if (len < 5 || !endswith(ev->name, ".pid"))
				continue;
			_cleanup_free_ char *num = xstrndup(ev->name, len - 4);
			long long vmid;
			if (pve_parse_int(num, PVE_VMID_MIN, PVE_VMID_MAX, &vmid) < 0)
				continue;
			qemu_vm *vm = qemu_vm_find(d, vmid);
			if (!vm)
				continue;
			if (ev->mask & IN_DELETE) {
				if (qemu_vm_running(vm) && !kvm_proc_alive(&vm->proc))
					vm_stopped(d, vm);
			} else {
				if (!qemu_vm_running(vm))
					vm->expect_until = mono_now() + ATTACH_GIVE_UP_MS / 1000.0;
				qemu_vm_check_running(d, vm);
			}
		}
	}
}

/* ---- sampling ---------------------------------------------------------------------------------------- */

/* /proc/net/dev's counters of the taps tap<vmid>i<n>, summed per VM: netin is what the tap sent (to the
 * guest), netout what it received, as Proxmox counts them. */
static void sample_net(pved *d)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/net/dev", "re");
	if (!f)
		return;
	for (size_t i = 0; i < d->qemu->n; i++)
		d->qemu->vms[i]->netin = d->qemu->vms[i]->netout = 0;
	char line[512];
	while (fgets(line, sizeof(line), f)) {
		char *p = line + strspn(line, " ");
		long long vmid;
		char *colon = strchr(p, ':');
		if (!startswith(p, "tap") || !colon)
			continue;
		char *i = strchr(p + 3, 'i');
		if (!i || i > colon)
			continue;
		_cleanup_free_ char *num = xstrndup(p + 3, (size_t)(i - p - 3));
		if (pve_parse_int(num, PVE_VMID_MIN, PVE_VMID_MAX, &vmid) < 0)
			continue;
		qemu_vm *vm = qemu_vm_find(d, vmid);
		if (!vm)
			continue;
		unsigned long long v[16] = { 0 };
		if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
			   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) < 9)
			continue;
		vm->netout += v[0];
		vm->netin += v[8];
	}
}

/* CPU (since the last sample) and memory of a running VM, from /proc; false when its QEMU is gone. */
static bool sample_vm(pved *d, qemu_vm *vm)
{
	if (!kvm_proc_alive(&vm->proc)) {
		vm_stopped(d, vm);
		return false;
	}
	uint64_t ticks, rss;
	if (kvm_proc_stat(vm->proc.pid, &ticks, &rss) < 0)
		return true;
	double now = mono_now();
	if (vm->sample_at > 0 && now > vm->sample_at && vm->cpus > 0)
		vm->cpu = (double)(ticks - vm->cpu_ticks) / (double)sysconf(_SC_CLK_TCK) /
			  (now - vm->sample_at) / vm->cpus;
	vm->cpu_ticks = ticks;
	vm->sample_at = now;
	vm->mem = rss;
	qemu_vm_changed(vm);
	return true;
}

static void sample_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pved *d = arg;
	bool any = false;
	for (size_t i = 0; i < d->qemu->n; i++)
		if (qemu_vm_running(d->qemu->vms[i]))
			any |= sample_vm(d, d->qemu->vms[i]);
	if (any)
		sample_net(d);
}

static void health_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pved *d = arg;
	for (size_t i = 0; i < d->qemu->n; i++) {
		qemu_vm *vm = d->qemu->vms[i];
		if (kvm_qmp_is_ready(vm->qmp))
			kvm_qmp_command(vm->qmp, "query-status", NULL, QEMU_HEALTH_TIMEOUT_MS,
					status_reply, vm, NULL);
		else if (qemu_vm_running(vm) && !vm->qmp &&
			 !(vm->retry && evtimer_pending(vm->retry, NULL)))
			qemu_vm_check_running(d, vm);
	}
}

void qemu_runtime_start(pved *d)
{
	struct pved_qemu_state *q = d->qemu;
	q->run_watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (q->run_watch >= 0 &&
	    inotify_add_watch(q->run_watch, q->run_dir,
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_DELETE | IN_CREATE) >= 0) {
		q->run_watch_ev =
			event_new(d->base, q->run_watch, EV_READ | EV_PERSIST, run_watch_cb, d);
		event_add(q->run_watch_ev, NULL);
	} else {
		log_warning(
			"no watch on %s (%m): VMs started elsewhere are seen at the next sample",
			q->run_dir);
	}
	struct timeval tv = { QEMU_SAMPLE_INTERVAL_SEC, 0 };
	q->sampler = event_new(d->base, -1, EV_PERSIST, sample_cb, d);
	event_add(q->sampler, &tv);
	struct timeval htv = { QEMU_HEALTH_INTERVAL_SEC, 0 };
	q->health = event_new(d->base, -1, EV_PERSIST, health_cb, d);
	event_add(q->health, &htv);
	/* reattach: every VM whose QEMU runs */
	for (size_t i = 0; i < q->n; i++)
		qemu_vm_check_running(d, q->vms[i]);
}

void qemu_runtime_stop(pved *d)
{
	struct pved_qemu_state *q = d->qemu;
	if (q->run_watch_ev)
		event_free(q->run_watch_ev);
	if (q->run_watch >= 0)
		close(q->run_watch);
	if (q->sampler)
		event_free(q->sampler);
	if (q->health)
		event_free(q->health);
	q->run_watch_ev = q->sampler = q->health = NULL;
	q->run_watch = -1;
}

/* ---- answers ------------------------------------------------------------------------------------------ */

static void json_str(pve_buf *b, const char *key, const char *value)
{
	cJSON *s = cJSON_CreateString(value);
	_cleanup_free_ char *t = pve_json_print(s);
	cJSON_Delete(s);
	pve_buf_printf(b, ",\"%s\":%s", key, t);
}

static uint64_t uptime_of(const qemu_vm *vm)
{
	return qemu_vm_running(vm) ? kvm_proc_uptime(&vm->proc) : 0;
}

/* The fields vmlist and status/current share (Proxmox's vmstatus), as members after a first one. */
static void common_fields(pve_buf *b, const qemu_vm *vm)
{
	bool running = qemu_vm_running(vm);
	pve_buf_printf(b, ",\"status\":\"%s\"", running ? "running" : "stopped");
	_cleanup_free_ char *name = vm->name ? NULL : xasprintf("VM %lld", vm->vmid);
	json_str(b, "name", vm->name ? vm->name : name);
	pve_buf_printf(b, ",\"cpus\":%d,\"maxmem\":%llu,\"mem\":%llu,\"maxdisk\":%llu,\"disk\":0",
		       vm->cpus, (unsigned long long)vm->maxmem,
		       (unsigned long long)(running ? vm->mem : 0),
		       (unsigned long long)vm->maxdisk);
	pve_buf_printf(b, ",\"cpu\":%.6g,\"uptime\":%llu,\"netin\":%llu,\"netout\":%llu",
		       running ? vm->cpu : 0.0, (unsigned long long)uptime_of(vm),
		       (unsigned long long)vm->netin, (unsigned long long)vm->netout);
	pve_buf_puts(b, ",\"diskread\":0,\"diskwrite\":0");
	if (running)
		pve_buf_printf(b, ",\"pid\":%d", (int)vm->proc.pid);
	if (vm->template_)
		pve_buf_puts(b, ",\"template\":1");
	if (vm->serial)
		pve_buf_puts(b, ",\"serial\":1");
	if (vm->lock)
		json_str(b, "lock", vm->lock);
	if (vm->tags)
		json_str(b, "tags", vm->tags);
}

/* Entries with running figures are printed anew when they are a second old (uptime moves). */
static bool stale(const qemu_vm *vm)
{
	return qemu_vm_running(vm) && vm->list_json_at != time(NULL);
}

const char *qemu_vm_list_json(pved *d, qemu_vm *vm)
{
	(void)d;
	if (vm->list_json && !stale(vm))
		return vm->list_json;
	qemu_vm_changed(vm);
	pve_buf b = { 0 };
	pve_buf_printf(&b, "{\"vmid\":%lld", vm->vmid);
	common_fields(&b, vm);
	pve_buf_puts(&b, "}");
	vm->list_json = pve_buf_steal(&b);
	vm->list_json_at = time(NULL);
	return vm->list_json;
}

const char *qemu_vm_resource_json(pved *d, qemu_vm *vm)
{
	if (vm->res_json && !stale(vm))
		return vm->res_json;
	free(vm->res_json);
	bool running = qemu_vm_running(vm);
	pve_buf b = { 0 };
	pve_buf_printf(&b, "{\"id\":\"qemu/%lld\",\"type\":\"qemu\",\"vmid\":%lld", vm->vmid,
		       vm->vmid);
	json_str(&b, "node", d->node);
	_cleanup_free_ char *name = vm->name ? NULL : xasprintf("VM %lld", vm->vmid);
	json_str(&b, "name", vm->name ? vm->name : name);
	pve_buf_printf(&b, ",\"status\":\"%s\",\"template\":%d", running ? "running" : "stopped",
		       vm->template_ ? 1 : 0);
	pve_buf_printf(&b, ",\"maxcpu\":%d,\"cpu\":%.6g,\"maxmem\":%llu,\"mem\":%llu", vm->cpus,
		       running ? vm->cpu : 0.0, (unsigned long long)vm->maxmem,
		       (unsigned long long)(running ? vm->mem : 0));
	pve_buf_printf(&b, ",\"maxdisk\":%llu,\"disk\":0,\"uptime\":%llu",
		       (unsigned long long)vm->maxdisk, (unsigned long long)uptime_of(vm));
	pve_buf_printf(&b, ",\"netin\":%llu,\"netout\":%llu,\"diskread\":0,\"diskwrite\":0",
		       (unsigned long long)vm->netin, (unsigned long long)vm->netout);
	if (vm->lock)
		json_str(&b, "lock", vm->lock);
	if (vm->tags)
		json_str(&b, "tags", vm->tags);
	pve_buf_puts(&b, "}");
	vm->res_json = pve_buf_steal(&b);
	vm->list_json_at = time(NULL);
	return vm->res_json;
}

cJSON *qemu_vm_status_json(pved *d, qemu_vm *vm)
{
	qemu_vm_check_running(d, vm);
	/* one VM's figures are cheap to take: fresh ones, unless the last are under a second old */
	if (qemu_vm_running(vm) && mono_now() - vm->sample_at >= 1.0)
		sample_vm(d, vm);
	pve_buf b = { 0 };
	pve_buf_printf(&b, "{\"vmid\":%lld", vm->vmid);
	common_fields(&b, vm);
	bool running = qemu_vm_running(vm);
	/* qmpstatus as Proxmox: the monitor's run state, or the status when it has none */
	json_str(&b, "qmpstatus",
		 running && kvm_qmp_is_ready(vm->qmp) ? vm->qmpstatus :
		 running			      ? "running" :
							"stopped");
	if (running && vm->running_machine)
		json_str(&b, "running-machine", vm->running_machine);
	if (running && vm->running_qemu)
		json_str(&b, "running-qemu", vm->running_qemu);
	if (vm->agent)
		pve_buf_puts(&b, ",\"agent\":1");
	pve_buf_puts(&b, ",\"ha\":{\"managed\":0}}");
	cJSON *o = cJSON_Parse(b.data);
	pve_buf_free(&b);
	return o;
}
