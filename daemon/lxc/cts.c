/* The table of this node's containers: each config's summary, parsed once and refreshed through the
 * store's change watch; whether each runs comes from its run files (lxc_state), which outlive pved. The
 * list and resource answers are printed from here, and each entry's text is kept until it changes. */
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon/lxc/lxc-internal.h"

char *ct_conf_path(const pved *d, long long vmid)
{
	return xasprintf("nodes/%s/lxc/%lld.conf", d->node, vmid);
}

char *ct_run_dir(const pved *d)
{
	return pved_path(d, "run/lxc");
}

static ssize_t find_index(const struct pved_lxc_state *q, long long vmid, bool *found)
{
	size_t lo = 0, hi = q->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (q->cts[mid]->vmid < vmid)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < q->n && q->cts[lo]->vmid == vmid;
	return (ssize_t)lo;
}

ct_entry *ct_find(pved *d, long long vmid)
{
	if (!d->lxc)
		return NULL;
	bool found;
	ssize_t i = find_index(d->lxc, vmid, &found);
	return found ? d->lxc->cts[i] : NULL;
}

static void ct_changed(ct_entry *ct)
{
	free(ct->list_json);
	free(ct->res_json);
	ct->list_json = ct->res_json = NULL;
}

static void ct_free(ct_entry *ct)
{
	if (!ct)
		return;
	free(ct->name);
	free(ct->tags);
	free(ct->lock);
	ct_changed(ct);
	free(ct);
}

static void set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = v ? xstrdup(v) : NULL;
}

/* The summary the answers need, as Proxmox's vmstatus takes it from the config. */
static void ct_apply_config(ct_entry *ct, const pve_config *c)
{
	set_str(&ct->name, pve_config_get(c, NULL, "hostname"));
	set_str(&ct->tags, pve_config_get(c, NULL, "tags"));
	set_str(&ct->lock, pve_config_get(c, NULL, "lock"));
	ct->template_ = ct_conf_bool(c, NULL, "template", false);
	ct->maxmem = (uint64_t)ct_conf_int(c, NULL, "memory", CT_DEFAULT_MEMORY) * 1024 * 1024;
	ct->maxswap = (uint64_t)ct_conf_int(c, NULL, "swap", CT_DEFAULT_SWAP) * 1024 * 1024;
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	int cpus = (int)ct_conf_int(c, NULL, "cores", online > 0 ? online : 1);
	const char *limit = pve_config_get(c, NULL, "cpulimit");
	double cl = limit ? strtod(limit, NULL) : 0;
	if (cl > 0 && cl < cpus)
		cpus = (int)(cl + 0.999);
	ct->cpus = cpus;
	const char *rootfs = pve_config_get(c, NULL, "rootfs");
	ct->maxdisk = rootfs ? ct_mp_size(rootfs) : 0;
	ct->nics = 0;
	for (int i = 0; i < LXC_MAX_NICS; i++) {
		char key[16];
		snprintf(key, sizeof(key), "net%d", i);
		if (pve_config_get(c, NULL, key))
			ct->nics |= 1u << i;
	}
	ct_changed(ct);
}

static ct_entry *ct_insert(pved *d, long long vmid)
{
	struct pved_lxc_state *q = d->lxc;
	bool found;
	ssize_t i = find_index(q, vmid, &found);
	if (found)
		return q->cts[i];
	if (q->n == q->cap) {
		q->cap = q->cap ? q->cap * 2 : 64;
		q->cts = xrealloc(q->cts, q->cap * sizeof(*q->cts));
	}
	memmove(&q->cts[i + 1], &q->cts[i], (q->n - (size_t)i) * sizeof(*q->cts));
	ct_entry *ct = xcalloc(1, sizeof(*ct));
	ct->vmid = vmid;
	q->cts[i] = ct;
	q->n++;
	return ct;
}

static void ct_remove(pved *d, long long vmid)
{
	struct pved_lxc_state *q = d->lxc;
	bool found;
	ssize_t i = find_index(q, vmid, &found);
	if (!found)
		return;
	ct_free(q->cts[i]);
	memmove(&q->cts[i], &q->cts[i + 1], (q->n - (size_t)i - 1) * sizeof(*q->cts));
	q->n--;
}

void ct_refresh(pved *d, long long vmid)
{
	_cleanup_config_ pve_config *c = NULL;
	if (ct_conf_load(d, vmid, &c, NULL, NULL) < 0) {
		_cleanup_free_ char *path = ct_conf_path(d, vmid);
		/* a file that does not parse keeps its entry: the guest is still there */
		if (!pve_store_exists(d->store, path))
			ct_remove(d, vmid);
		return;
	}
	ct_apply_config(ct_insert(d, vmid), c);
}

void ct_load_all(pved *d)
{
	ct_free_all(d);
	_cleanup_strv_free_ char **names = NULL;
	if (pve_store_list(d->store, d->lxc->conf_dir, &names, NULL) < 0)
		return;
	for (char **n = names; *n; n++) {
		size_t len = strlen(*n);
		long long vmid;
		if (len < 6 || !endswith(*n, ".conf") || (*n)[0] == '0')
			continue;
		_cleanup_free_ char *num = xstrndup(*n, len - 5);
		if (pve_parse_int(num, PVE_VMID_MIN, PVE_VMID_MAX, &vmid) == 0)
			ct_refresh(d, vmid);
	}
}

void ct_free_all(pved *d)
{
	struct pved_lxc_state *q = d->lxc;
	for (size_t i = 0; i < q->n; i++)
		ct_free(q->cts[i]);
	free(q->cts);
	q->cts = NULL;
	q->n = q->cap = 0;
}

bool ct_running(pved *d, long long vmid, lxc_running *r)
{
	lxc_running tmp;
	_cleanup_free_ char *run = ct_run_dir(d);
	return lxc_state(run, vmid, r ? r : &tmp) == 1;
}

/* ---- the answers ---------------------------------------------------------------------------------- */

static void json_str(pve_buf *b, const char *key, const char *value)
{
	pve_buf_printf(b, ",\"%s\":", key);
	cJSON *s = cJSON_CreateString(value);
	char *t = cJSON_PrintUnformatted(s);
	pve_buf_puts(b, t);
	free(t);
	cJSON_Delete(s);
}

/* A process's age in seconds from its start time in clock ticks since boot (CLOCK_BOOTTIME is
 * /proc/uptime's clock, without a file to open for each container of a list). */
uint64_t ct_uptime(const lxc_running *r)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		return 0;
	double up = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	double started = (double)r->starttime / (double)sysconf(_SC_CLK_TCK);
	return up > started ? (uint64_t)(up - started) : 0;
}

/* A counter of a container's host-side veth, 0 when there is none. */
static uint64_t veth_counter(long long vmid, int idx, const char *what)
{
	char path[128], buf[32];
	snprintf(path, sizeof(path), "/sys/class/net/veth%lldi%d/statistics/%s", vmid, idx, what);
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strtoull(buf, NULL, 10);
}

/* pvestatd's share: the cgroup's CPU time over the wall time between two samples, per CPU of the
 * container; a sample younger than a second keeps the share computed at the one before. */
static double cpu_share(ct_entry *ct, const lxc_running *r, uint64_t usage_usec)
{
	int64_t now = pve_now_ms();
	if (ct->sample_ms == 0 || ct->sample_start != r->starttime || usage_usec < ct->cpu_usec) {
		/* a first sample of this run of the container */
		ct->cpu_usec = usage_usec;
		ct->sample_ms = now;
		ct->sample_start = r->starttime;
		ct->cpu = 0;
	} else if (now - ct->sample_ms > 1000) {
		ct->cpu = (double)(usage_usec - ct->cpu_usec) / 1000.0 /
			  (double)(now - ct->sample_ms) / (ct->cpus > 0 ? ct->cpus : 1);
		ct->cpu_usec = usage_usec;
		ct->sample_ms = now;
	}
	return ct->cpu;
}

bool ct_look(pved *d, ct_entry *ct, lxc_running *r, ct_usage *ret)
{
	*ret = (ct_usage){ .maxdisk = ct->maxdisk };
	lxc_stats st;
	if (lxc_state_stats(d->lxc->run_dir, ct->vmid, r, &st) != 1)
		return false;
	ret->cpu = cpu_share(ct, r, st.cpu_usec);
	ret->mem = st.mem_bytes;
	ret->swap = st.swap_bytes;
	ret->diskread = st.io_read_bytes;
	ret->diskwrite = st.io_write_bytes;
	if (ct->disk_start == r->starttime && ct->disk_total > 0) {
		ret->disk = ct->disk_used;
		ret->maxdisk = ct->disk_total;
	}
	if (ct->disk_start != r->starttime || pve_now_ms() - ct->disk_ms > CT_DISK_MAX_AGE_MS)
		ct_disk_want(d, ct, r);
	for (int i = 0; i < LXC_MAX_NICS; i++) {
		if (!(ct->nics & (1u << i)))
			continue;
		/* the host side's receive is the container's send */
		ret->netout += veth_counter(ct->vmid, i, "rx_bytes");
		ret->netin += veth_counter(ct->vmid, i, "tx_bytes");
	}
	return true;
}

static void common_fields(pved *d, pve_buf *b, ct_entry *ct)
{
	lxc_running r = { 0 };
	ct_usage u;
	bool running = ct_look(d, ct, &r, &u);
	_cleanup_free_ char *name = ct->name ? NULL : xasprintf("CT%lld", ct->vmid);
	json_str(b, "name", ct->name ? ct->name : name);
	pve_buf_printf(b, ",\"status\":\"%s\",\"type\":\"lxc\"", running ? "running" : "stopped");
	pve_buf_printf(b, ",\"maxmem\":%llu,\"maxswap\":%llu,\"maxdisk\":%llu,\"cpus\":%d",
		       (unsigned long long)ct->maxmem, (unsigned long long)ct->maxswap,
		       (unsigned long long)u.maxdisk, ct->cpus);
	pve_buf_printf(b, ",\"uptime\":%llu", (unsigned long long)(running ? ct_uptime(&r) : 0));
	if (running)
		pve_buf_printf(b, ",\"pid\":%d", (int)r.init_pid);
	if (ct->template_)
		pve_buf_puts(b, ",\"template\":1");
	if (ct->lock)
		json_str(b, "lock", ct->lock);
	if (ct->tags)
		json_str(b, "tags", ct->tags);
	pve_buf_printf(b, ",\"mem\":%llu,\"swap\":%llu,\"cpu\":%.6g,\"disk\":%llu",
		       (unsigned long long)u.mem, (unsigned long long)u.swap, u.cpu,
		       (unsigned long long)u.disk);
	pve_buf_printf(b, ",\"netin\":%llu,\"netout\":%llu,\"diskread\":%llu,\"diskwrite\":%llu",
		       (unsigned long long)u.netin, (unsigned long long)u.netout,
		       (unsigned long long)u.diskread, (unsigned long long)u.diskwrite);
}

/* Running containers' figures change with every look: only a stopped one's entry is kept. */
const char *ct_list_json(pved *d, ct_entry *ct)
{
	free(ct->list_json);
	pve_buf b = { 0 };
	pve_buf_printf(&b, "{\"vmid\":%lld", ct->vmid);
	common_fields(d, &b, ct);
	pve_buf_puts(&b, "}");
	ct->list_json = pve_buf_steal(&b);
	return ct->list_json;
}

const char *ct_resource_json(pved *d, ct_entry *ct)
{
	free(ct->res_json);
	pve_buf b = { 0 };
	lxc_running r = { 0 };
	ct_usage u;
	bool running = ct_look(d, ct, &r, &u);
	pve_buf_printf(&b, "{\"id\":\"lxc/%lld\",\"type\":\"lxc\",\"vmid\":%lld", ct->vmid,
		       ct->vmid);
	json_str(&b, "node", d->node);
	_cleanup_free_ char *name = ct->name ? NULL : xasprintf("CT%lld", ct->vmid);
	json_str(&b, "name", ct->name ? ct->name : name);
	pve_buf_printf(&b, ",\"status\":\"%s\",\"template\":%d", running ? "running" : "stopped",
		       ct->template_ ? 1 : 0);
	pve_buf_printf(&b, ",\"maxcpu\":%d,\"cpu\":%.6g,\"maxmem\":%llu,\"mem\":%llu", ct->cpus,
		       u.cpu, (unsigned long long)ct->maxmem, (unsigned long long)u.mem);
	pve_buf_printf(&b, ",\"maxdisk\":%llu,\"disk\":%llu,\"uptime\":%llu",
		       (unsigned long long)u.maxdisk, (unsigned long long)u.disk,
		       (unsigned long long)(running ? ct_uptime(&r) : 0));
	pve_buf_printf(&b, ",\"netin\":%llu,\"netout\":%llu,\"diskread\":%llu,\"diskwrite\":%llu",
		       (unsigned long long)u.netin, (unsigned long long)u.netout,
		       (unsigned long long)u.diskread, (unsigned long long)u.diskwrite);
	if (ct->lock)
		json_str(&b, "lock", ct->lock);
	if (ct->tags)
		json_str(&b, "tags", ct->tags);
	pve_buf_puts(&b, "}");
	ct->res_json = pve_buf_steal(&b);
	return ct->res_json;
}

/* ---- disk figures, off the loop -------------------------------------------------------------------------
 * statvfs of a container's root waits for its file system, which on a network server that does not
 * answer is forever: samples are taken on the storage queue, many containers' in one sweep and one
 * sweep at a time, so a hung root holds one thread and the answers keep the last figures. */

struct ct_disk_probe {
	long long vmid;
	lxc_running run;
	uint64_t used, total;
	int r;
};

typedef struct disk_job {
	pved *d;
	struct ct_disk_probe *w;
	size_t n;
	bool sweep; /* the area's sweep (else one container's sample for a call) */
	void (*done)(void *arg);
	void *arg;
} disk_job;

static void disk_work(void *arg)
{
	disk_job *j = arg;
	for (size_t i = 0; i < j->n; i++)
		j->w[i].r = lxc_root_usage(&j->w[i].run, &j->w[i].used, &j->w[i].total);
}

static void disk_flush(evutil_socket_t fd, short what, void *arg);

static void disk_done(void *arg)
{
	disk_job *j = arg;
	struct pved_lxc_state *q = j->d->lxc;
	int64_t now = pve_now_ms();
	for (size_t i = 0; q && i < j->n; i++) {
		ct_entry *ct = ct_find(j->d, j->w[i].vmid);
		if (!ct)
			continue;
		ct->disk_busy = false;
		if (j->w[i].r < 0)
			continue;
		ct->disk_used = j->w[i].used;
		ct->disk_total = j->w[i].total;
		ct->disk_start = j->w[i].run.starttime;
		ct->disk_ms = now;
	}
	if (q && j->sweep) {
		q->disk_sweeping = false;
		/* what was asked for while this one ran */
		if (q->n_disk_want && q->disk_flush_ev)
			event_active(q->disk_flush_ev, EV_TIMEOUT, 0);
	}
	if (j->done)
		j->done(j->arg);
	free(j->w);
	free(j);
}

static void disk_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	pved *d = arg;
	struct pved_lxc_state *q = d->lxc;
	if (!q || q->disk_sweeping || !q->n_disk_want)
		return;
	disk_job *j = xcalloc(1, sizeof(*j));
	j->d = d;
	j->sweep = true;
	j->w = TAKE_PTR(q->disk_want);
	j->n = q->n_disk_want;
	q->n_disk_want = q->cap_disk_want = 0;
	q->disk_sweeping = true;
	if (pved_run_blocking(d, PVED_QUEUE_STORAGE, disk_work, disk_done, j, NULL) < 0) {
		/* the queue is full: these are asked for again at their next look */
		for (size_t i = 0; i < j->n; i++)
			j->w[i].r = -EAGAIN;
		disk_done(j);
	}
}

void ct_disk_want(pved *d, ct_entry *ct, const lxc_running *run)
{
	struct pved_lxc_state *q = d->lxc;
	if (ct->disk_busy)
		return;
	if (!q->disk_flush_ev) {
		if (!d->base)
			return;
		q->disk_flush_ev = event_new(d->base, -1, 0, disk_flush, d);
	}
	if (q->n_disk_want == q->cap_disk_want) {
		q->cap_disk_want = q->cap_disk_want ? q->cap_disk_want * 2 : 16;
		q->disk_want = xrealloc(q->disk_want, q->cap_disk_want * sizeof(*q->disk_want));
	}
	q->disk_want[q->n_disk_want++] = (struct ct_disk_probe){ .vmid = ct->vmid, .run = *run };
	ct->disk_busy = true;
	if (!q->disk_sweeping)
		event_active(q->disk_flush_ev, EV_TIMEOUT, 0);
}

void ct_disk_sample(pved *d, ct_entry *ct, const lxc_running *run, void (*done)(void *arg),
		    void *arg)
{
	if (ct->disk_busy)
		return done(arg);
	disk_job *j = xcalloc(1, sizeof(*j));
	j->d = d;
	j->w = xcalloc(1, sizeof(*j->w));
	j->w[0] = (struct ct_disk_probe){ .vmid = ct->vmid, .run = *run };
	j->n = 1;
	j->done = done;
	j->arg = arg;
	ct->disk_busy = true;
	if (pved_run_blocking(d, PVED_QUEUE_STORAGE, disk_work, disk_done, j, NULL) < 0) {
		j->w[0].r = -EAGAIN;
		disk_done(j);
	}
}

void ct_disk_started(pved *d, long long vmid)
{
	ct_entry *ct = ct_find(d, vmid);
	lxc_running r;
	if (ct && ct_running(d, vmid, &r) && ct->disk_start != r.starttime)
		ct_disk_want(d, ct, &r);
}

void ct_disk_free(pved *d)
{
	struct pved_lxc_state *q = d->lxc;
	if (q->disk_flush_ev)
		event_free(q->disk_flush_ev);
	q->disk_flush_ev = NULL;
	free(q->disk_want);
	q->disk_want = NULL;
	q->n_disk_want = q->cap_disk_want = 0;
}
