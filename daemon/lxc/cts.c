/* The table of this node's containers: each config's summary, parsed once and refreshed through the
 * store's change watch; whether each runs comes from its run files (lxc_state), which outlive pved. The
 * list and resource answers are printed from here, and each entry's text is kept until it changes. */
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

/* A process's age in seconds from its start time in clock ticks since boot. */
uint64_t ct_uptime(const lxc_running *r)
{
	double up = 0;
	FILE *f = fopen("/proc/uptime", "re");
	if (!f)
		return 0;
	if (fscanf(f, "%lf", &up) != 1)
		up = 0;
	fclose(f);
	double started = (double)r->starttime / (double)sysconf(_SC_CLK_TCK);
	return up > started ? (uint64_t)(up - started) : 0;
}

static void common_fields(pved *d, pve_buf *b, const ct_entry *ct, bool *ret_running)
{
	lxc_running r = { 0 };
	bool running = ct_running(d, ct->vmid, &r);
	_cleanup_free_ char *name = ct->name ? NULL : xasprintf("CT%lld", ct->vmid);
	json_str(b, "name", ct->name ? ct->name : name);
	pve_buf_printf(b, ",\"status\":\"%s\",\"type\":\"lxc\"", running ? "running" : "stopped");
	pve_buf_printf(b, ",\"maxmem\":%llu,\"maxswap\":%llu,\"maxdisk\":%llu,\"cpus\":%d",
		       (unsigned long long)ct->maxmem, (unsigned long long)ct->maxswap,
		       (unsigned long long)ct->maxdisk, ct->cpus);
	pve_buf_printf(b, ",\"uptime\":%llu", (unsigned long long)(running ? ct_uptime(&r) : 0));
	if (running)
		pve_buf_printf(b, ",\"pid\":%d", (int)r.init_pid);
	if (ct->template_)
		pve_buf_puts(b, ",\"template\":1");
	if (ct->lock)
		json_str(b, "lock", ct->lock);
	if (ct->tags)
		json_str(b, "tags", ct->tags);
	*ret_running = running;
}

/* Running containers' figures change with every look: only a stopped one's entry is kept. */
const char *ct_list_json(pved *d, ct_entry *ct)
{
	free(ct->list_json);
	pve_buf b = { 0 };
	bool running;
	pve_buf_printf(&b, "{\"vmid\":%lld", ct->vmid);
	common_fields(d, &b, ct, &running);
	lxc_stats st = { 0 };
	_cleanup_free_ char *run = ct_run_dir(d);
	if (running)
		(void)lxc_stats_read(run, ct->vmid, &st, NULL);
	pve_buf_printf(&b, ",\"mem\":%llu,\"swap\":%llu", (unsigned long long)st.mem_bytes,
		       (unsigned long long)st.swap_bytes);
	pve_buf_puts(&b, ",\"cpu\":0,\"disk\":0,\"netin\":0,\"netout\":0,\"diskread\":0,"
			 "\"diskwrite\":0}");
	ct->list_json = pve_buf_steal(&b);
	return ct->list_json;
}

const char *ct_resource_json(pved *d, ct_entry *ct)
{
	free(ct->res_json);
	pve_buf b = { 0 };
	lxc_running r = { 0 };
	bool running = ct_running(d, ct->vmid, &r);
	pve_buf_printf(&b, "{\"id\":\"lxc/%lld\",\"type\":\"lxc\",\"vmid\":%lld", ct->vmid,
		       ct->vmid);
	json_str(&b, "node", d->node);
	_cleanup_free_ char *name = ct->name ? NULL : xasprintf("CT%lld", ct->vmid);
	json_str(&b, "name", ct->name ? ct->name : name);
	pve_buf_printf(&b, ",\"status\":\"%s\",\"template\":%d", running ? "running" : "stopped",
		       ct->template_ ? 1 : 0);
	uint64_t mem = 0;
	lxc_stats st = { 0 };
	_cleanup_free_ char *run = ct_run_dir(d);
	if (running && lxc_stats_read(run, ct->vmid, &st, NULL) == 0)
		mem = st.mem_bytes;
	pve_buf_printf(&b, ",\"maxcpu\":%d,\"cpu\":0,\"maxmem\":%llu,\"mem\":%llu", ct->cpus,
		       (unsigned long long)ct->maxmem, (unsigned long long)mem);
	pve_buf_printf(&b, ",\"maxdisk\":%llu,\"disk\":0,\"uptime\":%llu",
		       (unsigned long long)ct->maxdisk,
		       (unsigned long long)(running ? ct_uptime(&r) : 0));
	pve_buf_puts(&b, ",\"netin\":0,\"netout\":0,\"diskread\":0,\"diskwrite\":0");
	if (ct->lock)
		json_str(&b, "lock", ct->lock);
	if (ct->tags)
		json_str(&b, "tags", ct->tags);
	pve_buf_puts(&b, "}");
	ct->res_json = pve_buf_steal(&b);
	return ct->res_json;
}

void ct_audit_init(ct_audit *a, pved_call *c)
{
	a->c = c;
	a->uniform = pved_auth_children_uniform(c->d, c->authid, "/vms", "VM.Audit", &a->allowed);
}

bool ct_audit_may(const ct_audit *a, long long vmid)
{
	if (a->uniform)
		return a->allowed;
	char acl[64];
	snprintf(acl, sizeof(acl), "/vms/%lld", vmid);
	return pved_call_permitted(a->c, acl, "VM.Audit");
}
