/* A container's power: its volumes mounted (a raw image by loop, a subvolume in place), its config
 * resolved into an lxc_spec, the runtime started and its veths put on their bridges (vzstart); stop,
 * shutdown, reboot, suspend and resume as tasks; status/current from the run files and the cgroup. The
 * container outlives the task and pved; its mounts are taken down by the task that stops it, by the
 * next start, or by destroy. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>

#include "daemon/lxc/lxc-internal.h"
#include "net/net.h"

static bool family(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(key, prefix, n) == 0 && key[n] >= '0' && key[n] <= '9';
}

static bool arg_true(const cJSON *args, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(args, key);
	return (cJSON_IsNumber(v) && v->valuedouble != 0) || cJSON_IsTrue(v);
}

/* A property string's item, or NULL. */
static char *prop_item(const char *value, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = value; p && *p;) {
		if (strncmp(p, name, n) == 0 && p[n] == '=')
			return xstrndup(p + n + 1, strcspn(p + n + 1, ","));
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return NULL;
}

static bool prop_bool(const char *value, const char *name)
{
	_cleanup_free_ char *v = prop_item(value, name);
	return v && (streq(v, "1") || streq(v, "on") || streq(v, "yes") || streq(v, "true"));
}

/* ---- mounts ------------------------------------------------------------------------------------------ */

char *ct_mount_dir(pved *d, long long vmid, const char *key)
{
	_cleanup_free_ char *run = ct_run_dir(d);
	return xasprintf("%s/%lld.%s", run, vmid, key);
}

static bool is_mountpoint(const char *path)
{
	struct stat a, b;
	_cleanup_free_ char *parent = xasprintf("%s/..", path);
	return stat(path, &a) == 0 && stat(parent, &b) == 0 && a.st_dev != b.st_dev;
}

void ct_unmount_all(pved *d, long long vmid)
{
	_cleanup_free_ char *run = ct_run_dir(d);
	DIR *dir = opendir(run);
	if (!dir)
		return;
	char prefix[32];
	snprintf(prefix, sizeof(prefix), "%lld.", vmid);
	struct dirent *de;
	_cleanup_strv_free_ char **found = strv_new();
	while ((de = readdir(dir)))
		if (startswith(de->d_name, prefix) &&
		    (streq(de->d_name + strlen(prefix), "rootfs") ||
		     family(de->d_name + strlen(prefix), "mp")))
			strv_push(&found, xasprintf("%s/%s", run, de->d_name));
	closedir(dir);
	/* mount points first, then the rootfs: found is unordered, the rootfs is not below them */
	for (char **p = found; *p; p++) {
		while (is_mountpoint(*p))
			if (umount2(*p, 0) < 0 && umount2(*p, MNT_DETACH) < 0)
				break;
		(void)rmdir(*p);
	}
}

/* Mounts a mount point's volume for the container: a raw image by loop at run/lxc/<vmid>.<key>, a
 * subvolume or a bind mount's host path used in place. *ret_dir: the host directory. */
static int mount_volume(pved *d, const pve_sectioncfg *scfg, long long vmid, const char *key,
			const char *value, char **ret_dir, pve_error **err)
{
	_cleanup_free_ char *vol = ct_mp_volume(value);
	if (!vol)
		return pve_error_set_param(err, EINVAL, key, "no volume");
	if (vol[0] == '/') {
		*ret_dir = TAKE_PTR(vol);
		return 0;
	}
	pve_storage st;
	_cleanup_free_ char *volname = NULL, *path = NULL;
	int r = ct_volume_storage(d, scfg, vol, &st, &volname, err);
	if (r >= 0)
		r = pve_storage_activate(&st, err);
	if (r >= 0)
		r = pve_storage_activate_volume(&st, volname, NULL, err);
	if (r >= 0)
		r = pve_storage_path(&st, volname, NULL, &path, err);
	if (r < 0)
		return r;
	struct stat sb;
	if (stat(path, &sb) < 0)
		return pve_error_set(err, errno, "volume '%s' (%s): %m", vol, path);
	if (S_ISDIR(sb.st_mode)) {
		*ret_dir = TAKE_PTR(path);
		return 0;
	}
	_cleanup_free_ char *mnt = ct_mount_dir(d, vmid, key);
	if (mkdir(mnt, 0755) < 0 && errno != EEXIST)
		return pve_error_set(err, errno, "mkdir '%s': %m", mnt);
	if (!is_mountpoint(mnt)) {
		const char *argv[] = { "mount", "-o", "loop", "-t", "ext4", path, mnt, NULL };
		r = pve_storage_run(argv, NULL, err);
		if (r < 0)
			return r;
	}
	*ret_dir = TAKE_PTR(mnt);
	return 0;
}

/* ---- the spec ------------------------------------------------------------------------------------------ */

static unsigned long mount_flags(const char *value)
{
	_cleanup_free_ char *opts = prop_item(value, "mountoptions");
	unsigned long f = 0;
	_cleanup_strv_free_ char **o = pve_strv_split(opts ? opts : "", ";");
	for (char **x = o; *x; x++) {
		if (streq(*x, "nosuid"))
			f |= MS_NOSUID;
		else if (streq(*x, "nodev"))
			f |= MS_NODEV;
		else if (streq(*x, "noexec"))
			f |= MS_NOEXEC;
		else if (streq(*x, "noatime"))
			f |= MS_NOATIME;
	}
	return f;
}

int ct_nic_parse(long long vmid, int idx, const char *value, lxc_nic *n, pve_error **err)
{
	*n = (lxc_nic){ 0 };
	_cleanup_free_ char *name = prop_item(value, "name"), *hw = prop_item(value, "hwaddr");
	_cleanup_free_ char *ip = prop_item(value, "ip"), *gw = prop_item(value, "gw");
	_cleanup_free_ char *ip6 = prop_item(value, "ip6"), *gw6 = prop_item(value, "gw6");
	_cleanup_free_ char *mtu = prop_item(value, "mtu");
	if (!name)
		return pve_error_set(err, EINVAL, "net%d: no name", idx);
	snprintf(n->name, sizeof(n->name), "%s", name);
	if (snprintf(n->host_name, sizeof(n->host_name), "veth%lldi%d", vmid, idx) >=
	    (int)sizeof(n->host_name))
		return pve_error_set(err, ENAMETOOLONG, "veth name of CT %lld too long", vmid);
	snprintf(n->hwaddr, sizeof(n->hwaddr), "%s", hw ? hw : "");
	snprintf(n->ip, sizeof(n->ip), "%s", ip ? ip : "");
	snprintf(n->gw, sizeof(n->gw), "%s", gw ? gw : "");
	snprintf(n->ip6, sizeof(n->ip6), "%s", ip6 ? ip6 : "");
	snprintf(n->gw6, sizeof(n->gw6), "%s", gw6 ? gw6 : "");
	n->mtu = mtu ? (unsigned)strtoul(mtu, NULL, 10) : 0;
	n->link_down = prop_bool(value, "link_down");
	return 0;
}
void ct_limits_spec(lxc_spec *s, const char *memory, const char *swap, const char *cpulimit,
		    const char *cpuunits)
{
	long long mem = memory ? strtoll(memory, NULL, 10) : 0;
	long long sw = swap ? strtoll(swap, NULL, 10) : -1;
	s->memory_bytes = mem > 0 ? (uint64_t)mem << 20 : 0;
	s->swap_bytes = sw >= 0 && mem > 0 ? (int64_t)sw << 20 : -1;
	double limit = cpulimit ? strtod(cpulimit, NULL) : 0;
	s->cpu_quota_us = limit > 0 ? (uint64_t)(limit * 100000) : 0;
	long long w = cpuunits ? strtoll(cpuunits, NULL, 10) : 0;
	s->cpu_weight = w > 0 ? (unsigned)(w > 262144 ? 262144 : w) : 0;
}

/* The container's config resolved into a spec; the volumes mounted (ct_unmount_all undoes it). */
static int build_spec(pved *d, long long vmid, const pve_config *c, const pve_sectioncfg *scfg,
		      lxc_spec **ret, pve_error **err)
{
	_cleanup_lxc_spec_ lxc_spec *s = xcalloc(1, sizeof(*s));
	s->vmid = vmid;
	s->run_dir = ct_run_dir(d);
	s->swap_bytes = -1;
	const char *host = pve_config_get(c, NULL, "hostname");
	s->hostname = host ? xstrdup(host) : xasprintf("CT%lld", vmid);
	s->unprivileged = ct_conf_bool(c, NULL, "unprivileged", false);
	/* custom id maps, as Proxmox's raw lxc.idmap lines ("u 0 100000 1000"); the runtime refuses
	 * overlapping or incomplete ones */
	_cleanup_strv_free_ char **maps = pve_config_get_all(c, NULL, "lxc.idmap");
	for (char **m = maps; *m; m++) {
		char kind;
		unsigned long in, out, count;
		char extra;
		if (sscanf(*m, " %c %lu %lu %lu %c", &kind, &in, &out, &count, &extra) != 4 ||
		    (kind != 'u' && kind != 'g') || count == 0 || in > UINT32_MAX ||
		    out > UINT32_MAX || count > UINT32_MAX)
			return pve_error_set(err, EINVAL, "invalid lxc.idmap '%s'", *m);
		if (s->n_idmaps == LXC_MAX_IDMAPS)
			return pve_error_set(err, E2BIG, "more than %d lxc.idmap lines",
					     LXC_MAX_IDMAPS);
		s->idmaps[s->n_idmaps++] =
			(lxc_idmap){ kind, (uint32_t)in, (uint32_t)out, (uint32_t)count };
	}
	if (s->n_idmaps && !s->unprivileged)
		return pve_error_set(err, EINVAL, "lxc.idmap needs an unprivileged container");
	const char *feat = pve_config_get(c, NULL, "features");
	if (feat) {
		s->nesting = prop_bool(feat, "nesting");
		s->keyctl = prop_bool(feat, "keyctl");
		s->fuse = prop_bool(feat, "fuse");
		s->mknod = prop_bool(feat, "mknod");
		s->force_rw_sys = prop_bool(feat, "force_rw_sys");
		_cleanup_free_ char *m = prop_item(feat, "mount");
		if (m)
			s->mount_fstypes = pve_strv_split(m, ";");
	}
	/* Limits the config sets are enforced (a host without the controller refuses the start and
	 * names it); Proxmox's defaults (512 MiB) are reported but not enforced, so a container runs
	 * on a host whose cgroup2 has no memory controller (this machine's hybrid layout). */
	ct_limits_spec(s, pve_config_get(c, NULL, "memory"), pve_config_get(c, NULL, "swap"),
		       pve_config_get(c, NULL, "cpulimit"), pve_config_get(c, NULL, "cpuunits"));
	_cleanup_free_ char *slice = pve_cgroup_node_slice(d->root);
	s->cgroup_parent = slice ? xasprintf("%s/lxc.slice", slice) : xstrdup("lxc.slice");
	/* lxc.init.cwd: an OCI image's WorkingDir (Proxmox writes it so) */
	const char *cwd = pve_config_get(c, NULL, "lxc.init.cwd");
	if (cwd && cwd[0] == '/')
		s->cwd = xstrdup(cwd);
	const char *ep = pve_config_get(c, NULL, "entrypoint");
	s->argv = pve_strv_split(ep ? ep : "/sbin/init", " \t");
	if (!s->argv[0])
		return pve_error_set_param(err, EINVAL, "entrypoint", "no entrypoint");
	/* An application container (an entrypoint other than an init) runs with no_new_privs, as OCI
	 * runtimes run it; a system container's su and sudo need privileges to rise. */
	s->no_new_privs = !streq(s->argv[0], "/sbin/init") && !streq(s->argv[0], "/init") &&
			  !endswith(s->argv[0], "/systemd");
	/* env: NUL-separated in the API; the config file writes each NUL as the two characters \0 */
	s->env = strv_new();
	const char *env = pve_config_get(c, NULL, "env");
	for (const char *p = env; p && *p;) {
		const char *end = strstr(p, "\\0");
		size_t n = end ? (size_t)(end - p) : strlen(p);
		if (n)
			strv_push(&s->env, xstrndup(p, n));
		p = end ? end + 2 : p + n;
	}
	s->tty_count = (unsigned)ct_conf_int(c, NULL, "tty", 2);
	const char *cmode = pve_config_get(c, NULL, "cmode");
	s->cmode = xstrdup(cmode ? cmode : "tty");
	_cleanup_free_ char *log = xasprintf("%s/%lld.log", s->run_dir, vmid);
	s->log_path = TAKE_PTR(log);
	int r = mount_volume(d, scfg, vmid, "rootfs", pve_config_get(c, NULL, "rootfs"), &s->rootfs,
			     err);
	if (r < 0)
		return r;
	_cleanup_strv_free_ char **keys = pve_config_keys(c, NULL);
	s->mounts = xcalloc(LXC_MAX_MOUNT_POINTS, sizeof(*s->mounts));
	s->devs = xcalloc(LXC_MAX_DEVS, sizeof(*s->devs));
	for (char **k = keys; *k; k++) {
		const char *v = pve_config_get(c, NULL, *k);
		if (family(*k, "mp") && s->n_mounts < LXC_MAX_MOUNT_POINTS) {
			_cleanup_free_ char *target = prop_item(v, "mp");
			if (!target)
				return pve_error_set_param(err, EINVAL, *k, "no mount path (mp=)");
			lxc_mount *m = &s->mounts[s->n_mounts];
			r = mount_volume(d, scfg, vmid, *k, v, &m->source, err);
			if (r < 0)
				return r;
			m->target = TAKE_PTR(target);
			m->ro = prop_bool(v, "ro");
			m->flags = mount_flags(v);
			s->n_mounts++;
		} else if (family(*k, "net") && s->n_nics < LXC_MAX_NICS) {
			r = ct_nic_parse(vmid, atoi(*k + 3), v, &s->nics[s->n_nics], err);
			if (r < 0)
				return r;
			s->n_nics++;
		} else if (family(*k, "dev") && s->n_devs < LXC_MAX_DEVS) {
			lxc_dev *dv = &s->devs[s->n_devs];
			_cleanup_free_ char *path = prop_item(v, "path"),
					    *mode = prop_item(v, "mode");
			_cleanup_free_ char *uid = prop_item(v, "uid"), *gid = prop_item(v, "gid");
			if (!path && v[0] == '/')
				path = xstrndup(v, strcspn(v, ","));
			if (!path)
				return pve_error_set_param(err, EINVAL, *k, "no device path");
			dv->path = TAKE_PTR(path);
			dv->mode = mode ? (mode_t)strtoul(mode, NULL, 8) : 0;
			dv->uid = uid ? (uid_t)strtoul(uid, NULL, 10) : 0;
			dv->gid = gid ? (gid_t)strtoul(gid, NULL, 10) : 0;
			dv->deny_write = prop_bool(v, "deny-write");
			s->n_devs++;
		}
	}
	*ret = TAKE_PTR(s);
	return 0;
}

/* ---- the tasks ------------------------------------------------------------------------------------------ */

/* Starts the container; the caller holds its lock. Pending changes are applied first. */
int ct_start(pved *d, long long vmid, bool skiplock, pve_error **err)
{
	_cleanup_config_ pve_config *c = NULL;
	char digest[PVE_STORE_DIGEST_LEN + 1];
	int r = ct_conf_load(d, vmid, &c, digest, err);
	if (r < 0)
		return r;
	if (!skiplock && (r = ct_conf_check_lock(c, err)) < 0)
		return r;
	if (ct_conf_bool(c, NULL, "template", false))
		return pve_error_set(err, EINVAL, "you can't start a CT if it's a template");
	if (ct_running(d, vmid, NULL))
		return pve_error_set(err, EEXIST, "CT %lld already running", vmid);
	_cleanup_sectioncfg_ pve_sectioncfg *scfg = NULL;
	r = ct_storage_cfg(d, &scfg, err);
	if (r < 0)
		return r;
	if (pve_config_has_section(c, CT_SECTION_PENDING)) {
		_cleanup_strv_free_ char **destroy = NULL;
		ct_apply_pending(c, &destroy);
		r = ct_conf_write(d, vmid, c, digest, err);
		if (r < 0)
			return r;
		printf("applied pending changes\n");
		ct_volumes_free(d, scfg, destroy, true);
	}
	/* what a container that ended without us left mounted */
	ct_unmount_all(d, vmid);
	_cleanup_lxc_spec_ lxc_spec *s = NULL;
	r = build_spec(d, vmid, c, scfg, &s, err);
	if (r < 0) {
		ct_unmount_all(d, vmid);
		return r;
	}
	/* Proxmox's pre-start set-up with the current config: hostname, network, DNS */
	lxc_setup su = { .ostype = pve_config_get(c, NULL, "ostype"),
			 .hostname = s->hostname,
			 .nameserver = pve_config_get(c, NULL, "nameserver"),
			 .searchdomain = pve_config_get(c, NULL, "searchdomain"),
			 .nics = s->nics,
			 .n_nics = s->n_nics };
	r = lxc_setup_rootfs(s->rootfs, &su, err);
	if (r < 0) {
		ct_unmount_all(d, vmid);
		return r;
	}
	lxc_running run;
	r = lxc_start(s, &run, err);
	if (r < 0) {
		ct_unmount_all(d, vmid);
		return r;
	}
	for (size_t i = 0; i < s->n_nics; i++) {
		char key[16];
		snprintf(key, sizeof(key), "net%s", strrchr(s->nics[i].host_name, 'i') + 1);
		const char *v = pve_config_get(c, NULL, key);
		_cleanup_free_ char *bridge = v ? prop_item(v, "bridge") : NULL;
		_cleanup_free_ char *tag = v ? prop_item(v, "tag") : NULL;
		if (!bridge)
			continue;
		r = pve_net_attach(NULL, s->nics[i].host_name, bridge, s->nics[i].mtu,
				   tag ? (unsigned)strtoul(tag, NULL, 10) : 0, err);
		/* rate= (MB/s) on the host side, as a VM's tap gets it; link_down=1 keeps it down */
		_cleanup_free_ char *rate = v ? prop_item(v, "rate") : NULL;
		if (r >= 0) {
			_cleanup_error_ pve_error *warn = NULL;
			r = pve_net_nic_limits(s->nics[i].host_name, rate ? strtod(rate, NULL) : 0,
					       s->nics[i].link_down, key, &warn, err);
			if (r > 0)
				printf("WARN: %s: %s\n", key, warn->message);
		}
		if (r < 0) {
			pve_error *e = NULL;
			(void)lxc_stop(s->run_dir, vmid, true, 0, 0, &e);
			pve_error_free(e);
			ct_unmount_all(d, vmid);
			if (err && *err && (*err)->code == ENOENT)
				(*err)->code = EINVAL;
			return r;
		}
	}
	r = lxc_start_finish(s, &run, err);
	if (r < 0) {
		ct_unmount_all(d, vmid);
		return r;
	}
	printf("CT %lld started: init pid %d\n", vmid, (int)run.init_pid);
	return 0;
}

static int task_start(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = 0;
	pve_json_int(args, "vmid", &vmid);
	_cleanup_close_ int lock = -1;
	int r = ct_lock_wait(d, vmid, &lock, err);
	if (r < 0)
		return r;
	return ct_start(d, vmid, arg_true(args, "skiplock"), err);
}

/* Stops it (force: at once; else the init is asked and killed after timeout_s) and unmounts. */
int ct_stop(pved *d, long long vmid, bool force, unsigned timeout_s, pve_error **err)
{
	_cleanup_free_ char *run = ct_run_dir(d);
	/* the config's lxc.signal.halt (an OCI image's StopSignal), else what the init takes */
	int halt = 0;
	_cleanup_config_ pve_config *c = NULL;
	if (!force && ct_conf_load(d, vmid, &c, NULL, NULL) == 0)
		halt = lxc_signal_parse(pve_config_get(c, NULL, "lxc.signal.halt"));
	int r = lxc_stop(run, vmid, force, timeout_s, halt > 0 ? halt : 0, err);
	if (r < 0)
		return r;
	ct_unmount_all(d, vmid);
	return 0;
}

static int task_stop(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = 0;
	pve_json_int(args, "vmid", &vmid);
	_cleanup_close_ int lock = -1;
	int r = ct_lock_wait(d, vmid, &lock, err);
	if (r < 0)
		return r;
	if (!ct_running(d, vmid, NULL)) {
		ct_unmount_all(d, vmid);
		return pve_error_set(err, EINVAL, "CT %lld not running", vmid);
	}
	return ct_stop(d, vmid, true, 0, err);
}

static int task_shutdown(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = 0, timeout = 60;
	pve_json_int(args, "vmid", &vmid);
	pve_json_int(args, "timeout", &timeout);
	_cleanup_close_ int lock = -1;
	int r = ct_lock_wait(d, vmid, &lock, err);
	if (r < 0)
		return r;
	if (!ct_running(d, vmid, NULL))
		return pve_error_set(err, EINVAL, "CT %lld not running", vmid);
	return ct_stop(d, vmid, false, (unsigned)timeout, err);
}

static int task_reboot(pved *d, const cJSON *args, pve_error **err)
{
	long long vmid = 0, timeout = 60;
	pve_json_int(args, "vmid", &vmid);
	pve_json_int(args, "timeout", &timeout);
	_cleanup_close_ int lock = -1;
	int r = ct_lock_wait(d, vmid, &lock, err);
	if (r < 0)
		return r;
	if (!ct_running(d, vmid, NULL))
		return pve_error_set(err, EINVAL, "CT %lld not running", vmid);
	r = ct_stop(d, vmid, false, (unsigned)timeout, err);
	if (r < 0)
		return r;
	return ct_start(d, vmid, false, err);
}

static int task_freeze(pved *d, const cJSON *args, bool freeze, pve_error **err)
{
	long long vmid = 0;
	pve_json_int(args, "vmid", &vmid);
	_cleanup_close_ int lock = -1;
	int r = ct_lock_wait(d, vmid, &lock, err);
	if (r < 0)
		return r;
	if (!ct_running(d, vmid, NULL))
		return pve_error_set(err, EINVAL, "CT %lld not running", vmid);
	_cleanup_free_ char *run = ct_run_dir(d);
	return lxc_freeze(run, vmid, freeze, err);
}

static int task_suspend(pved *d, const cJSON *args, pve_error **err)
{
	return task_freeze(d, args, true, err);
}

static int task_resume(pved *d, const cJSON *args, pve_error **err)
{
	return task_freeze(d, args, false, err);
}

/* ---- the handlers ---------------------------------------------------------------------------------------- */

/* The checks Proxmox makes before it forks the worker, then the task. */
static void power_call(pved_call *c, const char *type, bool want_running)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	if (pved_call_int(c, "skiplock", 0) && !streq(c->authid, "root@pam")) {
		pve_error_set_param(&err, EINVAL, "skiplock", "Only root may use this option.");
		return pved_call_fail(c, err);
	}
	_cleanup_config_ pve_config *conf = NULL;
	if (ct_conf_load(d, vmid, &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	bool running = ct_running(d, vmid, NULL);
	if (want_running && !running) {
		pve_error_set(&err, EINVAL, "CT %lld not running", vmid);
		return pved_call_fail(c, err);
	}
	if (!want_running && running) {
		pve_error_set(&err, EINVAL, "CT %lld already running", vmid);
		return pved_call_fail(c, err);
	}
	if (!pved_call_int(c, "skiplock", 0) && !streq(type, "vzstop") &&
	    ct_conf_check_lock(conf, &err) < 0)
		return pved_call_fail(c, err);
	_cleanup_free_ char *id = xasprintf("%lld", vmid), *upid = NULL;
	if (pved_task_start(d, type, id, c->authid, cJSON_Duplicate(c->params, true), &upid, &err) <
	    0)
		return pved_call_fail(c, err);
	pved_call_reply(c, cJSON_CreateString(upid));
}

static void h_start(pved_call *c)
{
	power_call(c, "vzstart", false);
}

static void h_stop(pved_call *c)
{
	power_call(c, "vzstop", true);
}

static void h_shutdown(pved_call *c)
{
	power_call(c, "vzshutdown", true);
}

static void h_reboot(pved_call *c)
{
	power_call(c, "vzreboot", true);
}

static void h_suspend(pved_call *c)
{
	power_call(c, "vzsuspend", true);
}

static void h_resume(pved_call *c)
{
	power_call(c, "vzresume", true);
}

static void status_reply(void *arg);

/* One container's status is its current figures: a running one's disk is sampled first (off the
 * loop), unless a sample of it is already being taken, whose root may not answer. */
static void h_status(pved_call *c)
{
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	_cleanup_config_ pve_config *conf = NULL;
	if (ct_conf_load(d, vmid, &conf, NULL, &err) < 0)
		return pved_call_fail(c, err);
	ct_entry *ct = ct_find(d, vmid);
	if (!ct) {
		ct_refresh(d, vmid);
		ct = ct_find(d, vmid);
	}
	if (!ct) {
		pve_error_set(&err, ENOENT, "CT %lld does not exist", vmid);
		return pved_call_fail(c, err);
	}
	lxc_running r;
	if (ct_running(d, vmid, &r))
		return ct_disk_sample(d, ct, &r, status_reply, c);
	status_reply(c);
}

static void status_reply(void *arg)
{
	pved_call *c = arg;
	pved *d = c->d;
	long long vmid = pved_call_int(c, "vmid", 0);
	pve_error *err = NULL;
	ct_entry *ct = ct_find(d, vmid);
	if (!ct) {
		pve_error_set(&err, ENOENT, "CT %lld does not exist", vmid);
		return pved_call_fail(c, err);
	}
	lxc_running r = { 0 };
	ct_usage u;
	bool running = ct_look(d, ct, &r, &u);
	cJSON *o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "vmid", (double)vmid);
	cJSON_AddStringToObject(o, "type", "lxc");
	cJSON_AddStringToObject(o, "status", running ? "running" : "stopped");
	if (ct->name)
		cJSON_AddStringToObject(o, "name", ct->name);
	else {
		_cleanup_free_ char *n = xasprintf("CT%lld", vmid);
		cJSON_AddStringToObject(o, "name", n);
	}
	cJSON_AddNumberToObject(o, "cpus", ct->cpus);
	cJSON_AddNumberToObject(o, "maxmem", (double)ct->maxmem);
	cJSON_AddNumberToObject(o, "maxswap", (double)ct->maxswap);
	if (running)
		cJSON_AddNumberToObject(o, "pid", r.init_pid);
	cJSON_AddNumberToObject(o, "uptime", running ? (double)ct_uptime(&r) : 0);
	cJSON_AddNumberToObject(o, "maxdisk", (double)u.maxdisk);
	cJSON_AddNumberToObject(o, "cpu", u.cpu);
	cJSON_AddNumberToObject(o, "mem", (double)u.mem);
	cJSON_AddNumberToObject(o, "swap", (double)u.swap);
	cJSON_AddNumberToObject(o, "disk", (double)u.disk);
	cJSON_AddNumberToObject(o, "netin", (double)u.netin);
	cJSON_AddNumberToObject(o, "netout", (double)u.netout);
	cJSON_AddNumberToObject(o, "diskread", (double)u.diskread);
	cJSON_AddNumberToObject(o, "diskwrite", (double)u.diskwrite);
	if (ct->template_)
		cJSON_AddNumberToObject(o, "template", 1);
	if (ct->lock)
		cJSON_AddStringToObject(o, "lock", ct->lock);
	if (ct->tags)
		cJSON_AddStringToObject(o, "tags", ct->tags);
	cJSON *ha = cJSON_AddObjectToObject(o, "ha");
	cJSON_AddNumberToObject(ha, "managed", 0);
	pved_call_reply(c, o);
}

const pved_task_kind pved_tasks_lxc_power[] = {
	{ "vzstart", task_start },
	{ "vzstop", task_stop },
	{ "vzshutdown", task_shutdown },
	{ "vzreboot", task_reboot },
	{ "vzsuspend", task_suspend },
	{ "vzresume", task_resume },
	{ NULL, NULL },
};

const pved_handler pved_handlers_lxc_power[] = {
	{ "lxc_status_current", h_status },
	{ "lxc_start", h_start },
	{ "lxc_stop", h_stop },
	{ "lxc_shutdown", h_shutdown },
	{ "lxc_reboot", h_reboot },
	{ "lxc_suspend", h_suspend },
	{ "lxc_resume", h_resume },
	{ NULL, NULL },
};
