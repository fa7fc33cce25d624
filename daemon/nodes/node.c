/* The node handlers of the foundation: the node's version, the node list and the node's status
 * from /proc and statfs, its time, and the start-all and stop-all tasks. */
#include <net/if.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <time.h>

#include "client/client.h"
#include "daemon/nodes/nodes-internal.h"

static void h_node_version(pved_call *c)
{
	pved_call_reply(c, pved_version_object());
}

/* ---- figures from /proc ----------------------------------------------------------------------------------
 * Read at most once a second and shared by every caller: /proc/stat alone costs more than the rest of a
 * request, and a CPU usage is only meaningful over an interval, which the sampler defines (the last second
 * or more) instead of "since whoever asked before". */

#define SAMPLE_INTERVAL_SEC 1

typedef struct meminfo {
	unsigned long long total, free, available, buffers, cached, swap_total, swap_free;
} meminfo;

struct pved_node_sample {
	time_t taken;
	unsigned long long cpu_total, cpu_idle, cpu_iowait; /* /proc/stat counters at the sample */
	double cpu, wait;
	meminfo mem;
	char loadavg[3][16];
	double uptime;
	struct statvfs rootfs;
	bool rootfs_ok;
	unsigned long long ksm_shared;
	unsigned long long netin, netout; /* bytes the physical NICs received and sent */
	cJSON *cpuinfo; /* /proc/cpuinfo does not change while the node runs */
	char *status_json; /* the status answer of this sample, printed once */
	size_t status_len;
};

static int read_small(const char *path, char *buf, size_t size)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	size_t n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	return (int)n;
}

static void read_meminfo(meminfo *m)
{
	char buf[8192];
	*m = (meminfo){ 0 };
	if (read_small("/proc/meminfo", buf, sizeof(buf)) < 0)
		return;
	static const struct {
		const char *name;
		size_t off;
	} fields[] = {
		{ "MemTotal:", offsetof(meminfo, total) },
		{ "MemFree:", offsetof(meminfo, free) },
		{ "MemAvailable:", offsetof(meminfo, available) },
		{ "Buffers:", offsetof(meminfo, buffers) },
		{ "Cached:", offsetof(meminfo, cached) },
		{ "SwapTotal:", offsetof(meminfo, swap_total) },
		{ "SwapFree:", offsetof(meminfo, swap_free) },
	};
	for (char *line = buf; line && *line;) {
		char *next = strchr(line, '\n');
		for (size_t i = 0; i < ELEMENTSOF(fields); i++) {
			size_t n = strlen(fields[i].name);
			if (strncmp(line, fields[i].name, n) == 0)
				*(unsigned long long *)((char *)m + fields[i].off) =
					strtoull(line + n, NULL, 10) * 1024;
		}
		line = next ? next + 1 : NULL;
	}
}

/* CPU usage since the previous sample, from /proc/stat's first line; the first sample measures since
 * boot. */
static void sample_cpu(struct pved_node_sample *s)
{
	char buf[512];
	s->cpu = s->wait = 0;
	if (read_small("/proc/stat", buf, sizeof(buf)) < 0)
		return;
	unsigned long long v[8] = { 0 };
	if (sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) < 5)
		return;
	unsigned long long total = 0;
	for (size_t i = 0; i < 8; i++)
		total += v[i];
	unsigned long long idle = v[3], iowait = v[4];
	unsigned long long dt = total - s->cpu_total;
	if (dt > 0) {
		s->cpu = 1.0 - (double)(idle + iowait - s->cpu_idle - s->cpu_iowait) / (double)dt;
		s->wait = (double)(iowait - s->cpu_iowait) / (double)dt;
	}
	s->cpu_total = total;
	s->cpu_idle = idle;
	s->cpu_iowait = iowait;
}

/* /proc/net/dev's counters of the physical NICs (those with a device behind them), summed, as
 * Proxmox's pvestatd counts the node's traffic: bridges, taps, veths and bonds are left out. */
static void sample_net(struct pved_node_sample *s)
{
	s->netin = s->netout = 0;
	_cleanup_fclose_ FILE *f = fopen("/proc/net/dev", "re");
	char line[512];
	while (f && fgets(line, sizeof(line), f)) {
		char *name = line + strspn(line, " ");
		char *colon = strchr(name, ':');
		if (!colon || colon == name || (size_t)(colon - name) >= IFNAMSIZ)
			continue;
		*colon = '\0';
		unsigned long long v[9];
		if (sscanf(colon + 1, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1],
			   &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) < 9)
			continue;
		char dev[64];
		snprintf(dev, sizeof(dev), "/sys/class/net/%s/device", name);
		if (access(dev, F_OK) < 0)
			continue;
		s->netin += v[0];
		s->netout += v[8];
	}
}

static cJSON *read_cpuinfo(void)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/cpuinfo", "re");
	char line[8192];
	char model[256] = "", mhz[64] = "", flags[4096] = "";
	int cpus = 0, sockets = 0, cores = 0;
	long last_phys = -1;
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (!colon)
			continue;
		char *val = colon + 1 + (colon[1] == ' ');
		val[strcspn(val, "\n")] = '\0';
		if (strncmp(line, "processor", 9) == 0)
			cpus++;
		else if (strncmp(line, "model name", 10) == 0 && !model[0])
			snprintf(model, sizeof(model), "%s", val);
		else if (strncmp(line, "cpu MHz", 7) == 0 && !mhz[0])
			snprintf(mhz, sizeof(mhz), "%s", val);
		else if (strncmp(line, "flags", 5) == 0 && !flags[0])
			snprintf(flags, sizeof(flags), "%s", val);
		else if (strncmp(line, "physical id", 11) == 0) {
			long id = strtol(val, NULL, 10);
			if (id != last_phys && id + 1 > sockets)
				sockets = (int)id + 1;
			last_phys = id;
		} else if (strncmp(line, "cpu cores", 9) == 0 && !cores)
			cores = atoi(val);
	}
	if (!sockets)
		sockets = 1;
	if (!cores)
		cores = cpus / sockets;
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "model", model);
	cJSON_AddNumberToObject(o, "cpus", cpus);
	cJSON_AddNumberToObject(o, "sockets", sockets);
	cJSON_AddNumberToObject(o, "cores", cores);
	cJSON_AddStringToObject(o, "mhz", mhz);
	cJSON_AddStringToObject(o, "flags", flags);
	bool hvm = strstr(flags, " vmx") || strstr(flags, " svm");
	cJSON_AddStringToObject(o, "hvm", hvm ? "1" : "0");
	cJSON_AddNumberToObject(o, "user_hz", (double)sysconf(_SC_CLK_TCK));
	return o;
}

/* The node's figures, sampled anew when the last sample is a second old. */
static const struct pved_node_sample *node_sample(pved *d)
{
	struct pved_node_sample *s = d->node_sample;
	if (!s) {
		s = d->node_sample = xcalloc(1, sizeof(*s));
		s->cpuinfo = read_cpuinfo();
	}
	time_t now = time(NULL);
	if (s->taken && now - s->taken < SAMPLE_INTERVAL_SEC)
		return s;
	s->taken = now;
	free(s->status_json);
	s->status_json = NULL;
	sample_cpu(s);
	read_meminfo(&s->mem);
	char buf[256];
	memset(s->loadavg, 0, sizeof(s->loadavg));
	if (read_small("/proc/loadavg", buf, sizeof(buf)) > 0) {
		char *save = NULL, *tok = strtok_r(buf, " ", &save);
		for (int i = 0; i < 3 && tok; i++, tok = strtok_r(NULL, " ", &save))
			snprintf(s->loadavg[i], sizeof(s->loadavg[i]), "%s", tok);
	}
	s->uptime = read_small("/proc/uptime", buf, sizeof(buf)) > 0 ? strtod(buf, NULL) : 0;
	s->rootfs_ok = statvfs(d->root, &s->rootfs) == 0;
	sample_net(s);
	s->ksm_shared = 0;
	if (read_small("/sys/kernel/mm/ksm/pages_sharing", buf, sizeof(buf)) > 0)
		s->ksm_shared = strtoull(buf, NULL, 10) * (unsigned long long)sysconf(_SC_PAGESIZE);
	return s;
}

void pved_node_sample_free(struct pved_node_sample *s)
{
	if (!s)
		return;
	cJSON_Delete(s->cpuinfo);
	free(s->status_json);
	free(s);
}

static void add_mem(cJSON *o, const char *name, unsigned long long total, unsigned long long free_,
		    unsigned long long avail)
{
	cJSON *m = cJSON_AddObjectToObject(o, name);
	cJSON_AddNumberToObject(m, "total", (double)total);
	cJSON_AddNumberToObject(m, "used", (double)(total - free_));
	cJSON_AddNumberToObject(m, "free", (double)free_);
	if (avail)
		cJSON_AddNumberToObject(m, "available", (double)avail);
}

static char *status_json(const pved *d, const struct pved_node_sample *s);

static void h_node_status(pved_call *c)
{
	struct pved_node_sample *s = (struct pved_node_sample *)node_sample(c->d);
	if (!s->status_json) {
		s->status_json = status_json(c->d, s);
		s->status_len = strlen(s->status_json);
	}
	pved_call_reply_json(c, s->status_json, s->status_len);
}

static char *status_json(const pved *d, const struct pved_node_sample *s)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "cpu", s->cpu);
	cJSON_AddNumberToObject(o, "wait", s->wait);
	cJSON_AddNumberToObject(o, "idle", 0);
	cJSON *load = cJSON_AddArrayToObject(o, "loadavg");
	for (int i = 0; i < 3 && s->loadavg[i][0]; i++)
		cJSON_AddItemToArray(load, cJSON_CreateString(s->loadavg[i]));
	/* Proxmox counts page cache as free: "used" is what applications hold. */
	add_mem(o, "memory", s->mem.total, s->mem.available, s->mem.available);
	add_mem(o, "swap", s->mem.swap_total, s->mem.swap_free, 0);
	if (s->rootfs_ok) {
		cJSON *fs = cJSON_AddObjectToObject(o, "rootfs");
		unsigned long long bs = s->rootfs.f_frsize;
		cJSON_AddNumberToObject(fs, "total", (double)(s->rootfs.f_blocks * bs));
		cJSON_AddNumberToObject(fs, "used",
					(double)((s->rootfs.f_blocks - s->rootfs.f_bfree) * bs));
		cJSON_AddNumberToObject(fs, "free", (double)(s->rootfs.f_bfree * bs));
		cJSON_AddNumberToObject(fs, "avail", (double)(s->rootfs.f_bavail * bs));
	}
	cJSON_AddNumberToObject(o, "uptime", (double)(long long)s->uptime);

	struct utsname u;
	if (uname(&u) == 0) {
		_cleanup_free_ char *kv = xasprintf("%s %s %s", u.sysname, u.release, u.version);
		cJSON_AddStringToObject(o, "kversion", kv);
		cJSON *k = cJSON_AddObjectToObject(o, "current-kernel");
		cJSON_AddStringToObject(k, "sysname", u.sysname);
		cJSON_AddStringToObject(k, "release", u.release);
		cJSON_AddStringToObject(k, "version", u.version);
		cJSON_AddStringToObject(k, "machine", u.machine);
	}
	cJSON_AddItemToObject(o, "cpuinfo", cJSON_Duplicate(s->cpuinfo, true));
	cJSON *ksm = cJSON_AddObjectToObject(o, "ksm");
	cJSON_AddNumberToObject(ksm, "shared", (double)s->ksm_shared);
	cJSON_AddStringToObject(o, "pveversion", "pved/" PVED_VERSION);
	/* The /dev/kvm probe's verdict (daemon/qemu/ runs it at start): "ok" when a test guest runs at
	 * KVM_OK_PERCENT of the host's speed or more, "degraded" when it runs slower (a software KVM),
	 * "absent" when /dev/kvm or an ioctl fails; kvm-percent is the speed measured. */
	if (d->kvm_state) {
		cJSON_AddStringToObject(o, "kvm", d->kvm_state);
		cJSON_AddNumberToObject(o, "kvm-percent", d->kvm_percent);
	}
	cJSON *boot = cJSON_AddObjectToObject(o, "boot-info");
	bool efi = access("/sys/firmware/efi", F_OK) == 0;
	cJSON_AddStringToObject(boot, "mode", efi ? "efi" : "legacy-bios");
	if (efi)
		cJSON_AddBoolToObject(boot, "secureboot", false);
	char *text = pve_json_print(o);
	cJSON_Delete(o);
	return text;
}

static void h_nodes_list(pved_call *c)
{
	cJSON *list = cJSON_CreateArray();
	cJSON *n = cJSON_CreateObject();
	_cleanup_free_ char *id = xasprintf("node/%s", c->d->node);
	cJSON_AddStringToObject(n, "id", id);
	cJSON_AddStringToObject(n, "type", "node");
	cJSON_AddStringToObject(n, "node", c->d->node);
	cJSON_AddStringToObject(n, "status", "online");
	/* The figures need Sys.Audit on the node, as in Proxmox; the name and status are for everyone. */
	_cleanup_free_ char *acl_path = xasprintf("/nodes/%s", c->d->node);
	if (pved_call_permitted(c, acl_path, "Sys.Audit")) {
		const struct pved_node_sample *s = node_sample(c->d);
		cJSON_AddNumberToObject(n, "cpu", s->cpu);
		cJSON_AddNumberToObject(n, "maxcpu", (double)sysconf(_SC_NPROCESSORS_ONLN));
		cJSON_AddNumberToObject(n, "mem", (double)(s->mem.total - s->mem.available));
		cJSON_AddNumberToObject(n, "maxmem", (double)s->mem.total);
		cJSON_AddNumberToObject(n, "uptime", (double)(long long)s->uptime);
		if (s->rootfs_ok) {
			unsigned long long bs = s->rootfs.f_frsize;
			cJSON_AddNumberToObject(
				n, "disk", (double)((s->rootfs.f_blocks - s->rootfs.f_bfree) * bs));
			cJSON_AddNumberToObject(n, "maxdisk", (double)(s->rootfs.f_blocks * bs));
		}
	}
	cJSON_AddStringToObject(n, "level", "");
	_cleanup_free_ char *path = xasprintf("nodes/%s/pve-ssl.pem", c->d->node);
	_cleanup_free_ char *pem = NULL;
	size_t pem_len = 0;
	_cleanup_free_ char *fp = NULL;
	if (pve_store_read(c->d->store, path, &pem, &pem_len, NULL, NULL) == 0 &&
	    (fp = pve_client_pem_fingerprint(pem, pem_len)))
		cJSON_AddStringToObject(n, "ssl_fingerprint", fp);
	cJSON_AddItemToArray(list, n);
	pved_call_reply(c, list);
}

/* GET /cluster/resources: this node's entry (the resources hook of the nodes area). */
void pved_node_resources(pved_call *c, const char *type, pve_buf *out)
{
	if (type && !streq(type, "node"))
		return;
	pved *d = c->d;
	cJSON *n = cJSON_CreateObject();
	_cleanup_free_ char *id = xasprintf("node/%s", d->node);
	cJSON_AddStringToObject(n, "id", id);
	cJSON_AddStringToObject(n, "type", "node");
	cJSON_AddStringToObject(n, "node", d->node);
	cJSON_AddStringToObject(n, "status", "online");
	cJSON_AddStringToObject(n, "level", "");
	_cleanup_free_ char *acl_path = xasprintf("/nodes/%s", d->node);
	if (pved_call_permitted(c, acl_path, "Sys.Audit")) {
		const struct pved_node_sample *s = node_sample(d);
		cJSON_AddNumberToObject(n, "cpu", s->cpu);
		cJSON_AddNumberToObject(n, "maxcpu", (double)sysconf(_SC_NPROCESSORS_ONLN));
		cJSON_AddNumberToObject(n, "mem", (double)(s->mem.total - s->mem.available));
		cJSON_AddNumberToObject(n, "maxmem", (double)s->mem.total);
		cJSON_AddNumberToObject(n, "uptime", (double)(long long)s->uptime);
		if (s->rootfs_ok) {
			unsigned long long bs = s->rootfs.f_frsize;
			cJSON_AddNumberToObject(
				n, "disk", (double)((s->rootfs.f_blocks - s->rootfs.f_bfree) * bs));
			cJSON_AddNumberToObject(n, "maxdisk", (double)(s->rootfs.f_blocks * bs));
		}
	}
	/* cgroup-mode: 2 on a pure cgroup v2 host, 1 on a hybrid or v1 one (this build machine) */
	cJSON_AddNumberToObject(n, "cgroup-mode",
				access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0 ? 2 : 1);
	_cleanup_free_ char *t = pve_json_print(n);
	cJSON_Delete(n);
	if (out->len)
		pve_buf_puts(out, ",");
	pve_buf_puts(out, t);
}

/* The node's line of pvecfs's .rrd, as pvestatd's update_node_status broadcasts it for Proxmox VE 9
 * ("pve-node-9.0/NODE"): uptime, subscription level (none), time, load, CPUs, CPU and IO wait,
 * memory and swap total and used, root fs total and used, net in and out, memory available; the ZFS
 * ARC and the pressure figures are unknown ("U"). */
void pved_node_rrd(pved *d, time_t now, pve_buf *out)
{
	const struct pved_node_sample *s = node_sample(d);
	pve_buf_printf(out, "pve-node-9.0/%s:%lld::%lld:%s:%ld:%.6g:%.6g", d->node,
		       (long long)s->uptime, (long long)now, s->loadavg[0][0] ? s->loadavg[0] : "U",
		       sysconf(_SC_NPROCESSORS_ONLN), s->cpu, s->wait);
	pve_buf_printf(out, ":%llu:%llu:%llu:%llu", s->mem.total, s->mem.total - s->mem.available,
		       s->mem.swap_total, s->mem.swap_total - s->mem.swap_free);
	if (s->rootfs_ok) {
		unsigned long long bs = s->rootfs.f_frsize;
		pve_buf_printf(out, ":%llu:%llu", (unsigned long long)s->rootfs.f_blocks * bs,
			       (unsigned long long)(s->rootfs.f_blocks - s->rootfs.f_bfree) * bs);
	} else {
		pve_buf_puts(out, ":U:U");
	}
	pve_buf_printf(out, ":%llu:%llu:%llu:U:U:U:U:U:U\n", s->netin, s->netout, s->mem.available);
}

static void h_node_time(pved_call *c)
{
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	char buf[256] = "";
	const char *tz = "UTC";
	_cleanup_free_ char *tzpath = pved_path(c->d, "etc/timezone");
	if (read_small(tzpath, buf, sizeof(buf)) > 0 ||
	    read_small("/etc/timezone", buf, sizeof(buf)) > 0) {
		buf[strcspn(buf, "\n")] = '\0';
		tz = buf;
	}
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "timezone", tz);
	cJSON_AddNumberToObject(o, "time", (double)now);
	cJSON_AddNumberToObject(o, "localtime", (double)(now + tm.tm_gmtoff));
	pved_call_reply(c, o);
}

/* ---- query-url-metadata --------------------------------------------------------------------------------- */

/* The type LWP's file:// answers give (its media types table) for the names a storage holds. */
static const char *mimetype_of(const char *name)
{
	static const char *const types[][2] = {
		{ ".iso", "application/x-iso9660-image" },
		{ ".img", "application/octet-stream" },
		{ ".raw", "application/octet-stream" },
		{ ".qcow2", "application/octet-stream" },
		{ ".vmdk", "application/octet-stream" },
		{ ".ova", "application/x-tar" },
		{ ".tar", "application/x-tar" },
		{ ".gz", "application/x-gzip" },
		{ ".tgz", "application/x-gtar-compressed" },
		{ ".xz", "application/x-xz" },
		{ ".zst", "application/zstd" },
		{ ".lzo", "application/x-lzop" },
		{ ".bz2", "application/x-bzip2" },
		{ ".txt", "text/plain" },
	};
	for (size_t i = 0; i < ELEMENTSOF(types); i++)
		if (endswith(name, types[i][0]))
			return types[i][1];
	return "application/octet-stream";
}

/* Proxmox asks the server with a HEAD request; this node reaches no server, so it answers file:// URLs
 * (a file on the node, as download-url takes them; for root@pam, who may read any file) from the file
 * itself, as LWP's file protocol does: its size, its name and the type its extension gives. */
static void h_query_url_metadata(pved_call *c)
{
	pve_error *err = NULL;
	const char *url = pved_call_str(c, "url");
	if (!startswith(url, "file://")) {
		pve_error_set_param(
			&err, EINVAL, "url",
			"only file:// URLs are supported: this node reaches no network");
		return pved_call_fail(c, err);
	}
	if (strcmp(c->authid, "root@pam") != 0) {
		pve_error_set(&err, EACCES, "file:// URLs are allowed for root@pam only");
		return pved_call_fail(c, err);
	}
	const char *path = url + 7;
	if (path[0] != '/' || strchr(path, '%') || strchr(path, '?') || strchr(path, '#')) {
		pve_error_set_param(&err, EINVAL, "url", "invalid file URL '%s'", url);
		return pved_call_fail(c, err);
	}
	struct stat st;
	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) {
		/* LWP's answer for a file:// URL it cannot read, in Proxmox's message. */
		pve_error_set(&err, EIO, "invalid server response: '404 File `%s' does not exist'",
			      path);
		return pved_call_fail(c, err);
	}
	const char *slash = strrchr(path, '/');
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "filename", slash + 1);
	cJSON_AddNumberToObject(o, "size", (double)st.st_size);
	cJSON_AddStringToObject(o, "mimetype", mimetype_of(slash + 1));
	pved_call_reply(c, o);
}

/* ---- start all / stop all ----------------------------------------------------------------------------------
 * The task walks this node's guest configs. Starting and stopping guests arrives with the guest subsystems;
 * until then each guest that would be acted on is reported as a warning, so nothing is claimed that did not
 * happen. */

/* Whether vmid is in the "vms" list (all when there is none). */
static bool vm_selected(char **only, const char *vmid)
{
	if (!only)
		return true;
	for (char **p = only; *p; p++)
		if (strcmp(*p, vmid) == 0)
			return true;
	return false;
}

/* args: {"start": bool, "force": bool, "vms": "100,101" (optional)} */
static int allguests_task(pved *d, const cJSON *args, pve_error **err)
{
	(void)err;
	bool start = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(args, "start"));
	bool force = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(args, "force"));
	const cJSON *vms = cJSON_GetObjectItemCaseSensitive(args, "vms");
	_cleanup_strv_free_ char **only =
		cJSON_IsString(vms) ? pve_strv_split(vms->valuestring, ",; \t") : NULL;
	static const char *const kinds[] = { "qemu-server", "lxc" };
	int n = 0;
	for (size_t k = 0; k < ELEMENTSOF(kinds); k++) {
		_cleanup_free_ char *dir = xasprintf("nodes/%s/%s", d->node, kinds[k]);
		_cleanup_strv_free_ char **names = NULL;
		if (pve_store_list(d->store, dir, &names, NULL) < 0)
			continue;
		for (char **p = names; *p; p++) {
			size_t len = strlen(*p);
			if (len < 6 || strcmp(*p + len - 5, ".conf") != 0)
				continue;
			_cleanup_free_ char *vmid = xstrndup(*p, len - 5);
			if (!vm_selected(only, vmid))
				continue;
			if (start && !force) {
				_cleanup_free_ char *path = xasprintf("%s/%s", dir, *p),
						    *text = NULL;
				size_t tlen;
				pve_config *cfg = NULL;
				if (pve_store_read(d->store, path, &text, &tlen, NULL, NULL) < 0 ||
				    pve_config_parse(text, tlen, &cfg, NULL) < 0)
					continue;
				const char *onboot = pve_config_get(cfg, NULL, "onboot");
				bool on = false;
				if (onboot)
					pve_parse_bool(onboot, &on);
				pve_config_free(cfg);
				if (!on)
					continue;
			}
			n++;
			pved_task_warn(
				"%s %s: guest %s is not available yet in this version of pved",
				k == 0 ? "VM" : "CT", vmid, start ? "start" : "shutdown");
		}
	}
	if (n == 0)
		printf("no guests to %s\n", start ? "start" : "stop");
	return 0;
}

static void start_or_stop_all(pved_call *c, bool start)
{
	cJSON *args = cJSON_CreateObject();
	cJSON_AddBoolToObject(args, "start", start);
	cJSON_AddBoolToObject(args, "force", pved_call_int(c, "force", 0) != 0);
	const char *vms = pved_call_str(c, "vms");
	if (vms)
		cJSON_AddStringToObject(args, "vms", vms);
	_cleanup_free_ char *upid = NULL;
	pve_error *err = NULL;
	if (pved_task_start(c->d, start ? "startall" : "stopall", "", c->authid, args, &upid,
			    &err) < 0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

static void h_startall(pved_call *c)
{
	start_or_stop_all(c, true);
}

static void h_stopall(pved_call *c)
{
	start_or_stop_all(c, false);
}

const pved_task_kind pved_tasks_node[] = {
	{ "startall", allguests_task },
	{ "stopall", allguests_task },
	{ NULL, NULL },
};

const pved_handler pved_handlers_node[] = {
	{ "nodes_list", h_nodes_list },
	{ "node_status", h_node_status },
	{ "node_version", h_node_version },
	{ "node_time", h_node_time },
	{ "node_query_url_metadata", h_query_url_metadata },
	{ "node_startall", h_startall },
	{ "node_stopall", h_stopall },
	{ NULL, NULL },
};
